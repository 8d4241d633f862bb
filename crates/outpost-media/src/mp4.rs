//! A minimal reader of ISO base media files (MP4, MOV, M4V): just the boxes that say what the
//! video is — `ftyp`, `moov/mvhd` (duration), `trak/tkhd` (picture size), `mdia/mdhd`
//! (track time scale), `mdia/hdlr` (video or sound), `stbl/stsd` (codec) and `stbl/stts`
//! (sample count, for the frame rate).
//!
//! Why not the `mp4` or `mp4parse` crate: `mp4` refuses tracks whose codec it does not model
//! (HEVC as `hvc1` from iPhones, AV1…) and both want more boxes than a probe needs; this reader
//! accepts any codec and reports its four-character code. It only reads: it never decodes
//! samples, never loads the media data (`mdat`) and never trusts a size without checking it
//! against the file length.

use crate::error::MediaError;
use crate::probe::MediaInfo;
use std::io::{Read, Seek, SeekFrom};

/// Movie headers larger than this are treated as damage (real ones are kilobytes to a few MB).
const MOOV_LIMIT: u64 = 64 * 1024 * 1024;

/// Reads the top-level boxes of `file` (`len` bytes) and the movie header inside `moov`.
pub(crate) fn probe<R: Read + Seek>(
    file: &mut R,
    len: u64,
    name: &str,
) -> Result<MediaInfo, MediaError> {
    let mut brand = [0u8; 4];
    let mut moov: Option<Vec<u8>> = None;
    let mut has_mdat = false;
    let mut pos = 0u64;
    let kind = "MP4/MOV";
    let corrupt = |what: &str| MediaError::corrupt(name, kind, what);
    let io = |e: std::io::Error| MediaError::corrupt(name, kind, format!("it cannot be read: {e}"));

    while pos < len {
        if len - pos < 8 {
            return Err(corrupt(
                "it ends with a few stray bytes (the file ends early)",
            ));
        }
        file.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut h = [0u8; 16];
        file.read_exact(&mut h[..8]).map_err(io)?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let typ = [h[4], h[5], h[6], h[7]];
        let (size, header) = match size32 {
            0 => (len - pos, 8), // extends to the end of the file
            1 => {
                if len - pos < 16 {
                    return Err(corrupt("the file ends early"));
                }
                file.read_exact(&mut h[8..16]).map_err(io)?;
                (
                    u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
                    16,
                )
            }
            n => (n, 8),
        };
        if size < header {
            return Err(corrupt(&format!(
                "the '{}' box has an impossible size",
                fourcc(&typ)
            )));
        }
        if size > len - pos {
            return Err(corrupt(&format!(
                "the '{}' box needs {} more bytes than the file has: the file ends early; was the download or copy interrupted?",
                fourcc(&typ),
                size - (len - pos)
            )));
        }
        match &typ {
            b"ftyp" => {
                if size < header + 4 {
                    return Err(corrupt("its file-type box is too short"));
                }
                file.read_exact(&mut brand).map_err(io)?;
            }
            b"moov" => {
                let body = size - header;
                if body > MOOV_LIMIT {
                    return Err(corrupt("its movie header is implausibly large"));
                }
                let mut buf = vec![0u8; body as usize];
                file.read_exact(&mut buf).map_err(io)?;
                moov = Some(buf);
            }
            b"mdat" => has_mdat = true,
            _ => {}
        }
        pos += size;
    }

    let moov = moov.ok_or_else(|| {
        corrupt("it has no movie header ('moov' box) — the recording or export did not finish")
    })?;
    let movie = parse_moov(&moov).map_err(|what| corrupt(&what))?;
    let video = movie.tracks.iter().find(|t| t.handler == *b"vide");
    let audio = movie.tracks.iter().find(|t| t.handler == *b"soun");
    let Some(video) = video else {
        return Err(MediaError::NoVideoTrack { name: name.into() });
    };
    if video.samples > 0 && !has_mdat {
        return Err(corrupt(
            "its media data ('mdat' box) is missing — the file is incomplete",
        ));
    }
    let (width, height) = match (video.width, video.height) {
        (w, h) if w > 0 && h > 0 => (w, h),
        _ => (video.entry_width, video.entry_height),
    };
    if width == 0 || height == 0 {
        return Err(corrupt("its video track says it is 0 pixels wide or high"));
    }
    let duration_ms = if movie.timescale > 0 && movie.duration > 0 {
        Some(scale_ms(movie.duration, movie.timescale))
    } else {
        movie
            .tracks
            .iter()
            .filter(|t| t.timescale > 0)
            .map(|t| scale_ms(t.duration, t.timescale))
            .max()
    };
    let frame_rate = (video.timescale > 0 && video.duration > 0 && video.samples > 0)
        .then(|| video.samples as f64 * video.timescale as f64 / video.duration as f64);
    Ok(MediaInfo {
        mime: if &brand == b"qt  " {
            "video/quicktime".into()
        } else {
            "video/mp4".into()
        },
        bytes: len,
        width: Some(width),
        height: Some(height),
        duration_ms,
        frame_rate,
        video_codec: video.codec.clone(),
        audio_codec: audio.and_then(|a| a.codec.clone()),
        animated: false,
    })
}

fn scale_ms(duration: u64, timescale: u32) -> u64 {
    (duration as u128 * 1000 / timescale as u128) as u64
}

fn fourcc(t: &[u8; 4]) -> String {
    t.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

#[derive(Default)]
struct Movie {
    timescale: u32,
    duration: u64,
    tracks: Vec<Track>,
}

#[derive(Default)]
struct Track {
    handler: [u8; 4],
    width: u32,
    height: u32,
    entry_width: u32,
    entry_height: u32,
    timescale: u32,
    duration: u64,
    samples: u64,
    codec: Option<String>,
}

/// A box held in memory: its type and body.
type BoxRef<'a> = ([u8; 4], &'a [u8]);

/// Child boxes of a container held in memory.
fn children(mut b: &[u8]) -> Result<Vec<BoxRef<'_>>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 8 {
            return Err("a box inside the movie header is cut short".into());
        }
        let size32 = be32(b, 0)? as usize;
        let typ = [b[4], b[5], b[6], b[7]];
        let (size, header) = match size32 {
            0 => (b.len(), 8),
            1 => {
                let s = be64(b, 8)?;
                (usize::try_from(s).map_err(|_| "a box is too large")?, 16)
            }
            n => (n, 8),
        };
        if size < header || size > b.len() {
            return Err(format!(
                "the '{}' box inside the movie header has a wrong size",
                fourcc(&typ)
            ));
        }
        out.push((typ, &b[header..size]));
        b = &b[size..];
    }
    Ok(out)
}

fn parse_moov(moov: &[u8]) -> Result<Movie, String> {
    let mut movie = Movie::default();
    let mut seen_mvhd = false;
    for (typ, body) in children(moov)? {
        match &typ {
            b"mvhd" => {
                seen_mvhd = true;
                if body.first() == Some(&1) {
                    movie.timescale = be32(body, 20)?;
                    movie.duration = be64(body, 24)?;
                } else {
                    movie.timescale = be32(body, 12)?;
                    movie.duration = be32(body, 16)? as u64;
                }
                if movie.duration == u64::MAX || movie.duration == u32::MAX as u64 {
                    movie.duration = 0; // "unknown"
                }
            }
            b"trak" => movie.tracks.push(parse_trak(body)?),
            _ => {}
        }
    }
    if !seen_mvhd {
        return Err("its movie header has no 'mvhd' box".into());
    }
    Ok(movie)
}

fn parse_trak(trak: &[u8]) -> Result<Track, String> {
    let mut t = Track::default();
    for (typ, body) in children(trak)? {
        match &typ {
            b"tkhd" => {
                let at = if body.first() == Some(&1) { 88 } else { 76 };
                t.width = be32(body, at)? >> 16;
                t.height = be32(body, at + 4)? >> 16;
            }
            b"mdia" => parse_mdia(body, &mut t)?,
            _ => {}
        }
    }
    Ok(t)
}

fn parse_mdia(mdia: &[u8], t: &mut Track) -> Result<(), String> {
    for (typ, body) in children(mdia)? {
        match &typ {
            b"mdhd" => {
                if body.first() == Some(&1) {
                    t.timescale = be32(body, 20)?;
                    t.duration = be64(body, 24)?;
                } else {
                    t.timescale = be32(body, 12)?;
                    t.duration = be32(body, 16)? as u64;
                }
            }
            b"hdlr" => {
                let h = body
                    .get(8..12)
                    .ok_or("its track handler box is cut short")?;
                t.handler.copy_from_slice(h);
            }
            b"minf" => {
                for (typ, body) in children(body)? {
                    if &typ == b"stbl" {
                        parse_stbl(body, t)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_stbl(stbl: &[u8], t: &mut Track) -> Result<(), String> {
    for (typ, body) in children(stbl)? {
        match &typ {
            b"stsd" => {
                // version/flags, entry count, then sample entries (boxes named by codec).
                let entries = body.get(8..).ok_or("its sample description is cut short")?;
                if let Some((codec, entry)) = children(entries)?.into_iter().next() {
                    t.codec = Some(fourcc(&codec).trim().to_ascii_lowercase());
                    // Visual sample entry: 6 reserved + 2 index + 16 pre-defined, then w, h.
                    if entry.len() >= 28 {
                        t.entry_width = u16::from_be_bytes([entry[24], entry[25]]) as u32;
                        t.entry_height = u16::from_be_bytes([entry[26], entry[27]]) as u32;
                    }
                }
            }
            b"stts" => {
                let count = be32(body, 4)? as usize;
                let mut samples = 0u64;
                for i in 0..count {
                    samples += be32(body, 8 + i * 8)? as u64;
                }
                t.samples = samples;
            }
            _ => {}
        }
    }
    Ok(())
}

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| "a header box is cut short".to_string())
}

fn be64(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 8)
        .map(|s| u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
        .ok_or_else(|| "a header box is cut short".to_string())
}
