//! A minimal EBML reader for WebM and Matroska: the EBML header (`DocType`), then inside the
//! `Segment` the `Info` element (duration and its time scale) and `Tracks` (track type,
//! `CodecID`, picture size, default frame duration).
//!
//! It reads only those elements, stops at the first `Cluster` once it has them, and never
//! loads or decodes a frame. Every size is checked against its parent and the file length, so
//! a cut file is reported instead of read past.

use crate::error::MediaError;
use crate::probe::MediaInfo;
use std::io::{Read, Seek, SeekFrom};

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const DEFAULT_DURATION: u32 = 0x23_E383;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const CLUSTER: u32 = 0x1F43_B675;

/// Header elements larger than this are treated as damage.
const ELEMENT_LIMIT: u64 = 16 * 1024 * 1024;

pub(crate) fn probe<R: Read + Seek>(
    file: &mut R,
    len: u64,
    name: &str,
) -> Result<MediaInfo, MediaError> {
    let corrupt = |what: &str| MediaError::corrupt(name, "WebM", what);
    let mut r = Reader { file, len };

    // EBML header.
    let (id, size, at) = r.element_header(0).map_err(|w| corrupt(&w))?;
    if id != EBML {
        return Err(corrupt("it does not start with an EBML header"));
    }
    let size = size.ok_or_else(|| corrupt("its EBML header has no size"))?;
    let header = r.read_body(at, size).map_err(|w| corrupt(&w))?;
    let mut doc_type = String::new();
    for (id, body) in children(&header).map_err(|w| corrupt(&w))? {
        if id == DOC_TYPE {
            doc_type = text(body);
        }
    }
    let mime = match doc_type.as_str() {
        "webm" => "video/webm",
        "matroska" => "video/x-matroska",
        other => {
            return Err(outpost_core::media::ProbeError::Unrecognised {
                name: name.into(),
                seen: format!("an EBML file of type {other:?}"),
            }
            .into())
        }
    };

    // Segment.
    let mut pos = at + size;
    let (seg_start, seg_end) = loop {
        if pos >= len {
            return Err(corrupt(
                "it has no Segment (the file ends after its header)",
            ));
        }
        let (id, size, at) = r.element_header(pos).map_err(|w| corrupt(&w))?;
        let end = match size {
            Some(s) => at
                .checked_add(s)
                .ok_or_else(|| corrupt("a size overflows"))?,
            None => len,
        };
        if end > len {
            return Err(corrupt(&format!(
                "its Segment needs {} more bytes than the file has: the file ends early; was the download or copy interrupted?",
                end - len
            )));
        }
        if id == SEGMENT {
            break (at, end);
        }
        pos = end;
    };

    let mut info: Option<Vec<u8>> = None;
    let mut tracks: Option<Vec<u8>> = None;
    let mut pos = seg_start;
    while pos < seg_end && (info.is_none() || tracks.is_none()) {
        let (id, size, at) = r.element_header(pos).map_err(|w| corrupt(&w))?;
        let Some(size) = size else {
            if id == CLUSTER {
                break; // live recording: clusters of unknown size until the end
            }
            return Err(corrupt("an element inside the Segment has no size"));
        };
        let end = at
            .checked_add(size)
            .ok_or_else(|| corrupt("a size overflows"))?;
        if end > seg_end {
            return Err(corrupt(
                "an element runs past the end of the Segment (the file ends early)",
            ));
        }
        match id {
            INFO => info = Some(r.read_body(at, size).map_err(|w| corrupt(&w))?),
            TRACKS => tracks = Some(r.read_body(at, size).map_err(|w| corrupt(&w))?),
            _ => {}
        }
        pos = end;
    }

    let mut scale_ns: u64 = 1_000_000;
    let mut duration: Option<f64> = None;
    if let Some(info) = &info {
        for (id, body) in children(info).map_err(|w| corrupt(&w))? {
            match id {
                TIMESTAMP_SCALE => scale_ns = uint(body).max(1),
                DURATION => duration = float(body),
                _ => {}
            }
        }
    }
    let tracks = tracks.ok_or_else(|| corrupt("it has no track list (Tracks element)"))?;
    let mut video: Option<WebmTrack> = None;
    let mut audio: Option<WebmTrack> = None;
    for (id, body) in children(&tracks).map_err(|w| corrupt(&w))? {
        if id != TRACK_ENTRY {
            continue;
        }
        let t = parse_track(body).map_err(|w| corrupt(&w))?;
        match t.kind {
            1 if video.is_none() => video = Some(t),
            2 if audio.is_none() => audio = Some(t),
            _ => {}
        }
    }
    let Some(video) = video else {
        return Err(MediaError::NoVideoTrack { name: name.into() });
    };
    if video.width == 0 || video.height == 0 {
        return Err(corrupt("its video track says it is 0 pixels wide or high"));
    }
    let duration_ms = duration
        .filter(|d| d.is_finite() && *d >= 0.0)
        .map(|d| (d * scale_ns as f64 / 1_000_000.0).round() as u64);
    Ok(MediaInfo {
        mime: mime.into(),
        bytes: len,
        width: Some(video.width),
        height: Some(video.height),
        duration_ms,
        frame_rate: video
            .default_duration_ns
            .filter(|&d| d > 0)
            .map(|d| 1e9 / d as f64),
        video_codec: Some(codec_name(&video.codec)),
        audio_codec: audio.map(|a| codec_name(&a.codec)),
        animated: false,
    })
}

#[derive(Default)]
struct WebmTrack {
    kind: u64,
    codec: String,
    width: u32,
    height: u32,
    default_duration_ns: Option<u64>,
}

fn parse_track(body: &[u8]) -> Result<WebmTrack, String> {
    let mut t = WebmTrack::default();
    for (id, b) in children(body)? {
        match id {
            TRACK_TYPE => t.kind = uint(b),
            CODEC_ID => t.codec = text(b),
            DEFAULT_DURATION => t.default_duration_ns = Some(uint(b)),
            VIDEO => {
                for (id, b) in children(b)? {
                    match id {
                        PIXEL_WIDTH => t.width = u32::try_from(uint(b)).unwrap_or(0),
                        PIXEL_HEIGHT => t.height = u32::try_from(uint(b)).unwrap_or(0),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(t)
}

/// `V_VP9` → `vp9`, `A_OPUS` → `opus`, `V_MPEG4/ISO/AVC` → `mpeg4/iso/avc`.
fn codec_name(id: &str) -> String {
    id.strip_prefix("V_")
        .or_else(|| id.strip_prefix("A_"))
        .unwrap_or(id)
        .to_ascii_lowercase()
}

struct Reader<'a, R> {
    file: &'a mut R,
    len: u64,
}

impl<R: Read + Seek> Reader<'_, R> {
    /// Reads the ID and size at `pos`; returns `(id, size or None for "unknown", body start)`.
    fn element_header(&mut self, pos: u64) -> Result<(u32, Option<u64>, u64), String> {
        let avail = (self.len - pos.min(self.len)).min(12) as usize;
        let mut buf = [0u8; 12];
        self.file
            .seek(SeekFrom::Start(pos))
            .and_then(|_| self.file.read_exact(&mut buf[..avail]))
            .map_err(|e| format!("it cannot be read: {e}"))?;
        let (id, n) = read_id(&buf[..avail])?;
        let (size, m) = read_size(&buf[n..avail])?;
        Ok((id, size, pos + (n + m) as u64))
    }

    fn read_body(&mut self, at: u64, size: u64) -> Result<Vec<u8>, String> {
        if size > ELEMENT_LIMIT {
            return Err("a header element is implausibly large".into());
        }
        if at + size > self.len {
            return Err("the file ends early".into());
        }
        let mut buf = vec![0u8; size as usize];
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.read_exact(&mut buf))
            .map_err(|e| format!("it cannot be read: {e}"))?;
        Ok(buf)
    }
}

/// An element ID: 1–4 bytes, marker bit kept (as the specification writes IDs).
fn read_id(b: &[u8]) -> Result<(u32, usize), String> {
    let first = *b.first().ok_or("the file ends early")?;
    let n = first.leading_zeros() as usize + 1;
    if n > 4 {
        return Err("an element has an invalid ID".into());
    }
    let bytes = b.get(..n).ok_or("the file ends early")?;
    Ok((bytes.iter().fold(0u32, |a, &x| (a << 8) | x as u32), n))
}

/// An element size: 1–8 bytes, marker bit removed; all ones means "unknown".
fn read_size(b: &[u8]) -> Result<(Option<u64>, usize), String> {
    let first = *b.first().ok_or("the file ends early")?;
    if first == 0 {
        return Err("an element has an invalid size".into());
    }
    let n = first.leading_zeros() as usize + 1;
    let bytes = b.get(..n).ok_or("the file ends early")?;
    let mask = (0xFFu32 >> n) as u8;
    let mut v = (first & mask) as u64;
    for &x in &bytes[1..] {
        v = (v << 8) | x as u64;
    }
    let all_ones = (1u64 << (7 * n)) - 1;
    Ok(((v != all_ones).then_some(v), n))
}

/// Children of a master element held in memory.
fn children(mut b: &[u8]) -> Result<Vec<(u32, &[u8])>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (id, n) = read_id(b)?;
        let (size, m) = read_size(&b[n..])?;
        let size = size.ok_or("a header element has no size")?;
        let start = n + m;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|&e| e <= b.len())
            .ok_or("a header element runs past its parent (the file is damaged)")?;
        out.push((id, &b[start..end]));
        b = &b[end..];
    }
    Ok(out)
}

fn uint(b: &[u8]) -> u64 {
    b.iter().take(8).fold(0u64, |a, &x| (a << 8) | x as u64)
}

fn float(b: &[u8]) -> Option<f64> {
    match b.len() {
        4 => Some(f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64),
        8 => Some(f64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])),
        _ => None,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches('\0')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ids_decode() {
        assert_eq!(read_id(&[0x1A, 0x45, 0xDF, 0xA3]), Ok((EBML, 4)));
        assert_eq!(read_id(&[0x86]), Ok((0x86, 1)));
        assert_eq!(read_size(&[0x81]), Ok((Some(1), 1)));
        assert_eq!(read_size(&[0x40, 0x02]), Ok((Some(2), 2)));
        assert_eq!(
            read_size(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Ok((None, 8))
        );
        assert!(read_size(&[0x00]).is_err());
    }

    #[test]
    fn codec_ids_are_shortened() {
        assert_eq!(codec_name("V_VP9"), "vp9");
        assert_eq!(codec_name("A_OPUS"), "opus");
        assert_eq!(codec_name("V_MPEG4/ISO/AVC"), "mpeg4/iso/avc");
    }
}
