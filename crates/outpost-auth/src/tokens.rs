//! The OAuth token set of one connected account, as it is kept in the secret store.
//!
//! One JSON document per account under `account_key(account_id, "oauth")`, so the access token
//! and the (possibly rotating) refresh token are always written together: a rotated refresh
//! token is saved before the new access token is used, in one `set`.

use crate::{account_key, Secret, SecretError, SecretStore};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `what` part of the key under which an account's tokens are stored.
pub const OAUTH_KEY: &str = "oauth";

/// An account's OAuth tokens. The token values are [`Secret`]s; the rest is metadata that may
/// also be copied into the account row (expiry, scope) for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// When the access token stops working, if the network said.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the refresh token stops working (TikTok `refresh_expires_in`, LinkedIn, Pinterest).
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Granted scopes as the network returned them (space or comma separated).
    pub scope: Option<String>,
    /// When these tokens were issued (Threads refuses to refresh a token younger than 24 h).
    pub issued_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    issued_at: DateTime<Utc>,
}

impl OAuthTokens {
    /// Builds a token set from a token endpoint's numbers (`expires_in` seconds from `now`).
    pub fn from_response(
        access_token: Secret,
        refresh_token: Option<Secret>,
        expires_in: Option<i64>,
        refresh_expires_in: Option<i64>,
        scope: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let after = |s: i64| now + chrono::Duration::seconds(s.max(0));
        OAuthTokens {
            access_token,
            refresh_token: refresh_token.filter(|t| !t.is_empty()),
            expires_at: expires_in.map(after),
            refresh_expires_at: refresh_expires_in.map(after),
            scope,
            issued_at: now,
        }
    }

    /// True when the access token expires within `margin` of `now` (or already has).
    pub fn expires_within(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        self.expires_at.is_some_and(|at| at - margin <= now)
    }

    /// The stored form (a JSON document wrapped in a [`Secret`]).
    pub fn to_secret(&self) -> Secret {
        let stored = Stored {
            access_token: self.access_token.expose().to_string(),
            refresh_token: self.refresh_token.as_ref().map(|t| t.expose().to_string()),
            expires_at: self.expires_at,
            refresh_expires_at: self.refresh_expires_at,
            scope: self.scope.clone(),
            issued_at: self.issued_at,
        };
        // Serialising plain strings and dates cannot fail.
        Secret::new(serde_json::to_string(&stored).unwrap_or_default())
    }

    /// Reads the stored form back; `None` when it is not a token document.
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        let stored: Stored = serde_json::from_str(secret.expose()).ok()?;
        Some(OAuthTokens {
            access_token: Secret::new(stored.access_token),
            refresh_token: stored.refresh_token.map(Secret::new),
            expires_at: stored.expires_at,
            refresh_expires_at: stored.refresh_expires_at,
            scope: stored.scope,
            issued_at: stored.issued_at,
        })
    }

    /// The account's tokens from `store`, if any (a corrupt document reads as none).
    pub fn load(store: &dyn SecretStore, account_id: &str) -> Result<Option<Self>, SecretError> {
        Ok(store
            .get(&account_key(account_id, OAUTH_KEY))?
            .and_then(|s| Self::from_secret(&s)))
    }

    /// Saves the account's tokens (replacing the previous set in one write).
    pub fn save(&self, store: &dyn SecretStore, account_id: &str) -> Result<(), SecretError> {
        store.set(&account_key(account_id, OAUTH_KEY), &self.to_secret())
    }

    /// Removes the account's tokens.
    pub fn delete(store: &dyn SecretStore, account_id: &str) -> Result<(), SecretError> {
        store.delete(&account_key(account_id, OAUTH_KEY))
    }
}

/// The key under which the user's own app's client secret for `network` is kept
/// (`network` as its lower-case name, e.g. `"x"`).
pub fn client_secret_key(network: &str) -> String {
    account_key(&format!("app:{network}"), "client_secret")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[test]
    fn tokens_round_trip_through_a_store_and_never_print() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let t = OAuthTokens::from_response(
            Secret::new("acc-123"),
            Some(Secret::new("ref-456")),
            Some(7200),
            None,
            Some("tweet.read tweet.write".into()),
            now,
        );
        let store = MemoryStore::new();
        t.save(&store, "acct1").unwrap();
        let back = OAuthTokens::load(&store, "acct1").unwrap().unwrap();
        assert_eq!(back, t);
        assert_eq!(back.expires_at.unwrap().timestamp(), 1_800_007_200);
        assert!(back.expires_within(now, chrono::Duration::hours(3)));
        assert!(!back.expires_within(now, chrono::Duration::minutes(5)));
        let printed = format!("{back:?}");
        assert!(!printed.contains("acc-123") && !printed.contains("ref-456"));
        OAuthTokens::delete(&store, "acct1").unwrap();
        assert!(OAuthTokens::load(&store, "acct1").unwrap().is_none());
    }

    #[test]
    fn an_empty_refresh_token_is_none() {
        let now = Utc::now();
        let t = OAuthTokens::from_response(
            Secret::new("a"),
            Some(Secret::new("")),
            None,
            None,
            None,
            now,
        );
        assert!(t.refresh_token.is_none());
        assert!(!t.expires_within(now, chrono::Duration::days(365)));
    }
}
