//! `rupload.facebook.com/ig-api-upload/{v}/{container-id}`: the resumable video upload of the
//! Facebook Login set-up. Headers `Authorization: OAuth <token>`, `offset`, `file_size` and the
//! bytes as the body, or a `file_url` header and no body.
//!
//! Answers `{"success":true,"message":"Upload successful. …"}` once every byte arrived, or
//! `{"debug_info":{"retriable":false,"type":"ProcessingFailedError","message":"…"}}`.
//! Uploading in several requests (each `offset` = the bytes already received) is how the fake
//! resumes; a request starting before what was received overlaps harmlessly, one starting after
//! it is refused. Partial answers (`{"success":true,"offset":N}`) and the offset rules are
//! UNCONFIRMED on the real host.

use axum::body::Body;
use axum::http::Response;
use serde_json::json;

use super::graph::{check_token, looks_like_video_head, unsupported_video_status};
use super::{fetch, json_response, Fetched, Login, Processing, Req, Shared};

fn failed(status: u16, kind: &str, message: &str, retriable: bool) -> Response<Body> {
    json_response(
        status,
        &json!({ "debug_info": { "retriable": retriable, "type": kind, "message": message } }),
    )
}

pub(crate) async fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    if req.method != "POST" {
        return failed(405, "MethodNotAllowed", "Use POST", false);
    }
    // /ig-api-upload/{v}/{id}
    let id = req
        .path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let token = req.header("authorization").and_then(|h| {
        let h = h.trim();
        (h.len() > 6 && h[..6].eq_ignore_ascii_case("OAuth ")).then(|| h[6..].trim().to_string())
    });
    if token.is_none() {
        return failed(
            401,
            "AuthException",
            "Authorization header must be \"OAuth <access token>\"",
            false,
        );
    }
    let file_url = req
        .header("file_url")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let fetched = match &file_url {
        Some(url) => Some(fetch(shared, url).await),
        None => None,
    };
    let mut inner = shared.lock();
    let now = inner.now();
    let caller = match check_token(&inner, token.as_deref(), now) {
        Ok(c) => c,
        Err(_) => return failed(401, "AuthException", "Invalid OAuth access token", false),
    };
    if caller.rec.kind.login() != Login::Facebook {
        return failed(
            401,
            "AuthException",
            "rupload accepts Facebook Login access tokens only",
            false,
        );
    }
    let owner = caller.account.ig_user_id.clone();
    let Some(c) = inner
        .containers
        .iter_mut()
        .find(|c| c.id == id && c.owner == owner)
    else {
        return failed(
            404,
            "NotFound",
            &format!("No upload session for {id}"),
            false,
        );
    };
    if !c.resumable {
        return failed(
            400,
            "ProcessingFailedError",
            "This container was not created with upload_type=resumable",
            false,
        );
    }
    if c.uploaded_via.is_some() {
        return failed(
            400,
            "ProcessingFailedError",
            "The upload is already complete",
            false,
        );
    }
    c.upload_requests += 1;
    if let Some(f) = fetched {
        match f {
            Fetched::Unreachable => {
                return failed(
                    400,
                    "ProcessingFailedError",
                    "Failed to download the file from file_url",
                    false,
                )
            }
            Fetched::Bytes(b) => {
                c.file_size = Some(b.len() as u64);
                c.received = b.len() as u64;
                c.head = b.iter().take(16).copied().collect();
            }
            Fetched::Trusted => {
                c.head = b"\0\0\0\x18ftypmp42".to_vec();
                c.received = c.file_size.unwrap_or(0);
            }
        }
        c.uploaded_via = Some("file_url".into());
    } else {
        let number = |name: &str| req.header(name).and_then(|v| v.trim().parse::<u64>().ok());
        let (Some(offset), Some(size)) = (number("offset"), number("file_size")) else {
            return failed(
                400,
                "ProcessingFailedError",
                "The offset and file_size headers are required",
                false,
            );
        };
        if c.file_size.is_some_and(|s| s != size) {
            return failed(
                400,
                "ProcessingFailedError",
                "file_size differs from the earlier request",
                false,
            );
        }
        c.file_size = Some(size);
        if offset > c.received {
            return failed(
                400,
                "ProcessingFailedError",
                &format!(
                    "Offset mismatch: {} bytes were received, the request starts at {offset}",
                    c.received
                ),
                false,
            );
        }
        let skip = usize::try_from(c.received - offset).unwrap_or(usize::MAX);
        let new = req.body.get(skip..).unwrap_or_default();
        if offset + req.body.len() as u64 > size {
            return failed(
                400,
                "ProcessingFailedError",
                "The body goes past file_size",
                false,
            );
        }
        if c.head.len() < 16 {
            let start = usize::try_from(c.received).unwrap_or(usize::MAX);
            for (i, b) in new.iter().enumerate() {
                if start + i >= 16 || c.head.len() >= 16 {
                    break;
                }
                c.head.push(*b);
            }
        }
        c.received += new.len() as u64;
        if c.received < size {
            return json_response(
                200,
                &json!({ "success": true, "message": "Upload in progress.", "offset": c.received }),
            );
        }
        c.uploaded_via = Some("bytes".into());
    }
    if !looks_like_video_head(&c.head) {
        c.processing = Processing::error(0, &unsupported_video_status());
    }
    json_response(
        200,
        &json!({
            "success": true,
            "message": "Upload successful. The video is being processed.",
        }),
    )
}
