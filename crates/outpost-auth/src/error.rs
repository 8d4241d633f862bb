//! [`SecretError`]: what went wrong with a secret store, in words that name the store and the
//! fix. No variant carries a secret value or a passphrase, and no variant copies an error of
//! the keychain library that could (keyring's `BadEncoding` holds the raw bytes; it is mapped
//! to a variant without them).

use std::io;
use std::path::PathBuf;

/// An error from a secret store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Neither a Secret Service nor a kernel keyring answered (or the requested one did not).
    #[error("keychain: no Secret Service or kernel keyring is available — start a keyring daemon, or set OUTPOST_SECRET_STORE=file with OUTPOST_SECRETS_KEY ({detail})")]
    KeychainUnavailable {
        /// What the backends said, for the log.
        detail: String,
    },

    /// The keychain exists but is locked, refused access or wants a prompt nobody can answer.
    #[error("{backend}: the keychain is locked or refused access — unlock it (log in to the desktop session, or unlock the keyring daemon) and try again ({detail})")]
    KeychainLocked {
        /// The store's kind, e.g. `keychain:secret-service`.
        backend: &'static str,
        /// The platform's reason.
        detail: String,
    },

    /// The keychain failed in a way a retry may cure (D-Bus timeout, daemon restarting).
    #[error("{backend}: the keychain did not answer in time, try again ({detail})")]
    KeychainBusy {
        /// The store's kind.
        backend: &'static str,
        /// The platform's reason.
        detail: String,
    },

    /// Any other failure reported by the keychain.
    #[error("{backend}: the keychain failed: {detail}")]
    KeychainFailure {
        /// The store's kind.
        backend: &'static str,
        /// The platform's reason.
        detail: String,
    },

    /// Several keychain items match one key (written by another program).
    #[error("{backend}: {count} keychain items match {key:?} — delete the duplicates with your keychain manager (e.g. Seahorse)")]
    KeychainAmbiguous {
        /// The store's kind.
        backend: &'static str,
        /// The Outpost key name.
        key: String,
        /// How many items matched.
        count: usize,
    },

    /// The keychain item is not UTF-8 text (written by another program).
    #[error("{backend}: the keychain item for {key:?} is not text — delete it and enter the secret again")]
    KeychainBadEncoding {
        /// The store's kind.
        backend: &'static str,
        /// The Outpost key name.
        key: String,
    },

    /// The keychain rejected a name or value (too long, invalid).
    #[error("{backend}: the keychain rejected {what}: {reason}")]
    KeychainRejected {
        /// The store's kind.
        backend: &'static str,
        /// Which attribute.
        what: String,
        /// Why.
        reason: String,
    },

    /// The probe wrote a canary but read back something else.
    #[error("{backend}: the keychain returned a different value than was stored during the start-up check — another program may be interfering; set OUTPOST_SECRET_STORE=file to use the encrypted file instead")]
    KeychainProbeMismatch {
        /// The store's kind.
        backend: &'static str,
    },

    /// `OUTPOST_SECRET_STORE=file` without a key.
    #[error("secret store: OUTPOST_SECRET_STORE=file needs OUTPOST_SECRETS_KEY (a passphrase) or OUTPOST_SECRETS_KEY_FILE")]
    MissingKey,

    /// The passphrase is empty.
    #[error("secret store: the passphrase from {origin} is empty")]
    EmptyPassphrase {
        /// Where it came from (`OUTPOST_SECRETS_KEY`, the key file's path).
        origin: String,
    },

    /// The key file named by `OUTPOST_SECRETS_KEY_FILE` cannot be read.
    #[error("secret store: cannot read the key file {path} (OUTPOST_SECRETS_KEY_FILE): {source}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// An environment variable is not valid UTF-8.
    #[error("secret store: {name} is not valid UTF-8")]
    InvalidEnv {
        /// The variable's name.
        name: &'static str,
    },

    /// `OUTPOST_SECRET_STORE` has a value we do not know.
    #[error("secret store: unknown OUTPOST_SECRET_STORE={value:?}; accepted values are \"keychain\" (the default), \"file\" and \"memory\" (tests only)")]
    UnknownStore {
        /// The value found.
        value: String,
    },

    /// The passphrase does not open the encrypted file.
    #[error("secret store: the key does not open {} (wrong OUTPOST_SECRETS_KEY?); the file was left untouched", path.display())]
    WrongKey {
        /// The encrypted file.
        path: PathBuf,
    },

    /// The encrypted file is damaged. It is never overwritten in that state.
    #[error("secret store: {} is corrupt ({reason}); it was left untouched — restore it from a backup, or move it aside and enter the secrets again", path.display())]
    Corrupt {
        /// The encrypted file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The encrypted file was written by a newer Outpost.
    #[error("secret store: {} uses format version {version}, which this Outpost does not know — upgrade Outpost", path.display())]
    UnsupportedFormat {
        /// The encrypted file.
        path: PathBuf,
        /// The version byte found.
        version: u8,
    },

    /// Reading or writing the encrypted file (or its lock) failed.
    #[error("secret store: {action} {} failed: {source}", path.display())]
    Io {
        /// What we were doing ("reading", "writing", "locking"…).
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Stores refuse empty values: delete the key instead.
    #[error(
        "secret store: refusing to store an empty secret for {key:?} — delete the key instead"
    )]
    EmptySecret {
        /// The key name.
        key: String,
    },

    /// The key name is not usable.
    #[error("secret store: invalid key name {key:?}: {reason}")]
    InvalidKey {
        /// The key name.
        key: String,
        /// Why.
        reason: &'static str,
    },

    /// Encryption itself failed (should not happen; reported rather than panicking).
    #[error("secret store: encryption failed: {0}")]
    Crypto(String),
}

impl SecretError {
    /// True when the same call may succeed later without anyone changing the configuration:
    /// a locked or busy keychain, or an interrupted/timed-out file operation.
    pub fn is_transient(&self) -> bool {
        match self {
            SecretError::KeychainLocked { .. } | SecretError::KeychainBusy { .. } => true,
            SecretError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SecretError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        let locked = SecretError::KeychainLocked {
            backend: "keychain:secret-service",
            detail: "locked".into(),
        };
        assert!(locked.is_transient());
        assert!(SecretError::KeychainBusy {
            backend: "keychain:secret-service",
            detail: "NoReply".into(),
        }
        .is_transient());
        assert!(
            SecretError::io("reading", "x", io::Error::from(io::ErrorKind::Interrupted))
                .is_transient()
        );
        assert!(!SecretError::MissingKey.is_transient());
        assert!(!SecretError::KeychainUnavailable {
            detail: String::new()
        }
        .is_transient());
        assert!(!SecretError::WrongKey { path: "x".into() }.is_transient());
        assert!(
            !SecretError::io("reading", "x", io::Error::from(io::ErrorKind::NotFound))
                .is_transient()
        );
    }

    #[test]
    fn messages_name_the_fix() {
        let unavailable = SecretError::KeychainUnavailable {
            detail: "no bus".into(),
        }
        .to_string();
        assert!(unavailable.starts_with(
            "keychain: no Secret Service or kernel keyring is available — start a keyring daemon, or set OUTPOST_SECRET_STORE=file with OUTPOST_SECRETS_KEY"
        ));
        let wrong = SecretError::WrongKey {
            path: "/d/secrets.enc".into(),
        }
        .to_string();
        assert!(wrong.starts_with(
            "secret store: the key does not open /d/secrets.enc (wrong OUTPOST_SECRETS_KEY?)"
        ));
        let corrupt = SecretError::Corrupt {
            path: "/d/secrets.enc".into(),
            reason: "it is truncated".into(),
        }
        .to_string();
        assert!(corrupt.starts_with("secret store: /d/secrets.enc is corrupt (it is truncated)"));
    }
}
