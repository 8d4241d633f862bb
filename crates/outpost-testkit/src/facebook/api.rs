//! The Graph endpoints of the Facebook fake: wire formats, error envelopes, usage headers,
//! tokens and permissions as `facebook.md` describes them.

use axum::body::{Body, Bytes};
use axum::extract::FromRequest;
use axum::http::Request;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    graph_error, graph_fault_reply, CodeGrant, Endpoint, FacebookConfig, FbComment, FbPhoto,
    FbPost, FbUploadSession, FbVideo, GraphFault, Inner, PostKind, Processing, Reply, Req, Route,
    Shared, TokenInfo, TokenKind,
};
use crate::common::random_string;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const CREATE_CONTENT: &str = "CREATE_CONTENT";
const AS_THE_PAGE: &str = "(#200) Unpublished posts must be posted to a page as the page itself.";
const PUBLISH_PERMISSION: &str = "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission";
const FILE_TYPES: [&str; 5] = [
    "application/pdf",
    "image/jpeg",
    "image/jpg",
    "image/png",
    "video/mp4",
];

type Answer = Result<Reply, Reply>;

// ---- parameters ----------------------------------------------------------------------------

/// Query parameters and body fields (form-encoded, multipart or JSON); files from multipart.
pub(crate) struct Params {
    fields: Vec<(String, String)>,
    files: Vec<(String, Bytes)>,
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
    fn file(&self, key: &str) -> Option<&Bytes> {
        self.files.iter().find(|(k, _)| k == key).map(|(_, b)| b)
    }
    fn flag(&self, key: &str, default: bool) -> Result<bool, Reply> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(graph_error(
                100,
                None,
                &format!("(#100) Param {key} must be a boolean (got {other})"),
            )),
        }
    }
}

async fn read_params(req: &Req) -> Result<Params, Reply> {
    let mut fields = req.query_params();
    let mut files = Vec::new();
    let ct = req
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        let body: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body)
            .map_err(|_| graph_error(100, None, "(#100) The request body could not be read"))?;
        fields.extend(body);
    } else if ct.starts_with("multipart/form-data") {
        let request = Request::builder()
            .method("POST")
            .header(
                "content-type",
                req.header("content-type").unwrap_or_default(),
            )
            .body(Body::from(req.body.clone()))
            .map_err(|_| graph_error(100, None, "(#100) bad multipart body"))?;
        let mut multipart = axum::extract::Multipart::from_request(request, &())
            .await
            .map_err(|e| graph_error(100, None, &format!("(#100) {}", e.body_text())))?;
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or_default().to_string();
                    let is_file = field.file_name().is_some();
                    let data = field.bytes().await.map_err(|e| {
                        graph_error(100, None, &format!("(#100) {}", e.body_text()))
                    })?;
                    if is_file {
                        files.push((name, data));
                    } else {
                        fields.push((name, String::from_utf8_lossy(&data).into_owned()));
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(graph_error(100, None, &format!("(#100) {}", e.body_text()))),
            }
        }
    } else if ct.starts_with("application/json") && !req.body.is_empty() {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&req.body) {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                fields.push((k, text));
            }
        }
    }
    Ok(Params { fields, files })
}

/// The token a request carries: `Authorization: Bearer|OAuth …`, else `access_token`.
fn token_str(req: &Req, params: Option<&Params>) -> Option<String> {
    if let Some(auth) = req.header("authorization") {
        if let Some((scheme, token)) = auth.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
                return Some(token.trim().to_string());
            }
        }
    }
    if let Some(p) = params {
        if let Some(t) = p.get("access_token") {
            return Some(t.to_string());
        }
    }
    req.query_params()
        .into_iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
}

/// v27 new-app rules: no method override, no multi-ID reads (the real error body is
/// UNCONFIRMED; a Graph 100 is sent).
pub(super) fn refused_protocol(req: &Req) -> Option<Reply> {
    let q = req.query_params();
    if q.iter().any(|(k, _)| k == "method") {
        return Some(graph_error(
            100,
            None,
            "(#100) HTTP method override (method=) is not available to this app; send the real HTTP verb",
        ));
    }
    if q.iter().any(|(k, _)| k == "ids") {
        return Some(graph_error(
            100,
            None,
            "(#100) Multi-ID requests (ids=) are not available to this app; address one object per call",
        ));
    }
    None
}

/// `X-App-Usage` for an answer given before routing (unknown paths, refused protocol).
pub(super) fn plain_usage(shared: &Shared) -> Vec<(String, String)> {
    let mut inner = shared.lock();
    let now = inner.now();
    note_call(&mut inner, None, now);
    usage_headers(&inner, &shared.cfg, None, None)
}

pub(super) fn token_kind_of(shared: &Shared, req: &Req) -> Option<TokenKind> {
    let t = token_str(req, None)?;
    shared.lock().tokens.get(&t).map(|i| i.kind)
}

// ---- usage headers and throttling -----------------------------------------------------------

/// The Page a call is about: the Page token's, or a Page in the path.
fn page_of_call(inner: &Inner, tok: Option<&TokenInfo>, route: &Route) -> Option<String> {
    if let Some(p) = tok.and_then(|t| t.page_id.clone()) {
        return Some(p);
    }
    let id = route.id.as_deref()?;
    if inner.page(id).is_some() {
        return Some(id.to_string());
    }
    if let Some(p) = inner.posts.iter().find(|p| p.id == id) {
        return Some(p.page_id.clone());
    }
    inner
        .videos
        .iter()
        .find(|v| v.id == id)
        .map(|v| v.page_id.clone())
}

fn note_call(inner: &mut Inner, page: Option<&str>, now: DateTime<Utc>) {
    let hour_ago = now - chrono::Duration::hours(1);
    inner.app_calls.retain(|t| *t > hour_ago);
    inner.app_calls.push(now);
    if let Some(p) = page {
        let calls = inner.page_calls.entry(p.to_string()).or_default();
        calls.retain(|t| *t > hour_ago);
        calls.push(now);
    }
}

fn percent(n: usize, of: u32) -> u64 {
    ((n as u64) * 100 / u64::from(of.max(1))).min(100)
}

fn usage_headers(
    inner: &Inner,
    cfg: &FacebookConfig,
    page: Option<&str>,
    regain: Option<u64>,
) -> Vec<(String, String)> {
    let app = inner
        .app_usage
        .unwrap_or_else(|| percent(inner.app_calls.len(), cfg.app_calls_per_hour));
    let mut out = vec![(
        "x-app-usage".to_string(),
        json!({"call_count": app, "total_time": app / 2, "total_cputime": app / 3}).to_string(),
    )];
    if let Some(p) = page {
        let used = inner.page_usage.get(p).copied().unwrap_or_else(|| {
            percent(
                inner.page_calls.get(p).map_or(0, Vec::len),
                cfg.page_calls_per_hour,
            )
        });
        let used = if regain.is_some_and(|m| m > 0) {
            100
        } else {
            used
        };
        out.push((
            "x-business-use-case-usage".to_string(),
            json!({ p: [{
                "type": "pages",
                "call_count": used,
                "total_cputime": used / 3,
                "total_time": used / 2,
                "estimated_time_to_regain_access": regain.unwrap_or(0),
            }]})
            .to_string(),
        ));
    }
    out
}

/// A throttle in force for this call: the error and the minutes left.
fn throttled(inner: &mut Inner, page: Option<&str>, now: DateTime<Utc>) -> Option<(Reply, u64)> {
    inner.throttles.retain(|(_, until)| *until > now);
    let (t, until) = inner
        .throttles
        .iter_mut()
        .find(|(t, _)| t.page_id.is_none() || t.page_id.as_deref() == page)?;
    if t.extend_on_call {
        *until = now + chrono::Duration::minutes(t.minutes as i64);
    }
    let left = ((*until - now).num_seconds().max(1) as u64).div_ceil(60);
    Some((graph_error(t.code, None, ""), left))
}

pub(super) fn fault_headers(
    shared: &Shared,
    route: &Route,
    req: &Req,
    f: &GraphFault,
    reply: &mut Reply,
) {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    let tok = token_str(req, None).and_then(|t| inner.tokens.get(&t).cloned());
    let page = page_of_call(&inner, tok.as_ref(), route);
    note_call(&mut inner, page.as_deref(), now);
    let regain = f.regain_minutes.or(match f.code {
        4 | 17 | 32 | 613 | 80001 => Some(0),
        _ => None,
    });
    reply
        .headers
        .extend(usage_headers(&inner, cfg, page.as_deref(), regain));
}

// ---- authentication ------------------------------------------------------------------------

fn authenticate(inner: &Inner, token: Option<&str>) -> Result<TokenInfo, Reply> {
    let Some(token) = token else {
        return Err(graph_error(
            104,
            None,
            "An access token is required to request this resource.",
        ));
    };
    let Some(info) = inner.tokens.get(token) else {
        return Err(graph_error(190, None, ""));
    };
    if let Some(sub) = info.revoked {
        return Err(graph_error(190, Some(sub), ""));
    }
    let now = inner.now();
    if let Some(exp) = info.expires_at.filter(|e| *e <= now) {
        return Err(graph_error(
            190,
            Some(463),
            &format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                exp.format("%A, %d-%b-%y %H:%M:%S UTC"),
                now.format("%A, %d-%b-%y %H:%M:%S UTC")
            ),
        ));
    }
    if info.kind == TokenKind::Page {
        let page = info.page_id.as_deref().unwrap_or_default();
        if inner.tasks(&info.user_id, page).is_none() {
            return Err(graph_error(190, Some(492), ""));
        }
    }
    Ok(info.clone())
}

fn has_scope(tok: &TokenInfo, scope: &str) -> bool {
    tok.scopes.iter().any(|s| s == scope)
}

fn no_object(id: &str, verb: &str) -> Reply {
    graph_error(
        100,
        Some(33),
        &format!("Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"),
    )
}

/// A call that creates or changes content on `page_id`: a Page token of that Page whose user
/// holds CREATE_CONTENT, with `pages_manage_posts` and `pages_read_engagement`.
fn page_publisher(inner: &Inner, tok: &TokenInfo, page_id: &str) -> Result<(), Reply> {
    if inner.page(page_id).is_none() {
        return Err(no_object(page_id, "post"));
    }
    if tok.kind == TokenKind::User {
        return Err(graph_error(200, None, AS_THE_PAGE));
    }
    if tok.page_id.as_deref() != Some(page_id) {
        return Err(graph_error(
            200,
            None,
            "(#200) The Page access token does not belong to this Page",
        ));
    }
    let can = inner
        .tasks(&tok.user_id, page_id)
        .is_some_and(|t| t.iter().any(|t| t == CREATE_CONTENT));
    if !can || !has_scope(tok, "pages_manage_posts") || !has_scope(tok, "pages_read_engagement") {
        return Err(graph_error(200, None, PUBLISH_PERMISSION));
    }
    Ok(())
}

/// A read of a Page's posts: a Page token of that Page with `pages_read_engagement`.
fn page_reader(inner: &Inner, tok: &TokenInfo, page_id: &str) -> Result<(), Reply> {
    if inner.page(page_id).is_none() {
        return Err(no_object(page_id, "get"));
    }
    if tok.kind == TokenKind::User || tok.page_id.as_deref() != Some(page_id) {
        return Err(graph_error(
            210,
            None,
            "(#210) A page access token is required to request this resource.",
        ));
    }
    if !has_scope(tok, "pages_read_engagement") {
        return Err(graph_error(
            10,
            None,
            "(#10) This endpoint requires the 'pages_read_engagement' permission",
        ));
    }
    Ok(())
}

// ---- formats -------------------------------------------------------------------------------

fn fb_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// `scheduled_publish_time`: a UNIX timestamp or an ISO 8601 time (strtotime strings are not
/// understood by the fake).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return DateTime::from_timestamp(n, 0);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn permalink(post: &FbPost) -> String {
    let short = post.id.split_once('_').map_or(post.id.as_str(), |(_, s)| s);
    match post.kind {
        PostKind::Video => format!(
            "https://www.facebook.com/{}/videos/{}/",
            post.page_id,
            post.object_id.as_deref().unwrap_or(short)
        ),
        PostKind::Reel => format!(
            "https://www.facebook.com/reel/{}/",
            post.object_id.as_deref().unwrap_or(short)
        ),
        _ => format!("https://www.facebook.com/{}/posts/{short}/", post.page_id),
    }
}

fn post_json(p: &FbPost) -> Value {
    let mut v = json!({
        "id": p.id,
        "created_time": fb_time(p.created_time),
        "is_published": p.published,
        "permalink_url": permalink(p),
    });
    if let Some(m) = &p.message {
        v["message"] = json!(m);
    }
    if let Some(t) = p.scheduled_publish_time.filter(|_| !p.published) {
        v["scheduled_publish_time"] = json!(t.timestamp());
    }
    v
}

/// The publishing window check for `published` / `scheduled_publish_time`.
fn schedule(
    cfg: &FacebookConfig,
    now: DateTime<Utc>,
    params: &Params,
) -> Result<(bool, Option<DateTime<Utc>>), Reply> {
    let published = params.flag("published", true)?;
    let Some(raw) = params.get("scheduled_publish_time") else {
        return Ok((published, None));
    };
    if published {
        return Err(graph_error(
            100,
            None,
            "(#100) You cannot specify a scheduled publish time on a published post",
        ));
    }
    let at = check_window(cfg, now, raw)?;
    Ok((false, Some(at)))
}

fn check_window(
    cfg: &FacebookConfig,
    now: DateTime<Utc>,
    raw: &str,
) -> Result<DateTime<Utc>, Reply> {
    let invalid = || {
        graph_fault_reply(&GraphFault {
            code: 100,
            message: Some("(#100) The specified scheduled publish time is invalid.".into()),
            user_title: Some("Invalid scheduled publish time".into()),
            user_msg: Some(
                "The scheduled publish time must be between 10 minutes and 30 days from when the request is made."
                    .into(),
            ),
            ..GraphFault::default()
        })
    };
    let at = parse_time(raw).ok_or_else(invalid)?;
    if at - now < cfg.schedule_min || at - now > cfg.schedule_max {
        return Err(invalid());
    }
    Ok(at)
}

fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| bytes.starts_with(p);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if starts(&[0x89, b'P', b'N', b'G']) {
        Some("image/png")
    } else if starts(b"GIF8") {
        Some("image/gif")
    } else if starts(b"BM") {
        Some("image/bmp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("image/tiff")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn paged(items: Vec<Value>, params: &Params, base: &str, path: &str) -> Value {
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let start = params
        .get("after")
        .and_then(|a| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(a)
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let end = start + page.len();
    let cursor = |n: usize| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_string());
    let mut out = json!({ "data": page });
    if total > 0 {
        out["paging"] = json!({"cursors": {"before": cursor(start), "after": cursor(end)}});
        if end < total {
            out["paging"]["next"] =
                json!(format!("{base}{path}?limit={limit}&after={}", cursor(end)));
        }
    }
    out
}

fn since_filter(params: &Params) -> Option<DateTime<Utc>> {
    params.get("since").and_then(parse_time)
}

// ---- dispatch ------------------------------------------------------------------------------

pub(super) async fn process(
    shared: &Shared,
    route: &Route,
    req: &Req,
) -> (Reply, Option<TokenKind>) {
    let params = match read_params(req).await {
        Ok(p) => p,
        Err(r) => return (r, None),
    };
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    inner.promote_due();
    let now = inner.now();
    match route.endpoint {
        Endpoint::Token => {
            note_call(&mut inner, None, now);
            let mut reply = token_endpoint(&mut inner, cfg, &params).unwrap_or_else(|e| e);
            reply.headers.extend(usage_headers(&inner, cfg, None, None));
            return (reply, None);
        }
        Endpoint::DebugToken => {
            note_call(&mut inner, None, now);
            let token = token_str(req, Some(&params));
            let mut reply =
                debug_token(&inner, cfg, &params, token.as_deref()).unwrap_or_else(|e| e);
            reply.headers.extend(usage_headers(&inner, cfg, None, None));
            return (reply, None);
        }
        _ => {}
    }
    let token = token_str(req, Some(&params));
    let known_kind = token
        .as_deref()
        .and_then(|t| inner.tokens.get(t))
        .map(|t| t.kind);
    let tok = match authenticate(&inner, token.as_deref()) {
        Ok(t) => t,
        Err(mut reply) => {
            note_call(&mut inner, None, now);
            reply.headers.extend(usage_headers(&inner, cfg, None, None));
            return (reply, known_kind);
        }
    };
    let page = page_of_call(&inner, Some(&tok), route);
    note_call(&mut inner, page.as_deref(), now);
    if let Some((mut reply, left)) = throttled(&mut inner, page.as_deref(), now) {
        reply
            .headers
            .extend(usage_headers(&inner, cfg, page.as_deref(), Some(left)));
        return (reply, Some(tok.kind));
    }
    let id = route.id.clone().unwrap_or_default();
    let base = shared.base_url.clone();
    let inner_ref = &mut *inner;
    let result = match route.endpoint {
        Endpoint::Me => me(inner_ref, &tok),
        Endpoint::Accounts => accounts(inner_ref, &tok, &params, route, &base),
        Endpoint::Node => node(inner_ref, &tok, &id, &params),
        Endpoint::Feed => feed(inner_ref, cfg, &tok, &id, &params, now),
        Endpoint::PageFeed | Endpoint::PublishedPosts => {
            list_posts(inner_ref, &tok, &id, &params, false, &base, route)
        }
        Endpoint::ScheduledPosts => list_posts(inner_ref, &tok, &id, &params, true, &base, route),
        Endpoint::Photos => photos(inner_ref, cfg, &tok, &id, &params, now),
        Endpoint::UploadStart => upload_start(inner_ref, &tok, &id, &params, now),
        Endpoint::UploadTransfer => upload_transfer(inner_ref, &tok, &id, req),
        Endpoint::UploadStatus => upload_status(inner_ref, &tok, &id),
        Endpoint::Videos => videos(inner_ref, cfg, &tok, &id, &params, now),
        Endpoint::PageVideos => list_videos(inner_ref, &tok, &id, &params, false, &base, route),
        Endpoint::PageReels => list_videos(inner_ref, &tok, &id, &params, true, &base, route),
        Endpoint::VideoReels => video_reels(inner_ref, cfg, &tok, &id, &params, &base, route, now),
        Endpoint::Rupload => rupload(inner_ref, &tok, &id, req),
        Endpoint::Comments => comment(inner_ref, &tok, &id, &params, now),
        Endpoint::ReadComments => read_comments(inner_ref, &tok, &id, &params, &base, route),
        Endpoint::Update => update(inner_ref, cfg, &tok, &id, &params, now),
        Endpoint::Delete => delete(inner_ref, &tok, &id),
        Endpoint::Token | Endpoint::DebugToken | Endpoint::Any => Err(graph_error(2500, None, "")),
    };
    let mut reply = result.unwrap_or_else(|e| e);
    reply
        .headers
        .extend(usage_headers(&inner, cfg, page.as_deref(), None));
    (reply, Some(tok.kind))
}

// ---- OAuth ---------------------------------------------------------------------------------

fn token_endpoint(inner: &mut Inner, cfg: &FacebookConfig, params: &Params) -> Answer {
    let client_id = params.get("client_id").unwrap_or_default().to_string();
    let Some(secret) = inner.apps.get(&client_id).cloned() else {
        return Err(graph_error(
            101,
            None,
            "Error validating application. Invalid application ID.",
        ));
    };
    if params.get("client_secret") != Some(secret.as_str()) {
        // Meta answers a wrong secret with code 1 and HTTP 400.
        return Err(graph_fault_reply(&GraphFault {
            code: 1,
            status: Some(400),
            message: Some("Error validating client secret.".into()),
            is_transient: Some(false),
            ..GraphFault::default()
        }));
    }
    match params.get("grant_type") {
        Some("fb_exchange_token") => {
            let Some(short) = params.get("fb_exchange_token") else {
                return Err(graph_error(
                    100,
                    None,
                    "(#100) The parameter fb_exchange_token is required",
                ));
            };
            let info = authenticate(inner, Some(short))?;
            if info.kind != TokenKind::User || info.app_id != client_id {
                return Err(graph_error(
                    100,
                    None,
                    "(#100) fb_exchange_token must be a user access token of this app",
                ));
            }
            let tokens =
                inner.issue_user_token(cfg, &info.user_id, &client_id, &info.scopes, true);
            Ok(Reply::json(
                200,
                json!({
                    "access_token": tokens.access_token,
                    "token_type": "bearer",
                    "expires_in": cfg.long_lived_expires_in,
                }),
            ))
        }
        Some("authorization_code") | None if params.get("code").is_some() => {
            let code = params.get("code").unwrap_or_default().to_string();
            let now = inner.now();
            let Some(entry) = inner.codes.get_mut(&code) else {
                return Err(graph_error(100, Some(36009), "Invalid verification code format."));
            };
            if entry.used {
                return Err(graph_error(
                    100,
                    Some(36009),
                    "This authorization code has been used.",
                ));
            }
            if entry.expires_at <= now {
                return Err(graph_error(
                    100,
                    Some(36007),
                    "This authorization code has expired.",
                ));
            }
            if entry.grant.client_id != client_id
                || params.get("redirect_uri") != Some(entry.grant.redirect_uri.as_str())
            {
                return Err(graph_error(
                    100,
                    Some(36008),
                    "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
                ));
            }
            entry.used = true;
            let CodeGrant {
                user_id, scopes, ..
            } = entry.grant.clone();
            let tokens = inner.issue_user_token(cfg, &user_id, &client_id, &scopes, false);
            Ok(Reply::json(
                200,
                json!({
                    "access_token": tokens.access_token,
                    "token_type": "bearer",
                    "expires_in": tokens.expires_in,
                }),
            ))
        }
        Some(other) => Err(graph_error(
            100,
            None,
            &format!("(#100) Unsupported grant_type: {other} (Facebook has no refresh token grant; exchange a valid token with fb_exchange_token)"),
        )),
        None => Err(graph_error(
            100,
            None,
            "(#100) Missing code or fb_exchange_token",
        )),
    }
}

fn debug_token(
    inner: &Inner,
    cfg: &FacebookConfig,
    params: &Params,
    token: Option<&str>,
) -> Answer {
    // An app token (`app_id|secret`) or any valid token of the app may inspect tokens.
    let app_token = format!("{}|{}", cfg.app_id, cfg.app_secret);
    match token {
        Some(t) if t == app_token => {}
        other => {
            authenticate(inner, other)?;
        }
    }
    let Some(input) = params.get("input_token") else {
        return Err(graph_error(
            100,
            None,
            "(#100) The parameter input_token is required",
        ));
    };
    let now = inner.now();
    let Some(info) = inner.tokens.get(input) else {
        return Ok(Reply::json(
            200,
            json!({"data": {"is_valid": false, "error": {"code": 190, "message": "Invalid OAuth access token."}}}),
        ));
    };
    let valid = info.revoked.is_none() && info.expires_at.is_none_or(|e| e > now);
    let mut data = json!({
        "app_id": info.app_id,
        "type": if info.kind == TokenKind::Page { "PAGE" } else { "USER" },
        "application": "Outpost (fake)",
        "expires_at": info.expires_at.map_or(0, |e| e.timestamp()),
        "data_access_expires_at": (info.issued_at + chrono::Duration::days(90)).timestamp(),
        "issued_at": info.issued_at.timestamp(),
        "is_valid": valid,
        "scopes": info.scopes,
        "user_id": info.user_id,
    });
    if let Some(p) = &info.page_id {
        data["profile_id"] = json!(p);
    }
    Ok(Reply::json(200, json!({ "data": data })))
}

// ---- users and Pages -----------------------------------------------------------------------

fn me(inner: &mut Inner, tok: &TokenInfo) -> Answer {
    if let Some(p) = tok.page_id.as_deref().and_then(|p| inner.page(p)) {
        return Ok(Reply::json(200, json!({"id": p.id, "name": p.name})));
    }
    let user = inner
        .user(&tok.user_id)
        .ok_or_else(|| graph_error(190, None, ""))?;
    Ok(Reply::json(200, json!({"id": user.id, "name": user.name})))
}

fn accounts(
    inner: &mut Inner,
    tok: &TokenInfo,
    params: &Params,
    route: &Route,
    base: &str,
) -> Answer {
    if tok.kind == TokenKind::Page {
        return Err(graph_error(
            100,
            None,
            "(#100) Tried accessing nonexisting field (accounts) on node type (Page)",
        ));
    }
    if let Some(id) = route.id.as_deref() {
        if id != tok.user_id {
            return Err(no_object(id, "get"));
        }
    }
    if !has_scope(tok, "pages_show_list") {
        return Err(graph_error(
            200,
            None,
            "(#200) Requires pages_show_list permission to manage the object",
        ));
    }
    let mine: Vec<(String, Vec<String>)> = inner
        .pages
        .iter()
        .filter_map(|p| {
            inner
                .tasks(&tok.user_id, &p.id)
                .map(|t| (p.id.clone(), t.clone()))
        })
        .collect();
    let mut items = Vec::new();
    for (page_id, tasks) in mine {
        let token = inner.page_token_for(tok, &page_id);
        let Some(p) = inner.page(&page_id) else {
            continue;
        };
        let mut v = json!({
            "id": p.id,
            "name": p.name,
            "category": "Brand",
            "access_token": token,
            "tasks": tasks,
        });
        if let Some(u) = &p.username {
            v["username"] = json!(u);
        }
        items.push(v);
    }
    let path = format!("/{}/me/accounts", route.version);
    Ok(Reply::json(200, paged(items, params, base, &path)))
}

fn wanted(params: &Params, field: &str) -> bool {
    params
        .get("fields")
        .is_some_and(|f| f.split(',').any(|x| x.trim() == field))
}

fn node(inner: &mut Inner, tok: &TokenInfo, id: &str, params: &Params) -> Answer {
    if let Some(page) = inner.page(id).cloned() {
        let mut v = json!({"id": page.id, "name": page.name, "category": "Brand"});
        if let Some(u) = &page.username {
            v["username"] = json!(u);
        }
        if wanted(params, "access_token") {
            match tok.kind {
                TokenKind::User => {
                    if inner.tasks(&tok.user_id, id).is_none() {
                        return Err(graph_error(
                            190,
                            Some(492),
                            "Error validating access token: The user does not have a role on this Page.",
                        ));
                    }
                    v["access_token"] = json!(inner.page_token_for(tok, id));
                }
                TokenKind::Page => {}
            }
        }
        return Ok(Reply::json(200, v));
    }
    if let Some(u) = inner.user(id) {
        return Ok(Reply::json(200, json!({"id": u.id, "name": u.name})));
    }
    if let Some(i) = inner.videos.iter().position(|v| v.id == id && !v.deleted) {
        let page = inner.videos[i].page_id.clone();
        if tok.page_id.as_deref() != Some(page.as_str()) {
            return Err(no_object(id, "get"));
        }
        if wanted(params, "status") && inner.videos[i].finishes > 0 {
            advance(inner, i);
        }
        let v = &inner.videos[i];
        return Ok(Reply::json(200, video_json(v)));
    }
    if let Some(p) = inner.posts.iter().find(|p| p.id == id && !p.deleted) {
        if tok.page_id.as_deref() != Some(p.page_id.as_str()) {
            return Err(no_object(id, "get"));
        }
        return Ok(Reply::json(200, post_json(p)));
    }
    if let Some(p) = inner.photos.iter().find(|p| p.id == id) {
        return Ok(Reply::json(
            200,
            json!({"id": p.id, "created_time": fb_time(p.created_time), "alt_text_custom": p.alt_text_custom}),
        ));
    }
    Err(no_object(id, "get"))
}

// ---- posts ---------------------------------------------------------------------------------

/// `attached_media` as a JSON array, or `attached_media[0]={"media_fbid":…}` fields.
fn attached_media(params: &Params) -> Result<Vec<String>, Reply> {
    let bad = || {
        graph_error(
            100,
            None,
            "(#100) param attached_media must be an array of objects with media_fbid",
        )
    };
    let mut raw: Vec<Value> = Vec::new();
    if let Some(a) = params.get("attached_media") {
        match serde_json::from_str::<Value>(a) {
            Ok(Value::Array(items)) => raw.extend(items),
            _ => return Err(bad()),
        }
    }
    let mut indexed: Vec<(usize, Value)> = Vec::new();
    for (k, v) in &params.fields {
        if let Some(n) = k
            .strip_prefix("attached_media[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok())
        {
            indexed.push((n, serde_json::from_str(v).map_err(|_| bad())?));
        }
    }
    indexed.sort_by_key(|(n, _)| *n);
    raw.extend(indexed.into_iter().map(|(_, v)| v));
    raw.iter()
        .map(|v| {
            v.get("media_fbid")
                .and_then(|m| {
                    m.as_str()
                        .map(str::to_string)
                        .or_else(|| m.as_u64().map(|n| n.to_string()))
                })
                .ok_or_else(bad)
        })
        .collect()
}

fn feed(
    inner: &mut Inner,
    cfg: &FacebookConfig,
    tok: &TokenInfo,
    page_id: &str,
    params: &Params,
    now: DateTime<Utc>,
) -> Answer {
    page_publisher(inner, tok, page_id)?;
    let message = params.get("message").map(str::to_string);
    let link = params.get("link").map(str::to_string);
    let media = attached_media(params)?;
    let (published, scheduled) = schedule(cfg, now, params)?;
    if message.is_none() && link.is_none() && media.is_empty() {
        return Err(graph_error(
            100,
            None,
            "(#100) Missing message or attachment",
        ));
    }
    if let Some(l) = &link {
        let host = l
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', '?', '#', ':']).next())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !(l.starts_with("http://") || l.starts_with("https://")) || host.is_empty() {
            return Err(graph_error(100, None, "(#100) The link is not a valid URL"));
        }
        if host.ends_with(".invalid") {
            return Err(graph_fault_reply(&GraphFault {
                code: 100,
                subcode: Some(1609005),
                message: Some("(#100) The URL could not be scraped".into()),
                user_title: Some("Link could not be retrieved".into()),
                user_msg: Some(
                    "The link you shared could not be retrieved. Check the address and try again."
                        .into(),
                ),
                ..GraphFault::default()
            }));
        }
    }
    for id in &media {
        match inner.photos.iter().find(|p| &p.id == id) {
            Some(p) if p.page_id == page_id && !p.published && p.post_id.is_none() => {}
            Some(p) if p.page_id == page_id => {
                return Err(graph_error(
                    100,
                    Some(1366051),
                    "(#100) These photos were already posted.",
                ))
            }
            _ => {
                return Err(graph_error(
                    100,
                    None,
                    &format!("(#100) Invalid media_fbid {id}"),
                ))
            }
        }
    }
    // Consecutive identical status updates are refused (506).
    if media.is_empty() {
        let last = inner
            .posts
            .iter()
            .rev()
            .find(|p| p.page_id == page_id && !p.deleted);
        if let Some(last) = last {
            if matches!(last.kind, PostKind::Status | PostKind::Link)
                && last.message == message
                && last.link == link
            {
                return Err(graph_error(506, None, ""));
            }
        }
    }
    let kind = if !media.is_empty() {
        PostKind::Photos
    } else if link.is_some() {
        PostKind::Link
    } else {
        PostKind::Status
    };
    let id = format!("{page_id}_{}", inner.new_id());
    for m in &media {
        if let Some(p) = inner.photos.iter_mut().find(|p| &p.id == m) {
            p.post_id = Some(id.clone());
        }
    }
    inner.posts.push(FbPost {
        id: id.clone(),
        page_id: page_id.to_string(),
        kind,
        message,
        link,
        attached_media: media,
        object_id: None,
        created_time: now,
        published,
        scheduled_publish_time: scheduled,
        published_at: published.then_some(now),
        deleted: false,
        edits: 0,
    });
    Ok(Reply::json(200, json!({ "id": id })))
}

#[allow(clippy::too_many_arguments)]
fn list_posts(
    inner: &mut Inner,
    tok: &TokenInfo,
    page_id: &str,
    params: &Params,
    scheduled: bool,
    base: &str,
    route: &Route,
) -> Answer {
    page_reader(inner, tok, page_id)?;
    let since = since_filter(params);
    let mut items: Vec<&FbPost> = inner
        .posts
        .iter()
        .filter(|p| p.page_id == page_id)
        .filter(|p| if scheduled { p.is_held() } else { p.is_live() })
        .filter(|p| since.is_none_or(|s| p.created_time >= s))
        .collect();
    items.sort_by_key(|p| std::cmp::Reverse(p.published_at.unwrap_or(p.created_time)));
    let values = items.into_iter().map(post_json).collect();
    let path = route_path(route);
    Ok(Reply::json(200, paged(values, params, base, &path)))
}

fn route_path(route: &Route) -> String {
    let edge = match route.endpoint {
        Endpoint::PageFeed => "feed",
        Endpoint::PublishedPosts => "published_posts",
        Endpoint::ScheduledPosts => "scheduled_posts",
        Endpoint::PageVideos => "videos",
        Endpoint::PageReels => "video_reels",
        Endpoint::ReadComments => "comments",
        _ => "",
    };
    format!(
        "/{}/{}/{edge}",
        route.version,
        route.id.as_deref().unwrap_or_default()
    )
}

fn photos(
    inner: &mut Inner,
    cfg: &FacebookConfig,
    tok: &TokenInfo,
    page_id: &str,
    params: &Params,
    now: DateTime<Utc>,
) -> Answer {
    page_publisher(inner, tok, page_id)?;
    let (published, scheduled) = schedule(cfg, now, params)?;
    let (bytes, via, mime) = match (params.file("source"), params.get("url")) {
        (Some(b), _) => {
            if b.len() as u64 > cfg.photo_max_bytes {
                return Err(graph_fault_reply(&GraphFault {
                    code: 100,
                    subcode: Some(1366046),
                    message: Some("(#100) Photo is too large".into()),
                    user_title: Some("Photo too large".into()),
                    user_msg: Some("Your photo couldn't be uploaded. Photos should be less than 4 MB and saved as JPG, PNG, GIF, TIFF, HEIF or WebP files.".into()),
                    ..GraphFault::default()
                }));
            }
            let Some(mime) = sniff(b) else {
                return Err(graph_error(324, None, ""));
            };
            (b.clone(), "source", mime.to_string())
        }
        (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            (Bytes::new(), "url", String::new())
        }
        _ => return Err(graph_error(324, None, "(#324) Requires upload file")),
    };
    let id = inner.new_id();
    let caption = params
        .get("caption")
        .or(params.get("message"))
        .map(str::to_string);
    let mut photo = FbPhoto {
        id: id.clone(),
        page_id: page_id.to_string(),
        published,
        bytes: bytes.len() as u64,
        sha256: sha(&bytes),
        mime,
        caption: caption.clone(),
        alt_text_custom: params.get("alt_text_custom").map(str::to_string),
        via: via.to_string(),
        post_id: None,
        created_time: now,
    };
    let mut answer = json!({ "id": id });
    if published || scheduled.is_some() {
        let post_id = format!("{page_id}_{}", inner.new_id());
        photo.post_id = Some(post_id.clone());
        inner.posts.push(FbPost {
            id: post_id.clone(),
            page_id: page_id.to_string(),
            kind: PostKind::Photos,
            message: caption,
            link: None,
            attached_media: vec![id.clone()],
            object_id: None,
            created_time: now,
            published,
            scheduled_publish_time: scheduled,
            published_at: published.then_some(now),
            deleted: false,
            edits: 0,
        });
        answer["post_id"] = json!(post_id);
    }
    inner.photos.push(photo);
    Ok(Reply::json(200, answer))
}

// ---- resumable upload ----------------------------------------------------------------------

fn upload_start(
    inner: &mut Inner,
    tok: &TokenInfo,
    app_id: &str,
    params: &Params,
    now: DateTime<Utc>,
) -> Answer {
    if tok.kind != TokenKind::User {
        return Err(graph_error(
            100,
            None,
            "(#100) Upload sessions must be started with a user access token",
        ));
    }
    if tok.app_id != app_id {
        return Err(graph_error(
            100,
            None,
            "(#100) The app id in the path does not match the access token's app",
        ));
    }
    let length = params
        .get("file_length")
        .and_then(|l| l.parse::<u64>().ok())
        .filter(|l| *l > 0)
        .ok_or_else(|| graph_error(100, None, "(#100) file_length must be a positive number"))?;
    let file_type = params.get("file_type").unwrap_or_default().to_string();
    if !FILE_TYPES.contains(&file_type.as_str()) {
        return Err(graph_error(
            100,
            None,
            &format!("(#100) file_type must be one of {}", FILE_TYPES.join(", ")),
        ));
    }
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "1:{}:{}",
        random_string(ALNUM, 24),
        inner.new_id()
    ));
    inner.sessions.push(FbUploadSession {
        id: id.clone(),
        app_id: app_id.to_string(),
        user_id: tok.user_id.clone(),
        file_name: params.get("file_name").unwrap_or_default().to_string(),
        file_length: length,
        file_type,
        file_offset: 0,
        transfers: Vec::new(),
        handle: None,
        created: now,
    });
    inner.session_bytes.insert(id.clone(), Vec::new());
    Ok(Reply::json(200, json!({ "id": format!("upload:{id}") })))
}

fn session_index(inner: &Inner, tok: &TokenInfo, sid: &str) -> Result<usize, Reply> {
    let i = inner
        .sessions
        .iter()
        .position(|s| s.id == sid)
        .ok_or_else(|| no_object(&format!("upload:{sid}"), "get"))?;
    if tok.kind != TokenKind::User || inner.sessions[i].user_id != tok.user_id {
        return Err(graph_error(
            100,
            None,
            "(#100) This upload session belongs to another user; use the user access token that started it",
        ));
    }
    Ok(i)
}

fn upload_transfer(inner: &mut Inner, tok: &TokenInfo, sid: &str, req: &Req) -> Answer {
    let i = session_index(inner, tok, sid)?;
    let Some(offset) = req
        .header("file_offset")
        .and_then(|o| o.trim().parse::<u64>().ok())
    else {
        return Err(graph_error(
            100,
            None,
            "(#100) The file_offset header is required",
        ));
    };
    let s = &inner.sessions[i];
    if s.handle.is_some() {
        return Ok(Reply::json(200, json!({ "h": s.handle })));
    }
    if offset != s.file_offset {
        return Err(graph_error(
            100,
            None,
            &format!(
                "(#100) file_offset {offset} does not match the bytes received so far ({}); resume from there",
                s.file_offset
            ),
        ));
    }
    if offset + req.body.len() as u64 > s.file_length {
        return Err(graph_error(
            100,
            None,
            "(#100) More bytes than the file_length given when the session started",
        ));
    }
    let data = inner.session_bytes.entry(sid.to_string()).or_default();
    data.extend_from_slice(&req.body);
    let done = data.len() as u64;
    let complete_hash = (done == inner.sessions[i].file_length).then(|| sha(data));
    let s = &mut inner.sessions[i];
    s.file_offset = done;
    s.transfers.push(req.body.len() as u64);
    if let Some(hash) = complete_hash {
        let handle = format!(
            "4:{}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", s.id, &hash[..16]))
        );
        s.handle = Some(handle.clone());
        inner.handles.insert(handle.clone(), sid.to_string());
        return Ok(Reply::json(200, json!({ "h": handle })));
    }
    // A body that ends before the file does (UNCONFIRMED: the reference documents only the
    // complete upload and `GET` for the offset; the fake answers like that `GET`).
    Ok(Reply::json(
        200,
        json!({"id": format!("upload:{sid}"), "file_offset": done}),
    ))
}

fn upload_status(inner: &mut Inner, tok: &TokenInfo, sid: &str) -> Answer {
    let i = session_index(inner, tok, sid)?;
    let s = &inner.sessions[i];
    Ok(Reply::json(
        200,
        json!({"id": format!("upload:{sid}"), "file_offset": s.file_offset}),
    ))
}

// ---- videos and Reels ----------------------------------------------------------------------

fn video_json(v: &FbVideo) -> Value {
    let uploading = if v.bytes_received == 0 && v.file_size > 0 {
        "not_started"
    } else if v.bytes_received < v.file_size {
        "in_progress"
    } else {
        "complete"
    };
    let processing = match v.video_status.as_str() {
        "processing" => "in_progress",
        "ready" => "complete",
        "error" => "error",
        _ => "not_started",
    };
    let publishing = if v.published {
        "complete"
    } else {
        "not_started"
    };
    let mut processing_phase = json!({ "status": processing });
    if let Some(m) = &v.error_message {
        processing_phase["errors"] = json!([{ "code": 1363008, "message": m }]);
    }
    let mut publishing_phase = json!({ "status": publishing });
    if v.published {
        publishing_phase["publish_status"] = json!("published");
    } else if let Some(t) = v.scheduled_publish_time {
        publishing_phase["publish_status"] = json!("scheduled");
        publishing_phase["publish_time"] = json!(t.timestamp());
    }
    let mut out = json!({
        "id": v.id,
        "created_time": fb_time(v.created_time),
        "published": v.published,
        "status": {
            "video_status": v.video_status,
            "uploading_phase": { "status": uploading, "bytes_transfered": v.bytes_received },
            "processing_phase": processing_phase,
            "publishing_phase": publishing_phase,
        }
    });
    if let Some(d) = &v.description {
        out["description"] = json!(d);
    }
    if let Some(t) = &v.title {
        out["title"] = json!(t);
    }
    if let Some(t) = v.scheduled_publish_time.filter(|_| !v.published) {
        out["scheduled_publish_time"] = json!(t.timestamp());
    }
    if let Some(p) = &v.post_id {
        out["post_id"] = json!(p);
    }
    out
}

/// One status read of a finished Reel: the plan moves it on.
fn advance(inner: &mut Inner, i: usize) {
    if matches!(inner.videos[i].video_status.as_str(), "ready" | "error") {
        return;
    }
    inner.videos[i].polls += 1;
    let plan = inner
        .video_plans
        .get(&inner.videos[i].id)
        .cloned()
        .unwrap_or_else(|| inner.reel_processing.clone());
    settle(inner, i, &plan);
}

fn settle(inner: &mut Inner, i: usize, plan: &Processing) {
    let polls = inner.videos[i].polls;
    match plan {
        Processing::AfterPolls { polls: n } if polls >= *n => ready(inner, i),
        Processing::Fail {
            after_polls,
            message,
        } if polls >= *after_polls => {
            let v = &mut inner.videos[i];
            v.video_status = "error".into();
            v.error_message = Some(message.clone());
        }
        _ => inner.videos[i].video_status = "processing".into(),
    }
}

/// Processing done: a published Reel gets its post, a scheduled one a held post.
fn ready(inner: &mut Inner, i: usize) {
    inner.videos[i].video_status = "ready".into();
    let v = inner.videos[i].clone();
    let state = v.video_state.as_deref().unwrap_or("PUBLISHED");
    if state == "DRAFT" || v.post_id.is_some() {
        return;
    }
    let now = inner.now();
    let post_id = format!("{}_{}", v.page_id, inner.new_id());
    let published = state == "PUBLISHED";
    inner.posts.push(FbPost {
        id: post_id.clone(),
        page_id: v.page_id.clone(),
        kind: PostKind::Reel,
        message: v.description.clone(),
        link: None,
        attached_media: Vec::new(),
        object_id: Some(v.id.clone()),
        created_time: now,
        published,
        scheduled_publish_time: v.scheduled_publish_time,
        published_at: published.then_some(now),
        deleted: false,
        edits: 0,
    });
    let v = &mut inner.videos[i];
    v.post_id = Some(post_id);
    v.published = published;
}

fn videos(
    inner: &mut Inner,
    cfg: &FacebookConfig,
    tok: &TokenInfo,
    page_id: &str,
    params: &Params,
    now: DateTime<Utc>,
) -> Answer {
    page_publisher(inner, tok, page_id)?;
    let (published, scheduled) = schedule(cfg, now, params)?;
    let (size, hash, bytes) = match (
        params.get("fbuploader_video_file_chunk"),
        params.file("source"),
    ) {
        (Some(h), _) => {
            let Some(sid) = inner.handles.get(h).cloned() else {
                return Err(graph_error(
                    100,
                    None,
                    "(#100) Invalid fbuploader_video_file_chunk: unknown file handle",
                ));
            };
            let s = inner.sessions.iter().find(|s| s.id == sid).cloned();
            let Some(s) = s.filter(|s| s.app_id == tok.app_id) else {
                return Err(graph_error(
                    100,
                    None,
                    "(#100) The file handle belongs to another app",
                ));
            };
            let data = inner.session_bytes.get(&sid).cloned().unwrap_or_default();
            (s.file_length, sha(&data), data)
        }
        (None, Some(b)) => (b.len() as u64, sha(b), b.to_vec()),
        (None, None) => {
            return Err(graph_error(
                100,
                None,
                "(#100) Video file is required: fbuploader_video_file_chunk or source",
            ))
        }
    };
    let id = inner.new_id();
    let post_id = format!("{page_id}_{}", inner.new_id());
    let description = params.get("description").map(str::to_string);
    inner.videos.push(FbVideo {
        id: id.clone(),
        page_id: page_id.to_string(),
        reel: false,
        title: params.get("title").map(str::to_string),
        description: description.clone(),
        file_size: size,
        bytes_received: size,
        sha256: Some(hash),
        video_status: "ready".into(),
        video_state: None,
        published,
        scheduled_publish_time: scheduled,
        post_id: Some(post_id.clone()),
        error_message: None,
        polls: 0,
        finishes: 0,
        created_time: now,
        deleted: false,
    });
    inner.video_bytes.insert(id.clone(), bytes);
    inner.posts.push(FbPost {
        id: post_id,
        page_id: page_id.to_string(),
        kind: PostKind::Video,
        message: description,
        link: None,
        attached_media: Vec::new(),
        object_id: Some(id.clone()),
        created_time: now,
        published,
        scheduled_publish_time: scheduled,
        published_at: published.then_some(now),
        deleted: false,
        edits: 0,
    });
    Ok(Reply::json(200, json!({ "id": id })))
}

#[allow(clippy::too_many_arguments)]
fn list_videos(
    inner: &mut Inner,
    tok: &TokenInfo,
    page_id: &str,
    params: &Params,
    reels: bool,
    base: &str,
    route: &Route,
) -> Answer {
    page_reader(inner, tok, page_id)?;
    let since = since_filter(params);
    let mut items: Vec<&FbVideo> = inner
        .videos
        .iter()
        .filter(|v| v.page_id == page_id && v.reel == reels && !v.deleted)
        .filter(|v| !reels || v.finishes > 0)
        .filter(|v| since.is_none_or(|s| v.created_time >= s))
        .collect();
    items.sort_by_key(|v| std::cmp::Reverse(v.created_time));
    let values = items.into_iter().map(video_json).collect();
    let path = route_path(route);
    Ok(Reply::json(200, paged(values, params, base, &path)))
}

#[allow(clippy::too_many_arguments)]
fn video_reels(
    inner: &mut Inner,
    cfg: &FacebookConfig,
    tok: &TokenInfo,
    page_id: &str,
    params: &Params,
    base: &str,
    route: &Route,
    now: DateTime<Utc>,
) -> Answer {
    page_publisher(inner, tok, page_id)?;
    match params.get("upload_phase") {
        Some("start") => {
            let day_ago = now - chrono::Duration::hours(24);
            let mut recent: Vec<DateTime<Utc>> = inner
                .videos
                .iter()
                .filter(|v| v.page_id == page_id && v.reel && v.finishes > 0)
                .filter(|v| matches!(v.video_state.as_deref(), Some("PUBLISHED" | "SCHEDULED")))
                .filter(|v| v.created_time > day_ago)
                .map(|v| v.created_time)
                .collect();
            if recent.len() >= cfg.reels_per_day {
                recent.sort();
                let free_at = recent[0] + chrono::Duration::hours(24);
                let minutes = ((free_at - now).num_seconds().max(60) as u64).div_ceil(60);
                // The error for the 31st Reel is UNCONFIRMED; a Page throttle (32) with the
                // usage header's wait is what Outpost can act on.
                let mut reply = graph_fault_reply(&GraphFault {
                    code: 32,
                    message: Some(format!(
                        "(#32) Page request limit reached: a Page can publish {} Reels through the API in 24 hours",
                        cfg.reels_per_day
                    )),
                    ..GraphFault::default()
                });
                reply
                    .headers
                    .extend(usage_headers(inner, cfg, Some(page_id), Some(minutes)));
                return Err(reply);
            }
            let id = inner.new_id();
            inner.videos.push(FbVideo {
                id: id.clone(),
                page_id: page_id.to_string(),
                reel: true,
                title: None,
                description: None,
                file_size: 0,
                bytes_received: 0,
                sha256: None,
                video_status: "upload_in_progress".into(),
                video_state: None,
                published: false,
                scheduled_publish_time: None,
                post_id: None,
                error_message: None,
                polls: 0,
                finishes: 0,
                created_time: now,
                deleted: false,
            });
            inner.video_bytes.insert(id.clone(), Vec::new());
            Ok(Reply::json(
                200,
                json!({
                    "video_id": id,
                    "upload_url": format!("{base}/video-upload/{}/{id}", route.version),
                }),
            ))
        }
        Some("finish") => {
            let vid = params.get("video_id").unwrap_or_default().to_string();
            let Some(i) = inner
                .videos
                .iter()
                .position(|v| v.id == vid && v.reel && v.page_id == page_id && !v.deleted)
            else {
                return Err(graph_error(100, None, "(#100) Invalid video_id"));
            };
            let state = params
                .get("video_state")
                .unwrap_or("PUBLISHED")
                .to_ascii_uppercase();
            if !matches!(state.as_str(), "PUBLISHED" | "DRAFT" | "SCHEDULED") {
                return Err(graph_error(
                    100,
                    None,
                    "(#100) video_state must be one of PUBLISHED, DRAFT, SCHEDULED",
                ));
            }
            if inner.videos[i].finishes > 0 {
                // Finishing twice changes nothing.
                inner.videos[i].finishes += 1;
                return Ok(Reply::json(200, json!({ "success": true })));
            }
            let v = &inner.videos[i];
            if v.file_size == 0 || v.bytes_received < v.file_size {
                return Err(graph_error(
                    100,
                    None,
                    "(#100) The video has not been uploaded completely; upload it before finishing",
                ));
            }
            let scheduled = if state == "SCHEDULED" {
                let raw = params.get("scheduled_publish_time").ok_or_else(|| {
                    graph_error(
                        100,
                        None,
                        "(#100) scheduled_publish_time is required with video_state SCHEDULED",
                    )
                })?;
                Some(check_window(cfg, now, raw)?)
            } else {
                None
            };
            let plan = inner
                .video_plans
                .get(&vid)
                .cloned()
                .unwrap_or_else(|| inner.reel_processing.clone());
            let v = &mut inner.videos[i];
            v.finishes = 1;
            v.video_state = Some(state);
            v.scheduled_publish_time = scheduled;
            v.description = params.get("description").map(str::to_string);
            v.title = params.get("title").map(str::to_string);
            v.video_status = "processing".into();
            inner.video_plans.insert(vid.clone(), plan.clone());
            settle(inner, i, &plan);
            Ok(Reply::json(200, json!({ "success": true })))
        }
        _ => Err(graph_error(
            100,
            None,
            "(#100) upload_phase must be start or finish",
        )),
    }
}

/// rupload errors are not Graph envelopes (3P: `{"debug_info":{"retriable","type","message"}}`).
fn rupload_error(status: u16, kind: &str, message: &str, retriable: bool) -> Reply {
    Reply::json(
        status,
        json!({"debug_info": {"retriable": retriable, "type": kind, "message": message}}),
    )
}

fn rupload(inner: &mut Inner, tok: &TokenInfo, video_id: &str, req: &Req) -> Answer {
    let Some(i) = inner
        .videos
        .iter()
        .position(|v| v.id == video_id && v.reel && !v.deleted)
    else {
        return Err(rupload_error(
            404,
            "NotFoundError",
            "Video not found",
            false,
        ));
    };
    if tok.page_id.as_deref() != Some(inner.videos[i].page_id.as_str()) {
        return Err(rupload_error(
            401,
            "AuthError",
            "The access token is not a Page token of the video's Page",
            false,
        ));
    }
    if inner.videos[i].finishes > 0 {
        return Err(rupload_error(
            400,
            "UploadFinishedError",
            "The upload was already finished",
            false,
        ));
    }
    if let Some(url) = req.header("file_url") {
        // The fake does not fetch hosted files; it takes the whole file as arrived.
        let size = req
            .header("file_size")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(1);
        let v = &mut inner.videos[i];
        v.file_size = size;
        v.bytes_received = size;
        v.sha256 = Some(sha(url.as_bytes()));
        v.video_status = "upload_complete".into();
        return Ok(Reply::json(200, json!({ "success": true })));
    }
    let offset = req
        .header("offset")
        .and_then(|o| o.trim().parse::<u64>().ok());
    let size = req
        .header("file_size")
        .and_then(|s| s.trim().parse::<u64>().ok());
    let (Some(offset), Some(size)) = (offset, size) else {
        return Err(rupload_error(
            400,
            "MissingHeaderError",
            "The offset and file_size headers are required",
            false,
        ));
    };
    let v = &inner.videos[i];
    if v.file_size != 0 && v.file_size != size {
        return Err(rupload_error(
            400,
            "FileSizeMismatchError",
            "file_size differs from the first request",
            false,
        ));
    }
    if offset != v.bytes_received {
        return Err(rupload_error(
            400,
            "OffsetInvalidError",
            &format!(
                "Invalid offset {offset}: {} bytes were received so far",
                v.bytes_received
            ),
            false,
        ));
    }
    if offset + req.body.len() as u64 > size {
        return Err(rupload_error(
            400,
            "FileSizeMismatchError",
            "More bytes than file_size",
            false,
        ));
    }
    let data = inner.video_bytes.entry(video_id.to_string()).or_default();
    data.extend_from_slice(&req.body);
    let received = data.len() as u64;
    let hash = (received == size).then(|| sha(data));
    let v = &mut inner.videos[i];
    v.file_size = size;
    v.bytes_received = received;
    if let Some(h) = hash {
        v.sha256 = Some(h);
        v.video_status = "upload_complete".into();
    }
    Ok(Reply::json(200, json!({ "success": true })))
}

// ---- comments, edits, deletes --------------------------------------------------------------

/// The Page and liveness of a post or video.
fn object(inner: &Inner, id: &str) -> Option<(String, bool)> {
    if let Some(p) = inner.posts.iter().find(|p| p.id == id && !p.deleted) {
        return Some((p.page_id.clone(), p.published));
    }
    inner
        .videos
        .iter()
        .find(|v| v.id == id && !v.deleted)
        .map(|v| (v.page_id.clone(), v.published))
}

fn comment(
    inner: &mut Inner,
    tok: &TokenInfo,
    id: &str,
    params: &Params,
    now: DateTime<Utc>,
) -> Answer {
    let Some((page_id, live)) = object(inner, id) else {
        return Err(no_object(id, "post"));
    };
    if tok.page_id.as_deref() != Some(page_id.as_str()) {
        return Err(graph_error(200, None, "(#200) Permissions error"));
    }
    if !has_scope(tok, "pages_manage_engagement") {
        return Err(graph_error(
            200,
            None,
            "(#200) Requires pages_manage_engagement permission to manage the object",
        ));
    }
    if !live {
        return Err(graph_error(
            100,
            None,
            "(#100) Comments cannot be added to a post that is not published yet",
        ));
    }
    let Some(message) = params.get("message") else {
        return Err(graph_error(
            100,
            None,
            "(#100) Missing message or attachment",
        ));
    };
    let short = id.split_once('_').map_or(id, |(_, s)| s);
    let cid = format!("{short}_{}", inner.new_id());
    inner.comments.push(FbComment {
        id: cid.clone(),
        object_id: id.to_string(),
        message: message.to_string(),
        from_id: page_id,
        created_time: now,
    });
    Ok(Reply::json(200, json!({ "id": cid })))
}

fn read_comments(
    inner: &mut Inner,
    tok: &TokenInfo,
    id: &str,
    params: &Params,
    base: &str,
    route: &Route,
) -> Answer {
    let Some((page_id, _)) = object(inner, id) else {
        return Err(no_object(id, "get"));
    };
    if tok.page_id.as_deref() != Some(page_id.as_str()) {
        return Err(no_object(id, "get"));
    }
    let name = inner
        .page(&page_id)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let items = inner
        .comments
        .iter()
        .filter(|c| c.object_id == id)
        .map(|c| {
            json!({
                "id": c.id,
                "message": c.message,
                "created_time": fb_time(c.created_time),
                "from": {"id": c.from_id, "name": name},
            })
        })
        .collect();
    let path = route_path(route);
    Ok(Reply::json(200, paged(items, params, base, &path)))
}

fn update(
    inner: &mut Inner,
    cfg: &FacebookConfig,
    tok: &TokenInfo,
    id: &str,
    params: &Params,
    now: DateTime<Utc>,
) -> Answer {
    let Some((page_id, _)) = object(inner, id) else {
        return Err(no_object(id, "post"));
    };
    page_publisher(inner, tok, &page_id)?;
    let is_video = inner.videos.iter().any(|v| v.id == id && !v.deleted);
    let (post_idx, video_idx) = if is_video {
        let vi = inner.videos.iter().position(|v| v.id == id);
        let pi = vi
            .and_then(|vi| inner.videos[vi].post_id.clone())
            .and_then(|pid| inner.posts.iter().position(|p| p.id == pid));
        (pi, vi)
    } else {
        let pi = inner.posts.iter().position(|p| p.id == id);
        let vi = pi
            .and_then(|pi| inner.posts[pi].object_id.clone())
            .and_then(|vid| inner.videos.iter().position(|v| v.id == vid));
        (pi, vi)
    };
    let held = match (post_idx, video_idx) {
        (Some(pi), _) => inner.posts[pi].is_held(),
        (None, Some(vi)) => {
            let v = &inner.videos[vi];
            !v.published && v.scheduled_publish_time.is_some()
        }
        _ => false,
    };
    let new_time = match params.get("scheduled_publish_time") {
        Some(raw) if held => Some(check_window(cfg, now, raw)?),
        Some(_) => {
            return Err(graph_error(
                100,
                None,
                "(#100) Only a scheduled post can get a new scheduled_publish_time",
            ))
        }
        None => None,
    };
    let publish_now = params.flag("is_published", false)?;
    if publish_now && !held {
        return Err(graph_error(
            100,
            None,
            "(#100) The post is already published",
        ));
    }
    let text_key = if is_video { "description" } else { "message" };
    let text = params
        .get(text_key)
        .or(params.get("message"))
        .map(str::to_string);
    if let Some(pi) = post_idx {
        let p = &mut inner.posts[pi];
        if let Some(t) = &text {
            p.message = Some(t.clone());
        }
        if let Some(at) = new_time {
            p.scheduled_publish_time = Some(at);
        }
        if publish_now {
            p.published = true;
            p.published_at = Some(now);
        }
        p.edits += 1;
    }
    if let Some(vi) = video_idx {
        let v = &mut inner.videos[vi];
        if let Some(t) = &text {
            v.description = Some(t.clone());
        }
        if let Some(t) = params.get("title") {
            v.title = Some(t.to_string());
        }
        if let Some(at) = new_time {
            v.scheduled_publish_time = Some(at);
        }
        if publish_now {
            v.published = true;
        }
    }
    Ok(Reply::json(200, json!({ "success": true })))
}

fn delete(inner: &mut Inner, tok: &TokenInfo, id: &str) -> Answer {
    let Some((page_id, _)) = object(inner, id) else {
        return Err(no_object(id, "delete"));
    };
    page_publisher(inner, tok, &page_id)?;
    let mut linked: Vec<String> = vec![id.to_string()];
    if let Some(p) = inner.posts.iter().find(|p| p.id == id) {
        linked.extend(p.object_id.clone());
    }
    if let Some(v) = inner.videos.iter().find(|v| v.id == id) {
        linked.extend(v.post_id.clone());
    }
    for p in inner.posts.iter_mut().filter(|p| linked.contains(&p.id)) {
        p.deleted = true;
    }
    for v in inner.videos.iter_mut().filter(|v| linked.contains(&v.id)) {
        v.deleted = true;
    }
    Ok(Reply::json(200, json!({ "success": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_unix_or_iso() {
        assert_eq!(
            parse_time("1800000000").map(|t| t.timestamp()),
            Some(1_800_000_000)
        );
        assert_eq!(
            parse_time("2027-01-15T08:00:00+0000").map(|t| t.timestamp()),
            parse_time("2027-01-15T08:00:00Z").map(|t| t.timestamp())
        );
        assert!(parse_time("next tuesday").is_none());
    }

    #[test]
    fn images_are_sniffed() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n"), Some("image/png"));
        assert_eq!(sniff(b"hello"), None);
    }
}
