//! Reading a file in fixed-size pieces for chunked and resumable network uploads (YouTube
//! resumable sessions, X's APPEND, TikTok's FILE_UPLOAD chunks, S3 multipart parts).
//!
//! Memory stays at one chunk whatever the file size: each call reads one piece from disk into
//! a fresh buffer that the HTTP client can take without copying. The reader never decides a
//! network's rules (which chunk sizes it accepts); it only checks that the file does not change
//! size underneath an upload. It is blocking file I/O: async callers use `spawn_blocking`.

use crate::error::MediaError;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Largest chunk a reader hands out (TikTok's maximum; most networks want less).
pub const MAX_CHUNK: usize = 64 * 1024 * 1024;

/// One piece of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position in the file of the first byte.
    pub offset: u64,
    pub bytes: Vec<u8>,
    /// True for the piece that ends at the end of the file.
    pub is_last: bool,
}

/// Reads a file as numbered chunks of `chunk_size` bytes (the last one shorter).
#[derive(Debug)]
pub struct ChunkReader {
    file: File,
    path: PathBuf,
    len: u64,
    chunk_size: usize,
    /// Where [`ChunkReader::next_chunk`] reads from.
    position: u64,
}

impl ChunkReader {
    /// Opens `path` for reading in pieces of `chunk_size` bytes (1 byte to [`MAX_CHUNK`]).
    pub fn open(path: &Path, chunk_size: usize) -> Result<Self, MediaError> {
        if chunk_size == 0 || chunk_size > MAX_CHUNK {
            return Err(MediaError::Unreadable {
                path: path.display().to_string(),
                reason: format!("a chunk size of {chunk_size} bytes is outside 1 byte to 64 MiB"),
            });
        }
        let file = File::open(path).map_err(|e| MediaError::read(path, &e))?;
        let len = file
            .metadata()
            .map_err(|e| MediaError::read(path, &e))?
            .len();
        Ok(ChunkReader {
            file,
            path: path.to_path_buf(),
            len,
            chunk_size,
            position: 0,
        })
    }

    /// File size when opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Number of chunks (at least 1 for a non-empty file).
    pub fn chunk_count(&self) -> u64 {
        self.len.div_ceil(self.chunk_size as u64)
    }

    /// Chunk number `index` (from 0), or `None` past the end.
    pub fn chunk(&mut self, index: u64) -> Result<Option<Chunk>, MediaError> {
        let Some(offset) = index.checked_mul(self.chunk_size as u64) else {
            return Ok(None);
        };
        self.read_at(offset)
    }

    /// Continues from `offset` (what the server confirmed it has, e.g. the end of a 308
    /// `Range` header); the next [`ChunkReader::next_chunk`] starts there. An offset past the
    /// end is refused.
    pub fn resume_from(&mut self, offset: u64) -> Result<(), MediaError> {
        if offset > self.len {
            return Err(MediaError::Unreadable {
                path: self.path.display().to_string(),
                reason: format!(
                    "the server says it has {offset} bytes, more than the file's {} — start the upload again",
                    self.len
                ),
            });
        }
        self.position = offset;
        Ok(())
    }

    /// The piece starting at the current position, then moves past it; `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, MediaError> {
        let chunk = self.read_at(self.position)?;
        if let Some(c) = &chunk {
            self.position = c.offset + c.bytes.len() as u64;
        }
        Ok(chunk)
    }

    fn read_at(&mut self, offset: u64) -> Result<Option<Chunk>, MediaError> {
        if offset >= self.len {
            return Ok(None);
        }
        let want = (self.len - offset).min(self.chunk_size as u64) as usize;
        let mut bytes = vec![0u8; want];
        let read = self
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut bytes));
        if let Err(e) = read {
            let reason = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!(
                    "it became shorter during the upload (it was {} bytes) — wait until it is fully written, then upload again",
                    self.len
                )
            } else {
                e.to_string()
            };
            return Err(MediaError::Unreadable {
                path: self.path.display().to_string(),
                reason,
            });
        }
        Ok(Some(Chunk {
            offset,
            is_last: offset + want as u64 == self.len,
            bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(len: usize) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v.mp4");
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        File::create(&path)
            .and_then(|mut f| f.write_all(&data))
            .expect("write");
        (dir, path, data)
    }

    #[test]
    fn chunks_cover_the_file_exactly() {
        let (_d, path, data) = file_of(10_000);
        let mut r = ChunkReader::open(&path, 4096).expect("open");
        assert_eq!(r.chunk_count(), 3);
        let mut joined = Vec::new();
        let mut offsets = Vec::new();
        while let Some(c) = r.next_chunk().expect("read") {
            offsets.push(c.offset);
            joined.extend_from_slice(&c.bytes);
            assert_eq!(c.is_last, c.offset == 8192);
        }
        assert_eq!(offsets, vec![0, 4096, 8192]);
        assert_eq!(joined, data);
        let c1 = r.chunk(1).expect("read").expect("chunk 1 exists");
        assert_eq!(c1.offset, 4096);
        assert_eq!(c1.bytes, data[4096..8192]);
        assert_eq!(r.chunk(3).expect("read"), None);
    }

    #[test]
    fn resume_continues_where_the_server_stopped() {
        let (_d, path, data) = file_of(10_000);
        let mut r = ChunkReader::open(&path, 4096).expect("open");
        r.resume_from(5000).expect("in range");
        let c = r.next_chunk().expect("read").expect("a chunk");
        assert_eq!(c.offset, 5000);
        assert_eq!(c.bytes, data[5000..9096]);
        let last = r.next_chunk().expect("read").expect("the rest");
        assert_eq!(last.bytes.len(), 904);
        assert!(last.is_last);
        assert!(r.next_chunk().expect("read").is_none());
        assert!(r.resume_from(10_001).is_err());
        r.resume_from(10_000).expect("the end itself is fine");
        assert!(r.next_chunk().expect("read").is_none());
    }

    #[test]
    fn a_file_that_shrinks_is_reported() {
        let (_d, path, _) = file_of(10_000);
        let mut r = ChunkReader::open(&path, 4096).expect("open");
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(5000))
            .expect("truncate");
        let e = r.chunk(1).expect_err("file shrank");
        assert!(e.to_string().contains("shorter"), "{e}");
        assert!(e.to_string().contains("v.mp4"), "{e}");
    }

    #[test]
    fn chunk_sizes_are_bounded() {
        let (_d, path, _) = file_of(10);
        assert!(ChunkReader::open(&path, 0).is_err());
        assert!(ChunkReader::open(&path, MAX_CHUNK + 1).is_err());
        assert!(ChunkReader::open(&path, MAX_CHUNK).is_ok());
    }
}
