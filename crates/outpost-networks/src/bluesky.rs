//! Bluesky (AT Protocol): app-password sessions, image posts with rich-text facets, threads,
//! video posts through the video service (two-phase: [`Publisher::start`] uploads, then
//! [`Publisher::poll`] waits for the encoding and creates the post; see [`video`]), and
//! reconciliation by a record key that Outpost chooses.
//!
//! A post is an `app.bsky.feed.post` record written with `com.atproto.repo.createRecord` to the
//! account's PDS under `rkey` = the client handle chosen (and stored) before the first attempt,
//! so a retried create can never make a second post: `getRecord` with that key says exactly
//! whether the post exists.
//!
//! Sessions live in the secret store (`account_key(id, "session")`) and in a per-account cache.
//! Tokens and the app password must never reach a log line, an error message or an excerpt.

mod video;

use crate::http;
use crate::{Lookup, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use outpost_auth::{account_key, Secret, SecretStore};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, MediaRef, Network, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

const NET: Network = Network::Bluesky;
const DEFAULT_ENTRYWAY: &str = "https://bsky.social";
const DEFAULT_PLC: &str = "https://plc.directory";
const DEFAULT_VIDEO: &str = "https://video.bsky.app";
const POST_COLLECTION: &str = "app.bsky.feed.post";
const MAX_IMAGES: usize = 4;
/// Longest `#tag` a facet may carry, in UTF-8 bytes (the lexicon's `maxLength`).
const MAX_TAG_BYTES: usize = 640;

/// What `connect` learned about the account. The engine keeps `did` as the account's
/// `remote_id` and `{"pds": pds}` in its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccount {
    pub did: String,
    pub handle: String,
    pub pds: String,
    pub email_confirmed: Option<bool>,
}

/// The session as stored in the secret store (JSON).
#[derive(Clone, Serialize, Deserialize)]
struct Session {
    #[serde(rename = "accessJwt")]
    access_jwt: String,
    #[serde(rename = "refreshJwt")]
    refresh_jwt: String,
    did: String,
    pds: String,
    handle: String,
    /// Where the app password logs in: the entryway for `bsky.social` accounts, else the PDS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<String>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("pds", &self.pds)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Reads the fields every session answer (`createSession`, `refreshSession`) carries.
    fn from_answer(v: &Value, pds: String, service: Option<String>) -> Option<Session> {
        Some(Session {
            access_jwt: v.get("accessJwt")?.as_str()?.to_string(),
            refresh_jwt: v.get("refreshJwt")?.as_str()?.to_string(),
            did: v.get("did")?.as_str()?.to_string(),
            handle: v.get("handle")?.as_str()?.to_string(),
            pds,
            service,
        })
    }
    fn secrets(&self) -> [&str; 2] {
        [&self.access_jwt, &self.refresh_jwt]
    }
}

/// The per-account state kept in memory between calls.
#[derive(Clone)]
struct Cached {
    session: Session,
    /// Loaded alongside the session, only to scrub it from anything a server sends back.
    app_password: Option<Secret>,
}

/// The Bluesky publisher. Cheap to share (`Arc`); one per process.
pub struct Bluesky {
    entryway: String,
    plc: String,
    /// The video service (`https://video.bsky.app`).
    video: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    /// Per-account sessions; never locked across an `.await`.
    sessions: Mutex<HashMap<String, Cached>>,
    /// One renewal at a time per account, so two parallel publishes do not both rotate.
    renewals: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for Bluesky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bluesky")
            .field("entryway", &self.entryway)
            .field("plc", &self.plc)
            .field("video", &self.video)
            .field("secrets", &self.secrets.kind())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// XRPC plumbing

enum Payload {
    Empty,
    Json(Value),
    Bytes {
        data: Vec<u8>,
        mime: String,
    },
    /// A file streamed from disk (opened again for every send), `len` bytes long.
    File {
        path: String,
        name: String,
        mime: String,
        len: u64,
    },
}

/// One XRPC request, owned so that it can be rebuilt after a session renewal.
struct Call {
    base: String,
    nsid: &'static str,
    post: bool,
    query: Vec<(&'static str, String)>,
    payload: Payload,
    bearer: Option<String>,
    /// The call has a side effect that a retry could repeat (`createRecord`).
    creates: bool,
    /// The operation in the user's words, for messages ("creating the post").
    what: &'static str,
    /// Replaces the client's whole-request timeout (a large upload).
    timeout: Option<std::time::Duration>,
}

impl Call {
    fn get(base: &str, nsid: &'static str, what: &'static str) -> Call {
        Call {
            base: base.to_string(),
            nsid,
            post: false,
            query: Vec::new(),
            payload: Payload::Empty,
            bearer: None,
            creates: false,
            what,
            timeout: None,
        }
    }
    fn post(base: &str, nsid: &'static str, what: &'static str, payload: Payload) -> Call {
        Call {
            post: true,
            payload,
            ..Call::get(base, nsid, what)
        }
    }
    fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_string()));
        self
    }
    fn bearer(mut self, token: &str) -> Call {
        self.bearer = Some(token.to_string());
        self
    }
}

/// An HTTP answer, body read.
struct Reply {
    nsid: &'static str,
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
    /// The XRPC error name (`{"error": "ExpiredToken"}`), or "".
    fn error(&self) -> String {
        self.json()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }
    fn server_message(&self) -> String {
        self.json()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }
    /// The access token is stale: refresh and retry once (as the official SDK does).
    fn is_expired_session(&self) -> bool {
        let error = self.error();
        match self.status.as_u16() {
            401 => !matches!(error.as_str(), "AccountTakedown" | "AccountDeactivated"),
            400 => error == "ExpiredToken",
            _ => false,
        }
    }
    /// The session cannot be renewed by `refreshSession`; log in again instead.
    fn is_dead_session(&self) -> bool {
        self.is_expired_session() || (self.status.as_u16() == 400 && self.error() == "InvalidToken")
    }
}

/// "HTTP 503 NotEnoughResources"
fn detail(reply: &Reply) -> String {
    let error = reply.error();
    if error.is_empty() {
        format!("HTTP {}", reply.status.as_u16())
    } else {
        format!("HTTP {} {}", reply.status.as_u16(), error)
    }
}

/// `1500000` → `1,500,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    let first = match digits.len() % 3 {
        0 => 3,
        n => n,
    };
    out.push_str(&digits[..first]);
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|b| char::from(*b)));
    }
    out
}

fn reconnect_hint(handle: &str) -> String {
    let handle = if handle.is_empty() { "…" } else { handle };
    format!("reconnect the account (Accounts → Reconnect, or `outpost accounts add bluesky --handle {handle}`)")
}

fn reauth(handle: &str, why: &str) -> PublishError {
    PublishError::new(
        NET,
        ErrorClass::Reauth,
        format!("{why} — {}", reconnect_hint(handle)),
    )
}

fn permanent(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Permanent, message)
}

fn transient(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Transient { retry_after: None }, message)
}

/// A 2xx answer whose body is not what the lexicon promises.
fn malformed(reply: &Reply, secrets: &[&str]) -> PublishError {
    transient(format!(
        "the server answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
        reply.nsid,
        reply.status.as_u16()
    ))
    .with_excerpt(&reply.body, secrets)
}

/// Decides the class of a failed XRPC call (see the Bluesky row of the error-class table).
fn classify(reply: &Reply, handle: &str, secrets: &[&str]) -> PublishError {
    let status = reply.status.as_u16();
    let error = reply.error();
    let detail = detail(reply);
    let what = reply.what;
    let server_says = {
        let m = sanitize_message(&redact(&reply.server_message(), secrets), 160);
        if m.is_empty() {
            String::new()
        } else {
            format!(": {m}")
        }
    };
    let now = Utc::now();
    let (class, message) = match (status, error.as_str()) {
        (_, "AccountTakedown") => (
            ErrorClass::Permanent,
            format!("the account has been taken down by its host ({detail}) — contact Bluesky support or your PDS's operator"),
        ),
        (_, "AccountDeactivated") => (
            ErrorClass::Permanent,
            format!("the account is deactivated ({detail}) — reactivate it in the Bluesky app, then retry"),
        ),
        (_, "AuthFactorTokenRequired") => (
            ErrorClass::Reauth,
            format!("the server asks for an email sign-in code ({detail}); Outpost needs an app password — create one (Settings → Privacy and security → App passwords) and {}", reconnect_hint(handle)),
        ),
        (401, _) | (400, "ExpiredToken") | (400, "InvalidToken") => (
            ErrorClass::Reauth,
            format!("the server refused the session while {what} ({detail}) — {}", reconnect_hint(handle)),
        ),
        (429, _) => {
            let until = http::rate_limit_until(&reply.headers, now)
                .unwrap_or(now + chrono::Duration::seconds(60));
            (
                ErrorClass::RateLimited { until },
                format!(
                    "rate limited while {what} ({detail}) — Outpost will wait until {} UTC",
                    until.format("%Y-%m-%d %H:%M:%S")
                ),
            )
        }
        (501, _) => (
            ErrorClass::Permanent,
            format!("the server does not implement {} ({detail}) — check the account's PDS address, then {}", reply.nsid, reconnect_hint(handle)),
        ),
        (500, _) => (
            ErrorClass::Transient { retry_after: http::retry_after_hint(&reply.headers, now) },
            format!("the server failed while {what} ({detail}) — Outpost will retry"),
        ),
        (500..=599, _) => (
            ErrorClass::Transient { retry_after: http::retry_after_hint(&reply.headers, now) },
            format!("the server is unavailable ({detail}) — Outpost will retry"),
        ),
        (413, _) => (
            ErrorClass::Permanent,
            format!("the server refused the upload as too large ({detail}) — use a smaller file"),
        ),
        (415, _) => (
            ErrorClass::Permanent,
            format!("the server does not accept this file type ({detail}) — use JPEG, PNG, GIF or WebP"),
        ),
        (404, _) => (
            ErrorClass::Permanent,
            format!("the server does not know {} ({detail}) — check the account's PDS address, then {}", reply.nsid, reconnect_hint(handle)),
        ),
        (400, _) => (
            ErrorClass::Permanent,
            format!("the server rejected {what} ({detail}{server_says}) — change the post and try again"),
        ),
        (300..=399, _) => (
            ErrorClass::Permanent,
            format!("the server redirected {what} ({detail}) — check the account's PDS address, then {}", reconnect_hint(handle)),
        ),
        _ => (
            ErrorClass::Permanent,
            format!("the server refused {what} ({detail}{server_says})"),
        ),
    };
    PublishError::new(NET, class, message).with_excerpt(&reply.body, secrets)
}

/// The PDS named in a DID document: the `#atproto_pds` service's endpoint.
fn pds_from_did_doc(doc: &Value) -> Option<String> {
    doc.get("service")?
        .as_array()?
        .iter()
        .find(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id == "#atproto_pds" || id.ends_with("#atproto_pds"))
        })
        .and_then(|s| s.get("serviceEndpoint")?.as_str())
        .map(|u| u.trim_end_matches('/').to_string())
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
}

/// `at://did/collection/rkey` → (did, collection, rkey)
fn split_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let mut it = uri.strip_prefix("at://")?.splitn(3, '/');
    Some((it.next()?, it.next()?, it.next()?))
}

fn post_url(did: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{did}/post/{rkey}")
}

fn published(uri: &str, cid: &str, did: &str, rkey: &str) -> PublishedPart {
    PublishedPart {
        remote_id: uri.to_string(),
        url: Some(post_url(did, rkey)),
        extra: json!({ "cid": cid, "rkey": rkey }),
    }
}

/// What a publish call carries along: the session (renewed at most once) and every secret
/// seen, for scrubbing excerpts.
struct Run<'a> {
    account: &'a Account,
    session: Session,
    renewed: bool,
    secrets: Vec<Secret>,
}

impl Run<'_> {
    fn secret_strs(&self) -> Vec<&str> {
        self.secrets.iter().map(Secret::expose).collect()
    }
    fn classify(&self, reply: &Reply) -> PublishError {
        classify(reply, &self.session.handle, &self.secret_strs())
    }
}

impl Bluesky {
    /// Base URLs from `OUTPOST_BLUESKY_BASE_URL` (the entryway, default `https://bsky.social`),
    /// `OUTPOST_BLUESKY_PLC_URL` (default `https://plc.directory`) and
    /// `OUTPOST_BLUESKY_VIDEO_URL` (the video service, default `https://video.bsky.app`).
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> Bluesky {
        Bluesky::new(
            http::base_url(NET, DEFAULT_ENTRYWAY),
            http::env_url("OUTPOST_BLUESKY_PLC_URL", DEFAULT_PLC),
            secrets,
        )
        .with_video_service(http::env_url("OUTPOST_BLUESKY_VIDEO_URL", DEFAULT_VIDEO))
    }

    /// A publisher with the default video service (`https://video.bsky.app`); see
    /// [`Bluesky::with_video_service`].
    pub fn new(entryway: String, plc: String, secrets: Arc<dyn SecretStore>) -> Bluesky {
        Bluesky {
            entryway: entryway.trim_end_matches('/').to_string(),
            plc: plc.trim_end_matches('/').to_string(),
            video: DEFAULT_VIDEO.to_string(),
            http: http::client(),
            secrets,
            sessions: Mutex::new(HashMap::new()),
            renewals: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the HTTP client (tests use a short timeout).
    pub fn with_http_client(mut self, client: reqwest::Client) -> Bluesky {
        self.http = client;
        self
    }

    /// Replaces the video service's base URL (a test's fake, a self-hosted service).
    pub fn with_video_service(mut self, url: impl Into<String>) -> Bluesky {
        self.video = url.into().trim().trim_end_matches('/').to_string();
        self
    }

    pub fn entryway(&self) -> &str {
        &self.entryway
    }

    /// The video service's base URL.
    pub fn video_service(&self) -> &str {
        &self.video
    }

    // -----------------------------------------------------------------------------------------
    // HTTP

    async fn xrpc(&self, account: &str, call: &Call) -> Result<Reply, PublishError> {
        let url = format!("{}/xrpc/{}", call.base, call.nsid);
        let mut rb = if call.post {
            self.http.post(&url)
        } else {
            self.http.get(&url)
        };
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        if let Some(token) = &call.bearer {
            rb = rb.bearer_auth(token);
        }
        rb = match &call.payload {
            Payload::Empty => rb,
            Payload::Json(v) => rb.json(v),
            Payload::Bytes { data, mime } => rb
                .header(reqwest::header::CONTENT_TYPE, mime.as_str())
                .body(data.clone()),
            Payload::File {
                path,
                name,
                mime,
                len,
            } => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    permanent(format!(
                        "{name} cannot be read ({}) — attach it again",
                        sanitize_message(&e.to_string(), 80)
                    ))
                })?;
                // Streamed in small chunks: a large video is never held in memory. The
                // explicit length makes hyper send `Content-Length`, not chunked encoding.
                rb.header(reqwest::header::CONTENT_TYPE, mime.as_str())
                    .header(reqwest::header::CONTENT_LENGTH, *len)
                    .body(reqwest::Body::from(file))
            }
        };
        if let Some(timeout) = call.timeout {
            rb = rb.timeout(timeout);
        }
        let http::Exchange {
            status,
            headers,
            body,
            duration_ms,
        } = http::exchange(NET, rb, account, call.nsid, call.what, call.creates).await?;
        tracing::debug!(
            network = NET.as_str(),
            account,
            nsid = call.nsid,
            status = status.as_u16(),
            duration_ms,
            "bluesky request"
        );
        if http::rate_limit_remaining(&headers) == Some(0) && status.is_success() {
            let reset = http::rate_limit_until(&headers, Utc::now());
            tracing::debug!(
                network = NET.as_str(),
                account,
                nsid = call.nsid,
                reset = reset.map(|r| r.to_rfc3339()),
                "bluesky rate limit exhausted until the reset"
            );
        }
        Ok(Reply {
            nsid: call.nsid,
            what: call.what,
            status,
            headers,
            body,
        })
    }

    /// Runs an authenticated call built from the run's session; on an expired session (HTTP
    /// 401, or 400 `ExpiredToken`) renews the session once per run and sends it again.
    async fn authed(
        &self,
        run: &mut Run<'_>,
        make: impl Fn(&Session) -> Call,
    ) -> Result<Reply, PublishError> {
        loop {
            let call = make(&run.session);
            let reply = self.xrpc(&run.account.id, &call).await?;
            if reply.is_expired_session() && !run.renewed {
                run.renewed = true;
                let failed = run.session.access_jwt.clone();
                tracing::debug!(
                    network = NET.as_str(),
                    account = run.account.id.as_str(),
                    nsid = call.nsid,
                    status = reply.status.as_u16(),
                    "bluesky session expired; renewing once"
                );
                let cached = self.renew(run.account, Some(&failed)).await?;
                run.secrets
                    .push(Secret::new(cached.session.access_jwt.clone()));
                run.secrets
                    .push(Secret::new(cached.session.refresh_jwt.clone()));
                run.session = cached.session;
                continue;
            }
            return Ok(reply);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Secret store (blocking: run off the async threads)

    async fn store_get(&self, key: String) -> Result<Option<Secret>, PublishError> {
        let store = Arc::clone(&self.secrets);
        let got = tokio::task::spawn_blocking(move || store.get(&key)).await;
        match got {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(store_error("read from", &e.to_string())),
            Err(e) => Err(store_error("read from", &e.to_string())),
        }
    }

    async fn store_set(&self, key: String, value: Secret) -> Result<(), PublishError> {
        let store = Arc::clone(&self.secrets);
        let done = tokio::task::spawn_blocking(move || store.set(&key, &value)).await;
        match done {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(store_error("write to", &e.to_string())),
            Err(e) => Err(store_error("write to", &e.to_string())),
        }
    }

    async fn load_app_password(&self, account_id: &str) -> Result<Option<Secret>, PublishError> {
        self.store_get(account_key(account_id, "app_password"))
            .await
    }

    async fn load_session(&self, account_id: &str) -> Result<Option<Session>, PublishError> {
        let Some(raw) = self.store_get(account_key(account_id, "session")).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<Session>(raw.expose()) {
            Ok(s) => Ok(Some(s)),
            Err(_) => {
                // Never print the JSON: it holds the tokens.
                tracing::warn!(
                    network = NET.as_str(),
                    account = account_id,
                    "stored bluesky session is unreadable; logging in again"
                );
                Ok(None)
            }
        }
    }

    /// Persists a session (before anyone uses its tokens), then caches it.
    async fn save_session(
        &self,
        account_id: &str,
        session: &Session,
        app_password: Option<Secret>,
    ) -> Result<Cached, PublishError> {
        let raw = serde_json::to_string(session)
            .map_err(|e| permanent(format!("internal error: cannot encode the session ({e})")))?;
        self.store_set(account_key(account_id, "session"), Secret::new(raw))
            .await?;
        let cached = Cached {
            session: session.clone(),
            app_password,
        };
        self.cache_put(account_id, cached.clone());
        Ok(cached)
    }

    fn cache_get(&self, account_id: &str) -> Option<Cached> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(account_id)
            .cloned()
    }

    fn cache_put(&self, account_id: &str, cached: Cached) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account_id.to_string(), cached);
    }

    fn renewal_gate(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.renewals.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(account_id.to_string()).or_default())
    }

    /// The account's session: cached, else stored, else a fresh login with the stored app
    /// password.
    async fn cached(&self, account: &Account) -> Result<Cached, PublishError> {
        if let Some(c) = self.cache_get(&account.id) {
            return Ok(c);
        }
        let app_password = self.load_app_password(&account.id).await?;
        if let Some(session) = self.load_session(&account.id).await? {
            let cached = Cached {
                session,
                app_password,
            };
            self.cache_put(&account.id, cached.clone());
            return Ok(cached);
        }
        let _gate = self.renewal_gate(&account.id);
        let _held = _gate.lock().await;
        if let Some(c) = self.cache_get(&account.id) {
            return Ok(c);
        }
        self.login_again(account, None).await
    }

    async fn start_run<'a>(&self, account: &'a Account) -> Result<Run<'a>, PublishError> {
        let cached = self.cached(account).await?;
        let mut secrets = vec![
            Secret::new(cached.session.access_jwt.clone()),
            Secret::new(cached.session.refresh_jwt.clone()),
        ];
        secrets.extend(cached.app_password.clone());
        Ok(Run {
            account,
            session: cached.session,
            renewed: false,
            secrets,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Sessions

    /// Renews the account's session: `refreshSession`, else a new login with the stored app
    /// password. With `failed_access`, a session already renewed by someone else (another task
    /// or process) is used as is.
    async fn renew(
        &self,
        account: &Account,
        failed_access: Option<&str>,
    ) -> Result<Cached, PublishError> {
        let gate = self.renewal_gate(&account.id);
        let _held = gate.lock().await;
        // Another process may have rotated the tokens: the store is the truth.
        let stored = self.load_session(&account.id).await?;
        let cached = self.cache_get(&account.id);
        let app_password = match cached.as_ref().and_then(|c| c.app_password.clone()) {
            Some(p) => Some(p),
            None => self.load_app_password(&account.id).await?,
        };
        if let Some(failed) = failed_access {
            for candidate in [stored.as_ref(), cached.as_ref().map(|c| &c.session)]
                .into_iter()
                .flatten()
            {
                if candidate.access_jwt != failed {
                    let fresh = Cached {
                        session: candidate.clone(),
                        app_password: app_password.clone(),
                    };
                    self.cache_put(&account.id, fresh.clone());
                    return Ok(fresh);
                }
            }
        }
        let Some(current) = stored.or(cached.map(|c| c.session)) else {
            return self.login_again(account, None).await;
        };
        let mut secrets: Vec<&str> = current.secrets().to_vec();
        if let Some(p) = &app_password {
            secrets.push(p.expose());
        }
        let call = Call::post(
            &current.pds,
            "com.atproto.server.refreshSession",
            "renewing the session",
            Payload::Empty,
        )
        .bearer(&current.refresh_jwt);
        let reply = self.xrpc(&account.id, &call).await?;
        if reply.ok() {
            let Some(v) = reply.json() else {
                return Err(malformed(&reply, &secrets));
            };
            let pds = v
                .get("didDoc")
                .and_then(pds_from_did_doc)
                .unwrap_or_else(|| current.pds.clone());
            let Some(session) = Session::from_answer(&v, pds, current.service.clone()) else {
                return Err(malformed(&reply, &secrets));
            };
            tracing::info!(
                network = NET.as_str(),
                account = account.id.as_str(),
                "bluesky session renewed"
            );
            return self.save_session(&account.id, &session, app_password).await;
        }
        if reply.is_dead_session() {
            tracing::info!(
                network = NET.as_str(),
                account = account.id.as_str(),
                status = reply.status.as_u16(),
                "bluesky refresh token refused; logging in again with the app password"
            );
            return self.login_again(account, Some(&current)).await;
        }
        let e = classify(&reply, &current.handle, &secrets);
        Err(match e.class {
            ErrorClass::Permanent
                if matches!(
                    reply.error().as_str(),
                    "AccountTakedown" | "AccountDeactivated"
                ) =>
            {
                e
            }
            ErrorClass::RateLimited { .. } => e,
            ErrorClass::Transient { .. } => e,
            // Any other refresh failure: keep the session and try again later.
            _ => PublishError {
                class: ErrorClass::Transient { retry_after: None },
                message: format!(
                    "Bluesky: could not renew the session ({}) — Outpost will retry",
                    detail(&reply)
                ),
                ..e
            },
        })
    }

    /// Logs in again with the stored app password (the refresh token is dead, or there is no
    /// session). Fails with `Reauth` when the password no longer works.
    async fn login_again(
        &self,
        account: &Account,
        current: Option<&Session>,
    ) -> Result<Cached, PublishError> {
        let handle = current.map_or(account.handle.as_str(), |s| s.handle.as_str());
        let Some(password) = self.load_app_password(&account.id).await? else {
            return Err(reauth(
                handle,
                "Bluesky: no app password is stored for this account",
            ));
        };
        let identifier = current
            .map(|s| s.did.clone())
            .or_else(|| account.remote_id.clone())
            .unwrap_or_else(|| account.handle.clone());
        let host = current
            .and_then(|s| s.service.clone())
            .or_else(|| current.map(|s| s.pds.clone()))
            .or_else(|| account.setting("pds").map(str::to_string))
            .unwrap_or_else(|| self.entryway.clone());
        let host = host.trim_end_matches('/').to_string();
        let mut secrets: Vec<&str> = vec![password.expose()];
        if let Some(s) = current {
            secrets.extend(s.secrets());
        }
        let reply = self
            .create_session(&account.id, &host, &identifier, &password)
            .await?;
        if !reply.ok() {
            return Err(login_error(&reply, handle, &secrets));
        }
        let Some(v) = reply.json() else {
            return Err(malformed(&reply, &secrets));
        };
        let pds = v
            .get("didDoc")
            .and_then(pds_from_did_doc)
            .or_else(|| current.map(|s| s.pds.clone()))
            .or_else(|| account.setting("pds").map(str::to_string))
            .unwrap_or_else(|| host.clone());
        let Some(session) = Session::from_answer(&v, pds, Some(host)) else {
            return Err(malformed(&reply, &secrets));
        };
        tracing::info!(
            network = NET.as_str(),
            account = account.id.as_str(),
            "bluesky logged in again with the app password"
        );
        self.save_session(&account.id, &session, Some(password))
            .await
    }

    async fn create_session(
        &self,
        account_id: &str,
        host: &str,
        identifier: &str,
        password: &Secret,
    ) -> Result<Reply, PublishError> {
        let body = json!({ "identifier": identifier, "password": password.expose() });
        let call = Call::post(
            host,
            "com.atproto.server.createSession",
            "logging in",
            Payload::Json(body),
        );
        self.xrpc(account_id, &call).await
    }

    // -----------------------------------------------------------------------------------------
    // Identity

    /// handle → DID: `resolveHandle` at the entryway, else `https://<handle>/.well-known/atproto-did`.
    async fn resolve_handle(&self, handle: &str) -> Option<String> {
        let call = Call::get(
            &self.entryway,
            "com.atproto.identity.resolveHandle",
            "resolving the handle",
        )
        .query("handle", handle);
        if let Ok(reply) = self.xrpc(handle, &call).await {
            if let Some(did) = reply
                .ok()
                .then(|| reply.json())
                .flatten()
                .and_then(|v| v.get("did")?.as_str().map(str::to_string))
            {
                return Some(did);
            }
        }
        let url = format!("https://{handle}/.well-known/atproto-did");
        let resp = self.http.get(url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let did = resp.text().await.ok()?.trim().to_string();
        did.starts_with("did:").then_some(did)
    }

    /// DID → PDS, through the DID document (PLC directory or `did:web`).
    async fn resolve_pds(&self, did: &str) -> Result<String, String> {
        let url = if did.starts_with("did:plc:") {
            format!("{}/{did}", self.plc)
        } else if let Some(host) = did.strip_prefix("did:web:") {
            let host = host.replace("%3A", ":").replace("%3a", ":");
            format!("https://{host}/.well-known/did.json")
        } else {
            return Err(format!("{did} is neither did:plc nor did:web"));
        };
        let resp = self.http.get(&url).send().await.map_err(|e| {
            format!(
                "the DID document of {did} cannot be fetched ({})",
                http::transport_reason(&e)
            )
        })?;
        if !resp.status().is_success() {
            return Err(format!(
                "the DID document of {did} cannot be fetched (HTTP {})",
                resp.status().as_u16()
            ));
        }
        let doc: Value = resp
            .json()
            .await
            .map_err(|_| format!("the DID document of {did} is not JSON"))?;
        pds_from_did_doc(&doc).ok_or_else(|| format!("the DID document of {did} names no PDS"))
    }

    /// A mention's DID, looked up at the account's PDS. `None` when the handle does not resolve.
    async fn mention_did(
        &self,
        run: &Run<'_>,
        handle: &str,
    ) -> Result<Option<String>, PublishError> {
        let call = Call::get(
            &run.session.pds,
            "com.atproto.identity.resolveHandle",
            "resolving a mention",
        )
        .query("handle", handle);
        let reply = self.xrpc(&run.account.id, &call).await?;
        if reply.ok() {
            return Ok(reply
                .json()
                .and_then(|v| v.get("did")?.as_str().map(str::to_string))
                .filter(|d| d.starts_with("did:")));
        }
        match reply.status.as_u16() {
            // Unknown handle: the mention stays plain text.
            400 | 404 => Ok(None),
            _ => Err(run.classify(&reply)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Accounts

    /// Logs in with an app password, finds the account's DID and PDS, and stores the app
    /// password and the session in the secret store.
    ///
    /// Without `pds`, the login goes to the entryway; if the entryway does not know the account
    /// (a self-hosted PDS), the handle is resolved to its PDS and the login is tried there.
    pub async fn connect(
        &self,
        account_id: &str,
        handle: &str,
        pds: Option<&str>,
        app_password: &Secret,
    ) -> Result<ConnectedAccount, PublishError> {
        let handle = handle.trim().trim_start_matches('@');
        let secrets = [app_password.expose()];
        let mut host = pds
            .map(|p| p.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| self.entryway.clone());
        let mut reply = self
            .create_session(account_id, &host, handle, app_password)
            .await?;
        if pds.is_none() && reply.status == StatusCode::UNAUTHORIZED && !handle.contains('@') {
            // Not an entryway account? Find its own PDS and log in there.
            if let Some(did) = self.resolve_handle(handle).await {
                if let Ok(own) = self.resolve_pds(&did).await {
                    if own != host {
                        host = own;
                        reply = self
                            .create_session(account_id, &host, handle, app_password)
                            .await?;
                    }
                }
            }
        }
        if !reply.ok() {
            return Err(login_error(&reply, handle, &secrets));
        }
        let Some(v) = reply.json() else {
            return Err(malformed(&reply, &secrets));
        };
        let did = v.get("did").and_then(Value::as_str).unwrap_or_default();
        let doc_pds = v.get("didDoc").and_then(pds_from_did_doc);
        let account_pds = match (pds, doc_pds) {
            (Some(_), _) => host.clone(),
            (None, Some(p)) => p,
            (None, None) => {
                let did = if did.is_empty() {
                    self.resolve_handle(handle).await.unwrap_or_default()
                } else {
                    did.to_string()
                };
                self.resolve_pds(&did).await.map_err(|why| {
                    permanent(format!(
                        "logged in, but cannot find the account's PDS: {why} — give the PDS address (`outpost accounts add bluesky --handle {handle} --pds https://…`)"
                    ))
                })?
            }
        };
        let Some(session) = Session::from_answer(&v, account_pds, Some(host.clone())) else {
            return Err(malformed(&reply, &secrets));
        };
        self.store_set(
            account_key(account_id, "app_password"),
            app_password.clone(),
        )
        .await?;
        self.save_session(account_id, &session, Some(app_password.clone()))
            .await?;
        tracing::info!(
            network = NET.as_str(),
            account = account_id,
            did = session.did.as_str(),
            pds = session.pds.as_str(),
            "bluesky account connected"
        );
        Ok(ConnectedAccount {
            did: session.did,
            handle: session.handle,
            pds: session.pds,
            email_confirmed: v.get("emailConfirmed").and_then(Value::as_bool),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Posts

    /// Fetches a post by record key, unauthenticated (`getRecord` is public).
    async fn get_post(
        &self,
        account_id: &str,
        pds: &str,
        did: &str,
        rkey: &str,
        handle: &str,
        secrets: &[&str],
    ) -> Result<Option<PublishedPart>, PublishError> {
        let call = Call::get(pds, "com.atproto.repo.getRecord", "looking the post up")
            .query("repo", did)
            .query("collection", POST_COLLECTION)
            .query("rkey", rkey);
        let reply = self.xrpc(account_id, &call).await?;
        if reply.ok() {
            let v = reply.json().ok_or_else(|| malformed(&reply, secrets))?;
            let uri = v.get("uri").and_then(Value::as_str);
            let cid = v.get("cid").and_then(Value::as_str);
            return match (uri, cid) {
                (Some(uri), Some(cid)) => Ok(Some(published(uri, cid, did, rkey))),
                _ => Err(malformed(&reply, secrets)),
            };
        }
        let not_found = reply.error() == "RecordNotFound"
            || (reply.status == StatusCode::BAD_REQUEST
                && reply.server_message().contains("Could not locate record"));
        if not_found {
            return Ok(None);
        }
        Err(classify(&reply, handle, secrets))
    }

    /// `{uri, cid}` of an earlier part, for reply refs.
    async fn strong_ref(&self, run: &Run<'_>, part: &PublishedPart) -> Result<Value, PublishError> {
        let uri = part.remote_id.as_str();
        if let Some(cid) = part.extra.get("cid").and_then(Value::as_str) {
            return Ok(json!({ "uri": uri, "cid": cid }));
        }
        // Recorded without its cid (an older Outpost): ask the PDS.
        let missing = || {
            permanent(format!(
                "internal error: the earlier thread part {uri} has no content id — report this bug"
            ))
        };
        let (did, _, rkey) = split_at_uri(uri).ok_or_else(missing)?;
        let secrets = run.secret_strs();
        let found = self
            .get_post(&run.account.id, &run.session.pds, did, rkey, &run.session.handle, &secrets)
            .await?
            .ok_or_else(|| {
                permanent(format!(
                    "the earlier thread part {uri} no longer exists — the thread cannot continue; post the rest as a new post"
                ))
            })?;
        let cid = found
            .extra
            .get("cid")
            .and_then(Value::as_str)
            .ok_or_else(missing)?;
        Ok(json!({ "uri": uri, "cid": cid }))
    }

    /// Links, mentions (resolved to DIDs) and hashtags, with UTF-8 byte offsets; a facet that
    /// overlaps an earlier one (a `@` inside a URL) is dropped.
    async fn facets(&self, run: &Run<'_>, text: &str) -> Result<Vec<Value>, PublishError> {
        use outpost_core::text::{find_hashtags, find_mentions, find_urls};
        let mut spans: Vec<(usize, usize, Value)> = Vec::new();
        let overlaps = |spans: &[(usize, usize, Value)], s: usize, e: usize| {
            spans.iter().any(|(a, b, _)| s < *b && *a < e)
        };
        for span in find_urls(text) {
            let uri = &text[span.start..span.end];
            spans.push((
                span.start,
                span.end,
                json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri }),
            ));
        }
        let mut resolved: HashMap<String, Option<String>> = HashMap::new();
        for (span, handle) in find_mentions(text) {
            if overlaps(&spans, span.start, span.end) {
                continue;
            }
            let did = match resolved.get(&handle) {
                Some(d) => d.clone(),
                None => {
                    let d = self.mention_did(run, &handle).await?;
                    resolved.insert(handle.clone(), d.clone());
                    d
                }
            };
            if let Some(did) = did {
                spans.push((
                    span.start,
                    span.end,
                    json!({ "$type": "app.bsky.richtext.facet#mention", "did": did }),
                ));
            }
        }
        for (span, tag) in find_hashtags(text) {
            if overlaps(&spans, span.start, span.end) || tag.len() > MAX_TAG_BYTES {
                continue;
            }
            spans.push((
                span.start,
                span.end,
                json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag }),
            ));
        }
        spans.sort_by_key(|(s, _, _)| *s);
        Ok(spans
            .into_iter()
            .map(|(s, e, feature)| {
                json!({ "index": { "byteStart": s, "byteEnd": e }, "features": [feature] })
            })
            .collect())
    }

    /// Reads and checks every image before anything is uploaded.
    async fn read_images(media: &[MediaRef]) -> Result<Vec<(Vec<u8>, &MediaRef)>, PublishError> {
        let limit = outpost_core::validate::limits(NET).image_max_bytes;
        if media.len() > MAX_IMAGES {
            return Err(permanent(format!(
                "{} images attached; Bluesky takes at most {MAX_IMAGES} — remove {}",
                media.len(),
                media.len() - MAX_IMAGES
            )));
        }
        if let Some(m) = media.iter().find(|m| m.is_video()) {
            // Video goes through `start` and `poll` (the video service), never `publish`.
            return Err(permanent(format!(
                "internal error: {} is a video, which Bluesky publishes in two phases — report this bug",
                m.file_name()
            )));
        }
        if let Some(m) = media.iter().find(|m| !m.is_image()) {
            return Err(permanent(format!(
                "{} is {}; Bluesky takes images and MP4 video only — remove it",
                m.file_name(),
                m.mime
            )));
        }
        let unreadable = |m: &MediaRef, e: std::io::Error| {
            permanent(format!(
                "image {} cannot be read ({}) — attach it again",
                m.file_name(),
                sanitize_message(&e.to_string(), 80)
            ))
        };
        let too_big = |m: &MediaRef, n: u64| {
            permanent(format!(
                "image {} is {} bytes; the limit is {} — shrink or recompress it, then retry",
                m.file_name(),
                thousands(n),
                thousands(limit)
            ))
        };
        // Sizes first: nothing goes up unless every image fits.
        for m in media {
            let meta = tokio::fs::metadata(&m.path)
                .await
                .map_err(|e| unreadable(m, e))?;
            if meta.len() > limit {
                return Err(too_big(m, meta.len()));
            }
        }
        let mut out = Vec::with_capacity(media.len());
        for m in media {
            let data = tokio::fs::read(&m.path)
                .await
                .map_err(|e| unreadable(m, e))?;
            if data.len() as u64 > limit {
                return Err(too_big(m, data.len() as u64));
            }
            out.push((data, m));
        }
        Ok(out)
    }

    async fn upload_blob(
        &self,
        run: &mut Run<'_>,
        data: &[u8],
        mime: &str,
    ) -> Result<Value, PublishError> {
        let reply = self
            .authed(run, |s| {
                Call::post(
                    &s.pds,
                    "com.atproto.repo.uploadBlob",
                    "uploading an image",
                    Payload::Bytes {
                        data: data.to_vec(),
                        mime: mime.to_string(),
                    },
                )
                .bearer(&s.access_jwt)
            })
            .await?;
        if !reply.ok() {
            return Err(run.classify(&reply));
        }
        reply
            .json()
            .and_then(|v| v.get("blob").cloned())
            .filter(Value::is_object)
            .ok_or_else(|| malformed(&reply, &run.secret_strs()))
    }

    /// The post record without its embed: text, `createdAt`, facets and, for a later thread
    /// part, the reply refs.
    async fn base_record(
        &self,
        run: &Run<'_>,
        req: &PartRequest<'_>,
    ) -> Result<Value, PublishError> {
        let facets = self.facets(run, &req.part.text).await?;
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": req.part.text,
            "createdAt": req.intent_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if let (Some(first), Some(last)) = (req.previous.first(), req.previous.last()) {
            let root = self.strong_ref(run, first).await?;
            let parent = self.strong_ref(run, last).await?;
            record["reply"] = json!({ "root": root, "parent": parent });
        }
        Ok(record)
    }

    /// `createRecord` under the chosen record key. A failure that may hide a created record
    /// (a 5xx, a duplicate key) is settled with `getRecord` before it is reported.
    async fn create_post(
        &self,
        run: &mut Run<'_>,
        req: &PartRequest<'_>,
        rkey: &str,
        record: Value,
    ) -> Result<PublishedPart, PublishError> {
        let reply = self
            .authed(run, |s| {
                let mut call = Call::post(
                    &s.pds,
                    "com.atproto.repo.createRecord",
                    "creating the post",
                    Payload::Json(json!({
                        "repo": s.did,
                        "collection": POST_COLLECTION,
                        "rkey": rkey,
                        "record": record,
                    })),
                )
                .bearer(&s.access_jwt);
                call.creates = true;
                call
            })
            .await?;
        let did = run.session.did.clone();
        if reply.ok() {
            let v = reply.json();
            let uri = v.as_ref().and_then(|v| v.get("uri")?.as_str());
            let cid = v.as_ref().and_then(|v| v.get("cid")?.as_str());
            return match (uri, cid) {
                (Some(uri), Some(cid)) => {
                    tracing::info!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        target = req.target_id,
                        part = req.part_index,
                        rkey,
                        "bluesky post created"
                    );
                    Ok(published(uri, cid, &did, rkey))
                }
                // Created, but the answer is unreadable: let reconciliation fetch uri and cid.
                _ => Err(PublishError::new(
                    NET,
                    ErrorClass::UnknownOutcome,
                    "the server accepted the post but its answer cannot be read — Outpost will look the post up",
                )
                .with_excerpt(&reply.body, &run.secret_strs())),
            };
        }
        let error = run.classify(&reply);
        let status = reply.status.as_u16();
        // A create that failed for a reason other than auth, rate or size may still have
        // landed — or hit a record that an earlier attempt created (the reference PDS answers a
        // duplicate rkey with a bare 500). Never guess: ask for the record.
        let worth_checking = matches!(status, 400 | 409 | 500..=599)
            && !matches!(
                error.class,
                ErrorClass::Reauth | ErrorClass::RateLimited { .. }
            );
        if !worth_checking {
            return Err(error);
        }
        let secrets = run.secret_strs();
        match self
            .get_post(&req.account.id, &run.session.pds, &did, rkey, &run.session.handle, &secrets)
            .await
        {
            Ok(Some(found)) => {
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    status,
                    rkey,
                    "bluesky create failed but the record exists; treating it as published"
                );
                Ok(found)
            }
            Ok(None) => Err(error),
            Err(lookup_error) if status >= 500 => Err(PublishError {
                class: ErrorClass::UnknownOutcome,
                message: format!(
                    "{} (and looking the post up failed too: {}) — Outpost will look it up again before retrying",
                    error.message.trim_end_matches(" — Outpost will retry"),
                    lookup_error.message.trim_start_matches("Bluesky: ")
                ),
                ..error
            }),
            Err(_) => Err(error),
        }
    }
}

/// A part without a record key: the dispatcher chooses one before the first attempt.
fn no_rkey() -> PublishError {
    permanent("internal error: no record key was chosen for this post — report this bug")
}

fn store_error(verb: &str, reason: &str) -> PublishError {
    transient(format!(
        "could not {verb} the secret store ({}) — Outpost will retry; if it keeps failing, check the keychain (or OUTPOST_SECRET_STORE)",
        sanitize_message(reason, 120)
    ))
}

/// A failed `createSession`.
fn login_error(reply: &Reply, handle: &str, secrets: &[&str]) -> PublishError {
    let error = reply.error();
    let status = reply.status.as_u16();
    if error == "AuthFactorTokenRequired"
        || matches!(error.as_str(), "AccountTakedown" | "AccountDeactivated")
    {
        return classify(reply, handle, secrets);
    }
    if status == 401 || (status == 400 && error == "AuthenticationRequired") {
        return reauth(handle, "Bluesky: app password revoked or wrong")
            .with_excerpt(&reply.body, secrets);
    }
    let e = classify(reply, handle, secrets);
    match e.class {
        ErrorClass::RateLimited { .. } | ErrorClass::Transient { .. } => e,
        _ => PublishError {
            class: ErrorClass::Transient { retry_after: None },
            message: format!(
                "Bluesky: could not log in ({}) — Outpost will retry",
                detail(reply)
            ),
            ..e
        },
    }
}

#[async_trait]
impl Publisher for Bluesky {
    fn network(&self) -> Network {
        NET
    }

    fn new_client_handle(&self, idempotency_key: &str, now: DateTime<Utc>) -> Option<String> {
        let micros = u64::try_from(now.timestamp_micros()).unwrap_or(0);
        Some(outpost_core::ids::tid_for_key(idempotency_key, micros))
    }

    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        let Some(rkey) = req.client_handle else {
            return Err(no_rkey());
        };
        let images = Bluesky::read_images(&req.part.media).await?;
        let mut run = self.start_run(req.account).await?;

        let mut record = self.base_record(&run, req).await?;
        if !images.is_empty() {
            let mut embedded = Vec::with_capacity(images.len());
            for (data, m) in &images {
                let blob = self.upload_blob(&mut run, data, &m.mime).await?;
                let mut image = json!({ "image": blob, "alt": m.alt.clone().unwrap_or_default() });
                let size = match (m.width, m.height) {
                    (Some(w), Some(h)) => Some((w, h)),
                    _ => outpost_core::media::probe(m.file_name(), data)
                        .ok()
                        .and_then(|p| Some((p.width?, p.height?))),
                };
                if let Some((w, h)) = size.filter(|(w, h)| *w >= 1 && *h >= 1) {
                    image["aspectRatio"] = json!({ "width": w, "height": h });
                }
                embedded.push(image);
            }
            record["embed"] = json!({ "$type": "app.bsky.embed.images", "images": embedded });
        }
        self.create_post(&mut run, req, rkey, record).await
    }

    /// Publishes a part with a video in two phases (upload, then poll the encoding); a part
    /// without video is published at once.
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        if !req.part.media.iter().any(MediaRef::is_video) {
            return self.publish(req).await.map(PartOutcome::Published);
        }
        self.start_video(req).await
    }

    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        self.poll_video(req, phase).await
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let Some(rkey) = req.client_handle else {
            return Ok(Lookup::CannotTell(
                "Bluesky: no record key was stored for this attempt, so Outpost cannot look it up — check the account's posts and confirm".into(),
            ));
        };
        // `getRecord` is public: no login is needed, so reconciliation still works when the
        // credentials do not (a revoked app password must not hide a post that went out).
        let cached = match self.cache_get(&req.account.id) {
            Some(c) => Some(c.session),
            None => self.load_session(&req.account.id).await.ok().flatten(),
        };
        let pds = cached
            .as_ref()
            .map(|s| s.pds.clone())
            .or_else(|| req.account.setting("pds").map(str::to_string))
            .unwrap_or_else(|| self.entryway.clone());
        let Some(did) = req
            .account
            .remote_id
            .clone()
            .or_else(|| cached.as_ref().map(|s| s.did.clone()))
        else {
            return Ok(Lookup::CannotTell(
                "Bluesky: the account's DID is not known, so Outpost cannot look the post up — reconnect the account, then check its posts".into(),
            ));
        };
        let secrets: Vec<&str> = cached
            .as_ref()
            .map(|s| s.secrets().to_vec())
            .unwrap_or_default();
        let found = self
            .get_post(
                &req.account.id,
                &pds,
                &did,
                rkey,
                &req.account.handle,
                &secrets,
            )
            .await?;
        Ok(match found {
            Some(part) => Lookup::Found(part),
            None => Lookup::NotFound,
        })
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        self.renew(account, None).await.map(|_| ())
    }

    async fn probe(&self, account: &Account) -> Result<(), PublishError> {
        let mut run = self.start_run(account).await?;
        let reply = self
            .authed(&mut run, |s| {
                Call::get(
                    &s.pds,
                    "com.atproto.server.getSession",
                    "checking the session",
                )
                .bearer(&s.access_jwt)
            })
            .await?;
        if reply.ok() {
            Ok(())
        } else {
            Err(run.classify(&reply))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(1_500_000), "1,500,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(0), "0");
    }

    #[test]
    fn the_pds_comes_from_the_atproto_pds_service() {
        let doc = json!({"id": "did:plc:x", "service": [
            {"id": "#other", "type": "X", "serviceEndpoint": "https://nope.test"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.test/"}
        ]});
        assert_eq!(pds_from_did_doc(&doc).as_deref(), Some("https://pds.test"));
        let doc = json!({"service": [{"id": "did:plc:x#atproto_pds", "serviceEndpoint": "http://127.0.0.1:9"}]});
        assert_eq!(
            pds_from_did_doc(&doc).as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(pds_from_did_doc(&json!({})), None);
    }

    #[test]
    fn session_debug_hides_tokens() {
        let s = Session {
            access_jwt: "eyJaccess".into(),
            refresh_jwt: "eyJrefresh".into(),
            did: "did:plc:a".into(),
            pds: "https://pds.test".into(),
            handle: "a.test".into(),
            service: None,
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("eyJ"), "{printed}");
        assert!(printed.contains("did:plc:a"));
    }

    fn reply(status: u16, body: &str, headers: &[(&'static str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            if let Ok(v) = v.parse() {
                h.insert(*k, v);
            }
        }
        Reply {
            nsid: "com.atproto.repo.createRecord",
            what: "creating the post",
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: h,
            body: body.into(),
        }
    }

    #[test]
    fn errors_are_classified_per_the_table() {
        let class = |status, body: &str| classify(&reply(status, body, &[]), "a.test", &[]).class;
        assert_eq!(
            class(400, r#"{"error":"ExpiredToken"}"#),
            ErrorClass::Reauth
        );
        assert_eq!(
            class(400, r#"{"error":"InvalidToken"}"#),
            ErrorClass::Reauth
        );
        assert_eq!(
            class(401, r#"{"error":"AuthenticationRequired"}"#),
            ErrorClass::Reauth
        );
        assert_eq!(
            class(401, r#"{"error":"AccountTakedown"}"#),
            ErrorClass::Permanent
        );
        assert_eq!(
            class(400, r#"{"error":"AccountDeactivated"}"#),
            ErrorClass::Permanent
        );
        assert_eq!(
            class(400, r#"{"error":"InvalidRequest"}"#),
            ErrorClass::Permanent
        );
        assert_eq!(class(413, ""), ErrorClass::Permanent);
        assert_eq!(class(415, ""), ErrorClass::Permanent);
        for s in [500, 502, 503, 504] {
            assert!(class(s, "<html>bad</html>").is_transient(), "{s}");
        }
        let e = classify(
            &reply(503, r#"{"error":"NotEnoughResources"}"#, &[]),
            "a.test",
            &[],
        );
        assert_eq!(
            e.message,
            "Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — Outpost will retry"
        );
        let e = classify(
            &reply(429, "{}", &[("ratelimit-reset", "4102444800")]),
            "a.test",
            &[],
        );
        let until = DateTime::from_timestamp(4_102_444_800, 0).unwrap_or_default();
        assert_eq!(e.class, ErrorClass::RateLimited { until });
    }

    #[test]
    fn expiry_is_recognised_in_both_shapes() {
        assert!(reply(400, r#"{"error":"ExpiredToken"}"#, &[]).is_expired_session());
        assert!(reply(401, r#"{"error":"AuthenticationRequired"}"#, &[]).is_expired_session());
        assert!(!reply(401, r#"{"error":"AccountTakedown"}"#, &[]).is_expired_session());
        assert!(!reply(400, r#"{"error":"InvalidToken"}"#, &[]).is_expired_session());
        assert!(reply(400, r#"{"error":"InvalidToken"}"#, &[]).is_dead_session());
        assert!(!reply(400, r#"{"error":"InvalidRequest"}"#, &[]).is_dead_session());
    }

    #[tokio::test]
    async fn handles_and_dids_resolve_to_the_pds_through_the_plc_directory() {
        let fake = outpost_testkit::bluesky::BlueskyFake::start()
            .await
            .expect("fake");
        let did = fake.add_account("carol.test", "carol-pass-0000");
        let store: Arc<dyn SecretStore> = Arc::new(outpost_auth::MemoryStore::new());
        let bsky = Bluesky::new(
            fake.entryway_url(),
            format!("{}/", fake.entryway_url()),
            store,
        );
        assert_eq!(
            bsky.resolve_handle("carol.test").await.as_deref(),
            Some(did.as_str())
        );
        assert_eq!(bsky.resolve_pds(&did).await, Ok(fake.pds_url()));
        assert!(bsky
            .resolve_pds("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
            .await
            .is_err());
        assert!(bsky.resolve_pds("did:key:z6Mk").await.is_err());
    }

    #[test]
    fn server_messages_are_scrubbed() {
        let body = r#"{"error":"InvalidRequest","message":"bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl and pw-1234-abcd"}"#;
        let e = classify(&reply(400, body, &[]), "a.test", &["pw-1234-abcd"]);
        assert!(!e.message.contains("eyJhbGci"), "{}", e.message);
        assert!(!e.message.contains("pw-1234-abcd"), "{}", e.message);
        let excerpt = e.excerpt.unwrap_or_default();
        assert!(
            !excerpt.contains("pw-1234-abcd") && !excerpt.contains("eyJhbGci"),
            "{excerpt}"
        );
    }
}
