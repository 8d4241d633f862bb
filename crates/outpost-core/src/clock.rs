//! Time is injected: the engine asks a [`Clock`] for "now" and for a timer, so scheduling logic
//! is tested with a [`ManualClock`] and never sleeps for real.

use chrono::{DateTime, Duration, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Completes once `now() >= at`. Must be cancel-safe (dropping it is fine).
    fn sleep_until(&self, at: DateTime<Utc>) -> SleepFuture;
}

/// The wall clock. Sleeps are capped by the caller (the dispatcher wakes at least every 30 s),
/// so a wall-clock jump (suspend/resume) is noticed.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn sleep_until(&self, at: DateTime<Utc>) -> SleepFuture {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that only moves when told to. Sleepers wake when `advance`/`set` passes their time.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
    tick: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        let (tick, _) = watch::channel(start);
        ManualClock {
            now: Arc::new(Mutex::new(start)),
            tick,
        }
    }

    pub fn advance(&self, by: Duration) {
        let next = self.now() + by;
        self.set(next);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        if let Ok(mut guard) = self.now.lock() {
            *guard = to;
        }
        self.tick.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .map(|g| *g)
            .unwrap_or_else(|e| *e.into_inner())
    }
    fn sleep_until(&self, at: DateTime<Utc>) -> SleepFuture {
        let mut rx = self.tick.subscribe();
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= at {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The clock is gone: nothing will ever advance it again.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_wakes_only_when_time_passes() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let sleeper = tokio::spawn(clock.sleep_until(start + Duration::seconds(10)));
        clock.advance(Duration::seconds(5));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke 5 s early");
        clock.advance(Duration::seconds(5));
        tokio::time::timeout(std::time::Duration::from_secs(2), sleeper)
            .await
            .expect("sleeper should wake once the time is reached")
            .expect("task");
    }
}
