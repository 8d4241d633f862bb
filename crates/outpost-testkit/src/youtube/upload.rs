//! The resumable upload protocol of the YouTube fake: `PUT <session URI>` with
//! `Content-Range: bytes a-b/total` (a chunk) or `bytes */total` (a status query).
//!
//! Bodies are streamed frame by frame, never read whole: bytes are committed in whole
//! 256 KiB units as they arrive (checksummed, and kept only for small uploads), so a
//! connection that breaks mid-chunk leaves the session with what arrived in whole units —
//! which is what the next status query's `Range` reports, like Google's upload servers.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::http::{request::Parts, HeaderMap, Response};
use serde_json::Value;

use super::api::{google_error, new_video_id, read_metadata, video_json};
use super::{Accumulator, Endpoint, FaultKind, Reply, Shared, VideoEntry, YtChunk, YtVideo, UNIT};
use crate::common::ConnInfo;

/// What `Content-Range` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// `bytes */total`
    Query { total: u64 },
    /// `bytes first-last/total`
    Chunk { first: u64, last: u64, total: u64 },
}

fn parse_range(
    value: Option<&str>,
    content_length: Option<u64>,
    total: u64,
) -> Result<Range, String> {
    let Some(value) = value else {
        // No Content-Range: the whole file in one request.
        return match content_length {
            Some(n) if n > 0 => Ok(Range::Chunk {
                first: 0,
                last: n - 1,
                total: n,
            }),
            _ => Ok(Range::Query { total }),
        };
    };
    let rest = value
        .trim()
        .strip_prefix("bytes ")
        .ok_or_else(|| format!("Invalid Content-Range {value:?}"))?;
    let (span, total_s) = rest
        .split_once('/')
        .ok_or_else(|| format!("Invalid Content-Range {value:?}"))?;
    let total: u64 = total_s
        .trim()
        .parse()
        .map_err(|_| format!("Invalid Content-Range {value:?}: the total must be a number"))?;
    if span.trim() == "*" {
        return Ok(Range::Query { total });
    }
    let (a, b) = span
        .split_once('-')
        .ok_or_else(|| format!("Invalid Content-Range {value:?}"))?;
    let first: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("Invalid Content-Range {value:?}"))?;
    let last: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("Invalid Content-Range {value:?}"))?;
    if last < first || last >= total {
        return Err(format!("Invalid Content-Range {value:?}"));
    }
    Ok(Range::Chunk { first, last, total })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `308 Resume Incomplete` (or the no-308 variant) with `Range` when something is stored.
fn incomplete(committed: u64, no_308: bool) -> Reply {
    let mut reply = if no_308 {
        Reply::empty(200).header("x-http-status-code-override", "308")
    } else {
        Reply::empty(308)
    };
    if committed > 0 {
        reply = reply.header("range", format!("bytes=0-{}", committed - 1));
    }
    reply.header("x-guploader-uploadid", "")
}

fn gone(status: u16) -> Reply {
    if status == 410 {
        google_error(410, "gone", "The upload session has expired.")
    } else {
        google_error(404, "notFound", "Not Found")
    }
}

async fn next_frame(body: &mut Body) -> Option<Result<Option<axum::body::Bytes>, ()>> {
    let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
    Some(match frame {
        Ok(f) => Ok(f.into_data().ok()),
        Err(_) => Err(()),
    })
}

/// Reads and discards the rest of a body (so an early answer is not a broken pipe).
async fn drain(body: &mut Body) -> u64 {
    let mut n = 0;
    while let Some(frame) = next_frame(body).await {
        match frame {
            Ok(Some(data)) => n += data.len() as u64,
            Ok(None) => {}
            Err(()) => break,
        }
    }
    n
}

/// One `PUT` streaming into a session. Dropped early (the connection died, or the fake
/// killed it), it gives the session back with what arrived in whole units and records the
/// request as unanswered.
struct Streaming {
    shared: Arc<Shared>,
    upload_id: String,
    acc: Option<Accumulator>,
    chunk: YtChunk,
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    done: bool,
}

impl Streaming {
    /// Adds body bytes at absolute offset `at` (bytes before `committed` are duplicates and
    /// ignored; bytes at or past `limit` are not kept).
    fn feed(&mut self, at: u64, data: &[u8], limit: u64) {
        let Some(acc) = self.acc.as_mut() else {
            return;
        };
        let expected = acc.committed + acc.pending.len() as u64;
        let end = at + data.len() as u64;
        if end <= expected || at > expected {
            return;
        }
        let start = (expected - at) as usize;
        let stop = (end.min(limit).saturating_sub(at)) as usize;
        if stop <= start {
            return;
        }
        let mut data = &data[start..stop];
        if !acc.pending.is_empty() {
            let need = (UNIT as usize - acc.pending.len()).min(data.len());
            acc.pending.extend_from_slice(&data[..need]);
            data = &data[need..];
            if acc.pending.len() == UNIT as usize {
                let unit = std::mem::take(&mut acc.pending);
                commit(acc, &unit);
            }
        }
        while data.len() >= UNIT as usize {
            let (unit, rest) = data.split_at(UNIT as usize);
            commit(acc, unit);
            data = rest;
        }
        acc.pending.extend_from_slice(data);
    }

    /// Commits the tail after the last unit (the final chunk only).
    fn flush_tail(&mut self) {
        if let Some(acc) = self.acc.as_mut() {
            let tail = std::mem::take(&mut acc.pending);
            commit(acc, &tail);
        }
    }

    fn committed(&self) -> u64 {
        self.acc.as_ref().map_or(0, |a| a.committed)
    }

    /// Gives the accumulator back (pending bytes dropped), records the chunk and request.
    fn finish(&mut self, status: u16) {
        if self.done {
            return;
        }
        self.done = true;
        let mut acc = self.acc.take();
        if let Some(a) = acc.as_mut() {
            a.pending.clear();
        }
        let committed = acc.as_ref().map(|a| a.committed);
        {
            let mut inner = self.shared.lock();
            if let Some(s) = inner.sessions.get_mut(&self.upload_id) {
                if let Some(c) = committed {
                    s.info.committed = c;
                }
                s.info.received_total += self.chunk.received;
                self.chunk.committed_after = s.info.committed;
                self.chunk.status = status;
                s.info.chunks.push(self.chunk.clone());
                if s.acc.is_none() {
                    s.acc = acc;
                }
            }
        }
        self.shared.record(
            Some(Endpoint::UploadChunk),
            &self.method,
            &self.path,
            &self.query,
            &self.headers,
            Vec::new(),
            self.chunk.received,
            status,
        );
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        self.finish(0);
    }
}

fn commit(acc: &mut Accumulator, bytes: &[u8]) {
    acc.checksum.update(bytes);
    if let Some(k) = acc.kept.as_mut() {
        k.extend_from_slice(bytes);
    }
    acc.committed += bytes.len() as u64;
}

/// Takes the session's accumulator for one `PUT`, waiting briefly while another request
/// still holds it (the previous connection's end may not have been noticed yet).
async fn take_accumulator(shared: &Shared, upload_id: &str) -> Option<Accumulator> {
    for _ in 0..60 {
        {
            let mut inner = shared.lock();
            match inner.sessions.get_mut(upload_id) {
                Some(s) => {
                    if let Some(acc) = s.acc.take() {
                        return Some(acc);
                    }
                }
                None => return None,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The session's state for an answer, after expiring it when its time is up.
enum SessionState {
    Unknown,
    Gone(u16),
    Complete(String),
    Open { total: u64, committed: u64 },
}

fn session_state(shared: &Shared, upload_id: &str) -> SessionState {
    let ttl = shared.cfg.session_ttl;
    let mut inner = shared.lock();
    let now = inner.now();
    let Some(s) = inner.sessions.get_mut(upload_id) else {
        return SessionState::Unknown;
    };
    if s.info.state == "open" && now > s.info.created_at + ttl {
        s.kill(404);
    }
    match s.info.state.as_str() {
        "gone" => SessionState::Gone(s.info.gone_status.unwrap_or(404)),
        "complete" => SessionState::Complete(s.info.video_id.clone().unwrap_or_default()),
        _ => SessionState::Open {
            total: s.info.total,
            committed: s.acc.as_ref().map_or(s.info.committed, |a| a.committed),
        },
    }
}

/// The video of a complete session, as the final chunk's answer shows it.
fn video_reply(shared: &Shared, upload_id: &str, video_id: &str) -> Reply {
    let inner = shared.lock();
    let parts: Vec<String> = inner
        .sessions
        .get(upload_id)
        .and_then(|s| s.info.metadata.get("part").and_then(Value::as_str))
        .unwrap_or("snippet,status")
        .split(',')
        .map(str::to_string)
        .collect();
    match inner.videos.get(video_id) {
        Some(v) => {
            let title = inner
                .channel(&v.info.channel_id)
                .map(|c| c.title.clone())
                .unwrap_or_default();
            Reply::json(shared.cfg.final_status, video_json(&v.info, &parts, &title))
        }
        None => google_error(404, "notFound", "Not Found"),
    }
}

/// The last byte arrived: the video exists now.
fn complete(shared: &Shared, upload_id: &str, acc: &mut Accumulator) -> Option<String> {
    let mut inner = shared.lock();
    let now = inner.now();
    let unverified = inner.unverified_project;
    let plan = inner.processing.clone();
    let session = inner.sessions.get_mut(upload_id)?;
    let body = session
        .info
        .metadata
        .get("body")
        .cloned()
        .unwrap_or_default();
    let m = read_metadata(&body).ok()?;
    let id = new_video_id();
    session.info.state = "complete".into();
    session.info.video_id = Some(id.clone());
    session.info.committed = acc.committed;
    let (privacy, publish_at) = if unverified {
        // "restricted to private viewing mode" until the project passes the audit.
        ("private".to_string(), None)
    } else {
        (
            m.privacy.clone(),
            m.publish_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        )
    };
    let info = YtVideo {
        id: id.clone(),
        channel_id: session.info.channel_id.clone(),
        title: m.title,
        description: m.description,
        tags: m.tags,
        category_id: m.category_id,
        requested_privacy: m.privacy,
        privacy_status: privacy,
        publish_at,
        made_for_kids: m.made_for_kids,
        upload_status: "uploaded".into(),
        failure_reason: None,
        rejection_reason: None,
        polls: 0,
        bytes: acc.committed,
        checksum: acc.checksum.hex(),
        mime: session.info.mime.clone(),
        upload_id: upload_id.to_string(),
        notify_subscribers: session.notify_subscribers,
        thumbnail: None,
        created_at: now,
    };
    let mut entry = VideoEntry {
        info,
        plan,
        kept: acc.kept.take(),
    };
    super::api::advance_processing(&mut entry, unverified, now);
    inner.videos.insert(id.clone(), entry);
    inner.video_order.push(id.clone());
    Some(id)
}

/// Sends the answer, or (the "accept, then drop" fault) closes the connection instead.
async fn answer(
    conn: &ConnInfo,
    reply: Reply,
    drop_after: bool,
    delay_after: Option<Duration>,
) -> Response<Body> {
    if drop_after {
        conn.kill();
        return std::future::pending().await;
    }
    if let Some(d) = delay_after {
        tokio::time::sleep(d).await;
    }
    reply.into_response()
}

pub(super) async fn put(
    shared: Arc<Shared>,
    conn: ConnInfo,
    parts: Parts,
    mut body: Body,
) -> Response<Body> {
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let headers = parts.headers;
    let upload_id = serde_urlencoded::from_str::<Vec<(String, String)>>(&query)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "upload_id")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let no_308 =
        header(&headers, "x-guploader-no-308").is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let content_length =
        header(&headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let state = session_state(&shared, &upload_id);
    let session_total = match state {
        SessionState::Open { total, .. } => total,
        _ => 0,
    };
    let range = parse_range(
        header(&headers, "content-range"),
        content_length,
        session_total,
    );
    let endpoint = match range {
        Ok(Range::Query { .. }) => Endpoint::UploadStatus,
        _ => Endpoint::UploadChunk,
    };
    let record = |status: u16, received: u64| {
        shared.record(
            Some(endpoint),
            &method,
            &path,
            &query,
            &headers,
            Vec::new(),
            received,
            status,
        );
    };

    // Faults first (they consume the request whatever the session's state).
    let fault = shared.take_fault(endpoint);
    let mut ack_less = 0u32;
    let mut drop_after = false;
    let mut drop_mid: Option<u64> = None;
    let mut delay_after: Option<Duration> = None;
    match fault {
        Some(FaultKind::Status {
            status,
            reason,
            message,
            retry_after_secs,
        }) => {
            let n = drain(&mut body).await;
            let reply = super::api::fault_status(
                status,
                reason.as_deref(),
                message.as_deref(),
                retry_after_secs,
            );
            record(reply.status, n);
            return reply.into_response();
        }
        Some(FaultKind::Body { status, body: b }) => {
            let n = drain(&mut body).await;
            record(status, n);
            return Reply::json(status, b).into_response();
        }
        Some(FaultKind::DropBeforeCommit) => {
            record(0, 0);
            conn.kill();
            return std::future::pending().await;
        }
        Some(FaultKind::DropMidBody { after_bytes }) => {
            if endpoint == Endpoint::UploadStatus {
                record(0, 0);
                conn.kill();
                return std::future::pending().await;
            }
            drop_mid = Some(after_bytes);
        }
        Some(FaultKind::DropAfterCommit) => drop_after = true,
        Some(FaultKind::AckLess { units }) => ack_less = units,
        Some(FaultKind::SessionGone { status }) => {
            {
                let mut inner = shared.lock();
                if let Some(s) = inner.sessions.get_mut(&upload_id) {
                    s.kill(status);
                }
            }
            let n = drain(&mut body).await;
            let reply = gone(status);
            record(reply.status, n);
            return reply.into_response();
        }
        Some(FaultKind::DelayBefore { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(FaultKind::DelayAfterCommit { ms }) => delay_after = Some(Duration::from_millis(ms)),
        None => {}
    }

    let state = session_state(&shared, &upload_id);
    let (total, committed) = match state {
        SessionState::Unknown => {
            let n = drain(&mut body).await;
            let reply = google_error(404, "notFound", "Not Found");
            record(404, n);
            return answer(&conn, reply, drop_after, delay_after).await;
        }
        SessionState::Gone(status) => {
            let n = drain(&mut body).await;
            let reply = gone(status);
            record(reply.status, n);
            return answer(&conn, reply, drop_after, delay_after).await;
        }
        SessionState::Complete(video_id) => {
            // Already done: the resource again, whatever was sent.
            let n = drain(&mut body).await;
            let reply = video_reply(&shared, &upload_id, &video_id);
            record(reply.status, n);
            return answer(&conn, reply, drop_after, delay_after).await;
        }
        SessionState::Open { total, committed } => (total, committed),
    };

    let range = match range {
        Ok(r) => r,
        Err(message) => {
            let n = drain(&mut body).await;
            let reply = google_error(400, "badRequest", &message);
            record(400, n);
            return answer(&conn, reply, drop_after, delay_after).await;
        }
    };
    let (first, last) = match range {
        Range::Query { total: t } => {
            let reply = if t != total {
                google_error(
                    400,
                    "badRequest",
                    &format!("The total size {t} does not match the X-Upload-Content-Length of the session ({total})."),
                )
            } else {
                incomplete(committed, no_308)
            };
            let n = drain(&mut body).await;
            record(reply.status, n);
            return answer(&conn, reply, drop_after, delay_after).await;
        }
        Range::Chunk {
            first,
            last,
            total: t,
        } => {
            let refusal = if t != total {
                Some(format!(
                    "The total size {t} does not match the X-Upload-Content-Length of the session ({total})."
                ))
            } else if first > committed {
                // UNCONFIRMED how Google words it; a gap can never be filled.
                Some(format!(
                    "Content-Range starts at byte {first}, but the upload has only {committed} bytes: resume from byte {committed}."
                ))
            } else if content_length.is_some_and(|n| n != last - first + 1) {
                Some("Content-Length does not match Content-Range.".to_string())
            } else if last + 1 < total && (last - first + 1) % UNIT != 0 {
                Some(format!(
                    "Chunk size {} is not a multiple of 262144 bytes (256 KiB); only the last chunk may be smaller.",
                    last - first + 1
                ))
            } else {
                None
            };
            if let Some(message) = refusal {
                let n = drain(&mut body).await;
                let reply = google_error(400, "badRequest", &message);
                record(400, n);
                return answer(&conn, reply, drop_after, delay_after).await;
            }
            (first, last)
        }
    };

    let Some(acc) = take_accumulator(&shared, &upload_id).await else {
        let n = drain(&mut body).await;
        let reply = google_error(503, "backendError", "Backend Error");
        record(503, n);
        return answer(&conn, reply, drop_after, delay_after).await;
    };
    let mut s = Streaming {
        shared: shared.clone(),
        upload_id: upload_id.clone(),
        acc: Some(acc),
        chunk: YtChunk {
            first,
            last,
            received: 0,
            committed_after: 0,
            status: 0,
        },
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        headers: headers.clone(),
        done: false,
    };
    let limit = (last + 1).saturating_sub(u64::from(ack_less) * UNIT);
    let throttle = shared.lock().throttle;
    let started = Instant::now();
    let mut at = first;
    let mut broken = false;
    while let Some(frame) = next_frame(&mut body).await {
        let data = match frame {
            Ok(Some(data)) => data,
            Ok(None) => continue,
            Err(()) => {
                broken = true;
                break;
            }
        };
        let mut data: &[u8] = &data;
        let mut stop = false;
        if let Some(after) = drop_mid {
            let room = after.saturating_sub(s.chunk.received);
            if (data.len() as u64) >= room {
                data = &data[..room as usize];
                stop = true;
            }
        }
        s.feed(at, data, limit);
        at += data.len() as u64;
        s.chunk.received += data.len() as u64;
        if stop {
            // Keep whole units, close the connection without an answer.
            s.finish(0);
            conn.kill();
            return std::future::pending().await;
        }
        if let Some(rate) = throttle {
            let due = Duration::from_secs_f64(s.chunk.received as f64 / rate as f64);
            let elapsed = started.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
    }
    if broken || s.chunk.received != last - first + 1 {
        // The client went away mid-body: whole units stay.
        s.finish(0);
        return Reply::empty(400).into_response();
    }
    let reply = if last + 1 == total && ack_less == 0 {
        s.flush_tail();
        let video_id = match s.acc.as_mut() {
            Some(acc) if acc.committed == total => complete(&shared, &upload_id, acc),
            _ => None,
        };
        match video_id {
            Some(id) => {
                s.finish(shared.cfg.final_status);
                video_reply(&shared, &upload_id, &id)
            }
            None => {
                let c = s.committed();
                s.finish(308);
                incomplete(c, no_308)
            }
        }
    } else {
        let c = s.committed();
        let reply = incomplete(c, no_308);
        s.finish(reply.status);
        reply
    };
    drop(s);
    answer(&conn, reply, drop_after, delay_after).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(
            parse_range(Some("bytes */100"), Some(0), 100),
            Ok(Range::Query { total: 100 })
        );
        assert_eq!(
            parse_range(Some("bytes 0-9/100"), Some(10), 100),
            Ok(Range::Chunk {
                first: 0,
                last: 9,
                total: 100
            })
        );
        assert!(parse_range(Some("bytes 9-0/100"), None, 100).is_err());
        assert!(parse_range(Some("bytes 0-100/100"), None, 100).is_err());
        assert!(parse_range(Some("0-1/2"), None, 2).is_err());
        assert_eq!(
            parse_range(None, Some(5), 5),
            Ok(Range::Chunk {
                first: 0,
                last: 4,
                total: 5
            })
        );
    }
}
