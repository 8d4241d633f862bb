//! Identifying a media file by its content (never its extension) and reading the facts the
//! per-network limits need: size, dimensions, duration, frame rate, codecs, animation.
//!
//! Images go through the core's probe (which also checks that the file is whole); MP4/MOV and
//! WebM/Matroska through the small container readers in [`crate::mp4`] and [`crate::webm`].
//! Nothing here decodes a picture or a frame, starts an external program, or reads a whole
//! video into memory: videos are read box by box / element by element, skipping the media data.

use crate::error::MediaError;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Images larger than this are refused before being read into memory (the largest limit of
/// any network is far below: Pinterest's 20 MB).
pub const IMAGE_READ_LIMIT: u64 = 200 * 1024 * 1024;

/// What probing found. Fields that do not apply (a duration for a still image) are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub mime: String,
    pub bytes: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    /// Frames per second (average), for videos.
    pub frame_rate: Option<f64>,
    /// `avc1`, `hvc1`, `vp9`, `av1`… (the container's own codec name, lower-case).
    pub video_codec: Option<String>,
    /// `mp4a`, `opus`, `vorbis`…; `None` for silent videos.
    pub audio_codec: Option<String>,
    /// GIF with more than one frame, animated WebP or animated PNG.
    pub animated: bool,
}

impl MediaInfo {
    pub fn is_video(&self) -> bool {
        self.mime.starts_with("video/")
    }
}

/// Probes the file at `path`; errors name the file by its file name.
pub fn probe_file(path: &Path) -> Result<MediaInfo, MediaError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    probe_file_named(path, &name)
}

/// Probes `path`, naming it `name` in errors (the library probes its temporary copy but
/// reports the user's file name).
pub(crate) fn probe_file_named(path: &Path, name: &str) -> Result<MediaInfo, MediaError> {
    let mut file = File::open(path).map_err(|e| MediaError::read(path, &e))?;
    let meta = file.metadata().map_err(|e| MediaError::read(path, &e))?;
    if meta.is_dir() {
        return Err(MediaError::Unreadable {
            path: path.display().to_string(),
            reason: "it is a folder".into(),
        });
    }
    let len = meta.len();
    if len == 0 {
        return Err(outpost_core::media::ProbeError::Empty { name: name.into() }.into());
    }
    let mut head = vec![0u8; len.min(4096) as usize];
    file.read_exact(&mut head)
        .map_err(|e| MediaError::read(path, &e))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| MediaError::read(path, &e))?;

    match sniff(&head) {
        Container::IsoBmff => crate::mp4::probe(&mut file, len, name),
        Container::Ebml => crate::webm::probe(&mut file, len, name),
        Container::Image => {
            if len > IMAGE_READ_LIMIT {
                return Err(MediaError::TooLarge {
                    source_name: name.into(),
                    actual: len,
                    limit: IMAGE_READ_LIMIT,
                });
            }
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes)
                .map_err(|e| MediaError::read(path, &e))?;
            probe_image(name, &bytes)
        }
        Container::Other => {
            // Let the core describe it ("an HTML page", "text", a MIME type…).
            match outpost_core::media::probe(name, &head) {
                Err(e) => Err(e.into()),
                Ok(p) => Err(outpost_core::media::ProbeError::Unrecognised {
                    name: name.into(),
                    seen: p.mime,
                }
                .into()),
            }
        }
    }
}

/// Probes a whole image held in memory.
pub fn probe_image(name: &str, bytes: &[u8]) -> Result<MediaInfo, MediaError> {
    let p = outpost_core::media::probe(name, bytes)?;
    if !p.mime.starts_with("image/") {
        return Err(outpost_core::media::ProbeError::Unrecognised {
            name: name.into(),
            seen: p.mime,
        }
        .into());
    }
    let animated = match p.mime.as_str() {
        "image/gif" => {
            gif_frames(bytes).map_err(|what| MediaError::corrupt(name, "GIF", what))? > 1
        }
        "image/webp" => webp_is_animated(bytes),
        "image/png" | "image/apng" => png_is_animated(bytes),
        _ => false,
    };
    Ok(MediaInfo {
        mime: p.mime,
        bytes: bytes.len() as u64,
        width: p.width,
        height: p.height,
        duration_ms: None,
        frame_rate: None,
        video_codec: None,
        audio_codec: None,
        animated,
    })
}

enum Container {
    IsoBmff,
    Ebml,
    Image,
    Other,
}

fn sniff(head: &[u8]) -> Container {
    let known = infer::get(head);
    // First: HEIC/AVIF photos are ISO BMFF files too (`ftyp` with an image brand).
    if known.is_some_and(|k| k.mime_type().starts_with("image/")) {
        return Container::Image;
    }
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        return Container::IsoBmff;
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Container::Ebml;
    }
    // Old QuickTime files may start with other top-level atoms.
    if head.len() >= 8
        && matches!(&head[4..8], b"moov" | b"mdat" | b"wide" | b"free" | b"skip")
        && known.is_some_and(|k| k.mime_type() == "video/quicktime")
    {
        return Container::IsoBmff;
    }
    Container::Other
}

/// Counts the frames (image descriptors) of a GIF by walking its blocks.
fn gif_frames(b: &[u8]) -> Result<usize, &'static str> {
    const TRUNCATED: &str = "the file ends inside a frame";
    let mut pos = 13; // header (6) + logical screen descriptor (7)
    let packed = *b.get(10).ok_or(TRUNCATED)?;
    if packed & 0x80 != 0 {
        pos += 3 * (1 << ((packed & 0x07) + 1));
    }
    let skip_sub_blocks = |mut pos: usize| -> Result<usize, &'static str> {
        loop {
            let len = *b.get(pos).ok_or(TRUNCATED)? as usize;
            pos += 1;
            if len == 0 {
                return Ok(pos);
            }
            pos += len;
        }
    };
    let mut frames = 0;
    loop {
        match *b.get(pos).ok_or(TRUNCATED)? {
            0x21 => pos = skip_sub_blocks(pos + 2)?, // extension: introducer, label, sub-blocks
            0x2C => {
                let packed = *b.get(pos + 9).ok_or(TRUNCATED)?;
                pos += 10;
                if packed & 0x80 != 0 {
                    pos += 3 * (1 << ((packed & 0x07) + 1));
                }
                pos = skip_sub_blocks(pos + 1)?; // LZW minimum code size, then data
                frames += 1;
            }
            0x3B => return Ok(frames),
            _ => return Err("a block of unknown type follows a frame"),
        }
    }
}

/// WebP with the animation flag in its VP8X header.
fn webp_is_animated(b: &[u8]) -> bool {
    b.len() > 20 && &b[12..16] == b"VP8X" && b[20] & 0x02 != 0
}

/// PNG with an `acTL` chunk before the image data (APNG).
fn png_is_animated(b: &[u8]) -> bool {
    let mut pos = 8;
    while pos + 8 <= b.len() {
        let len = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
        match &b[pos + 4..pos + 8] {
            b"acTL" => return true,
            b"IDAT" | b"IEND" => return false,
            _ => pos += 12 + len,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gif(frames: usize) -> Vec<u8> {
        let mut v = b"GIF89a".to_vec();
        v.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]); // 1×1, global table of 2 colours
        v.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
        for _ in 0..frames {
            v.extend_from_slice(&[0x21, 0xF9, 4, 0, 10, 0, 0, 0]); // graphic control
            v.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
            v.extend_from_slice(&[2, 2, 0x44, 0x01, 0]);
        }
        v.push(0x3B);
        v
    }

    #[test]
    fn gif_frames_are_counted() {
        assert_eq!(gif_frames(&gif(1)), Ok(1));
        assert_eq!(gif_frames(&gif(3)), Ok(3));
        let info = probe_image("a.gif", &gif(2)).expect("valid GIF");
        assert!(info.animated, "two frames make an animation");
        assert!(!probe_image("s.gif", &gif(1)).expect("valid").animated);
    }

    #[test]
    fn a_gif_cut_inside_a_frame_is_corrupt() {
        let mut g = gif(2);
        g.truncate(g.len() - 6);
        g.push(0x3B); // the core's cheap check looks only at the last byte
        let e = probe_image("cut.gif", &g).expect_err("cut GIF");
        assert!(e.to_string().contains("cut.gif"), "{e}");
    }
}
