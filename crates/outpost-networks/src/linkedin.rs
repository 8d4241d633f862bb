//! LinkedIn through the versioned REST Posts API (`platforms/linkedin.md`).
//!
//! - **Auth:** the user's own LinkedIn app (client id + secret), OAuth 2 authorisation code
//!   without PKCE, secret in the body. Access tokens last 60 days; self-serve apps get no
//!   refresh token, so [`Publisher::refresh`] usually answers `Reauth` and the user connects the
//!   account again. When LinkedIn did issue a refresh token (MDP partners), it is used once per
//!   refresh.
//! - **Author:** the member (`urn:li:person:<sub>` from `/v2/userinfo`), or an organisation
//!   page the member administers, chosen per target as `options["author"]`
//!   ([`Publisher::choices`] with `"organizations"` lists them).
//! - **Posts:** one `POST /rest/posts` with `LinkedIn-Version` and
//!   `X-Restli-Protocol-Version: 2.0.0`; the commentary escaped as little text
//!   ([`escape_commentary`]) and never truncated; the new URN comes in `x-restli-id`.
//! - **Media:** images are initialised on `/rest/images` and PUT in one piece; 2–20 images make
//!   a `multiImage` post. A video is two-phase (see [`video`]): start uploads every part and
//!   finalises, poll waits for `AVAILABLE` and creates the post.
//! - **First comment:** `POST /rest/socialActions/{urn}/comments` after the post; a failure
//!   there never fails the post (the post is live), it is recorded in `extra`.
//! - **Reconciliation:** no idempotency key exists; [`Publisher::lookup`] lists the author's
//!   recent posts (`q=author`) and matches the commentary.
//!
//! One attempt per call, no sleeping, no retries. Tokens never reach a message, an excerpt or
//! a log line.

mod text;
mod video;

pub use text::{escape_commentary, is_reserved, unescape_commentary, RESERVED};

use crate::http;
use crate::secrets;
use crate::{Choice, Identity, Lookup, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use outpost_auth::oauth::{
    ClientAuth, OAuthError, OAuthProfile, Pkce, RedirectRule, TokenEndpoint,
};
use outpost_auth::{OAuthTokens, Secret, SecretStore};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, MediaRef, Network, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NET: Network = Network::LinkedIn;
/// `api.linkedin.com`: `/v2/userinfo` and the versioned `/rest/…` resources.
pub const DEFAULT_API_URL: &str = "https://api.linkedin.com";
/// `www.linkedin.com`: the OAuth pages.
pub const DEFAULT_WWW_URL: &str = "https://www.linkedin.com";
pub const AUTHORIZE_PATH: &str = "/oauth/v2/authorization";
pub const TOKEN_PATH: &str = "/oauth/v2/accessToken";
/// The `LinkedIn-Version` (YYYYMM) Outpost speaks. LinkedIn supports a version for at least a
/// year; 202603 sunsets on 2027-03-16. `OUTPOST_LINKEDIN_VERSION` overrides it.
pub const LINKEDIN_VERSION: &str = "202603";
/// Environment variable that overrides [`LINKEDIN_VERSION`].
pub const VERSION_ENV: &str = "OUTPOST_LINKEDIN_VERSION";
/// Posting as the member: OpenID Connect (who am I) + "Share on LinkedIn".
pub const MEMBER_SCOPES: [&str; 3] = ["openid", "profile", "w_member_social"];
/// Added for organisation pages (product "Community Management API").
pub const ORGANIZATION_SCOPES: [&str; 2] = ["w_organization_social", "r_organization_admin"];
/// The loopback port registered as `http://127.0.0.1:8724/callback`.
pub const REDIRECT_PORT: u16 = 8724;
/// Roles that may post for an organisation.
const POSTING_ROLES: [&str; 3] = [
    "ADMINISTRATOR",
    "CONTENT_ADMIN",
    "DIRECT_SPONSORED_CONTENT_POSTER",
];
const MAX_IMAGES: usize = 20;
/// Image types LinkedIn takes (JPG, GIF, PNG).
const IMAGE_MIMES: [&str; 3] = ["image/jpeg", "image/png", "image/gif"];
/// Posts read back when reconciling.
const LOOKUP_COUNT: usize = 50;
/// A post created by the attempt cannot be older than its intent; this much clock skew is
/// allowed.
const LOOKUP_SKEW_MINUTES: i64 = 10;

/// The LinkedIn publisher. Cheap to share (`Arc`); one per process.
pub struct LinkedIn {
    /// Where `/v2/…` and `/rest/…` live.
    api: String,
    /// Where `/oauth/v2/…` lives (the same as `api` when a base URL was given).
    www: String,
    version: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
}

impl fmt::Debug for LinkedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedIn")
            .field("api", &self.api)
            .field("www", &self.www)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

enum Payload {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

/// One request.
struct Call {
    method: Method,
    url: String,
    /// A `/rest/` call: send `LinkedIn-Version` and `X-Restli-Protocol-Version`.
    versioned: bool,
    /// Send the bearer token (never to a host that is not LinkedIn's or the configured one).
    bearer: bool,
    payload: Payload,
    /// The operation in the user's words ("creating the post").
    what: String,
    /// A side effect that a retry could repeat (the post create).
    creates: bool,
    timeout: Option<Duration>,
}

impl Call {
    fn get(url: String, what: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            url,
            versioned: true,
            bearer: true,
            payload: Payload::None,
            what: what.into(),
            creates: false,
            timeout: None,
        }
    }
    fn post(url: String, what: impl Into<String>, body: Value) -> Call {
        Call {
            method: Method::POST,
            payload: Payload::Json(body),
            ..Call::get(url, what)
        }
    }
}

/// An HTTP answer, body read.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The access token of one account, loaded for one operation.
struct Session {
    account_id: String,
    token: Secret,
}

impl Session {
    fn secrets(&self) -> [&str; 1] {
        [self.token.expose()]
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (URNs in paths and queries,
/// as Rest.li 2.0 wants them).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `urn%3Ali%3Ashare%3A1` → `urn:li:share:1` (a header value that arrives encoded).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The public address of a post.
pub fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

fn permanent(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Permanent, message)
}

fn transient(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Transient { retry_after: None }, message)
}

const RECONNECT: &str =
    "connect the account again (Accounts → Reconnect, or `outpost accounts connect linkedin`)";

fn reauth(why: &str) -> PublishError {
    PublishError::new(NET, ErrorClass::Reauth, format!("{why} — {RECONNECT}"))
}

/// The next 00:00 UTC after `now`: LinkedIn's daily limits reset then.
fn next_midnight_utc(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(now + chrono::Duration::hours(24))
}

/// The URN named by a `DUPLICATE_POST` message ("Content is a duplicate of urn:li:share:…").
fn duplicate_of(message: &str) -> Option<String> {
    let at = message.find("urn:li:")?;
    let urn: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
        .collect();
    let kind_ok = ["urn:li:share:", "urn:li:ugcPost:", "urn:li:activity:"]
        .iter()
        .any(|p| urn.starts_with(p) && urn.len() > p.len());
    kind_ok.then_some(urn)
}

fn is_duplicate(body: &Value) -> bool {
    body.pointer("/errorDetails/inputErrors")
        .and_then(Value::as_array)
        .is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e.get("code").and_then(Value::as_str) == Some("DUPLICATE_POST"))
        })
        || body.get("code").and_then(Value::as_str) == Some("DUPLICATE_POST")
}

/// What permission a refused call needed, in the user's words.
fn write_permission(author: &str) -> &'static str {
    if author.starts_with("urn:li:organization:") {
        "the w_organization_social permission (product “Community Management API”) and an ADMINISTRATOR or CONTENT_ADMIN role on the page — add the product to your LinkedIn app, check your role on the page, then connect the account again with page access"
    } else {
        "the w_member_social permission (product “Share on LinkedIn”) — add “Share on LinkedIn” to your LinkedIn app in the developer portal, then connect the account again"
    }
}

const PROFILE_PERMISSION: &str = "the openid and profile permissions (product “Sign In with LinkedIn using OpenID Connect”) — add that product to your LinkedIn app, then connect the account again";
const ORGANIZATIONS_PERMISSION: &str = "the r_organization_admin permission (product “Community Management API”) — add the product to your LinkedIn app, then connect the account again with page access";

/// Decides the class of a failed call (see the LinkedIn rows of the error-class table).
fn classify(
    reply: &Reply,
    what: &str,
    permission: &str,
    version: &str,
    secrets: &[&str],
) -> PublishError {
    let body = reply.json();
    let status = reply.status;
    let code = body
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let service_code = body.get("serviceErrorCode").and_then(Value::as_i64);
    let server_message = body
        .get("message")
        .and_then(Value::as_str)
        .map(|m| sanitize_message(&redact(m, secrets), 160))
        .unwrap_or_default();
    let says = if server_message.is_empty() {
        String::new()
    } else {
        format!(": {server_message}")
    };
    let detail = if code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {code}")
    };
    let now = Utc::now();
    let (class, message) = match status {
        401 if server_message.contains("Empty oauth2_access_token") => (
            ErrorClass::Permanent,
            format!("internal error: the access token was not sent while {what} ({detail}) — report this bug"),
        ),
        401 if code == "REVOKED_ACCESS_TOKEN" || service_code == Some(65601) => (
            ErrorClass::Reauth,
            format!("the access token was revoked (the app was removed from the member's LinkedIn settings) ({detail}) — {RECONNECT}"),
        ),
        401 => (
            ErrorClass::Reauth,
            format!("the access token is invalid or has expired while {what} (LinkedIn tokens last 60 days) ({detail}) — {RECONNECT}"),
        ),
        403 => (
            ErrorClass::Permanent,
            format!("the server refused {what} ({detail}{says}): it needs {permission}"),
        ),
        422 if is_duplicate(&body) => {
            let original = duplicate_of(&server_message);
            let named = match &original {
                Some(urn) => format!("{urn} ({})", post_url(urn)),
                None => "an existing post".to_string(),
            };
            (
                ErrorClass::Permanent,
                format!("this text was already posted as {named} (DUPLICATE_POST) — if that is this post, mark it as posted; otherwise change the text and post again"),
            )
        }
        426 => (
            ErrorClass::Permanent,
            format!("API version {version} is no longer accepted ({detail}{says}) — update Outpost, or set {VERSION_ENV} to a current YYYYMM version"),
        ),
        429 => {
            let until = http::rate_limit_until(&reply.headers, now)
                .unwrap_or_else(|| next_midnight_utc(now));
            (
                ErrorClass::RateLimited { until },
                format!(
                    "rate limited while {what} ({detail}) — Outpost will wait until {} UTC (daily limits reset at midnight UTC)",
                    until.format("%Y-%m-%d %H:%M")
                ),
            )
        }
        500..=599 => (
            ErrorClass::Transient {
                retry_after: http::retry_after_hint(&reply.headers, now),
            },
            format!("the server failed while {what} ({detail}) — Outpost will retry"),
        ),
        _ if server_message.contains("Unable to obtain activity") => (
            ErrorClass::Transient { retry_after: None },
            format!("the server could not complete {what} yet ({detail}{says}) — Outpost will retry"),
        ),
        400 | 422 => (
            ErrorClass::Permanent,
            format!("the server rejected {what} ({detail}{says}) — change the post and try again"),
        ),
        404 => (
            ErrorClass::Permanent,
            format!("the server does not know what Outpost asked for while {what} ({detail}{says})"),
        ),
        _ => (
            ErrorClass::Permanent,
            format!("the server refused {what} ({detail}{says})"),
        ),
    };
    PublishError::new(NET, class, message).with_excerpt(&reply.body, secrets)
}

/// Whether `urn` is a person or organisation URN with a non-empty id.
fn is_author_urn(urn: &str) -> bool {
    let person = urn
        .strip_prefix("urn:li:person:")
        .is_some_and(|id| !id.is_empty() && !id.contains(':'));
    let org = urn
        .strip_prefix("urn:li:organization:")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    person || org
}

/// The member's person URN, from the account.
fn member_urn(account: &Account) -> Result<String, PublishError> {
    match account.remote_id.as_deref().map(str::trim) {
        Some(id) if id.starts_with("urn:li:person:") && is_author_urn(id) => Ok(id.to_string()),
        Some(id) if !id.is_empty() && !id.contains(':') => Ok(format!("urn:li:person:{id}")),
        _ => Err(reauth("the account's LinkedIn member id is not known")),
    }
}

/// Who posts: `options["author"]` (an organisation the member chose), else the member.
fn author_of(req: &PartRequest<'_>) -> Result<String, PublishError> {
    match req.options.get("author") {
        None | Some(Value::Null) => member_urn(req.account),
        Some(Value::String(s)) if s.trim().is_empty() => member_urn(req.account),
        Some(Value::String(s)) if is_author_urn(s.trim()) => Ok(s.trim().to_string()),
        Some(other) => Err(permanent(format!(
            "the author option {} is not an organisation (urn:li:organization:<number>) — choose the page again in the composer",
            sanitize_message(&other.to_string(), 80)
        ))),
    }
}

/// The media of a part, as LinkedIn takes them.
enum Media<'a> {
    None,
    Images(Vec<&'a MediaRef>),
    Video(&'a MediaRef),
}

/// Everything checked before anything is sent.
struct Plan<'a> {
    author: String,
    /// The escaped commentary.
    commentary: String,
    media: Media<'a>,
}

fn plan<'a>(req: &PartRequest<'a>) -> Result<Plan<'a>, PublishError> {
    if req.part_index > 0 {
        return Err(permanent(format!(
            "there are no threads on LinkedIn, so part {} cannot be posted — remove the later parts for LinkedIn (or post them as separate posts)",
            req.part_index + 1
        )));
    }
    let limits = outpost_core::validate::limits(NET);
    let text = &req.part.text;
    let length = limits.text_count.count(text);
    if length > limits.text_max {
        return Err(permanent(format!(
            "the text is {length} {unit}; LinkedIn allows at most {max} {unit} — shorten it (Outpost never cuts a post)",
            unit = limits.text_count.unit(),
            max = limits.text_max
        )));
    }
    let author = author_of(req)?;
    let media = &req.part.media;
    let videos: Vec<&MediaRef> = media.iter().filter(|m| m.is_video()).collect();
    let images: Vec<&MediaRef> = media.iter().filter(|m| m.is_image()).collect();
    if let Some(other) = media.iter().find(|m| !m.is_video() && !m.is_image()) {
        return Err(permanent(format!(
            "{} ({}) cannot be attached to a LinkedIn post — attach JPG, PNG or GIF images or one MP4 video",
            other.file_name(),
            other.mime
        )));
    }
    let plan_media = match (videos.len(), images.len()) {
        (0, 0) => Media::None,
        (0, n) if n > MAX_IMAGES => {
            return Err(permanent(format!(
                "{n} images attached; a LinkedIn post takes at most {MAX_IMAGES} — remove {}",
                n - MAX_IMAGES
            )))
        }
        (0, _) => {
            if let Some(bad) = images
                .iter()
                .find(|m| !IMAGE_MIMES.contains(&m.mime.to_ascii_lowercase().as_str()))
            {
                return Err(permanent(format!(
                    "{} is {}; LinkedIn takes JPG, PNG or GIF images — convert it",
                    bad.file_name(),
                    bad.mime
                )));
            }
            Media::Images(images)
        }
        (1, 0) => {
            let video = videos[0];
            if !video.mime.eq_ignore_ascii_case("video/mp4") {
                return Err(permanent(format!(
                    "{} is {}; LinkedIn takes video as MP4 — export it as H.264 MP4",
                    video.file_name(),
                    video.mime
                )));
            }
            Media::Video(video)
        }
        (1, _) => {
            return Err(permanent(
                "a LinkedIn post carries either images or one video, not both — remove the images or the video",
            ))
        }
        (n, _) => {
            return Err(permanent(format!(
                "{n} videos attached; a LinkedIn post takes one video — remove {}",
                n - 1
            )))
        }
    };
    if text.trim().is_empty() && matches!(plan_media, Media::None) {
        return Err(permanent(
            "the post is empty — write some text or attach media",
        ));
    }
    Ok(Plan {
        author,
        commentary: escape_commentary(text),
        media: plan_media,
    })
}

impl LinkedIn {
    /// Base URLs from `OUTPOST_LINKEDIN_BASE_URL` (one base for both `www.` and `api.` paths,
    /// e.g. a fake), else LinkedIn's; the version from `OUTPOST_LINKEDIN_VERSION`.
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> LinkedIn {
        let base = http::env_url(&format!("{}_BASE_URL", NET.env_prefix()), "");
        let mut linkedin = if base.is_empty() {
            LinkedIn {
                api: DEFAULT_API_URL.to_string(),
                www: DEFAULT_WWW_URL.to_string(),
                version: LINKEDIN_VERSION.to_string(),
                http: http::client(),
                secrets,
            }
        } else {
            LinkedIn::new(base, secrets)
        };
        let version = http::env_url(VERSION_ENV, LINKEDIN_VERSION);
        if !version.is_empty() {
            linkedin.version = version;
        }
        linkedin
    }

    /// Everything (OAuth, API, uploads) at `base_url` — a fake or a proxy.
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> LinkedIn {
        let base = base_url.into().trim().trim_end_matches('/').to_string();
        LinkedIn {
            api: base.clone(),
            www: base,
            version: LINKEDIN_VERSION.to_string(),
            http: http::client(),
            secrets,
        }
    }

    /// Replaces the HTTP client (a test shortening the timeout).
    pub fn with_http_client(mut self, http: reqwest::Client) -> LinkedIn {
        self.http = http;
        self
    }

    /// Speaks another `LinkedIn-Version` (YYYYMM).
    pub fn with_version(mut self, version: impl Into<String>) -> LinkedIn {
        self.version = version.into();
        self
    }

    /// The `LinkedIn-Version` sent.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn token_url(&self) -> String {
        http::env_url(
            &format!("{}_TOKEN_URL", NET.env_prefix()),
            &format!("{}{TOKEN_PATH}", self.www),
        )
    }

    fn profile(&self, scopes: Vec<&'static str>) -> OAuthProfile {
        OAuthProfile {
            network: "linkedin",
            authorize_url: format!("{}{AUTHORIZE_PATH}", self.www),
            token_url: format!("{}{TOKEN_PATH}", self.www),
            scopes,
            scope_separator: " ",
            pkce: Pkce::None,
            client_auth: ClientAuth::Body,
            client_id_param: "client_id",
            needs_secret: true,
            redirect: RedirectRule::LoopbackFixedPort(REDIRECT_PORT),
            redirect_path: "/callback",
            extra_authorize_params: Vec::new(),
        }
        .with_env_overrides()
    }

    /// The OAuth set-up for posting as the member and on organisation pages
    /// ([`MEMBER_SCOPES`] + [`ORGANIZATION_SCOPES`]; the app needs the Community Management API).
    pub fn oauth_profile_with_pages(&self) -> OAuthProfile {
        self.profile(
            MEMBER_SCOPES
                .iter()
                .chain(&ORGANIZATION_SCOPES)
                .copied()
                .collect(),
        )
    }

    fn rest(&self, path: &str) -> String {
        format!("{}/rest/{path}", self.api)
    }

    /// Whether the bearer token may go to `url` (an upload URL LinkedIn handed out): only to
    /// LinkedIn's own hosts or to the configured base.
    fn trusts(&self, url: &str) -> bool {
        let Ok(target) = reqwest::Url::parse(url) else {
            return false;
        };
        let same_origin = |base: &str| {
            reqwest::Url::parse(base).is_ok_and(|b| {
                b.scheme() == target.scheme()
                    && b.host_str() == target.host_str()
                    && b.port_or_known_default() == target.port_or_known_default()
            })
        };
        let linkedin_host = target.scheme() == "https"
            && target
                .host_str()
                .is_some_and(|h| h == "linkedin.com" || h.ends_with(".linkedin.com"));
        same_origin(&self.api) || same_origin(&self.www) || linkedin_host
    }

    async fn send(&self, call: Call, token: &Secret) -> Result<Reply, PublishError> {
        let mut rb = self.http.request(call.method.clone(), &call.url);
        if call.bearer {
            rb = rb.bearer_auth(token.expose());
        }
        if call.versioned {
            rb = rb
                .header("LinkedIn-Version", &self.version)
                .header("X-Restli-Protocol-Version", "2.0.0");
        }
        rb = match call.payload {
            Payload::None => rb,
            Payload::Json(v) => rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            Payload::Bytes(b) => rb
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(b),
        };
        if let Some(t) = call.timeout {
            rb = rb.timeout(t);
        }
        let started = Instant::now();
        let resp = rb
            .send()
            .await
            .map_err(|e| http::send_error(NET, &call.what, &e, call.creates))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        tracing::debug!(
            network = NET.as_str(),
            what = call.what.as_str(),
            status,
            duration_ms = started.elapsed().as_millis() as u64,
            "linkedin call"
        );
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn fail(&self, reply: &Reply, what: &str, permission: &str, session: &Session) -> PublishError {
        classify(reply, what, permission, &self.version, &session.secrets())
    }

    async fn load_tokens(&self, account_id: &str) -> Result<Option<OAuthTokens>, PublishError> {
        secrets::load_tokens(&self.secrets, NET, account_id).await
    }

    async fn save_tokens(&self, account_id: &str, tokens: OAuthTokens) -> Result<(), PublishError> {
        secrets::save_tokens(&self.secrets, NET, account_id, tokens).await
    }

    /// The account's access token; `Reauth` when there is none or it has expired.
    async fn session(&self, account: &Account) -> Result<Session, PublishError> {
        let Some(tokens) = self.load_tokens(&account.id).await? else {
            return Err(reauth("no LinkedIn tokens are stored for this account"));
        };
        if let Some(at) = tokens.expires_at.filter(|at| *at <= Utc::now()) {
            return Err(reauth(&format!(
                "the access token expired on {} (LinkedIn tokens last 60 days)",
                at.format("%Y-%m-%d")
            )));
        }
        Ok(Session {
            account_id: account.id.clone(),
            token: tokens.access_token,
        })
    }

    /// `GET /v2/userinfo`.
    async fn userinfo(&self, token: &Secret) -> Result<Value, PublishError> {
        let mut call = Call::get(
            format!("{}/v2/userinfo", self.api),
            "reading the member's profile",
        );
        call.versioned = false;
        let reply = self.send(call, token).await?;
        if !reply.ok() {
            return Err(classify(
                &reply,
                "reading the member's profile",
                PROFILE_PERMISSION,
                &self.version,
                &[token.expose()],
            ));
        }
        let body = reply.json();
        if body
            .get("sub")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(transient(
                "the profile answer has no member id (sub) — Outpost will retry",
            )
            .with_excerpt(&reply.body, &[token.expose()]));
        }
        Ok(body)
    }

    /// Uploads one image for `author`; returns its `urn:li:image:…`.
    async fn upload_image(
        &self,
        session: &Session,
        author: &str,
        image: &MediaRef,
        index: usize,
        count: usize,
    ) -> Result<String, PublishError> {
        let file = image.file_name();
        let data = tokio::fs::read(&image.path).await.map_err(|e| {
            permanent(format!(
                "cannot read {file} ({}) — attach the image again",
                sanitize_message(&e.to_string(), 80)
            ))
        })?;
        let which = if count > 1 {
            format!("image {} of {count} ({file})", index + 1)
        } else {
            format!("the image {file}")
        };
        let what = format!("preparing the upload of {which}");
        let call = Call::post(
            format!("{}?action=initializeUpload", self.rest("images")),
            what.clone(),
            json!({ "initializeUploadRequest": { "owner": author } }),
        );
        let reply = self.send(call, &session.token).await?;
        if !reply.ok() {
            return Err(self.fail(&reply, &what, write_permission(author), session));
        }
        let value = reply.json();
        let (Some(upload_url), Some(urn)) = (
            value.pointer("/value/uploadUrl").and_then(Value::as_str),
            value.pointer("/value/image").and_then(Value::as_str),
        ) else {
            return Err(transient(format!(
                "the answer to {what} cannot be read — Outpost will retry"
            ))
            .with_excerpt(&reply.body, &session.secrets()));
        };
        let what = format!("uploading {which}");
        let put = Call {
            method: Method::PUT,
            url: upload_url.to_string(),
            versioned: false,
            bearer: self.trusts(upload_url),
            payload: Payload::Bytes(data),
            what: what.clone(),
            creates: false,
            timeout: None,
        };
        let reply = self.send(put, &session.token).await?;
        if !reply.ok() {
            return Err(self.fail(&reply, &what, write_permission(author), session));
        }
        Ok(urn.to_string())
    }

    /// Uploads the part's images; returns the post's `content`.
    async fn image_content(
        &self,
        session: &Session,
        author: &str,
        images: &[&MediaRef],
    ) -> Result<Value, PublishError> {
        let mut entries = Vec::with_capacity(images.len());
        for (i, image) in images.iter().enumerate() {
            let urn = self
                .upload_image(session, author, image, i, images.len())
                .await?;
            let mut entry = json!({ "id": urn });
            if let Some(alt) = image
                .alt
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
            {
                entry["altText"] = json!(alt);
            }
            entries.push(entry);
        }
        Ok(if entries.len() == 1 {
            json!({ "media": entries.remove(0) })
        } else {
            json!({ "multiImage": { "images": entries } })
        })
    }

    /// `POST /rest/posts`, then the first comment. The one call that publishes.
    async fn create_post(
        &self,
        session: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        content: Option<Value>,
    ) -> Result<PublishedPart, PublishError> {
        let visibility = match req.options.get("visibility").and_then(Value::as_str) {
            Some("CONNECTIONS") if plan.author.starts_with("urn:li:person:") => "CONNECTIONS",
            _ => "PUBLIC",
        };
        let mut body = json!({
            "author": plan.author,
            "commentary": plan.commentary,
            "visibility": visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        if let Some(content) = content {
            body["content"] = content;
        }
        let what = "creating the post";
        let mut call = Call::post(self.rest("posts"), what, body);
        call.creates = true;
        let started = Instant::now();
        let reply = self.send(call, &session.token).await?;
        if !reply.ok() {
            return Err(self.fail(&reply, what, write_permission(&plan.author), session));
        }
        let Some(urn) = reply
            .header("x-restli-id")
            .or_else(|| reply.header("x-linkedin-id"))
            .map(decode)
            .filter(|u| u.starts_with("urn:li:"))
        else {
            return Err(PublishError::new(
                NET,
                ErrorClass::UnknownOutcome,
                format!(
                    "the post was accepted (HTTP {}) but its id was not returned — Outpost will look the post up",
                    reply.status
                ),
            ));
        };
        tracing::info!(
            network = NET.as_str(),
            account = session.account_id.as_str(),
            target = req.target_id,
            part = req.part_index,
            urn = urn.as_str(),
            duration_ms = started.elapsed().as_millis() as u64,
            "linkedin post created"
        );
        let mut extra = json!({ "author": plan.author });
        if let Some(comment) = req
            .first_comment
            .map(str::trim)
            .filter(|c| !c.is_empty() && req.part_index == 0)
        {
            match self.comment(session, &plan.author, &urn, comment).await {
                Ok(id) => extra["first_comment"] = json!(id),
                Err(e) => {
                    // The post is live: a failed comment must not make Outpost post it again.
                    tracing::warn!(
                        network = NET.as_str(),
                        account = session.account_id.as_str(),
                        target = req.target_id,
                        error = e.message.as_str(),
                        "linkedin first comment failed"
                    );
                    extra["first_comment_error"] = json!(e.message);
                }
            }
        }
        Ok(PublishedPart {
            remote_id: urn.clone(),
            url: Some(post_url(&urn)),
            extra,
        })
    }

    /// `POST /rest/socialActions/{post}/comments` as `actor`; returns the comment's URN (or id).
    ///
    /// The body shape is UNCONFIRMED in the reference; this is the Comments API's documented
    /// `{actor, object, message: {text}}`. Comment text is not little text (mentions in comments
    /// are attributes), so it is sent as written.
    async fn comment(
        &self,
        session: &Session,
        actor: &str,
        post: &str,
        text: &str,
    ) -> Result<String, PublishError> {
        let what = "posting the first comment";
        let call = Call::post(
            self.rest(&format!("socialActions/{}/comments", encode(post))),
            what,
            json!({ "actor": actor, "object": post, "message": { "text": text } }),
        );
        let reply = self.send(call, &session.token).await?;
        if !reply.ok() {
            return Err(self.fail(&reply, what, write_permission(actor), session));
        }
        let body = reply.json();
        let id = reply
            .header("x-restli-id")
            .map(decode)
            .or_else(|| body.get("$URN").and_then(Value::as_str).map(str::to_string))
            .or_else(|| body.get("id").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        Ok(id)
    }

    /// Publishes a part without video (text, images).
    async fn publish_now(
        &self,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
    ) -> Result<PublishedPart, PublishError> {
        let session = self.session(req.account).await?;
        let content = match &plan.media {
            Media::None => None,
            Media::Images(images) => Some(self.image_content(&session, &plan.author, images).await?),
            Media::Video(_) => {
                return Err(permanent(
                    "internal error: a video post is published in two phases (start, then poll) — report this bug",
                ))
            }
        };
        self.create_post(&session, req, plan, content).await
    }

    /// The organisations the member may post for.
    async fn organizations(&self, account: &Account) -> Result<Vec<Choice>, PublishError> {
        let session = self.session(account).await?;
        let what = "listing the pages the member administers";
        let mut acls: Vec<(String, String)> = Vec::new();
        let mut start = 0usize;
        // Paging: a member administers few pages; 10 pages of 100 is plenty.
        for _ in 0..10 {
            let call = Call::get(
                format!(
                    "{}?q=roleAssignee&state=APPROVED&start={start}&count=100",
                    self.rest("organizationAcls")
                ),
                what,
            );
            let reply = self.send(call, &session.token).await?;
            if !reply.ok() {
                return Err(self.fail(&reply, what, ORGANIZATIONS_PERMISSION, &session));
            }
            let body = reply.json();
            let elements = body
                .get("elements")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for e in &elements {
                let org = e
                    .get("organization")
                    .or_else(|| e.get("organizationTarget"))
                    .and_then(Value::as_str);
                let role = e.get("role").and_then(Value::as_str).unwrap_or_default();
                let approved = e
                    .get("state")
                    .and_then(Value::as_str)
                    .is_none_or(|s| s == "APPROVED");
                if let Some(org) =
                    org.filter(|o| is_author_urn(o) && o.starts_with("urn:li:organization:"))
                {
                    if approved
                        && POSTING_ROLES.contains(&role)
                        && !acls.iter().any(|(o, _)| o == org)
                    {
                        acls.push((org.to_string(), role.to_string()));
                    }
                }
            }
            if elements.len() < 100 {
                break;
            }
            start += elements.len();
        }
        let mut choices = Vec::with_capacity(acls.len());
        for (urn, role) in acls {
            let id = urn.trim_start_matches("urn:li:organization:");
            let call = Call::get(
                self.rest(&format!("organizations/{id}")),
                "reading a page's name",
            );
            let reply = self.send(call, &session.token).await?;
            let name = if reply.ok() {
                reply
                    .json()
                    .get("localizedName")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            } else if reply.status == 401 {
                return Err(self.fail(
                    &reply,
                    "reading a page's name",
                    ORGANIZATIONS_PERMISSION,
                    &session,
                ));
            } else {
                None
            };
            choices.push(Choice {
                name: name.unwrap_or_else(|| format!("Organization {id}")),
                id: urn,
                extra: json!({ "role": role }),
            });
        }
        Ok(choices)
    }
}

#[async_trait]
impl Publisher for LinkedIn {
    fn network(&self) -> Network {
        NET
    }

    /// LinkedIn has no client-chosen id: reconciliation matches the commentary instead.
    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        let plan = plan(req)?;
        self.publish_now(req, &plan).await
    }

    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let plan = plan(req)?;
        match plan.media {
            Media::Video(video) => self.start_video(req, &plan, video).await,
            _ => self
                .publish_now(req, &plan)
                .await
                .map(PartOutcome::Published),
        }
    }

    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        self.poll_video(req, phase).await
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        if req.part_index > 0 {
            // Later parts are never sent (LinkedIn has no threads).
            return Ok(Lookup::NotFound);
        }
        let author = author_of(req)?;
        let session = self.session(req.account).await?;
        let what = "reading the author's recent posts";
        let call = Call::get(
            format!(
                "{}?author={}&q=author&count={LOOKUP_COUNT}&sortBy=LAST_MODIFIED",
                self.rest("posts"),
                encode(&author)
            ),
            what,
        );
        let reply = self.send(call, &session.token).await?;
        if reply.status == 403 {
            return Ok(Lookup::CannotTell(format!(
                "this app may not read {}'s posts (HTTP 403; member posts need r_member_social) — look at the recent activity on LinkedIn",
                if author.starts_with("urn:li:organization:") { "the page" } else { "the member" }
            )));
        }
        if !reply.ok() {
            return Err(self.fail(&reply, what, "r_member_social", &session));
        }
        let body = reply.json();
        let Some(elements) = body.get("elements").and_then(Value::as_array) else {
            return Err(transient(format!(
                "the answer to {what} cannot be read — Outpost will retry"
            ))
            .with_excerpt(&reply.body, &session.secrets()));
        };
        let text = req.part.text.as_str();
        let has_media = !req.part.media.is_empty();
        let not_before = req.intent_at - chrono::Duration::minutes(LOOKUP_SKEW_MINUTES);
        let found = elements.iter().find(|p| {
            let commentary = p
                .get("commentary")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let same_text = unescape_commentary(commentary) == text
                || unescape_commentary(commentary).trim() == text.trim();
            let created = p
                .get("createdAt")
                .or_else(|| p.get("publishedAt"))
                .and_then(Value::as_i64)
                .and_then(DateTime::from_timestamp_millis);
            let recent = created.is_none_or(|c| c >= not_before);
            let live = p
                .get("lifecycleState")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "PUBLISHED");
            let same_kind = p.get("content").is_some_and(|c| !c.is_null()) == has_media;
            same_text
                && recent
                && live
                && same_kind
                && p.get("author")
                    .and_then(Value::as_str)
                    .is_none_or(|a| a == author)
        });
        let Some(urn) = found.and_then(|p| p.get("id")).and_then(Value::as_str) else {
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                "linkedin lookup: no matching post"
            );
            return Ok(Lookup::NotFound);
        };
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            urn,
            "linkedin lookup: the post exists"
        );
        Ok(Lookup::Found(PublishedPart {
            remote_id: urn.to_string(),
            url: Some(post_url(urn)),
            extra: json!({ "author": author, "reconciled": true }),
        }))
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        let Some(tokens) = self.load_tokens(&account.id).await? else {
            return Err(reauth("no LinkedIn tokens are stored for this account"));
        };
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Err(PublishError::new(
                NET,
                ErrorClass::Reauth,
                "LinkedIn tokens last 60 days and cannot be refreshed — connect the account again (Accounts → Reconnect, or `outpost accounts connect linkedin`)",
            ));
        };
        let now = Utc::now();
        if tokens.refresh_expires_at.is_some_and(|at| at <= now) {
            return Err(reauth(
                "the refresh token has expired (LinkedIn refresh tokens last 365 days from the first consent)",
            ));
        }
        let Some(client_id) = account
            .setting("client_id")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            return Err(permanent(
                "no client id is stored for this account — enter your LinkedIn app's client id in Settings → LinkedIn, then connect the account again",
            ));
        };
        let client_secret = secrets::client_secret(&self.secrets, NET).await?;
        let Some(client_secret) = client_secret else {
            return Err(permanent(
                "the LinkedIn app's client secret is not stored — enter it in Settings → LinkedIn (or `outpost accounts connect linkedin`)",
            ));
        };
        let endpoint = TokenEndpoint {
            token_url: self.token_url(),
            client_id: client_id.to_string(),
            client_secret: Some(client_secret),
            auth: ClientAuth::Body,
        };
        let started = Instant::now();
        match endpoint.refresh(&self.http, &refresh_token, now).await {
            Ok(fresh) => {
                // Saved before anything uses it.
                self.save_tokens(&account.id, fresh).await?;
                tracing::info!(
                    network = NET.as_str(),
                    account = account.id.as_str(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    "linkedin tokens refreshed"
                );
                Ok(())
            }
            Err(OAuthError::Revoked(m)) => Err(PublishError::new(NET, ErrorClass::Reauth, m)),
            Err(OAuthError::Client(m)) => Err(permanent(format!("{m} (Settings → LinkedIn)"))),
            Err(OAuthError::Transient {
                message,
                retry_after,
            }) => Err(PublishError::new(
                NET,
                ErrorClass::Transient { retry_after },
                format!("{message} while refreshing the tokens — Outpost will retry"),
            )),
            Err(OAuthError::Malformed(m)) => Err(transient(format!("{m} — Outpost will retry"))),
        }
    }

    async fn probe(&self, account: &Account) -> Result<(), PublishError> {
        let session = self.session(account).await?;
        self.userinfo(&session.token).await.map(|_| ())
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        Some(self.profile(MEMBER_SCOPES.to_vec()))
    }

    async fn identify(
        &self,
        tokens: &OAuthTokens,
        _settings: &Value,
    ) -> Result<Identity, PublishError> {
        let info = self.userinfo(&tokens.access_token).await?;
        let sub = info.get("sub").and_then(Value::as_str).unwrap_or_default();
        let text = |k: &str| {
            info.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let name = text("name").or_else(|| {
            let joined = [text("given_name"), text("family_name")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
        Ok(Identity {
            remote_id: format!("urn:li:person:{sub}"),
            // LinkedIn has no public handle in OpenID Connect: the member's name (never the
            // email address) is what the user recognises.
            handle: name.clone().unwrap_or_else(|| sub.to_string()),
            display_name: name,
            settings: json!({ "sub": sub }),
        })
    }

    async fn choices(&self, account: &Account, kind: &str) -> Result<Vec<Choice>, PublishError> {
        match kind {
            "organizations" | "organisations" | "pages" => self.organizations(account).await,
            _ => Ok(Vec::new()),
        }
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
            status,
            headers: h,
            body: body.into(),
        }
    }

    fn class(status: u16, body: &str) -> ErrorClass {
        classify(
            &reply(status, body, &[]),
            "creating the post",
            "w_member_social",
            "202603",
            &[],
        )
        .class
    }

    #[test]
    fn errors_are_classified_per_the_table() {
        assert_eq!(
            class(
                401,
                r#"{"serviceErrorCode":65600,"message":"Invalid access token","status":401}"#
            ),
            ErrorClass::Reauth
        );
        assert_eq!(
            class(
                401,
                r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN","message":"The token used in the request has been revoked by the user"}"#
            ),
            ErrorClass::Reauth
        );
        assert_eq!(
            class(
                401,
                r#"{"message":"Empty oauth2_access_token","serviceErrorCode":401,"status":401}"#
            ),
            ErrorClass::Permanent
        );
        assert_eq!(class(403, r#"{"status":403}"#), ErrorClass::Permanent);
        assert_eq!(
            class(400, r#"{"status":400,"code":"ILLEGAL_ARGUMENT"}"#),
            ErrorClass::Permanent
        );
        assert_eq!(class(426, "{}"), ErrorClass::Permanent);
        for s in [500, 502, 503, 504] {
            assert!(class(s, "<html>").is_transient(), "{s}");
        }
    }

    #[test]
    fn a_429_without_headers_waits_until_midnight_utc() {
        let e = classify(
            &reply(429, "{}", &[]),
            "creating the post",
            "",
            "202603",
            &[],
        );
        let ErrorClass::RateLimited { until } = e.class else {
            panic!("{e:?}")
        };
        assert_eq!(until, next_midnight_utc(Utc::now()));
        assert_eq!(until.format("%H:%M:%S").to_string(), "00:00:00");
        let e = classify(
            &reply(429, "{}", &[("retry-after", "30")]),
            "x",
            "",
            "202603",
            &[],
        );
        let ErrorClass::RateLimited { until } = e.class else {
            panic!("{e:?}")
        };
        assert!(until < Utc::now() + chrono::Duration::seconds(40));
    }

    #[test]
    fn a_duplicate_names_the_existing_post() {
        let body = r#"{"errorDetailType":"com.linkedin.common.error.BadRequest","message":"com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of urn:li:share:7141138937766391808","errorDetails":{"inputErrors":[{"description":"Duplicate post is detected","input":{},"code":"DUPLICATE_POST"}]},"status":422}"#;
        let e = classify(
            &reply(422, body, &[]),
            "creating the post",
            "",
            "202603",
            &[],
        );
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(
            e.message.contains("urn:li:share:7141138937766391808")
                && e.message.contains(
                    "https://www.linkedin.com/feed/update/urn:li:share:7141138937766391808/"
                ),
            "{}",
            e.message
        );
        assert_eq!(duplicate_of("nothing here"), None);
    }

    #[test]
    fn server_messages_never_carry_the_token() {
        let e = classify(
            &reply(
                400,
                r#"{"message":"bad token AQVsecret-token-123","status":400}"#,
                &[],
            ),
            "creating the post",
            "",
            "202603",
            &["AQVsecret-token-123"],
        );
        assert!(!e.message.contains("AQVsecret-token-123"), "{}", e.message);
        assert!(!e
            .excerpt
            .unwrap_or_default()
            .contains("AQVsecret-token-123"));
    }

    #[test]
    fn urns_are_encoded_for_paths_and_queries() {
        assert_eq!(encode("urn:li:share:1"), "urn%3Ali%3Ashare%3A1");
        assert_eq!(decode("urn%3Ali%3Ashare%3A1"), "urn:li:share:1");
        assert_eq!(
            encode("urn:li:comment:(urn:li:activity:1,2)"),
            "urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A1%2C2%29"
        );
    }

    #[test]
    fn midnight_is_the_next_utc_day() {
        let t = DateTime::parse_from_rfc3339("2026-11-28T23:59:59Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(
            next_midnight_utc(t).to_rfc3339(),
            "2026-11-29T00:00:00+00:00"
        );
    }

    #[test]
    fn only_linkedin_hosts_and_the_base_get_the_token() {
        let store: Arc<dyn SecretStore> = Arc::new(outpost_auth::MemoryStore::new());
        let li = LinkedIn::new("http://127.0.0.1:4000", store);
        assert!(li.trusts("http://127.0.0.1:4000/dms-uploads/x"));
        assert!(li.trusts("https://www.linkedin.com/dms-uploads/x"));
        assert!(!li.trusts("http://www.linkedin.com/dms-uploads/x"));
        assert!(!li.trusts("https://evil.example/linkedin.com"));
        assert!(!li.trusts("https://notlinkedin.com/x"));
        assert!(!li.trusts("http://127.0.0.1:4001/x"));
    }
}
