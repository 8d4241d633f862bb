//! The resumable video upload of the Facebook Login set-up (instagram.md "Step 1b"):
//! `POST {rupload}/ig-api-upload/{v}/{container-id}` with `Authorization: OAuth <token>`,
//! `offset`, `file_size` and the bytes as the body, read from disk in chunks
//! ([`ChunkReader`], memory stays at one chunk).
//!
//! The reference shows one request carrying the whole file from `offset: 0`. Outpost sends the
//! file in several requests of [`CHUNK`] bytes, each with the `offset` of its first byte, and
//! stops a step after [`STEP_BYTES`] or [`STEP_TIME`] (the dispatcher persists the confirmed
//! offset in the phase and calls again at once). Sending a file in pieces this way, and
//! re-sending from a stored offset after a crash, is how rupload's `offset` header is meant to
//! resume (UNCONFIRMED for Instagram containers).

use super::{permanent, plan, transient, Auth, Instagram, Phase, NET};
use crate::graph::GraphError;
use crate::http;
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{ErrorClass, MediaRef, PublishError};
use outpost_media::ChunkReader;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Bytes per upload request.
pub(super) const CHUNK: usize = 8 * 1024 * 1024;
/// Bytes one step sends at most before handing back to the dispatcher.
pub(super) const STEP_BYTES: u64 = 64 * 1024 * 1024;
/// Time one step spends uploading at most (a request in flight finishes).
pub(super) const STEP_TIME: Duration = Duration::from_secs(20);

fn unreadable(file: &str, reason: &str) -> PublishError {
    permanent(format!(
        "cannot read {file} for the upload ({}) — check the file, then retry the post",
        sanitize_message(reason, 120)
    ))
}

/// The file's size on disk (what `file_size` announces).
pub(super) async fn file_size(m: &MediaRef) -> Result<u64, PublishError> {
    let path = PathBuf::from(&m.path);
    let file = m.file_name().to_string();
    let meta = tokio::task::spawn_blocking(move || std::fs::metadata(path))
        .await
        .map_err(|e| unreadable(&file, &e.to_string()))?
        .map_err(|e| unreadable(&file, &e.to_string()))?;
    if meta.len() == 0 {
        return Err(permanent(format!("{file} is empty — attach it again")));
    }
    Ok(meta.len())
}

impl Instagram {
    /// Sends the next bytes of every unfinished resumable upload of the phase, within one
    /// step's budget. `Ok(true)` when every upload is complete.
    pub(super) async fn upload_step(
        &self,
        auth: &Auth,
        plan: &plan::Plan<'_>,
        phase: &mut Phase,
    ) -> Result<bool, PublishError> {
        let started = Instant::now();
        let mut sent: u64 = 0;
        let slots = phase.children.iter_mut().chain(phase.container.iter_mut());
        for slot in slots {
            let Some(mut state) = slot.upload else {
                continue;
            };
            if state.offset >= state.size {
                continue;
            }
            let Some(item) = slot
                .media
                .and_then(|i| plan.items.iter().find(|it| it.index == i))
            else {
                return Err(permanent(
                    "the stored upload names a file the post no longer has — retry the post",
                ));
            };
            let file = item.media.file_name().to_string();
            let path = PathBuf::from(&item.media.path);
            let chunk_size = self.upload_chunk;
            let opened = tokio::task::spawn_blocking(move || ChunkReader::open(&path, chunk_size))
                .await
                .map_err(|e| unreadable(&file, &e.to_string()))?;
            let mut reader = opened.map_err(|e| unreadable(&file, &e.to_string()))?;
            if reader.len() != state.size {
                return Err(permanent(format!(
                    "{file} changed size during the upload ({} bytes, was {}) — retry the post to upload it again",
                    reader.len(),
                    state.size
                )));
            }
            reader
                .resume_from(state.offset)
                .map_err(|e| unreadable(&file, &e.to_string()))?;
            loop {
                if sent >= self.step_bytes || started.elapsed() >= self.step_time {
                    slot.upload = Some(state);
                    tracing::info!(
                        network = NET.as_str(),
                        account = auth.account_id.as_str(),
                        container = slot.id.as_str(),
                        offset = state.offset,
                        size = state.size,
                        "instagram upload step done; continuing in the next step"
                    );
                    return Ok(false);
                }
                let read = tokio::task::spawn_blocking(move || {
                    let next = reader.next_chunk();
                    (reader, next)
                })
                .await
                .map_err(|e| unreadable(&file, &e.to_string()))?;
                reader = read.0;
                let Some(chunk) = read.1.map_err(|e| unreadable(&file, &e.to_string()))? else {
                    break;
                };
                let len = chunk.bytes.len() as u64;
                self.send_chunk(auth, &slot.id, &file, chunk.offset, state.size, chunk.bytes)
                    .await?;
                state.offset = chunk.offset + len;
                sent += len;
                slot.upload = Some(state);
            }
            tracing::info!(
                network = NET.as_str(),
                account = auth.account_id.as_str(),
                container = slot.id.as_str(),
                bytes = state.size,
                duration_ms = started.elapsed().as_millis() as u64,
                "instagram video uploaded"
            );
        }
        Ok(true)
    }

    async fn send_chunk(
        &self,
        auth: &Auth,
        container: &str,
        file: &str,
        offset: u64,
        size: u64,
        bytes: Vec<u8>,
    ) -> Result<(), PublishError> {
        let url = format!(
            "{}/ig-api-upload/{}/{container}",
            self.rupload, self.version
        );
        let what = format!("uploading {file}");
        let started = Instant::now();
        let resp = self
            .http
            .post(&url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("OAuth {}", auth.tokens.access_token.expose()),
            )
            .header("offset", offset.to_string())
            .header("file_size", size.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(|e| http::send_error(NET, &what, &e, false))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        tracing::debug!(
            network = NET.as_str(),
            account = auth.account_id.as_str(),
            container,
            offset,
            size,
            status,
            duration_ms = started.elapsed().as_millis() as u64,
            "instagram upload request"
        );
        let secrets = auth.secrets();
        let v: Option<Value> = serde_json::from_str(&body).ok();
        let success = v
            .as_ref()
            .and_then(|v| v.get("success"))
            .and_then(Value::as_bool)
            == Some(true);
        if (200..300).contains(&status) && success {
            return Ok(());
        }
        if let Some(info) = v.as_ref().and_then(|v| v.get("debug_info")) {
            let text = |k: &str| {
                info.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let said = sanitize_message(
                &redact(&format!("{}: {}", text("type"), text("message")), &secrets),
                160,
            );
            let retriable = info.get("retriable").and_then(Value::as_bool) == Some(true);
            let e = if retriable || status >= 500 {
                transient(format!(
                    "the upload of {file} failed for now ({said}) — Outpost will retry"
                ))
            } else if status == 401 || text("type").contains("Auth") {
                PublishError::new(
                    NET,
                    ErrorClass::Reauth,
                    format!(
                        "the upload service refused the sign-in while uploading {file} ({said}) — reconnect the account in Accounts"
                    ),
                )
            } else {
                permanent(format!(
                    "Instagram refused the upload of {file} ({said}) — retry the post to upload it again"
                ))
            };
            return Err(e.with_excerpt(&body, &secrets));
        }
        let err = GraphError::parse(&body).unwrap_or_else(|| GraphError {
            message: format!("HTTP {status}"),
            ..GraphError::default()
        });
        let mut e = crate::graph::classify(NET, &what, status, &err, &headers, chrono::Utc::now());
        e.message = redact(&e.message, &secrets);
        Err(e.with_excerpt(&body, &secrets))
    }
}
