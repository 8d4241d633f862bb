//! [`KeychainStore`]: secrets in the OS keychain through the `keyring` crate (v3).
//!
//! # Which backend (Linux)
//!
//! The workspace enables keyring's `linux-native` and `sync-secret-service` features
//! separately (not the combined `linux-native-sync-persistent`). With that combination
//! keyring's own default, used by `keyring::Entry::new`, is **Secret Service only**
//! (`keyring::default` is `keyring::secret_service`; the keyutils module is compiled but only
//! becomes the default when no Secret Service feature is on). `Entry::new` never falls back to
//! the kernel keyring by itself, and `keyring::set_default_credential_builder` is process-wide
//! (it would race between parallel tests), so this module never uses either: every entry is
//! built with `Entry::new_with_credential` for an explicitly chosen backend.
//!
//! [`Backend::Default`] picks, once per store, on first use:
//! 1. **Secret Service** (gnome-keyring, KWallet, KeePassXC…) when a session bus answers and a
//!    provider is registered or D-Bus-activatable — also when it is *locked*: then operations
//!    fail with [`SecretError::KeychainLocked`] (transient) rather than moving the secrets
//!    somewhere else behind the user's back;
//! 2. otherwise the **kernel keyring** (keyutils), when the process has a session keyring;
//! 3. otherwise [`SecretError::KeychainUnavailable`].
//!
//! A Secret Service that does not answer in time is reported as [`SecretError::KeychainBusy`]
//! and *not* treated as absent, for the same reason.
//!
//! # Kernel keyring limitation
//!
//! keyutils keys live in kernel memory: in the session keyring (linked also into the user's
//! persistent keyring when the kernel offers one, which expires a few days after the last
//! use — `/proc/sys/kernel/keys/persistent_keyring_expiry`). They are fine for the life of a
//! login session or a long-running agent, but **do not survive a reboot**, and a process
//! started outside that session (another SSH login, a systemd unit) does not see them. On a
//! server that must keep secrets across reboots, use the encrypted file store.
//!
//! # Naming
//!
//! The store's `service` (default `"outpost"`) is keyring's *service*; each Outpost key name
//! (see [`crate::account_key`]) is keyring's *user*. In Secret Service this gives items with
//! attributes `service=outpost`, `username=account/…/app_password`, `target=default`; in
//! keyutils a `user` key described as `keyring-rs:account/…/app_password@outpost`.

use std::sync::{Mutex, PoisonError};

use rand::RngCore;

use crate::{check_key, check_value, Secret, SecretError, SecretStore};

/// Which keychain a [`KeychainStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Secret Service when reachable, else the kernel keyring (see the module docs).
    #[default]
    Default,
    /// The freedesktop Secret Service over the D-Bus session bus.
    SecretService,
    /// The Linux kernel key-retention service (session keyring). Does not survive a reboot.
    Keyutils,
}

/// The backend actually in use after [`Backend::Default`] has been resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolved {
    SecretService,
    Keyutils,
}

impl Resolved {
    fn kind(self) -> &'static str {
        match self {
            Resolved::SecretService => "keychain:secret-service",
            Resolved::Keyutils => "keychain:keyutils",
        }
    }
}

/// Secrets in the OS keychain. Keys are keyring "users" under one keyring "service".
pub struct KeychainStore {
    service: String,
    backend: Backend,
    /// Filled on first use; a failed resolution is not cached, so a keyring daemon started
    /// later is picked up by the next call.
    resolved: Mutex<Option<Resolved>>,
}

impl std::fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainStore")
            .field("service", &self.service)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl KeychainStore {
    /// A store whose items belong to keyring service `service` (Outpost uses `"outpost"`;
    /// tests use unique names). Does not touch the keychain yet: call [`probe`](Self::probe).
    pub fn new(service: &str, backend: Backend) -> Self {
        Self {
            service: service.to_owned(),
            backend,
            resolved: Mutex::new(None),
        }
    }

    /// The keyring service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The backend that was asked for (see [`SecretStore::kind`] for the one in use).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Proves the backend works end to end: writes a random canary under a per-process key,
    /// reads it back, deletes it and checks it is gone.
    pub fn probe(&self) -> Result<(), SecretError> {
        let resolved = self.resolve()?;
        let mut rng = rand::rngs::OsRng;
        let mut nonce = [0u8; 8];
        rng.fill_bytes(&mut nonce);
        let mut value = [0u8; 16];
        rng.fill_bytes(&mut value);
        let key = format!(
            "outpost-probe/{}-{}",
            std::process::id(),
            hex::encode(nonce)
        );
        let canary = Secret::new(hex::encode(value));

        self.set(&key, &canary)?;
        let checked = (|| {
            if self.get(&key)?.as_ref() != Some(&canary) {
                return Err(SecretError::KeychainProbeMismatch {
                    backend: resolved.kind(),
                });
            }
            self.delete(&key)?;
            if self.get(&key)?.is_some() {
                return Err(SecretError::KeychainFailure {
                    backend: resolved.kind(),
                    detail: "a deleted item can still be read".into(),
                });
            }
            Ok(())
        })();
        if checked.is_err() {
            // Best effort: do not leave the canary behind.
            let _ = self.delete(&key);
        }
        checked?;
        tracing::debug!(kind = resolved.kind(), service = %self.service, "keychain probe passed");
        Ok(())
    }

    fn resolve(&self) -> Result<Resolved, SecretError> {
        let mut cached = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(resolved) = *cached {
            return Ok(resolved);
        }
        let resolved = match self.backend {
            Backend::SecretService => Resolved::SecretService,
            Backend::Keyutils => Resolved::Keyutils,
            Backend::Default => platform::resolve_default(&self.service)?,
        };
        tracing::info!(kind = resolved.kind(), service = %self.service, "secret store: using the OS keychain");
        *cached = Some(resolved);
        Ok(resolved)
    }

    fn entry(&self, resolved: Resolved, key: &str) -> Result<keyring::Entry, SecretError> {
        platform::entry(resolved, &self.service, key)
    }
}

impl SecretStore for KeychainStore {
    fn kind(&self) -> &'static str {
        match self.resolve() {
            Ok(resolved) => resolved.kind(),
            Err(_) => "keychain",
        }
    }

    fn get(&self, key: &str) -> Result<Option<Secret>, SecretError> {
        check_key(key)?;
        let resolved = self.resolve()?;
        match self.entry(resolved, key)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(map_error(resolved, key, err)),
        }
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretError> {
        check_key(key)?;
        check_value(key, value)?;
        let resolved = self.resolve()?;
        match self.entry(resolved, key)?.set_password(value.expose()) {
            Ok(()) => Ok(()),
            // keyring maps keyutils' EACCES/EPERM to NoEntry; on a write that means the kernel
            // keyring refused us (no usable session keyring, or keyctl blocked by a sandbox).
            Err(keyring::Error::NoEntry) => Err(SecretError::KeychainUnavailable {
                detail: format!("{} refused to store a key", resolved.kind()),
            }),
            Err(err) => Err(map_error(resolved, key, err)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), SecretError> {
        check_key(key)?;
        let resolved = self.resolve()?;
        match self.entry(resolved, key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(map_error(resolved, key, err)),
        }
    }
}

/// Translates a keyring error without ever copying data that could contain the secret.
fn map_error(resolved: Resolved, key: &str, err: keyring::Error) -> SecretError {
    let backend = resolved.kind();
    match err {
        keyring::Error::NoStorageAccess(inner) => SecretError::KeychainLocked {
            backend,
            detail: inner.to_string(),
        },
        keyring::Error::PlatformFailure(inner) => platform::classify_failure(resolved, &*inner),
        keyring::Error::NoEntry => SecretError::KeychainFailure {
            backend,
            detail: "the item disappeared".into(),
        },
        keyring::Error::BadEncoding(_) => SecretError::KeychainBadEncoding {
            backend,
            key: key.into(),
        },
        keyring::Error::TooLong(what, limit) => SecretError::KeychainRejected {
            backend,
            what,
            reason: format!("longer than the platform limit of {limit}"),
        },
        keyring::Error::Invalid(what, reason) => SecretError::KeychainRejected {
            backend,
            what,
            reason,
        },
        keyring::Error::Ambiguous(items) => SecretError::KeychainAmbiguous {
            backend,
            key: key.into(),
            count: items.len(),
        },
        // keyring::Error is non-exhaustive; an unknown variant might carry data we cannot
        // vouch for, so only its existence is reported.
        _ => SecretError::KeychainFailure {
            backend,
            detail: "unexpected error from the keyring library".into(),
        },
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use keyring::keyutils::KeyutilsCredential;
    use keyring::secret_service::SsCredential;

    use super::Resolved;
    use crate::SecretError;

    /// Key name used to ask a backend "are you there?" without creating anything.
    const LOOKUP_USER: &str = "outpost-probe/lookup";

    pub(super) fn entry(
        resolved: Resolved,
        service: &str,
        user: &str,
    ) -> Result<keyring::Entry, SecretError> {
        let credential: Box<keyring::credential::Credential> = match resolved {
            Resolved::SecretService => Box::new(
                SsCredential::new_with_target(None, service, user)
                    .map_err(|err| super::map_error(resolved, user, err))?,
            ),
            Resolved::Keyutils => Box::new(
                KeyutilsCredential::new_with_target(None, service, user).map_err(|err| {
                    match err {
                        // keyring reports a missing/forbidden session keyring as NoEntry.
                        keyring::Error::NoEntry => SecretError::KeychainUnavailable {
                            detail: "the process has no usable kernel session keyring".into(),
                        },
                        other => super::map_error(resolved, user, other),
                    }
                })?,
            ),
        };
        Ok(keyring::Entry::new_with_credential(credential))
    }

    /// Secret Service if it answers, else keyutils (see the module docs).
    pub(super) fn resolve_default(service: &str) -> Result<Resolved, SecretError> {
        let ss_detail = match entry(Resolved::SecretService, service, LOOKUP_USER)?.get_password() {
            Ok(_)
            | Err(keyring::Error::NoEntry)
            | Err(keyring::Error::NoStorageAccess(_))
            | Err(keyring::Error::Ambiguous(_))
            | Err(keyring::Error::BadEncoding(_)) => return Ok(Resolved::SecretService),
            Err(keyring::Error::PlatformFailure(inner)) => {
                match classify_failure(Resolved::SecretService, &*inner) {
                    SecretError::KeychainUnavailable { detail } => detail,
                    // There is a Secret Service but it misbehaves: say so rather than quietly
                    // putting secrets into a keyring that forgets them at reboot.
                    other => return Err(other),
                }
            }
            Err(other) => return Err(super::map_error(Resolved::SecretService, "", other)),
        };
        tracing::debug!(reason = %ss_detail, "no Secret Service; trying the kernel keyring");

        let ku_detail = match entry(Resolved::Keyutils, service, LOOKUP_USER) {
            Ok(entry) => match entry.get_password() {
                Ok(_) | Err(keyring::Error::NoEntry) | Err(keyring::Error::BadEncoding(_)) => {
                    return Ok(Resolved::Keyutils)
                }
                Err(other) => other.to_string(),
            },
            Err(err) => err.to_string(),
        };
        Err(SecretError::KeychainUnavailable {
            detail: format!("Secret Service: {ss_detail}; kernel keyring: {ku_detail}"),
        })
    }

    /// Sorts a platform failure into unavailable / busy / other, from the D-Bus error *name*
    /// (never from message text).
    pub(super) fn classify_failure(
        resolved: Resolved,
        inner: &(dyn std::error::Error + Send + Sync + 'static),
    ) -> SecretError {
        let backend = resolved.kind();
        let detail = inner.to_string();
        let Some(ss_err) = inner.downcast_ref::<dbus_secret_service::Error>() else {
            return SecretError::KeychainFailure { backend, detail };
        };
        match ss_err {
            dbus_secret_service::Error::Unavailable => SecretError::KeychainUnavailable { detail },
            dbus_secret_service::Error::Locked | dbus_secret_service::Error::Prompt => {
                SecretError::KeychainLocked { backend, detail }
            }
            dbus_secret_service::Error::Dbus(dbus_err) => {
                match dbus_err.name().map(dbus_error_class) {
                    Some(DbusClass::Unavailable) => SecretError::KeychainUnavailable { detail },
                    Some(DbusClass::Busy) => SecretError::KeychainBusy { backend, detail },
                    _ => SecretError::KeychainFailure { backend, detail },
                }
            }
            _ => SecretError::KeychainFailure { backend, detail },
        }
    }

    enum DbusClass {
        Unavailable,
        Busy,
        Other,
    }

    fn dbus_error_class(name: &str) -> DbusClass {
        const PREFIX: &str = "org.freedesktop.DBus.Error.";
        let Some(short) = name.strip_prefix(PREFIX) else {
            return DbusClass::Other;
        };
        match short {
            // No session bus, or nobody provides org.freedesktop.secrets.
            "ServiceUnknown" | "NameHasNoOwner" | "NotSupported" | "NoServer" | "FileNotFound"
            | "BadAddress" | "NoNetwork" | "UnknownObject" | "UnknownInterface"
            | "UnknownMethod" => DbusClass::Unavailable,
            // Activation of the provider failed.
            s if s.starts_with("Spawn.") => DbusClass::Unavailable,
            "NoReply" | "Timeout" | "TimedOut" | "Disconnected" | "LimitsExceeded" | "NoMemory" => {
                DbusClass::Busy
            }
            _ => DbusClass::Other,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    //! The workspace enables only keyring's Linux backends; on other systems keyring's default
    //! would be its in-memory mock, which must never hold real secrets.
    use super::Resolved;
    use crate::SecretError;

    const DETAIL: &str = "this build of Outpost has no keychain backend for this operating system";

    pub(super) fn entry(
        _resolved: Resolved,
        _service: &str,
        _user: &str,
    ) -> Result<keyring::Entry, SecretError> {
        Err(SecretError::KeychainUnavailable {
            detail: DETAIL.into(),
        })
    }

    pub(super) fn resolve_default(_service: &str) -> Result<Resolved, SecretError> {
        Err(SecretError::KeychainUnavailable {
            detail: DETAIL.into(),
        })
    }

    pub(super) fn classify_failure(
        resolved: Resolved,
        inner: &(dyn std::error::Error + Send + Sync + 'static),
    ) -> SecretError {
        SecretError::KeychainFailure {
            backend: resolved.kind(),
            detail: inner.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_lazy_and_debug_shows_no_secrets() {
        // Creating a store must not talk to any keychain.
        let store = KeychainStore::new("outpost-unit", Backend::Keyutils);
        assert_eq!(store.service(), "outpost-unit");
        assert_eq!(store.backend(), Backend::Keyutils);
        assert!(store.resolved.lock().unwrap().is_none());
        assert_eq!(store.kind(), "keychain:keyutils");
        assert!(format!("{store:?}").contains("outpost-unit"));
    }

    #[test]
    fn keyring_errors_never_carry_the_value() {
        let err = map_error(
            Resolved::SecretService,
            "account/1/session",
            keyring::Error::BadEncoding(b"raw-secret-bytes".to_vec()),
        );
        assert!(!format!("{err:?}").contains("raw-secret"));
        assert!(!err.to_string().contains("raw-secret"));
        assert!(matches!(err, SecretError::KeychainBadEncoding { .. }));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn secret_service_failures_are_classified_by_dbus_error_name() {
        let classify = |name: &str| {
            let inner = dbus_secret_service::Error::Dbus(dbus::Error::new_custom(name, "msg"));
            platform::classify_failure(Resolved::SecretService, &inner)
        };
        assert!(matches!(
            classify("org.freedesktop.DBus.Error.ServiceUnknown"),
            SecretError::KeychainUnavailable { .. }
        ));
        assert!(matches!(
            classify("org.freedesktop.DBus.Error.NotSupported"),
            SecretError::KeychainUnavailable { .. }
        ));
        let busy = classify("org.freedesktop.DBus.Error.NoReply");
        assert!(busy.is_transient(), "{busy:?}");
        assert!(matches!(
            classify("org.example.Weird"),
            SecretError::KeychainFailure { .. }
        ));
        let locked = platform::classify_failure(
            Resolved::SecretService,
            &dbus_secret_service::Error::Locked,
        );
        assert!(locked.is_transient());
    }
}
