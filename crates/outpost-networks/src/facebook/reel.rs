//! Reels (facebook.md "Reels (start → upload → finish)"), when the target's option `reel` is
//! true:
//!
//! 1. `POST /{v}/{page-id}/video_reels` `upload_phase=start` → `{video_id, upload_url}`.
//! 2. The bytes, in dispatcher steps, to `upload_url` (rupload.facebook.com) with
//!    `Authorization: OAuth <Page token>`, `offset` and `file_size`. Later steps first read
//!    `GET /{video_id}?fields=status` → `status.uploading_phase.bytes_transfered` (3P field
//!    name, Meta's spelling) and continue from there.
//! 3. `upload_phase=finish` with `video_id`, `video_state=PUBLISHED` (or `SCHEDULED` +
//!    `scheduled_publish_time` for a hand-off), `description`, `title`. A finish whose answer
//!    was lost is not guessed at: the next step reads the status, and finishes again only if
//!    Facebook never saw it (facebook.md "Reconciliation": the `video_id` tells).
//! 4. Status polls: `video_status` `ready` → published; `error` → permanent with Facebook's
//!    reason; anything else (`upload_complete`, `processing`) → poll again.
//!
//! The phase: `{"part", "kind": "reel", "stage": "upload"|"finish"|"processing", "video_id",
//! "upload_url", "offset", "length", "hold"?, "polls"}`.

use super::video::{file_len, next_step, read_step, still_holdable, upload_timeout};
use super::{
    graph_failure, malformed, mark_held, permanent, rfc3339, text_of, AuthScheme, Body, Call,
    Facebook, Plan, Reply, Session, GRAPH_VERSION, NET,
};
use crate::graph::GraphError;
use crate::{PartOutcome, PartRequest};
use chrono::{DateTime, Utc};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{ErrorClass, MediaRef, PublishError, PublishedPart};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// First polls every 3 s, then every 10 s (Facebook gives no hint).
const FAST_POLL: Duration = Duration::from_secs(3);
const SLOW_POLL: Duration = Duration::from_secs(10);
const FAST_POLLS: u64 = 20;

/// A published Reel: `https://www.facebook.com/reel/{video}`.
pub(super) fn reel_part(
    page_id: &str,
    video_id: &str,
    hold: Option<DateTime<Utc>>,
) -> PublishedPart {
    let mut part = PublishedPart {
        remote_id: video_id.to_string(),
        url: Some(format!("https://www.facebook.com/reel/{video_id}")),
        extra: json!({ "kind": "reel", "page_id": page_id }),
    };
    mark_held(&mut part, hold);
    part
}

fn waiting(phase: Value, polls: u64) -> PartOutcome {
    PartOutcome::Processing {
        phase,
        poll_after: if polls < FAST_POLLS {
            FAST_POLL
        } else {
            SLOW_POLL
        },
    }
}

fn phase_text<'v>(phase: &'v Value, key: &str) -> Option<&'v str> {
    phase.get(key).and_then(Value::as_str)
}

/// A failed rupload request: a Graph envelope when there is one, else rupload's own
/// `{"debug_info":{"retriable","type","message"}}` (3P).
fn rupload_failure(reply: &Reply, secrets: &[&str]) -> PublishError {
    if GraphError::parse(&reply.body).is_some() {
        return graph_failure(reply, secrets);
    }
    let status = reply.status.as_u16();
    let info = reply.json().and_then(|v| v.get("debug_info").cloned());
    let retriable = info
        .as_ref()
        .and_then(|i| i.get("retriable"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let said = info
        .as_ref()
        .map(|i| {
            format!(
                "{}: {}",
                i.get("type").and_then(Value::as_str).unwrap_or("error"),
                i.get("message").and_then(Value::as_str).unwrap_or("")
            )
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    let said = sanitize_message(&redact(&said, secrets), 160);
    let e = if retriable || status >= 500 {
        PublishError::new(
            NET,
            ErrorClass::Transient { retry_after: None },
            format!(
                "a temporary problem while {} ({said}) — Outpost will retry",
                reply.what
            ),
        )
    } else if status == 401 {
        PublishError::new(
            NET,
            ErrorClass::Reauth,
            format!("the Reel upload host refused the Page's sign-in ({said}) — reconnect the Page in Accounts"),
        )
    } else {
        permanent(format!(
            "refused {} ({said}) — retry the post to upload it again",
            reply.what
        ))
    };
    e.with_excerpt(&reply.body, secrets)
}

impl Facebook {
    /// The rupload address: Facebook's `upload_url` when it points at a Facebook host (or the
    /// configured stand-in), else the documented one for `video_id`.
    fn upload_url(&self, given: Option<&str>, video_id: &str) -> String {
        let documented = if self.base == super::DEFAULT_BASE_URL {
            format!("https://rupload.facebook.com/video-upload/{GRAPH_VERSION}/{video_id}")
        } else {
            format!("{}/video-upload/{GRAPH_VERSION}/{video_id}", self.base)
        };
        let Some(url) = given else {
            return documented;
        };
        let trusted = reqwest::Url::parse(url).ok().is_some_and(|u| {
            let fb = u.scheme() == "https"
                && u.host_str()
                    .is_some_and(|h| h == "facebook.com" || h.ends_with(".facebook.com"));
            fb || url.starts_with(&format!("{}/", self.base))
        });
        if trusted {
            url.to_string()
        } else {
            tracing::warn!(
                network = NET.as_str(),
                "facebook gave a Reel upload address outside its hosts; using the documented one"
            );
            documented
        }
    }

    /// Phase one of a Reel: `upload_phase=start`, then the first step of bytes.
    pub(super) async fn start_reel(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        v: &MediaRef,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        let length = file_len(v).await?;
        let call = Call::post(
            self.graph(&format!("{}/video_reels", s.page_id)),
            "POST /{page-id}/video_reels start",
            "starting the Reel upload",
            Body::Form(vec![("upload_phase".into(), "start".into())]),
        );
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        let answer = reply.json().unwrap_or(Value::Null);
        let Some(video_id) = text_of(&answer, "video_id") else {
            return Err(malformed(&reply, &s.secrets()));
        };
        let upload_url =
            self.upload_url(answer.get("upload_url").and_then(Value::as_str), &video_id);
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            video_id = video_id.as_str(),
            bytes = length,
            "facebook reel started"
        );
        let mut phase = json!({
            "part": req.part_index,
            "kind": "reel",
            "stage": "upload",
            "video_id": video_id,
            "upload_url": upload_url,
            "offset": 0,
            "length": length,
            "polls": 0,
        });
        if let Some(at) = hold {
            phase["hold"] = json!(rfc3339(at));
        }
        self.reel_step(s, req, plan, v, phase, false, hold).await
    }

    /// The next step of a Reel from its stored phase.
    pub(super) async fn poll_reel(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        v: &MediaRef,
        phase: &Value,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        match phase_text(phase, "stage") {
            Some("upload") => {
                self.reel_step(s, req, plan, v, phase.clone(), true, hold)
                    .await
            }
            Some("finish") => {
                // The finish's answer was lost: did Facebook act on it?
                let video_id = phase_text(phase, "video_id").unwrap_or_default();
                let status = self.reel_status(s, video_id).await?;
                if finish_took_effect(&status) {
                    let mut p = phase.clone();
                    p["stage"] = json!("processing");
                    self.settle_reel(s, req, plan, p, &status, hold).await
                } else {
                    self.finish_reel(s, req, plan, phase.clone(), hold).await
                }
            }
            Some("processing") => {
                let video_id = phase_text(phase, "video_id").unwrap_or_default();
                let status = self.reel_status(s, video_id).await?;
                self.settle_reel(s, req, plan, phase.clone(), &status, hold)
                    .await
            }
            _ => Err(permanent(
                "the stored Reel state is not one Outpost knows — retry the post",
            )),
        }
    }

    /// `GET /{video_id}?fields=status` → the `status` object.
    async fn reel_status(&self, s: &Session, video_id: &str) -> Result<Value, PublishError> {
        if video_id.is_empty() {
            return Err(permanent(
                "the stored Reel state has no video id — retry the post",
            ));
        }
        let call = Call::get(
            self.graph(video_id),
            "GET /{video-id}?fields=status",
            "checking the Reel",
        )
        .query("fields", "status");
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        reply
            .json()
            .and_then(|j| j.get("status").cloned())
            .filter(Value::is_object)
            .ok_or_else(|| malformed(&reply, &s.secrets()))
    }

    /// One step of bytes to rupload (after reading the committed offset when `ask`); the
    /// finish once every byte is there.
    #[allow(clippy::too_many_arguments)]
    async fn reel_step(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        v: &MediaRef,
        mut phase: Value,
        ask: bool,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        let (Some(video_id), Some(upload_url), Some(length)) = (
            phase_text(&phase, "video_id").map(str::to_string),
            phase_text(&phase, "upload_url").map(str::to_string),
            phase.get("length").and_then(Value::as_u64),
        ) else {
            return Err(permanent(
                "the stored Reel state is incomplete — retry the post to upload the video again",
            ));
        };
        let upload_url = self.upload_url(Some(&upload_url), &video_id);
        let mut offset = phase.get("offset").and_then(Value::as_u64).unwrap_or(0);
        if ask {
            let status = self.reel_status(s, &video_id).await?;
            let up = status.get("uploading_phase");
            let server = up
                .and_then(|u| {
                    u.get("bytes_transfered")
                        .or_else(|| u.get("bytes_transferred"))
                })
                .and_then(|b| b.as_u64().or_else(|| b.as_str()?.trim().parse().ok()));
            let complete =
                up.and_then(|u| u.get("status")).and_then(Value::as_str) == Some("complete");
            offset = match (server, complete) {
                (_, true) => length,
                (Some(n), _) => n,
                // No reading: trust the stored offset.
                (None, _) => offset,
            };
        }
        if offset >= length {
            phase["offset"] = json!(length);
            return self.finish_reel(s, req, plan, phase, hold).await;
        }
        let bytes = read_step(v, offset, self.upload_step, length).await?;
        let sent = bytes.len() as u64;
        let started = Instant::now();
        let mut call = Call::post(
            upload_url,
            "POST rupload /video-upload/{video-id}",
            format!("uploading {}", v.file_name()),
            Body::Bytes(bytes),
        )
        .header("offset", offset.to_string())
        .header("file_size", length.to_string());
        call.auth = AuthScheme::OAuth;
        call.timeout = Some(upload_timeout(sent as usize));
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(rupload_failure(&reply, &s.secrets()));
        }
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            offset,
            bytes = sent,
            length,
            duration_ms = started.elapsed().as_millis() as u64,
            "facebook reel bytes sent"
        );
        let now_at = offset + sent;
        phase["offset"] = json!(now_at);
        if now_at >= length {
            return self.finish_reel(s, req, plan, phase, hold).await;
        }
        Ok(next_step(phase))
    }

    /// `upload_phase=finish`: publish (or schedule) the uploaded Reel.
    async fn finish_reel(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        mut phase: Value,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        let hold = still_holdable(hold);
        let video_id = phase_text(&phase, "video_id")
            .unwrap_or_default()
            .to_string();
        let mut form: Vec<(String, String)> = vec![
            ("upload_phase".into(), "finish".into()),
            ("video_id".into(), video_id.clone()),
            ("description".into(), plan.text.to_string()),
        ];
        match hold {
            Some(at) => {
                form.push(("video_state".into(), "SCHEDULED".into()));
                form.push(("scheduled_publish_time".into(), at.timestamp().to_string()));
            }
            None => form.push(("video_state".into(), "PUBLISHED".into())),
        }
        if let Some(t) = &plan.title {
            form.push(("title".into(), t.clone()));
        }
        match hold {
            Some(at) => phase["hold"] = json!(rfc3339(at)),
            None => {
                if let Some(o) = phase.as_object_mut() {
                    o.remove("hold");
                }
            }
        }
        let call = Call::post(
            self.graph(&format!("{}/video_reels", s.page_id)),
            "POST /{page-id}/video_reels finish",
            if hold.is_some() {
                "handing the Reel to Facebook's scheduling"
            } else {
                "publishing the Reel"
            },
            Body::Form(form),
        )
        .creates();
        let reply = match self.send(s.page_token.expose(), &s.account_id, call).await {
            Ok(r) => r,
            Err(e) if e.class == ErrorClass::UnknownOutcome => {
                tracing::warn!(
                    network = NET.as_str(),
                    account = s.account_id.as_str(),
                    video_id = video_id.as_str(),
                    "facebook reel finish got no answer; the next step reads the status"
                );
                phase["stage"] = json!("finish");
                return Ok(waiting(phase, 0));
            }
            Err(e) => return Err(e),
        };
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            video_id = video_id.as_str(),
            held = hold.is_some(),
            "facebook reel finished; processing"
        );
        phase["stage"] = json!("processing");
        phase["polls"] = json!(0);
        Ok(waiting(phase, 0))
    }

    /// Reads a status: published, failed, or still processing.
    async fn settle_reel(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        mut phase: Value,
        status: &Value,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PartOutcome, PublishError> {
        let video_id = phase_text(&phase, "video_id")
            .unwrap_or_default()
            .to_string();
        let video_status = status
            .get("video_status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let publishing = status
            .pointer("/publishing_phase/status")
            .and_then(Value::as_str);
        match video_status {
            "ready" | "published" if hold.is_some() || publishing != Some("in_progress") => {
                tracing::info!(
                    network = NET.as_str(),
                    account = s.account_id.as_str(),
                    target = req.target_id,
                    video_id = video_id.as_str(),
                    held = hold.is_some(),
                    "facebook reel published"
                );
                let mut part = reel_part(&s.page_id, &video_id, hold);
                self.first_comment(s, plan, &mut part, &video_id, hold)
                    .await;
                Ok(PartOutcome::Published(part))
            }
            "error" => {
                let reason = status
                    .pointer("/processing_phase/errors/0/message")
                    .or_else(|| status.pointer("/processing_phase/error/message"))
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                Err(permanent(format!(
                    "Facebook could not process the Reel {} ({}) — export it as H.264 MP4, 9:16, 3–90 s, 24–60 fps, then retry the post",
                    v_name(plan),
                    sanitize_message(reason, 160)
                )))
            }
            _ => {
                let polls = phase.get("polls").and_then(Value::as_u64).unwrap_or(0) + 1;
                phase["polls"] = json!(polls);
                phase["video_status"] = json!(video_status);
                Ok(waiting(phase, polls))
            }
        }
    }
}

fn v_name(plan: &Plan<'_>) -> String {
    plan.video
        .map(|v| v.file_name().to_string())
        .unwrap_or_default()
}

/// Whether a status shows that `upload_phase=finish` was received.
fn finish_took_effect(status: &Value) -> bool {
    let video_status = status
        .get("video_status")
        .and_then(Value::as_str)
        .unwrap_or("");
    let processing = status
        .pointer("/processing_phase/status")
        .and_then(Value::as_str)
        .unwrap_or("not_started");
    let publishing = status
        .pointer("/publishing_phase/status")
        .and_then(Value::as_str)
        .unwrap_or("not_started");
    matches!(video_status, "processing" | "ready" | "published" | "error")
        || processing != "not_started"
        || publishing != "not_started"
}
