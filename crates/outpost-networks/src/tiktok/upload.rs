//! Video by `FILE_UPLOAD`, cut into dispatcher steps (tiktok.md "Publish flows" 2–4):
//!
//! 1. [`TikTok::start_video`]: creator info checks (privacy, duration), then
//!    `POST /v2/post/publish/video/init/` (or `inbox/video/init/`) with the video size and the
//!    chunk plan ([`ChunkPlan`]) → `publish_id` + `upload_url` (valid 1 h). No chunk is sent in
//!    this step, so a lost answer can never have posted anything.
//! 2. Each [`Publisher::poll`](crate::Publisher::poll) step sends **one** chunk:
//!    `PUT upload_url` with `Content-Type`, `Content-Length` and
//!    `Content-Range: bytes FIRST-LAST/TOTAL`, the bytes streamed from disk in 1 MiB pieces
//!    ([`ChunkReader`]) so memory never holds a chunk. The phase keeps `publish_id`,
//!    `upload_url`, `chunk_size`, `next_chunk` and `offset`: after a crash, a restart or a
//!    dropped connection the next step sends chunk `next_chunk` again. TikTok answers 206 with
//!    `Content-Range: bytes 0-N/TOTAL` (more expected), 201 (all received), 416 (out of step:
//!    the range it has resynchronises the phase), 403/404 (the address expired or is unknown:
//!    Outpost asks `status/fetch` whether the upload is complete, else initialises again).
//! 3. Then every step is one `status/fetch` until `PUBLISH_COMPLETE` (inbox mode:
//!    `SEND_TO_USER_INBOX`) or `FAILED` (classified by its `fail_reason`).

use super::errors::{classify, fail_reason_class, ApiError, FailClass, Scope};
use super::{
    choose_privacy, data_of, permanent, published_part, transient, Auth, Call, Content,
    CreatorInfo, Known, Mode, PartPlan, TikTok, INBOX_INIT_PATH, INBOX_NOTICE, NET, SELF_ONLY,
    STATUS_PATH, UNAUDITED_NOTICE, VIDEO_INIT_PATH,
};
use crate::{file_body, http, PartOutcome, PartRequest};
use chrono::{DateTime, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::{ErrorClass, MediaRef, PublishError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Smallest chunk: TikTok says 5 MB; 5 MiB satisfies both readings of "MB".
pub const MIN_CHUNK_BYTES: u64 = 5 * 1024 * 1024;
/// Largest chunk (except the last): TikTok says 64 MB; 64,000,000 satisfies both readings.
pub const MAX_CHUNK_BYTES: u64 = 64_000_000;
/// The last chunk absorbs the remainder and may grow up to 128 MB.
pub const MAX_LAST_CHUNK_BYTES: u64 = 128_000_000;
/// At most 1000 chunks.
const MAX_CHUNKS: u64 = 1000;
/// The upload address lives 1 hour; Outpost stops using it a little earlier.
const UPLOAD_URL_LIFETIME_MINUTES: i64 = 55;
/// New inits after an expired address, a `FAILED` with a retryable reason, or a lost upload.
const MAX_RESTARTS: u32 = 3;
/// A chunk's request may take this long plus one second per 100 kB (slow uplinks).
const CHUNK_TIMEOUT_BASE: Duration = Duration::from_secs(60);
const CHUNK_TIMEOUT_BYTES_PER_SEC: u64 = 100_000;

/// How a video of `video_size` bytes is cut (tiktok.md "Chunk upload"):
/// `total_chunks = floor(video_size / chunk_size)`, every chunk `chunk_size` bytes except the
/// last, which absorbs the remainder (at most 128 MB). A file up to the preferred chunk size
/// (and under 5 MB always) goes whole with `chunk_size = video_size`; a file over 64 MB is
/// always cut in at least two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    pub video_size: u64,
    pub chunk_size: u64,
    pub total_chunks: u64,
}

impl ChunkPlan {
    /// The plan for `video_size` bytes with `preferred` chunks (clamped to 5 MiB – 64 MB).
    pub fn new(video_size: u64, preferred: u64) -> Result<ChunkPlan, String> {
        if video_size == 0 {
            return Err("the file is empty".into());
        }
        let preferred = preferred.clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES);
        if video_size <= preferred {
            return Ok(ChunkPlan {
                video_size,
                chunk_size: video_size,
                total_chunks: 1,
            });
        }
        let mut chunk_size = preferred;
        if video_size > MAX_CHUNK_BYTES {
            // At least two chunks; each at most half the file (≥ 32 MB here).
            chunk_size = chunk_size.min(video_size / 2);
        }
        let total_chunks = video_size / chunk_size;
        if total_chunks == 1 {
            return Ok(ChunkPlan {
                video_size,
                chunk_size: video_size,
                total_chunks: 1,
            });
        }
        if total_chunks > MAX_CHUNKS {
            return Err(format!(
                "it needs {total_chunks} chunks of {chunk_size} bytes and TikTok takes at most {MAX_CHUNKS}"
            ));
        }
        let plan = ChunkPlan {
            video_size,
            chunk_size,
            total_chunks,
        };
        debug_assert!(plan.range(total_chunks - 1).1 <= MAX_LAST_CHUNK_BYTES);
        Ok(plan)
    }

    /// First byte and length of chunk `index`.
    pub fn range(&self, index: u64) -> (u64, u64) {
        let first = index.saturating_mul(self.chunk_size);
        if index + 1 >= self.total_chunks {
            (first, self.video_size.saturating_sub(first))
        } else {
            (first, self.chunk_size)
        }
    }
}

/// `video` or `photo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Kind {
    Video,
    Photo,
}

/// Where a post stands between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Stage {
    /// Initialise (again): a new `publish_id` and upload address.
    Init,
    /// Send chunk `next_chunk`.
    Upload,
    /// Ask `status/fetch`.
    Status,
}

/// The stored state of a TikTok post between steps (the dispatcher's `phase`). Deliberately
/// no `expires_at` key (the dispatcher would fail the target when it passes): an expired
/// upload address is replaced by a new init instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Phase {
    pub part: usize,
    pub kind: Kind,
    pub stage: Stage,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url_expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub video_size: u64,
    #[serde(default)]
    pub chunk_size: u64,
    #[serde(default)]
    pub total_chunks: u64,
    /// The chunk the next step sends.
    #[serde(default)]
    pub next_chunk: u64,
    /// Bytes TikTok confirmed.
    #[serde(default)]
    pub offset: u64,
    /// Percent uploaded (for the card).
    #[serde(default)]
    pub progress: u64,
    /// The `post_info` sent at init (a new init sends the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    #[serde(default)]
    pub restarts: u32,
    /// Status checks so far.
    #[serde(default)]
    pub polls: u32,
}

impl Phase {
    pub fn read(v: &Value) -> Result<Phase, PublishError> {
        serde_json::from_value(v.clone()).map_err(|_| {
            permanent(
                "the stored upload state cannot be read (it comes from another version of Outpost) — retry the post to upload it again",
            )
        })
    }

    pub fn photo(
        part: usize,
        publish_id: String,
        mode: Mode,
        privacy_level: Option<String>,
        notice: Option<String>,
    ) -> Phase {
        Phase {
            part,
            kind: Kind::Photo,
            stage: Stage::Status,
            mode,
            publish_id: Some(publish_id),
            upload_url: None,
            upload_url_expires_at: None,
            video_size: 0,
            chunk_size: 0,
            total_chunks: 0,
            next_chunk: 0,
            offset: 0,
            progress: 100,
            post_info: None,
            privacy_level,
            notice,
            restarts: 0,
            polls: 0,
        }
    }

    fn plan(&self) -> ChunkPlan {
        ChunkPlan {
            video_size: self.video_size,
            chunk_size: self.chunk_size,
            total_chunks: self.total_chunks,
        }
    }

    pub fn processing(&self, poll_after: Duration) -> PartOutcome {
        PartOutcome::Processing {
            phase: serde_json::to_value(self).unwrap_or_else(|_| json!({ "part": self.part })),
            poll_after,
        }
    }

    fn confirmed(&mut self, offset: u64) {
        self.offset = offset.min(self.video_size);
        self.progress = self
            .offset
            .saturating_mul(100)
            .checked_div(self.video_size)
            .unwrap_or(100);
    }
}

/// What `status/fetch` said.
#[derive(Debug, Clone, Default)]
pub(super) struct Status {
    pub status: String,
    pub fail_reason: Option<String>,
    /// The first `publicaly_available_post_id` (sic), once moderation is done.
    pub post_id: Option<String>,
    pub uploaded_bytes: Option<u64>,
}

impl Status {
    fn from_data(data: &Value) -> Status {
        let post_id = match data.get("publicaly_available_post_id") {
            Some(Value::Array(ids)) => ids.iter().find_map(id_text),
            Some(other) => id_text(other),
            None => None,
        };
        Status {
            status: data
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_uppercase(),
            fail_reason: data
                .get("fail_reason")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string),
            post_id,
            uploaded_bytes: data.get("uploaded_bytes").and_then(Value::as_u64),
        }
    }
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// `bytes 0-N/TOTAL` → bytes held (`N + 1`).
pub(super) fn confirmed_bytes(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = headers.get("content-range")?.to_str().ok()?.trim();
    let rest = v.strip_prefix("bytes").unwrap_or(v).trim();
    let (range, _total) = rest.split_once('/')?;
    let (_, last) = range.trim().split_once('-')?;
    last.trim().parse::<u64>().ok().map(|n| n + 1)
}

/// The answer to one chunk.
struct ChunkReply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

fn chunk_timeout(len: u64) -> Duration {
    CHUNK_TIMEOUT_BASE + Duration::from_secs(len / CHUNK_TIMEOUT_BYTES_PER_SEC)
}

fn unreadable(file: &str, reason: &str) -> PublishError {
    permanent(format!(
        "{file} cannot be read ({}) — attach it again, then retry the post",
        sanitize_message(reason, 160)
    ))
}

/// The current size of the file at `path`.
async fn file_size(m: &MediaRef) -> Result<u64, PublishError> {
    let path = PathBuf::from(&m.path);
    let meta = tokio::task::spawn_blocking(move || std::fs::metadata(path))
        .await
        .map_err(|e| unreadable(m.file_name(), &e.to_string()))?;
    meta.map(|m| m.len())
        .map_err(|e| unreadable(m.file_name(), &e.to_string()))
}

/// The video's duration in milliseconds, when the prober can tell.
async fn duration_ms(m: &MediaRef) -> Option<u64> {
    let path = PathBuf::from(&m.path);
    tokio::task::spawn_blocking(move || outpost_media::probe_file(&path).ok()?.duration_ms)
        .await
        .ok()
        .flatten()
}

fn human_duration(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

impl TikTok {
    /// Checks the video against the creator's limits, then initialises the upload.
    pub(super) async fn start_video(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &PartPlan<'_>,
        video: &MediaRef,
        creator: Option<&CreatorInfo>,
    ) -> Result<PartOutcome, PublishError> {
        let file = video.file_name();
        let size = file_size(video).await?;
        if let Some(max) = creator.and_then(|c| c.max_duration_sec) {
            if let Some(ms) = duration_ms(video).await {
                if ms > max * 1000 {
                    return Err(permanent(format!(
                        "{file} is {} long; this TikTok account can post videos up to {} (max_video_post_duration_sec = {max}) — trim it, then retry",
                        human_duration(ms),
                        human_duration(max * 1000)
                    )));
                }
            }
        }
        let chunks = ChunkPlan::new(size, self.chunk_size)
            .map_err(|why| permanent(format!("{file} cannot be uploaded to TikTok: {why}")))?;
        let mut notice = None;
        let mut privacy = None;
        let post_info = match plan.options.mode {
            Mode::Inbox => {
                notice = Some(INBOX_NOTICE.to_string());
                None
            }
            Mode::Direct => {
                let creator = creator.ok_or_else(|| {
                    permanent(
                        "internal error: no creator info before a direct post — report this bug",
                    )
                })?;
                let (level, forced) = choose_privacy(&plan.options, creator)?;
                if forced {
                    notice = Some(UNAUDITED_NOTICE.to_string());
                }
                let o = &plan.options;
                let mut info = json!({
                    "title": plan.text,
                    "privacy_level": level,
                    "disable_comment": o.disable_comment || creator.comment_disabled,
                    "disable_duet": o.disable_duet || creator.duet_disabled,
                    "disable_stitch": o.disable_stitch || creator.stitch_disabled,
                    "brand_content_toggle": o.brand_content_toggle,
                    "brand_organic_toggle": o.brand_organic_toggle,
                    "is_aigc": o.is_aigc,
                });
                if let Some(ms) = o.video_cover_timestamp_ms {
                    info["video_cover_timestamp_ms"] = json!(ms);
                }
                privacy = Some(level);
                Some(info)
            }
        };
        let mut phase = Phase {
            part: req.part_index,
            kind: Kind::Video,
            stage: Stage::Init,
            mode: plan.options.mode,
            publish_id: None,
            upload_url: None,
            upload_url_expires_at: None,
            video_size: chunks.video_size,
            chunk_size: chunks.chunk_size,
            total_chunks: chunks.total_chunks,
            next_chunk: 0,
            offset: 0,
            progress: 0,
            post_info,
            privacy_level: privacy,
            notice,
            restarts: 0,
            polls: 0,
        };
        self.init_upload(auth, req, video, &mut phase).await?;
        Ok(phase.processing(Duration::ZERO))
    }

    /// `POST …/video/init/` (or the inbox variant) for the phase's chunk plan; on success the
    /// phase holds the new `publish_id` and upload address, at chunk 0. An unaudited app that
    /// asked for another privacy level is refused with
    /// `unaudited_client_can_only_post_to_private_accounts`: that init created nothing, so it
    /// is sent once more with `SELF_ONLY` (and the notice).
    async fn init_upload(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        video: &MediaRef,
        phase: &mut Phase,
    ) -> Result<(), PublishError> {
        let file = video.file_name();
        let (path, endpoint, scope) = match phase.mode {
            Mode::Direct => (
                VIDEO_INIT_PATH,
                "POST /v2/post/publish/video/init/",
                Scope::Publish,
            ),
            Mode::Inbox => (
                INBOX_INIT_PATH,
                "POST /v2/post/publish/inbox/video/init/",
                Scope::Upload,
            ),
        };
        let source_info = json!({
            "source": "FILE_UPLOAD",
            "video_size": phase.video_size,
            "chunk_size": phase.chunk_size,
            "total_chunk_count": phase.total_chunks,
        });
        let mut fell_back = false;
        let data = loop {
            let mut body = json!({ "source_info": source_info });
            if let (Mode::Direct, Some(info)) = (phase.mode, &phase.post_info) {
                body["post_info"] = info.clone();
            }
            let call = Call::post(
                path,
                endpoint,
                format!("starting the upload of {file}"),
                Some(body),
            )
            .creates();
            let reply = self.send(auth, call).await?;
            let code = ApiError::parse(&reply.body)
                .map(|e| e.code.to_ascii_lowercase())
                .unwrap_or_default();
            let asked_self_only = phase
                .post_info
                .as_ref()
                .and_then(|i| i.get("privacy_level"))
                .and_then(Value::as_str)
                == Some(SELF_ONLY);
            if code == "unaudited_client_can_only_post_to_private_accounts"
                && phase.mode == Mode::Direct
                && !asked_self_only
                && !fell_back
            {
                fell_back = true;
                if let Some(info) = phase.post_info.as_mut() {
                    info["privacy_level"] = json!(SELF_ONLY);
                }
                phase.privacy_level = Some(SELF_ONLY.to_string());
                phase.notice = Some(UNAUDITED_NOTICE.to_string());
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    "tiktok app is not audited: posting privately (SELF_ONLY)"
                );
                continue;
            }
            break data_of(&reply, scope, &auth.secrets(), false)?;
        };
        let text = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (Some(publish_id), Some(upload_url)) = (text("publish_id"), text("upload_url")) else {
            return Err(transient(format!(
                "TikTok started the upload of {file} without a publish_id or upload address — Outpost will retry"
            )));
        };
        self.check_upload_url(&upload_url)?;
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            publish_id = publish_id.as_str(),
            mode = phase.mode.as_str(),
            bytes = phase.video_size,
            chunks = phase.total_chunks,
            chunk_size = phase.chunk_size,
            restarts = phase.restarts,
            "tiktok upload initialised"
        );
        self.remember(
            req,
            Known {
                publish_id: publish_id.clone(),
                photo: false,
                mode: phase.mode,
                privacy_level: phase.privacy_level.clone(),
                notice: phase.notice.clone(),
            },
        );
        phase.publish_id = Some(publish_id);
        phase.upload_url = Some(upload_url);
        phase.upload_url_expires_at =
            Some(Utc::now() + chrono::Duration::minutes(UPLOAD_URL_LIFETIME_MINUTES));
        phase.stage = Stage::Upload;
        phase.next_chunk = 0;
        phase.confirmed(0);
        Ok(())
    }

    /// Only https upload addresses (plain http only when the API itself is plain http, as in
    /// tests against a local fake).
    fn check_upload_url(&self, url: &str) -> Result<(), PublishError> {
        let ok = match reqwest::Url::parse(url) {
            Ok(u) => {
                u.scheme() == "https" || (u.scheme() == "http" && self.base.starts_with("http://"))
            }
            Err(_) => false,
        };
        if ok {
            Ok(())
        } else {
            Err(permanent(
                "TikTok returned an upload address Outpost will not use (not an https address) — retry the post",
            ))
        }
    }

    /// One step of a stored post.
    pub(super) async fn step(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &PartPlan<'_>,
        mut phase: Phase,
    ) -> Result<PartOutcome, PublishError> {
        phase.part = req.part_index;
        match (&plan.content, phase.kind) {
            (Content::Video(video), Kind::Video) => match phase.stage {
                Stage::Init => self.restart_upload(auth, req, video, phase, None).await,
                Stage::Upload => self.upload_chunk(auth, req, video, phase).await,
                Stage::Status => self.check_status(auth, req, plan, phase).await,
            },
            (Content::Photos(_), Kind::Photo) => self.check_status(auth, req, plan, phase).await,
            _ => Err(permanent(
                "the stored upload state does not match the post's files (they changed) — retry the post to upload them again",
            )),
        }
    }

    /// Initialises the upload again (a new `publish_id`), at most [`MAX_RESTARTS`] times.
    async fn restart_upload(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        video: &MediaRef,
        mut phase: Phase,
        why: Option<&str>,
    ) -> Result<PartOutcome, PublishError> {
        if phase.stage != Stage::Init || phase.publish_id.is_some() {
            if phase.restarts >= MAX_RESTARTS {
                return Err(permanent(format!(
                    "TikTok kept losing the upload of {} ({}; started {} times) — retry the post later",
                    video.file_name(),
                    why.unwrap_or("the upload had to start again"),
                    phase.restarts + 1
                )));
            }
            phase.restarts += 1;
        }
        if let Some(why) = why {
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                old_publish_id = phase.publish_id.as_deref(),
                restarts = phase.restarts,
                reason = why,
                "tiktok upload starts again"
            );
        }
        let size = file_size(video).await?;
        if size != phase.video_size {
            return Err(changed(video, phase.video_size, size));
        }
        phase.stage = Stage::Init;
        self.init_upload(auth, req, video, &mut phase).await?;
        Ok(phase.processing(Duration::ZERO))
    }

    /// Sends chunk `phase.next_chunk`.
    async fn upload_chunk(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        video: &MediaRef,
        mut phase: Phase,
    ) -> Result<PartOutcome, PublishError> {
        let file = video.file_name();
        let size = file_size(video).await?;
        if size != phase.video_size {
            return Err(changed(video, phase.video_size, size));
        }
        let Some(url) = phase.upload_url.clone() else {
            return self.restart_upload(auth, req, video, phase, None).await;
        };
        if phase
            .upload_url_expires_at
            .is_some_and(|at| Utc::now() >= at)
        {
            return self
                .lost_upload(auth, req, video, phase, "the upload address expired")
                .await;
        }
        let plan = phase.plan();
        let index = phase.next_chunk.min(plan.total_chunks.saturating_sub(1));
        let (first, len) = plan.range(index);
        let what = format!(
            "uploading part {} of {} of {file}",
            index + 1,
            plan.total_chunks
        );
        let mime = super::video_mime(video).unwrap_or("video/mp4");
        let started = Instant::now();
        let reply = self
            .put_chunk(&url, mime, video, plan.video_size, first, len, &what)
            .await?;
        let duration_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            publish_id = phase.publish_id.as_deref(),
            chunk = index + 1,
            chunks = plan.total_chunks,
            bytes = len,
            status = reply.status,
            duration_ms,
            mb_per_s = (len as f64 / 1e6) / (duration_ms.max(1) as f64 / 1000.0),
            "tiktok chunk sent"
        );
        match reply.status {
            201 => {
                phase.stage = Stage::Status;
                phase.next_chunk = plan.total_chunks;
                phase.confirmed(plan.video_size);
                Ok(phase.processing(self.status_delay(0)))
            }
            206 => {
                let held = confirmed_bytes(&reply.headers).unwrap_or(first + len);
                self.resync(auth, req, video, phase, held).await
            }
            416 => match confirmed_bytes(&reply.headers) {
                Some(held) => self.resync(auth, req, video, phase, held).await,
                None => {
                    self.lost_upload(auth, req, video, phase, "TikTok said the upload is out of step")
                        .await
                }
            },
            403 | 404 => {
                let why = if reply.status == 403 {
                    "the upload address expired"
                } else {
                    "TikTok no longer knows the upload"
                };
                self.lost_upload(auth, req, video, phase, why).await
            }
            400 => Err(permanent(format!(
                "TikTok refused part {} of the upload of {file} as malformed (HTTP 400) — retry the post; if it happens again, report this bug",
                index + 1
            ))
            .with_excerpt(&reply.body, &[url.as_str()])),
            429 => Err(PublishError::new(
                NET,
                ErrorClass::RateLimited {
                    until: Utc::now() + chrono::Duration::seconds(super::errors::RATE_WINDOW_SECS),
                },
                format!("rate limited while {what} — Outpost will try again in a minute"),
            )),
            500..=599 => Err(PublishError::new(
                NET,
                ErrorClass::Transient {
                    retry_after: http::retry_after_hint(&reply.headers, Utc::now()),
                },
                format!(
                    "TikTok is unavailable while {what} (HTTP {}) — Outpost will send the same part again",
                    reply.status
                ),
            )
            .with_excerpt(&reply.body, &[url.as_str()])),
            other => Err(permanent(format!(
                "TikTok refused part {} of the upload of {file} (HTTP {other}) — retry the post",
                index + 1
            ))
            .with_excerpt(&reply.body, &[url.as_str()])),
        }
    }

    /// Continues from what TikTok says it holds.
    async fn resync(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        video: &MediaRef,
        mut phase: Phase,
        held: u64,
    ) -> Result<PartOutcome, PublishError> {
        let plan = phase.plan();
        if held >= plan.video_size {
            phase.stage = Stage::Status;
            phase.next_chunk = plan.total_chunks;
            phase.confirmed(plan.video_size);
            return Ok(phase.processing(self.status_delay(0)));
        }
        if held.checked_rem(plan.chunk_size) == Some(0)
            && held / plan.chunk_size < plan.total_chunks
        {
            phase.next_chunk = held / plan.chunk_size;
            phase.confirmed(held);
            return Ok(phase.processing(Duration::ZERO));
        }
        self.restart_upload(
            auth,
            req,
            video,
            phase,
            Some("TikTok holds part of a chunk, which cannot be continued"),
        )
        .await
    }

    /// The upload address stopped working: if TikTok has every byte (the last chunk's answer
    /// was lost), go on to the status checks; else start the upload again.
    async fn lost_upload(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        video: &MediaRef,
        mut phase: Phase,
        why: &str,
    ) -> Result<PartOutcome, PublishError> {
        if let Some(publish_id) = phase.publish_id.clone() {
            match self.fetch_status(auth, &publish_id).await {
                Ok(st) => {
                    let complete = matches!(
                        st.status.as_str(),
                        "PUBLISH_COMPLETE" | "SEND_TO_USER_INBOX" | "FAILED"
                    ) || st.uploaded_bytes.is_some_and(|b| b >= phase.video_size);
                    if complete {
                        phase.stage = Stage::Status;
                        phase.next_chunk = phase.total_chunks;
                        phase.confirmed(phase.video_size);
                        return Ok(phase.processing(Duration::ZERO));
                    }
                }
                Err(e) if e.class == ErrorClass::Permanent => {}
                Err(e) => return Err(e),
            }
        }
        self.restart_upload(auth, req, video, phase, Some(why))
            .await
    }

    /// One `status/fetch`.
    async fn check_status(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &PartPlan<'_>,
        mut phase: Phase,
    ) -> Result<PartOutcome, PublishError> {
        let Some(publish_id) = phase.publish_id.clone() else {
            return Err(permanent(
                "the stored upload state has no publish_id — retry the post to upload it again",
            ));
        };
        let photo = phase.kind == Kind::Photo;
        let what = match &plan.content {
            Content::Video(v) => v.file_name().to_string(),
            Content::Photos(p) if p.len() == 1 => "the photo".to_string(),
            Content::Photos(_) => "the photos".to_string(),
        };
        let st = self.fetch_status(auth, &publish_id).await?;
        phase.polls += 1;
        let done = matches!(
            (st.status.as_str(), phase.mode),
            ("PUBLISH_COMPLETE", _) | ("SEND_TO_USER_INBOX", Mode::Inbox)
        );
        if done {
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                publish_id = publish_id.as_str(),
                status = st.status.as_str(),
                polls = phase.polls,
                "tiktok post published"
            );
            return Ok(PartOutcome::Published(published_part(
                &req.account.handle,
                &publish_id,
                st.post_id.as_deref(),
                photo,
                phase.mode,
                phase.privacy_level.as_deref(),
                phase.notice.as_deref(),
            )));
        }
        if st.status != "FAILED" {
            return Ok(phase.processing(self.status_delay(phase.polls)));
        }
        let reason = st.fail_reason.clone().unwrap_or_default();
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            publish_id = publish_id.as_str(),
            fail_reason = reason.as_str(),
            "tiktok post failed"
        );
        match fail_reason_class(&reason, &what) {
            FailClass::Permanent(m) => Err(permanent(m)),
            FailClass::Reauth => Err(PublishError::new(
                NET,
                ErrorClass::Reauth,
                format!(
                    "TikTok says the account removed Outpost's access (fail_reason auth_removed) — {}",
                    super::RECONNECT
                ),
            )),
            FailClass::Restart => match &plan.content {
                Content::Video(video) => {
                    self.restart_upload(
                        auth,
                        req,
                        video,
                        phase,
                        Some(&format!("TikTok failed it with fail_reason {reason}")),
                    )
                    .await
                }
                Content::Photos(photos) => {
                    if phase.restarts >= MAX_RESTARTS {
                        return Err(permanent(format!(
                            "TikTok could not fetch the photos (fail_reason {}; tried {} times) — check that the staging bucket's public address works and is verified in the TikTok app, then retry",
                            sanitize_message(&reason, 60),
                            phase.restarts + 1
                        )));
                    }
                    let creator = self
                        .creator_info(auth, "checking what the account may post")
                        .await
                        .ok();
                    let next = self
                        .start_photos(auth, req, plan, photos, creator.as_ref())
                        .await?;
                    Ok(with_restarts(next, phase.restarts + 1))
                }
            },
        }
    }

    /// `POST /v2/post/publish/status/fetch/`.
    pub(super) async fn fetch_status(
        &self,
        auth: &Auth,
        publish_id: &str,
    ) -> Result<Status, PublishError> {
        let call = Call::post(
            STATUS_PATH,
            "POST /v2/post/publish/status/fetch/",
            "checking the post's status",
            Some(json!({ "publish_id": publish_id })),
        );
        let reply = self.send(auth, call).await?;
        if !reply.status.is_success() || ApiError::parse(&reply.body).is_some_and(|e| !e.is_ok()) {
            return Err(classify(&reply, Scope::Either, &auth.secrets()));
        }
        let data = data_of(&reply, Scope::Either, &auth.secrets(), false)?;
        Ok(Status::from_data(&data))
    }

    /// `PUT upload_url` of one chunk, streamed from disk. No answer is transient: nothing is
    /// posted before the last chunk, and a lost last chunk is found by the next step (416, or
    /// the status of the upload).
    #[allow(clippy::too_many_arguments)]
    async fn put_chunk(
        &self,
        url: &str,
        mime: &str,
        video: &MediaRef,
        size: u64,
        first: u64,
        len: u64,
        what: &str,
    ) -> Result<ChunkReply, PublishError> {
        let (body, reading) = file_body::file_range(&video.path, size, first, len);
        let last = first + len.saturating_sub(1);
        let sent = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, mime)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(
                reqwest::header::CONTENT_RANGE,
                format!("bytes {first}-{last}/{size}"),
            )
            .timeout(chunk_timeout(len))
            .body(body)
            .send()
            .await;
        let result = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.text().await.unwrap_or_default();
                Ok(ChunkReply {
                    status,
                    headers,
                    body,
                })
            }
            Err(e) => Err(e),
        };
        if let Some(why) = reading.finish().await {
            return Err(unreadable(video.file_name(), &why));
        }
        result.map_err(|e| http::send_error(NET, what, &e, false))
    }
}

fn changed(video: &MediaRef, was: u64, now: u64) -> PublishError {
    permanent(format!(
        "{} changed while it was being uploaded ({was} bytes, now {now}) — retry the post to upload it again",
        video.file_name()
    ))
}

fn with_restarts(outcome: PartOutcome, restarts: u32) -> PartOutcome {
    match outcome {
        PartOutcome::Processing {
            mut phase,
            poll_after,
        } => {
            phase["restarts"] = json!(restarts);
            PartOutcome::Processing { phase, poll_after }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doc_example_is_cut_as_the_doc_says() {
        // tiktok.md: 50,000,123 bytes → 4 × 10,000,000 + 1 × 10,000,123.
        let p = ChunkPlan::new(50_000_123, 10_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.chunk_size, p.total_chunks), (10_000_000, 5));
        assert_eq!(p.range(0), (0, 10_000_000));
        assert_eq!(p.range(3), (30_000_000, 10_000_000));
        assert_eq!(p.range(4), (40_000_000, 10_000_123));
    }

    #[test]
    fn small_files_go_whole_and_large_ones_in_at_least_two() {
        let p = ChunkPlan::new(3_000_000, 64_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.chunk_size, p.total_chunks), (3_000_000, 1));
        let p = ChunkPlan::new(60_000_000, 64_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.chunk_size, p.total_chunks), (60_000_000, 1));
        // Over 64 MB: never one chunk.
        let p = ChunkPlan::new(100_000_000, 64_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.chunk_size, p.total_chunks), (50_000_000, 2));
        let p = ChunkPlan::new(320_000_000, 64_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.chunk_size, p.total_chunks), (64_000_000, 5));
        // 4 GB: 62 chunks, the last one absorbing the remainder.
        let p = ChunkPlan::new(4_000_000_000, 64_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.total_chunks, 62);
        assert!(p.range(61).1 <= MAX_LAST_CHUNK_BYTES);
        // A preferred size below 5 MiB is raised to it.
        let p = ChunkPlan::new(20_000_000, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.chunk_size, MIN_CHUNK_BYTES);
        assert_eq!(p.total_chunks, 3);
        assert!(ChunkPlan::new(0, MIN_CHUNK_BYTES).is_err());
    }

    #[test]
    fn every_plan_keeps_the_rules() {
        for size in [
            1u64,
            4_999_999,
            5_000_000,
            5_242_880,
            10_485_761,
            64_000_000,
            64_000_001,
            127_999_999,
            128_000_001,
            999_999_999,
            4_000_000_000,
        ] {
            for preferred in [MIN_CHUNK_BYTES, 10_000_000, MAX_CHUNK_BYTES] {
                let p = ChunkPlan::new(size, preferred).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(p.total_chunks, size / p.chunk_size, "{size} {preferred}");
                let total: u64 = (0..p.total_chunks).map(|i| p.range(i).1).sum();
                assert_eq!(total, size);
                if p.total_chunks > 1 {
                    assert!((5_000_000..=64_000_000).contains(&p.chunk_size));
                    assert!(p.range(p.total_chunks - 1).1 <= MAX_LAST_CHUNK_BYTES);
                } else {
                    assert!(size <= 64_000_000, "{size} must be chunked");
                }
            }
        }
    }

    #[test]
    fn content_range_gives_the_bytes_held() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "content-range",
            reqwest::header::HeaderValue::from_static("bytes 0-9999999/50000123"),
        );
        assert_eq!(confirmed_bytes(&h), Some(10_000_000));
        assert_eq!(confirmed_bytes(&reqwest::header::HeaderMap::new()), None);
    }

    #[test]
    fn the_phase_round_trips_without_an_expiry_key() {
        let p = Phase::photo(0, "p_pub_url~v2.1".into(), Mode::Direct, None, None);
        let v = serde_json::to_value(&p).unwrap_or_default();
        assert!(v.get("expires_at").is_none());
        assert_eq!(v["part"], 0);
        assert_eq!(v["stage"], "status");
        let back = Phase::read(&v).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(back.publish_id.as_deref(), Some("p_pub_url~v2.1"));
        let s = Status::from_data(
            &json!({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7300]}),
        );
        assert_eq!(s.post_id.as_deref(), Some("7300"));
    }
}
