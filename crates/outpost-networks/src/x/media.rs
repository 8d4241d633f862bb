//! Media for X posts through the v2 chunked upload (x.md "Media"), for images, GIFs and
//! videos alike:
//!
//! 1. `POST /2/media/upload/initialize` `{media_type, total_bytes, media_category}` → `data.id`;
//! 2. `POST /2/media/upload/{id}/append`, multipart `segment_index` + `media`, one chunk at a
//!    time read from disk with [`ChunkReader`] (memory stays at one chunk whatever the size);
//! 3. `POST /2/media/upload/{id}/finalize` → `processing_info` for video and GIF.
//!
//! While `processing_info.state` is `pending` / `in_progress` the part is two-phase:
//! [`X::start`](crate::Publisher::start) returns [`PartOutcome::Processing`] with
//! `{"part", "media_ids", "pending", "stage", "progress", "polls", "expires_at"}` and
//! [`X::poll`](crate::Publisher::poll) asks `GET /2/media/upload?command=STATUS` once per call,
//! honouring `check_after_secs`. `failed` is permanent, with X's reason.
//!
//! Alt text goes to `POST /2/media/metadata` right before the post is created (images and
//! GIFs; X's metadata endpoint is documented for those).

use super::{
    classify, malformed, permanent, too_large, Auth, Call, Kind, MediaPlan, Payload, Reply, NET, X,
};
use crate::{PartOutcome, PartRequest};
use chrono::{SecondsFormat, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::PublishError;
use outpost_media::ChunkReader;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// APPEND chunk size: X's samples use 1 MB; above 4 MB is unconfirmed (x.md).
pub(super) const DEFAULT_CHUNK: usize = 2 * 1024 * 1024;
pub(super) const MAX_CHUNK: usize = 4 * 1024 * 1024;
/// `segment_index` runs 0..=999.
const MAX_SEGMENTS: u64 = 1000;
/// How long an upload is worth polling (X's own `expires_after_secs` is often shorter).
const MAX_PROCESSING_HOURS: i64 = 24;
/// Poll interval when X gives no `check_after_secs`, and the bounds of the one it gives.
const DEFAULT_CHECK_AFTER: u64 = 5;
const MAX_CHECK_AFTER: u64 = 600;

/// One uploaded file.
pub(super) struct Uploaded {
    pub id: String,
    /// X is still processing it.
    pub processing: Option<ProcessingInfo>,
    /// `expires_after_secs` from X.
    pub expires_after: Option<i64>,
}

/// `processing_info` as X reports it.
#[derive(Debug, Clone, Default)]
pub(super) struct ProcessingInfo {
    pub state: String,
    pub check_after: Option<u64>,
    pub progress: Option<u64>,
    pub error_name: Option<String>,
    pub error_message: Option<String>,
}

fn processing_of(data: &Value) -> Option<ProcessingInfo> {
    let info = data.get("processing_info")?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let error = info.get("error");
    Some(ProcessingInfo {
        state: text(info.get("state")).unwrap_or_else(|| "pending".into()),
        check_after: info.get("check_after_secs").and_then(Value::as_u64),
        progress: info.get("progress_percent").and_then(Value::as_u64),
        error_name: text(error.and_then(|e| e.get("name"))),
        error_message: text(error.and_then(|e| e.get("message"))),
    })
}

/// A multipart boundary that cannot plausibly occur in the data.
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{nanos}:{n}:{}", std::process::id()));
    format!("outpost-{}", hex::encode(&digest[..16]))
}

/// `multipart/form-data` with `segment_index` and the chunk as `media`.
fn append_body(segment_index: u64, chunk: Vec<u8>) -> (String, Vec<u8>) {
    let b = boundary();
    let head = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n{segment_index}\r\n--{b}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{b}--\r\n");
    let mut body = Vec::with_capacity(head.len() + chunk.len() + tail.len());
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(&chunk);
    drop(chunk);
    body.extend_from_slice(tail.as_bytes());
    (b, body)
}

fn unreadable(file: &str, reason: &str) -> PublishError {
    permanent(format!(
        "{file} cannot be read ({}) — attach it again",
        sanitize_message(reason, 160)
    ))
}

/// Processing `failed`: X's reason and what to do about it.
fn processing_failed(m: &MediaPlan<'_>, info: &ProcessingInfo) -> PublishError {
    let reason = match (&info.error_name, &info.error_message) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message.clone(),
        (Some(name), None) => name.clone(),
        (None, None) => "no reason given".into(),
    };
    let fix = match m.kind {
        Kind::Video => "export it as H.264 + AAC MP4 (0.5–140 seconds, at most 1280×1024 and 60 fps), then retry the post",
        Kind::Gif => "use a GIF of at most 15 MB, 1280×1080 and 350 frames, then retry the post",
        Kind::Image => "use a JPEG, PNG or WebP image under 5 MB, then retry the post",
    };
    permanent(format!(
        "X could not process {} ({}) — {fix}",
        m.media.file_name(),
        sanitize_message(&reason, 160)
    ))
}

/// The `Processing` outcome for the dispatcher to store.
pub(super) fn processing_outcome(
    req: &PartRequest<'_>,
    media_ids: &[String],
    pending: &str,
    info: &ProcessingInfo,
    polls: u64,
    expires_at: &str,
) -> PartOutcome {
    let check_after = info
        .check_after
        .unwrap_or(DEFAULT_CHECK_AFTER)
        .clamp(1, MAX_CHECK_AFTER);
    PartOutcome::Processing {
        phase: json!({
            "part": req.part_index,
            "media_ids": media_ids,
            "pending": pending,
            "stage": info.state,
            "progress": info.progress,
            "polls": polls,
            "expires_at": expires_at,
        }),
        poll_after: Duration::from_secs(check_after),
    }
}

/// When waiting for the processing stops making sense: X's `expires_after_secs`, at most a day.
pub(super) fn expires_at(expires_after: Option<i64>) -> String {
    let max = MAX_PROCESSING_HOURS * 3600;
    let secs = expires_after.filter(|s| *s > 0).unwrap_or(max).min(max);
    (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn data_of(reply: &Reply, auth: &Auth) -> Result<Value, PublishError> {
    reply
        .json()
        .and_then(|v| v.get("data").cloned())
        .filter(Value::is_object)
        .ok_or_else(|| malformed(reply, &auth.secrets()))
}

impl X {
    /// Uploads one file in chunks: initialize, append…, finalize.
    pub(super) async fn upload(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        m: &MediaPlan<'_>,
    ) -> Result<Uploaded, PublishError> {
        let file = m.media.file_name().to_string();
        let what = format!("uploading {file}");
        let path = PathBuf::from(&m.media.path);
        let chunk_size = self.chunk_size;
        let opened = tokio::task::spawn_blocking(move || ChunkReader::open(&path, chunk_size))
            .await
            .map_err(|e| unreadable(&file, &e.to_string()))?;
        let mut reader = opened.map_err(|e| unreadable(&file, &e.to_string()))?;
        let len = reader.len();
        if len == 0 {
            return Err(permanent(format!("{file} is empty — attach it again")));
        }
        if len > m.kind.max_bytes() {
            return Err(too_large(m.media, m.kind, len));
        }
        if reader.chunk_count() > MAX_SEGMENTS {
            return Err(permanent(format!(
                "{file} needs more than {MAX_SEGMENTS} upload chunks of {chunk_size} bytes — use a smaller file"
            )));
        }
        let started = Instant::now();

        let init = Call::post(
            "/2/media/upload/initialize",
            "POST /2/media/upload/initialize",
            what.clone(),
            Payload::Json(json!({
                "media_type": m.mime,
                "total_bytes": len,
                "media_category": m.kind.category(),
            })),
        );
        let reply = self.send(auth, init).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets()));
        }
        let Some(id) = data_of(&reply, auth)?
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Err(malformed(&reply, &auth.secrets()));
        };

        let mut segment: u64 = 0;
        loop {
            let read = tokio::task::spawn_blocking(move || {
                let next = reader.next_chunk();
                (reader, next)
            })
            .await
            .map_err(|e| unreadable(&file, &e.to_string()))?;
            reader = read.0;
            let chunk = match read.1 {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(unreadable(&file, &e.to_string())),
            };
            let (boundary, body) = append_body(segment, chunk.bytes);
            let call = Call::post(
                format!("/2/media/upload/{id}/append"),
                "POST /2/media/upload/:id/append",
                what.clone(),
                Payload::Multipart { boundary, body },
            );
            let reply = self.send(auth, call).await?;
            if !reply.ok() {
                return Err(classify(&reply, &auth.secrets()));
            }
            segment += 1;
        }

        let finalize = Call::post(
            format!("/2/media/upload/{id}/finalize"),
            "POST /2/media/upload/:id/finalize",
            what.clone(),
            Payload::Empty,
        );
        let reply = self.send(auth, finalize).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets()));
        }
        let data = data_of(&reply, auth)?;
        let processing = processing_of(&data);
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            media_id = id.as_str(),
            bytes = len,
            chunks = segment,
            processing = processing.as_ref().map(|p| p.state.as_str()),
            duration_ms = started.elapsed().as_millis() as u64,
            "x media uploaded"
        );
        let processing = match processing {
            Some(info) if info.state == "failed" => {
                return Err(processing_failed(m, &info).with_excerpt(&reply.body, &auth.secrets()))
            }
            Some(info) if info.state == "succeeded" => None,
            other => other,
        };
        Ok(Uploaded {
            id,
            processing,
            expires_after: data.get("expires_after_secs").and_then(Value::as_i64),
        })
    }

    /// One `STATUS` check: `None` when the media is ready, `Some(Processing)` while X is still
    /// working on it.
    pub(super) async fn check_processing(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        m: &MediaPlan<'_>,
        media_ids: &[String],
        pending: &str,
        phase: &Value,
    ) -> Result<Option<PartOutcome>, PublishError> {
        let file = m.media.file_name();
        let call = Call::get(
            "/2/media/upload",
            "GET /2/media/upload",
            format!("checking the processing of {file}"),
        )
        .query("command", "STATUS")
        .query("media_id", pending);
        let reply = self.send(auth, call).await?;
        if reply.status.as_u16() == 404 {
            return Err(permanent(format!(
                "X no longer knows the upload of {file} (HTTP 404) — retry the post to upload it again"
            ))
            .with_excerpt(&reply.body, &auth.secrets()));
        }
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets()));
        }
        let data = data_of(&reply, auth)?;
        let Some(info) = processing_of(&data) else {
            return Ok(None);
        };
        match info.state.as_str() {
            "succeeded" => Ok(None),
            "failed" => {
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    media_id = pending,
                    reason = info.error_name.as_deref(),
                    "x media processing failed"
                );
                Err(processing_failed(m, &info).with_excerpt(&reply.body, &auth.secrets()))
            }
            _ => {
                let polls = phase.get("polls").and_then(Value::as_u64).unwrap_or(0) + 1;
                let expires = phase
                    .get("expires_at")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| expires_at(None));
                Ok(Some(processing_outcome(
                    req, media_ids, pending, &info, polls, &expires,
                )))
            }
        }
    }

    /// Alt text of an image or GIF (`POST /2/media/metadata`).
    pub(super) async fn set_alt_text(
        &self,
        auth: &Auth,
        m: &MediaPlan<'_>,
        media_id: &str,
    ) -> Result<(), PublishError> {
        let Some(alt) = m.alt else {
            return Ok(());
        };
        if m.kind == Kind::Video {
            tracing::debug!(
                network = NET.as_str(),
                account = auth.account_id.as_str(),
                "x takes alt text for images and GIFs; the video's alt text is not sent"
            );
            return Ok(());
        }
        let call = Call::post(
            "/2/media/metadata",
            "POST /2/media/metadata",
            format!("adding the alt text of {}", m.media.file_name()),
            Payload::Json(json!({
                "id": media_id,
                "metadata": { "alt_text": { "text": alt } },
            })),
        );
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_append_body_is_multipart_with_the_index_and_the_bytes() {
        let (b, body) = append_body(7, b"\x00\x01chunk".to_vec());
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{b}\r\n")));
        assert!(text.contains("name=\"segment_index\"\r\n\r\n7\r\n"));
        assert!(text.ends_with(&format!("\r\n--{b}--\r\n")));
        assert!(body.windows(7).any(|w| w == b"\x00\x01chunk"));
        assert_ne!(boundary(), boundary());
    }

    #[test]
    fn processing_info_is_read_with_its_error() {
        let data = json!({"processing_info": {"state": "failed", "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}}});
        let info = processing_of(&data).unwrap_or_default();
        assert_eq!(info.state, "failed");
        assert_eq!(info.error_name.as_deref(), Some("InvalidMedia"));
        assert!(processing_of(&json!({"id": "1"})).is_none());
    }
}
