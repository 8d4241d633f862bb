//! Choosing the store from the environment. The keychain is the default; the encrypted file
//! is used only when asked for by name, and a keychain that does not work is an error — never
//! a silent switch to the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{
    Backend, EncryptedFileStore, KeychainStore, MemoryStore, Secret, SecretError, SecretStore,
    SECRETS_FILE_NAME,
};

/// `keychain` (default), `file` or `memory` (tests only).
pub const ENV_STORE: &str = "OUTPOST_SECRET_STORE";
/// The passphrase of the encrypted file store.
pub const ENV_KEY: &str = "OUTPOST_SECRETS_KEY";
/// A file whose content (one trailing newline removed) is the passphrase.
pub const ENV_KEY_FILE: &str = "OUTPOST_SECRETS_KEY_FILE";
/// The keyring service name (default `outpost`).
pub const ENV_KEYCHAIN_SERVICE: &str = "OUTPOST_KEYCHAIN_SERVICE";

const DEFAULT_SERVICE: &str = "outpost";

/// Opens the store chosen by the process environment (see [`open_from_vars`]).
pub fn open_from_env(data_dir: &Path) -> Result<Arc<dyn SecretStore>, SecretError> {
    // Checked up front so that a non-UTF-8 passphrase is reported as such, not as "missing".
    for name in [ENV_STORE, ENV_KEY, ENV_KEY_FILE, ENV_KEYCHAIN_SERVICE] {
        if let Err(std::env::VarError::NotUnicode(_)) = std::env::var(name) {
            return Err(SecretError::InvalidEnv { name });
        }
    }
    open_from_vars(data_dir, |name| std::env::var(name).ok())
}

/// Opens the store chosen by `OUTPOST_SECRET_STORE` as returned by `var` (so that tests and a
/// CLI with flags can supply the values without touching the process environment):
///
/// * `keychain` or unset/empty: [`KeychainStore`] with service `OUTPOST_KEYCHAIN_SERVICE` (or
///   `outpost`) and [`Backend::Default`], [probed](KeychainStore::probe) before it is returned;
///   a failing probe is returned as the error.
/// * `file`: [`EncryptedFileStore`] at `data_dir/secrets.enc`, passphrase from
///   `OUTPOST_SECRETS_KEY`, else from the file named by `OUTPOST_SECRETS_KEY_FILE`; neither is
///   an error. When both are set, `OUTPOST_SECRETS_KEY` wins (a warning is logged).
/// * `memory`: [`MemoryStore`], with a warning — nothing survives the process.
pub fn open_from_vars(
    data_dir: &Path,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn SecretStore>, SecretError> {
    let choice = var(ENV_STORE).unwrap_or_default();
    match choice.trim().to_ascii_lowercase().as_str() {
        "" | "keychain" => {
            let service = var(ENV_KEYCHAIN_SERVICE)
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_SERVICE.to_owned());
            let store = KeychainStore::new(&service, Backend::Default);
            store.probe()?;
            tracing::info!(kind = store.kind(), "secret store: OS keychain");
            Ok(Arc::new(store))
        }
        "file" => {
            let passphrase = passphrase_from(&var)?;
            let path = data_dir.join(SECRETS_FILE_NAME);
            let store = EncryptedFileStore::open(&path, &passphrase)?;
            tracing::info!(path = %path.display(), "secret store: encrypted file");
            Ok(Arc::new(store))
        }
        "memory" => {
            tracing::warn!("secret store: OUTPOST_SECRET_STORE=memory keeps secrets in memory only; they are lost when the process exits (meant for tests)");
            Ok(Arc::new(MemoryStore::new()))
        }
        _ => Err(SecretError::UnknownStore { value: choice }),
    }
}

fn passphrase_from(var: &impl Fn(&str) -> Option<String>) -> Result<Secret, SecretError> {
    let direct = var(ENV_KEY).filter(|s| !s.is_empty()).map(Secret::new);
    let file = var(ENV_KEY_FILE)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    match (direct, file) {
        (Some(passphrase), file) => {
            if file.is_some() {
                tracing::warn!("secret store: both OUTPOST_SECRETS_KEY and OUTPOST_SECRETS_KEY_FILE are set; using OUTPOST_SECRETS_KEY");
            }
            Ok(passphrase)
        }
        (None, Some(path)) => read_key_file(&path),
        (None, None) => Err(SecretError::MissingKey),
    }
}

fn read_key_file(path: &Path) -> Result<Secret, SecretError> {
    let mut content = std::fs::read_to_string(path)
        .map(Secret::new)
        .map_err(|source| SecretError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
    // `echo pass > file` adds a newline that is not part of the passphrase.
    let trimmed = content
        .expose()
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s));
    if let Some(trimmed) = trimmed {
        content = Secret::new(trimmed);
    }
    if content.is_empty() {
        return Err(SecretError::EmptyPassphrase {
            origin: path.display().to_string(),
        });
    }
    warn_if_key_file_is_shared(path);
    Ok(content)
}

fn warn_if_key_file_is_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "secret store: the key file is readable by other users; chmod 600 it");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn file_without_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_from_vars(dir.path(), vars(&[(ENV_STORE, "file")])).unwrap_err();
        assert!(matches!(err, SecretError::MissingKey), "{err:?}");
        assert_eq!(
            err.to_string(),
            "secret store: OUTPOST_SECRET_STORE=file needs OUTPOST_SECRETS_KEY (a passphrase) or OUTPOST_SECRETS_KEY_FILE"
        );
        // An empty key counts as missing.
        let err =
            open_from_vars(dir.path(), vars(&[(ENV_STORE, "file"), (ENV_KEY, "")])).unwrap_err();
        assert!(matches!(err, SecretError::MissingKey), "{err:?}");
        assert!(!dir.path().join(SECRETS_FILE_NAME).exists());
    }

    #[test]
    fn unknown_store_is_refused_with_the_accepted_values() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_from_vars(dir.path(), vars(&[(ENV_STORE, "plaintext")])).unwrap_err();
        assert!(matches!(err, SecretError::UnknownStore { .. }), "{err:?}");
        let message = err.to_string();
        for accepted in ["keychain", "file", "memory", "plaintext"] {
            assert!(message.contains(accepted), "{message}");
        }
    }

    #[test]
    fn key_file_missing_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-key");
        let err = open_from_vars(
            dir.path(),
            vars(&[
                (ENV_STORE, "file"),
                (ENV_KEY_FILE, missing.to_str().unwrap()),
            ]),
        )
        .unwrap_err();
        assert!(matches!(err, SecretError::KeyFile { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-key"));
    }

    #[test]
    fn memory_store_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_from_vars(dir.path(), vars(&[(ENV_STORE, "Memory")])).unwrap();
        assert_eq!(store.kind(), "memory");
    }

    // The two tests below derive a key with the production Argon2 parameters (a few hundred
    // milliseconds in a debug build each).

    #[test]
    fn file_store_from_env_key_and_key_file_agree() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_from_vars(
            dir.path(),
            vars(&[(ENV_STORE, "file"), (ENV_KEY, "env passphrase")]),
        )
        .unwrap();
        assert_eq!(store.kind(), "file");
        store.set("account/1/session", &Secret::new("tok")).unwrap();
        drop(store);

        // The same passphrase from a key file with a trailing newline opens it.
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "env passphrase\n").unwrap();
        let store = open_from_vars(
            dir.path(),
            vars(&[
                (ENV_STORE, "file"),
                (ENV_KEY_FILE, key_file.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(
            store.get("account/1/session").unwrap(),
            Some(Secret::new("tok"))
        );
    }

    #[test]
    fn file_store_wrong_env_key() {
        let dir = tempfile::tempdir().unwrap();
        open_from_vars(dir.path(), vars(&[(ENV_STORE, "file"), (ENV_KEY, "one")])).unwrap();
        let err = open_from_vars(dir.path(), vars(&[(ENV_STORE, "file"), (ENV_KEY, "two")]))
            .err()
            .unwrap();
        assert!(matches!(err, SecretError::WrongKey { .. }), "{err:?}");
        assert!(!err.to_string().contains("two"));
    }

    #[test]
    fn empty_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "\n").unwrap();
        let err = open_from_vars(
            dir.path(),
            vars(&[
                (ENV_STORE, "file"),
                (ENV_KEY_FILE, key_file.to_str().unwrap()),
            ]),
        )
        .err()
        .unwrap();
        assert!(
            matches!(err, SecretError::EmptyPassphrase { .. }),
            "{err:?}"
        );
    }
}
