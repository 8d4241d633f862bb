//! Just enough image reading to check what `image_base64` sources carry: the type (JPEG or
//! PNG, from the magic bytes) and the pixel size (PNG `IHDR`, JPEG `SOFn`).

/// `("image/png" | "image/jpeg", width, height)`, or `None` when the bytes are neither a PNG
/// nor a JPEG whose size can be read.
pub(crate) fn inspect(data: &[u8]) -> Option<(&'static str, u32, u32)> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        // 8 signature + 4 length + "IHDR" + width + height
        if data.get(12..16)? != b"IHDR" {
            return None;
        }
        let w = u32::from_be_bytes(data.get(16..20)?.try_into().ok()?);
        let h = u32::from_be_bytes(data.get(20..24)?.try_into().ok()?);
        return (w > 0 && h > 0).then_some(("image/png", w, h));
    }
    if data.starts_with(&[0xff, 0xd8]) {
        let (w, h) = jpeg_size(data)?;
        return Some(("image/jpeg", w, h));
    }
    None
}

fn jpeg_size(data: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    loop {
        // Skip to the next marker (fill bytes 0xFF included).
        while *data.get(i)? != 0xff {
            i += 1;
        }
        while *data.get(i)? == 0xff {
            i += 1;
        }
        let marker = *data.get(i)?;
        i += 1;
        match marker {
            // Standalone markers without a length.
            0x01 | 0xd0..=0xd7 => continue,
            0xd9 | 0xda => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
        let is_sof = matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
        if is_sof {
            let h = u16::from_be_bytes([*data.get(i + 3)?, *data.get(i + 4)?]);
            let w = u16::from_be_bytes([*data.get(i + 5)?, *data.get(i + 6)?]);
            return (w > 0 && h > 0).then_some((u32::from(w), u32::from(h)));
        }
        if len < 2 {
            return None;
        }
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_jpeg_sizes_are_read() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(inspect(&png), Some(("image/png", 640, 480)));
        // SOI, APP0 (length 4), SOF0 with height 2, width 3
        let jpeg = [
            0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00,
            0x02, 0x00, 0x03, 0x03,
        ];
        assert_eq!(inspect(&jpeg), Some(("image/jpeg", 3, 2)));
        assert_eq!(inspect(b"GIF89a"), None);
        assert_eq!(inspect(&[0xff, 0xd8, 0xff, 0xd9]), None);
    }
}
