//! HTTP control API of the TikTok fake under `/_fake/`, so scripts and other processes can
//! drive it:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url","authorize_url","client_key","client_secret"}` |
//! | `POST /_fake/clients {"client_key","client_secret","redirect_uris"?}` | registers an app |
//! | `POST /_fake/users {"username","display_name"?,"scopes"?,"private_account"?}` | `{"user":TikTokUser,"tokens":TikTokTokens}` |
//! | `POST /_fake/tokens {"open_id","scopes"?}` | a new token set; 404 for an unknown user |
//! | `POST /_fake/codes` a [`CodeGrant`] | `{"code"}`; 400 with the reason when refused |
//! | `POST /_fake/authorize-user {"open_id"}` | who the authorize page consents for (`null`: nobody) |
//! | `POST /_fake/creator {"open_id", "private_account"?, "max_video_post_duration_sec"?, "comment_disabled"?, "duet_disabled"?, "stitch_disabled"?, "privacy_options"?}` | creator settings |
//! | `POST /_fake/audited {"audited"}` | the app's audit status |
//! | `POST /_fake/expire-access-token {"access_token"?}` | 404 if unknown; `{}`: every access token |
//! | `POST /_fake/revoke-refresh-token {"refresh_token"}` | 404 if unknown |
//! | `POST /_fake/revoke-user {"open_id"}` | every token of the user dies |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | drop queued faults |
//! | `POST /_fake/limits {"endpoint","per_minute"}` | a per-token window |
//! | `POST /_fake/plan` a [`StatusPlan`] | plan of publishes made from now on |
//! | `POST /_fake/plan/publish {"publish_id","plan"}` | plan of one publish; 404 if unknown |
//! | `POST /_fake/finish-inbox {"publish_id"}` | the creator finishes an inbox draft |
//! | `POST /_fake/verified-prefixes {"prefix"}` | a verified domain / URL prefix |
//! | `POST /_fake/latency {"ms"}` | |
//! | `POST /_fake/advance-time {"secs"}` | moves the fake clock |
//! | `GET /_fake/publishes` | `[TikTokPublish]` |
//! | `GET /_fake/posts` | `[TikTokPublish]` that went out |
//! | `GET /_fake/chunks?publish_id=` | `[ChunkPut]` (every publish without the parameter) |
//! | `GET /_fake/requests` | `[TikTokRequest]` (body base64) |
//! | `DELETE /_fake/requests` | forget recorded requests |
//! | `PUT /_fake/sink` | reads the body like the upload host; `{"bytes","ms"}` |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    all_scopes, default_client, CodeGrant, Endpoint, Fault, Reply, Req, Shared, StatusPlan,
    DEFAULT_CLIENT_KEY, DEFAULT_CLIENT_SECRET,
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

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

#[derive(Deserialize)]
struct ClientInput {
    client_key: String,
    client_secret: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

#[derive(Deserialize)]
struct UserInput {
    username: String,
    display_name: Option<String>,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
    #[serde(default)]
    private_account: bool,
}

#[derive(Deserialize)]
struct TokensInput {
    open_id: String,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
    #[serde(default = "default_client")]
    client_key: String,
}

#[derive(Deserialize)]
struct OpenIdInput {
    open_id: Option<String>,
}

#[derive(Deserialize)]
struct CreatorInput {
    open_id: String,
    private_account: Option<bool>,
    max_video_post_duration_sec: Option<u64>,
    comment_disabled: Option<bool>,
    duet_disabled: Option<bool>,
    stitch_disabled: Option<bool>,
    #[serde(default)]
    privacy_options: Option<Option<Vec<String>>>,
}

#[derive(Deserialize)]
struct AuditedInput {
    audited: bool,
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
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct LimitInput {
    endpoint: Endpoint,
    per_minute: u32,
}

#[derive(Deserialize)]
struct PublishPlanInput {
    publish_id: String,
    plan: StatusPlan,
}

#[derive(Deserialize)]
struct PublishIdInput {
    publish_id: String,
}

#[derive(Deserialize)]
struct PrefixInput {
    prefix: String,
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
            "authorize_url": format!("{}/v2/auth/authorize/", shared.base_url),
            "client_key": DEFAULT_CLIENT_KEY,
            "client_secret": DEFAULT_CLIENT_SECRET,
        })),
        ("POST", "/_fake/clients") => {
            let input: ClientInput = parse(req)?;
            shared.lock().clients.insert(
                input.client_key,
                super::Client {
                    secret: input.client_secret,
                    redirect_uris: input.redirect_uris,
                },
            );
            done()
        }
        ("POST", "/_fake/users") => {
            let input: UserInput = parse(req)?;
            let mut inner = shared.lock();
            let name = input
                .display_name
                .unwrap_or_else(|| format!("{} (fake)", input.username));
            let mut user = inner.create_user(&input.username, &name);
            if input.private_account {
                if let Some(u) = inner.users.iter_mut().find(|u| u.open_id == user.open_id) {
                    u.private_account = true;
                    user = u.clone();
                }
            }
            let tokens = inner.issue_tokens(cfg, &user.open_id, DEFAULT_CLIENT_KEY, &input.scopes);
            ok(json!({ "user": to_json(&user), "tokens": to_json(&tokens) }))
        }
        ("POST", "/_fake/tokens") => {
            let input: TokensInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.user(&input.open_id).is_none() {
                return Err(unknown("user"));
            }
            let tokens = inner.issue_tokens(cfg, &input.open_id, &input.client_key, &input.scopes);
            ok(to_json(&tokens))
        }
        ("POST", "/_fake/codes") => {
            let grant: CodeGrant = parse(req)?;
            match shared.lock().issue_code(cfg, grant) {
                Ok(code) => ok(json!({ "code": code })),
                Err(e) => return Err(bad(e)),
            }
        }
        ("POST", "/_fake/authorize-user") => {
            let input: OpenIdInput = parse(req)?;
            shared.lock().authorize_user = input.open_id;
            done()
        }
        ("POST", "/_fake/creator") => {
            let input: CreatorInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(u) = inner.users.iter_mut().find(|u| u.open_id == input.open_id) else {
                return Err(unknown("user"));
            };
            if let Some(v) = input.private_account {
                u.private_account = v;
            }
            if let Some(v) = input.max_video_post_duration_sec {
                u.max_video_post_duration_sec = v;
            }
            if let Some(v) = input.comment_disabled {
                u.comment_disabled = v;
            }
            if let Some(v) = input.duet_disabled {
                u.duet_disabled = v;
            }
            if let Some(v) = input.stitch_disabled {
                u.stitch_disabled = v;
            }
            if let Some(v) = input.privacy_options {
                u.privacy_options = v;
            }
            ok(to_json(&u.clone()))
        }
        ("POST", "/_fake/audited") => {
            let input: AuditedInput = parse(req)?;
            shared.lock().audited = input.audited;
            done()
        }
        ("POST", "/_fake/expire-access-token") => {
            let input: AccessInput = parse(req)?;
            let mut inner = shared.lock();
            let past = inner.now() - chrono::Duration::seconds(1);
            match input.access_token {
                Some(t) => match inner.access.get_mut(&t) {
                    Some(a) => a.expires_at = past,
                    None => return Err(unknown("access token")),
                },
                None => {
                    for a in inner.access.values_mut() {
                        a.expires_at = past;
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
            let input: OpenIdInput = parse(req)?;
            let Some(open_id) = input.open_id else {
                return Err(bad("open_id is required"));
            };
            let mut inner = shared.lock();
            inner.refresh.retain(|_, t| t.open_id != open_id);
            inner.access.retain(|_, t| t.open_id != open_id);
            done()
        }
        ("POST", "/_fake/faults") => {
            let faults = match parse::<Faults>(req)? {
                Faults::One(f) => vec![f],
                Faults::Many(v) => v,
            };
            let n = faults.len();
            let mut inner = shared.lock();
            inner
                .faults
                .extend(faults.into_iter().filter(|f| f.times > 0));
            ok(json!({ "queued": n }))
        }
        ("DELETE", "/_fake/faults") => {
            shared.lock().faults.clear();
            done()
        }
        ("POST", "/_fake/limits") => {
            let input: LimitInput = parse(req)?;
            shared
                .lock()
                .limits
                .insert(input.endpoint, input.per_minute);
            done()
        }
        ("POST", "/_fake/plan") => {
            let plan: StatusPlan = parse(req)?;
            shared.lock().default_plan = plan;
            done()
        }
        ("POST", "/_fake/plan/publish") => {
            let input: PublishPlanInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(p) = inner
                .publishes
                .iter_mut()
                .find(|p| p.publish_id == input.publish_id)
            else {
                return Err(unknown("publish_id"));
            };
            p.plan = input.plan;
            p.polls = 0;
            done()
        }
        ("POST", "/_fake/finish-inbox") => {
            let input: PublishIdInput = parse(req)?;
            let mut inner = shared.lock();
            let now = inner.now();
            let Some(p) = inner
                .publishes
                .iter_mut()
                .find(|p| p.publish_id == input.publish_id && p.mode == "inbox")
            else {
                return Err(unknown("inbox publish_id"));
            };
            p.status = "PUBLISH_COMPLETE".into();
            p.done_at.get_or_insert(now);
            done()
        }
        ("POST", "/_fake/verified-prefixes") => {
            let input: PrefixInput = parse(req)?;
            shared.lock().verified_prefixes.push(input.prefix);
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
        ("GET", "/_fake/publishes") => ok(to_json(&shared.lock().publishes)),
        ("GET", "/_fake/posts") => {
            let inner = shared.lock();
            let posts: Vec<_> = inner
                .publishes
                .iter()
                .filter(|p| p.done_at.is_some())
                .collect();
            ok(to_json(&posts))
        }
        ("GET", "/_fake/chunks") => {
            let inner = shared.lock();
            let only = req.param("publish_id");
            let puts: Vec<_> = inner
                .chunk_puts
                .iter()
                .filter(|c| only.as_deref().is_none_or(|id| c.publish_id == id))
                .collect();
            ok(to_json(&puts))
        }
        ("GET", "/_fake/requests") => ok(to_json(&shared.lock().requests)),
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        _ => return Err(unknown("control path")),
    })
}
