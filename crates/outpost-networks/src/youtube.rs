//! YouTube (Data API v3): one video per post through `videos.insert` with Google's resumable
//! upload protocol, an optional custom thumbnail, processing checks, hand-off of scheduled
//! posts to YouTube's own scheduler, and reconciliation through the upload session or the
//! channel's uploads playlist. See `docs/platforms/youtube.md`.
//!
//! - **Auth:** Google OAuth for installed apps (a "Desktop app" client of the user's own Google
//!   Cloud project: client id + a secret that is not confidential, PKCE S256, a loopback
//!   redirect on any port of 127.0.0.1, `access_type=offline` + `prompt=consent` so a refresh
//!   token is issued). Google does not rotate refresh tokens; `invalid_grant` is `Reauth`.
//! - **Upload, in steps:** [`Publisher::start`] only opens the upload session (its URI is
//!   stored in the target's phase before any byte is sent); each [`Publisher::poll`] asks the
//!   session how much it has (`Content-Range: bytes */TOTAL`) and sends up to
//!   [`STEP_BYTES`] / [`STEP_TIME`] more in chunks that are multiples of 256 KiB, read from
//!   disk (see [`upload`]). A restart, a dropped connection or a 5xx resumes from what YouTube
//!   kept; a dead session (404/410) is replaced by a new one.
//! - **Processing:** once the last byte is in, `videos.list?part=status,processingDetails`
//!   is polled until `uploadStatus` is `processed`; `failed` / `rejected` are permanent
//!   ("Failed upload", with YouTube's reason).
//! - **Hand-off:** a post whose time is more than [`HAND_OFF_LEAD`] ahead when the upload
//!   starts (or any future time with the option `hand_off=true`) goes up as
//!   `privacyStatus=private` + `publishAt`; YouTube publishes it then, and the published part
//!   says so in `extra.scheduled_on_network` and `extra.notice`.
//! - **Quota:** per Google Cloud project, reset at midnight Pacific; `quotaExceeded` waits for
//!   that midnight. Per-method costs are in [`QuotaCosts`].
//!
//! Nothing here sleeps or retries: one step, classified once. Tokens never reach a log line,
//! an error message or an excerpt.

mod plan;
mod upload;

use crate::http;
use crate::secrets;
use crate::{Identity, Lookup, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use outpost_auth::oauth::{
    ClientAuth, OAuthError, OAuthProfile, Pkce, RedirectRule, TokenEndpoint,
};
use outpost_auth::{OAuthTokens, Secret, SecretStore};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, Network, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NET: Network = Network::YouTube;
/// The API and upload host (`OUTPOST_YOUTUBE_BASE_URL` replaces it, and then stands in for
/// every Google host: the authorize and token paths are served there too).
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com";
/// Google's authorization page.
pub const AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const AUTHORIZE_PATH: &str = "/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const TOKEN_PATH: &str = "/token";
/// `youtube.upload` covers `videos.insert` and `thumbnails.set`; `youtube.readonly` the
/// reads (`channels.list`, `videos.list`, `playlistItems.list`). Installed apps cannot add
/// scopes later, so both are asked for up front.
pub const SCOPE_UPLOAD: &str = "https://www.googleapis.com/auth/youtube.upload";
pub const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";
pub const SCOPES: [&str; 2] = [SCOPE_UPLOAD, SCOPE_READONLY];
pub const REDIRECT_PATH: &str = "/callback";

/// The resumable protocol's unit: every chunk but the last is a multiple of it.
pub const UNIT: usize = 262_144;
/// First chunk of an upload, and the smallest: 16 MiB (64 units, the default of Google's own
/// Go client library). Chunks are streamed from disk in small pieces ([`crate::file_body`]),
/// so their size costs no memory.
pub const DEFAULT_CHUNK: usize = 64 * UNIT;
/// Largest chunk: 128 MiB.
pub const MAX_CHUNK: usize = 512 * UNIT;
/// Chunks grow (or shrink back) to about this much sending time at the rate the last chunk
/// went at. Each chunk waits for its `308` before the next one starts, a stall that costs
/// about a third of the throughput with fixed 16 MiB chunks on a fast line (2 GiB on
/// loopback: 128 stalls); on a slow line a chunk stays 16 MiB, so a dropped connection
/// costs little and progress shows often.
pub const CHUNK_TIME: Duration = Duration::from_secs(2);
/// Most bytes one `start`/`poll` step sends before handing back to the dispatcher (which
/// stores the confirmed offset; each step also begins with a status query). On a slow line
/// [`STEP_TIME`] ends the step first.
pub const STEP_BYTES: u64 = 256 * 1024 * 1024;
/// Longest one step keeps sending.
pub const STEP_TIME: Duration = Duration::from_secs(20);
/// A post at least this far ahead when its upload starts is handed off to YouTube.
pub const HAND_OFF_LEAD: chrono::Duration = chrono::Duration::minutes(5);
/// With `hand_off=true`: how far ahead the time must still be.
pub const HAND_OFF_LEAD_EXPLICIT: chrono::Duration = chrono::Duration::seconds(60);
/// `thumbnails.set` limit the platform reference says to enforce (2 MB).
pub const THUMBNAIL_MAX_BYTES: u64 = 2 * 1024 * 1024;
/// Poll interval while YouTube processes a video (`timeLeftMs` shortens it).
pub const PROCESSING_POLL: Duration = Duration::from_secs(15);
/// How long after the last byte Outpost waits for `processed` before it reports the video
/// as published with a notice (the dispatcher fails targets whose processing exceeds 30 min).
pub const PROCESSING_WAIT: chrono::Duration = chrono::Duration::minutes(20);
/// New sessions one upload may open after dead ones before giving up.
const MAX_SESSIONS: u64 = 5;
/// Uploads-playlist pages (50 items) a reconciliation reads at most.
const LOOKUP_PAGES: usize = 3;
/// How far before the recorded intent a found upload may be dated (clock differences).
const LOOKUP_MARGIN_MINUTES: i64 = 10;
const RECONNECT: &str = "reconnect the account in Accounts (or `outpost accounts connect youtube`)";

/// Daily quota of a Google Cloud project and what each call costs. The platform reference:
/// current docs give `videos.insert` its own bucket of 100 calls a day (1 each) next to
/// 10,000 units; older docs charge 1,600 of the 10,000 units per insert. Which model applies
/// to a project is UNCONFIRMED — keep it configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCosts {
    /// Units a day for every method but `videos.insert` (and for it too in the old model).
    pub daily_units: u32,
    /// Units a `videos.insert` costs (1,600 in the old model, 0 in the bucket model).
    pub videos_insert: u32,
    /// `videos.insert` calls a day, when inserts have their own bucket.
    pub insert_bucket: Option<u32>,
    pub videos_list: u32,
    pub channels_list: u32,
    pub playlist_items_list: u32,
    pub thumbnails_set: u32,
    pub videos_update: u32,
}

/// Older docs: 1,600 of 10,000 units per upload.
pub const LEGACY_QUOTA: QuotaCosts = QuotaCosts {
    daily_units: 10_000,
    videos_insert: 1_600,
    insert_bucket: None,
    videos_list: 1,
    channels_list: 1,
    playlist_items_list: 1,
    thumbnails_set: 50,
    videos_update: 50,
};

/// Current docs: 100 uploads a day in their own bucket + 10,000 units for the rest.
pub const CURRENT_QUOTA: QuotaCosts = QuotaCosts {
    daily_units: 10_000,
    videos_insert: 0,
    insert_bucket: Some(100),
    ..LEGACY_QUOTA
};

impl QuotaCosts {
    /// Uploads a project can make a day (with one processing check and a thumbnail each).
    pub fn uploads_per_day(&self) -> u32 {
        match self.insert_bucket {
            Some(n) => n,
            None => self.daily_units / (self.videos_insert + self.videos_list).max(1),
        }
    }

    /// The quota in a few words, for an error on a card.
    pub fn short(&self) -> String {
        match self.insert_bucket {
            Some(n) => format!("the project may upload {n} videos a day"),
            None => format!(
                "an upload costs {} of the project's {} units a day",
                self.videos_insert, self.daily_units
            ),
        }
    }

    /// The quota in a sentence.
    pub fn describe(&self) -> String {
        match self.insert_bucket {
            Some(n) => format!(
                "{n} uploads and {} units a day per Google Cloud project",
                self.daily_units
            ),
            None => format!(
                "{} units a day per Google Cloud project; an upload costs {}, so about {} uploads a day",
                self.daily_units,
                self.videos_insert,
                self.uploads_per_day()
            ),
        }
    }
}

/// The next midnight in America/Los_Angeles after `now`, when YouTube's quota resets.
pub fn next_quota_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let Ok(zone) = outpost_core::time::parse_zone("America/Los_Angeles") else {
        return now + chrono::Duration::hours(24);
    };
    let local = now.with_timezone(&zone);
    local
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|midnight| zone.from_local_datetime(&midnight).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + chrono::Duration::hours(24))
}

/// Where an upload of one target part stands, remembered in memory for a lookup right after
/// an unknown outcome (the stored phase carries the same facts across restarts).
#[derive(Debug, Clone)]
struct KnownSession {
    uri: String,
    total: u64,
}

/// The YouTube publisher. Cheap to share (`Arc`); one per process.
pub struct YouTube {
    base: String,
    token_url: String,
    authorize_url: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    chunk_size: usize,
    max_chunk: usize,
    step_bytes: u64,
    step_time: Duration,
    processing_poll: Duration,
    processing_wait: chrono::Duration,
    quota: QuotaCosts,
    sessions: Mutex<HashMap<String, KnownSession>>,
}

impl fmt::Debug for YouTube {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YouTube")
            .field("base", &self.base)
            .field("token_url", &self.token_url)
            .field("chunk_size", &self.chunk_size)
            .field("max_chunk", &self.max_chunk)
            .finish_non_exhaustive()
    }
}

impl YouTube {
    /// The API at `OUTPOST_YOUTUBE_BASE_URL` (default `https://www.googleapis.com`); with the
    /// variable set, the authorize page and token endpoint are on that host too (paths
    /// unchanged). `OUTPOST_YOUTUBE_TOKEN_URL` / `_AUTHORIZE_URL` override each.
    /// `OUTPOST_YOUTUBE_UPLOAD_STEP_BYTES` changes how much one dispatcher step sends (tests,
    /// very slow links).
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> YouTube {
        let base = http::base_url(NET, DEFAULT_BASE_URL);
        let mut yt = YouTube::new(base, secrets);
        let token_url = http::env_url("OUTPOST_YOUTUBE_TOKEN_URL", &yt.token_url);
        if let Some(step) = std::env::var("OUTPOST_YOUTUBE_UPLOAD_STEP_BYTES")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            let time = yt.step_time;
            yt = yt.with_step_budget(step, time);
        }
        yt.with_token_url(token_url)
    }

    /// A publisher talking to `base_url` for every Google host (the real hosts when it is the
    /// default).
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> YouTube {
        let base = base_url.into().trim().trim_end_matches('/').to_string();
        let (token_url, authorize_url) = if base == DEFAULT_BASE_URL {
            (TOKEN_URL.to_string(), AUTHORIZE_URL.to_string())
        } else {
            (
                format!("{base}{TOKEN_PATH}"),
                format!("{base}{AUTHORIZE_PATH}"),
            )
        };
        YouTube {
            base,
            token_url,
            authorize_url,
            http: http::client(),
            secrets,
            chunk_size: DEFAULT_CHUNK,
            max_chunk: MAX_CHUNK,
            step_bytes: STEP_BYTES,
            step_time: STEP_TIME,
            processing_poll: PROCESSING_POLL,
            processing_wait: PROCESSING_WAIT,
            quota: LEGACY_QUOTA,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the HTTP client (tests use a short timeout). It must not follow redirects:
    /// 308 means "Resume Incomplete" here.
    pub fn with_http_client(mut self, client: reqwest::Client) -> YouTube {
        self.http = client;
        self
    }

    pub fn with_token_url(mut self, url: impl Into<String>) -> YouTube {
        self.token_url = url.into().trim().to_string();
        self
    }

    /// A fixed chunk size (no growing with the line's speed), rounded down to a multiple of
    /// 256 KiB (at least one unit, at most [`MAX_CHUNK`]).
    pub fn with_chunk_size(mut self, bytes: usize) -> YouTube {
        let units = (bytes / UNIT).clamp(1, MAX_CHUNK / UNIT);
        self.chunk_size = units * UNIT;
        self.max_chunk = self.chunk_size;
        self
    }

    /// How much one step may send (bytes, time) before it hands back to the dispatcher.
    pub fn with_step_budget(mut self, bytes: u64, time: Duration) -> YouTube {
        self.step_bytes = bytes.max(1);
        self.step_time = time;
        self
    }

    /// Poll interval while YouTube processes, and how long to wait for `processed`.
    pub fn with_processing(mut self, poll: Duration, wait: chrono::Duration) -> YouTube {
        self.processing_poll = poll;
        self.processing_wait = wait;
        self
    }

    /// The quota model used for messages and the units recorded per upload.
    pub fn with_quota(mut self, quota: QuotaCosts) -> YouTube {
        self.quota = quota;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The first (and smallest) chunk size.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The next chunk's size after `len` bytes went in `took`: about [`CHUNK_TIME`] of
    /// sending at that rate, in whole units, between the first chunk size and the largest.
    fn next_chunk(&self, len: u64, took: Duration) -> u64 {
        let secs = took.as_secs_f64().max(0.001);
        let ideal = len as f64 / secs * CHUNK_TIME.as_secs_f64();
        let units = (ideal / UNIT as f64) as u64;
        (units * UNIT as u64).clamp(self.chunk_size as u64, self.max_chunk as u64)
    }

    fn session_key(req: &PartRequest<'_>) -> String {
        format!("{}#{}", req.target_id, req.part_index)
    }

    fn remember_session(&self, req: &PartRequest<'_>, uri: &str, total: u64) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            Self::session_key(req),
            KnownSession {
                uri: uri.to_string(),
                total,
            },
        );
    }

    fn forget_session(&self, req: &PartRequest<'_>) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::session_key(req));
    }

    fn known_session(&self, req: &PartRequest<'_>) -> Option<KnownSession> {
        let map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&Self::session_key(req)).cloned()
    }

    // -----------------------------------------------------------------------------------------
    // HTTP

    /// Whether `url` is on the API host (the bearer token goes nowhere else).
    fn same_origin(&self, url: &str) -> bool {
        let origin = |u: &str| -> Option<String> {
            let parsed = reqwest::Url::parse(u).ok()?;
            Some(format!(
                "{}://{}:{}",
                parsed.scheme(),
                parsed.host_str()?,
                parsed.port_or_known_default()?
            ))
        };
        matches!((origin(url), origin(&self.base)), (Some(a), Some(b)) if a == b)
    }

    async fn send(&self, auth: &Auth, call: Call) -> Result<Reply, PublishError> {
        let url = if call.url.starts_with("http://") || call.url.starts_with("https://") {
            call.url.clone()
        } else {
            format!("{}{}", self.base, call.url)
        };
        let mut rb = self.http.request(call.method.clone(), &url);
        if self.same_origin(&url) {
            rb = rb.bearer_auth(auth.tokens.access_token.expose());
        }
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        for (k, v) in &call.headers {
            rb = rb.header(*k, v);
        }
        if let Some(t) = call.timeout {
            rb = rb.timeout(t);
        }
        rb = match call.payload {
            Payload::Empty => rb,
            Payload::Json(v) => rb
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=UTF-8",
                )
                .body(v.to_string()),
            Payload::Raw(body) => rb.body(body),
            Payload::Bytes { content_type, body } => rb
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
            Payload::Stream {
                content_type,
                len,
                body,
            } => rb
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header(reqwest::header::CONTENT_LENGTH, len)
                .body(body),
        };
        let http::Exchange {
            mut status,
            headers,
            body,
            duration_ms,
        } = http::exchange(
            NET,
            rb,
            auth.account_id.as_str(),
            call.endpoint,
            &call.what,
            call.creates,
        )
        .await?;
        // The "no 308" variant: 200 with the real status in a header.
        if header(&headers, "x-http-status-code-override").map(str::trim) == Some("308") {
            status = StatusCode::PERMANENT_REDIRECT;
        }
        tracing::debug!(
            network = NET.as_str(),
            account = auth.account_id.as_str(),
            endpoint = call.endpoint,
            status = status.as_u16(),
            duration_ms,
            "youtube request"
        );
        Ok(Reply {
            what: call.what,
            status,
            headers,
            body,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Secret store (blocking: run off the async threads)

    async fn auth(&self, account: &Account) -> Result<Auth, PublishError> {
        let Some(tokens) = secrets::load_tokens(&self.secrets, NET, &account.id).await? else {
            return Err(reauth(
                "no YouTube sign-in is stored for this account — connect the account again",
            ));
        };
        Ok(Auth {
            account_id: account.id.clone(),
            tokens,
        })
    }

    async fn save_tokens(&self, account_id: &str, tokens: OAuthTokens) -> Result<(), PublishError> {
        secrets::save_tokens(&self.secrets, NET, account_id, tokens).await
    }

    async fn client_secret(&self) -> Result<Option<Secret>, PublishError> {
        secrets::client_secret(&self.secrets, NET).await
    }

    // -----------------------------------------------------------------------------------------
    // Reads

    /// `channels.list?mine=true`: the channel of the signed-in account.
    async fn my_channel(&self, auth: &Auth, what: &str) -> Result<Value, PublishError> {
        let call = Call::get("/youtube/v3/channels", "channels.list", what)
            .query("part", "id,snippet,contentDetails")
            .query("mine", "true");
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets(), &self.quota));
        }
        let Some(body) = reply.json() else {
            return Err(malformed(&reply, &auth.secrets()));
        };
        match body
            .get("items")
            .and_then(Value::as_array)
            .and_then(|i| i.first())
        {
            Some(item) if item.get("id").and_then(Value::as_str).is_some() => Ok(item.clone()),
            Some(_) => Err(malformed(&reply, &auth.secrets())),
            None => Err(permanent(
                "this Google account has no YouTube channel — create one on youtube.com (Create a channel), then connect the account again",
            )),
        }
    }

    /// The uploads playlist (`UU…`) of the account's channel.
    async fn uploads_playlist(
        &self,
        auth: &Auth,
        account: &Account,
    ) -> Result<String, PublishError> {
        if let Some(p) = account
            .setting("uploads_playlist")
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            return Ok(p.to_string());
        }
        let channel = self
            .my_channel(auth, "looking up the channel's uploads")
            .await?;
        channel
            .pointer("/contentDetails/relatedPlaylists/uploads")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                transient("YouTube described the channel without its uploads playlist — Outpost will retry")
            })
    }

    // -----------------------------------------------------------------------------------------
    // Reconciliation

    /// Reads the channel's newest uploads and finds the one this part made, by title and
    /// description, uploaded since the attempt.
    async fn find_in_uploads(
        &self,
        req: &PartRequest<'_>,
        auth: &Auth,
    ) -> Result<Lookup, PublishError> {
        let plan = match plan::plan(req, req.intent_at) {
            Ok(p) => p,
            Err(e) => return Ok(Lookup::CannotTell(e.message)),
        };
        let playlist = self.uploads_playlist(auth, req.account).await?;
        let since = req.intent_at - chrono::Duration::minutes(LOOKUP_MARGIN_MINUTES);
        let mut page_token: Option<String> = None;
        let mut read = 0usize;
        for _ in 0..LOOKUP_PAGES {
            let mut call = Call::get(
                "/youtube/v3/playlistItems",
                "playlistItems.list",
                "looking up the channel's recent uploads",
            )
            .query("part", "snippet,contentDetails")
            .query("playlistId", &playlist)
            .query("maxResults", "50");
            if let Some(t) = &page_token {
                call = call.query("pageToken", t);
            }
            let reply = self.send(auth, call).await?;
            if !reply.ok() {
                let e = classify(&reply, &auth.secrets(), &self.quota);
                return match e.class {
                    ErrorClass::Permanent => Ok(Lookup::CannotTell(format!(
                        "{} — check the channel's uploads in YouTube Studio",
                        e.message.trim_start_matches("YouTube: ")
                    ))),
                    _ => Err(e),
                };
            }
            let Some(body) = reply.json() else {
                return Err(malformed(&reply, &auth.secrets()));
            };
            let items = body
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut older_seen = false;
            for item in &items {
                read += 1;
                let s = item.get("snippet").cloned().unwrap_or_default();
                let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
                let at = DateTime::parse_from_rfc3339(text("publishedAt"))
                    .map(|d| d.with_timezone(&Utc))
                    .ok();
                if at.is_some_and(|t| t < since) {
                    older_seen = true;
                    continue;
                }
                let video_id = item
                    .pointer("/contentDetails/videoId")
                    .or_else(|| s.pointer("/resourceId/videoId"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !video_id.is_empty()
                    && text("title") == plan.title
                    && text("description").trim() == plan.description.trim()
                {
                    tracing::info!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        target = req.target_id,
                        remote = video_id,
                        "youtube lookup: the upload is on the channel"
                    );
                    let mut part = published_part(video_id, None);
                    // Its status says whether it waits for a publishAt (best effort).
                    let call = Call::get(
                        "/youtube/v3/videos",
                        "videos.list",
                        "reading the found video's status",
                    )
                    .query("part", "status")
                    .query("id", video_id);
                    if let Ok(reply) = self.send(auth, call).await {
                        if let Some(video) = reply
                            .json()
                            .filter(|_| reply.ok())
                            .and_then(|b| b.pointer("/items/0").cloned())
                        {
                            upload::describe_video(&mut part, &video, None, &self.quota);
                        }
                    }
                    part.extra["reconciled"] = json!("uploads playlist");
                    return Ok(Lookup::Found(part));
                }
            }
            page_token = body
                .get("nextPageToken")
                .and_then(Value::as_str)
                .map(str::to_string);
            if older_seen || page_token.is_none() {
                break;
            }
        }
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            read,
            "youtube lookup: no matching upload on the channel"
        );
        Ok(Lookup::NotFound)
    }
}

// ---------------------------------------------------------------------------------------------
// Plumbing types

enum Payload {
    Empty,
    Json(Value),
    /// A body without a content type (the empty body of a status query).
    Raw(Vec<u8>),
    Bytes {
        content_type: String,
        body: Vec<u8>,
    },
    /// A body streamed from disk ([`crate::file_body`]) of exactly `len` bytes.
    Stream {
        content_type: String,
        len: u64,
        body: reqwest::Body,
    },
}

/// One API request.
struct Call {
    method: Method,
    /// A path on the API host, or a full URL (the session URI).
    url: String,
    /// The endpoint without ids, for logs.
    endpoint: &'static str,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    payload: Payload,
    timeout: Option<Duration>,
    /// The operation in the user's words ("uploading clip.mp4").
    what: String,
    /// A side effect a retry could repeat (the final chunk creates the video).
    creates: bool,
}

impl Call {
    fn new(
        method: Method,
        url: impl Into<String>,
        endpoint: &'static str,
        what: impl Into<String>,
    ) -> Call {
        Call {
            method,
            url: url.into(),
            endpoint,
            query: Vec::new(),
            headers: Vec::new(),
            payload: Payload::Empty,
            timeout: None,
            what: what.into(),
            creates: false,
        }
    }
    fn get(url: impl Into<String>, endpoint: &'static str, what: impl Into<String>) -> Call {
        Call::new(Method::GET, url, endpoint, what)
    }
    fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_string()));
        self
    }
    fn header(mut self, key: &'static str, value: impl Into<String>) -> Call {
        self.headers.push((key, value.into()));
        self
    }
    fn payload(mut self, payload: Payload) -> Call {
        self.payload = payload;
        self
    }
    fn timeout(mut self, t: Duration) -> Call {
        self.timeout = Some(t);
        self
    }
    fn creates(mut self, yes: bool) -> Call {
        self.creates = yes;
        self
    }
}

/// An HTTP answer, body read.
struct Reply {
    what: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn ok(&self) -> bool {
        self.status.is_success()
    }
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// The tokens one operation uses.
struct Auth {
    account_id: String,
    tokens: OAuthTokens,
}

impl Auth {
    fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.tokens.access_token.expose()];
        if let Some(rt) = &self.tokens.refresh_token {
            out.push(rt.expose());
        }
        out
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `https://www.youtube.com/watch?v=ID`, with `extra` filled by the caller.
fn published_part(video_id: &str, extra: Option<Value>) -> PublishedPart {
    PublishedPart {
        remote_id: video_id.to_string(),
        url: Some(format!("https://www.youtube.com/watch?v={video_id}")),
        extra: extra.unwrap_or_else(|| json!({})),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn reauth(message: impl Into<String>) -> PublishError {
    let message = message.into();
    PublishError::new(NET, ErrorClass::Reauth, format!("{message} ({RECONNECT})"))
}

fn permanent(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Permanent, message)
}

fn transient(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Transient { retry_after: None }, message)
}

/// A 2xx answer whose body is not what Google documents.
fn malformed(reply: &Reply, secrets: &[&str]) -> PublishError {
    transient(format!(
        "YouTube answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
        reply.what,
        reply.status.as_u16()
    ))
    .with_excerpt(&reply.body, secrets)
}

/// A server's text, made safe for a card: secrets removed, tags stripped, cut short.
fn clean(raw: &str, secrets: &[&str]) -> String {
    sanitize_message(&redact(raw, secrets), 160)
}

/// Google's error envelope: `{"error":{"code","message","errors":[{"reason",…}],"status"}}`
/// (the token endpoint's `{"error","error_description"}` is read too).
#[derive(Debug, Default)]
struct GoogleError {
    message: String,
    reasons: Vec<String>,
    status: String,
}

impl GoogleError {
    fn parse(body: &str) -> GoogleError {
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            return GoogleError::default();
        };
        let Some(e) = v.get("error") else {
            return GoogleError::default();
        };
        if let Some(code) = e.as_str() {
            return GoogleError {
                message: v
                    .get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                reasons: vec![code.to_string()],
                status: String::new(),
            };
        }
        let text = |k: &str| {
            e.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        GoogleError {
            message: text("message"),
            reasons: e
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.get("reason").and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
            status: text("status"),
        }
    }

    fn has(&self, reason: &str) -> bool {
        self.reasons.iter().any(|r| r == reason)
    }

    fn reason(&self) -> &str {
        self.reasons
            .first()
            .map(String::as_str)
            .unwrap_or(self.status.as_str())
    }
}

/// What each `invalid…` reason asks the user to fix.
fn invalid_fix(reason: &str) -> &'static str {
    match reason {
        "invalidTitle" => {
            "change the title (at most 100 characters, no < or >; the option youtube.title)"
        }
        "invalidDescription" => "shorten the text (at most 5,000 bytes, no < or >)",
        "invalidTags" => "change the tags (at most 500 characters in all, no < or >)",
        "invalidCategoryId" => "choose another category (the option youtube.category_id, e.g. 22)",
        "invalidPublishAt" => {
            "choose a time in the future, or publish without hand-off (youtube.hand_off=false)"
        }
        "forbiddenPrivacySetting" => {
            "choose another privacy (youtube.privacy=public, unlisted or private)"
        }
        "invalidFilename" => "rename the video file",
        "defaultLanguageNotSet" => "set the channel's default language in YouTube Studio",
        "mediaBodyRequired" => "attach the video again",
        _ => "change the post and retry",
    }
}

/// Decides the class of a failed call (youtube.md "Errors").
fn classify(reply: &Reply, secrets: &[&str], quota: &QuotaCosts) -> PublishError {
    let status = reply.status.as_u16();
    let g = GoogleError::parse(&reply.body);
    let says = clean(&g.message, secrets);
    let reason = g.reason().to_string();
    let detail = match (reason.is_empty(), says.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (true, false) => format!("HTTP {status}: {says}"),
        (false, true) => format!("HTTP {status} {reason}"),
        (false, false) => format!("HTTP {status} {reason}: {says}"),
    };
    let what = &reply.what;
    let now = Utc::now();
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let (class, message) = if status == 401 {
        let reason = if reason.is_empty() {
            "authError"
        } else {
            reason.as_str()
        };
        (
            ErrorClass::Reauth,
            format!("Google refused the access token while {what} (HTTP 401 {reason}) — Outpost renews it once; if that fails, {RECONNECT}"),
        )
    } else if g.has("quotaExceeded") || g.has("dailyLimitExceeded") {
        let until = next_quota_reset(now);
        (
            ErrorClass::RateLimited { until },
            format!(
                "daily API quota used up ({}) — waiting for the reset at midnight Pacific ({}); {}",
                if reason.is_empty() {
                    "quotaExceeded"
                } else {
                    reason.as_str()
                },
                fmt(until),
                quota.short()
            ),
        )
    } else if g.has("uploadLimitExceeded") {
        let until = now + chrono::Duration::hours(24);
        (
            ErrorClass::RateLimited { until },
            format!(
                "the channel reached YouTube's 24-hour upload limit while {what} ({detail}) — Outpost tries again at {}",
                fmt(until)
            ),
        )
    } else if status == 429
        || g.has("rateLimitExceeded")
        || g.has("userRateLimitExceeded")
        || g.has("uploadRateLimitExceeded")
    {
        // No reset header is documented: Retry-After when sent, else a minute.
        let until = http::rate_limit_until(&reply.headers, now)
            .filter(|u| *u > now)
            .unwrap_or(now + chrono::Duration::seconds(60));
        (
            ErrorClass::RateLimited { until },
            format!(
                "YouTube is rate limiting while {what} ({detail}) — Outpost waits until {}",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        )
    } else if g.has("insufficientPermissions") {
        (
            ErrorClass::Permanent,
            format!("the sign-in does not allow {what} ({detail}) — {RECONNECT} and allow both \"Manage your YouTube videos\" and \"View your YouTube account\""),
        )
    } else if g.has("youtubeSignupRequired") {
        (
            ErrorClass::Permanent,
            format!("this Google account has no YouTube channel ({detail}) — create one on youtube.com, then {RECONNECT}"),
        )
    } else if g.has("authenticatedUserAccountClosed") || g.has("authenticatedUserAccountSuspended")
    {
        (
            ErrorClass::Permanent,
            format!("the Google account is closed or suspended ({detail}) — resolve it with Google, then retry"),
        )
    } else if g.has("channelSuspended") || g.has("channelClosed") {
        (
            ErrorClass::Permanent,
            format!("the YouTube channel is suspended or closed ({detail}) — resolve it in YouTube Studio, then retry"),
        )
    } else if g.has("forbidden") && status == 403 {
        (
            ErrorClass::Permanent,
            format!("YouTube refused {what} ({detail}) — check in YouTube Studio that the channel may upload (verify it at youtube.com/verify) and that the connected account owns it"),
        )
    } else if (status == 400 && reason.starts_with("invalid"))
        || reason == "forbiddenPrivacySetting"
        || reason == "mediaBodyRequired"
        || reason == "defaultLanguageNotSet"
    {
        (
            ErrorClass::Permanent,
            format!(
                "YouTube rejected the video's details ({detail}) — {}",
                invalid_fix(&reason)
            ),
        )
    } else if (500..=599).contains(&status) {
        (
            ErrorClass::Transient {
                retry_after: http::retry_after_hint(&reply.headers, now),
            },
            format!("YouTube is unavailable while {what} ({detail}) — Outpost will retry"),
        )
    } else {
        (
            ErrorClass::Permanent,
            format!("YouTube refused {what} ({detail})"),
        )
    };
    PublishError::new(NET, class, message).with_excerpt(&reply.body, secrets)
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Publisher for YouTube {
    fn network(&self) -> Network {
        NET
    }

    /// The upload session URI is the handle; it is known only after the session starts and
    /// is kept in the phase.
    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        plan::plan(req, Utc::now())?;
        Err(permanent(
            "internal error: YouTube uploads are published in steps (start, then poll) — report this bug",
        ))
    }

    /// Opens the upload session and returns at once: the session URI is stored (in the
    /// phase) before any byte is sent.
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let plan = plan::plan(req, Utc::now())?;
        let auth = self.auth(req.account).await?;
        self.begin_upload(&auth, req, &plan).await
    }

    /// One step: more bytes of the upload, or one processing check.
    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let auth = self.auth(req.account).await?;
        match phase.get("stage").and_then(Value::as_str) {
            Some("upload") => self.upload_step(&auth, req, phase).await,
            Some("processing") => self.processing_step(&auth, req, phase).await,
            _ => Err(permanent(
                "the stored upload state is not one Outpost knows — retry the post to upload it again",
            )),
        }
    }

    /// After an unknown outcome: ask the upload session (complete = found; still open = not
    /// published, the stored phase resumes it), else look for the video among the channel's
    /// newest uploads by title and description.
    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let auth = self.auth(req.account).await?;
        if let Some(known) = self.known_session(req) {
            match self
                .query_session(&auth, &known.uri, known.total, "checking the upload")
                .await?
            {
                upload::Answer::Complete(video) => {
                    let id = video.get("id").and_then(Value::as_str).unwrap_or_default();
                    if !id.is_empty() {
                        tracing::info!(
                            network = NET.as_str(),
                            account = req.account.id.as_str(),
                            target = req.target_id,
                            remote = id,
                            "youtube lookup: the upload session is complete"
                        );
                        let mut part = published_part(id, None);
                        upload::describe_video(&mut part, &video, None, &self.quota);
                        self.forget_session(req);
                        return Ok(Lookup::Found(part));
                    }
                }
                upload::Answer::Incomplete(offset) => {
                    tracing::info!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        target = req.target_id,
                        offset,
                        total = known.total,
                        "youtube lookup: the upload is not complete; it resumes from the session"
                    );
                    return Ok(Lookup::NotFound);
                }
                upload::Answer::Dead(_) => {}
            }
        }
        self.find_in_uploads(req, &auth).await
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        let auth = self.auth(account).await?;
        let Some(refresh_token) = auth.tokens.refresh_token.clone() else {
            return Err(reauth(
                "Google sign-ins last an hour and this account has no refresh token — connect it again (Outpost asks for offline access)",
            ));
        };
        let Some(client_id) = account
            .setting("client_id")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            return Err(permanent(
                "no Google client id is set for this account — enter your Desktop app's client id and secret in Settings → YouTube (or `outpost apps set youtube`), then reconnect the account",
            ));
        };
        let endpoint = TokenEndpoint {
            token_url: self.token_url.clone(),
            client_id: client_id.to_string(),
            client_secret: self.client_secret().await?,
            auth: ClientAuth::Body,
        };
        let started = Instant::now();
        let result = endpoint
            .refresh(&self.http, &refresh_token, Utc::now())
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let said = |m: &str| sanitize_message(m.split(" — ").next().unwrap_or(m), 160);
        match result {
            Ok(tokens) => {
                // Google keeps the refresh token (the answer has none; the old one is kept).
                self.save_tokens(&account.id, tokens).await?;
                tracing::info!(
                    network = NET.as_str(),
                    account = account.id.as_str(),
                    duration_ms,
                    "youtube tokens refreshed"
                );
                Ok(())
            }
            // Kept under a card's 200 characters: the fix first, the 7-day Testing trap next.
            Err(OAuthError::Revoked(m)) => Err(PublishError::new(
                NET,
                ErrorClass::Reauth,
                format!(
                    "{} — connect the account again (every 7 days? publish the Cloud project's OAuth consent screen to Production)",
                    said(&m)
                ),
            )),
            Err(OAuthError::Client(m)) => Err(permanent(format!(
                "Google's token endpoint refused the app ({}) — check the client id and secret of your Desktop app in Settings → YouTube",
                said(&m)
            ))),
            Err(OAuthError::Transient {
                message,
                retry_after,
            }) => Err(PublishError::new(
                NET,
                ErrorClass::Transient { retry_after },
                format!(
                    "could not renew the sign-in ({}) — Outpost will retry",
                    said(&message)
                ),
            )),
            Err(OAuthError::Malformed(m)) => Err(transient(format!(
                "could not renew the sign-in ({}) — Outpost will retry",
                said(&m)
            ))),
        }
    }

    async fn probe(&self, account: &Account) -> Result<(), PublishError> {
        let auth = self.auth(account).await?;
        let call = Call::get(
            "/youtube/v3/channels",
            "channels.list",
            "checking the account",
        )
        .query("part", "id")
        .query("mine", "true");
        let reply = self.send(&auth, call).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets(), &self.quota));
        }
        Ok(())
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        let profile = OAuthProfile {
            network: "youtube",
            authorize_url: self.authorize_url.clone(),
            token_url: self.token_url.clone(),
            scopes: SCOPES.to_vec(),
            scope_separator: " ",
            pkce: Pkce::S256,
            client_auth: ClientAuth::Body,
            client_id_param: "client_id",
            // Desktop clients have a secret (not confidential); the docs call it optional,
            // whether the code exchange works without it is UNCONFIRMED: send it.
            needs_secret: true,
            redirect: RedirectRule::LoopbackAnyPort,
            redirect_path: REDIRECT_PATH,
            extra_authorize_params: vec![
                ("access_type", "offline".to_string()),
                ("prompt", "consent".to_string()),
            ],
        }
        .with_env_overrides();
        Some(profile)
    }

    async fn identify(
        &self,
        tokens: &OAuthTokens,
        _settings: &Value,
    ) -> Result<Identity, PublishError> {
        // "The user may grant only some of the requested scopes."
        if let Some(scope) = tokens.scope.as_deref() {
            let granted: Vec<&str> = scope.split([' ', ',']).filter(|s| !s.is_empty()).collect();
            let can_upload = granted.iter().any(|s| {
                *s == SCOPE_UPLOAD
                    || *s == "https://www.googleapis.com/auth/youtube"
                    || *s == "https://www.googleapis.com/auth/youtube.force-ssl"
            });
            if !can_upload {
                return Err(permanent(
                    "the sign-in did not allow uploading videos — connect again and leave \"Manage your YouTube videos\" ticked on Google's page",
                ));
            }
        }
        let auth = Auth {
            account_id: "(connecting)".into(),
            tokens: tokens.clone(),
        };
        let channel = self
            .my_channel(&auth, "reading the connected channel")
            .await?;
        let text = |p: &str| {
            channel
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let Some(id) = text("/id") else {
            return Err(transient(
                "YouTube described the channel without an id — Outpost will retry",
            ));
        };
        let title = text("/snippet/title");
        let custom_url = text("/snippet/customUrl");
        let handle = custom_url
            .as_deref()
            .map(|c| c.trim_start_matches('@').to_string())
            .or_else(|| title.clone())
            .unwrap_or_else(|| id.clone());
        let mut settings = json!({ "channel_id": id });
        if let Some(u) = text("/contentDetails/relatedPlaylists/uploads") {
            settings["uploads_playlist"] = json!(u);
        }
        if let Some(c) = &custom_url {
            settings["custom_url"] = json!(c);
        }
        Ok(Identity {
            remote_id: id,
            handle,
            display_name: title,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_grow_with_the_line_s_speed_in_whole_units_within_bounds() {
        let yt = YouTube::new(
            "http://127.0.0.1:9",
            Arc::new(outpost_auth::MemoryStore::default()),
        );
        let mib = 1024 * 1024;
        // 16 MiB in 10 ms (1.6 GB/s): as large as allowed.
        assert_eq!(
            yt.next_chunk(16 * mib, Duration::from_millis(10)),
            MAX_CHUNK as u64
        );
        // 16 MiB in 1 s: 2 s worth is 32 MiB.
        assert_eq!(yt.next_chunk(16 * mib, Duration::from_secs(1)), 32 * mib);
        // A slow line (1 MiB/s) stays at the first size.
        assert_eq!(
            yt.next_chunk(16 * mib, Duration::from_secs(16)),
            DEFAULT_CHUNK as u64
        );
        // Always whole units.
        let n = yt.next_chunk(16 * mib, Duration::from_millis(700));
        assert_eq!(n % UNIT as u64, 0);
        assert!(n > 16 * mib && n < 64 * mib, "{n}");
        // A fixed size does not grow.
        let fixed = YouTube::new(
            "http://127.0.0.1:9",
            Arc::new(outpost_auth::MemoryStore::default()),
        )
        .with_chunk_size(2 * UNIT);
        assert_eq!(
            fixed.next_chunk(2 * UNIT as u64, Duration::from_millis(1)),
            2 * UNIT as u64
        );
    }

    fn reply(status: u16, body: &str, headers: &[(&'static str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            if let Ok(v) = v.parse() {
                h.insert(*k, v);
            }
        }
        Reply {
            what: "uploading clip.mp4".into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: h,
            body: body.into(),
        }
    }

    fn google(status: u16, reason: &str, message: &str) -> String {
        json!({"error": {"code": status, "message": message,
            "errors": [{"message": message, "domain": "youtube.video", "reason": reason}],
            "status": "X"}})
        .to_string()
    }

    fn class(status: u16, reason: &str) -> ErrorClass {
        classify(
            &reply(status, &google(status, reason, "m"), &[]),
            &[],
            &LEGACY_QUOTA,
        )
        .class
    }

    #[test]
    fn errors_are_classified_per_the_table() {
        assert_eq!(class(401, "authError"), ErrorClass::Reauth);
        assert!(matches!(
            class(403, "quotaExceeded"),
            ErrorClass::RateLimited { .. }
        ));
        assert!(matches!(
            class(400, "uploadLimitExceeded"),
            ErrorClass::RateLimited { .. }
        ));
        assert!(matches!(
            class(429, "rateLimitExceeded"),
            ErrorClass::RateLimited { .. }
        ));
        assert_eq!(class(403, "forbidden"), ErrorClass::Permanent);
        assert_eq!(class(403, "insufficientPermissions"), ErrorClass::Permanent);
        assert_eq!(class(403, "youtubeSignupRequired"), ErrorClass::Permanent);
        assert_eq!(class(400, "invalidTitle"), ErrorClass::Permanent);
        assert_eq!(class(400, "invalidPublishAt"), ErrorClass::Permanent);
        for s in [500, 502, 503, 504] {
            assert!(class(s, "backendError").is_transient(), "{s}");
        }
        let e = classify(
            &reply(
                403,
                &google(403, "quotaExceeded", "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>."),
                &[],
            ),
            &[],
            &LEGACY_QUOTA,
        );
        assert!(e.message.contains("quota"), "{}", e.message);
        assert!(e.message.contains("midnight Pacific"), "{}", e.message);
        assert!(!e.message.contains("<a"), "{}", e.message);
        let ErrorClass::RateLimited { until } = e.class else {
            panic!("{e:?}")
        };
        assert_eq!(until, next_quota_reset(Utc::now()));
    }

    #[test]
    fn the_quota_resets_at_midnight_pacific() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        };
        assert_eq!(
            next_quota_reset(t("2026-01-15T12:00:00Z")),
            t("2026-01-16T08:00:00Z")
        );
        assert_eq!(
            next_quota_reset(t("2026-07-04T06:59:00Z")),
            t("2026-07-04T07:00:00Z")
        );
        assert_eq!(
            next_quota_reset(t("2026-11-01T12:00:00Z")),
            t("2026-11-02T08:00:00Z")
        );
    }

    #[test]
    fn the_quota_table_says_how_many_uploads_fit_a_day() {
        assert_eq!(LEGACY_QUOTA.uploads_per_day(), 6);
        assert_eq!(CURRENT_QUOTA.uploads_per_day(), 100);
        assert!(LEGACY_QUOTA.describe().contains("1600"));
    }

    #[test]
    fn token_endpoint_errors_are_read_too() {
        let g = GoogleError::parse(
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        );
        assert!(g.has("invalid_grant"));
        assert_eq!(g.message, "Token has been expired or revoked.");
    }
}
