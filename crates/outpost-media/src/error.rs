//! The one error type of this crate. Every message names the file, URL or bucket, says what is
//! wrong and what the user can do; [`MediaError::is_transient`] says whether retrying the same
//! call later could succeed without anybody changing anything.
//!
//! Messages must never contain a secret (access keys are not even shown by name).

use outpost_auth::SecretError;
use outpost_core::media::ProbeError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media: {path} does not exist — check the path")]
    Missing { path: String },

    #[error("media: {path} cannot be read ({reason}) — check that the file is readable")]
    Unreadable { path: String, reason: String },

    #[error("media: the disk holding the media library ({path}) is full — free some disk space and add the file again; nothing was left half-written")]
    DiskFull { path: String },

    #[error("media: cannot write to the media library {path} ({reason}) — check that the folder exists and is writable")]
    Write { path: String, reason: String },

    /// Unknown type, empty file, or a damaged image/video (the core's wording).
    #[error(transparent)]
    Probe(#[from] ProbeError),

    #[error("media: {name} is a video file without a video track (only sound?) — export it again with its picture")]
    NoVideoTrack { name: String },

    #[error("media: {source_name} is larger than the {limit} bytes allowed (at least {actual} bytes) — choose a smaller file or export it at a lower quality")]
    TooLarge {
        source_name: String,
        actual: u64,
        limit: u64,
    },

    #[error("media URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("media URL {url}: the server answered {status} Not Found — check the link (copy it again from the browser's address bar)")]
    UrlNotFound { url: String, status: u16 },

    #[error("media URL {url}: the server answered HTTP {status} — {hint}")]
    UrlStatus {
        url: String,
        status: u16,
        hint: &'static str,
    },

    #[error("media URL {url}: no answer within {} s — check the address, or try again later", after.as_secs_f32())]
    UrlTimeout { url: String, after: Duration },

    #[error("media URL {url}: cannot connect ({reason}) — check the address and your connection, then try again")]
    UrlConnect { url: String, reason: String },

    #[error("media URL {url}: this is a web page (HTML), not an image or video — open it in a browser, right-click the picture and copy the image address instead")]
    UrlIsHtml { url: String },

    #[error("staging: the settings are incomplete or invalid: {reason}")]
    StagingConfig { reason: String },

    #[error("staging: no {what} is saved for the staging bucket — enter it in Settings → Public media storage")]
    StagingCredentialsMissing { what: &'static str },

    #[error("staging: {endpoint} refused the credentials for bucket {bucket:?} — check the access key and secret (and that the key may write to this bucket)")]
    StagingAuth { endpoint: String, bucket: String },

    #[error("staging: bucket {bucket:?} does not exist at {endpoint} — check the bucket name, region and endpoint")]
    StagingBucketMissing { endpoint: String, bucket: String },

    #[error("staging: {operation} failed at {endpoint} (bucket {bucket:?}): {reason}")]
    Staging {
        endpoint: String,
        bucket: String,
        operation: &'static str,
        reason: String,
        transient: bool,
    },

    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl MediaError {
    /// True when the same call could succeed later without any change (a slow or unreachable
    /// server, a 5xx, a rate limit). Retry logic decides from this, never from the message.
    pub fn is_transient(&self) -> bool {
        match self {
            MediaError::UrlTimeout { .. } | MediaError::UrlConnect { .. } => true,
            MediaError::UrlStatus { status, .. } => {
                *status >= 500 || *status == 429 || *status == 408
            }
            MediaError::Staging { transient, .. } => *transient,
            MediaError::Secret(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Maps an I/O error that happened while writing into the library.
    pub(crate) fn write(path: &std::path::Path, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            MediaError::DiskFull {
                path: path.display().to_string(),
            }
        } else {
            MediaError::Write {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        }
    }

    /// Maps an I/O error that happened while reading a user's file.
    pub(crate) fn read(path: &std::path::Path, e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => MediaError::Missing {
                path: path.display().to_string(),
            },
            _ => MediaError::Unreadable {
                path: path.display().to_string(),
                reason: e.to_string(),
            },
        }
    }

    pub(crate) fn corrupt(name: &str, kind: &str, what: impl Into<String>) -> Self {
        MediaError::Probe(ProbeError::Corrupt {
            name: name.into(),
            kind: kind.into(),
            what: what.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_side_trouble_is_transient() {
        let t = |status| MediaError::UrlStatus {
            url: "https://x".into(),
            status,
            hint: "",
        };
        assert!(t(503).is_transient());
        assert!(t(429).is_transient());
        assert!(!t(403).is_transient(), "a 403 will not heal by itself");
        assert!(MediaError::UrlTimeout {
            url: "https://x".into(),
            after: Duration::from_secs(5)
        }
        .is_transient());
        assert!(!MediaError::DiskFull { path: "/d".into() }.is_transient());
        assert!(!MediaError::UrlIsHtml {
            url: "https://x".into()
        }
        .is_transient());
    }

    #[test]
    fn storage_full_becomes_disk_full() {
        let e = std::io::Error::from_raw_os_error(28); // ENOSPC
        assert!(matches!(
            MediaError::write(std::path::Path::new("/lib"), &e),
            MediaError::DiskFull { .. }
        ));
    }
}
