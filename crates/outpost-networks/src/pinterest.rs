//! Pinterest (API v5): image Pins, carousels (2–5 images of one size) and video Pins on one of
//! the account's boards, with the user's own developer app (OAuth 2, client secret, Basic auth
//! at the token endpoint, continuous refresh tokens). See `docs/platforms/pinterest.md`.
//!
//! - Images go up as `image_base64` / `multiple_image_base64` (JPEG and PNG, read from disk), so
//!   no public URL is needed. When the engine staged a public copy of every image
//!   (`options.media_urls`: one URL per attached file, or `{sha256: url}`; or
//!   `options.image_url`), or a `MediaRef.path` is itself an `https://` URL, the Pin uses
//!   `image_url` / `multiple_image_urls` instead.
//! - Video is two-phase ([`video`]): [`Publisher::start`] registers the upload
//!   (`POST /v5/media`) and streams the file to the returned S3 form endpoint; [`Publisher::poll`]
//!   checks `GET /v5/media/{id}` and, once `succeeded`, creates the Pin with a `video_id` source.
//! - Per-target options (`PartRequest::options`): `board_id` (required, digits),
//!   `board_section_id`, `title` (≤ 100), `link` (≤ 2048), `description` (replaces the part's
//!   text, ≤ 800), `dominant_color`, `media_urls` (staged copies: an array by media index, or
//!   an object by SHA-256) / `image_url`, and for video
//!   `cover_image_url`, `cover_image_path` (a local JPEG/PNG) or `cover_image_key_frame_time`.
//! - There is no idempotency key: an in-doubt create is reconciled with [`Publisher::lookup`]
//!   (`GET /v5/pins`, newest first, matched on board + description/title/link).
//!
//! Tokens live in the secret store as [`OAuthTokens`]; they never reach a log line, a message
//! or an excerpt.

mod video;

use crate::http;
use crate::secrets;
use crate::{Choice, Identity, Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use outpost_auth::oauth::{
    parse_token_response, ClientAuth, OAuthError, OAuthProfile, Pkce, RedirectRule,
};
use outpost_auth::{client_secret_key, OAuthTokens, Secret, SecretStore};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const NET: Network = Network::Pinterest;

/// The API host; every path below starts with `/v5`.
pub const DEFAULT_BASE_URL: &str = "https://api.pinterest.com";
/// Where the user consents (not under the API host).
pub const AUTHORIZE_URL: &str = "https://www.pinterest.com/oauth/";
/// The token endpoint's path under the API host.
pub const TOKEN_PATH: &str = "/v5/oauth/token";
/// Scopes Outpost asks for. `boards:write` is included because the reference lists it among
/// the scopes `POST /v5/pins` requires (`boards:read boards:write pins:read pins:write`).
pub const SCOPES: [&str; 5] = [
    "boards:read",
    "boards:write",
    "pins:read",
    "pins:write",
    "user_accounts:read",
];
/// The loopback port registered as the app's redirect (`http://127.0.0.1:8725/callback`).
pub const REDIRECT_PORT: u16 = 8725;

/// The message when a target has no board (also what [`check_options`] answers).
pub const BOARD_NOT_SELECTED: &str =
    "Pinterest board not selected — choose a board for this account";
/// The message when two or more carousel images differ in size.
pub const CAROUSEL_SIZES_DIFFER: &str = "Pinterest carousels need images of the same size";
/// The message when a part mixes images and a video.
pub const NO_MIXING: &str = "Pinterest doesn't support mixing images and videos";
/// The message when Pinterest's spam block answers a 429.
pub const SPAM_BLOCKED: &str =
    "Pinterest flagged this as spam — Outpost will not retry automatically";

/// The image types `image_base64` takes.
const BASE64_MIMES: [&str; 2] = ["image/jpeg", "image/png"];
const TITLE_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 800;
const ALT_MAX: usize = 500;
const LINK_MAX: usize = 2048;
const CAROUSEL_MIN: usize = 2;
const CAROUSEL_MAX: usize = 5;
/// `GET /v5/boards` and `GET /v5/pins` take `page_size` 1..250.
const PAGE_SIZE: u32 = 250;
/// A safety stop for `choices` (10,000 boards).
const MAX_BOARD_PAGES: usize = 40;
/// Reconciliation reads at most this many pages of the newest Pins.
const LOOKUP_MAX_PAGES: usize = 4;
/// Pins created this long before the attempt's intent still count (clock skew).
const LOOKUP_SKEW_MINUTES: i64 = 10;
/// Waiting when a 429 names no reset time.
const DEFAULT_RATE_WAIT_SECS: i64 = 60;

/// Checks a target's Pinterest options without any I/O (the engine calls it when a post is
/// scheduled): a board must be chosen, ids are digits, and the text fields fit Pinterest's
/// limits. The error is a sentence for the user.
pub fn check_options(options: &Value) -> Result<(), String> {
    PinOptions::parse(options).map(|_| ())
}

/// The web address of a Pin.
pub fn pin_url(id: &str) -> String {
    format!("https://www.pinterest.com/pin/{id}/")
}

// ---------------------------------------------------------------------------------------------
// Options

/// A target's options, checked.
#[derive(Debug, Clone, Default, PartialEq)]
struct PinOptions {
    board_id: String,
    board_section_id: Option<String>,
    title: Option<String>,
    link: Option<String>,
    description: Option<String>,
    dominant_color: Option<String>,
    /// Staged public copies, by the index of the part's media (`None`: not staged).
    media_urls: Vec<Option<String>>,
    /// Staged public copies by the file's SHA-256 (`media_urls` given as an object).
    media_urls_by_sha: Vec<(String, String)>,
    cover_image_url: Option<String>,
    cover_image_path: Option<String>,
    cover_key_frame_time: Option<u64>,
}

/// A string option (a number is taken as its decimal form); empty counts as absent.
fn opt_text(options: &Value, key: &str) -> Option<String> {
    match options.get(key)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_web_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl PinOptions {
    fn parse(options: &Value) -> Result<PinOptions, String> {
        let Some(board_id) = opt_text(options, "board_id") else {
            return Err(BOARD_NOT_SELECTED.to_string());
        };
        if !is_digits(&board_id) {
            return Err(format!(
                "Pinterest board id {board_id:?} is not a board id (Pinterest board ids are digits) — choose the board again for this account"
            ));
        }
        let board_section_id = opt_text(options, "board_section_id");
        if let Some(s) = board_section_id.as_deref().filter(|s| !is_digits(s)) {
            return Err(format!(
                "Pinterest board section id {s:?} is not a section id (digits only) — choose the section again"
            ));
        }
        let too_long = |field: &str, value: &str, max: usize| -> Result<(), String> {
            let n = value.chars().count();
            if n > max {
                Err(format!(
                    "Pinterest {field} is {n} characters; Pinterest takes at most {max} — shorten it"
                ))
            } else {
                Ok(())
            }
        };
        let title = opt_text(options, "title");
        if let Some(t) = &title {
            too_long("title", t, TITLE_MAX)?;
        }
        let description = opt_text(options, "description");
        if let Some(d) = &description {
            too_long("description", d, DESCRIPTION_MAX)?;
        }
        let link = opt_text(options, "link");
        if let Some(l) = &link {
            too_long("link", l, LINK_MAX)?;
            if !is_web_url(l) {
                return Err(format!(
                    "Pinterest link {:?} is not a web address — use one that starts with https://",
                    sanitize_message(l, 80)
                ));
            }
        }
        let mut media_urls: Vec<Option<String>> = match options.get("media_urls") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                })
                .collect(),
            _ => Vec::new(),
        };
        if media_urls.is_empty() {
            if let Some(u) = opt_text(options, "image_url") {
                media_urls.push(Some(u));
            }
        }
        let media_urls_by_sha: Vec<(String, String)> = match options.get("media_urls") {
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(sha, url)| {
                    let url = url.as_str()?.trim();
                    (!url.is_empty()).then(|| (sha.to_ascii_lowercase(), url.to_string()))
                })
                .collect(),
            _ => Vec::new(),
        };
        let all_urls = media_urls
            .iter()
            .flatten()
            .chain(media_urls_by_sha.iter().map(|(_, u)| u));
        if let Some(bad) = all_urls.into_iter().find(|u| !is_web_url(u)) {
            return Err(format!(
                "Pinterest staged image address {:?} is not a web address — check the media staging settings",
                sanitize_message(bad, 80)
            ));
        }
        let cover_image_url = opt_text(options, "cover_image_url");
        if let Some(u) = cover_image_url.as_deref().filter(|u| !is_web_url(u)) {
            return Err(format!(
                "Pinterest cover image address {:?} is not a web address — use one that starts with https://",
                sanitize_message(u, 80)
            ));
        }
        let cover_key_frame_time = match options.get("cover_image_key_frame_time") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                "Pinterest cover_image_key_frame_time must be a whole, non-negative number"
                    .to_string()
            })?),
        };
        Ok(PinOptions {
            board_id,
            board_section_id,
            title,
            link,
            description,
            dominant_color: opt_text(options, "dominant_color"),
            media_urls,
            media_urls_by_sha,
            cover_image_url,
            cover_image_path: opt_text(options, "cover_image_path"),
            cover_key_frame_time,
        })
    }

    /// The Pin's description: the override, else the part's text; `None` when empty.
    fn description_for(&self, text: &str) -> Option<String> {
        self.description
            .clone()
            .or_else(|| Some(text.trim().to_string()))
            .filter(|d| !d.is_empty())
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn permanent(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Permanent, message)
}

fn transient(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Transient { retry_after: None }, message)
}

fn reauth(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Reauth, message)
}

const RECONNECT: &str =
    "reconnect the account (Accounts → Reconnect, or `outpost accounts connect pinterest`)";

fn no_tokens() -> PublishError {
    reauth(format!(
        "no sign-in tokens are stored for this account — {RECONNECT}"
    ))
}

/// An HTTP answer, body read.
struct Reply {
    what: &'static str,
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
    /// `x-pinterest-rid`, logged with every error.
    fn rid(&self) -> Option<&str> {
        self.headers
            .get("x-pinterest-rid")
            .and_then(|v| v.to_str().ok())
    }
    /// `message_detail` (or `message`) of a Generic Error body.
    fn detail(&self) -> String {
        let v = self.json();
        let field = |k: &str| {
            v.as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        field("message_detail")
            .or_else(|| field("message"))
            .unwrap_or_default()
    }
    /// Everything the server said, for matching (message, message_detail).
    fn said_lower(&self) -> String {
        let v = self.json();
        let field = |k: &str| {
            v.as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        format!("{} {}", field("message"), field("message_detail"))
    }
    /// A 429 from the spam block (the official quickstart's `SpamException`: "spam" in
    /// `message_detail`, else in `message`).
    fn is_spam(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS && self.said_lower().contains("spam")
    }
    /// "Board not found" and friends: the board is gone, not the account's, or not an id.
    fn is_board_problem(&self) -> bool {
        if !matches!(self.status.as_u16(), 400 | 403 | 404) {
            return false;
        }
        let said = self.said_lower();
        said.contains("board")
            && [
                "not found",
                "invalid",
                "does not match",
                "not exist",
                "doesn't exist",
                "not authorized",
                "not allowed",
            ]
            .iter()
            .any(|w| said.contains(w))
    }
}

/// When a rate-limited caller may try again: `Retry-After`, else `x-ratelimit-reset`. The
/// reset header's form is UNCONFIRMED (third parties read it as seconds to wait; others as an
/// epoch): a value below 10⁹ is taken as seconds from now, a larger one as epoch seconds.
fn rate_limit_until(headers: &HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(at) =
        header("retry-after").and_then(|v| outpost_core::retry::parse_retry_after(v, now))
    {
        return Some(at);
    }
    ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"]
        .iter()
        .find_map(|name| {
            let n: i64 = header(name)?.trim().parse().ok()?;
            if n < 0 {
                return None;
            }
            if n >= 1_000_000_000 {
                DateTime::<Utc>::from_timestamp(n, 0).map(|at| at.max(now))
            } else {
                Some(now + chrono::Duration::seconds(n.min(7 * 24 * 3600)))
            }
        })
}

/// Decides the class of a failed API call (see the Pinterest row of the error-class table).
fn classify(reply: &Reply, board_id: Option<&str>, secrets: &[&str]) -> PublishError {
    let status = reply.status.as_u16();
    let what = reply.what;
    let said = sanitize_message(&redact(&reply.detail(), secrets), 160);
    let said_part = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    let now = Utc::now();
    let (class, message) = if status == 401 {
        (
            ErrorClass::Reauth,
            format!(
                "the access token was refused while {what} (HTTP 401{said_part}) — Outpost will renew it; if that fails, {RECONNECT}"
            ),
        )
    } else if reply.is_spam() {
        (ErrorClass::Permanent, SPAM_BLOCKED.to_string())
    } else if status == 429 {
        let until = rate_limit_until(&reply.headers, now)
            .unwrap_or(now + chrono::Duration::seconds(DEFAULT_RATE_WAIT_SECS));
        (
            ErrorClass::RateLimited { until },
            format!(
                "rate limit reached while {what} (HTTP 429) — Outpost will wait until {} UTC (Trial apps get 1,000 requests a day)",
                until.format("%Y-%m-%d %H:%M:%S")
            ),
        )
    } else if status >= 500 {
        (
            ErrorClass::Transient {
                retry_after: http::retry_after_hint(&reply.headers, now),
            },
            format!("the server failed while {what} (HTTP {status}) — Outpost will retry"),
        )
    } else if reply.is_board_problem() || (status == 404 && board_id.is_some()) {
        let board = board_id.unwrap_or("chosen");
        (
            ErrorClass::Permanent,
            format!(
                "the board {board} was not found or cannot be used (HTTP {status}{said_part}) — it may have been deleted or belong to another account; choose another board for this account"
            ),
        )
    } else if status == 403 {
        (
            ErrorClass::Permanent,
            format!(
                "Pinterest refused {what} (HTTP 403{said_part}) — check that the account granted the boards:read, boards:write, pins:read and pins:write scopes (reconnect it if not) and that it may post to this board"
            ),
        )
    } else if said.contains("maxItems") {
        (
            ErrorClass::Permanent,
            format!("Pinterest refused {what} (HTTP {status}{said_part}) — a carousel takes 2 to 5 images"),
        )
    } else if (300..400).contains(&status) {
        (
            ErrorClass::Permanent,
            format!(
                "the server redirected {what} (HTTP {status}) — check OUTPOST_PINTEREST_BASE_URL"
            ),
        )
    } else {
        (
            ErrorClass::Permanent,
            format!("Pinterest rejected {what} (HTTP {status}{said_part}) — change the post and try again"),
        )
    };
    tracing::warn!(
        network = NET.as_str(),
        status,
        class = class.name(),
        rid = reply.rid().unwrap_or("-"),
        what,
        "pinterest request failed"
    );
    PublishError::new(NET, class, message).with_excerpt(&reply.body, secrets)
}

/// A 2xx answer whose body is not what the reference promises.
fn malformed(reply: &Reply, secrets: &[&str]) -> PublishError {
    transient(format!(
        "the server answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
        reply.what,
        reply.status.as_u16()
    ))
    .with_excerpt(&reply.body, secrets)
}

// ---------------------------------------------------------------------------------------------
// Requests

/// One API request.
struct Call {
    method: Method,
    /// Path under the base URL, starting with `/v5/`.
    path: String,
    query: Vec<(&'static str, String)>,
    json: Option<Value>,
    bearer: Option<Secret>,
    /// The call has a side effect a retry could repeat (`POST /v5/pins`).
    creates: bool,
    /// The operation in the user's words ("creating the Pin").
    what: &'static str,
}

impl Call {
    fn get(path: impl Into<String>, what: &'static str, token: &Secret) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            json: None,
            bearer: Some(token.clone()),
            creates: false,
            what,
        }
    }
    fn post(path: impl Into<String>, what: &'static str, token: &Secret, body: Value) -> Call {
        Call {
            method: Method::POST,
            json: Some(body),
            ..Call::get(path, what, token)
        }
    }
    fn query(mut self, key: &'static str, value: impl Into<String>) -> Call {
        self.query.push((key, value.into()));
        self
    }
}

/// A loaded token set and the strings that must never leave this module.
struct Auth {
    tokens: OAuthTokens,
}

impl Auth {
    fn token(&self) -> &Secret {
        &self.tokens.access_token
    }
    fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.tokens.access_token.expose()];
        if let Some(r) = &self.tokens.refresh_token {
            out.push(r.expose());
        }
        out
    }
}

/// The Pinterest publisher. Cheap to share (`Arc`); one per process.
pub struct Pinterest {
    /// `https://api.pinterest.com` (no `/v5`, no trailing `/`).
    base: String,
    token_url: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    /// One refresh at a time per account: a second one would spend a rotated refresh token.
    renewals: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for Pinterest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinterest")
            .field("base", &self.base)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// `https://host/v5/` → `https://host`.
fn api_root(base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    trimmed.strip_suffix("/v5").unwrap_or(trimmed).to_string()
}

impl Pinterest {
    /// The API at `OUTPOST_PINTEREST_BASE_URL` (default `https://api.pinterest.com`); the token
    /// endpoint at `OUTPOST_PINTEREST_TOKEN_URL`, else `<base>/v5/oauth/token`.
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> Pinterest {
        let base = http::base_url(NET, DEFAULT_BASE_URL);
        let mut p = Pinterest::new(base, secrets);
        if let Some(url) = std::env::var(format!("{}_TOKEN_URL", NET.env_prefix()))
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            p.token_url = url;
        }
        p
    }

    /// A publisher for the API at `base_url` (`https://api.pinterest.com`, or a fake's
    /// address); the token endpoint is `<base_url>/v5/oauth/token`.
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> Pinterest {
        let base = api_root(&base_url.into());
        Pinterest {
            token_url: format!("{base}{TOKEN_PATH}"),
            base,
            http: http::client(),
            secrets,
            renewals: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the HTTP client (tests use a short timeout).
    pub fn with_http_client(mut self, client: reqwest::Client) -> Pinterest {
        self.http = client;
        self
    }

    /// Replaces the token endpoint's address.
    pub fn with_token_url(mut self, url: impl Into<String>) -> Pinterest {
        self.token_url = url.into().trim().to_string();
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    // -----------------------------------------------------------------------------------------
    // HTTP

    async fn send(&self, account: &str, call: Call) -> Result<Reply, PublishError> {
        let url = format!("{}{}", self.base, call.path);
        let mut rb = self.http.request(call.method.clone(), &url);
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        if let Some(token) = &call.bearer {
            rb = rb.bearer_auth(token.expose());
        }
        if let Some(body) = &call.json {
            rb = rb.json(body);
        }
        let http::Exchange {
            status,
            headers,
            body,
            duration_ms,
        } = http::exchange(
            NET,
            rb,
            account,
            call.path.as_str(),
            call.what,
            call.creates,
        )
        .await?;
        tracing::debug!(
            network = NET.as_str(),
            account,
            method = call.method.as_str(),
            path = call.path.as_str(),
            status = status.as_u16(),
            rid = headers
                .get("x-pinterest-rid")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
            remaining = http::rate_limit_remaining(&headers),
            duration_ms,
            "pinterest request"
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

    async fn store_get(&self, key: String) -> Result<Option<Secret>, PublishError> {
        secrets::get(&self.secrets, NET, key).await
    }

    async fn load_tokens(&self, account_id: &str) -> Result<Option<OAuthTokens>, PublishError> {
        secrets::load_tokens(&self.secrets, NET, account_id).await
    }

    async fn save_tokens(&self, account_id: &str, tokens: OAuthTokens) -> Result<(), PublishError> {
        secrets::save_tokens(&self.secrets, NET, account_id, tokens).await
    }

    async fn auth(&self, account: &Account) -> Result<Auth, PublishError> {
        match self.load_tokens(&account.id).await? {
            Some(tokens) => Ok(Auth { tokens }),
            None => Err(no_tokens()),
        }
    }

    fn renewal_gate(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.renewals.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(account_id.to_string()).or_default())
    }

    // -----------------------------------------------------------------------------------------
    // Pins

    /// `POST /v5/pins`.
    async fn create_pin(
        &self,
        req: &PartRequest<'_>,
        auth: &Auth,
        body: Value,
        board_id: &str,
    ) -> Result<PublishedPart, PublishError> {
        let mut call = Call::post("/v5/pins", "creating the Pin", auth.token(), body);
        call.creates = true;
        let reply = self.send(&req.account.id, call).await?;
        let secrets = auth.secrets();
        if !reply.ok() {
            return Err(classify(&reply, Some(board_id), &secrets));
        }
        let id = reply.json().and_then(|v| match v.get("id")? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        let Some(id) = id else {
            // Created, but the answer is unreadable: reconciliation finds the Pin.
            return Err(PublishError::new(
                NET,
                ErrorClass::UnknownOutcome,
                "the server accepted the Pin but its answer cannot be read — Outpost will look the Pin up",
            )
            .with_excerpt(&reply.body, &secrets));
        };
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            pin = id.as_str(),
            board = board_id,
            "pinterest pin created"
        );
        Ok(published(&id, board_id))
    }

    /// The `media_source` of an image or carousel Pin, and the Pin's alt text.
    async fn image_source(
        &self,
        images: &[&MediaRef],
        opts: &PinOptions,
    ) -> Result<(Value, Option<String>), PublishError> {
        if images.len() > CAROUSEL_MAX {
            return Err(permanent(format!(
                "{} images attached; Pinterest carousels take at most {CAROUSEL_MAX} — remove {}",
                images.len(),
                images.len() - CAROUSEL_MAX
            )));
        }
        let alt = images
            .iter()
            .filter_map(|m| m.alt.as_deref())
            .map(str::trim)
            .find(|a| !a.is_empty())
            .map(str::to_string);
        if let Some(a) = &alt {
            let n = a.chars().count();
            if n > ALT_MAX {
                return Err(permanent(format!(
                    "the image description (alt text) is {n} characters; Pinterest takes at most {ALT_MAX} — shorten it"
                )));
            }
        }
        // Staged or remote copies, one per image: Pinterest fetches them itself.
        let urls: Vec<Option<String>> = images
            .iter()
            .enumerate()
            .map(|(i, m)| {
                opts.media_urls
                    .get(i)
                    .cloned()
                    .flatten()
                    .or_else(|| {
                        let sha = m.sha256.to_ascii_lowercase();
                        opts.media_urls_by_sha
                            .iter()
                            .find(|(s, _)| *s == sha)
                            .map(|(_, u)| u.clone())
                    })
                    .or_else(|| {
                        m.path
                            .to_ascii_lowercase()
                            .starts_with("https://")
                            .then(|| m.path.clone())
                    })
            })
            .collect();
        if urls.iter().all(Option::is_some) {
            check_same_size(images, &vec![None; images.len()])?;
            let urls: Vec<String> = urls.into_iter().flatten().collect();
            let source = if let [url] = urls.as_slice() {
                json!({ "source_type": "image_url", "url": url })
            } else {
                json!({
                    "source_type": "multiple_image_urls",
                    "items": urls.iter().map(|u| json!({ "url": u })).collect::<Vec<_>>(),
                    "index": 0,
                })
            };
            return Ok((source, alt));
        }
        // Check the sizes Outpost already knows before reading anything.
        check_same_size(images, &vec![None; images.len()])?;
        let mut read = Vec::with_capacity(images.len());
        for m in images {
            read.push(read_image(m).await?);
        }
        let sizes: Vec<Option<(u32, u32)>> = read.iter().map(|(_, _, size)| *size).collect();
        check_same_size(images, &sizes)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let source = if let [(data, content_type, _)] = read.as_slice() {
            json!({
                "source_type": "image_base64",
                "content_type": content_type,
                "data": b64.encode(data),
            })
        } else {
            json!({
                "source_type": "multiple_image_base64",
                "items": read
                    .iter()
                    .map(|(data, content_type, _)| {
                        json!({ "content_type": content_type, "data": b64.encode(data) })
                    })
                    .collect::<Vec<_>>(),
            })
        };
        Ok((source, alt))
    }

    /// Reconciliation: the newest Pins (`GET /v5/pins`), matched on board + description, title
    /// and link, among Pins no older than the attempt's intent (less some clock skew).
    async fn find_pin(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let opts = match PinOptions::parse(req.options) {
            Ok(o) => o,
            Err(why) => {
                return Ok(Lookup::CannotTell(format!(
                    "Pinterest: {why} — so Outpost cannot look the Pin up; check the account's boards and confirm"
                )))
            }
        };
        let auth = self.auth(req.account).await?;
        let description = opts.description_for(&req.part.text);
        let oldest = req.intent_at - chrono::Duration::minutes(LOOKUP_SKEW_MINUTES);
        let mut bookmark: Option<String> = None;
        for _ in 0..LOOKUP_MAX_PAGES {
            let mut call = Call::get("/v5/pins", "looking the Pin up", auth.token())
                .query("page_size", PAGE_SIZE.to_string());
            if let Some(b) = &bookmark {
                call = call.query("bookmark", b.clone());
            }
            let reply = self.send(&req.account.id, call).await?;
            if !reply.ok() {
                return Err(classify(&reply, None, &auth.secrets()));
            }
            let Some(v) = reply.json() else {
                return Err(malformed(&reply, &auth.secrets()));
            };
            let items = v
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut reached_older = false;
            for pin in &items {
                let created = pin
                    .get("created_at")
                    .and_then(Value::as_str)
                    .and_then(parse_time);
                if created.is_some_and(|c| c < oldest) {
                    reached_older = true;
                    continue;
                }
                let field = |k: &str| {
                    pin.get(k)
                        .and_then(Value::as_str)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                };
                let board_matches = match pin.get("board_id") {
                    Some(Value::String(s)) => *s == opts.board_id,
                    Some(Value::Number(n)) => n.to_string() == opts.board_id,
                    _ => false,
                };
                if board_matches
                    && field("description") == description
                    && (opts.title.is_none() || field("title") == opts.title)
                    && (opts.link.is_none() || field("link") == opts.link)
                {
                    if let Some(id) = field("id") {
                        tracing::info!(
                            network = NET.as_str(),
                            account = req.account.id.as_str(),
                            target = req.target_id,
                            pin = id.as_str(),
                            "pinterest lookup found the pin"
                        );
                        return Ok(Lookup::Found(published(&id, &opts.board_id)));
                    }
                }
            }
            bookmark = v
                .get("bookmark")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
                .map(str::to_string);
            // Newest first: once a Pin older than the attempt shows up, nothing later can match.
            if reached_older || bookmark.is_none() {
                return Ok(Lookup::NotFound);
            }
        }
        Ok(Lookup::CannotTell(format!(
            "Pinterest: Outpost read the account's newest {} Pins without reaching the time of this attempt — check board {} for the Pin and confirm",
            LOOKUP_MAX_PAGES * PAGE_SIZE as usize,
            opts.board_id
        )))
    }

    /// `GET /v5/user_account` with `token`.
    async fn user_account(&self, account: &str, token: &Secret) -> Result<Value, PublishError> {
        let reply = self
            .send(
                account,
                Call::get("/v5/user_account", "reading the account", token),
            )
            .await?;
        let secrets = [token.expose()];
        if !reply.ok() {
            return Err(classify(&reply, None, &secrets));
        }
        reply
            .json()
            .filter(Value::is_object)
            .ok_or_else(|| malformed(&reply, &secrets))
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn published(id: &str, board_id: &str) -> PublishedPart {
    PublishedPart {
        remote_id: id.to_string(),
        url: Some(pin_url(id)),
        extra: json!({ "board_id": board_id }),
    }
}

/// The Pin body without its `media_source`.
fn pin_body(
    opts: &PinOptions,
    text: &str,
    alt: Option<String>,
    media_source: Value,
) -> Result<Value, PublishError> {
    let mut body = Map::new();
    body.insert("board_id".into(), json!(opts.board_id));
    if let Some(s) = &opts.board_section_id {
        body.insert("board_section_id".into(), json!(s));
    }
    if let Some(t) = &opts.title {
        body.insert("title".into(), json!(t));
    }
    if let Some(d) = opts.description_for(text) {
        let n = d.chars().count();
        if n > DESCRIPTION_MAX {
            return Err(permanent(format!(
                "the text is {n} characters; a Pin description takes at most {DESCRIPTION_MAX} — shorten it (or set a shorter Pinterest description)"
            )));
        }
        body.insert("description".into(), json!(d));
    }
    if let Some(l) = &opts.link {
        body.insert("link".into(), json!(l));
    }
    if let Some(a) = alt {
        body.insert("alt_text".into(), json!(a));
    }
    if let Some(c) = &opts.dominant_color {
        body.insert("dominant_color".into(), json!(c));
    }
    body.insert("media_source".into(), media_source);
    Ok(Value::Object(body))
}

/// What a part carries, checked.
enum Media<'a> {
    Images(Vec<&'a MediaRef>),
    Video(&'a MediaRef),
}

/// The checks every publish starts with: no thread parts, a board, one kind of media.
fn plan<'a>(req: &PartRequest<'a>) -> Result<(PinOptions, Media<'a>), PublishError> {
    if req.part_index > 0 {
        return Err(permanent(format!(
            "Pinterest has no threads, so part {} cannot be published — put everything in the first part",
            req.part_index + 1
        )));
    }
    let opts = PinOptions::parse(req.options).map_err(permanent)?;
    let media = &req.part.media;
    if let Some(m) = media.iter().find(|m| !m.is_image() && !m.is_video()) {
        return Err(permanent(format!(
            "{} is {}; a Pin takes images or one video — remove it",
            m.file_name(),
            m.mime
        )));
    }
    let images: Vec<&MediaRef> = media.iter().filter(|m| m.is_image()).collect();
    let videos: Vec<&MediaRef> = media.iter().filter(|m| m.is_video()).collect();
    match (images.len(), videos.len()) {
        (0, 0) => Err(permanent(
            "a Pin needs an image or a video — attach one, then retry",
        )),
        (_, 0) => Ok((opts, Media::Images(images))),
        (0, 1) => Ok((opts, Media::Video(videos[0]))),
        (0, n) => Err(permanent(format!(
            "{n} videos attached; a Pin takes one video — remove {}",
            n - 1
        ))),
        _ => Err(permanent(NO_MIXING)),
    }
}

/// `known[i]` (probed) wins over `images[i].width/height`; images of unknown size pass.
fn check_same_size(images: &[&MediaRef], known: &[Option<(u32, u32)>]) -> Result<(), PublishError> {
    if images.len() < CAROUSEL_MIN {
        return Ok(());
    }
    let sizes: Vec<(&MediaRef, (u32, u32))> = images
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let size = known
                .get(i)
                .copied()
                .flatten()
                .or(match (m.width, m.height) {
                    (Some(w), Some(h)) => Some((w, h)),
                    _ => None,
                })?;
            Some((*m, size))
        })
        .collect();
    if let Some(((first, a), (other, b))) = sizes
        .first()
        .and_then(|f| sizes.iter().find(|(_, s)| *s != f.1).map(|o| (*f, *o)))
    {
        return Err(permanent(format!(
            "{CAROUSEL_SIZES_DIFFER} — {} is {}×{} but {} is {}×{}; crop them to one size",
            first.file_name(),
            a.0,
            a.1,
            other.file_name(),
            b.0,
            b.1
        )));
    }
    Ok(())
}

/// `image/jpeg` or `image/png` from the file's first bytes.
fn sniff_image(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Reads a JPEG or PNG from disk (≤ the image limit): bytes, content type, size if known.
async fn read_image(
    m: &MediaRef,
) -> Result<(Vec<u8>, &'static str, Option<(u32, u32)>), PublishError> {
    let limit = outpost_core::validate::limits(NET).image_max_bytes;
    let unreadable = |e: std::io::Error| {
        permanent(format!(
            "image {} cannot be read ({}) — attach it again",
            m.file_name(),
            sanitize_message(&e.to_string(), 80)
        ))
    };
    let meta = tokio::fs::metadata(&m.path).await.map_err(unreadable)?;
    if meta.len() > limit {
        return Err(permanent(format!(
            "image {} is {} bytes; Pinterest takes images up to {} bytes — shrink it, then retry",
            m.file_name(),
            meta.len(),
            limit
        )));
    }
    let data = tokio::fs::read(&m.path).await.map_err(unreadable)?;
    let Some(content_type) = sniff_image(&data) else {
        return Err(permanent(format!(
            "{} is {}; Pinterest takes uploaded images only as JPEG or PNG — convert it (or set up media staging so Pinterest can fetch it)",
            m.file_name(),
            m.mime
        )));
    };
    let size = match (m.width, m.height) {
        (Some(w), Some(h)) => Some((w, h)),
        _ => outpost_core::media::probe(m.file_name(), &data)
            .ok()
            .and_then(|p| Some((p.width?, p.height?))),
    };
    Ok((data, content_type, size))
}

#[async_trait]
impl Publisher for Pinterest {
    fn network(&self) -> Network {
        NET
    }

    /// Pinterest takes no client-chosen id; reconciliation matches the content instead.
    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        let (opts, media) = plan(req)?;
        let images = match media {
            Media::Images(images) => images,
            Media::Video(v) => {
                // Video goes through `start` and `poll`, never `publish`.
                return Err(permanent(format!(
                    "internal error: {} is a video, which Pinterest publishes in two phases — report this bug",
                    v.file_name()
                )));
            }
        };
        let (source, alt) = self.image_source(&images, &opts).await?;
        let body = pin_body(&opts, &req.part.text, alt, source)?;
        let auth = self.auth(req.account).await?;
        self.create_pin(req, &auth, body, &opts.board_id).await
    }

    /// A video Pin in two phases (register + upload, then poll and create); images at once.
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let (opts, media) = plan(req)?;
        match media {
            Media::Images(_) => self.publish(req).await.map(PartOutcome::Published),
            Media::Video(v) => self.start_video(req, &opts, v).await,
        }
    }

    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let (opts, media) = plan(req)?;
        match media {
            Media::Video(v) => self.poll_video(req, &opts, v, phase).await,
            Media::Images(_) => Err(permanent(
                "internal error: this part has no video to continue with — retry the post",
            )),
        }
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        self.find_pin(req).await
    }

    /// One refresh grant (Basic auth with the app's secret, `continuous_refresh=true` as apps
    /// created before 2025-09-25 need). The answer always carries a new refresh token, saved
    /// before anything uses it.
    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        let gate = self.renewal_gate(&account.id);
        let _held = gate.lock().await;
        let Some(tokens) = self.load_tokens(&account.id).await? else {
            return Err(no_tokens());
        };
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Err(reauth(format!(
                "no refresh token is stored for this account — {RECONNECT}"
            )));
        };
        let now = Utc::now();
        if tokens.refresh_expires_at.is_some_and(|at| at <= now) {
            return Err(reauth(format!(
                "the refresh token expired (Pinterest ends it after 60 days without a refresh) — {RECONNECT}"
            )));
        }
        let Some(client_id) = account
            .setting("client_id")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
        else {
            return Err(permanent(
                "this account has no Pinterest app client id — enter the app's client id and secret in Settings → Pinterest (or run `outpost accounts connect pinterest`), then reconnect",
            ));
        };
        let Some(secret) = self.store_get(client_secret_key(NET.as_str())).await? else {
            return Err(permanent(
                "the Pinterest app's client secret is not stored — enter it in Settings → Pinterest (or run `outpost accounts connect pinterest`)",
            ));
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("continuous_refresh", "true"),
        ];
        let started = Instant::now();
        let resp = self
            .http
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .basic_auth(&client_id, Some(secret.expose()))
            .form(&form)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                return Err(transient(format!(
                    "the token endpoint did not answer while renewing the sign-in ({}) — Outpost will retry",
                    http::transport_reason(&e)
                )))
            }
        };
        let status = resp.status().as_u16();
        let retry_after = http::retry_after_hint(resp.headers(), now);
        let rid = resp
            .headers()
            .get("x-pinterest-rid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string();
        let body = resp.text().await.unwrap_or_default();
        tracing::debug!(
            network = NET.as_str(),
            account = account.id.as_str(),
            status,
            rid = rid.as_str(),
            duration_ms = started.elapsed().as_millis() as u64,
            "pinterest token refresh"
        );
        let secrets = [
            refresh_token.expose(),
            secret.expose(),
            tokens.access_token.expose(),
        ];
        match parse_token_response(status, &body, retry_after, now, &secrets) {
            Ok(mut fresh) => {
                if fresh.refresh_token.is_none() {
                    fresh.refresh_token = Some(refresh_token.clone());
                    fresh.refresh_expires_at = tokens.refresh_expires_at;
                }
                if fresh.scope.is_none() {
                    fresh.scope = tokens.scope.clone();
                }
                self.save_tokens(&account.id, fresh).await?;
                tracing::info!(
                    network = NET.as_str(),
                    account = account.id.as_str(),
                    "pinterest tokens renewed"
                );
                Ok(())
            }
            Err(OAuthError::Revoked(m)) => {
                Err(reauth(format!("{m} ({RECONNECT})")).with_excerpt(&body, &secrets))
            }
            Err(OAuthError::Client(m)) => Err(permanent(format!(
                "{m} → Pinterest (or `outpost accounts connect pinterest`)"
            ))
            .with_excerpt(&body, &secrets)),
            Err(OAuthError::Transient {
                message,
                retry_after,
            }) => Err(PublishError::new(
                NET,
                ErrorClass::Transient { retry_after },
                format!("{message} while renewing the sign-in — Outpost will retry"),
            )
            .with_excerpt(&body, &secrets)),
            Err(OAuthError::Malformed(m)) => {
                Err(transient(format!("{m} — Outpost will retry")).with_excerpt(&body, &secrets))
            }
        }
    }

    /// JPEG and PNG go up as base64 and video through Pinterest's own upload form: only
    /// other image formats need a public URL (`image_url`).
    fn media_by_url(&self, part: &Part, _options: &Value) -> MediaByUrl {
        let needs_url = part
            .media
            .iter()
            .any(|m| m.is_image() && !BASE64_MIMES.iter().any(|t| m.mime.eq_ignore_ascii_case(t)));
        if needs_url {
            MediaByUrl::Required
        } else if part.media.iter().any(|m| m.is_image()) {
            // Bytes work, but a staged copy keeps large images out of the JSON body.
            MediaByUrl::IfAvailable
        } else {
            MediaByUrl::No
        }
    }

    async fn probe(&self, account: &Account) -> Result<(), PublishError> {
        let auth = self.auth(account).await?;
        self.user_account(&account.id, auth.token())
            .await
            .map(|_| ())
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        Some(
            OAuthProfile {
                network: "pinterest",
                authorize_url: AUTHORIZE_URL.to_string(),
                token_url: self.token_url.clone(),
                scopes: SCOPES.to_vec(),
                scope_separator: ",",
                // Not documented by Pinterest (UNCONFIRMED): the exchange uses the secret.
                pkce: Pkce::None,
                client_auth: ClientAuth::Basic,
                client_id_param: "client_id",
                needs_secret: true,
                redirect: RedirectRule::LoopbackFixedPort(REDIRECT_PORT),
                redirect_path: "/callback",
                extra_authorize_params: Vec::new(),
            }
            .with_env_overrides(),
        )
    }

    /// `GET /v5/user_account`: the id (else the username) is the remote id; the account type
    /// goes into the settings (next to the client id chosen so far).
    async fn identify(
        &self,
        tokens: &OAuthTokens,
        settings: &Value,
    ) -> Result<Identity, PublishError> {
        let v = self.user_account("-", &tokens.access_token).await?;
        let text = |k: &str| match v.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let Some(username) = text("username") else {
            return Err(transient(
                "the server sent the account without a username — Outpost will retry",
            ));
        };
        let mut out = match settings {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        out.insert("username".into(), json!(username));
        if let Some(t) = text("account_type") {
            out.insert("account_type".into(), json!(t));
        }
        Ok(Identity {
            remote_id: text("id").unwrap_or_else(|| username.clone()),
            handle: username,
            display_name: text("business_name"),
            settings: Value::Object(out),
        })
    }

    /// `"boards"`: every board of the account (`GET /v5/boards`, bookmark paging).
    async fn choices(&self, account: &Account, kind: &str) -> Result<Vec<Choice>, PublishError> {
        if kind != "boards" {
            return Ok(Vec::new());
        }
        let auth = self.auth(account).await?;
        let mut out = Vec::new();
        let mut bookmark: Option<String> = None;
        for _ in 0..MAX_BOARD_PAGES {
            let mut call = Call::get("/v5/boards", "listing the boards", auth.token())
                .query("page_size", PAGE_SIZE.to_string());
            if let Some(b) = &bookmark {
                call = call.query("bookmark", b.clone());
            }
            let reply = self.send(&account.id, call).await?;
            if !reply.ok() {
                return Err(classify(&reply, None, &auth.secrets()));
            }
            let Some(v) = reply.json() else {
                return Err(malformed(&reply, &auth.secrets()));
            };
            for item in v
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = match item.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => continue,
                };
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let privacy = item.get("privacy").cloned().unwrap_or(Value::Null);
                out.push(Choice {
                    id,
                    name,
                    extra: json!({ "privacy": privacy }),
                });
            }
            let next = v
                .get("bookmark")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
                .map(str::to_string);
            if next.is_none() || next == bookmark {
                return Ok(out);
            }
            bookmark = next;
        }
        tracing::warn!(
            network = NET.as_str(),
            account = account.id.as_str(),
            boards = out.len(),
            "pinterest board list cut at the page limit"
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str, headers: &[(&'static str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            if let Ok(v) = v.parse() {
                h.insert(*k, v);
            }
        }
        Reply {
            what: "creating the Pin",
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: h,
            body: body.into(),
        }
    }

    #[test]
    fn options_need_a_board_of_digits() {
        assert_eq!(check_options(&Value::Null), Err(BOARD_NOT_SELECTED.into()));
        assert_eq!(
            check_options(&json!({"board_id": ""})),
            Err(BOARD_NOT_SELECTED.into())
        );
        assert!(check_options(&json!({"board_id": "abc"}))
            .unwrap_err()
            .contains("digits"));
        assert_eq!(check_options(&json!({"board_id": "549755885175"})), Ok(()));
        assert_eq!(check_options(&json!({"board_id": 549755885175u64})), Ok(()));
        assert!(check_options(&json!({"board_id": "1", "title": "t".repeat(101)})).is_err());
        assert!(check_options(&json!({"board_id": "1", "link": "ftp://x"})).is_err());
        assert!(check_options(&json!({"board_id": "1", "board_section_id": "x1"})).is_err());
        let o =
            PinOptions::parse(&json!({"board_id": "1", "image_url": "https://cdn.test/a.webp"}))
                .unwrap_or_default();
        assert_eq!(
            o.media_urls,
            vec![Some("https://cdn.test/a.webp".to_string())]
        );
    }

    #[test]
    fn errors_are_classified_per_the_table() {
        let class = |status, body: &str| classify(&reply(status, body, &[]), Some("1"), &[]).class;
        assert_eq!(
            class(
                401,
                r#"{"code":2,"message":"Authentication failed.","status":"failure"}"#
            ),
            ErrorClass::Reauth
        );
        assert_eq!(
            class(403, r#"{"code":3,"message":"no"}"#),
            ErrorClass::Permanent
        );
        assert!(class(503, "<html>busy</html>").is_transient());
        let spam = classify(
            &reply(
                429,
                r#"{"code":9,"message":"Request blocked","message_detail":"blocked by a block (Pins) we have in place to combat spam"}"#,
                &[("x-ratelimit-reset", "30")],
            ),
            Some("1"),
            &[],
        );
        assert_eq!(spam.class, ErrorClass::Permanent);
        assert_eq!(spam.message, format!("Pinterest: {SPAM_BLOCKED}"));
        let board = classify(
            &reply(404, r#"{"code":1,"message":"Board not found."}"#, &[]),
            Some("42"),
            &[],
        );
        assert_eq!(board.class, ErrorClass::Permanent);
        assert!(board.message.contains("board 42"), "{}", board.message);
    }

    #[test]
    fn the_reset_header_is_read_in_both_forms() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            "45".parse()
                .unwrap_or(reqwest::header::HeaderValue::from_static("0")),
        );
        assert_eq!(
            rate_limit_until(&h, now).map(|t| t.timestamp()),
            Some(1_800_000_045)
        );
        h.insert(
            "x-ratelimit-reset",
            "1800000300"
                .parse()
                .unwrap_or(reqwest::header::HeaderValue::from_static("0")),
        );
        assert_eq!(
            rate_limit_until(&h, now).map(|t| t.timestamp()),
            Some(1_800_000_300)
        );
        assert_eq!(rate_limit_until(&HeaderMap::new(), now), None);
    }

    #[test]
    fn the_base_url_may_carry_v5() {
        assert_eq!(
            api_root("https://api.pinterest.com/v5/"),
            "https://api.pinterest.com"
        );
        assert_eq!(api_root("http://127.0.0.1:9/"), "http://127.0.0.1:9");
    }

    #[test]
    fn secrets_never_reach_messages_or_excerpts() {
        let body = r#"{"code":1,"message":"bad token pina_SECRETSECRET here","access_token":"pina_SECRETSECRET"}"#;
        let e = classify(&reply(400, body, &[]), None, &["pina_SECRETSECRET"]);
        assert!(!e.message.contains("pina_SECRETSECRET"), "{}", e.message);
        assert!(!e.excerpt.unwrap_or_default().contains("pina_SECRETSECRET"));
    }
}
