//! The API routes: OAuth (consent page and token endpoint), `/v5/*`, and the upload form.

use axum::body::Body;
use axum::http::{HeaderValue, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::image::inspect;
use super::{
    json_response, pin_json, random_hex, rfc3339, upload, Inner, MediaPlan, PinterestConfig, Req,
    ResetForm, Shared, StoredMedia, StoredPin, ALL_SCOPES, UPLOAD_PATH,
};
use crate::common::{random_string, tightest, LimitStatus};

const TITLE_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 800;
const ALT_MAX: usize = 500;
const LINK_MAX: usize = 2048;

/// A Generic Error answer: `{"code": <int>, "message": "…"}`.
pub(crate) fn generic(status: u16, code: i64, message: &str) -> Response<Body> {
    json_response(status, &json!({ "code": code, "message": message }))
}

fn bad(message: &str) -> Response<Body> {
    generic(400, 1, message)
}

/// `401 {"code":2,"message":"Authentication failed.","status":"failure"}` (3P).
fn auth_failed() -> Response<Body> {
    json_response(
        401,
        &json!({ "code": 2, "message": "Authentication failed.", "status": "failure" }),
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response<Body> {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// Adds `x-pinterest-rid` to every answer that is not the upload service's.
pub(crate) fn with_rid(mut response: Response<Body>) -> Response<Body> {
    if !response.headers().contains_key("x-amz-request-id") {
        if let Ok(v) = HeaderValue::from_str(&random_hex(16)) {
            response.headers_mut().insert("x-pinterest-rid", v);
        }
    }
    response
}

fn set_header(response: &mut Response<Body>, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, v);
    }
}

fn reset_value(form: ResetForm, reset: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match form {
        ResetForm::Seconds => ((reset - now).num_milliseconds().max(0) + 999)
            .div_euclid(1000)
            .max(1)
            .to_string(),
        ResetForm::Epoch => reset.timestamp().to_string(),
    }
}

fn add_limit_headers(
    response: &mut Response<Body>,
    cfg: &PinterestConfig,
    status: &LimitStatus,
    now: DateTime<Utc>,
) {
    if !cfg.rate_limit_headers {
        return;
    }
    set_header(response, "x-ratelimit-limit", status.limit.to_string());
    set_header(
        response,
        "x-ratelimit-remaining",
        status.remaining.to_string(),
    );
    set_header(
        response,
        "x-ratelimit-reset",
        reset_value(cfg.reset_form, status.reset, now),
    );
}

pub(crate) fn fault_status(status: u16, body: Option<Value>) -> Response<Body> {
    let body = body.unwrap_or_else(|| {
        json!({ "code": status, "message": "Something went wrong on our end. Sorry about that." })
    });
    json_response(status, &body)
}

pub(crate) fn fault_rate_limited(shared: &Shared, reset_secs: u64) -> Response<Body> {
    let now = shared.lock().now();
    let reset = now + chrono::Duration::seconds(i64::try_from(reset_secs).unwrap_or(i64::MAX / 4));
    let mut r = rate_limited_body();
    let status = LimitStatus {
        limit: 100,
        remaining: 0,
        reset,
        window_secs: 60,
        exceeded: true,
    };
    add_limit_headers(&mut r, &shared.cfg, &status, now);
    if !shared.cfg.rate_limit_headers {
        // Without the x-ratelimit-* headers a client still needs a hint.
        set_header(&mut r, "retry-after", reset_secs.to_string());
    }
    r
}

fn rate_limited_body() -> Response<Body> {
    // The code is UNCONFIRMED.
    generic(
        429,
        8,
        "You have exceeded your rate limit. Try again later.",
    )
}

/// The spam block's 429 (the quickstart's `SpamException`: "spam" in `message_detail`).
pub(crate) fn fault_spam() -> Response<Body> {
    json_response(
        429,
        &json!({
            "code": 9,
            "message": "Request blocked",
            "message_detail": "Your request was blocked by a block (Pins) we have in place to combat spam.",
            "status": "failure",
        }),
    )
}

pub(crate) fn html_error(status: u16) -> Response<Body> {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    Response::builder()
        .status(status)
        .header("Content-Type", "text/html")
        .body(Body::from(format!(
            "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
        )))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn route(shared: &Shared, req: &Req) -> Response<Body> {
    let path = req.path.as_str();
    match (req.method.as_str(), path) {
        ("GET", "/oauth" | "/oauth/") => authorize(shared, req),
        ("POST", "/v5/oauth/token") => token(shared, req),
        ("POST", p) if p == UPLOAD_PATH || p == UPLOAD_PATH.trim_end_matches('/') => {
            upload::handle(shared, req)
        }
        (_, p) if p.starts_with("/v5/") => api(shared, req),
        _ => generic(404, 404, "Not found"),
    }
}

// ---- OAuth ---------------------------------------------------------------------------------

fn page(status: u16, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(Body::from(format!(
            "<html><body><p>{text}</p></body></html>"
        )))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The consent page: consents at once for the consenting user and redirects with a code.
fn authorize(shared: &Shared, req: &Req) -> Response<Body> {
    let cfg = &shared.cfg;
    let q = |k: &str| req.query_param(k).unwrap_or_default();
    if q("client_id") != cfg.client_id {
        return page(400, "Invalid client_id");
    }
    let redirect_uri = q("redirect_uri");
    let mut inner = shared.lock();
    if !inner.redirect_uris.contains(&redirect_uri) {
        return page(
            400,
            "The redirect_uri does not match a redirect URI registered for this app",
        );
    }
    if q("response_type") != "code" {
        return page(400, "response_type must be code");
    }
    let scopes = split_scopes(&q("scope"));
    let unknown = scopes.iter().find(|s| {
        !ALL_SCOPES.contains(&s.as_str())
            && !matches!(
                s.as_str(),
                "boards:read_secret"
                    | "boards:write_secret"
                    | "pins:read_secret"
                    | "pins:write_secret"
            )
    });
    if scopes.is_empty() || unknown.is_some() {
        return page(400, "Invalid scope");
    }
    let Some(user) = inner.consenting.clone() else {
        return page(400, "Nobody is signed in to consent");
    };
    let code = random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 40);
    let expires_at = inner.now() + cfg.code_ttl;
    inner.codes.insert(
        code.clone(),
        super::AuthCode {
            user,
            redirect_uri: redirect_uri.clone(),
            scopes,
            expires_at,
        },
    );
    let mut location = format!(
        "{redirect_uri}{}code={code}",
        if redirect_uri.contains('?') { '&' } else { '?' }
    );
    let state = q("state");
    if !state.is_empty() {
        let encoded = serde_urlencoded::to_string([("state", state.as_str())]).unwrap_or_default();
        location.push('&');
        location.push_str(&encoded);
    }
    Response::builder()
        .status(302)
        .header("Location", location)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// `POST /v5/oauth/token`: Basic client auth, form body.
fn token(shared: &Shared, req: &Req) -> Response<Body> {
    let cfg = &shared.cfg;
    let basic = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let Some((id, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
        return oauth_error(
            401,
            "invalid_client",
            "Client authentication with HTTP Basic (client_id:client_secret) is required",
        );
    };
    if id != cfg.client_id || secret != cfg.client_secret {
        return oauth_error(401, "invalid_client", "Client authentication failed");
    }
    let form_type = req.header("content-type").unwrap_or_default();
    if !form_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return oauth_error(400, "invalid_request", "Expected a form body");
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut inner = shared.lock();
    let now = inner.now();
    let limits = inner.limits;
    let status = inner.limiter.consume(
        "org_read",
        &format!("app:{id}"),
        limits.org_read.limit,
        chrono::Duration::seconds(limits.org_read.window_secs),
        1,
        now,
    );
    if status.exceeded {
        let mut r = rate_limited_body();
        add_limit_headers(&mut r, cfg, &status, now);
        return r;
    }
    let (user, scopes, response_type) = match field("grant_type").as_str() {
        "authorization_code" => {
            let Some(code) = inner.codes.remove(&field("code")) else {
                return oauth_error(400, "invalid_grant", "Invalid authorization code");
            };
            if code.expires_at < now {
                return oauth_error(400, "invalid_grant", "The authorization code expired");
            }
            if code.redirect_uri != field("redirect_uri") {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request",
                );
            }
            (code.user, code.scopes, "authorization_code")
        }
        "refresh_token" => {
            let presented = field("refresh_token");
            let Some(old) = inner.refresh.get(&presented).cloned() else {
                return oauth_error(400, "invalid_grant", "Invalid refresh token");
            };
            if old.expires_at < now {
                inner.refresh.remove(&presented);
                return oauth_error(400, "invalid_grant", "The refresh token expired");
            }
            let asked = split_scopes(&field("scope"));
            if asked.iter().any(|s| !old.scopes.contains(s)) {
                return oauth_error(400, "invalid_scope", "Scope exceeds the granted scopes");
            }
            // Continuous refresh: the old token is spent, a new one (60 days) replaces it.
            inner.refresh.remove(&presented);
            let scopes = if asked.is_empty() { old.scopes } else { asked };
            (old.user, scopes, "refresh_token")
        }
        "" => return oauth_error(400, "invalid_request", "grant_type is required"),
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant_type"),
    };
    let issued = inner.issue(cfg, &user, &scopes);
    let mut r = json_response(
        200,
        &json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
            "refresh_token": issued.refresh_token,
            "refresh_token_expires_in": issued.refresh_token_expires_in,
            "refresh_token_expires_at": (now + cfg.refresh_ttl).timestamp(),
            "response_type": response_type,
        }),
    );
    add_limit_headers(&mut r, cfg, &status, now);
    r
}

// ---- /v5 -----------------------------------------------------------------------------------

/// The authenticated user and the token's scopes.
fn authenticate(inner: &Inner, req: &Req) -> Option<(String, Vec<String>)> {
    let token = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)?;
    let t = inner.access.get(token)?;
    if t.revoked || t.expires_at <= inner.now() {
        return None;
    }
    Some((t.user.clone(), t.scopes.clone()))
}

#[derive(Clone, Copy)]
enum Category {
    OrgRead,
    OrgWrite,
}

fn api(shared: &Shared, req: &Req) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let Some((user, scopes)) = authenticate(&inner, req) else {
        return auth_failed();
    };
    let segments: Vec<&str> = req
        .path
        .trim_start_matches("/v5/")
        .trim_end_matches('/')
        .split('/')
        .collect();
    let method = req.method.as_str();
    let category = match (method, segments.as_slice()) {
        ("POST", ["pins"]) | ("POST", ["media"]) => Category::OrgWrite,
        _ => Category::OrgRead,
    };
    let needed: &[&str] = match (method, segments.as_slice()) {
        ("GET", ["user_account"]) => &["user_accounts:read"],
        ("GET", ["boards", _, "pins"]) => &["boards:read", "pins:read"],
        ("GET", ["boards", ..]) => &["boards:read"],
        ("POST", ["pins"]) => &["boards:read", "boards:write", "pins:read", "pins:write"],
        ("GET", ["pins", ..]) => &["pins:read"],
        ("POST", ["media"]) => &["pins:read", "pins:write"],
        ("GET", ["media", ..]) => &["pins:read"],
        _ => &[],
    };
    // The rate limits: per app on Trial, per user on Standard.
    let now = inner.now();
    let key = if inner.trial {
        format!("app:{}", cfg.client_id)
    } else {
        user.clone()
    };
    let limits = inner.limits;
    let universal = inner.limiter.consume(
        "universal",
        &key,
        limits.universal.limit,
        chrono::Duration::seconds(limits.universal.window_secs),
        1,
        now,
    );
    let (name, limit) = match category {
        Category::OrgRead => ("org_read", limits.org_read),
        Category::OrgWrite => ("org_write", limits.org_write),
    };
    let cat = inner.limiter.consume(
        name,
        &key,
        limit.limit,
        chrono::Duration::seconds(limit.window_secs),
        1,
        now,
    );
    let governing = tightest(vec![universal, cat]);
    if governing.as_ref().is_some_and(|s| s.exceeded) {
        let mut r = rate_limited_body();
        if let Some(s) = &governing {
            add_limit_headers(&mut r, cfg, s, now);
        }
        return r;
    }
    let mut response = if let Some(missing) =
        needed.iter().find(|s| !scopes.iter().any(|g| g == *s))
    {
        // Status and code UNCONFIRMED.
        generic(
            403,
            3,
            &format!("Not authorized to access this resource: the token lacks the {missing} scope"),
        )
    } else {
        match (method, segments.as_slice()) {
            ("GET", ["user_account"]) => user_account(&inner, &user),
            ("GET", ["boards"]) => list_boards(&inner, req, &user),
            ("GET", ["boards", id]) => match owned_board(&inner, id, &user) {
                Some(b) => json_response(200, &board_json(&inner, b)),
                None => board_not_found(),
            },
            ("GET", ["boards", id, "pins"]) => {
                if owned_board(&inner, id, &user).is_none() {
                    board_not_found()
                } else {
                    list_pins(&inner, req, &user, Some(id))
                }
            }
            ("GET", ["boards", id, "sections"]) => match owned_board(&inner, id, &user) {
                Some(b) => {
                    let items: Vec<Value> = b
                        .sections
                        .iter()
                        .map(|(id, name)| json!({ "id": id, "name": name }))
                        .collect();
                    match paginate(&items, req) {
                        Ok((items, bookmark)) => {
                            json_response(200, &json!({ "items": items, "bookmark": bookmark }))
                        }
                        Err(r) => *r,
                    }
                }
                None => board_not_found(),
            },
            ("POST", ["pins"]) => create_pin(&mut inner, req, &user),
            ("GET", ["pins"]) => list_pins(&inner, req, &user, None),
            ("GET", ["pins", id]) => {
                let trial = inner.trial;
                match inner
                    .pins
                    .iter()
                    .find(|p| p.id == *id && (p.owner == user || !trial))
                {
                    Some(p) => json_response(200, &pin_json(p, &inner)),
                    None => generic(404, 50, "Pin not found."),
                }
            }
            ("POST", ["media"]) => register_media(&mut inner, cfg, req, &user, &shared.base_url),
            ("GET", ["media", id]) => media_status(&mut inner, id, &user),
            _ => generic(404, 404, "Not found"),
        }
    };
    if let Some(s) = &governing {
        add_limit_headers(&mut response, cfg, s, now);
    }
    response
}

fn user_account(inner: &Inner, user: &str) -> Response<Body> {
    let Some(u) = inner.user(user) else {
        return auth_failed();
    };
    let boards = inner.boards.iter().filter(|b| b.owner == user).count();
    let pins = inner.pins.iter().filter(|p| p.owner == user).count();
    json_response(
        200,
        &json!({
            "account_type": u.account_type,
            "id": u.id,
            "profile_image": format!("https://i.pinimg.com/600x600_R/{}.jpg", u.id),
            "website_url": "https://example.test",
            "username": u.username,
            "about": "",
            "business_name": u.business_name,
            "board_count": boards,
            "pin_count": pins,
            "follower_count": 0,
            "following_count": 0,
            "monthly_views": 0,
        }),
    )
}

fn owned_board<'a>(inner: &'a Inner, id: &str, user: &str) -> Option<&'a super::Board> {
    inner.boards.iter().find(|b| b.id == id && b.owner == user)
}

/// "Board not found" (Postiz matches this text); status and code UNCONFIRMED.
fn board_not_found() -> Response<Body> {
    generic(404, 40, "Board not found.")
}

fn board_json(inner: &Inner, b: &super::Board) -> Value {
    let owner = inner
        .user(&b.owner)
        .map(|u| u.username.clone())
        .unwrap_or_default();
    json!({
        "id": b.id,
        "created_at": rfc3339(b.created_at),
        "board_pins_modified_at": rfc3339(b.created_at),
        "name": b.name,
        "description": b.description,
        "collaborator_count": 0,
        "pin_count": inner.pins.iter().filter(|p| p.board_id == b.id).count(),
        "follower_count": 0,
        "media": { "image_cover_url": null, "pin_thumbnail_urls": [] },
        "owner": { "username": owner },
        "privacy": b.privacy,
    })
}

/// One page of items and the bookmark of the next page.
type Page = (Vec<Value>, Option<String>);

/// `page_size` (1..250, default 25) and `bookmark` (an opaque cursor) paging.
fn paginate(items: &[Value], req: &Req) -> Result<Page, Box<Response<Body>>> {
    let size = match req.query_param("page_size") {
        None => 25,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if n > 250 => {
                return Err(Box::new(bad(&format!(
                    "page_size: {n} is greater than the maximum of 250"
                ))))
            }
            Ok(n) if n < 1 => {
                return Err(Box::new(bad(&format!(
                    "page_size: {n} is less than the minimum of 1"
                ))))
            }
            Ok(n) => n as usize,
            Err(_) => {
                return Err(Box::new(bad(&format!(
                    "page_size: '{s}' is not of type 'integer'"
                ))))
            }
        },
    };
    let offset = match req.query_param("bookmark").filter(|b| !b.is_empty()) {
        None => 0,
        Some(b) => match URL_SAFE_NO_PAD
            .decode(b.as_bytes())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<usize>().ok()))
        {
            Some(n) => n,
            None => return Err(Box::new(bad("Invalid bookmark"))),
        },
    };
    let page: Vec<Value> = items.iter().skip(offset).take(size).cloned().collect();
    let next = offset + page.len();
    let bookmark =
        (next < items.len()).then(|| URL_SAFE_NO_PAD.encode(format!("o:{next}").as_bytes()));
    Ok((page, bookmark))
}

fn list_boards(inner: &Inner, req: &Req, user: &str) -> Response<Body> {
    let privacy = req
        .query_param("privacy")
        .unwrap_or_else(|| "ALL".into())
        .to_ascii_uppercase();
    let wanted: &[&str] = match privacy.as_str() {
        "ALL" => &["PUBLIC", "PROTECTED", "SECRET"],
        "PUBLIC" => &["PUBLIC"],
        "PROTECTED" => &["PROTECTED"],
        "SECRET" => &["SECRET"],
        "PUBLIC_AND_SECRET" => &["PUBLIC", "SECRET"],
        other => {
            return bad(&format!(
                "privacy: '{other}' is not one of ['ALL', 'PUBLIC', 'PROTECTED', 'SECRET', 'PUBLIC_AND_SECRET']"
            ))
        }
    };
    let items: Vec<Value> = inner
        .boards
        .iter()
        .filter(|b| b.owner == user && wanted.contains(&b.privacy.as_str()))
        .map(|b| board_json(inner, b))
        .collect();
    match paginate(&items, req) {
        Ok((items, bookmark)) => {
            json_response(200, &json!({ "items": items, "bookmark": bookmark }))
        }
        Err(r) => *r,
    }
}

/// The user's Pins (of one board), newest first.
fn list_pins(inner: &Inner, req: &Req, user: &str, board: Option<&str>) -> Response<Body> {
    let items: Vec<Value> = inner
        .pins
        .iter()
        .rev()
        .filter(|p| p.owner == user && board.is_none_or(|b| p.board_id == b))
        .map(|p| pin_json(p, inner))
        .collect();
    match paginate(&items, req) {
        Ok((items, bookmark)) => {
            json_response(200, &json!({ "items": items, "bookmark": bookmark }))
        }
        Err(r) => *r,
    }
}

fn text_field(body: &Value, key: &str) -> Result<Option<String>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key}: is not of type 'string'")),
    }
}

fn check_len(key: &str, value: &Option<String>, max: usize) -> Result<(), String> {
    match value {
        Some(v) if v.chars().count() > max => Err(format!(
            "{key}: '{}…' is too long (maximum length {max})",
            v.chars().take(20).collect::<String>()
        )),
        _ => Ok(()),
    }
}

fn is_web_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("https://") || l.starts_with("http://")
}

/// Decodes and inspects an `image_base64` payload.
fn decode_image(
    content_type: Option<&str>,
    data: Option<&str>,
    at: &str,
) -> Result<(u32, u32), String> {
    let content_type =
        content_type.ok_or_else(|| format!("{at}.content_type: is a required property"))?;
    if !matches!(content_type, "image/jpeg" | "image/png") {
        return Err(format!(
            "{at}.content_type: '{content_type}' is not one of ['image/jpeg', 'image/png']"
        ));
    }
    let data = data.ok_or_else(|| format!("{at}.data: is a required property"))?;
    let bytes = STANDARD
        .decode(data.trim().as_bytes())
        .map_err(|_| format!("{at}.data: is not valid base64"))?;
    let (kind, w, h) =
        inspect(&bytes).ok_or_else(|| format!("{at}.data: the image could not be read"))?;
    if kind != content_type {
        return Err(format!(
            "{at}.data: the image is {kind}, not {content_type}"
        ));
    }
    Ok((w, h))
}

/// What a checked `media_source` becomes.
struct Source {
    media_type: &'static str,
    source_type: String,
    sizes: Vec<(u32, u32)>,
    urls: Vec<String>,
    media_id: Option<String>,
    cover: Option<Value>,
}

fn check_items(items: Option<&Value>) -> Result<&Vec<Value>, String> {
    let items = items
        .and_then(Value::as_array)
        .ok_or("media_source.items: is a required property")?;
    if items.len() > 5 {
        return Err(format!(
            "media_source.items: [..{} items..] is too long (constraint: maxItems=5)",
            items.len()
        ));
    }
    if items.len() < 2 {
        return Err(format!(
            "media_source.items: [..{} items..] is too short (constraint: minItems=2)",
            items.len()
        ));
    }
    Ok(items)
}

fn check_source(inner: &Inner, user: &str, src: &Value) -> Result<Source, String> {
    let kind = src
        .get("source_type")
        .and_then(Value::as_str)
        .ok_or("media_source.source_type: is a required property")?;
    let s = |k: &str| src.get(k).and_then(Value::as_str);
    let mut out = Source {
        media_type: "image",
        source_type: kind.to_string(),
        sizes: Vec::new(),
        urls: Vec::new(),
        media_id: None,
        cover: None,
    };
    let url_ok = |url: &str| -> Result<(), String> {
        if !is_web_url(url) {
            return Err(format!("media_source.url: '{url}' is not a valid URL"));
        }
        if inner.unreachable.contains(url) {
            return Err(format!("Unable to reach the URL: {url}"));
        }
        Ok(())
    };
    match kind {
        "image_base64" => {
            out.sizes.push(decode_image(s("content_type"), s("data"), "media_source")?);
        }
        "image_url" => {
            let url = s("url").ok_or("media_source.url: is a required property")?;
            url_ok(url)?;
            out.urls.push(url.to_string());
        }
        "multiple_image_base64" => {
            out.media_type = "multiple_images";
            for (i, item) in check_items(src.get("items"))?.iter().enumerate() {
                let at = format!("media_source.items[{i}]");
                out.sizes.push(decode_image(
                    item.get("content_type").and_then(Value::as_str),
                    item.get("data").and_then(Value::as_str),
                    &at,
                )?);
            }
            // 3P (Postiz, Ayrshare): all carousel images must have one size.
            if out.sizes.iter().any(|s| *s != out.sizes[0]) {
                return Err("All images in a carousel must have the same dimensions".into());
            }
        }
        "multiple_image_urls" => {
            out.media_type = "multiple_images";
            let items = check_items(src.get("items"))?;
            for item in items {
                let url = item
                    .get("url")
                    .and_then(Value::as_str)
                    .ok_or("media_source.items.url: is a required property")?;
                url_ok(url)?;
                out.urls.push(url.to_string());
            }
            if let Some(index) = src.get("index") {
                let ok = index.as_u64().is_some_and(|i| (i as usize) < items.len());
                if !ok {
                    return Err("media_source.index: is out of range".into());
                }
            }
        }
        "video_id" => {
            out.media_type = "video";
            let media_id = s("media_id").ok_or("media_source.media_id: is a required property")?;
            let media = inner
                .media
                .iter()
                .find(|m| m.media_id == media_id && m.owner == user)
                .ok_or_else(|| format!("media_source.media_id: media {media_id} not found"))?;
            if media.status != "succeeded" {
                return Err(format!(
                    "media_source.media_id: media {media_id} is not ready (status: {})",
                    media.status
                ));
            }
            out.media_id = Some(media_id.to_string());
            out.cover = Some(if let Some(url) = s("cover_image_url") {
                url_ok(url)?;
                json!({ "cover_image_url": url })
            } else if s("cover_image_content_type").is_some() || s("cover_image_data").is_some() {
                let (w, h) = decode_image(
                    s("cover_image_content_type"),
                    s("cover_image_data"),
                    "media_source.cover_image",
                )?;
                json!({
                    "cover_image_content_type": s("cover_image_content_type"),
                    "cover_image_data_bytes": s("cover_image_data").map(str::len),
                    "cover_size": [w, h],
                })
            } else if let Some(t) = src.get("cover_image_key_frame_time") {
                let t = t
                    .as_u64()
                    .ok_or("media_source.cover_image_key_frame_time: is not of type 'integer'")?;
                json!({ "cover_image_key_frame_time": t })
            } else {
                // The wording Postiz matches.
                return Err(
                    "media_source: cover_image_url or cover_image_content_type and cover_image_data (or cover_image_key_frame_time) is required for video Pins"
                        .into(),
                );
            });
        }
        "pin_url" => return Err("media_source: pin_url is only available to beta partners".into()),
        other => {
            return Err(format!(
                "media_source.source_type: '{other}' is not one of ['image_base64', 'image_url', 'multiple_image_base64', 'multiple_image_urls', 'video_id', 'pin_url']"
            ))
        }
    }
    Ok(out)
}

fn create_pin(inner: &mut Inner, req: &Req, user: &str) -> Response<Body> {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return bad("Invalid request body: not JSON");
    };
    if !body.is_object() {
        return bad("Invalid request body: expected an object");
    }
    let fields = (|| -> Result<_, String> {
        let board_id = match body.get("board_id") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("board_id: is not of type 'string'".into()),
            None => return Err("board_id: is a required property".into()),
        };
        if board_id.is_empty() || !board_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("board_id: '{board_id}' does not match '^\\d+$'"));
        }
        let section = text_field(&body, "board_section_id")?;
        let title = text_field(&body, "title")?;
        let description = text_field(&body, "description")?;
        let link = text_field(&body, "link")?;
        let alt_text = text_field(&body, "alt_text")?;
        let color = text_field(&body, "dominant_color")?;
        check_len("title", &title, TITLE_MAX)?;
        check_len("description", &description, DESCRIPTION_MAX)?;
        check_len("link", &link, LINK_MAX)?;
        check_len("alt_text", &alt_text, ALT_MAX)?;
        if let Some(l) = link.as_deref().filter(|l| !is_web_url(l)) {
            return Err(format!("link: '{l}' is not a valid URL"));
        }
        Ok((board_id, section, title, description, link, alt_text, color))
    })();
    let (board_id, section, title, description, link, alt_text, color) = match fields {
        Ok(f) => f,
        Err(m) => return bad(&m),
    };
    let Some(board) = owned_board(inner, &board_id, user) else {
        return board_not_found();
    };
    if let Some(s) = &section {
        if !board.sections.iter().any(|(id, _)| id == s) {
            return generic(404, 40, "Board section not found.");
        }
    }
    let Some(src) = body.get("media_source").filter(|v| v.is_object()) else {
        return bad("media_source: is a required property");
    };
    let source = match check_source(inner, user, src) {
        Ok(s) => s,
        Err(m) => return bad(&m),
    };
    let now = inner.now();
    let pin = StoredPin {
        id: inner.new_id("1", 18),
        board_id,
        board_section_id: section,
        owner: user.to_string(),
        title,
        description,
        link,
        alt_text,
        dominant_color: color,
        media_type: source.media_type.to_string(),
        source_type: source.source_type,
        image_sizes: source.sizes,
        image_urls: source.urls,
        media_id: source.media_id,
        cover: source.cover,
        created_at: now,
    };
    let answer = pin_json(&pin, inner);
    inner.pins.push(pin);
    json_response(201, &answer)
}

fn register_media(
    inner: &mut Inner,
    cfg: &PinterestConfig,
    req: &Req,
    user: &str,
    base_url: &str,
) -> Response<Body> {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match body.get("media_type").and_then(Value::as_str) {
        Some("video") => {}
        Some(other) => return bad(&format!("media_type: '{other}' is not one of ['video']")),
        None => return bad("media_type: is a required property"),
    }
    let now = inner.now();
    let media_id = inner.new_id("7", 19);
    let date = now.format("%Y%m%d").to_string();
    let key = format!("uploads/{}/{media_id}", random_hex(8));
    let policy = STANDARD.encode(
        json!({
            "expiration": rfc3339(now + cfg.upload_policy_ttl),
            "conditions": [{"bucket": "pinterest-media-upload"}, {"key": key}],
        })
        .to_string(),
    );
    let mut params = std::collections::BTreeMap::new();
    params.insert(
        "x-amz-date".to_string(),
        now.format("%Y%m%dT%H%M%SZ").to_string(),
    );
    params.insert("x-amz-signature".to_string(), random_hex(64));
    params.insert(
        "x-amz-security-token".to_string(),
        random_string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            120,
        ),
    );
    params.insert(
        "x-amz-algorithm".to_string(),
        "AWS4-HMAC-SHA256".to_string(),
    );
    params.insert("key".to_string(), key);
    params.insert("policy".to_string(), policy);
    params.insert(
        "x-amz-credential".to_string(),
        format!(
            "ASIA{}/{date}/us-east-1/s3/aws4_request",
            random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
    );
    params.insert(
        "Content-Type".to_string(),
        "multipart/form-data".to_string(),
    );
    let plan = inner.media_plan;
    inner.media.push(StoredMedia {
        media_id: media_id.clone(),
        owner: user.to_string(),
        status: "registered".into(),
        plan,
        polls: 0,
        upload_parameters: params.clone(),
        uploaded_bytes: None,
        upload_file_name: None,
        upload_content_type: None,
        upload_fields: Vec::new(),
        looks_like_video: false,
        registered_at: now,
    });
    json_response(
        201,
        &json!({
            "media_id": media_id,
            "media_type": "video",
            "upload_url": format!("{base_url}{UPLOAD_PATH}"),
            "upload_parameters": params,
        }),
    )
}

/// One status check: a processing video moves on by its plan.
fn media_status(inner: &mut Inner, id: &str, user: &str) -> Response<Body> {
    let Some(m) = inner
        .media
        .iter_mut()
        .find(|m| m.media_id == id && m.owner == user)
    else {
        return generic(404, 404, "Media not found.");
    };
    if m.status == "processing" && m.uploaded_bytes.is_some() {
        m.polls += 1;
        let done = match m.plan {
            MediaPlan::SucceedAfterPolls { polls } => {
                (m.polls > polls).then_some(if m.looks_like_video {
                    "succeeded"
                } else {
                    "failed"
                })
            }
            MediaPlan::FailAfterPolls { polls } => (m.polls > polls).then_some("failed"),
            MediaPlan::NeverFinishes => None,
        };
        if let Some(status) = done {
            m.status = status.into();
        }
    }
    json_response(
        200,
        &json!({ "media_id": m.media_id, "media_type": "video", "status": m.status }),
    )
}
