//! HTTP control API under `/_fake/`, served on all three listeners, so
//! scripts and other processes can drive the fake:
//!
//! | Request | Effect / answer |
//! |---|---|
//! | `GET /_fake/info` | `{"entryway","pds","service_did","video","video_did"}` |
//! | `POST /_fake/accounts {"handle","password"}` | `{"did","handle"}` |
//! | `POST /_fake/faults` a [`Fault`] or an array of them | `{"queued":n}` |
//! | `DELETE /_fake/faults` | drop queued faults |
//! | `POST /_fake/expire-access-tokens` | |
//! | `POST /_fake/revoke-app-password {"handle"}` | 404 if unknown |
//! | `POST /_fake/revoke-sessions {"handle"}` | 404 if unknown |
//! | `POST /_fake/latency {"ms"}` | |
//! | `POST /_fake/blob-limit {"bytes"}` | |
//! | `POST /_fake/image-max-size {"bytes"}` | |
//! | `POST /_fake/advance-time {"secs"}` | moves the fake clock |
//! | `GET /_fake/records?did=` | `[StoredRecord]` |
//! | `GET /_fake/requests` | `[RecordedRequest]` (body base64) |
//! | `DELETE /_fake/requests` | forget recorded requests |
//! | `POST /_fake/email-confirmed {"handle","confirmed"}` | 404 if unknown |
//! | `POST /_fake/video/pace {"polls"}` or `{"secs"}` | jobs created from now on |
//! | `POST /_fake/video/outcome` a [`JobOutcome`] | e.g. `{"type":"fail","failure_code":"encoding_failure"}`, `{"type":"never_completes"}` |
//! | `POST /_fake/video/response-form {"form":"wrapped"\|"bare"}` | `uploadVideo`'s answer |
//! | `POST /_fake/video/already-exists {"enabled"}` | |
//! | `POST /_fake/video/limits {"videos","bytes"}` | daily allowance (resets usage) |
//! | `GET /_fake/video/jobs` | `[VideoJob]` |
//!
//! Errors answer `400`/`404` with `{"error":"…"}`.

use axum::body::Body;
use axum::http::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_response, Fault, JobOutcome, JobPace, JobStatusForm, Req, Shared};

const JSON: &str = "application/json; charset=utf-8";

fn reply(status: u16, body: Value) -> Response<Body> {
    json_response(status, JSON, &body)
}

fn bad(message: impl Into<String>) -> Response<Body> {
    reply(400, json!({ "error": message.into() }))
}

type Answer = Result<Response<Body>, Box<Response<Body>>>;

fn parse<T: for<'de> Deserialize<'de>>(req: &Req) -> Result<T, Box<Response<Body>>> {
    serde_json::from_slice(&req.body).map_err(|e| Box::new(bad(format!("invalid JSON body: {e}"))))
}

#[derive(Deserialize)]
struct AccountInput {
    handle: String,
    password: String,
}

#[derive(Deserialize)]
struct HandleInput {
    handle: String,
}

#[derive(Deserialize)]
struct MsInput {
    ms: u64,
}

#[derive(Deserialize)]
struct BytesInput {
    bytes: usize,
}

#[derive(Deserialize)]
struct SecsInput {
    secs: i64,
}

#[derive(Deserialize)]
struct EmailInput {
    handle: String,
    confirmed: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PaceInput {
    Polls { polls: u32 },
    Secs { secs: u64 },
}

#[derive(Deserialize)]
struct FormInput {
    form: JobStatusForm,
}

#[derive(Deserialize)]
struct EnabledInput {
    enabled: bool,
}

#[derive(Deserialize)]
struct VideoLimitsInput {
    videos: u32,
    bytes: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Faults {
    One(Fault),
    Many(Vec<Fault>),
}

pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    match run(shared, req) {
        Ok(response) => response,
        Err(response) => *response,
    }
}

fn run(shared: &Shared, req: &Req) -> Answer {
    let done = || reply(200, json!({}));
    let path = req.path.trim_end_matches('/');
    Ok(match (req.method.as_str(), path) {
        ("GET", "/_fake/info") => reply(
            200,
            json!({
                "entryway": shared.entryway_url,
                "pds": shared.pds_url,
                "service_did": shared.service_did,
                "video": shared.video_url,
                "video_did": shared.video_did,
            }),
        ),
        ("POST", "/_fake/accounts") => {
            let input: AccountInput = parse(req)?;
            let did = shared.add_account(&input.handle, &input.password);
            reply(
                200,
                json!({ "did": did, "handle": input.handle.to_ascii_lowercase() }),
            )
        }
        ("POST", "/_fake/faults") => {
            let faults = match parse::<Faults>(req)? {
                Faults::One(f) => vec![f],
                Faults::Many(list) => list,
            };
            let queued = faults.len();
            for fault in faults {
                shared.push_fault(fault);
            }
            reply(200, json!({ "queued": queued }))
        }
        ("DELETE", "/_fake/faults") => {
            shared.lock().faults.clear();
            done()
        }
        ("POST", "/_fake/expire-access-tokens") => {
            shared.expire_access_tokens();
            done()
        }
        ("POST", "/_fake/revoke-app-password") => {
            let input: HandleInput = parse(req)?;
            if !shared.revoke_app_password(&input.handle) {
                return Err(Box::new(reply(404, json!({ "error": "unknown handle" }))));
            }
            done()
        }
        ("POST", "/_fake/revoke-sessions") => {
            let input: HandleInput = parse(req)?;
            if !shared.revoke_sessions(&input.handle) {
                return Err(Box::new(reply(404, json!({ "error": "unknown handle" }))));
            }
            done()
        }
        ("POST", "/_fake/latency") => {
            let input: MsInput = parse(req)?;
            shared.lock().latency = std::time::Duration::from_millis(input.ms);
            done()
        }
        ("POST", "/_fake/blob-limit") => {
            let input: BytesInput = parse(req)?;
            shared.lock().blob_limit = input.bytes;
            done()
        }
        ("POST", "/_fake/image-max-size") => {
            let input: BytesInput = parse(req)?;
            shared.lock().image_max_size = input.bytes;
            done()
        }
        ("POST", "/_fake/advance-time") => {
            let input: SecsInput = parse(req)?;
            shared.lock().clock_offset += chrono::Duration::seconds(input.secs);
            done()
        }
        ("GET", "/_fake/records") => {
            let params: Vec<(String, String)> = serde_urlencoded::from_str(&req.query)
                .map_err(|_| Box::new(bad("invalid query string")))?;
            let did = params
                .iter()
                .find(|(k, _)| k == "did")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| Box::new(bad("missing ?did=")))?;
            let records = shared.records(&did);
            reply(200, serde_json::to_value(records).unwrap_or_default())
        }
        ("GET", "/_fake/requests") => {
            let requests = shared.lock().requests.clone();
            reply(200, serde_json::to_value(requests).unwrap_or_default())
        }
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            done()
        }
        ("POST", "/_fake/email-confirmed") => {
            let input: EmailInput = parse(req)?;
            if !shared.set_email_confirmed(&input.handle, input.confirmed) {
                return Err(Box::new(reply(404, json!({ "error": "unknown handle" }))));
            }
            done()
        }
        ("POST", "/_fake/video/pace") => {
            let pace = match parse::<PaceInput>(req)? {
                PaceInput::Polls { polls } => JobPace::Polls(polls),
                PaceInput::Secs { secs } => JobPace::Seconds(secs),
            };
            shared.lock().video.pace = pace;
            done()
        }
        ("POST", "/_fake/video/outcome") => {
            let outcome: JobOutcome = parse(req)?;
            shared.lock().video.outcome = outcome;
            done()
        }
        ("POST", "/_fake/video/response-form") => {
            let input: FormInput = parse(req)?;
            shared.lock().video.form = input.form;
            done()
        }
        ("POST", "/_fake/video/already-exists") => {
            let input: EnabledInput = parse(req)?;
            shared.lock().video.already_exists = input.enabled;
            done()
        }
        ("POST", "/_fake/video/limits") => {
            let input: VideoLimitsInput = parse(req)?;
            let mut inner = shared.lock();
            inner.video.daily_videos = input.videos;
            inner.video.daily_bytes = input.bytes;
            inner.video.usage.clear();
            done()
        }
        ("GET", "/_fake/video/jobs") => {
            let jobs = shared.lock().video.snapshot();
            reply(200, serde_json::to_value(jobs).unwrap_or_default())
        }
        _ => reply(404, json!({ "error": "unknown control endpoint" })),
    })
}
