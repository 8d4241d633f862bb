//! Plumbing shared by every fake network server.
//!
//! - [`spawn_server`]: an HTTP/1.1 accept loop (hyper) whose handler can ask
//!   for its connection to be closed without any response (used by the
//!   "commit, then drop the connection" faults).
//! - [`RecordedRequest`]: what every fake records about each request.
//! - [`RateLimiter`]: fixed-window counters, like `rate-limiter-flexible`
//!   used by the reference servers.
//! - Small encoders: RFC 4648 base32, HMAC-SHA256, random strings.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use chrono::{DateTime, Utc};
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Which listener of a fake received a request.
///
/// Fakes of other networks add their own variants here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Listener {
    /// The Bluesky entryway (login host, handle resolver, PLC directory).
    Entryway,
    /// The Bluesky PDS named in the DID document.
    Pds,
    /// Bluesky's video service (`video.bsky.app`).
    Video,
}

/// One request as seen by a fake server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub listener: Listener,
    pub method: String,
    /// Path without the query string, e.g. `/xrpc/com.atproto.repo.createRecord`.
    pub path: String,
    /// Raw query string without the `?` (empty when absent).
    pub query: String,
    /// Header names are lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Raw request body (base64 in the JSON form).
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    /// HTTP status answered; `0` when the connection was closed without any
    /// response (the `DropAfterCommit` fault).
    pub status: u16,
    pub at: DateTime<Utc>,
}

impl RecordedRequest {
    /// First value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The XRPC method id when the path is `/xrpc/<nsid>`.
    pub fn nsid(&self) -> Option<&str> {
        self.path.strip_prefix("/xrpc/")
    }
}

mod body_base64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(body))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Per-connection information handed to a handler.
#[derive(Clone)]
pub(crate) struct ConnInfo {
    pub peer: SocketAddr,
    kill: Arc<Notify>,
}

impl ConnInfo {
    /// Close this connection without writing anything more. The handler
    /// should then never complete (e.g. await `std::future::pending`).
    pub fn kill(&self) {
        self.kill.notify_one();
    }
}

/// Aborts the server tasks when the last handle of a fake is dropped.
pub(crate) struct ServerGuard(pub Vec<JoinHandle<()>>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Serve HTTP/1.1 on `listener`, calling `handler` for each request.
/// Aborting the returned task closes every open connection too.
pub(crate) fn spawn_server<H, Fut>(listener: TcpListener, handler: H) -> JoinHandle<()>
where
    H: Fn(Request<Body>, ConnInfo) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            while connections.try_join_next().is_some() {}
            let handler = handler.clone();
            connections.spawn(async move {
                let kill = Arc::new(Notify::new());
                let info = ConnInfo {
                    peer,
                    kill: kill.clone(),
                };
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let handler = handler.clone();
                        let info = info.clone();
                        async move { Ok::<_, Infallible>(handler(req.map(Body::new), info).await) }
                    });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    _ = kill.notified() => {}
                }
            });
        }
    })
}

/// State of one fixed window after a consume or a peek.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitStatus {
    pub limit: u32,
    pub remaining: u32,
    pub reset: DateTime<Utc>,
    pub window_secs: i64,
    pub exceeded: bool,
}

impl LimitStatus {
    /// `RateLimit-*` headers (Reset in unix epoch seconds).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("RateLimit-Limit", self.limit.to_string()),
            ("RateLimit-Remaining", self.remaining.to_string()),
            ("RateLimit-Reset", self.reset.timestamp().to_string()),
            (
                "RateLimit-Policy",
                format!("{};w={}", self.limit, self.window_secs),
            ),
        ]
    }

    /// Whole seconds until the window resets (at least 1).
    pub fn retry_after_secs(&self, now: DateTime<Utc>) -> i64 {
        let millis = (self.reset - now).num_milliseconds();
        ((millis + 999) / 1000).max(1)
    }
}

/// The status that governs a response: an exceeded limit first, otherwise
/// the one with the fewest points left.
pub(crate) fn tightest(statuses: Vec<LimitStatus>) -> Option<LimitStatus> {
    statuses
        .into_iter()
        .min_by_key(|s| (!s.exceeded, s.remaining))
}

#[derive(Debug, Clone)]
struct Window {
    start: DateTime<Utc>,
    consumed: u32,
}

/// Fixed-window counters keyed by (limit name, key). A window starts at the
/// first point consumed and lasts `window`; points consumed beyond the limit
/// still count (as with `rate-limiter-flexible`).
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<(String, String), Window>,
}

impl RateLimiter {
    pub fn consume(
        &mut self,
        name: &str,
        key: &str,
        limit: u32,
        window: chrono::Duration,
        points: u32,
        now: DateTime<Utc>,
    ) -> LimitStatus {
        let entry = self
            .windows
            .entry((name.to_string(), key.to_string()))
            .or_insert(Window {
                start: now,
                consumed: 0,
            });
        if now >= entry.start + window {
            entry.start = now;
            entry.consumed = 0;
        }
        entry.consumed = entry.consumed.saturating_add(points);
        LimitStatus {
            limit,
            remaining: limit.saturating_sub(entry.consumed),
            reset: entry.start + window,
            window_secs: window.num_seconds(),
            exceeded: entry.consumed > limit,
        }
    }

    pub fn peek(
        &self,
        name: &str,
        key: &str,
        limit: u32,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> LimitStatus {
        match self.windows.get(&(name.to_string(), key.to_string())) {
            Some(w) if now < w.start + window => LimitStatus {
                limit,
                remaining: limit.saturating_sub(w.consumed),
                reset: w.start + window,
                window_secs: window.num_seconds(),
                exceeded: w.consumed > limit,
            },
            _ => LimitStatus {
                limit,
                remaining: limit,
                reset: now + window,
                window_secs: window.num_seconds(),
                exceeded: false,
            },
        }
    }
}

const BASE32_LOWER: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lower case, no padding (the multibase `b` alphabet).
pub(crate) fn base32_lower(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_LOWER[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_LOWER[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// A random string of `len` characters drawn from `alphabet`.
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::thread_rng().fill(&mut out[..]);
    out
}

pub(crate) const BASE32_ALPHABET: &[u8] = BASE32_LOWER;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32_lower(b""), "");
        assert_eq!(base32_lower(b"f"), "my");
        assert_eq!(base32_lower(b"fo"), "mzxq");
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn fixed_window_counts_and_resets() {
        let mut rl = RateLimiter::default();
        let t0 = Utc::now();
        let w = chrono::Duration::seconds(300);
        let s = rl.consume("a", "k", 2, w, 1, t0);
        assert_eq!((s.remaining, s.exceeded), (1, false));
        let s = rl.consume("a", "k", 2, w, 1, t0);
        assert_eq!((s.remaining, s.exceeded), (0, false));
        let s = rl.consume("a", "k", 2, w, 1, t0);
        assert!(s.exceeded);
        let s = rl.consume("a", "k", 2, w, 1, t0 + w);
        assert_eq!((s.remaining, s.exceeded), (1, false));
    }
}
