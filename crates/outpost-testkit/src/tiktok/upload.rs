//! The upload host of the fake: `PUT /video/?upload_id=…&upload_token=…`, one chunk per
//! request, bodies streamed (counted, and kept only for small uploads), and `PUT /_fake/sink`,
//! which reads a body the same way and throws it away.
//!
//! tiktok.md "Chunk upload": 206 with `Content-Range: bytes 0-N/TOTAL` while more chunks are
//! expected, 201 after the last, 400 for bad headers or a length mismatch, 403 once the address
//! expired, 404 for an unknown upload, 416 when `Content-Range` does not continue what is held
//! (the answer carries the range held). What TikTok answers to a chunk sent after the upload is
//! complete is UNCONFIRMED: the fake answers 416 with the whole range.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::http::Response;
use serde_json::json;

use super::api::envelope_error;
use super::{ChunkPut, ConnInfo, Endpoint, FaultKind, Reply, Req, Shared};

const VIDEO_TYPES: [&str; 3] = ["video/mp4", "video/quicktime", "video/webm"];

/// What reading a body found.
struct Read {
    received: u64,
    head: Vec<u8>,
    kept: Option<Vec<u8>>,
    /// The body ended with an error (the client went away).
    broken: bool,
}

/// Reads `body` to its end (or until `stop_after` bytes), keeping the bytes when `keep`.
async fn read_body(body: Body, keep: bool, stop_after: Option<u64>) -> Read {
    let mut body = pin!(body);
    let mut out = Read {
        received: 0,
        head: Vec::new(),
        kept: keep.then(Vec::new),
        broken: false,
    };
    loop {
        let frame = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Err(_)) => {
                out.broken = true;
                break;
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if out.head.len() < 16 {
                        let take = (16 - out.head.len()).min(data.len());
                        out.head.extend_from_slice(&data[..take]);
                    }
                    if let Some(k) = out.kept.as_mut() {
                        k.extend_from_slice(&data);
                    }
                    out.received += data.len() as u64;
                    if stop_after.is_some_and(|n| out.received >= n) {
                        break;
                    }
                }
            }
        }
    }
    out
}

/// `bytes FIRST-LAST/TOTAL`.
fn content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes")?.trim();
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last, total) = (
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (first <= last && last < total).then_some((first, last, total))
}

fn held_range(uploaded: u64, total: u64) -> String {
    if uploaded == 0 {
        format!("bytes */{total}")
    } else {
        format!("bytes 0-{}/{total}", uploaded - 1)
    }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, envelope_error(code, message))
}

/// `PUT /_fake/sink`: reads and discards the body; answers the bytes read and the time taken.
pub(super) async fn sink(_shared: &Shared, body: Body) -> Reply {
    let started = Instant::now();
    let read = read_body(body, false, None).await;
    Reply::json(
        if read.broken { 400 } else { 200 },
        json!({"bytes": read.received, "ms": started.elapsed().as_millis() as u64}),
    )
}

/// The publish an upload address belongs to: (publish_id, chunk_size, total_chunks, size,
/// uploaded, complete, expired).
struct Target {
    publish_id: String,
    chunk_size: u64,
    total_chunks: u64,
    size: u64,
    uploaded: u64,
    complete: bool,
    expired: bool,
}

fn find(shared: &Shared, req: &Req) -> Option<Target> {
    let id = req.param("upload_id")?;
    let token = req.param("upload_token")?;
    let key = format!("{id}:{token}");
    let inner = shared.lock();
    let now = inner.now();
    let p = inner
        .publishes
        .iter()
        .find(|p| p.upload_id.as_deref() == Some(key.as_str()))?;
    Some(Target {
        publish_id: p.publish_id.clone(),
        chunk_size: p.chunk_size,
        total_chunks: p.total_chunks,
        size: p.video_size,
        uploaded: p.uploaded_bytes,
        complete: p.upload_complete,
        expired: p.upload_expires_at.is_some_and(|at| now >= at),
    })
}

enum After {
    Nothing,
    Drop,
    Delay(Duration),
}

pub(super) async fn handle(
    shared: Arc<Shared>,
    conn: ConnInfo,
    req: Req,
    body: Body,
) -> Response<Body> {
    let started_at = shared.lock().now();
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let header = |n: &str| req.header(n).map(str::to_string);
    let range = header("content-range").as_deref().and_then(content_range);
    let content_length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let content_type = header("content-type");
    let target = find(&shared, &req);
    let index = match (&target, range) {
        (Some(t), Some((first, _, _))) if t.chunk_size > 0 => {
            Some((first / t.chunk_size).min(t.total_chunks.saturating_sub(1)))
        }
        _ => None,
    };
    let fault = shared.take_fault(Endpoint::Upload, index);
    let keep = target
        .as_ref()
        .is_some_and(|t| t.size <= shared.cfg.keep_upload_bytes_up_to);

    // Records the PUT and the request, then answers (or drops the connection).
    let finish = |read: &Read, status: u16, committed: bool| {
        if let (Some(t), Some((first, last, total))) = (&target, range) {
            let mut inner = shared.lock();
            let now = inner.now();
            inner.chunk_puts.push(ChunkPut {
                publish_id: t.publish_id.clone(),
                index: index.unwrap_or(0),
                first,
                last,
                total,
                content_length,
                content_type: content_type.clone(),
                received: read.received,
                status,
                committed,
                started_at,
                finished_at: now,
                head: hex::encode(&read.head),
            });
        }
        shared.record(Some(Endpoint::Upload), &req, read.received, status);
    };

    let mut after = After::Nothing;
    match fault {
        Some(FaultKind::DropBeforeCommit) => {
            let read = Read {
                received: 0,
                head: Vec::new(),
                kept: None,
                broken: true,
            };
            finish(&read, 0, false);
            conn.kill();
            return std::future::pending().await;
        }
        Some(FaultKind::DropMidBody { after_bytes }) => {
            let read = read_body(body, false, Some(after_bytes.max(1))).await;
            finish(&read, 0, false);
            conn.kill();
            return std::future::pending().await;
        }
        Some(FaultKind::Error {
            status,
            code,
            message,
        }) => {
            let read = read_body(body, false, None).await;
            finish(&read, status, false);
            return super::api::fault_error(status, code.as_deref(), message.as_deref())
                .into_response();
        }
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            let read = read_body(body, false, None).await;
            finish(&read, 429, false);
            return super::api::too_many(retry_after_secs).into_response();
        }
        Some(FaultKind::DelayBefore { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Some(FaultKind::DropAfterCommit) => after = After::Drop,
        Some(FaultKind::DelayAfterCommit { ms }) => after = After::Delay(Duration::from_millis(ms)),
        None => {}
    }

    // Checks that need no body: answered after draining it, as a server would.
    let refusal = match (&target, range) {
        (None, _) => Some(error(404, "not_found", "The upload does not exist.")),
        (Some(t), _) if t.expired => Some(error(403, "forbidden", "The upload URL has expired.")),
        (Some(_), None) => Some(error(
            400,
            "invalid_params",
            "Content-Range must be bytes FIRST-LAST/TOTAL.",
        )),
        (Some(t), Some((first, last, total))) => {
            let index = index.unwrap_or(0);
            let expected_first = index * t.chunk_size;
            let expected_len = if index + 1 >= t.total_chunks {
                t.size - expected_first
            } else {
                t.chunk_size
            };
            if total != t.size {
                Some(error(
                    400,
                    "invalid_params",
                    "The total in Content-Range is not video_size.",
                ))
            } else if !content_type
                .as_deref()
                .is_some_and(|c| VIDEO_TYPES.contains(&c.trim().to_ascii_lowercase().as_str()))
            {
                Some(error(
                    400,
                    "invalid_params",
                    "Content-Type must be video/mp4, video/quicktime or video/webm.",
                ))
            } else if t.complete || first != t.uploaded {
                // Out of step: say what is held.
                Some(
                    error(
                        416,
                        "range_not_satisfiable",
                        "Content-Range does not continue the upload.",
                    )
                    .with_header("content-range", held_range(t.uploaded, t.size)),
                )
            } else if first != expected_first || last - first + 1 != expected_len {
                Some(error(
                    400,
                    "invalid_params",
                    "The chunk does not match the chunk plan.",
                ))
            } else if content_length != Some(last - first + 1) {
                Some(error(
                    400,
                    "invalid_params",
                    "Content-Length does not match Content-Range.",
                ))
            } else {
                None
            }
        }
    };
    if let Some(reply) = refusal {
        let read = read_body(body, false, None).await;
        finish(&read, reply.status, false);
        return reply.into_response();
    }
    let (Some(t), Some((first, last, _))) = (&target, range) else {
        return error(400, "invalid_params", "bad request").into_response();
    };
    let read = read_body(body, keep, None).await;
    let len = last - first + 1;
    if read.broken {
        // The client went away mid-chunk: nothing is stored.
        finish(&read, 0, false);
        return error(400, "invalid_params", "The body broke off.").into_response();
    }
    if read.received != len {
        finish(&read, 400, false);
        return error(
            400,
            "invalid_params",
            "The body length does not match Content-Length.",
        )
        .into_response();
    }
    // Commit (unless another PUT of the same chunk got there first).
    let reply = {
        let mut inner = shared.lock();
        let Some(p) = inner
            .publishes
            .iter_mut()
            .find(|p| p.publish_id == t.publish_id)
        else {
            return error(404, "not_found", "The upload does not exist.").into_response();
        };
        if p.uploaded_bytes != first || p.upload_complete {
            let held = held_range(p.uploaded_bytes, p.video_size);
            drop(inner);
            finish(&read, 416, false);
            return error(
                416,
                "range_not_satisfiable",
                "Content-Range does not continue the upload.",
            )
            .with_header("content-range", held)
            .into_response();
        }
        p.uploaded_bytes += len;
        let complete = p.uploaded_bytes == p.video_size;
        p.upload_complete = complete;
        let held = held_range(p.uploaded_bytes, p.video_size);
        let publish_id = p.publish_id.clone();
        if let Some(bytes) = read.kept.clone() {
            inner.bytes.entry(publish_id).or_default().push(bytes);
        }
        if complete {
            Reply::empty(201)
        } else {
            Reply::empty(206).with_header("content-range", held)
        }
    };
    let status = match after {
        After::Drop => 0,
        _ => reply.status,
    };
    finish(&read, status, true);
    match after {
        After::Nothing => reply.into_response(),
        After::Delay(d) => {
            tokio::time::sleep(d).await;
            reply.into_response()
        }
        After::Drop => {
            conn.kill();
            std::future::pending().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_parsed() {
        assert_eq!(
            content_range("bytes 0-9999999/50000123"),
            Some((0, 9_999_999, 50_000_123))
        );
        assert_eq!(content_range("bytes 10-5/100"), None);
        assert_eq!(content_range("bytes 0-100/100"), None);
        assert_eq!(content_range("0-1/2"), None);
        assert_eq!(held_range(0, 10), "bytes */10");
        assert_eq!(held_range(5, 10), "bytes 0-4/10");
    }
}
