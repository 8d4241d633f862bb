//! HTTP control API under `/_fake/`, so scripts and other processes can drive the fake:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url","client_id","client_secret","redirect_uris"}` |
//! | `POST /_fake/members {"name"}` | `{"sub","urn"}` |
//! | `POST /_fake/login {"sub"}` | who consents at `/oauth/v2/authorization` |
//! | `POST /_fake/tokens {"sub","scopes":[…],"refresh":bool}` | [`IssuedTokens`](super::IssuedTokens) |
//! | `POST /_fake/expire-access-tokens {"sub"?}` | |
//! | `POST /_fake/revoke-tokens {"sub"}` | access and refresh tokens |
//! | `POST /_fake/revoke-refresh-tokens {"sub"}` | |
//! | `POST /_fake/organizations {"name"}` | `{"id","urn"}` |
//! | `POST /_fake/organizations/roles {"organization","sub","role"}` | 404 if unknown |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | |
//! | `GET /_fake/requests` / `DELETE /_fake/requests` | [`LinkedInRequest`](super::LinkedInRequest)s (body base64) |
//! | `GET /_fake/posts`, `/_fake/comments`, `/_fake/images`, `/_fake/videos` | state |
//! | `POST /_fake/video/outcome` a [`VideoOutcome`] | videos initialised from now on |
//! | `POST /_fake/video/status {"video","status","reason"?}` | 404 if unknown |
//! | `POST /_fake/daily-limit {"posts"}` | |
//! | `POST /_fake/sunset-versions {"versions":[…]}` | |
//! | `POST /_fake/latency {"ms"}` | |
//! | `POST /_fake/advance-time {"secs"}` | moves the fake clock |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use axum::body::Body;
use axum::http::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_response, oauth, Fault, Req, Shared, VideoOutcome};

type Answer = Result<Response<Body>, Box<Response<Body>>>;

fn bad(message: impl Into<String>) -> Box<Response<Body>> {
    Box::new(json_response(400, &json!({ "error": message.into() })))
}

fn missing(what: &str) -> Box<Response<Body>> {
    Box::new(json_response(
        404,
        &json!({ "error": format!("unknown {what}") }),
    ))
}

fn parse<T: for<'de> Deserialize<'de>>(req: &Req) -> Result<T, Box<Response<Body>>> {
    serde_json::from_slice(&req.body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
struct NameInput {
    name: String,
}

#[derive(Deserialize)]
struct SubInput {
    sub: String,
}

#[derive(Deserialize)]
struct OptSubInput {
    #[serde(default)]
    sub: Option<String>,
}

#[derive(Deserialize)]
struct TokensInput {
    sub: String,
    scopes: Vec<String>,
    #[serde(default)]
    refresh: bool,
}

#[derive(Deserialize)]
struct RoleInput {
    organization: u64,
    sub: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

#[derive(Deserialize)]
struct VideoStatusInput {
    video: String,
    status: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct PostsInput {
    posts: u32,
}

#[derive(Deserialize)]
struct VersionsInput {
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct MsInput {
    ms: u64,
}

#[derive(Deserialize)]
struct SecsInput {
    secs: i64,
}

pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    run(shared, req).unwrap_or_else(|e| *e)
}

fn to_json<T: serde::Serialize>(value: &T) -> Response<Body> {
    json_response(200, &serde_json::to_value(value).unwrap_or(Value::Null))
}

fn run(shared: &Shared, req: &Req) -> Answer {
    let done = || json_response(200, &json!({}));
    let path = req.path.trim_end_matches('/');
    Ok(match (req.method.as_str(), path) {
        ("GET", "/_fake/info") => json_response(
            200,
            &json!({
                "base_url": shared.base_url,
                "client_id": shared.cfg.client_id,
                "client_secret": shared.cfg.client_secret,
                "redirect_uris": shared.cfg.redirect_uris,
            }),
        ),
        ("POST", "/_fake/members") => {
            let input: NameInput = parse(req)?;
            let sub = shared.add_member(&input.name);
            json_response(
                200,
                &json!({ "sub": sub, "urn": format!("urn:li:person:{sub}") }),
            )
        }
        ("POST", "/_fake/login") => {
            let input: SubInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.member(&input.sub).is_none() {
                return Err(missing("member"));
            }
            inner.login_member = Some(input.sub);
            done()
        }
        ("POST", "/_fake/tokens") => {
            let input: TokensInput = parse(req)?;
            let mut inner = shared.lock();
            if inner.member(&input.sub).is_none() {
                return Err(missing("member"));
            }
            let now = inner.now();
            let issued = oauth::issue(
                &shared.cfg,
                &mut inner,
                &input.sub,
                &input.scopes,
                input.refresh,
                now,
            );
            to_json(&issued)
        }
        ("POST", "/_fake/expire-access-tokens") => {
            let input: OptSubInput = if req.body.is_empty() {
                OptSubInput { sub: None }
            } else {
                parse(req)?
            };
            let mut inner = shared.lock();
            let now = inner.now();
            for t in inner.access.values_mut() {
                if input.sub.as_deref().is_none_or(|s| s == t.sub) {
                    t.expires_at = now - chrono::Duration::seconds(1);
                }
            }
            done()
        }
        ("POST", "/_fake/revoke-tokens") => {
            let input: SubInput = parse(req)?;
            let mut inner = shared.lock();
            for t in inner.access.values_mut().filter(|t| t.sub == input.sub) {
                t.revoked = true;
            }
            for t in inner.refresh.values_mut().filter(|t| t.sub == input.sub) {
                t.revoked = true;
            }
            done()
        }
        ("POST", "/_fake/revoke-refresh-tokens") => {
            let input: SubInput = parse(req)?;
            for t in shared
                .lock()
                .refresh
                .values_mut()
                .filter(|t| t.sub == input.sub)
            {
                t.revoked = true;
            }
            done()
        }
        ("POST", "/_fake/organizations") => {
            let input: NameInput = parse(req)?;
            let id = shared.add_organization(&input.name);
            json_response(
                200,
                &json!({ "id": id, "urn": format!("urn:li:organization:{id}") }),
            )
        }
        ("POST", "/_fake/organizations/roles") => {
            let input: RoleInput = parse(req)?;
            if !shared.grant_role(input.organization, &input.sub, &input.role, "APPROVED") {
                return Err(missing("organization"));
            }
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
            json_response(200, &json!({ "queued": queued }))
        }
        ("DELETE", "/_fake/faults") => {
            shared.lock().faults.clear();
            done()
        }
        ("GET", "/_fake/requests") => to_json(&shared.lock().requests),
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        ("GET", "/_fake/posts") => to_json(&shared.lock().posts),
        ("GET", "/_fake/comments") => to_json(&shared.lock().comments),
        ("GET", "/_fake/images") => to_json(&shared.lock().images),
        ("GET", "/_fake/videos") => to_json(&shared.lock().videos),
        ("POST", "/_fake/video/outcome") => {
            let outcome: VideoOutcome = parse(req)?;
            shared.lock().video_outcome = outcome;
            done()
        }
        ("POST", "/_fake/video/status") => {
            let input: VideoStatusInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(video) = inner.videos.iter_mut().find(|v| v.urn == input.video) else {
                return Err(missing("video"));
            };
            video.status = input.status;
            video.failure_reason = input.reason;
            done()
        }
        ("POST", "/_fake/daily-limit") => {
            let input: PostsInput = parse(req)?;
            shared.lock().daily_limit = Some(input.posts);
            done()
        }
        ("POST", "/_fake/sunset-versions") => {
            let input: VersionsInput = parse(req)?;
            shared.lock().sunset = Some(input.versions);
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
        _ => json_response(404, &json!({ "error": "unknown control endpoint" })),
    })
}
