//! HTTP control API of the Facebook fake under `/_fake/`, so scripts and other processes can
//! drive it:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url","version","app_id","app_secret"}` |
//! | `POST /_fake/apps {"app_id","app_secret"}` | registers another Meta app |
//! | `POST /_fake/users {"name","pages"?:[{"name","username"?,"tasks"?}],"long_lived"?,"scopes"?}` | `{"user","pages","tokens"}`: a user, the Pages they administer, a user token (long-lived by default) |
//! | `POST /_fake/pages {"name","username"?}` | a Page (nobody's yet) |
//! | `POST /_fake/roles {"user_id","page_id","tasks"?}` | gives a role (default: admin tasks) |
//! | `DELETE /_fake/roles {"user_id","page_id"}` | takes the role away (its Page tokens answer 190/492) |
//! | `POST /_fake/tokens {"user_id","long_lived"?,"scopes"?}` | a new user token |
//! | `POST /_fake/codes` a [`CodeGrant`] | `{"code"}`; 400 with the reason when refused |
//! | `POST /_fake/expire-token {"access_token"}` | 404 if unknown |
//! | `POST /_fake/revoke-user {"user_id","subcode"?}` | every token of the user answers 190/subcode (default 460) |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | drop queued faults |
//! | `POST /_fake/throttle` a [`Throttle`] | throttles a Page (or the app) |
//! | `DELETE /_fake/throttle` | ends every throttle |
//! | `POST /_fake/reel-processing` a [`Processing`] | plan for Reels finished from now on |
//! | `POST /_fake/video-processing {"video_id","plan"}` | plan of one video; 404 if unknown |
//! | `POST /_fake/usage {"app_percent"?, "page_id"?, "page_percent"?}` | pins the usage headers |
//! | `POST /_fake/latency {"ms"}` | |
//! | `POST /_fake/advance-time {"secs"}` | moves the fake clock (held posts go out) |
//! | `GET /_fake/posts`, `/_fake/photos`, `/_fake/videos`, `/_fake/comments`, `/_fake/uploads` | the records |
//! | `GET /_fake/requests` | `[FbRequest]` (body base64) |
//! | `DELETE /_fake/requests` | forget recorded requests |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{all_scopes, CodeGrant, Fault, Processing, Reply, Req, Shared, Throttle, ADMIN_TASKS};

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

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn admin_tasks() -> Vec<String> {
    ADMIN_TASKS.iter().map(|t| t.to_string()).collect()
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct AppInput {
    app_id: String,
    app_secret: String,
}

#[derive(Deserialize)]
struct PageInput {
    name: String,
    username: Option<String>,
    #[serde(default = "admin_tasks")]
    tasks: Vec<String>,
}

#[derive(Deserialize)]
struct UserInput {
    name: String,
    #[serde(default)]
    pages: Vec<PageInput>,
    #[serde(default = "yes")]
    long_lived: bool,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct RoleInput {
    user_id: String,
    page_id: String,
    #[serde(default = "admin_tasks")]
    tasks: Vec<String>,
}

#[derive(Deserialize)]
struct TokenInput {
    user_id: String,
    #[serde(default = "yes")]
    long_lived: bool,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct ExpireInput {
    access_token: String,
}

#[derive(Deserialize)]
struct RevokeInput {
    user_id: String,
    subcode: Option<i64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct VideoPlanInput {
    video_id: String,
    plan: Processing,
}

#[derive(Deserialize)]
struct UsageInput {
    app_percent: Option<u64>,
    page_id: Option<String>,
    page_percent: Option<u64>,
}

#[derive(Deserialize)]
struct MsInput {
    ms: u64,
}

#[derive(Deserialize)]
struct SecsInput {
    secs: i64,
}

pub(super) fn handle(shared: &Shared, req: &Req) -> Reply {
    run(shared, req).unwrap_or_else(|e| e)
}

fn run(shared: &Shared, req: &Req) -> Answer {
    let done = || ok(json!({}));
    let cfg = &shared.cfg;
    let path = req.path.trim_end_matches('/');
    Ok(match (req.method.as_str(), path) {
        ("GET", "/_fake/info") => ok(json!({
            "base_url": shared.base_url,
            "version": cfg.version,
            "app_id": cfg.app_id,
            "app_secret": cfg.app_secret,
        })),
        ("POST", "/_fake/apps") => {
            let input: AppInput = parse(req)?;
            shared.lock().apps.insert(input.app_id, input.app_secret);
            done()
        }
        ("POST", "/_fake/users") => {
            let input: UserInput = parse(req)?;
            let mut inner = shared.lock();
            let user = inner.create_user(&input.name);
            let mut pages = Vec::new();
            for p in input.pages {
                let page = inner.create_page(&p.name, p.username.as_deref());
                inner
                    .roles
                    .insert((user.id.clone(), page.id.clone()), p.tasks);
                pages.push(page);
            }
            let app = cfg.app_id.clone();
            let tokens =
                inner.issue_user_token(cfg, &user.id, &app, &input.scopes, input.long_lived);
            ok(
                json!({ "user": to_json(&user), "pages": to_json(&pages), "tokens": to_json(&tokens) }),
            )
        }
        ("POST", "/_fake/pages") => {
            let input: PageInput = parse(req)?;
            let page = shared
                .lock()
                .create_page(&input.name, input.username.as_deref());
            ok(to_json(&page))
        }
        ("POST", "/_fake/roles") => {
            let input: RoleInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.user(&input.user_id).is_none() {
                return Err(unknown("user"));
            }
            if inner.page(&input.page_id).is_none() {
                return Err(unknown("page"));
            }
            inner
                .roles
                .insert((input.user_id, input.page_id), input.tasks);
            done()
        }
        ("DELETE", "/_fake/roles") => {
            let input: RoleInput = parse(req)?;
            shared.lock().roles.remove(&(input.user_id, input.page_id));
            done()
        }
        ("POST", "/_fake/tokens") => {
            let input: TokenInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.user(&input.user_id).is_none() {
                return Err(unknown("user"));
            }
            let app = cfg.app_id.clone();
            let tokens =
                inner.issue_user_token(cfg, &input.user_id, &app, &input.scopes, input.long_lived);
            ok(to_json(&tokens))
        }
        ("POST", "/_fake/codes") => {
            let grant: CodeGrant = parse(req)?;
            let code = shared.lock().issue_code(cfg, grant).map_err(bad)?;
            ok(json!({ "code": code }))
        }
        ("POST", "/_fake/expire-token") => {
            let input: ExpireInput = parse(req)?;
            let mut inner = shared.lock();
            let past = inner.now() - chrono::Duration::seconds(1);
            match inner.tokens.get_mut(&input.access_token) {
                Some(t) => t.expires_at = Some(past),
                None => return Err(unknown("token")),
            }
            done()
        }
        ("POST", "/_fake/revoke-user") => {
            let input: RevokeInput = parse(req)?;
            let mut inner = shared.lock();
            for t in inner.tokens.values_mut() {
                if t.user_id == input.user_id {
                    t.revoked = Some(input.subcode.unwrap_or(460));
                }
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
        ("POST", "/_fake/throttle") => {
            let t: Throttle = parse(req)?;
            let mut inner = shared.lock();
            let until = inner.now() + chrono::Duration::minutes(t.minutes as i64);
            inner.throttles.push((t, until));
            done()
        }
        ("DELETE", "/_fake/throttle") => {
            shared.lock().throttles.clear();
            done()
        }
        ("POST", "/_fake/reel-processing") => {
            let plan: Processing = parse(req)?;
            shared.lock().reel_processing = plan;
            done()
        }
        ("POST", "/_fake/video-processing") => {
            let input: VideoPlanInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(v) = inner.videos.iter_mut().find(|v| v.id == input.video_id) else {
                return Err(unknown("video"));
            };
            v.polls = 0;
            inner.video_plans.insert(input.video_id, input.plan);
            done()
        }
        ("POST", "/_fake/usage") => {
            let input: UsageInput = parse(req)?;
            let mut inner = shared.lock();
            inner.app_usage = input.app_percent;
            if let Some(p) = input.page_id {
                match input.page_percent {
                    Some(n) => inner.page_usage.insert(p, n),
                    None => inner.page_usage.remove(&p),
                };
            }
            done()
        }
        ("POST", "/_fake/latency") => {
            let input: MsInput = parse(req)?;
            shared.lock().latency = std::time::Duration::from_millis(input.ms);
            done()
        }
        ("POST", "/_fake/advance-time") => {
            let input: SecsInput = parse(req)?;
            let mut inner = shared.lock();
            inner.clock_offset += chrono::Duration::seconds(input.secs);
            inner.promote_due();
            done()
        }
        ("GET", "/_fake/posts") => {
            let mut inner = shared.lock();
            inner.promote_due();
            ok(to_json(&inner.posts))
        }
        ("GET", "/_fake/photos") => ok(to_json(&shared.lock().photos)),
        ("GET", "/_fake/videos") => ok(to_json(&shared.lock().videos)),
        ("GET", "/_fake/comments") => ok(to_json(&shared.lock().comments)),
        ("GET", "/_fake/uploads") => ok(to_json(&shared.lock().sessions)),
        ("GET", "/_fake/requests") => ok(to_json(&shared.lock().requests)),
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        _ => return Err(unknown("control endpoint")),
    })
}
