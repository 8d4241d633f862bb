//! Attaching a local file to a post: read it, identify it by content, remember its hash so a
//! later change is noticed before publishing.

use outpost_core::media::{probe, sha256_hex, ProbeError};
use outpost_core::MediaRef;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("media: {path} does not exist — check the path")]
    Missing { path: String },
    #[error("media: {path} cannot be read ({reason})")]
    Unreadable { path: String, reason: String },
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

/// Reads and probes `path`. The path is stored absolute.
pub fn attach(path: &Path, alt: Option<String>) -> Result<MediaRef, AttachError> {
    let shown = path.display().to_string();
    let abs = std::fs::canonicalize(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AttachError::Missing {
            path: shown.clone(),
        },
        _ => AttachError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        },
    })?;
    if abs.is_dir() {
        return Err(AttachError::Unreadable {
            path: shown,
            reason: "it is a folder".into(),
        });
    }
    let bytes = std::fs::read(&abs).map_err(|e| AttachError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or(shown);
    let p = probe(&name, &bytes)?;
    Ok(MediaRef {
        path: abs.to_string_lossy().to_string(),
        sha256: sha256_hex(&bytes),
        mime: p.mime,
        bytes: bytes.len() as u64,
        width: p.width,
        height: p.height,
        alt,
    })
}

/// Copies a file into the media library (`<data dir>/media/<sha256>.<ext>`), content-addressed:
/// the same file twice is stored once, and the user's original is never moved. The copy is
/// written to a temporary name and renamed, so a full disk leaves nothing half-written.
pub fn import_file(
    library: &Path,
    path: &Path,
    alt: Option<String>,
) -> Result<MediaRef, AttachError> {
    let probed = attach(path, alt)?;
    let bytes = std::fs::read(&probed.path).map_err(|e| AttachError::Unreadable {
        path: probed.path.clone(),
        reason: e.to_string(),
    })?;
    store_in_library(library, &bytes, probed)
}

/// Stores bytes (a file dropped on the window) in the media library.
pub fn import_bytes(
    library: &Path,
    name: &str,
    bytes: &[u8],
    alt: Option<String>,
) -> Result<MediaRef, AttachError> {
    let p = probe(name, bytes)?;
    let probed = MediaRef {
        path: name.to_string(),
        sha256: sha256_hex(bytes),
        mime: p.mime,
        bytes: bytes.len() as u64,
        width: p.width,
        height: p.height,
        alt,
    };
    store_in_library(library, bytes, probed)
}

fn store_in_library(
    library: &Path,
    bytes: &[u8],
    mut media: MediaRef,
) -> Result<MediaRef, AttachError> {
    let fail = |e: std::io::Error| AttachError::Unreadable {
        path: library.display().to_string(),
        reason: format!("cannot write to the media library: {e}"),
    };
    std::fs::create_dir_all(library).map_err(fail)?;
    let ext = media
        .mime
        .rsplit('/')
        .next()
        .unwrap_or("bin")
        .replace("jpeg", "jpg");
    let dest = library.join(format!("{}.{ext}", media.sha256));
    if !dest.exists() {
        let tmp = library.join(format!(".{}.{}.part", media.sha256, std::process::id()));
        let written = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, &dest));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e));
        }
    }
    media.path = dest.to_string_lossy().to_string();
    Ok(media)
}
