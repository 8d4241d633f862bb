//! The Threads API endpoints of the fake: wire formats, status codes and error bodies as
//! `threads.md` describes them (Graph envelope for data calls, the flat shape for the code
//! exchange).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::{
    is_id, Container, Endpoint, Inner, NotReadyForm, PostDraft, Reply, Req, Shared, ThreadsPost,
    Token, CODE_NOT_FOUND, LINK_LIMIT_EXCEEDED, TOO_YOUNG_TO_REFRESH,
};
use crate::common::random_string;

const REPLY_CONTROLS: [&str; 5] = [
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
];
const MEDIA_FIELDS: [&str; 26] = [
    "id",
    "media_product_type",
    "media_type",
    "media_url",
    "permalink",
    "owner",
    "username",
    "text",
    "timestamp",
    "shortcode",
    "thumbnail_url",
    "children",
    "is_quote_post",
    "has_replies",
    "root_post",
    "replied_to",
    "is_reply",
    "is_reply_owned_by_me",
    "hide_status",
    "reply_audience",
    "topic_tag",
    "link_attachment_url",
    "alt_text",
    "gif_url",
    "quoted_post",
    "reposted_post",
];
const USER_FIELDS: [&str; 6] = [
    "id",
    "username",
    "name",
    "threads_profile_picture_url",
    "threads_biography",
    "is_verified",
];
const LIMIT_FIELDS: [&str; 8] = [
    "quota_usage",
    "config",
    "reply_quota_usage",
    "reply_config",
    "delete_quota_usage",
    "delete_config",
    "location_search_quota_usage",
    "location_search_config",
];
const MAX_CHILDREN: usize = 20;
const MAX_ALT: usize = 1000;

type Answer = Result<Reply, Reply>;

// ---- bodies ----------------------------------------------------------------------------------

fn trace_id() -> String {
    random_string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        23,
    )
}

/// The Graph error envelope.
pub(crate) fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Reply {
    let mut error = json!({
        "message": message,
        "type": if code == 100 && subcode == Some(33) { "GraphMethodException" } else { "OAuthException" },
        "code": code,
        "fbtrace_id": trace_id(),
    });
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    Reply::json(status, json!({ "error": error }))
}

/// A Graph error with the user-facing title and message Meta adds to validation errors.
fn user_error(
    code: i64,
    subcode: Option<i64>,
    message: &str,
    title: &str,
    user_msg: &str,
) -> Reply {
    let mut r = graph_error(400, code, subcode, message);
    if let Some(e) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
        e["error_user_title"] = json!(title);
        e["error_user_msg"] = json!(user_msg);
        e["is_transient"] = json!(false);
    }
    r
}

fn invalid(message: &str) -> Reply {
    graph_error(400, 100, None, message)
}

fn no_permission() -> Reply {
    graph_error(
        403,
        10,
        None,
        "(#10) Application does not have permission for this action",
    )
}

/// The code exchange's flat error shape.
fn flat_error(code: i64, message: &str) -> Reply {
    Reply::json(
        400,
        json!({"error_type": "OAuthException", "code": code, "error_message": message}),
    )
}

/// Graph's answer to a path it does not know.
pub(super) fn unknown_path(req: &Req) -> Reply {
    let id = req
        .path
        .trim_start_matches("/v1.0")
        .trim_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let verb = req.method.to_ascii_lowercase();
    graph_error(
        400,
        100,
        Some(33),
        &format!("Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
    )
}

/// A status fault's answer: `body`, else a Graph error fitting the status.
pub(super) fn fault_status(status: u16, body: Option<Value>) -> Reply {
    if let Some(b) = body {
        return Reply::json(status, b);
    }
    match status {
        401 => graph_error(
            401,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        ),
        429 => graph_error(429, 4, None, "Application request limit reached"),
        500 => {
            let mut r = graph_error(500, 1, None, "An unknown error has occurred.");
            if let Some(e) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
                e["is_transient"] = json!(true);
            }
            r
        }
        s if s >= 500 => {
            let mut r = graph_error(s, 2, None, "Service temporarily unavailable");
            if let Some(e) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
                e["is_transient"] = json!(true);
            }
            r
        }
        s => graph_error(s, 100, None, "Invalid parameter"),
    }
}

fn session_expired(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "Error validating access token: Session has expired on {}. The current time is {}.",
        at.format("%A, %d-%b-%y %H:%M:%S UTC"),
        now.format("%A, %d-%b-%y %H:%M:%S UTC")
    )
}

const INVALIDATED: &str = "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.";

// ---- dispatch --------------------------------------------------------------------------------

pub(super) async fn process(shared: &Shared, endpoint: Endpoint, req: &Req) -> Reply {
    match endpoint {
        Endpoint::CodeExchange => code_exchange(shared, req),
        Endpoint::ExchangeToken => exchange_token(shared, req),
        Endpoint::RefreshToken => refresh_token(shared, req),
        Endpoint::CreateContainer => {
            // Meta's crawler fetches the media while the request is handled; so does the fake
            // (outside the lock), for addresses on loopback.
            let fetched = fetch_media(req).await;
            authed(shared, endpoint, req, Some(fetched))
        }
        _ => authed(shared, endpoint, req, None),
    }
}

/// What fetching `image_url` / `video_url` found: `None` when there is nothing to fetch or
/// the address is not on loopback (taken on trust: the tests have no internet).
pub(crate) struct Fetched {
    url: Option<String>,
    outcome: Option<Result<Vec<u8>, String>>,
}

async fn fetch_media(req: &Req) -> Fetched {
    let url = req.param("image_url").or_else(|| req.param("video_url"));
    let Some(u) = url.clone() else {
        return Fetched { url, outcome: None };
    };
    let local = u.starts_with("http://127.0.0.1") || u.starts_with("http://localhost");
    if !local {
        return Fetched { url, outcome: None };
    }
    let http = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            return Fetched {
                url,
                outcome: Some(Err(e.to_string())),
            }
        }
    };
    let outcome = match http.get(&u).send().await {
        Ok(r) if r.status().is_success() => r
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(e.to_string()),
    };
    Fetched {
        url,
        outcome: Some(outcome),
    }
}

fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.starts_with(&[0xff, 0xd8, 0xff])
}

fn is_video(bytes: &[u8]) -> bool {
    bytes
        .get(4..8)
        .is_some_and(|b| matches!(b, b"ftyp" | b"moov" | b"wide" | b"mdat" | b"free"))
}

fn token_of(req: &Req) -> Option<String> {
    if let Some(auth) = req.header("authorization") {
        if let Some((scheme, token)) = auth.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
                return Some(token.trim().to_string());
            }
        }
    }
    req.param("access_token")
}

/// The token's record, or the Graph answer to a missing or dead token.
fn check_token(inner: &Inner, token: Option<&str>, now: DateTime<Utc>) -> Result<Token, Reply> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(graph_error(
            400,
            2500,
            None,
            "An active access token must be used to query information about the current user.",
        ));
    };
    let Some(t) = inner.tokens.get(token) else {
        return Err(graph_error(
            401,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        ));
    };
    if t.revoked {
        return Err(graph_error(401, 190, Some(460), INVALIDATED));
    }
    if t.expires_at <= now {
        return Err(graph_error(
            401,
            190,
            Some(463),
            &session_expired(t.expires_at, now),
        ));
    }
    Ok(t.clone())
}

fn has(token: &Token, scope: &str) -> bool {
    token.scopes.iter().any(|s| s == scope)
}

fn authed(shared: &Shared, endpoint: Endpoint, req: &Req, fetched: Option<Fetched>) -> Reply {
    let mut inner = shared.lock();
    let now = inner.now();
    let token = match check_token(&inner, token_of(req).as_deref(), now) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if !has(&token, "threads_basic") {
        return no_permission();
    }
    let publish = matches!(endpoint, Endpoint::CreateContainer | Endpoint::Publish);
    if publish && !has(&token, "threads_content_publish") {
        return no_permission();
    }
    // The user named in the path must be the token's user ("me" stands in for it).
    let segments: Vec<&str> = req
        .path
        .trim_end_matches('/')
        .trim_start_matches("/v1.0/")
        .split('/')
        .collect();
    let path_id = segments.first().copied().unwrap_or_default();
    let user_path = matches!(
        endpoint,
        Endpoint::Me
            | Endpoint::CreateContainer
            | Endpoint::Publish
            | Endpoint::ListThreads
            | Endpoint::ListReplies
            | Endpoint::PublishingLimit
    );
    if user_path && path_id != "me" && path_id != token.user_id {
        return no_permission();
    }
    let base_url = shared.base_url.clone();
    let inner = &mut *inner;
    let result = match endpoint {
        Endpoint::Me => me(inner, &token, req),
        Endpoint::CreateContainer => create_container(inner, &token, req, fetched, now),
        Endpoint::Publish => publish_container(inner, &token, req, now),
        Endpoint::Object => object(inner, &token, path_id, req, now),
        Endpoint::ListThreads => list(inner, &token, req, false, &base_url),
        Endpoint::ListReplies => list(inner, &token, req, true, &base_url),
        Endpoint::PublishingLimit => publishing_limit(inner, &token, req, now),
        Endpoint::Delete => delete(inner, &token, path_id, now),
        _ => Err(unknown_path(req)),
    };
    result.unwrap_or_else(|e| e)
}

/// The `fields` parameter, checked against `allowed`; `default` when absent.
fn fields(req: &Req, allowed: &[&str], default: &[&str], node: &str) -> Result<Vec<String>, Reply> {
    let Some(raw) = req.param("fields").filter(|f| !f.trim().is_empty()) else {
        return Ok(default.iter().map(|s| s.to_string()).collect());
    };
    let mut out = Vec::new();
    for f in raw.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !allowed.contains(&f) {
            return Err(invalid(&format!(
                "(#100) Tried accessing nonexisting field ({f}) on node type ({node})"
            )));
        }
        out.push(f.to_string());
    }
    Ok(out)
}

// ---- tokens ----------------------------------------------------------------------------------

fn code_exchange(shared: &Shared, req: &Req) -> Reply {
    let mut inner = shared.lock();
    let now = inner.now();
    let p = |k: &str| req.param(k).unwrap_or_default();
    let (app_id, secret, code) = (p("client_id"), p("client_secret"), p("code"));
    if p("grant_type") != "authorization_code" {
        return flat_error(100, "Unsupported grant_type");
    }
    let Some(expected) = inner.apps.get(&app_id).cloned() else {
        return flat_error(101, "Error validating application. Invalid application ID.");
    };
    if secret != expected {
        return flat_error(100, "Error validating client secret.");
    }
    // Codes are single-use: any use spends it.
    let Some(stored) = inner.codes.remove(&code) else {
        return flat_error(100, CODE_NOT_FOUND);
    };
    if stored.expires_at <= now || stored.grant.app_id != app_id {
        return flat_error(100, CODE_NOT_FOUND);
    }
    if stored.grant.redirect_uri != p("redirect_uri") {
        return flat_error(
            100,
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    let user_id = stored.grant.user_id.clone();
    let token = inner.issue(&user_id, &app_id, &stored.grant.scopes, false, None);
    // `user_id` is a JSON number larger than 2^53, as Threads sends it.
    let number: Value = user_id
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or(Value::String(user_id));
    Reply::json(
        200,
        json!({ "access_token": token.access_token, "user_id": number }),
    )
}

fn exchange_token(shared: &Shared, req: &Req) -> Reply {
    let mut inner = shared.lock();
    let now = inner.now();
    if req.param("grant_type").as_deref() != Some("th_exchange_token") {
        return graph_error(400, 100, None, "Unsupported grant_type");
    }
    let Some(secret) = req.param("client_secret").filter(|s| !s.is_empty()) else {
        return graph_error(400, 100, None, "Missing client_secret parameter.");
    };
    let t = match check_token(&inner, req.param("access_token").as_deref(), now) {
        Ok(t) => t,
        Err(mut e) => {
            e.status = 400;
            return e;
        }
    };
    if inner.apps.get(&t.app_id) != Some(&secret) {
        return graph_error(400, 100, None, "Error validating client secret.");
    }
    if t.long_lived {
        // UNCONFIRMED what Meta answers; a long-lived token has nothing to exchange.
        return graph_error(
            400,
            100,
            None,
            "The access token is already long-lived; refresh it instead",
        );
    }
    let issued = inner.issue(&t.user_id, &t.app_id, &t.scopes, true, None);
    Reply::json(200, serde_json::to_value(issued).unwrap_or_default())
}

fn refresh_token(shared: &Shared, req: &Req) -> Reply {
    let mut inner = shared.lock();
    let now = inner.now();
    if req.param("grant_type").as_deref() != Some("th_refresh_token") {
        return graph_error(400, 100, None, "Unsupported grant_type");
    }
    let token = req.param("access_token");
    let t = match check_token(&inner, token.as_deref(), now) {
        Ok(t) => t,
        Err(mut e) => {
            e.status = 400;
            return e;
        }
    };
    if !has(&t, "threads_basic") {
        return graph_error(
            400,
            10,
            None,
            "(#10) The threads_basic permission is required to refresh the token",
        );
    }
    if !t.long_lived {
        // UNCONFIRMED: only long-lived tokens are documented as refreshable.
        return graph_error(
            400,
            190,
            None,
            "Short-lived tokens cannot be refreshed; exchange them for a long-lived token",
        );
    }
    if now - t.issued_at < inner.cfg.min_refresh_age {
        // The exact body is UNCONFIRMED (threads.md "What a faithful fake must reproduce").
        return graph_error(400, 190, None, TOO_YOUNG_TO_REFRESH);
    }
    // The old token keeps working until it expires (UNCONFIRMED; Meta does not say).
    let issued = inner.issue(&t.user_id, &t.app_id, &t.scopes, true, None);
    Reply::json(200, serde_json::to_value(issued).unwrap_or_default())
}

// ---- users -----------------------------------------------------------------------------------

fn me(inner: &mut Inner, token: &Token, req: &Req) -> Answer {
    let wanted = fields(req, &USER_FIELDS, &["id"], "ThreadsUser")?;
    let user = inner
        .user(&token.user_id)
        .cloned()
        .ok_or_else(|| unknown_path(req))?;
    let mut out = Map::new();
    for f in wanted {
        let v = match f.as_str() {
            "id" => json!(user.id),
            "username" => json!(user.username),
            "name" => json!(user.name),
            "threads_profile_picture_url" => json!(format!(
                "https://scontent.cdninstagram.com/v/t51/{}.jpg",
                user.id
            )),
            "threads_biography" => json!(""),
            "is_verified" => json!(false),
            _ => continue,
        };
        out.insert(f, v);
    }
    Ok(Reply::json(200, Value::Object(out)))
}

// ---- containers ------------------------------------------------------------------------------

/// Threads' count: characters, each emoji counted as its UTF-8 bytes.
pub(crate) fn threads_length(text: &str) -> usize {
    let emoji = |c: char| {
        let cp = c as u32;
        (0x1F000..=0x1FAFF).contains(&cp) || (0x2600..=0x27BF).contains(&cp) || cp == 0xFE0F
    };
    text.graphemes(true)
        .map(|g| if g.chars().any(emoji) { g.len() } else { 1 })
        .sum()
}

/// The unique http(s) links of a text.
pub(crate) fn links(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let Some(start) = word.find("http://").or_else(|| word.find("https://")) else {
            continue;
        };
        let link = word[start..]
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"'])
            .to_string();
        if !out.contains(&link) {
            out.push(link);
        }
    }
    out
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|s| s.eq_ignore_ascii_case("true") || s == "1")
}

fn create_container(
    inner: &mut Inner,
    token: &Token,
    req: &Req,
    fetched: Option<Fetched>,
    now: DateTime<Utc>,
) -> Answer {
    let params: std::collections::HashMap<String, String> = req.params().into_iter().collect();
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let Some(media_type) = get("media_type") else {
        return Err(invalid("(#100) The parameter media_type is required."));
    };
    if !matches!(media_type.as_str(), "TEXT" | "IMAGE" | "VIDEO" | "CAROUSEL") {
        return Err(invalid(&format!(
            "(#100) Param media_type must be one of {{TEXT, IMAGE, VIDEO, CAROUSEL}} - got \"{media_type}\"."
        )));
    }
    let text = get("text");
    let is_item = truthy(params.get("is_carousel_item"));
    let auto_publish = truthy(params.get("auto_publish_text"));
    let link_attachment = get("link_attachment");
    let reply_to = get("reply_to_id");
    let reply_control = get("reply_control");
    let topic_tag = get("topic_tag");
    let alt_text = get("alt_text");
    let image_url = get("image_url");
    let video_url = get("video_url");
    let cfg = inner.cfg.clone();

    // Text and links.
    if let Some(t) = &text {
        let n = threads_length(t);
        if n > cfg.max_text {
            return Err(user_error(
                100,
                Some(2207018),
                "(#100) The text is too long.",
                "Text too long",
                &format!(
                    "The text of a post can be up to {} characters (emoji count their UTF-8 bytes); this one is {n}.",
                    cfg.max_text
                ),
            ));
        }
    }
    let mut all_links = text.as_deref().map(links).unwrap_or_default();
    if let Some(l) = &link_attachment {
        if !all_links.contains(l) {
            all_links.push(l.clone());
        }
    }
    if all_links.len() > cfg.max_links {
        return Err(user_error(
            100,
            None,
            LINK_LIMIT_EXCEEDED,
            "Too many links",
            &format!(
                "A post can contain at most {} links; this one has {}.",
                cfg.max_links,
                all_links.len()
            ),
        ));
    }
    // Per-type rules.
    match media_type.as_str() {
        "TEXT" => {
            if text.is_none() {
                return Err(invalid(
                    "(#100) The parameter text is required for TEXT posts.",
                ));
            }
            if is_item {
                return Err(invalid("(#100) TEXT posts cannot be carousel items."));
            }
        }
        "IMAGE" if image_url.is_none() => {
            return Err(invalid("(#100) The parameter image_url is required."));
        }
        "VIDEO" if video_url.is_none() => {
            return Err(invalid("(#100) The parameter video_url is required."));
        }
        _ => {}
    }
    if auto_publish && media_type != "TEXT" {
        return Err(invalid(
            "(#100) auto_publish_text is only supported for TEXT posts.",
        ));
    }
    if link_attachment.is_some() && media_type != "TEXT" {
        return Err(invalid(
            "(#100) link_attachment is only supported for TEXT posts.",
        ));
    }
    if let Some(rc) = &reply_control {
        if !REPLY_CONTROLS.contains(&rc.as_str()) {
            return Err(invalid(&format!(
                "(#100) Param reply_control must be one of {{{}}} - got \"{rc}\".",
                REPLY_CONTROLS.join(", ")
            )));
        }
    }
    if let Some(tag) = &topic_tag {
        let n = tag.chars().count();
        if n == 0 || n > 50 || tag.contains('.') || tag.contains('&') {
            return Err(invalid(
                "(#100) topic_tag must be 1-50 characters without periods or ampersands.",
            ));
        }
    }
    if alt_text
        .as_deref()
        .is_some_and(|a| a.chars().count() > MAX_ALT)
    {
        return Err(invalid("(#100) alt_text can be up to 1000 characters."));
    }
    if is_item && (reply_to.is_some() || text.is_some()) {
        return Err(invalid(
            "(#100) Carousel items cannot have text or reply_to_id; set them on the carousel.",
        ));
    }
    if let Some(parent) = &reply_to {
        let Some(p) = inner.post(parent) else {
            return Err(invalid(&format!(
                "(#100) The reply_to_id {parent} is not a post that can be replied to."
            )));
        };
        // Replying needs to own the root post (or keyword-search / mentions permissions).
        let root_owner = inner
            .post(&p.root_post)
            .map_or(p.owner_id.clone(), |r| r.owner_id.clone());
        if root_owner != token.user_id
            && !has(token, "threads_keyword_search")
            && !has(token, "threads_manage_mentions")
        {
            return Err(no_permission());
        }
    }
    let mut children: Vec<String> = Vec::new();
    if media_type == "CAROUSEL" {
        if is_item {
            return Err(invalid("(#100) A carousel cannot be a carousel item."));
        }
        children = get("children")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if children.len() < 2 || children.len() > MAX_CHILDREN {
            return Err(user_error(
                100,
                None,
                "(#100) A carousel must have between 2 and 20 children.",
                "Wrong number of carousel items",
                &format!(
                    "A carousel has 2 to 20 items; this one has {}.",
                    children.len()
                ),
            ));
        }
        for (i, id) in children.iter().enumerate() {
            let Some(c) = inner.containers.get(id) else {
                return Err(invalid(&format!(
                    "(#100) Invalid children: {id} is unknown."
                )));
            };
            if c.owner_id != token.user_id || !c.is_carousel_item {
                return Err(invalid(&format!(
                    "(#100) Invalid children: {id} is not a carousel item of this user."
                )));
            }
            if c.used_by.is_some() || children[..i].contains(id) {
                return Err(invalid(&format!(
                    "(#100) Invalid children: {id} is already used by a carousel."
                )));
            }
            if now >= c.created_at + cfg.container_ttl {
                return Err(invalid(&format!(
                    "(#100) Invalid children: {id} has expired."
                )));
            }
        }
    }

    // The media, as Meta's crawler found it.
    let mut error_message: Option<String> = None;
    if let Some(f) = fetched {
        if let (Some(url), Some(outcome)) = (f.url, f.outcome) {
            match (media_type.as_str(), outcome) {
                ("IMAGE", Err(why)) => {
                    // UNCONFIRMED for Threads; Instagram refuses an image it cannot fetch at
                    // creation with 9004 / 2207052.
                    return Err(user_error(
                        9004,
                        Some(2207052),
                        &format!("Media download has failed.: The media could not be fetched from this uri: {url} ({why})"),
                        "Media download has failed",
                        "The image could not be fetched from the address given.",
                    ));
                }
                ("IMAGE", Ok(bytes)) if !is_image(&bytes) => {
                    return Err(user_error(
                        100,
                        Some(2207026),
                        "(#100) The image format is not supported. Only JPEG and PNG are supported.",
                        "Unsupported image format",
                        "Threads takes JPEG and PNG images.",
                    ));
                }
                ("VIDEO", Err(_)) => error_message = Some("FAILED_DOWNLOADING_VIDEO".into()),
                ("VIDEO", Ok(bytes)) if !is_video(&bytes) => {
                    error_message = Some("FAILED_PROCESSING_VIDEO".into());
                }
                _ => {}
            }
        }
    }

    let id = inner.next_id();
    let plan = if media_type == "TEXT" {
        super::Processing::AfterPolls { polls: 0 }
    } else if media_type == "CAROUSEL" {
        // A carousel is ready once its children are.
        super::Processing::AfterPolls { polls: 0 }
    } else {
        cfg.processing.clone()
    };
    let mut container = Container {
        id: id.clone(),
        owner_id: token.user_id.clone(),
        media_type: media_type.clone(),
        text: text.clone(),
        image_url,
        video_url,
        is_carousel_item: is_item,
        children: children.clone(),
        reply_to_id: reply_to.clone(),
        reply_control: reply_control.clone(),
        topic_tag: topic_tag.clone(),
        alt_text,
        link_attachment: link_attachment.clone(),
        auto_publish_text: auto_publish,
        status: "IN_PROGRESS".into(),
        error_message: None,
        polls: 0,
        plan,
        created_at: now,
        published_id: None,
        used_by: None,
    };
    if let Some(msg) = error_message {
        container.plan = super::Processing::Error {
            after_polls: 0,
            message: msg,
        };
    }
    if auto_publish {
        // Published at once: the quota applies now.
        let replies = reply_to.is_some();
        quota_check(inner, &token.user_id, replies, now)?;
        let post = inner.store_post(
            PostDraft {
                owner_id: token.user_id.clone(),
                container_id: Some(id.clone()),
                media_type: "TEXT_POST".into(),
                text,
                reply_to,
                media_urls: Vec::new(),
                alt_texts: Vec::new(),
                link_attachment,
                topic_tag,
                reply_control,
                auto_published: true,
            },
            now,
        );
        container.status = "PUBLISHED".into();
        container.published_id = Some(post.id.clone());
        inner.containers.insert(id.clone(), container);
        inner.container_order.push(id);
        // UNCONFIRMED whether Threads answers the container or the media id here; the fake
        // answers the published post's id (what a reply to it needs).
        return Ok(Reply::json(200, json!({ "id": post.id })));
    }
    for child in &children {
        if let Some(c) = inner.containers.get_mut(child) {
            c.used_by = Some(id.clone());
        }
    }
    inner.containers.insert(id.clone(), container);
    inner.container_order.push(id.clone());
    inner.refresh_status(&id, now);
    Ok(Reply::json(200, json!({ "id": id })))
}

/// The publishing quota of posts (or replies) for `user_id`: refused when used up. The
/// real error is UNCONFIRMED; this mirrors Instagram's `9` / `2207042`.
fn quota_check(
    inner: &Inner,
    user_id: &str,
    replies: bool,
    now: DateTime<Utc>,
) -> Result<(), Reply> {
    let total = if replies {
        inner.cfg.reply_quota_total
    } else {
        inner.cfg.quota_total
    };
    if inner.used(user_id, replies, now) >= total {
        let what = if replies { "replies" } else { "posts" };
        return Err(user_error(
            9,
            Some(2207042),
            &format!("The user has reached the maximum number of {what} that can be published through the API in 24 hours."),
            "Publishing limit reached",
            &format!("This profile has published {total} {what} through the API in the last 24 hours."),
        ));
    }
    Ok(())
}

fn publish_container(inner: &mut Inner, token: &Token, req: &Req, now: DateTime<Utc>) -> Answer {
    let Some(id) = req.param("creation_id").filter(|v| !v.is_empty()) else {
        return Err(invalid("(#100) The parameter creation_id is required."));
    };
    let Some(c) = inner.containers.get(&id).cloned() else {
        return Err(invalid(&format!(
            "(#100) Param creation_id {id} is not a valid media container."
        )));
    };
    if c.owner_id != token.user_id {
        return Err(no_permission());
    }
    if c.is_carousel_item {
        return Err(invalid(
            "(#100) A carousel item cannot be published on its own; publish its carousel.",
        ));
    }
    inner.refresh_status(&id, now);
    let status = inner
        .containers
        .get(&id)
        .map(|c| (c.status.clone(), c.error_message.clone()))
        .unwrap_or_default();
    match status.0.as_str() {
        "FINISHED" => {}
        "IN_PROGRESS" => {
            return Err(match inner.not_ready {
                NotReadyForm::Ig9007 => user_error(
                    9007,
                    Some(2207027),
                    "Media ID is not available",
                    "Media not ready for publishing",
                    "The media is not ready for publishing, please wait for a moment",
                ),
                NotReadyForm::Code100 => {
                    invalid("(#100) The media is not ready to be published, please wait a moment")
                }
            })
        }
        "PUBLISHED" => {
            return Err(invalid(
                "(#100) This media container has already been published.",
            ))
        }
        "EXPIRED" => return Err(invalid("(#100) The media container has expired.")),
        _ => {
            return Err(invalid(&format!(
                "(#100) The media container failed to process: {}",
                status.1.unwrap_or_else(|| "UNKNOWN".into())
            )))
        }
    }
    let replies = c.reply_to_id.is_some();
    quota_check(inner, &token.user_id, replies, now)?;
    let (media_urls, alt_texts) = if c.media_type == "CAROUSEL" {
        c.children
            .iter()
            .filter_map(|k| inner.containers.get(k))
            .map(|k| {
                (
                    k.image_url
                        .clone()
                        .or_else(|| k.video_url.clone())
                        .unwrap_or_default(),
                    k.alt_text.clone(),
                )
            })
            .unzip()
    } else {
        (
            c.image_url
                .iter()
                .chain(c.video_url.iter())
                .cloned()
                .collect(),
            vec![c.alt_text.clone()],
        )
    };
    let post = inner.store_post(
        PostDraft {
            owner_id: token.user_id.clone(),
            container_id: Some(id.clone()),
            media_type: match c.media_type.as_str() {
                "TEXT" => "TEXT_POST",
                "CAROUSEL" => "CAROUSEL_ALBUM",
                other => other,
            }
            .to_string(),
            text: c.text.clone(),
            reply_to: c.reply_to_id.clone(),
            media_urls,
            alt_texts: if c.media_type == "TEXT" {
                Vec::new()
            } else {
                alt_texts
            },
            link_attachment: c.link_attachment.clone(),
            topic_tag: c.topic_tag.clone(),
            reply_control: c.reply_control.clone(),
            auto_published: false,
        },
        now,
    );
    if let Some(stored) = inner.containers.get_mut(&id) {
        stored.status = "PUBLISHED".into();
        stored.published_id = Some(post.id.clone());
    }
    Ok(Reply::json(200, json!({ "id": post.id })))
}

// ---- reads -----------------------------------------------------------------------------------

fn graph_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

fn media_json(inner: &Inner, token: &Token, p: &ThreadsPost, wanted: &[String]) -> Value {
    let mut out = Map::new();
    for f in wanted {
        let v = match f.as_str() {
            "id" => json!(p.id),
            "media_product_type" => json!("THREADS"),
            "media_type" => json!(p.media_type),
            "media_url" => match p.media_urls.first() {
                Some(u) => json!(u),
                None => continue,
            },
            "permalink" => json!(p.permalink),
            "owner" => json!({ "id": p.owner_id }),
            "username" => json!(p.username),
            "text" => match &p.text {
                Some(t) => json!(t),
                None => continue,
            },
            "timestamp" => json!(graph_time(p.timestamp)),
            "shortcode" => json!(p.shortcode),
            "children" if p.media_type == "CAROUSEL_ALBUM" => json!({
                "data": p.media_urls.iter().enumerate().map(|(i, _)| json!({"id": format!("{}{}", p.id, i)})).collect::<Vec<_>>()
            }),
            "is_quote_post" => json!(false),
            "has_replies" => json!(inner
                .posts
                .iter()
                .any(|r| r.reply_to.as_deref() == Some(&p.id) && !r.deleted)),
            "root_post" => json!({ "id": p.root_post }),
            "replied_to" => match &p.reply_to {
                Some(r) => json!({ "id": r }),
                None => continue,
            },
            "is_reply" => json!(p.reply_to.is_some()),
            "is_reply_owned_by_me" => json!(p.reply_to.is_some() && p.owner_id == token.user_id),
            "reply_audience" => json!(match p.reply_control.as_deref() {
                Some("accounts_you_follow") => "ACCOUNTS_YOU_FOLLOW",
                Some("mentioned_only") => "MENTIONED_ONLY",
                Some("parent_post_author_only") => "PARENT_POST_AUTHOR_ONLY",
                Some("followers_only") => "FOLLOWERS_ONLY",
                _ => "EVERYONE",
            }),
            "topic_tag" => match &p.topic_tag {
                Some(t) => json!(t),
                None => continue,
            },
            "link_attachment_url" => match &p.link_attachment {
                Some(l) => json!(l),
                None => continue,
            },
            "alt_text" => match p.alt_texts.first().cloned().flatten() {
                Some(a) => json!(a),
                None => continue,
            },
            _ => continue,
        };
        out.insert(f.clone(), v);
    }
    Value::Object(out)
}

fn object(inner: &mut Inner, token: &Token, id: &str, req: &Req, now: DateTime<Utc>) -> Answer {
    if inner.containers.contains_key(id) {
        let wanted = fields(
            req,
            &["id", "status", "error_message"],
            &["id", "status"],
            "ThreadsMediaContainer",
        )?;
        if inner
            .containers
            .get(id)
            .is_some_and(|c| c.owner_id != token.user_id)
        {
            return Err(unknown_path(req));
        }
        let c = inner
            .read_status(id, now)
            .ok_or_else(|| unknown_path(req))?;
        let mut out = Map::new();
        for f in wanted {
            match f.as_str() {
                "id" => {
                    out.insert(f, json!(c.id));
                }
                "status" => {
                    out.insert(f, json!(c.status));
                }
                "error_message" => {
                    if let Some(m) = &c.error_message {
                        out.insert(f, json!(m));
                    }
                }
                _ => {}
            }
        }
        return Ok(Reply::json(200, Value::Object(out)));
    }
    let Some(p) = inner.post(id).cloned() else {
        return Err(unknown_path(req));
    };
    let wanted = fields(req, &MEDIA_FIELDS, &["id"], "ThreadsMedia")?;
    Ok(Reply::json(200, media_json(inner, token, &p, &wanted)))
}

/// `since` / `until`: a unix timestamp or an RFC 3339 / `YYYY-MM-DD` date.
fn time_param(v: &str) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(n) = v.parse::<i64>() {
        return DateTime::from_timestamp(n, 0);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn list(inner: &mut Inner, token: &Token, req: &Req, replies: bool, base_url: &str) -> Answer {
    let wanted = fields(req, &MEDIA_FIELDS, &["id"], "ThreadsMedia")?;
    let since = match req.param("since") {
        Some(v) => Some(time_param(&v).ok_or_else(|| invalid("(#100) Invalid since"))?),
        None => None,
    };
    let until = match req.param("until") {
        Some(v) => Some(time_param(&v).ok_or_else(|| invalid("(#100) Invalid until"))?),
        None => None,
    };
    let limit = req
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let mut items: Vec<&ThreadsPost> = inner
        .posts
        .iter()
        .filter(|p| p.owner_id == token.user_id && !p.deleted)
        .filter(|p| p.reply_to.is_some() == replies)
        .filter(|p| since.is_none_or(|s| p.timestamp >= s))
        .filter(|p| until.is_none_or(|u| p.timestamp <= u))
        .collect();
    items.reverse(); // newest first
    let start = match req.param("after") {
        Some(cursor) => {
            let id = String::from_utf8(
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, cursor)
                    .unwrap_or_default(),
            )
            .unwrap_or_default();
            items
                .iter()
                .position(|p| p.id == id)
                .map_or(items.len(), |i| i + 1)
        }
        None => 0,
    };
    let page: Vec<&ThreadsPost> = items.iter().skip(start).take(limit).copied().collect();
    let data: Vec<Value> = page
        .iter()
        .map(|p| media_json(inner, token, p, &wanted))
        .collect();
    let cursor = |p: &ThreadsPost| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &p.id)
    };
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        body["paging"] = json!({ "cursors": { "before": cursor(first), "after": cursor(last) } });
        if start + page.len() < items.len() {
            let mut query: Vec<(String, String)> = req
                .params()
                .into_iter()
                .filter(|(k, _)| k != "after" && k != "access_token")
                .collect();
            query.push(("after".into(), cursor(last)));
            let q = serde_urlencoded::to_string(&query).unwrap_or_default();
            body["paging"]["next"] = json!(format!("{base_url}{}?{q}", req.path));
        }
    }
    Ok(Reply::json(200, body))
}

fn publishing_limit(inner: &mut Inner, token: &Token, req: &Req, now: DateTime<Utc>) -> Answer {
    if !has(token, "threads_content_publish") {
        return Err(no_permission());
    }
    let wanted = fields(
        req,
        &LIMIT_FIELDS,
        &["quota_usage", "config"],
        "ThreadsPublishingLimit",
    )?;
    if wanted.iter().any(|f| f.starts_with("reply_")) && !has(token, "threads_manage_replies") {
        return Err(no_permission());
    }
    let cfg = &inner.cfg;
    let duration = cfg.quota_duration.num_seconds();
    let config = |total: u32| json!({ "quota_total": total, "quota_duration": duration });
    let since = now - cfg.quota_duration;
    let deletes = inner
        .deletes
        .iter()
        .filter(|(u, at)| *u == token.user_id && *at > since)
        .count();
    let mut out = Map::new();
    for f in wanted {
        let v = match f.as_str() {
            "quota_usage" => json!(inner.used(&token.user_id, false, now)),
            "config" => config(cfg.quota_total),
            "reply_quota_usage" => json!(inner.used(&token.user_id, true, now)),
            "reply_config" => config(cfg.reply_quota_total),
            "delete_quota_usage" => json!(deletes),
            "delete_config" => config(cfg.delete_quota_total),
            "location_search_quota_usage" => json!(0),
            "location_search_config" => config(500),
            _ => continue,
        };
        out.insert(f, v);
    }
    Ok(Reply::json(200, json!({ "data": [Value::Object(out)] })))
}

fn delete(inner: &mut Inner, token: &Token, id: &str, now: DateTime<Utc>) -> Answer {
    if !is_id(id) {
        return Err(invalid("(#100) Invalid id"));
    }
    let Some(pos) = inner.posts.iter().position(|p| p.id == id && !p.deleted) else {
        return Err(invalid(&format!("(#100) Object {id} does not exist.")));
    };
    if inner.posts[pos].owner_id != token.user_id || !has(token, "threads_delete") {
        return Err(no_permission());
    }
    let since = now - inner.cfg.quota_duration;
    let used = inner
        .deletes
        .iter()
        .filter(|(u, at)| *u == token.user_id && *at > since)
        .count();
    if used >= inner.cfg.delete_quota_total as usize {
        return Err(user_error(
            9,
            Some(2207042),
            "The user has reached the maximum number of deletes in 24 hours.",
            "Delete limit reached",
            "This profile has deleted the maximum number of posts for the last 24 hours.",
        ));
    }
    inner.posts[pos].deleted = true;
    inner.deletes.push((token.user_id.clone(), now));
    Ok(Reply::json(200, json!({ "success": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_count_their_bytes_and_links_are_unique() {
        assert_eq!(threads_length("hi"), 2);
        assert_eq!(threads_length("hi👍"), 6);
        assert_eq!(threads_length("é"), 1);
        assert_eq!(
            links("a https://a.test/x, b https://a.test/x and (https://b.test)."),
            ["https://a.test/x", "https://b.test"]
        );
    }
}
