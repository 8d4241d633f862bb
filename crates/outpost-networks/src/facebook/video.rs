//! Page videos through Meta's Resumable Upload API, then the publish call (facebook.md
//! "Video (resumable upload, then publish)"):
//!
//! 1. **Start** a session with the **user** token: `POST /{v}/{app-id}/uploads?file_name=
//!    &file_length=&file_type=video/mp4` → `{"id":"upload:<session>"}`.
//! 2. **Transfer** the bytes from disk ([`ChunkReader`]) in dispatcher steps of at most the
//!    configured step size: `POST /{v}/upload:<session>` with `Authorization: OAuth <user
//!    token>`, `file_offset: N` and the raw bytes. Every later step first asks
//!    `GET /{v}/upload:<session>` for the committed `file_offset` and continues from there, so
//!    a lost answer, a crash or a restart resumes instead of starting over. The answer to the
//!    last bytes is the file handle `{"h"}`. (Whether Graph answers a body that stops short of
//!    the file with the offset is UNCONFIRMED; a missing `h` is treated as "more to send".)
//! 3. **Finish** (publish): `POST graph-video.facebook.com/{v}/{page-id}/videos` with the Page
//!    token, `fbuploader_video_file_chunk=<h>`, `title`, `description` and — for a hand-off —
//!    `published=false` + `scheduled_publish_time`. A lost answer here is `UnknownOutcome`; the
//!    lookup reads `/{page-id}/videos`.
//!
//! The phase stored between steps: `{"part", "kind": "video", "stage": "upload"|"publish",
//! "session", "offset", "length", "handle"?, "hold"?}`; `"stage": "restart"` when the session
//! was lost (the next step starts a new one).

use super::{
    graph_failure, malformed, mark_held, permanent, reauth, rfc3339, text_of, transient,
    AuthScheme, Body, Call, Facebook, Plan, Session, GRAPH_VERSION, MIN_HOLD, NET,
};
use crate::{PartOutcome, PartRequest};
use chrono::{DateTime, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::{ErrorClass, MediaRef, PublishError, PublishedPart};
use outpost_media::ChunkReader;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The slowest uplink an upload step is given time for, in bytes per second.
const SLOWEST_UPLINK: u64 = 200_000;

/// A published Page video: `https://www.facebook.com/{page}/videos/{video}`.
pub(super) fn video_part(
    page_id: &str,
    video_id: &str,
    hold: Option<DateTime<Utc>>,
) -> PublishedPart {
    let mut part = PublishedPart {
        remote_id: video_id.to_string(),
        url: Some(format!(
            "https://www.facebook.com/{page_id}/videos/{video_id}"
        )),
        extra: json!({ "kind": "video", "page_id": page_id }),
    };
    mark_held(&mut part, hold);
    part
}

/// The file's size now.
pub(super) async fn file_len(m: &MediaRef) -> Result<u64, PublishError> {
    let path = std::path::PathBuf::from(&m.path);
    let file = m.file_name().to_string();
    match tokio::task::spawn_blocking(move || std::fs::metadata(&path).map(|md| md.len())).await {
        Ok(Ok(0)) => Err(permanent(format!("{file} is empty — attach it again"))),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(permanent(format!(
            "{file} cannot be read ({}) — attach it again",
            sanitize_message(&e.to_string(), 120)
        ))),
        Err(e) => Err(transient(format!(
            "reading {file} failed ({}) — Outpost will retry",
            sanitize_message(&e.to_string(), 80)
        ))),
    }
}

/// Bytes `offset..offset+step` of the file (fewer at its end), read from disk.
pub(super) async fn read_step(
    m: &MediaRef,
    offset: u64,
    step: usize,
    length: u64,
) -> Result<Vec<u8>, PublishError> {
    let path = std::path::PathBuf::from(&m.path);
    let file = m.file_name().to_string();
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = ChunkReader::open(&path, step)?;
        let len = reader.len();
        reader.resume_from(offset)?;
        Ok::<_, outpost_media::MediaError>((len, reader.next_chunk()?))
    })
    .await;
    match read {
        Ok(Ok((len, _))) if len != length => Err(permanent(format!(
            "{file} changed size during the upload ({length} → {len} bytes) — retry the post to upload it again"
        ))),
        Ok(Ok((_, Some(chunk)))) => Ok(chunk.bytes),
        Ok(Ok((_, None))) => Ok(Vec::new()),
        Ok(Err(e)) => Err(permanent(format!(
            "{file} cannot be read ({}) — attach it again",
            sanitize_message(&e.to_string(), 120)
        ))),
        Err(e) => Err(transient(format!(
            "reading {file} failed ({}) — Outpost will retry",
            sanitize_message(&e.to_string(), 80)
        ))),
    }
}

/// The time an upload of `bytes` is allowed.
pub(super) fn upload_timeout(bytes: usize) -> Duration {
    let secs = (bytes as u64 / SLOWEST_UPLINK).max(60);
    Duration::from_secs(secs)
}

/// A hand-off time that is still at least 10 minutes ahead (a long upload may have eaten
/// into it: then the video simply goes out now).
pub(super) fn still_holdable(hold: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    hold.filter(|at| *at - Utc::now() >= MIN_HOLD)
}

pub(super) fn next_step(phase: Value) -> PartOutcome {
    PartOutcome::Processing {
        phase,
        poll_after: Duration::ZERO,
    }
}

fn phase_text<'v>(phase: &'v Value, key: &str) -> Option<&'v str> {
    phase.get(key).and_then(Value::as_str)
}

impl Facebook {
    fn user_token<'s>(&self, s: &'s Session) -> Result<&'s str, PublishError> {
        s.user
            .as_ref()
            .map(|u| u.access_token.expose())
            .ok_or_else(|| {
                reauth(
                    "no Facebook user sign-in is stored for this Page (the video upload needs it)",
                )
            })
    }

    /// Phase one of a video: the upload session, then the first step of bytes.
    pub(super) async fn start_video(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        v: &MediaRef,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        let user = self.user_token(s)?.to_string();
        let Some(app_id) = s.app_id.clone() else {
            return Err(permanent(
                "no Meta App ID is set for this Page — enter your app's App ID in Settings › App credentials, then reconnect the Page",
            ));
        };
        let length = file_len(v).await?;
        let file = v.file_name().to_string();
        // The resumable API lists video/mp4 as its one video type; QuickTime files go up as
        // that type too and Facebook reads the container itself.
        let call = Call::post(
            self.graph(&format!("{app_id}/uploads")),
            "POST /{app-id}/uploads",
            format!("starting the upload of {file}"),
            Body::Empty,
        )
        .query("file_name", &file)
        .query("file_length", &length.to_string())
        .query("file_type", "video/mp4");
        let reply = self.send(&user, &s.account_id, call).await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        let Some(session) = reply
            .json()
            .and_then(|j| text_of(&j, "id"))
            .filter(|id| id.starts_with("upload:"))
        else {
            return Err(malformed(&reply, &s.secrets()));
        };
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            bytes = length,
            "facebook video upload session started"
        );
        let mut phase = json!({
            "part": req.part_index,
            "kind": "video",
            "stage": "upload",
            "session": session,
            "offset": 0,
            "length": length,
        });
        if let Some(at) = hold {
            phase["hold"] = json!(rfc3339(at));
        }
        self.video_step(s, req, plan, v, phase, false, hold).await
    }

    /// The next step of a video from its stored phase.
    pub(super) async fn poll_video(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        v: &MediaRef,
        phase: &Value,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        match phase_text(phase, "stage") {
            Some("publish") => {
                let Some(handle) = phase_text(phase, "handle") else {
                    return Err(permanent(
                        "the stored upload state has no file handle — retry the post to upload the video again",
                    ));
                };
                self.publish_video(s, req, plan, handle, hold).await
            }
            Some("restart") => self.start_video(s, req, plan, v, hold).await,
            _ => {
                self.video_step(s, req, plan, v, phase.clone(), true, hold)
                    .await
            }
        }
    }

    /// The committed offset of an upload session.
    async fn session_offset(&self, s: &Session, session: &str) -> Result<u64, PublishError> {
        let user = self.user_token(s)?;
        let mut call = Call::get(
            self.graph(session),
            "GET /upload:{session}",
            "asking Facebook how much of the video arrived",
        );
        call.auth = AuthScheme::OAuth;
        let reply = self.send(user, &s.account_id, call).await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        reply
            .json()
            .and_then(|j| {
                let o = j.get("file_offset")?;
                o.as_u64().or_else(|| o.as_str()?.trim().parse().ok())
            })
            .ok_or_else(|| malformed(&reply, &s.secrets()))
    }

    /// One step of bytes (after asking for the committed offset when `ask`); the publish call
    /// once Facebook hands back the file handle.
    #[allow(clippy::too_many_arguments)]
    async fn video_step(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        v: &MediaRef,
        mut phase: Value,
        ask: bool,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        let user = self.user_token(s)?.to_string();
        let (Some(session), Some(length)) = (
            phase_text(&phase, "session").map(str::to_string),
            phase.get("length").and_then(Value::as_u64),
        ) else {
            return Err(permanent(
                "the stored upload state is incomplete — retry the post to upload the video again",
            ));
        };
        let offset = if ask {
            match self.session_offset(s, &session).await {
                Ok(o) => o,
                Err(e) if e.class == ErrorClass::Permanent => {
                    // The session is gone (expired, unknown): start a new one.
                    tracing::warn!(
                        network = NET.as_str(),
                        account = s.account_id.as_str(),
                        error = %e.message,
                        "facebook upload session lost; starting the upload again"
                    );
                    let mut restart = json!({
                        "part": req.part_index,
                        "kind": "video",
                        "stage": "restart",
                    });
                    if let Some(h) = phase.get("hold") {
                        restart["hold"] = h.clone();
                    }
                    return Ok(next_step(restart));
                }
                Err(e) => return Err(e),
            }
        } else {
            phase.get("offset").and_then(Value::as_u64).unwrap_or(0)
        };
        if offset > length {
            return Err(permanent(format!(
                "Facebook says it has {offset} bytes of {}, more than its {length} — retry the post to upload it again",
                v.file_name()
            )));
        }
        let bytes = read_step(v, offset, self.upload_step, length).await?;
        let sent = bytes.len() as u64;
        let started = Instant::now();
        let mut call = Call::post(
            self.graph(&session),
            "POST /upload:{session}",
            format!("uploading {}", v.file_name()),
            Body::Bytes(bytes),
        )
        .header("file_offset", offset.to_string());
        call.auth = AuthScheme::OAuth;
        call.timeout = Some(upload_timeout(sent as usize));
        let reply = self.send(&user, &s.account_id, call).await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        let answer = reply.json().unwrap_or(Value::Null);
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            offset,
            bytes = sent,
            length,
            duration_ms = started.elapsed().as_millis() as u64,
            "facebook video bytes sent"
        );
        if let Some(handle) = text_of(&answer, "h") {
            phase["stage"] = json!("publish");
            phase["handle"] = json!(handle);
            phase["offset"] = json!(length);
            return self.publish_video(s, req, plan, &handle, hold).await;
        }
        let now_at = answer
            .get("file_offset")
            .and_then(|o| o.as_u64().or_else(|| o.as_str()?.trim().parse().ok()))
            .unwrap_or(offset + sent);
        if sent == 0 && now_at >= length {
            return Err(transient(
                "Facebook has the whole video but gave no file handle — Outpost will ask again",
            )
            .with_excerpt(&reply.body, &s.secrets()));
        }
        phase["offset"] = json!(now_at);
        phase["stage"] = json!("upload");
        Ok(next_step(phase))
    }

    /// `POST graph-video…/{page-id}/videos` with the file handle: the video is published (or
    /// handed to Facebook's scheduling).
    async fn publish_video(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        handle: &str,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        let hold = still_holdable(hold);
        let mut form: Vec<(String, String)> = vec![
            ("fbuploader_video_file_chunk".into(), handle.to_string()),
            ("description".into(), plan.text.to_string()),
        ];
        if let Some(t) = &plan.title {
            form.push(("title".into(), t.clone()));
        }
        super::push_timing(&mut form, hold);
        let call = Call::post(
            format!("{}/{GRAPH_VERSION}/{}/videos", self.video_base, s.page_id),
            "POST /{page-id}/videos",
            if hold.is_some() {
                "handing the video to Facebook's scheduling"
            } else {
                "publishing the video"
            },
            Body::Form(form),
        )
        .creates();
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        let Some(id) = reply.json().and_then(|j| text_of(&j, "id")) else {
            return Err(PublishError::new(
                NET,
                ErrorClass::UnknownOutcome,
                format!(
                    "Facebook answered HTTP {} to publishing the video without its id; it may have been published — Outpost will check before trying again",
                    reply.status.as_u16()
                ),
            )
            .with_excerpt(&reply.body, &s.secrets()));
        };
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            remote = id.as_str(),
            held = hold.is_some(),
            "facebook video published"
        );
        let mut part = video_part(&s.page_id, &id, hold);
        self.first_comment(s, plan, &mut part, &id, hold).await;
        Ok(PartOutcome::Published(part))
    }
}
