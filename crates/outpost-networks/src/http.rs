//! HTTP plumbing shared by every network module: one way to build a client, to read the
//! server's "wait until" headers, and to classify a request that never got an answer.
//!
//! Nothing here retries or sleeps; it only turns transport facts into [`PublishError`]s.

use chrono::{DateTime, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::retry::{parse_epoch_reset, parse_retry_after};
use outpost_core::{ErrorClass, Network, PublishError};
use reqwest::header::HeaderMap;
use std::error::Error as _;
use std::time::Duration;

/// Time allowed to open a connection (TCP + TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request, response body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `Outpost/<version>`, sent on every request.
pub fn user_agent() -> String {
    format!("Outpost/{}", env!("CARGO_PKG_VERSION"))
}

/// One request's answer, read whole.
#[derive(Debug)]
pub struct Exchange {
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// From sending to the end of the body.
    pub duration_ms: u64,
}

/// Sends `rb` and reads its whole answer. No answer — or a success whose body was lost, since
/// the server acted — is the transport error [`send_error`] makes for `what`, logged at debug
/// with `network`, `account`, `endpoint`, `duration_ms`, `connect` and `timeout`. A failure
/// status with an unreadable body comes back with an empty body. Each module logs the answer
/// itself, with the fields its network has (rate-limit headers, trace ids).
pub async fn exchange(
    network: Network,
    rb: reqwest::RequestBuilder,
    account: &str,
    endpoint: &str,
    what: &str,
    creates: bool,
) -> Result<Exchange, PublishError> {
    let started = std::time::Instant::now();
    let elapsed = || started.elapsed().as_millis() as u64;
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(
                network = network.as_str(),
                account,
                endpoint,
                duration_ms = elapsed(),
                connect = e.is_connect(),
                timeout = e.is_timeout(),
                "request failed without an answer"
            );
            return Err(send_error(network, what, &e, creates));
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = match resp.text().await {
        Ok(b) => b,
        Err(e) if status.is_success() => return Err(send_error(network, what, &e, creates)),
        Err(_) => String::new(),
    };
    Ok(Exchange {
        status,
        headers,
        body,
        duration_ms: elapsed(),
    })
}

/// A client builder with Outpost's defaults (rustls, timeouts, no redirects, user agent), for
/// callers that need to change one thing (a test shortening the timeout).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        // A redirect on a write can turn a POST into a GET, and YouTube's 308 means "resume":
        // every module sees redirects itself.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent())
}

/// The client every network module uses.
pub fn client() -> reqwest::Client {
    client_builder().build().unwrap_or_else(|e| {
        // Only a broken TLS backend makes this fail; a default client still works for http.
        tracing::error!(error = %e, "could not build the HTTP client with Outpost's settings");
        reqwest::Client::new()
    })
}

/// The base URL of a network's API: `OUTPOST_<NETWORK>_BASE_URL` if set and not empty, else
/// `default`; without a trailing `/`, so that `/xrpc/…`-style paths can be appended.
pub fn base_url(network: Network, default: &str) -> String {
    env_url(&format!("{}_BASE_URL", network.env_prefix()), default)
}

/// Any URL from the environment variable `var` (trailing `/` trimmed), else `default`.
pub fn env_url(var: &str, default: &str) -> String {
    let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    value
        .as_deref()
        .unwrap_or(default)
        .trim()
        .trim_end_matches('/')
        .to_string()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// When a rate-limited caller may try again: `Retry-After` (seconds or an HTTP date), else an
/// epoch-seconds reset header (`RateLimit-Reset`, `X-RateLimit-Reset`).
pub fn rate_limit_until(headers: &HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(until) = header(headers, "retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(until);
    }
    ["ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"]
        .iter()
        .find_map(|name| header(headers, name).and_then(|v| parse_epoch_reset(v, now)))
}

/// The server's `Retry-After` as a duration from `now` (for a transient error's hint).
pub fn retry_after_hint(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let until = header(headers, "retry-after").and_then(|v| parse_retry_after(v, now))?;
    (until - now).to_std().ok()
}

/// `RateLimit-Remaining` as a number, when the server sent it.
pub fn rate_limit_remaining(headers: &HeaderMap) -> Option<u64> {
    header(headers, "ratelimit-remaining")
        .or_else(|| header(headers, "x-ratelimit-remaining"))
        .and_then(|v| v.trim().parse().ok())
}

/// Classifies a request that got no HTTP response.
///
/// - Could not connect: nothing was sent, so it is [`ErrorClass::Transient`].
/// - Anything later (timeout, connection dropped) on a call with a side effect (`creates`):
///   the network may have acted, so it is [`ErrorClass::UnknownOutcome`].
/// - Anything later on a read or another harmless call: [`ErrorClass::Transient`].
///
/// `what` names the operation in the user's words ("creating the post"). The message carries
/// the transport's reason but never the URL's query (reqwest's own text would).
pub fn send_error(
    network: Network,
    what: &str,
    err: &reqwest::Error,
    creates: bool,
) -> PublishError {
    let reason = transport_reason(err);
    if err.is_connect() {
        let host = err
            .url()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .unwrap_or_else(|| "the server".into());
        return PublishError::new(
            network,
            ErrorClass::Transient { retry_after: None },
            format!("could not connect to {host} while {what} ({reason}) — Outpost will retry"),
        );
    }
    if creates {
        return PublishError::new(
            network,
            ErrorClass::UnknownOutcome,
            format!(
                "no answer while {what} ({reason}); it may have been published — Outpost will check before trying again"
            ),
        );
    }
    PublishError::new(
        network,
        ErrorClass::Transient { retry_after: None },
        format!("no answer while {what} ({reason}) — Outpost will retry"),
    )
}

/// A short, human reason for a transport failure: the innermost cause, without URLs.
pub fn transport_reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut source: Option<&dyn std::error::Error> = err.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    let reason = last.unwrap_or_else(|| {
        if err.is_connect() {
            "connection failed".into()
        } else if err.is_body() || err.is_decode() {
            "the response broke off".into()
        } else {
            "connection lost".into()
        }
    });
    sanitize_message(&reason, 120)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn retry_after_wins_over_the_epoch_reset() {
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("1800000300"));
        assert_eq!(
            rate_limit_until(&h, t0()).map(|t| t.timestamp()),
            Some(1_800_000_300)
        );
        h.insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(
            rate_limit_until(&h, t0()).map(|t| t.timestamp()),
            Some(1_800_000_030)
        );
        assert_eq!(retry_after_hint(&h, t0()), Some(Duration::from_secs(30)));
        assert_eq!(rate_limit_until(&HeaderMap::new(), t0()), None);
    }

    #[test]
    fn remaining_is_read_as_a_number() {
        let mut h = HeaderMap::new();
        h.insert("RateLimit-Remaining", HeaderValue::from_static(" 0"));
        assert_eq!(rate_limit_remaining(&h), Some(0));
    }

    #[test]
    fn env_urls_lose_their_trailing_slash() {
        assert_eq!(
            env_url("OUTPOST_TEST_SURELY_UNSET_URL", "https://x.test/"),
            "https://x.test"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_even_for_a_create() {
        // Port 9 on loopback (discard) is essentially never listening in a test environment.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").ok();
        let port = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(9, |a| a.port());
        drop(listener);
        let err = match client()
            .post(format!("http://127.0.0.1:{port}/x?secret=1"))
            .send()
            .await
        {
            Err(e) => e,
            Ok(_) => return, // something is listening there after all; nothing to test
        };
        let e = send_error(Network::Bluesky, "creating the post", &err, true);
        assert!(e.class.is_transient(), "{e:?}");
        assert!(
            e.message
                .starts_with("Bluesky: could not connect to 127.0.0.1"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("secret=1"), "{}", e.message);
    }
}
