//! Signing in and the tokens (facebook.md "Auth"):
//!
//! - The dialog's code becomes a **short-lived user token** (1–2 h) in the engine's connect
//!   flow. [`Facebook::identify_page`] exchanges it right away for a **long-lived** one
//!   (`grant_type=fb_exchange_token`, needs the App Secret; about 60 days, and there is no
//!   refresh grant), reads `/me` and `/me/accounts`, and picks the Page.
//! - A Page token taken with a long-lived user token does not expire (documented; a legacy
//!   page says 60 days — UNCONFIRMED, so `/debug_token`'s `expires_at` is recorded).
//! - `identify` runs before the account exists (no account id yet), so it leaves the
//!   long-lived user tokens and the Page token under the Page-scoped owner
//!   `facebook-page:<page-id>` ([`staged_owner`]). The first call for the account
//!   ([`Facebook::session`], also reached by `probe` and `refresh`) moves them to the
//!   account's keys: `account_key(account.id, "oauth")` and
//!   `account_key(account.id, "page_token")`. The engine can call [`Facebook::adopt_staged`]
//!   itself right after creating the account.
//! - [`Facebook::renew`] (the trait's `refresh`): adopt staged tokens if any; else renew the
//!   Page token from the stored user token. A dead user token means the user must sign in
//!   again (no refresh grant exists).

use super::{
    graph_failure, malformed, permanent, reauth, text_of, Body, Call, Facebook, Session,
    GRAPH_VERSION, NET, PAGE_TOKEN_KEY,
};
use crate::graph::GraphError;
use crate::{Choice, Identity};
use chrono::{DateTime, SecondsFormat, Utc};
use outpost_auth::{account_key, client_secret_key, OAuthTokens, Secret};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, PublishError};
use serde_json::{json, Value};
use std::time::Instant;

/// Pages of 100 that `/me/accounts` is read through at most.
const ACCOUNT_PAGES: usize = 5;
const CREATE_CONTENT: &str = "CREATE_CONTENT";

/// The secret-store owner under which `identify` leaves a Page's tokens for the account that
/// is about to be created.
pub fn staged_owner(page_id: &str) -> String {
    format!("facebook-page:{page_id}")
}

/// One entry of `/me/accounts`.
#[derive(Debug, Clone)]
struct PageEntry {
    id: String,
    name: String,
    username: Option<String>,
    tasks: Vec<String>,
    token: Option<Secret>,
}

impl PageEntry {
    fn can_post(&self) -> bool {
        self.tasks.is_empty() || self.tasks.iter().any(|t| t == CREATE_CONTENT)
    }
}

impl Facebook {
    async fn client_secret(&self) -> Result<Option<Secret>, PublishError> {
        self.store_get(client_secret_key(NET.as_str())).await
    }

    /// Moves tokens `identify` left for this account's Page to the account's own keys.
    /// Returns whether there were any.
    pub async fn adopt_staged(&self, account: &Account) -> Result<bool, PublishError> {
        let Some(page_id) = page_id_of(account) else {
            return Ok(false);
        };
        let owner = staged_owner(&page_id);
        let staged_user = self.load_tokens(&owner).await?;
        let staged_page = self.store_get(account_key(&owner, PAGE_TOKEN_KEY)).await?;
        if staged_user.is_none() && staged_page.is_none() {
            return Ok(false);
        }
        if let Some(t) = staged_user {
            self.save_tokens(&account.id, t).await?;
            self.store_delete(account_key(&owner, outpost_auth::tokens::OAUTH_KEY))
                .await?;
        }
        if let Some(p) = staged_page {
            self.store_set(account_key(&account.id, PAGE_TOKEN_KEY), p)
                .await?;
            self.store_delete(account_key(&owner, PAGE_TOKEN_KEY))
                .await?;
        }
        tracing::info!(
            network = NET.as_str(),
            account = account.id.as_str(),
            "facebook tokens from connecting moved to the account"
        );
        Ok(true)
    }

    /// The tokens for one operation on `account`'s Page.
    pub(super) async fn session(&self, account: &Account) -> Result<Session, PublishError> {
        let Some(page_id) = page_id_of(account) else {
            return Err(reauth(
                "the account does not say which Facebook Page it is — connect the Page again",
            ));
        };
        self.adopt_staged(account).await?;
        let user = self.load_tokens(&account.id).await?;
        let key = account_key(&account.id, PAGE_TOKEN_KEY);
        let page_token = match self.store_get(key.clone()).await? {
            Some(t) => t,
            None => {
                let Some(user) = &user else {
                    return Err(reauth(
                        "no Facebook sign-in is stored for this Page — connect it again",
                    ));
                };
                let t = self.fetch_page_token(&account.id, user, &page_id).await?;
                self.store_set(key, t.clone()).await?;
                t
            }
        };
        Ok(Session {
            account_id: account.id.clone(),
            page_id,
            page_token,
            user,
            app_id: account
                .setting("client_id")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        })
    }

    /// `GET /{page-id}?fields=access_token` with the user token.
    async fn fetch_page_token(
        &self,
        account_id: &str,
        user: &OAuthTokens,
        page_id: &str,
    ) -> Result<Secret, PublishError> {
        let call = Call::get(
            self.graph(page_id),
            "GET /{page-id}?fields=access_token",
            "getting the Page's access token",
        )
        .query("fields", "id,name,access_token");
        let reply = self
            .send(user.access_token.expose(), account_id, call)
            .await?;
        let secrets = [user.access_token.expose()];
        if !reply.ok() {
            return Err(graph_failure(&reply, &secrets));
        }
        match reply.json().and_then(|v| text_of(&v, "access_token")) {
            Some(t) => Ok(Secret::new(t)),
            None => Err(reauth(format!(
                "Facebook gave no access token for the Page {page_id} — your role on it may lack “Create content”; check the Page's access on facebook.com, then connect it again"
            ))),
        }
    }

    /// The trait's `refresh`. Facebook has no refresh grant: adopt tokens left by connecting,
    /// else take a new Page token with the stored user token.
    pub(super) async fn renew(&self, account: &Account) -> Result<(), PublishError> {
        if self.adopt_staged(account).await? {
            return Ok(());
        }
        let Some(page_id) = page_id_of(account) else {
            return Err(reauth(
                "the account does not say which Facebook Page it is — connect the Page again",
            ));
        };
        let Some(user) = self.load_tokens(&account.id).await? else {
            return Err(reauth("no Facebook sign-in is stored for this Page"));
        };
        if user.expires_within(Utc::now(), chrono::Duration::zero()) {
            return Err(reauth(
                "the Facebook sign-in expired (Facebook sign-ins last about 60 days and cannot be renewed)",
            ));
        }
        let started = Instant::now();
        // A dead user token comes back as Reauth: Facebook has no way to renew it.
        let token = self.fetch_page_token(&account.id, &user, &page_id).await?;
        self.store_set(account_key(&account.id, PAGE_TOKEN_KEY), token)
            .await?;
        tracing::info!(
            network = NET.as_str(),
            account = account.id.as_str(),
            duration_ms = started.elapsed().as_millis() as u64,
            "facebook page token renewed"
        );
        Ok(())
    }

    /// `grant_type=fb_exchange_token` (sent as a form POST, so the App Secret stays out of
    /// URLs; Graph takes the documented GET parameters in a POST body too).
    pub async fn exchange_long_lived(
        &self,
        tokens: &OAuthTokens,
        client_id: &str,
        secret: &Secret,
    ) -> Result<OAuthTokens, PublishError> {
        let form = vec![
            ("grant_type".to_string(), "fb_exchange_token".to_string()),
            ("client_id".to_string(), client_id.to_string()),
            ("client_secret".to_string(), secret.expose().to_string()),
            (
                "fb_exchange_token".to_string(),
                tokens.access_token.expose().to_string(),
            ),
        ];
        let mut call = Call::post(
            self.token_url.clone(),
            "POST /oauth/access_token (fb_exchange_token)",
            "exchanging the sign-in for a 60-day one",
            Body::Form(form),
        );
        call.auth = super::AuthScheme::None;
        let secrets = [tokens.access_token.expose(), secret.expose()];
        let reply = self.send("", "(connecting)", call).await?;
        let now = Utc::now();
        if reply.ok() {
            let v = reply.json().unwrap_or(Value::Null);
            let Some(access) = text_of(&v, "access_token") else {
                return Err(malformed(&reply, &secrets));
            };
            let expires_in = v
                .get("expires_in")
                .and_then(|x| x.as_i64().or_else(|| x.as_str()?.trim().parse().ok()));
            return Ok(OAuthTokens::from_response(
                Secret::new(access),
                None,
                expires_in,
                None,
                tokens.scope.clone(),
                now,
            ));
        }
        let err = GraphError::parse(&reply.body).unwrap_or_default();
        let says = sanitize_message(&redact(&err.describe(), &secrets), 160);
        // A wrong App Secret is code 1 ("Error validating client secret."), a wrong App ID
        // code 101: the settings are wrong, not Facebook.
        let lower = err.message.to_ascii_lowercase();
        if matches!(err.code, Some(1 | 101))
            && (lower.contains("client secret") || lower.contains("application"))
        {
            return Err(permanent(format!(
                "Facebook refused the app's credentials ({says}) — check the App ID and App Secret in Settings › App credentials"
            ))
            .with_excerpt(&reply.body, &secrets));
        }
        Err(graph_failure(&reply, &secrets))
    }

    /// `/me/accounts`: every Page the user granted, with tasks (and tokens when `tokens`).
    async fn list_pages(
        &self,
        user_token: &str,
        account_id: &str,
        tokens: bool,
    ) -> Result<Vec<PageEntry>, PublishError> {
        let fields = if tokens {
            "id,name,username,tasks,access_token"
        } else {
            "id,name,username,tasks"
        };
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..ACCOUNT_PAGES {
            let mut call = Call::get(
                self.graph("me/accounts"),
                "GET /me/accounts",
                "listing the Pages",
            )
            .query("fields", fields)
            .query("limit", "100");
            if let Some(a) = &after {
                call = call.query("after", a);
            }
            let reply = self.send(user_token, account_id, call).await?;
            if !reply.ok() {
                return Err(graph_failure(&reply, &[user_token]));
            }
            let Some(v) = reply.json() else {
                return Err(malformed(&reply, &[user_token]));
            };
            for p in v
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(id) = text_of(p, "id") else {
                    continue;
                };
                out.push(PageEntry {
                    name: text_of(p, "name").unwrap_or_else(|| id.clone()),
                    username: text_of(p, "username"),
                    tasks: p
                        .get("tasks")
                        .and_then(Value::as_array)
                        .map(|t| {
                            t.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                    token: text_of(p, "access_token").map(Secret::new),
                    id,
                });
            }
            after = v
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|_| v.pointer("/paging/next").is_some());
            if after.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// `GET /debug_token` for the Page token: when it expires (`0`: never). Best effort.
    async fn page_token_expiry(&self, user_token: &str, page_token: &Secret) -> Option<String> {
        let call = Call::get(
            self.graph("debug_token"),
            "GET /debug_token",
            "checking the Page token",
        )
        .query("input_token", page_token.expose());
        let reply = self.send(user_token, "(connecting)", call).await.ok()?;
        if !reply.ok() {
            return None;
        }
        let at = reply.json()?.pointer("/data/expires_at")?.as_i64()?;
        Some(if at == 0 {
            "never".to_string()
        } else {
            DateTime::from_timestamp(at, 0)?.to_rfc3339_opts(SecondsFormat::Secs, true)
        })
    }

    /// [`crate::Publisher::identify`]: the long-lived exchange, the user, the Page.
    pub(super) async fn identify_page(
        &self,
        tokens: &OAuthTokens,
        settings: &Value,
    ) -> Result<Identity, PublishError> {
        let now = Utc::now();
        let client_id = settings
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let secret = self.client_secret().await?;
        let (user, exchanged) = match (client_id, &secret) {
            (Some(id), Some(secret)) => (self.exchange_long_lived(tokens, id, secret).await?, true),
            _ if tokens.expires_within(now, chrono::Duration::days(7)) => {
                return Err(permanent(
                    "Outpost needs your Meta app's App ID and App Secret to turn this short sign-in into a 60-day one — enter them in Settings › App credentials (or `outpost apps set facebook --client-id … --client-secret-stdin`), then connect again",
                ))
            }
            _ => (tokens.clone(), false),
        };
        let user_token = user.access_token.expose().to_string();
        let me_call = Call::get(self.graph("me"), "GET /me", "reading the signed-in user")
            .query("fields", "id,name");
        let reply = self.send(&user_token, "(connecting)", me_call).await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &[&user_token]));
        }
        let me = reply.json().unwrap_or(Value::Null);
        let pages = self.list_pages(&user_token, "(connecting)", true).await?;
        if pages.is_empty() {
            return Err(permanent(
                "the sign-in gives Outpost no Facebook Page — in Facebook's dialog choose the Pages Outpost may post to (you need a role with “Create content” on them), then connect again",
            ));
        }
        let wanted = settings
            .get("page_id")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .filter(|p| !p.trim().is_empty());
        let page = match &wanted {
            Some(id) => pages.iter().find(|p| &p.id == id).ok_or_else(|| {
                permanent(format!(
                    "the sign-in does not include the Facebook Page {id} — in Facebook's dialog choose that Page too, then connect again"
                ))
            })?,
            None => pages.iter().find(|p| p.can_post()).unwrap_or(&pages[0]),
        };
        if !page.can_post() {
            return Err(permanent(format!(
                "your role on the Facebook Page “{}” cannot create content (tasks: {}) — ask an admin for “Create content”, then connect again",
                sanitize_message(&page.name, 80),
                page.tasks.join(", ")
            )));
        }
        let Some(page_token) = page.token.clone() else {
            return Err(permanent(format!(
                "Facebook gave no access token for the Page “{}” — check your role on it, then connect again",
                sanitize_message(&page.name, 80)
            )));
        };
        let expiry = self.page_token_expiry(&user_token, &page_token).await;
        // Leave the tokens for the account about to be created (see the module comment).
        let owner = staged_owner(&page.id);
        if exchanged {
            self.save_tokens(&owner, user.clone()).await?;
        }
        self.store_set(account_key(&owner, PAGE_TOKEN_KEY), page_token)
            .await?;
        tracing::info!(
            network = NET.as_str(),
            page = page.id.as_str(),
            pages = pages.len(),
            long_lived = exchanged,
            graph_version = GRAPH_VERSION,
            "facebook page identified"
        );
        let mut out = json!({
            "page_id": page.id,
            "page_name": page.name,
            "tasks": page.tasks,
            "graph_version": GRAPH_VERSION,
            "long_lived": exchanged,
        });
        if let Some(u) = &page.username {
            out["page_username"] = json!(u);
        }
        if let Some(id) = text_of(&me, "id") {
            out["fb_user_id"] = json!(id);
        }
        if let Some(n) = text_of(&me, "name") {
            out["fb_user_name"] = json!(n);
        }
        if let Some(e) = expiry {
            out["page_token_expires"] = json!(e);
        }
        Ok(Identity {
            remote_id: page.id.clone(),
            handle: page.username.clone().unwrap_or_else(|| page.id.clone()),
            display_name: Some(page.name.clone()),
            settings: out,
        })
    }

    /// [`crate::Publisher::choices`] `"pages"`: every Page of the signed-in user, marked with
    /// whether the user may post there and which one this account is.
    pub(super) async fn page_choices(
        &self,
        account: &Account,
    ) -> Result<Vec<Choice>, PublishError> {
        self.adopt_staged(account).await?;
        let Some(user) = self.load_tokens(&account.id).await? else {
            return Err(reauth("no Facebook sign-in is stored for this Page"));
        };
        let current = page_id_of(account);
        let pages = self
            .list_pages(user.access_token.expose(), &account.id, false)
            .await?;
        Ok(pages
            .into_iter()
            .map(|p| {
                let mut extra = json!({
                    "tasks": p.tasks,
                    "can_post": p.can_post(),
                    "connected": current.as_deref() == Some(p.id.as_str()),
                });
                if let Some(u) = &p.username {
                    extra["username"] = json!(u);
                }
                Choice {
                    id: p.id,
                    name: p.name,
                    extra,
                }
            })
            .collect())
    }
}

/// The account's Page: `settings["page_id"]`, else its remote id.
pub(super) fn page_id_of(account: &Account) -> Option<String> {
    account
        .setting("page_id")
        .map(str::to_string)
        .or_else(|| account.remote_id.clone())
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
}
