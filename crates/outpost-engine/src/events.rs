//! What the engine tells the rest of the app.

use chrono::{DateTime, Utc};
use outpost_core::{Network, Target};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A target changed state (the card and the calendar redraw it).
    TargetChanged {
        post_id: String,
        target: Box<Target>,
    },
    /// An account stopped working; the user must reconnect it.
    AccountNeedsReconnect {
        account_id: String,
        network: Network,
        address: String,
        reason: String,
    },
    /// An account's sign-in expires soon and cannot be renewed automatically (LinkedIn's
    /// 60-day tokens): the user should reconnect before `expires_at`.
    AccountExpiring {
        account_id: String,
        network: Network,
        address: String,
        expires_at: chrono::DateTime<chrono::Utc>,
        reason: String,
    },
    /// A circuit breaker opened or closed.
    Breaker {
        scope: String,
        open_until: Option<DateTime<Utc>>,
    },
    /// The runner's health, after every wake.
    Health(HealthSnapshot),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct HealthSnapshot {
    pub runner: String,
    pub paused: bool,
    pub last_wake: DateTime<Utc>,
    pub next_due: Option<DateTime<Utc>>,
    pub queue_depth: i64,
    pub in_flight: i64,
}
