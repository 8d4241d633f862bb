//! `videos.insert` through Google's resumable upload protocol, cut into dispatcher steps
//! (youtube.md "Publish flows"):
//!
//! 1. [`Publisher::start`](crate::Publisher::start): `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`
//!    with the metadata and `X-Upload-Content-Length` / `X-Upload-Content-Type`; the session
//!    URI (`Location`) goes into the phase, which the dispatcher stores before any byte is sent.
//! 2. Each [`Publisher::poll`](crate::Publisher::poll) in stage `upload`: asks the session what
//!    it has (`PUT` with `Content-Range: bytes */TOTAL`: `308` + `Range: bytes=0-N`, or
//!    `200`/`201` + the video when it is complete, `404`/`410` when the session is dead),
//!    then `PUT`s chunks of [`YouTube::chunk_size`] bytes (multiples of 256 KiB, streamed
//!    from disk by [`file_body`]) with `Content-Range: bytes a-b/TOTAL`, continuing from each
//!    `308`'s `Range` (never assuming the whole chunk landed), for at most
//!    [`STEP_BYTES`](super::STEP_BYTES) / [`STEP_TIME`](super::STEP_TIME). The phase carries the
//!    confirmed offset. A dead session is replaced by a new one (stored before its bytes).
//! 3. Stage `processing`: `videos.list?part=status,processingDetails` until `processed`;
//!    `failed` / `rejected` are permanent, with YouTube's reason.
//!
//! Transport errors: before the last chunk nothing can have been published, so they are
//! transient (the next step asks the session); no answer to the last chunk is an unknown
//! outcome, settled by [`Publisher::lookup`](crate::Publisher::lookup) through the session.

use super::plan::{self, rfc3339_millis, Thumbnail};
use super::{
    classify, malformed, permanent, published_part, transient, Auth, Call, Payload, QuotaCosts,
    Reply, YouTube, MAX_SESSIONS, NET,
};
use crate::{file_body, PartOutcome, PartRequest};
use chrono::{DateTime, SecondsFormat, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::{ErrorClass, MediaRef, PublishError, PublishedPart};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the upload session said.
#[derive(Debug)]
pub(super) enum Answer {
    /// `308`: the server has this many bytes (the first byte not yet received).
    Incomplete(u64),
    /// `200`/`201`: the upload is complete; the video resource.
    Complete(Value),
    /// `404`/`410`: the session is dead.
    Dead(u16),
}

/// The phase of an upload, as the dispatcher stores it between steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct UploadState {
    pub part: usize,
    /// `upload` or `processing`.
    pub stage: String,
    /// The session URI (the reconciliation handle).
    pub session: String,
    pub total: u64,
    /// Bytes the session confirmed.
    pub offset: u64,
    /// Percent of the bytes confirmed.
    #[serde(default)]
    pub progress: u64,
    pub mime: String,
    /// The file being uploaded (a changed attachment is not resumed).
    pub file: String,
    /// Sessions opened for this upload.
    pub sessions: u64,
    /// `publishAt` when handed off (RFC 3339).
    #[serde(default)]
    pub publish_at: Option<String>,
    /// The privacy the user asked for.
    pub privacy: String,
    #[serde(default)]
    pub video_id: Option<String>,
    #[serde(default)]
    pub polls: u64,
    #[serde(default)]
    pub uploaded_at: Option<DateTime<Utc>>,
    /// Quota units this upload has cost so far (per [`QuotaCosts`]).
    #[serde(default)]
    pub quota_units: u64,
    /// Sentences for the post's card (a thumbnail that was not set…).
    #[serde(default)]
    pub notices: Vec<String>,
    #[serde(default)]
    pub thumbnail_set: bool,
    /// The chunk size the line's speed called for last (see [`super::CHUNK_TIME`]).
    #[serde(default)]
    pub chunk: Option<u64>,
    pub updated_at: DateTime<Utc>,
}

impl UploadState {
    fn to_phase(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({ "part": self.part }))
    }

    fn file_name(&self) -> String {
        self.file
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&self.file)
            .to_string()
    }

    fn publish_at(&self) -> Option<DateTime<Utc>> {
        self.publish_at
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
    }
}

fn unreadable(file: &str, reason: &str) -> PublishError {
    permanent(format!(
        "{file} cannot be read ({}) — attach it again",
        sanitize_message(reason, 160)
    ))
}

/// `bytes=0-N` → N + 1.
fn range_end(value: &str) -> Option<u64> {
    let (first, last) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    if first.trim() != "0" {
        return None;
    }
    last.trim().parse::<u64>().ok().map(|n| n + 1)
}

fn answer_of(reply: &Reply, auth: &Auth, quota: &QuotaCosts) -> Result<Answer, PublishError> {
    match reply.status.as_u16() {
        308 => match super::header(&reply.headers, "range") {
            None => Ok(Answer::Incomplete(0)),
            Some(r) => range_end(r)
                .map(Answer::Incomplete)
                .ok_or_else(|| malformed(reply, &auth.secrets())),
        },
        200 | 201 => match reply.json() {
            Some(v) if v.get("id").and_then(Value::as_str).is_some() => Ok(Answer::Complete(v)),
            _ => Err(malformed(reply, &auth.secrets())),
        },
        s @ (404 | 410) => Ok(Answer::Dead(s)),
        _ => Err(classify(reply, &auth.secrets(), quota)),
    }
}

/// YouTube's words for a failed or rejected upload, and what to do.
fn failure_text(status: &str, reason: &str) -> (&'static str, &'static str) {
    match (status, reason) {
        ("failed", "codec") => (
            "its video or audio codec is not supported",
            "export it as MP4 with H.264 video and AAC audio, then retry the post",
        ),
        ("failed", "conversion") => (
            "YouTube could not convert it",
            "export it again (MP4, H.264 + AAC), then retry the post",
        ),
        ("failed", "emptyFile") => ("the file is empty", "attach the video again"),
        ("failed", "invalidFile") => (
            "it is not a video YouTube can read",
            "export it again (MP4, H.264 + AAC), then retry the post",
        ),
        ("failed", "tooSmall") => ("the file is too small", "attach the full video"),
        ("failed", "uploadAborted") => ("the upload was cut off", "retry the post"),
        ("rejected", "duplicate") => (
            "it duplicates a video already on the channel",
            "upload a different video",
        ),
        ("rejected", "copyright") | ("rejected", "claim") => {
            ("of a copyright claim", "check the claim in YouTube Studio")
        }
        ("rejected", "length") => (
            "it is longer than the channel may upload",
            "verify the channel (youtube.com/verify) to upload videos over 15 minutes, then retry",
        ),
        ("rejected", "inappropriate") | ("rejected", "termsOfUse") => (
            "it breaks YouTube's policies",
            "see YouTube Studio for details",
        ),
        ("rejected", _) => ("YouTube rejected it", "see YouTube Studio for details"),
        _ => (
            "YouTube could not process it",
            "retry the post; if it fails again, export the video again",
        ),
    }
}

/// Processing ended in `failed` or `rejected`: permanent, with YouTube's reason.
fn upload_failed(st: &UploadState, status: &str, reason: &str) -> PublishError {
    let (why, fix) = failure_text(status, reason);
    let reason = if reason.is_empty() {
        "no reason given"
    } else {
        reason
    };
    let verdict = if status == "rejected" {
        "YouTube rejected"
    } else {
        "YouTube could not process"
    };
    permanent(format!(
        "Failed upload — {verdict} {} ({reason}: {why}) — {fix}",
        st.file_name()
    ))
}

/// Fills the published part's `extra` from the video resource: privacy, the time YouTube
/// will publish a handed-off video, and notices for the card.
pub(super) fn describe_video(
    part: &mut PublishedPart,
    video: &Value,
    st: Option<&UploadState>,
    quota: &QuotaCosts,
) {
    let status = video.get("status").cloned().unwrap_or_default();
    let text = |k: &str| status.get(k).and_then(Value::as_str).map(str::to_string);
    let privacy = text("privacyStatus");
    let publish_at = text("publishAt")
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.with_timezone(&Utc));
    let mut notices: Vec<String> = Vec::new();
    if let Some(p) = &privacy {
        part.extra["privacy"] = json!(p);
    }
    if let Some(at) = publish_at {
        part.extra["scheduled_on_network"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
        notices.push(format!(
            "scheduled on YouTube for {}",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if let Some(st) = st {
        let kept_private = privacy.as_deref() == Some("private");
        if st.publish_at.is_some() && publish_at.is_none() && kept_private {
            notices.push(
                "YouTube kept the video private, so it will not go public at the scheduled time — uploads from an unverified Google Cloud project stay private until the project passes Google's API audit".into(),
            );
        } else if st.publish_at.is_none() && st.privacy != "private" && kept_private {
            notices.push(
                "YouTube kept the video private — uploads from an unverified Google Cloud project stay private until the project passes Google's API audit".into(),
            );
        }
        notices.extend(st.notices.iter().cloned());
        part.extra["quota_units"] = json!(st.quota_units);
        if st.sessions > 1 {
            part.extra["upload_sessions"] = json!(st.sessions);
        }
        if st.thumbnail_set {
            part.extra["thumbnail"] = json!("set");
        }
    } else {
        part.extra["quota_units"] = json!(quota.videos_insert);
    }
    if !notices.is_empty() {
        part.extra["notice"] = json!(notices.join("; "));
    }
}

impl YouTube {
    /// The post's video, as attached (the upload's file must still be it).
    fn video_of<'a>(req: &PartRequest<'a>, st: &UploadState) -> Result<&'a MediaRef, PublishError> {
        req.part
            .media
            .iter()
            .find(|m| m.path == st.file)
            .ok_or_else(|| {
                permanent(
                    "the post's video changed since its upload started — retry the post to upload it again",
                )
            })
    }

    /// The size of the file at `path` now.
    async fn file_size(path: &str) -> Result<u64, PublishError> {
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path).to_string();
        let p = PathBuf::from(path);
        tokio::task::spawn_blocking(move || std::fs::metadata(&p).map(|m| m.len()))
            .await
            .map_err(|e| unreadable(&file, &e.to_string()))?
            .map_err(|e| unreadable(&file, &e.to_string()))
    }

    /// `videos.insert` session start; returns the session URI.
    async fn start_session(
        &self,
        auth: &Auth,
        plan: &plan::Plan<'_>,
        total: u64,
    ) -> Result<String, PublishError> {
        let mut call = Call::new(
            Method::POST,
            "/upload/youtube/v3/videos",
            "videos.insert (session start)",
            format!("starting the upload of {}", plan.media.file_name()),
        )
        .query("uploadType", "resumable")
        .query("part", "snippet,status")
        .header("x-upload-content-length", total.to_string())
        .header("x-upload-content-type", plan.mime.clone())
        .payload(Payload::Json(plan.metadata()));
        if let Some(n) = plan.notify_subscribers {
            call = call.query("notifySubscribers", if n { "true" } else { "false" });
        }
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets(), &self.quota));
        }
        let Some(location) = super::header(&reply.headers, "location")
            .map(str::trim)
            .filter(|l| !l.is_empty())
        else {
            return Err(malformed(&reply, &auth.secrets()));
        };
        Ok(if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        })
    }

    /// `PUT` with `Content-Range: bytes */TOTAL`: what the session has.
    pub(super) async fn query_session(
        &self,
        auth: &Auth,
        uri: &str,
        total: u64,
        what: &str,
    ) -> Result<Answer, PublishError> {
        let call = Call::new(Method::PUT, uri, "upload status", what)
            .header("content-range", format!("bytes */{total}"))
            .payload(Payload::Raw(Vec::new()));
        let reply = self.send(auth, call).await?;
        answer_of(&reply, auth, &self.quota)
    }

    /// One chunk, `len` bytes from `offset`, streamed from the file; the last one may create
    /// the video.
    async fn put_chunk(
        &self,
        auth: &Auth,
        st: &UploadState,
        offset: u64,
        len: u64,
    ) -> Result<Answer, PublishError> {
        let end = offset + len.saturating_sub(1);
        let is_last = offset + len >= st.total;
        // Generous per chunk (slow uplinks): a minute plus a second per 256 KiB.
        let timeout = Duration::from_secs(60 + len / super::UNIT as u64);
        let (body, reading) = file_body::file_range(&st.file, st.total, offset, len);
        let call = Call::new(
            Method::PUT,
            st.session.clone(),
            "upload chunk",
            format!("uploading {}", st.file_name()),
        )
        .header(
            "content-range",
            format!("bytes {offset}-{end}/{}", st.total),
        )
        .payload(Payload::Stream {
            content_type: st.mime.clone(),
            len,
            body,
        })
        .timeout(timeout)
        .creates(is_last);
        let reply = self.send(auth, call).await;
        // A file that vanished or changed explains a broken request better than the
        // transport error does.
        if let Some(why) = reading.finish().await {
            return Err(unreadable(&st.file_name(), &why));
        }
        answer_of(&reply?, auth, &self.quota)
    }

    /// Stage `upload` starts: the session is open, nothing sent yet.
    pub(super) async fn begin_upload(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &plan::Plan<'_>,
    ) -> Result<PartOutcome, PublishError> {
        let total = Self::file_size(&plan.media.path).await?;
        if total == 0 {
            return Err(permanent(format!(
                "{} is empty — attach the video again",
                plan.media.file_name()
            )));
        }
        let started = Instant::now();
        let session = self.start_session(auth, plan, total).await?;
        let now = Utc::now();
        let mut notices = Vec::new();
        if req.first_comment.is_some_and(|c| !c.trim().is_empty()) {
            // Comments need the youtube.force-ssl scope (and a public video); Outpost asks
            // only for upload and read access.
            notices.push(
                "the first comment was not posted (Outpost does not comment on YouTube)"
                    .to_string(),
            );
        }
        let st = UploadState {
            part: req.part_index,
            stage: "upload".into(),
            session,
            total,
            offset: 0,
            progress: 0,
            mime: plan.mime.clone(),
            file: plan.media.path.clone(),
            sessions: 1,
            publish_at: plan.publish_at.map(rfc3339_millis),
            privacy: plan.privacy.clone(),
            video_id: None,
            polls: 0,
            uploaded_at: None,
            quota_units: u64::from(self.quota.videos_insert),
            notices,
            thumbnail_set: false,
            chunk: None,
            updated_at: now,
        };
        self.remember_session(req, &st.session, total);
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            bytes = total,
            hand_off = st.publish_at.is_some(),
            duration_ms = started.elapsed().as_millis() as u64,
            "youtube upload session opened"
        );
        Ok(PartOutcome::Processing {
            phase: st.to_phase(),
            poll_after: Duration::ZERO,
        })
    }

    fn upload_progress(&self, mut st: UploadState, poll_after: Duration) -> PartOutcome {
        st.updated_at = Utc::now();
        st.progress = (st.offset.saturating_mul(100)) / st.total.max(1);
        PartOutcome::Processing {
            phase: st.to_phase(),
            poll_after,
        }
    }

    /// The session died: a new one (stored before its first byte).
    async fn replace_session(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        mut st: UploadState,
        status: u16,
    ) -> Result<PartOutcome, PublishError> {
        if st.sessions >= MAX_SESSIONS {
            return Err(permanent(format!(
                "YouTube ended the upload session of {} {} times (HTTP {status}) — retry the post later",
                st.file_name(),
                st.sessions
            )));
        }
        let now = Utc::now();
        let mut p = plan::plan(req, now)?;
        // Keep the original hand-off while its time is still ahead.
        p.publish_at = st
            .publish_at()
            .filter(|at| *at - now > super::HAND_OFF_LEAD_EXPLICIT);
        let session = self.start_session(auth, &p, st.total).await?;
        tracing::warn!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            status,
            sessions = st.sessions + 1,
            "youtube upload session was dead; a new one is open"
        );
        st.session = session;
        st.offset = 0;
        st.sessions += 1;
        st.publish_at = p.publish_at.map(rfc3339_millis);
        st.quota_units += u64::from(self.quota.videos_insert);
        self.remember_session(req, &st.session, st.total);
        Ok(self.upload_progress(st, Duration::ZERO))
    }

    /// Stage `upload`: ask the session, then send up to one step's worth of chunks.
    pub(super) async fn upload_step(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let mut st: UploadState = serde_json::from_value(phase.clone()).map_err(|_| {
            permanent("the stored upload state cannot be read — retry the post to upload it again")
        })?;
        let media = Self::video_of(req, &st)?;
        let size = Self::file_size(&media.path).await?;
        if size != st.total {
            return Err(permanent(format!(
                "{} changed size since its upload started ({} bytes, now {size}) — retry the post to upload it again",
                st.file_name(),
                st.total,
            )));
        }
        self.remember_session(req, &st.session, st.total);
        let started = Instant::now();
        let what = format!("uploading {}", st.file_name());
        match self
            .query_session(auth, &st.session, st.total, &what)
            .await?
        {
            Answer::Complete(video) => return self.finish_upload(auth, req, st, video).await,
            Answer::Dead(status) => return self.replace_session(auth, req, st, status).await,
            Answer::Incomplete(n) => {
                if n != st.offset {
                    tracing::info!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        target = req.target_id,
                        stored = st.offset,
                        server = n,
                        "youtube upload resumes from the server's offset"
                    );
                }
                st.offset = n.min(st.total);
            }
        }
        let from = st.offset;
        let mut sent: u64 = 0;
        let mut stalls = 0u32;
        loop {
            if st.offset >= st.total {
                // Every byte is there, yet the last answer was not the video: ask again.
                match self.query_session(auth, &st.session, st.total, &what).await? {
                    Answer::Complete(video) => {
                        return self.finish_upload(auth, req, st, video).await
                    }
                    Answer::Dead(status) => {
                        return self.replace_session(auth, req, st, status).await
                    }
                    Answer::Incomplete(n) if n < st.total => {
                        st.offset = n;
                        continue;
                    }
                    Answer::Incomplete(_) => {
                        return Err(transient(format!(
                            "YouTube has every byte of {} but did not finish the upload — Outpost will ask again",
                            st.file_name()
                        )))
                    }
                }
            }
            if sent >= self.step_bytes || started.elapsed() >= self.step_time {
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    part = req.part_index,
                    from,
                    offset = st.offset,
                    total = st.total,
                    sent,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "youtube upload step"
                );
                return Ok(self.upload_progress(st, Duration::ZERO));
            }
            let offset = st.offset;
            // The speed's chunk, within what is left of the file and of this step's budget
            // (in whole units: only the file's last chunk may be ragged).
            let chunk = st
                .chunk
                .unwrap_or(self.chunk_size as u64)
                .clamp(self.chunk_size as u64, self.max_chunk as u64);
            let budget = (self.step_bytes - sent) / super::UNIT as u64 * super::UNIT as u64;
            let len = if st.total - offset <= chunk.min(budget.max(super::UNIT as u64)) {
                st.total - offset
            } else {
                chunk.min(budget.max(super::UNIT as u64))
            };
            let put_started = Instant::now();
            let answer = self.put_chunk(auth, &st, offset, len).await;
            if matches!(answer, Ok(Answer::Incomplete(n)) if n >= offset + len) {
                st.chunk = Some(self.next_chunk(len, put_started.elapsed()));
            }
            match answer {
                Ok(Answer::Incomplete(n)) => {
                    if n <= offset {
                        stalls += 1;
                        if stalls >= 3 {
                            return Err(transient(format!(
                                "YouTube accepted none of the last {stalls} chunks of {} — Outpost will retry",
                                st.file_name()
                            )));
                        }
                    } else {
                        stalls = 0;
                    }
                    // Continue from what the server says it has, never from what was sent.
                    st.offset = n.min(st.total);
                    sent += len;
                }
                Ok(Answer::Complete(video)) => {
                    return self.finish_upload(auth, req, st, video).await
                }
                Ok(Answer::Dead(status)) => {
                    return self.replace_session(auth, req, st, status).await
                }
                Err(e) => {
                    if st.offset > from && matches!(e.class, ErrorClass::Transient { .. }) {
                        // This step moved the upload on: keep that (the stored offset
                        // advances) and carry on at once from what the server kept — the
                        // line worked a moment ago, and the next step starts by asking the
                        // session. A step that moves nothing fails instead, and the
                        // dispatcher's back-off applies.
                        tracing::warn!(
                            network = NET.as_str(),
                            account = req.account.id.as_str(),
                            target = req.target_id,
                            offset = st.offset,
                            total = st.total,
                            error = %e.message,
                            "youtube upload interrupted after progress; resuming from the server's offset"
                        );
                        return Ok(self.upload_progress(st, Duration::ZERO));
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn set_thumbnail(
        &self,
        auth: &Auth,
        video_id: &str,
        thumb: &Thumbnail,
    ) -> Result<(), PublishError> {
        let path = thumb.path.clone();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(&path))
            .await
            .map_err(|e| unreadable(&name, &e.to_string()))?
            .map_err(|e| unreadable(&name, &e.to_string()))?;
        if bytes.len() as u64 > super::THUMBNAIL_MAX_BYTES {
            return Err(permanent(format!(
                "the thumbnail {name} is larger than 2 MB"
            )));
        }
        let call = Call::new(
            Method::POST,
            "/upload/youtube/v3/thumbnails/set",
            "thumbnails.set",
            format!("setting the thumbnail {name}"),
        )
        .query("videoId", video_id)
        .query("uploadType", "media")
        .payload(Payload::Bytes {
            content_type: thumb.mime.to_string(),
            body: bytes,
        });
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(classify(&reply, &auth.secrets(), &self.quota));
        }
        Ok(())
    }

    /// The last byte is in: the video exists. Thumbnail, then processed → published, else
    /// stage `processing`.
    async fn finish_upload(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        mut st: UploadState,
        video: Value,
    ) -> Result<PartOutcome, PublishError> {
        let id = video
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let upload_status = video
            .pointer("/status/uploadStatus")
            .and_then(Value::as_str)
            .unwrap_or("uploaded")
            .to_string();
        let now = Utc::now();
        st.stage = "processing".into();
        st.offset = st.total;
        st.progress = 100;
        st.video_id = Some(id.clone());
        st.uploaded_at = Some(now);
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            remote = id.as_str(),
            bytes = st.total,
            sessions = st.sessions,
            upload_status = upload_status.as_str(),
            "youtube upload complete"
        );
        if matches!(upload_status.as_str(), "failed" | "rejected") {
            let reason = video
                .pointer("/status/failureReason")
                .or_else(|| video.pointer("/status/rejectionReason"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.forget_session(req);
            return Err(upload_failed(&st, &upload_status, reason));
        }
        // The video exists whatever happens to the thumbnail: a failure is a notice.
        match plan::thumbnail_of(req.options) {
            Ok(Some(thumb)) => match self.set_thumbnail(auth, &id, &thumb).await {
                Ok(()) => {
                    st.thumbnail_set = true;
                    st.quota_units += u64::from(self.quota.thumbnails_set);
                }
                Err(e) => {
                    tracing::warn!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        remote = id.as_str(),
                        error = %e.message,
                        "youtube thumbnail not set"
                    );
                    st.notices.push(format!(
                        "the custom thumbnail was not set ({})",
                        e.message.trim_start_matches("YouTube: ")
                    ));
                }
            },
            Ok(None) => {}
            Err(e) => st.notices.push(format!(
                "the custom thumbnail was not set ({})",
                e.message.trim_start_matches("YouTube: ")
            )),
        }
        if upload_status == "processed" {
            return Ok(PartOutcome::Published(self.published(req, &st, &video)));
        }
        st.updated_at = now;
        Ok(PartOutcome::Processing {
            phase: st.to_phase(),
            poll_after: self.processing_poll,
        })
    }

    fn published(&self, req: &PartRequest<'_>, st: &UploadState, video: &Value) -> PublishedPart {
        let id = video
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| st.video_id.clone())
            .unwrap_or_default();
        let mut part = published_part(&id, None);
        describe_video(&mut part, video, Some(st), &self.quota);
        self.forget_session(req);
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            remote = id.as_str(),
            quota_units = st.quota_units,
            scheduled = part.extra.get("scheduled_on_network").is_some(),
            "youtube video published"
        );
        part
    }

    /// Stage `processing`: one `videos.list` check.
    pub(super) async fn processing_step(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let mut st: UploadState = serde_json::from_value(phase.clone()).map_err(|_| {
            permanent("the stored upload state cannot be read — retry the post to upload it again")
        })?;
        let Some(id) = st.video_id.clone() else {
            return Err(permanent(
                "the stored upload state has no video id — retry the post to upload it again",
            ));
        };
        let now = Utc::now();
        let waited_too_long = st
            .uploaded_at
            .is_some_and(|t| now - t > self.processing_wait);
        let call = Call::get(
            "/youtube/v3/videos",
            "videos.list",
            format!("checking the processing of {}", st.file_name()),
        )
        .query("part", "status,processingDetails")
        .query("id", &id);
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            let e = classify(&reply, &auth.secrets(), &self.quota);
            let minimal = json!({ "id": id });
            return match e.class {
                ErrorClass::Reauth => Err(e),
                ErrorClass::RateLimited { until } if until - now < chrono::Duration::hours(1) => {
                    Ok(PartOutcome::Processing {
                        phase: st.to_phase(),
                        poll_after: (until - now).to_std().unwrap_or(self.processing_poll),
                    })
                }
                ErrorClass::Transient { .. } if !waited_too_long => {
                    tracing::warn!(network = NET.as_str(), account = req.account.id.as_str(), remote = id.as_str(), error = %e.message, "youtube processing check failed; checking again");
                    Ok(PartOutcome::Processing {
                        phase: st.to_phase(),
                        poll_after: self.processing_poll.max(Duration::from_secs(1)),
                    })
                }
                // The video is uploaded; without a way to check it, report it with a notice
                // rather than fail (a retry would upload it twice).
                _ => {
                    st.notices.push(format!(
                        "Outpost could not confirm that YouTube finished processing the video ({}) — check it in YouTube Studio",
                        e.message.trim_start_matches("YouTube: ")
                    ));
                    Ok(PartOutcome::Published(self.published(req, &st, &minimal)))
                }
            };
        }
        st.quota_units += u64::from(self.quota.videos_list);
        st.polls += 1;
        let Some(body) = reply.json() else {
            return Err(malformed(&reply, &auth.secrets()));
        };
        let Some(video) = body
            .get("items")
            .and_then(Value::as_array)
            .and_then(|i| i.first())
            .cloned()
        else {
            self.forget_session(req);
            return Err(permanent(format!(
                "the video {id} is no longer on YouTube (deleted while it was processing?) — retry the post to upload it again"
            )));
        };
        let status = video
            .pointer("/status/uploadStatus")
            .and_then(Value::as_str)
            .unwrap_or("uploaded")
            .to_string();
        match status.as_str() {
            "processed" => Ok(PartOutcome::Published(self.published(req, &st, &video))),
            "failed" | "rejected" => {
                let reason = video
                    .pointer("/status/failureReason")
                    .or_else(|| video.pointer("/status/rejectionReason"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    remote = id.as_str(),
                    status = status.as_str(),
                    reason,
                    "youtube processing ended without a video"
                );
                self.forget_session(req);
                Err(upload_failed(&st, &status, reason))
            }
            "deleted" => {
                self.forget_session(req);
                Err(permanent(format!(
                    "the video {id} was deleted on YouTube while it was processing — retry the post to upload it again"
                )))
            }
            _ if waited_too_long => {
                st.notices.push(format!(
                    "YouTube was still processing the video after {} minutes; it appears on the channel when processing finishes",
                    self.processing_wait.num_minutes()
                ));
                Ok(PartOutcome::Published(self.published(req, &st, &video)))
            }
            _ => {
                let left = video
                    .pointer("/processingDetails/processingProgress/timeLeftMs")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .map(|ms| Duration::from_millis(ms).max(Duration::from_secs(1)));
                let poll_after = match left {
                    Some(l) => l.min(self.processing_poll),
                    None => self.processing_poll,
                };
                st.updated_at = now;
                Ok(PartOutcome::Processing {
                    phase: st.to_phase(),
                    poll_after,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_the_next_offset() {
        assert_eq!(range_end("bytes=0-524287"), Some(524_288));
        assert_eq!(range_end("bytes=0-0"), Some(1));
        assert_eq!(range_end("bytes=5-9"), None);
        assert_eq!(range_end("0-9"), None);
    }

    #[test]
    fn the_phase_round_trips_and_names_the_part() {
        let st = UploadState {
            part: 0,
            stage: "upload".into(),
            session: "https://x/upload?upload_id=1".into(),
            total: 10,
            offset: 4,
            progress: 40,
            mime: "video/mp4".into(),
            file: "/tmp/a.mp4".into(),
            sessions: 1,
            publish_at: None,
            privacy: "public".into(),
            video_id: None,
            polls: 0,
            uploaded_at: None,
            quota_units: 1600,
            notices: vec![],
            thumbnail_set: false,
            chunk: None,
            updated_at: Utc::now(),
        };
        let v = st.to_phase();
        assert_eq!(v["part"], 0);
        assert_eq!(v["offset"], 4);
        let back: UploadState = serde_json::from_value(v).expect("round trip");
        assert_eq!(back.session, st.session);
    }

    #[test]
    fn failures_name_the_reason_and_the_fix() {
        let st = UploadState {
            part: 0,
            stage: "processing".into(),
            session: String::new(),
            total: 1,
            offset: 1,
            progress: 100,
            mime: "video/mp4".into(),
            file: "/x/clip.mp4".into(),
            sessions: 1,
            publish_at: None,
            privacy: "public".into(),
            video_id: Some("v".into()),
            polls: 1,
            uploaded_at: None,
            quota_units: 0,
            notices: vec![],
            thumbnail_set: false,
            chunk: None,
            updated_at: Utc::now(),
        };
        let e = upload_failed(&st, "failed", "codec");
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("Failed upload"), "{}", e.message);
        assert!(e.message.contains("clip.mp4"), "{}", e.message);
        assert!(e.message.contains("codec"), "{}", e.message);
        assert!(e.message.contains("H.264"), "{}", e.message);
    }
}
