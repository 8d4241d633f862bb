//! A faithful in-process fake of the Facebook Graph API (Pages) for the calls Outpost makes,
//! on one loopback listener ([`FacebookFake::base_url`]) that stands in for
//! `graph.facebook.com`, `graph-video.facebook.com` and `rupload.facebook.com` (their paths
//! do not collide). See `docs/platforms/facebook.md`.
//!
//! | Endpoint | Notes |
//! |---|---|
//! | `GET`/`POST /{v}/oauth/access_token` | code exchange (`client_secret` and a `redirect_uri` byte-identical to the dialog's; single-use codes) and `grant_type=fb_exchange_token` (→ `expires_in` 5183944; an expired token is refused). No `refresh_token` grant |
//! | `GET /{v}/debug_token` | `expires_at` `0` for a Page token taken with a long-lived user token |
//! | `GET /{v}/me`, `GET /{v}/me/accounts` | the user (or the Page for a Page token); the Pages with `access_token` and `tasks` |
//! | `GET /{v}/{page-id}` | Page fields, `access_token` for a user with a role on it |
//! | `POST /{v}/{page-id}/feed` | `message`, `link`, `attached_media`, `published`, `scheduled_publish_time` (10 min – 30 days ahead); `{"id":"{page}_{post}"}`; 506 for a consecutive identical post |
//! | `POST /{v}/{page-id}/photos` | multipart `source` or `url`, `published`, `caption`, `alt_text_custom`; `{id, post_id}`; over 4 MB → subcode 1366046 |
//! | `POST /{v}/{app-id}/uploads`, `POST`/`GET /{v}/upload:{id}` | resumable upload with a **user** token, `Authorization: OAuth`, `file_offset`; `{"h"}` once complete |
//! | `POST /{v}/{page-id}/videos` | `fbuploader_video_file_chunk`, `title`, `description`, `published`, `scheduled_publish_time` → `{"id"}` |
//! | `POST /{v}/{page-id}/video_reels` | `upload_phase=start` → `{video_id, upload_url}`; `finish` with `video_state`; 30 Reels per Page per 24 h |
//! | `POST /video-upload/{v}/{video-id}` | Reel bytes with `offset` / `file_size` (or a `file_url` header) → `{"success":true}` |
//! | `GET /{v}/{video-id}?fields=status` | `video_status` walks `upload_in_progress` → `upload_complete` → `processing` → `ready` / `error` as the test says |
//! | `GET /{v}/{page-id}/published_posts`, `/scheduled_posts`, `/feed`, `/videos`, `/video_reels` | newest first, `since`, `limit`, cursor paging |
//! | `POST /{v}/{object-id}/comments`, `GET …/comments` | first comments (`pages_manage_engagement`) |
//! | `POST /{v}/{post-id}`, `DELETE /{v}/{post-id}` | edit (`message`, `scheduled_publish_time`, `is_published`) and delete |
//!
//! Every answer carries `X-App-Usage`; answers about a Page carry `X-Business-Use-Case-Usage`.
//! Errors use Graph's envelope (`message`, `type`, `code`, `error_subcode`, `is_transient`,
//! `error_user_title`, `error_user_msg`, `fbtrace_id`): mostly HTTP 400, code 1/2 as HTTP 500,
//! permission errors as HTTP 403. Publishing with a user token is refused ("Unpublished posts
//! must be posted to a page as the page itself"). Method override (`?method=`) and multi-ID
//! reads (`ids=`) are refused (v27 new-app rule; the real error body is UNCONFIRMED). Every
//! path must carry a version; an older version is served as if current and recorded.
//!
//! Scheduled posts sit in `/scheduled_posts` until the fake's clock ([`FacebookFake::advance_time`])
//! passes their `scheduled_publish_time`; then they are published.
//!
//! Test controls: users, Pages, roles and tasks, tokens (short- and long-lived, expiry,
//! revocation with a subcode), authorization codes, queued [`Fault`]s per [`Endpoint`] (a Graph
//! error by code, a raw status, drop before / after the server acted, delays), throttling of a
//! Page or the app ([`Throttle`]) with the usage headers, Reel processing plans, usage
//! percentages, the clock, and read access to everything published and every request. The same
//! controls are served over HTTP under `/_fake/` (see the `control` module).

mod api;
mod control;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::common::{random_string, spawn_server, ConnInfo, ServerGuard};

/// The Graph version the fake serves (facebook.md: v27.0).
pub const GRAPH_VERSION: &str = "v27.0";
/// The Meta app registered at start (the user's own app: App ID and App Secret).
pub const DEFAULT_APP_ID: &str = "1084326915272840";
pub const DEFAULT_APP_SECRET: &str = "9f3c1e7a5b2d4c6e8f0a1b3c5d7e9f21";
/// What Outpost asks for: publishing (`pages_show_list`, `pages_manage_posts`,
/// `pages_read_engagement`) and first comments (`pages_manage_engagement`).
pub const PAGE_SCOPES: [&str; 4] = [
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_manage_engagement",
];
/// The tasks of a Page admin (`/me/accounts` `tasks`).
pub const ADMIN_TASKS: [&str; 5] = [
    "ADVERTISE",
    "ANALYZE",
    "CREATE_CONTENT",
    "MESSAGING",
    "MODERATE",
];

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Lifetimes and limits; the defaults are the documented values.
#[derive(Debug, Clone)]
pub struct FacebookConfig {
    /// Port of the listener (0 = any free port).
    pub port: u16,
    /// The version served (`v27.0`).
    pub version: String,
    pub app_id: String,
    pub app_secret: String,
    /// Short-lived user tokens from the dialog (about 1–2 h).
    pub short_lived_ttl: chrono::Duration,
    /// `expires_in` of a long-lived user token (5183944 s, about 60 days).
    pub long_lived_expires_in: i64,
    /// Authorization codes (Meta: about 10 minutes).
    pub code_ttl: chrono::Duration,
    /// Scheduling window of `scheduled_publish_time`: 10 minutes to 30 days ahead
    /// (UNCONFIRMED: one client says 6 months).
    pub schedule_min: chrono::Duration,
    pub schedule_max: chrono::Duration,
    /// Largest photo (4 MB; over it: subcode 1366046).
    pub photo_max_bytes: u64,
    /// Reels published through the API per Page per 24 h (30).
    pub reels_per_day: usize,
    /// Calls per hour that make `X-App-Usage` read 100 % (`200 × users`; one user here).
    pub app_calls_per_hour: u32,
    /// Calls per hour that make a Page's BUC `call_count` read 100 % (`4800 × engaged users`).
    pub page_calls_per_hour: u32,
}

impl Default for FacebookConfig {
    fn default() -> Self {
        FacebookConfig {
            port: 0,
            version: GRAPH_VERSION.to_string(),
            app_id: DEFAULT_APP_ID.to_string(),
            app_secret: DEFAULT_APP_SECRET.to_string(),
            short_lived_ttl: chrono::Duration::hours(1),
            long_lived_expires_in: 5_183_944,
            code_ttl: chrono::Duration::minutes(10),
            schedule_min: chrono::Duration::minutes(10),
            schedule_max: chrono::Duration::days(30),
            photo_max_bytes: 4 * 1024 * 1024,
            reels_per_day: 30,
            app_calls_per_hour: 200,
            page_calls_per_hour: 4800,
        }
    }
}

/// One endpoint, as faults and recorded requests name it. JSON: the snake-case name, or `"*"`
/// for [`Endpoint::Any`] (faults only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET|POST /{v}/oauth/access_token`
    Token,
    /// `GET /{v}/debug_token`
    DebugToken,
    /// `GET /{v}/me`
    Me,
    /// `GET /{v}/me/accounts` (or `/{user-id}/accounts`)
    Accounts,
    /// `GET /{v}/{id}` (a Page, post, video or photo)
    Node,
    /// `POST /{v}/{page-id}/feed`
    Feed,
    /// `GET /{v}/{page-id}/feed`
    PageFeed,
    /// `GET /{v}/{page-id}/published_posts`
    PublishedPosts,
    /// `GET /{v}/{page-id}/scheduled_posts`
    ScheduledPosts,
    /// `POST /{v}/{page-id}/photos`
    Photos,
    /// `POST /{v}/{app-id}/uploads`
    UploadStart,
    /// `POST /{v}/upload:{session}`
    UploadTransfer,
    /// `GET /{v}/upload:{session}`
    UploadStatus,
    /// `POST /{v}/{page-id}/videos` (graph-video)
    Videos,
    /// `GET /{v}/{page-id}/videos`
    PageVideos,
    /// `POST /{v}/{page-id}/video_reels` (`upload_phase=start|finish`)
    VideoReels,
    /// `GET /{v}/{page-id}/video_reels`
    PageReels,
    /// `POST /video-upload/{v}/{video-id}` (rupload)
    Rupload,
    /// `POST /{v}/{object-id}/comments`
    Comments,
    /// `GET /{v}/{object-id}/comments`
    ReadComments,
    /// `POST /{v}/{object-id}` (edit)
    Update,
    /// `DELETE /{v}/{object-id}`
    Delete,
    /// Any endpoint (faults only).
    #[serde(rename = "*")]
    Any,
}

/// A request's place in the API: the endpoint, the version in the path and the object id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub endpoint: Endpoint,
    pub version: String,
    /// The Page, app, object or video id; the session id (without `upload:`) for uploads.
    pub id: Option<String>,
}

/// Why a path is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteError {
    NoVersion,
    Unknown,
}

fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut it = rest.splitn(2, '.');
    let (Some(a), Some(b)) = (it.next(), it.next()) else {
        return false;
    };
    !a.is_empty()
        && !b.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.bytes().all(|c| c.is_ascii_digit())
}

/// Graph ids are numeric; `me` stands for the token's owner.
fn is_object_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

pub(crate) fn route(method: &str, path: &str) -> Result<Route, RouteError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let method = method.to_ascii_uppercase();
    let r = |endpoint, version: &str, id: Option<&str>| {
        Ok(Route {
            endpoint,
            version: version.to_string(),
            id: id.map(str::to_string),
        })
    };
    if segs.first() == Some(&"video-upload") {
        return match (method.as_str(), &segs[1..]) {
            ("POST", [v, id]) if is_version(v) && is_object_id(id) => {
                r(Endpoint::Rupload, v, Some(id))
            }
            (_, [v, ..]) if !is_version(v) => Err(RouteError::NoVersion),
            _ => Err(RouteError::Unknown),
        };
    }
    let Some((v, rest)) = segs.split_first() else {
        return Err(RouteError::Unknown);
    };
    if !is_version(v) {
        return Err(RouteError::NoVersion);
    }
    match (method.as_str(), rest) {
        ("GET" | "POST", ["oauth", "access_token"]) => r(Endpoint::Token, v, None),
        ("GET", ["debug_token"]) => r(Endpoint::DebugToken, v, None),
        ("GET", ["me"]) => r(Endpoint::Me, v, None),
        ("GET", ["me", "accounts"]) => r(Endpoint::Accounts, v, None),
        ("GET", [id, "accounts"]) if is_object_id(id) => r(Endpoint::Accounts, v, Some(id)),
        (m, [s]) if s.starts_with("upload:") => {
            let sid = &s["upload:".len()..];
            if sid.is_empty() {
                return Err(RouteError::Unknown);
            }
            match m {
                "POST" => r(Endpoint::UploadTransfer, v, Some(sid)),
                "GET" => r(Endpoint::UploadStatus, v, Some(sid)),
                _ => Err(RouteError::Unknown),
            }
        }
        ("GET", [id]) if is_object_id(id) => r(Endpoint::Node, v, Some(id)),
        ("POST", [id]) if is_object_id(id) => r(Endpoint::Update, v, Some(id)),
        ("DELETE", [id]) if is_object_id(id) => r(Endpoint::Delete, v, Some(id)),
        (m, [id, edge]) if is_object_id(id) => {
            let e = match (m, *edge) {
                ("POST", "feed") => Endpoint::Feed,
                ("GET", "feed") => Endpoint::PageFeed,
                ("GET", "published_posts") => Endpoint::PublishedPosts,
                ("GET", "scheduled_posts") => Endpoint::ScheduledPosts,
                ("POST", "photos") => Endpoint::Photos,
                ("POST", "uploads") => Endpoint::UploadStart,
                ("POST", "videos") => Endpoint::Videos,
                ("GET", "videos") => Endpoint::PageVideos,
                ("POST", "video_reels") => Endpoint::VideoReels,
                ("GET", "video_reels") => Endpoint::PageReels,
                ("POST", "comments") => Endpoint::Comments,
                ("GET", "comments") => Endpoint::ReadComments,
                _ => return Err(RouteError::Unknown),
            };
            r(e, v, Some(id))
        }
        _ => Err(RouteError::Unknown),
    }
}

// ---- faults --------------------------------------------------------------------------------

/// A queued fault: each request to a matching endpoint consumes one of `times`, in the order
/// the faults were pushed. JSON: `{"endpoint":"feed","times":1,"kind":{…}}`.
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

/// A Graph error as a fault sends it. `status` defaults to Graph's status for the code (500
/// for 1 and 2, 403 for permission errors, else 400); `message` to Meta's text for the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GraphFault {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_transient: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_msg: Option<String>,
    /// `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regain_minutes: Option<u64>,
}

/// What a fault does. JSON (tagged by `type`): `{"type":"graph","code":80001,…}` (a
/// [`GraphFault`]), `{"type":"status","status":502,"body":…}`, `{"type":"drop_before_commit"}`,
/// `{"type":"drop_after_commit"}`, `{"type":"delay_before","ms":500}`,
/// `{"type":"delay_after_commit","ms":500}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// A Graph error envelope; no side effect.
    Graph(GraphFault),
    /// A raw status with `body` (default: an HTML error page, as a proxy would send).
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
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

impl Fault {
    pub fn new(endpoint: Endpoint, times: u32, kind: FaultKind) -> Fault {
        Fault {
            endpoint,
            times,
            kind,
        }
    }

    /// A Graph error with Meta's message for `code` (and `subcode`).
    pub fn graph(endpoint: Endpoint, times: u32, code: i64, subcode: Option<i64>) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::Graph(GraphFault {
                code,
                subcode,
                ..GraphFault::default()
            }),
        )
    }

    /// A throttle (`4`, `17`, `32`, `613`, `80001`) whose usage header says access returns in
    /// `minutes`.
    pub fn throttled(endpoint: Endpoint, times: u32, code: i64, minutes: u64) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::Graph(GraphFault {
                code,
                regain_minutes: Some(minutes),
                ..GraphFault::default()
            }),
        )
    }

    /// Code 1 ("An unknown error occurred") as HTTP 500, `is_transient: true`.
    pub fn unknown_error(endpoint: Endpoint, times: u32) -> Fault {
        Fault::graph(endpoint, times, 1, None)
    }

    /// A bare status (a 502 from a proxy…).
    pub fn status(endpoint: Endpoint, times: u32, status: u16) -> Fault {
        Fault::new(endpoint, times, FaultKind::Status { status, body: None })
    }

    /// Perform the request (the post IS created), then close the connection unanswered.
    pub fn drop_after_commit(endpoint: Endpoint, times: u32) -> Fault {
        Fault::new(endpoint, times, FaultKind::DropAfterCommit)
    }
}

/// Throttling of one Page (BUC: 80001, 32, 613) or of the whole app (`page_id: None`: 4, 17,
/// 341): every call answers `code` until the fake's clock passes `minutes` from now. With
/// `extend_on_call`, each call made while blocked starts the wait again ("every further call
/// extends the block").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throttle {
    #[serde(default)]
    pub page_id: Option<String>,
    pub code: i64,
    pub minutes: u64,
    #[serde(default)]
    pub extend_on_call: bool,
}

/// How a Reel processes after `upload_phase=finish`. JSON (tagged by `type`):
/// `{"type":"after_polls","polls":2}`, `{"type":"never"}`,
/// `{"type":"fail","after_polls":1,"message":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Processing {
    /// `processing` for the first `polls - 1` status reads, `ready` on read number `polls`
    /// (0: ready at finish).
    AfterPolls { polls: u32 },
    /// `processing` forever.
    Never,
    /// `processing` until read number `after_polls`, then `error` with `message`.
    Fail { after_polls: u32, message: String },
}

impl Default for Processing {
    fn default() -> Self {
        Processing::AfterPolls { polls: 1 }
    }
}

// ---- public records --------------------------------------------------------------------------

/// A Facebook user (the person who logs in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbUser {
    pub id: String,
    pub name: String,
}

/// A Page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbPage {
    pub id: String,
    pub name: String,
    pub username: Option<String>,
}

/// Which kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    User,
    Page,
}

/// A token as the token endpoint hands it out (`expires_in` absent: never expires).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbTokens {
    pub access_token: String,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

/// What kind of post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    Status,
    Link,
    Photos,
    Video,
    Reel,
}

/// A Page post as stored (feed posts, and the posts videos and Reels make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbPost {
    /// `{page-id}_{post-id}`.
    pub id: String,
    pub page_id: String,
    pub kind: PostKind,
    pub message: Option<String>,
    pub link: Option<String>,
    /// Photo ids attached with `attached_media`.
    pub attached_media: Vec<String>,
    /// The video id of a video or Reel post.
    pub object_id: Option<String>,
    pub created_time: DateTime<Utc>,
    /// False while held until `scheduled_publish_time` (or unpublished).
    pub published: bool,
    pub scheduled_publish_time: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    /// Edits made with `POST /{post-id}`.
    pub edits: u32,
}

impl FbPost {
    /// Waiting on Facebook for its time.
    pub fn is_held(&self) -> bool {
        !self.deleted && !self.published && self.scheduled_publish_time.is_some()
    }
    /// Live on the Page.
    pub fn is_live(&self) -> bool {
        !self.deleted && self.published
    }
}

/// A photo upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbPhoto {
    pub id: String,
    pub page_id: String,
    pub published: bool,
    pub bytes: u64,
    pub sha256: String,
    /// What the bytes are (`image/png`…), sniffed.
    pub mime: String,
    pub caption: Option<String>,
    pub alt_text_custom: Option<String>,
    /// `source` (multipart) or `url`.
    pub via: String,
    /// The post it went out with.
    pub post_id: Option<String>,
    pub created_time: DateTime<Utc>,
}

/// A video or Reel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbVideo {
    pub id: String,
    pub page_id: String,
    pub reel: bool,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Bytes expected (`file_size`, the session's `file_length`).
    pub file_size: u64,
    pub bytes_received: u64,
    pub sha256: Option<String>,
    /// `upload_in_progress`, `upload_complete`, `processing`, `ready`, `error`.
    pub video_status: String,
    /// Reels: `PUBLISHED`, `DRAFT`, `SCHEDULED` from `finish`.
    pub video_state: Option<String>,
    pub published: bool,
    pub scheduled_publish_time: Option<DateTime<Utc>>,
    pub post_id: Option<String>,
    pub error_message: Option<String>,
    /// Status reads after finish.
    pub polls: u32,
    /// Finish calls received.
    pub finishes: u32,
    pub created_time: DateTime<Utc>,
    pub deleted: bool,
}

/// A comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbComment {
    pub id: String,
    /// The post or video commented on.
    pub object_id: String,
    pub message: String,
    /// The Page that commented.
    pub from_id: String,
    pub created_time: DateTime<Utc>,
}

/// A resumable upload session (`/{app-id}/uploads`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FbUploadSession {
    /// Without the `upload:` prefix.
    pub id: String,
    pub app_id: String,
    pub user_id: String,
    pub file_name: String,
    pub file_length: u64,
    pub file_type: String,
    pub file_offset: u64,
    /// Byte length of every transfer, in arrival order.
    pub transfers: Vec<u64>,
    /// The file handle, once complete.
    pub handle: Option<String>,
    pub created: DateTime<Utc>,
}

/// One request as the fake saw it (control-API calls excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FbRequest {
    /// `None` for paths the fake does not serve.
    pub endpoint: Option<Endpoint>,
    pub method: String,
    pub path: String,
    /// The Graph version in the path, if any.
    pub version: Option<String>,
    /// Raw query string without `?`.
    pub query: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Raw body (base64 in the JSON form).
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    /// The kind of token the call used, when it carried a known one.
    pub token_kind: Option<TokenKind>,
    /// Status answered; `0` when the connection was closed without an answer.
    pub status: u16,
    pub at: DateTime<Utc>,
}

impl FbRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A parameter from the query string or a form-encoded body (first value, decoded).
    pub fn param(&self, key: &str) -> Option<String> {
        let from = |s: &str| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(s)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        };
        let form = self
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if form {
            if let Some(v) = from(&String::from_utf8_lossy(&self.body)) {
                return Some(v);
            }
        }
        from(&self.query)
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

/// What the dialog granted, for [`FacebookFake::issue_code`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub user_id: String,
    #[serde(default = "default_app")]
    pub client_id: String,
    pub redirect_uri: String,
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
}

pub(crate) fn default_app() -> String {
    DEFAULT_APP_ID.to_string()
}

pub(crate) fn all_scopes() -> Vec<String> {
    PAGE_SCOPES.iter().map(|s| s.to_string()).collect()
}

// ---- state ---------------------------------------------------------------------------------

pub(crate) struct Shared {
    pub cfg: FacebookConfig,
    pub base_url: String,
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

    fn record(&self, route: Option<&Route>, req: &Req, token_kind: Option<TokenKind>, status: u16) {
        let mut inner = self.lock();
        let at = inner.now();
        let version = route.map(|r| r.version.clone()).or_else(|| {
            req.path
                .trim_matches('/')
                .split('/')
                .find(|s| is_version(s))
                .map(str::to_string)
        });
        inner.requests.push(FbRequest {
            endpoint: route.map(|r| r.endpoint),
            method: req.method.clone(),
            path: req.path.clone(),
            version,
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
            token_kind,
            status,
            at,
        });
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub kind: TokenKind,
    pub user_id: String,
    pub page_id: Option<String>,
    pub app_id: String,
    pub scopes: Vec<String>,
    /// `None`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    pub long_lived: bool,
    /// The subcode a revoked token answers with (458, 460, 467, 459, 464).
    pub revoked: Option<i64>,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub grant: CodeGrant,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

pub(crate) struct Inner {
    pub clock_offset: chrono::Duration,
    pub latency: Duration,
    /// app id → secret
    pub apps: HashMap<String, String>,
    pub users: Vec<FbUser>,
    pub pages: Vec<FbPage>,
    /// (user id, page id) → tasks
    pub roles: HashMap<(String, String), Vec<String>>,
    pub tokens: HashMap<String, TokenInfo>,
    pub codes: HashMap<String, AuthCode>,
    pub posts: Vec<FbPost>,
    pub photos: Vec<FbPhoto>,
    pub videos: Vec<FbVideo>,
    pub video_bytes: HashMap<String, Vec<u8>>,
    pub video_plans: HashMap<String, Processing>,
    pub comments: Vec<FbComment>,
    pub sessions: Vec<FbUploadSession>,
    pub session_bytes: HashMap<String, Vec<u8>>,
    /// file handle → session id
    pub handles: HashMap<String, String>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<FbRequest>,
    pub throttles: Vec<(Throttle, DateTime<Utc>)>,
    pub reel_processing: Processing,
    pub app_usage: Option<u64>,
    pub page_usage: HashMap<String, u64>,
    /// Call times per app and per Page (usage headers).
    pub app_calls: Vec<DateTime<Utc>>,
    pub page_calls: HashMap<String, Vec<DateTime<Utc>>>,
    pub next_id: u64,
}

impl Inner {
    fn new() -> Inner {
        Inner {
            clock_offset: chrono::Duration::zero(),
            latency: Duration::ZERO,
            apps: HashMap::new(),
            users: Vec::new(),
            pages: Vec::new(),
            roles: HashMap::new(),
            tokens: HashMap::new(),
            codes: HashMap::new(),
            posts: Vec::new(),
            photos: Vec::new(),
            videos: Vec::new(),
            video_bytes: HashMap::new(),
            video_plans: HashMap::new(),
            comments: Vec::new(),
            sessions: Vec::new(),
            session_bytes: HashMap::new(),
            handles: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            throttles: Vec::new(),
            reel_processing: Processing::default(),
            app_usage: None,
            page_usage: HashMap::new(),
            app_calls: Vec::new(),
            page_calls: HashMap::new(),
            // Above 2^53: ids are opaque strings (facebook.md "IDs").
            next_id: 122_100_000_000_000_000,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1 + u64::from(rand::random::<u8>() % 7);
        self.next_id.to_string()
    }

    pub(crate) fn user(&self, id: &str) -> Option<&FbUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn page(&self, id: &str) -> Option<&FbPage> {
        self.pages.iter().find(|p| p.id == id)
    }

    pub(crate) fn tasks(&self, user_id: &str, page_id: &str) -> Option<&Vec<String>> {
        self.roles.get(&(user_id.to_string(), page_id.to_string()))
    }

    fn create_user(&mut self, name: &str) -> FbUser {
        let id = format!("10{}", &self.new_id()[2..]);
        let user = FbUser {
            id,
            name: name.to_string(),
        };
        self.users.push(user.clone());
        user
    }

    fn create_page(&mut self, name: &str, username: Option<&str>) -> FbPage {
        let n = self.new_id();
        let page = FbPage {
            id: format!("6{}", &n[n.len() - 14..]),
            name: name.to_string(),
            username: username.map(str::to_string),
        };
        self.pages.push(page.clone());
        page
    }

    pub(crate) fn issue_user_token(
        &mut self,
        cfg: &FacebookConfig,
        user_id: &str,
        app_id: &str,
        scopes: &[String],
        long_lived: bool,
    ) -> FbTokens {
        let now = self.now();
        let token = format!("EAA{}", random_string(ALNUM, 180));
        let expires_in = if long_lived {
            cfg.long_lived_expires_in
        } else {
            cfg.short_lived_ttl.num_seconds()
        };
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                kind: TokenKind::User,
                user_id: user_id.to_string(),
                page_id: None,
                app_id: app_id.to_string(),
                scopes: scopes.to_vec(),
                expires_at: Some(now + chrono::Duration::seconds(expires_in)),
                long_lived,
                revoked: None,
                issued_at: now,
            },
        );
        FbTokens {
            access_token: token,
            token_type: "bearer".into(),
            expires_in: Some(expires_in),
        }
    }

    /// The Page token a user token gets for `page_id`: never expiring from a long-lived user
    /// token, expiring with it from a short-lived one. The same token while it is valid.
    pub(crate) fn page_token_for(&mut self, user_token: &TokenInfo, page_id: &str) -> String {
        let now = self.now();
        let expires_at = if user_token.long_lived {
            None
        } else {
            user_token.expires_at
        };
        let existing = self.tokens.iter().find(|(_, t)| {
            t.kind == TokenKind::Page
                && t.user_id == user_token.user_id
                && t.page_id.as_deref() == Some(page_id)
                && t.app_id == user_token.app_id
                && t.revoked.is_none()
                && t.expires_at == expires_at
                && t.scopes == user_token.scopes
        });
        if let Some((token, _)) = existing {
            return token.clone();
        }
        let token = format!("EAAP{}", random_string(ALNUM, 180));
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                kind: TokenKind::Page,
                user_id: user_token.user_id.clone(),
                page_id: Some(page_id.to_string()),
                app_id: user_token.app_id.clone(),
                scopes: user_token.scopes.clone(),
                expires_at,
                long_lived: user_token.long_lived,
                revoked: None,
                issued_at: now,
            },
        );
        token
    }

    fn issue_code(&mut self, cfg: &FacebookConfig, grant: CodeGrant) -> Result<String, String> {
        if self.user(&grant.user_id).is_none() {
            return Err(format!("unknown user {}", grant.user_id));
        }
        if !self.apps.contains_key(&grant.client_id) {
            return Err(format!("unknown app {}", grant.client_id));
        }
        let lower = grant.redirect_uri.to_ascii_lowercase();
        // Live apps refuse http redirects; the fake's app is a Development-mode app, which
        // Meta lets use http://localhost (facebook.md "Loopback redirect").
        let local = lower.starts_with("http://localhost") || lower.starts_with("http://127.0.0.1");
        if !lower.starts_with("https://") && !local {
            return Err("Meta requires an https:// redirect URI".into());
        }
        let now = self.now();
        let code = format!("AQ{}", random_string(ALNUM, 120));
        self.codes.insert(
            code.clone(),
            AuthCode {
                grant,
                expires_at: now + cfg.code_ttl,
                used: false,
            },
        );
        Ok(code)
    }

    /// Held posts, videos and Reels whose time has come go out.
    pub(crate) fn promote_due(&mut self) {
        let now = self.now();
        for p in self.posts.iter_mut() {
            if p.is_held() && p.scheduled_publish_time.is_some_and(|t| t <= now) {
                p.published = true;
                p.published_at = p.scheduled_publish_time;
            }
        }
        for v in self.videos.iter_mut() {
            if !v.deleted
                && !v.published
                && v.video_status == "ready"
                && v.scheduled_publish_time.is_some_and(|t| t <= now)
            {
                v.published = true;
            }
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

    pub fn query_params(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.query).unwrap_or_default()
    }
}

/// An answer before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub raw: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            raw: None,
            headers: Vec::new(),
        }
    }

    pub fn raw(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            body: None,
            raw: Some((content_type.to_string(), body.to_string())),
            headers: Vec::new(),
        }
    }

    fn into_response(self) -> Response<Body> {
        let mut builder = Response::builder().status(self.status);
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let body = match (self.body, self.raw) {
            (Some(v), _) => {
                builder = builder.header("content-type", "application/json; charset=UTF-8");
                Body::from(v.to_string())
            }
            (None, Some((ct, text))) => {
                builder = builder.header("content-type", ct);
                Body::from(text)
            }
            (None, None) => Body::empty(),
        };
        builder
            .body(body)
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// A Graph error envelope with Meta's message for the code, the status Graph uses for it, and
/// a fresh `fbtrace_id`.
pub(crate) fn graph_error(code: i64, subcode: Option<i64>, message: &str) -> Reply {
    graph_fault_reply(&GraphFault {
        code,
        subcode,
        message: (!message.is_empty()).then(|| message.to_string()),
        ..GraphFault::default()
    })
}

pub(crate) fn default_message(code: i64, subcode: Option<i64>) -> String {
    match (code, subcode) {
        (1, _) => "An unknown error occurred".into(),
        (2, _) => "An unexpected error has occurred. Please retry your request later.".into(),
        (3, _) => "(#3) Application does not have the capability to make this API call.".into(),
        (4, _) => "(#4) Application request limit reached".into(),
        (10, _) => "(#10) Application does not have permission for this action".into(),
        (17, _) => "(#17) User request limit reached".into(),
        (32, _) => "(#32) Page request limit reached".into(),
        (100, Some(33)) => "Unsupported request. Object does not exist, cannot be loaded due to missing permissions, or does not support this operation.".into(),
        (100, Some(1609005)) => "(#100) The link could not be retrieved (the page could not be scraped).".into(),
        (100, Some(2069019)) => "(#100) Invalid file. The file you selected is in a format that isn't supported.".into(),
        (100, _) => "(#100) Invalid parameter".into(),
        (102, _) => "Session key invalid or no longer valid".into(),
        (190, Some(458)) => "Error validating access token: The user has not authorized application.".into(),
        (190, Some(459)) => "Error validating access token: You cannot access the app till you log in to www.facebook.com and follow the instructions given.".into(),
        (190, Some(460)) => "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.".into(),
        (190, Some(463)) => "Error validating access token: Session has expired.".into(),
        (190, Some(464)) => "Error validating access token: Sessions for the user are not allowed because the user is not a confirmed user.".into(),
        (190, Some(467)) => "Error validating access token: The session is invalid because the user logged out.".into(),
        (190, Some(492)) => "Error validating access token: The user does not have a role on this Page.".into(),
        (190, _) => "Invalid OAuth access token - Cannot parse access token".into(),
        (200, _) => "(#200) Permissions error".into(),
        (324, _) => "(#324) Missing or invalid image file".into(),
        (341, _) => "(#341) Application limit reached".into(),
        (368, _) => "The action attempted has been deemed abusive or is otherwise disallowed".into(),
        (506, _) => "(#506) Duplicate status message".into(),
        (613, _) => "(#613) Calls to this api have exceeded the rate limit.".into(),
        (80001, _) => "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.".into(),
        (c, _) => format!("(#{c}) An error occurred"),
    }
}

/// Graph's status for an error: code 1/2 as 500 (3P), permission errors as 403 (3P), else 400.
pub(crate) fn status_for(code: i64) -> u16 {
    match code {
        1 | 2 => 500,
        10 | 200..=299 => 403,
        _ => 400,
    }
}

pub(crate) fn graph_fault_reply(f: &GraphFault) -> Reply {
    let message = f
        .message
        .clone()
        .unwrap_or_else(|| default_message(f.code, f.subcode));
    let mut error = json!({
        "message": message,
        "type": if f.code == 100 && f.subcode == Some(33) { "GraphMethodException" } else { "OAuthException" },
        "code": f.code,
        "is_transient": f.is_transient.unwrap_or(matches!(f.code, 1 | 2)),
        "fbtrace_id": format!("A{}", random_string(ALNUM, 22)),
    });
    if let Some(s) = f.subcode {
        error["error_subcode"] = json!(s);
    }
    if let Some(t) = &f.user_title {
        error["error_user_title"] = json!(t);
    }
    if let Some(m) = &f.user_msg {
        error["error_user_msg"] = json!(m);
    }
    Reply::json(
        f.status.unwrap_or_else(|| status_for(f.code)),
        json!({ "error": error }),
    )
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
        Err(_) => return graph_error(100, None, "unreadable body").into_response(),
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
    let route = match route(&req.method, &req.path) {
        Ok(r) => r,
        Err(e) => {
            let reply = match e {
                RouteError::NoVersion => graph_error(
                    2500,
                    None,
                    "Unknown path components: the path must start with a Graph API version (/v27.0/…)",
                ),
                RouteError::Unknown => graph_error(
                    2500,
                    None,
                    &format!("Unknown path components: {}", req.path),
                ),
            };
            let mut reply = reply;
            reply.headers.extend(api::plain_usage(&shared));
            shared.record(None, &req, None, reply.status);
            return reply.into_response();
        }
    };
    if let Some(mut reply) = api::refused_protocol(&req) {
        reply.headers.extend(api::plain_usage(&shared));
        shared.record(Some(&route), &req, None, reply.status);
        return reply.into_response();
    }
    let (reply, after, token_kind) = match shared.take_fault(route.endpoint) {
        None => {
            let (r, k) = api::process(&shared, &route, &req).await;
            (r, After::Nothing, k)
        }
        Some(FaultKind::Graph(f)) => {
            let mut reply = graph_fault_reply(&f);
            api::fault_headers(&shared, &route, &req, &f, &mut reply);
            (reply, After::Nothing, api::token_kind_of(&shared, &req))
        }
        Some(FaultKind::Status { status, body }) => {
            let reply = match body {
                Some(b) => Reply::json(status, b),
                None => Reply::raw(
                    status,
                    "text/html; charset=utf-8",
                    "<html><body><h1>Sorry, something went wrong.</h1></body></html>",
                ),
            };
            (reply, After::Nothing, api::token_kind_of(&shared, &req))
        }
        Some(FaultKind::DropBeforeCommit) => (Reply::json(500, Value::Null), After::Drop, None),
        Some(FaultKind::DropAfterCommit) => {
            let (r, k) = api::process(&shared, &route, &req).await;
            (r, After::Drop, k)
        }
        Some(FaultKind::DelayBefore { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let (r, k) = api::process(&shared, &route, &req).await;
            (r, After::Nothing, k)
        }
        Some(FaultKind::DelayAfterCommit { ms }) => {
            let (r, k) = api::process(&shared, &route, &req).await;
            (r, After::Delay(Duration::from_millis(ms)), k)
        }
    };
    let status = match after {
        After::Drop => 0,
        _ => reply.status,
    };
    shared.record(Some(&route), &req, token_kind, status);
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

// ---- the handle ----------------------------------------------------------------------------

/// Handle to a running fake; cheap to clone. The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FacebookFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl FacebookFake {
    /// Starts the fake on `config.port` (0: any free port) of 127.0.0.1.
    ///
    /// # Panics
    /// When the port cannot be bound (use [`FacebookFake::try_start`] to handle that).
    pub async fn start(config: FacebookConfig) -> FacebookFake {
        match FacebookFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the Facebook fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: FacebookConfig) -> std::io::Result<FacebookFake> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let mut inner = Inner::new();
        inner
            .apps
            .insert(config.app_id.clone(), config.app_secret.clone());
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            cfg: config,
            inner: Mutex::new(inner),
        });
        let task = {
            let shared = shared.clone();
            spawn_server(listener, move |req, conn| handle(shared.clone(), conn, req))
        };
        Ok(FacebookFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// e.g. `http://127.0.0.1:41234` (no trailing slash): the stand-in for
    /// `https://graph.facebook.com` (and graph-video, rupload).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn config(&self) -> FacebookConfig {
        self.shared.cfg.clone()
    }

    /// Registers another Meta app.
    pub fn register_app(&self, app_id: &str, secret: &str) {
        self.shared
            .lock()
            .apps
            .insert(app_id.to_string(), secret.to_string());
    }

    pub fn create_user(&self, name: &str) -> FbUser {
        self.shared.lock().create_user(name)
    }

    pub fn create_page(&self, name: &str, username: Option<&str>) -> FbPage {
        self.shared.lock().create_page(name, username)
    }

    /// Gives `user_id` a role on the Page with `tasks` (e.g. [`ADMIN_TASKS`]).
    pub fn grant_page(&self, user_id: &str, page_id: &str, tasks: &[&str]) {
        self.shared.lock().roles.insert(
            (user_id.to_string(), page_id.to_string()),
            tasks.iter().map(|t| t.to_string()).collect(),
        );
    }

    /// Takes the user's role on the Page away: its Page tokens answer 190/492.
    pub fn remove_role(&self, user_id: &str, page_id: &str) {
        self.shared
            .lock()
            .roles
            .remove(&(user_id.to_string(), page_id.to_string()));
    }

    /// A user who administers a new Page, with a long-lived user token carrying
    /// [`PAGE_SCOPES`] for [`DEFAULT_APP_ID`].
    pub fn create_user_with_page(
        &self,
        user_name: &str,
        page_name: &str,
        page_username: Option<&str>,
    ) -> (FbUser, FbPage, FbTokens) {
        let mut inner = self.shared.lock();
        let user = inner.create_user(user_name);
        let page = inner.create_page(page_name, page_username);
        inner.roles.insert(
            (user.id.clone(), page.id.clone()),
            ADMIN_TASKS.iter().map(|t| t.to_string()).collect(),
        );
        let app = self.shared.cfg.app_id.clone();
        let tokens = inner.issue_user_token(&self.shared.cfg, &user.id, &app, &all_scopes(), true);
        (user, page, tokens)
    }

    /// A user token for [`DEFAULT_APP_ID`]: short-lived (1 h) or long-lived (60 days).
    pub fn issue_user_token(&self, user_id: &str, scopes: &[&str], long_lived: bool) -> FbTokens {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let app = self.shared.cfg.app_id.clone();
        self.shared
            .lock()
            .issue_user_token(&self.shared.cfg, user_id, &app, &scopes, long_lived)
    }

    /// The Page token `/me/accounts` would hand out to this user token. `None` when the token
    /// is unknown or the user has no role on the Page.
    pub fn page_token(&self, user_token: &str, page_id: &str) -> Option<String> {
        let mut inner = self.shared.lock();
        let info = inner.tokens.get(user_token).cloned()?;
        inner.tasks(&info.user_id, page_id)?;
        Some(inner.page_token_for(&info, page_id))
    }

    /// An authorization code, as the dialog hands it out after consent.
    pub fn issue_code(&self, grant: CodeGrant) -> Result<String, String> {
        self.shared.lock().issue_code(&self.shared.cfg, grant)
    }

    /// The token answers 190/463 (expired) from now on. `false` if unknown.
    pub fn expire_token(&self, token: &str) -> bool {
        let mut inner = self.shared.lock();
        let past = inner.now() - chrono::Duration::seconds(1);
        match inner.tokens.get_mut(token) {
            Some(t) => {
                t.expires_at = Some(past);
                true
            }
            None => false,
        }
    }

    /// Every token of the user (user and Page tokens) answers 190 with `subcode` from now on:
    /// 458 app removed, 460 password changed (the default), 467 logged out, 459 checkpoint,
    /// 464 unconfirmed user.
    pub fn revoke_user(&self, user_id: &str, subcode: Option<i64>) {
        let mut inner = self.shared.lock();
        for t in inner.tokens.values_mut() {
            if t.user_id == user_id {
                t.revoked = Some(subcode.unwrap_or(460));
            }
        }
    }

    /// Whether the token would be accepted now.
    pub fn token_is_live(&self, token: &str) -> bool {
        let inner = self.shared.lock();
        let now = inner.now();
        inner
            .tokens
            .get(token)
            .is_some_and(|t| t.revoked.is_none() && t.expires_at.is_none_or(|e| e > now))
    }

    /// Kind and expiry of a token the fake issued (`None`: unknown; inner `None`: never).
    pub fn token_info(&self, token: &str) -> Option<(TokenKind, Option<DateTime<Utc>>)> {
        let inner = self.shared.lock();
        inner.tokens.get(token).map(|t| (t.kind, t.expires_at))
    }

    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Starts throttling a Page or the app (see [`Throttle`]).
    pub fn throttle(&self, throttle: Throttle) {
        let mut inner = self.shared.lock();
        let until = inner.now() + chrono::Duration::minutes(throttle.minutes as i64);
        inner.throttles.push((throttle, until));
    }

    pub fn clear_throttles(&self) {
        self.shared.lock().throttles.clear();
    }

    /// How Reels finished from now on process (default: ready on the first status read).
    pub fn set_reel_processing(&self, plan: Processing) {
        self.shared.lock().reel_processing = plan;
    }

    /// The plan of one video or Reel (it restarts counting reads). `false` if unknown.
    pub fn set_video_processing(&self, video_id: &str, plan: Processing) -> bool {
        let mut inner = self.shared.lock();
        let Some(v) = inner.videos.iter_mut().find(|v| v.id == video_id) else {
            return false;
        };
        v.polls = 0;
        inner.video_plans.insert(video_id.to_string(), plan);
        true
    }

    /// Pins `X-App-Usage` to `percent` (`None`: computed from the calls).
    pub fn set_app_usage(&self, percent: Option<u64>) {
        self.shared.lock().app_usage = percent;
    }

    /// Pins a Page's BUC `call_count` to `percent` (`None`: computed from the calls).
    pub fn set_page_usage(&self, page_id: &str, percent: Option<u64>) {
        let mut inner = self.shared.lock();
        match percent {
            Some(p) => inner.page_usage.insert(page_id.to_string(), p),
            None => inner.page_usage.remove(page_id),
        };
    }

    /// Added before every answer (control API excluded).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock forward: held posts whose time passes go out, tokens expire,
    /// throttles end.
    pub fn advance_time(&self, by: chrono::Duration) {
        let mut inner = self.shared.lock();
        inner.clock_offset += by;
        inner.promote_due();
    }

    /// Every post, in creation order (deleted ones included, flagged).
    pub fn posts(&self) -> Vec<FbPost> {
        let mut inner = self.shared.lock();
        inner.promote_due();
        inner.posts.clone()
    }

    /// Posts live on the Page (not held, not deleted).
    pub fn live_posts(&self, page_id: &str) -> Vec<FbPost> {
        self.posts()
            .into_iter()
            .filter(|p| p.page_id == page_id && p.is_live())
            .collect()
    }

    /// Posts Facebook holds until their time.
    pub fn held_posts(&self, page_id: &str) -> Vec<FbPost> {
        self.posts()
            .into_iter()
            .filter(|p| p.page_id == page_id && p.is_held())
            .collect()
    }

    pub fn photos(&self) -> Vec<FbPhoto> {
        self.shared.lock().photos.clone()
    }

    pub fn videos(&self) -> Vec<FbVideo> {
        let mut inner = self.shared.lock();
        inner.promote_due();
        inner.videos.clone()
    }

    /// The bytes received for a video or Reel.
    pub fn video_bytes(&self, video_id: &str) -> Option<Vec<u8>> {
        self.shared.lock().video_bytes.get(video_id).cloned()
    }

    pub fn comments(&self) -> Vec<FbComment> {
        self.shared.lock().comments.clone()
    }

    pub fn upload_sessions(&self) -> Vec<FbUploadSession> {
        self.shared.lock().sessions.clone()
    }

    /// Every request (control API excluded).
    pub fn requests(&self) -> Vec<FbRequest> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_with_their_version() {
        let r = route("POST", "/v27.0/123/feed").unwrap();
        assert_eq!(r.endpoint, Endpoint::Feed);
        assert_eq!(r.id.as_deref(), Some("123"));
        assert_eq!(
            route("GET", "/v27.0/upload:abc").unwrap().endpoint,
            Endpoint::UploadStatus
        );
        assert_eq!(
            route("POST", "/video-upload/v27.0/555").unwrap().endpoint,
            Endpoint::Rupload
        );
        assert_eq!(route("GET", "/v20.0/me/accounts").unwrap().version, "v20.0");
        assert_eq!(route("GET", "/me"), Err(RouteError::NoVersion));
        assert_eq!(route("GET", "/v27.0/1/nope"), Err(RouteError::Unknown));
        assert_eq!(
            route("DELETE", "/v27.0/1_2").unwrap().endpoint,
            Endpoint::Delete
        );
    }
}
