//! [`EncryptedFileStore`]: the explicit, opt-in store for machines without a keychain.
//!
//! One file, `<data_dir>/secrets.enc`, holds the whole key → secret map as JSON encrypted with
//! XChaCha20-Poly1305. The 256-bit key is derived from the user's passphrase with Argon2id and
//! a random salt stored in the file's header. Key names are inside the ciphertext too, so the
//! file reveals nothing but its approximate size (the plaintext is padded to 256 bytes).
//!
//! File layout (integers little-endian):
//!
//! | bytes | content                                                        |
//! |-------|----------------------------------------------------------------|
//! | 16    | magic `OUTPOST-SECRETS\n`                                      |
//! | 1     | format version (1)                                             |
//! | 1     | KDF id (1 = Argon2id v0x13, 32-byte output)                    |
//! | 4+4+4 | Argon2 memory (KiB), iterations, lanes                         |
//! | 16    | salt                                                           |
//! | 16    | key check: SHA-256("outpost-secrets key check v1" ‖ key)[..16] |
//! | 24    | XChaCha20 nonce (fresh for every write)                        |
//! | rest  | ciphertext ‖ Poly1305 tag; the 86 header bytes are the AAD     |
//!
//! The key check tells a wrong passphrase apart from a damaged file without decrypting; it is
//! derived from the Argon2 output, so it gives an attacker nothing the ciphertext does not.
//!
//! Every operation re-reads the file under a lock (a process-wide mutex plus `flock` on the
//! sidecar `secrets.enc.lock`), so the app and the CLI agent can both write without losing
//! each other's entries. Writes go to a temporary file (mode 0600) that is fsynced and renamed
//! over `secrets.enc`, then the directory is fsynced.
//!
//! This module must never overwrite a file it could not decrypt: a wrong passphrase or a
//! damaged file is an error that leaves the file exactly as it was.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{check_key, check_value, Secret, SecretError, SecretStore};

/// The file name inside the data directory.
pub const SECRETS_FILE_NAME: &str = "secrets.enc";

const MAGIC: &[u8; 16] = b"OUTPOST-SECRETS\n";
const FORMAT_VERSION: u8 = 1;
const KDF_ARGON2ID_V13: u8 = 1;
const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 12 + SALT_LEN + CHECK_LEN + NONCE_LEN;
const KEY_CHECK_CONTEXT: &[u8] = b"outpost-secrets key check v1";
/// Plaintext is padded (with JSON whitespace) to a multiple of this, to blur the sizes.
const PAD_TO: usize = 256;

/// Serialises all file-store operations of this process. `flock` alone would be enough
/// between processes, and it even excludes two descriptors of one process, but the mutex keeps
/// threads queueing in-process instead of all blocking inside the kernel.
static PROCESS_LOCK: Mutex<()> = Mutex::new(());

/// Argon2id cost parameters for *new* files. Existing files keep the parameters recorded in
/// their header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// What [`EncryptedFileStore::open`] uses: 64 MiB, 3 iterations, 1 lane (the second
    /// recommended option of RFC 9106 §4). Derivation runs once per `open`.
    pub const RECOMMENDED: KdfParams = KdfParams {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Cheap parameters for tests only: they make brute-forcing the passphrase easy.
    pub const INSECURE_FOR_TESTS: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    /// Upper bounds accepted from a file header, so a damaged header cannot make us allocate
    /// gigabytes or spin for minutes.
    const MAX: KdfParams = KdfParams {
        m_cost_kib: 4 * 1024 * 1024,
        t_cost: 64,
        p_cost: 64,
    };

    fn within_bounds(&self) -> bool {
        self.m_cost_kib <= Self::MAX.m_cost_kib
            && self.t_cost <= Self::MAX.t_cost
            && self.p_cost <= Self::MAX.p_cost
    }

    fn argon2(&self) -> Result<argon2::Argon2<'static>, argon2::Error> {
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

/// The parsed fixed-size header of `secrets.enc`.
#[derive(Clone, Copy)]
struct Header {
    kdf: KdfParams,
    salt: [u8; SALT_LEN],
    check: [u8; CHECK_LEN],
    nonce: [u8; NONCE_LEN],
}

impl Header {
    fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(MAGIC);
        put(&[FORMAT_VERSION, KDF_ARGON2ID_V13]);
        put(&self.kdf.m_cost_kib.to_le_bytes());
        put(&self.kdf.t_cost.to_le_bytes());
        put(&self.kdf.p_cost.to_le_bytes());
        put(&self.salt);
        put(&self.check);
        put(&self.nonce);
        out
    }

    /// Parses the header, or says why the file is not a secrets file we can read.
    fn parse(path: &Path, bytes: &[u8]) -> Result<Header, SecretError> {
        let corrupt = |reason: &str| SecretError::Corrupt {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt("it is not an Outpost secrets file"));
        }
        if bytes.len() < MAGIC.len() + 1 {
            return Err(corrupt("it is truncated"));
        }
        let version = bytes[MAGIC.len()];
        if version != FORMAT_VERSION {
            return Err(SecretError::UnsupportedFormat {
                path: path.to_owned(),
                version,
            });
        }
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(corrupt("it is truncated"));
        }
        let mut at = MAGIC.len() + 1;
        let mut take = |n: usize| {
            let slice = &bytes[at..at + n];
            at += n;
            slice
        };
        if take(1)[0] != KDF_ARGON2ID_V13 {
            return Err(corrupt("unknown key-derivation function"));
        }
        let mut u32_at = || {
            let mut le = [0u8; 4];
            le.copy_from_slice(take(4));
            u32::from_le_bytes(le)
        };
        let kdf = KdfParams {
            m_cost_kib: u32_at(),
            t_cost: u32_at(),
            p_cost: u32_at(),
        };
        if !kdf.within_bounds() || kdf.argon2().is_err() {
            return Err(corrupt("its key-derivation parameters are out of range"));
        }
        let mut header = Header {
            kdf,
            salt: [0; SALT_LEN],
            check: [0; CHECK_LEN],
            nonce: [0; NONCE_LEN],
        };
        header.salt.copy_from_slice(take(SALT_LEN));
        header.check.copy_from_slice(take(CHECK_LEN));
        header.nonce.copy_from_slice(take(NONCE_LEN));
        Ok(header)
    }
}

/// A derived key together with the header fields it was derived for.
struct DerivedKey {
    kdf: KdfParams,
    salt: [u8; SALT_LEN],
    key: Zeroizing<[u8; 32]>,
}

impl DerivedKey {
    fn check(&self) -> [u8; CHECK_LEN] {
        let digest = Sha256::new()
            .chain_update(KEY_CHECK_CONTEXT)
            .chain_update(self.key.as_slice())
            .finalize();
        let mut check = [0u8; CHECK_LEN];
        check.copy_from_slice(&digest[..CHECK_LEN]);
        check
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.key.as_slice()))
    }
}

/// The decrypted content of the file.
type SecretMap = BTreeMap<String, Secret>;

#[derive(serde::Deserialize)]
struct PlainIn {
    secrets: BTreeMap<String, String>,
}

#[derive(serde::Serialize)]
struct PlainOut<'a> {
    secrets: BTreeMap<&'a str, &'a str>,
}

/// Secrets in one encrypted file (kind `"file"`). See the module docs for the format.
pub struct EncryptedFileStore {
    path: PathBuf,
    lock_path: PathBuf,
    passphrase: Secret,
    kdf_for_new_files: KdfParams,
    /// The key for the salt/parameters last seen; re-derived only if another process
    /// re-created the file with a new salt.
    key: Mutex<Option<DerivedKey>>,
}

impl std::fmt::Debug for EncryptedFileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedFileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EncryptedFileStore {
    /// Opens (or creates, with [`KdfParams::RECOMMENDED`]) the encrypted file at `path`
    /// (normally `<data_dir>/secrets.enc`).
    ///
    /// Fails with [`SecretError::WrongKey`] when the passphrase does not open an existing
    /// file and with [`SecretError::Corrupt`] when the file is damaged; in both cases the file
    /// is left untouched. A missing parent directory is created (mode 0700).
    pub fn open(path: &Path, passphrase: &Secret) -> Result<Self, SecretError> {
        Self::open_with_kdf(path, passphrase, KdfParams::RECOMMENDED)
    }

    /// Like [`open`](Self::open), with the Argon2 parameters used if the file has to be
    /// created. An existing file is always read with the parameters in its header.
    pub fn open_with_kdf(
        path: &Path,
        passphrase: &Secret,
        kdf_for_new_files: KdfParams,
    ) -> Result<Self, SecretError> {
        if passphrase.is_empty() {
            return Err(SecretError::EmptyPassphrase {
                origin: "the caller".into(),
            });
        }
        if !kdf_for_new_files.within_bounds() {
            return Err(SecretError::Crypto(
                "Argon2 parameters above the accepted maximum".into(),
            ));
        }
        kdf_for_new_files
            .argon2()
            .map_err(|err| SecretError::Crypto(format!("invalid Argon2 parameters: {err}")))?;
        let Some(file_name) = path.file_name() else {
            return Err(SecretError::io(
                "opening",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            ));
        };
        let parent = parent_dir(path);
        create_private_dir(parent)?;

        let mut lock_name = file_name.to_owned();
        lock_name.push(".lock");
        let store = Self {
            path: path.to_owned(),
            lock_path: parent.join(lock_name),
            passphrase: passphrase.clone(),
            kdf_for_new_files,
            key: Mutex::new(None),
        };
        store.with_lock(true, || match store.read()? {
            Some(_) => {
                warn_if_readable_by_others(&store.path);
                Ok(())
            }
            None => {
                tracing::info!(path = %store.path.display(), "secret store: creating the encrypted secrets file");
                store.write(None, &SecretMap::new())
            }
        })?;
        Ok(store)
    }

    /// The encrypted file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` holding the process lock and an `flock` on the sidecar lock file.
    fn with_lock<T>(
        &self,
        exclusive: bool,
        f: impl FnOnce() -> Result<T, SecretError>,
    ) -> Result<T, SecretError> {
        let _in_process = PROCESS_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let lock_file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(|err| SecretError::io("opening the lock file", &self.lock_path, err))?;
        file_lock::lock(&lock_file, exclusive)
            .map_err(|err| SecretError::io("locking", &self.lock_path, err))?;
        // Closing the descriptor (when `lock_file` drops after `f`) releases the lock.
        f()
    }

    /// Reads and decrypts the file: `None` when it does not exist.
    fn read(&self) -> Result<Option<(Header, SecretMap)>, SecretError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(SecretError::io("reading", &self.path, err)),
        };
        let header = Header::parse(&self.path, &bytes)?;
        let key = self.key_for(header.kdf, header.salt)?;
        let key = key
            .as_ref()
            .ok_or_else(|| SecretError::Crypto("no key".into()))?;
        if !bool::from(key.check().ct_eq(&header.check)) {
            return Err(SecretError::WrongKey {
                path: self.path.clone(),
            });
        }
        let corrupt = |reason: &str| SecretError::Corrupt {
            path: self.path.clone(),
            reason: reason.to_owned(),
        };
        let plain = key
            .cipher()
            .decrypt(
                XNonce::from_slice(&header.nonce),
                Payload {
                    msg: &bytes[HEADER_LEN..],
                    aad: &bytes[..HEADER_LEN],
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| corrupt("its content fails authentication: damaged or modified"))?;
        let parsed: PlainIn = serde_json::from_slice(&plain)
            .map_err(|_| corrupt("the decrypted content is not a secrets map"))?;
        let map = parsed
            .secrets
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect();
        Ok(Some((header, map)))
    }

    /// Encrypts `map` and atomically replaces the file. `previous` is the header of the file
    /// being replaced (its KDF parameters and salt are kept); `None` starts a new file.
    fn write(&self, previous: Option<&Header>, map: &SecretMap) -> Result<(), SecretError> {
        let mut rng = rand::rngs::OsRng;
        let (kdf, salt) = match previous {
            Some(header) => (header.kdf, header.salt),
            None => {
                let mut salt = [0u8; SALT_LEN];
                rng.fill_bytes(&mut salt);
                (self.kdf_for_new_files, salt)
            }
        };
        let key = self.key_for(kdf, salt)?;
        let key = key
            .as_ref()
            .ok_or_else(|| SecretError::Crypto("no key".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let header = Header {
            kdf,
            salt,
            check: key.check(),
            nonce,
        };
        let header_bytes = header.to_bytes();

        let plain = serialize_padded(map)?;
        let ciphertext = key
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &header_bytes,
                },
            )
            .map_err(|_| SecretError::Crypto("XChaCha20-Poly1305 refused the input".into()))?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        bytes.extend_from_slice(&header_bytes);
        bytes.extend_from_slice(&ciphertext);
        write_atomically(&self.path, &bytes)
    }

    /// The key for `kdf`/`salt`, derived with Argon2id unless cached.
    fn key_for(
        &self,
        kdf: KdfParams,
        salt: [u8; SALT_LEN],
    ) -> Result<MutexGuard<'_, Option<DerivedKey>>, SecretError> {
        let mut cached = self.key.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = matches!(&*cached, Some(key) if key.kdf == kdf && key.salt == salt);
        if !fresh {
            let started = std::time::Instant::now();
            let mut key = Zeroizing::new([0u8; 32]);
            kdf.argon2()
                .and_then(|argon| {
                    argon.hash_password_into(
                        self.passphrase.expose().as_bytes(),
                        &salt,
                        key.as_mut_slice(),
                    )
                })
                .map_err(|err| SecretError::Crypto(format!("Argon2id failed: {err}")))?;
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                m_cost_kib = kdf.m_cost_kib,
                t_cost = kdf.t_cost,
                "secret store: derived the file key"
            );
            *cached = Some(DerivedKey { kdf, salt, key });
        }
        Ok(cached)
    }
}

impl SecretStore for EncryptedFileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn get(&self, key: &str) -> Result<Option<Secret>, SecretError> {
        check_key(key)?;
        self.with_lock(false, || {
            Ok(self.read()?.and_then(|(_, mut map)| map.remove(key)))
        })
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretError> {
        check_key(key)?;
        check_value(key, value)?;
        self.with_lock(true, || {
            let (header, mut map) = match self.read()? {
                Some((header, map)) => (Some(header), map),
                None => (None, SecretMap::new()),
            };
            map.insert(key.to_owned(), value.clone());
            self.write(header.as_ref(), &map)
        })
    }

    fn delete(&self, key: &str) -> Result<(), SecretError> {
        check_key(key)?;
        self.with_lock(true, || {
            let Some((header, mut map)) = self.read()? else {
                return Ok(());
            };
            if map.remove(key).is_none() {
                return Ok(());
            }
            self.write(Some(&header), &map)
        })
    }
}

/// JSON of the map, padded with spaces to a multiple of [`PAD_TO`], in a buffer that is wiped
/// when dropped (sized up front so growing it does not leave copies behind).
fn serialize_padded(map: &SecretMap) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let estimate: usize = map
        .iter()
        .map(|(k, v)| 2 * (k.len() + v.expose().len()) + 16)
        .sum::<usize>()
        + 64;
    let mut plain = Zeroizing::new(Vec::with_capacity(estimate.next_multiple_of(PAD_TO)));
    let view = PlainOut {
        secrets: map.iter().map(|(k, v)| (k.as_str(), v.expose())).collect(),
    };
    serde_json::to_writer(&mut *plain, &view)
        .map_err(|err| SecretError::Crypto(format!("cannot encode the secrets map: {err}")))?;
    let padded = plain.len().next_multiple_of(PAD_TO);
    plain.resize(padded, b' ');
    Ok(plain)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Temp file + fsync + rename + fsync of the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
    let dir = parent_dir(path);
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        hex::encode(suffix)
    ));
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut file = private_options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|err| SecretError::io("creating", &tmp, err))?;
        file.write_all(bytes)
            .map_err(|err| SecretError::io("writing", &tmp, err))?;
        file.sync_all()
            .map_err(|err| SecretError::io("syncing", &tmp, err))?;
        drop(file);
        fs::rename(&tmp, path).map_err(|err| SecretError::io("replacing", path, err))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), SecretError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|err| SecretError::io("syncing the directory", dir, err))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), SecretError> {
    Ok(())
}

/// Open options that create files readable by the owner only.
fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn create_private_dir(dir: &Path) -> Result<(), SecretError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|err| SecretError::io("creating the directory", dir, err))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "secret store: the encrypted secrets file is accessible to other users; it will be rewritten with mode 600 on the next change"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(unix)]
mod file_lock {
    use std::fs::File;
    use std::io;

    use rustix::fs::{flock, FlockOperation};

    pub(super) fn lock(file: &File, exclusive: bool) -> io::Result<()> {
        let op = if exclusive {
            FlockOperation::LockExclusive
        } else {
            FlockOperation::LockShared
        };
        loop {
            match flock(file, op) {
                Ok(()) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
        }
    }
}

#[cfg(not(unix))]
mod file_lock {
    //! Without flock only the process-wide lock applies: two processes writing at the same
    //! moment could lose one update. (Outpost's keychain is the default off Unix.)
    pub(super) fn lock(_file: &std::fs::File, _exclusive: bool) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const FAST: KdfParams = KdfParams::INSECURE_FOR_TESTS;

    fn open(path: &Path, pass: &str) -> Result<EncryptedFileStore, SecretError> {
        EncryptedFileStore::open_with_kdf(path, &Secret::new(pass), FAST)
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn round_trip_across_two_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(SECRETS_FILE_NAME);
        {
            let store = open(&path, "correct horse").unwrap();
            assert_eq!(store.kind(), "file");
            assert_eq!(store.get("account/1/session").unwrap(), None);
            store
                .set("account/1/session", &Secret::new("tok-1"))
                .unwrap();
            store
                .set("account/2/app_password", &Secret::new("pw-ü-2"))
                .unwrap();
            store
                .set("account/1/session", &Secret::new("tok-1b"))
                .unwrap();
            store.delete("account/404/none").unwrap();
        }
        let store = open(&path, "correct horse").unwrap();
        assert_eq!(
            store.get("account/1/session").unwrap(),
            Some(Secret::new("tok-1b"))
        );
        assert_eq!(
            store.get("account/2/app_password").unwrap(),
            Some(Secret::new("pw-ü-2"))
        );
        store.delete("account/1/session").unwrap();
        store.delete("account/1/session").unwrap();
        let again = open(&path, "correct horse").unwrap();
        assert_eq!(again.get("account/1/session").unwrap(), None);
        assert!(again.get("account/2/app_password").unwrap().is_some());
        assert!(matches!(
            again.set("k", &Secret::new("")),
            Err(SecretError::EmptySecret { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new-dir").join(SECRETS_FILE_NAME);
        let store = open(&path, "pw").unwrap();
        store.set("k", &Secret::new("v")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "secrets.enc must be owner-only");
        assert_eq!(mode(&store.lock_path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700, "created data dir");
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "only the file and its lock: {names:?}");
    }

    #[test]
    fn wrong_passphrase_is_refused_and_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        open(&path, "right")
            .unwrap()
            .set("account/1/session", &Secret::new("tok"))
            .unwrap();
        let before = fs::read(&path).unwrap();
        let err = open(&path, "wrong").unwrap_err();
        assert!(matches!(err, SecretError::WrongKey { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("wrong OUTPOST_SECRETS_KEY"), "{message}");
        assert!(!message.contains("wrong\""), "{message}");
        assert!(!err.is_transient());
        assert_eq!(fs::read(&path).unwrap(), before, "file must be untouched");
        // And the right passphrase still works.
        assert!(open(&path, "right")
            .unwrap()
            .get("account/1/session")
            .unwrap()
            .is_some());
    }

    #[test]
    fn corrupt_files_are_refused_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        let store = open(&path, "pw").unwrap();
        store.set("account/1/session", &Secret::new("tok")).unwrap();
        let good = fs::read(&path).unwrap();

        // One flipped bit in the ciphertext: the key check passes, authentication fails.
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        // Truncated, garbage, empty, a newer format, absurd KDF parameters.
        let mut newer = good.clone();
        newer[MAGIC.len()] = 9;
        let mut huge_kdf = good.clone();
        huge_kdf[MAGIC.len() + 2..MAGIC.len() + 6].copy_from_slice(&u32::MAX.to_le_bytes());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("bit flip", flipped),
            ("truncated", good[..HEADER_LEN + 4].to_vec()),
            ("garbage", b"{\"secrets\":{}}".to_vec()),
            ("empty", Vec::new()),
            ("newer format", newer),
            ("huge kdf", huge_kdf),
        ];
        for (name, bytes) in cases {
            fs::write(&path, &bytes).unwrap();
            let err = open(&path, "pw").unwrap_err();
            match (name, &err) {
                ("newer format", SecretError::UnsupportedFormat { version: 9, .. }) => {}
                (_, SecretError::Corrupt { .. }) if name != "newer format" => {
                    assert!(err.to_string().contains("corrupt"), "{name}: {err}");
                }
                _ => panic!("{name}: unexpected error {err:?}"),
            }
            // The already-open store must refuse to write over it as well.
            assert!(
                store.set("account/2/session", &Secret::new("x")).is_err(),
                "{name}"
            );
            assert!(store.delete("account/1/session").is_err(), "{name}");
            assert_eq!(
                fs::read(&path).unwrap(),
                bytes,
                "{name}: file must be untouched"
            );
        }
    }

    #[test]
    fn file_never_contains_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        let passphrase = "passphrase-PLAINTEXT-check";
        let store = open(&path, passphrase).unwrap();
        let key = "account/did:plc:keyname-marker/app_password";
        let value = "VALUE-MARKER-abcdef-123456";
        store.set(key, &Secret::new(value)).unwrap();
        store
            .set("account/2/session", &Secret::new("second"))
            .unwrap();
        let raw = fs::read(&path).unwrap();
        for needle in [
            value.as_bytes(),
            key.as_bytes(),
            b"keyname-marker".as_slice(),
            b"account/".as_slice(),
            b"VALUE-MARKER".as_slice(),
            passphrase.as_bytes(),
            b"secrets\"".as_slice(),
        ] {
            assert!(
                !contains(&raw, needle),
                "secrets.enc contains {:?} in clear",
                String::from_utf8_lossy(needle)
            );
        }
        // Base64/hex of the value must not be there either.
        assert!(!contains(&raw, hex::encode(value).as_bytes()));
        // Padding hides the exact length.
        assert_eq!((raw.len() - HEADER_LEN - TAG_LEN) % PAD_TO, 0);
        // Nothing else in the directory holds it either.
        for entry in fs::read_dir(dir.path()).unwrap() {
            let bytes = fs::read(entry.unwrap().path()).unwrap();
            assert!(!contains(&bytes, value.as_bytes()));
        }
        // And the store's Debug output does not show it.
        assert!(!format!("{store:?}").contains(passphrase));
    }

    #[test]
    fn every_write_uses_a_fresh_nonce_and_keeps_the_salt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        let store = open(&path, "pw").unwrap();
        store.set("k", &Secret::new("v")).unwrap();
        let first = Header::parse(&path, &fs::read(&path).unwrap()).unwrap();
        store.set("k", &Secret::new("v")).unwrap();
        let second = Header::parse(&path, &fs::read(&path).unwrap()).unwrap();
        assert_eq!(first.salt, second.salt);
        assert_ne!(first.nonce, second.nonce);
        assert_eq!(first.kdf, FAST);
    }

    #[test]
    fn a_recreated_file_is_read_with_its_new_salt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        let a = open(&path, "pw").unwrap();
        a.set("k", &Secret::new("old")).unwrap();
        fs::remove_file(&path).unwrap();
        let b = open(&path, "pw").unwrap();
        b.set("k", &Secret::new("new")).unwrap();
        assert_eq!(a.get("k").unwrap(), Some(Secret::new("new")));
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        // Two independent stores on one file (as the app and the CLI agent would have),
        // each used from several threads.
        let stores = [
            Arc::new(open(&path, "pw").unwrap()),
            Arc::new(open(&path, "pw").unwrap()),
        ];
        const THREADS_PER_STORE: usize = 3;
        const WRITES: usize = 15;
        let mut handles = Vec::new();
        for (s, store) in stores.iter().enumerate() {
            for t in 0..THREADS_PER_STORE {
                let store = Arc::clone(store);
                handles.push(std::thread::spawn(move || {
                    for i in 0..WRITES {
                        let key = format!("account/{s}-{t}/{i}");
                        store
                            .set(&key, &Secret::new(format!("v{s}{t}{i}")))
                            .unwrap();
                    }
                }));
            }
        }
        for handle in handles {
            handle.join().unwrap();
        }
        let check = open(&path, "pw").unwrap();
        for s in 0..2 {
            for t in 0..THREADS_PER_STORE {
                for i in 0..WRITES {
                    let key = format!("account/{s}-{t}/{i}");
                    assert_eq!(
                        check.get(&key).unwrap(),
                        Some(Secret::new(format!("v{s}{t}{i}"))),
                        "lost {key}"
                    );
                }
            }
        }
    }

    /// Set in the child processes of `concurrent_processes_lose_nothing`.
    const CHILD_ENV: &str = "OUTPOST_AUTH_TEST_CHILD_WRITER";

    #[test]
    fn concurrent_processes_lose_nothing() {
        const WRITES: usize = 20;
        // Child mode: "<path>|<prefix>" → write WRITES keys and exit.
        if let Ok(spec) = std::env::var(CHILD_ENV) {
            let (path, prefix) = spec.split_once('|').unwrap();
            let store = open(Path::new(path), "pw").unwrap();
            for i in 0..WRITES {
                store
                    .set(
                        &format!("{prefix}/{i}"),
                        &Secret::new(format!("{prefix}-{i}")),
                    )
                    .unwrap();
            }
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        let store = open(&path, "pw").unwrap();
        // Two other processes (this test binary re-run in child mode) and this one write
        // at the same time; flock must keep every read-modify-write whole.
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = ["child-a", "child-b"]
            .iter()
            .map(|prefix| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "file::tests::concurrent_processes_lose_nothing",
                        "--test-threads",
                        "1",
                    ])
                    .env(CHILD_ENV, format!("{}|{prefix}", path.display()))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for i in 0..WRITES {
            store
                .set(&format!("parent/{i}"), &Secret::new(format!("parent-{i}")))
                .unwrap();
        }
        for mut child in children {
            assert!(child.wait().unwrap().success(), "child writer failed");
        }
        for prefix in ["parent", "child-a", "child-b"] {
            for i in 0..WRITES {
                assert_eq!(
                    store.get(&format!("{prefix}/{i}")).unwrap(),
                    Some(Secret::new(format!("{prefix}-{i}"))),
                    "lost {prefix}/{i}"
                );
            }
        }
    }

    #[test]
    fn empty_passphrase_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        assert!(matches!(
            open(&path, ""),
            Err(SecretError::EmptyPassphrase { .. })
        ));
        assert!(!path.exists());
    }

    /// Measures open() with the production parameters: `cargo test -p outpost-auth --release
    /// -- --ignored --nocapture kdf_timing`.
    #[test]
    #[ignore = "timing measurement, run by hand"]
    fn kdf_timing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE_NAME);
        let pass = Secret::new("timing passphrase");
        let started = std::time::Instant::now();
        EncryptedFileStore::open(&path, &pass).unwrap();
        println!("create: {:?}", started.elapsed());
        for _ in 0..3 {
            let started = std::time::Instant::now();
            EncryptedFileStore::open(&path, &pass).unwrap();
            println!("open existing: {:?}", started.elapsed());
        }
    }
}
