//! HTTP control API under `/_fake/`, so scripts and other processes can drive the fake:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"base_url","authorize_url","token_url","client_id","client_secret","graph_version"}` |
//! | `POST /_fake/accounts {"username","login"?}` | a [`FakeAccount`](super::FakeAccount) (`login`: `instagram` \| `facebook`) |
//! | `POST /_fake/tokens {"username","kind"?,"scopes"?}` | [`IssuedToken`](super::IssuedToken) (`kind` default `instagram_long`) |
//! | `POST /_fake/expire-token {"token"}` | 404 if unknown |
//! | `POST /_fake/age-token {"token","secs"}` | moves its issue time back |
//! | `POST /_fake/revoke-tokens {"username"}` | every token of the account dies |
//! | `POST /_fake/redirect-uris {"uri"}` | 400 when refused |
//! | `POST /_fake/consenting-account {"username"}` | 404 if unknown |
//! | `POST /_fake/token-shape {"shape"}` | `wrapped` \| `flat` |
//! | `POST /_fake/processing {"kind","processing"}` | default for new containers of `kind` (`image` \| `video` \| `carousel`) |
//! | `POST /_fake/container-processing {"id","processing"}` | one container; 404 if unknown |
//! | `GET /_fake/containers` | `[StoredContainer]` |
//! | `GET /_fake/published` | `[PublishedMedia]` |
//! | `POST /_fake/quota {"total"}` | |
//! | `POST /_fake/seed-published {"username","at":[RFC 3339…]}` | `{"ids"}` |
//! | `POST /_fake/throttle {"username","minutes"}` | 80002 for that long (0 lifts it) |
//! | `POST /_fake/unreachable-url {"url"}` | |
//! | `POST /_fake/faults` a [`Fault`] or an array | `{"queued":n}` |
//! | `DELETE /_fake/faults` | |
//! | `POST /_fake/advance-time {"secs"}` | |
//! | `GET /_fake/requests` / `DELETE /_fake/requests` | `[InstagramRequest]` (body base64) |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use axum::body::Body;
use axum::http::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    json_response, Fault, Login, MediaKind, Processing, Req, Shared, TokenKind, TokenShape,
    FACEBOOK_SCOPES, GRAPH_VERSION, INSTAGRAM_SCOPES,
};

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
struct AccountInput {
    username: String,
    #[serde(default)]
    login: Option<Login>,
}

#[derive(Deserialize)]
struct TokensInput {
    username: String,
    #[serde(default)]
    kind: Option<TokenKind>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenInput {
    token: String,
    #[serde(default)]
    secs: i64,
}

#[derive(Deserialize)]
struct UserInput {
    username: String,
}

#[derive(Deserialize)]
struct UriInput {
    uri: String,
}

#[derive(Deserialize)]
struct ShapeInput {
    shape: TokenShape,
}

#[derive(Deserialize)]
struct ProcessingInput {
    kind: MediaKind,
    processing: Processing,
}

#[derive(Deserialize)]
struct ContainerProcessingInput {
    id: String,
    processing: Processing,
}

#[derive(Deserialize)]
struct QuotaInput {
    total: u32,
}

#[derive(Deserialize)]
struct SeedInput {
    username: String,
    at: Vec<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct ThrottleInput {
    username: String,
    minutes: i64,
}

#[derive(Deserialize)]
struct UrlInput {
    url: String,
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

fn run(shared: &Shared, req: &Req) -> Answer {
    let done = || reply(200, json!({}));
    let cfg = &shared.cfg;
    let path = req.path.trim_end_matches('/');
    Ok(match (req.method.as_str(), path) {
        ("GET", "/_fake/info") => reply(
            200,
            json!({
                "base_url": shared.base_url,
                "authorize_url": format!("{}/oauth/authorize", shared.base_url),
                "token_url": format!("{}/oauth/access_token", shared.base_url),
                "client_id": cfg.client_id,
                "client_secret": cfg.client_secret,
                "graph_version": GRAPH_VERSION,
            }),
        ),
        ("POST", "/_fake/accounts") => {
            let input: AccountInput = parse(req)?;
            let account = shared
                .lock()
                .add_account(&input.username, input.login.unwrap_or(Login::Instagram));
            reply(200, serde_json::to_value(account).unwrap_or_default())
        }
        ("POST", "/_fake/tokens") => {
            let input: TokensInput = parse(req)?;
            let kind = input.kind.unwrap_or(TokenKind::InstagramLong);
            let scopes: Vec<String> = input.scopes.unwrap_or_else(|| match kind.login() {
                Login::Instagram => INSTAGRAM_SCOPES.iter().map(|s| s.to_string()).collect(),
                Login::Facebook => FACEBOOK_SCOPES.iter().map(|s| s.to_string()).collect(),
            });
            let mut inner = shared.lock();
            let account = inner.add_account(&input.username, kind.login());
            if account.login != kind.login() {
                return Err(err(400, "the account belongs to the other set-up"));
            }
            let issued = inner.issue(cfg, &account.ig_user_id, kind, &scopes);
            reply(200, serde_json::to_value(issued).unwrap_or_default())
        }
        ("POST", "/_fake/expire-token") => {
            let input: TokenInput = parse(req)?;
            let mut inner = shared.lock();
            let now = inner.now();
            match inner.tokens.get_mut(&input.token) {
                Some(t) => t.expires_at = now - chrono::Duration::seconds(1),
                None => return Err(err(404, "unknown token")),
            }
            done()
        }
        ("POST", "/_fake/age-token") => {
            let input: TokenInput = parse(req)?;
            match shared.lock().tokens.get_mut(&input.token) {
                Some(t) => t.issued_at -= chrono::Duration::seconds(input.secs),
                None => return Err(err(404, "unknown token")),
            }
            done()
        }
        ("POST", "/_fake/revoke-tokens") => {
            let input: UserInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(id) = inner
                .account_by_name(&input.username)
                .map(|a| a.ig_user_id.clone())
            else {
                return Err(err(404, "unknown account"));
            };
            for t in inner.tokens.values_mut().filter(|t| t.account == id) {
                t.revoked = true;
            }
            done()
        }
        ("POST", "/_fake/redirect-uris") => {
            let input: UriInput = parse(req)?;
            shared
                .lock()
                .register_redirect(&input.uri)
                .map_err(|e| err(400, e))?;
            done()
        }
        ("POST", "/_fake/consenting-account") => {
            let input: UserInput = parse(req)?;
            let mut inner = shared.lock();
            match inner
                .account_by_name(&input.username)
                .map(|a| a.ig_user_id.clone())
            {
                Some(id) => inner.consenting = Some(id),
                None => return Err(err(404, "unknown account")),
            }
            done()
        }
        ("POST", "/_fake/token-shape") => {
            let input: ShapeInput = parse(req)?;
            shared.lock().token_shape = input.shape;
            done()
        }
        ("POST", "/_fake/processing") => {
            let input: ProcessingInput = parse(req)?;
            let mut inner = shared.lock();
            match input.kind {
                MediaKind::Image => inner.plan.image = input.processing,
                MediaKind::Video => inner.plan.video = input.processing,
                MediaKind::Carousel => inner.plan.carousel = input.processing,
            }
            done()
        }
        ("POST", "/_fake/container-processing") => {
            let input: ContainerProcessingInput = parse(req)?;
            let mut inner = shared.lock();
            match inner.containers.iter_mut().find(|c| c.id == input.id) {
                Some(c) => {
                    c.processing = input.processing;
                    c.polls = 0;
                }
                None => return Err(err(404, "unknown container")),
            }
            done()
        }
        ("GET", "/_fake/containers") => {
            let containers = shared.lock().containers.clone();
            reply(200, serde_json::to_value(containers).unwrap_or_default())
        }
        ("GET", "/_fake/published") => {
            let media = shared.lock().media.clone();
            reply(200, serde_json::to_value(media).unwrap_or_default())
        }
        ("POST", "/_fake/quota") => {
            let input: QuotaInput = parse(req)?;
            shared.lock().quota_total = input.total;
            done()
        }
        ("POST", "/_fake/seed-published") => {
            let input: SeedInput = parse(req)?;
            let Some(ids) = shared.lock().seed(&input.username, &input.at) else {
                return Err(err(404, "unknown account"));
            };
            reply(200, json!({ "ids": ids }))
        }
        ("POST", "/_fake/throttle") => {
            let input: ThrottleInput = parse(req)?;
            let mut inner = shared.lock();
            let Some(id) = inner
                .account_by_name(&input.username)
                .map(|a| a.ig_user_id.clone())
            else {
                return Err(err(404, "unknown account"));
            };
            let until = inner.now() + chrono::Duration::minutes(input.minutes);
            if input.minutes > 0 {
                inner.throttled_until.insert(id, until);
            } else {
                inner.throttled_until.remove(&id);
            }
            done()
        }
        ("POST", "/_fake/unreachable-url") => {
            let input: UrlInput = parse(req)?;
            shared.lock().unreachable.insert(input.url);
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
            reply(200, json!({ "queued": queued }))
        }
        ("DELETE", "/_fake/faults") => {
            shared.lock().faults.clear();
            done()
        }
        ("POST", "/_fake/advance-time") => {
            let input: SecsInput = parse(req)?;
            shared.lock().clock_offset += chrono::Duration::seconds(input.secs);
            done()
        }
        ("GET", "/_fake/requests") => {
            let requests = shared.lock().requests.clone();
            reply(200, serde_json::to_value(requests).unwrap_or_default())
        }
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        _ => reply(404, json!({ "error": "unknown control endpoint" })),
    })
}
