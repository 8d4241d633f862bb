//! HTTP control API of the Threads fake under `/_fake/`, so scripts and other processes can
//! drive it:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url","app_id","app_secret"}` |
//! | `POST /_fake/apps {"app_id","app_secret"}` | registers a Threads app |
//! | `POST /_fake/users {"username","name"?,"scopes"?,"age_secs"?}` | `{"user":{id,username,name},"token":{access_token,token_type,expires_in}}` (long-lived) |
//! | `POST /_fake/tokens {"user_id","long_lived"?,"scopes"?,"age_secs"?}` | a new token; 404 for an unknown user |
//! | `POST /_fake/codes` a [`CodeGrant`] | `{"code"}`; 400 with the reason when refused (http or localhost redirect…) |
//! | `POST /_fake/expire-token {"access_token"}` | 404 if unknown |
//! | `POST /_fake/revoke-token {"access_token"}` | 404 if unknown |
//! | `POST /_fake/revoke-user {"user_id"}` | every token of the user dies |
//! | `POST /_fake/backdate-token {"access_token","secs"}` | the token becomes `secs` older |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | drop queued faults |
//! | `POST /_fake/processing` a [`Processing`] | plan for media containers created from now on |
//! | `POST /_fake/processing/container {"container_id","plan"}` | plan of one container; 404 if unknown |
//! | `POST /_fake/quota {"posts","replies","duration_secs"}` | publishing quotas |
//! | `POST /_fake/not-ready-form {"form":"ig9007"\|"code100"}` | |
//! | `POST /_fake/latency {"ms"}` | |
//! | `POST /_fake/advance-time {"secs"}` | moves the fake clock |
//! | `GET /_fake/containers` | `[Container]` |
//! | `GET /_fake/posts` | `[ThreadsPost]` |
//! | `POST /_fake/posts {"owner_id","text","reply_to"?}` | stores a post made elsewhere |
//! | `GET /_fake/requests` | `[ThreadsRequest]` (body base64) |
//! | `DELETE /_fake/requests` | forget recorded requests |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    default_scopes, CodeGrant, Fault, NotReadyForm, PostDraft, Processing, Reply, Req, Shared,
    DEFAULT_APP_ID, DEFAULT_APP_SECRET,
};

type Answer = Result<Reply, Reply>;

fn ok(body: Value) -> Reply {
    Reply::json(200, body)
}

fn bad(message: impl Into<String>) -> Reply {
    Reply::json(400, json!({ "error": message.into() }))
}

fn unknown(what: &str) -> Reply {
    Reply::json(404, json!({ "error": format!("unknown {what}") }))
}

fn parse<T: for<'de> Deserialize<'de>>(req: &Req) -> Result<T, Reply> {
    let body: &[u8] = if req.body.is_empty() {
        b"{}"
    } else {
        &req.body
    };
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
struct AppInput {
    app_id: String,
    app_secret: String,
}

#[derive(Deserialize)]
struct UserInput {
    username: String,
    name: Option<String>,
    #[serde(default = "default_scopes")]
    scopes: Vec<String>,
    #[serde(default)]
    age_secs: i64,
}

#[derive(Deserialize)]
struct TokenInput {
    user_id: String,
    #[serde(default = "yes")]
    long_lived: bool,
    #[serde(default = "default_scopes")]
    scopes: Vec<String>,
    #[serde(default)]
    age_secs: i64,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct TokenRef {
    access_token: String,
}

#[derive(Deserialize)]
struct Backdate {
    access_token: String,
    secs: i64,
}

#[derive(Deserialize)]
struct UserRef {
    user_id: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct ContainerPlan {
    container_id: String,
    plan: Processing,
}

#[derive(Deserialize)]
struct QuotaInput {
    posts: u32,
    replies: u32,
    duration_secs: i64,
}

#[derive(Deserialize)]
struct FormInput {
    form: NotReadyForm,
}

#[derive(Deserialize)]
struct MsInput {
    ms: u64,
}

#[derive(Deserialize)]
struct SecsInput {
    secs: i64,
}

#[derive(Deserialize)]
struct PostInput {
    owner_id: String,
    text: String,
    reply_to: Option<String>,
}

pub(super) fn handle(shared: &Shared, req: &Req) -> Reply {
    run(shared, req).unwrap_or_else(|e| e)
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn run(shared: &Shared, req: &Req) -> Answer {
    let done = || ok(json!({}));
    let path = req.path.trim_end_matches('/');
    Ok(match (req.method.as_str(), path) {
        ("GET", "/_fake/info") => ok(json!({
            "base_url": shared.base_url,
            "app_id": DEFAULT_APP_ID,
            "app_secret": DEFAULT_APP_SECRET,
        })),
        ("POST", "/_fake/apps") => {
            let input: AppInput = parse(req)?;
            shared.lock().apps.insert(input.app_id, input.app_secret);
            done()
        }
        ("POST", "/_fake/users") => {
            let input: UserInput = parse(req)?;
            let mut inner = shared.lock();
            let name = input.name.unwrap_or_else(|| input.username.clone());
            let user = inner.create_user(&input.username, &name);
            let issued = inner.now() - chrono::Duration::seconds(input.age_secs);
            let token = inner.issue(&user.id, DEFAULT_APP_ID, &input.scopes, true, Some(issued));
            ok(json!({ "user": to_json(&user), "token": to_json(&token) }))
        }
        ("POST", "/_fake/tokens") => {
            let input: TokenInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.user(&input.user_id).is_none() {
                return Err(unknown("user"));
            }
            let issued = inner.now() - chrono::Duration::seconds(input.age_secs);
            let token = inner.issue(
                &input.user_id,
                DEFAULT_APP_ID,
                &input.scopes,
                input.long_lived,
                Some(issued),
            );
            ok(to_json(&token))
        }
        ("POST", "/_fake/codes") => {
            let grant: CodeGrant = parse(req)?;
            let code = shared.lock().issue_code(grant).map_err(bad)?;
            ok(json!({ "code": code }))
        }
        ("POST", "/_fake/expire-token") => {
            let input: TokenRef = parse(req)?;
            let mut inner = shared.lock();
            let past = inner.now() - chrono::Duration::seconds(1);
            match inner.tokens.get_mut(&input.access_token) {
                Some(t) => t.expires_at = past,
                None => return Err(unknown("access token")),
            }
            done()
        }
        ("POST", "/_fake/revoke-token") => {
            let input: TokenRef = parse(req)?;
            match shared.lock().tokens.get_mut(&input.access_token) {
                Some(t) => t.revoked = true,
                None => return Err(unknown("access token")),
            }
            done()
        }
        ("POST", "/_fake/revoke-user") => {
            let input: UserRef = parse(req)?;
            for t in shared.lock().tokens.values_mut() {
                if t.user_id == input.user_id {
                    t.revoked = true;
                }
            }
            done()
        }
        ("POST", "/_fake/backdate-token") => {
            let input: Backdate = parse(req)?;
            let by = chrono::Duration::seconds(input.secs);
            match shared.lock().tokens.get_mut(&input.access_token) {
                Some(t) => {
                    t.issued_at -= by;
                    t.expires_at -= by;
                }
                None => return Err(unknown("access token")),
            }
            done()
        }
        ("POST", "/_fake/faults") => {
            let faults = match parse::<Faults>(req)? {
                Faults::One(f) => vec![f],
                Faults::Many(list) => list,
            };
            let queued = faults.len();
            shared
                .lock()
                .faults
                .extend(faults.into_iter().filter(|f| f.times > 0));
            ok(json!({ "queued": queued }))
        }
        ("DELETE", "/_fake/faults") => {
            shared.lock().faults.clear();
            done()
        }
        ("POST", "/_fake/processing") => {
            let plan: Processing = parse(req)?;
            shared.lock().cfg.processing = plan;
            done()
        }
        ("POST", "/_fake/processing/container") => {
            let input: ContainerPlan = parse(req)?;
            let mut inner = shared.lock();
            let Some(c) = inner.containers.get_mut(&input.container_id) else {
                return Err(unknown("container"));
            };
            c.plan = input.plan;
            c.polls = 0;
            done()
        }
        ("POST", "/_fake/quota") => {
            let input: QuotaInput = parse(req)?;
            let mut inner = shared.lock();
            inner.cfg.quota_total = input.posts;
            inner.cfg.reply_quota_total = input.replies;
            inner.cfg.quota_duration = chrono::Duration::seconds(input.duration_secs);
            done()
        }
        ("POST", "/_fake/not-ready-form") => {
            let input: FormInput = parse(req)?;
            shared.lock().not_ready = input.form;
            done()
        }
        ("POST", "/_fake/latency") => {
            let input: MsInput = parse(req)?;
            shared.lock().latency = std::time::Duration::from_millis(input.ms);
            done()
        }
        ("POST", "/_fake/advance-time") => {
            let input: SecsInput = parse(req)?;
            shared.lock().clock_offset += chrono::Duration::seconds(input.secs);
            done()
        }
        ("GET", "/_fake/containers") => {
            let inner = shared.lock();
            let list: Vec<Value> = inner
                .container_order
                .iter()
                .filter_map(|id| inner.containers.get(id))
                .map(to_json)
                .collect();
            ok(Value::Array(list))
        }
        ("GET", "/_fake/posts") => ok(to_json(&shared.lock().posts)),
        ("POST", "/_fake/posts") => {
            let input: PostInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.user(&input.owner_id).is_none() {
                return Err(unknown("user"));
            }
            if let Some(parent) = &input.reply_to {
                if inner.post(parent).is_none() {
                    return Err(unknown("post"));
                }
            }
            let now = inner.now();
            let post = inner.store_post(
                PostDraft {
                    owner_id: input.owner_id,
                    container_id: None,
                    media_type: "TEXT_POST".into(),
                    text: Some(input.text),
                    reply_to: input.reply_to,
                    media_urls: Vec::new(),
                    alt_texts: Vec::new(),
                    link_attachment: None,
                    topic_tag: None,
                    reply_control: None,
                    auto_published: false,
                },
                now,
            );
            ok(to_json(&post))
        }
        ("GET", "/_fake/requests") => ok(to_json(&shared.lock().requests)),
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        _ => return Err(unknown("control endpoint")),
    })
}
