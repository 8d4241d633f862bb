//! Token lifecycle: refresh before expiry (each network's rule), one refresher per account
//! across processes (a lock row in the database, so the app and a headless agent never both
//! spend a single-use refresh token), and warnings for tokens that cannot be refreshed.

use crate::{blocking, Engine, Event};
use chrono::{DateTime, Utc};
use outpost_auth::OAuthTokens;
use outpost_core::{Account, AccountStatus, ErrorClass, Network, PublishError};
use outpost_networks::Publisher;
use std::sync::Arc;
use std::time::Duration;

/// How long before expiry an access token is refreshed.
pub fn refresh_margin(network: Network) -> chrono::Duration {
    match network {
        // 2 h access tokens (X), 1 h (Google).
        Network::X | Network::YouTube => chrono::Duration::minutes(10),
        // TikTok: 24 h access tokens, refreshed 2 h ahead as the original system did.
        Network::TikTok => chrono::Duration::hours(2),
        // Pinterest 30 days, LinkedIn 60 days (refreshable for some apps).
        Network::Pinterest | Network::LinkedIn => chrono::Duration::days(1),
        // Meta long-lived tokens: 60 days; Threads refreshes within 7 days of expiry.
        Network::Facebook | Network::Instagram | Network::Threads => chrono::Duration::days(7),
        Network::Bluesky => chrono::Duration::minutes(5),
    }
}

/// A token that cannot be refreshed is announced this long before it expires.
pub const EXPIRY_WARNING: chrono::Duration = chrono::Duration::days(7);
/// How long one refresher may hold an account's lock.
const LOCK_FOR: chrono::Duration = chrono::Duration::minutes(2);
/// How long a second refresher waits for the first.
const LOCK_WAIT: Duration = Duration::from_secs(30);

fn lock_name(account_id: &str) -> String {
    format!("refresh:{account_id}")
}

fn transient(network: Network, e: impl std::fmt::Display) -> PublishError {
    PublishError::new(
        network,
        ErrorClass::Transient { retry_after: None },
        e.to_string(),
    )
}

async fn load(engine: &Engine, account: &Account) -> Result<Option<OAuthTokens>, PublishError> {
    let Some(secrets) = engine.inner.secrets.get().cloned() else {
        return Ok(None);
    };
    outpost_networks::secrets::load_tokens(&secrets, account.network, &account.id).await
}

/// Before publishing: refreshes the account's OAuth token when it expires within the
/// network's margin. Returns when the current tokens were issued (for [`refresh_locked`]
/// after a 401), or `None` for accounts without OAuth tokens.
pub(crate) async fn ensure_fresh(
    engine: &Engine,
    publisher: &Arc<dyn Publisher>,
    account: &Account,
) -> Result<Option<DateTime<Utc>>, PublishError> {
    let Some(tokens) = load(engine, account).await? else {
        return Ok(None);
    };
    let now = engine.inner.clock.now();
    if !tokens.expires_within(now, refresh_margin(account.network)) {
        return Ok(Some(tokens.issued_at));
    }
    if tokens.refresh_token.is_none() {
        if tokens.expires_within(now, chrono::Duration::zero()) {
            return Err(PublishError::new(
                account.network,
                ErrorClass::Reauth,
                format!(
                    "{}: the access token expired and cannot be refreshed — connect the account again in Accounts",
                    account.network.display_name()
                ),
            ));
        }
        return Ok(Some(tokens.issued_at));
    }
    tracing::info!(account = %account.address(), network = %account.network, "access token expires soon; refreshing");
    refresh_locked(engine, publisher, account, Some(tokens.issued_at)).await?;
    Ok(load(engine, account).await?.map(|t| t.issued_at))
}

/// One refresh of the account's credentials under the account's cross-process lock. When
/// another runner refreshed meanwhile (the stored tokens are newer than `seen_issued_at`),
/// nothing is sent. Records the new expiry on the account.
pub(crate) async fn refresh_locked(
    engine: &Engine,
    publisher: &Arc<dyn Publisher>,
    account: &Account,
    seen_issued_at: Option<DateTime<Utc>>,
) -> Result<(), PublishError> {
    let inner = &engine.inner;
    let store = &inner.store;
    let name = lock_name(&account.id);
    let owner = inner.runner_id.clone();
    let waited = std::time::Instant::now();
    loop {
        let now = inner.clock.now();
        let (n, o) = (name.clone(), owner.clone());
        let taken = blocking(store, move |s| s.try_lock(&n, &o, now, now + LOCK_FOR))
            .await
            .map_err(|e| transient(account.network, e))?;
        if taken {
            break;
        }
        if waited.elapsed() > LOCK_WAIT {
            return Err(PublishError::new(
                account.network,
                ErrorClass::Transient { retry_after: Some(Duration::from_secs(30)) },
                format!(
                    "{}: another Outpost process is renewing this account's sign-in — trying again shortly",
                    account.network.display_name()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let result = async {
        let current = load(engine, account).await?;
        if let (Some(t), Some(seen)) = (&current, seen_issued_at) {
            if t.issued_at > seen {
                tracing::info!(account = %account.address(), "another runner already refreshed the token");
                return Ok(());
            }
        }
        let started = std::time::Instant::now();
        publisher.refresh(account).await?;
        let fresh = load(engine, account).await?;
        tracing::info!(
            account = %account.address(),
            network = %account.network,
            duration_ms = started.elapsed().as_millis() as u64,
            "credentials refreshed"
        );
        if let Some(t) = fresh {
            let (id, at) = (account.id.clone(), t.expires_at);
            blocking(store, move |s| s.set_token_expiry(&id, at))
                .await
                .map_err(|e| transient(account.network, e))?;
        }
        Ok(())
    }
    .await;
    let (n, o) = (name, owner);
    if let Err(e) = blocking(store, move |s| s.unlock(&n, &o)).await {
        tracing::warn!(error = %e, "could not release the refresh lock (it expires by itself)");
    }
    result
}

/// Housekeeping: refreshes tokens that expire within their margin even when no post is due,
/// and warns once (an event the app turns into a notification, and the account's status
/// line) about tokens that cannot be refreshed and expire within [`EXPIRY_WARNING`].
pub(crate) async fn look_after_tokens(engine: &Engine, now: DateTime<Utc>) {
    let inner = &engine.inner;
    let accounts = match blocking(&inner.store, |s| s.accounts()).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "could not list accounts for token upkeep");
            return;
        }
    };
    for account in accounts {
        if account.status != AccountStatus::Active || account.network == Network::Bluesky {
            continue;
        }
        let Some(expires) = account.token_expires_at else {
            continue;
        };
        if expires - EXPIRY_WARNING > now {
            continue;
        }
        let Some(publisher) = inner.publishers.get(&account.network).cloned() else {
            continue;
        };
        let tokens = match load(engine, &account).await {
            Ok(Some(t)) => t,
            _ => continue,
        };
        if tokens.refresh_token.is_some() {
            if tokens.expires_within(now, refresh_margin(account.network)) {
                if let Err(e) =
                    refresh_locked(engine, &publisher, &account, Some(tokens.issued_at)).await
                {
                    tracing::warn!(account = %account.address(), error = %e.message, "proactive token refresh failed");
                    if e.class == ErrorClass::Reauth {
                        mark_needs_reconnect(engine, &account, &e.message).await;
                    }
                }
            }
            continue;
        }
        if account
            .setting("expiry_warned_for")
            .is_some_and(|v| v == expires.to_rfc3339())
        {
            continue;
        }
        let days = (expires - now).num_days().max(0);
        let reason = format!(
            "{}: the sign-in for {} expires on {} ({} days) and cannot be renewed automatically — reconnect the account before then",
            account.network.display_name(),
            account.address(),
            expires.format("%Y-%m-%d"),
            days
        );
        tracing::warn!(account = %account.address(), expires = %expires, "token expires soon and cannot be refreshed");
        let mut settings = account.settings.clone();
        if let Some(o) = settings.as_object_mut() {
            o.insert(
                "expiry_warned_for".into(),
                serde_json::Value::String(expires.to_rfc3339()),
            );
        }
        let (id, r) = (account.id.clone(), reason.clone());
        // Shown on the account (it stays active until the token really expires).
        let _ = blocking(&inner.store, move |s| {
            s.set_account_settings(&id, &settings)?;
            s.set_account_status(&id, AccountStatus::Active, Some(&r))
        })
        .await;
        let _ = inner.events.send(Event::AccountExpiring {
            account_id: account.id.clone(),
            network: account.network,
            address: account.address(),
            expires_at: expires,
            reason,
        });
    }
}

/// Marks the account needs-reconnect (once) and tells the app.
pub(crate) async fn mark_needs_reconnect(engine: &Engine, account: &Account, reason: &str) {
    let inner = &engine.inner;
    let now = inner.clock.now();
    let (id, r) = (account.id.clone(), reason.to_string());
    let changed = blocking(&inner.store, move |s| {
        let changed = s.set_account_status(&id, AccountStatus::NeedsReconnect, Some(&r))?;
        s.fail_due_targets_of_account(&id, &r, now)?;
        Ok(changed)
    })
    .await
    .unwrap_or(false);
    if changed {
        let _ = inner.events.send(Event::AccountNeedsReconnect {
            account_id: account.id.clone(),
            network: account.network,
            address: account.address(),
            reason: reason.to_string(),
        });
    }
}
