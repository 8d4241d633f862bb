//! Video posts, in two phases (platform reference, "Video (multi-part)"):
//!
//! 1. [`LinkedIn::start_video`]: `POST /rest/videos?action=initializeUpload` with the file's
//!    size; every `uploadInstructions` entry gets its own byte range (`firstByte..=lastByte`),
//!    read from disk with [`ChunkReader`] and PUT to **that entry's** `uploadUrl`; each answer's
//!    `ETag` is kept in order; then `?action=finalizeUpload` with those ETags. The answer is
//!    [`PartOutcome::Processing`] with the phase
//!    `{"part", "video", "upload_token", "etags", "finalized", "polls", "expires_at"}`.
//! 2. [`LinkedIn::poll_video`]: `GET /rest/videos/{urn}`: `AVAILABLE` → the post is created
//!    (`content.media.id` = the video); `PROCESSING_FAILED` → permanent, with LinkedIn's
//!    `processingFailureReason`; anything else → processing again.
//!
//! A finalize that got no answer is not guessed at: the phase says `"finalized": false` and
//! the next poll reads the video's status (still `WAITING_UPLOAD` → finalize again).

use super::{
    encode, permanent, transient, write_permission, LinkedIn, Payload, Plan, Session, NET,
};
use crate::{http, PartOutcome, PartRequest};
use chrono::{SecondsFormat, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::{ErrorClass, MediaRef, PublishError};
use outpost_media::{ChunkReader, MAX_CHUNK};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// First polls every 5 s, then every 20 s (LinkedIn gives no hint).
const FAST_POLL: Duration = Duration::from_secs(5);
const SLOW_POLL: Duration = Duration::from_secs(20);
const FAST_POLLS: u64 = 12;
/// How long processing is worth waiting for.
const PROCESSING_HOURS: i64 = 24;
/// The slowest uplink a part upload is given time for, in bytes per second.
const SLOWEST_UPLINK: u64 = 100_000;

/// One `uploadInstructions` entry.
struct Instruction {
    url: String,
    first: u64,
    last: u64,
}

fn processing(phase: Value, polls: u64) -> PartOutcome {
    PartOutcome::Processing {
        phase,
        poll_after: if polls < FAST_POLLS {
            FAST_POLL
        } else {
            SLOW_POLL
        },
    }
}

/// The instructions, checked to cover the whole file once, in order.
fn instructions(value: &Value, len: u64) -> Option<Vec<Instruction>> {
    let list = value.pointer("/value/uploadInstructions")?.as_array()?;
    let mut out = Vec::with_capacity(list.len());
    let mut next = 0u64;
    for i in list {
        let url = i.get("uploadUrl")?.as_str()?.to_string();
        let first = i.get("firstByte")?.as_u64()?;
        let last = i.get("lastByte")?.as_u64()?;
        if first != next || last < first || last - first + 1 > MAX_CHUNK as u64 {
            return None;
        }
        next = last + 1;
        out.push(Instruction { url, first, last });
    }
    (next == len && !out.is_empty()).then_some(out)
}

/// Bytes `first..=last` of the file at `path`, read from disk (one part in memory at a time).
async fn read_range(video: &MediaRef, first: u64, last: u64) -> Result<Vec<u8>, PublishError> {
    let path = std::path::PathBuf::from(&video.path);
    let size = usize::try_from(last - first + 1).unwrap_or(MAX_CHUNK);
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = ChunkReader::open(&path, size)?;
        reader.resume_from(first)?;
        reader.next_chunk()
    })
    .await;
    let file = video.file_name();
    match read {
        Ok(Ok(Some(chunk))) if chunk.bytes.len() == size => Ok(chunk.bytes),
        Ok(Ok(_)) => Err(permanent(format!(
            "{file} became shorter during the upload — wait until it is fully written, then retry the post"
        ))),
        Ok(Err(e)) => Err(permanent(format!(
            "cannot read {file} ({}) — attach the video again",
            sanitize_message(&e.to_string(), 120)
        ))),
        Err(e) => Err(transient(format!(
            "reading {file} failed ({}) — Outpost will retry",
            sanitize_message(&e.to_string(), 80)
        ))),
    }
}

fn phase_text<'v>(phase: &'v Value, key: &str) -> Option<&'v str> {
    phase.get(key).and_then(Value::as_str)
}

impl LinkedIn {
    /// `POST /rest/videos?action=finalizeUpload`. `Ok(false)` when no answer came back (the
    /// next poll finds out).
    async fn finalize(
        &self,
        session: &Session,
        author: &str,
        video: &str,
        upload_token: &str,
        etags: &[String],
    ) -> Result<bool, PublishError> {
        let what = "finishing the video upload";
        let mut call = super::Call::post(
            format!("{}?action=finalizeUpload", self.rest("videos")),
            what,
            json!({ "finalizeUploadRequest": {
                "video": video,
                "uploadToken": upload_token,
                "uploadedPartIds": etags,
            }}),
        );
        // Sent but unanswered comes back as UnknownOutcome; finalising twice is harmless and
        // the video's status tells whether it happened, so the next poll finds out.
        call.creates = true;
        let reply = match self.send(call, &session.token).await {
            Ok(r) => r,
            Err(e) if e.class == ErrorClass::UnknownOutcome => {
                tracing::warn!(
                    network = NET.as_str(),
                    account = session.account_id.as_str(),
                    video,
                    "linkedin finalize got no answer; the next poll checks the status"
                );
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        if !reply.ok() {
            return Err(self.fail(&reply, what, write_permission(author), session));
        }
        Ok(true)
    }

    /// Phase one: upload every part and finalise; see the module docs.
    pub(super) async fn start_video(
        &self,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        video: &MediaRef,
    ) -> Result<PartOutcome, PublishError> {
        let file = video.file_name();
        let len = tokio::fs::metadata(&video.path)
            .await
            .map_err(|e| {
                permanent(format!(
                    "cannot read {file} ({}) — attach the video again",
                    sanitize_message(&e.to_string(), 80)
                ))
            })?
            .len();
        if len == 0 {
            return Err(permanent(format!(
                "{file} is empty — attach the video again"
            )));
        }
        let session = self.session(req.account).await?;
        let author = plan.author.as_str();
        let what = format!("preparing the upload of {file}");
        let call = super::Call::post(
            format!("{}?action=initializeUpload", self.rest("videos")),
            what.clone(),
            json!({ "initializeUploadRequest": {
                "owner": author,
                "fileSizeBytes": len,
                "uploadCaptions": false,
                "uploadThumbnail": false,
            }}),
        );
        let reply = self.send(call, &session.token).await?;
        if !reply.ok() {
            return Err(self.fail(&reply, &what, write_permission(author), &session));
        }
        let value = reply.json();
        let video_urn = value.pointer("/value/video").and_then(Value::as_str);
        let (Some(video_urn), Some(parts)) = (video_urn, instructions(&value, len)) else {
            return Err(transient(format!(
                "the answer to {what} cannot be read (no video id, or upload instructions that do not cover the file's {len} bytes) — Outpost will retry"
            ))
            .with_excerpt(&reply.body, &session.secrets()));
        };
        let upload_token = value
            .pointer("/value/uploadToken")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();

        let count = parts.len();
        let mut etags = Vec::with_capacity(count);
        for (i, part) in parts.iter().enumerate() {
            let bytes = read_range(video, part.first, part.last).await?;
            let size = bytes.len() as u64;
            let what = format!("uploading part {} of {count} of {file}", i + 1);
            let put = super::Call {
                method: Method::PUT,
                url: part.url.clone(),
                versioned: false,
                bearer: self.trusts(&part.url),
                payload: Payload::Bytes(bytes),
                what: what.clone(),
                creates: false,
                timeout: Some(http::REQUEST_TIMEOUT + Duration::from_secs(size / SLOWEST_UPLINK)),
            };
            let reply = self.send(put, &session.token).await?;
            if !reply.ok() {
                return Err(self.fail(&reply, &what, write_permission(author), &session));
            }
            let Some(etag) = reply.header("etag").filter(|e| !e.is_empty()) else {
                return Err(transient(format!(
                    "no ETag came back for part {} of {count} of {file} — Outpost will upload the video again",
                    i + 1
                )));
            };
            etags.push(etag.to_string());
        }
        let finalized = self
            .finalize(&session, author, video_urn, &upload_token, &etags)
            .await?;
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            video = video_urn,
            parts = count,
            bytes = len,
            finalized,
            "linkedin video uploaded; processing"
        );
        let expires_at = (Utc::now() + chrono::Duration::hours(PROCESSING_HOURS))
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        Ok(processing(
            json!({
                "part": req.part_index,
                "video": video_urn,
                "upload_token": upload_token,
                "etags": etags,
                "finalized": finalized,
                "polls": 0,
                "expires_at": expires_at,
            }),
            0,
        ))
    }

    /// `GET /rest/videos/{urn}` → its `status` (and failure reason).
    async fn video_status(
        &self,
        session: &Session,
        author: &str,
        urn: &str,
        file: &str,
    ) -> Result<(String, Option<String>), PublishError> {
        let what = format!("checking the processing of {file}");
        let call = super::Call::get(self.rest(&format!("videos/{}", encode(urn))), what.clone());
        let reply = self.send(call, &session.token).await?;
        if reply.status == 404 {
            return Err(permanent(format!(
                "the uploaded video {urn} is gone ({file}, HTTP 404) — retry the post to upload it again"
            ))
            .with_excerpt(&reply.body, &session.secrets()));
        }
        if !reply.ok() {
            return Err(self.fail(&reply, &what, write_permission(author), session));
        }
        let body = reply.json();
        let status = body
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let reason = body
            .get("processingFailureReason")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((status, reason))
    }

    /// Phase two: one status check; the post once the video is `AVAILABLE`.
    pub(super) async fn poll_video(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let Some(urn) = phase_text(phase, "video").filter(|u| u.starts_with("urn:li:video:"))
        else {
            return Err(permanent(
                "internal error: the stored video state has no video id — retry the post to upload the video again",
            ));
        };
        let plan = super::plan(req)?;
        let super::Media::Video(video) = plan.media else {
            return Err(permanent(
                "internal error: this part has no video to continue with — retry the post",
            ));
        };
        let file = video.file_name();
        let session = self.session(req.account).await?;
        let author = plan.author.as_str();
        let polls = phase.get("polls").and_then(Value::as_u64).unwrap_or(0) + 1;
        let mut next = phase.clone();
        next["polls"] = json!(polls);
        next["part"] = json!(req.part_index);

        let (status, reason) = self.video_status(&session, author, urn, file).await?;
        if phase.get("finalized").and_then(Value::as_bool) == Some(false) {
            if status == "WAITING_UPLOAD" {
                let etags: Vec<String> = phase
                    .get("etags")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|e| e.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let token = phase_text(phase, "upload_token").unwrap_or_default();
                let finalized = self.finalize(&session, author, urn, token, &etags).await?;
                next["finalized"] = json!(finalized);
                return Ok(processing(next, polls));
            }
            next["finalized"] = json!(true);
        }
        match status.as_str() {
            "AVAILABLE" => {
                let mut media = json!({ "id": urn });
                if let Some(title) = req
                    .options
                    .get("title")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                {
                    media["title"] = json!(title);
                }
                let published = self
                    .create_post(&session, req, &plan, Some(json!({ "media": media })))
                    .await?;
                let mut published = published;
                if let Some(extra) = published.extra.as_object_mut() {
                    extra.insert("video".into(), json!(urn));
                }
                Ok(PartOutcome::Published(published))
            }
            "PROCESSING_FAILED" => Err(PublishError::new(
                NET,
                ErrorClass::Permanent,
                format!(
                    "could not process {file} (PROCESSING_FAILED: {}) — check that it is an MP4 (H.264/AAC) between 3 seconds and 30 minutes, then retry",
                    sanitize_message(reason.as_deref().unwrap_or("no reason given"), 160)
                ),
            )),
            other => {
                next["status"] = json!(if other.is_empty() { "PROCESSING" } else { other });
                tracing::debug!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    video = urn,
                    status = other,
                    polls,
                    "linkedin video still processing"
                );
                Ok(processing(next, polls))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_must_cover_the_file_in_order() {
        let ok = json!({"value": {"uploadInstructions": [
            {"uploadUrl": "u0", "firstByte": 0, "lastByte": 9},
            {"uploadUrl": "u1", "firstByte": 10, "lastByte": 14},
        ]}});
        let parts = instructions(&ok, 15).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[1].first, parts[1].last, parts[1].url.as_str()),
            (10, 14, "u1")
        );
        assert!(instructions(&ok, 16).is_none(), "a gap at the end");
        let overlap = json!({"value": {"uploadInstructions": [
            {"uploadUrl": "u0", "firstByte": 0, "lastByte": 9},
            {"uploadUrl": "u1", "firstByte": 9, "lastByte": 14},
        ]}});
        assert!(instructions(&overlap, 15).is_none());
        assert!(instructions(&json!({"value": {"uploadInstructions": []}}), 0).is_none());
    }
}
