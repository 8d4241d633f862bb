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
