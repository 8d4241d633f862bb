//! The media library: content-addressed copies, originals left alone, thumbnails, clean-up.

mod common;

use chrono::Utc;
use common::*;
use outpost_media::{MediaError, MediaLibrary, Thumbnail, DEFAULT_KEEP_FOR};
use std::collections::HashSet;
use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn set_mtime(path: &Path, t: SystemTime) {
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(t))
        .expect("set mtime");
}

#[test]
fn the_same_file_twice_is_stored_once_and_the_original_stays() {
    let data = tempfile::tempdir().expect("tempdir");
    let src = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(data.path()).expect("library");
    let bytes = png(20, 10);
    let a = write(src.path(), "a.png", &bytes);
    let b = write(src.path(), "copy of a.png", &bytes);

    let first = lib.add_file(&a).expect("add");
    let second = lib.add_file(&b).expect("add again");
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(first.path, second.path);
    assert_eq!(
        first.path,
        data.path()
            .join("media")
            .join(format!("{}.png", first.sha256))
    );
    assert_eq!(
        names(lib.dir()),
        vec![format!("{}.png", first.sha256)],
        "one copy, no temporaries"
    );
    assert_eq!(
        fs::read(&a).expect("original still there"),
        bytes,
        "original untouched"
    );
    assert_eq!(fs::read(&first.path).expect("copy"), bytes);
    assert_eq!(first.sha256, outpost_core::media::sha256_hex(&bytes));
    assert_eq!(
        (first.mime.as_str(), first.width, first.height),
        ("image/png", Some(20), Some(10))
    );
    assert_eq!(first.bytes, bytes.len() as u64);

    let other = lib
        .add_file(&write(src.path(), "b.jpg", &jpeg(8, 8)))
        .expect("add JPEG");
    assert!(other.path.to_string_lossy().ends_with(".jpg"));
    assert_eq!(names(lib.dir()).len(), 2);
}

#[test]
fn videos_are_stored_with_their_probed_facts() {
    let data = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(data.path()).expect("library");
    let mp4 = Mp4::new(
        4,
        vec![
            Mp4Track::video(b"avc1", 1920, 1080, 4, 30),
            Mp4Track::audio(4),
        ],
    );
    let path = write(data.path(), "clip.bin", &mp4.build());
    let item = lib.add_file(&path).expect("add video");
    assert_eq!(item.mime, "video/mp4");
    assert!(
        item.path.to_string_lossy().ends_with(".mp4"),
        "extension from content"
    );
    assert_eq!(item.duration_ms, Some(4000));
    assert_eq!(item.video_codec.as_deref(), Some("avc1"));
    let again = lib.get(&item.sha256).expect("get").expect("present");
    assert_eq!(again, item);
    assert_eq!(lib.get(&"0".repeat(64)).expect("get"), None);
    assert_eq!(
        lib.get("../../etc/passwd").expect("get"),
        None,
        "not a hash"
    );
}

#[test]
fn refused_files_leave_nothing_in_the_library() {
    let data = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(data.path()).expect("library");
    let mp4 = Mp4::new(10, vec![Mp4Track::video(b"avc1", 1280, 720, 10, 30)]).build();
    let cut = write(data.path(), "cut.mp4", &mp4[..mp4.len() - 100]);
    let e = lib.add_file(&cut).expect_err("truncated");
    assert!(
        e.to_string().contains("cut.mp4"),
        "the user's file name, not the temp name: {e}"
    );
    let html = write(data.path(), "x.jpg", b"<html><body>nope</body></html>");
    assert!(lib.add_file(&html).is_err());
    assert!(
        names(lib.dir()).is_empty(),
        "no temporaries left: {:?}",
        names(lib.dir())
    );
}

#[test]
fn missing_files_and_folders_are_refused_with_the_path() {
    let data = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(data.path()).expect("library");
    let missing = data.path().join("nope.png");
    let e = lib.add_file(&missing).expect_err("missing");
    assert!(matches!(e, MediaError::Missing { .. }));
    assert!(e.to_string().contains("nope.png"), "{e}");
    let e = lib.add_file(data.path()).expect_err("folder");
    assert!(e.to_string().contains("folder"), "{e}");
}

#[test]
fn thumbnails_fit_320_and_are_never_enlarged() {
    let data = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(data.path()).expect("library");
    let wide = lib
        .add_file(&write(data.path(), "w.png", &png(800, 400)))
        .expect("add");
    match lib.thumbnail(&wide).expect("thumbnail") {
        Thumbnail::Image {
            path,
            width,
            height,
        } => {
            assert_eq!((width, height), (320, 160));
            assert_eq!(path, lib.dir().join(format!("{}.thumb.png", wide.sha256)));
            assert_eq!(image::image_dimensions(&path).expect("a PNG"), (320, 160));
        }
        other => panic!("an image gets a picture: {other:?}"),
    }
    // Second call reuses the file.
    assert!(matches!(
        lib.thumbnail(&wide),
        Ok(Thumbnail::Image { width: 320, .. })
    ));

    let tall = lib
        .add_file(&write(data.path(), "t.jpg", &jpeg(300, 900)))
        .expect("add");
    assert!(matches!(
        lib.thumbnail(&tall),
        Ok(Thumbnail::Image {
            width: 107,
            height: 320,
            ..
        })
    ));
    let small = lib
        .add_file(&write(data.path(), "s.png", &png(16, 12)))
        .expect("add");
    assert!(matches!(
        lib.thumbnail(&small),
        Ok(Thumbnail::Image {
            width: 16,
            height: 12,
            ..
        })
    ));
    let anim = lib
        .add_file(&write(data.path(), "a.gif", &gif(2)))
        .expect("add");
    assert!(anim.animated);
    assert!(matches!(
        lib.thumbnail(&anim),
        Ok(Thumbnail::Image { width: 4, .. })
    ));
}

#[test]
fn videos_get_a_typed_placeholder() {
    let data = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(data.path()).expect("library");
    let v = lib
        .add_file(&write(data.path(), "v.webm", &Webm::vp9(640, 360).build()))
        .expect("add");
    assert_eq!(
        lib.thumbnail(&v).expect("thumbnail"),
        Thumbnail::Placeholder {
            kind: "video".into(),
            duration_ms: Some(2500)
        }
    );
    let json = serde_json::to_value(lib.thumbnail(&v).expect("thumbnail")).expect("json");
    assert_eq!(json["type"], "placeholder");
}

#[test]
fn clean_up_removes_only_long_unreferenced_files() {
    let data = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(data.path()).expect("library");
    let add = |name: &str, w: u32| {
        lib.add_file(&write(data.path(), name, &png(w, 1)))
            .expect("add")
    };
    let referenced = add("r.png", 1);
    let in_use = add("u.png", 2);
    let old = add("o.png", 3);
    let recent = add("n.png", 4);
    lib.thumbnail(&old).expect("thumbnail");
    lib.thumbnail(&referenced).expect("thumbnail");
    let orphan_thumb = lib.dir().join(format!("{}.thumb.png", "f".repeat(64)));
    fs::write(&orphan_thumb, b"x").expect("orphan");
    let stale_temp = lib.dir().join(".incoming-0123456789abcdef.part");
    fs::write(&stale_temp, vec![0u8; 100]).expect("temp");
    let fresh_temp = lib.dir().join(".incoming-fedcba9876543210.part");
    fs::write(&fresh_temp, b"being written").expect("temp");
    let stranger = lib.dir().join("notes.txt");
    fs::write(&stranger, b"not ours").expect("file");

    let now = Utc::now() + chrono::Duration::days(60);
    let now_sys = SystemTime::from(now);
    let long_ago = now_sys - Duration::from_secs(45 * 24 * 3600);
    for item in [&referenced, &in_use, &old] {
        set_mtime(&item.path, long_ago);
    }
    set_mtime(&recent.path, now_sys - Duration::from_secs(24 * 3600));
    set_mtime(&stale_temp, now_sys - Duration::from_secs(2 * 24 * 3600));
    set_mtime(&fresh_temp, now_sys - Duration::from_secs(60));

    let report = lib
        .collect_garbage(
            &HashSet::from([referenced.sha256.clone()]),
            &HashSet::from([in_use.sha256.clone()]),
            now,
            DEFAULT_KEEP_FOR,
        )
        .expect("clean-up");

    assert_eq!(
        report
            .removed
            .iter()
            .map(|r| r.sha256.as_str())
            .collect::<Vec<_>>(),
        vec![old.sha256.as_str()],
        "only the old unreferenced file goes"
    );
    assert!(!old.path.exists());
    assert!(
        !lib.dir().join(format!("{}.thumb.png", old.sha256)).exists(),
        "its thumbnail too"
    );
    assert!(!orphan_thumb.exists(), "a thumbnail without its file goes");
    assert!(!stale_temp.exists(), "crash leftovers older than a day go");
    assert!(fresh_temp.exists(), "a copy in progress stays");
    assert!(stranger.exists(), "files that are not ours stay");
    for kept in [&referenced, &in_use, &recent] {
        assert!(kept.path.exists(), "{} must stay", kept.path.display());
    }
    assert!(lib
        .dir()
        .join(format!("{}.thumb.png", referenced.sha256))
        .exists());
    assert!(report.bytes_freed >= old.bytes + 100, "{report:?}");
    // The reference was recorded: its countdown restarts now.
    let m = fs::metadata(&referenced.path)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert!(
        m >= now_sys - Duration::from_secs(1),
        "last-referenced time moved to now"
    );

    // 31 days later with no references at all, the rest goes too (but not within 30 days).
    let soon = now + chrono::Duration::days(29);
    let r = lib
        .collect_garbage(&HashSet::new(), &HashSet::new(), soon, DEFAULT_KEEP_FOR)
        .expect("clean-up");
    assert_eq!(
        r.removed.len(),
        1,
        "only the file last referenced long ago: {r:?}"
    );
    assert_eq!(r.removed[0].sha256, recent.sha256);
    let later = now + chrono::Duration::days(31);
    let r = lib
        .collect_garbage(&HashSet::new(), &HashSet::new(), later, DEFAULT_KEEP_FOR)
        .expect("clean-up");
    assert_eq!(r.removed.len(), 2, "{r:?}");
}
