//! The S3-style form endpoint `POST /v5/media` hands out as `upload_url` (the real one is
//! `https://pinterest-media-upload.s3-accelerate.amazonaws.com/`). It behaves like an S3 POST
//! policy upload:
//!
//! - a request that also carries an `Authorization` header is refused (400 `InvalidArgument`,
//!   "Only one auth mechanism allowed");
//! - the body must be `multipart/form-data`; fields after the `file` field are ignored, as S3
//!   does, so a parameter sent after the file counts as missing;
//! - `key` must be present (400 `InvalidArgument`), and every other `upload_parameters`
//!   field must be present with its value (403 `AccessDenied`, "Invalid according to Policy");
//! - the policy expires ([`super::PinterestConfig::upload_policy_ttl`]);
//! - success is `204 No Content` with an `ETag`, and the video starts processing.

use axum::body::Body;
use axum::http::Response;
use sha2::{Digest, Sha256};

use super::{random_hex, Req, Shared};

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn boundary_of(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// A `Content-Disposition` parameter (`name`, `filename`).
fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a multipart body (RFC 7578) into its parts, in order.
pub(crate) fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<FormPart>, String> {
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0).ok_or("no boundary in the body")? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err("a boundary is not followed by CRLF".into());
        }
        at += 2;
        let headers_end = find(body, b"\r\n\r\n", at).ok_or("a part has no end of headers")?;
        let headers = String::from_utf8_lossy(&body[at..headers_end]).into_owned();
        let content_start = headers_end + 4;
        let content_end =
            find(body, &next_delimiter, content_start).ok_or("the closing boundary is missing")?;
        let mut name = None;
        let mut file_name = None;
        let mut content_type = None;
        for line in headers.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                if !v.trim().to_ascii_lowercase().starts_with("form-data") {
                    return Err("a part is not form-data".into());
                }
                name = disposition_param(v, "name");
                file_name = disposition_param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_string());
            }
        }
        parts.push(FormPart {
            name: name.ok_or("a part has no name")?,
            file_name,
            content_type,
            data: body[content_start..content_end].to_vec(),
        });
        at = content_end + next_delimiter.len();
    }
}

fn s3_error(status: u16, code: &str, message: &str) -> Response<Body> {
    let request_id = random_hex(16).to_ascii_uppercase();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{request_id}</RequestId><HostId>{}</HostId></Error>",
        message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
        random_hex(40)
    );
    Response::builder()
        .status(status)
        .header("Content-Type", "application/xml")
        .header("x-amz-request-id", request_id)
        .body(Body::from(xml))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    if req.header("authorization").is_some() {
        return s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
    }
    let Some(boundary) = req.header("content-type").and_then(boundary_of) else {
        return s3_error(
            412,
            "PreconditionFailed",
            "Bucket POST must be of the enclosure-type multipart/form-data",
        );
    };
    let parts = match parse_multipart(&req.body, &boundary) {
        Ok(p) => p,
        Err(_) => {
            return s3_error(
                400,
                "MalformedPOSTRequest",
                "The body of your POST request is not well-formed multipart/form-data.",
            )
        }
    };
    let order: Vec<String> = parts.iter().map(|p| p.name.clone()).collect();
    // S3 ignores every field after the file.
    let file_at = parts
        .iter()
        .position(|p| p.name.eq_ignore_ascii_case("file"));
    let fields: Vec<&super::upload::FormPart> =
        parts[..file_at.unwrap_or(parts.len())].iter().collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    };
    let Some(key) = field("key") else {
        return s3_error(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        );
    };
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    let Some(media) = inner
        .media
        .iter_mut()
        .find(|m| m.upload_parameters.get("key") == Some(&key))
    else {
        return s3_error(
            403,
            "AccessDenied",
            &format!("Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\", \"{key}\"]"),
        );
    };
    if now > media.registered_at + cfg.upload_policy_ttl {
        return s3_error(
            403,
            "AccessDenied",
            "Invalid according to Policy: Policy expired.",
        );
    }
    for (name, value) in &media.upload_parameters {
        if field(name).as_deref() != Some(value.as_str()) {
            return s3_error(
                403,
                "AccessDenied",
                &format!("Invalid according to Policy: Policy Condition failed: [\"eq\", \"${name}\", \"{value}\"]"),
            );
        }
    }
    let Some(file) = file_at.and_then(|i| parts.get(i)) else {
        return s3_error(
            400,
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
        );
    };
    if file.data.len() as u64 > cfg.max_video_bytes {
        return s3_error(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        );
    }
    media.uploaded_bytes = Some(file.data.len() as u64);
    media.upload_file_name = file.file_name.clone();
    media.upload_content_type = file.content_type.clone();
    media.upload_fields = order;
    media.status = "processing".into();
    media.polls = 0;
    media.looks_like_video = looks_like_video(&file.data);
    let etag = hex::encode(&Sha256::digest(&file.data)[..16]);
    Response::builder()
        .status(204)
        .header("ETag", format!("\"{etag}\""))
        .header(
            "Location",
            format!("https://pinterest-media-upload.s3-accelerate.amazonaws.com/{key}"),
        )
        .header("x-amz-request-id", random_hex(16).to_ascii_uppercase())
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// An ISO base media file (MP4, MOV, M4V): a `ftyp` box first.
fn looks_like_video(data: &[u8]) -> bool {
    data.get(4..8) == Some(b"ftyp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_are_split_in_order() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\nContent-Type: video/mp4\r\n\r\n\x00\x01\r\n\x02\r\n--XyZ--\r\n";
        let parts = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "key");
        assert_eq!(parts[0].data, b"uploads/1");
        assert_eq!(parts[1].file_name.as_deref(), Some("a.mp4"));
        assert_eq!(parts[1].content_type.as_deref(), Some("video/mp4"));
        assert_eq!(parts[1].data, b"\x00\x01\r\n\x02");
        assert!(parse_multipart(b"garbage", "XyZ").is_err());
        assert_eq!(
            boundary_of("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary_of("application/json"), None);
    }
}
