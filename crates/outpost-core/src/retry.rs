//! Retry policy: exponential backoff with full jitter, `Retry-After` parsing, the circuit
//! breaker's state machine, the catch-up decision and per-network daily quotas. All pure.

use crate::network::Network;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Backoff parameters for transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
            max_attempts: 6,
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait after failed attempt number `attempt` (1-based): base·2^(n-1),
    /// capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.cap)
    }

    /// Full jitter: uniform in [0, ceiling]. A server hint (`Retry-After`) is a floor.
    pub fn delay(&self, attempt: u32, hint: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jittered = Duration::from_millis(rng.gen_range(0..=ceiling.as_millis() as u64));
        match hint {
            Some(h) => jittered.max(h),
            None => jittered,
        }
    }

    /// Whether another attempt may follow failed attempt number `attempt`.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

/// Parses a `Retry-After` header: delta seconds or an HTTP date. Returns the instant to wait
/// until.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(now + ChronoDuration::seconds(secs.min(7 * 24 * 3600) as i64));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    let when: DateTime<Utc> = when.into();
    Some(when.max(now))
}

/// Parses an epoch-seconds reset header (`RateLimit-Reset`, `x-rate-limit-reset`).
pub fn parse_epoch_reset(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let secs = value.trim().parse::<i64>().ok()?;
    let at = DateTime::<Utc>::from_timestamp(secs, 0)?;
    Some(at.max(now))
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerPolicy {
    pub failure_threshold: u32,
    pub first_open: Duration,
    pub max_open: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failure_threshold: 5,
            first_open: Duration::from_secs(30),
            max_open: Duration::from_secs(15 * 60),
        }
    }
}

/// One breaker's persisted state (per network, or per account).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BreakerState {
    pub consecutive_failures: u32,
    /// While set and in the future, calls are refused; once passed, one probe may run.
    pub open_until: Option<DateTime<Utc>>,
    /// How many times in a row the breaker opened (the open period doubles each time).
    pub opened_times: u32,
    /// A probe is running (half-open).
    pub probing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerDecision {
    Closed,
    Open {
        until: DateTime<Utc>,
    },
    /// The open period is over: run one cheap read (never a publish) to test the network.
    Probe,
}

impl BreakerState {
    pub fn decide(&self, now: DateTime<Utc>) -> BreakerDecision {
        match self.open_until {
            None => BreakerDecision::Closed,
            Some(until) if now < until => BreakerDecision::Open { until },
            Some(until) if self.probing => BreakerDecision::Open {
                until: until.max(now),
            },
            Some(_) => BreakerDecision::Probe,
        }
    }

    pub fn record_success(&mut self) {
        *self = BreakerState::default();
    }

    /// A transient failure (of a publish, or of the probe). Returns true when the breaker opened.
    pub fn record_failure(&mut self, now: DateTime<Utc>, policy: &BreakerPolicy) -> bool {
        self.consecutive_failures += 1;
        let was_probe = self.open_until.is_some();
        if was_probe || self.consecutive_failures >= policy.failure_threshold {
            let factor = 1u32 << self.opened_times.min(16);
            let period = policy
                .first_open
                .saturating_mul(factor)
                .min(policy.max_open);
            self.open_until = Some(now + ChronoDuration::from_std(period).unwrap_or_default());
            self.opened_times += 1;
            self.probing = false;
            return true;
        }
        false
    }
}

/// What to do with a target that became due while nothing ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    Publish,
    Missed,
}

pub const DEFAULT_CATCH_UP_WINDOW: Duration = Duration::from_secs(2 * 3600);

pub fn catch_up(now: DateTime<Utc>, due: DateTime<Utc>, window: Duration) -> CatchUp {
    let late = (now - due).to_std().unwrap_or_default();
    if late <= window {
        CatchUp::Publish
    } else {
        CatchUp::Missed
    }
}

/// A cap on publishes per rolling window, for a network (per account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub max: u32,
    pub window: Duration,
    /// Where the number comes from.
    pub source: &'static str,
}

/// Documented per-account caps, used until a live quota endpoint says otherwise.
pub fn default_quotas(network: Network) -> Vec<Quota> {
    let day = Duration::from_secs(24 * 3600);
    let hour = Duration::from_secs(3600);
    let q = |max, window, source| Quota {
        max,
        window,
        source,
    };
    match network {
        // 5,000 points/h and 35,000/day per DID, create = 3 points.
        Network::Bluesky => vec![
            q(1_666, hour, "Bluesky: 5,000 write points/hour, create = 3"),
            q(11_666, day, "Bluesky: 35,000 write points/day, create = 3"),
        ],
        // Free tier historically 17/24 h; the original system allowed 2 a day per user.
        Network::X => vec![q(
            100,
            day,
            "X: per-user cap (setting; depends on API tier)",
        )],
        Network::LinkedIn => vec![q(150, day, "LinkedIn: ~150 posts/day per member")],
        Network::Pinterest => vec![q(1_000, day, "Pinterest: trial access 1,000 requests/day")],
        Network::Facebook => vec![q(30, day, "Facebook: 30 Reels per 24 h per Page")],
        Network::Instagram => vec![q(
            50,
            day,
            "Instagram: content_publishing_limit (50 per 24 h)",
        )],
        Network::Threads => vec![q(
            250,
            day,
            "Threads: threads_publishing_limit (250 per 24 h)",
        )],
        Network::TikTok => vec![q(15, day, "TikTok: ~15 posts/day per creator")],
        Network::YouTube => vec![q(
            100,
            day,
            "YouTube: 100 videos.insert per day per project",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn backoff_ceiling_doubles_from_2s_to_a_5_minute_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=10).map(|n| p.ceiling(n).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert!(p.may_retry(5));
        assert!(!p.may_retry(6), "at most 6 attempts");
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_ceiling_and_honours_hints() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut saw_small = false;
        for attempt in 1..=8 {
            for _ in 0..200 {
                let d = p.delay(attempt, None, &mut rng);
                assert!(d <= p.ceiling(attempt));
                saw_small |= d < p.ceiling(attempt) / 4;
            }
        }
        assert!(saw_small, "full jitter must reach the low end of the range");
        let hinted = p.delay(1, Some(Duration::from_secs(30)), &mut rng);
        assert!(hinted >= Duration::from_secs(30), "Retry-After is a floor");
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = t0();
        assert_eq!(
            parse_retry_after("120", now),
            Some(now + ChronoDuration::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 12:05:00 GMT", now),
            Some(now + ChronoDuration::minutes(5))
        );
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", now),
            Some(now),
            "past dates mean now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_epoch_reset("1795867500", now).map(|d| d.timestamp()),
            Some(1_795_867_500)
        );
    }

    #[test]
    fn breaker_opens_after_five_failures_probes_and_doubles_to_fifteen_minutes() {
        let policy = BreakerPolicy::default();
        let mut b = BreakerState::default();
        let now = t0();
        for i in 1..5 {
            assert!(!b.record_failure(now, &policy), "failure {i} must not open");
            assert_eq!(b.decide(now), BreakerDecision::Closed);
        }
        assert!(b.record_failure(now, &policy));
        assert_eq!(
            b.decide(now),
            BreakerDecision::Open {
                until: now + ChronoDuration::seconds(30)
            }
        );
        let later = now + ChronoDuration::seconds(31);
        assert_eq!(b.decide(later), BreakerDecision::Probe);
        // failed probes double the open period: 60, 120, … capped at 900 s
        let mut periods = vec![];
        let mut at = later;
        for _ in 0..8 {
            b.record_failure(at, &policy);
            let until = b.open_until.unwrap_or(at);
            periods.push((until - at).num_seconds());
            at = until;
        }
        assert_eq!(periods, vec![60, 120, 240, 480, 900, 900, 900, 900]);
        b.record_success();
        assert_eq!(b.decide(at), BreakerDecision::Closed);
        assert_eq!(b.consecutive_failures, 0);
    }

    #[test]
    fn catch_up_publishes_within_the_window_and_misses_after() {
        let due = t0();
        let w = DEFAULT_CATCH_UP_WINDOW;
        assert_eq!(
            catch_up(due + ChronoDuration::minutes(119), due, w),
            CatchUp::Publish
        );
        assert_eq!(
            catch_up(due + ChronoDuration::minutes(121), due, w),
            CatchUp::Missed
        );
        assert_eq!(
            catch_up(due - ChronoDuration::minutes(1), due, w),
            CatchUp::Publish
        );
    }
}
