//! Bluesky's video service (`https://video.bsky.app`) on the fake's third
//! listener, after `bluesky.md` §6:
//!
//! - `POST app.bsky.video.uploadVideo?did=&name=` — raw `video/mp4` bytes,
//!   `Authorization: Bearer <service token>` from the PDS's
//!   `getServiceAuth` with `aud` = the PDS's `did:web` and
//!   `lxm=com.atproto.repo.uploadBlob`. Answers a `JobStatus`, wrapped
//!   (`{"jobStatus":{…}}`, the lexicon's form, default) or bare (the
//!   tutorial's), see [`JobStatusForm`].
//! - `GET app.bsky.video.getJobStatus?jobId=` — no auth. Each call advances
//!   the job: `JOB_STATE_CREATED` (the upload's answer) → `ENCODING` →
//!   `ENCODED` → `SCANNING` → `SCANNED` → `UPLOADING` → `UPLOADED` →
//!   `COMPLETED` (with `blob`, now stored on the PDS like an `uploadBlob`
//!   and usable in an `app.bsky.embed.video`), or `FAILED` with
//!   `failureCode`. How many polls (or fake-clock seconds) that takes is
//!   [`JobPace`]; how it ends is [`JobOutcome`]. Both are captured when the
//!   job is created.
//! - `GET app.bsky.video.getUploadLimits` — service token with `aud` = the
//!   video service's `did:web` and `lxm=app.bsky.video.getUploadLimits`
//!   (the doc's "probably"); answers `{canUpload, remainingDailyVideos,
//!   remainingDailyBytes, message?, error?}`.
//!
//! Wire details the doc marks UNCONFIRMED, chosen here (each a plausible
//! reading; the client must not depend on the status codes):
//! - A re-upload of a video that already finished (same bytes, same DID), or
//!   any upload while [`super::BlueskyFake::set_video_already_exists`] is on,
//!   answers **HTTP 409** with the job status (in the configured form) plus
//!   `error: "already_exists"` and the finished job's `blob`. A re-upload of
//!   a video still processing answers that job (200).
//! - An account whose email is not verified gets **HTTP 403**
//!   `{"error":"unconfirmed_email","message":…}`.
//! - An exhausted daily allowance gets **HTTP 429** `RateLimitExceeded` with
//!   `Retry-After` (seconds until the account's 24 h window ends).
//! - An unknown `jobId` gets **HTTP 404** `{"error":"NotFound"}`.
//! - Bytes that do not sniff as MP4 (`ftyp` box) fail the job on its first
//!   poll with `validation_failure`; a finished video larger than the PDS's
//!   blob limit ([`super::BlueskyFake::set_blob_limit`]) fails with
//!   `pds_upload_unsupported_blob_size`.
//! - Service-token failures answer `401` with the `@atproto/xrpc-server`
//!   names: `AuthMissing`, `BadJwtSignature`, `BadJwtType` (a session JWT
//!   sent instead), `JwtExpired`, `BadJwtAudience`, `BadJwtLexiconMethod`.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::tokens;
use super::xrpc::{cid, gc_blobs, sniff_mime};
use super::{BlobEntry, Inner, Req, Shared};
use crate::common::{random_string, BASE32_ALPHABET};

pub(crate) const STATE_CREATED: &str = "JOB_STATE_CREATED";
pub(crate) const STATE_COMPLETED: &str = "JOB_STATE_COMPLETED";
pub(crate) const STATE_FAILED: &str = "JOB_STATE_FAILED";
const STATE_ENCODING: &str = "JOB_STATE_ENCODING";
/// The in-progress states after `CREATED`, in order.
const IN_PROGRESS: [&str; 6] = [
    STATE_ENCODING,
    "JOB_STATE_ENCODED",
    "JOB_STATE_SCANNING",
    "JOB_STATE_SCANNED",
    "JOB_STATE_UPLOADING",
    "JOB_STATE_UPLOADED",
];

const LXM_UPLOAD: &str = "com.atproto.repo.uploadBlob";
const LXM_LIMITS: &str = "app.bsky.video.getUploadLimits";

/// How long a video job takes to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobPace {
    /// Finishes on the n-th `getJobStatus` call (n ≥ 1; 0 counts as 1).
    Polls(u32),
    /// Finishes on the first `getJobStatus` call once this many seconds of
    /// the fake's clock ([`super::BlueskyFake::advance_time`]) have passed
    /// since the upload.
    Seconds(u64),
}

/// How a video job ends. JSON form (tagged by `type`):
/// `{"type":"complete"}`, `{"type":"never_completes"}`,
/// `{"type":"fail","failure_code":"encoding_failure","message":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobOutcome {
    /// `JOB_STATE_COMPLETED` with a `blob`.
    Complete,
    /// Stays `JOB_STATE_ENCODING` forever.
    NeverCompletes,
    /// `JOB_STATE_FAILED` with this `failureCode` (`validation_failure`,
    /// `encoding_failure`, `pds_upload_failure`,
    /// `pds_upload_unsupported_blob_size`, `generic_failure`, or anything).
    Fail {
        failure_code: String,
        #[serde(default)]
        message: Option<String>,
    },
}

impl JobOutcome {
    /// A `Fail` with the service's usual message for the code.
    pub fn fail(failure_code: &str) -> JobOutcome {
        JobOutcome::Fail {
            failure_code: failure_code.to_string(),
            message: None,
        }
    }
}

/// The shape of `uploadVideo`'s answer (`getJobStatus` always wraps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatusForm {
    /// `{"jobStatus": {…}}`, as the lexicon declares.
    Wrapped,
    /// The `JobStatus` object itself, as the tutorial reads it.
    Bare,
}

/// A video job as the fake sees it (for assertions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoJob {
    pub job_id: String,
    pub did: String,
    pub name: String,
    pub size: usize,
    pub state: String,
    pub progress: u32,
    /// `getJobStatus` calls so far.
    pub polls: u32,
    /// The blob's CID once completed.
    pub blob_cid: Option<String>,
    pub failure_code: Option<String>,
}

pub(crate) struct VideoState {
    pub pace: JobPace,
    pub outcome: JobOutcome,
    pub form: JobStatusForm,
    pub already_exists: bool,
    pub daily_videos: u32,
    pub daily_bytes: u64,
    /// did → usage in the current 24 h window.
    pub usage: HashMap<String, Usage>,
    jobs: Vec<Job>,
}

impl Default for VideoState {
    fn default() -> Self {
        VideoState {
            pace: JobPace::Polls(2),
            outcome: JobOutcome::Complete,
            form: JobStatusForm::Wrapped,
            already_exists: false,
            // Bluesky's published defaults are not in the doc; plausible values.
            daily_videos: 25,
            daily_bytes: 10 * 1024 * 1024 * 1024,
            usage: HashMap::new(),
            jobs: Vec::new(),
        }
    }
}

impl VideoState {
    pub(crate) fn snapshot(&self) -> Vec<VideoJob> {
        self.jobs
            .iter()
            .map(|j| VideoJob {
                job_id: j.id.clone(),
                did: j.did.clone(),
                name: j.name.clone(),
                size: j.data.len(),
                state: j.state.to_string(),
                progress: j.progress,
                polls: j.polls,
                blob_cid: j.blob.as_ref().and_then(|b| {
                    b.get("ref")
                        .and_then(|r| r.get("$link"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }),
                failure_code: j.failure.as_ref().map(|(code, _)| code.clone()),
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Usage {
    start: DateTime<Utc>,
    videos: u32,
    bytes: u64,
}

struct Job {
    id: String,
    did: String,
    name: String,
    data: Bytes,
    sha256: String,
    created_at: DateTime<Utc>,
    polls: u32,
    pace: JobPace,
    outcome: JobOutcome,
    state: &'static str,
    progress: u32,
    blob: Option<Value>,
    /// (failureCode, message)
    failure: Option<(String, String)>,
}

impl Job {
    fn status(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("jobId".into(), json!(self.id));
        m.insert("did".into(), json!(self.did));
        m.insert("state".into(), json!(self.state));
        m.insert("progress".into(), json!(self.progress));
        if let Some(blob) = &self.blob {
            m.insert("blob".into(), blob.clone());
        }
        if let Some((code, message)) = &self.failure {
            m.insert("error".into(), json!(code));
            m.insert("failureCode".into(), json!(code));
            m.insert("message".into(), json!(message));
        }
        m
    }
    fn finished(&self) -> bool {
        self.state == STATE_COMPLETED || self.state == STATE_FAILED
    }
    fn fail(&mut self, code: &str, message: &str) {
        self.state = STATE_FAILED;
        self.failure = Some((code.to_string(), message.to_string()));
    }
}

fn default_failure_message(code: &str) -> &'static str {
    match code {
        "validation_failure" => "Video failed validation",
        "encoding_failure" => "Video failed to encode",
        "pds_upload_failure" => "Failed to upload the video to the PDS",
        "pds_upload_unsupported_blob_size" => {
            "The PDS does not accept blobs this large (PDS_BLOB_UPLOAD_LIMIT)"
        }
        _ => "Video processing failed",
    }
}

// ---- responses ---------------------------------------------------------------------------

struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<i64>,
}

type VResult = Result<Answer, Answer>;

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body,
        retry_after: None,
    }
}

fn xerr(status: u16, error: &str, message: impl Into<String>) -> Answer {
    answer(status, json!({ "error": error, "message": message.into() }))
}

fn invalid(message: impl Into<String>) -> Answer {
    xerr(400, "InvalidRequest", message)
}

fn into_response(a: Answer) -> Response<Body> {
    let mut builder = Response::builder()
        .status(a.status)
        .header("Content-Type", "application/json; charset=utf-8");
    if let Some(secs) = a.retry_after {
        builder = builder.header("Retry-After", secs.max(1).to_string());
    }
    builder
        .body(Body::from(a.body.to_string()))
        .unwrap_or_else(|_| super::plain(500, "response build error"))
}

/// One request to the video listener (no fault).
pub(crate) fn process(shared: &Shared, req: &Req, nsid: &str) -> Response<Body> {
    let mut inner = shared.lock();
    let now = inner.now();
    let want = |method: &str| -> Result<(), Answer> {
        let ok = req.method == method || (method == "GET" && req.method == "HEAD");
        if ok {
            Ok(())
        } else {
            Err(invalid(format!(
                "Incorrect HTTP method ({}) expected {method}",
                req.method
            )))
        }
    };
    let result = match nsid {
        "_health" => Ok(answer(200, json!({ "version": "video-outpost-fake" }))),
        "app.bsky.video.uploadVideo" => {
            want("POST").and_then(|()| upload_video(shared, &mut inner, req, now))
        }
        "app.bsky.video.getJobStatus" => {
            want("GET").and_then(|()| get_job_status(shared, &mut inner, req, now))
        }
        "app.bsky.video.getUploadLimits" => {
            want("GET").and_then(|()| get_upload_limits(shared, &mut inner, req, now))
        }
        _ => Err(xerr(404, "XRPCNotSupported", "XRPCNotSupported")),
    };
    drop(inner);
    into_response(result.unwrap_or_else(|e| e))
}

fn params(req: &Req) -> Result<Vec<(String, String)>, Answer> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&req.query)
        .map_err(|_| invalid("Invalid query string"))
}

fn required<'a>(params: &'a [(String, String)], key: &str) -> Result<&'a str, Answer> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid(format!("Params must have the property \"{key}\"")))
}

fn auth_error(error: &str, message: impl Into<String>) -> Answer {
    xerr(401, error, message)
}

/// Verifies an inter-service JWT for `aud` and `lxm`; returns its `iss`.
fn service_auth(
    shared: &Shared,
    req: &Req,
    now: DateTime<Utc>,
    aud: &str,
    lxm: &str,
) -> Result<String, Answer> {
    let header = req.header("authorization").unwrap_or_default();
    let Some(token) = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .filter(|t| !t.is_empty())
    else {
        return Err(auth_error("AuthMissing", "Authentication Required"));
    };
    let decoded = tokens::verify(&shared.secret, token)
        .ok_or_else(|| auth_error("BadJwtSignature", "jwt signature does not match jwt issuer"))?;
    if let Some(typ) = decoded
        .typ()
        .filter(|t| matches!(*t, "at+jwt" | "refresh+jwt" | "dpop+jwt"))
    {
        return Err(auth_error(
            "BadJwtType",
            format!("Invalid jwt type \"{typ}\""),
        ));
    }
    if decoded.exp().is_none_or(|exp| exp <= now.timestamp()) {
        return Err(auth_error("JwtExpired", "jwt expired"));
    }
    if decoded.str("aud") != Some(aud) {
        return Err(auth_error(
            "BadJwtAudience",
            "jwt audience does not match service did",
        ));
    }
    match decoded.str("lxm") {
        Some(l) if l == lxm => {}
        Some(_) => {
            return Err(auth_error(
                "BadJwtLexiconMethod",
                format!("bad jwt lexicon method (\"lxm\"). must match: {lxm}"),
            ))
        }
        None => {
            return Err(auth_error(
                "BadJwtLexiconMethod",
                format!("missing jwt lexicon method (\"lxm\"). must match: {lxm}"),
            ))
        }
    }
    decoded
        .str("iss")
        .filter(|iss| iss.starts_with("did:"))
        .map(str::to_string)
        .ok_or_else(|| auth_error("BadJwt", "jwt issuer is missing"))
}

/// The account's usage in its current 24 h window (a fresh window once the
/// last one ended).
fn usage<'a>(inner: &'a mut Inner, did: &str, now: DateTime<Utc>) -> &'a mut Usage {
    let usage = inner.video.usage.entry(did.to_string()).or_insert(Usage {
        start: now,
        videos: 0,
        bytes: 0,
    });
    if now >= usage.start + chrono::Duration::days(1) {
        *usage = Usage {
            start: now,
            videos: 0,
            bytes: 0,
        };
    }
    usage
}

/// Stores a finished video on the PDS (as the real service's `uploadBlob`)
/// and returns its blob ref.
fn store_blob(shared: &Shared, inner: &mut Inner, job: usize, now: DateTime<Utc>) -> Value {
    gc_blobs(shared, inner, now);
    let (did, data) = (
        inner.video.jobs[job].did.clone(),
        inner.video.jobs[job].data.clone(),
    );
    let link = cid(0x55, &data);
    let entry = inner.blobs.entry((did, link.clone())).or_insert(BlobEntry {
        mime: "video/mp4".into(),
        size: data.len(),
        data: data.clone(),
        uploaded_at: now,
        referenced: false,
    });
    entry.uploaded_at = now;
    json!({
        "$type": "blob",
        "ref": { "$link": link },
        "mimeType": "video/mp4",
        "size": data.len(),
    })
}

fn form_body(form: JobStatusForm, status: Map<String, Value>) -> Value {
    match form {
        JobStatusForm::Wrapped => json!({ "jobStatus": Value::Object(status) }),
        JobStatusForm::Bare => Value::Object(status),
    }
}

fn new_job_id() -> String {
    random_string(BASE32_ALPHABET, 20)
}

fn upload_video(shared: &Shared, inner: &mut Inner, req: &Req, now: DateTime<Utc>) -> VResult {
    let iss = service_auth(shared, req, now, &shared.service_did, LXM_UPLOAD)?;
    let params = params(req)?;
    let did = required(&params, "did")?;
    let name = required(&params, "name")?;
    if did != iss {
        return Err(invalid(format!(
            "did {did} does not match the service token's issuer"
        )));
    }
    let Some(account) = inner.account(did).cloned() else {
        return Err(invalid(format!("Could not find account: {did}")));
    };
    if !account.email_confirmed {
        return Err(xerr(
            403,
            "unconfirmed_email",
            "Please verify your email address before uploading videos",
        ));
    }
    let essence = req
        .header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "video/mp4" {
        return Err(invalid(format!(
            "Wrong request encoding (Content-Type): {essence}"
        )));
    }
    if req.body.is_empty() {
        return Err(invalid("Request body is empty"));
    }
    let sha256 = hex::encode(Sha256::digest(&req.body));
    let form = inner.video.form;

    // A video this account already had processed: `already_exists`, blob included.
    let done = inner
        .video
        .jobs
        .iter()
        .position(|j| j.did == did && j.sha256 == sha256 && j.state == STATE_COMPLETED);
    if done.is_some() || inner.video.already_exists {
        let index = match done {
            Some(i) => i,
            None => {
                inner.video.jobs.push(Job {
                    id: new_job_id(),
                    did: did.to_string(),
                    name: name.to_string(),
                    data: req.body.clone(),
                    sha256,
                    created_at: now,
                    polls: 0,
                    pace: JobPace::Polls(1),
                    outcome: JobOutcome::Complete,
                    state: STATE_COMPLETED,
                    progress: 100,
                    blob: None,
                    failure: None,
                });
                inner.video.jobs.len() - 1
            }
        };
        // The service puts the blob on the PDS again (it may have been collected).
        let blob = store_blob(shared, inner, index, now);
        inner.video.jobs[index].blob = Some(blob);
        let mut status = inner.video.jobs[index].status();
        status.insert("error".into(), json!("already_exists"));
        status.insert("message".into(), json!("Video already processed"));
        let mut body = form_body(form, status);
        if let Some(map) = body.as_object_mut() {
            map.insert("error".into(), json!("already_exists"));
            map.insert("message".into(), json!("Video already processed"));
        }
        return Ok(answer(409, body));
    }
    // The same video still processing: that job.
    if let Some(job) = inner
        .video
        .jobs
        .iter()
        .find(|j| j.did == did && j.sha256 == sha256 && !j.finished())
    {
        return Ok(answer(200, form_body(form, job.status())));
    }

    let (daily_videos, daily_bytes) = (inner.video.daily_videos, inner.video.daily_bytes);
    let size = req.body.len() as u64;
    let used = usage(inner, did, now);
    if used.videos >= daily_videos || used.bytes.saturating_add(size) > daily_bytes {
        let retry = (used.start + chrono::Duration::days(1) - now).num_seconds();
        let mut a = xerr(
            429,
            "RateLimitExceeded",
            "You have reached your daily video upload limit",
        );
        a.retry_after = Some(retry);
        return Err(a);
    }
    used.videos += 1;
    used.bytes = used.bytes.saturating_add(size);

    let job = Job {
        id: new_job_id(),
        did: did.to_string(),
        name: name.to_string(),
        data: req.body.clone(),
        sha256,
        created_at: now,
        polls: 0,
        pace: inner.video.pace,
        outcome: inner.video.outcome.clone(),
        state: STATE_CREATED,
        progress: 0,
        blob: None,
        failure: None,
    };
    let body = form_body(form, job.status());
    inner.video.jobs.push(job);
    Ok(answer(200, body))
}

/// Moves a job along by one poll.
fn advance(shared: &Shared, inner: &mut Inner, index: usize, now: DateTime<Utc>) {
    let blob_limit = inner.blob_limit;
    let job = &mut inner.video.jobs[index];
    job.polls = job.polls.saturating_add(1);
    if job.finished() {
        return;
    }
    if sniff_mime(&job.data) != Some("video/mp4") {
        job.fail("validation_failure", "The file is not a valid MP4 video");
        return;
    }
    if job.outcome == JobOutcome::NeverCompletes {
        job.state = STATE_ENCODING;
        job.progress = (job.polls.saturating_mul(7)).min(95);
        return;
    }
    // How far along the job is, in [0, 1): the first poll always sees `ENCODING`.
    let (done, fraction) = match job.pace {
        JobPace::Polls(n) => {
            let n = n.max(1);
            let fraction = if n <= 1 {
                0.0
            } else {
                f64::from(job.polls - 1) / f64::from(n - 1)
            };
            (job.polls >= n, fraction)
        }
        JobPace::Seconds(s) => {
            let elapsed = (now - job.created_at).num_milliseconds().max(0) as f64 / 1000.0;
            let total = (s as f64).max(f64::EPSILON);
            (elapsed >= s as f64, elapsed / total)
        }
    };
    if !done {
        let step = ((fraction * IN_PROGRESS.len() as f64) as usize).min(IN_PROGRESS.len() - 1);
        job.state = IN_PROGRESS[step];
        job.progress = ((fraction * 100.0) as u32).min(99);
        return;
    }
    match job.outcome.clone() {
        JobOutcome::Fail {
            failure_code,
            message,
        } => {
            let message = message.unwrap_or_else(|| default_failure_message(&failure_code).into());
            job.fail(&failure_code, &message);
        }
        _ if job.data.len() > blob_limit => {
            let code = "pds_upload_unsupported_blob_size";
            job.fail(code, default_failure_message(code));
        }
        _ => {
            let blob = store_blob(shared, inner, index, now);
            let job = &mut inner.video.jobs[index];
            job.blob = Some(blob);
            job.state = STATE_COMPLETED;
            job.progress = 100;
        }
    }
}

fn get_job_status(shared: &Shared, inner: &mut Inner, req: &Req, now: DateTime<Utc>) -> VResult {
    let params = params(req)?;
    let job_id = required(&params, "jobId")?;
    let Some(index) = inner.video.jobs.iter().position(|j| j.id == job_id) else {
        return Err(xerr(404, "NotFound", "Job not found"));
    };
    advance(shared, inner, index, now);
    let status = inner.video.jobs[index].status();
    Ok(answer(200, json!({ "jobStatus": Value::Object(status) })))
}

fn get_upload_limits(shared: &Shared, inner: &mut Inner, req: &Req, now: DateTime<Utc>) -> VResult {
    let did = service_auth(shared, req, now, &shared.video_did, LXM_LIMITS)?;
    let Some(account) = inner.account(&did).cloned() else {
        return Err(invalid(format!("Could not find account: {did}")));
    };
    let (daily_videos, daily_bytes) = (inner.video.daily_videos, inner.video.daily_bytes);
    let used = usage(inner, &did, now).clone();
    let videos = daily_videos.saturating_sub(used.videos);
    let bytes = daily_bytes.saturating_sub(used.bytes);
    let mut body = json!({
        "canUpload": account.email_confirmed && videos > 0 && bytes > 0,
        "remainingDailyVideos": videos,
        "remainingDailyBytes": bytes,
    });
    if let Some(map) = body.as_object_mut() {
        if !account.email_confirmed {
            map.insert("error".into(), json!("unconfirmed_email"));
            map.insert(
                "message".into(),
                json!("Please verify your email address before uploading videos"),
            );
        } else if videos == 0 || bytes == 0 {
            map.insert(
                "message".into(),
                json!("You have reached your daily video upload limit"),
            );
        }
    }
    Ok(answer(200, body))
}
