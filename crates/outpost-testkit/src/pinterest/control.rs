//! HTTP control API under `/_fake/`, so scripts and other processes can drive the fake:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url","authorize_url","token_url","upload_url","client_id","client_secret"}` |
//! | `POST /_fake/users {"username"}` | a [`FakeUser`](super::FakeUser) |
//! | `POST /_fake/tokens {"username","scopes"?}` | [`IssuedTokens`](super::IssuedTokens) |
//! | `POST /_fake/boards {"username","name","privacy"?}` | `{"id"}` |
//! | `POST /_fake/sections {"board_id","name"}` | `{"id"}`, 404 for an unknown board |
//! | `POST /_fake/expire-access-tokens` | every access token answers 401 |
//! | `POST /_fake/revoke-tokens {"username"}` | refresh and access tokens die; 404 if unknown |
//! | `POST /_fake/revoke-refresh-tokens {"username"}` | refresh tokens die; 404 if unknown |
//! | `POST /_fake/redirect-uris {"uri"}` | 400 when refused (http without the switch) |
//! | `POST /_fake/allow-http-redirects {"enabled"}` | |
//! | `POST /_fake/consenting-user {"username"}` | 404 if unknown |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | |
//! | `POST /_fake/media/plan` a [`MediaPlan`] | videos registered from now on |
//! | `POST /_fake/media/status {"media_id","status"}` | 404 if unknown |
//! | `GET /_fake/media` | `[StoredMedia]` |
//! | `GET /_fake/pins` | `[StoredPin]` |
//! | `POST /_fake/unreachable-url {"url"}` | |
//! | `POST /_fake/trial {"enabled"}` | |
//! | `POST /_fake/limits` a [`Limits`] | |
//! | `POST /_fake/advance-time {"secs"}` | |
//! | `GET /_fake/requests` / `DELETE /_fake/requests` | `[PinterestRequest]` (body base64) |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use axum::body::Body;
use axum::http::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_response, Fault, Limits, MediaPlan, Req, Shared};

type Answer = Result<Response<Body>, Box<Response<Body>>>;

fn reply(status: u16, body: Value) -> Response<Body> {
    json_response(status, &body)
}

fn err(status: u16, message: impl Into<String>) -> Box<Response<Body>> {
    Box::new(reply(status, json!({ "error": message.into() })))
}

fn parse<T: for<'de> Deserialize<'de>>(req: &Req) -> Result<T, Box<Response<Body>>> {
    serde_json::from_slice(&req.body).map_err(|e| err(400, format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
struct UserInput {
    username: String,
}

#[derive(Deserialize)]
struct TokensInput {
    username: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct BoardInput {
    username: String,
    name: String,
    #[serde(default)]
    privacy: Option<String>,
}

#[derive(Deserialize)]
struct SectionInput {
    board_id: String,
    name: String,
}

#[derive(Deserialize)]
struct UriInput {
    uri: String,
}

#[derive(Deserialize)]
struct UrlInput {
    url: String,
}

#[derive(Deserialize)]
struct EnabledInput {
    enabled: bool,
}

#[derive(Deserialize)]
struct StatusInput {
    media_id: String,
    status: String,
}

#[derive(Deserialize)]
struct SecsInput {
    secs: i64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    match run(shared, req) {
        Ok(r) => r,
        Err(r) => *r,
    }
}

/// Runs `f` on the fake's state.
fn with_fake<T>(shared: &Shared, f: impl FnOnce(&mut super::Inner) -> T) -> T {
    let mut inner = shared.lock();
    f(&mut inner)
}

fn run(shared: &Shared, req: &Req) -> Answer {
    let done = || reply(200, json!({}));
    let cfg = &shared.cfg;
    let path = req.path.trim_end_matches('/');
    Ok(match (req.method.as_str(), path) {
        ("GET", "/_fake/info") => reply(
            200,
            json!({
                "base_url": shared.base_url,
                "authorize_url": format!("{}/oauth/", shared.base_url),
                "token_url": format!("{}/v5/oauth/token", shared.base_url),
                "upload_url": format!("{}{}", shared.base_url, super::UPLOAD_PATH),
                "client_id": cfg.client_id,
                "client_secret": cfg.client_secret,
            }),
        ),
        ("POST", "/_fake/users") => {
            let input: UserInput = parse(req)?;
            let user = with_fake(shared, |i| i.add_user(&input.username));
            reply(200, serde_json::to_value(user).unwrap_or_default())
        }
        ("POST", "/_fake/tokens") => {
            let input: TokensInput = parse(req)?;
            let scopes: Vec<String> = input
                .scopes
                .unwrap_or_else(|| super::ALL_SCOPES.iter().map(|s| s.to_string()).collect());
            let issued = with_fake(shared, |i| {
                let user = i.add_user(&input.username);
                i.issue(cfg, &user.id, &scopes)
            });
            reply(200, serde_json::to_value(issued).unwrap_or_default())
        }
        ("POST", "/_fake/boards") => {
            let input: BoardInput = parse(req)?;
            let id = with_fake(shared, |i| {
                let user = i.add_user(&input.username);
                i.add_board(
                    &user.id,
                    &input.name,
                    input.privacy.as_deref().unwrap_or("PUBLIC"),
                )
            });
            reply(200, json!({ "id": id }))
        }
        ("POST", "/_fake/sections") => {
            let input: SectionInput = parse(req)?;
            match with_fake(shared, |i| i.add_section(&input.board_id, &input.name)) {
                Some(id) => reply(200, json!({ "id": id })),
                None => return Err(err(404, "unknown board")),
            }
        }
        ("POST", "/_fake/expire-access-tokens") => {
            with_fake(shared, |i| {
                for t in i.access.values_mut() {
                    t.revoked = true;
                }
            });
            done()
        }
        ("POST", "/_fake/revoke-tokens") | ("POST", "/_fake/revoke-refresh-tokens") => {
            let input: UserInput = parse(req)?;
            let access_too = path.ends_with("revoke-tokens");
            let found = with_fake(shared, |i| {
                let Some(id) = i.user_id(&input.username) else {
                    return false;
                };
                i.refresh.retain(|_, t| t.user != id);
                if access_too {
                    for t in i.access.values_mut().filter(|t| t.user == id) {
                        t.revoked = true;
                    }
                }
                true
            });
            if !found {
                return Err(err(404, "unknown user"));
            }
            done()
        }
        ("POST", "/_fake/redirect-uris") => {
            let input: UriInput = parse(req)?;
            with_fake(shared, |i| i.register_redirect(&input.uri)).map_err(|e| err(400, e))?;
            done()
        }
        ("POST", "/_fake/allow-http-redirects") => {
            let input: EnabledInput = parse(req)?;
            with_fake(shared, |i| i.allow_http_redirects = input.enabled);
            done()
        }
        ("POST", "/_fake/consenting-user") => {
            let input: UserInput = parse(req)?;
            let ok = with_fake(shared, |i| match i.user_id(&input.username) {
                Some(id) => {
                    i.consenting = Some(id);
                    true
                }
                None => false,
            });
            if !ok {
                return Err(err(404, "unknown user"));
            }
            done()
        }
        ("POST", "/_fake/faults") => {
            let faults = match parse::<Faults>(req)? {
                Faults::One(f) => vec![f],
                Faults::Many(list) => list,
            };
            let queued = faults.len();
            with_fake(shared, |i| {
                i.faults.extend(faults.into_iter().filter(|f| f.times > 0));
            });
            reply(200, json!({ "queued": queued }))
        }
        ("DELETE", "/_fake/faults") => {
            with_fake(shared, |i| i.faults.clear());
            done()
        }
        ("POST", "/_fake/media/plan") => {
            let plan: MediaPlan = parse(req)?;
            with_fake(shared, |i| i.media_plan = plan);
            done()
        }
        ("POST", "/_fake/media/status") => {
            let input: StatusInput = parse(req)?;
            let ok = with_fake(shared, |i| {
                match i.media.iter_mut().find(|m| m.media_id == input.media_id) {
                    Some(m) => {
                        m.status = input.status.clone();
                        true
                    }
                    None => false,
                }
            });
            if !ok {
                return Err(err(404, "unknown media"));
            }
            done()
        }
        ("GET", "/_fake/media") => {
            let media = with_fake(shared, |i| i.media.clone());
            reply(200, serde_json::to_value(media).unwrap_or_default())
        }
        ("GET", "/_fake/pins") => {
            let pins = with_fake(shared, |i| i.pins.clone());
            reply(200, serde_json::to_value(pins).unwrap_or_default())
        }
        ("POST", "/_fake/unreachable-url") => {
            let input: UrlInput = parse(req)?;
            with_fake(shared, |i| i.unreachable.insert(input.url));
            done()
        }
        ("POST", "/_fake/trial") => {
            let input: EnabledInput = parse(req)?;
            with_fake(shared, |i| {
                i.trial = input.enabled;
                if !i.limits_pinned {
                    i.limits = if input.enabled {
                        Limits::trial()
                    } else {
                        Limits::standard()
                    };
                }
                i.limiter = Default::default();
            });
            done()
        }
        ("POST", "/_fake/limits") => {
            let limits: Limits = parse(req)?;
            with_fake(shared, |i| {
                i.limits = limits;
                i.limits_pinned = true;
                i.limiter = Default::default();
            });
            done()
        }
        ("POST", "/_fake/advance-time") => {
            let input: SecsInput = parse(req)?;
            with_fake(shared, |i| {
                i.clock_offset += chrono::Duration::seconds(input.secs)
            });
            done()
        }
        ("GET", "/_fake/requests") => {
            let requests = with_fake(shared, |i| i.requests.clone());
            reply(200, serde_json::to_value(requests).unwrap_or_default())
        }
        ("DELETE", "/_fake/requests") => {
            with_fake(shared, |i| i.requests.clear());
            done()
        }
        _ => reply(404, json!({ "error": "unknown control endpoint" })),
    })
}
