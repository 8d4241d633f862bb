//! A faithful in-process fake of TikTok's Content Posting API v2 and Login Kit for Desktop
//! (`open.tiktokapis.com`, the upload host, `www.tiktok.com/v2/auth/authorize/`) for the calls
//! Outpost makes, on one loopback listener ([`TikTokFake::base_url`]):
//!
//! | Endpoint | Notes |
//! |---|---|
//! | `GET /v2/auth/authorize/` | consent on behalf of the user set with [`TikTokFake::set_authorize_user`]: checks `client_key`, the redirect URI against the registered ones (`*` port wildcard), `response_type=code`, a **lower-case hex** S256 challenge (a base64url one is refused), then 302 to `redirect_uri?code&scopes&state` |
//! | `POST /v2/oauth/token/` | `authorization_code` (needs `client_secret` **and** `code_verifier`, hex SHA-256 check, single use) and `refresh_token` (rotation: the old refresh token dies); answers `open_id, scope, access_token (act.), expires_in, refresh_token (rft.), refresh_expires_in, token_type`; errors `{"error","error_description","log_id"}` (HTTP 400, or 200 with [`TikTokConfig::oauth_errors_under_200`]) |
//! | `POST /v2/oauth/revoke/` | `client_key`, `client_secret`, `token` |
//! | `GET /v2/user/info/` | `fields` (basic fields only; others need scopes Outpost never asks for) |
//! | `POST /v2/post/publish/creator_info/query/` | privacy options per account type (an unaudited app sees `SELF_ONLY` only), the switches, `max_video_post_duration_sec`; the daily cap comes back as `spam_risk_too_many_posts` under **HTTP 200** |
//! | `POST /v2/post/publish/video/init/` | Direct Post: `post_info` (privacy checked against the options, unaudited rules, daily cap) and `source_info` (the chunk plan checked exactly as tiktok.md says) → `publish_id` + `upload_url` |
//! | `POST /v2/post/publish/inbox/video/init/` | `source_info` only; at most 5 pending inbox shares per 24 h |
//! | `POST /v2/post/publish/content/init/` | photo posts by `PULL_FROM_URL`: verified prefixes (`url_ownership_unverified`), then the fake fetches loopback URLs (a redirect, an error or a non JPEG/WebP body fails the post with `photo_pull_failed`) |
//! | `PUT /video/?upload_id&upload_token` | on the same listener (its host name can differ: [`TikTokConfig::upload_host`]); chunks in order: `Content-Range` / `Content-Length` / `Content-Type` checked, 206 with `Content-Range: bytes 0-N/TOTAL`, 201 after the last, 416 out of order (with the range held), 400 on a length mismatch, 403 once the address expired (1 h), 404 unknown; the body is streamed, never buffered whole |
//! | `POST /v2/post/publish/status/fetch/` | `PROCESSING_UPLOAD` (with `uploaded_bytes`) while chunks come, then the [`StatusPlan`]: `PROCESSING_UPLOAD`/`PROCESSING_DOWNLOAD` → `PUBLISH_COMPLETE` / `SEND_TO_USER_INBOX` / `FAILED` + `fail_reason`; `publicaly_available_post_id` after a configurable moderation delay |
//!
//! Every API answer uses the `{"data":…,"error":{"code","message","log_id"}}` envelope. Per
//! token 1-minute sliding windows (init 6, creator info 20, status 30, user info 600) answer
//! 429 `rate_limit_exceeded` without headers.
//!
//! Test controls: users, tokens and codes, expiry and revocation, the audit flag and creator
//! settings, queued [`Fault`]s per [`Endpoint`] (an error with a code, a 429, a delay, "commit
//! then drop the connection", "drop the connection mid-chunk" — optionally only for one chunk
//! index), status plans, a clock that can be moved forward, every publish with its chunks
//! ([`TikTokFake::publishes`], [`TikTokFake::chunk_puts`]), the posts that went out
//! ([`TikTokFake::posts`]) and every request ([`TikTokFake::requests`]). The same controls are
//! served over HTTP under `/_fake/` (see the `control` module), plus `PUT /_fake/sink`, which
//! reads and discards a body exactly like the upload endpoint (for throughput comparisons).
//!
//! Where the platform reference marks a behaviour UNCONFIRMED, the fake does the documented or
//! standard thing and says so next to the code.

mod api;
mod control;
mod upload;

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

/// Every scope Outpost asks for.
pub const ALL_SCOPES: [&str; 3] = ["user.info.basic", "video.upload", "video.publish"];
/// The app registered at start.
pub const DEFAULT_CLIENT_KEY: &str = "outpostfakeclientkey";
pub const DEFAULT_CLIENT_SECRET: &str = "outpost-fake-client-secret";
/// The redirect URI registered for the default app (Login Kit for Desktop, wildcard port).
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:*/callback/";
/// The prefix verified for photo pulls by default: loopback, where tests serve their files.
pub const LOOPBACK_PREFIX: &str = "http://127.0.0.1";

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Limits and lifetimes; the defaults are tiktok.md's values.
#[derive(Debug, Clone)]
pub struct TikTokConfig {
    /// Port of the listener (0 = any free port).
    pub port: u16,
    /// Access token lifetime. The two official versions disagree (24 h or 2 h, UNCONFIRMED);
    /// 24 h by default, 2 h with [`TikTokConfig::short_lived`].
    pub access_ttl: chrono::Duration,
    /// Refresh token lifetime (365 d; 180 d with [`TikTokConfig::short_lived`]).
    pub refresh_ttl: chrono::Duration,
    /// A refresh answers a new refresh token and the old one stops working.
    pub rotate_refresh_tokens: bool,
    /// Authorization code lifetime (not documented; 10 minutes).
    pub code_ttl: chrono::Duration,
    /// How long an `upload_url` works (1 h).
    pub upload_url_ttl: chrono::Duration,
    /// The host name upload addresses use instead of `127.0.0.1` (TikTok's upload host differs
    /// from the API host): e.g. `localhost`, which reaches the same listener. `None`: the API
    /// host.
    pub upload_host: Option<String>,
    /// Direct posts per creator per 24 h ("typically around 15").
    pub daily_post_cap: u32,
    /// Pending inbox shares per creator per 24 h (5).
    pub pending_inbox_cap: u32,
    /// Distinct creators an unaudited app may post for per 24 h (5).
    pub unaudited_creator_cap: u32,
    /// OAuth errors come back under HTTP 200 (seen in the sandbox) instead of 400.
    pub oauth_errors_under_200: bool,
    /// Uploads up to this size keep their bytes ([`TikTokFake::upload_bytes`]); larger ones
    /// only their chunk records.
    pub keep_upload_bytes_up_to: u64,
    /// Polls after `PUBLISH_COMPLETE` before `publicaly_available_post_id` appears (public
    /// and friends posts; never for `SELF_ONLY`). `None`: never.
    pub moderation_polls: Option<u32>,
    /// Chunk rules (tiktok.md, decimal MB as in its worked example).
    pub min_chunk: u64,
    pub max_chunk: u64,
    pub max_last_chunk: u64,
    pub max_chunks: u64,
    pub max_video_bytes: u64,
}

impl Default for TikTokConfig {
    fn default() -> Self {
        TikTokConfig {
            port: 0,
            access_ttl: chrono::Duration::hours(24),
            refresh_ttl: chrono::Duration::days(365),
            rotate_refresh_tokens: true,
            code_ttl: chrono::Duration::minutes(10),
            upload_url_ttl: chrono::Duration::hours(1),
            upload_host: None,
            daily_post_cap: 15,
            pending_inbox_cap: 5,
            unaudited_creator_cap: 5,
            oauth_errors_under_200: false,
            keep_upload_bytes_up_to: 32 * 1024 * 1024,
            moderation_polls: Some(0),
            min_chunk: 5_000_000,
            max_chunk: 64_000_000,
            max_last_chunk: 128_000_000,
            max_chunks: 1000,
            max_video_bytes: 4_000_000_000,
        }
    }
}

impl TikTokConfig {
    /// The newer token profile: 2 h access tokens, 180 d rotating refresh tokens.
    pub fn short_lived() -> Self {
        TikTokConfig {
            access_ttl: chrono::Duration::hours(2),
            refresh_ttl: chrono::Duration::days(180),
            ..TikTokConfig::default()
        }
    }
}

/// One endpoint, as faults, limits and recorded requests name it. JSON form: the snake-case
/// name (`"video_init"`), or `"*"` for [`Endpoint::Any`] (faults only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /v2/auth/authorize/`
    Authorize,
    /// `POST /v2/oauth/token/`
    Token,
    /// `POST /v2/oauth/revoke/`
    Revoke,
    /// `GET /v2/user/info/`
    UserInfo,
    /// `POST /v2/post/publish/creator_info/query/`
    CreatorInfo,
    /// `POST /v2/post/publish/video/init/`
    VideoInit,
    /// `POST /v2/post/publish/inbox/video/init/`
    InboxInit,
    /// `POST /v2/post/publish/content/init/`
    ContentInit,
    /// `POST /v2/post/publish/status/fetch/`
    Status,
    /// `PUT /video/?upload_id=…&upload_token=…`
    Upload,
    /// Any endpoint (for faults).
    #[serde(rename = "*")]
    Any,
}

impl Endpoint {
    /// The endpoint a request goes to, if the fake serves it (trailing `/` optional).
    pub fn of(method: &str, path: &str) -> Option<Endpoint> {
        let path = path.trim_end_matches('/');
        Some(match (method, path) {
            ("GET", "/v2/auth/authorize") => Endpoint::Authorize,
            ("POST", "/v2/oauth/token") => Endpoint::Token,
            ("POST", "/v2/oauth/revoke") => Endpoint::Revoke,
            ("GET", "/v2/user/info") => Endpoint::UserInfo,
            ("POST", "/v2/post/publish/creator_info/query") => Endpoint::CreatorInfo,
            ("POST", "/v2/post/publish/video/init") => Endpoint::VideoInit,
            ("POST", "/v2/post/publish/inbox/video/init") => Endpoint::InboxInit,
            ("POST", "/v2/post/publish/content/init") => Endpoint::ContentInit,
            ("POST", "/v2/post/publish/status/fetch") => Endpoint::Status,
            ("PUT", "/video") => Endpoint::Upload,
            _ => return None,
        })
    }

    /// The per-token requests per minute (tiktok.md "Rate limits"); `None`: not limited.
    fn default_per_minute(self) -> Option<u32> {
        match self {
            Endpoint::VideoInit | Endpoint::InboxInit | Endpoint::ContentInit => Some(6),
            Endpoint::CreatorInfo => Some(20),
            Endpoint::Status => Some(30),
            Endpoint::UserInfo => Some(600),
            _ => None,
        }
    }

    /// The window a limit is counted in: the three inits share one ("video/photo init: 6").
    fn window_name(self) -> &'static str {
        match self {
            Endpoint::VideoInit | Endpoint::InboxInit | Endpoint::ContentInit => "init",
            Endpoint::CreatorInfo => "creator_info",
            Endpoint::Status => "status",
            Endpoint::UserInfo => "user_info",
            _ => "other",
        }
    }
}

/// A queued fault: each request to a matching endpoint consumes one of `times`, in the order
/// the faults were pushed. `chunk` limits an [`Endpoint::Upload`] fault to the chunk with that
/// index (0-based). JSON: `{"endpoint":"upload","times":1,"chunk":2,"kind":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub endpoint: Endpoint,
    #[serde(default = "one")]
    pub times: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(endpoint: Endpoint, times: u32, kind: FaultKind) -> Fault {
        Fault {
            endpoint,
            times,
            chunk: None,
            kind,
        }
    }

    /// Only for the upload of chunk `index` (0-based).
    pub fn on_chunk(mut self, index: u64) -> Fault {
        self.chunk = Some(index);
        self
    }

    /// An HTTP status with TikTok's envelope and `code` (default for the status: 500
    /// `internal_error`, 401 `access_token_invalid`, 400 `invalid_params`…); no side effect.
    pub fn status(endpoint: Endpoint, times: u32, status: u16) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::Error {
                status,
                code: None,
                message: None,
            },
        )
    }

    /// An error `code` under `status` (e.g. 200 `spam_risk_too_many_posts` on creator info).
    pub fn error(endpoint: Endpoint, times: u32, status: u16, code: &str) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::Error {
                status,
                code: Some(code.to_string()),
                message: None,
            },
        )
    }

    /// `429 rate_limit_exceeded` (TikTok sends no reset header; `retry_after_secs` adds a
    /// `Retry-After`, which TikTok does not document, so tests need not wait a minute).
    pub fn rate_limited(endpoint: Endpoint, times: u32, retry_after_secs: Option<u64>) -> Fault {
        Fault::new(endpoint, times, FaultKind::RateLimited { retry_after_secs })
    }

    /// Do the request (the init IS made, the chunk IS stored), then close the connection.
    pub fn drop_after_commit(endpoint: Endpoint, times: u32) -> Fault {
        Fault::new(endpoint, times, FaultKind::DropAfterCommit)
    }

    /// Upload: read `after_bytes` of the chunk, then close the connection (nothing stored).
    pub fn drop_mid_chunk(index: u64, after_bytes: u64) -> Fault {
        Fault::new(Endpoint::Upload, 1, FaultKind::DropMidBody { after_bytes }).on_chunk(index)
    }
}

/// What a fault does. JSON (tagged by `type`): `{"type":"error","status":500,"code":"internal_error"}`,
/// `{"type":"rate_limited","retry_after_secs":2}`, `{"type":"drop_before_commit"}`,
/// `{"type":"drop_after_commit"}`, `{"type":"drop_mid_body","after_bytes":1000000}`,
/// `{"type":"delay_before","ms":500}`, `{"type":"delay_after_commit","ms":500}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` with the envelope and `code` (a default per status); no side effect.
    Error {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// `429 rate_limit_exceeded`.
    RateLimited {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// Close the connection without doing anything.
    DropBeforeCommit,
    /// Do the request, then close the connection without any answer.
    DropAfterCommit,
    /// Upload only: read at least `after_bytes` of the body, then close the connection.
    DropMidBody { after_bytes: u64 },
    /// Wait, then do the request normally (an upload waits before reading the body).
    DelayBefore { ms: u64 },
    /// Do the request, then wait before answering.
    DelayAfterCommit { ms: u64 },
}

/// What `status/fetch` answers once the bytes are in (or the pull started), poll by poll.
/// JSON (tagged by `type`): `{"type":"complete","processing_polls":1}`,
/// `{"type":"fail","processing_polls":0,"fail_reason":"duration_check_failed"}`,
/// `{"type":"never"}`, `{"type":"sequence","statuses":["PROCESSING_UPLOAD","PUBLISH_COMPLETE"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatusPlan {
    /// `PROCESSING_UPLOAD` (`PROCESSING_DOWNLOAD` for pulls) on the first `processing_polls`
    /// checks, then `PUBLISH_COMPLETE` (inbox: `SEND_TO_USER_INBOX` until
    /// [`TikTokFake::finish_inbox`]).
    Complete { processing_polls: u32 },
    /// Processing for `processing_polls` checks, then `FAILED` with `fail_reason`.
    Fail {
        processing_polls: u32,
        fail_reason: String,
    },
    /// Processing forever.
    Never,
    /// These statuses in order, the last one repeating; `FAILED` carries `fail_reason`.
    Sequence {
        statuses: Vec<String>,
        #[serde(default)]
        fail_reason: Option<String>,
    },
}

impl Default for StatusPlan {
    fn default() -> Self {
        StatusPlan::Complete {
            processing_polls: 1,
        }
    }
}

/// A user (creator) of the fake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TikTokUser {
    pub open_id: String,
    pub union_id: String,
    /// The @username (`creator_username`).
    pub username: String,
    pub display_name: String,
    /// A private account (its privacy options are followers / friends / only me).
    pub private_account: bool,
    /// `max_video_post_duration_sec` (creators get 180, 300 or 600).
    pub max_video_post_duration_sec: u64,
    pub comment_disabled: bool,
    pub duet_disabled: bool,
    pub stitch_disabled: bool,
    /// Replaces the privacy options creator info offers.
    pub privacy_options: Option<Vec<String>>,
}

/// A token set as the token endpoint hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TikTokTokens {
    pub open_id: String,
    pub scope: String,
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
    pub token_type: String,
}

/// One `PUT` of a chunk as the fake saw it (refused and broken ones included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPut {
    pub publish_id: String,
    /// `first / chunk_size`.
    pub index: u64,
    pub first: u64,
    pub last: u64,
    pub total: u64,
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
    /// Bytes read from the body.
    pub received: u64,
    /// Status answered; `0` when the connection was closed (by a fault or by the client).
    pub status: u16,
    /// Whether the chunk was stored.
    pub committed: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Hex of the chunk's first (up to) 16 bytes.
    pub head: String,
}

/// A publish (`publish_id`) as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TikTokPublish {
    pub publish_id: String,
    pub open_id: String,
    pub client_key: String,
    /// `video` or `photo`.
    pub kind: String,
    /// `direct` or `inbox`.
    pub mode: String,
    /// `FILE_UPLOAD` or `PULL_FROM_URL`.
    pub source: String,
    pub post_info: Value,
    pub source_info: Value,
    pub video_size: u64,
    pub chunk_size: u64,
    pub total_chunks: u64,
    /// Bytes stored so far (chunks arrive in order).
    pub uploaded_bytes: u64,
    pub upload_complete: bool,
    pub upload_id: Option<String>,
    pub upload_expires_at: Option<DateTime<Utc>>,
    pub photo_urls: Vec<String>,
    /// A pulled URL that could not be fetched (the post fails with `photo_pull_failed`).
    pub pull_error: Option<String>,
    /// The last status answered (`PROCESSING_UPLOAD` before any check).
    pub status: String,
    pub fail_reason: Option<String>,
    /// Status checks answered after the bytes were in.
    pub polls: u32,
    pub plan: StatusPlan,
    pub public_post_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the post went out (`PUBLISH_COMPLETE`) or reached the inbox.
    pub done_at: Option<DateTime<Utc>>,
    /// `polls` when it went out (for the moderation delay).
    pub polls_at_done: Option<u32>,
}

impl TikTokPublish {
    pub fn privacy_level(&self) -> Option<&str> {
        self.post_info.get("privacy_level").and_then(Value::as_str)
    }
    pub fn title(&self) -> Option<&str> {
        self.post_info
            .get("title")
            .or_else(|| self.post_info.get("description"))
            .and_then(Value::as_str)
    }
}

/// One request as the fake saw it (control API excluded). Upload bodies are not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TikTokRequest {
    /// `None` for paths the fake does not serve (answered 404).
    pub endpoint: Option<Endpoint>,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for uploads; base64 in the JSON form).
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    pub body_len: u64,
    /// Status answered; `0` when the connection was closed without an answer.
    pub status: u16,
    pub at: DateTime<Utc>,
}

impl TikTokRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A form or query parameter (first value, decoded): the body for form posts.
    pub fn form(&self, key: &str) -> Option<String> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&self.body)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn query_param(&self, key: &str) -> Option<String> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&self.query)
            .ok()?
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

/// What the authorize page granted, for [`TikTokFake::issue_code`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub open_id: String,
    #[serde(default = "default_client")]
    pub client_key: String,
    pub redirect_uri: String,
    /// Lower-case hex SHA-256 of the verifier.
    pub code_challenge: String,
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
}

fn default_client() -> String {
    DEFAULT_CLIENT_KEY.to_string()
}

fn all_scopes() -> Vec<String> {
    ALL_SCOPES.iter().map(|s| s.to_string()).collect()
}

/// Handle to a running fake; cheap to clone. The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct TikTokFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl TikTokFake {
    /// Starts the fake on `config.port` (0: any free port) of 127.0.0.1.
    ///
    /// # Panics
    /// When the port cannot be bound (use [`TikTokFake::try_start`] to handle that).
    pub async fn start(config: TikTokConfig) -> TikTokFake {
        match TikTokFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the TikTok fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: TikTokConfig) -> std::io::Result<TikTokFake> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let mut inner = Inner::new();
        inner.clients.insert(
            DEFAULT_CLIENT_KEY.to_string(),
            Client {
                secret: DEFAULT_CLIENT_SECRET.to_string(),
                redirect_uris: vec![DEFAULT_REDIRECT_URI.to_string()],
            },
        );
        inner.verified_prefixes.push(LOOPBACK_PREFIX.to_string());
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            cfg: config,
            inner: Mutex::new(inner),
        });
        let task = {
            let shared = shared.clone();
            spawn_server(listener, move |req, conn| handle(shared.clone(), conn, req))
        };
        Ok(TikTokFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// e.g. `http://127.0.0.1:41234` (no trailing slash): the `https://open.tiktokapis.com`
    /// stand-in; upload addresses are on the same listener.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The authorization page on this listener.
    pub fn authorize_url(&self) -> String {
        format!("{}/v2/auth/authorize/", self.shared.base_url)
    }

    pub fn config(&self) -> TikTokConfig {
        self.shared.cfg.clone()
    }

    pub fn client_key(&self) -> String {
        DEFAULT_CLIENT_KEY.to_string()
    }

    pub fn client_secret(&self) -> String {
        DEFAULT_CLIENT_SECRET.to_string()
    }

    /// Registers an app with its secret and redirect URIs (a `*` port is a wildcard).
    pub fn register_client(&self, client_key: &str, secret: &str, redirect_uris: &[&str]) {
        self.shared.lock().clients.insert(
            client_key.to_string(),
            Client {
                secret: secret.to_string(),
                redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    /// Creates a public creator account (or returns the existing one with that username).
    pub fn create_user(&self, username: &str, display_name: &str) -> TikTokUser {
        self.shared.lock().create_user(username, display_name)
    }

    /// Issues tokens for `open_id` to the default app. `None` for an unknown user.
    pub fn issue_tokens(&self, open_id: &str, scopes: &[&str]) -> Option<TikTokTokens> {
        let mut inner = self.shared.lock();
        inner.user(open_id)?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        Some(inner.issue_tokens(&self.shared.cfg, open_id, DEFAULT_CLIENT_KEY, &scopes))
    }

    /// A user with tokens carrying every scope Outpost asks for.
    pub fn create_user_with_tokens(&self, username: &str) -> (TikTokUser, TikTokTokens) {
        let mut inner = self.shared.lock();
        let user = inner.create_user(username, &format!("{username} (fake)"));
        let tokens = inner.issue_tokens(
            &self.shared.cfg,
            &user.open_id,
            DEFAULT_CLIENT_KEY,
            &all_scopes(),
        );
        (user, tokens)
    }

    /// Changes a creator's settings; `false` for an unknown user.
    pub fn update_user(&self, open_id: &str, change: impl FnOnce(&mut TikTokUser)) -> bool {
        let mut inner = self.shared.lock();
        match inner.users.iter_mut().find(|u| u.open_id == open_id) {
            Some(u) => {
                change(u);
                true
            }
            None => false,
        }
    }

    /// A private account (privacy options: followers, friends, only me).
    pub fn set_private_account(&self, open_id: &str, private: bool) -> bool {
        self.update_user(open_id, |u| u.private_account = private)
    }

    /// `max_video_post_duration_sec` of the creator.
    pub fn set_max_duration(&self, open_id: &str, secs: u64) -> bool {
        self.update_user(open_id, |u| u.max_video_post_duration_sec = secs)
    }

    /// Whether the app passed TikTok's audit (default `true`). An unaudited app sees
    /// `SELF_ONLY` only, may post only to private accounts, for 5 creators per 24 h.
    pub fn set_audited(&self, audited: bool) {
        self.shared.lock().audited = audited;
    }

    /// The user the authorize page signs in and consents for.
    pub fn set_authorize_user(&self, open_id: Option<&str>) {
        self.shared.lock().authorize_user = open_id.map(str::to_string);
    }

    /// An authorization code, as the authorize page would hand it out after consent.
    pub fn issue_code(&self, grant: CodeGrant) -> Result<String, String> {
        let cfg = self.shared.cfg.clone();
        self.shared.lock().issue_code(&cfg, grant)
    }

    /// The access token answers 401 `access_token_invalid` from now on. `false` if unknown.
    pub fn expire_access_token(&self, access_token: &str) -> bool {
        let mut inner = self.shared.lock();
        let now = inner.now();
        match inner.access.get_mut(access_token) {
            Some(t) => {
                t.expires_at = now - chrono::Duration::seconds(1);
                true
            }
            None => false,
        }
    }

    /// Every access token issued so far stops working.
    pub fn expire_access_tokens(&self) {
        let mut inner = self.shared.lock();
        let past = inner.now() - chrono::Duration::seconds(1);
        for t in inner.access.values_mut() {
            t.expires_at = past;
        }
    }

    /// The refresh token is refused from now on. `false` if unknown.
    pub fn revoke_refresh_token(&self, refresh_token: &str) -> bool {
        self.shared.lock().refresh.remove(refresh_token).is_some()
    }

    /// Every token of the user stops working (the user removed the app).
    pub fn revoke_user_tokens(&self, open_id: &str) {
        let mut inner = self.shared.lock();
        inner.refresh.retain(|_, t| t.open_id != open_id);
        inner.access.retain(|_, t| t.open_id != open_id);
    }

    pub fn refresh_token_is_live(&self, refresh_token: &str) -> bool {
        let inner = self.shared.lock();
        let now = inner.now();
        inner
            .refresh
            .get(refresh_token)
            .is_some_and(|t| t.expires_at > now)
    }

    pub fn access_token_is_live(&self, access_token: &str) -> bool {
        let inner = self.shared.lock();
        let now = inner.now();
        inner
            .access
            .get(access_token)
            .is_some_and(|t| t.expires_at > now)
    }

    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The endpoint's per-token requests per minute (its window is shared by the three inits).
    pub fn set_limit(&self, endpoint: Endpoint, per_minute: u32) {
        self.shared.lock().limits.insert(endpoint, per_minute);
    }

    /// The plan of publishes made from now on.
    pub fn set_default_plan(&self, plan: StatusPlan) {
        self.shared.lock().default_plan = plan;
    }

    /// The plan of one publish (its polls count again from 0); `false` if unknown.
    pub fn set_plan(&self, publish_id: &str, plan: StatusPlan) -> bool {
        let mut inner = self.shared.lock();
        match inner
            .publishes
            .iter_mut()
            .find(|p| p.publish_id == publish_id)
        {
            Some(p) => {
                p.plan = plan;
                p.polls = 0;
                true
            }
            None => false,
        }
    }

    /// The creator finishes an inbox draft in the TikTok app: `PUBLISH_COMPLETE` from now on.
    pub fn finish_inbox(&self, publish_id: &str) -> bool {
        let mut inner = self.shared.lock();
        let now = inner.now();
        match inner
            .publishes
            .iter_mut()
            .find(|p| p.publish_id == publish_id && p.mode == "inbox")
        {
            Some(p) => {
                p.status = "PUBLISH_COMPLETE".into();
                p.done_at.get_or_insert(now);
                true
            }
            None => false,
        }
    }

    /// Adds a verified domain / URL prefix for `PULL_FROM_URL` (loopback is verified).
    pub fn add_verified_prefix(&self, prefix: &str) {
        self.shared
            .lock()
            .verified_prefixes
            .push(prefix.to_string());
    }

    /// Every publish (init), in order.
    pub fn publishes(&self) -> Vec<TikTokPublish> {
        self.shared.lock().publishes.clone()
    }

    pub fn publish(&self, publish_id: &str) -> Option<TikTokPublish> {
        self.shared
            .lock()
            .publishes
            .iter()
            .find(|p| p.publish_id == publish_id)
            .cloned()
    }

    /// The posts that went out: direct posts at `PUBLISH_COMPLETE`, inbox drafts delivered.
    pub fn posts(&self) -> Vec<TikTokPublish> {
        self.shared
            .lock()
            .publishes
            .iter()
            .filter(|p| p.done_at.is_some())
            .cloned()
            .collect()
    }

    /// Every chunk `PUT` for `publish_id` (refused and broken ones too), in arrival order.
    pub fn chunk_puts(&self, publish_id: &str) -> Vec<ChunkPut> {
        self.shared
            .lock()
            .chunk_puts
            .iter()
            .filter(|c| c.publish_id == publish_id)
            .cloned()
            .collect()
    }

    /// Every chunk `PUT`, all publishes.
    pub fn all_chunk_puts(&self) -> Vec<ChunkPut> {
        self.shared.lock().chunk_puts.clone()
    }

    /// The bytes of an upload, chunks joined in order (uploads up to
    /// [`TikTokConfig::keep_upload_bytes_up_to`] only).
    pub fn upload_bytes(&self, publish_id: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .bytes
            .get(publish_id)
            .map(|chunks| chunks.concat())
    }

    /// Every request (control API excluded).
    pub fn requests(&self) -> Vec<TikTokRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Number of requests to `endpoint` ([`Endpoint::Any`]: all).
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| endpoint == Endpoint::Any || r.endpoint == Some(endpoint))
            .count()
    }

    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock forward (token and upload address expiry, windows, caps).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }

    /// Added before every answer (control API excluded).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }
}

// ---- state -------------------------------------------------------------------------------

pub(crate) struct Shared {
    cfg: TikTokConfig,
    base_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first queued fault for `endpoint` (and, for uploads, chunk `chunk`).
    fn take_fault(&self, endpoint: Endpoint, chunk: Option<u64>) -> Option<FaultKind> {
        let mut inner = self.lock();
        let index = inner.faults.iter().position(|f| {
            (f.endpoint == Endpoint::Any || f.endpoint == endpoint)
                && (f.chunk.is_none() || f.chunk == chunk)
        })?;
        let fault = inner.faults.get_mut(index)?;
        let kind = fault.kind.clone();
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            inner.faults.remove(index);
        }
        Some(kind)
    }

    fn record(&self, endpoint: Option<Endpoint>, req: &Req, body_len: u64, status: u16) {
        let mut inner = self.lock();
        let at = inner.now();
        inner.requests.push(TikTokRequest {
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
            body_len,
            status,
            at,
        });
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Client {
    secret: String,
    redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    open_id: String,
    client_key: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    open_id: String,
    client_key: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    grant: CodeGrant,
    expires_at: DateTime<Utc>,
}

pub(crate) struct Inner {
    clock_offset: chrono::Duration,
    latency: Duration,
    users: Vec<TikTokUser>,
    clients: HashMap<String, Client>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    authorize_user: Option<String>,
    audited: bool,
    verified_prefixes: Vec<String>,
    publishes: Vec<TikTokPublish>,
    chunk_puts: Vec<ChunkPut>,
    /// publish_id → committed chunks (small uploads only).
    bytes: HashMap<String, Vec<Vec<u8>>>,
    default_plan: StatusPlan,
    faults: VecDeque<Fault>,
    requests: Vec<TikTokRequest>,
    /// (window, access token) → request times in the last minute.
    windows: HashMap<(String, String), VecDeque<DateTime<Utc>>>,
    limits: HashMap<Endpoint, u32>,
    last_id: u64,
}

impl Inner {
    fn new() -> Inner {
        Inner {
            clock_offset: chrono::Duration::zero(),
            latency: Duration::ZERO,
            users: Vec::new(),
            clients: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            authorize_user: None,
            audited: true,
            verified_prefixes: Vec::new(),
            publishes: Vec::new(),
            chunk_puts: Vec::new(),
            bytes: HashMap::new(),
            default_plan: StatusPlan::default(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            windows: HashMap::new(),
            limits: HashMap::new(),
            last_id: 7_300_000_000_000_000_000,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    fn user(&self, open_id: &str) -> Option<&TikTokUser> {
        self.users.iter().find(|u| u.open_id == open_id)
    }

    fn create_user(&mut self, username: &str, display_name: &str) -> TikTokUser {
        let username = username.trim().trim_start_matches('@').to_string();
        if let Some(existing) = self
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(&username))
        {
            return existing.clone();
        }
        let user = TikTokUser {
            open_id: format!("-000{}", random_string(ALNUM, 40)),
            union_id: format!("c9d{}", random_string(ALNUM, 30)),
            username,
            display_name: display_name.to_string(),
            private_account: false,
            max_video_post_duration_sec: 600,
            comment_disabled: false,
            duet_disabled: false,
            stitch_disabled: false,
            privacy_options: None,
        };
        self.users.push(user.clone());
        user
    }

    fn issue_tokens(
        &mut self,
        cfg: &TikTokConfig,
        open_id: &str,
        client_key: &str,
        scopes: &[String],
    ) -> TikTokTokens {
        let now = self.now();
        let access_token = format!(
            "act.{}!{}",
            random_string(ALNUM, 64),
            random_string(ALNUM, 5)
        );
        self.access.insert(
            access_token.clone(),
            AccessToken {
                open_id: open_id.to_string(),
                client_key: client_key.to_string(),
                scopes: scopes.to_vec(),
                expires_at: now + cfg.access_ttl,
            },
        );
        let refresh_token = format!(
            "rft.{}!{}",
            random_string(ALNUM, 64),
            random_string(ALNUM, 5)
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshToken {
                open_id: open_id.to_string(),
                client_key: client_key.to_string(),
                scopes: scopes.to_vec(),
                expires_at: now + cfg.refresh_ttl,
            },
        );
        TikTokTokens {
            open_id: open_id.to_string(),
            scope: scopes.join(","),
            access_token,
            expires_in: cfg.access_ttl.num_seconds(),
            refresh_token,
            refresh_expires_in: cfg.refresh_ttl.num_seconds(),
            token_type: "Bearer".into(),
        }
    }

    fn issue_code(&mut self, cfg: &TikTokConfig, grant: CodeGrant) -> Result<String, String> {
        if self.user(&grant.open_id).is_none() {
            return Err(format!("unknown user {}", grant.open_id));
        }
        let Some(client) = self.clients.get(&grant.client_key) else {
            return Err(format!("unknown client_key {}", grant.client_key));
        };
        if !client
            .redirect_uris
            .iter()
            .any(|r| api::redirect_matches(r, &grant.redirect_uri))
        {
            return Err(format!(
                "redirect_uri {} is not registered for the app",
                grant.redirect_uri
            ));
        }
        if !api::is_hex_challenge(&grant.code_challenge) {
            return Err("code_challenge must be the lower-case hex SHA-256 of the verifier".into());
        }
        let now = self.now();
        let code = random_string(ALNUM, 64);
        self.codes.insert(
            code.clone(),
            AuthCode {
                grant,
                expires_at: now + cfg.code_ttl,
            },
        );
        Ok(code)
    }
}

// ---- request dispatch ----------------------------------------------------------------------

/// A request, body read (empty for uploads, which are streamed).
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

    pub fn params(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.query).unwrap_or_default()
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

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
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
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let endpoint = Endpoint::of(&method, &path);
    // Bodies of uploads (and of the sink) are streamed, never buffered whole.
    if endpoint == Some(Endpoint::Upload) || path.trim_end_matches('/') == "/_fake/sink" {
        let req = Req {
            method,
            path,
            query: parts.uri.query().unwrap_or_default().to_string(),
            headers: parts.headers,
            body: Bytes::new(),
        };
        if req.path.starts_with("/_fake/") {
            return upload::sink(&shared, body).await.into_response();
        }
        return upload::handle(shared, conn, req, body).await;
    }
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => {
            return Reply::json(
                400,
                api::envelope_error("invalid_params", "unreadable body"),
            )
            .into_response()
        }
    };
    let req = Req {
        method,
        path,
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
    // TikTok fetches photo URLs itself: so does the fake, before it takes the lock.
    let pulled = if endpoint == Some(Endpoint::ContentInit) {
        Some(api::pull_photos(&shared, &req).await)
    } else {
        None
    };
    let (reply, after) = match endpoint {
        None => (api::not_found(), After::Nothing),
        Some(endpoint) => match shared.take_fault(endpoint, None) {
            None => (
                api::process(&shared, endpoint, &req, pulled),
                After::Nothing,
            ),
            Some(FaultKind::Error {
                status,
                code,
                message,
            }) => (
                api::fault_error(status, code.as_deref(), message.as_deref()),
                After::Nothing,
            ),
            Some(FaultKind::RateLimited { retry_after_secs }) => {
                (api::too_many(retry_after_secs), After::Nothing)
            }
            Some(FaultKind::DropBeforeCommit) | Some(FaultKind::DropMidBody { .. }) => {
                (Reply::empty(500), After::Drop)
            }
            Some(FaultKind::DropAfterCommit) => {
                (api::process(&shared, endpoint, &req, pulled), After::Drop)
            }
            Some(FaultKind::DelayBefore { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                (
                    api::process(&shared, endpoint, &req, pulled),
                    After::Nothing,
                )
            }
            Some(FaultKind::DelayAfterCommit { ms }) => (
                api::process(&shared, endpoint, &req, pulled),
                After::Delay(Duration::from_millis(ms)),
            ),
        },
    };
    let status = match after {
        After::Drop => 0,
        _ => reply.status,
    };
    shared.record(endpoint, &req, req.body.len() as u64, status);
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
