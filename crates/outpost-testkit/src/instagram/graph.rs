//! The authenticated Graph routes: who am I, Pages, containers, their status, publishing, the
//! publishing limit, listing and reading media, comments. Every answer for a known account
//! carries `X-Business-Use-Case-Usage`.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{
    container_json, json_response, media_json, random_token, set_header, FakeAccount, Fetched,
    Inner, Login, MediaKind, Processing, PublishedMedia, Req, Shared, StoredComment,
    StoredContainer, TokenKind, TokenRec, GRAPH_VERSION, IMAGE_MAX_BYTES, UPLOAD_PREFIX,
};

/// The Graph error envelope.
pub(crate) fn envelope(
    code: i64,
    subcode: Option<i64>,
    kind: &str,
    message: &str,
    is_transient: bool,
) -> Value {
    let mut e = json!({
        "message": message,
        "type": kind,
        "code": code,
        "is_transient": is_transient,
        "fbtrace_id": format!("A{}", random_token(22)),
    });
    if let Some(s) = subcode {
        e["error_subcode"] = json!(s);
        // Instagram's own errors carry a title and a message for the user; token errors
        // (190/463…) do not.
        if (2_207_000..2_208_000).contains(&s) {
            e["error_user_title"] = json!(title_for(s));
            e["error_user_msg"] = json!(message);
        }
    }
    json!({ "error": e })
}

/// A Graph error answer (type `OAuthException`, as Graph labels most errors).
pub(crate) fn error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response<Body> {
    json_response(
        status,
        &envelope(code, subcode, "OAuthException", message, false),
    )
}

fn error_transient(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response<Body> {
    json_response(
        status,
        &envelope(code, subcode, "OAuthException", message, true),
    )
}

/// The documented text of an Instagram error.
pub(crate) fn message_for(code: i64, subcode: Option<i64>) -> &'static str {
    match (code, subcode) {
        (_, Some(2207001)) => "Instagram server error. Please try again later.",
        (_, Some(2207003)) => "It takes too long to download the media.",
        (_, Some(2207004)) => "The image is too large to download. It should be less than 8 MiB.",
        (_, Some(2207005)) => "The image format is not supported. Only JPEG is supported.",
        (_, Some(2207006)) => "The media with this ID could not be found. It may have been deleted, or the access token may not have permission.",
        (_, Some(2207008)) => "The media builder has expired temporarily. Please try again.",
        (_, Some(2207009)) => "The aspect ratio is not supported.",
        (_, Some(2207010)) => "The caption is too long.",
        (_, Some(2207020)) => "The media you are trying to access has expired. Please try to upload again.",
        (_, Some(2207023)) => "The media type is unknown.",
        (_, Some(2207026)) => "The video format is not supported.",
        (_, Some(2207027)) => "The media is not ready for publishing, please wait for a moment.",
        (_, Some(2207028)) => "Your post won't be shared as a carousel. Carousels need at least 2 photos or videos and no more than 10 photos or videos.",
        (_, Some(2207032)) => "Create media failed, please try to re-create media.",
        (_, Some(2207040)) => "Cannot use more than 20 tags per created media.",
        (_, Some(2207042)) => "You reached maximum number of posts that is allowed to be published by Content Publishing API.",
        (_, Some(2207050)) => "The Instagram account is restricted. The user needs to log in to the Instagram app to resolve it.",
        (_, Some(2207051)) => "We restrict certain activity to protect our community. Tell us if you think we made a mistake.",
        (_, Some(2207052)) => "The media could not be fetched from this URI.",
        (_, Some(2207053)) => "Unknown upload error. Please try again with a new container.",
        (_, Some(2207057)) => "The thumbnail offset is out of range.",
        (190, _) => "Invalid OAuth access token - Cannot parse access token",
        (80002, _) => "There have been too many calls to this Instagram account. Wait a bit and try again.",
        (4, _) => "Application request limit reached",
        (2, _) => "Service temporarily unavailable",
        (1, _) => "An unknown error occurred",
        (-1, _) => "Unexpected error",
        _ => "Invalid parameter",
    }
}

fn title_for(subcode: i64) -> &'static str {
    match subcode {
        2207042 => "Publishing limit reached",
        2207051 => "Action blocked",
        2207052 => "Media download failed",
        2207027 => "Media not ready",
        2207028 => "Carousel item count",
        2207020 => "Media expired",
        2207005 | 2207004 => "Unsupported image",
        _ => "Error",
    }
}

fn ig_error(code: i64, subcode: i64) -> Response<Body> {
    error(400, code, Some(subcode), message_for(code, Some(subcode)))
}

fn unsupported(method: &str, id: &str) -> Response<Body> {
    error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
            method.to_ascii_lowercase()
        ),
    )
}

fn invalid(message: &str) -> Response<Body> {
    error(400, 100, None, &format!("(#100) {message}"))
}

fn fields(params: &HashMap<String, String>) -> Vec<String> {
    let raw = params.get("fields").cloned().unwrap_or_default();
    // Nested selections (`instagram_business_account{id,username}`) count as their name.
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in raw.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut current).trim().to_string());
            }
            _ if depth == 0 => current.push(c),
            _ => {}
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out.retain(|f| !f.is_empty());
    out
}

/// The token of a request: `Authorization: Bearer|OAuth <token>` or `access_token`.
pub(crate) fn token_of(req: &Req, params: &HashMap<String, String>) -> Option<String> {
    if let Some(h) = req.header("authorization") {
        let h = h.trim();
        for scheme in ["Bearer ", "OAuth "] {
            if h.len() > scheme.len() && h[..scheme.len()].eq_ignore_ascii_case(scheme) {
                return Some(h[scheme.len()..].trim().to_string());
            }
        }
    }
    params
        .get("access_token")
        .cloned()
        .filter(|t| !t.is_empty())
}

pub(crate) struct Caller {
    pub rec: TokenRec,
    pub account: FakeAccount,
}

/// Checks a token: unknown or revoked → 190; expired → 190/463.
pub(crate) fn check_token(
    inner: &Inner,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Caller, Box<Response<Body>>> {
    let Some(token) = token else {
        return Err(Box::new(error(
            400,
            104,
            None,
            "An access token is required to request this resource.",
        )));
    };
    let Some(rec) = inner.tokens.get(token).filter(|t| !t.revoked) else {
        return Err(Box::new(error(400, 190, None, message_for(190, None))));
    };
    if rec.expires_at <= now {
        return Err(Box::new(error(
            400,
            190,
            Some(463),
            &format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                rec.expires_at.format("%A, %d-%b-%y %H:%M:%S UTC"),
                now.format("%A, %d-%b-%y %H:%M:%S UTC")
            ),
        )));
    }
    let Some(account) = inner.account(&rec.account).cloned() else {
        return Err(Box::new(error(400, 190, None, message_for(190, None))));
    };
    Ok(Caller {
        rec: rec.clone(),
        account,
    })
}

fn buc_header(inner: &mut Inner, owner: &str, calls_per_day: u32, now: DateTime<Utc>) -> String {
    let window = now - chrono::Duration::hours(24);
    let calls = inner.calls.entry(owner.to_string()).or_default();
    calls.push_back(now);
    while calls.front().is_some_and(|t| *t <= window) {
        calls.pop_front();
    }
    let percent = (calls.len() as u64 * 100 / u64::from(calls_per_day.max(1))).min(100);
    let regain = inner
        .throttled_until
        .get(owner)
        .filter(|until| **until > now)
        .map(|until| ((*until - now).num_seconds() + 59) / 60)
        .unwrap_or(0);
    let percent = if regain > 0 { 100 } else { percent };
    json!({
        owner: [{
            "type": "instagram",
            "call_count": percent,
            "total_cputime": percent / 2,
            "total_time": percent / 2,
            "estimated_time_to_regain_access": regain,
        }]
    })
    .to_string()
}

fn has_scope(caller: &Caller, ig: &str, fb: &str) -> bool {
    let want = match caller.rec.kind.login() {
        Login::Instagram => ig,
        Login::Facebook => fb,
    };
    caller.rec.scopes.iter().any(|s| s == want)
}

/// The Instagram account a path's id names for this caller (`me` for Instagram Login).
fn own_user(caller: &Caller, id: &str) -> bool {
    id == caller.account.ig_user_id || (id == "me" && caller.rec.kind.login() == Login::Instagram)
}

pub(crate) fn route(
    shared: &Shared,
    req: &Req,
    params: &HashMap<String, String>,
    segments: &[&str],
    fetched: HashMap<String, Fetched>,
) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    let token = token_of(req, params);
    let caller = match check_token(&inner, token.as_deref(), now) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let owner = caller.account.ig_user_id.clone();
    let usage = buc_header(&mut inner, &owner, cfg.calls_per_day, now);
    let throttled = inner
        .throttled_until
        .get(&owner)
        .is_some_and(|until| *until > now);
    let mut response = if throttled {
        error_transient(400, 80002, None, message_for(80002, None))
    } else {
        let method = req.method.as_str();
        match (method, segments) {
            ("GET", ["me"]) => me(&caller, params),
            ("GET", ["me", "accounts"]) => pages(&mut inner, cfg, &caller, params),
            ("GET", [id]) => read_object(&mut inner, &caller, id, params, now),
            ("POST", [id, "media"]) if own_user(&caller, id) => {
                create_container(&mut inner, shared, &caller, params, fetched, now)
            }
            ("GET", [id, "media"]) if own_user(&caller, id) => {
                list_media(&inner, &caller, params, &shared.base_url, req)
            }
            ("POST", [id, "media_publish"]) if own_user(&caller, id) => {
                publish(&mut inner, &caller, params, now)
            }
            ("GET", [id, "content_publishing_limit"]) if own_user(&caller, id) => {
                publishing_limit(&inner, &caller, params, now)
            }
            ("POST", [id, "comments"]) => comment(&mut inner, &caller, id, params, now),
            (_, [id, ..]) => unsupported(method, id),
            _ => unsupported(method, "/"),
        }
    };
    set_header(&mut response, "x-business-use-case-usage", &usage);
    set_header(&mut response, "x-fb-rev", "1018000000");
    response
}

fn me(caller: &Caller, params: &HashMap<String, String>) -> Response<Body> {
    let a = &caller.account;
    let wanted = fields(params);
    let want = |f: &str| wanted.iter().any(|w| w == f);
    let body = match caller.rec.kind {
        TokenKind::InstagramShort | TokenKind::InstagramLong => {
            let mut v = json!({ "id": a.app_scoped_id });
            if want("user_id") {
                v["user_id"] = json!(a.ig_user_id);
            }
            if want("username") {
                v["username"] = json!(a.username);
            }
            if want("name") {
                v["name"] = json!(a.name);
            }
            if want("account_type") {
                v["account_type"] = json!("BUSINESS");
            }
            if want("profile_picture_url") {
                v["profile_picture_url"] = json!(format!(
                    "https://scontent.cdninstagram.com/{}.jpg",
                    a.username
                ));
            }
            v
        }
        TokenKind::FacebookPage => {
            let mut v = json!({
                "id": a.page_id,
                "name": a.page_name,
            });
            if want("instagram_business_account") {
                v["instagram_business_account"] =
                    json!({ "id": a.ig_user_id, "username": a.username, "name": a.name });
            }
            v
        }
        _ => json!({ "id": a.fb_user_id, "name": format!("{} (person)", a.username) }),
    };
    json_response(200, &body)
}

fn pages(
    inner: &mut Inner,
    cfg: &super::InstagramConfig,
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Response<Body> {
    if !matches!(
        caller.rec.kind,
        TokenKind::FacebookShort | TokenKind::FacebookLong
    ) {
        return error(
            400,
            100,
            None,
            "(#100) Tried accessing nonexisting field (accounts) on node type (User)",
        );
    }
    let a = caller.account.clone();
    let wanted = fields(params);
    let mut page = json!({
        "id": a.page_id,
        "name": a.page_name,
        "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
    });
    if wanted.iter().any(|f| f == "instagram_business_account") {
        page["instagram_business_account"] =
            json!({ "id": a.ig_user_id, "username": a.username, "name": a.name });
    }
    if wanted.iter().any(|f| f == "access_token") {
        let scopes = caller.rec.scopes.clone();
        let issued = inner.issue(cfg, &a.ig_user_id, TokenKind::FacebookPage, &scopes);
        page["access_token"] = json!(issued.access_token);
    }
    json_response(
        200,
        &json!({
            "data": [page],
            "paging": { "cursors": { "before": "QVFIUm", "after": "QVFIUm" } },
        }),
    )
}

/// Where a container's state machine stands now; counts a poll when `count`.
pub(crate) fn advance(c: &mut StoredContainer, now: DateTime<Utc>, count: bool) -> String {
    let state = if c.published_media_id.is_some() {
        "PUBLISHED"
    } else if c.status_code == "ERROR" || c.error_status.is_some() {
        "ERROR"
    } else if c.status_code == "EXPIRED" || now > c.created_at + chrono::Duration::hours(24) {
        "EXPIRED"
    } else if c.resumable && c.uploaded_via.is_none() {
        "IN_PROGRESS"
    } else {
        match c.processing.clone() {
            Processing::FinishAfter { polls } => {
                if c.polls >= polls {
                    "FINISHED"
                } else {
                    if count {
                        c.polls += 1;
                    }
                    "IN_PROGRESS"
                }
            }
            Processing::ErrorAfter { polls, status } => {
                if c.polls >= polls {
                    c.error_status = Some(status);
                    "ERROR"
                } else {
                    if count {
                        c.polls += 1;
                    }
                    "IN_PROGRESS"
                }
            }
            Processing::Never => "IN_PROGRESS",
        }
    };
    if count || state != "IN_PROGRESS" {
        c.status_code = state.to_string();
    }
    state.to_string()
}

fn read_object(
    inner: &mut Inner,
    caller: &Caller,
    id: &str,
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Response<Body> {
    let wanted = fields(params);
    let owner = caller.account.ig_user_id.clone();
    if let Some(c) = inner.containers.iter_mut().find(|c| c.id == id) {
        if c.owner != owner {
            return unsupported("GET", id);
        }
        advance(c, now, true);
        return json_response(200, &container_json(c, &wanted));
    }
    if let Some(m) = inner.media.iter().find(|m| m.id == id) {
        if m.owner != owner {
            return unsupported("GET", id);
        }
        return json_response(200, &media_json(m, &caller.account.username, &wanted));
    }
    let a = &caller.account;
    if id == a.ig_user_id {
        let mut v = json!({ "id": a.ig_user_id });
        for f in &wanted {
            match f.as_str() {
                "username" => v["username"] = json!(a.username),
                "name" => v["name"] = json!(a.name),
                "user_id" => v["user_id"] = json!(a.ig_user_id),
                "media_count" => {
                    v["media_count"] =
                        json!(inner.media.iter().filter(|m| m.owner == owner).count())
                }
                _ => {}
            }
        }
        return json_response(200, &v);
    }
    if a.page_id.as_deref() == Some(id) {
        let mut v = json!({ "id": id, "name": a.page_name });
        if wanted.iter().any(|f| f == "instagram_business_account") {
            v["instagram_business_account"] =
                json!({ "id": a.ig_user_id, "username": a.username, "name": a.name });
        }
        return json_response(200, &v);
    }
    unsupported("GET", id)
}

fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn looks_like_video(head: &[u8]) -> bool {
    head.get(4..8).is_some_and(|t| t == b"ftyp")
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|s| s.eq_ignore_ascii_case("true") || s == "1")
}

fn create_container(
    inner: &mut Inner,
    shared: &Shared,
    caller: &Caller,
    params: &HashMap<String, String>,
    fetched: HashMap<String, Fetched>,
    now: DateTime<Utc>,
) -> Response<Body> {
    let cfg = &shared.cfg;
    if !has_scope(
        caller,
        "instagram_business_content_publish",
        "instagram_content_publish",
    ) {
        return error(
            403,
            10,
            None,
            "(#10) Application does not have permission for this action",
        );
    }
    let owner = caller.account.ig_user_id.clone();
    let text = |k: &str| {
        params
            .get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let media_type = text("media_type").map(|t| t.to_ascii_uppercase());
    let is_item = truthy(params.get("is_carousel_item"));
    let resumable = text("upload_type").is_some_and(|t| t.eq_ignore_ascii_case("resumable"));
    let image_url = text("image_url");
    let video_url = text("video_url");
    let caption = params.get("caption").cloned().filter(|c| !c.is_empty());
    let alt_text = params.get("alt_text").cloned().filter(|c| !c.is_empty());
    let location_id = text("location_id");
    let collaborators: Vec<String> = match text("collaborators") {
        None => Vec::new(),
        Some(raw) => match serde_json::from_str::<Vec<String>>(&raw) {
            Ok(list) => list,
            Err(_) => raw.split(',').map(|s| s.trim().to_string()).collect(),
        },
    };
    let children: Vec<String> = text("children")
        .map(|raw| {
            match serde_json::from_str::<Vec<String>>(&raw) {
                Ok(list) => list,
                Err(_) => raw.split(',').map(|s| s.trim().to_string()).collect(),
            }
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect()
        })
        .unwrap_or_default();

    // The count of containers in the last 24 h (UNCONFIRMED error shape).
    let recent = inner
        .containers
        .iter()
        .filter(|c| c.owner == owner && c.created_at > now - chrono::Duration::hours(24))
        .count() as u32;
    if recent >= cfg.container_cap {
        return error(
            400,
            4,
            None,
            &format!(
                "(#4) Application request limit reached: at most {} containers can be created per 24 hours",
                cfg.container_cap
            ),
        );
    }

    let stored_type = match media_type.as_deref() {
        None | Some("IMAGE") => {
            if video_url.is_some() || resumable {
                return error(
                    400,
                    100,
                    Some(2207023),
                    "The media type VIDEO is no longer supported for single feed videos: use media_type=REELS.",
                );
            }
            if image_url.is_none() {
                return invalid("The parameter image_url is required.");
            }
            "IMAGE"
        }
        Some("REELS") => {
            if is_item {
                return error(
                    400,
                    100,
                    Some(2207023),
                    "Reels cannot be carousel items: use media_type=VIDEO.",
                );
            }
            if video_url.is_none() && !resumable {
                return invalid("The parameter video_url is required.");
            }
            "REELS"
        }
        Some("VIDEO") => {
            if !is_item {
                return error(
                    400,
                    100,
                    Some(2207023),
                    "The media type VIDEO is only supported for carousel items: use media_type=REELS.",
                );
            }
            if video_url.is_none() && !resumable {
                return invalid("The parameter video_url is required.");
            }
            "VIDEO"
        }
        Some("CAROUSEL") => {
            if !(2..=10).contains(&children.len()) {
                return ig_error(100, 2207028);
            }
            "CAROUSEL"
        }
        Some("STORIES") => {
            if image_url.is_none() && video_url.is_none() && !resumable {
                return invalid("The parameter image_url or video_url is required.");
            }
            "STORIES"
        }
        Some(_) => return ig_error(100, 2207023),
    };
    if is_item && stored_type == "IMAGE" && image_url.is_none() {
        return invalid("The parameter image_url is required.");
    }
    if resumable {
        if caller.rec.kind.login() != Login::Facebook {
            return invalid(
                "upload_type=resumable is only available to apps that have implemented Facebook Login for Business.",
            );
        }
        if !matches!(stored_type, "REELS" | "STORIES" | "VIDEO") {
            return invalid(
                "upload_type=resumable is only supported for REELS, STORIES and carousel VIDEO items.",
            );
        }
    }
    if is_item && (caption.is_some() || location_id.is_some() || !collaborators.is_empty()) {
        return invalid(
            "caption, location_id and collaborators are not supported on carousel items.",
        );
    }
    if let Some(c) = &caption {
        if c.chars().count() > 2200 {
            return ig_error(36004, 2207010);
        }
        if c.split_whitespace().filter(|w| w.starts_with('#')).count() > 30 {
            return invalid("A caption can have at most 30 hashtags.");
        }
        if c.split_whitespace().filter(|w| w.starts_with('@')).count() > 20 {
            return ig_error(100, 2207040);
        }
    }
    if let Some(a) = &alt_text {
        if stored_type != "IMAGE" {
            return invalid("alt_text is only supported for images.");
        }
        if a.chars().count() > 1000 {
            return invalid("alt_text can be at most 1000 characters.");
        }
    }
    if collaborators.len() > 3 {
        return invalid("At most 3 collaborators can be invited.");
    }
    for url in image_url.iter().chain(video_url.iter()) {
        if !url.is_ascii() {
            return ig_error(9004, 2207052);
        }
    }
    let mut fetched_bytes = None;
    let mut head = Vec::new();
    if let Some(f) = fetched.get("image_url") {
        match f {
            Fetched::Unreachable => return ig_error(9004, 2207052),
            Fetched::Bytes(b) => {
                if b.len() as u64 > IMAGE_MAX_BYTES {
                    return ig_error(36000, 2207004);
                }
                if !is_jpeg(b) {
                    return ig_error(36001, 2207005);
                }
                fetched_bytes = Some(b.len() as u64);
            }
            Fetched::Trusted => {}
        }
    }
    if let Some(f) = fetched.get("video_url") {
        match f {
            Fetched::Unreachable => return ig_error(9004, 2207052),
            Fetched::Bytes(b) => {
                fetched_bytes = Some(b.len() as u64);
                head = b.iter().take(16).copied().collect();
            }
            Fetched::Trusted => head = b"\0\0\0\x18ftypmp42".to_vec(),
        }
    }
    let thumb_offset = match text("thumb_offset") {
        None => None,
        Some(t) => match t.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => return invalid("thumb_offset must be a whole number of milliseconds."),
        },
    };
    if stored_type == "CAROUSEL" {
        for child in &children {
            let Some(c) = inner.containers.iter_mut().find(|c| c.id == *child) else {
                return error(
                    400,
                    100,
                    None,
                    &format!("(#100) The carousel item {child} does not exist."),
                );
            };
            if c.owner != owner || !c.is_carousel_item {
                return invalid(&format!("{child} is not a carousel item of this account."));
            }
            match advance(c, now, false).as_str() {
                "FINISHED" => {}
                "EXPIRED" => return ig_error(-2, 2207020),
                _ => return ig_error(9007, 2207027),
            }
        }
    }
    let kind_probe = StoredContainer {
        id: String::new(),
        owner: owner.clone(),
        media_type: stored_type.to_string(),
        is_carousel_item: is_item,
        image_url: image_url.clone(),
        video_url: video_url.clone(),
        caption: caption.clone(),
        alt_text: alt_text.clone(),
        share_to_feed: params
            .get("share_to_feed")
            .map(|v| v.eq_ignore_ascii_case("true")),
        thumb_offset,
        location_id,
        collaborators,
        children,
        resumable,
        file_size: None,
        received: 0,
        uploaded_via: None,
        upload_requests: 0,
        fetched_bytes,
        status_code: "IN_PROGRESS".into(),
        error_status: None,
        processing: Processing::Never,
        polls: 0,
        created_at: now,
        published_media_id: None,
        head,
    };
    let mut processing = match kind_probe.kind() {
        MediaKind::Image => inner.plan.image.clone(),
        MediaKind::Video => inner.plan.video.clone(),
        MediaKind::Carousel => inner.plan.carousel.clone(),
    };
    if kind_probe.kind() == MediaKind::Video
        && !resumable
        && !kind_probe.head.is_empty()
        && !looks_like_video(&kind_probe.head)
    {
        processing = Processing::error(0, &unsupported_video_status());
    }
    let id = inner.new_id("178", 17);
    let container = StoredContainer {
        id: id.clone(),
        processing,
        ..kind_probe
    };
    inner.containers.push(container);
    let mut body = json!({ "id": id });
    if resumable {
        body["uri"] = json!(format!(
            "{}{UPLOAD_PREFIX}{GRAPH_VERSION}/{id}",
            shared.base_url
        ));
    }
    json_response(200, &body)
}

pub(crate) fn unsupported_video_status() -> String {
    "Error: Media upload has failed with error code 2207026. The video format is not supported."
        .into()
}

pub(crate) fn looks_like_video_head(head: &[u8]) -> bool {
    looks_like_video(head)
}

fn list_media(
    inner: &Inner,
    caller: &Caller,
    params: &HashMap<String, String>,
    base_url: &str,
    req: &Req,
) -> Response<Body> {
    let owner = &caller.account.ig_user_id;
    let wanted = fields(params);
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let bound = |k: &str| {
        params
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0))
    };
    let (since, until) = (bound("since"), bound("until"));
    let mut all: Vec<&PublishedMedia> = inner
        .media
        .iter()
        .filter(|m| m.owner == *owner)
        .filter(|m| since.is_none_or(|s| m.timestamp >= s))
        .filter(|m| until.is_none_or(|u| m.timestamp <= u))
        .collect();
    all.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.id.cmp(&a.id)));
    let start = params
        .get("after")
        .and_then(|c| c.strip_prefix("c"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| media_json(m, &caller.account.username, &wanted))
        .collect();
    let end = start + page.len();
    let mut paging =
        json!({ "cursors": { "before": format!("c{start}"), "after": format!("c{end}") } });
    if end < all.len() {
        let mut next = format!("{base_url}{}?", req.path);
        let mut q: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "after" && k.as_str() != "access_token")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.push(("after".into(), format!("c{end}")));
        next.push_str(&serde_urlencoded::to_string(q).unwrap_or_default());
        paging["next"] = json!(next);
    }
    json_response(200, &json!({ "data": page, "paging": paging }))
}

fn publish(
    inner: &mut Inner,
    caller: &Caller,
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Response<Body> {
    if !has_scope(
        caller,
        "instagram_business_content_publish",
        "instagram_content_publish",
    ) {
        return error(
            403,
            10,
            None,
            "(#10) Application does not have permission for this action",
        );
    }
    let owner = caller.account.ig_user_id.clone();
    let Some(creation_id) = params.get("creation_id").filter(|c| !c.is_empty()).cloned() else {
        return invalid("The parameter creation_id is required.");
    };
    let Some(index) = inner
        .containers
        .iter()
        .position(|c| c.id == creation_id && c.owner == owner)
    else {
        return ig_error(24, 2207006);
    };
    let state = advance(&mut inner.containers[index], now, false);
    match state.as_str() {
        "FINISHED" => {}
        "PUBLISHED" => {
            // UNCONFIRMED: Meta's exact answer for a second publish of one container.
            return error(
                400,
                100,
                None,
                "(#100) This media has already been published.",
            );
        }
        "EXPIRED" => return ig_error(-2, 2207020),
        "ERROR" => return ig_error(-1, 2207032),
        _ => return ig_error(9007, 2207027),
    }
    let c = inner.containers[index].clone();
    if c.is_carousel_item {
        return invalid("A carousel item cannot be published on its own: publish the carousel.");
    }
    let quota_total = inner.quota_total;
    if inner.quota_usage(&owner, now) >= quota_total {
        return ig_error(9, 2207042);
    }
    let (media_type, product) = match c.media_type.as_str() {
        "CAROUSEL" => ("CAROUSEL_ALBUM", "FEED"),
        "REELS" => ("VIDEO", "REELS"),
        "STORIES" if c.video_url.is_some() || c.resumable => ("VIDEO", "STORY"),
        "STORIES" => ("IMAGE", "STORY"),
        _ => ("IMAGE", "FEED"),
    };
    let mut image_urls = Vec::new();
    let mut video_urls = Vec::new();
    let sources: Vec<StoredContainer> = if c.children.is_empty() {
        vec![c.clone()]
    } else {
        c.children
            .iter()
            .filter_map(|id| inner.containers.iter().find(|x| x.id == *id).cloned())
            .collect()
    };
    for s in &sources {
        image_urls.extend(s.image_url.clone());
        video_urls.extend(s.video_url.clone());
    }
    let id = inner.new_id("179", 17);
    let code = random_token(11);
    let permalink = if product == "REELS" {
        format!("https://www.instagram.com/reel/{code}/")
    } else {
        format!("https://www.instagram.com/p/{code}/")
    };
    inner.media.push(PublishedMedia {
        id: id.clone(),
        owner,
        container_id: Some(c.id.clone()),
        media_type: media_type.into(),
        media_product_type: product.into(),
        caption: c.caption.clone(),
        alt_text: c.alt_text.clone(),
        children: c.children.clone(),
        image_urls,
        video_urls,
        share_to_feed: c.share_to_feed,
        location_id: c.location_id.clone(),
        collaborators: c.collaborators.clone(),
        permalink,
        timestamp: now,
        via_api: true,
        comments: Vec::new(),
    });
    let stored = &mut inner.containers[index];
    stored.published_media_id = Some(id.clone());
    stored.status_code = "PUBLISHED".into();
    json_response(200, &json!({ "id": id }))
}

fn publishing_limit(
    inner: &Inner,
    caller: &Caller,
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Response<Body> {
    let owner = &caller.account.ig_user_id;
    let window_start = now - chrono::Duration::hours(24);
    let since = match params.get("since") {
        None => window_start,
        Some(s) => match s
            .parse::<i64>()
            .ok()
            .and_then(|t| DateTime::from_timestamp(t, 0))
        {
            Some(t) if t >= window_start - chrono::Duration::seconds(5) => t,
            _ => return invalid("since must be a Unix time within the last 24 hours."),
        },
    };
    let wanted = fields(params);
    let mut entry = json!({ "quota_usage": inner.quota_usage_since(owner, since) });
    if wanted.iter().any(|f| f == "config") {
        entry["config"] = json!({ "quota_total": inner.quota_total, "quota_duration": 86400 });
    }
    json_response(200, &json!({ "data": [entry] }))
}

fn comment(
    inner: &mut Inner,
    caller: &Caller,
    media_id: &str,
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Response<Body> {
    if !has_scope(
        caller,
        "instagram_business_manage_comments",
        "instagram_manage_comments",
    ) {
        return error(
            403,
            10,
            None,
            "(#10) Application does not have permission for this action",
        );
    }
    let owner = caller.account.ig_user_id.clone();
    let Some(message) = params
        .get("message")
        .filter(|m| !m.trim().is_empty())
        .cloned()
    else {
        return invalid("The parameter message is required.");
    };
    let id = inner.new_id("180", 17);
    let Some(m) = inner
        .media
        .iter_mut()
        .find(|m| m.id == media_id && m.owner == owner)
    else {
        return unsupported("POST", media_id);
    };
    m.comments.push(StoredComment {
        id: id.clone(),
        message,
        at: now,
    });
    json_response(200, &json!({ "id": id }))
}
