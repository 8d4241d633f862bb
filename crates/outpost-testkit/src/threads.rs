//! A faithful in-process fake of the Threads API (`graph.threads.net`, `threads.md`) for the
//! calls Outpost makes, on one loopback listener ([`ThreadsFake::base_url`]) that stands in for
//! both `graph.threads.net` and `graph.threads.com` (paths unchanged, `/v1.0/` prefix):
//!
//! | Endpoint | Notes |
//! |---|---|
//! | `POST /oauth/access_token` | code → short-lived token (1 h) `{"access_token","user_id":<JSON number > 2^53>}`; codes are single-use, expire after 1 h, are bound to the app and the redirect; errors in the flat `{"error_type","code","error_message"}` shape |
//! | `GET /access_token?grant_type=th_exchange_token` | short → long-lived (60 days), needs the app secret; an expired short-lived token cannot be exchanged |
//! | `GET /refresh_access_token?grant_type=th_refresh_token` | no secret; refuses a token younger than 24 h ("Token must be at least 24 hours old to refresh"), an expired one, and one without `threads_basic` (code-190 envelope, exact body UNCONFIRMED) |
//! | `GET /v1.0/me`, `/v1.0/{user-id}` | `{"id","username","name",…}` (`fields`) |
//! | `POST /v1.0/{user-id}/threads` | a container (`TEXT`, `IMAGE`, `VIDEO`, `CAROUSEL`; 500 counted characters, emoji by UTF-8 bytes; ≤ 5 links → `THREADS_API__LINK_LIMIT_EXCEEDED`; carousels of 2–20 `is_carousel_item` children; `reply_to_id`; `auto_publish_text=true` publishes a `TEXT` post at once). Image and video URLs on loopback are fetched like Meta's crawler does: an image that cannot be fetched is refused at creation, a video ends in `ERROR` / `FAILED_DOWNLOADING_VIDEO` |
//! | `GET /v1.0/{container-id}?fields=status,error_message` | `IN_PROGRESS` → `FINISHED` → `PUBLISHED`, `ERROR` (+ `error_message`), `EXPIRED` after 24 h, as [`Processing`] plans say |
//! | `POST /v1.0/{user-id}/threads_publish` | `creation_id`; refused before `FINISHED` (Instagram's 9007/2207027 form, see [`NotReadyForm`]) |
//! | `GET /v1.0/{media-id}?fields=…` | a published post (`permalink`, `text`, `timestamp`, `replied_to`, …) |
//! | `GET /v1.0/{user-id}/threads`, `/replies` | the user's posts / replies, newest first; `since`, `until`, `limit`, `after`, `fields` |
//! | `GET /v1.0/{user-id}/threads_publishing_limit` | the exact `{"data":[{…}]}` shape; posts, replies and deletes counted over a rolling window ([`ThreadsConfig::quota_duration`]) against configurable totals |
//! | `DELETE /v1.0/{media-id}` | needs `threads_delete` |
//!
//! Data calls take the token as `Authorization: Bearer` or as the `access_token` parameter;
//! parameters come from the query string, a form body or a JSON body. Errors use the Graph
//! envelope `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`; a dead token
//! answers HTTP 401 `OAuthException` code 190.
//!
//! Test controls: apps, users and tokens (short- and long-lived, backdated, expired, revoked),
//! authorization codes, queued [`Fault`]s per [`Endpoint`] (an error status or Graph error, a
//! throttle code, a delay, "commit then drop the connection"; `skip` lets the first matching
//! requests through), container [`Processing`] plans, publishing quotas, a clock that can be
//! moved forward, the containers and posts ([`ThreadsFake::posts`]) and every request
//! ([`ThreadsFake::requests`]). The same controls are served over HTTP under `/_fake/` (see the
//! `control` module) for other processes.
//!
//! Where the reference marks a behaviour UNCONFIRMED, the fake does the documented or standard
//! thing and says so next to the code.

mod api;
mod control;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::common::{random_string, spawn_server, ConnInfo, ServerGuard};

/// The Threads app registered at start (the Threads app id, not the Meta app id).
pub const DEFAULT_APP_ID: &str = "1489203745512608";
/// Its Threads app secret.
pub const DEFAULT_APP_SECRET: &str = "f4ke7hreadsapp5ecret0123456789ab";
/// What Outpost asks for.
pub const SCOPES: [&str; 2] = ["threads_basic", "threads_content_publish"];
/// The refusal of a refresh of a token younger than 24 hours (the original system's wording;
/// Meta's exact body is UNCONFIRMED).
pub const TOO_YOUNG_TO_REFRESH: &str = "Token must be at least 24 hours old to refresh";
/// The token endpoint's answer to a spent or unknown code.
pub const CODE_NOT_FOUND: &str = "Matching code was not found or was already used";
/// The error of a container with more than five links.
pub const LINK_LIMIT_EXCEEDED: &str = "THREADS_API__LINK_LIMIT_EXCEEDED";

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Limits and lifetimes; the defaults are the documented values.
#[derive(Debug, Clone)]
pub struct ThreadsConfig {
    /// Port of the listener (0 = any free port).
    pub port: u16,
    /// Short-lived token lifetime (1 hour).
    pub short_ttl: chrono::Duration,
    /// Long-lived token lifetime (60 days), also after a refresh.
    pub long_ttl: chrono::Duration,
    /// How old a token must be before it may be refreshed (24 hours).
    pub min_refresh_age: chrono::Duration,
    /// Authorization code lifetime (1 hour).
    pub code_ttl: chrono::Duration,
    /// Containers not published within this expire (24 hours).
    pub container_ttl: chrono::Duration,
    /// Longest text in Threads' count (500; emoji count their UTF-8 bytes).
    pub max_text: usize,
    /// Most unique links per post (5).
    pub max_links: usize,
    /// Posts per rolling window (250; a carousel counts once).
    pub quota_total: u32,
    /// Replies per rolling window (1,000).
    pub reply_quota_total: u32,
    /// Deletes per rolling window (100).
    pub delete_quota_total: u32,
    /// The rolling window of the quotas (24 hours).
    pub quota_duration: chrono::Duration,
    /// How image, video and carousel containers created from now on process.
    pub processing: Processing,
}

impl Default for ThreadsConfig {
    fn default() -> Self {
        ThreadsConfig {
            port: 0,
            short_ttl: chrono::Duration::hours(1),
            long_ttl: chrono::Duration::days(60),
            min_refresh_age: chrono::Duration::hours(24),
            code_ttl: chrono::Duration::hours(1),
            container_ttl: chrono::Duration::hours(24),
            max_text: 500,
            max_links: 5,
            quota_total: 250,
            reply_quota_total: 1000,
            delete_quota_total: 100,
            quota_duration: chrono::Duration::hours(24),
            processing: Processing::default(),
        }
    }
}

/// One endpoint, as faults and recorded requests name it. JSON: the snake-case name, or `"*"`
/// for [`Endpoint::Any`] (faults only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /oauth/access_token` (code exchange)
    CodeExchange,
    /// `GET /access_token` (`th_exchange_token`)
    ExchangeToken,
    /// `GET /refresh_access_token` (`th_refresh_token`)
    RefreshToken,
    /// `GET /v1.0/me`, `GET /v1.0/{user-id}`
    Me,
    /// `POST /v1.0/{user-id}/threads`
    CreateContainer,
    /// `POST /v1.0/{user-id}/threads_publish`
    Publish,
    /// `GET /v1.0/{container-id}` or `GET /v1.0/{media-id}`
    Object,
    /// `GET /v1.0/{user-id}/threads`
    ListThreads,
    /// `GET /v1.0/{user-id}/replies`
    ListReplies,
    /// `GET /v1.0/{user-id}/threads_publishing_limit`
    PublishingLimit,
    /// `DELETE /v1.0/{media-id}`
    Delete,
    /// Any endpoint (faults only).
    #[serde(rename = "*")]
    Any,
}

impl Endpoint {
    /// Which endpoint `method path` is (`path` without the query). `is_user` tells whether an
    /// id names a user (ids of users, containers and posts share one shape).
    pub(crate) fn of(method: &str, path: &str, is_user: impl Fn(&str) -> bool) -> Option<Self> {
        let path = path.trim_end_matches('/');
        let bare = path.strip_prefix("/v1.0").unwrap_or(path);
        match (method, bare) {
            ("POST", "/oauth/access_token") => return Some(Endpoint::CodeExchange),
            ("GET", "/access_token") => return Some(Endpoint::ExchangeToken),
            ("GET", "/refresh_access_token") => return Some(Endpoint::RefreshToken),
            _ => {}
        }
        let rest = path.strip_prefix("/v1.0/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        let user = |s: &str| s == "me" || is_user(s);
        match (method, segments.as_slice()) {
            ("GET", [id]) if user(id) => Some(Endpoint::Me),
            ("GET", [id]) if is_id(id) => Some(Endpoint::Object),
            ("DELETE", [id]) if is_id(id) => Some(Endpoint::Delete),
            ("POST", [id, "threads"]) if user(id) => Some(Endpoint::CreateContainer),
            ("POST", [id, "threads_publish"]) if user(id) => Some(Endpoint::Publish),
            ("GET", [id, "threads"]) if user(id) => Some(Endpoint::ListThreads),
            ("GET", [id, "replies"]) if user(id) => Some(Endpoint::ListReplies),
            ("GET", [id, "threads_publishing_limit"]) if user(id) => {
                Some(Endpoint::PublishingLimit)
            }
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Endpoint::CodeExchange => "code_exchange",
            Endpoint::ExchangeToken => "exchange_token",
            Endpoint::RefreshToken => "refresh_token",
            Endpoint::Me => "me",
            Endpoint::CreateContainer => "create_container",
            Endpoint::Publish => "publish",
            Endpoint::Object => "object",
            Endpoint::ListThreads => "list_threads",
            Endpoint::ListReplies => "list_replies",
            Endpoint::PublishingLimit => "publishing_limit",
            Endpoint::Delete => "delete",
            Endpoint::Any => "*",
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Graph ids: digits only.
pub(crate) fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 24 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A queued fault: requests to a matching endpoint first pass `skip` times untouched, then
/// each of the next `times` requests gets `kind`. Faults apply in the order they were pushed.
/// JSON: `{"endpoint":"publish","skip":0,"times":1,"kind":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub endpoint: Endpoint,
    #[serde(default)]
    pub skip: u32,
    #[serde(default = "one")]
    pub times: u32,
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(endpoint: Endpoint, times: u32, kind: FaultKind) -> Fault {
        Fault {
            endpoint,
            skip: 0,
            times,
            kind,
        }
    }

    /// Lets the first `n` matching requests through before the fault applies.
    pub fn after(mut self, n: u32) -> Fault {
        self.skip = n;
        self
    }

    /// An HTTP status with a Graph error body for it (`500` → code 2 "Service temporarily
    /// unavailable"…); no side effect.
    pub fn status(endpoint: Endpoint, times: u32, status: u16) -> Fault {
        Fault::new(endpoint, times, FaultKind::Status { status, body: None })
    }

    /// A Graph error with `code` (and `subcode`) answered with HTTP `status`; no side effect.
    pub fn graph(
        endpoint: Endpoint,
        times: u32,
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: &str,
    ) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::Graph {
                status,
                code,
                subcode,
                message: message.to_string(),
            },
        )
    }

    /// A throttle (codes 4, 17, 32, 613: "…request limit reached"), HTTP 400, no reset time.
    pub fn throttled(endpoint: Endpoint, times: u32, code: i64) -> Fault {
        let message = match code {
            4 => "Application request limit reached",
            17 => "User request limit reached",
            32 => "Page request limit reached",
            _ => "Calls to this api have exceeded the rate limit.",
        };
        Fault::graph(endpoint, times, 400, code, None, message)
    }

    /// Perform the request (the post IS published), then close the connection unanswered.
    pub fn drop_after_commit(endpoint: Endpoint, times: u32) -> Fault {
        Fault::new(endpoint, times, FaultKind::DropAfterCommit)
    }
}

/// What a fault does. JSON (tagged by `type`): `{"type":"status","status":503}` (optional
/// `"body"`), `{"type":"graph","status":400,"code":100,"subcode":null,"message":"…"}`,
/// `{"type":"drop_before_commit"}`, `{"type":"drop_after_commit"}`,
/// `{"type":"delay_before","ms":500}`, `{"type":"delay_after_commit","ms":500}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` with `body` (default: a Graph error for the status); no side effect.
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
    },
    /// Answer a Graph error envelope; no side effect.
    Graph {
        status: u16,
        code: i64,
        #[serde(default)]
        subcode: Option<i64>,
        message: String,
    },
    /// Close the connection without doing anything.
    DropBeforeCommit,
    /// Perform the request, then close the connection without any answer.
    DropAfterCommit,
    /// Wait, then perform the request normally.
    DelayBefore { ms: u64 },
    /// Perform the request, then wait before answering.
    DelayAfterCommit { ms: u64 },
}

/// How a media container processes, counted in `GET /{container-id}` status reads. JSON
/// (tagged by `type`): `{"type":"after_polls","polls":1}`, `{"type":"never"}`,
/// `{"type":"error","after_polls":0,"message":"INVALID_DURATION"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Processing {
    /// `IN_PROGRESS` for the first `polls` status reads, `FINISHED` from then on (0: ready
    /// at creation).
    AfterPolls { polls: u32 },
    /// `IN_PROGRESS` forever.
    Never,
    /// `IN_PROGRESS` for `after_polls` reads, then `ERROR` with `error_message` = `message`
    /// (one of `FAILED_DOWNLOADING_VIDEO`, `FAILED_PROCESSING_AUDIO`, `FAILED_PROCESSING_VIDEO`,
    /// `INVALID_ASPEC_RATIO`, `INVALID_BIT_RATE`, `INVALID_DURATION`, `INVALID_FRAME_RATE`,
    /// `INVALID_AUDIO_CHANNELS`, `INVALID_AUDIO_CHANNEL_LAYOUT`, `UNKNOWN`).
    Error { after_polls: u32, message: String },
}

impl Default for Processing {
    /// One `IN_PROGRESS` read, then `FINISHED`.
    fn default() -> Self {
        Processing::AfterPolls { polls: 1 }
    }
}

/// How `threads_publish` refuses a container that is not `FINISHED`. The real answer is
/// UNCONFIRMED; the default mirrors Instagram's `9007` / `2207027`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NotReadyForm {
    /// `{"code":9007,"error_subcode":2207027,"message":"Media ID is not available"}`.
    #[default]
    Ig9007,
    /// `{"code":100,"message":"The media is not ready to be published"}` (HTTP 400).
    Code100,
}

/// A Threads user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadsUser {
    /// A numeric id larger than 2^53, as Threads' are.
    pub id: String,
    pub username: String,
    pub name: String,
}

/// A token as the token endpoints hand it out; also the JSON `outpost accounts add threads
/// --token-stdin` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

/// What the authorize page granted, for [`ThreadsFake::issue_code`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub user_id: String,
    #[serde(default = "default_app")]
    pub app_id: String,
    pub redirect_uri: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

fn default_app() -> String {
    DEFAULT_APP_ID.to_string()
}

fn default_scopes() -> Vec<String> {
    SCOPES.iter().map(|s| s.to_string()).collect()
}

/// A media container as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub owner_id: String,
    /// `TEXT`, `IMAGE`, `VIDEO`, `CAROUSEL`.
    pub media_type: String,
    pub text: Option<String>,
    pub image_url: Option<String>,
    pub video_url: Option<String>,
    pub is_carousel_item: bool,
    pub children: Vec<String>,
    pub reply_to_id: Option<String>,
    pub reply_control: Option<String>,
    pub topic_tag: Option<String>,
    pub alt_text: Option<String>,
    pub link_attachment: Option<String>,
    pub auto_publish_text: bool,
    /// `IN_PROGRESS`, `FINISHED`, `PUBLISHED`, `ERROR`, `EXPIRED` (as last computed).
    pub status: String,
    pub error_message: Option<String>,
    /// Status reads answered so far.
    pub polls: u32,
    pub plan: Processing,
    pub created_at: DateTime<Utc>,
    /// The post, once published.
    pub published_id: Option<String>,
    /// The carousel that used this child.
    pub used_by: Option<String>,
}

/// A published post or reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadsPost {
    pub id: String,
    pub owner_id: String,
    pub username: String,
    pub container_id: Option<String>,
    /// `TEXT_POST`, `IMAGE`, `VIDEO`, `CAROUSEL_ALBUM`.
    pub media_type: String,
    pub text: Option<String>,
    pub shortcode: String,
    pub permalink: String,
    pub timestamp: DateTime<Utc>,
    pub reply_to: Option<String>,
    pub root_post: String,
    /// The fetched URLs of the media (carousel children in order).
    pub media_urls: Vec<String>,
    pub alt_texts: Vec<Option<String>>,
    pub link_attachment: Option<String>,
    pub topic_tag: Option<String>,
    pub reply_control: Option<String>,
    /// Posted through `auto_publish_text`.
    pub auto_published: bool,
    pub deleted: bool,
}

/// One request as the fake saw it (control API excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadsRequest {
    /// `None` for paths the fake does not serve (answered 400 like Graph's unknown paths).
    pub endpoint: Option<Endpoint>,
    pub method: String,
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Raw body (base64 in the JSON form).
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    /// Status answered; `0` when the connection was closed without an answer.
    pub status: u16,
    pub at: DateTime<Utc>,
}

impl ThreadsRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A parameter from the query string or a form / JSON body (first value, decoded).
    pub fn param(&self, key: &str) -> Option<String> {
        params_of(&self.query, self.header("content-type"), &self.body)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

mod body_base64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(body))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Query parameters, then form or JSON body fields.
pub(crate) fn params_of(
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let ct = content_type.unwrap_or_default().to_ascii_lowercase();
    if body.is_empty() {
        return out;
    }
    if ct.starts_with("application/json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.push((k, v));
            }
        }
    } else if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        out.extend(pairs);
    }
    out
}

/// Handle to a running fake; cheap to clone. The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct ThreadsFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl ThreadsFake {
    /// Starts the fake on `config.port` (0: any free port) of 127.0.0.1.
    ///
    /// # Panics
    /// When the port cannot be bound (use [`ThreadsFake::try_start`] to handle that).
    pub async fn start(config: ThreadsConfig) -> ThreadsFake {
        match ThreadsFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the Threads fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: ThreadsConfig) -> std::io::Result<ThreadsFake> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let mut inner = Inner::new(&config);
        inner
            .apps
            .insert(DEFAULT_APP_ID.to_string(), DEFAULT_APP_SECRET.to_string());
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            inner: Mutex::new(inner),
        });
        let task = {
            let shared = shared.clone();
            spawn_server(listener, move |req, conn| handle(shared.clone(), conn, req))
        };
        Ok(ThreadsFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// e.g. `http://127.0.0.1:41234` (no trailing slash): the `https://graph.threads.net`
    /// stand-in (API paths under `/v1.0/`, token paths at the root).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The limits in force now.
    pub fn config(&self) -> ThreadsConfig {
        self.shared.lock().cfg.clone()
    }

    /// Registers a Threads app (id and secret).
    pub fn register_app(&self, app_id: &str, secret: &str) {
        self.shared
            .lock()
            .apps
            .insert(app_id.to_string(), secret.to_string());
    }

    /// Creates a user (or returns the one with that username).
    pub fn create_user(&self, username: &str, name: &str) -> ThreadsUser {
        self.shared.lock().create_user(username, name)
    }

    /// A user with a long-lived token carrying [`SCOPES`].
    pub fn create_user_with_token(&self, username: &str) -> (ThreadsUser, IssuedToken) {
        let mut inner = self.shared.lock();
        let user = inner.create_user(username, &format!("{username} (fake)"));
        let token = inner.issue(&user.id, DEFAULT_APP_ID, &default_scopes(), true, None);
        (user, token)
    }

    /// A long-lived token (60 days) for `user_id` with `scopes` issued `age` ago (so that it
    /// can be refreshed at once, or is close to expiry). `None` for an unknown user.
    pub fn issue_long_lived(
        &self,
        user_id: &str,
        scopes: &[&str],
        age: chrono::Duration,
    ) -> Option<IssuedToken> {
        let mut inner = self.shared.lock();
        inner.user(user_id)?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let issued = inner.now() - age;
        Some(inner.issue(user_id, DEFAULT_APP_ID, &scopes, true, Some(issued)))
    }

    /// A short-lived token (1 hour), as the code exchange hands it out.
    pub fn issue_short_lived(&self, user_id: &str) -> Option<IssuedToken> {
        let mut inner = self.shared.lock();
        inner.user(user_id)?;
        Some(inner.issue(user_id, DEFAULT_APP_ID, &default_scopes(), false, None))
    }

    /// An authorization code, as the authorize page hands it out after consent. Refuses a
    /// redirect that is not `https://` or that is on `localhost` (Threads apps only accept
    /// https redirects, and not localhost).
    pub fn issue_code(&self, grant: CodeGrant) -> Result<String, String> {
        self.shared.lock().issue_code(grant)
    }

    /// The token answers 190 / 463 (expired) from now on. `false` if unknown.
    pub fn expire_token(&self, token: &str) -> bool {
        let mut inner = self.shared.lock();
        let past = inner.now() - chrono::Duration::seconds(1);
        match inner.tokens.get_mut(token) {
            Some(t) => {
                t.expires_at = past;
                true
            }
            None => false,
        }
    }

    /// The token answers 190 / 460 (invalidated) from now on, as when the user removes the
    /// app. `false` if unknown.
    pub fn revoke_token(&self, token: &str) -> bool {
        match self.shared.lock().tokens.get_mut(token) {
            Some(t) => {
                t.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Every token of the user stops working.
    pub fn revoke_user(&self, user_id: &str) {
        for t in self.shared.lock().tokens.values_mut() {
            if t.user_id == user_id {
                t.revoked = true;
            }
        }
    }

    /// Makes the token `by` older (issue and expiry move back together). `false` if unknown.
    pub fn backdate_token(&self, token: &str, by: chrono::Duration) -> bool {
        match self.shared.lock().tokens.get_mut(token) {
            Some(t) => {
                t.issued_at -= by;
                t.expires_at -= by;
                true
            }
            None => false,
        }
    }

    /// Whether the token would be accepted by a data call now.
    pub fn token_is_live(&self, token: &str) -> bool {
        let inner = self.shared.lock();
        let now = inner.now();
        inner
            .tokens
            .get(token)
            .is_some_and(|t| !t.revoked && t.expires_at > now)
    }

    /// When the token expires (`None` if unknown).
    pub fn token_expires_at(&self, token: &str) -> Option<DateTime<Utc>> {
        self.shared.lock().tokens.get(token).map(|t| t.expires_at)
    }

    /// Whether the token is long-lived (`None` if unknown).
    pub fn token_is_long_lived(&self, token: &str) -> Option<bool> {
        self.shared.lock().tokens.get(token).map(|t| t.long_lived)
    }

    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How image, video and carousel containers created from now on process.
    pub fn set_processing(&self, plan: Processing) {
        self.shared.lock().cfg.processing = plan;
    }

    /// Changes the plan of one container (it restarts counting reads). `false` if unknown.
    pub fn set_container_processing(&self, container_id: &str, plan: Processing) -> bool {
        let mut inner = self.shared.lock();
        match inner.containers.get_mut(container_id) {
            Some(c) => {
                c.plan = plan;
                c.polls = 0;
                true
            }
            None => false,
        }
    }

    /// The publishing quotas: posts and replies per `duration` (rolling).
    pub fn set_quota(&self, posts: u32, replies: u32, duration: chrono::Duration) {
        let mut inner = self.shared.lock();
        inner.cfg.quota_total = posts;
        inner.cfg.reply_quota_total = replies;
        inner.cfg.quota_duration = duration;
    }

    pub fn set_not_ready_form(&self, form: NotReadyForm) {
        self.shared.lock().not_ready = form;
    }

    /// Added before every answer (control API excluded).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// Every container, in creation order (status as of the last read).
    pub fn containers(&self) -> Vec<Container> {
        let inner = self.shared.lock();
        inner
            .container_order
            .iter()
            .filter_map(|id| inner.containers.get(id))
            .cloned()
            .collect()
    }

    /// One container, its status brought up to date with the clock.
    pub fn container(&self, id: &str) -> Option<Container> {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.refresh_status(id, now);
        inner.containers.get(id).cloned()
    }

    /// Every published post and reply, in publishing order (deleted ones included).
    pub fn posts(&self) -> Vec<ThreadsPost> {
        self.shared.lock().posts.clone()
    }

    /// Stores a post as if made elsewhere (the app, another tool). `None` for an unknown user
    /// or an unknown `reply_to`.
    pub fn insert_post(
        &self,
        owner_id: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Option<ThreadsPost> {
        let mut inner = self.shared.lock();
        inner.user(owner_id)?;
        if let Some(parent) = reply_to {
            inner.post(parent)?;
        }
        let now = inner.now();
        let draft = PostDraft {
            owner_id: owner_id.to_string(),
            container_id: None,
            media_type: "TEXT_POST".into(),
            text: Some(text.to_string()),
            reply_to: reply_to.map(str::to_string),
            media_urls: Vec::new(),
            alt_texts: Vec::new(),
            link_attachment: None,
            topic_tag: None,
            reply_control: None,
            auto_published: false,
        };
        Some(inner.store_post(draft, now))
    }

    /// Every request (control API excluded).
    pub fn requests(&self) -> Vec<ThreadsRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests to `endpoint` ([`Endpoint::Any`]: all).
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<ThreadsRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| endpoint == Endpoint::Any || r.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// Number of requests to `endpoint` ([`Endpoint::Any`]: all).
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.requests_to(endpoint).len()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock forward (token and code expiry, container expiry, quotas).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }
}

/// A loopback web server for media files, standing in for the public bucket Threads fetches
/// from (`http://127.0.0.1:<port>/<name>`). Unknown names answer 404. Stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct MediaHost {
    base_url: String,
    files: Arc<Mutex<HashMap<String, (String, Bytes)>>>,
    hits: Arc<Mutex<Vec<String>>>,
    _guard: Arc<ServerGuard>,
}

impl MediaHost {
    pub async fn start() -> MediaHost {
        let listener = match TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => panic!("the media host cannot listen on 127.0.0.1: {e}"),
        };
        let base_url = match listener.local_addr() {
            Ok(a) => format!("http://{a}"),
            Err(e) => panic!("the media host has no address: {e}"),
        };
        let files: Arc<Mutex<HashMap<String, (String, Bytes)>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let task = {
            let (files, hits) = (files.clone(), hits.clone());
            spawn_server(listener, move |req: Request<Body>, _conn| {
                let (files, hits) = (files.clone(), hits.clone());
                async move {
                    let name = req.uri().path().trim_start_matches('/').to_string();
                    hits.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(name.clone());
                    let found = files
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&name)
                        .cloned();
                    let response = match found {
                        Some((mime, bytes)) => Response::builder()
                            .status(200)
                            .header("content-type", mime)
                            .body(Body::from(bytes)),
                        None => Response::builder()
                            .status(404)
                            .body(Body::from("not found")),
                    };
                    response.unwrap_or_else(|_| Response::new(Body::empty()))
                }
            })
        };
        MediaHost {
            base_url,
            files,
            hits,
            _guard: Arc::new(ServerGuard(vec![task])),
        }
    }

    /// Serves `bytes` as `name`; returns its address.
    pub fn put(&self, name: &str, mime: &str, bytes: &[u8]) -> String {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).insert(
            name.to_string(),
            (mime.to_string(), Bytes::copy_from_slice(bytes)),
        );
        self.url(name)
    }

    /// The address `name` has (served or not).
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base_url)
    }

    /// Stops serving `name` (it answers 404).
    pub fn remove(&self, name: &str) {
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// How many times `name` was requested.
    pub fn hits(&self, name: &str) -> usize {
        self.hits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|h| *h == name)
            .count()
    }
}

// ---- state -------------------------------------------------------------------------------

pub(crate) struct Shared {
    base_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_fault(&self, endpoint: Endpoint) -> Option<FaultKind> {
        let mut inner = self.lock();
        let index = inner
            .faults
            .iter()
            .position(|f| f.endpoint == Endpoint::Any || f.endpoint == endpoint)?;
        let fault = inner.faults.get_mut(index)?;
        if fault.skip > 0 {
            fault.skip -= 1;
            return None;
        }
        let kind = fault.kind.clone();
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            inner.faults.remove(index);
        }
        Some(kind)
    }

    fn record(&self, endpoint: Option<Endpoint>, req: &Req, status: u16) {
        let mut inner = self.lock();
        let at = inner.now();
        inner.requests.push(ThreadsRequest {
            endpoint,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: req.body.to_vec(),
            status,
            at,
        });
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub user_id: String,
    pub app_id: String,
    pub scopes: Vec<String>,
    pub long_lived: bool,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub grant: CodeGrant,
    pub expires_at: DateTime<Utc>,
}

/// What a new post is made of.
pub(crate) struct PostDraft {
    pub owner_id: String,
    pub container_id: Option<String>,
    pub media_type: String,
    pub text: Option<String>,
    pub reply_to: Option<String>,
    pub media_urls: Vec<String>,
    pub alt_texts: Vec<Option<String>>,
    pub link_attachment: Option<String>,
    pub topic_tag: Option<String>,
    pub reply_control: Option<String>,
    pub auto_published: bool,
}

pub(crate) struct Inner {
    pub cfg: ThreadsConfig,
    pub clock_offset: chrono::Duration,
    pub latency: Duration,
    pub users: Vec<ThreadsUser>,
    /// app id → secret
    pub apps: HashMap<String, String>,
    pub tokens: HashMap<String, Token>,
    pub codes: HashMap<String, AuthCode>,
    pub containers: HashMap<String, Container>,
    pub container_order: Vec<String>,
    pub posts: Vec<ThreadsPost>,
    /// When each delete happened (for the delete quota).
    pub deletes: Vec<(String, DateTime<Utc>)>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<ThreadsRequest>,
    pub not_ready: NotReadyForm,
    last_id: u64,
}

/// Ids start above 2^53 so that a client reading them as floats breaks visibly.
const FIRST_ID: u64 = 17_841_405_793_187_218;

impl Inner {
    fn new(cfg: &ThreadsConfig) -> Inner {
        Inner {
            cfg: cfg.clone(),
            clock_offset: chrono::Duration::zero(),
            latency: Duration::ZERO,
            users: Vec::new(),
            apps: HashMap::new(),
            tokens: HashMap::new(),
            codes: HashMap::new(),
            containers: HashMap::new(),
            container_order: Vec::new(),
            posts: Vec::new(),
            deletes: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            not_ready: NotReadyForm::default(),
            last_id: FIRST_ID,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub(crate) fn next_id(&mut self) -> String {
        self.last_id += 1 + u64::from(rand::random::<u8>());
        self.last_id.to_string()
    }

    pub(crate) fn user(&self, id: &str) -> Option<&ThreadsUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn post(&self, id: &str) -> Option<&ThreadsPost> {
        self.posts.iter().find(|p| p.id == id && !p.deleted)
    }

    fn create_user(&mut self, username: &str, name: &str) -> ThreadsUser {
        let username = username.trim().trim_start_matches('@').to_string();
        if let Some(existing) = self
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(&username))
        {
            return existing.clone();
        }
        let user = ThreadsUser {
            id: self.next_id(),
            username,
            name: name.to_string(),
        };
        self.users.push(user.clone());
        user
    }

    /// A new token; `issued` defaults to now.
    pub(crate) fn issue(
        &mut self,
        user_id: &str,
        app_id: &str,
        scopes: &[String],
        long_lived: bool,
        issued: Option<DateTime<Utc>>,
    ) -> IssuedToken {
        let issued_at = issued.unwrap_or_else(|| self.now());
        let ttl = if long_lived {
            self.cfg.long_ttl
        } else {
            self.cfg.short_ttl
        };
        let access_token = format!(
            "TH{}{}",
            if long_lived { "AA" } else { "QV" },
            random_string(ALNUM, 120)
        );
        self.tokens.insert(
            access_token.clone(),
            Token {
                user_id: user_id.to_string(),
                app_id: app_id.to_string(),
                scopes: scopes.to_vec(),
                long_lived,
                issued_at,
                expires_at: issued_at + ttl,
                revoked: false,
            },
        );
        let expires_in = (issued_at + ttl - self.now()).num_seconds().max(0);
        IssuedToken {
            access_token,
            token_type: "bearer".into(),
            expires_in,
        }
    }

    pub(crate) fn issue_code(&mut self, grant: CodeGrant) -> Result<String, String> {
        if self.user(&grant.user_id).is_none() {
            return Err(format!("unknown user {}", grant.user_id));
        }
        if !self.apps.contains_key(&grant.app_id) {
            return Err(format!("unknown app {}", grant.app_id));
        }
        let (scheme, rest) = grant.redirect_uri.split_once("://").unwrap_or(("", ""));
        let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
        if !scheme.eq_ignore_ascii_case("https") {
            return Err("Threads only accepts https redirect URIs".into());
        }
        if host.eq_ignore_ascii_case("localhost") || host.is_empty() {
            return Err("Threads apps do not support redirect URLs using localhost".into());
        }
        if !grant.scopes.iter().any(|s| s == "threads_basic") {
            return Err("threads_basic is required".into());
        }
        let code = random_string(ALNUM, 64);
        let expires_at = self.now() + self.cfg.code_ttl;
        self.codes
            .insert(code.clone(), AuthCode { grant, expires_at });
        Ok(code)
    }

    /// Brings a container's status up to date with the clock (expiry, carousel children),
    /// without counting a read.
    pub(crate) fn refresh_status(&mut self, id: &str, now: DateTime<Utc>) {
        let ttl = self.cfg.container_ttl;
        let children: Vec<(String, Option<String>)> = match self.containers.get(id) {
            Some(c) => c
                .children
                .iter()
                .map(|k| {
                    let child = self.containers.get(k);
                    (
                        child.map(|c| c.status.clone()).unwrap_or_default(),
                        child.and_then(|c| c.error_message.clone()),
                    )
                })
                .collect(),
            None => return,
        };
        let Some(c) = self.containers.get_mut(id) else {
            return;
        };
        if matches!(c.status.as_str(), "PUBLISHED" | "ERROR" | "EXPIRED") {
            return;
        }
        if now >= c.created_at + ttl {
            c.status = "EXPIRED".into();
            return;
        }
        if let Some((_, msg)) = children.iter().find(|(s, _)| s == "ERROR") {
            c.status = "ERROR".into();
            c.error_message = msg.clone().or_else(|| Some("UNKNOWN".into()));
            return;
        }
        let children_ready = children.iter().all(|(s, _)| s == "FINISHED");
        let own = match &c.plan {
            Processing::AfterPolls { polls } if c.polls >= *polls => "FINISHED",
            Processing::Error {
                after_polls,
                message,
            } if c.polls >= *after_polls => {
                c.error_message = Some(message.clone());
                "ERROR"
            }
            _ => "IN_PROGRESS",
        };
        c.status = if own == "FINISHED" && !children_ready {
            "IN_PROGRESS".into()
        } else {
            own.into()
        };
    }

    /// A status read: brings the status up to date (the answer), then counts the read, so
    /// that a plan's `polls` reads answer `IN_PROGRESS`.
    pub(crate) fn read_status(&mut self, id: &str, now: DateTime<Utc>) -> Option<Container> {
        // Children progress with their parent's reads too (Meta processes them on its own).
        let children = self
            .containers
            .get(id)
            .map(|c| c.children.clone())
            .unwrap_or_default();
        for child in children {
            self.refresh_status(&child, now);
            if let Some(c) = self.containers.get_mut(&child) {
                if c.status == "IN_PROGRESS" {
                    c.polls += 1;
                }
            }
        }
        self.refresh_status(id, now);
        let answer = self.containers.get(id).cloned();
        if let Some(c) = self.containers.get_mut(id) {
            if c.status == "IN_PROGRESS" {
                c.polls += 1;
            }
        }
        answer
    }

    pub(crate) fn store_post(&mut self, draft: PostDraft, now: DateTime<Utc>) -> ThreadsPost {
        let id = self.next_id();
        let username = self
            .user(&draft.owner_id)
            .map(|u| u.username.clone())
            .unwrap_or_default();
        let root_post = draft
            .reply_to
            .as_deref()
            .and_then(|parent| self.posts.iter().find(|p| p.id == parent))
            .map_or_else(|| id.clone(), |p| p.root_post.clone());
        let shortcode = random_string(ALNUM, 11);
        let post = ThreadsPost {
            permalink: format!("https://www.threads.net/@{username}/post/{shortcode}"),
            id,
            owner_id: draft.owner_id,
            username,
            container_id: draft.container_id,
            media_type: draft.media_type,
            text: draft.text,
            shortcode,
            timestamp: now,
            reply_to: draft.reply_to,
            root_post,
            media_urls: draft.media_urls,
            alt_texts: draft.alt_texts,
            link_attachment: draft.link_attachment,
            topic_tag: draft.topic_tag,
            reply_control: draft.reply_control,
            auto_published: draft.auto_published,
            deleted: false,
        };
        self.posts.push(post.clone());
        post
    }

    /// Posts (`replies == false`) or replies published by `user_id` within the rolling window.
    pub(crate) fn used(&self, user_id: &str, replies: bool, now: DateTime<Utc>) -> u32 {
        let since = now - self.cfg.quota_duration;
        let n = self
            .posts
            .iter()
            .filter(|p| p.owner_id == user_id && p.timestamp > since)
            .filter(|p| p.reply_to.is_some() == replies)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

// ---- request dispatch ----------------------------------------------------------------------

/// A fully read request.
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Query parameters, then form or JSON body fields.
    pub fn params(&self) -> Vec<(String, String)> {
        params_of(&self.query, self.header("content-type"), &self.body)
    }

    pub fn param(&self, key: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// An answer before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn into_response(self) -> Response<Body> {
        let mut builder = Response::builder().status(self.status);
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let body = match self.body {
            Some(v) => {
                builder = builder.header("content-type", "application/json; charset=UTF-8");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        builder
            .body(body)
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

enum After {
    Nothing,
    Drop,
    Delay(Duration),
}

async fn handle(shared: Arc<Shared>, conn: ConnInfo, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => {
            return api::graph_error(400, 100, None, "Could not read the request body")
                .into_response()
        }
    };
    let req = Req {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body,
    };
    if req.path == "/_fake" || req.path.starts_with("/_fake/") {
        return control::handle(&shared, &req).into_response();
    }
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let endpoint = {
        let inner = shared.lock();
        Endpoint::of(&req.method, &req.path, |id| inner.user(id).is_some())
    };
    let (reply, after) = match endpoint {
        None => (api::unknown_path(&req), After::Nothing),
        Some(endpoint) => match shared.take_fault(endpoint) {
            None => (api::process(&shared, endpoint, &req).await, After::Nothing),
            Some(FaultKind::Status { status, body }) => {
                (api::fault_status(status, body), After::Nothing)
            }
            Some(FaultKind::Graph {
                status,
                code,
                subcode,
                message,
            }) => (
                api::graph_error(status, code, subcode, &message),
                After::Nothing,
            ),
            Some(FaultKind::DropBeforeCommit) => (Reply::json(500, Value::Null), After::Drop),
            Some(FaultKind::DropAfterCommit) => {
                (api::process(&shared, endpoint, &req).await, After::Drop)
            }
            Some(FaultKind::DelayBefore { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                (api::process(&shared, endpoint, &req).await, After::Nothing)
            }
            Some(FaultKind::DelayAfterCommit { ms }) => (
                api::process(&shared, endpoint, &req).await,
                After::Delay(Duration::from_millis(ms)),
            ),
        },
    };
    let status = match after {
        After::Drop => 0,
        _ => reply.status,
    };
    shared.record(endpoint, &req, status);
    match after {
        After::Nothing => reply.into_response(),
        After::Delay(d) => {
            tokio::time::sleep(d).await;
            reply.into_response()
        }
        After::Drop => {
            conn.kill();
            std::future::pending().await
        }
    }
}
