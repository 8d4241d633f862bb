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
    #[error(transparent)]
    Media(outpost_media::MediaError),
}

/// Files up to this size are read whole and probed from their bytes; larger ones (videos)
/// are hashed in 1 MiB reads and probed from their container's boxes, so attaching a 4 GB
/// video costs no more memory than a photo.
const ATTACH_READ_WHOLE_MAX: u64 = 32 * 1024 * 1024;

/// Reads and probes `path`. The path is stored absolute.
pub fn attach(path: &Path, alt: Option<String>) -> Result<MediaRef, AttachError> {
    let shown = path.display().to_string();
    let unreadable = |e: std::io::Error| AttachError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let abs = std::fs::canonicalize(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AttachError::Missing {
            path: shown.clone(),
        },
        _ => unreadable(e),
    })?;
    let meta = std::fs::metadata(&abs).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(AttachError::Unreadable {
            path: shown,
            reason: "it is a folder".into(),
        });
    }
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| shown.clone());
    if meta.len() > ATTACH_READ_WHOLE_MAX {
        let info = outpost_media::probe_file(&abs).map_err(AttachError::Media)?;
        let sha256 = sha256_of_file(&abs).map_err(unreadable)?;
        return Ok(MediaRef {
            path: abs.to_string_lossy().to_string(),
            sha256,
            mime: info.mime,
            bytes: meta.len(),
            width: info.width,
            height: info.height,
            alt,
        });
    }
    let bytes = std::fs::read(&abs).map_err(unreadable)?;
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

/// The SHA-256 of the file at `path` (hex), read 1 MiB at a time.
fn sha256_of_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// What the media library probed about each file of `content`, by SHA-256 (files not in the
/// library — attached before it existed — have no entry).
pub(crate) fn facts_for(
    store: &outpost_store::Store,
    content: &outpost_core::PostContent,
) -> std::collections::HashMap<String, outpost_core::validate::MediaFacts> {
    let mut out = std::collections::HashMap::new();
    for m in content.all_media() {
        if out.contains_key(&m.sha256) {
            continue;
        }
        if let Ok(Some(row)) = store.media(&m.sha256) {
            out.insert(
                m.sha256.clone(),
                outpost_core::validate::MediaFacts {
                    name: row
                        .source
                        .as_deref()
                        .and_then(|s| s.rsplit(['/', '\\']).next())
                        .map(|n| n.split(['?', '#']).next().unwrap_or(n).to_string())
                        .filter(|n| !n.is_empty()),
                    duration_ms: row.duration_ms,
                    frame_rate: row.frame_rate,
                    video_codec: row.video_codec,
                    audio_codec: row.audio_codec,
                },
            );
        }
    }
    out
}

/// Checks `content` for `account` as the scheduler and the dispatcher both do: the network's
/// limits with probed facts, and the target's options.
pub(crate) fn findings_for_account(
    content: &outpost_core::PostContent,
    account: &outpost_core::Account,
    facts: &std::collections::HashMap<String, outpost_core::validate::MediaFacts>,
) -> Vec<outpost_core::validate::Finding> {
    let mut out = outpost_core::validate::validate_with(account.network, content, &|m| {
        facts.get(&m.sha256).cloned()
    });
    out.extend(outpost_core::validate::validate_options(
        account.network,
        &account.address(),
        &content.options_for(account.network, &account.address()),
    ));
    out
}

/// Files larger than this are checked by size only before publishing (hashing several GiB
/// on every publish would delay it by seconds); smaller ones by SHA-256.
pub(crate) const RECHECK_HASH_MAX_BYTES: u64 = 512 * 1024 * 1024;

/// The dispatcher's last check before the parts from `first_unpublished` on go out: every
/// file still exists and is the file that was scheduled, and (before the first part) the post
/// still fits the network's limits (errors only). `Err` is the message for the card, naming
/// the network, the file and the fix.
pub(crate) fn recheck_before_publish(
    store: &outpost_store::Store,
    content: &outpost_core::PostContent,
    account: &outpost_core::Account,
    first_unpublished: usize,
) -> Result<(), String> {
    let name = account.network.display_name();
    let parts = content.parts_for(account.network);
    for m in parts
        .iter()
        .skip(first_unpublished)
        .flat_map(|p| p.media.iter())
    {
        if let Err(why) = same_file(m) {
            return Err(format!(
                "{name}: {} {why} since the post was scheduled — attach the file again and retry",
                m.file_name()
            ));
        }
    }
    if first_unpublished == 0 {
        let facts = facts_for(store, content);
        let errors: Vec<String> = findings_for_account(content, account, &facts)
            .into_iter()
            .filter(|f| f.severity == outpost_core::validate::Severity::Error)
            .map(|f| f.message)
            .collect();
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
    }
    Ok(())
}

/// `Err("was deleted")`, `Err("changed")` when the file at `m.path` is not the one hashed
/// when it was attached.
fn same_file(m: &MediaRef) -> Result<(), &'static str> {
    let meta = match std::fs::metadata(&m.path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("was deleted"),
        Err(_) => return Err("can no longer be read"),
    };
    if meta.len() != m.bytes {
        return Err("changed");
    }
    if m.bytes > RECHECK_HASH_MAX_BYTES {
        return Ok(());
    }
    let sha256 = sha256_of_file(Path::new(&m.path)).map_err(|_| "can no longer be read")?;
    if sha256 != m.sha256 {
        return Err("changed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_testkit::media::{Mp4, Mp4Track};
    use std::io::Write as _;

    #[test]
    fn a_large_video_is_attached_from_its_boxes_and_a_streamed_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("film.mp4");
        let mut mp4 = Mp4::new(90, vec![Mp4Track::video(b"avc1", 1920, 1080, 90, 30)]);
        mp4.mdat_len = ATTACH_READ_WHOLE_MAX as usize + 3 * 1024 * 1024 + 17;
        let bytes = mp4.build();
        std::fs::write(&path, &bytes).expect("write");
        let r = attach(&path, Some("a ridge".into())).expect("attach");
        assert_eq!(r.mime, "video/mp4");
        assert_eq!((r.width, r.height), (Some(1920), Some(1080)));
        assert_eq!(r.bytes, bytes.len() as u64);
        assert_eq!(
            r.sha256,
            sha256_hex(&bytes),
            "the same hash as a whole read"
        );
        assert_eq!(r.alt.as_deref(), Some("a ridge"));
        // The small-file path names the same type.
        let small = dir.path().join("short.mp4");
        let mut short = Mp4::new(90, vec![Mp4Track::video(b"avc1", 1920, 1080, 90, 30)]);
        short.mdat_len = 1024;
        std::fs::write(&small, short.build()).expect("write");
        assert_eq!(attach(&small, None).expect("attach small").mime, r.mime);
    }

    #[test]
    fn a_large_file_that_is_no_media_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("backup.zip");
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(b"PK\x03\x04 not a video").expect("write");
        f.set_len(ATTACH_READ_WHOLE_MAX + 1).expect("grow");
        let e = attach(&path, None).expect_err("refused").to_string();
        assert!(e.starts_with("media:"), "{e}");
        assert!(e.contains("backup.zip"), "{e}");
    }
}
