//! The loopback redirect listener (RFC 8252 §7.3): a tiny HTTP/1.1 server on 127.0.0.1 that
//! waits for the browser to bring back one authorisation response.
//!
//! Deliberately minimal: it reads one request head per connection (no body, no keep-alive),
//! answers with a small self-contained HTML page and closes. Each connection is handled in its
//! own task so that an idle connection (browsers open speculative ones) cannot hold up the real
//! redirect; a connection that sends nothing is dropped after [`READ_TIMEOUT`].

use super::callback::{classify, clean, query_pairs, Verdict};
use super::{Callback, ConnectError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How long one connection may take to send its request head.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest request head read (the callback URL carries a code and a state: a few hundred
/// bytes; browsers add a few headers).
const MAX_HEAD: usize = 16 * 1024;

/// What every connection task needs to know.
#[derive(Debug)]
pub(crate) struct ConnContext {
    /// The expected `state`.
    pub state: String,
    /// The path the callback arrives on (`/callback`).
    pub path: String,
    /// For the pages and messages (`"x"`).
    pub network: String,
    /// Set by the first request that ends the flow; later ones get "already finished".
    pub done: AtomicBool,
}

/// Serves one connection: reads the request, answers it, and reports a flow-ending outcome.
/// The response is fully written before the outcome is sent, so the browser always gets its
/// page even though the listener closes right after.
pub(crate) async fn serve(
    mut stream: TcpStream,
    ctx: Arc<ConnContext>,
    outcomes: mpsc::UnboundedSender<Result<Callback, ConnectError>>,
) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => {
            respond(&mut stream, 431, &page_text("Request too large", "", &[])).await;
            return;
        }
        // Timed out, reset, or closed without a request (a speculative connection).
        _ => return,
    };
    let (status, body, outcome) = answer(&head, &ctx);
    respond(&mut stream, status, &body).await;
    if let Some(outcome) = outcome {
        // The receiver is gone only when the flow already ended.
        let _ = outcomes.send(outcome);
    }
}

/// Reads up to the end of the request head. `Ok(None)` when it is larger than [`MAX_HEAD`].
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

type Answer = (u16, String, Option<Result<Callback, ConnectError>>);

/// Decides the response to one request head.
fn answer(head: &str, ctx: &ConnContext) -> Answer {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // Absolute-form targets (`GET http://127.0.0.1:port/callback?… HTTP/1.1`).
    let target = target
        .strip_prefix("http://")
        .map(|rest| rest.find('/').map_or("/", |i| &rest[i..]))
        .unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !same_path(path, &ctx.path) {
        return (404, page_text("Not found", "", &[]), None);
    }
    if method != "GET" {
        return (405, page_text("Method not allowed", "", &[]), None);
    }
    let network = display_name(&ctx.network);
    let outcome =
        match classify(query_pairs(query), &ctx.state, &ctx.network) {
            Verdict::Ignore(e) => return (
                400,
                page_text(
                    "This is not the sign-in Outpost is waiting for",
                    "The address does not belong to the connection Outpost started (it may come \
                     from an older attempt). Outpost is still waiting: finish signing in from the \
                     page Outpost opened, or start connecting again in Outpost.",
                    &[("Details", &e.to_string())],
                ),
                None,
            ),
            Verdict::Accept(callback) => Ok(callback),
            Verdict::End(e) => Err(e),
        };
    if ctx.done.swap(true, Ordering::SeqCst) {
        return (
            409,
            page_text(
                "Already finished",
                "Outpost has already received an answer for this connection. You can close this \
                 tab and return to Outpost.",
                &[],
            ),
            None,
        );
    }
    match outcome {
        Ok(callback) => (
            200,
            page_text(
                &format!("Signed in to {network}"),
                "You can close this tab and return to Outpost.",
                &[],
            ),
            Some(Ok(callback)),
        ),
        Err(e) => {
            let (title, text) = match e {
                ConnectError::Declined { .. } => (
                    "You declined the connection".to_string(),
                    "Nothing was connected. You can close this tab and return to Outpost.",
                ),
                _ => (
                    format!("{network} did not allow the connection"),
                    "You can close this tab and return to Outpost, which shows what happened.",
                ),
            };
            let details = e.to_string();
            (
                400,
                page_text(&title, text, &[("Details", &details)]),
                Some(Err(e)),
            )
        }
    }
}

fn same_path(got: &str, expected: &str) -> bool {
    let trim = |p: &str| p.trim_end_matches('/').to_string();
    trim(got) == trim(expected)
}

/// `"x"` → `"X"`, `"tiktok"` → `"Tiktok"`: good enough for a page title.
fn display_name(network: &str) -> String {
    let mut chars = network.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "the network".to_string(),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A small self-contained HTML page (no scripts, no external resources).
pub(crate) fn page_text(title: &str, text: &str, details: &[(&str, &str)]) -> String {
    let mut body = format!("<h1>{}</h1>", escape(title));
    if !text.is_empty() {
        body.push_str(&format!("<p>{}</p>", escape(text)));
    }
    for (label, value) in details {
        body.push_str(&format!(
            "<p class=d>{}: {}</p>",
            escape(label),
            escape(&clean(value))
        ));
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>Outpost — {}</title><style>body{{font:16px/1.5 system-ui,sans-serif;\
         max-width:36em;margin:4em auto;padding:0 1em;color:#222}}h1{{font-size:1.4em}}\
         .d{{color:#666;font-size:.9em}}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

async fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let allow = if status == 405 { "Allow: GET\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'\r\n\
         {allow}Connection: close\r\n\r\n",
        body.len()
    );
    // A browser that went away is not an error worth reporting.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ConnContext {
        ConnContext {
            state: "S".repeat(43),
            path: "/callback".into(),
            network: "x".into(),
            done: AtomicBool::new(false),
        }
    }

    fn get(target: &str) -> String {
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    }

    #[test]
    fn requests_are_answered_by_what_they_carry() {
        let c = ctx();
        let state = c.state.clone();
        let (s, _, o) = answer(&get("/favicon.ico"), &c);
        assert_eq!((s, o.is_none()), (404, true));
        let (s, body, o) = answer(&get("/callback?code=abc&state=wrong"), &c);
        assert_eq!((s, o.is_none()), (400, true));
        assert!(body.contains("not the sign-in"), "{body}");
        let (s, _, o) = answer(
            &format!("POST /callback?code=abc&state={state} HTTP/1.1\r\n\r\n"),
            &c,
        );
        assert_eq!((s, o.is_none()), (405, true));
        let (s, body, o) = answer(&get(&format!("/callback/?code=abc&state={state}")), &c);
        assert_eq!(s, 200);
        assert!(body.contains("You can close this tab and return to Outpost"));
        assert_eq!(
            o.and_then(Result::ok)
                .map(|cb| cb.code.expose().to_string())
                .as_deref(),
            Some("abc")
        );
        // The first outcome wins.
        let (s, _, o) = answer(&get(&format!("/callback?code=def&state={state}")), &c);
        assert_eq!((s, o.is_none()), (409, true));
    }

    #[test]
    fn a_declined_sign_in_ends_the_flow_with_an_error_page() {
        let c = ctx();
        let target = format!(
            "http://127.0.0.1:1234/callback?error=access_denied&error_description=%3Cscript%3E&state={}",
            c.state
        );
        let (s, body, o) = answer(&get(&target), &c);
        assert_eq!(s, 400);
        assert!(body.contains("You declined"), "{body}");
        assert!(!body.contains("<script>"), "{body}");
        assert!(matches!(o, Some(Err(ConnectError::Declined { .. }))));
    }
}
