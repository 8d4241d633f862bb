//! X (API v2): posts, threads (self-reply chains), a first comment (a reply under the post),
//! media through the v2 chunked upload, and reconciliation by reading the account's recent
//! posts. See `docs/platforms/x.md`.
//!
//! - **Auth:** OAuth 2.0 user tokens from the user's own "Native App" (public client, PKCE, no
//!   secret), kept in the secret store as [`OAuthTokens`]. A 401 is `Reauth`; the dispatcher then
//!   calls [`Publisher::refresh`], which spends the refresh token once (X rotates it: the old one
//!   stops working) and saves the new pair before returning.
//! - **Create:** `POST /2/tweets` has no idempotency key, so a create that got no answer is
//!   `UnknownOutcome` and [`Publisher::lookup`] reads `GET /2/users/:id/tweets` to find it by its
//!   text (and, for a thread part, by the post it replies to).
//! - **Media:** images, GIFs and videos go up in chunks read from disk (see [`media`]); video
//!   and GIF processing is two-phase ([`Publisher::start`] uploads, [`Publisher::poll`] checks
//!   the processing and creates the post once the media is ready).
//!
//! Nothing here sleeps or retries: one attempt, classified once. Tokens never reach a log line,
//! an error message or an excerpt.

mod media;

use crate::http;
use crate::secrets;
use crate::{Identity, Lookup, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use outpost_auth::oauth::{
    ClientAuth, OAuthError, OAuthProfile, Pkce, RedirectRule, TokenEndpoint,
};
use outpost_auth::{OAuthTokens, Secret, SecretStore};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, MediaRef, Network, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const NET: Network = Network::X;
/// The API host (`OUTPOST_X_BASE_URL` replaces it).
pub const DEFAULT_BASE_URL: &str = "https://api.x.com";
/// The authorization page. X's OpenAPI file names `api.x.com/2/oauth2/authorize`; the auth
/// guide and the official SDK use this one (x.md: "Use the x.com URL").
pub const AUTHORIZE_URL: &str = "https://x.com/i/oauth2/authorize";
/// The token endpoint's path on the API host.
pub const TOKEN_PATH: &str = "/2/oauth2/token";
/// What Outpost asks for: posting needs `tweet.write users.read tweet.read`, the media
/// endpoints `media.write`, a refresh token `offline.access`.
pub const SCOPES: [&str; 5] = [
    "tweet.read",
    "tweet.write",
    "users.read",
    "offline.access",
    "media.write",
];
/// The loopback port of the registered redirect `http://127.0.0.1:8723/callback` (X compares
/// redirect URIs exactly, port included).
pub const REDIRECT_PORT: u16 = 8723;
pub const REDIRECT_PATH: &str = "/callback";
/// X counts text in weighted characters (twitter-text v2).
pub const MAX_WEIGHTED_LENGTH: usize = 280;
/// Alt text limit of `POST /2/media/metadata`.
const MAX_ALT_CHARS: usize = 1000;
/// How far before the recorded intent the reconciliation read starts (clock differences).
const LOOKUP_MARGIN_MINUTES: i64 = 5;
/// Pages of 100 posts the reconciliation read looks through at most.
const LOOKUP_PAGES: usize = 5;
const RECONNECT: &str = "reconnect the account in Accounts (or `outpost accounts connect x`)";

/// The X publisher. Cheap to share (`Arc`); one per process.
pub struct X {
    base: String,
    token_url: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    chunk_size: usize,
    /// One refresh at a time per account: X's refresh tokens are single-use.
    refreshes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for X {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X")
            .field("base", &self.base)
            .field("token_url", &self.token_url)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl X {
    /// The API at `OUTPOST_X_BASE_URL` (default `https://api.x.com`); the token endpoint at
    /// `OUTPOST_X_TOKEN_URL`, else the documented path on that host.
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> X {
        let base = http::base_url(NET, DEFAULT_BASE_URL);
        let token_url = http::env_url("OUTPOST_X_TOKEN_URL", &format!("{base}{TOKEN_PATH}"));
        X::new(base, secrets).with_token_url(token_url)
    }

    /// A publisher talking to `base_url` (its token endpoint at `base_url` + `/2/oauth2/token`).
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> X {
        let base = base_url.into().trim().trim_end_matches('/').to_string();
        X {
            token_url: format!("{base}{TOKEN_PATH}"),
            base,
            http: http::client(),
            secrets,
            chunk_size: media::DEFAULT_CHUNK,
            refreshes: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the HTTP client (tests use a short timeout).
    pub fn with_http_client(mut self, client: reqwest::Client) -> X {
        self.http = client;
        self
    }

    pub fn with_token_url(mut self, url: impl Into<String>) -> X {
        self.token_url = url.into().trim().to_string();
        self
    }

    /// Size of the APPEND chunks (default 2 MiB; X's samples use 1 MB and sizes above 4 MB are
    /// unconfirmed). Clamped to 1 byte – 4 MiB.
    pub fn with_chunk_size(mut self, bytes: usize) -> X {
        self.chunk_size = bytes.clamp(1, media::MAX_CHUNK);
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

    async fn send(&self, auth: &Auth, call: Call) -> Result<Reply, PublishError> {
        let url = format!("{}{}", self.base, call.path);
        let mut rb = self
            .http
            .request(call.method.clone(), &url)
            .bearer_auth(auth.tokens.access_token.expose());
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        rb = match call.payload {
            Payload::Empty => rb,
            Payload::Json(v) => rb.json(&v),
            Payload::Multipart { boundary, body } => rb
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        };
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
            rate_remaining = header(&headers, "x-rate-limit-remaining"),
            "x request"
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
                "no X sign-in is stored for this account — connect the account again",
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

    // -----------------------------------------------------------------------------------------
    // Posts

    /// `POST /2/tweets`; returns the new post's id.
    async fn create_post(&self, auth: &Auth, post: NewPost<'_>) -> Result<String, PublishError> {
        let mut body = json!({});
        if !post.text.is_empty() {
            body["text"] = json!(post.text);
        }
        if !post.media_ids.is_empty() {
            body["media"] = json!({ "media_ids": post.media_ids });
        }
        if let Some(parent) = post.reply_to {
            body["reply"] = json!({ "in_reply_to_tweet_id": parent });
        }
        if let Some(settings) = post.reply_settings {
            body["reply_settings"] = json!(settings);
        }
        let call = Call::post(
            "/2/tweets",
            "POST /2/tweets",
            post.what,
            Payload::Json(body),
        )
        .creates();
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets()));
        }
        let id = reply
            .json()
            .and_then(|v| v.get("data")?.get("id")?.as_str().map(str::to_string))
            .filter(|id| !id.is_empty());
        match id {
            Some(id) => Ok(id),
            None => {
                let p = Problem::parse(&reply.body);
                if !p.summary().is_empty() {
                    // A 2xx carrying only `errors[]`: nothing was created.
                    return Err(PublishError::new(
                        NET,
                        ErrorClass::Permanent,
                        format!(
                            "X refused {} (HTTP {}: {}) — change the post and try again",
                            post.what,
                            reply.status.as_u16(),
                            clean(&p.summary(), &auth.secrets())
                        ),
                    )
                    .with_excerpt(&reply.body, &auth.secrets()));
                }
                Err(PublishError::new(
                    NET,
                    ErrorClass::UnknownOutcome,
                    format!(
                        "X answered HTTP {} to {} without the post's id; it may have been published — Outpost will check before trying again",
                        reply.status.as_u16(),
                        post.what
                    ),
                )
                .with_excerpt(&reply.body, &auth.secrets()))
            }
        }
    }

    /// The last step of every part: alt text, the post, then (part 0) the first comment.
    async fn finish(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &PartPlan<'_>,
        media_ids: &[String],
    ) -> Result<PublishedPart, PublishError> {
        for (m, id) in plan.media.iter().zip(media_ids) {
            self.set_alt_text(auth, m, id).await?;
        }
        let started = Instant::now();
        let id = self
            .create_post(
                auth,
                NewPost {
                    text: plan.text,
                    media_ids,
                    reply_to: plan.reply_to.as_deref(),
                    reply_settings: plan.reply_settings.as_deref(),
                    what: if req.part_index == 0 {
                        "creating the post"
                    } else {
                        "creating the thread part"
                    },
                },
            )
            .await?;
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            remote = id.as_str(),
            media = media_ids.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "x post created"
        );
        let mut part = published(&req.account.handle, &id);
        if let Some(comment) = plan.first_comment {
            // The post is live whatever happens now: a failed comment must not make the
            // dispatcher publish the post again.
            let made = self
                .create_post(
                    auth,
                    NewPost {
                        text: comment,
                        media_ids: &[],
                        reply_to: Some(&id),
                        reply_settings: None,
                        what: "posting the first comment",
                    },
                )
                .await;
            match made {
                Ok(comment_id) => part.extra["first_comment_id"] = json!(comment_id),
                Err(e) => {
                    tracing::warn!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        target = req.target_id,
                        class = e.class.name(),
                        error = %e.message,
                        "x first comment failed; the post itself is published"
                    );
                    part.extra["first_comment_error"] = json!(e.message);
                }
            }
        }
        Ok(part)
    }

    /// `GET /2/users/me` with the given tokens.
    async fn me(&self, auth: &Auth, what: &str) -> Result<Value, PublishError> {
        let call =
            Call::get("/2/users/me", "GET /2/users/me", what).query("user.fields", "verified_type");
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets()));
        }
        match reply.json().and_then(|v| v.get("data").cloned()) {
            Some(data) if data.get("id").and_then(Value::as_str).is_some() => Ok(data),
            _ => Err(malformed(&reply, &auth.secrets())),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Reconciliation

    /// Reads the account's posts since the attempt and finds the part by its text and parent.
    async fn find_part(
        &self,
        req: &PartRequest<'_>,
        auth: &mut Auth,
    ) -> Result<Lookup, PublishError> {
        let user_id = match req.account.remote_id.clone().filter(|id| !id.is_empty()) {
            Some(id) => id,
            None => match self.me(auth, "reading the account").await?["id"].as_str() {
                Some(id) => id.to_string(),
                None => {
                    return Ok(Lookup::CannotTell(
                        "X: the account's id is unknown — check the account's posts on x.com"
                            .into(),
                    ))
                }
            },
        };
        let reply_to = match part_parent(req) {
            Ok(parent) => parent,
            Err(e) => return Ok(Lookup::CannotTell(e.message)),
        };
        let start = req.intent_at - chrono::Duration::minutes(LOOKUP_MARGIN_MINUTES);
        let mut refreshed = false;
        let mut page_token: Option<String> = None;
        let mut seen: Vec<TimelinePost> = Vec::new();
        let mut found: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let mut call = Call::get(
                format!("/2/users/{user_id}/tweets"),
                "GET /2/users/:id/tweets",
                "looking up the account's recent posts",
            )
            .query("max_results", "100")
            .query("tweet.fields", "created_at,referenced_tweets,attachments")
            .query(
                "start_time",
                &start.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
            if let Some(parent) = &reply_to {
                call = call.query("since_id", parent);
            }
            if let Some(token) = &page_token {
                call = call.query("pagination_token", token);
            }
            let reply = self.send(auth, call.clone()).await?;
            if reply.status == StatusCode::UNAUTHORIZED && !refreshed {
                // The dispatcher does not refresh before a lookup, and X access tokens last only
                // two hours: renew once here (a read, so repeating it is harmless).
                refreshed = true;
                self.refresh(req.account).await?;
                *auth = self.auth(req.account).await?;
                let reply = self.send(auth, call).await?;
                if let Some(outcome) = self.read_page(&reply, auth, &mut seen, &mut page_token)? {
                    return Ok(outcome);
                }
            } else if let Some(outcome) =
                self.read_page(&reply, auth, &mut seen, &mut page_token)?
            {
                return Ok(outcome);
            }
            found = seen
                .iter()
                .rev()
                .find(|p| same_text(&p.text, &req.part.text) && p.replied_to == reply_to)
                .map(|p| p.id.clone());
            if found.is_some() || page_token.is_none() {
                break;
            }
        }
        let Some(id) = found else {
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                part = req.part_index,
                read = seen.len(),
                "x lookup: the part is not among the account's recent posts"
            );
            return Ok(Lookup::NotFound);
        };
        let mut part = published(&req.account.handle, &id);
        if let Some(comment) = first_comment(req) {
            if let Some(c) = seen
                .iter()
                .find(|p| p.replied_to.as_deref() == Some(&id) && same_text(&p.text, comment))
            {
                part.extra["first_comment_id"] = json!(c.id);
            }
        }
        Ok(Lookup::Found(part))
    }

    /// Reads one timeline page into `seen`; `Some` when the read itself decides the lookup.
    fn read_page(
        &self,
        reply: &Reply,
        auth: &Auth,
        seen: &mut Vec<TimelinePost>,
        next: &mut Option<String>,
    ) -> Result<Option<Lookup>, PublishError> {
        let status = reply.status.as_u16();
        if !reply.ok() {
            let p = Problem::parse(&reply.body);
            let says = clean(&p.summary(), &auth.secrets());
            let detail = if says.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {says}")
            };
            return match status {
                403 => Ok(Some(Lookup::CannotTell(format!(
                    "X does not let this app read the account's posts ({detail}); low API tiers have no read access — check the account's posts on x.com"
                )))),
                401 | 429 | 500..=599 => Err(classify(reply, &auth.secrets())),
                _ if p.is_usage_capped() => Err(classify(reply, &auth.secrets())),
                _ => Ok(Some(Lookup::CannotTell(format!(
                    "X did not answer the lookup of recent posts ({detail}) — check the account's posts on x.com"
                )))),
            };
        }
        let Some(body) = reply.json() else {
            return Err(malformed(reply, &auth.secrets()));
        };
        if let Some(items) = body.get("data").and_then(Value::as_array) {
            for item in items {
                let (Some(id), Some(text)) = (
                    item.get("id").and_then(Value::as_str),
                    item.get("text").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let replied_to = item
                    .get("referenced_tweets")
                    .and_then(Value::as_array)
                    .and_then(|refs| {
                        refs.iter()
                            .find(|r| r.get("type").and_then(Value::as_str) == Some("replied_to"))
                    })
                    .and_then(|r| r.get("id")?.as_str())
                    .map(str::to_string);
                seen.push(TimelinePost {
                    id: id.to_string(),
                    text: text.to_string(),
                    replied_to,
                });
            }
        }
        *next = body
            .get("meta")
            .and_then(|m| m.get("next_token"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Plumbing types

enum Payload {
    Empty,
    Json(Value),
    Multipart { boundary: String, body: Vec<u8> },
}

impl Clone for Payload {
    fn clone(&self) -> Self {
        match self {
            Payload::Empty => Payload::Empty,
            Payload::Json(v) => Payload::Json(v.clone()),
            Payload::Multipart { boundary, body } => Payload::Multipart {
                boundary: boundary.clone(),
                body: body.clone(),
            },
        }
    }
}

/// One API request.
#[derive(Clone)]
struct Call {
    method: Method,
    path: String,
    /// The endpoint without ids, for logs.
    endpoint: &'static str,
    query: Vec<(&'static str, String)>,
    payload: Payload,
    /// The operation in the user's words ("creating the post").
    what: String,
    /// A side effect a retry could repeat (`POST /2/tweets`).
    creates: bool,
}

impl Call {
    fn get(path: impl Into<String>, endpoint: &'static str, what: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            endpoint,
            query: Vec::new(),
            payload: Payload::Empty,
            what: what.into(),
            creates: false,
        }
    }
    fn post(
        path: impl Into<String>,
        endpoint: &'static str,
        what: impl Into<String>,
        payload: Payload,
    ) -> Call {
        Call {
            method: Method::POST,
            payload,
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

struct NewPost<'a> {
    text: &'a str,
    media_ids: &'a [String],
    reply_to: Option<&'a str>,
    reply_settings: Option<&'a str>,
    what: &'static str,
}

struct TimelinePost {
    id: String,
    text: String,
    replied_to: Option<String>,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn published(handle: &str, id: &str) -> PublishedPart {
    let handle = handle.trim().trim_start_matches('@');
    let url = if handle.is_empty() {
        format!("https://x.com/i/web/status/{id}")
    } else {
        format!("https://x.com/{handle}/status/{id}")
    };
    PublishedPart {
        remote_id: id.to_string(),
        url: Some(url),
        extra: json!({}),
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

/// A 2xx answer whose body is not what X documents.
fn malformed(reply: &Reply, secrets: &[&str]) -> PublishError {
    transient(format!(
        "X answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
        reply.what,
        reply.status.as_u16()
    ))
    .with_excerpt(&reply.body, secrets)
}

/// A server's text, made safe for a card: secrets removed, tags stripped, cut short.
fn clean(raw: &str, secrets: &[&str]) -> String {
    sanitize_message(&redact(raw, secrets), 160)
}

/// X's error bodies: problem JSON (`title`, `detail`, `type`, `status`), `errors[]` (v2
/// partial errors, v1.1 `{code, message}`), or OAuth's `error` / `error_description`.
#[derive(Debug, Default)]
struct Problem {
    title: String,
    detail: String,
    kind: String,
    reason: String,
    messages: Vec<String>,
    codes: Vec<i64>,
}

impl Problem {
    fn parse(body: &str) -> Problem {
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            return Problem::default();
        };
        let text = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut p = Problem {
            title: text(&v, "title"),
            detail: text(&v, "detail"),
            kind: text(&v, "type"),
            reason: text(&v, "reason"),
            ..Problem::default()
        };
        if p.detail.is_empty() {
            p.detail = text(&v, "error_description");
        }
        if p.title.is_empty() {
            p.title = text(&v, "error");
        }
        for e in v
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let message = [text(e, "message"), text(e, "detail")]
                .into_iter()
                .find(|m| !m.is_empty());
            if let Some(m) = message {
                p.messages.push(m);
            }
            if let Some(code) = e.get("code").and_then(Value::as_i64) {
                p.codes.push(code);
            }
            if p.kind.is_empty() {
                p.kind = text(e, "type");
            }
        }
        p
    }

    /// The most telling sentence: `detail` when it says more than the title, else the first
    /// `errors[].message`, else the title.
    fn summary(&self) -> String {
        let generic = self.detail.is_empty() || self.detail.eq_ignore_ascii_case(&self.title);
        if !generic && !self.detail.starts_with("One or more parameters") {
            return self.detail.clone();
        }
        if let Some(m) = self.messages.first() {
            return m.clone();
        }
        if !self.detail.is_empty() {
            return self.detail.clone();
        }
        self.title.clone()
    }

    fn lower(&self) -> String {
        let mut all = vec![
            self.title.as_str(),
            self.detail.as_str(),
            self.kind.as_str(),
            self.reason.as_str(),
        ];
        all.extend(self.messages.iter().map(String::as_str));
        all.join(" ").to_ascii_lowercase()
    }

    fn is_duplicate(&self) -> bool {
        let l = self.lower();
        l.contains("duplicate content")
            || l.contains("status is a duplicate")
            || self.codes.contains(&187)
    }

    /// Credits exhausted or a usage cap hit: blocked until the app owner acts. The real body
    /// is UNCONFIRMED; X's usage caps answered `usage-capped` / `UsageCapExceeded`.
    fn is_usage_capped(&self) -> bool {
        let l = self.lower();
        l.contains("usage-capped")
            || l.contains("usagecapexceeded")
            || l.contains("usage cap exceeded")
            || l.contains("creditsdepleted")
            || l.contains("credits depleted")
    }
}

/// When a 429 may be retried, and which limit it was: the latest reset among the exhausted
/// windows (`x-user-limit-24hour-*`, `x-app-limit-24hour-*`, `x-rate-limit-*`), else
/// `x-rate-limit-reset` / `Retry-After`, else 15 minutes.
fn rate_limit(headers: &HeaderMap, now: DateTime<Utc>) -> (DateTime<Utc>, &'static str) {
    let number = |name: String| header(headers, &name).and_then(|v| v.trim().parse::<i64>().ok());
    let windows = [
        ("x-user-limit-24hour", "the account's 24-hour posting limit"),
        (
            "x-app-limit-24hour",
            "the app's 24-hour limit, shared by every account using this client id",
        ),
        ("x-rate-limit", "the 15-minute limit"),
    ];
    let exhausted = windows
        .iter()
        .filter(|(prefix, _)| number(format!("{prefix}-remaining")) == Some(0))
        .filter_map(|(prefix, label)| {
            let reset = number(format!("{prefix}-reset"))?;
            Some((DateTime::from_timestamp(reset, 0)?, *label))
        })
        .max_by_key(|(at, _)| *at);
    let (until, label) = match exhausted {
        Some(found) => found,
        None => match http::rate_limit_until(headers, now) {
            Some(until) => (until, "the rate limit"),
            None => (now + chrono::Duration::minutes(15), "no reset time given"),
        },
    };
    // A reset in the past (clocks differ): try again shortly rather than at once.
    let until = if until <= now {
        now + chrono::Duration::seconds(60)
    } else {
        until
    };
    (until, label)
}

/// Decides the class of a failed API call (x.md "Errors").
fn classify(reply: &Reply, secrets: &[&str]) -> PublishError {
    let status = reply.status.as_u16();
    let p = Problem::parse(&reply.body);
    let says = clean(&p.summary(), secrets);
    let detail = if says.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {says}")
    };
    let what = &reply.what;
    let lower = p.lower();
    let now = Utc::now();
    let (class, message) = if p.is_usage_capped() {
        (
            ErrorClass::Permanent,
            format!("the X app has used up its API credits or hit its usage cap while {what} ({detail}) — top up the app's credits or raise its spending limit in the X developer console, then retry the post"),
        )
    } else {
        match status {
            401 => (
                ErrorClass::Reauth,
                format!("X refused the access token while {what} ({detail}) — Outpost renews it once; if that fails, {RECONNECT}"),
            ),
            403 if p.is_duplicate() => (
                ErrorClass::Permanent,
                "X refused a duplicate post — change the text".to_string(),
            ),
            403 if lower.contains("unsupported authentication") => (
                ErrorClass::Reauth,
                format!("X does not accept this sign-in for {what} ({detail}) — {RECONNECT}"),
            ),
            403 if lower.contains("not been mentioned")
                || lower.contains("reply to this conversation is not allowed") =>
            (
                ErrorClass::Permanent,
                format!("X refused the reply ({detail}) — X lets API apps reply only where the author mentioned the account; publish the thread's parts as separate posts"),
            ),
            403 if lower.contains("deleted or not visible") => (
                ErrorClass::Permanent,
                format!("the post this part replies to is deleted or not visible ({detail}) — check the thread on x.com, then retry"),
            ),
            403 if lower.contains("client-forbidden") || lower.contains("client-not-enrolled") => (
                ErrorClass::Permanent,
                format!("the X app's API access does not allow {what} ({detail}) — in the X developer console, put the app in a project with pay-per-use credits or a plan that includes it"),
            ),
            403 if lower.contains("suspended") || lower.contains("locked") => (
                ErrorClass::Permanent,
                format!("X says the account is suspended or locked ({detail}) — resolve it on x.com, then retry"),
            ),
            403 => (
                ErrorClass::Permanent,
                format!("X refused {what} ({detail}) — give the app \"Read and write\" permissions (X developer console → the app → User authentication settings), then {RECONNECT} so it grants tweet.read, tweet.write, users.read, offline.access and media.write"),
            ),
            429 => {
                let (until, which) = rate_limit(&reply.headers, now);
                (
                    ErrorClass::RateLimited { until },
                    format!(
                        "rate limited while {what} ({which}) — Outpost will wait until {} UTC",
                        until.format("%Y-%m-%d %H:%M:%S")
                    ),
                )
            }
            400 if lower.contains("media ids are invalid") || lower.contains("media_id") => (
                ErrorClass::Permanent,
                format!("X refused the uploaded media while {what} ({detail}) — retry the post to upload it again"),
            ),
            400 => (
                ErrorClass::Permanent,
                format!("X rejected {what} ({detail}) — change the post and try again"),
            ),
            404 => (
                ErrorClass::Permanent,
                format!("X could not find what {what} needs ({detail})"),
            ),
            413 => (
                ErrorClass::Permanent,
                format!("X refused the upload as too large ({detail}) — use a smaller file"),
            ),
            500..=599 => (
                ErrorClass::Transient {
                    retry_after: http::retry_after_hint(&reply.headers, now),
                },
                format!("X is unavailable while {what} ({detail}) — Outpost will retry"),
            ),
            _ => (
                ErrorClass::Permanent,
                format!("X refused {what} ({detail})"),
            ),
        }
    };
    PublishError::new(NET, class, message).with_excerpt(&reply.body, secrets)
}

// ---------------------------------------------------------------------------------------------
// Planning a part (everything checked before the first request)

/// What one image, GIF or video is to X.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Image,
    Gif,
    Video,
}

impl Kind {
    fn category(self) -> &'static str {
        match self {
            Kind::Image => "tweet_image",
            Kind::Gif => "tweet_gif",
            Kind::Video => "tweet_video",
        }
    }
    fn max_bytes(self) -> u64 {
        const MB: u64 = 1024 * 1024;
        match self {
            Kind::Image => 5 * MB,
            Kind::Gif => 15 * MB,
            Kind::Video => 512 * MB,
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Gif => "GIF",
            Kind::Video => "video",
        }
    }
}

struct MediaPlan<'a> {
    media: &'a MediaRef,
    kind: Kind,
    /// The `media_type` X expects (`image/jpg` → `image/jpeg`).
    mime: &'static str,
    alt: Option<&'a str>,
}

struct PartPlan<'a> {
    text: &'a str,
    media: Vec<MediaPlan<'a>>,
    reply_to: Option<String>,
    reply_settings: Option<String>,
    first_comment: Option<&'a str>,
}

impl PartPlan<'_> {
    fn needs_processing(&self) -> bool {
        self.media.iter().any(|m| m.kind != Kind::Image)
    }
}

fn kind_of(m: &MediaRef) -> Result<(Kind, &'static str), PublishError> {
    let mime = m.mime.trim().to_ascii_lowercase();
    let found = match mime.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => (Kind::Image, "image/jpeg"),
        "image/png" => (Kind::Image, "image/png"),
        "image/webp" => (Kind::Image, "image/webp"),
        "image/gif" => (Kind::Gif, "image/gif"),
        "video/mp4" => (Kind::Video, "video/mp4"),
        "video/quicktime" => (Kind::Video, "video/quicktime"),
        _ => {
            return Err(permanent(format!(
            "{} is {}; X takes JPEG, PNG, WebP and GIF images and MP4 or MOV videos — convert it",
            m.file_name(),
            m.mime
        )))
        }
    };
    Ok(found)
}

fn first_comment<'a>(req: &PartRequest<'a>) -> Option<&'a str> {
    (req.part_index == 0)
        .then_some(req.first_comment)
        .flatten()
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// The post a thread part replies to: the previous part.
fn part_parent(req: &PartRequest<'_>) -> Result<Option<String>, PublishError> {
    if req.part_index == 0 {
        return Ok(None);
    }
    match req.previous.get(req.part_index - 1) {
        Some(p) if !p.remote_id.is_empty() => Ok(Some(p.remote_id.clone())),
        _ => Err(permanent(format!(
            "internal error: part {} of the thread has no published part to reply to — retry the post",
            req.part_index + 1
        ))),
    }
}

fn weighted_check(text: &str, what: &str) -> Result<(), PublishError> {
    let n = outpost_core::text::x_weighted_length(text);
    if n > MAX_WEIGHTED_LENGTH {
        return Err(permanent(format!(
            "{what} is {n} weighted characters; X allows {MAX_WEIGHTED_LENGTH} (links count 23, CJK characters and emoji 2) — shorten it by {}",
            n - MAX_WEIGHTED_LENGTH
        )));
    }
    Ok(())
}

/// Checks the part against X's rules and gathers what the requests need.
fn plan_part<'a>(req: &PartRequest<'a>) -> Result<PartPlan<'a>, PublishError> {
    let text = req.part.text.trim_end();
    let label = if req.part_index == 0 {
        "the text".to_string()
    } else {
        format!("the text of part {}", req.part_index + 1)
    };
    weighted_check(text, &label)?;
    if text.trim().is_empty() && req.part.media.is_empty() {
        return Err(permanent(
            "the post has neither text nor media — write something or attach a file",
        ));
    }
    let mut media = Vec::with_capacity(req.part.media.len());
    for m in &req.part.media {
        let (kind, mime) = kind_of(m)?;
        let alt = m.alt.as_deref().map(str::trim).filter(|a| !a.is_empty());
        if let Some(alt) = alt {
            let n = alt.chars().count();
            if n > MAX_ALT_CHARS {
                return Err(permanent(format!(
                    "the alt text of {} is {n} characters; X allows {MAX_ALT_CHARS} — shorten it",
                    m.file_name()
                )));
            }
        }
        if m.bytes > kind.max_bytes() {
            return Err(too_large(m, kind, m.bytes));
        }
        media.push(MediaPlan {
            media: m,
            kind,
            mime,
            alt,
        });
    }
    let images = media.iter().filter(|m| m.kind == Kind::Image).count();
    let others = media.len() - images;
    if others > 1 || (others == 1 && images > 0) {
        return Err(permanent(format!(
            "an X post carries up to 4 images, or one GIF, or one video — this part has {}; put the others in further thread parts",
            describe(&media)
        )));
    }
    if images > 4 {
        return Err(permanent(format!(
            "{images} images are attached; an X post carries at most 4 — remove {} or put them in a further thread part",
            images - 4
        )));
    }
    let first_comment = first_comment(req);
    if let Some(c) = first_comment {
        weighted_check(c, "the first comment")?;
    }
    let reply_settings = match req.options.get("reply_settings") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "everyone" => None,
        Some(Value::String(s))
            if ["following", "mentionedUsers", "subscribers", "verified"].contains(&s.as_str()) =>
        {
            Some(s.clone())
        }
        Some(other) => {
            return Err(permanent(format!(
                "the X option reply_settings is {other}; use everyone, following, mentionedUsers, subscribers or verified"
            )))
        }
    };
    Ok(PartPlan {
        text,
        media,
        reply_to: part_parent(req)?,
        reply_settings,
        first_comment,
    })
}

fn describe(media: &[MediaPlan<'_>]) -> String {
    let count = |k: Kind| media.iter().filter(|m| m.kind == k).count();
    [Kind::Image, Kind::Gif, Kind::Video]
        .into_iter()
        .filter(|k| count(*k) > 0)
        .map(|k| {
            let n = count(k);
            format!("{n} {}{}", k.noun(), if n == 1 { "" } else { "s" })
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

fn too_large(m: &MediaRef, kind: Kind, bytes: u64) -> PublishError {
    permanent(format!(
        "{} is {} bytes; X takes {}s up to {} MB — use a smaller file",
        m.file_name(),
        bytes,
        kind.noun(),
        kind.max_bytes() / (1024 * 1024)
    ))
}

// ---------------------------------------------------------------------------------------------
// Matching a post found on the timeline

/// Text as X returns it made comparable: `&amp;` `&lt;` `&gt;` decoded, every link (X rewrites
/// them to t.co) replaced by one marker, whitespace folded.
fn comparable(text: &str) -> String {
    let decoded = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let mut out = String::with_capacity(decoded.len());
    let mut last = 0;
    for span in outpost_core::text::find_urls(&decoded) {
        out.push_str(&decoded[last..span.start]);
        out.push('\u{1}');
        last = span.end;
    }
    out.push_str(&decoded[last..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a post's text (as X returns it) is `ours`. X appends a t.co link for attached media,
/// so trailing links beyond ours are ignored.
fn same_text(remote: &str, ours: &str) -> bool {
    let ours = comparable(ours);
    let mut remote = comparable(remote);
    for _ in 0..3 {
        if remote == ours {
            return true;
        }
        match remote.strip_suffix('\u{1}') {
            Some(rest) => remote = rest.trim_end().to_string(),
            None => return false,
        }
    }
    remote == ours
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Publisher for X {
    fn network(&self) -> Network {
        NET
    }

    /// X has no client-chosen id for a post.
    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        let plan = plan_part(req)?;
        if plan.needs_processing() {
            return Err(permanent(
                "internal error: X video and GIF posts are published in two phases (start, then poll) — report this bug",
            ));
        }
        match self.start(req).await? {
            PartOutcome::Published(part) => Ok(part),
            PartOutcome::Processing { .. } => Err(permanent(
                "internal error: X is still processing the media of a post published in one phase — report this bug",
            )),
        }
    }

    /// Uploads the part's media; returns `Processing` while X processes a video or GIF, else
    /// creates the post at once.
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let plan = plan_part(req)?;
        let auth = self.auth(req.account).await?;
        let mut media_ids = Vec::with_capacity(plan.media.len());
        let mut pending: Option<(String, media::ProcessingInfo, Option<i64>)> = None;
        for m in &plan.media {
            let uploaded = self.upload(&auth, req, m).await?;
            if let Some(info) = uploaded.processing {
                pending = Some((uploaded.id.clone(), info, uploaded.expires_after));
            }
            media_ids.push(uploaded.id);
        }
        if let Some((pending_id, info, expires_after)) = pending {
            return Ok(media::processing_outcome(
                req,
                &media_ids,
                &pending_id,
                &info,
                0,
                &media::expires_at(expires_after),
            ));
        }
        self.finish(&auth, req, &plan, &media_ids)
            .await
            .map(PartOutcome::Published)
    }

    /// One STATUS check of the media X is processing; creates the post once it is ready.
    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let plan = plan_part(req)?;
        let media_ids: Vec<String> = phase
            .get("media_ids")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if media_ids.len() != plan.media.len() {
            return Err(permanent(
                "the stored media processing state does not match the post's files (they changed) — retry the post to upload them again",
            ));
        }
        let auth = self.auth(req.account).await?;
        if let Some(pending) = phase.get("pending").and_then(Value::as_str) {
            let Some(m) = media_ids
                .iter()
                .position(|id| id == pending)
                .and_then(|i| plan.media.get(i))
            else {
                return Err(permanent(
                    "the stored media processing state names a file the post no longer has — retry the post to upload it again",
                ));
            };
            if let Some(next) = self
                .check_processing(&auth, req, m, &media_ids, pending, phase)
                .await?
            {
                return Ok(next);
            }
        }
        self.finish(&auth, req, &plan, &media_ids)
            .await
            .map(PartOutcome::Published)
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let mut auth = self.auth(req.account).await?;
        self.find_part(req, &mut auth).await
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        let gate = self.refresh_gate(&account.id);
        let _held = gate.lock().await;
        // Read under the gate: another task may have rotated the tokens meanwhile.
        let auth = self.auth(account).await?;
        let Some(refresh_token) = auth.tokens.refresh_token.clone() else {
            return Err(reauth(
                "X sign-ins last 2 hours and this account has no refresh token (it was connected without offline.access) — connect it again",
            ));
        };
        let Some(client_id) = account
            .setting("client_id")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            return Err(permanent(
                "no X client id is set for this account — enter your X app's client id in Settings → X (or run `outpost accounts connect x`), then reconnect the account",
            ));
        };
        let endpoint = TokenEndpoint {
            token_url: self.token_url.clone(),
            client_id: client_id.to_string(),
            client_secret: self.client_secret().await?,
            auth: ClientAuth::Basic,
        };
        let started = Instant::now();
        let result = endpoint
            .refresh(&self.http, &refresh_token, Utc::now())
            .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let said = |m: &str| sanitize_message(m.split(" — ").next().unwrap_or(m), 160);
        match result {
            Ok(tokens) => {
                // The old refresh token is dead now: save the new pair before anything else.
                self.save_tokens(&account.id, tokens).await?;
                tracing::info!(
                    network = NET.as_str(),
                    account = account.id.as_str(),
                    duration_ms,
                    "x tokens refreshed"
                );
                Ok(())
            }
            Err(OAuthError::Revoked(m)) => Err(reauth(format!(
                "X refused the refresh token ({}) — the sign-in was revoked or already used; connect the account again",
                said(&m)
            ))),
            // X answers `invalid_request` "Value passed for the token was invalid." for a spent
            // or revoked refresh token (3P); the README's error table classes it reauth-needed.
            Err(OAuthError::Client(m)) if m.contains("invalid_request") => Err(reauth(format!(
                "X refused the refresh token ({}) — the sign-in was revoked or already used; connect the account again",
                said(&m)
            ))),
            Err(OAuthError::Client(m)) => Err(permanent(format!(
                "X's token endpoint refused the app ({}) — check the X client id (and secret, for a confidential app) in Settings → X",
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
        self.me(&auth, "checking the account").await.map(|_| ())
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        Some(
            OAuthProfile {
                network: "x",
                authorize_url: AUTHORIZE_URL.to_string(),
                token_url: self.token_url.clone(),
                scopes: SCOPES.to_vec(),
                scope_separator: " ",
                pkce: Pkce::S256,
                client_auth: ClientAuth::Basic,
                client_id_param: "client_id",
                needs_secret: false,
                redirect: RedirectRule::LoopbackFixedPort(REDIRECT_PORT),
                redirect_path: REDIRECT_PATH,
                extra_authorize_params: Vec::new(),
            }
            .with_env_overrides(),
        )
    }

    async fn identify(
        &self,
        tokens: &OAuthTokens,
        _settings: &Value,
    ) -> Result<Identity, PublishError> {
        let auth = Auth {
            account_id: "(connecting)".into(),
            tokens: tokens.clone(),
        };
        let data = self.me(&auth, "reading the connected account").await?;
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(remote_id), Some(handle)) = (text("id"), text("username")) else {
            return Err(transient(
                "X described the account without an id or username — Outpost will retry",
            ));
        };
        let mut settings = json!({});
        if let Some(v) = text("verified_type") {
            settings["verified_type"] = json!(v);
        }
        Ok(Identity {
            remote_id,
            handle,
            display_name: text("name"),
            settings,
        })
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
            what: "creating the post".into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: h,
            body: body.into(),
        }
    }

    fn class(status: u16, body: &str) -> ErrorClass {
        classify(&reply(status, body, &[]), &[]).class
    }

    #[test]
    fn errors_are_classified_per_the_table() {
        let unauthorized =
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#;
        assert_eq!(class(401, unauthorized), ErrorClass::Reauth);
        let dup = r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#;
        let e = classify(&reply(403, dup, &[]), &[]);
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e
            .message
            .contains("X refused a duplicate post — change the text"));
        assert_eq!(
            class(
                403,
                r#"{"errors":[{"code":187,"message":"Status is a duplicate."}]}"#
            ),
            ErrorClass::Permanent
        );
        let unsupported = r#"{"title":"Unsupported Authentication","detail":"Authenticating with Unknown is forbidden for this endpoint.","type":"https://api.x.com/2/problems/unsupported-authentication","status":403}"#;
        assert_eq!(class(403, unsupported), ErrorClass::Reauth);
        let e = classify(
            &reply(
                403,
                r#"{"detail":"You are not permitted to perform this action.","type":"about:blank","title":"Forbidden","status":403}"#,
                &[],
            ),
            &[],
        );
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("Read and write"), "{}", e.message);
        assert!(e.message.contains("tweet.write"), "{}", e.message);
        for s in [500, 502, 503, 504] {
            assert!(class(s, "<html>down</html>").is_transient(), "{s}");
        }
        assert_eq!(
            class(
                400,
                r#"{"errors":[{"message":"bad"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.x.com/2/problems/invalid-request"}"#
            ),
            ErrorClass::Permanent
        );
        let capped = r#"{"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.x.com/2/problems/usage-capped"}"#;
        let e = classify(&reply(429, capped, &[]), &[]);
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("credits"), "{}", e.message);
    }

    #[test]
    fn the_exhausted_window_decides_the_wait() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let r = reply(
            429,
            "{}",
            &[
                ("x-rate-limit-remaining", "40"),
                ("x-rate-limit-reset", "1800000900"),
                ("x-user-limit-24hour-remaining", "0"),
                ("x-user-limit-24hour-reset", "1800050000"),
            ],
        );
        let (until, which) = rate_limit(&r.headers, now);
        assert_eq!(until.timestamp(), 1_800_050_000);
        assert!(which.contains("24-hour"));
        let r = reply(
            429,
            "{}",
            &[
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", "1800000900"),
            ],
        );
        assert_eq!(rate_limit(&r.headers, now).0.timestamp(), 1_800_000_900);
        let (until, _) = rate_limit(&HeaderMap::new(), now);
        assert_eq!(until.timestamp(), 1_800_000_900);
    }

    #[test]
    fn timeline_text_matches_despite_tco_links_and_entities() {
        assert!(same_text("a &amp; b", "a & b"));
        assert!(same_text(
            "see https://t.co/abc123",
            "see https://example.com/long/path"
        ));
        assert!(same_text("hello https://t.co/media1", "hello"));
        assert!(same_text(
            "link https://t.co/a https://t.co/media",
            "link https://example.com"
        ));
        assert!(same_text("https://t.co/media", ""));
        assert!(!same_text("hello there", "hello"));
        assert!(!same_text("other text https://t.co/x", "text"));
    }

    #[test]
    fn problem_summaries_prefer_the_specific_message() {
        let p = Problem::parse(
            r#"{"errors":[{"message":"Your media IDs are invalid."}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.x.com/2/problems/invalid-request"}"#,
        );
        assert_eq!(p.summary(), "Your media IDs are invalid.");
        let p = Problem::parse(r#"{"title":"Forbidden","detail":"Forbidden"}"#);
        assert_eq!(p.summary(), "Forbidden");
    }
}
