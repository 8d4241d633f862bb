//! Media files made in code: real images through the `image` encoders, and minimal but valid
//! MP4/MOV box trees and WebM/Matroska EBML documents written by hand, plus damaged variants.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::{Path, PathBuf};

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

/// A real PNG of `w`×`h` with a gradient (decodable by any decoder).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, 64, (y % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode JPEG");
    out.into_inner()
}

/// A GIF of `frames` frames, 4×4.
pub fn gif(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        for i in 0..frames {
            let img = image::RgbaImage::from_pixel(4, 4, image::Rgba([i as u8 * 60, 0, 0, 255]));
            enc.encode_frame(image::Frame::new(img))
                .expect("encode frame");
        }
    }
    out
}

// ---- ISO base media (MP4/MOV) ----

pub use outpost_testkit::media::{Mp4, Mp4Track};

// ---- EBML (WebM / Matroska) ----

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

/// An element with an 8-byte size (always valid).
pub fn el(id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = id_bytes(id);
    v.push(0x01);
    v.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

/// An element of unknown size (live recordings).
pub fn el_unknown(id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = id_bytes(id);
    v.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    v.extend_from_slice(body);
    v
}

pub fn uint_el(id: u32, v: u64) -> Vec<u8> {
    el(id, &v.to_be_bytes())
}

pub struct Webm {
    pub doc_type: &'static str,
    pub duration_ms: Option<f64>,
    pub video: Option<(&'static str, u64, u64, Option<u64>)>, // codec, w, h, ns per frame
    pub audio: Option<&'static str>,
    pub unknown_size_segment: bool,
}

impl Webm {
    pub fn vp9(w: u64, h: u64) -> Self {
        Webm {
            doc_type: "webm",
            duration_ms: Some(2500.0),
            video: Some(("V_VP9", w, h, Some(40_000_000))),
            audio: Some("A_OPUS"),
            unknown_size_segment: false,
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let header = [uint_el(0x4286, 1), el(0x4282, self.doc_type.as_bytes())].concat();
        let mut out = el(0x1A45DFA3, &header);
        let mut info = uint_el(0x2AD7B1, 1_000_000);
        if let Some(d) = self.duration_ms {
            info.extend(el(0x4489, &d.to_be_bytes()));
        }
        let mut tracks = Vec::new();
        if let Some((codec, w, h, dd)) = self.video {
            let mut t = [
                uint_el(0xD7, 1),
                uint_el(0x83, 1),
                el(0x86, codec.as_bytes()),
                el(0xE0, &[uint_el(0xB0, w), uint_el(0xBA, h)].concat()),
            ]
            .concat();
            if let Some(dd) = dd {
                t.extend(uint_el(0x23E383, dd));
            }
            tracks.extend(el(0xAE, &t));
        }
        if let Some(codec) = self.audio {
            let t = [
                uint_el(0xD7, 2),
                uint_el(0x83, 2),
                el(0x86, codec.as_bytes()),
            ]
            .concat();
            tracks.extend(el(0xAE, &t));
        }
        let cluster = [uint_el(0xE7, 0), el(0xA3, &[0x81, 0, 0, 0x80, 1, 2, 3])].concat();
        let body = [
            el(0x1549A966, &info),
            el(0x1654AE6B, &tracks),
            el(0x1F43B675, &cluster),
        ]
        .concat();
        if self.unknown_size_segment {
            out.extend(el_unknown(0x18538067, &body));
        } else {
            out.extend(el(0x18538067, &body));
        }
        out
    }
}
