//! HTTP control API of the YouTube fake under `/_fake/`, so scripts and other processes can
//! drive it:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url","client_id","client_secret"}` |
//! | `POST /_fake/clients {"client_id","client_secret"}` | registers a Desktop OAuth client |
//! | `POST /_fake/channels {"handle","title"?,"scopes"?,"client_id"?,"without_channel"?}` | `{"channel":{…},"tokens":{…}}` (the tokens are ready for `--token-stdin`) |
//! | `POST /_fake/tokens {"channel_id","scopes"?,"client_id"?}` | a new token set; 404 for an unknown channel |
//! | `POST /_fake/codes` a [`CodeGrant`] | `{"code"}`; 400 with the reason when refused |
//! | `POST /_fake/consent` a [`Consent`] or `null` | what the consent page does |
//! | `POST /_fake/channel-verified {"channel_id","verified"}` | custom thumbnails allowed or not |
//! | `POST /_fake/expire-access-token {"access_token"?}` | one token, or (empty body) every one |
//! | `POST /_fake/revoke-refresh-token {"refresh_token"}` | 404 if unknown |
//! | `POST /_fake/revoke-channel {"channel_id"}` | every token of the channel dies |
//! | `POST /_fake/testing-mode {"enabled"}` | refresh tokens die after 7 days |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | drop queued faults |
//! | `GET /_fake/sessions` | `[YtSession]` |
//! | `POST /_fake/sessions/expire {"upload_id"?,"status"?}` | one session (or every open one) answers 404/410 from now on |
//! | `POST /_fake/quota/model` a [`QuotaModel`] | |
//! | `GET /_fake/quota?client_id=` | today's `{"units","inserts"}` |
//! | `POST /_fake/quota/used {"client_id"?,"units","inserts"?}` | sets today's use |
//! | `POST /_fake/quota/exhaust` / `POST /_fake/quota/reset` | |
//! | `POST /_fake/upload-limit {"channel_id","limit"}` | `limit: null` removes it |
//! | `POST /_fake/processing` a [`Processing`] | plan for videos uploaded from now on |
//! | `POST /_fake/processing/video {"video_id","plan"}` | one video's plan; 404 if unknown |
//! | `POST /_fake/unverified-project {"enabled"}` | uploads stay private |
//! | `POST /_fake/throttle {"bytes_per_sec"}` | `null` lifts it |
//! | `POST /_fake/latency {"ms"}` | |
//! | `POST /_fake/advance-time {"secs"}` | moves the fake clock |
//! | `GET /_fake/videos` | `[YtVideo]` |
//! | `POST /_fake/videos/delete {"video_id"}` | |
//! | `GET /_fake/requests` | `[YtRequest]` (body base64) |
//! | `DELETE /_fake/requests` | forget recorded requests |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    all_scopes, default_client, pacific_day, CodeGrant, Consent, Fault, Processing, QuotaModel,
    QuotaUse, Reply, Req, Shared, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
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
    client_id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct ChannelInput {
    handle: String,
    title: Option<String>,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
    #[serde(default = "default_client")]
    client_id: String,
    #[serde(default)]
    without_channel: bool,
}

#[derive(Deserialize)]
struct TokensInput {
    channel_id: String,
    #[serde(default = "all_scopes")]
    scopes: Vec<String>,
    #[serde(default = "default_client")]
    client_id: String,
}

#[derive(Deserialize)]
struct VerifiedInput {
    channel_id: String,
    verified: bool,
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
struct ChannelIdInput {
    channel_id: String,
}

#[derive(Deserialize)]
struct EnabledInput {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct ExpireInput {
    upload_id: Option<String>,
    #[serde(default = "not_found")]
    status: u16,
}

fn not_found() -> u16 {
    404
}

#[derive(Deserialize)]
struct UsedInput {
    #[serde(default = "default_client")]
    client_id: String,
    units: u32,
    #[serde(default)]
    inserts: u32,
}

#[derive(Deserialize)]
struct LimitInput {
    channel_id: String,
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct VideoPlanInput {
    video_id: String,
    plan: Processing,
}

#[derive(Deserialize)]
struct ThrottleInput {
    bytes_per_sec: Option<u64>,
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
struct VideoIdInput {
    video_id: String,
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
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        })),
        ("POST", "/_fake/clients") => {
            let input: ClientInput = parse(req)?;
            shared
                .lock()
                .clients
                .insert(input.client_id, input.client_secret);
            done()
        }
        ("POST", "/_fake/channels") => {
            let input: ChannelInput = parse(req)?;
            let mut inner = shared.lock();
            let title = input.title.unwrap_or_else(|| input.handle.clone());
            let channel = inner.create_channel(&input.handle, &title);
            if input.without_channel {
                inner.no_channel.insert(channel.id.clone());
            }
            let tokens =
                inner.issue_tokens(cfg, &channel.id, &input.client_id, &input.scopes, true);
            ok(json!({ "channel": to_json(&channel), "tokens": to_json(&tokens) }))
        }
        ("POST", "/_fake/tokens") => {
            let input: TokensInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.channel(&input.channel_id).is_none() {
                return Err(unknown("channel"));
            }
            let tokens = inner.issue_tokens(
                cfg,
                &input.channel_id,
                &input.client_id,
                &input.scopes,
                true,
            );
            ok(to_json(&tokens))
        }
        ("POST", "/_fake/codes") => {
            let grant: CodeGrant = parse(req)?;
            let code = shared.lock().issue_code(grant, cfg.code_ttl).map_err(bad)?;
            ok(json!({ "code": code }))
        }
        ("POST", "/_fake/consent") => {
            let consent: Option<Consent> = if req.body.is_empty() {
                None
            } else {
                parse(req)?
            };
            shared.lock().consent = consent;
            done()
        }
        ("POST", "/_fake/channel-verified") => {
            let input: VerifiedInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(c) = inner.channels.iter_mut().find(|c| c.id == input.channel_id) else {
                return Err(unknown("channel"));
            };
            c.verified = input.verified;
            done()
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
        ("POST", "/_fake/revoke-channel") => {
            let input: ChannelIdInput = parse(req)?;
            let mut inner = shared.lock();
            inner
                .refresh
                .retain(|_, t| t.channel_id != input.channel_id);
            inner.access.retain(|_, t| t.channel_id != input.channel_id);
            done()
        }
        ("POST", "/_fake/testing-mode") => {
            let input: EnabledInput = parse(req)?;
            shared.lock().testing_mode = input.enabled;
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
        ("GET", "/_fake/sessions") => {
            let inner = shared.lock();
            let list: Vec<Value> = inner
                .session_order
                .iter()
                .filter_map(|id| inner.sessions.get(id))
                .map(|s| to_json(&s.info))
                .collect();
            ok(Value::Array(list))
        }
        ("POST", "/_fake/sessions/expire") => {
            let input: ExpireInput = parse(req)?;
            let mut inner = shared.lock();
            match input.upload_id {
                Some(id) => match inner.sessions.get_mut(&id) {
                    Some(s) => s.kill(input.status),
                    None => return Err(unknown("session")),
                },
                None => {
                    for s in inner.sessions.values_mut() {
                        if s.info.state == "open" {
                            s.kill(input.status);
                        }
                    }
                }
            }
            done()
        }
        ("POST", "/_fake/quota/model") => {
            let model: QuotaModel = parse(req)?;
            shared.lock().quota_model = model;
            done()
        }
        ("GET", "/_fake/quota") => {
            let client = req.param("client_id").unwrap_or_else(default_client);
            let inner = shared.lock();
            let day = pacific_day(inner.now());
            let used = inner
                .quota
                .get(&client)
                .filter(|(d, _)| *d == day)
                .map(|(_, u)| *u)
                .unwrap_or_default();
            ok(to_json(&used))
        }
        ("POST", "/_fake/quota/used") => {
            let input: UsedInput = parse(req)?;
            let mut inner = shared.lock();
            let day = pacific_day(inner.now());
            inner.quota.insert(
                input.client_id,
                (
                    day,
                    QuotaUse {
                        units: input.units,
                        inserts: input.inserts,
                    },
                ),
            );
            done()
        }
        ("POST", "/_fake/quota/exhaust") => {
            let mut inner = shared.lock();
            let day = pacific_day(inner.now());
            let full = QuotaUse {
                units: inner.quota_model.daily_units(),
                inserts: u32::MAX,
            };
            let clients: Vec<String> = inner.clients.keys().cloned().collect();
            for c in clients {
                inner.quota.insert(c, (day, full));
            }
            done()
        }
        ("POST", "/_fake/quota/reset") => {
            shared.lock().quota.clear();
            done()
        }
        ("POST", "/_fake/upload-limit") => {
            let input: LimitInput = parse(req)?;
            let mut inner = shared.lock();
            match input.limit {
                Some(l) => inner.upload_limits.insert(input.channel_id, l),
                None => inner.upload_limits.remove(&input.channel_id),
            };
            done()
        }
        ("POST", "/_fake/processing") => {
            let plan: Processing = parse(req)?;
            shared.lock().processing = plan;
            done()
        }
        ("POST", "/_fake/processing/video") => {
            let input: VideoPlanInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(v) = inner.videos.get_mut(&input.video_id) else {
                return Err(unknown("video"));
            };
            v.plan = input.plan;
            v.info.polls = 0;
            v.info.upload_status = "uploaded".into();
            done()
        }
        ("POST", "/_fake/unverified-project") => {
            let input: EnabledInput = parse(req)?;
            shared.lock().unverified_project = input.enabled;
            done()
        }
        ("POST", "/_fake/throttle") => {
            let input: ThrottleInput = parse(req)?;
            shared.lock().throttle = input.bytes_per_sec.filter(|b| *b > 0);
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
        ("GET", "/_fake/videos") => {
            let inner = shared.lock();
            let list: Vec<Value> = inner
                .video_order
                .iter()
                .filter_map(|id| inner.videos.get(id))
                .map(|v| to_json(&v.info))
                .collect();
            ok(Value::Array(list))
        }
        ("POST", "/_fake/videos/delete") => {
            let input: VideoIdInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(v) = inner.videos.get_mut(&input.video_id) else {
                return Err(unknown("video"));
            };
            v.info.upload_status = "deleted".into();
            done()
        }
        ("GET", "/_fake/requests") => ok(to_json(&shared.lock().requests)),
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        _ => return Err(unknown("control endpoint")),
    })
}
