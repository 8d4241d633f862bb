//! Video posts through Bluesky's video service (`bluesky.md` §6), in two phases:
//!
//! 1. [`Bluesky::start_video`]: a service token from the PDS (`getServiceAuth`, `aud` = the
//!    PDS's own `did:web`, `lxm=com.atproto.repo.uploadBlob`, 30 min), then the file, streamed
//!    from disk, to `app.bsky.video.uploadVideo`. The answer is a processing job →
//!    [`PartOutcome::Processing`] with `{"job_id", "stage", "expires_at", "polls"}`. A video
//!    the service already processed (`already_exists`) comes back with its `blob`: the post is
//!    created at once.
//! 2. [`Bluesky::poll_video`]: `app.bsky.video.getJobStatus` (no auth). Still working →
//!    `Processing` again; a `blob` → `createRecord` with an `app.bsky.embed.video` under the
//!    record key chosen before the first attempt → `Published`; `JOB_STATE_FAILED` → an error
//!    whose class depends on the `failureCode`.
//!
//! The record is only ever created in one place (after the blob exists), under the
//! pre-chosen record key, so reconciliation (`lookup` by rkey) is unchanged.

use super::{
    classify, malformed, no_rkey, permanent, thousands, transient, Bluesky, Call, Payload, Run, NET,
};
use crate::{http, PartOutcome, PartRequest};
use chrono::{SecondsFormat, Utc};
use outpost_auth::Secret;
use outpost_core::error::sanitize_message;
use outpost_core::{ErrorClass, MediaRef, PublishError};
use serde_json::{json, Value};
use std::time::Duration;

/// The only container the video service takes.
const VIDEO_MIME: &str = "video/mp4";
/// The `lxm` of the upload token: the video service uploads the blob to the PDS with it.
const UPLOAD_LXM: &str = "com.atproto.repo.uploadBlob";
/// Lifetime asked for the upload token (the docs suggest about 30 min; the PDS refuses > 1 h).
const SERVICE_TOKEN_MINUTES: i64 = 30;
/// How long a processing job is worth polling (the dispatcher fails the target after it).
const JOB_HOURS: i64 = 24;
/// First polls every 3 s, then every 10 s.
const FAST_POLL: Duration = Duration::from_secs(3);
const SLOW_POLL: Duration = Duration::from_secs(10);
const FAST_POLLS: u64 = 10;
/// Uploads larger than this get a timeout sized to the file instead of the client's.
const LARGE_UPLOAD_BYTES: u64 = 8_000_000;
/// The slowest uplink a large upload is given time for, in bytes per second.
const SLOWEST_UPLINK: u64 = 200_000;

/// `did:web:` + the PDS host (`%3A` before a non-default port), the `aud` the video service
/// expects: the account's real PDS, not the entryway it logged in at.
pub(super) fn pds_service_did(pds: &str) -> String {
    match reqwest::Url::parse(pds) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default();
            match url.port() {
                Some(port) => format!("did:web:{host}%3A{port}"),
                None => format!("did:web:{host}"),
            }
        }
        Err(_) => format!(
            "did:web:{}",
            pds.trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/')
        ),
    }
}

/// The part's one video, checked before anything is sent.
fn the_video<'a>(req: &PartRequest<'a>) -> Result<&'a MediaRef, PublishError> {
    let media = &req.part.media;
    let videos: Vec<&MediaRef> = media.iter().filter(|m| m.is_video()).collect();
    let Some(video) = videos.first().copied() else {
        return Err(permanent(
            "internal error: this part has no video to continue with — retry the post",
        ));
    };
    if videos.len() > 1 {
        return Err(permanent(format!(
            "{} videos attached; Bluesky takes one video per post — remove {}",
            videos.len(),
            videos.len() - 1
        )));
    }
    if let Some(other) = media.iter().find(|m| !m.is_video()) {
        return Err(permanent(format!(
            "a Bluesky post carries either images or one video, not both — remove {} or the video",
            other.file_name()
        )));
    }
    if !video.mime.eq_ignore_ascii_case(VIDEO_MIME) {
        return Err(permanent(format!(
            "{} is {}; Bluesky takes video only as MP4 (video/mp4) — export it as H.264 MP4",
            video.file_name(),
            video.mime
        )));
    }
    Ok(video)
}

/// A job status from either answer form: `{"jobStatus": {…}}` (the lexicon) or the bare
/// object (the tutorial).
fn job_status(body: &Value) -> Option<&Value> {
    match body.get("jobStatus") {
        Some(status) if status.is_object() => Some(status),
        _ if body.get("jobId").is_some() || body.get("state").is_some() => Some(body),
        _ => None,
    }
}

/// The blob the job produced, wherever the answer carries it (an `already_exists` error
/// still does).
fn blob_of(body: &Value) -> Option<Value> {
    job_status(body)
        .and_then(|s| s.get("blob"))
        .or_else(|| body.get("blob"))
        .filter(|b| b.is_object())
        .cloned()
}

fn text_field<'v>(body: &'v Value, key: &str) -> Option<&'v str> {
    job_status(body)
        .and_then(|s| s.get(key))
        .or_else(|| body.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn unconfirmed_email() -> PublishError {
    permanent(
        "the video service refuses uploads until the account's email address is verified (unconfirmed_email) — verify your email address on Bluesky first (Settings → Account → Email), then retry",
    )
}

/// `JOB_STATE_FAILED`, explained for a person.
fn job_failed(code: &str, server_message: Option<&str>, video: &MediaRef) -> PublishError {
    let file = video.file_name();
    let says = server_message
        .map(|m| sanitize_message(m, 120))
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match code {
        "encoding_failure" => permanent(format!(
            "the video service could not encode {file} (encoding_failure) — export it again as H.264 MP4"
        )),
        "validation_failure" => permanent(format!(
            "the video service did not accept {file} as a video (validation_failure{says}) — check that it plays, then export it again as H.264 MP4 (at most 3 minutes)"
        )),
        "pds_upload_unsupported_blob_size" => permanent(format!(
            "the account's PDS does not take a video as large as {file} ({} bytes) (pds_upload_unsupported_blob_size) — use a shorter or smaller video (a self-hosted PDS can raise PDS_BLOB_UPLOAD_LIMIT)",
            thousands(video.bytes)
        )),
        "unconfirmed_email" => unconfirmed_email(),
        "pds_upload_failure" => transient(format!(
            "the video service could not store {file} on the account's PDS (pds_upload_failure) — Outpost will upload it again"
        )),
        "generic_failure" => transient(format!(
            "the video service failed while processing {file} (generic_failure) — Outpost will upload it again"
        )),
        other => permanent(format!(
            "the video service could not process {file} ({}{says}) — export it again as H.264 MP4 and retry",
            if other.is_empty() { "no reason given" } else { other }
        )),
    }
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

/// `JOB_STATE_ENCODING` → `encoding`.
fn stage(state: &str) -> String {
    state
        .strip_prefix("JOB_STATE_")
        .unwrap_or(state)
        .to_ascii_lowercase()
}

impl Bluesky {
    /// Phase one: upload the video; see the module docs.
    pub(super) async fn start_video(
        &self,
        req: &PartRequest<'_>,
    ) -> Result<PartOutcome, PublishError> {
        let Some(rkey) = req.client_handle else {
            return Err(no_rkey());
        };
        let video = the_video(req)?;
        let len = self.check_video_file(video).await?;
        let mut run = self.start_run(req.account).await?;
        let token = self.upload_token(&mut run).await?;

        let mut call = Call::post(
            &self.video,
            "app.bsky.video.uploadVideo",
            "uploading the video",
            Payload::File {
                path: video.path.clone(),
                name: format!("video {}", video.file_name()),
                mime: VIDEO_MIME.to_string(),
                len,
            },
        )
        .query("did", &run.session.did)
        .query("name", video.file_name())
        .bearer(token.expose());
        if len > LARGE_UPLOAD_BYTES {
            call.timeout = Some(http::REQUEST_TIMEOUT + Duration::from_secs(len / SLOWEST_UPLINK));
        }
        let reply = self.xrpc(&run.account.id, &call).await?;
        let body = reply.json().unwrap_or(Value::Null);

        // Always look for a blob first: `already_exists` is an error that carries one.
        if let Some(blob) = blob_of(&body) {
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                status = reply.status.as_u16(),
                "bluesky video already processed; creating the post"
            );
            return self
                .create_video_post(&mut run, req, rkey, video, blob)
                .await
                .map(PartOutcome::Published);
        }
        let error = text_field(&body, "error").unwrap_or_default();
        if error == "unconfirmed_email" {
            return Err(unconfirmed_email().with_excerpt(&reply.body, &run.secret_strs()));
        }
        if !reply.ok() {
            return Err(self.video_upload_error(&run, &reply, error));
        }
        let Some(job_id) = text_field(&body, "jobId") else {
            return Err(malformed(&reply, &run.secret_strs()));
        };
        if text_field(&body, "state") == Some("JOB_STATE_FAILED") {
            let code = text_field(&body, "failureCode").unwrap_or(error);
            return Err(job_failed(code, text_field(&body, "message"), video)
                .with_excerpt(&reply.body, &run.secret_strs()));
        }
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            job_id,
            bytes = len,
            "bluesky video uploaded; processing"
        );
        let expires_at = (Utc::now() + chrono::Duration::hours(JOB_HOURS))
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let phase = json!({
            "job_id": job_id,
            "stage": "encoding",
            "expires_at": expires_at,
            "polls": 0,
        });
        Ok(processing(phase, 0))
    }

    /// Phase two: ask how the job is doing; create the post once the blob exists.
    pub(super) async fn poll_video(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let Some(rkey) = req.client_handle else {
            return Err(no_rkey());
        };
        let Some(job_id) = phase.get("job_id").and_then(Value::as_str) else {
            return Err(permanent(
                "internal error: the stored video processing state has no job id — retry the post to upload the video again",
            ));
        };
        let video = the_video(req)?;
        let call = Call::get(
            &self.video,
            "app.bsky.video.getJobStatus",
            "checking the video's processing",
        )
        .query("jobId", job_id);
        let reply = self.xrpc(&req.account.id, &call).await?;
        let body = reply.json().unwrap_or(Value::Null);
        if let Some(blob) = blob_of(&body) {
            let mut run = self.start_run(req.account).await?;
            return self
                .create_video_post(&mut run, req, rkey, video, blob)
                .await
                .map(PartOutcome::Published);
        }
        if !reply.ok() {
            if reply.status.as_u16() == 404 {
                return Err(permanent(format!(
                    "the video service no longer knows the processing of {} (job {job_id}, HTTP 404) — retry the post to upload the video again",
                    video.file_name()
                ))
                .with_excerpt(&reply.body, &[]));
            }
            return Err(classify(&reply, &req.account.handle, &[]));
        }
        let Some(state) = text_field(&body, "state") else {
            return Err(malformed(&reply, &[]));
        };
        match state {
            "JOB_STATE_FAILED" => {
                let code = text_field(&body, "failureCode")
                    .or_else(|| text_field(&body, "error"))
                    .unwrap_or_default();
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    job_id,
                    failure_code = code,
                    "bluesky video processing failed"
                );
                let failure = job_failed(code, text_field(&body, "message"), video)
                    .with_excerpt(&reply.body, &[]);
                // A failed job cannot be resumed: for the retryable codes upload again
                // (once), here, so the dispatcher keeps polling the new job.
                let restarts = phase.get("restarts").and_then(Value::as_u64).unwrap_or(0);
                if !failure.class.is_transient() {
                    return Err(failure);
                }
                if restarts >= 1 {
                    return Err(permanent(format!(
                        "{} (it failed again after Outpost uploaded it a second time) — retry later or export the video again",
                        failure.message.trim_start_matches("Bluesky: ")
                    ))
                    .with_excerpt(&reply.body, &[]));
                }
                match self.start_video(req).await? {
                    PartOutcome::Processing { mut phase, poll_after } => {
                        if let Some(map) = phase.as_object_mut() {
                            map.insert("restarts".into(), json!(restarts + 1));
                        }
                        Ok(PartOutcome::Processing { phase, poll_after })
                    }
                    published => Ok(published),
                }
            }
            "JOB_STATE_COMPLETED" => Err(transient(format!(
                "the video service says {} is ready but sent no blob reference — Outpost will retry",
                video.file_name()
            ))
            .with_excerpt(&reply.body, &[])),
            _ => {
                let polls = phase.get("polls").and_then(Value::as_u64).unwrap_or(0) + 1;
                let mut next = phase.clone();
                if let Some(map) = next.as_object_mut() {
                    map.insert("stage".into(), json!(stage(state)));
                    map.insert("polls".into(), json!(polls));
                    if let Some(progress) = job_status(&body)
                        .and_then(|s| s.get("progress"))
                        .and_then(Value::as_u64)
                    {
                        map.insert("progress".into(), json!(progress));
                    }
                }
                tracing::debug!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    job_id,
                    state,
                    polls,
                    "bluesky video still processing"
                );
                Ok(processing(next, polls))
            }
        }
    }

    /// The file's size, after checking it exists, is not empty and fits the limit.
    async fn check_video_file(&self, video: &MediaRef) -> Result<u64, PublishError> {
        let file = video.file_name();
        let meta = tokio::fs::metadata(&video.path).await.map_err(|e| {
            permanent(format!(
                "video {file} cannot be read ({}) — attach it again",
                sanitize_message(&e.to_string(), 80)
            ))
        })?;
        let limit = outpost_core::validate::limits(NET).video_max_bytes;
        if meta.len() == 0 {
            return Err(permanent(format!(
                "video {file} is empty — attach it again"
            )));
        }
        if limit > 0 && meta.len() > limit {
            return Err(permanent(format!(
                "video {file} is {} bytes; the limit is {} — shorten or recompress it, then retry",
                thousands(meta.len()),
                thousands(limit)
            )));
        }
        Ok(meta.len())
    }

    /// A service token the video service accepts for uploading to this account's PDS.
    async fn upload_token(&self, run: &mut Run<'_>) -> Result<Secret, PublishError> {
        let exp = (Utc::now() + chrono::Duration::minutes(SERVICE_TOKEN_MINUTES)).timestamp();
        let reply = self
            .authed(run, |s| {
                Call::get(
                    &s.pds,
                    "com.atproto.server.getServiceAuth",
                    "asking the PDS for a video upload token",
                )
                .query("aud", &pds_service_did(&s.pds))
                .query("lxm", UPLOAD_LXM)
                .query("exp", &exp.to_string())
                .bearer(&s.access_jwt)
            })
            .await?;
        if !reply.ok() {
            return Err(run.classify(&reply));
        }
        let token = reply
            .json()
            .and_then(|v| v.get("token")?.as_str().map(str::to_string))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| malformed(&reply, &run.secret_strs()))?;
        let token = Secret::new(token);
        run.secrets.push(token.clone());
        Ok(token)
    }

    /// A refused `uploadVideo` (no blob in the answer).
    fn video_upload_error(&self, run: &Run<'_>, reply: &super::Reply, error: &str) -> PublishError {
        let status = reply.status.as_u16();
        // The video service checks the upload token itself: a refusal is not a stale session
        // (the token was minted a moment ago), so renewing the session would not help.
        if status == 401 || (status == 400 && matches!(error, "ExpiredToken" | "InvalidToken")) {
            let name = if error.is_empty() {
                String::new()
            } else {
                format!(" {error}")
            };
            return permanent(format!(
                "the video service refused Outpost's upload token (HTTP {status}{name}) — check the account's PDS address and the computer's clock, then retry; if it persists, report this bug"
            ))
            .with_excerpt(&reply.body, &run.secret_strs());
        }
        run.classify(reply)
    }

    /// `createRecord` with an `app.bsky.embed.video`.
    async fn create_video_post(
        &self,
        run: &mut Run<'_>,
        req: &PartRequest<'_>,
        rkey: &str,
        video: &MediaRef,
        blob: Value,
    ) -> Result<crate::PublishedPart, PublishError> {
        let mut record = self.base_record(run, req).await?;
        let mut embed = json!({ "$type": "app.bsky.embed.video", "video": blob });
        if let Some(alt) = video.alt.as_deref().filter(|a| !a.trim().is_empty()) {
            embed["alt"] = json!(alt);
        }
        if let (Some(w), Some(h)) = (video.width, video.height) {
            if w >= 1 && h >= 1 {
                embed["aspectRatio"] = json!({ "width": w, "height": h });
            }
        }
        record["embed"] = embed;
        self.create_post(run, req, rkey, record)
            .await
            .map_err(|e| {
                // The PDS drops a blob no record references after a few minutes: a post that
                // could not be created for that long needs the video uploaded again.
                let gone = e.class == ErrorClass::Permanent
                    && e.excerpt.as_deref().is_some_and(|x| x.contains("BlobNotFound"));
                if gone {
                    PublishError {
                        message: format!(
                            "Bluesky: the account's PDS no longer has the processed video {} (BlobNotFound) — retry the post to upload it again",
                            video.file_name()
                        ),
                        ..e
                    }
                } else {
                    e
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_the_pds_host_as_did_web() {
        assert_eq!(
            pds_service_did("https://morel.us-east.host.bsky.network"),
            "did:web:morel.us-east.host.bsky.network"
        );
        assert_eq!(
            pds_service_did("http://127.0.0.1:4321"),
            "did:web:127.0.0.1%3A4321"
        );
        assert_eq!(pds_service_did("https://pds.test:443/"), "did:web:pds.test");
    }

    #[test]
    fn both_answer_forms_are_read() {
        let wrapped = json!({"jobStatus": {"jobId": "j1", "state": "JOB_STATE_CREATED"}});
        let bare = json!({"jobId": "j1", "state": "JOB_STATE_CREATED"});
        assert_eq!(text_field(&wrapped, "jobId"), Some("j1"));
        assert_eq!(text_field(&bare, "jobId"), Some("j1"));
        let exists = json!({"error": "already_exists", "jobId": "j", "blob": {"$type": "blob"}});
        assert!(blob_of(&exists).is_some());
        let top = json!({"error": "already_exists", "blob": {"$type": "blob"}});
        assert!(blob_of(&top).is_some());
        assert!(blob_of(&json!({"error": "x"})).is_none());
    }

    #[test]
    fn failure_codes_are_classified() {
        let v = MediaRef {
            path: "/tmp/clip.mp4".into(),
            sha256: String::new(),
            mime: "video/mp4".into(),
            bytes: 1,
            width: None,
            height: None,
            alt: None,
        };
        let e = job_failed("encoding_failure", None, &v);
        assert_eq!(e.class, ErrorClass::Permanent);
        assert_eq!(
            e.message,
            "Bluesky: the video service could not encode clip.mp4 (encoding_failure) — export it again as H.264 MP4"
        );
        for code in ["generic_failure", "pds_upload_failure"] {
            assert!(job_failed(code, None, &v).class.is_transient(), "{code}");
        }
        for code in [
            "validation_failure",
            "pds_upload_unsupported_blob_size",
            "new_code",
        ] {
            assert_eq!(
                job_failed(code, None, &v).class,
                ErrorClass::Permanent,
                "{code}"
            );
        }
        assert!(job_failed("unconfirmed_email", None, &v)
            .message
            .contains("verify your email address on Bluesky first"));
        assert_eq!(stage("JOB_STATE_SCANNED"), "scanned");
    }
}
