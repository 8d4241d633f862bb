//! The Google endpoints of the YouTube fake (everything but the session `PUT`s, which are in
//! the `upload` module): OAuth, `channels.list`, the session start of `videos.insert`,
//! `videos.list`, `videos.update`, `thumbnails.set`, `playlistItems.list` — wire formats,
//! status codes and error bodies as `youtube.md` describes them.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{
    is_loopback_redirect, AccessToken, Endpoint, Inner, Processing, QuotaModel, Reply, Req, Shared,
    VideoEntry, YouTubeConfig, YtChannel, YtTokens, YtVideo, THUMBNAIL_MAX_BYTES,
};
use crate::common::random_string;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Categories a video may be assigned to (`videoCategories.list?regionCode=US`, assignable
/// ones).
const CATEGORIES: [&str; 15] = [
    "1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29",
];

pub(super) type Answer = Result<Reply, Reply>;

// ---- bodies ----------------------------------------------------------------------------------

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        410 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn domain_of(reason: &str) -> &'static str {
    match reason {
        "quotaExceeded" => "youtube.quota",
        "dailyLimitExceeded" | "rateLimitExceeded" | "userRateLimitExceeded" => "usageLimits",
        "authError"
        | "required"
        | "badRequest"
        | "backendError"
        | "insufficientPermissions"
        | "notFound"
        | "badContent"
        | "internalError" => "global",
        "uploadLimitExceeded" | "uploadRateLimitExceeded" => "youtube.video",
        "forbidden" | "videoNotFound" | "invalidImage" | "mediaBodyRequired" => "youtube.thumbnail",
        _ => "youtube.video",
    }
}

/// Google's error envelope.
pub(crate) fn google_error(status: u16, reason: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain_of(reason), "reason": reason}],
            "status": status_name(status),
        }}),
    )
}

pub(super) fn not_found() -> Reply {
    google_error(404, "notFound", "Not Found")
}

pub(crate) fn unauthorized() -> Reply {
    Reply::json(
        401,
        json!({"error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                        "location": "Authorization", "locationType": "header"}],
            "status": "UNAUTHENTICATED",
        }}),
    )
    .header("www-authenticate", "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"")
}

fn insufficient_permissions() -> Reply {
    Reply::json(
        403,
        json!({"error": {
            "code": 403,
            "message": "Request had insufficient authentication scopes.",
            "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
            "status": "PERMISSION_DENIED",
        }}),
    )
}

pub(crate) fn quota_exceeded() -> Reply {
    google_error(
        403,
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
    )
}

fn invalid(reason: &str, message: &str) -> Reply {
    google_error(400, reason, message)
}

pub(super) fn fault_status(
    status: u16,
    reason: Option<&str>,
    message: Option<&str>,
    retry_after_secs: Option<u64>,
) -> Reply {
    let reason = reason.unwrap_or(match status {
        400 => "badRequest",
        401 => "authError",
        403 => "forbidden",
        404 => "notFound",
        429 => "rateLimitExceeded",
        503 => "backendError",
        _ if status >= 500 => "backendError",
        _ => "badRequest",
    });
    let message = message.map(str::to_string).unwrap_or_else(|| match reason {
        "backendError" => "Backend Error".to_string(),
        "quotaExceeded" => "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.".to_string(),
        "uploadLimitExceeded" => "The user has exceeded the number of videos they may upload.".to_string(),
        "rateLimitExceeded" | "uploadRateLimitExceeded" => "The user has sent too many requests in a given amount of time.".to_string(),
        "forbidden" => "The request is not properly authorized.".to_string(),
        other => other.to_string(),
    });
    let mut reply = if status == 401 {
        unauthorized()
    } else {
        google_error(status, reason, &message)
    };
    if let Some(secs) = retry_after_secs {
        reply = reply.header("retry-after", secs.to_string());
    }
    reply
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn etag() -> String {
    random_string(ALNUM, 27)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---- dispatch --------------------------------------------------------------------------------

pub(super) fn process(shared: &Shared, endpoint: Endpoint, req: &Req) -> Reply {
    match endpoint {
        Endpoint::Authorize => authorize(shared, req),
        Endpoint::Token => oauth_token(shared, req),
        Endpoint::Revoke => oauth_revoke(shared, req),
        _ => authed(shared, endpoint, req),
    }
}

pub(crate) fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The live access token of a request, or the 401 to answer.
pub(crate) fn token_of(inner: &Inner, header: Option<&str>) -> Result<AccessToken, Reply> {
    let now = inner.now();
    match bearer(header).and_then(|t| inner.access.get(t)) {
        Some(t) if t.expires_at > now => Ok(t.clone()),
        _ => Err(unauthorized()),
    }
}

/// Units and inserts a call needs, per the project's quota model.
fn quota_need(model: QuotaModel, endpoint: Endpoint) -> (u32, u32) {
    match (endpoint, model) {
        (Endpoint::VideosInsert, QuotaModel::Units { insert_cost, .. }) => (insert_cost, 0),
        (Endpoint::VideosInsert, QuotaModel::InsertBucket { .. }) => (0, 1),
        (e, _) => (e.cost(), 0),
    }
}

fn quota_allows(model: QuotaModel, used: super::QuotaUse, units: u32, inserts: u32) -> bool {
    let units_ok = used.units.saturating_add(units) <= model.daily_units();
    let inserts_ok = match model {
        QuotaModel::InsertBucket {
            inserts_per_day, ..
        } => inserts == 0 || used.inserts.saturating_add(inserts) <= inserts_per_day,
        QuotaModel::Units { .. } => true,
    };
    // A call that costs nothing still fails once the day's units are gone.
    units_ok && inserts_ok && (units > 0 || inserts > 0 || used.units < model.daily_units())
}

fn authed(shared: &Shared, endpoint: Endpoint, req: &Req) -> Reply {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let token = match token_of(&inner, req.header("authorization")) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    if !endpoint
        .accepted_scopes()
        .iter()
        .any(|s| token.scopes.iter().any(|g| g == s))
    {
        return insufficient_permissions();
    }
    let model = inner.quota_model;
    let (units, inserts) = quota_need(model, endpoint);
    let used = *inner.quota_today(&token.client_id);
    if !quota_allows(model, used, units, inserts) {
        return quota_exceeded();
    }
    let result = match endpoint {
        Endpoint::ChannelsList => channels_list(&inner, &token, req),
        Endpoint::VideosInsert => videos_insert(&mut inner, cfg, &shared.base_url, &token, req),
        Endpoint::VideosList => videos_list(&mut inner, &token, req),
        Endpoint::VideosUpdate => videos_update(&mut inner, &token, req),
        Endpoint::ThumbnailsSet => thumbnails_set(&mut inner, &shared.base_url, &token, req),
        Endpoint::PlaylistItemsList => playlist_items(&mut inner, &token, req),
        _ => Err(not_found()),
    };
    // "Invalid requests still cost at least 1" unit.
    let q = inner.quota_today(&token.client_id);
    match &result {
        Ok(_) => {
            q.units = q.units.saturating_add(units);
            q.inserts = q.inserts.saturating_add(inserts);
        }
        Err(r) if r.status == 400 => q.units = q.units.saturating_add(1),
        Err(_) => {}
    }
    result.unwrap_or_else(|e| e)
}

// ---- channels --------------------------------------------------------------------------------

fn parts_of(req: &Req) -> Result<Vec<String>, Reply> {
    let part = req.param("part").unwrap_or_default();
    let parts: Vec<String> = part
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Err(invalid("required", "Required parameter: part"));
    }
    Ok(parts)
}

fn channel_json(c: &YtChannel, parts: &[String], created: DateTime<Utc>) -> Value {
    let mut v = json!({"kind": "youtube#channel", "etag": etag(), "id": c.id});
    for p in parts {
        match p.as_str() {
            "snippet" => {
                v["snippet"] = json!({
                    "title": c.title, "description": "", "customUrl": c.custom_url,
                    "publishedAt": rfc3339(created), "thumbnails": {},
                    "localized": {"title": c.title, "description": ""},
                })
            }
            "contentDetails" => {
                v["contentDetails"] =
                    json!({"relatedPlaylists": {"likes": "", "uploads": c.uploads_playlist}})
            }
            "status" => {
                v["status"] = json!({
                    "privacyStatus": "public", "isLinked": true,
                    "longUploadsStatus": if c.verified { "allowed" } else { "eligible" },
                    "madeForKids": false,
                })
            }
            _ => {}
        }
    }
    v
}

fn channels_list(inner: &Inner, token: &AccessToken, req: &Req) -> Answer {
    let parts = parts_of(req)?;
    let mine = req.param("mine").is_some_and(|m| m == "true");
    let ids = req.param("id");
    if !mine && ids.is_none() {
        return Err(invalid(
            "missingRequiredParameter",
            "No filter selected. Expected one of: mine, forHandle, id, forUsername, managedByMe, categoryId",
        ));
    }
    let now = inner.now();
    let items: Vec<Value> = if mine {
        inner
            .channel(&token.channel_id)
            .filter(|c| !inner.no_channel.contains(&c.id))
            .map(|c| vec![channel_json(c, &parts, now)])
            .unwrap_or_default()
    } else {
        let wanted: Vec<String> = ids
            .unwrap_or_default()
            .split(',')
            .map(str::to_string)
            .collect();
        inner
            .channels
            .iter()
            .filter(|c| wanted.contains(&c.id) && !inner.no_channel.contains(&c.id))
            .map(|c| channel_json(c, &parts, now))
            .collect()
    };
    Ok(Reply::json(
        200,
        json!({
            "kind": "youtube#channelListResponse", "etag": etag(),
            "pageInfo": {"totalResults": items.len(), "resultsPerPage": 5},
            "items": items,
        }),
    ))
}

// ---- videos.insert (session start) -----------------------------------------------------------

/// The tag list's length as YouTube counts it: commas between tags, quotes around tags that
/// contain spaces.
pub(crate) fn tags_length(tags: &[String]) -> usize {
    let chars: usize = tags
        .iter()
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .sum();
    chars + tags.len().saturating_sub(1)
}

/// Checked metadata of a video (`snippet` + `status`).
pub(crate) struct Metadata {
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub category_id: String,
    pub privacy: String,
    pub publish_at: Option<DateTime<Utc>>,
    pub made_for_kids: bool,
}

pub(crate) fn read_metadata(body: &Value) -> Result<Metadata, Reply> {
    let empty = Map::new();
    let snippet = body
        .get("snippet")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let status = body
        .get("status")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let text = |m: &Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let title = text(snippet, "title");
    if title.trim().is_empty()
        || title.chars().count() > 100
        || title.contains('<')
        || title.contains('>')
    {
        return Err(invalid(
            "invalidTitle",
            "The request metadata specifies an invalid or empty video title.",
        ));
    }
    let description = text(snippet, "description");
    if description.len() > 5000 || description.contains('<') || description.contains('>') {
        return Err(invalid(
            "invalidDescription",
            "The request metadata specifies an invalid video description.",
        ));
    }
    let tags: Vec<String> = match snippet.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                invalid(
                    "invalidTags",
                    "The request metadata specifies invalid video keywords.",
                )
            })?,
        Some(_) => {
            return Err(invalid(
                "invalidTags",
                "The request metadata specifies invalid video keywords.",
            ))
        }
    };
    if tags_length(&tags) > 500 || tags.iter().any(|t| t.contains('<') || t.contains('>')) {
        return Err(invalid(
            "invalidTags",
            "The request metadata specifies invalid video keywords.",
        ));
    }
    let category_id = match snippet.get("categoryId") {
        None | Some(Value::Null) => "22".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if !CATEGORIES.contains(&category_id.as_str()) {
        return Err(invalid(
            "invalidCategoryId",
            "The snippet.categoryId property specifies an invalid category ID. Use the videoCategories.list method to retrieve supported categories.",
        ));
    }
    let privacy = match status.get("privacyStatus").and_then(Value::as_str) {
        None => "public".to_string(),
        Some(p @ ("public" | "unlisted" | "private")) => p.to_string(),
        Some(_) => {
            return Err(invalid(
                "invalidVideoMetadata",
                "The request metadata is invalid.",
            ))
        }
    };
    let publish_at = match status.get("publishAt") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let at = DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| {
                    invalid(
                        "invalidPublishAt",
                        "The request metadata specifies an invalid scheduled publishing time.",
                    )
                })?;
            // "can be set only if the privacy status of the video is private". A time in
            // the past is accepted (it publishes at once: a 3P claim, UNCONFIRMED).
            if privacy != "private" {
                return Err(invalid(
                    "invalidPublishAt",
                    "The request metadata specifies an invalid scheduled publishing time.",
                ));
            }
            Some(at)
        }
        Some(_) => {
            return Err(invalid(
                "invalidPublishAt",
                "The request metadata specifies an invalid scheduled publishing time.",
            ))
        }
    };
    let made_for_kids = status
        .get("selfDeclaredMadeForKids")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(Metadata {
        title,
        description,
        tags,
        category_id,
        privacy,
        publish_at,
        made_for_kids,
    })
}

fn videos_insert(
    inner: &mut Inner,
    cfg: &YouTubeConfig,
    base_url: &str,
    token: &AccessToken,
    req: &Req,
) -> Answer {
    if inner.no_channel.contains(&token.channel_id) {
        return Err(google_error(
            403,
            "youtubeSignupRequired",
            "The user has an unlinked Google Account: create a YouTube channel first.",
        ));
    }
    match req.param("uploadType").as_deref() {
        Some("resumable") => {}
        Some(other) => {
            // The fake serves only the resumable protocol (what Outpost uses).
            return Err(invalid(
                "badRequest",
                &format!("uploadType={other} is not served by this fake; use uploadType=resumable"),
            ));
        }
        None => {
            return Err(invalid(
                "badRequest",
                "Media upload requests must use the upload URL with uploadType.",
            ))
        }
    }
    let parts = parts_of(req)?;
    let total = match req
        .header("x-upload-content-length")
        .map(|v| v.trim().parse::<u64>())
    {
        Some(Ok(n)) if n > 0 => n,
        _ => {
            return Err(invalid(
                "badRequest",
                "The X-Upload-Content-Length header is required and must be the size of the media in bytes.",
            ))
        }
    };
    if total > 256 * 1_000_000_000 {
        return Err(invalid(
            "badContent",
            "The media exceeds the maximum size of 256 GB.",
        ));
    }
    let mime = req
        .header("x-upload-content-type")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !(mime.starts_with("video/") || mime == "application/octet-stream") {
        return Err(invalid(
            "badContent",
            &format!(
                "Media type '{mime}' is not supported. Valid media types: [video/*, application/octet-stream]"
            ),
        ));
    }
    let now = inner.now();
    if let Some(limit) = inner.upload_limits.get(&token.channel_id).copied() {
        let day_ago = now - chrono::Duration::hours(24);
        let recent = inner
            .videos
            .values()
            .filter(|v| v.info.channel_id == token.channel_id && v.info.created_at > day_ago)
            .count();
        if recent >= limit as usize {
            return Err(invalid(
                "uploadLimitExceeded",
                "The user has exceeded the number of videos they may upload.",
            ));
        }
    }
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        let ct = req.header("content-type").unwrap_or_default();
        if !ct.to_ascii_lowercase().starts_with("application/json") {
            return Err(invalid(
                "badContent",
                &format!("Unsupported content with type: {ct}"),
            ));
        }
        serde_json::from_slice(&req.body).map_err(|_| invalid("parseError", "Parse Error"))?
    };
    read_metadata(&body)?;
    let upload_id = format!("AEnB2U{}", random_string(ALNUM, 66));
    let notify = req.param("notifySubscribers").is_none_or(|v| v != "false");
    let info = super::YtSession {
        upload_id: upload_id.clone(),
        channel_id: token.channel_id.clone(),
        total,
        mime,
        committed: 0,
        received_total: 0,
        chunks: Vec::new(),
        state: "open".into(),
        gone_status: None,
        video_id: None,
        metadata: json!({"part": parts.join(","), "body": body}),
        created_at: now,
    };
    let kept = (total <= cfg.keep_bytes_limit).then(Vec::new);
    inner.sessions.insert(
        upload_id.clone(),
        super::SessionEntry {
            info,
            acc: Some(super::Accumulator {
                checksum: super::Checksum::new(),
                pending: Vec::new(),
                committed: 0,
                kept,
            }),
            notify_subscribers: notify,
        },
    );
    inner.session_order.push(upload_id.clone());
    let location = format!(
        "{base_url}/upload/youtube/v3/videos?uploadType=resumable&part={}&upload_id={upload_id}",
        parts.join(",")
    );
    Ok(Reply::empty(200)
        .header("location", location)
        .header("x-guploader-uploadid", upload_id))
}

// ---- videos ----------------------------------------------------------------------------------

/// A new video id: 11 characters of `[A-Za-z0-9_-]`.
pub(crate) fn new_video_id() -> String {
    random_string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        11,
    )
}

/// Moves a video along its processing plan after `polls` looks.
pub(crate) fn advance_processing(v: &mut VideoEntry, unverified: bool, now: DateTime<Utc>) {
    if v.info.upload_status == "uploaded" {
        let polls = v.info.polls;
        match &v.plan {
            Processing::AfterPolls { polls: n } if polls >= *n => {
                v.info.upload_status = "processed".into()
            }
            Processing::Fail {
                after_polls,
                reason,
            } if polls >= *after_polls => {
                v.info.upload_status = "failed".into();
                v.info.failure_reason = Some(reason.clone());
            }
            Processing::Reject {
                after_polls,
                reason,
            } if polls >= *after_polls => {
                v.info.upload_status = "rejected".into();
                v.info.rejection_reason = Some(reason.clone());
            }
            _ => {}
        }
    }
    // Scheduled: public once `publishAt` has passed and the video is processed — unless the
    // project is unverified (uploads stay private; inference from the docs).
    if let Some(at) = v
        .info
        .publish_at
        .as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    {
        if at.with_timezone(&Utc) <= now && v.info.upload_status == "processed" && !unverified {
            v.info.privacy_status = "public".into();
            v.info.publish_at = None;
        }
    }
}

pub(crate) fn video_json(v: &YtVideo, parts: &[String], channel_title: &str) -> Value {
    let mut out = json!({"kind": "youtube#video", "etag": etag(), "id": v.id});
    for p in parts {
        match p.as_str() {
            "snippet" => {
                let mut s = json!({
                    "publishedAt": rfc3339(v.created_at), "channelId": v.channel_id,
                    "title": v.title, "description": v.description,
                    "thumbnails": {"default": {"url": format!("https://i.ytimg.com/vi/{}/default.jpg", v.id), "width": 120, "height": 90}},
                    "channelTitle": channel_title, "categoryId": v.category_id,
                    "liveBroadcastContent": "none",
                    "localized": {"title": v.title, "description": v.description},
                });
                if !v.tags.is_empty() {
                    s["tags"] = json!(v.tags);
                }
                out["snippet"] = s;
            }
            "status" => {
                let mut s = json!({
                    "uploadStatus": v.upload_status, "privacyStatus": v.privacy_status,
                    "license": "youtube", "embeddable": true, "publicStatsViewable": true,
                    "madeForKids": v.made_for_kids, "selfDeclaredMadeForKids": v.made_for_kids,
                });
                if let Some(at) = &v.publish_at {
                    s["publishAt"] = json!(at);
                }
                if let Some(r) = &v.failure_reason {
                    s["failureReason"] = json!(r);
                }
                if let Some(r) = &v.rejection_reason {
                    s["rejectionReason"] = json!(r);
                }
                out["status"] = s;
            }
            "processingDetails" => {
                let (status, done) = match v.upload_status.as_str() {
                    "processed" => ("succeeded", 100),
                    "failed" => ("failed", 0),
                    "rejected" | "deleted" => ("terminated", 0),
                    _ => ("processing", (v.polls * 30).min(90)),
                };
                let mut d = json!({"processingStatus": status});
                if status == "processing" {
                    d["processingProgress"] = json!({
                        "partsTotal": 100, "partsProcessed": done,
                        "timeLeftMs": u64::from(100 - done) * 100,
                    });
                }
                if status == "failed" {
                    d["processingFailureReason"] = json!("transcodeFailed");
                }
                out["processingDetails"] = d;
            }
            _ => {}
        }
    }
    out
}

fn channel_title(inner: &Inner, channel_id: &str) -> String {
    inner
        .channel(channel_id)
        .map(|c| c.title.clone())
        .unwrap_or_default()
}

fn videos_list(inner: &mut Inner, token: &AccessToken, req: &Req) -> Answer {
    let parts = parts_of(req)?;
    let Some(ids) = req.param("id") else {
        return Err(invalid(
            "missingRequiredParameter",
            "No filter selected. Expected one of: myRating, id, chart",
        ));
    };
    let now = inner.now();
    let unverified = inner.unverified_project;
    let title = channel_title(inner, &token.channel_id);
    let mut items = Vec::new();
    for id in ids.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some(v) = inner.videos.get_mut(id) else {
            continue;
        };
        if v.info.upload_status == "deleted"
            || (v.info.channel_id != token.channel_id && v.info.privacy_status != "public")
        {
            continue;
        }
        if v.info.channel_id == token.channel_id {
            v.info.polls += 1;
        }
        advance_processing(v, unverified, now);
        items.push(video_json(&v.info, &parts, &title));
    }
    Ok(Reply::json(
        200,
        json!({
            "kind": "youtube#videoListResponse", "etag": etag(), "items": items,
            "pageInfo": {"totalResults": items.len(), "resultsPerPage": items.len()},
        }),
    ))
}

fn videos_update(inner: &mut Inner, token: &AccessToken, req: &Req) -> Answer {
    let parts = parts_of(req)?;
    let body: Value =
        serde_json::from_slice(&req.body).map_err(|_| invalid("parseError", "Parse Error"))?;
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let unverified = inner.unverified_project;
    let title = channel_title(inner, &token.channel_id);
    let Some(v) = inner
        .videos
        .get_mut(&id)
        .filter(|v| v.info.channel_id == token.channel_id && v.info.upload_status != "deleted")
    else {
        return Err(google_error(
            404,
            "videoNotFound",
            "The video that you are trying to update cannot be found.",
        ));
    };
    if parts.iter().any(|p| p == "status") {
        // "It will override the existing values for all of the mutable properties".
        let probe = json!({"snippet": {"title": v.info.title, "categoryId": v.info.category_id},
                           "status": body.get("status").cloned().unwrap_or(json!({}))});
        let m = read_metadata(&probe)?;
        v.info.privacy_status = if unverified {
            "private".into()
        } else {
            m.privacy
        };
        v.info.publish_at = m
            .publish_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        v.info.made_for_kids = m.made_for_kids;
    }
    Ok(Reply::json(200, video_json(&v.info, &parts, &title)))
}

// ---- thumbnails ------------------------------------------------------------------------------

fn thumbnails_set(inner: &mut Inner, base_url: &str, token: &AccessToken, req: &Req) -> Answer {
    let video_id = req.param("videoId").unwrap_or_default();
    let verified = inner.channel(&token.channel_id).is_some_and(|c| c.verified);
    let Some(v) = inner
        .videos
        .get_mut(&video_id)
        .filter(|v| v.info.channel_id == token.channel_id && v.info.upload_status != "deleted")
    else {
        return Err(google_error(
            404,
            "videoNotFound",
            "The video that you are trying to update cannot be found. Check the value of the videoId parameter in the request body to ensure that it is correct.",
        ));
    };
    if !verified {
        return Err(google_error(
            403,
            "forbidden",
            "The authenticated user doesn't have permissions to upload and set custom video thumbnails.",
        ));
    }
    if req.body.is_empty() {
        return Err(invalid(
            "mediaBodyRequired",
            "The request does not include the image content.",
        ));
    }
    let ct = req
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(ct.starts_with("image/jpeg")
        || ct.starts_with("image/png")
        || ct.starts_with("application/octet-stream"))
        || req.body.len() > THUMBNAIL_MAX_BYTES
    {
        return Err(invalid(
            "invalidImage",
            "The provided image content is invalid.",
        ));
    }
    v.info.thumbnail = Some((req.body.len(), ct));
    let url = |size: &str| format!("{base_url}/vi/{video_id}/{size}.jpg");
    Ok(Reply::json(
        200,
        json!({"kind": "youtube#thumbnailSetResponse", "etag": etag(), "items": [{
            "default": {"url": url("default"), "width": 120, "height": 90},
            "medium": {"url": url("mqdefault"), "width": 320, "height": 180},
            "high": {"url": url("hqdefault"), "width": 480, "height": 360},
        }]}),
    ))
}

// ---- playlistItems ---------------------------------------------------------------------------

fn playlist_items(inner: &mut Inner, token: &AccessToken, req: &Req) -> Answer {
    let parts = parts_of(req)?;
    let Some(playlist) = req.param("playlistId") else {
        return Err(invalid(
            "missingRequiredParameter",
            "No filter selected. Expected one of: id, playlistId",
        ));
    };
    let Some(channel) = inner
        .channels
        .iter()
        .find(|c| c.uploads_playlist == playlist)
        .cloned()
    else {
        return Err(google_error(
            404,
            "playlistNotFound",
            "The playlist identified with the request's playlistId parameter cannot be found.",
        ));
    };
    let max = match req.param("maxResults") {
        None => 5,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= 50 => n,
            _ => {
                return Err(invalid(
                    "invalidParameter",
                    "Invalid value for parameter maxResults",
                ))
            }
        },
    };
    let offset = match req.param("pageToken") {
        None => 0,
        Some(t) => t
            .strip_prefix("EAAa")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                invalid(
                    "invalidPageToken",
                    "The request specifies an invalid page token.",
                )
            })?,
    };
    let owner = channel.id == token.channel_id;
    let now = inner.now();
    let unverified = inner.unverified_project;
    let mut videos: Vec<YtVideo> = Vec::new();
    for id in inner.video_order.iter().rev() {
        if let Some(v) = inner.videos.get_mut(id) {
            advance_processing(v, unverified, now);
            if v.info.channel_id == channel.id
                && v.info.upload_status != "deleted"
                && (owner || v.info.privacy_status == "public")
            {
                videos.push(v.info.clone());
            }
        }
    }
    let total = videos.len();
    let items: Vec<Value> = videos
        .iter()
        .enumerate()
        .skip(offset)
        .take(max)
        .map(|(i, v)| {
            let mut item = json!({
                "kind": "youtube#playlistItem", "etag": etag(),
                "id": base64::engine::general_purpose::STANDARD.encode(format!("{playlist}.{}", v.id)),
            });
            for p in &parts {
                match p.as_str() {
                    "snippet" => {
                        item["snippet"] = json!({
                            "publishedAt": rfc3339(v.created_at), "channelId": v.channel_id,
                            "title": v.title, "description": v.description, "thumbnails": {},
                            "channelTitle": channel.title, "playlistId": playlist, "position": i,
                            "resourceId": {"kind": "youtube#video", "videoId": v.id},
                            "videoOwnerChannelTitle": channel.title, "videoOwnerChannelId": channel.id,
                        })
                    }
                    "contentDetails" => {
                        let mut d = json!({"videoId": v.id});
                        if v.privacy_status == "public" {
                            d["videoPublishedAt"] = json!(rfc3339(v.created_at));
                        }
                        item["contentDetails"] = d;
                    }
                    "status" => item["status"] = json!({"privacyStatus": v.privacy_status}),
                    _ => {}
                }
            }
            item
        })
        .collect();
    let mut body = json!({
        "kind": "youtube#playlistItemListResponse", "etag": etag(), "items": items,
        "pageInfo": {"totalResults": total, "resultsPerPage": max},
    });
    if offset + max < total {
        body["nextPageToken"] = json!(format!("EAAa{}", offset + max));
    }
    Ok(Reply::json(200, body))
}

// ---- OAuth -----------------------------------------------------------------------------------

fn form_fields(req: &Req) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&req.body).unwrap_or_default()
}

fn pkce_matches(method: &str, challenge: &str, verifier: &str) -> bool {
    match method {
        "plain" => challenge == verifier,
        _ => {
            let digest = Sha256::digest(verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
        }
    }
}

fn token_reply(tokens: &YtTokens) -> Reply {
    let mut body = json!({
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
        "token_type": "Bearer",
    });
    if let Some(rt) = &tokens.refresh_token {
        body["refresh_token"] = json!(rt);
    }
    Reply::json(200, body).header(
        "cache-control",
        "no-cache, no-store, max-age=0, must-revalidate",
    )
}

fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
    if uri.contains('?') {
        format!("{uri}&{encoded}")
    } else {
        format!("{uri}?{encoded}")
    }
}

/// The consent page. With a consenting channel set it redirects back at once, like a
/// browser whose user is signed in and clicks "Continue".
fn authorize(shared: &Shared, req: &Req) -> Reply {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let page = |status: u16, title: &str, detail: &str| {
        Reply::html(
            status,
            format!("<!doctype html><title>{title}</title><h1>{title}</h1><p>{detail}</p>"),
        )
    };
    let client_id = req.param("client_id").unwrap_or_default();
    if !inner.clients.contains_key(&client_id) {
        return page(
            401,
            "Error 401: invalid_client",
            "The OAuth client was not found.",
        );
    }
    let redirect = req.param("redirect_uri").unwrap_or_default();
    if !is_loopback_redirect(&redirect) {
        return page(
            400,
            "Error 400: redirect_uri_mismatch",
            "Desktop clients use a loopback redirect: http://127.0.0.1:<port> or http://[::1]:<port>.",
        );
    }
    let state = req.param("state").unwrap_or_default();
    let fail = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            params.push(("state", state.as_str()));
        }
        Reply::empty(302).header("location", append_query(&redirect, &params))
    };
    if req.param("response_type").as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "Only response_type=code is supported.",
        );
    }
    let requested: Vec<String> = req
        .param("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if requested.is_empty() {
        return fail("invalid_request", "Missing required parameter: scope");
    }
    let challenge = req.param("code_challenge").unwrap_or_default();
    let method = req
        .param("code_challenge_method")
        .unwrap_or_else(|| "plain".into());
    if !challenge.is_empty()
        && (!(43..=128).contains(&challenge.len())
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            || !matches!(method.as_str(), "S256" | "plain"))
    {
        return fail(
            "invalid_request",
            "Invalid code_challenge or code_challenge_method.",
        );
    }
    let Some(consent) = inner.consent.clone() else {
        return page(
            200,
            "Sign in - Google Accounts",
            "Choose an account to continue to the app.",
        );
    };
    if consent.decline {
        return fail("access_denied", "The user denied the request.");
    }
    let granted: Vec<String> = requested
        .iter()
        .filter(|s| {
            consent
                .grant_scopes
                .as_ref()
                .is_none_or(|g| g.iter().any(|x| x == *s))
        })
        .cloned()
        .collect();
    let grant = super::CodeGrant {
        channel_id: consent.channel_id.clone(),
        client_id,
        redirect_uri: redirect.clone(),
        code_challenge: challenge,
        code_challenge_method: method,
        scopes: granted.clone(),
    };
    match inner.issue_code(grant, cfg.code_ttl) {
        Ok(code) => {
            let scope = granted.join(" ");
            let mut params = vec![("code", code.as_str()), ("scope", scope.as_str())];
            if !state.is_empty() {
                params.push(("state", state.as_str()));
            }
            Reply::empty(302).header("location", append_query(&redirect, &params))
        }
        Err(e) => page(400, "Error 400: invalid_request", &e),
    }
}

/// Who calls the token endpoint: `client_id` (+ optional `client_secret`) in the body, or
/// HTTP Basic. A secret, when sent, must be right (Desktop clients may leave it out —
/// UNCONFIRMED whether Google accepts that; the fake does).
fn client_auth(inner: &Inner, req: &Req, form: &[(String, String)]) -> Result<String, Reply> {
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (id, secret) = match req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
    {
        Some(pair) => match pair.split_once(':') {
            Some((id, secret)) => (Some(id.to_string()), Some(secret.to_string())),
            None => (Some(pair), None),
        },
        None => (field("client_id"), field("client_secret")),
    };
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return Err(oauth_error(
            400,
            "invalid_request",
            "Could not determine client ID from request.",
        ));
    };
    match inner.clients.get(&id) {
        None => Err(oauth_error(
            401,
            "invalid_client",
            "The OAuth client was not found.",
        )),
        Some(expected) => match secret {
            Some(s) if &s != expected => Err(oauth_error(401, "invalid_client", "Unauthorized")),
            _ => Ok(id),
        },
    }
}

fn oauth_token(shared: &Shared, req: &Req) -> Reply {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    if !req
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return oauth_error(400, "invalid_request", "Invalid content type.");
    }
    let form = form_fields(req);
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let client_id = match client_auth(&inner, req, &form) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    match field("grant_type") {
        Some("refresh_token") => {
            let Some(presented) = field("refresh_token") else {
                return oauth_error(
                    400,
                    "invalid_request",
                    "Missing required parameter: refresh_token",
                );
            };
            let dead = || oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
            let Some(entry) = inner.refresh.get(presented).cloned() else {
                return dead();
            };
            if !inner.refresh_alive(cfg, &entry, now) {
                return dead();
            }
            if entry.client_id != client_id {
                return oauth_error(400, "unauthorized_client", "Unauthorized");
            }
            // Google does not rotate: the answer carries no refresh token.
            let tokens =
                inner.issue_tokens(cfg, &entry.channel_id, &client_id, &entry.scopes, false);
            token_reply(&tokens)
        }
        Some("authorization_code") => {
            let (Some(code), Some(redirect)) = (field("code"), field("redirect_uri")) else {
                return oauth_error(400, "invalid_request", "Missing required parameter: code");
            };
            // Single use: the code is spent whatever happens next.
            let Some(entry) = inner.codes.remove(code) else {
                return oauth_error(400, "invalid_grant", "Malformed auth code.");
            };
            let grant = entry.grant;
            if entry.expires_at <= now || grant.client_id != client_id {
                return oauth_error(400, "invalid_grant", "Bad Request");
            }
            if grant.redirect_uri != redirect {
                return oauth_error(400, "redirect_uri_mismatch", "Bad Request");
            }
            if !grant.code_challenge.is_empty() {
                let Some(verifier) = field("code_verifier") else {
                    return oauth_error(400, "invalid_grant", "Missing code verifier.");
                };
                if !pkce_matches(
                    &grant.code_challenge_method,
                    &grant.code_challenge,
                    verifier,
                ) {
                    return oauth_error(400, "invalid_grant", "Invalid code verifier.");
                }
            }
            // "refresh_token: always returned for installed applications".
            let tokens =
                inner.issue_tokens(cfg, &grant.channel_id, &client_id, &grant.scopes, true);
            token_reply(&tokens)
        }
        Some(other) => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
        None => oauth_error(400, "unsupported_grant_type", "Invalid grant_type: "),
    }
}

fn oauth_revoke(shared: &Shared, req: &Req) -> Reply {
    let mut inner = shared.lock();
    let token = req.param("token").or_else(|| {
        form_fields(req)
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    });
    let Some(token) = token else {
        return oauth_error(400, "invalid_request", "Missing required parameter: token");
    };
    let removed_access = inner.access.remove(&token).is_some();
    let removed_refresh = match inner.refresh.remove(&token) {
        Some(rt) => {
            // Revoking a refresh token ends the grant: its access tokens die too.
            let channel = rt.channel_id.clone();
            let client = rt.client_id.clone();
            inner
                .access
                .retain(|_, a| !(a.channel_id == channel && a.client_id == client));
            true
        }
        None => false,
    };
    if removed_access || removed_refresh {
        Reply::json(200, json!({}))
    } else {
        oauth_error(400, "invalid_token", "Token expired or revoked")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_count_commas_and_quotes() {
        let tags = vec!["a".to_string(), "b c".to_string()];
        assert_eq!(tags_length(&tags), 1 + 1 + 3 + 2);
        assert_eq!(tags_length(&[]), 0);
    }

    #[test]
    fn publish_at_needs_private() {
        let ok = json!({"snippet": {"title": "t"}, "status": {"privacyStatus": "private", "publishAt": "2030-01-01T00:00:00Z"}});
        assert!(read_metadata(&ok).is_ok());
        let bad = json!({"snippet": {"title": "t"}, "status": {"privacyStatus": "public", "publishAt": "2030-01-01T00:00:00Z"}});
        let e = read_metadata(&bad).err().map(|r| r.status);
        assert_eq!(e, Some(400));
        let lt = json!({"snippet": {"title": "a < b"}});
        assert!(read_metadata(&lt).is_err());
    }
}
