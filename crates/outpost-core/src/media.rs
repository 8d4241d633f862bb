//! Recognising media by content (never by extension) and checking that a file is whole.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("media: {name} is empty (0 bytes) — choose the file again")]
    Empty { name: String },
    #[error("media: {name} is not an image or video Outpost recognises (its content looks like {seen}) — export it as JPEG, PNG, GIF, WebP or MP4")]
    Unrecognised { name: String, seen: String },
    #[error("media: {name} is a damaged {kind} file ({what}) — export it again")]
    Corrupt {
        name: String,
        kind: String,
        what: String,
    },
}

/// Identifies `bytes` (a whole file) and reads image dimensions. Refuses empty, unknown and
/// truncated files.
pub fn probe(name: &str, bytes: &[u8]) -> Result<Probe, ProbeError> {
    if bytes.is_empty() {
        return Err(ProbeError::Empty { name: name.into() });
    }
    let kind = infer::get(bytes).ok_or_else(|| ProbeError::Unrecognised {
        name: name.into(),
        seen: describe_unknown(bytes),
    })?;
    let mime = kind.mime_type().to_string();
    let corrupt = |what: &str| ProbeError::Corrupt {
        name: name.into(),
        kind: kind.extension().to_ascii_uppercase(),
        what: what.into(),
    };
    if mime.starts_with("image/") {
        let size = imagesize::blob_size(bytes).map_err(|_| corrupt("its header cannot be read"))?;
        if size.width == 0 || size.height == 0 {
            return Err(corrupt("it says it is 0 pixels wide or high"));
        }
        if !image_is_whole(&mime, bytes) {
            return Err(corrupt("the file ends early"));
        }
        return Ok(Probe {
            mime,
            width: u32::try_from(size.width).ok(),
            height: u32::try_from(size.height).ok(),
        });
    }
    if mime.starts_with("video/") {
        return Ok(Probe {
            mime,
            width: None,
            height: None,
        });
    }
    let seen = if mime == "text/html" || mime == "text/xml" {
        describe_unknown(bytes)
    } else {
        mime
    };
    Err(ProbeError::Unrecognised {
        name: name.into(),
        seen,
    })
}

fn describe_unknown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    if text.contains("<html") || text.contains("<!doctype html") {
        "an HTML page".into()
    } else if std::str::from_utf8(head).is_ok() {
        "text".into()
    } else {
        "unknown binary data".into()
    }
}

/// Cheap integrity checks of the end of the file, per format.
fn image_is_whole(mime: &str, b: &[u8]) -> bool {
    match mime {
        "image/jpeg" => {
            // EOI marker, allowing trailing padding some cameras add.
            let tail = &b[b.len().saturating_sub(64)..];
            tail.windows(2).any(|w| w == [0xFF, 0xD9])
        }
        "image/png" => b.len() >= 12 && &b[b.len() - 8..b.len() - 4] == b"IEND",
        "image/gif" => b.last() == Some(&0x3B),
        "image/webp" => {
            b.len() >= 8 && {
                let declared = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
                declared + 8 <= b.len()
            }
        }
        _ => true,
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    /// A valid 2×1 PNG.
    pub fn png_2x1() -> Vec<u8> {
        let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        v.extend_from_slice(&[0, 0, 0, 13]);
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        v.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked)
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(b"IEND");
        v.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::png_2x1;
    use super::*;

    #[test]
    fn a_whole_png_is_probed() {
        let p = probe("a.png", &png_2x1());
        assert_eq!(
            p,
            Ok(Probe {
                mime: "image/png".into(),
                width: Some(2),
                height: Some(1)
            })
        );
    }

    #[test]
    fn empty_truncated_and_lying_files_are_refused_with_the_name() {
        assert!(matches!(probe("e.png", b""), Err(ProbeError::Empty { .. })));
        let png = png_2x1();
        let cut = probe("cut.png", &png[..png.len() - 10]);
        match cut {
            Err(e @ ProbeError::Corrupt { .. }) => assert!(e.to_string().contains("cut.png")),
            other => panic!("truncated PNG accepted: {other:?}"),
        }
        let html = probe("photo.jpg", b"<!DOCTYPE html><html><body>404</body></html>");
        match html {
            Err(e @ ProbeError::Unrecognised { .. }) => {
                assert!(e.to_string().contains("HTML page"), "{e}")
            }
            other => panic!("HTML accepted as image: {other:?}"),
        }
    }
}

/// Hex SHA-256 of a file's bytes (content addressing and change detection).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
