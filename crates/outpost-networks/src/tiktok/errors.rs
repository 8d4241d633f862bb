//! TikTok's error envelope and the one place every failure gets its class (tiktok.md
//! "Errors" and the README's error table).
//!
//! Every API answer is `{"data":{…},"error":{"code","message","log_id"}}`; anything but
//! `error.code == "ok"` is a failure **even under HTTP 200** (`creator_info` reports the
//! posting caps that way). Processing failures arrive later as `status/fetch`'s
//! `fail_reason`, classified by [`fail_reason_class`].

use super::{Reply, NET, RECONNECT};
use crate::http;
use chrono::{DateTime, Utc};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{ErrorClass, PublishError};
use serde_json::Value;

/// After a 429 `rate_limit_exceeded`: TikTok counts requests in 1-minute sliding windows and
/// sends no reset header.
pub(super) const RATE_WINDOW_SECS: i64 = 60;
/// After `spam_risk_too_many_posts` / `spam_risk_too_many_pending_share`: the caps are per
/// 24 hours ("do not retry today").
pub(super) const DAILY_CAP_WAIT_HOURS: i64 = 24;

/// TikTok's `error` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ApiError {
    pub code: String,
    pub message: String,
    pub log_id: String,
}

impl ApiError {
    /// The `error` object of an envelope (or the OAuth form `{"error","error_description"}`).
    pub fn parse(body: &str) -> Option<ApiError> {
        let v: Value = serde_json::from_str(body).ok()?;
        let text = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match v.get("error") {
            Some(e @ Value::Object(_)) => Some(ApiError {
                code: text(e, "code"),
                message: text(e, "message"),
                log_id: text(e, "log_id"),
            }),
            Some(Value::String(code)) => Some(ApiError {
                code: code.clone(),
                message: text(&v, "error_description"),
                log_id: text(&v, "log_id"),
            }),
            _ => None,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.code.is_empty() || self.code.eq_ignore_ascii_case("ok")
    }
}

/// Which permission an endpoint needs, for "scope missing" messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// `user.info.basic` (`/v2/user/info/`).
    UserInfo,
    /// `video.publish` (Direct Post, creator info).
    Publish,
    /// `video.upload` (inbox uploads).
    Upload,
    /// `video.upload` or `video.publish` (status).
    Either,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::UserInfo => "user.info.basic",
            Scope::Publish => "video.publish",
            Scope::Upload => "video.upload",
            Scope::Either => "video.publish or video.upload",
        }
    }
    fn meaning(self) -> &'static str {
        match self {
            Scope::UserInfo => "read the account's profile",
            Scope::Publish => "post directly to the account",
            Scope::Upload => "send videos to the account's TikTok inbox",
            Scope::Either => "post to the account",
        }
    }
}

/// A server's text, made safe for a card: secrets removed, tags stripped, cut short.
pub(super) fn clean(raw: &str, secrets: &[&str]) -> String {
    sanitize_message(&redact(raw, secrets), 160)
}

/// "HTTP 403: spam_risk_too_many_posts: …" — what TikTok said, cleaned.
fn detail(reply: &Reply, e: &ApiError, secrets: &[&str]) -> String {
    let mut out = format!("HTTP {}", reply.status.as_u16());
    if !e.code.is_empty() {
        out.push_str(": ");
        out.push_str(&clean(&e.code, secrets));
    }
    let message = clean(&e.message, secrets);
    if !message.is_empty() && !message.eq_ignore_ascii_case(&e.code) {
        out.push_str(": ");
        out.push_str(&message);
    }
    out
}

fn wait_note(until: DateTime<Utc>) -> String {
    format!(
        "Outpost will try again at {} UTC",
        until.format("%Y-%m-%d %H:%M:%S")
    )
}

/// Decides the class of a failed API call (an HTTP error, or a 2xx whose `error.code` is not
/// `"ok"`). `what` is the operation in the user's words; `scope` the permission it needs.
pub(super) fn classify(reply: &Reply, scope: Scope, secrets: &[&str]) -> PublishError {
    let e = ApiError::parse(&reply.body).unwrap_or_default();
    let status = reply.status.as_u16();
    let what = &reply.what;
    let said = detail(reply, &e, secrets);
    let now = Utc::now();
    let code = e.code.to_ascii_lowercase();
    let (class, message) = match code.as_str() {
        "access_token_invalid" => (
            ErrorClass::Reauth,
            format!("TikTok refused the access token while {what} ({said}) — Outpost renews it once; if that fails, {RECONNECT}"),
        ),
        // The README classes these reauth-needed; a refresh cannot add a scope, and the other
        // kind of post (inbox vs direct) may still work, so the post fails with the fix while
        // the account stays connected.
        "scope_not_authorized" | "scope_permission_missed" => (
            ErrorClass::Permanent,
            format!(
                "the account did not allow Outpost to {} (scope {} missing; {said}) — {RECONNECT} and allow it; the TikTok app must also have that scope approved",
                scope.meaning(),
                scope.name()
            ),
        ),
        "rate_limit_exceeded" => {
            let until = rate_limit_until(reply, now);
            (
                ErrorClass::RateLimited { until },
                format!(
                    "rate limited while {what} (TikTok allows a few requests a minute per account: 6 uploads, 20 creator checks, 30 status checks) — {}",
                    wait_note(until)
                ),
            )
        }
        "spam_risk_too_many_posts" => {
            let until = now + chrono::Duration::hours(DAILY_CAP_WAIT_HOURS);
            (
                ErrorClass::RateLimited { until },
                format!(
                    "the account reached TikTok's daily posting limit (about 15 posts a day, shared by every app that posts for it; {said}) — {}",
                    wait_note(until)
                ),
            )
        }
        "spam_risk_too_many_pending_share" => {
            let until = now + chrono::Duration::hours(DAILY_CAP_WAIT_HOURS);
            (
                ErrorClass::RateLimited { until },
                format!(
                    "5 videos already wait in the account's TikTok inbox (TikTok allows 5 pending shares a day; {said}) — finish or delete them in the TikTok app; {}",
                    wait_note(until)
                ),
            )
        }
        "spam_risk_user_banned_from_posting" => (
            ErrorClass::Permanent,
            format!("TikTok does not let this account post right now ({said}) — check the account in the TikTok app"),
        ),
        "reached_active_user_cap" => (
            ErrorClass::Permanent,
            format!("the TikTok app reached its daily cap of creators who may post through it ({said}) — try again tomorrow, or ask TikTok to raise the cap when the app is audited"),
        ),
        "unaudited_client_can_only_post_to_private_accounts" => (
            ErrorClass::Permanent,
            format!("TikTok lets an app that is not audited yet post only to private accounts ({said}) — make the account private in the TikTok app (Settings → Privacy), send the video to the inbox instead (option tiktok.mode=inbox), or have the app audited"),
        ),
        "url_ownership_unverified" => (
            ErrorClass::Permanent,
            format!("TikTok refused the media addresses because their domain is not verified for the app ({said}) — verify the staging bucket's public domain or URL prefix under URL properties in the TikTok developer portal"),
        ),
        "privacy_level_option_mismatch" => (
            ErrorClass::Permanent,
            format!("TikTok refused the privacy level ({said}) — choose one the account offers (option tiktok.privacy_level)"),
        ),
        "app_version_check_failed" => (
            ErrorClass::Permanent,
            format!("TikTok needs a newer TikTok app on the creator's phone for {what} ({said}) — update the TikTok app (31.8 or newer), then retry"),
        ),
        "invalid_param" | "invalid_params" | "invalid_file_upload" => (
            ErrorClass::Permanent,
            format!("TikTok rejected {what} ({said}) — change the post or its file and try again"),
        ),
        "invalid_publish_id" | "token_not_authorized_for_specified_publish_id" => (
            ErrorClass::Permanent,
            format!("TikTok no longer knows this upload ({said}) — retry the post to upload it again"),
        ),
        "internal_error" => (
            ErrorClass::Transient {
                retry_after: http::retry_after_hint(&reply.headers, now),
            },
            format!("TikTok had an internal error while {what} ({said}) — Outpost will retry"),
        ),
        _ => match status {
            401 => (
                ErrorClass::Reauth,
                format!("TikTok refused the sign-in while {what} ({said}) — Outpost renews it once; if that fails, {RECONNECT}"),
            ),
            429 => {
                let until = rate_limit_until(reply, now);
                (
                    ErrorClass::RateLimited { until },
                    format!("rate limited while {what} ({said}) — {}", wait_note(until)),
                )
            }
            500..=599 => (
                ErrorClass::Transient {
                    retry_after: http::retry_after_hint(&reply.headers, now),
                },
                format!("TikTok is unavailable while {what} ({said}) — Outpost will retry"),
            ),
            _ => (
                ErrorClass::Permanent,
                format!("TikTok refused {what} ({said})"),
            ),
        },
    };
    let mut err = PublishError::new(NET, class, message).with_excerpt(&reply.body, secrets);
    if !e.log_id.is_empty() {
        tracing::debug!(
            network = NET.as_str(),
            code = e.code.as_str(),
            log_id = e.log_id.as_str(),
            "tiktok error"
        );
    }
    err.message = sanitize_message(&err.message, 600);
    err
}

/// TikTok sends no reset header (1-minute sliding windows); a `Retry-After` is honoured if one
/// ever comes, else the window's length.
fn rate_limit_until(reply: &Reply, now: DateTime<Utc>) -> DateTime<Utc> {
    match http::rate_limit_until(&reply.headers, now) {
        Some(until) if until > now => until,
        _ => now + chrono::Duration::seconds(RATE_WINDOW_SECS),
    }
}

/// What a `FAILED` status's `fail_reason` means for the post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FailClass {
    /// Start over with a new init (`internal`: "a retryable error"; a pull that failed on a
    /// URL Outpost just staged).
    Restart,
    /// The sign-in was removed: reconnect.
    Reauth,
    /// Never retry; the message says why and what to do.
    Permanent(String),
}

/// Classifies `fail_reason` (tiktok.md "Errors").
pub(super) fn fail_reason_class(reason: &str, what: &str) -> FailClass {
    let r = reason.trim().to_ascii_lowercase();
    match r.as_str() {
        "internal" => FailClass::Restart,
        "video_pull_failed" | "photo_pull_failed" => FailClass::Restart,
        "auth_removed" => FailClass::Reauth,
        "file_format_check_failed" => FailClass::Permanent(format!(
            "TikTok could not read {what} (fail_reason file_format_check_failed) — export it as MP4 (H.264) or use JPEG/WebP photos, then retry"
        )),
        "duration_check_failed" => FailClass::Permanent(format!(
            "{what} is longer or shorter than this account may post (fail_reason duration_check_failed) — trim it, then retry"
        )),
        "frame_rate_check_failed" => FailClass::Permanent(format!(
            "{what} has a frame rate TikTok refuses (fail_reason frame_rate_check_failed; 23–60 fps) — export it again, then retry"
        )),
        "picture_size_check_failed" => FailClass::Permanent(format!(
            "{what} has a size TikTok refuses (fail_reason picture_size_check_failed; 360–4096 px per side, photos at most 1080p) — resize it, then retry"
        )),
        "spam_risk_too_many_posts" => FailClass::Permanent(format!(
            "TikTok stopped {what}: the account reached its daily posting limit (fail_reason spam_risk_too_many_posts) — post it again tomorrow"
        )),
        "spam_risk_text" | "spam_risk" | "spam_risk_user_banned_from_posting" => {
            FailClass::Permanent(format!(
                "TikTok refused {what} as spam (fail_reason {}) — change the caption, then retry",
                clean(reason, &[])
            ))
        }
        "publish_cancelled" => FailClass::Permanent(format!(
            "{what} was cancelled on TikTok (fail_reason publish_cancelled)"
        )),
        _ => FailClass::Permanent(format!(
            "TikTok could not publish {what} (fail_reason {}) — check the file, then retry",
            if reason.trim().is_empty() {
                "not given".to_string()
            } else {
                clean(reason, &[])
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn reply(status: u16, code: &str) -> Reply {
        Reply {
            what: "starting the upload".into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: HeaderMap::new(),
            body: format!(
                r#"{{"data":{{}},"error":{{"code":"{code}","message":"m {code}","log_id":"L1"}}}}"#
            ),
        }
    }

    fn class(status: u16, code: &str) -> ErrorClass {
        classify(&reply(status, code), Scope::Publish, &[]).class
    }

    #[test]
    fn the_envelope_is_read_in_both_forms() {
        let e = ApiError::parse(r#"{"data":{},"error":{"code":"ok","message":"","log_id":"x"}}"#)
            .unwrap_or_default();
        assert!(e.is_ok());
        let e = ApiError::parse(r#"{"error":"invalid_grant","error_description":"gone"}"#)
            .unwrap_or_default();
        assert_eq!(e.code, "invalid_grant");
        assert_eq!(e.message, "gone");
        assert!(ApiError::parse("<html>").is_none());
    }

    #[test]
    fn errors_are_classified_per_the_table() {
        assert_eq!(class(401, "access_token_invalid"), ErrorClass::Reauth);
        assert_eq!(class(401, "scope_not_authorized"), ErrorClass::Permanent);
        let e = classify(&reply(401, "scope_not_authorized"), Scope::Upload, &[]);
        assert!(e.message.contains("video.upload"), "{}", e.message);
        assert!(matches!(
            class(429, "rate_limit_exceeded"),
            ErrorClass::RateLimited { .. }
        ));
        let e = classify(&reply(200, "spam_risk_too_many_posts"), Scope::Publish, &[]);
        let ErrorClass::RateLimited { until } = e.class else {
            panic!("{e:?}")
        };
        assert!(until > Utc::now() + chrono::Duration::hours(23));
        for code in [
            "unaudited_client_can_only_post_to_private_accounts",
            "url_ownership_unverified",
            "privacy_level_option_mismatch",
            "reached_active_user_cap",
            "spam_risk_user_banned_from_posting",
            "invalid_param",
            "invalid_file_upload",
        ] {
            assert_eq!(class(403, code), ErrorClass::Permanent, "{code}");
        }
        assert!(class(500, "internal_error").is_transient());
        assert!(class(503, "").is_transient());
        assert_eq!(class(401, ""), ErrorClass::Reauth);
        assert_eq!(class(400, "something_new"), ErrorClass::Permanent);
    }

    #[test]
    fn fail_reasons_are_classified() {
        assert_eq!(fail_reason_class("internal", "v"), FailClass::Restart);
        assert_eq!(fail_reason_class("auth_removed", "v"), FailClass::Reauth);
        assert!(matches!(
            fail_reason_class("duration_check_failed", "clip.mp4"),
            FailClass::Permanent(m) if m.contains("clip.mp4")
        ));
        assert!(matches!(
            fail_reason_class("publish_cancelled", "v"),
            FailClass::Permanent(_)
        ));
    }
}
