//! Media files made in code for tests: minimal but valid MP4/MOV box trees (`ftyp`, `moov`
//! with `mvhd` and one `trak` per track, `mdat`) whose duration, size, frame rate and codecs the
//! test chooses — what Outpost's prober reads without external programs.

pub fn bx(typ: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(typ);
    v.extend_from_slice(body);
    v
}

pub fn full(typ: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
    let mut b = vec![version, 0, 0, 0];
    b.extend_from_slice(body);
    bx(typ, &b)
}

pub struct Mp4Track {
    pub handler: [u8; 4],
    pub codec: [u8; 4],
    pub width: u16,
    pub height: u16,
    pub timescale: u32,
    pub duration: u64,
    pub samples: u32,
}

impl Mp4Track {
    pub fn video(codec: &[u8; 4], width: u16, height: u16, seconds: u32, fps: u32) -> Self {
        Mp4Track {
            handler: *b"vide",
            codec: *codec,
            width,
            height,
            timescale: 90_000,
            duration: seconds as u64 * 90_000,
            samples: seconds * fps,
        }
    }
    pub fn audio(seconds: u32) -> Self {
        Mp4Track {
            handler: *b"soun",
            codec: *b"mp4a",
            width: 0,
            height: 0,
            timescale: 48_000,
            duration: seconds as u64 * 48_000,
            samples: seconds * 47,
        }
    }
}

pub struct Mp4 {
    pub brand: [u8; 4],
    /// Use 64-bit (version 1) headers.
    pub v1: bool,
    pub movie_timescale: u32,
    pub movie_duration: u64,
    pub tracks: Vec<Mp4Track>,
    pub mdat_len: usize,
    pub with_moov: bool,
}

impl Mp4 {
    pub fn new(seconds: u32, tracks: Vec<Mp4Track>) -> Self {
        Mp4 {
            brand: *b"isom",
            v1: false,
            movie_timescale: 1000,
            movie_duration: seconds as u64 * 1000,
            tracks,
            mdat_len: 4096,
            with_moov: true,
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let mut ftyp = self.brand.to_vec();
        ftyp.extend_from_slice(&[0, 0, 2, 0]);
        ftyp.extend_from_slice(b"isommp41");
        let mut out = bx(b"ftyp", &ftyp);
        if self.with_moov {
            let mut moov = Vec::new();
            moov.extend(self.mvhd());
            for t in &self.tracks {
                moov.extend(self.trak(t));
            }
            out.extend(bx(b"moov", &moov));
        }
        out.extend(bx(b"mdat", &vec![0xAB; self.mdat_len]));
        out
    }

    fn times(&self, timescale: u32, duration: u64) -> Vec<u8> {
        let mut b = Vec::new();
        if self.v1 {
            b.extend_from_slice(&[0; 16]); // creation, modification (64-bit)
            b.extend_from_slice(&timescale.to_be_bytes());
            b.extend_from_slice(&duration.to_be_bytes());
        } else {
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&timescale.to_be_bytes());
            b.extend_from_slice(&(duration as u32).to_be_bytes());
        }
        b
    }

    fn mvhd(&self) -> Vec<u8> {
        let mut b = self.times(self.movie_timescale, self.movie_duration);
        b.extend_from_slice(&[0; 80]); // rate, volume, matrix, next track id…
        full(b"mvhd", self.v1 as u8, &b)
    }

    fn trak(&self, t: &Mp4Track) -> Vec<u8> {
        // tkhd
        let mut k = Vec::new();
        if self.v1 {
            k.extend_from_slice(&[0; 16]);
            k.extend_from_slice(&1u32.to_be_bytes()); // track id
            k.extend_from_slice(&[0; 4]);
            k.extend_from_slice(&[0; 8]); // duration
        } else {
            k.extend_from_slice(&[0; 8]);
            k.extend_from_slice(&1u32.to_be_bytes());
            k.extend_from_slice(&[0; 4]);
            k.extend_from_slice(&[0; 4]);
        }
        k.extend_from_slice(&[0; 8 + 8 + 36]); // reserved, layer…volume, matrix
        k.extend_from_slice(&((t.width as u32) << 16).to_be_bytes());
        k.extend_from_slice(&((t.height as u32) << 16).to_be_bytes());
        let tkhd = full(b"tkhd", self.v1 as u8, &k);
        // mdhd
        let mut m = self.times(t.timescale, t.duration);
        m.extend_from_slice(&[0x55, 0xC4, 0, 0]); // language, pre-defined
        let mdhd = full(b"mdhd", self.v1 as u8, &m);
        // hdlr
        let mut h = vec![0; 4];
        h.extend_from_slice(&t.handler);
        h.extend_from_slice(&[0; 12]);
        h.extend_from_slice(b"handler\0");
        let hdlr = full(b"hdlr", 0, &h);
        // stsd with one sample entry
        let mut entry = vec![0; 6];
        entry.extend_from_slice(&1u16.to_be_bytes());
        if t.handler == *b"vide" {
            entry.extend_from_slice(&[0; 16]);
            entry.extend_from_slice(&t.width.to_be_bytes());
            entry.extend_from_slice(&t.height.to_be_bytes());
            entry.extend_from_slice(&[0; 50]);
        } else {
            entry.extend_from_slice(&[0; 20]);
        }
        let mut sd = 1u32.to_be_bytes().to_vec();
        sd.extend(bx(&t.codec, &entry));
        let stsd = full(b"stsd", 0, &sd);
        // stts: all samples with the same duration
        let mut tt = 1u32.to_be_bytes().to_vec();
        tt.extend_from_slice(&t.samples.to_be_bytes());
        let delta = t.duration.checked_div(t.samples as u64).unwrap_or(0) as u32;
        tt.extend_from_slice(&delta.to_be_bytes());
        let stts = full(b"stts", 0, &tt);
        let stbl = bx(b"stbl", &[stsd, stts].concat());
        let minf = bx(b"minf", &stbl);
        let mdia = bx(b"mdia", &[mdhd, hdlr, minf].concat());
        bx(b"trak", &[tkhd, mdia].concat())
    }
}

/// Writes a valid MP4 of exactly `size` bytes to `path`: a 1080p30 H.264 video track and an
/// AAC track, `seconds` long, then an `mdat` of real (not sparse) position-dependent bytes in
/// 8 MiB blocks — for large-upload tests, benchmarks and trying uploads by hand. `each` sees
/// every byte written, in order (a checksum). The `mdat` must stay under 4 GiB.
pub fn write_large_mp4(
    path: &std::path::Path,
    size: u64,
    seconds: u32,
    mut each: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut head = Mp4 {
        mdat_len: 0,
        ..Mp4::new(
            seconds,
            vec![
                Mp4Track::video(b"avc1", 1920, 1080, seconds, 30),
                Mp4Track::audio(seconds),
            ],
        )
    }
    .build();
    head.truncate(head.len() - 8); // the empty mdat
    let too = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string());
    let mdat = size
        .checked_sub(head.len() as u64 + 8)
        .ok_or_else(|| too("the size is smaller than the MP4 header"))?;
    let mdat_box = u32::try_from(mdat + 8).map_err(|_| too("the mdat must stay under 4 GiB"))?;
    head.extend_from_slice(&mdat_box.to_be_bytes());
    head.extend_from_slice(b"mdat");
    let mut f = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path)?);
    f.write_all(&head)?;
    each(&head);
    let mut block: Vec<u8> = (0..8 << 20).map(|i: usize| (i % 251) as u8).collect();
    let (mut left, mut n) = (mdat, 0u64);
    while left > 0 {
        let take = left.min(block.len() as u64) as usize;
        block[..8].copy_from_slice(&n.to_le_bytes());
        f.write_all(&block[..take])?;
        each(&block[..take]);
        left -= take as u64;
        n += 1;
    }
    f.flush()
}
