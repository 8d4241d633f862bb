//! Reading the time a person typed: RFC 3339 instants, or wall-clock time in their IANA zone.
//! DST gaps and overlaps are never guessed: the message says what to type instead.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How far in the past a schedule time may be and still count as "now" (as the original system).
pub const PAST_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("time: '{0}' is not a time Outpost understands — use RFC 3339 (2026-12-01T09:30:00+01:00) or local time (2026-12-01 09:30)")]
    Unparseable(String),
    #[error("time zone: '{0}' is not an IANA time zone name (for example Europe/Berlin or America/New_York)")]
    UnknownZone(String),
    #[error("time: {local} does not exist in {zone} (the clocks skip that hour for daylight saving time) — choose a time outside the gap")]
    InGap { local: String, zone: String },
    #[error("time: {local} happens twice in {zone} (the clocks go back) — add the offset to say which: {first} or {second}")]
    Ambiguous {
        local: String,
        zone: String,
        first: String,
        second: String,
    },
    #[error("time: {0} is in the past — choose a time in the future (up to 5 minutes ago counts as now)")]
    InPast(String),
}

pub fn parse_zone(name: &str) -> Result<Tz, TimeError> {
    name.parse::<Tz>()
        .map_err(|_| TimeError::UnknownZone(name.to_string()))
}

/// The user's zone: `OUTPOST_TZ`/`TZ` if set and valid, else `/etc/timezone`, else UTC.
pub fn local_zone_name() -> String {
    let from_env = ["OUTPOST_TZ", "TZ"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim_start_matches(':').to_string())
        .find(|v| v.parse::<Tz>().is_ok());
    from_env
        .or_else(|| {
            std::fs::read_to_string("/etc/timezone")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|v| v.parse::<Tz>().is_ok())
        })
        .or_else(|| {
            std::fs::read_link("/etc/localtime").ok().and_then(|p| {
                let s = p.to_string_lossy().to_string();
                s.split_once("zoneinfo/")
                    .map(|(_, z)| z.to_string())
                    .filter(|v| v.parse::<Tz>().is_ok())
            })
        })
        .unwrap_or_else(|| "UTC".to_string())
}

const LOCAL_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
];

/// Parses what the user typed into a UTC instant. `zone` interprets wall-clock input.
pub fn parse_schedule_time(input: &str, zone: Tz) -> Result<DateTime<Utc>, TimeError> {
    let s = input.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&Utc));
    }
    let naive = LOCAL_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .ok_or_else(|| TimeError::Unparseable(s.to_string()))?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(dt) => Ok(dt.with_timezone(&Utc)),
        LocalResult::None => Err(TimeError::InGap {
            local: naive.format("%Y-%m-%d %H:%M").to_string(),
            zone: zone.name().to_string(),
        }),
        LocalResult::Ambiguous(a, b) => Err(TimeError::Ambiguous {
            local: naive.format("%Y-%m-%d %H:%M").to_string(),
            zone: zone.name().to_string(),
            first: a.to_rfc3339(),
            second: b.to_rfc3339(),
        }),
    }
}

/// Refuses times more than [`PAST_TOLERANCE`] before `now`.
pub fn check_not_past(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), TimeError> {
    if at < now - PAST_TOLERANCE {
        return Err(TimeError::InPast(at.to_rfc3339()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Tz {
        parse_zone("Europe/Berlin").unwrap_or(chrono_tz::UTC)
    }

    #[test]
    fn rfc3339_and_local_wall_clock_are_accepted() {
        let z = berlin();
        assert_eq!(
            parse_schedule_time("2026-12-01T09:30:00+01:00", z).map(|d| d.to_rfc3339()),
            Ok("2026-12-01T08:30:00+00:00".to_string())
        );
        assert_eq!(
            parse_schedule_time("2026-12-01 09:30", z).map(|d| d.to_rfc3339()),
            Ok("2026-12-01T08:30:00+00:00".to_string()),
            "winter: Berlin is UTC+1"
        );
        assert_eq!(
            parse_schedule_time("2026-07-01T09:30", z).map(|d| d.to_rfc3339()),
            Ok("2026-07-01T07:30:00+00:00".to_string()),
            "summer: Berlin is UTC+2"
        );
    }

    #[test]
    fn dst_gap_and_overlap_are_refused_with_a_way_out() {
        let z = berlin();
        // 2026-03-29 02:30 does not exist in Berlin.
        let gap = parse_schedule_time("2026-03-29 02:30", z);
        assert!(matches!(gap, Err(TimeError::InGap { .. })), "{gap:?}");
        // 2026-10-25 02:30 happens twice.
        match parse_schedule_time("2026-10-25 02:30", z) {
            Err(e @ TimeError::Ambiguous { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("+02:00") && msg.contains("+01:00"), "{msg}");
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
    }

    #[test]
    fn garbage_and_unknown_zones_are_refused() {
        assert!(matches!(
            parse_schedule_time("tomorrow-ish", berlin()),
            Err(TimeError::Unparseable(_))
        ));
        assert!(matches!(
            parse_zone("Mars/Olympus"),
            Err(TimeError::UnknownZone(_))
        ));
        assert!(matches!(
            parse_schedule_time("2026-13-01 10:00", berlin()),
            Err(TimeError::Unparseable(_))
        ));
    }

    #[test]
    fn past_times_have_five_minutes_of_grace() {
        let now = Utc::now();
        assert!(check_not_past(now - chrono::Duration::minutes(4), now).is_ok());
        assert!(matches!(
            check_not_past(now - chrono::Duration::minutes(6), now),
            Err(TimeError::InPast(_))
        ));
    }
}
