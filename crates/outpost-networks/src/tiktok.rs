//! TikTok (Content Posting API v2, Login Kit for Desktop): videos by `FILE_UPLOAD` (Direct
//! Post, or the creator's inbox as a draft) and photo posts by `PULL_FROM_URL`. See
//! `docs/platforms/tiktok.md` and `docs/networks/tiktok.md`.
//!
//! - **Auth:** OAuth 2.0 with the user's own app: `client_key` as the client id, the client
//!   secret at the token endpoint, PKCE with TikTok's hex-encoded S256 challenge, a loopback
//!   redirect (`http://127.0.0.1:*/callback/`, TikTok allows a wildcard port for desktop apps).
//!   Refresh tokens rotate: [`Publisher::refresh`] saves the new pair before returning.
//! - **Before every post:** `creator_info/query` — the privacy levels the creator may use, the
//!   comment/duet/stitch switches and `max_video_post_duration_sec` (a longer video is refused
//!   before anything is uploaded). An app that is not audited yet is offered `SELF_ONLY` only:
//!   the post goes out privately and the published part says so in `extra.notice`.
//! - **Video:** [`Publisher::start`] asks creator info and initialises the upload (one
//!   request that creates nothing visible); every [`Publisher::poll`] then sends **one chunk**
//!   (`PUT upload_url` with `Content-Range`, streamed from disk) and returns the next chunk
//!   index in the phase, so an upload survives restarts and crashes: the next step continues
//!   from the stored offset (a 416 from TikTok resynchronises it). After the last chunk the
//!   steps poll `status/fetch` until `PUBLISH_COMPLETE` (inbox mode: `SEND_TO_USER_INBOX`)
//!   or `FAILED`. See [`upload`].
//! - **Photos:** `content/init` with the staged public URLs (`options.media_urls`, see
//!   [`Publisher::media_by_url`]), then status polls.
//! - **Reconciliation:** `status/fetch` by `publish_id` when this process knows it; a video
//!   upload posts nothing before its last chunk (and `start` never sends one), so without it
//!   a retry is safe; a photo init whose answer was lost cannot be looked up (CannotTell).
//!
//! Nothing here sleeps or retries: one attempt per call, classified once ([`errors`]).
//! Tokens and upload URLs never reach a log line, an error message or an excerpt.

mod errors;
mod upload;

pub use upload::{ChunkPlan, MAX_CHUNK_BYTES, MAX_LAST_CHUNK_BYTES, MIN_CHUNK_BYTES};

use crate::http;
use crate::secrets;
use crate::{Identity, Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use errors::{classify, ApiError, Scope};
use outpost_auth::oauth::{
    ClientAuth, OAuthError, OAuthProfile, Pkce, RedirectRule, TokenEndpoint,
};
use outpost_auth::{OAuthTokens, Secret, SecretStore};
use outpost_core::error::sanitize_message;
use outpost_core::{Account, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NET: Network = Network::TikTok;
/// The API host (`OUTPOST_TIKTOK_BASE_URL` replaces it).
pub const DEFAULT_BASE_URL: &str = "https://open.tiktokapis.com";
/// The authorization page (HTTPS only).
pub const AUTHORIZE_URL: &str = "https://www.tiktok.com/v2/auth/authorize/";
/// The token endpoint's path on the API host.
pub const TOKEN_PATH: &str = "/v2/oauth/token/";
/// What Outpost asks for: the profile (`user.info.basic`), inbox uploads (`video.upload`) and
/// Direct Post (`video.publish`). Photos use the same two posting scopes.
pub const SCOPES: [&str; 3] = ["user.info.basic", "video.upload", "video.publish"];
/// The path of the loopback redirect; register `http://127.0.0.1:*/callback/` (wildcard port)
/// in the app's Login Kit for Desktop settings.
pub const REDIRECT_PATH: &str = "/callback/";
pub const USER_INFO_PATH: &str = "/v2/user/info/";
pub const CREATOR_INFO_PATH: &str = "/v2/post/publish/creator_info/query/";
pub const VIDEO_INIT_PATH: &str = "/v2/post/publish/video/init/";
pub const INBOX_INIT_PATH: &str = "/v2/post/publish/inbox/video/init/";
pub const CONTENT_INIT_PATH: &str = "/v2/post/publish/content/init/";
pub const STATUS_PATH: &str = "/v2/post/publish/status/fetch/";
/// Video caption (`title`): 2,200 UTF-16 code units.
pub const MAX_CAPTION_UNITS: usize = 2200;
/// Photo post title / description, in UTF-16 code units.
pub const MAX_PHOTO_TITLE_UNITS: usize = 90;
pub const MAX_PHOTO_DESCRIPTION_UNITS: usize = 4000;
/// At most 35 images in a photo post.
pub const MAX_PHOTOS: usize = 35;
/// Videos up to 4 GB; photos up to 20 MB each.
pub const MAX_VIDEO_BYTES: u64 = 4_000_000_000;
pub const MAX_PHOTO_BYTES: u64 = 20 * 1024 * 1024;
/// The notice on a post an unaudited app could only publish privately.
pub const UNAUDITED_NOTICE: &str =
    "TikTok: this app is not audited yet, so the video was posted privately (only you can see it)";
const UNAUDITED_PHOTO_NOTICE: &str =
    "TikTok: this app is not audited yet, so the photos were posted privately (only you can see them)";
/// The notice on a video sent to the creator's inbox.
pub const INBOX_NOTICE: &str =
    "TikTok: the video was sent to your TikTok inbox as a draft — open the TikTok app to finish posting it";
const INBOX_PHOTO_NOTICE: &str =
    "TikTok: the photos were sent to your TikTok inbox as a draft — open the TikTok app to finish posting them";
const RECONNECT: &str = "reconnect the account in Accounts (or `outpost accounts connect tiktok`)";
const SELF_ONLY: &str = "SELF_ONLY";
const PRIVACY_LEVELS: [&str; 4] = [
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
];

/// The TikTok publisher. Cheap to share (`Arc`); one per process.
pub struct TikTok {
    base: String,
    token_url: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    /// Preferred chunk size (clamped to TikTok's rules by [`ChunkPlan`]).
    chunk_size: u64,
    /// First wait between status checks (grows up to 30 s).
    status_interval: Duration,
    /// One refresh at a time per account: TikTok's refresh tokens rotate.
    refreshes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// `publish_id`s this process initialised, per (target, part), for reconciliation.
    known: Mutex<HashMap<(String, usize), Known>>,
}

#[derive(Debug, Clone)]
struct Known {
    publish_id: String,
    photo: bool,
    mode: Mode,
    privacy_level: Option<String>,
    notice: Option<String>,
}

impl fmt::Debug for TikTok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TikTok")
            .field("base", &self.base)
            .field("token_url", &self.token_url)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl TikTok {
    /// The API at `OUTPOST_TIKTOK_BASE_URL` (default `https://open.tiktokapis.com`); the token
    /// endpoint at `OUTPOST_TIKTOK_TOKEN_URL`, else the documented path on that host; the
    /// preferred chunk size from `OUTPOST_TIKTOK_CHUNK_BYTES` (default 64,000,000, clamped to
    /// TikTok's 5–64 MB).
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> TikTok {
        let base = http::base_url(NET, DEFAULT_BASE_URL);
        let token_url = http::env_url("OUTPOST_TIKTOK_TOKEN_URL", &format!("{base}{TOKEN_PATH}"));
        let mut t = TikTok::new(base, secrets).with_token_url(token_url);
        if let Some(bytes) = std::env::var("OUTPOST_TIKTOK_CHUNK_BYTES")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            t = t.with_chunk_size(bytes);
        }
        t
    }

    /// A publisher talking to `base_url` (its token endpoint at `base_url` + `/v2/oauth/token/`).
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> TikTok {
        let base = base_url.into().trim().trim_end_matches('/').to_string();
        TikTok {
            token_url: format!("{base}{TOKEN_PATH}"),
            base,
            http: http::client(),
            secrets,
            chunk_size: MAX_CHUNK_BYTES,
            status_interval: Duration::from_secs(2),
            refreshes: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the HTTP client (tests use a short timeout). Chunk uploads set their own,
    /// longer timeout per request.
    pub fn with_http_client(mut self, client: reqwest::Client) -> TikTok {
        self.http = client;
        self
    }

    pub fn with_token_url(mut self, url: impl Into<String>) -> TikTok {
        self.token_url = url.into().trim().to_string();
        self
    }

    /// Preferred chunk size, clamped to 5 MiB – 64,000,000 bytes (TikTok: 5–64 MB; both
    /// readings of "MB" are honoured).
    pub fn with_chunk_size(mut self, bytes: u64) -> TikTok {
        self.chunk_size = bytes.clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES);
        self
    }

    /// The first wait between status checks (default 2 s; it grows to 30 s).
    pub fn with_status_interval(mut self, d: Duration) -> TikTok {
        self.status_interval = d;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    // -----------------------------------------------------------------------------------------
    // HTTP

    async fn send(&self, auth: &Auth, call: Call) -> Result<Reply, PublishError> {
        let url = format!("{}{}", self.base, call.path);
        let mut rb = self
            .http
            .request(call.method.clone(), &url)
            .bearer_auth(auth.tokens.access_token.expose());
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        if call.method == Method::POST {
            rb = rb.header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=UTF-8",
            );
            rb = match &call.body {
                Some(v) => rb.body(v.to_string()),
                None => rb,
            };
        }
        let http::Exchange {
            status,
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
        tracing::debug!(
            network = NET.as_str(),
            account = auth.account_id.as_str(),
            endpoint = call.endpoint,
            status = status.as_u16(),
            duration_ms,
            "tiktok request"
        );
        Ok(Reply {
            what: call.what,
            status,
            headers,
            body,
        })
    }

    /// One API call whose answer must be a success envelope: returns `data`.
    async fn api(&self, auth: &Auth, call: Call, scope: Scope) -> Result<Value, PublishError> {
        let creates = call.creates;
        let reply = self.send(auth, call).await?;
        data_of(&reply, scope, &auth.secrets(), creates)
    }

    // -----------------------------------------------------------------------------------------
    // Secret store (blocking: run off the async threads)

    async fn auth(&self, account: &Account) -> Result<Auth, PublishError> {
        let Some(tokens) = secrets::load_tokens(&self.secrets, NET, &account.id).await? else {
            return Err(reauth(
                "no TikTok sign-in is stored for this account — connect the account again",
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

    fn refresh_gate(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.refreshes.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(account_id.to_string()).or_default())
    }

    fn remember(&self, req: &PartRequest<'_>, known: Known) {
        let mut map = self.known.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((req.target_id.to_string(), req.part_index), known);
    }

    fn known(&self, req: &PartRequest<'_>) -> Option<Known> {
        let map = self.known.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(req.target_id.to_string(), req.part_index))
            .cloned()
    }

    // -----------------------------------------------------------------------------------------
    // Reads

    /// `GET /v2/user/info/` (`user.info.basic`): `data.user`.
    async fn user_info(&self, auth: &Auth, what: &str) -> Result<Value, PublishError> {
        let call = Call::get(USER_INFO_PATH, "GET /v2/user/info/", what)
            .query("fields", "open_id,union_id,avatar_url,display_name");
        let data = self.api(auth, call, Scope::UserInfo).await?;
        match data.get("user") {
            Some(u) if u.get("open_id").and_then(Value::as_str).is_some() => Ok(u.clone()),
            _ => Err(transient(
                "TikTok described the account without an open_id — Outpost will retry",
            )),
        }
    }

    /// `POST /v2/post/publish/creator_info/query/` (`video.publish`). Its caps come back as
    /// errors under HTTP 200, which [`data_of`] handles.
    async fn creator_info(&self, auth: &Auth, what: &str) -> Result<CreatorInfo, PublishError> {
        let call = Call::post(
            CREATOR_INFO_PATH,
            "POST /v2/post/publish/creator_info/query/",
            what,
            None,
        );
        let data = self.api(auth, call, Scope::Publish).await?;
        Ok(CreatorInfo::from_data(&data))
    }

    // -----------------------------------------------------------------------------------------
    // Photos

    /// `POST /v2/post/publish/content/init/` with the staged URLs: TikTok fetches them.
    async fn start_photos(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &PartPlan<'_>,
        photos: &[&MediaRef],
        creator: Option<&CreatorInfo>,
    ) -> Result<PartOutcome, PublishError> {
        let urls = staged_urls(req.options, photos)?;
        let mut post_info = json!({});
        let text = plan.text;
        if let Some(title) = &plan.options.title {
            post_info["title"] = json!(title);
        }
        if !text.is_empty() {
            post_info["description"] = json!(text);
        }
        let mut notice = None;
        let mut privacy = None;
        match plan.options.mode {
            Mode::Direct => {
                let creator = creator.ok_or_else(|| {
                    permanent(
                        "internal error: no creator info before a direct post — report this bug",
                    )
                })?;
                let (level, forced) = choose_privacy(&plan.options, creator)?;
                if forced {
                    notice = Some(UNAUDITED_PHOTO_NOTICE.to_string());
                }
                post_info["privacy_level"] = json!(level);
                post_info["disable_comment"] =
                    json!(plan.options.disable_comment || creator.comment_disabled);
                privacy = Some(level);
            }
            Mode::Inbox => notice = Some(INBOX_PHOTO_NOTICE.to_string()),
        }
        post_info["auto_add_music"] = json!(plan.options.auto_add_music);
        post_info["brand_content_toggle"] = json!(plan.options.brand_content_toggle);
        post_info["brand_organic_toggle"] = json!(plan.options.brand_organic_toggle);
        let body = json!({
            "media_type": "PHOTO",
            "post_mode": match plan.options.mode {
                Mode::Direct => "DIRECT_POST",
                Mode::Inbox => "MEDIA_UPLOAD",
            },
            "post_info": post_info,
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 0,
                "photo_images": urls,
            },
        });
        let call = Call::post(
            CONTENT_INIT_PATH,
            "POST /v2/post/publish/content/init/",
            format!(
                "starting the photo post ({} photo{})",
                photos.len(),
                if photos.len() == 1 { "" } else { "s" }
            ),
            Some(body),
        )
        .creates();
        let scope = match plan.options.mode {
            Mode::Direct => Scope::Publish,
            Mode::Inbox => Scope::Upload,
        };
        let data = self.api(auth, call, scope).await?;
        let Some(publish_id) = data
            .get("publish_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
        else {
            return Err(PublishError::new(
                NET,
                ErrorClass::UnknownOutcome,
                "TikTok accepted the photo post without its publish_id; it may be posting — Outpost will check before trying again",
            ));
        };
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            publish_id = publish_id.as_str(),
            photos = photos.len(),
            "tiktok photo post started"
        );
        self.remember(
            req,
            Known {
                publish_id: publish_id.clone(),
                photo: true,
                mode: plan.options.mode,
                privacy_level: privacy.clone(),
                notice: notice.clone(),
            },
        );
        let phase = upload::Phase::photo(
            req.part_index,
            publish_id,
            plan.options.mode,
            privacy,
            notice,
        );
        Ok(phase.processing(self.status_delay(0)))
    }

    /// How long to wait before status check number `polls` (0 first): the configured interval,
    /// growing by half each time, at most 30 s (TikTok allows 30 status checks a minute).
    fn status_delay(&self, polls: u32) -> Duration {
        let mut d = self.status_interval;
        for _ in 0..polls.min(12) {
            d = d.mul_f64(1.5);
        }
        d.min(Duration::from_secs(30))
    }
}

// ---------------------------------------------------------------------------------------------
// Plumbing types

/// One API request.
#[derive(Clone)]
struct Call {
    method: Method,
    path: String,
    /// The endpoint without ids, for logs.
    endpoint: &'static str,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    /// The operation in the user's words ("starting the upload").
    what: String,
    /// A side effect a retry could repeat (the photo init).
    creates: bool,
}

impl Call {
    fn get(path: impl Into<String>, endpoint: &'static str, what: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            endpoint,
            query: Vec::new(),
            body: None,
            what: what.into(),
            creates: false,
        }
    }
    fn post(
        path: impl Into<String>,
        endpoint: &'static str,
        what: impl Into<String>,
        body: Option<Value>,
    ) -> Call {
        Call {
            method: Method::POST,
            body,
            ..Call::get(path, endpoint, what)
        }
    }
    fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_string()));
        self
    }
    fn creates(mut self) -> Call {
        self.creates = true;
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

/// `data` of a success envelope, or the classified failure. `creates`: a 2xx that cannot be
/// read may have created something.
fn data_of(
    reply: &Reply,
    scope: Scope,
    secrets: &[&str],
    creates: bool,
) -> Result<Value, PublishError> {
    let error = ApiError::parse(&reply.body);
    let failed = !reply.status.is_success() || error.as_ref().is_some_and(|e| !e.is_ok());
    if failed {
        return Err(classify(reply, scope, secrets));
    }
    let data = serde_json::from_str::<Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("data").cloned())
        .filter(Value::is_object);
    match data {
        Some(d) => Ok(d),
        None if creates => Err(PublishError::new(
            NET,
            ErrorClass::UnknownOutcome,
            format!(
                "TikTok answered {} with something Outpost cannot read (HTTP {}); it may have acted — Outpost will check before trying again",
                reply.what,
                reply.status.as_u16()
            ),
        )
        .with_excerpt(&reply.body, secrets)),
        None => Err(transient(format!(
            "TikTok answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
            reply.what,
            reply.status.as_u16()
        ))
        .with_excerpt(&reply.body, secrets)),
    }
}

/// What `creator_info/query` says about the creator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CreatorInfo {
    pub username: Option<String>,
    pub nickname: Option<String>,
    pub privacy_options: Vec<String>,
    pub comment_disabled: bool,
    pub duet_disabled: bool,
    pub stitch_disabled: bool,
    pub max_duration_sec: Option<u64>,
}

impl CreatorInfo {
    fn from_data(data: &Value) -> CreatorInfo {
        let text = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let flag = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
        CreatorInfo {
            username: text("creator_username"),
            nickname: text("creator_nickname"),
            privacy_options: data
                .get("privacy_level_options")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            comment_disabled: flag("comment_disabled"),
            duet_disabled: flag("duet_disabled"),
            stitch_disabled: flag("stitch_disabled"),
            max_duration_sec: data
                .get("max_video_post_duration_sec")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
                .filter(|s| *s > 0),
        }
    }

    /// TikTok offers an unaudited app `SELF_ONLY` and nothing else.
    fn only_self(&self) -> bool {
        !self.privacy_options.is_empty() && self.privacy_options.iter().all(|p| p == SELF_ONLY)
    }
}

/// Direct Post, or the creator's inbox (a draft finished in the TikTok app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    Direct,
    Inbox,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Inbox => "inbox",
        }
    }
}

/// The per-post options (`--option tiktok.FIELD=VALUE`).
#[derive(Debug, Clone)]
struct PostOptions {
    privacy_level: Option<String>,
    disable_comment: bool,
    disable_duet: bool,
    disable_stitch: bool,
    mode: Mode,
    /// Photo posts: the title (≤ 90 UTF-16 units); the text is the description.
    title: Option<String>,
    brand_content_toggle: bool,
    brand_organic_toggle: bool,
    is_aigc: bool,
    video_cover_timestamp_ms: Option<u64>,
    auto_add_music: bool,
}

fn option_bool(options: &Value, key: &str, default: bool) -> Result<bool, PublishError> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(permanent(format!(
            "the TikTok option {key} is {other}; use true or false"
        ))),
    }
}

fn parse_options(options: &Value) -> Result<PostOptions, PublishError> {
    let text = |key: &str| -> Result<Option<String>, PublishError> {
        match options.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(permanent(format!(
                "the TikTok option {key} is {other}; it must be text"
            ))),
        }
    };
    let privacy_level = match text("privacy_level")? {
        None => None,
        Some(p) => {
            let upper = p.to_ascii_uppercase();
            if !PRIVACY_LEVELS.contains(&upper.as_str()) {
                return Err(permanent(format!(
                    "the TikTok option privacy_level is {p:?}; use one of {}",
                    PRIVACY_LEVELS.join(", ")
                )));
            }
            Some(upper)
        }
    };
    let mode = match text("mode")?.map(|m| m.to_ascii_lowercase()).as_deref() {
        None | Some("direct") => Mode::Direct,
        Some("inbox") => Mode::Inbox,
        Some(other) => {
            return Err(permanent(format!(
                "the TikTok option mode is {other:?}; use direct (post now) or inbox (send to the TikTok inbox as a draft)"
            )))
        }
    };
    let video_cover_timestamp_ms = match options.get("video_cover_timestamp_ms") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()) {
            Some(n) => Some(n),
            None => {
                return Err(permanent(format!(
                    "the TikTok option video_cover_timestamp_ms is {v}; use a whole number of milliseconds"
                )))
            }
        },
    };
    let title = text("title")?;
    if let Some(t) = &title {
        let n = outpost_core::text::utf16_units(t);
        if n > MAX_PHOTO_TITLE_UNITS {
            return Err(permanent(format!(
                "the TikTok photo title is {n} UTF-16 units; TikTok allows {MAX_PHOTO_TITLE_UNITS} — shorten it"
            )));
        }
    }
    Ok(PostOptions {
        privacy_level,
        disable_comment: option_bool(options, "disable_comment", false)?,
        disable_duet: option_bool(options, "disable_duet", false)?,
        disable_stitch: option_bool(options, "disable_stitch", false)?,
        mode,
        title,
        brand_content_toggle: option_bool(options, "brand_content_toggle", false)?,
        brand_organic_toggle: option_bool(options, "brand_organic_toggle", false)?,
        is_aigc: option_bool(options, "is_aigc", false)?,
        video_cover_timestamp_ms,
        auto_add_music: option_bool(options, "auto_add_music", true)?,
    })
}

/// The privacy level to send, and whether it was forced to `SELF_ONLY` (unaudited app).
fn choose_privacy(
    options: &PostOptions,
    creator: &CreatorInfo,
) -> Result<(String, bool), PublishError> {
    let offered = if creator.privacy_options.is_empty() {
        "none".to_string()
    } else {
        creator.privacy_options.join(", ")
    };
    match &options.privacy_level {
        Some(p) if creator.privacy_options.iter().any(|o| o == p) => {
            Ok((p.clone(), false))
        }
        Some(_) | None if creator.only_self() => Ok((SELF_ONLY.to_string(), true)),
        Some(p) => Err(permanent(format!(
            "this account cannot post with privacy_level {p} (TikTok offers {offered}) — choose one of those with the option tiktok.privacy_level"
        ))),
        None => Err(permanent(format!(
            "choose who can see the post: set the option tiktok.privacy_level to one of {offered} (TikTok wants an explicit choice, with no default)"
        ))),
    }
}

/// What one part is to TikTok.
enum Content<'a> {
    Video(&'a MediaRef),
    Photos(Vec<&'a MediaRef>),
}

struct PartPlan<'a> {
    text: &'a str,
    content: Content<'a>,
    options: PostOptions,
}

/// The `Content-Type` TikTok takes for a video.
fn video_mime(m: &MediaRef) -> Option<&'static str> {
    match m.mime.trim().to_ascii_lowercase().as_str() {
        "video/mp4" => Some("video/mp4"),
        "video/quicktime" => Some("video/quicktime"),
        "video/webm" => Some("video/webm"),
        _ => None,
    }
}

fn photo_ok(m: &MediaRef) -> bool {
    matches!(
        m.mime.trim().to_ascii_lowercase().as_str(),
        "image/jpeg" | "image/jpg" | "image/pjpeg" | "image/webp"
    )
}

/// Checks the part against TikTok's rules (the same as the core validation) and reads the
/// options; everything is decided before the first request.
fn plan_part<'a>(req: &PartRequest<'a>) -> Result<PartPlan<'a>, PublishError> {
    if req.part_index > 0 {
        return Err(permanent(
            "TikTok has no threads — put the post in one part, then retry",
        ));
    }
    let options = parse_options(req.options)?;
    let part: &'a Part = req.part;
    let text = part.text.trim();
    let images: Vec<&MediaRef> = part.media.iter().filter(|m| m.is_image()).collect();
    let videos: Vec<&MediaRef> = part.media.iter().filter(|m| m.is_video()).collect();
    if let Some(other) = part.media.iter().find(|m| !m.is_image() && !m.is_video()) {
        return Err(permanent(format!(
            "{} ({}) is neither a video nor a photo — TikTok only supports video content",
            other.file_name(),
            other.mime
        )));
    }
    if part.media.is_empty() {
        return Err(permanent(
            "TikTok only supports video content — add a video",
        ));
    }
    if !images.is_empty() && !videos.is_empty() {
        return Err(permanent(
            "TikTok does not accept images and a video in one post — keep one kind",
        ));
    }
    let content = if let Some(video) = videos.first() {
        if videos.len() > 1 {
            return Err(permanent(format!(
                "{} videos are attached; a TikTok post carries one — post the others separately",
                videos.len()
            )));
        }
        if video_mime(video).is_none() {
            return Err(permanent(format!(
                "{} is {}; TikTok takes MP4, MOV or WebM videos — convert it",
                video.file_name(),
                video.mime
            )));
        }
        if video.bytes > MAX_VIDEO_BYTES {
            return Err(permanent(format!(
                "{} is {} bytes; TikTok takes videos up to 4 GB — use a smaller file",
                video.file_name(),
                video.bytes
            )));
        }
        let n = outpost_core::text::utf16_units(text);
        if n > MAX_CAPTION_UNITS {
            return Err(permanent(format!(
                "the caption is {n} UTF-16 units; TikTok allows {MAX_CAPTION_UNITS} — shorten it by {}",
                n - MAX_CAPTION_UNITS
            )));
        }
        Content::Video(video)
    } else {
        if images.len() > MAX_PHOTOS {
            return Err(permanent(format!(
                "{} photos are attached; a TikTok photo post carries at most {MAX_PHOTOS} — remove {}",
                images.len(),
                images.len() - MAX_PHOTOS
            )));
        }
        if let Some(bad) = images.iter().find(|m| !photo_ok(m)) {
            return Err(permanent(format!(
                "{} is {}; TikTok photos must be JPEG or WebP — convert it",
                bad.file_name(),
                bad.mime
            )));
        }
        if let Some(big) = images.iter().find(|m| m.bytes > MAX_PHOTO_BYTES) {
            return Err(permanent(format!(
                "{} is {} bytes; TikTok takes photos up to 20 MB — use a smaller file",
                big.file_name(),
                big.bytes
            )));
        }
        let n = outpost_core::text::utf16_units(text);
        if n > MAX_PHOTO_DESCRIPTION_UNITS {
            return Err(permanent(format!(
                "the description is {n} UTF-16 units; TikTok allows {MAX_PHOTO_DESCRIPTION_UNITS} for photo posts — shorten it"
            )));
        }
        Content::Photos(images)
    };
    Ok(PartPlan {
        text,
        content,
        options,
    })
}

/// The staged public URL of every photo, in order (`options.media_urls` from the dispatcher).
fn staged_urls(options: &Value, photos: &[&MediaRef]) -> Result<Vec<String>, PublishError> {
    let map = options.get("media_urls").and_then(Value::as_object);
    let mut out = Vec::with_capacity(photos.len());
    for m in photos {
        match map
            .and_then(|m2| m2.get(&m.sha256))
            .and_then(Value::as_str)
            .filter(|u| !u.trim().is_empty())
        {
            Some(u) => out.push(u.trim().to_string()),
            None => {
                return Err(permanent(format!(
                    "TikTok fetches photos from a public address, and {} has none — set up the staging bucket (Settings → Staging, or `outpost staging set`) on a domain verified in your TikTok app, then retry",
                    m.file_name()
                )))
            }
        }
    }
    Ok(out)
}

fn published_part(
    handle: &str,
    publish_id: &str,
    post_id: Option<&str>,
    photo: bool,
    mode: Mode,
    privacy_level: Option<&str>,
    notice: Option<&str>,
) -> PublishedPart {
    let handle = handle.trim().trim_start_matches('@');
    let url = post_id.filter(|_| !handle.is_empty()).map(|id| {
        format!(
            "https://www.tiktok.com/@{handle}/{}/{id}",
            if photo { "photo" } else { "video" }
        )
    });
    let mut extra = json!({ "publish_id": publish_id, "mode": mode.as_str() });
    if let Some(p) = privacy_level {
        extra["privacy_level"] = json!(p);
    }
    if let Some(n) = notice {
        extra["notice"] = json!(n);
    }
    if let Some(id) = post_id {
        extra["post_id"] = json!(id);
    }
    PublishedPart {
        remote_id: post_id.unwrap_or(publish_id).to_string(),
        url,
        extra,
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

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Publisher for TikTok {
    fn network(&self) -> Network {
        NET
    }

    /// `creator_info`: what the composer offers for this account right now — one choice per
    /// allowed privacy level, `max_video_post_duration_sec` (`extra.value`), and
    /// `comment_disabled` / `duet_disabled` / `stitch_disabled` when the creator turned them off.
    async fn choices(
        &self,
        account: &Account,
        kind: &str,
    ) -> Result<Vec<crate::Choice>, PublishError> {
        if kind != "creator_info" {
            return Ok(Vec::new());
        }
        let auth = self.auth(account).await?;
        let info = self
            .creator_info(&auth, "reading the account's posting options")
            .await?;
        fn name(level: &str) -> &str {
            match level {
                "PUBLIC_TO_EVERYONE" => "Everyone",
                "MUTUAL_FOLLOW_FRIENDS" => "Friends (followers you follow back)",
                "FOLLOWER_OF_CREATOR" => "Followers",
                "SELF_ONLY" => "Only me",
                other => other,
            }
        }
        let mut out: Vec<crate::Choice> = info
            .privacy_options
            .iter()
            .map(|p| crate::Choice {
                id: p.clone(),
                name: name(p).to_string(),
                extra: Value::Null,
            })
            .collect();
        if let Some(max) = info.max_duration_sec {
            out.push(crate::Choice {
                id: "max_video_post_duration_sec".into(),
                name: format!("Videos up to {max} s"),
                extra: serde_json::json!({ "value": max }),
            });
        }
        for (on, id, label) in [
            (
                info.comment_disabled,
                "comment_disabled",
                "Comments are off for this account",
            ),
            (
                info.duet_disabled,
                "duet_disabled",
                "Duets are off for this account",
            ),
            (
                info.stitch_disabled,
                "stitch_disabled",
                "Stitches are off for this account",
            ),
        ] {
            if on {
                out.push(crate::Choice {
                    id: id.into(),
                    name: label.into(),
                    extra: Value::Null,
                });
            }
        }
        Ok(out)
    }

    /// TikTok has no client-chosen id for a post.
    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    /// TikTok posts are always two-phase (an upload or a pull, then processing).
    async fn publish(&self, _req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        Err(permanent(
            "internal error: TikTok posts are published in two phases (start, then poll) — report this bug",
        ))
    }

    /// Creator info, the checks it allows, then the init: a video's upload starts in the next
    /// step ([`Publisher::poll`]); a photo post is fetched by TikTok.
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let plan = plan_part(req)?;
        let auth = self.auth(req.account).await?;
        let creator = match self
            .creator_info(&auth, "checking what the account may post")
            .await
        {
            Ok(c) => Some(c),
            // Inbox uploads need only `video.upload`; creator info needs `video.publish`.
            Err(e) if plan.options.mode == Mode::Inbox && e.class == ErrorClass::Permanent => {
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    error = %e.message,
                    "tiktok creator info unavailable; inbox upload goes on without it"
                );
                None
            }
            Err(e) => return Err(e),
        };
        match &plan.content {
            Content::Photos(photos) => {
                self.start_photos(&auth, req, &plan, photos, creator.as_ref())
                    .await
            }
            Content::Video(video) => {
                self.start_video(&auth, req, &plan, video, creator.as_ref())
                    .await
            }
        }
    }

    /// One step: one chunk of the upload, or one status check.
    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let plan = plan_part(req)?;
        let phase = upload::Phase::read(phase)?;
        let auth = self.auth(req.account).await?;
        self.step(&auth, req, &plan, phase).await
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let photo = req.part.media.iter().all(|m| m.is_image()) && !req.part.media.is_empty();
        let Some(known) = self.known(req) else {
            if photo {
                return Ok(Lookup::CannotTell(
                    "the photo post got no answer, so Outpost has no publish_id to ask TikTok about, and TikTok may be fetching and posting the photos — check the account in the TikTok app".into(),
                ));
            }
            // A FILE_UPLOAD video posts nothing before its last chunk arrives, `start` never
            // sends a chunk, and the dispatcher continues a stored upload from its phase
            // instead of starting again: repeating the step cannot post twice.
            return Ok(Lookup::NotFound);
        };
        let auth = self.auth(req.account).await?;
        let status = self.fetch_status(&auth, &known.publish_id).await?;
        let done = match known.mode {
            Mode::Direct => status.status == "PUBLISH_COMPLETE",
            Mode::Inbox => {
                status.status == "SEND_TO_USER_INBOX" || status.status == "PUBLISH_COMPLETE"
            }
        };
        if done {
            return Ok(Lookup::Found(published_part(
                &req.account.handle,
                &known.publish_id,
                status.post_id.as_deref(),
                known.photo,
                known.mode,
                known.privacy_level.as_deref(),
                known.notice.as_deref(),
            )));
        }
        // Still processing, or failed: the stored phase (if any) is continued, which cannot
        // publish twice; a failure is reported by that step.
        Ok(Lookup::NotFound)
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        let gate = self.refresh_gate(&account.id);
        let _held = gate.lock().await;
        // Read under the gate: another task may have rotated the tokens meanwhile.
        let auth = self.auth(account).await?;
        let Some(refresh_token) = auth.tokens.refresh_token.clone() else {
            return Err(reauth(
                "this TikTok account has no refresh token, and its sign-in expired — connect it again",
            ));
        };
        if auth
            .tokens
            .refresh_expires_at
            .is_some_and(|at| at <= Utc::now())
        {
            return Err(reauth(
                "the TikTok sign-in expired (refresh tokens last 180 to 365 days) — connect the account again",
            ));
        }
        let Some(client_key) = account
            .setting("client_id")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            return Err(permanent(
                "no TikTok client key is set for this account — enter your TikTok app's client key and secret in Settings → TikTok (or `outpost apps set tiktok --client-id KEY --client-secret-stdin`), then reconnect the account",
            ));
        };
        let Some(secret) = self.client_secret().await? else {
            return Err(permanent(
                "the TikTok app's client secret is not stored — TikTok needs it to renew the sign-in; enter it in Settings → TikTok (or `outpost apps set tiktok --client-id KEY --client-secret-stdin`)",
            ));
        };
        let endpoint = TokenEndpoint {
            token_url: self.token_url.clone(),
            client_id: client_key.to_string(),
            client_secret: Some(secret),
            auth: ClientAuth::BodyNamed("client_key"),
        };
        let started = Instant::now();
        let result = endpoint
            .refresh(&self.http, &refresh_token, Utc::now())
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let said = |m: &str| sanitize_message(m.split(" — ").next().unwrap_or(m), 160);
        match result {
            Ok(tokens) => {
                // A rotated refresh token: the old one is dead now, save before anything else.
                self.save_tokens(&account.id, tokens).await?;
                tracing::info!(
                    network = NET.as_str(),
                    account = account.id.as_str(),
                    duration_ms,
                    "tiktok tokens refreshed"
                );
                Ok(())
            }
            Err(OAuthError::Revoked(m)) => Err(reauth(format!(
                "TikTok refused the refresh token ({}) — the sign-in was revoked, expired or already used; connect the account again",
                said(&m)
            ))),
            Err(OAuthError::Client(m)) => Err(permanent(format!(
                "TikTok's token endpoint refused the app ({}) — check the client key and secret in Settings → TikTok",
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
        self.user_info(&auth, "checking the account")
            .await
            .map(|_| ())
    }

    /// Photos go by URL only (`PULL_FROM_URL` from a verified domain); videos as bytes.
    fn media_by_url(&self, part: &Part, _options: &Value) -> MediaByUrl {
        if !part.media.is_empty() && part.media.iter().all(MediaRef::is_image) {
            MediaByUrl::Required
        } else {
            MediaByUrl::No
        }
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        Some(
            OAuthProfile {
                network: "tiktok",
                authorize_url: AUTHORIZE_URL.to_string(),
                token_url: self.token_url.clone(),
                scopes: SCOPES.to_vec(),
                scope_separator: ",",
                pkce: Pkce::S256Hex,
                client_auth: ClientAuth::BodyNamed("client_key"),
                client_id_param: "client_key",
                needs_secret: true,
                // Login Kit for Desktop: loopback with a port, and the port may be the `*`
                // wildcard (register `http://127.0.0.1:*/callback/`).
                redirect: RedirectRule::LoopbackAnyPort,
                redirect_path: REDIRECT_PATH,
                extra_authorize_params: Vec::new(),
            }
            .with_env_overrides(),
        )
    }

    /// `GET /v2/user/info/` for the open_id and display name; the @username comes from
    /// creator info when the account granted `video.publish`.
    async fn identify(
        &self,
        tokens: &OAuthTokens,
        _settings: &Value,
    ) -> Result<Identity, PublishError> {
        let auth = Auth {
            account_id: "(connecting)".into(),
            tokens: tokens.clone(),
        };
        let user = self
            .user_info(&auth, "reading the connected account")
            .await?;
        let text = |k: &str| {
            user.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let Some(open_id) = text("open_id") else {
            return Err(transient(
                "TikTok described the account without an open_id — Outpost will retry",
            ));
        };
        let display_name = text("display_name");
        let username = match self
            .creator_info(&auth, "reading the account's username")
            .await
        {
            Ok(c) => c.username,
            Err(e) => {
                tracing::info!(
                    network = NET.as_str(),
                    error = %e.message,
                    "tiktok creator info unavailable while connecting; the display name is the handle"
                );
                None
            }
        };
        let Some(handle) = username.clone().or_else(|| display_name.clone()) else {
            return Err(transient(
                "TikTok described the account without a name — Outpost will retry",
            ));
        };
        let mut settings = json!({});
        if let Some(u) = text("union_id") {
            settings["union_id"] = json!(u);
        }
        if username.is_none() {
            settings["handle_is_display_name"] = json!(true);
        }
        Ok(Identity {
            remote_id: open_id,
            handle,
            display_name,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creator(options: &[&str]) -> CreatorInfo {
        CreatorInfo {
            privacy_options: options.iter().map(|s| s.to_string()).collect(),
            ..CreatorInfo::default()
        }
    }

    fn opts(v: Value) -> PostOptions {
        parse_options(&v).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn options_are_read_and_checked() {
        let o = opts(
            json!({"privacy_level": "public_to_everyone", "disable_comment": "true", "mode": "inbox"}),
        );
        assert_eq!(o.privacy_level.as_deref(), Some("PUBLIC_TO_EVERYONE"));
        assert!(o.disable_comment && !o.disable_duet);
        assert_eq!(o.mode, Mode::Inbox);
        assert!(parse_options(&json!({"privacy_level": "FRIENDS"})).is_err());
        assert!(parse_options(&json!({"mode": "draft"})).is_err());
        assert!(parse_options(&json!({"disable_duet": 3})).is_err());
        let o = opts(Value::Null);
        assert_eq!(o.mode, Mode::Direct);
        assert!(o.auto_add_music);
    }

    #[test]
    fn privacy_is_chosen_from_the_creator_options() {
        let public = creator(&["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]);
        let o = opts(json!({"privacy_level": "MUTUAL_FOLLOW_FRIENDS"}));
        assert_eq!(
            choose_privacy(&o, &public).ok(),
            Some(("MUTUAL_FOLLOW_FRIENDS".to_string(), false))
        );
        let e = choose_privacy(&opts(json!({})), &public).unwrap_err();
        assert!(e.message.contains("privacy_level"), "{}", e.message);
        let private = creator(&["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]);
        let e = choose_privacy(
            &opts(json!({"privacy_level": "PUBLIC_TO_EVERYONE"})),
            &private,
        )
        .unwrap_err();
        assert!(e.message.contains("FOLLOWER_OF_CREATOR"), "{}", e.message);
        let unaudited = creator(&["SELF_ONLY"]);
        assert_eq!(
            choose_privacy(
                &opts(json!({"privacy_level": "PUBLIC_TO_EVERYONE"})),
                &unaudited
            )
            .ok(),
            Some(("SELF_ONLY".to_string(), true))
        );
        assert_eq!(
            choose_privacy(&opts(json!({})), &unaudited).ok(),
            Some(("SELF_ONLY".to_string(), true))
        );
    }

    #[test]
    fn creator_info_is_read() {
        let c = CreatorInfo::from_data(&json!({
            "creator_username": "alice", "creator_nickname": "Alice",
            "privacy_level_options": ["SELF_ONLY"], "comment_disabled": true,
            "max_video_post_duration_sec": 300
        }));
        assert_eq!(c.username.as_deref(), Some("alice"));
        assert!(c.only_self() && c.comment_disabled);
        assert_eq!(c.max_duration_sec, Some(300));
    }

    #[test]
    fn published_parts_carry_the_publish_id_and_the_notice() {
        let p = published_part(
            "@alice",
            "v_pub_file~v2-1.1",
            Some("7300"),
            false,
            Mode::Direct,
            Some("SELF_ONLY"),
            Some(UNAUDITED_NOTICE),
        );
        assert_eq!(p.remote_id, "7300");
        assert_eq!(
            p.url.as_deref(),
            Some("https://www.tiktok.com/@alice/video/7300")
        );
        assert_eq!(p.extra["notice"], UNAUDITED_NOTICE);
        assert_eq!(p.extra["publish_id"], "v_pub_file~v2-1.1");
        let p = published_part("alice", "p1", None, true, Mode::Inbox, None, None);
        assert_eq!(p.remote_id, "p1");
        assert!(p.url.is_none());
    }
}
