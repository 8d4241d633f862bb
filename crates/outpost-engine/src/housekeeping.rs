//! Work the dispatcher does besides publishing: the media library's garbage collection.

use crate::{blocking, chrono_dur, Engine};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Setting: days a library file no post references is kept (default 30).
pub const SETTING_MEDIA_KEEP_DAYS: &str = "media.keep_days";
pub const DEFAULT_MEDIA_KEEP_DAYS: u64 = 30;
/// How often the library is collected (and once at start-up).
pub const GC_EVERY: Duration = Duration::from_secs(6 * 3600);

/// Removes library files no post has referenced for the keep period — never one a post still
/// uses, and never one a target that is not finished needs. Runs at start-up and every
/// [`GC_EVERY`]; failures are logged and never stop the dispatcher.
pub(crate) async fn collect_media_garbage(engine: &Engine, now: DateTime<Utc>) {
    let inner = &engine.inner;
    {
        let mut next = inner.next_gc.lock().unwrap_or_else(|p| p.into_inner());
        if next.is_some_and(|at| now < at) {
            return;
        }
        *next = Some(now + chrono_dur(GC_EVERY));
    }
    let Some(data_dir) = inner
        .store
        .path()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
    else {
        return; // an in-memory store (tests) has no library
    };
    if !data_dir.join("media").is_dir() {
        return;
    }
    let result = blocking(&inner.store, move |s| {
        let keep_days = s
            .setting(SETTING_MEDIA_KEEP_DAYS)?
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_MEDIA_KEEP_DAYS);
        let (referenced, in_use) = s.media_references()?;
        let started = std::time::Instant::now();
        let report = outpost_media::MediaLibrary::open(&data_dir).and_then(|lib| {
            lib.collect_garbage(
                &referenced,
                &in_use,
                now,
                Duration::from_secs(keep_days * 86_400),
            )
        });
        if let Ok(r) = &report {
            for m in &r.removed {
                s.delete_media(&m.sha256)?;
            }
        }
        Ok((report, started.elapsed()))
    })
    .await;
    match result {
        Ok((Ok(report), took)) => tracing::info!(
            removed = report.removed.len(),
            bytes_freed = report.bytes_freed,
            duration_ms = took.as_millis() as u64,
            "media library garbage collection"
        ),
        Ok((Err(e), _)) => tracing::warn!(error = %e, "media garbage collection failed"),
        Err(e) => tracing::warn!(error = %e, "media garbage collection could not read the store"),
    }
}
