//! A faithful in-process fake of the Pinterest API v5 (`pinterest.md`), on one real loopback
//! listener that also serves the OAuth consent page (`GET /oauth/`, the real one is on
//! www.pinterest.com) and the S3-style video upload form (`POST /pinterest-media-upload/`).
//!
//! Implemented: `POST /v5/oauth/token` (Basic client auth; `authorization_code` and
//! `refresh_token` grants, every refresh rotates the refresh token, a refresh token unused for
//! 60 days expires), `GET /v5/user_account`, `GET /v5/boards` (`bookmark` paging, `page_size`
//! 1..250, `privacy` filter), `GET /v5/boards/{id}`, `GET /v5/boards/{id}/pins`,
//! `POST /v5/pins` (every `media_source` variant validated, base64 decoded and sniffed as an
//! image, carousel 2–5 items of one size, text limits, board ownership), `GET /v5/pins`
//! (newest first), `GET /v5/pins/{id}` (Trial: visible only to the creator),
//! `POST /v5/media`, `GET /v5/media/{id}` (`registered` → `processing` → `succeeded` /
//! `failed`, paced by a [`MediaPlan`] the test controls), the upload form (every
//! `upload_parameters` field, the `file` field last, no bearer token).
//!
//! Every API answer carries `x-pinterest-rid` and `x-ratelimit-limit` / `-remaining` /
//! `-reset` of the category it counted against (universal, `org_write`, `org_read`; their real
//! presence and the reset form are UNCONFIRMED, see [`ResetForm`]). Error bodies are the
//! Generic Error `{"code", "message"}`; the numeric codes other than 2 (authentication) are
//! UNCONFIRMED and chosen here.
//!
//! Tests drive the fake through [`PinterestFake`]'s methods or, from another process, the
//! control API under `/_fake/` (see the `control` module).

mod api;
mod control;
mod image;
mod upload;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::common::{random_string, spawn_server, ConnInfo, RateLimiter, ServerGuard};

/// Every scope a test token gets unless it asks for fewer.
pub const ALL_SCOPES: [&str; 5] = [
    "boards:read",
    "boards:write",
    "pins:read",
    "pins:write",
    "user_accounts:read",
];
/// Path of the S3-style upload form on the fake's listener.
pub const UPLOAD_PATH: &str = "/pinterest-media-upload/";

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// How `x-ratelimit-reset` is written (UNCONFIRMED on the real API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetForm {
    /// Seconds until the window resets (how third-party clients read it).
    Seconds,
    /// Unix epoch seconds of the reset.
    Epoch,
}

/// One fixed-window limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub limit: u32,
    pub window_secs: i64,
}

/// The limits of the three categories the fake counts. Trial limits are per app, Standard
/// limits per user per app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Every API request.
    pub universal: RateLimit,
    /// `POST /v5/pins`, `POST /v5/media`.
    pub org_write: RateLimit,
    /// Reads and `POST /v5/oauth/token`.
    pub org_read: RateLimit,
}

impl Limits {
    /// Standard access: 100 requests/s; org_write 100/min; org_read 1,000/min.
    pub fn standard() -> Limits {
        Limits {
            universal: RateLimit {
                limit: 100,
                window_secs: 1,
            },
            org_write: RateLimit {
                limit: 100,
                window_secs: 60,
            },
            org_read: RateLimit {
                limit: 1000,
                window_secs: 60,
            },
        }
    }

    /// Trial access: 1,000 requests/day; org_write 300/day; org_read 1,000/day.
    pub fn trial() -> Limits {
        const DAY: i64 = 86_400;
        Limits {
            universal: RateLimit {
                limit: 1000,
                window_secs: DAY,
            },
            org_write: RateLimit {
                limit: 300,
                window_secs: DAY,
            },
            org_read: RateLimit {
                limit: 1000,
                window_secs: DAY,
            },
        }
    }
}

/// Settings of a fake; the defaults are Pinterest's documented values.
#[derive(Debug, Clone)]
pub struct PinterestConfig {
    /// The one developer app the fake knows.
    pub client_id: String,
    pub client_secret: String,
    /// Access token lifetime (≈ 30 days, 3P).
    pub access_ttl: chrono::Duration,
    /// Continuous refresh token lifetime (60 days, renewed by every refresh).
    pub refresh_ttl: chrono::Duration,
    /// Authorization code lifetime.
    pub code_ttl: chrono::Duration,
    /// Trial access: Trial rate limits, and Pins visible only to their creator.
    pub trial: bool,
    /// Accept `http://` redirect URIs (the official quickstart says HTTPS is required).
    pub allow_http_redirects: bool,
    /// Send `x-ratelimit-*` headers.
    pub rate_limit_headers: bool,
    pub reset_form: ResetForm,
    /// `None`: [`Limits::trial`] or [`Limits::standard`] after `trial`.
    pub limits: Option<Limits>,
    /// Largest video upload the form accepts (2 GB, 3P).
    pub max_video_bytes: u64,
    /// How long an upload policy stays valid after `POST /v5/media`.
    pub upload_policy_ttl: chrono::Duration,
    /// Port to listen on (0 = any free port).
    pub port: u16,
}

impl Default for PinterestConfig {
    fn default() -> Self {
        PinterestConfig {
            client_id: "1500000".into(),
            client_secret: "fake-pinterest-app-secret".into(),
            access_ttl: chrono::Duration::days(30),
            refresh_ttl: chrono::Duration::days(60),
            code_ttl: chrono::Duration::minutes(10),
            trial: false,
            allow_http_redirects: false,
            rate_limit_headers: true,
            reset_form: ResetForm::Seconds,
            limits: None,
            max_video_bytes: 2_000_000_000,
            upload_policy_ttl: chrono::Duration::hours(1),
            port: 0,
        }
    }
}

/// How a registered video's processing goes once its file arrived. Each `GET /v5/media/{id}`
/// after the upload is one poll. JSON: `{"type":"succeed_after_polls","polls":1}`,
/// `{"type":"fail_after_polls","polls":0}`, `{"type":"never_finishes"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaPlan {
    /// `processing` for `polls` polls, then `succeeded`.
    SucceedAfterPolls { polls: u32 },
    /// `processing` for `polls` polls, then `failed`.
    FailAfterPolls { polls: u32 },
    /// `processing` for ever.
    NeverFinishes,
}

impl Default for MediaPlan {
    fn default() -> Self {
        MediaPlan::SucceedAfterPolls { polls: 1 }
    }
}

/// A queued fault. Each request matching `route` consumes one of `times`, in push order.
/// `route` is `"METHOD /path"` or `"/path"` (any method); a path ending in `*` is a prefix;
/// `"*"` matches every request (the control API excepted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub route: String,
    #[serde(default = "one")]
    pub times: u32,
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

/// What a fault does. JSON (tagged by `type`): `{"type":"status","status":503}`,
/// `{"type":"rate_limited","reset_secs":30}`, `{"type":"spam"}`,
/// `{"type":"drop_after_commit"}`, `{"type":"drop_before"}`, `{"type":"delay_before","ms":100}`,
/// `{"type":"html","status":502}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` with a Generic Error body (`body` if given); no side effect.
    Status {
        status: u16,
        #[serde(default)]
        body: Option<Value>,
    },
    /// `429` with `x-ratelimit-remaining: 0` and a reset `reset_secs` away; no side effect.
    RateLimited { reset_secs: u64 },
    /// `429` from the spam block (`message_detail` mentions spam); no side effect.
    Spam,
    /// Perform the request (the Pin IS created), then close the connection unanswered.
    DropAfterCommit,
    /// Close the connection without performing the request.
    DropBefore,
    /// Wait, then perform the request normally.
    DelayBefore { ms: u64 },
    /// A proxy's HTML error page; no side effect.
    Html { status: u16 },
}

impl Fault {
    pub fn new(route: &str, times: u32, kind: FaultKind) -> Fault {
        Fault {
            route: route.to_string(),
            times,
            kind,
        }
    }
    /// `status` with a Generic Error body (e.g. 503).
    pub fn status(route: &str, times: u32, status: u16) -> Fault {
        Fault::new(route, times, FaultKind::Status { status, body: None })
    }
    pub fn rate_limited(route: &str, times: u32, reset_secs: u64) -> Fault {
        Fault::new(route, times, FaultKind::RateLimited { reset_secs })
    }
    pub fn spam(route: &str, times: u32) -> Fault {
        Fault::new(route, times, FaultKind::Spam)
    }
    pub fn drop_after_commit(route: &str, times: u32) -> Fault {
        Fault::new(route, times, FaultKind::DropAfterCommit)
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let route = self.route.trim();
        if route == "*" {
            return true;
        }
        let (want_method, want_path) = match route.split_once(' ') {
            Some((m, p)) => (Some(m.trim()), p.trim()),
            None => (None, route),
        };
        if want_method.is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
            return false;
        }
        match want_path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == want_path,
        }
    }
}

/// One request as the fake saw it (control API excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinterestRequest {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Raw query string without the `?`.
    pub query: String,
    /// Header names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Raw body (base64 in the JSON form).
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    /// Status answered; `0` when the connection was closed without an answer.
    pub status: u16,
    pub at: DateTime<Utc>,
}

impl PinterestRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    /// The form fields of a `x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }
    /// A query parameter.
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

/// A user the fake knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeUser {
    pub id: String,
    pub username: String,
    pub account_type: String,
    pub business_name: Option<String>,
}

/// A token pair issued by [`PinterestFake::issue_tokens`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub refresh_token_expires_in: i64,
    pub scope: String,
}

/// A Pin as stored (what [`PinterestFake::pins`] returns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPin {
    pub id: String,
    pub board_id: String,
    pub board_section_id: Option<String>,
    pub owner: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub link: Option<String>,
    pub alt_text: Option<String>,
    pub dominant_color: Option<String>,
    /// `image`, `multiple_images` or `video`.
    pub media_type: String,
    /// The `media_source.source_type` it was created with.
    pub source_type: String,
    /// Pixel sizes of the images (base64 sources; empty for URLs and video).
    pub image_sizes: Vec<(u32, u32)>,
    /// Image URLs (URL sources).
    pub image_urls: Vec<String>,
    /// The `media_id` of a video Pin.
    pub media_id: Option<String>,
    /// The cover fields of a video Pin (base64 data replaced by its length).
    pub cover: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// A registered video as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMedia {
    pub media_id: String,
    pub owner: String,
    /// `registered`, `processing`, `succeeded` or `failed`.
    pub status: String,
    pub plan: MediaPlan,
    /// Status checks since the file arrived.
    pub polls: u32,
    pub upload_parameters: BTreeMap<String, String>,
    /// Set once the file arrived.
    pub uploaded_bytes: Option<u64>,
    pub upload_file_name: Option<String>,
    pub upload_content_type: Option<String>,
    /// Form field names in the order they arrived (`file` included).
    pub upload_fields: Vec<String>,
    /// The uploaded file starts like an MP4/MOV (`ftyp`); processing of anything else fails.
    pub looks_like_video: bool,
    pub registered_at: DateTime<Utc>,
}

/// Handle to a running fake; cheap to clone. The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct PinterestFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl PinterestFake {
    /// Starts the fake on `127.0.0.1` (panics if no port can be bound: a test kit).
    pub async fn start(config: PinterestConfig) -> PinterestFake {
        match PinterestFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the Pinterest fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: PinterestConfig) -> std::io::Result<PinterestFake> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            inner: Mutex::new(Inner::new(&config)),
            cfg: config,
        });
        let task = {
            let shared = shared.clone();
            spawn_server(listener, move |req, conn| handle(shared.clone(), conn, req))
        };
        Ok(PinterestFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// `http://127.0.0.1:<port>` (no trailing `/`; API paths start with `/v5`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The consent page (`/oauth/`), standing in for `https://www.pinterest.com/oauth/`.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/", self.shared.base_url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/v5/oauth/token", self.shared.base_url)
    }

    /// Where `POST /v5/media` sends uploads.
    pub fn upload_url(&self) -> String {
        format!("{}{UPLOAD_PATH}", self.shared.base_url)
    }

    pub fn config(&self) -> PinterestConfig {
        self.shared.cfg.clone()
    }

    pub fn client_id(&self) -> String {
        self.shared.cfg.client_id.clone()
    }

    pub fn client_secret(&self) -> String {
        self.shared.cfg.client_secret.clone()
    }

    /// Adds a business account (or returns the existing one).
    pub fn add_user(&self, username: &str) -> FakeUser {
        self.shared.lock().add_user(username)
    }

    /// An access + refresh token pair with every scope, as a code grant would give.
    pub fn issue_tokens(&self, username: &str) -> IssuedTokens {
        self.issue_tokens_with_scopes(username, &ALL_SCOPES)
    }

    pub fn issue_tokens_with_scopes(&self, username: &str, scopes: &[&str]) -> IssuedTokens {
        let cfg = &self.shared.cfg;
        let mut inner = self.shared.lock();
        let user = inner.add_user(username);
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        inner.issue(cfg, &user.id, &scopes)
    }

    /// Every access token issued so far answers 401 from now on.
    pub fn expire_access_tokens(&self) {
        for t in self.shared.lock().access.values_mut() {
            t.revoked = true;
        }
    }

    /// The user's refresh tokens stop working (`400 invalid_grant`), and so do their access
    /// tokens (the app's access was revoked). Returns `false` for an unknown user.
    pub fn revoke_tokens(&self, username: &str) -> bool {
        let mut inner = self.shared.lock();
        let Some(id) = inner.user_id(username) else {
            return false;
        };
        inner.refresh.retain(|_, t| t.user != id);
        for t in inner.access.values_mut().filter(|t| t.user == id) {
            t.revoked = true;
        }
        true
    }

    /// Only the refresh tokens of the user stop working (access tokens still work).
    pub fn revoke_refresh_tokens(&self, username: &str) -> bool {
        let mut inner = self.shared.lock();
        let Some(id) = inner.user_id(username) else {
            return false;
        };
        inner.refresh.retain(|_, t| t.user != id);
        true
    }

    /// Adds a board owned by `username` (created if new); returns its id (digits).
    pub fn add_board(&self, username: &str, name: &str, privacy: &str) -> String {
        let mut inner = self.shared.lock();
        let user = inner.add_user(username);
        inner.add_board(&user.id, name, privacy)
    }

    /// Adds a section to a board; `None` for an unknown board.
    pub fn add_board_section(&self, board_id: &str, name: &str) -> Option<String> {
        self.shared.lock().add_section(board_id, name)
    }

    /// Registers a redirect URI on the app. Refused (`Err`) for `http://` unless
    /// [`PinterestConfig::allow_http_redirects`] or [`PinterestFake::set_allow_http_redirects`].
    pub fn register_redirect_uri(&self, uri: &str) -> Result<(), String> {
        self.shared.lock().register_redirect(uri)
    }

    pub fn set_allow_http_redirects(&self, allow: bool) {
        self.shared.lock().allow_http_redirects = allow;
    }

    /// The user who consents on the fake's `/oauth/` page (default: the first user).
    pub fn set_consenting_user(&self, username: &str) -> bool {
        let mut inner = self.shared.lock();
        match inner.user_id(username) {
            Some(id) => {
                inner.consenting = Some(id);
                true
            }
            None => false,
        }
    }

    /// Every Pin, in creation order.
    pub fn pins(&self) -> Vec<StoredPin> {
        self.shared.lock().pins.clone()
    }

    /// Every registered video, in registration order.
    pub fn media(&self) -> Vec<StoredMedia> {
        self.shared.lock().media.clone()
    }

    /// How videos registered from now on are processed (default: succeed after 1 poll).
    pub fn set_media_plan(&self, plan: MediaPlan) {
        self.shared.lock().media_plan = plan;
    }

    /// Changes one video's plan (e.g. to fail it after it was uploaded).
    pub fn set_media_plan_of(&self, media_id: &str, plan: MediaPlan) -> bool {
        let mut inner = self.shared.lock();
        match inner.media.iter_mut().find(|m| m.media_id == media_id) {
            Some(m) => {
                m.plan = plan;
                true
            }
            None => false,
        }
    }

    /// Forces a video's status (`registered`, `processing`, `succeeded`, `failed`).
    pub fn set_media_status(&self, media_id: &str, status: &str) -> bool {
        let mut inner = self.shared.lock();
        match inner.media.iter_mut().find(|m| m.media_id == media_id) {
            Some(m) => {
                m.status = status.to_string();
                true
            }
            None => false,
        }
    }

    /// `image_url` sources with this URL fail with "Unable to reach the URL".
    pub fn set_unreachable_url(&self, url: &str) {
        self.shared.lock().unreachable.insert(url.to_string());
    }

    /// Trial access on or off (limits follow unless [`PinterestFake::set_limits`] was used).
    pub fn set_trial(&self, trial: bool) {
        let mut inner = self.shared.lock();
        inner.trial = trial;
        if !inner.limits_pinned {
            inner.limits = if trial {
                Limits::trial()
            } else {
                Limits::standard()
            };
        }
        inner.limiter = RateLimiter::default();
    }

    /// Replaces the rate limits (and forgets what was counted).
    pub fn set_limits(&self, limits: Limits) {
        let mut inner = self.shared.lock();
        inner.limits = limits;
        inner.limits_pinned = true;
        inner.limiter = RateLimiter::default();
    }

    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every request received (control API excluded).
    pub fn requests(&self) -> Vec<PinterestRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Requests whose method and path match exactly.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<PinterestRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
            .cloned()
            .collect()
    }

    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock (token and code expiry, rate windows, upload policies).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }
}

// ---- state -------------------------------------------------------------------------------

pub(crate) struct Shared {
    cfg: PinterestConfig,
    base_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_fault(&self, method: &str, path: &str) -> Option<FaultKind> {
        let mut inner = self.lock();
        let index = inner.faults.iter().position(|f| f.matches(method, path))?;
        let fault = inner.faults.get_mut(index)?;
        let kind = fault.kind.clone();
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            inner.faults.remove(index);
        }
        Some(kind)
    }

    fn record(&self, req: &Req, status: u16) {
        let mut inner = self.lock();
        let at = inner.now();
        inner.requests.push(PinterestRequest {
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
pub(crate) struct AccessToken {
    user: String,
    expires_at: DateTime<Utc>,
    revoked: bool,
    scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    user: String,
    expires_at: DateTime<Utc>,
    scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    user: String,
    redirect_uri: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Board {
    id: String,
    owner: String,
    name: String,
    description: String,
    privacy: String,
    created_at: DateTime<Utc>,
    sections: Vec<(String, String)>,
}

pub(crate) struct Inner {
    clock_offset: chrono::Duration,
    trial: bool,
    limits: Limits,
    /// `set_limits` was called: `set_trial` leaves the limits alone.
    limits_pinned: bool,
    allow_http_redirects: bool,
    users: Vec<FakeUser>,
    boards: Vec<Board>,
    pins: Vec<StoredPin>,
    media: Vec<StoredMedia>,
    media_plan: MediaPlan,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    redirect_uris: Vec<String>,
    consenting: Option<String>,
    unreachable: HashSet<String>,
    faults: VecDeque<Fault>,
    requests: Vec<PinterestRequest>,
    limiter: RateLimiter,
    next_id: u64,
}

impl Inner {
    fn new(cfg: &PinterestConfig) -> Inner {
        let limits = cfg.limits.unwrap_or(if cfg.trial {
            Limits::trial()
        } else {
            Limits::standard()
        });
        Inner {
            clock_offset: chrono::Duration::zero(),
            trial: cfg.trial,
            limits,
            limits_pinned: cfg.limits.is_some(),
            allow_http_redirects: cfg.allow_http_redirects,
            users: Vec::new(),
            boards: Vec::new(),
            pins: Vec::new(),
            media: Vec::new(),
            media_plan: MediaPlan::default(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            redirect_uris: Vec::new(),
            consenting: None,
            unreachable: HashSet::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            limiter: RateLimiter::default(),
            next_id: 1,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// A fresh id of `digits` digits (Pinterest ids are long decimal strings).
    fn new_id(&mut self, prefix: &str, digits: usize) -> String {
        let n = self.next_id;
        self.next_id += 1;
        let tail = n.to_string();
        let pad = digits.saturating_sub(prefix.len() + tail.len());
        format!("{prefix}{}{tail}", "0".repeat(pad))
    }

    fn user_id(&self, username: &str) -> Option<String> {
        let name = username.trim().trim_start_matches('@').to_ascii_lowercase();
        self.users
            .iter()
            .find(|u| u.username == name || u.id == username)
            .map(|u| u.id.clone())
    }

    fn user(&self, id: &str) -> Option<&FakeUser> {
        self.users.iter().find(|u| u.id == id)
    }

    fn add_user(&mut self, username: &str) -> FakeUser {
        let name = username.trim().trim_start_matches('@').to_ascii_lowercase();
        if let Some(u) = self.users.iter().find(|u| u.username == name) {
            return u.clone();
        }
        let user = FakeUser {
            id: self.new_id("8", 18),
            business_name: Some(format!("{name} (business)")),
            username: name,
            account_type: "BUSINESS".into(),
        };
        self.users.push(user.clone());
        if self.consenting.is_none() {
            self.consenting = Some(user.id.clone());
        }
        user
    }

    fn add_board(&mut self, owner: &str, name: &str, privacy: &str) -> String {
        let id = self.new_id("5497", 12);
        let created_at = self.now();
        self.boards.push(Board {
            id: id.clone(),
            owner: owner.to_string(),
            name: name.to_string(),
            description: String::new(),
            privacy: privacy.to_ascii_uppercase(),
            created_at,
            sections: Vec::new(),
        });
        id
    }

    fn add_section(&mut self, board_id: &str, name: &str) -> Option<String> {
        let id = self.new_id("4", 12);
        let board = self.boards.iter_mut().find(|b| b.id == board_id)?;
        board.sections.push((id.clone(), name.to_string()));
        Some(id)
    }

    fn register_redirect(&mut self, uri: &str) -> Result<(), String> {
        let lower = uri.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        let http = lower.starts_with("http://");
        let allowed = https || (http && self.allow_http_redirects);
        if !allowed {
            return Err(if http {
                format!("redirect URI {uri} must use https")
            } else {
                format!("redirect URI {uri} is not a web address")
            });
        }
        if !self.redirect_uris.iter().any(|u| u == uri) {
            self.redirect_uris.push(uri.to_string());
        }
        Ok(())
    }

    fn issue(&mut self, cfg: &PinterestConfig, user: &str, scopes: &[String]) -> IssuedTokens {
        let now = self.now();
        let access = format!("pina_{}", random_string(ALNUM, 48));
        let refresh = format!("pinr_{}", random_string(ALNUM, 48));
        self.access.insert(
            access.clone(),
            AccessToken {
                user: user.to_string(),
                expires_at: now + cfg.access_ttl,
                revoked: false,
                scopes: scopes.to_vec(),
            },
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshToken {
                user: user.to_string(),
                expires_at: now + cfg.refresh_ttl,
                scopes: scopes.to_vec(),
            },
        );
        IssuedTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: cfg.access_ttl.num_seconds(),
            refresh_token_expires_in: cfg.refresh_ttl.num_seconds(),
            scope: scopes.join(","),
        }
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
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.query).unwrap_or_default()
    }
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

enum After {
    Nothing,
    Drop,
}

/// The first image address in a create-pin body that cannot be fetched as an image, if any.
async fn unfetchable_image_url(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let src = v.get("media_source")?;
    let mut urls: Vec<String> = Vec::new();
    if let Some(u) = src.get("url").and_then(|u| u.as_str()) {
        urls.push(u.to_string());
    }
    if let Some(items) = src.get("items").and_then(|i| i.as_array()) {
        urls.extend(
            items
                .iter()
                .filter_map(|i| i.get("url").and_then(|u| u.as_str()).map(str::to_string)),
        );
    }
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .ok()?;
    for url in urls {
        // Only addresses a test serves can be fetched here (no internet); others are taken on
        // trust, as before.
        let local = url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
        if !local {
            continue;
        }
        let fetched = match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.bytes().await.ok(),
            _ => None,
        };
        if fetched.as_deref().and_then(image::inspect).is_none() {
            return Some(url);
        }
    }
    None
}

async fn handle(shared: Arc<Shared>, conn: ConnInfo, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => return api::generic(400, 1, "could not read the request body"),
    };
    let req = Req {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body,
    };
    if req.path == "/_fake" || req.path.starts_with("/_fake/") {
        return control::handle(&shared, &req);
    }
    // Pinterest fetches `image_url` / `multiple_image_urls` itself when the pin is created:
    // so does the fake, and an address it cannot fetch (or that is not an image) is refused
    // the way Pinterest refuses it.
    if req.method == "POST" && req.path == "/v5/pins" {
        if let Some(url) = unfetchable_image_url(&req.body).await {
            return api::generic(400, 1, &format!("Unable to reach the URL: {url}"));
        }
    }
    let (response, after) = match shared.take_fault(&req.method, &req.path) {
        None => (api::route(&shared, &req), After::Nothing),
        Some(FaultKind::Status { status, body }) => {
            (api::fault_status(status, body), After::Nothing)
        }
        Some(FaultKind::RateLimited { reset_secs }) => {
            (api::fault_rate_limited(&shared, reset_secs), After::Nothing)
        }
        Some(FaultKind::Spam) => (api::fault_spam(), After::Nothing),
        Some(FaultKind::Html { status }) => (api::html_error(status), After::Nothing),
        Some(FaultKind::DelayBefore { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (api::route(&shared, &req), After::Nothing)
        }
        Some(FaultKind::DropAfterCommit) => (api::route(&shared, &req), After::Drop),
        Some(FaultKind::DropBefore) => (api::generic(500, 1, "dropped"), After::Drop),
    };
    let response = api::with_rid(response);
    match after {
        After::Nothing => {
            shared.record(&req, response.status().as_u16());
            response
        }
        After::Drop => {
            shared.record(&req, 0);
            conn.kill();
            std::future::pending().await
        }
    }
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn random_hex(len: usize) -> String {
    random_string(HEX, len)
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

pub(crate) fn pin_json(pin: &StoredPin, inner: &Inner) -> Value {
    let owner = inner
        .user(&pin.owner)
        .map(|u| u.username.clone())
        .unwrap_or_default();
    let media = match pin.media_type.as_str() {
        "video" => json!({
            "media_type": "video",
            "cover_image_url": format!("https://i.pinimg.com/videos/thumbnails/originals/{}.jpg", pin.id),
            "duration": 10000.0,
            "height": 1920,
            "width": 1080,
        }),
        "multiple_images" => json!({
            "media_type": "multiple_images",
            "items": pin
                .image_sizes
                .iter()
                .map(|(w, h)| json!({ "width": w, "height": h }))
                .chain(pin.image_urls.iter().map(|u| json!({ "url": u })))
                .collect::<Vec<_>>(),
        }),
        _ => {
            let (w, h) = pin.image_sizes.first().copied().unwrap_or((1000, 1500));
            json!({
                "media_type": "image",
                "images": { "originals": { "width": w, "height": h, "url": format!("https://i.pinimg.com/originals/{}.jpg", pin.id) } },
            })
        }
    };
    json!({
        "id": pin.id,
        "created_at": rfc3339(pin.created_at),
        "link": pin.link,
        "title": pin.title,
        "description": pin.description,
        "dominant_color": pin.dominant_color.clone().unwrap_or_else(|| "#6E7874".into()),
        "alt_text": pin.alt_text,
        "creative_type": match pin.media_type.as_str() {
            "video" => "VIDEO",
            "multiple_images" => "CAROUSEL",
            _ => "REGULAR",
        },
        "board_id": pin.board_id,
        "board_section_id": pin.board_section_id,
        "board_owner": { "username": owner },
        "is_owner": true,
        "media": media,
        "parent_pin_id": null,
        "is_standard": true,
        "has_been_promoted": false,
        "note": "",
        "pin_metrics": null,
    })
}
