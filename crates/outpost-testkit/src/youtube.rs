//! A faithful in-process fake of Google's YouTube Data API v3 for the calls Outpost makes, on
//! one loopback listener ([`YouTubeFake::base_url`]) that stands in for every Google host
//! (`accounts.google.com`, `oauth2.googleapis.com`, `www.googleapis.com`); paths are unchanged:
//!
//! | Endpoint | Notes |
//! |---|---|
//! | `GET /o/oauth2/v2/auth` | the consent page: with a consenting channel set ([`YouTubeFake::set_consent`]) it redirects (302) to the loopback `redirect_uri` (`127.0.0.1`, `[::1]` or `localhost`, any port) with `code`, `state` and the granted `scope`; PKCE `S256`/`plain` |
//! | `POST /token` | `authorization_code` (PKCE **base64url** S256 — a hex challenge fails; `client_secret` optional but checked when sent; single-use codes) and `refresh_token` (no new refresh token: Google does not rotate; `invalid_grant` "Token has been expired or revoked." for a revoked one, or one older than 7 days in "Testing" mode) |
//! | `POST /revoke?token=` | 200, or 400 `invalid_token` |
//! | `GET /youtube/v3/channels?mine=true` | `snippet` (title, `customUrl`) and `contentDetails.relatedPlaylists.uploads` |
//! | `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` | session start: needs `X-Upload-Content-Length` and `X-Upload-Content-Type`, validates the metadata (title, description, tags, category, privacy, `publishAt` only with `private`), charges the quota, answers `200` + `Location: …&upload_id=…` |
//! | `PUT <session URI>` | the resumable protocol: `Content-Range: bytes a-b/total` chunks (non-final ones a multiple of 256 KiB), `308 Resume Incomplete` + `Range: bytes=0-N`, the status query `bytes */total`, `200` + the video on the final byte, `404`/`410` once the session is dead; the `X-GUploader-No-308: yes` variant. Bodies are streamed, never buffered whole: the server keeps what it received in whole 256 KiB units when a connection breaks |
//! | `GET /youtube/v3/videos?part=status,processingDetails&id=` | `uploadStatus` `uploaded` → `processed`, or `failed` + `failureReason` / `rejected` + `rejectionReason`, as [`Processing`] says; a `publishAt` in the past flips a processed video to public |
//! | `PUT /youtube/v3/videos?part=status` | refuses a token with only `youtube.upload` (403 `insufficientPermissions`) |
//! | `POST /upload/youtube/v3/thumbnails/set?videoId=` | raw image ≤ 2 MB (`invalidImage`), `403 forbidden` for an unverified channel, `404 videoNotFound` |
//! | `GET /youtube/v3/playlistItems?playlistId=UU…` | the channel's uploads, newest first, paged |
//!
//! Errors use Google's envelope `{"error":{"code","message","errors":[{"message","domain",
//! "reason"}],"status"}}`. Quota is counted per project (the OAuth client id) in either model
//! of the platform reference ([`QuotaModel`]) and resets at midnight Pacific time on the fake's
//! clock; used up, calls answer `403 quotaExceeded`.
//!
//! Test controls: channels and tokens, codes, token expiry/revocation, the Testing-mode switch,
//! queued [`Fault`]s per [`Endpoint`] (error statuses, drops before/after the server acted, a
//! drop in the middle of a chunk's body after `after_bytes`, a short acknowledgement, a dead
//! session, delays), session expiry, quota, per-channel upload caps, processing plans, the
//! unverified-project and unverified-channel switches, an upload throttle, a clock that can be
//! moved, what was uploaded ([`YouTubeFake::videos`], [`YouTubeFake::sessions`]) and every
//! request ([`YouTubeFake::requests`]; chunk bodies are counted, not kept). The same controls
//! are served over HTTP under `/_fake/` (see the `control` module).
//!
//! Uploaded bytes are identified by [`Checksum`] (a position-dependent 64-bit Fletcher sum over
//! little-endian words, fast enough in debug builds for files of hundreds of MB); the bytes
//! themselves are kept only for uploads up to [`YouTubeConfig::keep_bytes_limit`].
//!
//! Where the platform reference marks a behaviour UNCONFIRMED, the fake does the documented or
//! standard thing and says so next to the code.

mod api;
mod control;
mod upload;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::common::{random_string, spawn_server, ConnInfo, ServerGuard};

/// The Desktop-app OAuth client registered at start.
pub const DEFAULT_CLIENT_ID: &str = "1234567890-outpostfake.apps.googleusercontent.com";
/// Its secret (Google issues one to Desktop clients; it is not confidential).
pub const DEFAULT_CLIENT_SECRET: &str = "GOCSPX-outpost-fake-desktop-secret";

pub const SCOPE_UPLOAD: &str = "https://www.googleapis.com/auth/youtube.upload";
pub const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";
pub const SCOPE_YOUTUBE: &str = "https://www.googleapis.com/auth/youtube";
pub const SCOPE_FORCE_SSL: &str = "https://www.googleapis.com/auth/youtube.force-ssl";
pub const SCOPE_PARTNER: &str = "https://www.googleapis.com/auth/youtubepartner";
/// What Outpost asks for.
pub const ALL_SCOPES: [&str; 2] = [SCOPE_UPLOAD, SCOPE_READONLY];

/// The resumable protocol's unit: non-final chunks are multiples of it, and a broken
/// connection keeps what arrived in whole units.
pub const UNIT: u64 = 262_144;
/// `thumbnails.set` limit (the v3 page says 2 MB; the newer reference says 50 MB — the
/// platform reference says enforce 2 MB).
pub const THUMBNAIL_MAX_BYTES: usize = 2 * 1024 * 1024;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// How the project's daily quota is counted (the platform reference: which model applies to
/// a project is UNCONFIRMED). JSON (tagged by `type`):
/// `{"type":"units","daily_units":10000,"insert_cost":1600}` or
/// `{"type":"insert_bucket","inserts_per_day":100,"daily_units":10000}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuotaModel {
    /// Older docs: `videos.insert` costs `insert_cost` (1,600) of `daily_units` (10,000).
    Units { daily_units: u32, insert_cost: u32 },
    /// Current docs: `inserts_per_day` (100) `videos.insert` calls in their own bucket, plus
    /// `daily_units` (10,000) for every other method.
    InsertBucket {
        inserts_per_day: u32,
        daily_units: u32,
    },
}

impl QuotaModel {
    /// 1,600 of 10,000 units per insert.
    pub fn legacy() -> QuotaModel {
        QuotaModel::Units {
            daily_units: 10_000,
            insert_cost: 1_600,
        }
    }

    /// 100 inserts a day + 10,000 units.
    pub fn current() -> QuotaModel {
        QuotaModel::InsertBucket {
            inserts_per_day: 100,
            daily_units: 10_000,
        }
    }

    pub fn daily_units(&self) -> u32 {
        match *self {
            QuotaModel::Units { daily_units, .. }
            | QuotaModel::InsertBucket { daily_units, .. } => daily_units,
        }
    }
}

impl Default for QuotaModel {
    fn default() -> Self {
        QuotaModel::legacy()
    }
}

/// Limits and lifetimes; the defaults are the documented values.
#[derive(Debug, Clone)]
pub struct YouTubeConfig {
    /// Port of the listener (0 = any free port).
    pub port: u16,
    /// Access token lifetime (`expires_in` 3599 s; the docs' sample shows 3920).
    pub access_ttl: chrono::Duration,
    /// Authorization code lifetime (Google does not document it; 10 minutes).
    pub code_ttl: chrono::Duration,
    /// How long an upload session lives (one week for Drive; UNCONFIRMED for YouTube).
    pub session_ttl: chrono::Duration,
    /// Refresh token lifetime while the project is in "Testing" (7 days).
    pub testing_refresh_ttl: chrono::Duration,
    pub quota: QuotaModel,
    /// The status of the answer to the final chunk (the docs say 200 or 201).
    pub final_status: u16,
    /// Uploads up to this size are kept byte for byte ([`YouTubeFake::video_bytes`]).
    pub keep_bytes_limit: u64,
}

impl Default for YouTubeConfig {
    fn default() -> Self {
        YouTubeConfig {
            port: 0,
            access_ttl: chrono::Duration::seconds(3599),
            code_ttl: chrono::Duration::minutes(10),
            session_ttl: chrono::Duration::days(7),
            testing_refresh_ttl: chrono::Duration::days(7),
            quota: QuotaModel::default(),
            final_status: 200,
            keep_bytes_limit: 16 * 1024 * 1024,
        }
    }
}

/// One endpoint, as faults and recorded requests name it. JSON: the snake-case name, or `"*"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /o/oauth2/v2/auth`
    Authorize,
    /// `POST /token`
    Token,
    /// `POST /revoke`
    Revoke,
    /// `GET /youtube/v3/channels`
    ChannelsList,
    /// `POST /upload/youtube/v3/videos?uploadType=resumable` (session start)
    VideosInsert,
    /// `PUT <session URI>` carrying bytes
    UploadChunk,
    /// `PUT <session URI>` with `Content-Range: bytes */TOTAL` (status query)
    UploadStatus,
    /// `GET /youtube/v3/videos`
    VideosList,
    /// `PUT /youtube/v3/videos`
    VideosUpdate,
    /// `POST /upload/youtube/v3/thumbnails/set`
    ThumbnailsSet,
    /// `GET /youtube/v3/playlistItems`
    PlaylistItemsList,
    /// Any endpoint (faults only).
    #[serde(rename = "*")]
    Any,
}

impl Endpoint {
    /// Units of the daily quota a call costs (the insert is charged by the model).
    fn cost(self) -> u32 {
        match self {
            Endpoint::ChannelsList | Endpoint::VideosList | Endpoint::PlaylistItemsList => 1,
            Endpoint::ThumbnailsSet | Endpoint::VideosUpdate => 50,
            _ => 0,
        }
    }

    /// Scopes any one of which allows the call.
    fn accepted_scopes(self) -> &'static [&'static str] {
        match self {
            Endpoint::ChannelsList | Endpoint::VideosList | Endpoint::PlaylistItemsList => &[
                SCOPE_READONLY,
                SCOPE_YOUTUBE,
                SCOPE_FORCE_SSL,
                SCOPE_PARTNER,
            ],
            Endpoint::VideosInsert | Endpoint::ThumbnailsSet => {
                &[SCOPE_UPLOAD, SCOPE_YOUTUBE, SCOPE_FORCE_SSL, SCOPE_PARTNER]
            }
            // "videos.update does not accept youtube.upload".
            Endpoint::VideosUpdate => &[SCOPE_YOUTUBE, SCOPE_FORCE_SSL, SCOPE_PARTNER],
            _ => &[],
        }
    }
}

/// A queued fault. Each request to a matching endpoint first uses up `skip` (passing
/// normally), then consumes one of `times`, in the order the faults were pushed.
/// JSON: `{"endpoint":"upload_chunk","times":1,"skip":3,"kind":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub endpoint: Endpoint,
    #[serde(default = "one")]
    pub times: u32,
    #[serde(default)]
    pub skip: u32,
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
            skip: 0,
            kind,
        }
    }

    /// Lets `n` matching requests pass before the fault applies.
    pub fn after(mut self, n: u32) -> Fault {
        self.skip = n;
        self
    }

    /// An error status in Google's envelope (reason chosen from the status: `backendError`…).
    pub fn status(endpoint: Endpoint, times: u32, status: u16) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::Status {
                status,
                reason: None,
                message: None,
                retry_after_secs: None,
            },
        )
    }

    /// An error status with a given `errors[].reason` (`quotaExceeded`, `forbidden`…).
    pub fn reason(endpoint: Endpoint, times: u32, status: u16, reason: &str) -> Fault {
        Fault::new(
            endpoint,
            times,
            FaultKind::Status {
                status,
                reason: Some(reason.to_string()),
                message: None,
                retry_after_secs: None,
            },
        )
    }

    /// Read `after_bytes` of the chunk's body, then close the connection without answering
    /// (the server keeps what arrived in whole 256 KiB units).
    pub fn drop_mid_body(after_bytes: u64) -> Fault {
        Fault::new(
            Endpoint::UploadChunk,
            1,
            FaultKind::DropMidBody { after_bytes },
        )
    }

    /// Perform the request (a final chunk completes the upload), then close the connection
    /// without any answer.
    pub fn drop_after_commit(endpoint: Endpoint, times: u32) -> Fault {
        Fault::new(endpoint, times, FaultKind::DropAfterCommit)
    }

    /// The session dies now: this request (and every later one) answers `status` (404/410).
    pub fn session_gone(endpoint: Endpoint, status: u16) -> Fault {
        Fault::new(endpoint, 1, FaultKind::SessionGone { status })
    }
}

/// What a fault does. JSON (tagged by `type`): `{"type":"status","status":503,"reason":?,
/// "message":?,"retry_after_secs":?}`, `{"type":"body","status":400,"body":{…}}`,
/// `{"type":"drop_before_commit"}`, `{"type":"drop_after_commit"}`,
/// `{"type":"drop_mid_body","after_bytes":3000000}`, `{"type":"ack_less","units":2}`,
/// `{"type":"session_gone","status":404}`, `{"type":"delay_before","ms":500}`,
/// `{"type":"delay_after_commit","ms":500}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` in Google's envelope; no side effect (a chunk's bytes are discarded).
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// Answer `status` with `body` as given.
    Body { status: u16, body: Value },
    /// Close the connection without doing anything.
    DropBeforeCommit,
    /// Perform the request, then close the connection without any answer.
    DropAfterCommit,
    /// Chunks: read `after_bytes` of the body, keep whole units, close the connection.
    /// Other endpoints: like `DropBeforeCommit`.
    DropMidBody { after_bytes: u64 },
    /// Chunks: receive it all but keep (and acknowledge) `units` fewer 256 KiB units.
    AckLess { units: u32 },
    /// The session dies: `404` or `410` now and from then on.
    SessionGone { status: u16 },
    /// Wait, then perform the request normally.
    DelayBefore { ms: u64 },
    /// Perform the request, then wait before answering.
    DelayAfterCommit { ms: u64 },
}

/// How videos uploaded from now on process; polls are `videos.list` calls that include the
/// video. JSON (tagged by `type`): `{"type":"after_polls","polls":1}`, `{"type":"never"}`,
/// `{"type":"fail","after_polls":1,"reason":"codec"}`,
/// `{"type":"reject","after_polls":0,"reason":"duplicate"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Processing {
    /// `uploaded` until poll number `polls`, then `processed` (0: processed at once).
    AfterPolls { polls: u32 },
    /// `uploaded` forever.
    Never,
    /// `failed` + `failureReason` (`codec`, `conversion`, `emptyFile`, `invalidFile`,
    /// `tooSmall`, `uploadAborted`) from poll number `after_polls` (0: in the upload's answer).
    Fail { after_polls: u32, reason: String },
    /// `rejected` + `rejectionReason` (`duplicate`, `copyright`, `inappropriate`, `length`,
    /// `termsOfUse`, `trademark`, `uploaderAccountClosed`, …).
    Reject { after_polls: u32, reason: String },
}

impl Default for Processing {
    fn default() -> Self {
        Processing::AfterPolls { polls: 1 }
    }
}

/// A channel (one Google account's YouTube channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YtChannel {
    /// `UC` + 22 characters.
    pub id: String,
    pub title: String,
    /// `@handle`.
    pub custom_url: String,
    /// `UU` + the same 22 characters.
    pub uploads_playlist: String,
    /// Verified channels may set custom thumbnails.
    pub verified: bool,
}

/// A token set as the token endpoint hands it out (the JSON `outpost accounts add youtube
/// --token-stdin` reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YtTokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
    pub token_type: String,
}

/// A video as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YtVideo {
    pub id: String,
    pub channel_id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub category_id: String,
    /// What the uploader asked for.
    pub requested_privacy: String,
    /// What the video is now.
    pub privacy_status: String,
    /// RFC 3339, while scheduled.
    pub publish_at: Option<String>,
    pub made_for_kids: bool,
    /// `uploaded`, `processed`, `failed`, `rejected`, `deleted`.
    pub upload_status: String,
    pub failure_reason: Option<String>,
    pub rejection_reason: Option<String>,
    /// `videos.list` calls that saw it.
    pub polls: u32,
    pub bytes: u64,
    /// [`Checksum`] of the bytes.
    pub checksum: String,
    pub mime: String,
    /// The session that completed it.
    pub upload_id: String,
    pub notify_subscribers: bool,
    /// Byte size and type of the custom thumbnail, once set.
    pub thumbnail: Option<(usize, String)>,
    pub created_at: DateTime<Utc>,
}

/// One data-carrying `PUT` of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YtChunk {
    /// `a` and `b` of `Content-Range: bytes a-b/total`.
    pub first: u64,
    pub last: u64,
    /// Body bytes that arrived (less than `last - first + 1` when the connection broke).
    pub received: u64,
    /// The session's committed size after this chunk.
    pub committed_after: u64,
    /// Status answered; 0 when the connection was closed without an answer.
    pub status: u16,
}

/// An upload session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YtSession {
    pub upload_id: String,
    pub channel_id: String,
    /// `X-Upload-Content-Length`.
    pub total: u64,
    /// `X-Upload-Content-Type`.
    pub mime: String,
    /// Bytes the server keeps (a multiple of 256 KiB until the last byte).
    pub committed: u64,
    /// Body bytes received on the wire over all chunks, resent ones included.
    pub received_total: u64,
    pub chunks: Vec<YtChunk>,
    /// `open`, `complete`, `gone`.
    pub state: String,
    /// 404 or 410 once gone.
    pub gone_status: Option<u16>,
    pub video_id: Option<String>,
    /// The JSON metadata of the session start.
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

/// One request as the fake saw it (control-API calls excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YtRequest {
    /// `None` for paths the fake does not serve.
    pub endpoint: Option<Endpoint>,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body (base64 in JSON); empty for upload chunks, whose size is in `body_len`.
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    pub body_len: u64,
    /// Status answered; 0 when the connection was closed without an answer.
    pub status: u16,
    pub at: DateTime<Utc>,
}

impl YtRequest {
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

/// What the consent page does when a browser arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The signed-in channel that approves.
    pub channel_id: String,
    /// Scopes the user leaves ticked (`None`: every requested one).
    #[serde(default)]
    pub grant_scopes: Option<Vec<String>>,
    /// The user clicks "Cancel": `error=access_denied`.
    #[serde(default)]
    pub decline: bool,
}

/// What the consent page granted, for [`YouTubeFake::issue_code`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub channel_id: String,
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

/// Quota used by one project on one Pacific day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QuotaUse {
    pub units: u32,
    pub inserts: u32,
}

// ---- checksum ------------------------------------------------------------------------------

/// A position-dependent checksum of a byte stream: a 64-bit Fletcher sum over little-endian
/// 8-byte words (the tail zero-padded), plus the length. Not cryptographic; it tells whether
/// an upload is the file, byte for byte and in order, at a speed a debug build can afford.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    a: u64,
    b: u64,
    len: u64,
    carry: [u8; 8],
    carry_len: usize,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            a: 1,
            b: 0,
            len: 0,
            carry: [0; 8],
            carry_len: 0,
        }
    }
}

impl Checksum {
    pub fn new() -> Checksum {
        Checksum::default()
    }

    fn word(&mut self, v: u64) {
        self.a = self.a.wrapping_add(v);
        self.b = self.b.wrapping_add(self.a);
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.carry_len > 0 {
            let take = (8 - self.carry_len).min(data.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            self.carry_len += take;
            data = &data[take..];
            if self.carry_len < 8 {
                return;
            }
            let v = u64::from_le_bytes(self.carry);
            self.word(v);
            self.carry_len = 0;
        }
        let mut words = data.chunks_exact(8);
        let (mut a, mut b) = (self.a, self.b);
        for w in &mut words {
            let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            a = a.wrapping_add(v);
            b = b.wrapping_add(a);
        }
        self.a = a;
        self.b = b;
        let rest = words.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
    }

    /// `<a><b>-<len>` in hex.
    pub fn hex(&self) -> String {
        let mut c = *self;
        if c.carry_len > 0 {
            let mut last = [0u8; 8];
            last[..c.carry_len].copy_from_slice(&c.carry[..c.carry_len]);
            c.word(u64::from_le_bytes(last));
        }
        format!("{:016x}{:016x}-{:x}", c.a, c.b, c.len)
    }
}

/// The [`Checksum`] of `data`.
pub fn checksum_bytes(data: &[u8]) -> String {
    let mut c = Checksum::new();
    c.update(data);
    c.hex()
}

/// The [`Checksum`] of a file, read in 8 MiB pieces.
pub fn checksum_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 8 << 20];
    let mut c = Checksum::new();
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        c.update(&buf[..n]);
    }
    Ok(c.hex())
}

// ---- Pacific time --------------------------------------------------------------------------

/// The `n`-th Sunday of a month.
fn nth_sunday(year: i32, month: u32, n: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
    NaiveDate::from_ymd_opt(year, month, 1 + to_sunday + 7 * (n - 1))
}

/// Hours from UTC in America/Los_Angeles at `t` (US rules since 2007: daylight time from the
/// second Sunday of March, 02:00 PST, to the first Sunday of November, 02:00 PDT).
pub fn pacific_offset_hours(t: DateTime<Utc>) -> i64 {
    let y = t.year();
    let start = nth_sunday(y, 3, 2)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .map(|n| n.and_utc());
    let end = nth_sunday(y, 11, 1)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .map(|n| n.and_utc());
    match (start, end) {
        (Some(s), Some(e)) if t >= s && t < e => -7,
        _ => -8,
    }
}

/// The Pacific calendar day of `t` (the quota day).
pub fn pacific_day(t: DateTime<Utc>) -> NaiveDate {
    (t + chrono::Duration::hours(pacific_offset_hours(t))).date_naive()
}

/// The next midnight in America/Los_Angeles after `t` (when YouTube's quota resets).
pub fn pacific_midnight_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let next = pacific_day(t)
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
        .unwrap_or(t);
    // Midnight is never inside a change of offset (those happen at 02:00).
    let assume_standard = next + chrono::Duration::hours(8);
    if pacific_offset_hours(assume_standard) == -7 {
        assume_standard - chrono::Duration::hours(1)
    } else {
        assume_standard
    }
}

// ---- handle --------------------------------------------------------------------------------

/// Handle to a running fake; cheap to clone. The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct YouTubeFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl YouTubeFake {
    /// Starts the fake on `config.port` (0: any free port) of 127.0.0.1.
    ///
    /// # Panics
    /// When the port cannot be bound (use [`YouTubeFake::try_start`] to handle that).
    pub async fn start(config: YouTubeConfig) -> YouTubeFake {
        match YouTubeFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the YouTube fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: YouTubeConfig) -> std::io::Result<YouTubeFake> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let mut inner = Inner::new(config.quota);
        inner.clients.insert(
            DEFAULT_CLIENT_ID.to_string(),
            DEFAULT_CLIENT_SECRET.to_string(),
        );
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            cfg: config,
            inner: Mutex::new(inner),
        });
        let task = {
            let shared = shared.clone();
            spawn_server(listener, move |req, conn| handle(shared.clone(), conn, req))
        };
        Ok(YouTubeFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// e.g. `http://127.0.0.1:41234` (no trailing slash): the stand-in for every Google host.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn config(&self) -> YouTubeConfig {
        self.shared.cfg.clone()
    }

    /// Registers a Desktop-app OAuth client.
    pub fn register_client(&self, client_id: &str, secret: &str) {
        self.shared
            .lock()
            .clients
            .insert(client_id.to_string(), secret.to_string());
    }

    /// Creates a channel (`handle` without `@`).
    pub fn create_channel(&self, handle: &str, title: &str) -> YtChannel {
        self.shared.lock().create_channel(handle, title)
    }

    /// Issues tokens for the channel to [`DEFAULT_CLIENT_ID`]; `None` for an unknown channel.
    pub fn issue_tokens(&self, channel_id: &str, scopes: &[&str]) -> Option<YtTokens> {
        self.issue_tokens_for(channel_id, scopes, DEFAULT_CLIENT_ID)
    }

    pub fn issue_tokens_for(
        &self,
        channel_id: &str,
        scopes: &[&str],
        client_id: &str,
    ) -> Option<YtTokens> {
        let mut inner = self.shared.lock();
        inner.channel(channel_id)?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        Some(inner.issue_tokens(&self.shared.cfg, channel_id, client_id, &scopes, true))
    }

    /// A channel with tokens carrying the scopes Outpost asks for.
    pub fn create_channel_with_tokens(&self, handle: &str) -> (YtChannel, YtTokens) {
        let mut inner = self.shared.lock();
        let channel = inner.create_channel(handle, &format!("{handle} (fake)"));
        let tokens = inner.issue_tokens(
            &self.shared.cfg,
            &channel.id,
            DEFAULT_CLIENT_ID,
            &all_scopes(),
            true,
        );
        (channel, tokens)
    }

    /// A Google account without a YouTube channel yet: `channels.list?mine=true` answers no
    /// items and uploads fail with `youtubeSignupRequired`.
    pub fn create_account_without_channel(&self, handle: &str) -> (YtChannel, YtTokens) {
        let (channel, tokens) = self.create_channel_with_tokens(handle);
        self.shared.lock().no_channel.insert(channel.id.clone());
        (channel, tokens)
    }

    /// Whether the channel may set custom thumbnails (default `true`).
    pub fn set_channel_verified(&self, channel_id: &str, verified: bool) -> bool {
        let mut inner = self.shared.lock();
        match inner.channels.iter_mut().find(|c| c.id == channel_id) {
            Some(c) => {
                c.verified = verified;
                true
            }
            None => false,
        }
    }

    /// What the consent page does with the next browsers (`None`: it shows the sign-in page
    /// and never redirects).
    pub fn set_consent(&self, consent: Option<Consent>) {
        self.shared.lock().consent = consent;
    }

    /// An authorization code, as the consent page would hand it out.
    pub fn issue_code(&self, grant: CodeGrant) -> Result<String, String> {
        let ttl = self.shared.cfg.code_ttl;
        self.shared.lock().issue_code(grant, ttl)
    }

    /// The access token answers 401 from now on. `false` if unknown.
    pub fn expire_access_token(&self, access_token: &str) -> bool {
        let mut inner = self.shared.lock();
        let past = inner.now() - chrono::Duration::seconds(1);
        match inner.access.get_mut(access_token) {
            Some(t) => {
                t.expires_at = past;
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

    /// The refresh token is refused (`invalid_grant`) from now on. `false` if unknown.
    pub fn revoke_refresh_token(&self, refresh_token: &str) -> bool {
        self.shared.lock().refresh.remove(refresh_token).is_some()
    }

    /// Every token of the channel dies (the user removed the app's access).
    pub fn revoke_channel_tokens(&self, channel_id: &str) {
        let mut inner = self.shared.lock();
        inner.refresh.retain(|_, t| t.channel_id != channel_id);
        inner.access.retain(|_, t| t.channel_id != channel_id);
    }

    pub fn refresh_token_is_live(&self, refresh_token: &str) -> bool {
        let inner = self.shared.lock();
        let now = inner.now();
        inner
            .refresh
            .get(refresh_token)
            .is_some_and(|t| inner.refresh_alive(&self.shared.cfg, t, now))
    }

    pub fn access_token_is_live(&self, access_token: &str) -> bool {
        let inner = self.shared.lock();
        let now = inner.now();
        inner
            .access
            .get(access_token)
            .is_some_and(|t| t.expires_at > now)
    }

    /// "Testing" publishing status: refresh tokens die 7 days after they were issued.
    pub fn set_testing_mode(&self, on: bool) {
        self.shared.lock().testing_mode = on;
    }

    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Queued faults not used up yet.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Every upload session, in creation order.
    pub fn sessions(&self) -> Vec<YtSession> {
        let inner = self.shared.lock();
        inner
            .session_order
            .iter()
            .filter_map(|id| inner.sessions.get(id))
            .map(|s| s.info.clone())
            .collect()
    }

    /// Kills a session: it answers `status` (404 or 410) from now on. `false` if unknown.
    pub fn expire_session(&self, upload_id: &str, status: u16) -> bool {
        let mut inner = self.shared.lock();
        match inner.sessions.get_mut(upload_id) {
            Some(s) => {
                s.kill(status);
                true
            }
            None => false,
        }
    }

    /// Kills every open session.
    pub fn expire_sessions(&self, status: u16) {
        let mut inner = self.shared.lock();
        for s in inner.sessions.values_mut() {
            if s.info.state == "open" {
                s.kill(status);
            }
        }
    }

    pub fn set_quota_model(&self, model: QuotaModel) {
        self.shared.lock().quota_model = model;
    }

    /// What the project used today (Pacific day of the fake clock).
    pub fn quota_used(&self, client_id: &str) -> QuotaUse {
        let inner = self.shared.lock();
        let day = pacific_day(inner.now());
        inner
            .quota
            .get(client_id)
            .filter(|(d, _)| *d == day)
            .map(|(_, u)| *u)
            .unwrap_or_default()
    }

    /// Sets today's use of the project.
    pub fn set_quota_used(&self, client_id: &str, used: QuotaUse) {
        let mut inner = self.shared.lock();
        let day = pacific_day(inner.now());
        inner.quota.insert(client_id.to_string(), (day, used));
    }

    /// Uses up the default client's quota for today: every call answers `quotaExceeded`.
    pub fn exhaust_quota(&self) {
        let mut inner = self.shared.lock();
        let day = pacific_day(inner.now());
        let full = QuotaUse {
            units: inner.quota_model.daily_units(),
            inserts: u32::MAX,
        };
        let clients: Vec<String> = inner.clients.keys().cloned().collect();
        for c in clients {
            inner.quota.insert(c, (day, full));
        }
    }

    /// Forgets every project's use (as at midnight Pacific).
    pub fn reset_quota(&self) {
        self.shared.lock().quota.clear();
    }

    /// The channel's 24-hour upload cap (`uploadLimitExceeded`); `None` removes it.
    pub fn set_upload_limit(&self, channel_id: &str, limit: Option<u32>) {
        let mut inner = self.shared.lock();
        match limit {
            Some(l) => inner.upload_limits.insert(channel_id.to_string(), l),
            None => inner.upload_limits.remove(channel_id),
        };
    }

    /// How videos uploaded from now on process (default: processed on the first poll).
    pub fn set_processing(&self, plan: Processing) {
        self.shared.lock().processing = plan;
    }

    /// Changes one video's plan (its polls count again from 0). `false` if unknown.
    pub fn set_video_processing(&self, video_id: &str, plan: Processing) -> bool {
        let mut inner = self.shared.lock();
        match inner.videos.get_mut(video_id) {
            Some(v) => {
                v.plan = plan;
                v.info.polls = 0;
                if v.info.upload_status != "deleted" {
                    v.info.upload_status = "uploaded".into();
                }
                true
            }
            None => false,
        }
    }

    /// Uploads from an unverified API project (created after 2020-07-28) stay private.
    pub fn set_unverified_project(&self, on: bool) {
        self.shared.lock().unverified_project = on;
    }

    /// Upload bodies are read at most this fast (`None`: as fast as they come).
    pub fn set_upload_throttle(&self, bytes_per_sec: Option<u64>) {
        self.shared.lock().throttle = bytes_per_sec.filter(|b| *b > 0);
    }

    /// Added before every answer (control API excluded).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// Every video, in upload order.
    pub fn videos(&self) -> Vec<YtVideo> {
        let inner = self.shared.lock();
        inner
            .video_order
            .iter()
            .filter_map(|id| inner.videos.get(id))
            .map(|v| v.info.clone())
            .collect()
    }

    pub fn video(&self, id: &str) -> Option<YtVideo> {
        self.shared.lock().videos.get(id).map(|v| v.info.clone())
    }

    /// The uploaded bytes, for uploads up to [`YouTubeConfig::keep_bytes_limit`].
    pub fn video_bytes(&self, id: &str) -> Option<Vec<u8>> {
        self.shared.lock().videos.get(id)?.kept.clone()
    }

    /// Deletes a video (as in YouTube Studio).
    pub fn delete_video(&self, id: &str) -> bool {
        let mut inner = self.shared.lock();
        match inner.videos.get_mut(id) {
            Some(v) => {
                v.info.upload_status = "deleted".into();
                true
            }
            None => false,
        }
    }

    /// Every request (control API excluded).
    pub fn requests(&self) -> Vec<YtRequest> {
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

    /// Moves the fake's clock forward (token and session expiry, quota days, `publishAt`).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }
}

// ---- state ---------------------------------------------------------------------------------

pub(crate) struct Shared {
    cfg: YouTubeConfig,
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

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        endpoint: Option<Endpoint>,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Vec<u8>,
        body_len: u64,
        status: u16,
    ) {
        let mut inner = self.lock();
        let at = inner.now();
        inner.requests.push(YtRequest {
            endpoint,
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
            body_len,
            status,
            at,
        });
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    channel_id: String,
    client_id: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    channel_id: String,
    client_id: String,
    scopes: Vec<String>,
    issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    grant: CodeGrant,
    expires_at: DateTime<Utc>,
}

pub(crate) struct VideoEntry {
    info: YtVideo,
    plan: Processing,
    kept: Option<Vec<u8>>,
}

/// What a session has received so far. Taken out of the session while a `PUT` streams into
/// it (so two `PUT`s never interleave), put back when that request ends however it ends.
#[derive(Debug, Clone)]
pub(crate) struct Accumulator {
    checksum: Checksum,
    /// Bytes after the last whole unit (never committed until a unit is complete, or the
    /// final byte arrives).
    pending: Vec<u8>,
    committed: u64,
    kept: Option<Vec<u8>>,
}

pub(crate) struct SessionEntry {
    info: YtSession,
    acc: Option<Accumulator>,
    notify_subscribers: bool,
}

impl SessionEntry {
    fn kill(&mut self, status: u16) {
        self.info.state = "gone".into();
        self.info.gone_status = Some(if status == 410 { 410 } else { 404 });
    }
}

pub(crate) struct Inner {
    clock_offset: chrono::Duration,
    latency: Duration,
    channels: Vec<YtChannel>,
    no_channel: std::collections::HashSet<String>,
    /// client id → secret
    clients: HashMap<String, String>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    consent: Option<Consent>,
    testing_mode: bool,
    sessions: HashMap<String, SessionEntry>,
    session_order: Vec<String>,
    videos: HashMap<String, VideoEntry>,
    video_order: Vec<String>,
    faults: VecDeque<Fault>,
    requests: Vec<YtRequest>,
    quota_model: QuotaModel,
    /// client id → (Pacific day, use)
    quota: HashMap<String, (NaiveDate, QuotaUse)>,
    upload_limits: HashMap<String, u32>,
    processing: Processing,
    unverified_project: bool,
    throttle: Option<u64>,
}

impl Inner {
    fn new(quota_model: QuotaModel) -> Inner {
        Inner {
            clock_offset: chrono::Duration::zero(),
            latency: Duration::ZERO,
            channels: Vec::new(),
            no_channel: Default::default(),
            clients: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            consent: None,
            testing_mode: false,
            sessions: HashMap::new(),
            session_order: Vec::new(),
            videos: HashMap::new(),
            video_order: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            quota_model,
            quota: HashMap::new(),
            upload_limits: HashMap::new(),
            processing: Processing::default(),
            unverified_project: false,
            throttle: None,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    fn channel(&self, id: &str) -> Option<&YtChannel> {
        self.channels.iter().find(|c| c.id == id)
    }

    fn create_channel(&mut self, handle: &str, title: &str) -> YtChannel {
        let handle = handle.trim().trim_start_matches('@').to_string();
        let custom_url = format!("@{}", handle.to_lowercase());
        if let Some(existing) = self.channels.iter().find(|c| c.custom_url == custom_url) {
            return existing.clone();
        }
        let tail = random_string(ID_ALPHABET, 22);
        let channel = YtChannel {
            id: format!("UC{tail}"),
            title: title.to_string(),
            custom_url,
            uploads_playlist: format!("UU{tail}"),
            verified: true,
        };
        self.channels.push(channel.clone());
        channel
    }

    fn issue_tokens(
        &mut self,
        cfg: &YouTubeConfig,
        channel_id: &str,
        client_id: &str,
        scopes: &[String],
        with_refresh: bool,
    ) -> YtTokens {
        let now = self.now();
        let access_token = format!("ya29.a0{}", random_string(ALNUM, 100));
        self.access.insert(
            access_token.clone(),
            AccessToken {
                channel_id: channel_id.to_string(),
                client_id: client_id.to_string(),
                scopes: scopes.to_vec(),
                expires_at: now + cfg.access_ttl,
            },
        );
        let refresh_token = with_refresh.then(|| {
            let token = format!("1//0{}", random_string(ALNUM, 60));
            self.refresh.insert(
                token.clone(),
                RefreshToken {
                    channel_id: channel_id.to_string(),
                    client_id: client_id.to_string(),
                    scopes: scopes.to_vec(),
                    issued_at: now,
                },
            );
            token
        });
        YtTokens {
            access_token,
            refresh_token,
            expires_in: cfg.access_ttl.num_seconds(),
            scope: scopes.join(" "),
            token_type: "Bearer".into(),
        }
    }

    fn refresh_alive(&self, cfg: &YouTubeConfig, t: &RefreshToken, now: DateTime<Utc>) -> bool {
        !self.testing_mode || now < t.issued_at + cfg.testing_refresh_ttl
    }

    fn issue_code(&mut self, grant: CodeGrant, ttl: chrono::Duration) -> Result<String, String> {
        if self.channel(&grant.channel_id).is_none() {
            return Err(format!("unknown channel {}", grant.channel_id));
        }
        if !self.clients.contains_key(&grant.client_id) {
            return Err(format!("unknown client {}", grant.client_id));
        }
        if !is_loopback_redirect(&grant.redirect_uri) {
            return Err(format!(
                "redirect_uri_mismatch: {} is not a loopback address (http://127.0.0.1:<port>, http://[::1]:<port>)",
                grant.redirect_uri
            ));
        }
        if !matches!(grant.code_challenge_method.as_str(), "S256" | "plain") {
            return Err("code_challenge_method must be S256 or plain".into());
        }
        let now = self.now();
        let code = format!("4/0{}", random_string(ALNUM, 70));
        self.codes.insert(
            code.clone(),
            AuthCode {
                grant,
                expires_at: now + ttl,
            },
        );
        Ok(code)
    }

    /// Today's use of a project (a new Pacific day starts from zero).
    fn quota_today(&mut self, client_id: &str) -> &mut QuotaUse {
        let day = pacific_day(self.now());
        let entry = self
            .quota
            .entry(client_id.to_string())
            .or_insert((day, QuotaUse::default()));
        if entry.0 != day {
            *entry = (day, QuotaUse::default());
        }
        &mut entry.1
    }
}

/// `http://127.0.0.1:<port>/…`, `http://[::1]:<port>/…` or `http://localhost:<port>/…`.
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().map(|h| format!("[{h}]"))
    } else {
        host_port.split(':').next().map(str::to_string)
    };
    matches!(
        host.as_deref(),
        Some("127.0.0.1") | Some("[::1]") | Some("localhost")
    )
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
    pub text: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            text: None,
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            text: None,
            headers: Vec::new(),
        }
    }

    pub fn html(status: u16, text: String) -> Reply {
        Reply {
            status,
            body: None,
            text: Some(text),
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        }
    }

    pub fn header(mut self, k: &str, v: impl Into<String>) -> Reply {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    fn into_response(self) -> Response<Body> {
        // 308 is sent as is: it means "Resume Incomplete" here, not a redirect.
        let mut builder = Response::builder().status(self.status);
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let body = match (self.body, self.text) {
            (Some(v), _) => {
                builder = builder.header("content-type", "application/json; charset=UTF-8");
                Body::from(v.to_string())
            }
            (None, Some(t)) => Body::from(t),
            (None, None) => Body::empty(),
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

fn endpoint_of(method: &str, path: &str, query: &str) -> Option<Endpoint> {
    let path = path.trim_end_matches('/');
    let has_upload_id = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .iter()
        .any(|(k, _)| k == "upload_id");
    Some(match (method, path) {
        ("GET", "/o/oauth2/v2/auth") => Endpoint::Authorize,
        ("POST", "/token") => Endpoint::Token,
        ("POST", "/revoke") => Endpoint::Revoke,
        ("GET", "/youtube/v3/channels") => Endpoint::ChannelsList,
        ("GET", "/youtube/v3/videos") => Endpoint::VideosList,
        ("PUT", "/youtube/v3/videos") => Endpoint::VideosUpdate,
        ("GET", "/youtube/v3/playlistItems") => Endpoint::PlaylistItemsList,
        ("POST", "/upload/youtube/v3/thumbnails/set") => Endpoint::ThumbnailsSet,
        ("POST", "/upload/youtube/v3/videos") if !has_upload_id => Endpoint::VideosInsert,
        // Chunk or status query: decided by `Content-Range` in the upload module.
        ("PUT", "/upload/youtube/v3/videos") if has_upload_id => Endpoint::UploadChunk,
        _ => return None,
    })
}

async fn handle(shared: Arc<Shared>, conn: ConnInfo, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    if path == "/_fake" || path.starts_with("/_fake/") {
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let req = Req {
            method,
            path,
            query,
            headers: parts.headers,
            body,
        };
        return control::handle(&shared, &req).into_response();
    }
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let endpoint = endpoint_of(&method, &path, &query);
    if endpoint == Some(Endpoint::UploadChunk) {
        // Streamed: never read whole into memory.
        return upload::put(shared, conn, parts, body).await;
    }
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(body) => body,
        Err(_) => {
            return api::google_error(413, "badRequest", "The request body is too large.")
                .into_response()
        }
    };
    let req = Req {
        method,
        path,
        query,
        headers: parts.headers,
        body,
    };
    let (reply, after) = match endpoint {
        None => (api::not_found(), After::Nothing),
        Some(endpoint) => match shared.take_fault(endpoint) {
            None => (api::process(&shared, endpoint, &req), After::Nothing),
            Some(FaultKind::Status {
                status,
                reason,
                message,
                retry_after_secs,
            }) => (
                api::fault_status(
                    status,
                    reason.as_deref(),
                    message.as_deref(),
                    retry_after_secs,
                ),
                After::Nothing,
            ),
            Some(FaultKind::Body { status, body }) => (Reply::json(status, body), After::Nothing),
            Some(FaultKind::DropBeforeCommit) | Some(FaultKind::DropMidBody { .. }) => {
                (Reply::empty(500), After::Drop)
            }
            Some(FaultKind::DropAfterCommit) => {
                (api::process(&shared, endpoint, &req), After::Drop)
            }
            Some(FaultKind::DelayBefore { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                (api::process(&shared, endpoint, &req), After::Nothing)
            }
            Some(FaultKind::DelayAfterCommit { ms }) => (
                api::process(&shared, endpoint, &req),
                After::Delay(Duration::from_millis(ms)),
            ),
            // Upload-only faults elsewhere: no effect.
            Some(FaultKind::AckLess { .. }) | Some(FaultKind::SessionGone { .. }) => {
                (api::process(&shared, endpoint, &req), After::Nothing)
            }
        },
    };
    let status = match after {
        After::Drop => 0,
        _ => reply.status,
    };
    let body_len = req.body.len() as u64;
    shared.record(
        endpoint,
        &req.method,
        &req.path,
        &req.query,
        &req.headers,
        req.body.to_vec(),
        body_len,
        status,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn pacific_midnight_follows_daylight_saving() {
        // Winter: PST (UTC-8).
        assert_eq!(
            pacific_midnight_after(utc("2026-01-15T12:00:00Z")),
            utc("2026-01-16T08:00:00Z")
        );
        // Summer: PDT (UTC-7).
        assert_eq!(
            pacific_midnight_after(utc("2026-07-04T06:59:00Z")),
            utc("2026-07-04T07:00:00Z")
        );
        assert_eq!(
            pacific_midnight_after(utc("2026-07-04T07:00:00Z")),
            utc("2026-07-05T07:00:00Z")
        );
        // 2026: DST from 8 March to 1 November.
        assert_eq!(
            pacific_midnight_after(utc("2026-03-07T12:00:00Z")),
            utc("2026-03-08T08:00:00Z")
        );
        assert_eq!(
            pacific_midnight_after(utc("2026-03-08T12:00:00Z")),
            utc("2026-03-09T07:00:00Z")
        );
        assert_eq!(
            pacific_midnight_after(utc("2026-10-31T12:00:00Z")),
            utc("2026-11-01T07:00:00Z")
        );
        assert_eq!(
            pacific_midnight_after(utc("2026-11-01T12:00:00Z")),
            utc("2026-11-02T08:00:00Z")
        );
    }

    #[test]
    fn the_checksum_sees_order_and_length() {
        let a = checksum_bytes(b"0123456789abcdef");
        assert_ne!(a, checksum_bytes(b"89abcdef01234567"));
        assert_ne!(checksum_bytes(b"abc"), checksum_bytes(b"abc\0"));
        let mut c = Checksum::new();
        for piece in [&b"012"[..], b"3456789a", b"bcdef"] {
            c.update(piece);
        }
        assert_eq!(c.hex(), a);
    }

    #[test]
    fn loopback_redirects_on_any_port() {
        assert!(is_loopback_redirect("http://127.0.0.1:49152/callback"));
        assert!(is_loopback_redirect("http://[::1]:8080/"));
        assert!(is_loopback_redirect("http://localhost:1234"));
        assert!(!is_loopback_redirect("https://127.0.0.1:1/"));
        assert!(!is_loopback_redirect("http://example.com:1/"));
    }
}
