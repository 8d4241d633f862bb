//! Publishing one part: containers, their status, `threads_publish`, the quota read before
//! each publish, and the first comment.
//!
//! The phase of a media part (stored by the dispatcher between steps):
//!
//! ```json
//! {"part": 0, "step": "children" | "container", "children": ["…"], "container": "…",
//!  "polls": 2, "recreated": 0, "urls": ["https://…"], "created_at": "…", "expires_at": "…"}
//! ```
//!
//! `urls` keeps the staged addresses (the dispatcher stages only before `start`), so a
//! container that failed for a reason worth another try can be made again from `poll`.

use super::plan::{MediaPlan, Plan};
use super::{
    id_of, malformed, permanent, transient, Auth, Call, PartOutcome, PartRequest, PublishError,
    PublishedPart, Threads, NET,
};
use chrono::{DateTime, SecondsFormat, Utc};
use outpost_core::ErrorClass;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The error of a container with more than five links (since 2025-12-22).
pub(crate) const LINK_LIMIT_EXCEEDED: &str = "THREADS_API__LINK_LIMIT_EXCEEDED";
/// Containers not published within a day expire.
const CONTAINER_TTL: chrono::Duration = chrono::Duration::hours(24);
/// New containers made for a download Threads could not do although the address answers.
const MAX_RECREATE_DOWNLOAD: u64 = 2;
/// New containers made for `ERROR` / `UNKNOWN` (threads.md: retry once, then permanent).
const MAX_RECREATE_UNKNOWN: u64 = 1;

/// What `threads_publish` said.
enum Publish {
    Done(String),
    /// The container is not ready after all (9007 / 2207027 style): keep polling.
    NotReady,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn phase_str<'a>(phase: &'a Value, key: &str) -> Option<&'a str> {
    phase
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn phase_list(phase: &Value, key: &str) -> Vec<String> {
    phase
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What an `ERROR` container's `error_message` means for the user.
fn explain(message: &str) -> &'static str {
    match message {
        "FAILED_DOWNLOADING_VIDEO" => "Threads could not download the video from the staging bucket",
        "FAILED_PROCESSING_AUDIO" => {
            "Threads could not process the video's audio — re-encode it with AAC audio (48 kHz or less)"
        }
        "FAILED_PROCESSING_VIDEO" => {
            "Threads could not process the video — re-encode it as an H.264 or HEVC MP4 with the moov atom at the front"
        }
        "INVALID_ASPEC_RATIO" | "INVALID_ASPECT_RATIO" => {
            "the video's aspect ratio is outside what Threads takes (0.01:1 to 10:1)"
        }
        "INVALID_BIT_RATE" => "the video's bit rate is above what Threads takes (100 Mbps)",
        "INVALID_DURATION" => "the video is longer than Threads takes (5 minutes)",
        "INVALID_FRAME_RATE" => "the video's frame rate is outside what Threads takes (23–60 fps)",
        "INVALID_AUDIO_CHANNELS" | "INVALID_AUDIO_CHANNEL_LAYOUT" => {
            "the video's audio channels are not supported — use mono or stereo AAC"
        }
        _ => "Threads could not process the media",
    }
}

impl Threads {
    /// The wait before check number `polls` (0: the first, after creating).
    pub(super) fn poll_wait(&self, polls: u64) -> Duration {
        if polls == 0 {
            self.poll_wait
        } else {
            self.poll_wait * 2
        }
    }

    fn processing(&self, phase: Value, polls: u64) -> PartOutcome {
        PartOutcome::Processing {
            phase,
            poll_after: self.poll_wait(polls),
        }
    }

    /// The first step of a part (`recreated`: containers already made again after errors).
    pub(super) async fn start_part(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        urls: &[String],
        recreated: u64,
    ) -> Result<PartOutcome, PublishError> {
        self.check_quota(auth, plan.reply_to.is_some()).await?;
        if plan.is_text() {
            let started = Instant::now();
            let id = self.auto_publish_text(auth, req, plan).await?;
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                part = req.part_index,
                remote = id.as_str(),
                duration_ms = started.elapsed().as_millis() as u64,
                "threads text post published"
            );
            return self
                .finish(auth, req, plan, &id)
                .await
                .map(PartOutcome::Published);
        }
        let now = Utc::now();
        let mut phase = json!({
            "part": req.part_index,
            "polls": 0,
            "recreated": recreated,
            "urls": urls,
            "created_at": rfc3339(now),
            "expires_at": rfc3339(now + CONTAINER_TTL),
        });
        if plan.is_carousel() {
            let mut children = Vec::with_capacity(plan.media.len());
            for (m, url) in plan.media.iter().zip(urls) {
                children.push(self.create_child(auth, m, url, urls).await?);
            }
            phase["step"] = json!("children");
            phase["children"] = json!(children);
        } else {
            let (Some(m), Some(url)) = (plan.media.first(), urls.first()) else {
                return Err(permanent(
                    "internal error: a Threads media post without its media — report this bug",
                ));
            };
            let mut call = self
                .container_call(plan, "creating the post")
                .field("media_type", m.media_type())
                .field(m.url_field(), url.clone());
            if let Some(alt) = m.alt {
                call = call.field("alt_text", alt);
            }
            let id = self.create_container(auth, call, urls).await?;
            phase["step"] = json!("container");
            phase["container"] = json!(id);
        }
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            media = plan.media.len(),
            "threads containers created; waiting for processing"
        );
        Ok(self.processing(phase, 0))
    }

    /// One check of the part's containers, and the publish once they are ready.
    pub(super) async fn poll_part(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let polls = phase.get("polls").and_then(Value::as_u64).unwrap_or(0);
        let urls = phase_list(phase, "urls");
        if plan.is_text() || urls.len() != plan.media.len() {
            return Err(permanent(
                "the stored Threads processing state does not match the post's files (they changed) — retry the post to send them again",
            ));
        }
        let mut next = phase.clone();
        next["polls"] = json!(polls + 1);
        match phase_str(phase, "step") {
            Some("children") => {
                let children = phase_list(phase, "children");
                if children.len() != plan.media.len() {
                    return Err(permanent(
                        "the stored Threads carousel state does not match the post's files — retry the post to send them again",
                    ));
                }
                let mut waiting = false;
                for child in &children {
                    let (status, message) = self.container_status(auth, child).await?;
                    match status.as_str() {
                        "FINISHED" => {}
                        "IN_PROGRESS" => waiting = true,
                        "ERROR" => {
                            return self
                                .after_error(auth, req, plan, phase, &urls, message.as_deref())
                                .await
                        }
                        "EXPIRED" => return Err(expired()),
                        other => {
                            return Err(permanent(format!(
                            "a carousel item is in an unexpected state ({other}) — retry the post"
                        )))
                        }
                    }
                }
                if waiting {
                    return Ok(self.processing(next, polls + 1));
                }
                let call = self
                    .container_call(plan, "creating the carousel")
                    .field("media_type", "CAROUSEL")
                    .field("children", children.join(","));
                let id = self.create_container(auth, call, &urls).await?;
                next["step"] = json!("container");
                next["container"] = json!(id);
                next["polls"] = json!(0);
                Ok(self.processing(next, 0))
            }
            Some("container") => {
                let Some(container) = phase_str(phase, "container") else {
                    return Err(permanent(
                        "the stored Threads processing state has no container — retry the post",
                    ));
                };
                let (status, message) = self.container_status(auth, container).await?;
                match status.as_str() {
                    "IN_PROGRESS" => Ok(self.processing(next, polls + 1)),
                    "FINISHED" => {
                        self.check_quota(auth, plan.reply_to.is_some()).await?;
                        let started = Instant::now();
                        match self.publish_container(auth, container, req).await? {
                            Publish::NotReady => Ok(self.processing(next, polls + 1)),
                            Publish::Done(id) => {
                                tracing::info!(
                                    network = NET.as_str(),
                                    account = req.account.id.as_str(),
                                    target = req.target_id,
                                    part = req.part_index,
                                    remote = id.as_str(),
                                    polls,
                                    duration_ms = started.elapsed().as_millis() as u64,
                                    "threads container published"
                                );
                                self.finish(auth, req, plan, &id)
                                    .await
                                    .map(PartOutcome::Published)
                            }
                        }
                    }
                    // Published by an earlier step whose answer was lost: find its id.
                    "PUBLISHED" => {
                        // Since the containers were made: the publish may be minutes old.
                        let since = phase_str(phase, "created_at")
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                            .map_or(req.intent_at, |t| t.with_timezone(&Utc));
                        match self.find_part_since(req, auth, since).await? {
                        crate::Lookup::Found(part) => Ok(PartOutcome::Published(part)),
                            _ => Err(transient(
                                "the post is published but does not show in the account's posts yet — Outpost will check again",
                            )),
                        }
                    }
                    "ERROR" => {
                        self.after_error(auth, req, plan, phase, &urls, message.as_deref())
                            .await
                    }
                    "EXPIRED" => Err(expired()),
                    other => Err(permanent(format!(
                        "the post's container is in an unexpected state ({other}) — retry the post"
                    ))),
                }
            }
            _ => Err(permanent(
                "the stored Threads processing state is not one Outpost knows — retry the post",
            )),
        }
    }

    /// A container ended in `ERROR`: make new containers where another try can help
    /// (threads.md "Errors"), else fail with what to change.
    async fn after_error(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        phase: &Value,
        urls: &[String],
        message: Option<&str>,
    ) -> Result<PartOutcome, PublishError> {
        let message = message.unwrap_or("UNKNOWN");
        let recreated = phase.get("recreated").and_then(Value::as_u64).unwrap_or(0);
        let said = explain(message);
        let again = match message {
            "FAILED_DOWNLOADING_VIDEO" => {
                // Transient only if the staged address is known to work.
                match self.unreachable(urls).await {
                    Some(why) => {
                        return Err(permanent(format!(
                            "{said} ({message}): the staged address does not work ({why}) — check the staging bucket (public access, expiry), then retry"
                        )))
                    }
                    None => recreated < MAX_RECREATE_DOWNLOAD,
                }
            }
            "UNKNOWN" => {
                if let Some(why) = self.unreachable(urls).await {
                    return Err(permanent(format!(
                        "{said} ({message}): the staged address does not work ({why}) — check the staging bucket, then retry"
                    )));
                }
                recreated < MAX_RECREATE_UNKNOWN
            }
            _ => false,
        };
        if again {
            tracing::warn!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                part = req.part_index,
                error_message = message,
                recreated,
                "threads container failed; creating it again"
            );
            return self.start_part(auth, req, plan, urls, recreated + 1).await;
        }
        let fix = match message {
            "FAILED_DOWNLOADING_VIDEO" | "UNKNOWN" => {
                "although its staged address works, after new tries — retry the post later"
            }
            _ => "— change the file, then retry the post",
        };
        Err(permanent(format!("{said} ({message}) {fix}")))
    }

    /// `Some(reason)` when one of the staged addresses does not answer with the file.
    async fn unreachable(&self, urls: &[String]) -> Option<String> {
        for u in urls {
            let answer = self
                .http
                .get(u)
                .header(reqwest::header::RANGE, "bytes=0-0")
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => return Some(format!("HTTP {}", r.status().as_u16())),
                Err(e) => return Some(crate::http::transport_reason(&e)),
            }
        }
        None
    }

    /// A container request with the part's text and options (not the media).
    fn container_call(&self, plan: &Plan<'_>, what: &str) -> Call {
        let mut call = Call::post("{user}/threads", "POST /{user}/threads", what);
        if !plan.text.trim().is_empty() {
            call = call.field("text", plan.text);
        }
        if let Some(parent) = &plan.reply_to {
            call = call.field("reply_to_id", parent.clone());
        }
        if let Some(rc) = &plan.reply_control {
            call = call.field("reply_control", rc.clone());
        }
        if let Some(tag) = &plan.topic_tag {
            call = call.field("topic_tag", tag.clone());
        }
        call
    }

    async fn create_child(
        &self,
        auth: &Auth,
        m: &MediaPlan<'_>,
        url: &str,
        urls: &[String],
    ) -> Result<String, PublishError> {
        let mut call = Call::post(
            "{user}/threads",
            "POST /{user}/threads",
            "creating a carousel item",
        )
        .field("media_type", m.media_type())
        .field(m.url_field(), url)
        .field("is_carousel_item", "true");
        if let Some(alt) = m.alt {
            call = call.field("alt_text", alt);
        }
        self.create_container(auth, call, urls).await
    }

    /// `POST /{user}/threads` without publishing: a lost answer only leaves an unused
    /// container behind (it expires), so it is `Transient`, not in doubt.
    async fn create_container(
        &self,
        auth: &Auth,
        mut call: Call,
        urls: &[String],
    ) -> Result<String, PublishError> {
        call.path = call.path.replace("{user}", &auth.user_path);
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(self.classify(&reply, auth, urls));
        }
        match reply.json().as_ref().and_then(id_of) {
            Some(id) => Ok(id),
            None => Err(malformed(&reply, auth)),
        }
    }

    /// A text post in one call (`auto_publish_text=true`). A lost answer is in doubt.
    async fn auto_publish_text(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
    ) -> Result<String, PublishError> {
        let what = if req.part_index == 0 {
            "publishing the post"
        } else {
            "publishing the thread part"
        };
        let mut call = self
            .container_call(plan, what)
            .field("media_type", "TEXT")
            .field("auto_publish_text", "true")
            .creates();
        if let Some(link) = &plan.link_attachment {
            call = call.field("link_attachment", link.clone());
        }
        call.path = call.path.replace("{user}", &auth.user_path);
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(self.classify(&reply, auth, &[]));
        }
        // UNCONFIRMED whether this is the container's or the post's id; Outpost takes it as
        // the post's (what a reply needs), as the fake answers.
        match reply.json().as_ref().and_then(id_of) {
            Some(id) => Ok(id),
            None => Err(in_doubt(&reply, auth)),
        }
    }

    /// `GET /{container-id}?fields=status,error_message`.
    async fn container_status(
        &self,
        auth: &Auth,
        id: &str,
    ) -> Result<(String, Option<String>), PublishError> {
        let call = Call::get(id.to_string(), "GET /{container}", "checking the upload")
            .query("fields", "id,status,error_message");
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(self.classify(&reply, auth, &[]));
        }
        let v = reply.json().unwrap_or(Value::Null);
        let Some(status) = v.get("status").and_then(Value::as_str) else {
            return Err(malformed(&reply, auth));
        };
        let message = v
            .get("error_message")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((status.to_ascii_uppercase(), message))
    }

    /// `POST /{user}/threads_publish`. A lost answer is in doubt.
    async fn publish_container(
        &self,
        auth: &Auth,
        container: &str,
        req: &PartRequest<'_>,
    ) -> Result<Publish, PublishError> {
        let what = if req.part_index == 0 {
            "publishing the post"
        } else {
            "publishing the thread part"
        };
        let call = Call::post(
            format!("{}/threads_publish", auth.user_path),
            "POST /{user}/threads_publish",
            what,
        )
        .field("creation_id", container)
        .creates();
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            let err = crate::graph::GraphError::parse(&reply.body).unwrap_or_default();
            // Instagram's "media not ready" (9007 / 2207027): keep polling (the same row in
            // the reference; the Threads code is UNCONFIRMED).
            if err.code == Some(9007) || err.subcode == Some(2207027) {
                return Ok(Publish::NotReady);
            }
            return Err(self.classify(&reply, auth, &[]));
        }
        match reply.json().as_ref().and_then(id_of) {
            Some(id) => Ok(Publish::Done(id)),
            None => Err(in_doubt(&reply, auth)),
        }
    }

    /// The published part: its permalink, and (part 0) the first comment as a reply.
    async fn finish(
        &self,
        auth: &Auth,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        id: &str,
    ) -> Result<PublishedPart, PublishError> {
        let mut part = PublishedPart {
            remote_id: id.to_string(),
            url: self.permalink(auth, id).await,
            extra: json!({}),
        };
        if let Some(comment) = plan.first_comment {
            // The post is live whatever happens now: a failed comment must not make the
            // dispatcher publish the post again.
            let call = Call::post(
                format!("{}/threads", auth.user_path),
                "POST /{user}/threads",
                "posting the first comment",
            )
            .field("media_type", "TEXT")
            .field("text", comment)
            .field("reply_to_id", id)
            .field("auto_publish_text", "true")
            .creates();
            let made = match self.send(auth, call).await {
                Ok(reply) if reply.ok() => reply
                    .json()
                    .as_ref()
                    .and_then(id_of)
                    .ok_or_else(|| in_doubt(&reply, auth)),
                Ok(reply) => Err(self.classify(&reply, auth, &[])),
                Err(e) => Err(e),
            };
            match made {
                Ok(comment_id) => part.extra["first_comment_id"] = json!(comment_id),
                Err(e) => {
                    tracing::warn!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        target = req.target_id,
                        class = e.class.name(),
                        error = %e.message,
                        "threads first comment failed; the post itself is published"
                    );
                    part.extra["first_comment_error"] = json!(e.message);
                }
            }
        }
        Ok(part)
    }

    /// `GET /{media-id}?fields=permalink`; `None` if it cannot be read (the post is live
    /// anyway).
    pub(super) async fn permalink(&self, auth: &Auth, id: &str) -> Option<String> {
        let call = Call::get(id.to_string(), "GET /{media}", "reading the post's address")
            .query("fields", "id,permalink");
        match self.send(auth, call).await {
            Ok(reply) if reply.ok() => reply
                .json()?
                .get("permalink")?
                .as_str()
                .filter(|u| u.starts_with("https://"))
                .map(str::to_string),
            _ => None,
        }
    }

    /// `threads_publishing_limit` before a publish: a used-up quota is `RateLimited` until
    /// the oldest post of the rolling window leaves it. The reply fields need
    /// `threads_manage_replies`, which Outpost does not ask for: when they cannot be read the
    /// check is skipped (the publish itself would still be refused if the quota were out).
    pub(super) async fn check_quota(&self, auth: &Auth, reply: bool) -> Result<(), PublishError> {
        let (usage, config, noun) = if reply {
            ("reply_quota_usage", "reply_config", "replies")
        } else {
            ("quota_usage", "config", "posts")
        };
        let call = Call::get(
            format!("{}/threads_publishing_limit", auth.user_path),
            "GET /{user}/threads_publishing_limit",
            "reading the publishing limit",
        )
        .query("fields", format!("{usage},{config}"));
        let reply_ = self.send(auth, call).await?;
        if !reply_.ok() {
            let err = crate::graph::GraphError::parse(&reply_.body).unwrap_or_default();
            // A permission the account did not grant (10, 200–299: the reply fields need
            // threads_manage_replies) never blocks publishing: the check is advisory.
            let permission = matches!(err.code, Some(10) | Some(200..=299));
            let e = self.classify(&reply_, auth, &[]);
            return match e.class {
                _ if permission => {
                    tracing::info!(
                        network = NET.as_str(),
                        account = auth.account_id.as_str(),
                        error = %e.message,
                        "threads publishing limit not readable with the granted permissions; publishing without the check"
                    );
                    Ok(())
                }
                ErrorClass::Permanent => {
                    tracing::info!(
                        network = NET.as_str(),
                        account = auth.account_id.as_str(),
                        error = %e.message,
                        "threads publishing limit not readable; publishing without the check"
                    );
                    Ok(())
                }
                _ => Err(e),
            };
        }
        let v = reply_.json().unwrap_or(Value::Null);
        let entry = v
            .get("data")
            .and_then(|d| d.get(0))
            .cloned()
            .unwrap_or(Value::Null);
        let used = entry.get(usage).and_then(Value::as_u64);
        let total = entry
            .get(config)
            .and_then(|c| c.get("quota_total"))
            .and_then(Value::as_u64);
        let duration = entry
            .get(config)
            .and_then(|c| c.get("quota_duration"))
            .and_then(Value::as_i64)
            .filter(|d| *d > 0)
            .unwrap_or(86_400);
        let (Some(used), Some(total)) = (used, total) else {
            return Ok(());
        };
        if used < total {
            return Ok(());
        }
        let now = Utc::now();
        let window = chrono::Duration::seconds(duration);
        let until = match self.oldest_in_window(auth, reply, now - window).await {
            Some(oldest) if oldest + window > now => oldest + window,
            _ => now + window.min(chrono::Duration::hours(1)),
        };
        let hours = (duration as f64 / 3600.0).round() as i64;
        Err(PublishError::new(
            NET,
            ErrorClass::RateLimited { until },
            format!(
                "the account has published {used} of its {total} {noun} allowed through the API in {} (threads_publishing_limit) — Outpost waits until {} UTC, when the oldest leaves the window",
                if hours >= 1 { format!("{hours} hours") } else { format!("{duration} seconds") },
                until.format("%Y-%m-%d %H:%M:%S")
            ),
        ))
    }

    /// When the oldest post (or reply) of the rolling window was published.
    async fn oldest_in_window(
        &self,
        auth: &Auth,
        reply: bool,
        since: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let items = self
            .list_recent(auth, if reply { "replies" } else { "threads" }, since)
            .await
            .ok()?;
        items.iter().filter_map(|p| p.timestamp).min()
    }
}

/// A 2xx answer to a publish without the post's id: it may be live.
fn in_doubt(reply: &super::Reply, auth: &Auth) -> PublishError {
    PublishError::new(
        NET,
        ErrorClass::UnknownOutcome,
        format!(
            "Threads answered HTTP {} to {} without the post's id; it may have been published — Outpost will check before trying again",
            reply.status.as_u16(),
            reply.what
        ),
    )
    .with_excerpt(&reply.body, &auth.secrets())
}

fn expired() -> PublishError {
    permanent(
        "the upload expired on Threads' side before it could be published (containers expired after 24 hours) — retry the post to upload it again",
    )
}
