//! Connecting OAuth accounts: the system-browser flow (begin → the user approves → the
//! loopback listener or a pasted address brings the code back → tokens → who they belong to →
//! the account), and importing tokens directly (`outpost accounts add NETWORK --token-stdin`).

use crate::api::{ApiError, ConnectResult, Outpost};
use chrono::{DateTime, Utc};
use outpost_auth::oauth::{ConnectError, ConnectFlow, PasteHandle, PendingConnect};
use outpost_auth::{OAuthTokens, Secret};
use outpost_core::{Account, AccountStatus, Network};
use outpost_networks::{Choice, Publisher};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the app shows while the user approves in the browser.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ConnectStart {
    /// Pass it to `finish_connect` / `paste_connect`.
    pub session: String,
    pub network: Network,
    /// Opened in the system browser; also shown so it can be copied.
    pub authorize_url: String,
    /// Where the network sends the browser back (register exactly this in the developer app).
    pub redirect_uri: String,
}

/// One item of an account-level choice (a Pinterest board, a LinkedIn organisation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AccountChoice {
    pub id: String,
    pub name: String,
    /// Anything else worth showing (privacy…).
    #[ts(type = "unknown")]
    pub extra: serde_json::Value,
}

impl From<Choice> for AccountChoice {
    fn from(c: Choice) -> Self {
        AccountChoice {
            id: c.id,
            name: c.name,
            extra: c.extra,
        }
    }
}

/// Tokens given directly (import, tests): the token endpoint's field names.
#[derive(Debug, Deserialize)]
pub struct TokenImport {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default, alias = "refresh_expires_in")]
    pub refresh_token_expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// Connect attempts in progress (flow + the handle that lets a pasted address finish it).
#[derive(Default)]
pub(crate) struct Pending {
    slots: Mutex<HashMap<String, Slot>>,
}

struct Slot {
    network: Network,
    client_id: String,
    paste: PasteHandle,
    flow: Option<PendingConnect>,
    /// Ends a waiting `finish_connect` (the dialog closed, or a pasted address said no);
    /// the listener closes with it and its port is free again.
    cancel: tokio_util::sync::CancellationToken,
    /// Why it was ended, when a pasted address ended it.
    ended: Arc<Mutex<Option<ApiError>>>,
}

/// The auth crate names networks by their lower-case key; users see the display name.
fn displayed(network: Network, e: ConnectError) -> ConnectError {
    let n = network.display_name().to_string();
    match e {
        ConnectError::PortInUse { port, path, .. } => ConnectError::PortInUse {
            port,
            network: n,
            path,
        },
        ConnectError::NeedsRelay { .. } => ConnectError::NeedsRelay { network: n },
        ConnectError::MissingSecret { .. } => ConnectError::MissingSecret { network: n },
        ConnectError::Declined { description, .. } => ConnectError::Declined {
            network: n,
            description,
        },
        ConnectError::Refused {
            error, description, ..
        } => ConnectError::Refused {
            network: n,
            error,
            description,
        },
        other => other,
    }
}

fn connect_error(network: Network, e: ConnectError) -> ApiError {
    let name = network.display_name();
    let e = displayed(network, e);
    match e {
        ConnectError::TimedOut(_) => ApiError::invalid(format!(
            "{name}: no answer from the browser within 5 minutes — start connecting again (or paste the address you were sent to)"
        )),
        ConnectError::Token(outpost_auth::oauth::OAuthError::Transient { message, .. }) => {
            ApiError::failed(format!("{name}: {message} — try connecting again"))
        }
        other => ApiError::invalid(format!("{name}: {other}")),
    }
}

fn network_error(e: outpost_core::PublishError) -> ApiError {
    match e.class {
        outpost_core::ErrorClass::Transient { .. } | outpost_core::ErrorClass::UnknownOutcome => {
            ApiError::failed(e.message)
        }
        _ => ApiError::invalid(e.message),
    }
}

impl Outpost {
    fn oauth_publisher(&self, network: Network) -> Result<Arc<dyn Publisher>, ApiError> {
        let p = self.publishers().get(&network).cloned().ok_or_else(|| {
            ApiError::invalid(format!(
                "{}: Outpost cannot connect this network yet",
                network.display_name()
            ))
        })?;
        if p.oauth_profile().is_none() {
            return Err(ApiError::invalid(format!(
                "{} is not connected with OAuth — see `outpost accounts add --help`",
                network.display_name()
            )));
        }
        Ok(p)
    }

    fn client_credentials(&self, network: Network) -> Result<(String, Option<Secret>), ApiError> {
        let creds = self.app_credentials()?;
        let client_id = creds
            .iter()
            .find(|c| c.network == network)
            .and_then(|c| c.client_id.clone())
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{0}: no client id — create your {0} developer app (docs/networks/{1}.md) and enter its client id in Settings › App credentials (or `outpost apps set {1} --client-id …`)",
                    network.display_name(),
                    network
                ))
            })?;
        let secret = self
            .secrets()
            .get(&outpost_auth::client_secret_key(network.as_str()))?;
        Ok((client_id, secret))
    }

    /// Starts connecting an account: binds the loopback listener and returns the address to
    /// open in the system browser. `relay_url`: an https relay page for networks that refuse
    /// loopback redirects (see docs/oauth-relay.html).
    /// `pages`: LinkedIn — also ask for access to the pages the member administers (posting as
    /// an organisation); Instagram — connect through Facebook Login (an account linked to a
    /// Facebook Page) instead of Instagram Login.
    pub fn begin_connect(
        &self,
        network: Network,
        relay_url: Option<&str>,
        pages: bool,
    ) -> Result<ConnectStart, ApiError> {
        let publisher = self.oauth_publisher(network)?;
        let profile = if pages && network == Network::LinkedIn {
            outpost_networks::linkedin::LinkedIn::from_env(self.secrets().clone())
                .oauth_profile_with_pages()
        } else if pages && network == Network::Instagram {
            // An Instagram account linked to a Facebook Page: Facebook Login.
            outpost_networks::instagram::Instagram::from_env(self.secrets().clone())
                .facebook_login_profile()
        } else {
            publisher
                .oauth_profile()
                .ok_or_else(|| ApiError::invalid("not an OAuth network"))?
        };
        let (client_id, secret) = self.client_credentials(network)?;
        if profile.needs_secret && secret.is_none() {
            return Err(ApiError::invalid(format!(
                "{0}: no client secret — enter your {0} app's client secret in Settings › App credentials",
                network.display_name()
            )));
        }
        let flow = ConnectFlow::begin(&profile, &client_id, relay_url)
            .map_err(|e| connect_error(network, e))?;
        let session = outpost_core::ids::new_id("c");
        let start = ConnectStart {
            session: session.clone(),
            network,
            authorize_url: flow.authorize_url().to_string(),
            redirect_uri: flow.redirect_uri().to_string(),
        };
        let slot = Slot {
            network,
            client_id,
            paste: flow.paste_handle(),
            flow: Some(flow),
            cancel: tokio_util::sync::CancellationToken::new(),
            ended: Arc::new(Mutex::new(None)),
        };
        self.pending()
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session, slot);
        tracing::info!(network = %network, "connect started; waiting for the browser");
        Ok(start)
    }

    /// "Paste the address you were sent to": finishes a running [`Outpost::finish_connect`].
    pub fn paste_connect(&self, session: &str, address: &str) -> Result<(), ApiError> {
        let slots = self
            .pending()
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let slot = slots.get(session).ok_or_else(|| {
            ApiError::invalid("this connect attempt has ended — start connecting again")
        })?;
        match slot.paste.submit(address) {
            Ok(()) => Ok(()),
            // The address says the user declined (or the network refused): that ends the
            // attempt, not only this paste.
            Err(e @ (ConnectError::Declined { .. } | ConnectError::Refused { .. })) => {
                let err = connect_error(slot.network, e);
                *slot.ended.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.clone());
                slot.cancel.cancel();
                Err(err)
            }
            Err(e) => Err(connect_error(slot.network, e)),
        }
    }

    /// Forgets a connect attempt (the user closed the dialog).
    pub fn cancel_connect(&self, session: &str) {
        if let Some(slot) = self
            .pending()
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session)
        {
            slot.cancel.cancel();
        }
    }

    /// Waits for the browser (or a pasted address) up to `timeout`, exchanges the code and
    /// creates (or reconnects) the account.
    pub async fn finish_connect(
        &self,
        session: &str,
        timeout: Duration,
        now: DateTime<Utc>,
    ) -> Result<ConnectResult, ApiError> {
        let (network, client_id, mut flow, cancel, ended) = {
            let mut slots = self
                .pending()
                .slots
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let slot = slots.get_mut(session).ok_or_else(|| {
                ApiError::invalid("this connect attempt has ended — start connecting again")
            })?;
            let flow = slot.flow.take().ok_or_else(|| {
                ApiError::invalid("this connect attempt is already being finished")
            })?;
            (
                slot.network,
                slot.client_id.clone(),
                flow,
                slot.cancel.clone(),
                slot.ended.clone(),
            )
        };
        let result = async {
            let callback = tokio::select! {
                r = flow.wait(timeout) => r.map_err(|e| connect_error(network, e))?,
                _ = cancel.cancelled() => {
                    let why = ended.lock().unwrap_or_else(|p| p.into_inner()).take();
                    return Err(why.unwrap_or_else(|| ApiError::invalid(format!(
                        "{}: connecting was cancelled — start again when you are ready",
                        network.display_name()
                    ))));
                }
            };
            let (_, secret) = self.client_credentials(network)?;
            let tokens = flow
                .finish(&outpost_networks::http::client(), secret, callback)
                .await
                .map_err(|e| connect_error(network, e))?;
            self.connect_with_tokens(network, tokens, &client_id, now)
                .await
        }
        .await;
        self.cancel_connect(session);
        result
    }

    /// Connects an account from tokens the user already has (`--token-stdin`).
    pub async fn add_account_tokens(
        &self,
        network: Network,
        raw_json: &str,
        now: DateTime<Utc>,
    ) -> Result<ConnectResult, ApiError> {
        self.oauth_publisher(network)?;
        let t: TokenImport = serde_json::from_str(raw_json).map_err(|e| {
            ApiError::invalid(format!(
                "--token-stdin: expected JSON like {{\"access_token\": \"…\", \"refresh_token\": \"…\", \"expires_in\": 7200}} ({})",
                e.to_string().split(" at line").next().unwrap_or("not JSON")
            ))
        })?;
        if t.access_token.trim().is_empty() {
            return Err(ApiError::invalid("--token-stdin: access_token is empty"));
        }
        let tokens = OAuthTokens::from_response(
            Secret::new(t.access_token.trim()),
            t.refresh_token.map(|r| Secret::new(r.trim())),
            t.expires_in,
            t.refresh_token_expires_in,
            t.scope,
            now,
        );
        let client_id = self
            .client_credentials(network)
            .map(|(id, _)| id)
            .unwrap_or_default();
        self.connect_with_tokens(network, tokens, &client_id, now)
            .await
    }

    /// Facebook: connects further Pages of the person who connected `account_id` (each Page
    /// is its own account), with that account's long-lived sign-in — no new browser round.
    pub async fn connect_pages(
        &self,
        account_id: &str,
        page_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<ConnectResult>, ApiError> {
        let account = self.store().account(account_id)?.ok_or_else(|| {
            ApiError::invalid(format!(
                "account {account_id}: no such account — see `outpost accounts list`"
            ))
        })?;
        if account.network != Network::Facebook {
            return Err(ApiError::invalid(format!(
                "{}: only Facebook accounts have Pages to add",
                account.address()
            )));
        }
        let tokens = OAuthTokens::load(&**self.secrets(), &account.id)?.ok_or_else(|| {
            ApiError::invalid(format!(
                "{}: no sign-in is stored — connect the account again",
                account.address()
            ))
        })?;
        let client_id = account.setting("client_id").unwrap_or_default().to_string();
        let mut out = Vec::new();
        for page in page_ids {
            let page = page.trim();
            if page.is_empty() {
                continue;
            }
            out.push(
                self.connect_with_settings(
                    Network::Facebook,
                    tokens.clone(),
                    &client_id,
                    serde_json::json!({ "page_id": page }),
                    now,
                )
                .await?,
            );
        }
        Ok(out)
    }

    async fn connect_with_tokens(
        &self,
        network: Network,
        tokens: OAuthTokens,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<ConnectResult, ApiError> {
        self.connect_with_settings(network, tokens, client_id, serde_json::json!({}), now)
            .await
    }

    async fn connect_with_settings(
        &self,
        network: Network,
        tokens: OAuthTokens,
        client_id: &str,
        extra: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<ConnectResult, ApiError> {
        let publisher = self.oauth_publisher(network)?;
        let mut settings = extra;
        if !settings.is_object() {
            settings = serde_json::json!({});
        }
        if !client_id.is_empty() {
            settings["client_id"] = serde_json::Value::String(client_id.to_string());
        }
        let who = publisher
            .identify(&tokens, &settings)
            .await
            .map_err(network_error)?;
        if let (Some(o), serde_json::Value::Object(extra)) =
            (settings.as_object_mut(), &who.settings)
        {
            o.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let handle = who.handle.trim().trim_start_matches('@').to_string();
        let existing = self.store().find_account(network, &handle)?;
        let account = Account {
            id: existing
                .as_ref()
                .map(|e| e.id.clone())
                .unwrap_or_else(|| outpost_core::ids::new_id("a")),
            network,
            handle,
            remote_id: Some(who.remote_id.clone()),
            display_name: who.display_name.clone(),
            status: AccountStatus::Active,
            status_reason: None,
            token_expires_at: tokens.expires_at,
            settings: match &existing {
                // Keep choices made earlier (default board…), refresh what the network said.
                Some(e) => {
                    let mut merged = e.settings.clone();
                    if let (Some(m), Some(n)) = (merged.as_object_mut(), settings.as_object()) {
                        m.extend(n.iter().map(|(k, v)| (k.clone(), v.clone())));
                        m.remove("expiry_warned_for");
                    }
                    merged
                }
                None => settings,
            },
            created_at: now,
        };
        tokens.save(&**self.secrets(), &account.id)?;
        let reconnected = existing.is_some();
        if reconnected {
            self.store().reconnect_account(&account)?;
        } else if let Err(e) = self.store().insert_account(&account) {
            let _ = OAuthTokens::delete(&**self.secrets(), &account.id);
            return Err(e.into());
        }
        // Credentials the network derived while identifying the account (Facebook's
        // long-lived and Page tokens) move under it now, and its expiry is what they say.
        if publisher.adopt(&account).await.map_err(network_error)? {
            if let Some(t) = OAuthTokens::load(&**self.secrets(), &account.id)? {
                self.store().set_token_expiry(&account.id, t.expires_at)?;
            }
        }
        let account = self.store().account(&account.id)?.unwrap_or(account);
        tracing::info!(network = %network, account = %account.address(), reconnected, "account connected");
        Ok(ConnectResult {
            account,
            reconnected,
        })
    }

    /// Account-level choices (Pinterest boards, LinkedIn organisations) for the composer.
    pub async fn account_choices(
        &self,
        account_id: &str,
        kind: &str,
    ) -> Result<Vec<AccountChoice>, ApiError> {
        let account = self.store().account(account_id)?.ok_or_else(|| {
            ApiError::invalid(format!(
                "account {account_id}: no such account — see `outpost accounts list`"
            ))
        })?;
        let publisher = self
            .publishers()
            .get(&account.network)
            .cloned()
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{}: not supported yet",
                    account.network.display_name()
                ))
            })?;
        Ok(publisher
            .choices(&account, kind)
            .await
            .map_err(network_error)?
            .into_iter()
            .map(AccountChoice::from)
            .collect())
    }

    /// Saves an account-level default (`board_id` for Pinterest, `author` for LinkedIn).
    pub fn set_account_default(
        &self,
        account_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Account, ApiError> {
        const ALLOWED: &[&str] = &["board_id", "author", "daily_cap", "tier"];
        if !ALLOWED.contains(&key) {
            return Err(ApiError::invalid(format!(
                "account default {key:?}: one of {}",
                ALLOWED.join(", ")
            )));
        }
        let account = self.store().account(account_id)?.ok_or_else(|| {
            ApiError::invalid(format!(
                "account {account_id}: no such account — see `outpost accounts list`"
            ))
        })?;
        let mut settings = account.settings.clone();
        if !settings.is_object() {
            settings = serde_json::json!({});
        }
        if let Some(o) = settings.as_object_mut() {
            match value.map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => {
                    o.insert(key.to_string(), serde_json::Value::String(v.to_string()));
                }
                None => {
                    o.remove(key);
                }
            }
        }
        self.store().set_account_settings(account_id, &settings)?;
        Ok(self.store().account(account_id)?.unwrap_or(account))
    }
}
