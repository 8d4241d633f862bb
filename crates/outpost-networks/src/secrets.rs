//! The secret store as every OAuth network uses it: tokens and the app's client secret, read
//! and written off the async threads (the keychain talks D-Bus synchronously), with one error
//! for a store that does not answer.

use outpost_auth::{client_secret_key, OAuthTokens, Secret, SecretStore};
use outpost_core::error::sanitize_message;
use outpost_core::{ErrorClass, Network, PublishError};
use std::sync::Arc;

/// The store did not answer: worth retrying, and the message says where to look.
pub fn store_error(network: Network, verb: &str, reason: &str) -> PublishError {
    PublishError::new(
        network,
        ErrorClass::Transient { retry_after: None },
        format!(
            "could not {verb} the secret store ({}) — Outpost will retry; if it keeps failing, check the keychain (or OUTPOST_SECRET_STORE)",
            sanitize_message(reason, 120)
        ),
    )
}

/// The tokens stored under `owner` (an account id, or a staging key), if any.
pub async fn load_tokens(
    secrets: &Arc<dyn SecretStore>,
    network: Network,
    owner: &str,
) -> Result<Option<OAuthTokens>, PublishError> {
    let (store, id) = (Arc::clone(secrets), owner.to_string());
    match tokio::task::spawn_blocking(move || OAuthTokens::load(&*store, &id)).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(store_error(network, "read from", &e.to_string())),
        Err(e) => Err(store_error(network, "read from", &e.to_string())),
    }
}

/// Saves `tokens` under `owner` (a rotated refresh token before anything uses it).
pub async fn save_tokens(
    secrets: &Arc<dyn SecretStore>,
    network: Network,
    owner: &str,
    tokens: OAuthTokens,
) -> Result<(), PublishError> {
    let (store, id) = (Arc::clone(secrets), owner.to_string());
    match tokio::task::spawn_blocking(move || tokens.save(&*store, &id)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(store_error(network, "write to", &e.to_string())),
        Err(e) => Err(store_error(network, "write to", &e.to_string())),
    }
}

/// The user's own app's client secret for `network`, when one is stored.
pub async fn client_secret(
    secrets: &Arc<dyn SecretStore>,
    network: Network,
) -> Result<Option<Secret>, PublishError> {
    let store = Arc::clone(secrets);
    match tokio::task::spawn_blocking(move || store.get(&client_secret_key(network.as_str()))).await
    {
        Ok(Ok(v)) => Ok(v.filter(|s| !s.is_empty())),
        Ok(Err(e)) => Err(store_error(network, "read from", &e.to_string())),
        Err(e) => Err(store_error(network, "read from", &e.to_string())),
    }
}

/// The secret stored under `key`, if any.
pub async fn get(
    secrets: &Arc<dyn SecretStore>,
    network: Network,
    key: String,
) -> Result<Option<Secret>, PublishError> {
    let store = Arc::clone(secrets);
    match tokio::task::spawn_blocking(move || store.get(&key)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(store_error(network, "read from", &e.to_string())),
        Err(e) => Err(store_error(network, "read from", &e.to_string())),
    }
}

/// Stores `value` under `key`.
pub async fn set(
    secrets: &Arc<dyn SecretStore>,
    network: Network,
    key: String,
    value: Secret,
) -> Result<(), PublishError> {
    let store = Arc::clone(secrets);
    match tokio::task::spawn_blocking(move || store.set(&key, &value)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(store_error(network, "write to", &e.to_string())),
        Err(e) => Err(store_error(network, "write to", &e.to_string())),
    }
}

/// Removes what is stored under `key` (nothing there is fine).
pub async fn delete(
    secrets: &Arc<dyn SecretStore>,
    network: Network,
    key: String,
) -> Result<(), PublishError> {
    let store = Arc::clone(secrets);
    match tokio::task::spawn_blocking(move || store.delete(&key)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(store_error(network, "write to", &e.to_string())),
        Err(e) => Err(store_error(network, "write to", &e.to_string())),
    }
}

/// Removes the tokens stored under `owner`.
pub async fn delete_tokens(
    secrets: &Arc<dyn SecretStore>,
    network: Network,
    owner: &str,
) -> Result<(), PublishError> {
    let (store, id) = (Arc::clone(secrets), owner.to_string());
    match tokio::task::spawn_blocking(move || OAuthTokens::delete(&*store, &id)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(store_error(network, "write to", &e.to_string())),
        Err(e) => Err(store_error(network, "write to", &e.to_string())),
    }
}
