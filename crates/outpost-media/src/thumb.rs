//! Thumbnails of still images (the first frame of an animation), scaled to fit a square and
//! written as PNG through a temporary file. Decoding is bounded by memory limits, so a
//! "decompression bomb" is refused instead of exhausting memory. Videos are never decoded.

use crate::error::MediaError;
use std::fs;
use std::io::BufWriter;
use std::path::Path;

/// Decoding refuses images that would need more memory than this.
const DECODE_MEMORY_LIMIT: u64 = 512 * 1024 * 1024;

/// Writes a thumbnail of the image at `source` to `dest`; returns its size.
pub(crate) fn write_thumbnail(
    source: &Path,
    dest: &Path,
    edge: u32,
) -> Result<(u32, u32), MediaError> {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let corrupt = |e: image::ImageError| {
        MediaError::corrupt(
            &name,
            "image",
            format!("its pixels cannot be decoded ({e})"),
        )
    };
    let mut reader = image::ImageReader::open(source)
        .map_err(|e| MediaError::read(source, &e))?
        .with_guessed_format()
        .map_err(|e| MediaError::read(source, &e))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(DECODE_MEMORY_LIMIT);
    reader.limits(limits);
    let img = reader.decode().map_err(corrupt)?;
    let img = if img.width() > edge || img.height() > edge {
        img.resize(edge, edge, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".incoming-{}.part",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let written = (|| -> Result<(), MediaError> {
        let file = fs::File::create(&temp).map_err(|e| MediaError::write(dir, &e))?;
        let mut out = BufWriter::new(file);
        img.write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| match e {
                image::ImageError::IoError(io) => MediaError::write(dir, &io),
                other => MediaError::Write {
                    path: dest.display().to_string(),
                    reason: other.to_string(),
                },
            })?;
        let file = out
            .into_inner()
            .map_err(|e| MediaError::write(dir, e.error()))?;
        file.sync_all().map_err(|e| MediaError::write(dir, &e))?;
        fs::rename(&temp, dest).map_err(|e| MediaError::write(dir, &e))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    Ok((img.width(), img.height()))
}
