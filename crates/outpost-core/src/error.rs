//! Error classes decided once, in the network module, and acted on by the dispatcher; plus the
//! sanitising that makes an error fit on a post's card and the redaction that keeps secrets out
//! of the attempts log.

use crate::network::Network;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the dispatcher should do about a failed call. Decided by the network module only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum ErrorClass {
    /// The credentials no longer work: refresh once, else the account needs reconnecting.
    Reauth,
    /// The network asked us to wait until `until`.
    RateLimited { until: DateTime<Utc> },
    /// Worth retrying with backoff; `retry_after` is the server's hint, if it gave one.
    Transient {
        #[serde(default, with = "opt_secs")]
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help; the user must change something.
    Permanent,
    /// The request may have reached the network: reconcile before anything else.
    UnknownOutcome,
}

impl ErrorClass {
    pub fn name(&self) -> &'static str {
        match self {
            ErrorClass::Reauth => "reauth",
            ErrorClass::RateLimited { .. } => "rate_limited",
            ErrorClass::Transient { .. } => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::UnknownOutcome => "unknown_outcome",
        }
    }
    pub fn is_transient(&self) -> bool {
        matches!(self, ErrorClass::Transient { .. })
    }
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.map(Duration::from_secs_f64))
    }
}

/// A failed network call, classified. `message` is for the user (names the network and the
/// fix); `excerpt` is the raw response, redacted, for the attempts log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PublishError {
    pub network: Network,
    pub class: ErrorClass,
    pub message: String,
    pub excerpt: Option<String>,
}

impl PublishError {
    pub fn new(network: Network, class: ErrorClass, message: impl Into<String>) -> Self {
        let message = message.into();
        let prefix = format!("{}:", network.display_name());
        let message = if message.starts_with(&prefix) {
            message
        } else {
            format!("{} {}", prefix, message)
        };
        PublishError {
            network,
            class,
            message,
            excerpt: None,
        }
    }
    pub fn with_excerpt(mut self, raw: &str, secrets: &[&str]) -> Self {
        self.excerpt = Some(redact(raw, secrets));
        self
    }
}

/// Longest error text kept per network on a card.
pub const MAX_NETWORK_ERROR_CHARS: usize = 200;
/// Longest combined error text kept per post.
pub const MAX_POST_ERROR_CHARS: usize = 1000;
/// Longest raw response excerpt kept in the attempts log.
pub const MAX_EXCERPT_BYTES: usize = 8 * 1024;

/// Makes any error text fit for a card: HTML tags removed, entities decoded, whitespace folded,
/// cut at `max_chars` (with an ellipsis) on a character boundary.
pub fn sanitize_message(raw: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_chars * 4));
    let mut in_tag = false;
    let mut in_skip: Option<&str> = None; // inside <script> or <style>
    let lower = raw.to_ascii_lowercase();
    let mut i = 0;
    let bytes = raw.as_bytes();
    while i < raw.len() {
        if let Some(end) = in_skip {
            if lower[i..].starts_with(end) {
                in_skip = None;
                i += end.len();
            } else {
                i += raw[i..].chars().next().map_or(1, char::len_utf8);
            }
            continue;
        }
        let c = raw[i..].chars().next().unwrap_or(' ');
        if in_tag {
            if c == '>' {
                in_tag = false;
                out.push(' ');
            }
        } else if c == '<'
            && bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/' || *b == b'!')
        {
            if lower[i..].starts_with("<script") {
                in_skip = Some("</script>");
            } else if lower[i..].starts_with("<style") {
                in_skip = Some("</style>");
            } else {
                in_tag = true;
            }
        } else {
            out.push(c);
        }
        i += c.len_utf8();
    }
    let decoded = decode_entities(&out);
    let folded = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&folded, max_chars)
}

/// Cuts `s` to at most `max` characters, ending in "…" when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if name.starts_with('#') => {
                    name[1..].parse::<u32>().ok().and_then(char::from_u32)
                }
                _ => None,
            };
            ch.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Joins per-network errors for the post's summary: "Bluesky: …; X: …", each part already
/// capped at [`MAX_NETWORK_ERROR_CHARS`], the whole at [`MAX_POST_ERROR_CHARS`].
pub fn combine_errors<'a>(errors: impl IntoIterator<Item = &'a str>) -> String {
    let joined = errors
        .into_iter()
        .map(|e| sanitize_message(e, MAX_NETWORK_ERROR_CHARS))
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    truncate_chars(&joined, MAX_POST_ERROR_CHARS)
}

/// Removes secrets from a raw response before it is stored: every known secret string, bearer
/// tokens, JWT-shaped strings and the values of JSON fields whose names say they are secret.
/// The result is capped at [`MAX_EXCERPT_BYTES`].
pub fn redact(raw: &str, secrets: &[&str]) -> String {
    let mut s = raw.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        s = s.replace(secret, "<redacted>");
    }
    // JSON fields with secret-sounding names: "accessJwt":"…" and friends.
    const KEYS: [&str; 9] = [
        "accessjwt",
        "refreshjwt",
        "access_token",
        "refresh_token",
        "password",
        "client_secret",
        "token",
        "secret",
        "authorization",
    ];
    let mut out = String::with_capacity(s.len());
    let lower = s.to_ascii_lowercase();
    let mut i = 0;
    while i < s.len() {
        let here = &lower[i..];
        let key_hit = here.starts_with('"')
            && KEYS
                .iter()
                .any(|k| here[1..].starts_with(k) && here[1 + k.len()..].starts_with('"'));
        if key_hit {
            // copy the key, then blank the string value that follows the colon
            let key_end = i + 1 + here[1..].find('"').unwrap_or(0) + 1;
            out.push_str(&s[i..key_end]);
            let after = &s[key_end..];
            let trimmed = after.trim_start_matches([' ', ':']);
            let skipped = after.len() - trimmed.len();
            if skipped > 0 && after[..skipped].contains(':') && trimmed.starts_with('"') {
                out.push_str(&after[..skipped]);
                let value_end = trimmed[1..].find('"').map_or(trimmed.len(), |p| p + 2);
                out.push_str("\"<redacted>\"");
                i = key_end + skipped + value_end;
                continue;
            }
            i = key_end;
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    let out = redact_words(&out);
    if out.len() <= MAX_EXCERPT_BYTES {
        return out;
    }
    let mut cut = MAX_EXCERPT_BYTES;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[truncated]", &out[..cut])
}

/// Bearer tokens and JWT-shaped words (three base64url segments starting with `eyJ`).
fn redact_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_bearer = false;
    for (i, word) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let core = word.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)));
        let jwt = core.starts_with("eyJ") && core.matches('.').count() == 2 && core.len() > 20;
        if jwt || (prev_bearer && core.len() >= 8) {
            out.push_str(&word.replace(core, "<redacted>"));
        } else {
            out.push_str(word);
        }
        prev_bearer = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("\"bearer");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_html_decodes_entities_and_caps() {
        let html = "<html><head><style>p{}</style><script>var x=1;</script></head><body><h1>502 Bad&nbsp;Gateway</h1><p>Tom &amp; Jerry &#x2014; &lt;ok&gt;</p></body></html>";
        assert_eq!(
            sanitize_message(html, 200),
            "502 Bad Gateway Tom & Jerry — <ok>"
        );
        let long = "x".repeat(500);
        let capped = sanitize_message(&long, 200);
        assert_eq!(capped.chars().count(), 200);
        assert!(capped.ends_with('…'));
        assert_eq!(sanitize_message("a < b and c > d", 50), "a < b and c > d");
    }

    #[test]
    fn combine_caps_each_network_and_the_whole() {
        let parts: Vec<String> = (0..10)
            .map(|i| format!("Net{i}: {}", "e".repeat(300)))
            .collect();
        let combined = combine_errors(parts.iter().map(String::as_str));
        assert!(combined.chars().count() <= MAX_POST_ERROR_CHARS);
        assert!(combined.starts_with("Net0: "));
    }

    #[test]
    fn redact_removes_known_secrets_tokens_and_secret_fields() {
        let raw = r#"{"accessJwt":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl","handle":"a.test","password" : "hunter22-app"} Authorization: Bearer abcdefghijkl my-app-pass-1234"#;
        let out = redact(raw, &["my-app-pass-1234"]);
        assert!(!out.contains("eyJhbGci"), "{out}");
        assert!(!out.contains("hunter22"), "{out}");
        assert!(!out.contains("abcdefghijkl"), "{out}");
        assert!(!out.contains("my-app-pass-1234"), "{out}");
        assert!(out.contains("\"handle\":\"a.test\""), "{out}");
        let big = "z".repeat(20_000);
        assert!(redact(&big, &[]).len() <= MAX_EXCERPT_BYTES + 20);
    }

    #[test]
    fn publish_error_message_names_the_network_once() {
        let e = PublishError::new(Network::Bluesky, ErrorClass::Permanent, "text too long");
        assert_eq!(e.message, "Bluesky: text too long");
        let e = PublishError::new(Network::Bluesky, ErrorClass::Permanent, "Bluesky: x");
        assert_eq!(e.message, "Bluesky: x");
    }
}
