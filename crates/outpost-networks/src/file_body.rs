//! Request bodies streamed from a file: `len` bytes from offset `first`, read from disk in
//! [`PIECE_BYTES`] pieces by a blocking task that stays [`PIECES_AHEAD`] pieces ahead of the
//! socket. A chunk of any size costs well under a MiB of memory, and the disk read overlaps
//! the send. The pieces' buffers are reused (a small pool that the HTTP client hands back by
//! dropping them): a fresh buffer per piece cost page faults and zeroing — more CPU than the
//! copies themselves at loopback speeds.
//!
//! Used by the chunked video uploads (TikTok `FILE_UPLOAD`, YouTube's resumable protocol):
//! both protocols tell the client how much arrived, so a body cut off half-way is never
//! replayed from memory — the next request starts where the server says.

use bytes::Bytes;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// One read from disk, handed to the HTTP client as one frame (small enough that the pool's
/// buffers stay in the CPU's cache).
pub const PIECE_BYTES: usize = 256 * 1024;
/// Pieces read ahead of the socket.
pub const PIECES_AHEAD: usize = 4;
/// Buffers kept for reuse: the ones queued, the one being written, the one being read.
const POOL_SIZE: usize = PIECES_AHEAD + 2;

type Piece = Result<Bytes, std::io::Error>;
type Pool = Arc<Mutex<Vec<Vec<u8>>>>;

/// A piece's buffer; goes back to the pool when the HTTP client is done with it.
struct Pooled {
    buf: Vec<u8>,
    pool: Pool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_SIZE {
            pool.push(std::mem::take(&mut self.buf));
        }
    }
}

struct PieceStream {
    rx: tokio::sync::mpsc::Receiver<Piece>,
}

impl futures_core::Stream for PieceStream {
    type Item = Piece;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// The reading side of a [`file_range`] body.
pub struct FileRange {
    reader: tokio::task::JoinHandle<()>,
    failure: Arc<Mutex<Option<String>>>,
}

impl FileRange {
    /// Waits for the reader (it stops by itself once the body is dropped) and says why the
    /// file could not be read, if it could not: it vanished, changed size, or ended early.
    /// Call it after the request ended, whatever its outcome: a read failure explains a
    /// failed send better than the transport error does.
    pub async fn finish(self) -> Option<String> {
        let _ = self.reader.await;
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// A body of `len` bytes of `path` from `first`. The file must still be `expected_size`
/// bytes long (a file changed under an upload is not sent); the request should carry an
/// explicit `Content-Length` of `len`.
pub fn file_range(
    path: impl Into<PathBuf>,
    expected_size: u64,
    first: u64,
    len: u64,
) -> (reqwest::Body, FileRange) {
    let (tx, rx) = tokio::sync::mpsc::channel(PIECES_AHEAD);
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let path = path.into();
    let reader = {
        let failure = Arc::clone(&failure);
        tokio::task::spawn_blocking(move || {
            if let Err(why) = read_pieces(&path, expected_size, first, len, &tx) {
                *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                let _ = tx.blocking_send(Err(std::io::Error::other(why)));
            }
        })
    };
    (
        reqwest::Body::wrap_stream(PieceStream { rx }),
        FileRange { reader, failure },
    )
}

/// Reads `len` bytes from `first` into `tx`, piece by piece; `Err` says why it stopped
/// early. A closed channel (the request ended: answered early, or failed) stops it quietly.
fn read_pieces(
    path: &PathBuf,
    expected_size: u64,
    first: u64,
    len: u64,
    tx: &tokio::sync::mpsc::Sender<Piece>,
) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size != expected_size {
        return Err(format!(
            "it is now {size} bytes, not the {expected_size} being uploaded"
        ));
    }
    if first.saturating_add(len) > size {
        return Err("it ended early".into());
    }
    file.seek(SeekFrom::Start(first))
        .map_err(|e| e.to_string())?;
    let pool: Pool = Arc::new(Mutex::new(Vec::with_capacity(POOL_SIZE)));
    let mut left = len;
    while left > 0 {
        let want = left.min(PIECE_BYTES as u64) as usize;
        let mut buf = pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_else(|| vec![0u8; PIECE_BYTES]);
        buf.resize(want, 0);
        file.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "it ended early".to_string()
            } else {
                e.to_string()
            }
        })?;
        left -= want as u64;
        let piece = Bytes::from_owner(Pooled {
            buf,
            pool: Arc::clone(&pool),
        });
        if tx.blocking_send(Ok(piece)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    async fn collect(body: reqwest::Body) -> Result<Vec<u8>, String> {
        // A body built from a stream has no bytes of its own: send it to a socket-free sink
        // by turning it back into a stream of frames.
        use http_body_util::BodyExt;
        let mut out = Vec::new();
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(data) = frame.into_data() {
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    }

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(&bytes).expect("write");
        (f, bytes)
    }

    #[tokio::test]
    async fn a_range_across_pieces_is_the_file_s_bytes() {
        let (f, bytes) = file_of(3 * PIECE_BYTES + 12_345);
        let first = PIECE_BYTES as u64 - 7;
        let len = 2 * PIECE_BYTES as u64 + 100;
        let (body, range) = file_range(f.path(), bytes.len() as u64, first, len);
        let got = collect(body).await.expect("body");
        assert_eq!(got, bytes[first as usize..(first + len) as usize]);
        assert_eq!(range.finish().await, None);
    }

    #[tokio::test]
    async fn a_file_of_another_size_is_not_sent() {
        let (f, bytes) = file_of(10_000);
        let (body, range) = file_range(f.path(), bytes.len() as u64 + 1, 0, 100);
        assert!(collect(body).await.is_err());
        let why = range.finish().await.expect("a reason");
        assert!(why.contains("10000 bytes"), "{why}");
    }

    #[tokio::test]
    async fn a_file_that_ends_early_says_so() {
        let (f, bytes) = file_of(1000);
        let (body, range) = file_range(f.path(), bytes.len() as u64, 900, 200);
        assert!(collect(body).await.is_err());
        assert_eq!(range.finish().await.as_deref(), Some("it ended early"));
    }

    #[tokio::test]
    async fn a_dropped_body_stops_the_reader() {
        let (f, bytes) = file_of(8 * PIECE_BYTES);
        let (body, range) = file_range(f.path(), bytes.len() as u64, 0, bytes.len() as u64);
        drop(body);
        assert_eq!(range.finish().await, None);
    }
}
