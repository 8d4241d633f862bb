//! Public staging: for networks that fetch media themselves (Instagram, Threads, TikTok photo
//! posts), upload a library file to the user's S3-compatible bucket under an unguessable key
//! and hand out a URL — the public base URL plus the key, or a presigned GET URL.
//!
//! The S3 protocol (SigV4 signing, presigning, multipart uploads) comes from `object_store`;
//! it is never hand-written here. Access keys come from the secret store and are never logged
//! or put into an error. This module never deletes anything outside its configured prefix, and
//! decides nothing about *when* an object may go: that is [`crate::StagingLedger`]'s job.

use crate::error::MediaError;
use crate::library::LibraryItem;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, ObjectStore, PutOptions, RetryConfig,
};
use outpost_auth::{account_key, Secret, SecretStore};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The account id under which the staging keys are kept in the secret store.
pub const STAGING_ACCOUNT: &str = "staging";
/// `account_key(STAGING_ACCOUNT, ACCESS_KEY_ID)`.
pub const ACCESS_KEY_ID: &str = "access_key_id";
/// `account_key(STAGING_ACCOUNT, SECRET_ACCESS_KEY)`.
pub const SECRET_ACCESS_KEY: &str = "secret_access_key";

/// Default lifetime of a presigned URL: longer than Meta's 24 h container lifetime.
pub const DEFAULT_PRESIGN_EXPIRY: Duration = Duration::from_secs(48 * 3600);
/// Default age after which [`Staging::sweep`] removes leftovers.
pub const DEFAULT_SWEEP_AGE: Duration = Duration::from_secs(48 * 3600);

/// Upload part size (and the only buffer an upload holds).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Where staged media goes. Secrets are not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingConfig {
    /// `https://s3.eu-central-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`…
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Folder inside the bucket that Outpost owns (and sweeps), e.g. `outpost-staging`.
    pub prefix: String,
    /// Public-read base URL of the bucket or prefix (e.g. a custom domain); when `None`,
    /// URLs are presigned.
    pub public_base_url: Option<String>,
    #[serde(with = "secs")]
    pub presign_expiry: Duration,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`.
    pub path_style: bool,
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedObject {
    /// Object key: `<prefix>/<32 hex>.<ext>`.
    pub key: String,
    /// Where the network fetches it.
    pub url: String,
    /// When a presigned URL stops working; `None` for a public base URL.
    pub expires_at: Option<DateTime<Utc>>,
    pub content_type: String,
    pub bytes: u64,
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    pub removed: Vec<String>,
    pub kept: usize,
}

/// A connection to the staging bucket. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Staging {
    store: Arc<AmazonS3>,
    config: StagingConfig,
    prefix: String,
}

impl Staging {
    /// Connects with the keys saved in `secrets` under `account_key("staging", …)`.
    pub fn new(config: StagingConfig, secrets: &dyn SecretStore) -> Result<Self, MediaError> {
        let id = secrets
            .get(&account_key(STAGING_ACCOUNT, ACCESS_KEY_ID))?
            .ok_or(MediaError::StagingCredentialsMissing {
                what: "access key ID",
            })?;
        let secret = secrets
            .get(&account_key(STAGING_ACCOUNT, SECRET_ACCESS_KEY))?
            .ok_or(MediaError::StagingCredentialsMissing {
                what: "secret access key",
            })?;
        Self::with_credentials(config, &id, &secret)
    }

    /// Connects with explicit keys (the settings screen's "Test" before saving).
    pub fn with_credentials(
        config: StagingConfig,
        access_key_id: &Secret,
        secret_access_key: &Secret,
    ) -> Result<Self, MediaError> {
        let invalid = |reason: String| MediaError::StagingConfig { reason };
        if config.bucket.trim().is_empty() {
            return Err(invalid("the bucket name is empty".into()));
        }
        let endpoint = reqwest::Url::parse(config.endpoint.trim()).map_err(|e| {
            invalid(format!(
                "the endpoint {:?} is not a URL ({e}); enter it like https://s3.eu-central-1.amazonaws.com",
                config.endpoint
            ))
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "the endpoint {:?} must start with https://",
                config.endpoint
            )));
        }
        let prefix = config.prefix.trim_matches('/').to_string();
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
            || prefix.contains("//")
            || prefix.split('/').any(|s| s == "." || s == "..")
        {
            return Err(invalid(format!(
                "the prefix {:?} may only contain letters, digits, '-', '_', '.' and '/' (networks need plain ASCII URLs)",
                config.prefix
            )));
        }
        if let Some(base) = &config.public_base_url {
            let ok =
                reqwest::Url::parse(base).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(invalid(format!(
                    "the public base URL {base:?} is not an http(s) URL"
                )));
            }
        }
        if config.presign_expiry > Duration::from_secs(7 * 24 * 3600) {
            return Err(invalid(
                "presigned URLs cannot be valid for more than 7 days (an S3 limit)".into(),
            ));
        }
        let bucket_endpoint = if config.path_style {
            config.endpoint.trim().trim_end_matches('/').to_string()
        } else {
            // Virtual-hosted style: the bucket is a sub-domain of the endpoint.
            let mut u = endpoint.clone();
            let host = u.host_str().unwrap_or_default().to_string();
            u.set_host(Some(&format!("{}.{host}", config.bucket)))
                .map_err(|e| invalid(format!("the bucket name cannot be a host name ({e})")))?;
            u.as_str().trim_end_matches('/').to_string()
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(bucket_endpoint)
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(access_key_id.expose())
            .with_secret_access_key(secret_access_key.expose())
            .with_virtual_hosted_style_request(!config.path_style)
            .with_client_options(
                // (with_client_options replaces all client options, allow_http included)
                ClientOptions::new()
                    .with_allow_http(endpoint.scheme() == "http")
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(300)),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(60),
            })
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Staging {
            store: Arc::new(store),
            config,
            prefix,
        })
    }

    pub fn config(&self) -> &StagingConfig {
        &self.config
    }

    /// Lists the prefix, then writes, reads back and deletes a small object under it; the
    /// settings screen's "Test connection". Wrong keys, a missing bucket and an unreachable endpoint each get
    /// their own message.
    pub async fn test_connection(&self) -> Result<(), MediaError> {
        // Listing first: it proves the bucket exists (some servers create it on upload) and
        // that the key may list it, which `sweep` needs.
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        self.store
            .list(prefix.as_ref())
            .try_next()
            .await
            .map_err(|e| self.error("listing the bucket", e))?;
        let key = self.key_for("txt");
        let path = ObjectPath::from(key.as_str());
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, "text/plain".into());
        self.store
            .put_opts(
                &path,
                b"Outpost staging check; safe to delete.\n".to_vec().into(),
                PutOptions {
                    attributes,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.error("uploading a test file", e))?;
        let head = self.store.head(&path).await;
        let deleted = self.store.delete(&path).await;
        head.map_err(|e| self.error("reading the test file back", e))?;
        deleted.map_err(|e| self.error("deleting the test file", e))?;
        Ok(())
    }

    /// Uploads `item` (streamed from disk, one part in memory at a time) under a new random
    /// key with its content type, and returns the URL to hand to the network.
    ///
    /// The expiry of a presigned URL is computed from the real clock, since the signature
    /// itself is made with it.
    pub async fn stage(&self, item: &LibraryItem) -> Result<StagedObject, MediaError> {
        let key = self.key_for(item.extension());
        let path = ObjectPath::from(key.as_str());
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, item.mime.clone().into());
        let mut file = tokio::fs::File::open(&item.path)
            .await
            .map_err(|e| MediaError::read(&item.path, &e))?;
        let store: Arc<dyn ObjectStore> = self.store.clone();
        let mut writer =
            BufWriter::with_capacity(store, path.clone(), PART_SIZE).with_attributes(attributes);
        let shown = item.path.display().to_string();
        if let Err(e) = tokio::io::copy(&mut file, &mut writer).await {
            // Abandons a multipart upload already begun (a bucket lifecycle rule for
            // incomplete uploads catches one that a crash leaves behind).
            let _ = writer.abort().await;
            return Err(self.io_error("uploading", &shown, e));
        }
        // A failed completion cleans up after itself; `abort` must not follow `shutdown`.
        writer
            .shutdown()
            .await
            .map_err(|e| self.io_error("uploading", &shown, e))?;
        let (url, expires_at) = self.url_for(&path).await?;
        Ok(StagedObject {
            key,
            url,
            expires_at,
            content_type: item.mime.clone(),
            bytes: item.bytes,
        })
    }

    /// Deletes one staged object; deleting one that is already gone is not an error. Keys
    /// outside the prefix are refused.
    pub async fn delete(&self, key: &str) -> Result<(), MediaError> {
        if !self.owns(key) {
            return Err(MediaError::StagingConfig {
                reason: format!(
                    "refusing to delete {key:?}: it is not under Outpost's prefix {:?}",
                    self.prefix
                ),
            });
        }
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("deleting a staged file", e)),
        }
    }

    /// Removes objects under the prefix last modified more than `older_than` before `now`,
    /// except the `keep` keys (objects some target still needs, from
    /// [`crate::StagingLedger::live_keys`]). Run at start-up.
    pub async fn sweep(
        &self,
        now: DateTime<Utc>,
        older_than: Duration,
        keep: &HashSet<String>,
    ) -> Result<SweepReport, MediaError> {
        let cutoff = now
            - chrono::Duration::from_std(older_than).unwrap_or_else(|_| chrono::Duration::zero());
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let objects: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| self.error("listing staged files", e))?;
        let mut report = SweepReport::default();
        for meta in objects {
            let key = meta.location.to_string();
            if meta.last_modified > cutoff || keep.contains(&key) || !self.owns(&key) {
                report.kept += 1;
                continue;
            }
            self.delete(&key).await?;
            report.removed.push(key);
        }
        report.removed.sort();
        Ok(report)
    }

    async fn url_for(
        &self,
        path: &ObjectPath,
    ) -> Result<(String, Option<DateTime<Utc>>), MediaError> {
        if let Some(base) = &self.config.public_base_url {
            return Ok((format!("{}/{}", base.trim_end_matches('/'), path), None));
        }
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.presign_expiry)
                .unwrap_or_else(|_| chrono::Duration::zero());
        let url = self
            .store
            .signed_url(reqwest::Method::GET, path, self.config.presign_expiry)
            .await
            .map_err(|e| self.error("presigning a URL", e))?;
        Ok((url.to_string(), Some(expires_at)))
    }

    /// `<prefix>/<128 random bits in hex>.<ext>`.
    fn key_for(&self, ext: &str) -> String {
        let id = hex::encode(rand::random::<[u8; 16]>());
        if self.prefix.is_empty() {
            format!("{id}.{ext}")
        } else {
            format!("{}/{id}.{ext}", self.prefix)
        }
    }

    fn owns(&self, key: &str) -> bool {
        self.prefix.is_empty()
            || key
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    fn error(&self, operation: &'static str, e: object_store::Error) -> MediaError {
        let endpoint = self.config.endpoint.clone();
        let bucket = self.config.bucket.clone();
        if matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) {
            return MediaError::StagingAuth { endpoint, bucket };
        }
        // Other failures (listing in particular) arrive as text that carries the HTTP status
        // and the S3 error code; object_store does not expose them as values.
        let reason = e.to_string();
        match classify(&reason) {
            Failure::Auth => MediaError::StagingAuth { endpoint, bucket },
            Failure::NoBucket => MediaError::StagingBucketMissing { endpoint, bucket },
            Failure::Other { transient } => MediaError::Staging {
                endpoint,
                bucket,
                operation,
                reason,
                transient: transient && !matches!(e, object_store::Error::NotFound { .. }),
            },
        }
    }

    fn io_error(&self, operation: &'static str, file: &str, e: std::io::Error) -> MediaError {
        // BufWriter wraps object_store errors in io::Error.
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            return MediaError::StagingAuth {
                endpoint: self.config.endpoint.clone(),
                bucket: self.config.bucket.clone(),
            };
        }
        let reason = e.to_string();
        match classify(&reason) {
            Failure::Auth => MediaError::StagingAuth {
                endpoint: self.config.endpoint.clone(),
                bucket: self.config.bucket.clone(),
            },
            Failure::NoBucket => MediaError::StagingBucketMissing {
                endpoint: self.config.endpoint.clone(),
                bucket: self.config.bucket.clone(),
            },
            Failure::Other { transient } => MediaError::Staging {
                endpoint: self.config.endpoint.clone(),
                bucket: self.config.bucket.clone(),
                operation,
                reason: format!("{file}: {reason}"),
                transient: transient && e.kind() != std::io::ErrorKind::NotFound,
            },
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Auth,
    NoBucket,
    Other { transient: bool },
}

/// Sorts an S3 failure by the error code and HTTP status in its text.
fn classify(reason: &str) -> Failure {
    const AUTH_CODES: &[&str] = &[
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "NotSignedUp",
        "InvalidToken",
        "ExpiredToken",
    ];
    if reason.contains("NoSuchBucket") {
        return Failure::NoBucket;
    }
    if AUTH_CODES.iter().any(|c| reason.contains(c)) {
        return Failure::Auth;
    }
    let status = ["status code: ", "status "].iter().find_map(|marker| {
        reason.match_indices(marker).find_map(|(i, m)| {
            let digits = reason.get(i + m.len()..i + m.len() + 3)?;
            digits.parse::<u16>().ok()
        })
    });
    match status {
        Some(401 | 403) => Failure::Auth,
        // Client errors will not heal by themselves, except throttling and timeouts.
        Some(s @ 400..=499) => Failure::Other {
            transient: s == 408 || s == 429,
        },
        // Server errors, and no answer at all (connection refused, timed out).
        _ => Failure::Other { transient: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StagingConfig {
        StagingConfig {
            endpoint: "https://s3.example.com".into(),
            bucket: "media".into(),
            region: "us-east-1".into(),
            prefix: "/outpost-staging/".into(),
            public_base_url: None,
            presign_expiry: DEFAULT_PRESIGN_EXPIRY,
            path_style: false,
        }
    }

    fn keys() -> (Secret, Secret) {
        (
            Secret::new("AKIDEXAMPLE"),
            Secret::new("wJalrXUtnFEMI/K7MDENG"),
        )
    }

    #[test]
    fn keys_are_random_and_under_the_prefix() {
        let (id, secret) = keys();
        let s = Staging::with_credentials(config(), &id, &secret).expect("valid config");
        let a = s.key_for("jpg");
        let b = s.key_for("jpg");
        assert_ne!(a, b);
        assert!(
            a.starts_with("outpost-staging/") && a.ends_with(".jpg"),
            "{a}"
        );
        assert_eq!(a.len(), "outpost-staging/".len() + 32 + 4);
        assert!(s.owns(&a));
        assert!(!s.owns("outpost-stagingX/a.jpg"));
        assert!(!s.owns("elsewhere/a.jpg"));
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let (id, secret) = keys();
        for (cfg, needle) in [
            (
                StagingConfig {
                    endpoint: "s3.example.com".into(),
                    ..config()
                },
                "not a URL",
            ),
            (
                StagingConfig {
                    prefix: "my media".into(),
                    ..config()
                },
                "may only contain",
            ),
            (
                StagingConfig {
                    bucket: " ".into(),
                    ..config()
                },
                "bucket name is empty",
            ),
            (
                StagingConfig {
                    presign_expiry: Duration::from_secs(8 * 24 * 3600),
                    ..config()
                },
                "7 days",
            ),
        ] {
            let e = Staging::with_credentials(cfg, &id, &secret).expect_err(needle);
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn failures_are_sorted_by_code_and_status() {
        assert_eq!(
            classify("403 Forbidden: <Code>SignatureDoesNotMatch</Code>"),
            Failure::Auth
        );
        assert_eq!(
            classify("non-2xx status code: 403 Forbidden: <Code>NotSignedUp</Code>"),
            Failure::Auth
        );
        assert_eq!(
            classify("status code: 404 Not Found: <Code>NoSuchBucket</Code>"),
            Failure::NoBucket
        );
        assert_eq!(
            classify("status code: 400 Bad Request"),
            Failure::Other { transient: false }
        );
        assert_eq!(
            classify("status code: 503 Service Unavailable"),
            Failure::Other { transient: true }
        );
        assert_eq!(
            classify("error sending request: connection refused"),
            Failure::Other { transient: true }
        );
    }

    #[test]
    fn missing_keys_say_where_to_enter_them() {
        let store = outpost_auth::MemoryStore::new();
        let e = Staging::new(config(), &store).expect_err("no keys saved");
        assert!(matches!(e, MediaError::StagingCredentialsMissing { .. }));
        assert!(e.to_string().contains("Settings"), "{e}");
    }
}
