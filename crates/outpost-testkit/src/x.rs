//! A faithful in-process fake of the X API v2 (`api.x.com`) for the calls Outpost makes, on one
//! loopback listener ([`XFake::base_url`]):
//!
//! | Endpoint | Notes |
//! |---|---|
//! | `POST /2/oauth2/token` | `refresh_token` (rotating: the old refresh token dies) and `authorization_code` (PKCE S256/plain, single-use codes that expire after 30 s); public clients send `client_id` in the body, confidential clients must use Basic auth |
//! | `POST /2/oauth2/revoke` | `token`, `client_id` |
//! | `GET /2/users/me` | `{"data":{"id","name","username"}}` |
//! | `GET /2/users/:id/tweets` | newest first; `since_id`, `until_id`, `start_time`, `end_time`, `max_results` (5–100), `pagination_token`, `exclude`, `tweet.fields`; a switch makes it answer 403 `client-forbidden` (no read access on low tiers) |
//! | `POST /2/tweets` | 201 `{"data":{"id","text","edit_history_tweet_ids"}}`; 400 for unknown keys (`additionalProperties:false`), bad or more than four `media_ids`, unusable media; 403 for duplicate text, a reply to a missing post and (behind a switch) the reply restriction |
//! | `POST /2/media/upload/initialize`, `/{id}/append`, `/{id}/finalize`, `GET /2/media/upload?command=STATUS` | chunked upload; `processing_info` only for video and GIF categories, walking `pending` → `in_progress` → `succeeded` / `failed` as [`Processing`] says |
//! | `POST /2/media/upload` | one-shot upload for images and subtitles |
//! | `POST /2/media/metadata` | alt text ≤ 1000 characters |
//!
//! Every authenticated answer carries `x-rate-limit-{limit,remaining,reset}` (reset in epoch
//! seconds) for the endpoint's per-user 15-minute bucket, plus `x-user-limit-24hour-*` /
//! `x-app-limit-24hour-*` where a 24-hour cap is configured. Error bodies are X's problem JSON
//! (`title`, `detail`, `type`, `status`, `errors[]`).
//!
//! Test controls: users and tokens ([`XFake::create_user`], [`XFake::issue_tokens`]), token
//! expiry and revocation, queued [`Fault`]s per [`Endpoint`] (an error status, a 429 with a
//! reset, a delay, "commit then drop the connection"), media processing plans, read access,
//! the reply restriction, a credits-exhausted block, a clock that can be moved forward, the
//! posts created ([`XFake::tweets`]) and every request ([`XFake::requests`]). The same controls
//! are served over HTTP under `/_fake/` (see the `control` module) for other processes.
//!
//! Where the platform reference marks a behaviour UNCONFIRMED, the fake does the documented or
//! standard thing and says so next to the code.

mod api;
mod control;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::common::{random_string, spawn_server, ConnInfo, RateLimiter, ServerGuard};

/// Every scope Outpost asks for.
pub const ALL_SCOPES: [&str; 5] = [
    "tweet.read",
    "tweet.write",
    "users.read",
    "offline.access",
    "media.write",
];

/// The public (Native App) client registered at start.
pub const DEFAULT_CLIENT_ID: &str = "outpost-fake-client";

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Limits and lifetimes; the defaults are X's documented values.
#[derive(Debug, Clone)]
pub struct XConfig {
    /// Port of the listener (0 = any free port).
    pub port: u16,
    /// Access token lifetime (2 hours).
    pub access_ttl: chrono::Duration,
    /// Authorization code lifetime (30 s).
    pub code_ttl: chrono::Duration,
    /// How long an identical text by the same author is refused as a duplicate. X does not
    /// publish the window (UNCONFIRMED); 24 hours by default.
    pub duplicate_window: chrono::Duration,
    /// `expires_after_secs` of uploaded media (24 hours).
    pub media_expires_after_secs: i64,
    /// `check_after_secs` of media still processing (1 s).
    pub check_after_secs: u64,
    /// Longest text in weighted characters (280).
    pub max_weighted_length: usize,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig {
            port: 0,
            access_ttl: chrono::Duration::hours(2),
            code_ttl: chrono::Duration::seconds(30),
            duplicate_window: chrono::Duration::hours(24),
            media_expires_after_secs: 86_400,
            check_after_secs: 1,
            max_weighted_length: 280,
        }
    }
}

/// One endpoint of the API, as faults, limits and recorded requests name it. JSON form: the
/// snake-case name (`"create_tweet"`), or `"*"` for [`Endpoint::Any`] (faults only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /2/oauth2/token`
    Token,
    /// `POST /2/oauth2/revoke`
    Revoke,
    /// `GET /2/users/me`
    UsersMe,
    /// `GET /2/users/:id/tweets`
    UserTweets,
    /// `POST /2/tweets`
    CreateTweet,
    /// `POST /2/media/upload` (one-shot)
    MediaUpload,
    /// `POST /2/media/upload/initialize`
    MediaInitialize,
    /// `POST /2/media/upload/:id/append`
    MediaAppend,
    /// `POST /2/media/upload/:id/finalize`
    MediaFinalize,
    /// `GET /2/media/upload?command=STATUS`
    MediaStatus,
    /// `POST /2/media/metadata`
    MediaMetadata,
    /// Any endpoint (for faults).
    #[serde(rename = "*")]
    Any,
}

impl Endpoint {
    /// The endpoint a request goes to, if the fake serves it.
    pub fn of(method: &str, path: &str) -> Option<Endpoint> {
        let path = path.trim_end_matches('/');
        let found = match (method, path) {
            ("POST", "/2/oauth2/token") => Endpoint::Token,
            ("POST", "/2/oauth2/revoke") => Endpoint::Revoke,
            ("GET", "/2/users/me") => Endpoint::UsersMe,
            ("POST", "/2/tweets") => Endpoint::CreateTweet,
            ("POST", "/2/media/upload") => Endpoint::MediaUpload,
            ("GET", "/2/media/upload") => Endpoint::MediaStatus,
            ("POST", "/2/media/upload/initialize") => Endpoint::MediaInitialize,
            ("POST", "/2/media/metadata") => Endpoint::MediaMetadata,
            ("GET", _) => {
                let id = path.strip_prefix("/2/users/")?.strip_suffix("/tweets")?;
                if !is_id(id) {
                    return None;
                }
                Endpoint::UserTweets
            }
            ("POST", _) => {
                let rest = path.strip_prefix("/2/media/upload/")?;
                if rest.strip_suffix("/append").is_some_and(is_id) {
                    Endpoint::MediaAppend
                } else if rest.strip_suffix("/finalize").is_some_and(is_id) {
                    Endpoint::MediaFinalize
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        Some(found)
    }

    /// The scopes a user token needs (X's "OAuth 2 user" column).
    fn required_scopes(self) -> &'static [&'static str] {
        match self {
            Endpoint::CreateTweet => &["tweet.read", "tweet.write", "users.read"],
            Endpoint::UsersMe | Endpoint::UserTweets => &["tweet.read", "users.read"],
            Endpoint::MediaUpload
            | Endpoint::MediaInitialize
            | Endpoint::MediaAppend
            | Endpoint::MediaFinalize
            | Endpoint::MediaStatus
            | Endpoint::MediaMetadata => &["media.write"],
            Endpoint::Token | Endpoint::Revoke | Endpoint::Any => &[],
        }
    }

    /// Per-user requests per 15 minutes (X's current table; `GET /2/users/:id/tweets` is not in
    /// it, 900 is the Pro tier's number).
    fn default_window_limit(self) -> u32 {
        match self {
            Endpoint::CreateTweet => 100,
            Endpoint::UsersMe => 75,
            Endpoint::UserTweets => 900,
            Endpoint::MediaUpload | Endpoint::MediaMetadata => 500,
            Endpoint::MediaInitialize | Endpoint::MediaAppend | Endpoint::MediaFinalize => 1875,
            Endpoint::MediaStatus => 1000,
            Endpoint::Token | Endpoint::Revoke | Endpoint::Any => 0,
        }
    }

    /// Per-app requests per 24 hours, where X documents one.
    fn default_app_limit(self) -> Option<u32> {
        match self {
            Endpoint::CreateTweet => Some(10_000),
            Endpoint::MediaUpload | Endpoint::MediaMetadata => Some(50_000),
            Endpoint::MediaInitialize | Endpoint::MediaAppend | Endpoint::MediaFinalize => {
                Some(180_000)
            }
            Endpoint::MediaStatus => Some(100_000),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Revoke => "revoke",
            Endpoint::UsersMe => "users_me",
            Endpoint::UserTweets => "user_tweets",
            Endpoint::CreateTweet => "create_tweet",
            Endpoint::MediaUpload => "media_upload",
            Endpoint::MediaInitialize => "media_initialize",
            Endpoint::MediaAppend => "media_append",
            Endpoint::MediaFinalize => "media_finalize",
            Endpoint::MediaStatus => "media_status",
            Endpoint::MediaMetadata => "media_metadata",
            Endpoint::Any => "*",
        }
    }
}

/// `^[0-9]{1,19}$`, the shape of X's ids.
pub(crate) fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Which rate-limit window a 429 fault says is exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// The endpoint's 15-minute bucket (`x-rate-limit-*`).
    #[default]
    Window,
    /// The user's 24-hour cap (`x-user-limit-24hour-*`).
    User24h,
    /// The app's 24-hour cap (`x-app-limit-24hour-*`).
    App24h,
}

/// A queued fault: each request to a matching endpoint consumes one of `times`, in the order
/// the faults were pushed. JSON: `{"endpoint":"create_tweet","times":1,"kind":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub endpoint: Endpoint,
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
            times,
            kind,
        }
    }

    /// An error status with X's problem body for it (`503 Service Unavailable`…).
    pub fn status(endpoint: Endpoint, times: u32, status: u16) -> Fault {
        Fault::new(endpoint, times, FaultKind::Status { status, body: None })
    }

    /// `429 Too Many Requests` whose `scope` window resets `reset_in_secs` from now.
    pub fn rate_limited(
        endpoint: Endpoint,
        times: u32,
        reset_in_secs: i64,
        scope: LimitScope,
    ) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::RateLimited {
                reset_in_secs,
                scope,
            },
        )
    }

    /// Perform the request (the post IS created), then close the connection unanswered.
    pub fn drop_after_commit(endpoint: Endpoint, times: u32) -> Fault {
        Fault::new(endpoint, times, FaultKind::DropAfterCommit)
    }
}

/// What a fault does. JSON (tagged by `type`): `{"type":"status","status":503}` (optional
/// `"body"`), `{"type":"rate_limited","reset_in_secs":60,"scope":"window"|"user24h"|"app24h"}`,
/// `{"type":"drop_before_commit"}`, `{"type":"drop_after_commit"}`,
/// `{"type":"delay_before","ms":500}`, `{"type":"delay_after_commit","ms":500}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` with `body` (default: X's problem JSON for the status); no side effect.
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
    },
    /// `429` with the rate-limit headers of `scope` at zero; no side effect.
    RateLimited {
        reset_in_secs: i64,
        #[serde(default)]
        scope: LimitScope,
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

/// How media finalized from now on process (video and GIF categories only). JSON (tagged by
/// `type`): `{"type":"after_polls","polls":2}`, `{"type":"never"}`,
/// `{"type":"fail","after_polls":1,"name":"InvalidMedia","message":"Unsupported video format"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Processing {
    /// `pending` after finalize, `in_progress` on the first `polls - 1` STATUS calls,
    /// `succeeded` on poll number `polls` (0: `succeeded` at finalize).
    AfterPolls { polls: u32 },
    /// `in_progress` forever.
    Never,
    /// `in_progress` until poll number `after_polls`, then `failed` with
    /// `error{code,name,message}` (0: `failed` at finalize).
    Fail {
        after_polls: u32,
        name: String,
        message: String,
    },
}

impl Default for Processing {
    fn default() -> Self {
        Processing::AfterPolls { polls: 2 }
    }
}

impl Processing {
    /// `InvalidMedia` "Unsupported video format", as X's docs show it.
    pub fn invalid_media(after_polls: u32) -> Processing {
        Processing::Fail {
            after_polls,
            name: "InvalidMedia".into(),
            message: "Unsupported video format".into(),
        }
    }
}

/// X's restriction on programmatic replies (since 2026-02-23 for self-serve tiers): a reply is
/// refused unless the replied-to author "summoned" the replier. Whether replies to one's own
/// posts are exempt is UNCONFIRMED, hence two modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReplyRestriction {
    #[default]
    Off,
    /// Replies to other people's posts are refused unless they mention the replier.
    OthersOnly,
    /// Every reply is refused unless the replied-to post mentions the replier.
    All,
}

/// The body of a refused refresh grant. X is observed (3P) to answer `invalid_request`
/// "Value passed for the token was invalid."; the standard answer is `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RefreshErrorForm {
    #[default]
    InvalidGrant,
    InvalidRequest,
}

/// A user of the fake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XUser {
    pub id: String,
    pub username: String,
    pub name: String,
}

/// A token set as the token endpoint hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XTokens {
    pub access_token: String,
    /// Only when `offline.access` was granted.
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
}

/// A post as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XTweet {
    pub id: String,
    pub author_id: String,
    pub text: String,
    pub media_ids: Vec<String>,
    pub in_reply_to: Option<String>,
    pub conversation_id: String,
    pub reply_settings: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A media upload as stored (bytes excluded; see [`XFake::media_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XMedia {
    pub id: String,
    pub media_key: String,
    pub owner_id: String,
    pub media_type: String,
    pub category: String,
    pub total_bytes: u64,
    /// `segment_index` of every append, in arrival order.
    pub segment_indices: Vec<u32>,
    /// Byte length of every append, in arrival order.
    pub segment_sizes: Vec<usize>,
    pub finalized: bool,
    /// `pending`, `in_progress`, `succeeded`, `failed`; `None` without processing.
    pub state: Option<String>,
    /// STATUS calls answered so far.
    pub polls: u32,
    pub alt_text: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// One request as the fake saw it (control-API calls excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XRequest {
    /// `None` for paths the fake does not serve (answered 404).
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

impl XRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A query parameter (first value, decoded).
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

/// Handle to a running fake; cheap to clone. The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct XFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl XFake {
    /// Starts the fake on `config.port` (0: any free port) of 127.0.0.1.
    ///
    /// # Panics
    /// When the port cannot be bound (use [`XFake::try_start`] to handle that).
    pub async fn start(config: XConfig) -> XFake {
        match XFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the X fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: XConfig) -> std::io::Result<XFake> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let mut inner = Inner::new();
        inner.clients.insert(DEFAULT_CLIENT_ID.to_string(), None);
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            cfg: config,
            inner: Mutex::new(inner),
        });
        let task = {
            let shared = shared.clone();
            spawn_server(listener, move |req, conn| handle(shared.clone(), conn, req))
        };
        Ok(XFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// e.g. `http://127.0.0.1:41234` (no trailing slash): the `https://api.x.com` stand-in.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn config(&self) -> XConfig {
        self.shared.cfg.clone()
    }

    /// Registers an OAuth client: public without a secret (Native App), else confidential.
    pub fn register_client(&self, client_id: &str, secret: Option<&str>) {
        self.shared
            .lock()
            .clients
            .insert(client_id.to_string(), secret.map(str::to_string));
    }

    /// Creates a user (a numeric id like X's).
    pub fn create_user(&self, username: &str, name: &str) -> XUser {
        self.shared.lock().create_user(username, name)
    }

    /// Issues tokens for `user_id` to [`DEFAULT_CLIENT_ID`] with `scopes` (a refresh token only
    /// with `offline.access`). `None` for an unknown user.
    pub fn issue_tokens(&self, user_id: &str, scopes: &[&str]) -> Option<XTokens> {
        self.issue_tokens_for(user_id, scopes, DEFAULT_CLIENT_ID)
    }

    pub fn issue_tokens_for(
        &self,
        user_id: &str,
        scopes: &[&str],
        client_id: &str,
    ) -> Option<XTokens> {
        let mut inner = self.shared.lock();
        inner.user(user_id)?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        Some(inner.issue_tokens(&self.shared.cfg, user_id, client_id, &scopes))
    }

    /// A user with tokens carrying every scope Outpost asks for.
    pub fn create_user_with_tokens(&self, username: &str) -> (XUser, XTokens) {
        let mut inner = self.shared.lock();
        let user = inner.create_user(username, &format!("{username} (fake)"));
        let scopes: Vec<String> = ALL_SCOPES.iter().map(|s| s.to_string()).collect();
        let tokens = inner.issue_tokens(&self.shared.cfg, &user.id, DEFAULT_CLIENT_ID, &scopes);
        (user, tokens)
    }

    /// An authorization code for the `authorization_code` grant, as the authorize page would
    /// hand it out after consent. Refuses a redirect URI on `localhost` (X wants 127.0.0.1).
    pub fn issue_code(&self, grant: CodeGrant) -> Result<String, String> {
        self.shared.lock().issue_code(grant)
    }

    /// The access token answers 401 from now on. `false` if unknown.
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

    /// Every access token issued so far answers 401 from now on.
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

    /// Every token of the user (access and refresh) stops working, as when the user revokes
    /// the app's access.
    pub fn revoke_user_tokens(&self, user_id: &str) {
        let mut inner = self.shared.lock();
        inner.refresh.retain(|_, t| t.user_id != user_id);
        inner.access.retain(|_, t| t.user_id != user_id);
    }

    /// Whether a refresh token would be accepted now.
    pub fn refresh_token_is_live(&self, refresh_token: &str) -> bool {
        self.shared.lock().refresh.contains_key(refresh_token)
    }

    /// Whether an access token would be accepted now.
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

    /// The endpoint's per-user bucket: `limit` requests per `window`.
    pub fn set_limit(&self, endpoint: Endpoint, limit: u32, window: chrono::Duration) {
        self.shared
            .lock()
            .window_limits
            .insert(endpoint, (limit, window));
    }

    /// A per-user 24-hour cap on the endpoint (older tiers: Free 17, Basic 100 posts), with
    /// `x-user-limit-24hour-*` headers; `None` removes it.
    pub fn set_user_24h_limit(&self, endpoint: Endpoint, limit: Option<u32>) {
        let mut inner = self.shared.lock();
        match limit {
            Some(l) => inner.user_24h.insert(endpoint, l),
            None => inner.user_24h.remove(&endpoint),
        };
    }

    /// The per-app 24-hour cap on the endpoint (`x-app-limit-24hour-*`); `None` removes it.
    pub fn set_app_24h_limit(&self, endpoint: Endpoint, limit: Option<u32>) {
        self.shared.lock().app_24h.insert(endpoint, limit);
    }

    /// How media finalized from now on process (default: succeeded on the second poll).
    pub fn set_processing(&self, processing: Processing) {
        self.shared.lock().processing = processing;
    }

    /// Video and GIF media finalized from now on succeed on STATUS poll number `polls`.
    pub fn video_processing(&self, polls: u32) {
        self.set_processing(Processing::AfterPolls { polls });
    }

    /// Changes the plan of one media (it restarts counting polls).
    pub fn set_media_processing(&self, media_id: &str, processing: Processing) -> bool {
        let mut inner = self.shared.lock();
        match inner.media.get_mut(media_id) {
            Some(m) => {
                m.plan = processing;
                m.info.polls = 0;
                true
            }
            None => false,
        }
    }

    /// Whether `GET /2/users/:id/tweets` works (default `true`); off, it answers 403
    /// `client-forbidden` like an app without read access.
    pub fn set_read_access(&self, on: bool) {
        self.shared.lock().read_access = on;
    }

    pub fn set_reply_restriction(&self, mode: ReplyRestriction) {
        self.shared.lock().reply_restriction = mode;
    }

    /// While set, every authenticated API call answers `status` with `body` (the app's credits
    /// are exhausted or its spending cap is hit; the real answer is UNCONFIRMED). `None` lifts
    /// it. See [`CreditsBlock::default`] for the default answer.
    pub fn set_credits_exhausted(&self, block: Option<CreditsBlock>) {
        self.shared.lock().credits = block;
    }

    pub fn set_refresh_error_form(&self, form: RefreshErrorForm) {
        self.shared.lock().refresh_error = form;
    }

    /// Added before every answer (control API excluded).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// Every post created, in creation order.
    pub fn tweets(&self) -> Vec<XTweet> {
        self.shared.lock().tweets.clone()
    }

    /// Stores a post as if made elsewhere (another app, the website). `None` for an unknown
    /// author.
    pub fn insert_tweet(
        &self,
        author_id: &str,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> Option<XTweet> {
        let mut inner = self.shared.lock();
        inner.user(author_id)?;
        let now = inner.now();
        Some(inner.store_tweet(author_id, text, Vec::new(), in_reply_to, None, now))
    }

    /// Every media upload, in initialize order.
    pub fn media(&self) -> Vec<XMedia> {
        let inner = self.shared.lock();
        inner
            .media_order
            .iter()
            .filter_map(|id| inner.media.get(id))
            .map(|m| m.info.clone())
            .collect()
    }

    /// The bytes of a finalized upload, segments joined in `segment_index` order.
    pub fn media_bytes(&self, media_id: &str) -> Option<Vec<u8>> {
        let inner = self.shared.lock();
        let m = inner.media.get(media_id)?;
        Some(
            m.segments
                .values()
                .flat_map(|b| b.iter().copied())
                .collect(),
        )
    }

    /// Every request (control API excluded).
    pub fn requests(&self) -> Vec<XRequest> {
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

    /// Moves the fake's clock forward (token expiry, rate windows, duplicates, media expiry).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }
}

/// What the authorize page granted, for [`XFake::issue_code`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub user_id: String,
    #[serde(default = "default_client")]
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    /// `S256` or `plain`.
    #[serde(default = "s256")]
    pub code_challenge_method: String,
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
}

fn default_client() -> String {
    DEFAULT_CLIENT_ID.to_string()
}

fn s256() -> String {
    "S256".to_string()
}

fn all_scopes() -> Vec<String> {
    ALL_SCOPES.iter().map(|s| s.to_string()).collect()
}

/// The answer of a blocked app (credits exhausted / spending cap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditsBlock {
    pub status: u16,
    pub body: Value,
}

impl Default for CreditsBlock {
    /// `429` with the `usage-capped` problem X used for exhausted usage caps (3P); for the
    /// credits era the body is UNCONFIRMED.
    fn default() -> Self {
        CreditsBlock {
            status: 429,
            body: serde_json::json!({
                "title": "UsageCapExceeded",
                "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.x.com/2/problems/usage-capped",
                "period": "Monthly",
                "scope": "Product",
            }),
        }
    }
}

// ---- state -------------------------------------------------------------------------------

pub(crate) struct Shared {
    cfg: XConfig,
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
        inner.requests.push(XRequest {
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
pub(crate) struct AccessToken {
    user_id: String,
    client_id: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    user_id: String,
    client_id: String,
    scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    grant: CodeGrant,
    expires_at: DateTime<Utc>,
}

pub(crate) struct MediaEntry {
    info: XMedia,
    /// segment_index → bytes
    segments: BTreeMap<u32, Bytes>,
    plan: Processing,
}

pub(crate) struct Inner {
    clock_offset: chrono::Duration,
    latency: Duration,
    users: Vec<XUser>,
    /// client id → secret (None: public client)
    clients: HashMap<String, Option<String>>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    tweets: Vec<XTweet>,
    media: HashMap<String, MediaEntry>,
    media_order: Vec<String>,
    faults: VecDeque<Fault>,
    requests: Vec<XRequest>,
    limiter: RateLimiter,
    window_limits: HashMap<Endpoint, (u32, chrono::Duration)>,
    user_24h: HashMap<Endpoint, u32>,
    /// Overrides of the documented app caps (`None`: no cap).
    app_24h: HashMap<Endpoint, Option<u32>>,
    processing: Processing,
    read_access: bool,
    reply_restriction: ReplyRestriction,
    credits: Option<CreditsBlock>,
    refresh_error: RefreshErrorForm,
    last_id: u64,
}

/// Twitter's snowflake epoch (2010-11-04T01:42:54.657Z), in milliseconds.
const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;

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
            tweets: Vec::new(),
            media: HashMap::new(),
            media_order: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            limiter: RateLimiter::default(),
            window_limits: HashMap::new(),
            user_24h: HashMap::new(),
            app_24h: HashMap::new(),
            processing: Processing::default(),
            read_access: true,
            reply_restriction: ReplyRestriction::Off,
            credits: None,
            refresh_error: RefreshErrorForm::default(),
            last_id: 0,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// A snowflake id (time in the high bits), strictly increasing.
    fn next_id(&mut self, now: DateTime<Utc>) -> String {
        let ms = u64::try_from(now.timestamp_millis() - SNOWFLAKE_EPOCH_MS).unwrap_or(0);
        let id = (ms << 22).max(self.last_id + 1);
        self.last_id = id;
        id.to_string()
    }

    fn user(&self, id: &str) -> Option<&XUser> {
        self.users.iter().find(|u| u.id == id)
    }

    fn create_user(&mut self, username: &str, name: &str) -> XUser {
        let username = username.trim().trim_start_matches('@').to_string();
        if let Some(existing) = self
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(&username))
        {
            return existing.clone();
        }
        let now = self.now();
        let user = XUser {
            id: self.next_id(now),
            username,
            name: name.to_string(),
        };
        self.users.push(user.clone());
        user
    }

    fn issue_tokens(
        &mut self,
        cfg: &XConfig,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> XTokens {
        let now = self.now();
        let access_token = token_string("at", now);
        self.access.insert(
            access_token.clone(),
            AccessToken {
                user_id: user_id.to_string(),
                client_id: client_id.to_string(),
                scopes: scopes.to_vec(),
                expires_at: now + cfg.access_ttl,
            },
        );
        let refresh_token = scopes.iter().any(|s| s == "offline.access").then(|| {
            let token = token_string("rt", now);
            self.refresh.insert(
                token.clone(),
                RefreshToken {
                    user_id: user_id.to_string(),
                    client_id: client_id.to_string(),
                    scopes: scopes.to_vec(),
                },
            );
            token
        });
        XTokens {
            access_token,
            refresh_token,
            expires_in: cfg.access_ttl.num_seconds(),
            scope: scopes.join(" "),
        }
    }

    fn issue_code(&mut self, grant: CodeGrant) -> Result<String, String> {
        if self.user(&grant.user_id).is_none() {
            return Err(format!("unknown user {}", grant.user_id));
        }
        if !self.clients.contains_key(&grant.client_id) {
            return Err(format!("unknown client {}", grant.client_id));
        }
        let host = grant
            .redirect_uri
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .unwrap_or_default();
        if host.eq_ignore_ascii_case("localhost") {
            return Err("X refuses localhost redirect URIs — use http://127.0.0.1".into());
        }
        if !matches!(grant.code_challenge_method.as_str(), "S256" | "plain") {
            return Err("code_challenge_method must be S256 or plain".into());
        }
        let now = self.now();
        let code = random_string(ALNUM, 86);
        self.codes.insert(
            code.clone(),
            AuthCode {
                grant,
                expires_at: now + chrono::Duration::seconds(30),
            },
        );
        Ok(code)
    }

    fn store_tweet(
        &mut self,
        author_id: &str,
        text: &str,
        media_ids: Vec<String>,
        in_reply_to: Option<&str>,
        reply_settings: Option<String>,
        now: DateTime<Utc>,
    ) -> XTweet {
        let id = self.next_id(now);
        let conversation_id = in_reply_to
            .and_then(|parent| self.tweets.iter().find(|t| t.id == parent))
            .map_or_else(|| id.clone(), |p| p.conversation_id.clone());
        let tweet = XTweet {
            id,
            author_id: author_id.to_string(),
            text: text.to_string(),
            media_ids,
            in_reply_to: in_reply_to.map(str::to_string),
            conversation_id,
            reply_settings,
            created_at: now,
        };
        self.tweets.push(tweet.clone());
        tweet
    }
}

/// A token shaped like X's: base64 of `<random>:<epoch ms>:1:0:<at|rt>:1`.
fn token_string(kind: &str, now: DateTime<Utc>) -> String {
    let raw = format!(
        "{}:{}:1:0:{kind}:1",
        random_string(ALNUM, 40),
        now.timestamp_millis()
    );
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)
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

    pub fn params(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.query).unwrap_or_default()
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
                builder = builder.header("content-type", "application/json; charset=utf-8");
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
            return Reply::json(400, serde_json::json!({"error": "unreadable body"}))
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
    let endpoint = Endpoint::of(&req.method, &req.path);
    let (reply, after) = match endpoint {
        None => (api::not_found(), After::Nothing),
        Some(endpoint) => match shared.take_fault(endpoint) {
            None => (api::process(&shared, endpoint, &req).await, After::Nothing),
            Some(FaultKind::Status { status, body }) => {
                (api::fault_status(status, body), After::Nothing)
            }
            Some(FaultKind::RateLimited {
                reset_in_secs,
                scope,
            }) => (
                api::fault_rate_limited(&shared, endpoint, reset_in_secs, scope),
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
