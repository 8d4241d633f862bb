//! Video Pins, in two phases (`pinterest.md` § Video):
//!
//! 1. [`Pinterest::start_video`]: `POST /v5/media {"media_type":"video"}` registers an upload
//!    slot (`media_id`, `upload_url`, `upload_parameters`); the file is then streamed from disk
//!    to `upload_url` as `multipart/form-data` holding every upload parameter and, last, the
//!    file in field `file` — an S3 POST policy, so without the Pinterest bearer token. The
//!    answer is [`PartOutcome::Processing`] with `{"part", "media_id", "polls", "expires_at"}`.
//! 2. [`Pinterest::poll_video`]: one `GET /v5/media/{media_id}`. `registered` / `processing` →
//!    `Processing` again; `succeeded` → `POST /v5/pins` with a `video_id` media source and a
//!    cover → `Published`; `failed` → permanent.
//!
//! A repeated upload only makes a new `media_id`; the Pin (the visible side effect) is created
//! in one place, after processing, so reconciliation is the same as for image Pins.

use super::{
    classify, malformed, permanent, pin_body, sniff_image, transient, Auth, Call, PinOptions,
    Pinterest, NET,
};
use crate::{http, PartOutcome, PartRequest};
use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use outpost_core::error::sanitize_message;
use outpost_core::{MediaRef, PublishError};
use serde_json::{json, Map, Value};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};

/// MP4, MOV and M4V (3P; the official list is UNCONFIRMED).
const VIDEO_MIMES: [&str; 3] = ["video/mp4", "video/quicktime", "video/x-m4v"];
/// How long a processing video is worth polling (the dispatcher fails the target after it).
const PROCESSING_HOURS: i64 = 24;
/// First polls every 5 s (as Postiz does), then every 15 s.
const FAST_POLL: Duration = Duration::from_secs(5);
const SLOW_POLL: Duration = Duration::from_secs(15);
const FAST_POLLS: u64 = 12;
/// The cover frame when the user chose none (UNCONFIRMED unit: the reference says seconds,
/// some clients send milliseconds — 1 is a valid early frame either way).
const DEFAULT_COVER_FRAME: u64 = 1;
/// Uploads larger than this get a timeout sized to the file.
const LARGE_UPLOAD_BYTES: u64 = 8_000_000;
/// The slowest uplink a large upload is given time for, in bytes per second.
const SLOWEST_UPLINK: u64 = 200_000;
/// Bytes read from disk per piece of the upload body.
const UPLOAD_PIECE: usize = 256 * 1024;

fn processing(phase: Value, polls: u64) -> PartOutcome {
    PartOutcome::Processing {
        phase,
        poll_after: if polls < FAST_POLLS {
            FAST_POLL
        } else {
            SLOW_POLL
        },
    }
}

/// A multipart header parameter value (`name="…"`) without what cannot appear in one.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
        .collect()
}

/// A `multipart/form-data` body streamed from disk: the text fields, then the file (read in
/// pieces as the HTTP client asks for them, so memory stays flat), then the closing boundary.
struct FormStream {
    head: Option<Vec<u8>>,
    file: Option<tokio::fs::File>,
    tail: Option<Vec<u8>>,
    /// File bytes still expected; a file that shrinks underneath is an error.
    left: u64,
}

impl futures_core::Stream for FormStream {
    type Item = Result<Vec<u8>, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(head)));
        }
        if let Some(file) = this.file.as_mut() {
            let want = usize::try_from(this.left.min(UPLOAD_PIECE as u64)).unwrap_or(UPLOAD_PIECE);
            if want > 0 {
                let mut buf = vec![0u8; want];
                let mut read = ReadBuf::new(&mut buf);
                return match Pin::new(file).poll_read(cx, &mut read) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        this.file = None;
                        this.tail = None;
                        Poll::Ready(Some(Err(e)))
                    }
                    Poll::Ready(Ok(())) => {
                        let n = read.filled().len();
                        if n == 0 {
                            this.file = None;
                            this.tail = None;
                            return Poll::Ready(Some(Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "the video file got shorter during the upload",
                            ))));
                        }
                        this.left -= n as u64;
                        buf.truncate(n);
                        Poll::Ready(Some(Ok(buf)))
                    }
                };
            }
            this.file = None;
        }
        Poll::Ready(this.tail.take().map(Ok))
    }
}

/// The S3 error code and message of an XML error answer (`<Code>…</Code>`).
fn s3_error(body: &str) -> (String, String) {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        body.find(&open)
            .and_then(|s| {
                let rest = &body[s + open.len()..];
                rest.find(&close).map(|e| rest[..e].trim().to_string())
            })
            .unwrap_or_default()
    };
    (tag("Code"), tag("Message"))
}

impl Pinterest {
    /// Phase one: register the upload and send the file.
    pub(super) async fn start_video(
        &self,
        req: &PartRequest<'_>,
        opts: &PinOptions,
        video: &MediaRef,
    ) -> Result<PartOutcome, PublishError> {
        let len = check_video_file(video).await?;
        // Fail on a bad cover now, not after the upload and the processing.
        cover_source(opts).await?;
        let auth = self.auth(req.account).await?;
        let secrets = auth.secrets();

        let reply = self
            .send(
                &req.account.id,
                Call::post(
                    "/v5/media",
                    "registering the video upload",
                    auth.token(),
                    json!({ "media_type": "video" }),
                ),
            )
            .await?;
        if !reply.ok() {
            return Err(classify(&reply, None, &secrets));
        }
        let Some(v) = reply.json() else {
            return Err(malformed(&reply, &secrets));
        };
        let media_id = match v.get("media_id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(malformed(&reply, &secrets)),
        };
        let Some(upload_url) = v
            .get("upload_url")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        else {
            return Err(malformed(&reply, &secrets));
        };
        let params: Vec<(String, String)> = v
            .get("upload_parameters")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();

        self.upload_video(&req.account.id, upload_url, &params, video, len, &media_id)
            .await?;
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            media_id = media_id.as_str(),
            bytes = len,
            "pinterest video uploaded; processing"
        );
        let expires_at = (Utc::now() + chrono::Duration::hours(PROCESSING_HOURS))
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        Ok(processing(
            json!({
                "part": req.part_index,
                "media_id": media_id,
                "status": "registered",
                "polls": 0,
                "expires_at": expires_at,
            }),
            0,
        ))
    }

    /// The S3 form POST: every upload parameter, then `file` last; no bearer token.
    async fn upload_video(
        &self,
        account: &str,
        upload_url: &str,
        params: &[(String, String)],
        video: &MediaRef,
        len: u64,
        media_id: &str,
    ) -> Result<(), PublishError> {
        let file_name = video.file_name();
        let file = tokio::fs::File::open(&video.path).await.map_err(|e| {
            permanent(format!(
                "video {file_name} cannot be read ({}) — attach it again",
                sanitize_message(&e.to_string(), 80)
            ))
        })?;
        let seed = format!(
            "{media_id}:{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes()));
        let boundary = format!("outpost-{}", digest.get(..32).unwrap_or(&digest));
        let mut head = String::new();
        for (k, v) in params {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                quoted(k)
            ));
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quoted(file_name),
            quoted(&video.mime)
        ));
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        let total = head.len() as u64 + len + tail.len() as u64;
        let stream = FormStream {
            head: Some(head.into_bytes()),
            file: Some(file),
            tail: Some(tail),
            left: len,
        };
        let mut rb = self
            .http
            .post(upload_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            // An explicit length: S3 refuses a chunked POST.
            .header(reqwest::header::CONTENT_LENGTH, total)
            .body(reqwest::Body::wrap_stream(stream));
        if len > LARGE_UPLOAD_BYTES {
            rb = rb.timeout(http::REQUEST_TIMEOUT + Duration::from_secs(len / SLOWEST_UPLINK));
        }
        let started = Instant::now();
        let resp = rb.send().await.map_err(|e| {
            // Nothing visible exists before the Pin: uploading again is safe.
            http::send_error(NET, "uploading the video", &e, false)
        })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        tracing::debug!(
            network = NET.as_str(),
            account,
            media_id,
            status,
            bytes = total,
            duration_ms = started.elapsed().as_millis() as u64,
            "pinterest video upload"
        );
        if (200..300).contains(&status) {
            return Ok(());
        }
        let (code, message) = s3_error(&body);
        let said = sanitize_message(
            &format!(
                "{code}{}{message}",
                if message.is_empty() { "" } else { ": " }
            ),
            160,
        );
        let said = if said.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} {said}")
        };
        let e = match (status, code.as_str()) {
            (_, "EntityTooLarge") | (413, _) => permanent(format!(
                "the upload service refused {file_name} as too large ({said}) — shorten or recompress it"
            )),
            (500..=599, _) => transient(format!(
                "the upload service failed while uploading {file_name} ({said}) — Outpost will upload it again"
            )),
            // An expired or refused upload policy: a new registration brings a new one.
            (403, _) => transient(format!(
                "the upload service refused the upload of {file_name} ({said}) — Outpost will register the video again and retry"
            )),
            _ => permanent(format!(
                "the upload service rejected the upload of {file_name} ({said}) — retry the post; if it fails again, report this bug"
            )),
        };
        Err(e.with_excerpt(&body, &[]))
    }

    /// Phase two: one status check; the Pin once the video is ready.
    pub(super) async fn poll_video(
        &self,
        req: &PartRequest<'_>,
        opts: &PinOptions,
        video: &MediaRef,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let media_id = match phase.get("media_id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(permanent(
                    "internal error: the stored video processing state has no media id — retry the post to upload the video again",
                ))
            }
        };
        let auth = self.auth(req.account).await?;
        let secrets = auth.secrets();
        let reply = self
            .send(
                &req.account.id,
                Call::get(
                    format!("/v5/media/{media_id}"),
                    "checking the video's processing",
                    auth.token(),
                ),
            )
            .await?;
        if reply.status.as_u16() == 404 {
            return Err(permanent(format!(
                "Pinterest no longer knows the uploaded video {} (media {media_id}, HTTP 404) — retry the post to upload it again",
                video.file_name()
            ))
            .with_excerpt(&reply.body, &secrets));
        }
        if !reply.ok() {
            return Err(classify(&reply, None, &secrets));
        }
        let Some(status) = reply
            .json()
            .and_then(|v| v.get("status")?.as_str().map(str::to_string))
        else {
            return Err(malformed(&reply, &secrets));
        };
        match status.as_str() {
            "succeeded" => self
                .create_video_pin(req, &auth, opts, video, &media_id)
                .await
                .map(PartOutcome::Published),
            "failed" => {
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    media_id = media_id.as_str(),
                    "pinterest video processing failed"
                );
                Err(permanent(format!(
                    "Pinterest could not process the video {} (media {media_id}: failed) — check that it plays and is MP4, MOV or M4V of 4 s to 15 min, then retry the post",
                    video.file_name()
                ))
                .with_excerpt(&reply.body, &secrets))
            }
            other => {
                let polls = phase.get("polls").and_then(Value::as_u64).unwrap_or(0) + 1;
                let mut next = match phase {
                    Value::Object(m) => m.clone(),
                    _ => Map::new(),
                };
                next.insert("part".into(), json!(req.part_index));
                next.insert("media_id".into(), json!(media_id));
                next.insert("status".into(), json!(other));
                next.insert("polls".into(), json!(polls));
                tracing::debug!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    media_id = media_id.as_str(),
                    status = other,
                    polls,
                    "pinterest video still processing"
                );
                Ok(processing(Value::Object(next), polls))
            }
        }
    }

    async fn create_video_pin(
        &self,
        req: &PartRequest<'_>,
        auth: &Auth,
        opts: &PinOptions,
        video: &MediaRef,
        media_id: &str,
    ) -> Result<crate::PublishedPart, PublishError> {
        let mut source = match cover_source(opts).await? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        source.insert("source_type".into(), json!("video_id"));
        source.insert("media_id".into(), json!(media_id));
        let alt = video
            .alt
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string);
        let body = pin_body(opts, &req.part.text, alt, Value::Object(source))?;
        self.create_pin(req, auth, body, &opts.board_id).await
    }
}

/// The cover fields of a `video_id` source: `cover_image_url`, else a local cover image as
/// `cover_image_data` + `cover_image_content_type`, else `cover_image_key_frame_time`.
async fn cover_source(opts: &PinOptions) -> Result<Value, PublishError> {
    if let Some(url) = &opts.cover_image_url {
        return Ok(json!({ "cover_image_url": url }));
    }
    if let Some(path) = &opts.cover_image_path {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let data = tokio::fs::read(path).await.map_err(|e| {
            permanent(format!(
                "the cover image {name} cannot be read ({}) — choose it again",
                sanitize_message(&e.to_string(), 80)
            ))
        })?;
        let limit = outpost_core::validate::limits(NET).image_max_bytes;
        if data.len() as u64 > limit {
            return Err(permanent(format!(
                "the cover image {name} is larger than {limit} bytes — use a smaller one"
            )));
        }
        let Some(content_type) = sniff_image(&data) else {
            return Err(permanent(format!(
                "the cover image {name} is not JPEG or PNG — convert it"
            )));
        };
        return Ok(json!({
            "cover_image_content_type": content_type,
            "cover_image_data": base64::engine::general_purpose::STANDARD.encode(&data),
        }));
    }
    Ok(json!({
        "cover_image_key_frame_time": opts.cover_key_frame_time.unwrap_or(DEFAULT_COVER_FRAME),
    }))
}

/// The file's size, after checking its type, that it exists, is not empty and fits the limit.
async fn check_video_file(video: &MediaRef) -> Result<u64, PublishError> {
    let file = video.file_name();
    if !VIDEO_MIMES
        .iter()
        .any(|m| video.mime.eq_ignore_ascii_case(m))
    {
        return Err(permanent(format!(
            "{file} is {}; Pinterest takes video as MP4, MOV or M4V — export it as H.264 MP4",
            video.mime
        )));
    }
    let meta = tokio::fs::metadata(&video.path).await.map_err(|e| {
        permanent(format!(
            "video {file} cannot be read ({}) — attach it again",
            sanitize_message(&e.to_string(), 80)
        ))
    })?;
    if meta.len() == 0 {
        return Err(permanent(format!(
            "video {file} is empty — attach it again"
        )));
    }
    let limit = outpost_core::validate::limits(NET).video_max_bytes;
    if limit > 0 && meta.len() > limit {
        return Err(permanent(format!(
            "video {file} is {} bytes; Pinterest takes videos up to {limit} bytes — shorten or recompress it",
            meta.len()
        )));
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_errors_are_read() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Invalid according to Policy</Message></Error>";
        assert_eq!(
            s3_error(body),
            ("AccessDenied".into(), "Invalid according to Policy".into())
        );
        assert_eq!(s3_error("nope"), (String::new(), String::new()));
    }

    #[test]
    fn form_names_lose_quotes_and_newlines() {
        assert_eq!(quoted("a\"b\r\nc.mp4"), "abc.mp4");
    }

    #[tokio::test]
    async fn the_cover_defaults_to_a_key_frame() {
        let opts = PinOptions::default();
        assert_eq!(
            cover_source(&opts).await.ok(),
            Some(json!({"cover_image_key_frame_time": DEFAULT_COVER_FRAME}))
        );
        let opts = PinOptions {
            cover_image_url: Some("https://cdn.test/c.jpg".into()),
            ..PinOptions::default()
        };
        assert_eq!(
            cover_source(&opts).await.ok(),
            Some(json!({"cover_image_url": "https://cdn.test/c.jpg"}))
        );
    }
}
