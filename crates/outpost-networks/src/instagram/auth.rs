//! Tokens: loading them (off the async threads), renewing them per set-up, and finding out
//! whom a new sign-in belongs to.
//!
//! - **Instagram Login:** the code exchange gives a short-lived token (1 h); `ig_exchange_token`
//!   (with the app secret) turns it into a long-lived one (60 days), which `ig_refresh_token`
//!   renews once it is at least 24 h old and not expired (no secret). There is no separate
//!   refresh token: the long-lived token renews itself, so Outpost also stores it as the
//!   refresh token, which tells the engine it can be renewed before it expires.
//! - **Facebook Login:** `fb_exchange_token` (app id + secret) turns a short-lived user token
//!   into a long-lived one; there is no refresh grant (facebook.md), so after about 60 days the
//!   account is connected again.

use super::{failed, permanent, reauth, transient, Auth, Call, Instagram, Login, NET, RECONNECT};
use crate::graph::{self, GraphError};
use crate::http;
use crate::secrets;
use crate::Identity;
use chrono::Utc;
use outpost_auth::{OAuthTokens, Secret};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, PublishError};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// What Outpost asks for on Instagram Login: the profile, publishing, and comments (the first
/// comment). The old `business_*` names were deprecated on 2025-01-27.
pub const SCOPES: [&str; 3] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
];
/// What the Facebook Login set-up needs (for the docs: Outpost does not run that dialog).
pub const FACEBOOK_SCOPES: [&str; 5] = [
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "pages_read_engagement",
    "pages_show_list",
];
/// A token whose lifetime is at most this is a short-lived one (Meta's are 1–2 h).
const SHORT_LIVED: chrono::Duration = chrono::Duration::hours(3);

/// The secret-store owner under which `identify` leaves the long-lived tokens it obtained
/// for the account about to be created (`ig_user_id` = the account's remote id); the engine's
/// `adopt`, or the account's first call, moves them to the account.
pub fn staged_owner(ig_user_id: &str) -> String {
    format!("instagram-connect:{ig_user_id}")
}

/// Whether `tokens` are short-lived: a known lifetime of at most a few hours. `None` when the
/// lifetime is unknown (the code exchange sends no `expires_in`).
fn short_lived(tokens: &OAuthTokens) -> Option<bool> {
    tokens
        .expires_at
        .map(|at| at - tokens.issued_at <= SHORT_LIVED)
}
/// `ig_refresh_token` refuses tokens younger than this.
const REFRESH_MIN_AGE: chrono::Duration = chrono::Duration::hours(24);

impl Instagram {
    async fn load_tokens(&self, account_id: &str) -> Result<Option<OAuthTokens>, PublishError> {
        secrets::load_tokens(&self.secrets, NET, account_id).await
    }

    async fn save_tokens(&self, account_id: &str, tokens: OAuthTokens) -> Result<(), PublishError> {
        secrets::save_tokens(&self.secrets, NET, account_id, tokens).await
    }

    async fn client_secret(&self) -> Result<Option<Secret>, PublishError> {
        secrets::client_secret(&self.secrets, NET).await
    }

    async fn delete_tokens(&self, owner: &str) -> Result<(), PublishError> {
        secrets::delete_tokens(&self.secrets, NET, owner).await
    }

    /// Moves long-lived tokens `identify` left for this account to the account's own key.
    /// Returns whether there were any.
    pub async fn adopt_staged(&self, account: &Account) -> Result<bool, PublishError> {
        let Some(id) = account
            .remote_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(false);
        };
        let owner = staged_owner(id);
        let Some(tokens) = self.load_tokens(&owner).await? else {
            return Ok(false);
        };
        self.save_tokens(&account.id, tokens).await?;
        self.delete_tokens(&owner).await?;
        tracing::info!(
            network = NET.as_str(),
            account = account.id.as_str(),
            "instagram long-lived token from connecting moved to the account"
        );
        Ok(true)
    }

    /// The account's tokens and Instagram id, for `login`'s host. Tokens left by connecting
    /// are adopted first; an Instagram Login long-lived token without a refresh token gets
    /// itself in that slot (it renews itself), so the engine renews it before it expires.
    pub(super) async fn auth_for(
        &self,
        account: &Account,
        login: Login,
    ) -> Result<Auth, PublishError> {
        self.adopt_staged(account).await?;
        let Some(mut tokens) = self.load_tokens(&account.id).await? else {
            return Err(reauth(
                "no Instagram sign-in is stored for this account — connect the account again",
            ));
        };
        let Some(user_id) = account
            .remote_id
            .clone()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
        else {
            return Err(reauth(
                "the account's Instagram id is unknown — connect the account again",
            ));
        };
        if login == Login::Instagram
            && tokens.refresh_token.is_none()
            && short_lived(&tokens) == Some(false)
        {
            tokens.refresh_token = Some(tokens.access_token.clone());
            self.save_tokens(&account.id, tokens.clone()).await?;
            tracing::info!(
                network = NET.as_str(),
                account = account.id.as_str(),
                "instagram long-lived token marked as renewable"
            );
        }
        Ok(Auth {
            account_id: account.id.clone(),
            tokens,
            login,
            user_id,
        })
    }

    fn renewal_gate(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.renewals.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(account_id.to_string()).or_default())
    }

    /// One renewal of the account's token, per its set-up (see the module docs).
    pub(super) async fn renew(&self, account: &Account) -> Result<(), PublishError> {
        let gate = self.renewal_gate(&account.id);
        let _held = gate.lock().await;
        let Some(tokens) = self.load_tokens(&account.id).await? else {
            return Err(reauth(
                "no Instagram sign-in is stored for this account — connect the account again",
            ));
        };
        let login = Login::of(account);
        let now = Utc::now();
        if let Some(at) = tokens.expires_at.filter(|at| *at <= now) {
            return Err(reauth(format!(
                "the Instagram sign-in expired on {} and an expired token cannot be renewed — connect the account again",
                at.format("%Y-%m-%d")
            )));
        }
        let short = short_lived(&tokens) == Some(true);
        let client_id = account
            .setting("client_id")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let renewed = match (login, short) {
            (_, true) => {
                self.exchange_for_long_lived(&tokens, login, client_id.as_deref())
                    .await?
            }
            (Login::Instagram, false) => {
                if now - tokens.issued_at < REFRESH_MIN_AGE {
                    // Instagram refuses younger tokens; this one still works (the engine asks
                    // before it expires, or after the API refused it — then the next call
                    // decides).
                    tracing::info!(
                        network = NET.as_str(),
                        account = account.id.as_str(),
                        "instagram token younger than 24 h: nothing to renew yet"
                    );
                    return Ok(());
                }
                self.ig_refresh(&tokens).await?
            }
            (Login::Facebook, false) => {
                return Err(reauth(
                    "Facebook Login tokens last about 60 days and cannot be renewed (Meta has no refresh grant) — connect the account again",
                ))
            }
        };
        let expires_at = renewed.expires_at;
        self.save_tokens(&account.id, renewed).await?;
        tracing::info!(
            network = NET.as_str(),
            account = account.id.as_str(),
            login = login.as_str(),
            expires_at = ?expires_at,
            "instagram token renewed"
        );
        Ok(())
    }

    /// Short → long-lived: `ig_exchange_token` (Instagram Login) or `fb_exchange_token`
    /// (Facebook Login), both with the app secret. For a connect flow that can post-process
    /// the code exchange's tokens.
    pub async fn exchange_for_long_lived(
        &self,
        tokens: &OAuthTokens,
        login: Login,
        client_id: Option<&str>,
    ) -> Result<OAuthTokens, PublishError> {
        let Some(secret) = self.client_secret().await? else {
            return Err(permanent(
                "the Instagram app's secret is not stored — enter it in Settings › App credentials (or `outpost apps set instagram --client-secret-stdin`)",
            ));
        };
        let token = tokens.access_token.expose();
        let (url, query): (String, Vec<(&str, &str)>) = match login {
            Login::Instagram => (
                format!("{}/access_token", self.instagram_graph),
                vec![
                    ("grant_type", "ig_exchange_token"),
                    ("client_secret", secret.expose()),
                    ("access_token", token),
                ],
            ),
            Login::Facebook => {
                let Some(client_id) = client_id else {
                    return Err(permanent(
                        "no app id is set for this account — enter the Meta app's id in Settings › App credentials (or `outpost apps set instagram --client-id …`), then reconnect",
                    ));
                };
                (
                    self.graph_url(Login::Facebook, "oauth/access_token"),
                    vec![
                        ("grant_type", "fb_exchange_token"),
                        ("client_id", client_id),
                        ("client_secret", secret.expose()),
                        ("fb_exchange_token", token),
                    ],
                )
            }
        };
        let secrets = [token, secret.expose()];
        self.token_call(&url, &query, &secrets, tokens, login).await
    }

    /// `ig_refresh_token` (no secret).
    async fn ig_refresh(&self, tokens: &OAuthTokens) -> Result<OAuthTokens, PublishError> {
        let token = tokens.access_token.expose();
        let url = format!("{}/refresh_access_token", self.instagram_graph);
        let query = [("grant_type", "ig_refresh_token"), ("access_token", token)];
        self.token_call(&url, &query, &[token], tokens, Login::Instagram)
            .await
    }

    /// One GET to a token endpoint, answered `{"access_token","token_type","expires_in"}`.
    async fn token_call(
        &self,
        url: &str,
        query: &[(&str, &str)],
        secrets: &[&str],
        old: &OAuthTokens,
        login: Login,
    ) -> Result<OAuthTokens, PublishError> {
        let started = Instant::now();
        let resp = self
            .http
            .get(url)
            .query(query)
            .send()
            .await
            .map_err(|e| {
                transient(format!(
                    "the sign-in server did not answer while renewing the sign-in ({}) — Outpost will retry",
                    http::transport_reason(&e)
                ))
            })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        tracing::debug!(
            network = NET.as_str(),
            status,
            duration_ms = started.elapsed().as_millis() as u64,
            "instagram token request"
        );
        let v: Option<Value> = serde_json::from_str(&body).ok();
        let access = v
            .as_ref()
            .and_then(|v| v.get("access_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        if let (true, Some(access)) = ((200..300).contains(&status), access) {
            let expires_in = v.as_ref().and_then(|v| {
                let e = v.get("expires_in")?;
                e.as_i64().or_else(|| e.as_str()?.trim().parse().ok())
            });
            let access = Secret::new(access);
            // Instagram Login: the long-lived token renews itself (see the module docs).
            let refresh = (login == Login::Instagram).then(|| access.clone());
            return Ok(OAuthTokens::from_response(
                access,
                refresh,
                expires_in,
                None,
                old.scope.clone(),
                Utc::now(),
            ));
        }
        // Graph envelope, or the legacy flat `{"error_type","code","error_message"}`.
        let err = GraphError::parse(&body).unwrap_or_else(|| {
            let text = |k: &str| {
                v.as_ref()
                    .and_then(|v| v.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            GraphError {
                message: text("error_message").unwrap_or_else(|| format!("HTTP {status}")),
                kind: text("error_type"),
                ..GraphError::default()
            }
        });
        let classified = graph::classify(
            NET,
            "renewing the sign-in",
            status,
            &err,
            &headers,
            Utc::now(),
        );
        let said = sanitize_message(&redact(&err.describe(), secrets), 160);
        let e = match classified.class {
            ErrorClass::Reauth => PublishError::new(
                NET,
                ErrorClass::Reauth,
                format!("Instagram refused to renew the sign-in ({said}) — {RECONNECT}"),
            ),
            ErrorClass::Permanent => PublishError::new(
                NET,
                ErrorClass::Permanent,
                format!(
                    "Instagram refused to renew the sign-in ({said}) — check the app's id and secret in Settings › App credentials, then reconnect the account"
                ),
            ),
            class => PublishError::new(
                NET,
                class,
                format!("could not renew the sign-in ({said}) — Outpost will retry"),
            ),
        };
        Err(e.with_excerpt(&body, secrets))
    }

    /// Who a new sign-in is: Instagram Login's `/me`, else the Facebook Pages it manages.
    pub(super) async fn who_am_i(
        &self,
        tokens: &OAuthTokens,
        settings: &Value,
    ) -> Result<Identity, PublishError> {
        let hint = settings
            .get("login")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        // Facebook tokens start with "EAA", Instagram User tokens with "IG": only an ordering
        // hint, both set-ups are tried.
        let facebook_first = hint.as_deref() == Some("facebook")
            || (hint.is_none() && tokens.access_token.expose().starts_with("EAA"));
        let order: Vec<Login> = match hint.as_deref() {
            Some("instagram") => vec![Login::Instagram],
            Some("facebook") => vec![Login::Facebook],
            _ if facebook_first => vec![Login::Facebook, Login::Instagram],
            _ => vec![Login::Instagram, Login::Facebook],
        };
        let mut errors = Vec::new();
        for login in order {
            let found = match login {
                Login::Instagram => self.identify_instagram(tokens, settings).await,
                Login::Facebook => self.identify_facebook(tokens, settings).await,
            };
            match found {
                Ok(Some(identity)) => {
                    self.stage_long_lived(tokens, login, settings, &identity)
                        .await?;
                    return Ok(identity);
                }
                Ok(None) => {}
                // A network problem says nothing about the set-up: stop here.
                Err(e) if e.class.is_transient() => return Err(e),
                Err(e) => errors.push(e),
            }
        }
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Err(permanent(
                "this sign-in is neither an Instagram Login token nor a Facebook Login token of a Page with a linked Instagram professional account — link the Instagram account to a Facebook Page, or connect with Instagram Login",
            )),
        }
    }

    /// Connecting gives a short-lived token (the code exchange's 1 h): exchange it for a
    /// long-lived one now, and leave it for the account (see [`staged_owner`]). A token of
    /// unknown lifetime is tried too; if Instagram refuses to exchange it, it is taken as
    /// long-lived already.
    async fn stage_long_lived(
        &self,
        tokens: &OAuthTokens,
        login: Login,
        settings: &Value,
        identity: &Identity,
    ) -> Result<(), PublishError> {
        let known_short = match short_lived(tokens) {
            Some(false) => return Ok(()),
            Some(true) => true,
            None if tokens.refresh_token.is_some() => return Ok(()),
            None => false,
        };
        let client_id = settings
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|c| !c.is_empty());
        match self.exchange_for_long_lived(tokens, login, client_id).await {
            Ok(long) => {
                self.save_tokens(&staged_owner(&identity.remote_id), long)
                    .await?;
                tracing::info!(
                    network = NET.as_str(),
                    login = login.as_str(),
                    "instagram short-lived token exchanged for a long-lived one while connecting"
                );
                Ok(())
            }
            Err(e) if known_short || e.class.is_transient() => Err(e),
            Err(e) => {
                tracing::info!(
                    network = NET.as_str(),
                    error = %e.message,
                    "instagram token not exchanged while connecting; taken as long-lived"
                );
                Ok(())
            }
        }
    }

    fn connecting(&self, tokens: &OAuthTokens, login: Login) -> Auth {
        Auth {
            account_id: "(connecting)".into(),
            tokens: tokens.clone(),
            login,
            user_id: String::new(),
        }
    }

    async fn identify_instagram(
        &self,
        tokens: &OAuthTokens,
        settings: &Value,
    ) -> Result<Option<Identity>, PublishError> {
        let auth = self.connecting(tokens, Login::Instagram);
        let call = Call::get("me".into(), "GET /me", "reading the connected account").query(
            "fields",
            "user_id,username,name,profile_picture_url,account_type",
        );
        let reply = self.send(&auth, call).await?;
        if !reply.ok() {
            return Err(failed(&reply, &auth.secrets()));
        }
        let Some(v) = reply.json() else {
            return Ok(None);
        };
        let text = |k: &str| match v.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let (Some(username), Some(remote_id)) = (text("username"), text("user_id").or(text("id")))
        else {
            return Ok(None);
        };
        let mut out = base_settings(settings);
        out.insert("login".into(), json!("instagram"));
        if let Some(id) = text("id") {
            out.insert("app_scoped_id".into(), json!(id));
        }
        if let Some(t) = text("account_type") {
            out.insert("account_type".into(), json!(t));
        }
        Ok(Some(Identity {
            remote_id,
            handle: username,
            display_name: text("name"),
            settings: Value::Object(out),
        }))
    }

    async fn identify_facebook(
        &self,
        tokens: &OAuthTokens,
        settings: &Value,
    ) -> Result<Option<Identity>, PublishError> {
        let auth = self.connecting(tokens, Login::Facebook);
        let fields = "id,name,instagram_business_account{id,username,name}";
        let pages = Call::get(
            "me/accounts".into(),
            "GET /me/accounts",
            "listing the Facebook Pages of the sign-in",
        )
        .query("fields", fields);
        let reply = self.send(&auth, pages).await?;
        let mut candidates: Vec<Value> = Vec::new();
        if reply.ok() {
            if let Some(v) = reply.json() {
                candidates.extend(
                    v.get("data")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
        if candidates.is_empty() {
            // A Page token: `/me` is the Page.
            let me = Call::get("me".into(), "GET /me", "reading the connected Page")
                .query("fields", fields);
            let reply = self.send(&auth, me).await?;
            if !reply.ok() {
                return Err(failed(&reply, &auth.secrets()));
            }
            if let Some(v) = reply.json() {
                candidates.push(v);
            }
        }
        let wanted_page = settings.get("page_id").and_then(Value::as_str);
        let Some(page) = candidates.iter().find(|p| {
            p.get("instagram_business_account").is_some()
                && wanted_page.is_none_or(|w| p.get("id").and_then(Value::as_str) == Some(w))
        }) else {
            return Ok(None);
        };
        let iba = &page["instagram_business_account"];
        let text = |v: &Value, k: &str| match v.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let Some(remote_id) = text(iba, "id") else {
            return Ok(None);
        };
        let handle = text(iba, "username").unwrap_or_else(|| remote_id.clone());
        let mut out = base_settings(settings);
        out.insert("login".into(), json!("facebook"));
        if let Some(id) = text(page, "id") {
            out.insert("page_id".into(), json!(id));
        }
        if let Some(name) = text(page, "name") {
            out.insert("page_name".into(), json!(name));
        }
        Ok(Some(Identity {
            remote_id,
            handle,
            display_name: text(iba, "name"),
            settings: Value::Object(out),
        }))
    }
}

fn base_settings(settings: &Value) -> Map<String, Value> {
    match settings {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    }
}
