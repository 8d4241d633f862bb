//! HTTP control API of the X fake under `/_fake/`, so scripts and other processes can drive it:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url"}` |
//! | `POST /_fake/clients {"client_id","client_secret"?}` | registers an OAuth client (public without a secret) |
//! | `POST /_fake/users {"username","name"?,"scopes"?,"client_id"?}` | `{"user":{id,username,name},"tokens":{access_token,refresh_token,expires_in,scope}}` |
//! | `POST /_fake/tokens {"user_id","scopes"?,"client_id"?}` | a new token set; 404 for an unknown user |
//! | `POST /_fake/codes` a [`CodeGrant`] | `{"code"}`; 400 with the reason when refused |
//! | `POST /_fake/expire-access-token {"access_token"}` | 404 if unknown; `{}` body: every access token |
//! | `POST /_fake/revoke-refresh-token {"refresh_token"}` | 404 if unknown |
//! | `POST /_fake/revoke-user {"user_id"}` | every token of the user dies |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | drop queued faults |
//! | `POST /_fake/limits {"endpoint","limit","window_secs"?}` | the endpoint's per-user bucket (window 900 s by default) |
//! | `POST /_fake/limits/user-24h {"endpoint","limit"}` | `limit: null` removes it |
//! | `POST /_fake/limits/app-24h {"endpoint","limit"}` | `limit: null` removes it |
//! | `POST /_fake/processing` a [`Processing`] | plan for media finalized from now on |
//! | `POST /_fake/processing/media {"media_id","plan"}` | plan of one media; 404 if unknown |
//! | `POST /_fake/read-access {"enabled"}` | |
//! | `POST /_fake/reply-restriction {"mode":"off"\|"others_only"\|"all"}` | |
//! | `POST /_fake/credits-exhausted {"enabled","status"?,"body"?}` | |
//! | `POST /_fake/refresh-error-form {"form":"invalid_grant"\|"invalid_request"}` | |
//! | `POST /_fake/latency {"ms"}` | |
//! | `POST /_fake/advance-time {"secs"}` | moves the fake clock |
//! | `GET /_fake/tweets` | `[XTweet]` |
//! | `POST /_fake/tweets {"author_id","text","in_reply_to"?}` | stores a post made elsewhere |
//! | `GET /_fake/media` | `[XMedia]` |
//! | `GET /_fake/requests` | `[XRequest]` (body base64) |
//! | `DELETE /_fake/requests` | forget recorded requests |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    all_scopes, default_client, CodeGrant, CreditsBlock, Endpoint, Fault, Processing,
    RefreshErrorForm, Reply, ReplyRestriction, Req, Shared,
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
struct ClientInput {
    client_id: String,
    client_secret: Option<String>,
}

#[derive(Deserialize)]
struct UserInput {
    username: String,
    name: Option<String>,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
    #[serde(default = "default_client")]
    client_id: String,
}

#[derive(Deserialize)]
struct TokensInput {
    user_id: String,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
    #[serde(default = "default_client")]
    client_id: String,
}

#[derive(Deserialize)]
struct AccessInput {
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct RefreshInput {
    refresh_token: String,
}

#[derive(Deserialize)]
struct UserIdInput {
    user_id: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct LimitInput {
    endpoint: Endpoint,
    limit: u32,
    #[serde(default = "fifteen_minutes")]
    window_secs: i64,
}

fn fifteen_minutes() -> i64 {
    900
}

#[derive(Deserialize)]
struct CapInput {
    endpoint: Endpoint,
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct MediaPlanInput {
    media_id: String,
    plan: Processing,
}

#[derive(Deserialize)]
struct EnabledInput {
    enabled: bool,
}

#[derive(Deserialize)]
struct ModeInput {
    mode: ReplyRestriction,
}

#[derive(Deserialize)]
struct CreditsInput {
    enabled: bool,
    status: Option<u16>,
    body: Option<Value>,
}

#[derive(Deserialize)]
struct FormInput {
    form: RefreshErrorForm,
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
struct TweetInput {
    author_id: String,
    text: String,
    in_reply_to: Option<String>,
}

pub(super) fn handle(shared: &Shared, req: &Req) -> Reply {
    run(shared, req).unwrap_or_else(|e| e)
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn run(shared: &Shared, req: &Req) -> Answer {
    let done = || ok(json!({}));
    let cfg = &shared.cfg;
    let path = req.path.trim_end_matches('/');
    Ok(match (req.method.as_str(), path) {
        ("GET", "/_fake/info") => ok(json!({ "base_url": shared.base_url })),
        ("POST", "/_fake/clients") => {
            let input: ClientInput = parse(req)?;
            shared
                .lock()
                .clients
                .insert(input.client_id, input.client_secret);
            done()
        }
        ("POST", "/_fake/users") => {
            let input: UserInput = parse(req)?;
            let mut inner = shared.lock();
            let name = input.name.unwrap_or_else(|| input.username.clone());
            let user = inner.create_user(&input.username, &name);
            let tokens = inner.issue_tokens(cfg, &user.id, &input.client_id, &input.scopes);
            ok(json!({ "user": to_json(&user), "tokens": to_json(&tokens) }))
        }
        ("POST", "/_fake/tokens") => {
            let input: TokensInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.user(&input.user_id).is_none() {
                return Err(unknown("user"));
            }
            let tokens = inner.issue_tokens(cfg, &input.user_id, &input.client_id, &input.scopes);
            ok(to_json(&tokens))
        }
        ("POST", "/_fake/codes") => {
            let grant: CodeGrant = parse(req)?;
            let code = shared.lock().issue_code(grant).map_err(bad)?;
            ok(json!({ "code": code }))
        }
        ("POST", "/_fake/expire-access-token") => {
            let input: AccessInput = parse(req)?;
            let mut inner = shared.lock();
            let past = inner.now() - chrono::Duration::seconds(1);
            match input.access_token {
                Some(token) => match inner.access.get_mut(&token) {
                    Some(t) => t.expires_at = past,
                    None => return Err(unknown("access token")),
                },
                None => {
                    for t in inner.access.values_mut() {
                        t.expires_at = past;
                    }
                }
            }
            done()
        }
        ("POST", "/_fake/revoke-refresh-token") => {
            let input: RefreshInput = parse(req)?;
            if shared.lock().refresh.remove(&input.refresh_token).is_none() {
                return Err(unknown("refresh token"));
            }
            done()
        }
        ("POST", "/_fake/revoke-user") => {
            let input: UserIdInput = parse(req)?;
            let mut inner = shared.lock();
            inner.refresh.retain(|_, t| t.user_id != input.user_id);
            inner.access.retain(|_, t| t.user_id != input.user_id);
            done()
        }
        ("POST", "/_fake/faults") => {
            let faults = match parse::<Faults>(req)? {
                Faults::One(f) => vec![f],
                Faults::Many(list) => list,
            };
            let queued = faults.len();
            let mut inner = shared.lock();
            inner
                .faults
                .extend(faults.into_iter().filter(|f| f.times > 0));
            ok(json!({ "queued": queued }))
        }
        ("DELETE", "/_fake/faults") => {
            shared.lock().faults.clear();
            done()
        }
        ("POST", "/_fake/limits") => {
            let input: LimitInput = parse(req)?;
            shared.lock().window_limits.insert(
                input.endpoint,
                (input.limit, chrono::Duration::seconds(input.window_secs)),
            );
            done()
        }
        ("POST", "/_fake/limits/user-24h") => {
            let input: CapInput = parse(req)?;
            let mut inner = shared.lock();
            match input.limit {
                Some(l) => inner.user_24h.insert(input.endpoint, l),
                None => inner.user_24h.remove(&input.endpoint),
            };
            done()
        }
        ("POST", "/_fake/limits/app-24h") => {
            let input: CapInput = parse(req)?;
            shared.lock().app_24h.insert(input.endpoint, input.limit);
            done()
        }
        ("POST", "/_fake/processing") => {
            let plan: Processing = parse(req)?;
            shared.lock().processing = plan;
            done()
        }
        ("POST", "/_fake/processing/media") => {
            let input: MediaPlanInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(m) = inner.media.get_mut(&input.media_id) else {
                return Err(unknown("media"));
            };
            m.plan = input.plan;
            m.info.polls = 0;
            done()
        }
        ("POST", "/_fake/read-access") => {
            let input: EnabledInput = parse(req)?;
            shared.lock().read_access = input.enabled;
            done()
        }
        ("POST", "/_fake/reply-restriction") => {
            let input: ModeInput = parse(req)?;
            shared.lock().reply_restriction = input.mode;
            done()
        }
        ("POST", "/_fake/credits-exhausted") => {
            let input: CreditsInput = parse(req)?;
            let block = input.enabled.then(|| {
                let default = CreditsBlock::default();
                CreditsBlock {
                    status: input.status.unwrap_or(default.status),
                    body: input.body.unwrap_or(default.body),
                }
            });
            shared.lock().credits = block;
            done()
        }
        ("POST", "/_fake/refresh-error-form") => {
            let input: FormInput = parse(req)?;
            shared.lock().refresh_error = input.form;
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
        ("GET", "/_fake/tweets") => ok(to_json(&shared.lock().tweets)),
        ("POST", "/_fake/tweets") => {
            let input: TweetInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.user(&input.author_id).is_none() {
                return Err(unknown("user"));
            }
            let now = inner.now();
            let tweet = inner.store_tweet(
                &input.author_id,
                &input.text,
                Vec::new(),
                input.in_reply_to.as_deref(),
                None,
                now,
            );
            ok(to_json(&tweet))
        }
        ("GET", "/_fake/media") => {
            let inner = shared.lock();
            let media: Vec<Value> = inner
                .media_order
                .iter()
                .filter_map(|id| inner.media.get(id))
                .map(|m| to_json(&m.info))
                .collect();
            ok(Value::Array(media))
        }
        ("GET", "/_fake/requests") => ok(to_json(&shared.lock().requests)),
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        _ => return Err(unknown("control endpoint")),
    })
}
