//! Threads (Threads API v1.0 at `graph.threads.net`): text, image, video and carousel posts, link
//! attachments, self-reply threads, a first comment (a final reply), and reconciliation by
//! listing the account's posts and replies. See `docs/platforms/threads.md`.
//!
//! - **Auth:** the user's own Threads app (app id + secret). The code exchange gives a 1-hour
//!   token; [`Threads::exchange_long_lived`] trades it for a 60-day one (`th_exchange_token`,
//!   needs the secret). Connecting calls [`Publisher::identify`] before the engine saves the
//!   tokens, so the exchange happens there and the long-lived set waits in the secret store,
//!   keyed by a hash of the short-lived token, until the account's first call adopts it.
//!   Threads has no refresh token: the long-lived token itself is renewed
//!   (`th_refresh_token`, no secret), so Outpost stores it in the `refresh_token` slot too —
//!   that is what makes the engine renew it within 7 days of expiry.
//! - **Refresh rule:** Threads refuses to renew a token younger than 24 hours ("Token must be
//!   at least 24 hours old to refresh") and an expired one. [`Publisher::refresh`] never sends a
//!   young token: an expired one is `Reauth` (nothing can renew it), an unexpired one is left
//!   alone and `Ok` is returned — it still works, and if the engine asked because a call was
//!   refused, the engine repeats that call once and the network's own answer decides (a dead
//!   young token then marks the account needs-reconnect, which is right: Threads cannot renew
//!   it). Returning `Transient` instead would hold back every post for a day although the
//!   token works.
//! - **Publishing:** text posts are one call (`auto_publish_text=true`). Images, videos and
//!   carousels (2–20 items, children created with `is_carousel_item`) are containers made from
//!   the staged public URLs (`options.media_urls`), polled (`IN_PROGRESS` / `FINISHED` /
//!   `ERROR` / `EXPIRED` / `PUBLISHED`) in [`Publisher::poll`] steps about 30 s then 60 s apart,
//!   then `threads_publish`ed. The phase keeps the container ids, the URLs and `expires_at`
//!   (containers die after 24 h), so a restarted dispatcher continues where it was.
//! - **Quota:** `threads_publishing_limit` is read before each publish; a used-up quota is
//!   `RateLimited` until the oldest post of the rolling window leaves it.
//! - **Errors:** every Graph error goes through [`crate::graph::classify`].
//!
//! Nothing here sleeps or retries. Tokens go in the documented `access_token` parameter and
//! never reach a log line, a message or an excerpt.

mod lookup;
mod plan;
mod publish;

use crate::graph::{self, GraphError};
use crate::http;
use crate::secrets;
use crate::{Identity, Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use outpost_auth::oauth::{ClientAuth, OAuthProfile, Pkce, RedirectRule};
use outpost_auth::{account_key, client_secret_key, OAuthTokens, Secret, SecretStore};
use outpost_core::error::sanitize_message;
use outpost_core::{Account, ErrorClass, Network, Part, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NET: Network = Network::Threads;
/// The API host (`OUTPOST_THREADS_BASE_URL` replaces it; paths stay the same).
pub const DEFAULT_BASE_URL: &str = "https://graph.threads.net";
/// The API version prefix of data calls.
pub const API_VERSION: &str = "v1.0";
/// The authorization page (threads.md: `threads.com`, older docs `threads.net`; both work).
pub const AUTHORIZE_URL: &str = "https://threads.net/oauth/authorize";
/// Code → short-lived token, on the API host.
pub const TOKEN_PATH: &str = "/oauth/access_token";
/// Short-lived → long-lived token (`th_exchange_token`).
pub const EXCHANGE_PATH: &str = "/access_token";
/// Renewing a long-lived token (`th_refresh_token`).
pub const REFRESH_PATH: &str = "/refresh_access_token";
/// What Outpost asks for: every call needs `threads_basic`, publishing
/// `threads_content_publish`.
pub const SCOPES: [&str; 2] = ["threads_basic", "threads_content_publish"];
/// Threads renews only tokens at least this old.
pub const MIN_REFRESH_AGE: chrono::Duration = chrono::Duration::hours(24);
/// How long after creation a container is first checked (Meta: "about 30 seconds on
/// average"); later checks wait twice as long (Meta suggests once a minute).
pub const DEFAULT_POLL_WAIT: Duration = Duration::from_secs(30);
/// `OUTPOST_THREADS_POLL_SECS` replaces [`DEFAULT_POLL_WAIT`] (tests, slow deployments).
pub const POLL_ENV: &str = "OUTPOST_THREADS_POLL_SECS";
const RECONNECT: &str = "reconnect the account in Accounts (or `outpost accounts connect threads`)";

/// The Threads publisher. Cheap to share (`Arc`); one per process.
pub struct Threads {
    base: String,
    token_url: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    poll_wait: Duration,
}

impl fmt::Debug for Threads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Threads")
            .field("base", &self.base)
            .field("token_url", &self.token_url)
            .field("poll_wait", &self.poll_wait)
            .finish_non_exhaustive()
    }
}

impl Threads {
    /// The API at `OUTPOST_THREADS_BASE_URL` (default `https://graph.threads.net`); the code
    /// exchange at `OUTPOST_THREADS_TOKEN_URL`, else `/oauth/access_token` on that host; the
    /// container check interval from `OUTPOST_THREADS_POLL_SECS` (default 30 s).
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> Threads {
        let base = http::base_url(NET, DEFAULT_BASE_URL);
        let token_url = http::env_url("OUTPOST_THREADS_TOKEN_URL", &format!("{base}{TOKEN_PATH}"));
        let mut t = Threads::new(base, secrets).with_token_url(token_url);
        if let Some(secs) = std::env::var(POLL_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
        {
            t.poll_wait = Duration::from_secs_f64(secs);
        }
        t
    }

    /// A publisher talking to `base_url` (the `graph.threads.net` stand-in: data calls under
    /// `/v1.0/`, token calls at the root).
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> Threads {
        let base = base_url.into().trim().trim_end_matches('/').to_string();
        Threads {
            token_url: format!("{base}{TOKEN_PATH}"),
            base,
            http: http::client(),
            secrets,
            poll_wait: DEFAULT_POLL_WAIT,
        }
    }

    /// Replaces the HTTP client (tests use a short timeout).
    pub fn with_http_client(mut self, client: reqwest::Client) -> Threads {
        self.http = client;
        self
    }

    pub fn with_token_url(mut self, url: impl Into<String>) -> Threads {
        self.token_url = url.into().trim().to_string();
        self
    }

    /// The wait before the first container check (later checks wait twice as long).
    pub fn with_poll_interval(mut self, wait: Duration) -> Threads {
        self.poll_wait = wait;
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

    /// One request with the account's token as the `access_token` parameter.
    async fn send(&self, auth: &Auth, call: Call) -> Result<Reply, PublishError> {
        let url = if call.path.starts_with('/') {
            format!("{}{}", self.base, call.path)
        } else {
            format!("{}/{API_VERSION}/{}", self.base, call.path)
        };
        let token = auth.tokens.access_token.expose();
        let mut rb = self.http.request(call.method.clone(), &url);
        let mut query = call.query.clone();
        if call.method == Method::GET || call.method == Method::DELETE {
            query.push(("access_token", token.to_string()));
            rb = rb.query(&query);
        } else {
            if !query.is_empty() {
                rb = rb.query(&query);
            }
            let mut form = call.form.clone();
            form.push(("access_token", token.to_string()));
            rb = rb.form(&form);
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
            app_usage = graph::app_usage_percent(&headers),
            "threads request"
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

    async fn store_delete(&self, key: String) {
        if secrets::delete(&self.secrets, NET, key).await.is_err() {
            tracing::warn!(
                network = NET.as_str(),
                "could not remove a used token hand-over from the secret store"
            );
        }
    }

    async fn store_set(&self, key: String, value: Secret) -> Result<(), PublishError> {
        secrets::set(&self.secrets, NET, key, value).await
    }

    async fn load_tokens(&self, account_id: &str) -> Result<Option<OAuthTokens>, PublishError> {
        secrets::load_tokens(&self.secrets, NET, account_id).await
    }

    async fn save_tokens(&self, account_id: &str, tokens: OAuthTokens) -> Result<(), PublishError> {
        secrets::save_tokens(&self.secrets, NET, account_id, tokens).await
    }

    async fn client_secret(&self) -> Result<Option<Secret>, PublishError> {
        Ok(self
            .store_get(client_secret_key(NET.as_str()))
            .await?
            .filter(|s| !s.is_empty()))
    }

    /// The account's tokens, upgraded on the way (see [`Threads::upgrade`]).
    async fn auth(&self, account: &Account) -> Result<Auth, PublishError> {
        let Some(tokens) = self.load_tokens(&account.id).await? else {
            return Err(reauth(
                "no Threads sign-in is stored for this account — connect the account again",
            ));
        };
        let tokens = self.upgrade(&account.id, tokens).await;
        Ok(Auth {
            account_id: account.id.clone(),
            user_path: account
                .remote_id
                .clone()
                .filter(|id| !id.trim().is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or_else(|| "me".into()),
            tokens,
        })
    }

    /// Makes stored tokens long-lived and renewable, once:
    /// 1. a long-lived set that [`Publisher::identify`] obtained while connecting replaces the
    ///    short-lived token the engine saved;
    /// 2. a short-lived token still in its first hour is exchanged now (needs the app secret);
    /// 3. a long-lived token gets itself in the `refresh_token` slot, so the engine renews it.
    ///
    /// Never fails: trouble is logged and the tokens are used as they are.
    async fn upgrade(&self, account_id: &str, tokens: OAuthTokens) -> OAuthTokens {
        if tokens.refresh_token.is_some() {
            return tokens;
        }
        let now = Utc::now();
        let key = handover_key(&tokens.access_token);
        if let Ok(Some(stashed)) = self.store_get(key.clone()).await {
            if let Some(long) = OAuthTokens::from_secret(&stashed) {
                let long = renewable(long);
                if self.save_tokens(account_id, long.clone()).await.is_ok() {
                    self.store_delete(key).await;
                    tracing::info!(
                        network = NET.as_str(),
                        account = account_id,
                        "threads long-lived token from connecting adopted"
                    );
                    return long;
                }
            }
        }
        if is_short_lived(&tokens) {
            if now - tokens.issued_at >= chrono::Duration::hours(1) {
                return tokens;
            }
            let Ok(Some(secret)) = self.client_secret().await else {
                return tokens;
            };
            match self
                .exchange_long_lived(&tokens.access_token, &secret, tokens.scope.clone())
                .await
            {
                Ok(long) => {
                    if self.save_tokens(account_id, long.clone()).await.is_ok() {
                        return long;
                    }
                }
                Err(e) => tracing::warn!(
                    network = NET.as_str(),
                    account = account_id,
                    class = e.class.name(),
                    error = %e.message,
                    "threads: could not exchange the short-lived token"
                ),
            }
            return tokens;
        }
        let long = renewable(tokens.clone());
        if self.save_tokens(account_id, long.clone()).await.is_ok() {
            return long;
        }
        tokens
    }

    // -----------------------------------------------------------------------------------------
    // Tokens

    /// `GET /access_token?grant_type=th_exchange_token`: a short-lived token (1 hour) for a
    /// long-lived one (60 days). Needs the Threads app secret. The result carries the token in
    /// its `refresh_token` slot too (see the module documentation).
    pub async fn exchange_long_lived(
        &self,
        short: &Secret,
        app_secret: &Secret,
        scope: Option<String>,
    ) -> Result<OAuthTokens, PublishError> {
        let url = format!("{}{EXCHANGE_PATH}", self.base);
        let query = [
            ("grant_type", "th_exchange_token"),
            ("client_secret", app_secret.expose()),
            ("access_token", short.expose()),
        ];
        let secrets = [short.expose(), app_secret.expose()];
        self.token_call(
            &url,
            &query,
            &secrets,
            "exchanging the sign-in for a 60-day one",
            scope,
        )
        .await
    }

    /// One GET to a token endpoint answering `{"access_token","token_type","expires_in"}`.
    async fn token_call(
        &self,
        url: &str,
        query: &[(&str, &str)],
        secrets: &[&str],
        what: &str,
        scope: Option<String>,
    ) -> Result<OAuthTokens, PublishError> {
        let started = Instant::now();
        let resp = self
            .http
            .get(url)
            .query(query)
            .send()
            .await
            .map_err(|e| http::send_error(NET, what, &e, false))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        tracing::debug!(
            network = NET.as_str(),
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "threads token call"
        );
        let now = Utc::now();
        if status.is_success() {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let access = v
                .get("access_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty());
            let Some(access) = access else {
                return Err(transient(format!(
                    "Threads answered {what} without a token (HTTP {}) — Outpost will retry",
                    status.as_u16()
                ))
                .with_excerpt(&body, secrets));
            };
            let expires_in = v
                .get("expires_in")
                .and_then(|x| x.as_i64().or_else(|| x.as_str()?.trim().parse().ok()));
            let access = Secret::new(access);
            return Ok(OAuthTokens::from_response(
                access.clone(),
                Some(access),
                expires_in,
                None,
                scope,
                now,
            ));
        }
        let err = graph_or_flat_error(&body);
        Err(
            graph::classify(NET, what, status.as_u16(), &err, &headers, now)
                .with_excerpt(&body, secrets),
        )
    }

    /// `GET /v1.0/me` with the given tokens.
    async fn me(&self, auth: &Auth, what: &str) -> Result<Value, PublishError> {
        let call = Call::get("me", "GET /me", what).query("fields", "id,username,name");
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(self.classify(&reply, auth, &[]));
        }
        match reply.json() {
            Some(v) if id_of(&v).is_some() => Ok(v),
            _ => Err(malformed(&reply, auth)),
        }
    }

    /// A failed call's error, classified by [`graph::classify`]; `urls` (staged media
    /// addresses, which carry signatures) are replaced by a neutral word in the message.
    fn classify(&self, reply: &Reply, auth: &Auth, urls: &[String]) -> PublishError {
        let err = GraphError::parse(&reply.body).unwrap_or_default();
        let mut e = graph::classify(
            NET,
            &reply.what,
            reply.status.as_u16(),
            &err,
            &reply.headers,
            Utc::now(),
        );
        if e.class == ErrorClass::Reauth {
            // Meta's token messages are long and a card keeps 200 characters: the fix first.
            e.message = format!(
                "Threads: the sign-in no longer works — {RECONNECT} ({})",
                err.describe()
            );
        }
        for u in urls.iter().filter(|u| !u.is_empty()) {
            e.message = e.message.replace(u.as_str(), "<staged file>");
        }
        if e.message.contains(publish::LINK_LIMIT_EXCEEDED) {
            e.message = format!(
                "{} — a Threads post may carry at most 5 links; remove some",
                e.message
            );
        }
        let mut secrets = auth.secrets();
        secrets.extend(urls.iter().map(String::as_str));
        e.with_excerpt(&reply.body, &secrets)
    }
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Publisher for Threads {
    fn network(&self) -> Network {
        NET
    }

    /// Threads has no client-chosen id for a post.
    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        match self.start(req).await? {
            PartOutcome::Published(part) => Ok(part),
            PartOutcome::Processing { .. } => Err(permanent(
                "internal error: Threads media posts are published in two phases (start, then poll) — report this bug",
            )),
        }
    }

    /// Text posts are published at once; media posts create their containers and return
    /// `Processing`.
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let plan = plan::plan_part(req)?;
        let urls = plan::media_urls(&plan, req.options)?;
        let auth = self.auth(req.account).await?;
        self.start_part(&auth, req, &plan, &urls, 0).await
    }

    /// One check of the containers; publishes once they are ready.
    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let plan = plan::plan_part(req)?;
        let auth = self.auth(req.account).await?;
        self.poll_part(&auth, req, &plan, phase).await
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let auth = self.auth(req.account).await?;
        self.find_part(req, &auth).await
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        let auth = self.auth(account).await?;
        let t = &auth.tokens;
        let now = Utc::now();
        if let Some(at) = t.expires_at.filter(|at| *at <= now) {
            return Err(reauth(format!(
                "the sign-in expired on {} and Threads renews only sign-ins that are still valid — connect the account again",
                at.format("%Y-%m-%d")
            )));
        }
        let age = now - t.issued_at;
        if age < MIN_REFRESH_AGE {
            // Threads: "Token must be at least 24 hours old to refresh". See the module docs.
            tracing::info!(
                network = NET.as_str(),
                account = account.id.as_str(),
                age_minutes = age.num_minutes(),
                "threads token younger than 24 hours: not refreshed (Threads refuses; it still works)"
            );
            return Ok(());
        }
        let url = format!("{}{REFRESH_PATH}", self.base);
        let token = t.access_token.expose();
        let query = [("grant_type", "th_refresh_token"), ("access_token", token)];
        let result = self
            .token_call(
                &url,
                &query,
                &[token],
                "renewing the sign-in",
                t.scope.clone(),
            )
            .await;
        match result {
            Ok(fresh) => {
                self.save_tokens(&account.id, fresh).await?;
                tracing::info!(
                    network = NET.as_str(),
                    account = account.id.as_str(),
                    "threads token refreshed"
                );
                Ok(())
            }
            Err(e) if e.message.contains("24 hours old") => {
                // Threads counts the age from its own clock: the token still works.
                tracing::warn!(
                    network = NET.as_str(),
                    account = account.id.as_str(),
                    "threads refused the refresh as too early; the token is kept"
                );
                Ok(())
            }
            Err(e) => match e.class {
                ErrorClass::RateLimited { .. } | ErrorClass::Transient { .. } => Err(e),
                _ => Err(reauth(format!(
                    "Threads refused to renew the sign-in ({}) — connect the account again",
                    sanitize_message(
                        e.message
                            .trim_start_matches("Threads: ")
                            .split(" — ")
                            .next()
                            .unwrap_or_default(),
                        160
                    )
                ))),
            },
        }
    }

    async fn probe(&self, account: &Account) -> Result<(), PublishError> {
        let auth = self.auth(account).await?;
        self.me(&auth, "checking the account").await.map(|_| ())
    }

    /// Media always go by URL: Threads fetches them ("We will cURL your image").
    fn media_by_url(&self, part: &Part, _options: &Value) -> MediaByUrl {
        if part.media.is_empty() {
            MediaByUrl::No
        } else {
            MediaByUrl::Required
        }
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        Some(
            OAuthProfile {
                network: "threads",
                authorize_url: AUTHORIZE_URL.to_string(),
                token_url: self.token_url.clone(),
                scopes: SCOPES.to_vec(),
                scope_separator: ",",
                // Not documented for Threads (UNCONFIRMED): treated as unavailable.
                pkce: Pkce::None,
                client_auth: ClientAuth::Body,
                client_id_param: "client_id",
                needs_secret: true,
                // HTTPS only, localhost refused: the relay page or a pasted address.
                redirect: RedirectRule::HttpsOnly,
                redirect_path: "/callback",
                extra_authorize_params: Vec::new(),
            }
            .with_env_overrides(),
        )
    }

    /// The long-lived token exchanged while identifying moves under the account now (not at
    /// its first post), so the account's expiry is the token's 60 days and the engine renews
    /// it in time — a browser-connected account kept the 1-hour expiry before.
    async fn adopt(&self, account: &Account) -> Result<bool, PublishError> {
        let Some(before) = self.load_tokens(&account.id).await? else {
            return Ok(false);
        };
        let (was_token, was_expiry) = (before.access_token.expose().to_string(), before.expires_at);
        let after = self.upgrade(&account.id, before).await;
        Ok(after.access_token.expose() != was_token || after.expires_at != was_expiry)
    }

    /// `GET /me`; a short-lived token is exchanged for a long-lived one here, and the result
    /// handed to the account's first call (see the module documentation).
    async fn identify(
        &self,
        tokens: &OAuthTokens,
        _settings: &Value,
    ) -> Result<Identity, PublishError> {
        let auth = Auth {
            account_id: "(connecting)".into(),
            user_path: "me".into(),
            tokens: tokens.clone(),
        };
        let me = self.me(&auth, "reading the connected account").await?;
        let (Some(remote_id), Some(handle)) = (
            id_of(&me),
            me.get("username")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) else {
            return Err(transient(
                "Threads described the account without an id or username — Outpost will retry",
            ));
        };
        if is_short_lived(tokens) && tokens.refresh_token.is_none() {
            match self.client_secret().await? {
                Some(secret) => match self
                    .exchange_long_lived(&tokens.access_token, &secret, tokens.scope.clone())
                    .await
                {
                    Ok(long) => {
                        self.store_set(handover_key(&tokens.access_token), long.to_secret())
                            .await?;
                    }
                    Err(e) => tracing::warn!(
                        network = NET.as_str(),
                        class = e.class.name(),
                        error = %e.message,
                        "threads: the short-lived token could not be exchanged; it lasts an hour"
                    ),
                },
                None => tracing::warn!(
                    network = NET.as_str(),
                    "threads: no app secret, so the 1-hour token cannot be exchanged for a 60-day one"
                ),
            }
        }
        Ok(Identity {
            remote_id,
            handle,
            display_name: me
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .map(str::to_string),
            settings: json!({}),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Plumbing types

/// One API request.
#[derive(Clone)]
pub(crate) struct Call {
    method: Method,
    /// Relative to `/v1.0/` (`me/threads`), or absolute from the host (`/access_token`).
    path: String,
    /// The endpoint without ids, for logs.
    endpoint: &'static str,
    query: Vec<(&'static str, String)>,
    form: Vec<(&'static str, String)>,
    /// The operation in the user's words ("creating the post").
    what: String,
    /// A side effect a retry could repeat (a publish).
    creates: bool,
}

impl Call {
    pub(crate) fn get(
        path: impl Into<String>,
        endpoint: &'static str,
        what: impl Into<String>,
    ) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            endpoint,
            query: Vec::new(),
            form: Vec::new(),
            what: what.into(),
            creates: false,
        }
    }

    pub(crate) fn post(
        path: impl Into<String>,
        endpoint: &'static str,
        what: impl Into<String>,
    ) -> Call {
        Call {
            method: Method::POST,
            ..Call::get(path, endpoint, what)
        }
    }

    pub(crate) fn query(mut self, key: &'static str, value: impl Into<String>) -> Call {
        self.query.push((key, value.into()));
        self
    }

    pub(crate) fn field(mut self, key: &'static str, value: impl Into<String>) -> Call {
        self.form.push((key, value.into()));
        self
    }

    pub(crate) fn creates(mut self) -> Call {
        self.creates = true;
        self
    }
}

/// An HTTP answer, body read.
pub(crate) struct Reply {
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

/// The tokens one operation uses, and the user id for paths (`me` when unknown).
pub(crate) struct Auth {
    account_id: String,
    user_path: String,
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

/// Graph ids arrive as strings, sometimes as numbers (larger than 2^53: never read as floats).
pub(crate) fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => n
            .as_u64()
            .map(|n| n.to_string())
            .or_else(|| n.as_i64().map(|n| n.to_string())),
        _ => None,
    }
}

/// The token endpoints' errors: the Graph envelope, or the flat
/// `{"error_type","code","error_message"}` shape of the code exchange.
fn graph_or_flat_error(body: &str) -> GraphError {
    if let Some(e) = GraphError::parse(body) {
        return e;
    }
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    GraphError {
        message: v
            .get("error_message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        kind: v
            .get("error_type")
            .and_then(Value::as_str)
            .map(str::to_string),
        code: v.get("code").and_then(Value::as_i64),
        ..GraphError::default()
    }
}

/// A token without a known lifetime, or one of a day or less: the code exchange's 1-hour
/// token (it arrives without `expires_in`).
fn is_short_lived(t: &OAuthTokens) -> bool {
    match t.expires_at {
        None => true,
        Some(at) => at - t.issued_at <= chrono::Duration::days(1),
    }
}

/// The long-lived token in its own `refresh_token` slot (the engine renews only tokens that
/// have one).
fn renewable(mut t: OAuthTokens) -> OAuthTokens {
    if t.refresh_token.is_none() {
        t.refresh_token = Some(t.access_token.clone());
    }
    t
}

/// Where [`Publisher::identify`] leaves the long-lived tokens for the account's first call:
/// keyed by a hash of the short-lived token the engine saves for the account.
fn handover_key(short: &Secret) -> String {
    let hash = outpost_core::media::sha256_hex(short.expose().as_bytes());
    account_key(&format!("threads-handover:{}", &hash[..32]), "oauth")
}

// ---------------------------------------------------------------------------------------------
// Errors

pub(crate) fn reauth(message: impl Into<String>) -> PublishError {
    let message = message.into();
    PublishError::new(NET, ErrorClass::Reauth, format!("{message} ({RECONNECT})"))
}

pub(crate) fn permanent(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Permanent, message)
}

pub(crate) fn transient(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Transient { retry_after: None }, message)
}

/// A 2xx answer whose body is not what Threads documents.
pub(crate) fn malformed(reply: &Reply, auth: &Auth) -> PublishError {
    transient(format!(
        "Threads answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
        reply.what,
        reply.status.as_u16()
    ))
    .with_excerpt(&reply.body, &auth.secrets())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_strings_or_big_numbers() {
        let v: Value = serde_json::from_str(r#"{"id":17841405793187218}"#).unwrap_or_default();
        assert_eq!(id_of(&v).as_deref(), Some("17841405793187218"));
        assert_eq!(id_of(&json!({"id": "42"})).as_deref(), Some("42"));
        assert_eq!(id_of(&json!({"id": ""})), None);
    }

    #[test]
    fn the_flat_token_error_shape_is_read() {
        let e = graph_or_flat_error(
            r#"{"error_type":"OAuthException","code":400,"error_message":"Matching code was not found or was already used"}"#,
        );
        assert_eq!(e.code, Some(400));
        assert!(e.message.contains("Matching code"));
        let g = graph_or_flat_error(r#"{"error":{"message":"m","code":190}}"#);
        assert_eq!(g.code, Some(190));
    }

    #[test]
    fn token_lifetimes_decide_short_or_long() {
        let now = Utc::now();
        let t = |expires: Option<i64>| {
            OAuthTokens::from_response(Secret::new("t"), None, expires, None, None, now)
        };
        assert!(is_short_lived(&t(None)));
        assert!(is_short_lived(&t(Some(3600))));
        assert!(!is_short_lived(&t(Some(5_183_944))));
        let r = renewable(t(Some(5_183_944)));
        assert_eq!(
            r.refresh_token.as_ref().map(Secret::expose),
            Some(r.access_token.expose())
        );
        assert_ne!(
            handover_key(&Secret::new("a")),
            handover_key(&Secret::new("b"))
        );
    }
}
