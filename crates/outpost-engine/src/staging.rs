//! Public staging for networks that fetch media by URL (Instagram, Threads, TikTok photos,
//! Pinterest by URL): the file is uploaded to the user's S3-compatible bucket just before the
//! network needs it, recorded in the `staged` table before its URL is handed out, and deleted
//! once every target using it is finished. A start-up sweep removes leftovers older than 48 h.

use crate::{blocking, Engine};
use chrono::{DateTime, Utc};
use outpost_auth::SecretStore;
use outpost_core::{ErrorClass, MediaRef, Network, PublishError};
use outpost_media::{Staging, StagingConfig};
use outpost_store::{StagedRow, Store};
use std::collections::HashSet;
use std::time::Duration;

/// Setting holding the bucket's [`StagingConfig`] as JSON (its keys are in the secret store).
pub const SETTING_STAGING: &str = "staging.config";
/// Leftovers older than this are removed by the start-up sweep.
pub const SWEEP_AFTER: Duration = Duration::from_secs(48 * 3600);
/// A staged URL is reused only if it stays valid at least this long (the network's
/// processing time: Instagram and Threads containers are processed within minutes, TikTok
/// photo posts fetch within an hour).
pub const MIN_URL_LIFETIME: chrono::Duration = chrono::Duration::hours(2);

/// The saved bucket settings, if any.
pub fn config(store: &Store) -> Result<Option<StagingConfig>, String> {
    let Some(raw) = store.setting(SETTING_STAGING).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    serde_json::from_str(&raw).map(Some).map_err(|e| {
        format!(
            "the saved staging bucket settings cannot be read ({e}) — save them again in Settings"
        )
    })
}

/// A connection to the configured bucket, or `None` when none is configured.
pub fn open(store: &Store, secrets: &dyn SecretStore) -> Result<Option<Staging>, String> {
    let Some(config) = config(store)? else {
        return Ok(None);
    };
    Staging::new(config, secrets)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn permanent(network: Network, message: String) -> PublishError {
    PublishError::new(network, ErrorClass::Permanent, message)
}

/// Makes sure every file of `media` is in the bucket for `target_id`, and returns
/// `(sha256, url)` pairs in the same order. Staged objects of this target that are still valid
/// long enough are reused (a retry does not upload again).
pub(crate) async fn ensure_staged(
    engine: &Engine,
    target_id: &str,
    network: Network,
    media: &[MediaRef],
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, PublishError> {
    let inner = &engine.inner;
    let name = network.display_name();
    let Some(secrets) = inner.secrets.get().cloned() else {
        return Err(permanent(
            network,
            format!("{name} fetches media from a public address, and this runner has no secret store to reach the staging bucket — restart Outpost"),
        ));
    };
    let staging = {
        let s = secrets.clone();
        blocking(&inner.store, move |st| Ok(open(st, &*s)))
            .await
            .map_err(|e| {
                PublishError::new(
                    network,
                    ErrorClass::Transient { retry_after: None },
                    e.to_string(),
                )
            })?
    };
    let staging = match staging {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(permanent(
                network,
                format!("{name} fetches media from a public address: set up a staging bucket in Settings › Media staging (or `outpost staging set`), then retry"),
            ))
        }
        Err(e) => return Err(permanent(network, format!("{name}: staging bucket: {e}"))),
    };
    let existing = {
        let id = target_id.to_string();
        blocking(&inner.store, move |s| s.staged_for_target(&id))
            .await
            .map_err(|e| {
                PublishError::new(
                    network,
                    ErrorClass::Transient { retry_after: None },
                    e.to_string(),
                )
            })?
    };
    let mut out = Vec::with_capacity(media.len());
    for m in media {
        if let Some(row) = existing.iter().find(|r| {
            r.sha256 == m.sha256 && r.expires_at.is_none_or(|at| at - MIN_URL_LIFETIME > now)
        }) {
            out.push((m.sha256.clone(), row.url.clone()));
            continue;
        }
        let item = outpost_media::LibraryItem {
            sha256: m.sha256.clone(),
            path: m.path.clone().into(),
            mime: m.mime.clone(),
            bytes: m.bytes,
            width: m.width,
            height: m.height,
            duration_ms: None,
            frame_rate: None,
            video_codec: None,
            audio_codec: None,
            animated: false,
        };
        let started = std::time::Instant::now();
        let staged = staging.stage(&item).await.map_err(|e| {
            PublishError::new(
                network,
                ErrorClass::Transient { retry_after: None },
                format!(
                    "{name}: could not copy {} to the staging bucket ({e}) — Outpost will retry",
                    m.file_name()
                ),
            )
        })?;
        tracing::info!(
            network = %network,
            target = %target_id,
            key = %staged.key,
            bytes = staged.bytes,
            duration_ms = started.elapsed().as_millis() as u64,
            "media staged"
        );
        let row = StagedRow {
            key: staged.key.clone(),
            target_id: target_id.to_string(),
            sha256: m.sha256.clone(),
            url: staged.url.clone(),
            expires_at: staged.expires_at,
            created_at: now,
        };
        blocking(&inner.store, move |s| s.record_staged(&row))
            .await
            .map_err(|e| {
                PublishError::new(
                    network,
                    ErrorClass::Transient { retry_after: None },
                    e.to_string(),
                )
            })?;
        out.push((m.sha256.clone(), staged.url));
    }
    Ok(out)
}

/// Deletes staged objects whose targets are all finished; at start-up also sweeps the
/// bucket's prefix for leftovers older than [`SWEEP_AFTER`] that no unfinished target needs.
/// Failures are logged and tried again next time; they never stop the dispatcher.
pub(crate) async fn clean_up(engine: &Engine, now: DateTime<Utc>, sweep: bool) {
    let inner = &engine.inner;
    let Some(secrets) = inner.secrets.get().cloned() else {
        return;
    };
    let deletable = match blocking(&inner.store, |s| s.staged_deletable()).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the staging ledger");
            return;
        }
    };
    if deletable.is_empty() && !sweep {
        return;
    }
    let staging = match blocking(&inner.store, move |s| Ok(open(s, &*secrets))).await {
        Ok(Ok(Some(s))) => s,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "staging bucket not usable; staged files kept for now");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the staging settings");
            return;
        }
    };
    for key in deletable {
        match staging.delete(&key).await {
            Ok(()) => {
                let k = key.clone();
                if let Err(e) = blocking(&inner.store, move |s| s.staged_deleted(&k, now)).await {
                    tracing::warn!(error = %e, key = %key, "could not record a deleted staged file");
                } else {
                    tracing::info!(key = %key, "staged file deleted: every target using it is finished");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, key = %key, "could not delete a staged file; will try again")
            }
        }
    }
    if sweep {
        let keep: HashSet<String> = match blocking(&inner.store, |s| s.staged_live_keys()).await {
            Ok(k) => k.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the staging ledger; no sweep");
                return;
            }
        };
        match staging.sweep(now, SWEEP_AFTER, &keep).await {
            Ok(report) => {
                for key in &report.removed {
                    let k = key.clone();
                    let _ = blocking(&inner.store, move |s| s.staged_deleted(&k, now)).await;
                }
                tracing::info!(
                    removed = report.removed.len(),
                    kept = report.kept,
                    "staging sweep"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "staging sweep failed; will try at the next start")
            }
        }
    }
}
