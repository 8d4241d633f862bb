//! Adding media from a URL: check the address first (HEAD, or a one-byte ranged GET where HEAD
//! is refused), then stream the body into the library with a size cap.
//!
//! Every refusal names the URL and what is wrong (not found, no answer, a web page instead of
//! a picture, too large). This module never follows anything but ordinary redirects, never
//! keeps a download in memory, and never leaves a partial file behind.

use crate::error::MediaError;
use crate::library::{Incoming, LibraryItem, MediaLibrary};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Client, StatusCode, Url};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Limits for checking and downloading a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// How long to wait for an answer (and, while downloading, for each piece of the body).
    pub timeout: Duration,
    /// Largest download accepted.
    pub max_bytes: u64,
    /// Accept `http://` addresses (tests against a local server); otherwise HTTPS only.
    pub allow_http: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            timeout: Duration::from_secs(5),
            max_bytes: 2 * 1024 * 1024 * 1024,
            allow_http: false,
        }
    }
}

/// How the address was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckMethod {
    Head,
    /// `GET` with `Range: bytes=0-0`, for servers that refuse `HEAD`.
    RangedGet,
}

/// What the server said about a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlCheck {
    pub url: String,
    pub method: CheckMethod,
    pub status: u16,
    pub content_type: Option<String>,
    /// Size of the whole file when the server says it.
    pub content_length: Option<u64>,
}

/// Checks that `url` answers with something that could be media. Refuses 4xx/5xx answers,
/// silence beyond `options.timeout`, HTML pages, and files larger than `options.max_bytes`.
pub async fn check_url(url: &str, options: &FetchOptions) -> Result<UrlCheck, MediaError> {
    let parsed = parse(url, options)?;
    let client = client(options)?;
    check_with(&client, url, parsed, options).await
}

impl MediaLibrary {
    /// Checks `url` ([`check_url`]) and downloads it into the library.
    pub async fn add_url(
        &self,
        url: &str,
        options: &FetchOptions,
    ) -> Result<(UrlCheck, LibraryItem), MediaError> {
        let parsed = parse(url, options)?;
        let client = client(options)?;
        let check = check_with(&client, url, parsed.clone(), options).await?;

        let mut resp = send(client.get(parsed), url, options.timeout).await?;
        refuse_status(url, resp.status())?;
        if is_html_type(resp.headers().get(CONTENT_TYPE)) {
            return Err(MediaError::UrlIsHtml { url: url.into() });
        }
        let length = header_u64(resp.headers().get(CONTENT_LENGTH));
        if let Some(len) = length.filter(|&l| l > options.max_bytes) {
            return Err(too_large(url, len, options.max_bytes));
        }
        let mut incoming = Incoming::create(self, url, options.max_bytes, |f| f)?;
        let mut head = Vec::with_capacity(512);
        loop {
            let chunk = match tokio::time::timeout(options.timeout, resp.chunk()).await {
                Err(_) => {
                    return Err(MediaError::UrlTimeout {
                        url: url.into(),
                        after: options.timeout,
                    })
                }
                Ok(Err(e)) => return Err(transport(url, &e, options.timeout)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            if head.len() < 512 {
                let take = (512 - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                if head.len() == 512 && looks_like_html(&head) {
                    return Err(MediaError::UrlIsHtml { url: url.into() });
                }
            }
            incoming.write(&chunk)?;
        }
        if looks_like_html(&head) {
            return Err(MediaError::UrlIsHtml { url: url.into() });
        }
        if let Some(len) = length.filter(|&l| l != incoming.len()) {
            return Err(MediaError::UrlConnect {
                url: url.into(),
                reason: format!(
                    "the download stopped after {} of {len} bytes",
                    incoming.len()
                ),
            });
        }
        // fsync, probe and rename are blocking file work.
        let item = tokio::task::spawn_blocking(move || incoming.finish())
            .await
            .map_err(|e| MediaError::Write {
                path: self.dir().display().to_string(),
                reason: format!("the copy task failed: {e}"),
            })??;
        Ok((check, item))
    }
}

async fn check_with(
    client: &Client,
    url: &str,
    parsed: Url,
    options: &FetchOptions,
) -> Result<UrlCheck, MediaError> {
    let head = send(client.head(parsed.clone()), url, options.timeout).await?;
    // 405/501: HEAD not supported. 403: signed GET URLs (S3 presigned) refuse any other method.
    let (resp, method) = match head.status().as_u16() {
        405 | 501 | 403 => {
            let req = client.get(parsed).header(RANGE, "bytes=0-0");
            (
                send(req, url, options.timeout).await?,
                CheckMethod::RangedGet,
            )
        }
        _ => (head, CheckMethod::Head),
    };
    let status = resp.status();
    refuse_status(url, status)?;
    let headers = resp.headers();
    if is_html_type(headers.get(CONTENT_TYPE)) {
        return Err(MediaError::UrlIsHtml { url: url.into() });
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_length = if status == StatusCode::PARTIAL_CONTENT {
        // "bytes 0-0/12345"
        headers
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit('/').next())
            .and_then(|v| v.trim().parse().ok())
    } else {
        // Read the header itself: for HEAD, reqwest's body length is 0.
        header_u64(headers.get(CONTENT_LENGTH))
    };
    if let Some(len) = content_length.filter(|&l| l > options.max_bytes) {
        return Err(too_large(url, len, options.max_bytes));
    }
    Ok(UrlCheck {
        url: url.into(),
        method,
        status: status.as_u16(),
        content_type,
        content_length,
    })
}

fn parse(url: &str, options: &FetchOptions) -> Result<Url, MediaError> {
    let invalid = |reason: &str| MediaError::InvalidUrl {
        url: url.into(),
        reason: reason.into(),
    };
    let parsed = Url::parse(url.trim()).map_err(|e| {
        invalid(&format!(
            "this is not a web address ({e}) — paste the full https:// link"
        ))
    })?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if options.allow_http => Ok(parsed),
        "http" => Err(invalid(
            "plain http:// is not accepted — use the https:// address",
        )),
        other => Err(invalid(&format!(
            "{other}: addresses are not supported — use an https:// link, or add the file from disk"
        ))),
    }
}

fn client(options: &FetchOptions) -> Result<Client, MediaError> {
    Client::builder()
        .connect_timeout(options.timeout)
        .user_agent(concat!(
            "Outpost/",
            env!("CARGO_PKG_VERSION"),
            " (media import)"
        ))
        .build()
        .map_err(|e| MediaError::UrlConnect {
            url: String::new(),
            reason: format!("the HTTP client cannot start: {e}"),
        })
}

async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    timeout: Duration,
) -> Result<reqwest::Response, MediaError> {
    match tokio::time::timeout(timeout, req.send()).await {
        Err(_) => Err(MediaError::UrlTimeout {
            url: url.into(),
            after: timeout,
        }),
        Ok(Err(e)) => Err(transport(url, &e, timeout)),
        Ok(Ok(resp)) => Ok(resp),
    }
}

fn transport(url: &str, e: &reqwest::Error, timeout: Duration) -> MediaError {
    if e.is_timeout() {
        return MediaError::UrlTimeout {
            url: url.into(),
            after: timeout,
        };
    }
    // The innermost cause is the useful part ("connection refused", "dns error").
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    MediaError::UrlConnect {
        url: url.into(),
        reason,
    }
}

fn refuse_status(url: &str, status: StatusCode) -> Result<(), MediaError> {
    let code = status.as_u16();
    if status.is_success() {
        return Ok(());
    }
    if code == 404 || code == 410 {
        return Err(MediaError::UrlNotFound {
            url: url.into(),
            status: code,
        });
    }
    let hint = match code {
        401 | 403 => "the file is private; use a link that opens without logging in",
        429 => "the server is limiting requests; try again in a few minutes",
        500..=599 => "the server has a problem; try again later",
        _ => "check the link",
    };
    Err(MediaError::UrlStatus {
        url: url.into(),
        status: code,
        hint,
    })
}

fn is_html_type(value: Option<&reqwest::header::HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/xhtml"))
}

/// HTML bytes served under a media content type (a login or error page).
fn looks_like_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head")
}

fn header_u64(value: Option<&reqwest::header::HeaderValue>) -> Option<u64> {
    value?.to_str().ok()?.trim().parse().ok()
}

fn too_large(url: &str, actual: u64, limit: u64) -> MediaError {
    MediaError::TooLarge {
        source_name: url.into(),
        actual,
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_unless_allowed() {
        let strict = FetchOptions::default();
        assert!(parse("https://example.com/a.jpg", &strict).is_ok());
        let e = parse("http://example.com/a.jpg", &strict).expect_err("http refused");
        assert!(e.to_string().contains("https://"), "{e}");
        assert!(parse("ftp://example.com/a.jpg", &strict).is_err());
        assert!(parse("not a url", &strict).is_err());
        let lax = FetchOptions {
            allow_http: true,
            ..strict
        };
        assert!(parse("http://127.0.0.1:1/a.jpg", &lax).is_ok());
    }

    #[test]
    fn html_is_recognised_by_bytes() {
        assert!(looks_like_html(b"\n  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html lang=en>"));
        assert!(!looks_like_html(b"\x89PNG\r\n"));
    }
}
