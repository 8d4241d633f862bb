//! The Meta Graph API's error envelope and usage headers, shared by Facebook Pages, Instagram
//! and Threads: one place that turns `{"error":{"code","error_subcode","is_transient",…}}`
//! into Outpost's error classes, exactly as the reference tables say (platforms/README.md
//! "Error classes", facebook.md / instagram.md / threads.md "Errors"). Classified by `code` /
//! `error_subcode`, never by HTTP status.

use chrono::{DateTime, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::{ErrorClass, Network, PublishError};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::Duration;

/// The `error` object of a Graph response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    pub message: String,
    pub kind: Option<String>,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub is_transient: bool,
    pub user_title: Option<String>,
    pub user_msg: Option<String>,
    pub fbtrace_id: Option<String>,
}

impl GraphError {
    /// Reads the envelope from a response body; `None` when there is no `error` object.
    pub fn parse(body: &str) -> Option<GraphError> {
        let v: Value = serde_json::from_str(body).ok()?;
        let e = v.get("error")?;
        let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| {
            e.get(k)
                .and_then(|x| x.as_i64().or_else(|| x.as_str()?.trim().parse().ok()))
        };
        Some(GraphError {
            message: s("message").unwrap_or_default(),
            kind: s("type"),
            code: n("code"),
            subcode: n("error_subcode"),
            is_transient: e
                .get("is_transient")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            user_title: s("error_user_title"),
            user_msg: s("error_user_msg"),
            fbtrace_id: s("fbtrace_id"),
        })
    }

    /// What the user should read: Meta's user-facing message when it sent one, else its
    /// developer message, with the code for support.
    pub fn describe(&self) -> String {
        let text = self
            .user_msg
            .clone()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| self.message.clone());
        let code = match (self.code, self.subcode) {
            (Some(c), Some(s)) => format!(" (code {c}/{s})"),
            (Some(c), None) => format!(" (code {c})"),
            _ => String::new(),
        };
        sanitize_message(&format!("{}{code}", text.trim()), 200)
    }
}

/// Minutes until access is regained, from `X-Business-Use-Case-Usage` (Pages, Instagram BUC
/// limits): the largest `estimated_time_to_regain_access` of any entry.
pub fn regain_access_minutes(headers: &HeaderMap) -> Option<u64> {
    let raw = headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())?;
    let v: Value = serde_json::from_str(raw).ok()?;
    v.as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|e| e.get("estimated_time_to_regain_access")?.as_u64())
        .max()
        .filter(|m| *m > 0)
}

/// The highest percentage in `X-App-Usage` / `X-Ad-Account-Usage`-style headers
/// (`{"call_count":N,"total_time":N,"total_cputime":N}`), for logging and gentle backoff.
pub fn app_usage_percent(headers: &HeaderMap) -> Option<u64> {
    let raw = headers.get("x-app-usage").and_then(|v| v.to_str().ok())?;
    let v: Value = serde_json::from_str(raw).ok()?;
    ["call_count", "total_time", "total_cputime"]
        .iter()
        .filter_map(|k| v.get(*k)?.as_u64())
        .max()
}

/// How long to wait for a throttle without a reset header: Meta gives no time for codes 4,
/// 17, 32, 613 and the `X-App-Usage` percentages; an hour is the documented BUC window.
pub const THROTTLE_FALLBACK: chrono::Duration = chrono::Duration::minutes(15);
/// Code 368 (temporarily blocked for policy): a long wait, and the user is told.
pub const POLICY_BLOCK_WAIT: chrono::Duration = chrono::Duration::hours(24);

/// Classifies a Graph error for `network` (Facebook, Instagram or Threads), reading the reset
/// from the headers. `what` names the step in the user's words ("creating the container").
pub fn classify(
    network: Network,
    what: &str,
    status: u16,
    err: &GraphError,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> PublishError {
    let described = err.describe();
    let class = class_of(network, status, err, headers, now);
    let message = match &class {
        ErrorClass::Reauth => format!(
            "the account's sign-in no longer works ({described}) — reconnect the account in Accounts"
        ),
        ErrorClass::RateLimited { until } if err.code == Some(368) => format!(
            "posting is temporarily blocked for policy reasons ({described}) — Outpost waits until {} before trying again",
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        ErrorClass::RateLimited { until } => format!(
            "requests are being limited ({described}) — Outpost waits until {} UTC",
            until.format("%H:%M")
        ),
        ErrorClass::Transient { .. } => {
            format!("a temporary problem while {what} ({described}) — Outpost will retry")
        }
        ErrorClass::Permanent if is_duplicate(err) => format!(
            "refused a duplicate post ({described}) — change the text, or check whether it was already posted"
        ),
        _ => format!("refused {what}: {described}"),
    };
    PublishError::new(network, class, message)
}

fn is_duplicate(err: &GraphError) -> bool {
    err.code == Some(506) || err.subcode == Some(1366051)
}

fn class_of(
    network: Network,
    status: u16,
    err: &GraphError,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> ErrorClass {
    let code = err.code.unwrap_or(0);
    let sub = err.subcode.unwrap_or(0);
    let throttled = |fallback: chrono::Duration| ErrorClass::RateLimited {
        until: now
            + regain_access_minutes(headers)
                .map(|m| chrono::Duration::minutes(m as i64))
                .unwrap_or(fallback),
    };
    match code {
        // Token dead, user must act, or permissions removed.
        190 | 102 => return ErrorClass::Reauth,
        // Permission missing or removed (re-consent).
        10 | 200..=299
            if matches!(
                network,
                Network::Facebook | Network::Threads | Network::Instagram
            ) =>
        {
            return ErrorClass::Reauth
        }
        // Throttling.
        4 if network == Network::Instagram && sub == 2207051 => {
            // Spam block: a long wait.
            return throttled(POLICY_BLOCK_WAIT);
        }
        4 | 17 | 32 | 613 | 341 | 80001 | 80002 => return throttled(THROTTLE_FALLBACK),
        368 => return throttled(POLICY_BLOCK_WAIT),
        // Instagram publishing quota (9/2207042): rolling 24 h from `content_publishing_limit`;
        // without a reading, an hour.
        9 if sub == 2207042 => return throttled(chrono::Duration::hours(1)),
        _ => {}
    }
    if network == Network::Instagram {
        match (code, sub) {
            (24, 2207006) | (25, 2207050) => return ErrorClass::Reauth,
            // 9007/2207027: the container is not ready yet — keep polling; -1/2207053: an
            // unknown upload error, worth a new attempt.
            (-2, 2207003)
            | (-1, 2207001)
            | (-1, 2207032)
            | (24, 2207008)
            | (9007, 2207027)
            | (-1, 2207053) => {
                return ErrorClass::Transient {
                    retry_after: Some(Duration::from_secs(30)),
                }
            }
            _ => {}
        }
    }
    if matches!(code, 1 | 2) || err.is_transient {
        return ErrorClass::Transient { retry_after: None };
    }
    if network == Network::Threads && status == 401 {
        return ErrorClass::Reauth;
    }
    if err.code.is_none() && status >= 500 {
        return ErrorClass::Transient { retry_after: None };
    }
    ErrorClass::Permanent
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn err(code: i64, sub: Option<i64>) -> GraphError {
        GraphError {
            message: "m".into(),
            code: Some(code),
            subcode: sub,
            ..Default::default()
        }
    }

    fn class(network: Network, status: u16, e: &GraphError, h: &HeaderMap) -> ErrorClass {
        classify(network, "publishing", status, e, h, now()).class
    }

    #[test]
    fn the_envelope_is_read_with_user_messages_and_numbers_as_strings() {
        let e = GraphError::parse(
            r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":"190","error_subcode":463,"error_user_msg":"Your session has expired.","is_transient":false,"fbtrace_id":"Ab1"}}"#,
        )
        .unwrap();
        assert_eq!((e.code, e.subcode), (Some(190), Some(463)));
        assert_eq!(e.describe(), "Your session has expired. (code 190/463)");
        assert!(GraphError::parse(r#"{"data":[]}"#).is_none());
    }

    #[test]
    fn classes_follow_the_reference_tables_not_the_status() {
        let h = HeaderMap::new();
        for (net, code, sub) in [
            (Network::Facebook, 190, Some(460)),
            (Network::Facebook, 102, None),
            (Network::Facebook, 200, None),
            (Network::Instagram, 190, None),
            (Network::Instagram, 24, Some(2207006)),
            (Network::Threads, 190, None),
        ] {
            assert_eq!(
                class(net, 400, &err(code, sub), &h),
                ErrorClass::Reauth,
                "{net} {code}"
            );
        }
        assert!(class(Network::Facebook, 500, &err(1, None), &h).is_transient());
        assert!(class(Network::Facebook, 400, &err(2, None), &h).is_transient());
        assert!(class(Network::Instagram, 400, &err(-2, Some(2207003)), &h).is_transient());
        for code in [100, 3, 506, 1609005] {
            assert_eq!(
                class(Network::Facebook, 400, &err(code, None), &h),
                ErrorClass::Permanent
            );
        }
        assert_eq!(
            class(Network::Facebook, 403, &err(3, Some(492)), &h),
            ErrorClass::Permanent
        );
        // HTTP 500 with a permanent code is still permanent.
        assert_eq!(
            class(Network::Facebook, 500, &err(100, None), &h),
            ErrorClass::Permanent
        );
        // No envelope at all on a 5xx: transient.
        assert!(class(Network::Threads, 502, &GraphError::default(), &h).is_transient());
    }

    #[test]
    fn throttles_wait_for_the_usage_header_or_a_fallback() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"123":[{"type":"pages","call_count":100,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":7}]}"#,
            ),
        );
        assert_eq!(regain_access_minutes(&h), Some(7));
        let ErrorClass::RateLimited { until } =
            class(Network::Facebook, 400, &err(80001, None), &h)
        else {
            panic!("rate limited")
        };
        assert_eq!((until - now()).num_minutes(), 7);
        let ErrorClass::RateLimited { until } =
            class(Network::Facebook, 400, &err(4, None), &HeaderMap::new())
        else {
            panic!("rate limited")
        };
        assert_eq!(until - now(), THROTTLE_FALLBACK);
        let pe = classify(
            Network::Facebook,
            "publishing",
            400,
            &err(368, None),
            &HeaderMap::new(),
            now(),
        );
        assert!(
            pe.message
                .starts_with("Facebook: posting is temporarily blocked for policy reasons"),
            "{}",
            pe.message
        );
        let mut usage = HeaderMap::new();
        usage.insert(
            "x-app-usage",
            HeaderValue::from_static(r#"{"call_count":85,"total_time":12,"total_cputime":40}"#),
        );
        assert_eq!(app_usage_percent(&usage), Some(85));
    }

    #[test]
    fn duplicates_say_so() {
        let pe = classify(
            Network::Facebook,
            "publishing the post",
            400,
            &err(506, None),
            &HeaderMap::new(),
            now(),
        );
        assert_eq!(pe.class, ErrorClass::Permanent);
        assert!(pe.message.contains("duplicate"), "{}", pe.message);
    }
}
