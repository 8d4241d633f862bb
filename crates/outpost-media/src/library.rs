//! The media library: Outpost's own copies of the user's media in `<data dir>/media/`, one
//! file per content (`<sha256>.<ext>`), with thumbnails beside them (`<sha256>.thumb.png`).
//!
//! Adding copies (never moves) the original through a temporary file in the same folder that
//! is fsynced and then renamed, so a crash or a full disk leaves either the whole file or
//! nothing under its final name; leftover temporaries (`.incoming-*.part`) are removed by
//! [`MediaLibrary::collect_garbage`]. The library must never touch a file outside its folder
//! and never delete a file a post or a target still refers to.

use crate::error::MediaError;
use crate::probe::{probe_file_named, MediaInfo};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long an unreferenced file stays in the library before clean-up removes it.
pub const DEFAULT_KEEP_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Temporary files older than this are leftovers of a crash.
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// Read buffer for copies.
const COPY_BUFFER: usize = 256 * 1024;

/// One file in the library and what probing found. The fields match the store's `media` table
/// plus the video details the per-network checks need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryItem {
    pub sha256: String,
    /// The library copy (absolute when the library was opened with an absolute path).
    pub path: PathBuf,
    pub mime: String,
    pub bytes: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub frame_rate: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub animated: bool,
}

impl LibraryItem {
    fn new(sha256: String, path: PathBuf, info: MediaInfo) -> Self {
        LibraryItem {
            sha256,
            path,
            mime: info.mime,
            bytes: info.bytes,
            width: info.width,
            height: info.height,
            duration_ms: info.duration_ms,
            frame_rate: info.frame_rate,
            video_codec: info.video_codec,
            audio_codec: info.audio_codec,
            animated: info.animated,
        }
    }

    pub fn is_video(&self) -> bool {
        self.mime.starts_with("video/")
    }

    /// The file extension the library (and staging) uses for this type.
    pub fn extension(&self) -> &'static str {
        extension_for(&self.mime)
    }
}

/// A small picture for the post card, or a typed stand-in where Outpost has no decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thumbnail {
    /// A PNG no larger than 320×320 beside the library file.
    Image {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    /// No frame is decoded for videos; the UI draws a typed placeholder.
    Placeholder {
        kind: String,
        duration_ms: Option<u64>,
    },
}

/// Largest thumbnail edge, in pixels.
pub const THUMBNAIL_EDGE: u32 = 320;

/// What [`MediaLibrary::collect_garbage`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    /// Library files removed (their thumbnails went with them).
    pub removed: Vec<RemovedMedia>,
    /// Bytes freed, thumbnails and crash leftovers included.
    pub bytes_freed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedMedia {
    pub sha256: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// Owns `<data dir>/media/`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaLibrary {
    dir: PathBuf,
}

impl MediaLibrary {
    /// Opens (creating if needed) the library under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, MediaError> {
        let dir = data_dir.join("media");
        fs::create_dir_all(&dir).map_err(|e| MediaError::write(&dir, &e))?;
        Ok(MediaLibrary { dir })
    }

    /// The library folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Copies the file at `path` into the library (once per content) and probes the copy.
    /// The original is only read.
    pub fn add_file(&self, path: &Path) -> Result<LibraryItem, MediaError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let source = File::open(path).map_err(|e| MediaError::read(path, &e))?;
        let meta = source.metadata().map_err(|e| MediaError::read(path, &e))?;
        if meta.is_dir() {
            return Err(MediaError::Unreadable {
                path: path.display().to_string(),
                reason: "it is a folder".into(),
            });
        }
        self.copy_in(source, path, &name, u64::MAX, |f| f)
    }

    /// The item with this hash, probed again from the library copy; `None` when it is not in
    /// the library.
    pub fn get(&self, sha256: &str) -> Result<Option<LibraryItem>, MediaError> {
        if !is_sha256(sha256) {
            return Ok(None);
        }
        let Some(path) = self.find(sha256)? else {
            return Ok(None);
        };
        let info = probe_file_named(&path, &format!("{sha256} (library copy)"))?;
        Ok(Some(LibraryItem::new(sha256.into(), path, info)))
    }

    /// The thumbnail of `item`, made on first use: images are scaled to fit
    /// [`THUMBNAIL_EDGE`]² (never enlarged) and saved as `<sha256>.thumb.png`; videos get a
    /// [`Thumbnail::Placeholder`].
    pub fn thumbnail(&self, item: &LibraryItem) -> Result<Thumbnail, MediaError> {
        if item.is_video() {
            return Ok(Thumbnail::Placeholder {
                kind: "video".into(),
                duration_ms: item.duration_ms,
            });
        }
        let dest = self.thumbnail_path(&item.sha256);
        if let Ok((width, height)) = image::image_dimensions(&dest) {
            return Ok(Thumbnail::Image {
                path: dest,
                width,
                height,
            });
        }
        let (width, height) = crate::thumb::write_thumbnail(&item.path, &dest, THUMBNAIL_EDGE)?;
        Ok(Thumbnail::Image {
            path: dest,
            width,
            height,
        })
    }

    /// Removes library files that no post has referenced for `keep_for`, with their
    /// thumbnails, and crash leftovers older than a day.
    ///
    /// `referenced`: hashes used by any post (drafts included); `in_use`: hashes a target still
    /// needs. Both are kept whatever their age, and their "last referenced" time (the file's
    /// modification time) is set to `now`, so the `keep_for` countdown starts when the last
    /// reference goes. Run it from one place at a time (the engine's housekeeping).
    pub fn collect_garbage(
        &self,
        referenced: &HashSet<String>,
        in_use: &HashSet<String>,
        now: DateTime<Utc>,
        keep_for: Duration,
    ) -> Result<GcReport, MediaError> {
        let now_sys = SystemTime::from(now);
        let mut report = GcReport::default();
        let entries = fs::read_dir(&self.dir).map_err(|e| MediaError::read(&self.dir, &e))?;
        let mut thumbs = Vec::new();
        let mut mains = HashSet::new();
        for entry in entries {
            let entry = entry.map_err(|e| MediaError::read(&self.dir, &e))?;
            let path = entry.path();
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(now_sys);
            let age = now_sys.duration_since(modified).unwrap_or_default();
            if file_name.starts_with(".incoming-") && file_name.ends_with(".part") {
                if age >= STALE_TEMP_AGE && self.remove(&path)? {
                    report.bytes_freed += meta.len();
                }
                continue;
            }
            let Some((sha, rest)) = file_name.split_once('.') else {
                continue;
            };
            if !is_sha256(sha) {
                continue;
            }
            if rest == "thumb.png" {
                thumbs.push((sha.to_string(), path, meta.len()));
                continue;
            }
            if referenced.contains(sha) || in_use.contains(sha) {
                mains.insert(sha.to_string());
                if modified < now_sys {
                    // Record "last referenced now" (best effort: a read-only file stays).
                    let _ = File::options()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_modified(now_sys));
                }
                continue;
            }
            if age < keep_for {
                mains.insert(sha.to_string());
                continue;
            }
            if self.remove(&path)? {
                report.bytes_freed += meta.len();
                report.removed.push(RemovedMedia {
                    sha256: sha.to_string(),
                    path,
                    bytes: meta.len(),
                });
            }
        }
        // Thumbnails go with their file (and orphans with nobody).
        for (sha, path, bytes) in thumbs {
            if !mains.contains(&sha) && self.remove(&path)? {
                report.bytes_freed += bytes;
            }
        }
        report.removed.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Ok(report)
    }

    fn thumbnail_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.thumb.png"))
    }

    /// Removes `path`; false when it was already gone.
    fn remove(&self, path: &Path) -> Result<bool, MediaError> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(MediaError::write(path, &e)),
        }
    }

    /// The library file of `sha256`, whatever its extension.
    fn find(&self, sha256: &str) -> Result<Option<PathBuf>, MediaError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| MediaError::read(&self.dir, &e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((sha, rest)) = name.split_once('.') {
                if sha == sha256 && rest != "thumb.png" {
                    return Ok(Some(entry.path()));
                }
            }
        }
        Ok(None)
    }

    /// Streams `reader` into the library through a temporary file. `wrap` lets tests put a
    /// failing writer (a full disk) between the copy and the file.
    pub(crate) fn copy_in<R: Read, W: SyncWrite>(
        &self,
        mut reader: R,
        source_path: &Path,
        name: &str,
        limit: u64,
        wrap: impl FnOnce(File) -> W,
    ) -> Result<LibraryItem, MediaError> {
        let mut incoming = Incoming::create(self, name, limit, wrap)?;
        let mut buf = vec![0u8; COPY_BUFFER];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MediaError::read(source_path, &e)),
            };
            incoming.write(&buf[..n])?;
        }
        incoming.finish()
    }
}

/// A writer whose data can be forced to disk (a `File`, or a test double around one).
pub(crate) trait SyncWrite: Write {
    fn sync(&mut self) -> io::Result<()>;
}

impl SyncWrite for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

/// A file being added: written under a temporary name, hashed on the way, and either renamed
/// into place by [`Incoming::finish`] or removed when dropped.
pub(crate) struct Incoming<W: SyncWrite = File> {
    library: MediaLibrary,
    temp: PathBuf,
    out: Option<W>,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
    name: String,
}

impl<W: SyncWrite> Incoming<W> {
    pub(crate) fn create(
        library: &MediaLibrary,
        name: &str,
        limit: u64,
        wrap: impl FnOnce(File) -> W,
    ) -> Result<Self, MediaError> {
        let temp = library.dir.join(format!(
            ".incoming-{}.part",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| MediaError::write(&library.dir, &e))?;
        Ok(Incoming {
            library: library.clone(),
            temp,
            out: Some(wrap(file)),
            hasher: Sha256::new(),
            bytes: 0,
            limit,
            name: name.into(),
        })
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn write(&mut self, buf: &[u8]) -> Result<(), MediaError> {
        let total = self.bytes + buf.len() as u64;
        if total > self.limit {
            return Err(MediaError::TooLarge {
                source_name: self.name.clone(),
                actual: total,
                limit: self.limit,
            });
        }
        let dir = &self.library.dir;
        let out = self.out.as_mut().ok_or_else(|| MediaError::Write {
            path: dir.display().to_string(),
            reason: "the copy was already finished".into(),
        })?;
        out.write_all(buf).map_err(|e| MediaError::write(dir, &e))?;
        self.hasher.update(buf);
        self.bytes = total;
        Ok(())
    }

    /// Forces the copy to disk, probes it, and renames it to `<sha256>.<ext>` (or drops it
    /// when the library already holds the same content).
    pub(crate) fn finish(mut self) -> Result<LibraryItem, MediaError> {
        let dir = self.library.dir.clone();
        if let Some(mut out) = self.out.take() {
            out.flush()
                .and_then(|_| out.sync())
                .map_err(|e| MediaError::write(&dir, &e))?;
        }
        let sha256 = hex::encode(self.hasher.clone().finalize());
        let info = probe_file_named(&self.temp, &self.name)?;
        let dest = dir.join(format!("{sha256}.{}", extension_for(&info.mime)));
        if dest.exists() {
            // Same content already stored: keep that one, mark it as just used.
            let _ = File::options()
                .write(true)
                .open(&dest)
                .and_then(|f| f.set_modified(SystemTime::now()));
        } else {
            fs::rename(&self.temp, &dest).map_err(|e| MediaError::write(&dir, &e))?;
            // Make the rename itself durable.
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
        }
        Ok(LibraryItem::new(sha256, dest, info))
    }
}

impl<W: SyncWrite> Drop for Incoming<W> {
    fn drop(&mut self) {
        drop(self.out.take());
        // After a successful rename the temporary name no longer exists; that is fine.
        let _ = fs::remove_file(&self.temp);
    }
}

/// The extension the library stores a type under.
pub(crate) fn extension_for(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" | "image/apng" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/heif" | "image/heic" => "heic",
        "image/avif" => "avif",
        "image/bmp" => "bmp",
        "image/tiff" => "tiff",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        "video/x-matroska" => "mkv",
        _ => "bin",
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid 2×1 PNG.
    fn png() -> Vec<u8> {
        let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        v.extend_from_slice(&[0, 0, 0, 13]);
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(b"IEND");
        v.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        v
    }

    /// A file on a disk that fills up after `room` bytes.
    struct FullDisk {
        file: File,
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.file.write(&buf[..n])
        }
        fn flush(&mut self) -> io::Result<()> {
            self.file.flush()
        }
    }

    impl SyncWrite for FullDisk {
        fn sync(&mut self) -> io::Result<()> {
            self.file.sync_all()
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("library folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_full_disk_leaves_nothing_half_written() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let lib = MediaLibrary::open(tmp.path()).expect("library");
        let data = png();
        let err = lib
            .copy_in(
                &data[..],
                Path::new("photo.png"),
                "photo.png",
                u64::MAX,
                |file| FullDisk { file, room: 10 },
            )
            .expect_err("the disk is full");
        assert!(matches!(err, MediaError::DiskFull { .. }), "{err}");
        assert!(
            err.to_string().contains("free some disk space"),
            "the message says the fix: {err}"
        );
        assert_eq!(
            files_in(lib.dir()),
            Vec::<String>::new(),
            "neither a final nor a temporary file may remain"
        );
    }

    #[test]
    fn a_full_disk_at_fsync_leaves_nothing_either() {
        struct FailingSync(File);
        impl Write for FailingSync {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl SyncWrite for FailingSync {
            fn sync(&mut self) -> io::Result<()> {
                Err(io::Error::from_raw_os_error(28))
            }
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let lib = MediaLibrary::open(tmp.path()).expect("library");
        let data = png();
        let err = lib
            .copy_in(
                &data[..],
                Path::new("p.png"),
                "p.png",
                u64::MAX,
                FailingSync,
            )
            .expect_err("fsync failed");
        assert!(matches!(err, MediaError::DiskFull { .. }), "{err}");
        assert!(files_in(lib.dir()).is_empty());
    }

    #[test]
    fn a_copy_over_the_limit_is_refused_and_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let lib = MediaLibrary::open(tmp.path()).expect("library");
        let data = png();
        let err = lib
            .copy_in(&data[..], Path::new("p.png"), "p.png", 20, |f| f)
            .expect_err("too large");
        assert!(
            matches!(err, MediaError::TooLarge { limit: 20, .. }),
            "{err}"
        );
        assert!(files_in(lib.dir()).is_empty());
    }

    #[test]
    fn only_lower_case_hex_of_64_is_a_hash() {
        assert!(is_sha256(&"a".repeat(64)));
        assert!(!is_sha256(&"A".repeat(64)));
        assert!(!is_sha256("abc"));
    }
}
