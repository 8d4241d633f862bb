//! Probing by content: images, animated GIFs, MP4/MOV and WebM/Matroska, and the clear errors
//! for damaged files, sound-only "videos" and things that are not media at all.

mod common;

use common::*;
use outpost_media::{probe_file, MediaError};

fn probe_bytes(name: &str, bytes: &[u8]) -> Result<outpost_media::MediaInfo, MediaError> {
    let dir = tempfile::tempdir().expect("tempdir");
    probe_file(&write(dir.path(), name, bytes))
}

#[test]
fn an_mp4_reports_duration_size_frame_rate_and_codecs() {
    let mp4 = Mp4::new(
        10,
        vec![
            Mp4Track::video(b"avc1", 1280, 720, 10, 30),
            Mp4Track::audio(10),
        ],
    )
    .build();
    let info = probe_bytes("clip.mp4", &mp4).expect("a valid MP4");
    assert_eq!(info.mime, "video/mp4");
    assert_eq!((info.width, info.height), (Some(1280), Some(720)));
    assert_eq!(info.duration_ms, Some(10_000));
    let fps = info.frame_rate.expect("frame rate from stts");
    assert!((fps - 30.0).abs() < 0.01, "30 fps expected, got {fps}");
    assert_eq!(info.video_codec.as_deref(), Some("avc1"));
    assert_eq!(info.audio_codec.as_deref(), Some("mp4a"));
    assert_eq!(info.bytes, mp4.len() as u64);
    assert!(!info.animated);
}

#[test]
fn a_mov_with_hevc_and_64_bit_headers_is_read() {
    let mut mov = Mp4::new(3, vec![Mp4Track::video(b"hvc1", 1080, 1920, 3, 60)]);
    mov.brand = *b"qt  ";
    mov.v1 = true;
    let info = probe_bytes("IMG_0001.MOV", &mov.build()).expect("a valid MOV");
    assert_eq!(info.mime, "video/quicktime");
    assert_eq!((info.width, info.height), (Some(1080), Some(1920)));
    assert_eq!(info.duration_ms, Some(3000));
    assert_eq!(info.video_codec.as_deref(), Some("hvc1"));
    assert_eq!(info.audio_codec, None, "no sound track");
    assert!((info.frame_rate.expect("fps") - 60.0).abs() < 0.01);
}

#[test]
fn the_movie_duration_falls_back_to_the_longest_track() {
    let mut mp4 = Mp4::new(0, vec![Mp4Track::video(b"avc1", 640, 480, 7, 25)]);
    mp4.movie_duration = 0;
    let info = probe_bytes("frag.mp4", &mp4.build()).expect("valid");
    assert_eq!(info.duration_ms, Some(7000));
}

#[test]
fn an_mp4_without_a_video_track_is_refused_by_name() {
    let mp4 = Mp4::new(5, vec![Mp4Track::audio(5)]).build();
    let e = probe_bytes("podcast.m4a.mp4", &mp4).expect_err("sound only");
    assert!(matches!(e, MediaError::NoVideoTrack { .. }), "{e}");
    assert!(e.to_string().contains("podcast.m4a.mp4"), "{e}");
    assert!(e.to_string().contains("without a video track"), "{e}");
}

#[test]
fn a_truncated_mp4_says_it_ends_early() {
    let mp4 = Mp4::new(10, vec![Mp4Track::video(b"avc1", 1280, 720, 10, 30)]).build();
    let e = probe_bytes("cut.mp4", &mp4[..mp4.len() - 1000]).expect_err("truncated");
    let msg = e.to_string();
    assert!(
        msg.contains("cut.mp4") && msg.contains("ends early"),
        "{msg}"
    );
    assert!(msg.contains("damaged MP4"), "{msg}");
}

#[test]
fn an_mp4_without_a_movie_header_is_refused() {
    let mut mp4 = Mp4::new(10, vec![Mp4Track::video(b"avc1", 1280, 720, 10, 30)]);
    mp4.with_moov = false;
    let e = probe_bytes("unfinished.mp4", &mp4.build()).expect_err("no moov");
    assert!(e.to_string().contains("no movie header"), "{e}");
}

#[test]
fn a_box_with_an_impossible_size_inside_moov_is_refused() {
    let mut mp4 = Mp4::new(10, vec![Mp4Track::video(b"avc1", 1280, 720, 10, 30)]).build();
    // The first box inside moov (mvhd) starts after ftyp (8 + 16 bytes) and moov's header.
    let mvhd = 24 + 8;
    assert_eq!(&mp4[mvhd + 4..mvhd + 8], b"mvhd");
    mp4[mvhd..mvhd + 4].copy_from_slice(&0xFFFF_u32.to_be_bytes());
    let e = probe_bytes("bad.mp4", &mp4).expect_err("corrupt");
    assert!(e.to_string().contains("wrong size"), "{e}");
}

#[test]
fn a_webm_reports_duration_size_frame_rate_and_codecs() {
    let info = probe_bytes("screen.webm", &Webm::vp9(640, 360).build()).expect("valid WebM");
    assert_eq!(info.mime, "video/webm");
    assert_eq!((info.width, info.height), (Some(640), Some(360)));
    assert_eq!(info.duration_ms, Some(2500));
    assert!((info.frame_rate.expect("fps") - 25.0).abs() < 0.01);
    assert_eq!(info.video_codec.as_deref(), Some("vp9"));
    assert_eq!(info.audio_codec.as_deref(), Some("opus"));
}

#[test]
fn a_live_webm_without_duration_or_segment_size_is_accepted() {
    let mut w = Webm::vp9(1920, 1080);
    w.unknown_size_segment = true;
    w.duration_ms = None;
    w.video = Some(("V_AV1", 1920, 1080, None));
    let info = probe_bytes("rec.webm", &w.build()).expect("live WebM");
    assert_eq!(info.duration_ms, None);
    assert_eq!(info.frame_rate, None);
    assert_eq!(info.video_codec.as_deref(), Some("av1"));
}

#[test]
fn matroska_is_told_apart_from_webm() {
    let mut w = Webm::vp9(320, 240);
    w.doc_type = "matroska";
    w.video = Some(("V_MPEG4/ISO/AVC", 320, 240, None));
    let info = probe_bytes("x.mkv", &w.build()).expect("valid MKV");
    assert_eq!(info.mime, "video/x-matroska");
}

#[test]
fn a_truncated_webm_says_it_ends_early() {
    let w = Webm::vp9(640, 360).build();
    let e = probe_bytes("cut.webm", &w[..w.len() - 5]).expect_err("truncated");
    let msg = e.to_string();
    assert!(
        msg.contains("cut.webm") && msg.contains("ends early"),
        "{msg}"
    );
}

#[test]
fn a_webm_without_a_video_track_is_refused() {
    let mut w = Webm::vp9(640, 360);
    w.video = None;
    let e = probe_bytes("voice.webm", &w.build()).expect_err("audio only");
    assert!(matches!(e, MediaError::NoVideoTrack { .. }), "{e}");
}

#[test]
fn a_webm_cut_inside_its_header_is_refused() {
    let w = Webm::vp9(640, 360).build();
    let e = probe_bytes("head.webm", &w[..30]).expect_err("cut in header");
    assert!(e.to_string().contains("head.webm"), "{e}");
}

#[test]
fn type_comes_from_content_not_extension() {
    let info = probe_bytes("really-a-png.mp4", &png(3, 2)).expect("a PNG");
    assert_eq!(info.mime, "image/png");
    assert_eq!((info.width, info.height), (Some(3), Some(2)));
    let e = probe_bytes(
        "photo.jpg",
        b"<!DOCTYPE html><html><body>Sign in</body></html>",
    )
    .expect_err("HTML is not an image");
    assert!(e.to_string().contains("HTML page"), "{e}");
    let e = probe_bytes("e.png", b"").expect_err("empty");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn animated_gifs_are_flagged() {
    let still = probe_bytes("still.gif", &gif(1)).expect("GIF");
    assert!(!still.animated);
    let anim = probe_bytes("anim.gif", &gif(3)).expect("GIF");
    assert!(anim.animated, "three frames");
    assert_eq!(anim.mime, "image/gif");
}

#[test]
fn a_jpeg_is_probed() {
    let info = probe_bytes("p.jpeg", &jpeg(40, 30)).expect("JPEG");
    assert_eq!(info.mime, "image/jpeg");
    assert_eq!((info.width, info.height), (Some(40), Some(30)));
    assert_eq!(info.duration_ms, None);
}

#[test]
fn a_heic_photo_is_treated_as_an_image_not_a_movie() {
    // HEIF is an ISO BMFF file too; a damaged one must be reported as an image.
    let mut ftyp = b"heic".to_vec();
    ftyp.extend_from_slice(&[0, 0, 0, 0]);
    ftyp.extend_from_slice(b"mif1heic");
    let mut heic = ((ftyp.len() + 8) as u32).to_be_bytes().to_vec();
    heic.extend_from_slice(b"ftyp");
    heic.extend_from_slice(&ftyp);
    heic.extend_from_slice(&[0, 0, 0, 8, b'm', b'e', b't', b'a']);
    let e = probe_bytes("IMG_1234.HEIC", &heic).expect_err("no image header");
    let msg = e.to_string();
    assert!(msg.contains("IMG_1234.HEIC"), "{msg}");
    assert!(!msg.contains("movie header"), "not read as a video: {msg}");
}
