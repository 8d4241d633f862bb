//! The dispatcher: decides when each target is published, and what happens when a network
//! says no.
//!
//! It sleeps until the next thing to do (a due post, a retry, a poll, a lease expiry), wakes at
//! once when a post changes — in this process or another one sharing the database — and at
//! least every 30 s so a wall-clock jump (suspend/resume) is noticed. It claims due targets
//! with a lease, records every attempt before the network call, reconciles attempts whose
//! outcome is unknown before anything is retried, backs off, opens circuit breakers, respects
//! quotas and the catch-up window, and reports every change on a broadcast channel.
//!
//! It never decides an error's class (the network modules do) and never talks to the GUI.

pub mod api;
pub mod connect;
mod events;
mod housekeeping;
pub mod media;
pub mod staging;
mod tokens;
pub mod watch;
mod worker;

pub use events::{Event, HealthSnapshot};

use chrono::{DateTime, Utc};
use outpost_core::retry::{BreakerPolicy, RetryPolicy, DEFAULT_CATCH_UP_WINDOW};
use outpost_core::Clock;
use outpost_core::Network;
use outpost_networks::Publisher;
use outpost_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Settings names in the store.
pub const SETTING_PAUSED: &str = "paused";
pub const SETTING_CATCH_UP_SECS: &str = "catch_up_window_secs";

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `agent`, `app`, `test`…: shown in `outpost status`.
    pub runner_kind: String,
    pub lease: Duration,
    /// Longest sleep, so wall-clock jumps are noticed.
    pub max_sleep: Duration,
    /// How often expired leases of dead runners are looked for.
    pub recover_every: Duration,
    /// Targets in flight at once, all networks together.
    pub concurrency: usize,
    /// Targets in flight at once per network.
    pub per_network: usize,
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
    /// Two-phase work that never finishes fails after this long.
    pub processing_timeout: Duration,
    /// Per-network quotas to use instead of the documented defaults (settings, tests).
    pub quotas: HashMap<Network, Vec<outpost_core::retry::Quota>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            runner_kind: "agent".into(),
            lease: Duration::from_secs(60),
            max_sleep: Duration::from_secs(30),
            recover_every: Duration::from_secs(30),
            concurrency: 16,
            per_network: 8,
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            processing_timeout: Duration::from_secs(30 * 60),
            quotas: HashMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] outpost_store::StoreError),
    #[error("background task failed: {0}")]
    Join(String),
}

/// How `run` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Until cancelled.
    Forever,
    /// Publish what was due at `start`, let it settle (retries and polls due within
    /// `settle`), then return.
    Once {
        start: DateTime<Utc>,
        settle: Duration,
    },
}

/// The engine. Cheap to clone; every clone drives the same dispatcher state.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub publishers: HashMap<Network, Arc<dyn Publisher>>,
    pub config: EngineConfig,
    pub events: broadcast::Sender<Event>,
    pub wake: Notify,
    pub runner_id: String,
    pub network_permits: HashMap<Network, Arc<Semaphore>>,
    /// Breaker scopes with a probe running in this process.
    pub probing: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The secret store (staging bucket keys, OAuth tokens for refresh bookkeeping).
    pub secrets: std::sync::OnceLock<Arc<dyn outpost_auth::SecretStore>>,
    /// When each OAuth account was last verified with a read before publishing.
    pub verified: std::sync::Mutex<HashMap<String, DateTime<Utc>>>,
    /// When the media library's garbage collection runs next.
    pub next_gc: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl Engine {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        publishers: HashMap<Network, Arc<dyn Publisher>>,
        config: EngineConfig,
    ) -> Engine {
        let (events, _) = broadcast::channel(1024);
        let runner_id = format!(
            "{}-{}-{}",
            config.runner_kind,
            std::process::id(),
            outpost_core::ids::new_id("r").trim_start_matches("r_")
        );
        let network_permits = Network::ALL
            .into_iter()
            .map(|n| (n, Arc::new(Semaphore::new(config.per_network.max(1)))))
            .collect();
        Engine {
            inner: Arc::new(Inner {
                store,
                clock,
                publishers,
                config,
                events,
                wake: Notify::new(),
                runner_id,
                network_permits,
                probing: Default::default(),
                secrets: std::sync::OnceLock::new(),
                next_gc: std::sync::Mutex::new(None),
                verified: Default::default(),
            }),
        }
    }

    /// Gives the engine the secret store (needed for the staging bucket's keys). Set once.
    pub fn with_secrets(self, secrets: Arc<dyn outpost_auth::SecretStore>) -> Engine {
        let _ = self.inner.secrets.set(secrets);
        self
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn runner_id(&self) -> &str {
        &self.inner.runner_id
    }

    /// Events for the UI, notifications and tests.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Wakes the dispatcher at once (after a post was created or edited in this process).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    fn catch_up_window(&self) -> Duration {
        self.inner
            .store
            .setting(SETTING_CATCH_UP_SECS)
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_CATCH_UP_WINDOW)
    }

    fn paused(&self) -> bool {
        self.inner
            .store
            .setting(SETTING_PAUSED)
            .ok()
            .flatten()
            .is_some_and(|v| v == "1" || v == "true")
    }

    /// Runs the dispatcher until `cancel` fires (or, in `Once` mode, until the work due at the
    /// start has settled). In-flight calls finish before it returns; nothing is left claimed.
    pub async fn run(&self, mode: RunMode, cancel: CancellationToken) -> Result<(), EngineError> {
        let inner = &self.inner;
        let store = inner.store.clone();
        let clock = inner.clock.clone();
        let runner = inner.runner_id.clone();
        let start = clock.now();
        blocking(&store, {
            let (runner, kind) = (runner.clone(), inner.config.runner_kind.clone());
            move |s| s.register_runner(&runner, &kind, start)
        })
        .await?;
        tracing::info!(runner = %runner, mode = ?mode, "dispatcher started");

        let capacity = Arc::new(Semaphore::new(inner.config.concurrency.max(1)));
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut next_recover = start; // recover at once on start-up
        let mut first_round = true;
        let mut next_renew = start + chrono_dur(inner.config.lease / 3);
        let due_before = match mode {
            RunMode::Once { start, .. } => Some(start),
            RunMode::Forever => None,
        };

        loop {
            let now = clock.now();
            if now >= next_recover {
                reap_dead_runners(&store, &runner, now).await?;
                let recovered = blocking(&store, move |s| s.recover_expired_leases(now)).await?;
                if !recovered.is_empty() {
                    tracing::warn!(
                        count = recovered.len(),
                        "recovered targets whose runner stopped renewing its lease"
                    );
                }
                next_recover = now + chrono_dur(inner.config.recover_every);
                staging::clean_up(self, now, first_round).await;
                housekeeping::collect_media_garbage(self, now).await;
                tokens::look_after_tokens(self, now).await;
                first_round = false;
            }
            if now >= next_renew {
                let until = now + chrono_dur(inner.config.lease);
                let r = runner.clone();
                blocking(&store, move |s| s.renew_leases(&r, until)).await?;
                next_renew = now + chrono_dur(inner.config.lease / 3);
            }

            let paused = self.paused();
            if !paused && !cancel.is_cancelled() {
                let free = capacity.available_permits();
                if free > 0 {
                    let lease = inner.config.lease;
                    let r = runner.clone();
                    let claimed = blocking(&store, move |s| {
                        s.claim_due_before(&r, now, lease, free, &[], &[], due_before)
                    })
                    .await?;
                    let window = self.catch_up_window();
                    for target in claimed {
                        let Ok(permit) = capacity.clone().try_acquire_owned() else {
                            break;
                        };
                        let engine = self.clone();
                        tracing::debug!(post_id = %target.post_id, target = %target.id, network = %target.network, "claimed");
                        tasks.spawn(async move {
                            worker::process(&engine, target, window).await;
                            drop(permit);
                        });
                    }
                }
            }

            // When to wake next.
            let in_flight = (inner.config.concurrency.max(1) - capacity.available_permits()) as i64;
            let next_due = blocking(&store, move |s| s.next_wake_due_before(due_before)).await?;
            let at_capacity = capacity.available_permits() == 0;
            let mut wake_at = now + chrono_dur(inner.config.max_sleep);
            wake_at = wake_at.min(next_recover);
            if in_flight > 0 {
                // Leases need renewing only while we hold some.
                wake_at = wake_at.min(next_renew);
            } else {
                next_renew = next_renew.max(now + chrono_dur(inner.config.lease / 3));
            }
            if let Some(d) = next_due {
                if !(paused || at_capacity && d <= now) {
                    wake_at = wake_at.min(d.max(now));
                }
            }
            let depth = blocking(&store, move |s| s.due_count(now))
                .await
                .unwrap_or(0);
            {
                let r = runner.clone();
                blocking(&store, move |s| {
                    s.runner_heartbeat(&r, now, next_due, depth, in_flight)
                })
                .await?;
            }
            let _ = inner.events.send(Event::Health(HealthSnapshot {
                runner: runner.clone(),
                paused,
                last_wake: now,
                next_due,
                queue_depth: depth,
                in_flight,
            }));

            if let RunMode::Once { settle, .. } = mode {
                let settled =
                    in_flight == 0 && next_due.is_none_or(|d| d > now + chrono_dur(settle));
                if settled || cancel.is_cancelled() && in_flight == 0 {
                    break;
                }
            } else if cancel.is_cancelled() && in_flight == 0 {
                break;
            }

            let sleep = clock.sleep_until(wake_at);
            tokio::select! {
                _ = sleep => {}
                _ = inner.wake.notified() => {}
                Some(res) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = res {
                        tracing::error!(error = %e, "a publishing task panicked");
                    }
                }
                _ = cancel.cancelled(), if !cancel.is_cancelled() => {
                    tracing::info!(in_flight, "stopping: letting in-flight calls finish");
                }
            }
        }

        while let Some(res) = tasks.join_next().await {
            if let Err(e) = res {
                tracing::error!(error = %e, "a publishing task panicked");
            }
        }
        // Staged files of targets that finished during this run go now, not at the next start.
        staging::clean_up(self, clock.now(), false).await;
        let end = clock.now();
        let r = runner.clone();
        blocking(&store, move |s| {
            s.release_runner(&r, end)?;
            s.runner_stopped(&r, end)
        })
        .await?;
        tracing::info!(runner = %runner, "dispatcher stopped");
        Ok(())
    }
}

/// Expires the leases of runners on this machine whose process no longer exists (killed, or
/// crashed), so their targets are recovered at once rather than after the lease runs out.
/// Only Linux can tell (through /proc); elsewhere leases simply expire.
async fn reap_dead_runners(store: &Store, me: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let me = me.to_string();
    blocking(store, move |s| {
        for r in s.runners()? {
            let alive = std::path::Path::new(&format!("/proc/{}", r.pid)).exists();
            if r.id != me && r.stopped_at.is_none() && r.pid != i64::from(std::process::id()) && !alive {
                let n = s.expire_runner(&r.id, now)?;
                tracing::warn!(runner = %r.id, pid = r.pid, leases = n, "a runner's process is gone; recovering its targets now");
            }
        }
        Ok(())
    })
    .await
}

pub(crate) fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Runs a store call on the blocking pool. SQLITE_BUSY is retried briefly: it is a passing
/// state, never a failure shown to a user.
pub(crate) async fn blocking<T, F>(store: &Store, f: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: Fn(&Store) -> outpost_store::Result<T> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut tries = 0;
        loop {
            match f(&store) {
                Err(e) if e.is_transient() && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50 * tries));
                }
                other => return other,
            }
        }
    })
    .await
    .map_err(|e| EngineError::Join(e.to_string()))?
    .map_err(EngineError::from)
}

#[cfg(test)]
mod tests;
