//! outpost-auth: where Outpost keeps tokens, app passwords and client secrets.
//!
//! Every secret lives in the OS keychain ([`KeychainStore`]) unless the user explicitly chose
//! the encrypted file ([`EncryptedFileStore`]) with `OUTPOST_SECRET_STORE=file` — typically on
//! a headless machine without a keyring daemon. The choice is never made silently: when the
//! keychain does not work, [`open_from_env`] fails with an error that names both fixes.
//!
//! This crate must never write a secret in plaintext anywhere: not to logs (values are wrapped
//! in [`Secret`], whose `Debug`/`Display` print `<redacted>`), not into error messages, and not
//! to disk (the file store encrypts the whole map, key names included).
//!
//! [`MemoryStore`] exists for tests of other crates.

mod env;
mod error;
mod file;
mod keychain;
mod memory;
pub mod oauth;
mod secret;
pub mod tokens;

pub use env::{
    open_from_env, open_from_vars, ENV_KEY, ENV_KEYCHAIN_SERVICE, ENV_KEY_FILE, ENV_STORE,
};
pub use error::SecretError;
pub use file::{EncryptedFileStore, KdfParams, SECRETS_FILE_NAME};
pub use keychain::{Backend, KeychainStore};
pub use memory::MemoryStore;
pub use secret::Secret;
pub use tokens::{client_secret_key, OAuthTokens};

/// A place that keeps secrets under string keys (see [`account_key`] for the key names).
///
/// Implementations are blocking (the keychain talks D-Bus synchronously, the file store does
/// file I/O and takes a file lock); async callers should use `spawn_blocking`.
pub trait SecretStore: Send + Sync {
    /// Which store this is: `"keychain:secret-service"`, `"keychain:keyutils"`, `"file"`,
    /// `"memory"` — for logs and the settings screen.
    fn kind(&self) -> &'static str;

    /// The secret stored under `key`, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Secret>, SecretError>;

    /// Stores `value` under `key`, replacing any previous value. Empty values are refused
    /// ([`SecretError::EmptySecret`]) by every store, because the kernel keyring cannot hold
    /// them; delete the key instead.
    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretError>;

    /// Removes `key`. Deleting a key that does not exist is not an error.
    fn delete(&self, key: &str) -> Result<(), SecretError>;
}

/// Lets structs that hold an `Arc<dyn SecretStore>` derive `Debug`. Prints no contents (and
/// does not call [`SecretStore::kind`], which may talk to the keychain).
impl std::fmt::Debug for dyn SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretStore { .. }")
    }
}

/// The key under which a per-account secret is stored, e.g.
/// `account_key("did:plc:abc", "app_password")` → `"account/did:plc:abc/app_password"`.
///
/// Everybody derives key names through this function so the app, the CLI and the engine agree.
/// Conventional `what` values: `app_password`, `session`, `client_secret`, `refresh_token`.
/// `/` and `%` inside either part are percent-encoded so that two different pairs can never
/// produce the same key.
pub fn account_key(account_id: &str, what: &str) -> String {
    format!("account/{}/{}", escape_part(account_id), escape_part(what))
}

fn escape_part(part: &str) -> String {
    part.replace('%', "%25").replace('/', "%2F")
}

/// Longest key name any store accepts (keyutils descriptions are limited to 4095 bytes and
/// include a prefix and the service name).
const MAX_KEY_LEN: usize = 1024;

/// Checks a key name and a value before a store touches them.
pub(crate) fn check_key(key: &str) -> Result<(), SecretError> {
    let reason = if key.is_empty() {
        "it is empty"
    } else if key.len() > MAX_KEY_LEN {
        "it is longer than 1024 bytes"
    } else if key.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(SecretError::InvalidKey {
        key: key.chars().take(80).collect(),
        reason,
    })
}

pub(crate) fn check_value(key: &str, value: &Secret) -> Result<(), SecretError> {
    if value.is_empty() {
        return Err(SecretError::EmptySecret { key: key.into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_are_stable_and_injective() {
        assert_eq!(
            account_key("did:plc:abc", "app_password"),
            "account/did:plc:abc/app_password"
        );
        assert_eq!(account_key("42", "session"), "account/42/session");
        assert_ne!(account_key("a/b", "c"), account_key("a", "b/c"));
        assert_ne!(account_key("a%2Fb", "c"), account_key("a/b", "c"));
    }

    #[test]
    fn key_names_are_checked() {
        assert!(check_key("account/1/session").is_ok());
        assert!(matches!(check_key(""), Err(SecretError::InvalidKey { .. })));
        assert!(check_key("a\nb").is_err());
        assert!(check_key(&"x".repeat(2000)).is_err());
    }
}
