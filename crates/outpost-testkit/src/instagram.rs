//! A faithful in-process fake of Instagram's Content Publishing API (`instagram.md`), both
//! set-ups on one real loopback listener:
//!
//! - **Instagram Login** (`graph.instagram.com`): Instagram User tokens (`IGAA…`), the consent
//!   page `GET /oauth/authorize` (answers with a redirect whose address ends in `#_`), the code
//!   exchange `POST /oauth/access_token` (needs `client_secret`; answers in the wrapped
//!   `{"data":[…]}` or the flat shape, see [`TokenShape`]), `GET /access_token`
//!   (`ig_exchange_token`, short → long-lived) and `GET /refresh_access_token`
//!   (`ig_refresh_token`: refuses tokens younger than 24 h and expired ones with a code-190
//!   `OAuthException`; the exact body is UNCONFIRMED).
//! - **Facebook Login** (`graph.facebook.com` + `rupload.facebook.com`): Facebook user and Page
//!   tokens (`EAA…`), `GET /{v}/oauth/access_token` (`fb_exchange_token`),
//!   `GET /{v}/me/accounts` (Pages with their `instagram_business_account`), and the resumable
//!   video upload `POST /ig-api-upload/{v}/{container-id}` (`Authorization: OAuth <token>`,
//!   `offset`, `file_size` or `file_url` headers) — Facebook Login tokens only.
//!
//! The same paths serve both hosts (`OUTPOST_INSTAGRAM_BASE_URL` replaces both): which set-up a
//! request belongs to is told by its token. Paths may carry a Graph version (`/v25.0/…`) or
//! none.
//!
//! Publishing: `POST /{ig-user-id}/media` validates the `media_type` / `image_url` /
//! `video_url` / `is_carousel_item` / `children` combinations, fetches `image_url` and
//! `video_url` from loopback addresses (an address it cannot fetch fails with `9004/2207052`,
//! like Meta's crawler; non-loopback addresses are taken on trust unless marked unreachable),
//! refuses non-JPEG images (`36001/2207005`), images over 8 MiB (`36000/2207004`), carousels
//! outside 2–10 (`100/2207028`) or with unfinished children, and more than 400 containers per
//! 24 h. `GET /{container-id}?fields=status_code,status` runs each container's state machine
//! ([`Processing`]: `IN_PROGRESS` for N polls, then `FINISHED` or `ERROR` with a reason;
//! `EXPIRED` once the fake's clock is 24 h past creation; `PUBLISHED` after `media_publish`).
//! `POST /{ig-user-id}/media_publish` refuses unfinished containers (`9007/2207027`), expired
//! ones (`-2/2207020`), already published ones (UNCONFIRMED body) and posts past the quota
//! (`9/2207042`). `GET /{ig-user-id}/content_publishing_limit` reports the rolling-24 h usage.
//! `GET /{ig-user-id}/media` lists published media newest first, `GET /{media-id}` reads one,
//! `POST /{media-id}/comments` comments.
//!
//! Every Graph answer for a known account carries `X-Business-Use-Case-Usage` with an
//! `"type":"instagram"` entry; [`InstagramFake::throttle`] turns on the `80002` throttle with
//! `estimated_time_to_regain_access`. Ids are numeric strings above 2^53. Errors use the Graph
//! envelope `{"error":{"message","type","code","error_subcode","is_transient","fbtrace_id"}}`.
//!
//! Tests drive the fake through [`InstagramFake`]'s methods or, from another process, the
//! control API under `/_fake/` (see the `control` module).

mod control;
mod graph;
mod oauth;
mod upload;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::common::{random_string, spawn_server, ConnInfo, ServerGuard};

/// The Graph version the fake advertises (any `vNN.N` prefix is accepted, or none).
pub const GRAPH_VERSION: &str = "v25.0";
/// What an Instagram Login token gets unless the test asks for fewer.
pub const INSTAGRAM_SCOPES: [&str; 3] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
];
/// What a Facebook Login token gets unless the test asks for fewer.
pub const FACEBOOK_SCOPES: [&str; 5] = [
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "pages_read_engagement",
    "pages_show_list",
];
/// Path prefix of the resumable upload host (`rupload.facebook.com/ig-api-upload/{v}/{id}`).
pub const UPLOAD_PREFIX: &str = "/ig-api-upload/";
/// `expires_in` of a long-lived token, as Meta answers it.
pub const LONG_LIVED_SECS: i64 = 5_183_944;
/// Largest image Instagram takes (8 MiB).
pub const IMAGE_MAX_BYTES: u64 = 8 * 1024 * 1024;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Which set-up an account (and its tokens) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Login {
    /// Business Login for Instagram (`graph.instagram.com`, Instagram User tokens).
    Instagram,
    /// Facebook Login for Business: the account is linked to a Page (`graph.facebook.com`).
    Facebook,
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Instagram Login, from the code exchange (1 h).
    InstagramShort,
    /// Instagram Login, from `ig_exchange_token` / `ig_refresh_token` (60 days).
    InstagramLong,
    /// Facebook Login user token from the dialog (1–2 h).
    FacebookShort,
    /// Facebook Login long-lived user token (60 days).
    FacebookLong,
    /// The linked Page's token (does not expire).
    FacebookPage,
}

impl TokenKind {
    pub fn login(self) -> Login {
        match self {
            TokenKind::InstagramShort | TokenKind::InstagramLong => Login::Instagram,
            _ => Login::Facebook,
        }
    }
}

/// The shape of the Instagram code exchange's answer (the docs and production disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenShape {
    /// `{"data":[{"access_token","user_id","permissions"}]}` (the reference page).
    Wrapped,
    /// `{"access_token","user_id","permissions"}` (what Postiz reads in production).
    Flat,
}

/// Settings of a fake; the defaults are the documented values.
#[derive(Debug, Clone)]
pub struct InstagramConfig {
    /// The Instagram app id (Instagram Login) — also accepted as the Meta app id.
    pub client_id: String,
    pub client_secret: String,
    /// Posts per rolling 24 h (`quota_total`; the docs say 100 or 50).
    pub quota_total: u32,
    /// Containers per rolling 24 h.
    pub container_cap: u32,
    /// Short-lived token lifetime (1 h).
    pub short_ttl: chrono::Duration,
    /// Long-lived token lifetime (60 days).
    pub long_ttl: chrono::Duration,
    pub code_ttl: chrono::Duration,
    pub token_shape: TokenShape,
    /// Accept `http://` redirect URIs (Instagram Login probably wants https: UNCONFIRMED).
    pub allow_http_redirects: bool,
    /// BUC calls per 24 h per app–user pair (`4800 × impressions`; impressions taken as 1).
    pub calls_per_day: u32,
    /// Port to listen on (0 = any free port).
    pub port: u16,
}

impl Default for InstagramConfig {
    fn default() -> Self {
        InstagramConfig {
            client_id: "990000000000001".into(),
            client_secret: "fake-instagram-app-secret".into(),
            quota_total: 50,
            container_cap: 400,
            short_ttl: chrono::Duration::hours(1),
            long_ttl: chrono::Duration::seconds(LONG_LIVED_SECS),
            code_ttl: chrono::Duration::hours(1),
            token_shape: TokenShape::Wrapped,
            allow_http_redirects: false,
            calls_per_day: 4800,
            port: 0,
        }
    }
}

/// How a container's processing goes. Each `GET /{container-id}` is one poll. JSON:
/// `{"type":"finish_after","polls":1}`, `{"type":"error_after","polls":0,"status":"…"}`,
/// `{"type":"never"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Processing {
    /// `IN_PROGRESS` for `polls` polls, then `FINISHED`.
    FinishAfter { polls: u32 },
    /// `IN_PROGRESS` for `polls` polls, then `ERROR` with `status` as the reason.
    ErrorAfter {
        polls: u32,
        #[serde(default = "default_error_status")]
        status: String,
    },
    /// `IN_PROGRESS` for ever (until the 24 h expiry).
    Never,
}

fn default_error_status() -> String {
    "Error: Media upload has failed with error code 2207026. The video format is not supported."
        .into()
}

impl Processing {
    pub fn finished() -> Processing {
        Processing::FinishAfter { polls: 0 }
    }
    pub fn error(polls: u32, status: &str) -> Processing {
        Processing::ErrorAfter {
            polls,
            status: status.to_string(),
        }
    }
}

/// Which containers a [`Processing`] default applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Image containers (single, carousel child, story).
    Image,
    /// Reels, carousel video children, video stories.
    Video,
    /// Carousel parents.
    Carousel,
}

/// The processing every new container gets, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingPlan {
    pub image: Processing,
    pub video: Processing,
    pub carousel: Processing,
}

impl Default for ProcessingPlan {
    /// Images and carousels are ready at the first poll, videos after one `IN_PROGRESS`.
    fn default() -> Self {
        ProcessingPlan {
            image: Processing::finished(),
            video: Processing::FinishAfter { polls: 1 },
            carousel: Processing::finished(),
        }
    }
}

/// A queued fault. Each request matching `route` consumes one of `times`, in push order.
/// `route` is `"METHOD PATH"` or `"PATH"`; PATH is matched against the path without its Graph
/// version (`/1789…/media_publish`) and may use `*` as a wildcard (`"POST */media_publish"`);
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
/// `{"type":"graph","code":-2,"subcode":2207003,"message":"…"}`,
/// `{"type":"drop_after_commit"}`, `{"type":"drop_before"}`, `{"type":"delay_before","ms":100}`,
/// `{"type":"html","status":502}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` with `body` (default: a Graph code-2 "service unavailable" envelope).
    Status {
        status: u16,
        #[serde(default)]
        body: Option<Value>,
    },
    /// A Graph error envelope (HTTP `status`, default 400); no side effect.
    Graph {
        #[serde(default = "status_400")]
        status: u16,
        code: i64,
        #[serde(default)]
        subcode: Option<i64>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        is_transient: bool,
    },
    /// Perform the request (the post IS published), then close the connection unanswered.
    DropAfterCommit,
    /// Close the connection without performing the request.
    DropBefore,
    /// Wait, then perform the request normally.
    DelayBefore { ms: u64 },
    /// A proxy's HTML error page; no side effect.
    Html { status: u16 },
}

fn status_400() -> u16 {
    400
}

impl Fault {
    pub fn new(route: &str, times: u32, kind: FaultKind) -> Fault {
        Fault {
            route: route.to_string(),
            times,
            kind,
        }
    }
    pub fn status(route: &str, times: u32, status: u16) -> Fault {
        Fault::new(route, times, FaultKind::Status { status, body: None })
    }
    /// A Graph error with `code` / `subcode`.
    pub fn graph(route: &str, times: u32, code: i64, subcode: Option<i64>) -> Fault {
        Fault::new(
            route,
            times,
            FaultKind::Graph {
                status: 400,
                code,
                subcode,
                message: None,
                is_transient: false,
            },
        )
    }
    pub fn drop_after_commit(route: &str, times: u32) -> Fault {
        Fault::new(route, times, FaultKind::DropAfterCommit)
    }

    fn matches(&self, method: &str, endpoint: &str) -> bool {
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
        glob(want_path, endpoint)
    }
}

/// `*` matches any run of characters.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('*').collect();
    if pieces.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, piece) in pieces.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(piece) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == pieces.len() - 1 {
            return rest.ends_with(piece);
        } else {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
    }
    true
}

/// One request as the fake saw it (control API excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstagramRequest {
    pub method: String,
    /// Path as sent, without the query string.
    pub path: String,
    /// The path without its Graph version (`/1789…/media`).
    pub endpoint: String,
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

impl InstagramRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    /// A parameter from the query, a form body or a JSON body.
    pub fn param(&self, key: &str) -> Option<String> {
        let from_query = serde_urlencoded::from_str::<Vec<(String, String)>>(&self.query)
            .ok()
            .and_then(|q| q.into_iter().find(|(k, _)| k == key).map(|(_, v)| v));
        from_query.or_else(|| {
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&self.body).unwrap_or_default();
            form.into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .or_else(|| match self.body_json()?.get(key)? {
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
        })
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

/// A professional account the fake knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeAccount {
    /// The Instagram professional account id (what `/{ig-user-id}/media` takes).
    pub ig_user_id: String,
    /// The app-scoped id `GET /me` returns as `id` on Instagram Login.
    pub app_scoped_id: String,
    pub username: String,
    pub name: String,
    pub login: Login,
    /// Facebook Login: the linked Page and the Facebook user who manages it.
    pub page_id: Option<String>,
    pub page_name: Option<String>,
    pub fb_user_id: Option<String>,
}

/// A token handed out by [`InstagramFake::issue_token`] (ready for
/// `outpost accounts add instagram --token-stdin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub kind: TokenKind,
    /// The Instagram professional account id it acts for.
    pub user_id: String,
}

/// A container as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredContainer {
    pub id: String,
    /// The Instagram account id that created it.
    pub owner: String,
    /// `IMAGE` (no media_type sent), `REELS`, `VIDEO` (carousel child), `CAROUSEL`, `STORIES`.
    pub media_type: String,
    pub is_carousel_item: bool,
    pub image_url: Option<String>,
    pub video_url: Option<String>,
    pub caption: Option<String>,
    pub alt_text: Option<String>,
    pub share_to_feed: Option<bool>,
    pub thumb_offset: Option<u64>,
    pub location_id: Option<String>,
    pub collaborators: Vec<String>,
    pub children: Vec<String>,
    /// `upload_type=resumable`: the bytes come through rupload.
    pub resumable: bool,
    /// Resumable: the declared size, and what arrived so far.
    pub file_size: Option<u64>,
    pub received: u64,
    /// `bytes` or `file_url` once the upload completed.
    pub uploaded_via: Option<String>,
    /// Upload requests received (chunks).
    pub upload_requests: u32,
    /// Bytes fetched from `image_url` / `video_url` (loopback addresses only).
    pub fetched_bytes: Option<u64>,
    /// The last `status_code` reported (`IN_PROGRESS` until polled).
    pub status_code: String,
    /// The reason of an `ERROR`.
    pub error_status: Option<String>,
    pub processing: Processing,
    /// Polls counted towards [`Processing`] (after the upload completed).
    pub polls: u32,
    pub created_at: DateTime<Utc>,
    pub published_media_id: Option<String>,
    #[serde(skip)]
    pub(crate) head: Vec<u8>,
}

impl StoredContainer {
    fn kind(&self) -> MediaKind {
        match self.media_type.as_str() {
            "CAROUSEL" => MediaKind::Carousel,
            "REELS" | "VIDEO" => MediaKind::Video,
            "STORIES" if self.video_url.is_some() || self.resumable => MediaKind::Video,
            _ => MediaKind::Image,
        }
    }
}

/// A comment on a published media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredComment {
    pub id: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// A published post (what [`InstagramFake::published`] returns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedMedia {
    pub id: String,
    pub owner: String,
    /// The container it was published from (`None` for posts seeded by the test).
    pub container_id: Option<String>,
    /// `IMAGE`, `VIDEO` (reels too) or `CAROUSEL_ALBUM`.
    pub media_type: String,
    /// `FEED`, `REELS` or `STORY`.
    pub media_product_type: String,
    pub caption: Option<String>,
    pub alt_text: Option<String>,
    /// Carousel: the child containers, in order.
    pub children: Vec<String>,
    pub image_urls: Vec<String>,
    pub video_urls: Vec<String>,
    pub share_to_feed: Option<bool>,
    pub location_id: Option<String>,
    pub collaborators: Vec<String>,
    pub permalink: String,
    pub timestamp: DateTime<Utc>,
    /// Published through the API (counts towards `content_publishing_limit`).
    pub via_api: bool,
    pub comments: Vec<StoredComment>,
}

/// Handle to a running fake; cheap to clone. The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct InstagramFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl InstagramFake {
    /// Starts the fake on `127.0.0.1` (panics if no port can be bound: a test kit).
    pub async fn start(config: InstagramConfig) -> InstagramFake {
        match InstagramFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the Instagram fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: InstagramConfig) -> std::io::Result<InstagramFake> {
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
        Ok(InstagramFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// `http://127.0.0.1:<port>`: stands in for graph.instagram.com, graph.facebook.com,
    /// rupload.facebook.com, api.instagram.com and www.instagram.com at once.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The consent page (`https://www.instagram.com/oauth/authorize`).
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/authorize", self.shared.base_url)
    }

    /// The code exchange (`https://api.instagram.com/oauth/access_token`).
    pub fn token_url(&self) -> String {
        format!("{}/oauth/access_token", self.shared.base_url)
    }

    pub fn client_id(&self) -> String {
        self.shared.cfg.client_id.clone()
    }

    pub fn client_secret(&self) -> String {
        self.shared.cfg.client_secret.clone()
    }

    /// Adds a professional account of the given set-up (or returns the existing one).
    pub fn add_account(&self, username: &str, login: Login) -> FakeAccount {
        self.shared.lock().add_account(username, login)
    }

    pub fn account(&self, username: &str) -> Option<FakeAccount> {
        self.shared.lock().account_by_name(username).cloned()
    }

    /// A token of `kind` with every scope of its set-up; the account is created if new.
    pub fn issue_token(&self, username: &str, kind: TokenKind) -> IssuedToken {
        let scopes: Vec<String> = match kind.login() {
            Login::Instagram => INSTAGRAM_SCOPES.iter().map(|s| s.to_string()).collect(),
            Login::Facebook => FACEBOOK_SCOPES.iter().map(|s| s.to_string()).collect(),
        };
        self.issue_token_with_scopes(username, kind, &scopes)
    }

    pub fn issue_token_with_scopes(
        &self,
        username: &str,
        kind: TokenKind,
        scopes: &[String],
    ) -> IssuedToken {
        let cfg = &self.shared.cfg;
        let mut inner = self.shared.lock();
        let account = inner.add_account(username, kind.login());
        inner.issue(cfg, &account.ig_user_id, kind, scopes)
    }

    /// The token answers 190/463 "Session has expired" from now on.
    pub fn expire_token(&self, token: &str) -> bool {
        let mut inner = self.shared.lock();
        let now = inner.now();
        match inner.tokens.get_mut(token) {
            Some(t) => {
                t.expires_at = now - chrono::Duration::seconds(1);
                true
            }
            None => false,
        }
    }

    /// Every token of the account stops working (190 "Invalid OAuth access token").
    pub fn revoke_tokens(&self, username: &str) -> bool {
        let mut inner = self.shared.lock();
        let Some(id) = inner
            .account_by_name(username)
            .map(|a| a.ig_user_id.clone())
        else {
            return false;
        };
        for t in inner.tokens.values_mut().filter(|t| t.account == id) {
            t.revoked = true;
        }
        true
    }

    /// Makes a token look older (its issue time moves back by `by`), e.g. for the 24 h rule.
    pub fn age_token(&self, token: &str, by: chrono::Duration) -> bool {
        match self.shared.lock().tokens.get_mut(token) {
            Some(t) => {
                t.issued_at -= by;
                true
            }
            None => false,
        }
    }

    /// Whether the token is known, not revoked and not expired.
    pub fn token_is_live(&self, token: &str) -> bool {
        let inner = self.shared.lock();
        let now = inner.now();
        inner
            .tokens
            .get(token)
            .is_some_and(|t| !t.revoked && t.expires_at > now)
    }

    /// Registers a redirect URI (refused for `http://` unless allowed).
    pub fn register_redirect_uri(&self, uri: &str) -> Result<(), String> {
        self.shared.lock().register_redirect(uri)
    }

    /// The account that consents on the fake's authorize page (default: the first Instagram
    /// Login account).
    pub fn set_consenting_account(&self, username: &str) -> bool {
        let mut inner = self.shared.lock();
        match inner
            .account_by_name(username)
            .map(|a| a.ig_user_id.clone())
        {
            Some(id) => {
                inner.consenting = Some(id);
                true
            }
            None => false,
        }
    }

    pub fn set_token_shape(&self, shape: TokenShape) {
        self.shared.lock().token_shape = shape;
    }

    /// Every container, in creation order.
    pub fn containers(&self) -> Vec<StoredContainer> {
        self.shared.lock().containers.clone()
    }

    pub fn container(&self, id: &str) -> Option<StoredContainer> {
        self.shared
            .lock()
            .containers
            .iter()
            .find(|c| c.id == id)
            .cloned()
    }

    /// Every published post (seeded ones included), in publication order.
    pub fn published(&self) -> Vec<PublishedMedia> {
        self.shared.lock().media.clone()
    }

    /// Posts published through `media_publish` (seeded ones left out).
    pub fn published_by_api(&self) -> Vec<PublishedMedia> {
        self.shared
            .lock()
            .media
            .iter()
            .filter(|m| m.container_id.is_some())
            .cloned()
            .collect()
    }

    /// How containers created from now on are processed.
    pub fn set_processing(&self, kind: MediaKind, processing: Processing) {
        let mut inner = self.shared.lock();
        match kind {
            MediaKind::Image => inner.plan.image = processing,
            MediaKind::Video => inner.plan.video = processing,
            MediaKind::Carousel => inner.plan.carousel = processing,
        }
    }

    /// Changes one container's processing (its poll count restarts).
    pub fn set_container_processing(&self, id: &str, processing: Processing) -> bool {
        let mut inner = self.shared.lock();
        match inner.containers.iter_mut().find(|c| c.id == id) {
            Some(c) => {
                c.processing = processing;
                c.polls = 0;
                true
            }
            None => false,
        }
    }

    /// The publishing quota (`quota_total`) from now on.
    pub fn set_quota_total(&self, total: u32) {
        self.shared.lock().quota_total = total;
    }

    /// Posts published earlier (through the API, so they count towards the quota) at `at`;
    /// returns their ids (empty for an unknown account).
    pub fn seed_published(&self, username: &str, at: &[DateTime<Utc>]) -> Vec<String> {
        self.shared.lock().seed(username, at).unwrap_or_default()
    }

    /// Posts published through the API by the account in the last 24 h (the quota usage).
    pub fn quota_usage(&self, username: &str) -> u32 {
        let inner = self.shared.lock();
        match inner.account_by_name(username) {
            Some(a) => inner.quota_usage(&a.ig_user_id.clone(), inner.now()),
            None => 0,
        }
    }

    /// BUC throttle (code 80002) for the account for `minutes` of fake time; 0 lifts it.
    pub fn throttle(&self, username: &str, minutes: i64) -> bool {
        let mut inner = self.shared.lock();
        let Some(id) = inner
            .account_by_name(username)
            .map(|a| a.ig_user_id.clone())
        else {
            return false;
        };
        let until = inner.now() + chrono::Duration::minutes(minutes);
        if minutes > 0 {
            inner.throttled_until.insert(id, until);
        } else {
            inner.throttled_until.remove(&id);
        }
        true
    }

    /// `image_url` / `video_url` / `file_url` with this address fail as unreachable.
    pub fn set_unreachable_url(&self, url: &str) {
        self.shared.lock().unreachable.insert(url.to_string());
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
    pub fn requests(&self) -> Vec<InstagramRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Requests whose method matches and whose version-less path matches `pattern` (with `*`).
    pub fn requests_to(&self, method: &str, pattern: &str) -> Vec<InstagramRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && glob(pattern, &r.endpoint))
            .cloned()
            .collect()
    }

    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock (token age and expiry, container expiry, the quota window).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }
}

// ---- state -------------------------------------------------------------------------------

pub(crate) struct Shared {
    cfg: InstagramConfig,
    base_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_fault(&self, method: &str, endpoint: &str) -> Option<FaultKind> {
        let mut inner = self.lock();
        let index = inner
            .faults
            .iter()
            .position(|f| f.matches(method, endpoint))?;
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
        inner.requests.push(InstagramRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            endpoint: req.endpoint.clone(),
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
pub(crate) struct TokenRec {
    /// The Instagram account id.
    pub account: String,
    pub kind: TokenKind,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CodeRec {
    pub account: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

pub(crate) struct Inner {
    pub(crate) clock_offset: chrono::Duration,
    pub(crate) accounts: Vec<FakeAccount>,
    pub(crate) tokens: HashMap<String, TokenRec>,
    pub(crate) codes: HashMap<String, CodeRec>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) allow_http_redirects: bool,
    pub(crate) consenting: Option<String>,
    pub(crate) token_shape: TokenShape,
    pub(crate) containers: Vec<StoredContainer>,
    pub(crate) media: Vec<PublishedMedia>,
    pub(crate) plan: ProcessingPlan,
    pub(crate) quota_total: u32,
    pub(crate) unreachable: HashSet<String>,
    pub(crate) throttled_until: HashMap<String, DateTime<Utc>>,
    /// Graph calls per account (for the BUC header).
    pub(crate) calls: HashMap<String, VecDeque<DateTime<Utc>>>,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) requests: Vec<InstagramRequest>,
    next_id: u64,
}

impl Inner {
    fn new(cfg: &InstagramConfig) -> Inner {
        Inner {
            clock_offset: chrono::Duration::zero(),
            accounts: Vec::new(),
            tokens: HashMap::new(),
            codes: HashMap::new(),
            redirect_uris: Vec::new(),
            allow_http_redirects: cfg.allow_http_redirects,
            consenting: None,
            token_shape: cfg.token_shape,
            containers: Vec::new(),
            media: Vec::new(),
            plan: ProcessingPlan::default(),
            quota_total: cfg.quota_total,
            unreachable: HashSet::new(),
            throttled_until: HashMap::new(),
            calls: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            next_id: 1,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// A fresh numeric id of `digits` digits starting with `prefix` (above 2^53 from 17 digits).
    pub(crate) fn new_id(&mut self, prefix: &str, digits: usize) -> String {
        let n = self.next_id;
        self.next_id += 1;
        let tail = n.to_string();
        let pad = digits.saturating_sub(prefix.len() + tail.len());
        format!("{prefix}{}{tail}", "0".repeat(pad))
    }

    pub(crate) fn account_by_name(&self, username: &str) -> Option<&FakeAccount> {
        let name = username.trim().trim_start_matches('@').to_ascii_lowercase();
        self.accounts
            .iter()
            .find(|a| a.username == name || a.ig_user_id == username)
    }

    pub(crate) fn account(&self, ig_user_id: &str) -> Option<&FakeAccount> {
        self.accounts.iter().find(|a| a.ig_user_id == ig_user_id)
    }

    pub(crate) fn add_account(&mut self, username: &str, login: Login) -> FakeAccount {
        let name = username.trim().trim_start_matches('@').to_ascii_lowercase();
        if let Some(a) = self.accounts.iter().find(|a| a.username == name) {
            return a.clone();
        }
        let ig_user_id = self.new_id("178414", 17);
        let app_scoped_id = self.new_id("26", 17);
        let (page_id, page_name, fb_user_id) = match login {
            Login::Instagram => (None, None, None),
            Login::Facebook => (
                Some(self.new_id("1046", 15)),
                Some(format!("{name} (Page)")),
                Some(self.new_id("1022", 16)),
            ),
        };
        let account = FakeAccount {
            ig_user_id,
            app_scoped_id,
            name: format!("{name} (display)"),
            username: name,
            login,
            page_id,
            page_name,
            fb_user_id,
        };
        self.accounts.push(account.clone());
        if self.consenting.is_none() && login == Login::Instagram {
            self.consenting = Some(account.ig_user_id.clone());
        }
        account
    }

    pub(crate) fn issue(
        &mut self,
        cfg: &InstagramConfig,
        account: &str,
        kind: TokenKind,
        scopes: &[String],
    ) -> IssuedToken {
        let now = self.now();
        let ttl = match kind {
            TokenKind::InstagramShort | TokenKind::FacebookShort => cfg.short_ttl,
            TokenKind::InstagramLong | TokenKind::FacebookLong => cfg.long_ttl,
            // Documented as non-expiring: ten years.
            TokenKind::FacebookPage => chrono::Duration::days(3650),
        };
        let prefix = match kind {
            TokenKind::InstagramShort | TokenKind::InstagramLong => "IGAA",
            TokenKind::FacebookPage => "EAAP",
            _ => "EAAB",
        };
        let token = format!("{prefix}{}", random_string(ALNUM, 120));
        self.tokens.insert(
            token.clone(),
            TokenRec {
                account: account.to_string(),
                kind,
                issued_at: now,
                expires_at: now + ttl,
                revoked: false,
                scopes: scopes.to_vec(),
            },
        );
        IssuedToken {
            access_token: token,
            token_type: "bearer".into(),
            expires_in: ttl.num_seconds(),
            kind,
            user_id: account.to_string(),
        }
    }

    pub(crate) fn register_redirect(&mut self, uri: &str) -> Result<(), String> {
        let lower = uri.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        let http = lower.starts_with("http://");
        if !(https || (http && self.allow_http_redirects)) {
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

    /// Posts published through the API by `owner` in the 24 h before `now`.
    pub(crate) fn quota_usage(&self, owner: &str, now: DateTime<Utc>) -> u32 {
        self.quota_usage_since(owner, now - chrono::Duration::hours(24))
    }

    /// Posts published earlier through the API; `None` for an unknown account.
    pub(crate) fn seed(&mut self, username: &str, at: &[DateTime<Utc>]) -> Option<Vec<String>> {
        let owner = self.account_by_name(username)?.ig_user_id.clone();
        let ids = at
            .iter()
            .map(|t| {
                let id = self.new_id("179", 17);
                let code = random_string(ALNUM, 11);
                self.media.push(PublishedMedia {
                    id: id.clone(),
                    owner: owner.clone(),
                    container_id: None,
                    media_type: "IMAGE".into(),
                    media_product_type: "FEED".into(),
                    caption: Some(format!("an earlier post ({})", t.format("%H:%M"))),
                    alt_text: None,
                    children: Vec::new(),
                    image_urls: Vec::new(),
                    video_urls: Vec::new(),
                    share_to_feed: None,
                    location_id: None,
                    collaborators: Vec::new(),
                    permalink: format!("https://www.instagram.com/p/{code}/"),
                    timestamp: *t,
                    via_api: true,
                    comments: Vec::new(),
                });
                id
            })
            .collect();
        Some(ids)
    }

    pub(crate) fn quota_usage_since(&self, owner: &str, since: DateTime<Utc>) -> u32 {
        self.media
            .iter()
            .filter(|m| m.owner == owner && m.via_api && m.timestamp > since)
            .count() as u32
    }
}

// ---- request dispatch ----------------------------------------------------------------------

/// A fully read request.
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    /// The path without a leading Graph version.
    pub endpoint: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Parameters from the query, then a form or JSON body (later ones win).
    pub fn params(&self) -> HashMap<String, String> {
        let mut out: HashMap<String, String> = HashMap::new();
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(&self.query).unwrap_or_default();
        out.extend(query);
        let content_type = self
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("application/json") {
            if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&self.body) {
                for (k, v) in map {
                    let s = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    out.insert(k, s);
                }
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&self.body).unwrap_or_default();
            out.extend(form);
        }
        out
    }
}

/// `/v25.0/123/media` → `/123/media`; other paths unchanged.
pub(crate) fn strip_version(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let is_version = first.len() > 1
        && first.starts_with('v')
        && first[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
        && first[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit());
    if is_version {
        format!("/{rest}")
    } else {
        path.to_string()
    }
}

enum After {
    Nothing,
    Drop,
}

/// What fetching a media address gave.
#[derive(Debug, Clone)]
pub(crate) enum Fetched {
    /// A loopback address answered 2xx with these bytes.
    Bytes(Vec<u8>),
    /// Not loopback: taken on trust (the fake has no internet).
    Trusted,
    /// Could not be fetched.
    Unreachable,
}

/// Fetches an address the way Meta's crawler would (loopback only; 10 s).
pub(crate) async fn fetch(shared: &Shared, url: &str) -> Fetched {
    if shared.lock().unreachable.contains(url) {
        return Fetched::Unreachable;
    }
    let lower = url.to_ascii_lowercase();
    let local = lower.starts_with("http://127.0.0.1")
        || lower.starts_with("http://localhost")
        || lower.starts_with("http://[::1]");
    if !local {
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return Fetched::Trusted;
        }
        return Fetched::Unreachable;
    }
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
    else {
        return Fetched::Unreachable;
    };
    match http.get(url).send().await {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(b) => Fetched::Bytes(b.to_vec()),
            Err(_) => Fetched::Unreachable,
        },
        _ => Fetched::Unreachable,
    }
}

async fn handle(shared: Arc<Shared>, conn: ConnInfo, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => return graph::error(400, 100, None, "Could not read the request body"),
    };
    let path = parts.uri.path().to_string();
    let req = Req {
        method: parts.method.as_str().to_string(),
        endpoint: if path.starts_with(UPLOAD_PREFIX) {
            path.clone()
        } else {
            strip_version(&path)
        },
        path,
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body,
    };
    if req.path == "/_fake" || req.path.starts_with("/_fake/") {
        return control::handle(&shared, &req);
    }
    let (response, after) = match shared.take_fault(&req.method, &req.endpoint) {
        None => (route(&shared, &req).await, After::Nothing),
        Some(FaultKind::Status { status, body }) => (
            json_response(
                status,
                &body.unwrap_or_else(|| {
                    graph::envelope(
                        2,
                        None,
                        "OAuthException",
                        "Service temporarily unavailable",
                        true,
                    )
                }),
            ),
            After::Nothing,
        ),
        Some(FaultKind::Graph {
            status,
            code,
            subcode,
            message,
            is_transient,
        }) => (
            json_response(
                status,
                &graph::envelope(
                    code,
                    subcode,
                    if code == 190 {
                        "OAuthException"
                    } else {
                        "IGApiException"
                    },
                    message
                        .as_deref()
                        .unwrap_or_else(|| graph::message_for(code, subcode)),
                    is_transient,
                ),
            ),
            After::Nothing,
        ),
        Some(FaultKind::Html { status }) => (html_error(status), After::Nothing),
        Some(FaultKind::DelayBefore { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (route(&shared, &req).await, After::Nothing)
        }
        Some(FaultKind::DropAfterCommit) => (route(&shared, &req).await, After::Drop),
        Some(FaultKind::DropBefore) => (
            graph::error(500, 2, None, "Service temporarily unavailable"),
            After::Drop,
        ),
    };
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

async fn route(shared: &Shared, req: &Req) -> Response<Body> {
    let params = req.params();
    if req.path.starts_with(UPLOAD_PREFIX) {
        return upload::handle(shared, req).await;
    }
    let segments: Vec<&str> = req
        .endpoint
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["oauth", "authorize"]) => oauth::authorize(shared, &params),
        ("GET", ["dialog", "oauth"]) => oauth::fb_authorize(shared, &params),
        (_, ["oauth", "access_token"]) if oauth::is_fb_code(&params) => {
            oauth::fb_code_exchange(shared, &params)
        }
        ("POST", ["oauth", "access_token"]) => oauth::code_exchange(shared, &params),
        ("GET", ["oauth", "access_token"]) => oauth::fb_exchange(shared, &params),
        ("GET", ["access_token"]) => oauth::ig_exchange(shared, &params),
        ("GET", ["refresh_access_token"]) => oauth::ig_refresh(shared, &params),
        ("POST", [_, "media"]) => {
            // Meta fetches the media when the container is created: so does the fake, outside
            // the lock.
            let mut fetched = HashMap::new();
            for key in ["image_url", "video_url"] {
                if let Some(url) = params.get(key).filter(|u| !u.is_empty()) {
                    fetched.insert(key.to_string(), fetch(shared, url).await);
                }
            }
            graph::route(shared, req, &params, &segments, fetched)
        }
        _ => graph::route(shared, req, &params, &segments, HashMap::new()),
    }
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json; charset=UTF-8")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn set_header(response: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

fn html_error(status: u16) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/html")
        .body(Body::from(format!(
            "<html><head><title>{status}</title></head><body><h1>Sorry, something went wrong.</h1></body></html>"
        )))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn random_token(len: usize) -> String {
    random_string(ALNUM, len)
}

/// Graph's timestamp form: `2024-05-01T12:00:00+0000`.
pub(crate) fn graph_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

pub(crate) fn container_json(c: &StoredContainer, fields: &[String]) -> Value {
    let mut out = json!({ "id": c.id });
    for f in fields {
        match f.as_str() {
            "status_code" => out["status_code"] = json!(c.status_code),
            "status" => {
                out["status"] = json!(match c.status_code.as_str() {
                    "ERROR" => c.error_status.clone().unwrap_or_else(default_error_status),
                    "FINISHED" =>
                        "Finished: Media has been uploaded and it is ready to be published.".into(),
                    "PUBLISHED" => "Published: Media has been published.".into(),
                    "EXPIRED" =>
                        "Expired: Media was not published within 24 hours of creation.".into(),
                    _ => "In Progress: Media is still being processed.".to_string(),
                })
            }
            "media_type" => out["media_type"] = json!(c.media_type),
            "is_carousel_item" => out["is_carousel_item"] = json!(c.is_carousel_item),
            "copyright_check_status" => {
                out["copyright_check_status"] =
                    json!({ "status": "completed", "matches_found": false })
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn media_json(m: &PublishedMedia, username: &str, fields: &[String]) -> Value {
    let mut out = json!({ "id": m.id });
    for f in fields {
        match f.as_str() {
            "caption" => {
                if let Some(c) = &m.caption {
                    out["caption"] = json!(c);
                }
            }
            "timestamp" => out["timestamp"] = json!(graph_time(m.timestamp)),
            "media_type" => out["media_type"] = json!(m.media_type),
            "media_product_type" => out["media_product_type"] = json!(m.media_product_type),
            "permalink" => out["permalink"] = json!(m.permalink),
            "username" => out["username"] = json!(username),
            "comments_count" => out["comments_count"] = json!(m.comments.len()),
            "shortcode" => {
                out["shortcode"] = json!(m
                    .permalink
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default())
            }
            _ => {}
        }
    }
    out
}

// ---- helpers for tests ---------------------------------------------------------------------

/// A baseline JPEG of `width`×`height` pixels (SOI, JFIF, SOF0, comment padding up to
/// `min_bytes`, EOI): enough for Instagram's checks and Outpost's probe. No pixel data.
pub fn jpeg(width: u16, height: u16, min_bytes: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8];
    v.extend_from_slice(&[
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x00, 0x00,
    ]);
    v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&[0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    while v.len() + 2 < min_bytes {
        let want = (min_bytes - v.len() - 2).saturating_sub(4).clamp(1, 65_000);
        v.extend_from_slice(&[0xFF, 0xFE]);
        v.extend_from_slice(&((want + 2) as u16).to_be_bytes());
        v.extend(std::iter::repeat_n(b'x', want));
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// Files served by a [`MediaHost`]: name → (bytes, content type).
type Served = Arc<Mutex<HashMap<String, (Vec<u8>, String)>>>;

/// A loopback web server standing in for a public bucket: files put on it are served at
/// `GET /<name>`, and every fetch is counted.
#[derive(Clone)]
pub struct MediaHost {
    base_url: String,
    files: Served,
    fetches: Arc<Mutex<HashMap<String, u32>>>,
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
        let files: Served = Arc::default();
        let fetches: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let task = {
            let (files, fetches) = (files.clone(), fetches.clone());
            spawn_server(listener, move |req: Request<Body>, _conn| {
                let (files, fetches) = (files.clone(), fetches.clone());
                async move {
                    let name = req.uri().path().trim_start_matches('/').to_string();
                    *fetches
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(name.clone())
                        .or_default() += 1;
                    let found = files
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&name)
                        .cloned();
                    match found {
                        Some((bytes, mime)) => Response::builder()
                            .status(200)
                            .header("Content-Type", mime)
                            .body(Body::from(bytes))
                            .unwrap_or_else(|_| Response::new(Body::empty())),
                        None => Response::builder()
                            .status(404)
                            .body(Body::from("not found"))
                            .unwrap_or_else(|_| Response::new(Body::empty())),
                    }
                }
            })
        };
        MediaHost {
            base_url,
            files,
            fetches,
            _guard: Arc::new(ServerGuard(vec![task])),
        }
    }

    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Serves `bytes` at `/<name>`; returns the address.
    pub fn put(&self, name: &str, bytes: &[u8], mime: &str) -> String {
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), (bytes.to_vec(), mime.to_string()));
        format!("{}/{name}", self.base_url)
    }

    /// Stops serving `/<name>` (it answers 404).
    pub fn remove(&self, name: &str) {
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// How many times `/<name>` was requested.
    pub fn fetches(&self, name: &str) -> u32 {
        self.fetches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_wildcards_and_without_the_version() {
        assert!(glob("*/media_publish", "/17841400000000001/media_publish"));
        assert!(glob("/ig-api-upload/*", "/ig-api-upload/v25.0/1"));
        assert!(glob("/a*c*e", "/abcde"));
        assert!(!glob("*/media", "/1/media_publish"));
        assert_eq!(strip_version("/v25.0/1/media"), "/1/media");
        assert_eq!(strip_version("/me"), "/me");
        assert_eq!(strip_version("/video/1"), "/video/1");
    }

    #[test]
    fn the_jpeg_helper_makes_a_sized_jpeg() {
        let j = jpeg(1080, 1350, 5000);
        assert!(j.starts_with(&[0xFF, 0xD8, 0xFF]) && j.ends_with(&[0xFF, 0xD9]));
        assert!(j.len() >= 5000, "{}", j.len());
        assert_eq!(&j[20..22], &[0xFF, 0xC0]);
        assert_eq!(u16::from_be_bytes([j[25], j[26]]), 1350);
        assert_eq!(u16::from_be_bytes([j[27], j[28]]), 1080);
    }
}
