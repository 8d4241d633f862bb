//! The TikTok API endpoints of the fake (everything but the chunk upload): wire formats,
//! status codes and error bodies as `tiktok.md` describes them.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{
    AccessToken, CodeGrant, Endpoint, Inner, Reply, Req, Shared, StatusPlan, TikTokConfig,
    TikTokPublish, TikTokUser,
};
use crate::common::random_string;

const HEX: &[u8] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SELF_ONLY: &str = "SELF_ONLY";
const PUBLIC_OPTIONS: [&str; 3] = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"];
const PRIVATE_OPTIONS: [&str; 3] = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"];
const BASIC_FIELDS: [&str; 6] = [
    "open_id",
    "union_id",
    "avatar_url",
    "avatar_url_100",
    "avatar_large_url",
    "display_name",
];
const PROFILE_FIELDS: [&str; 4] = [
    "bio_description",
    "profile_deep_link",
    "is_verified",
    "username",
];
const STATS_FIELDS: [&str; 4] = [
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
];

// ---- bodies ----------------------------------------------------------------------------------

/// A log id shaped like TikTok's (timestamp + random hex).
pub(super) fn log_id() -> String {
    format!(
        "{}{}",
        Utc::now().format("%Y%m%d%H%M%S"),
        random_string(HEX, 18).to_ascii_uppercase()
    )
}

/// `{"data":{},"error":{"code","message","log_id"}}`.
pub(super) fn envelope_error(code: &str, message: &str) -> Value {
    json!({"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}})
}

fn ok(data: Value) -> Reply {
    Reply::json(
        200,
        json!({"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}}),
    )
}

fn err(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, envelope_error(code, message))
}

pub(super) fn not_found() -> Reply {
    err(404, "not_found", "The requested path does not exist.")
}

fn invalid(message: impl Into<String>) -> Reply {
    err(400, "invalid_params", &message.into())
}

fn access_token_invalid() -> Reply {
    err(
        401,
        "access_token_invalid",
        "The access token is invalid or not found in the request.",
    )
}

fn scope_not_authorized() -> Reply {
    err(
        401,
        "scope_not_authorized",
        "The user did not authorize the scope required for completing this request.",
    )
}

/// `429 rate_limit_exceeded`; TikTok documents no reset header.
pub(super) fn too_many(retry_after_secs: Option<u64>) -> Reply {
    let reply = err(
        429,
        "rate_limit_exceeded",
        "API rate limit was exceeded. Please try again later.",
    );
    match retry_after_secs {
        Some(s) => reply.with_header("retry-after", s.to_string()),
        None => reply,
    }
}

/// The answer of an error fault: `code` or the usual one for the status.
pub(super) fn fault_error(status: u16, code: Option<&str>, message: Option<&str>) -> Reply {
    let code = code.unwrap_or(match status {
        400 => "invalid_params",
        401 => "access_token_invalid",
        403 => "spam_risk_too_many_posts",
        404 => "not_found",
        429 => "rate_limit_exceeded",
        _ => "internal_error",
    });
    let message = message.unwrap_or(match code {
        "internal_error" => "Something went wrong. Please try again later.",
        "spam_risk_too_many_posts" => {
            "The daily post cap from the API is reached for the current user."
        }
        "spam_risk_too_many_pending_share" => {
            "The daily upload cap from the API is reached for the current user."
        }
        "spam_risk_user_banned_from_posting" => "The user is banned from making new posts.",
        "reached_active_user_cap" => {
            "The daily quota for active publishing users from your client is reached."
        }
        "unaudited_client_can_only_post_to_private_accounts" => {
            "Unaudited clients can only post to a private account."
        }
        "access_token_invalid" => "The access token is invalid or not found in the request.",
        "scope_not_authorized" => {
            "The user did not authorize the scope required for completing this request."
        }
        "rate_limit_exceeded" => "API rate limit was exceeded. Please try again later.",
        _ => "The request failed.",
    });
    err(status, code, message)
}

fn oauth_error(cfg: &TikTokConfig, error: &str, description: &str) -> Reply {
    Reply::json(
        if cfg.oauth_errors_under_200 { 200 } else { 400 },
        json!({"error": error, "error_description": description, "log_id": log_id()}),
    )
}

// ---- helpers ---------------------------------------------------------------------------------

/// A registered redirect URI matches `given` exactly, or with a `*` port matching any port.
pub(crate) fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let Some((head, tail)) = registered.split_once(":*") else {
        return false;
    };
    let Some(rest) = given.strip_prefix(head).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && digits <= 5 && rest[digits..] == *tail
}

/// 64 lower-case hex characters (a base64url S256 challenge has 43 and mixed case).
pub(crate) fn is_hex_challenge(c: &str) -> bool {
    c.len() == 64
        && c.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// RFC 7636 verifier: 43–128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn form(req: &Req) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&req.body).unwrap_or_default()
}

fn field(form: &[(String, String)], key: &str) -> Option<String> {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

fn bearer(req: &Req) -> Option<&str> {
    let auth = req.header("authorization")?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn json_object(req: &Req) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("The request body must be a JSON object.")),
    }
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The privacy options creator info offers (an unaudited app: `SELF_ONLY` only; the exact
/// form TikTok uses is UNCONFIRMED, this is the documented behaviour).
pub(super) fn privacy_options(user: &TikTokUser, audited: bool) -> Vec<String> {
    if !audited {
        return vec![SELF_ONLY.to_string()];
    }
    if let Some(o) = &user.privacy_options {
        return o.clone();
    }
    let list = if user.private_account {
        PRIVATE_OPTIONS
    } else {
        PUBLIC_OPTIONS
    };
    list.iter().map(|s| s.to_string()).collect()
}

/// Direct posts of a creator that count against the daily cap: out, or with all bytes in and
/// not failed, in the last 24 h.
fn posts_today(inner: &Inner, open_id: &str, now: DateTime<Utc>) -> u32 {
    let since = now - chrono::Duration::hours(24);
    inner
        .publishes
        .iter()
        .filter(|p| p.open_id == open_id && p.mode == "direct" && p.status != "FAILED")
        .filter(|p| {
            p.done_at
                .map_or(p.upload_complete && p.created_at > since, |d| d > since)
        })
        .count() as u32
}

/// Inbox shares waiting for the creator, from the last 24 h.
fn pending_inbox(inner: &Inner, open_id: &str, now: DateTime<Utc>) -> u32 {
    let since = now - chrono::Duration::hours(24);
    inner
        .publishes
        .iter()
        .filter(|p| p.open_id == open_id && p.mode == "inbox" && p.status == "SEND_TO_USER_INBOX")
        .filter(|p| p.done_at.is_some_and(|d| d > since))
        .count() as u32
}

// ---- dispatch --------------------------------------------------------------------------------

pub(super) fn process(
    shared: &Shared,
    endpoint: Endpoint,
    req: &Req,
    pulled: Option<Option<String>>,
) -> Reply {
    match endpoint {
        Endpoint::Authorize => authorize(shared, req),
        Endpoint::Token => oauth_token(shared, req),
        Endpoint::Revoke => oauth_revoke(shared, req),
        Endpoint::Upload | Endpoint::Any => not_found(),
        _ => authed(shared, endpoint, req, pulled.flatten()),
    }
}

fn authed(shared: &Shared, endpoint: Endpoint, req: &Req, pull_error: Option<String>) -> Reply {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    let Some(token_text) = bearer(req).map(str::to_string) else {
        return access_token_invalid();
    };
    let Some(token) = inner.access.get(&token_text).cloned() else {
        return access_token_invalid();
    };
    if token.expires_at <= now {
        return access_token_invalid();
    }
    // Per-token sliding 1-minute windows.
    if let Some(limit) = inner
        .limits
        .get(&endpoint)
        .copied()
        .or(endpoint.default_per_minute())
    {
        let key = (endpoint.window_name().to_string(), token_text.clone());
        let window = inner.windows.entry(key).or_default();
        while window
            .front()
            .is_some_and(|t| *t <= now - chrono::Duration::seconds(60))
        {
            window.pop_front();
        }
        if window.len() as u32 >= limit {
            return too_many(None);
        }
        window.push_back(now);
    }
    let has = |s: &str| token.scopes.iter().any(|g| g == s);
    let result = match endpoint {
        Endpoint::UserInfo => user_info(&inner, &token, req),
        Endpoint::CreatorInfo if !has("video.publish") => Err(scope_not_authorized()),
        Endpoint::CreatorInfo => creator_info(&inner, cfg, &token, now),
        Endpoint::VideoInit if !has("video.publish") => Err(scope_not_authorized()),
        Endpoint::VideoInit => video_init(&mut inner, cfg, &shared.base_url, &token, req, now),
        Endpoint::InboxInit if !has("video.upload") => Err(scope_not_authorized()),
        Endpoint::InboxInit => inbox_init(&mut inner, cfg, &shared.base_url, &token, req, now),
        Endpoint::ContentInit => content_init(&mut inner, cfg, &token, req, now, pull_error),
        Endpoint::Status if !has("video.upload") && !has("video.publish") => {
            Err(scope_not_authorized())
        }
        Endpoint::Status => status_fetch(&mut inner, cfg, &token, req, now),
        _ => Err(not_found()),
    };
    result.unwrap_or_else(|e| e)
}

type Answer = Result<Reply, Reply>;

// ---- OAuth -----------------------------------------------------------------------------------

/// The consent page, answered for the user set with `set_authorize_user`: 302 to the redirect
/// URI with `code`, `scopes` (plural) and `state`.
fn authorize(shared: &Shared, req: &Req) -> Reply {
    let bad = |m: &str| {
        Reply::json(
            400,
            json!({"error": "invalid_request", "error_description": m}),
        )
    };
    let p = |k: &str| req.param(k).filter(|v| !v.is_empty());
    let (Some(client_key), Some(redirect_uri)) = (p("client_key"), p("redirect_uri")) else {
        return bad("client_key and redirect_uri are required");
    };
    let mut inner = shared.lock();
    let Some(client) = inner.clients.get(&client_key).cloned() else {
        return bad("client_key is unknown");
    };
    if !client
        .redirect_uris
        .iter()
        .any(|r| redirect_matches(r, &redirect_uri))
    {
        return bad("redirect_uri is not registered for this app");
    }
    let back = |query: Vec<(&str, String)>| {
        let q = serde_urlencoded::to_string(query).unwrap_or_default();
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        Reply::empty(302).with_header("location", format!("{redirect_uri}{sep}{q}"))
    };
    let state = p("state").unwrap_or_default();
    if p("response_type").as_deref() != Some("code") {
        return back(vec![
            ("error", "unsupported_response_type".into()),
            ("error_description", "response_type must be code".into()),
            ("state", state),
        ]);
    }
    let challenge = p("code_challenge").unwrap_or_default();
    if p("code_challenge_method").as_deref() != Some("S256") || !is_hex_challenge(&challenge) {
        return back(vec![
            ("error", "invalid_request".into()),
            (
                "error_description",
                "code_challenge must be the hex-encoded SHA256 of the code_verifier (method S256)"
                    .into(),
            ),
            ("state", state),
        ]);
    }
    let scopes: Vec<String> = p("scope")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let Some(open_id) = inner.authorize_user.clone() else {
        return back(vec![
            ("error", "access_denied".into()),
            (
                "error_description",
                "nobody is signed in on the fake".into(),
            ),
            ("state", state),
        ]);
    };
    let grant = CodeGrant {
        open_id,
        client_key,
        redirect_uri: redirect_uri.clone(),
        code_challenge: challenge,
        scopes: scopes.clone(),
    };
    match inner.issue_code(&shared.cfg, grant) {
        Ok(code) => back(vec![
            ("code", code),
            ("scopes", scopes.join(",")),
            ("state", state),
        ]),
        Err(e) => bad(&e),
    }
}

fn token_reply(t: &super::TikTokTokens) -> Reply {
    Reply::json(200, serde_json::to_value(t).unwrap_or_default())
}

fn oauth_token(shared: &Shared, req: &Req) -> Reply {
    let cfg = &shared.cfg;
    let f = form(req);
    let mut inner = shared.lock();
    let now = inner.now();
    let (Some(client_key), Some(secret)) = (field(&f, "client_key"), field(&f, "client_secret"))
    else {
        return oauth_error(
            cfg,
            "invalid_request",
            "client_key and client_secret are required.",
        );
    };
    match inner.clients.get(&client_key) {
        Some(c) if c.secret == secret => {}
        _ => return oauth_error(cfg, "invalid_client", "Client key or secret is invalid."),
    }
    match field(&f, "grant_type").as_deref() {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (field(&f, "code"), field(&f, "redirect_uri"))
            else {
                return oauth_error(
                    cfg,
                    "invalid_request",
                    "code and redirect_uri are required.",
                );
            };
            let Some(verifier) = field(&f, "code_verifier") else {
                return oauth_error(
                    cfg,
                    "invalid_request",
                    "code_verifier is required for desktop apps.",
                );
            };
            let Some(stored) = inner.codes.remove(&code) else {
                return oauth_error(
                    cfg,
                    "invalid_grant",
                    "Authorization code is expired or invalid.",
                );
            };
            if stored.expires_at <= now || stored.grant.client_key != client_key {
                return oauth_error(
                    cfg,
                    "invalid_grant",
                    "Authorization code is expired or invalid.",
                );
            }
            if stored.grant.redirect_uri != redirect_uri {
                return oauth_error(
                    cfg,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request.",
                );
            }
            if !is_verifier(&verifier)
                || hex::encode(Sha256::digest(verifier.as_bytes())) != stored.grant.code_challenge
            {
                return oauth_error(cfg, "invalid_grant", "Code verifier is invalid.");
            }
            let tokens = inner.issue_tokens(
                cfg,
                &stored.grant.open_id,
                &client_key,
                &stored.grant.scopes,
            );
            token_reply(&tokens)
        }
        Some("refresh_token") => {
            let Some(rt) = field(&f, "refresh_token") else {
                return oauth_error(cfg, "invalid_request", "refresh_token is required.");
            };
            let Some(stored) = inner.refresh.get(&rt).cloned() else {
                return oauth_error(cfg, "invalid_grant", "Refresh token is invalid or expired.");
            };
            if stored.expires_at <= now || stored.client_key != client_key {
                return oauth_error(cfg, "invalid_grant", "Refresh token is invalid or expired.");
            }
            let mut tokens = inner.issue_tokens(cfg, &stored.open_id, &client_key, &stored.scopes);
            if cfg.rotate_refresh_tokens {
                inner.refresh.remove(&rt);
            } else {
                inner.refresh.remove(&tokens.refresh_token);
                tokens.refresh_token = rt;
                tokens.refresh_expires_in = (stored.expires_at - now).num_seconds();
            }
            token_reply(&tokens)
        }
        Some(_) => oauth_error(
            cfg,
            "unsupported_grant_type",
            "grant_type is not supported.",
        ),
        None => oauth_error(cfg, "invalid_request", "grant_type is required."),
    }
}

/// Revoke body is UNCONFIRMED (expected `client_key`, `client_secret`, `token`): every token of
/// the user for that app stops working.
fn oauth_revoke(shared: &Shared, req: &Req) -> Reply {
    let cfg = &shared.cfg;
    let f = form(req);
    let mut inner = shared.lock();
    let (Some(client_key), Some(secret), Some(token)) = (
        field(&f, "client_key"),
        field(&f, "client_secret"),
        field(&f, "token"),
    ) else {
        return oauth_error(
            cfg,
            "invalid_request",
            "client_key, client_secret and token are required.",
        );
    };
    match inner.clients.get(&client_key) {
        Some(c) if c.secret == secret => {}
        _ => return oauth_error(cfg, "invalid_client", "Client key or secret is invalid."),
    }
    let open_id = inner
        .access
        .get(&token)
        .map(|t| t.open_id.clone())
        .or_else(|| inner.refresh.get(&token).map(|t| t.open_id.clone()));
    if let Some(open_id) = open_id {
        inner
            .access
            .retain(|_, t| !(t.open_id == open_id && t.client_key == client_key));
        inner
            .refresh
            .retain(|_, t| !(t.open_id == open_id && t.client_key == client_key));
    }
    Reply::json(200, json!({}))
}

// ---- reads -----------------------------------------------------------------------------------

fn user_info(inner: &Inner, token: &AccessToken, req: &Req) -> Answer {
    let Some(fields) = req.param("fields").filter(|f| !f.trim().is_empty()) else {
        return Err(invalid("fields is required"));
    };
    let Some(user) = inner.user(&token.open_id) else {
        return Err(access_token_invalid());
    };
    let has = |s: &str| token.scopes.iter().any(|g| g == s);
    let mut out = json!({});
    for f in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let needs = if BASIC_FIELDS.contains(&f) {
            "user.info.basic"
        } else if PROFILE_FIELDS.contains(&f) {
            "user.info.profile"
        } else if STATS_FIELDS.contains(&f) {
            "user.info.stats"
        } else {
            return Err(invalid(format!("field {f} is not valid")));
        };
        if !has(needs) {
            return Err(scope_not_authorized());
        }
        out[f] = match f {
            "open_id" => json!(user.open_id),
            "union_id" => json!(user.union_id),
            "display_name" => json!(user.display_name),
            "username" => json!(user.username),
            "avatar_url" | "avatar_url_100" | "avatar_large_url" => json!(format!(
                "https://p16-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/{}.jpeg",
                user.union_id
            )),
            "is_verified" => json!(false),
            "bio_description" => json!(""),
            "profile_deep_link" => json!(format!("https://vm.tiktok.com/{}", user.username)),
            _ => json!(0),
        };
    }
    Ok(ok(json!({ "user": out })))
}

fn creator_info(
    inner: &Inner,
    cfg: &TikTokConfig,
    token: &AccessToken,
    now: DateTime<Utc>,
) -> Answer {
    let Some(user) = inner.user(&token.open_id) else {
        return Err(access_token_invalid());
    };
    // The posting cap comes back under HTTP 200 ("intentional").
    if posts_today(inner, &user.open_id, now) >= cfg.daily_post_cap {
        return Err(fault_error(200, Some("spam_risk_too_many_posts"), None));
    }
    Ok(ok(json!({
        "creator_avatar_url": format!("https://p16-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/{}.jpeg", user.union_id),
        "creator_username": user.username,
        "creator_nickname": user.display_name,
        "privacy_level_options": privacy_options(user, inner.audited),
        "comment_disabled": user.comment_disabled,
        "duet_disabled": user.duet_disabled,
        "stitch_disabled": user.stitch_disabled,
        "max_video_post_duration_sec": user.max_video_post_duration_sec,
    })))
}

// ---- inits -----------------------------------------------------------------------------------

/// `source_info` of a `FILE_UPLOAD`, checked against tiktok.md's chunk rules; returns
/// `(video_size, chunk_size, total_chunk_count)`.
fn file_upload_plan(
    cfg: &TikTokConfig,
    source: &Map<String, Value>,
) -> Result<(u64, u64, u64), Reply> {
    let number = |k: &str| -> Result<u64, Reply> {
        source
            .get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid(format!("source_info.{k} is required for FILE_UPLOAD")))
    };
    let size = number("video_size")?;
    let chunk = number("chunk_size")?;
    let count = number("total_chunk_count")?;
    if size == 0 || chunk == 0 {
        return Err(invalid("video_size and chunk_size must be positive"));
    }
    if size > cfg.max_video_bytes {
        return Err(invalid("video_size is larger than 4 GB"));
    }
    if count != size / chunk {
        return Err(invalid(
            "total_chunk_count must be video_size divided by chunk_size, rounded down",
        ));
    }
    if count == 0 || count > cfg.max_chunks {
        return Err(invalid("total_chunk_count must be between 1 and 1000"));
    }
    if size < cfg.min_chunk {
        if chunk != size {
            return Err(invalid(
                "a video smaller than 5 MB must be uploaded whole (chunk_size = video_size)",
            ));
        }
    } else if chunk < cfg.min_chunk || chunk > cfg.max_chunk {
        return Err(invalid("chunk_size must be between 5 MB and 64 MB"));
    }
    if size > cfg.max_chunk && count < 2 {
        return Err(invalid(
            "a video larger than 64 MB must be uploaded in chunks",
        ));
    }
    let last = size - (count - 1) * chunk;
    if last > cfg.max_last_chunk {
        return Err(invalid("the last chunk may be at most 128 MB"));
    }
    Ok((size, chunk, count))
}

fn verified(inner: &Inner, url: &str) -> bool {
    inner.verified_prefixes.iter().any(|p| url.starts_with(p))
}

fn https_or_loopback(url: &str) -> bool {
    url.starts_with("https://")
        || url.starts_with("http://127.0.0.1")
        || url.starts_with("http://localhost")
}

#[allow(clippy::too_many_arguments)]
fn new_publish(
    inner: &mut Inner,
    token: &AccessToken,
    kind: &str,
    mode: &str,
    source: &str,
    post_info: Value,
    source_info: Value,
    now: DateTime<Utc>,
) -> TikTokPublish {
    let n = inner.next_id();
    let publish_id = match (kind, mode, source) {
        ("video", "direct", "FILE_UPLOAD") => format!("v_pub_file~v2-1.{n}"),
        ("video", "direct", _) => format!("v_pub_url~v2-1.{n}"),
        ("video", _, "FILE_UPLOAD") => format!("v_inbox_file~v2.{n}"),
        ("video", _, _) => format!("v_inbox_url~v2.{n}"),
        (_, "direct", _) => format!("p_pub_url~v2.{n}"),
        _ => format!("p_inbox_url~v2.{n}"),
    };
    TikTokPublish {
        publish_id,
        open_id: token.open_id.clone(),
        client_key: token.client_key.clone(),
        kind: kind.into(),
        mode: mode.into(),
        source: source.into(),
        post_info,
        source_info,
        video_size: 0,
        chunk_size: 0,
        total_chunks: 0,
        uploaded_bytes: 0,
        upload_complete: source != "FILE_UPLOAD",
        upload_id: None,
        upload_expires_at: None,
        photo_urls: Vec::new(),
        pull_error: None,
        status: if source == "FILE_UPLOAD" {
            "PROCESSING_UPLOAD".into()
        } else {
            "PROCESSING_DOWNLOAD".into()
        },
        fail_reason: None,
        polls: 0,
        plan: inner.default_plan.clone(),
        public_post_id: None,
        created_at: now,
        done_at: None,
        polls_at_done: None,
    }
}

/// Attaches an upload address to a `FILE_UPLOAD` publish.
fn with_upload(
    p: &mut TikTokPublish,
    cfg: &TikTokConfig,
    base_url: &str,
    plan: (u64, u64, u64),
    now: DateTime<Utc>,
) -> String {
    let upload_id = random_string(b"0123456789", 19);
    let upload_token = random_string(ALNUM, 32);
    p.video_size = plan.0;
    p.chunk_size = plan.1;
    p.total_chunks = plan.2;
    p.upload_id = Some(format!("{upload_id}:{upload_token}"));
    p.upload_expires_at = Some(now + cfg.upload_url_ttl);
    let base = match &cfg.upload_host {
        Some(host) => base_url.replacen("127.0.0.1", host, 1),
        None => base_url.to_string(),
    };
    format!("{base}/video/?upload_id={upload_id}&upload_token={upload_token}")
}

/// The checks every Direct Post init makes: the unaudited rules, the privacy level, the caps.
fn direct_post_checks(
    inner: &Inner,
    cfg: &TikTokConfig,
    token: &AccessToken,
    post_info: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), Reply> {
    let Some(user) = inner.user(&token.open_id) else {
        return Err(access_token_invalid());
    };
    let Some(privacy) = post_info.get("privacy_level").and_then(Value::as_str) else {
        return Err(invalid("post_info.privacy_level is required"));
    };
    if !inner.audited {
        if privacy != SELF_ONLY || !user.private_account {
            return Err(fault_error(
                403,
                Some("unaudited_client_can_only_post_to_private_accounts"),
                None,
            ));
        }
        let since = now - chrono::Duration::hours(24);
        let mut creators: Vec<&str> = inner
            .publishes
            .iter()
            .filter(|p| p.client_key == token.client_key && p.created_at > since)
            .map(|p| p.open_id.as_str())
            .collect();
        creators.sort_unstable();
        creators.dedup();
        if creators.len() as u32 >= cfg.unaudited_creator_cap
            && !creators.contains(&user.open_id.as_str())
        {
            return Err(fault_error(403, Some("reached_active_user_cap"), None));
        }
    }
    if !privacy_options(user, inner.audited)
        .iter()
        .any(|o| o == privacy)
    {
        return Err(err(
            403,
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's privacy_level_options.",
        ));
    }
    if posts_today(inner, &user.open_id, now) >= cfg.daily_post_cap {
        return Err(fault_error(403, Some("spam_risk_too_many_posts"), None));
    }
    Ok(())
}

fn video_init(
    inner: &mut Inner,
    cfg: &TikTokConfig,
    base_url: &str,
    token: &AccessToken,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_object(req)?;
    let Some(Value::Object(post_info)) = body.get("post_info") else {
        return Err(invalid("post_info is required"));
    };
    let Some(Value::Object(source)) = body.get("source_info") else {
        return Err(invalid("source_info is required"));
    };
    if let Some(title) = post_info.get("title") {
        match title.as_str() {
            Some(t) if utf16(t) <= 2200 => {}
            _ => {
                return Err(invalid(
                    "post_info.title must be text of at most 2200 UTF-16 units",
                ))
            }
        }
    }
    if post_info
        .get("brand_content_toggle")
        .and_then(Value::as_bool)
        .is_none()
    {
        return Err(invalid("post_info.brand_content_toggle is required"));
    }
    direct_post_checks(inner, cfg, token, post_info, now)?;
    match source.get("source").and_then(Value::as_str) {
        Some("FILE_UPLOAD") => {
            let plan = file_upload_plan(cfg, source)?;
            let mut p = new_publish(
                inner,
                token,
                "video",
                "direct",
                "FILE_UPLOAD",
                Value::Object(post_info.clone()),
                Value::Object(source.clone()),
                now,
            );
            let upload_url = with_upload(&mut p, cfg, base_url, plan, now);
            let publish_id = p.publish_id.clone();
            inner.publishes.push(p);
            Ok(ok(
                json!({"publish_id": publish_id, "upload_url": upload_url}),
            ))
        }
        Some("PULL_FROM_URL") => {
            let Some(url) = source.get("video_url").and_then(Value::as_str) else {
                return Err(invalid(
                    "source_info.video_url is required for PULL_FROM_URL",
                ));
            };
            if !https_or_loopback(url) {
                return Err(invalid("source_info.video_url must be https"));
            }
            if !verified(inner, url) {
                return Err(fault_error(
                    403,
                    Some("url_ownership_unverified"),
                    Some("The domain or URL prefix of the video_url is not verified."),
                ));
            }
            let p = new_publish(
                inner,
                token,
                "video",
                "direct",
                "PULL_FROM_URL",
                Value::Object(post_info.clone()),
                Value::Object(source.clone()),
                now,
            );
            let publish_id = p.publish_id.clone();
            inner.publishes.push(p);
            Ok(ok(json!({ "publish_id": publish_id })))
        }
        _ => Err(invalid(
            "source_info.source must be FILE_UPLOAD or PULL_FROM_URL",
        )),
    }
}

fn inbox_init(
    inner: &mut Inner,
    cfg: &TikTokConfig,
    base_url: &str,
    token: &AccessToken,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_object(req)?;
    let Some(Value::Object(source)) = body.get("source_info") else {
        return Err(invalid("source_info is required"));
    };
    if pending_inbox(inner, &token.open_id, now) >= cfg.pending_inbox_cap {
        return Err(fault_error(
            403,
            Some("spam_risk_too_many_pending_share"),
            None,
        ));
    }
    match source.get("source").and_then(Value::as_str) {
        Some("FILE_UPLOAD") => {
            let plan = file_upload_plan(cfg, source)?;
            let mut p = new_publish(
                inner,
                token,
                "video",
                "inbox",
                "FILE_UPLOAD",
                json!({}),
                Value::Object(source.clone()),
                now,
            );
            let upload_url = with_upload(&mut p, cfg, base_url, plan, now);
            let publish_id = p.publish_id.clone();
            inner.publishes.push(p);
            Ok(ok(
                json!({"publish_id": publish_id, "upload_url": upload_url}),
            ))
        }
        Some("PULL_FROM_URL") => {
            let Some(url) = source.get("video_url").and_then(Value::as_str) else {
                return Err(invalid(
                    "source_info.video_url is required for PULL_FROM_URL",
                ));
            };
            if !verified(inner, url) {
                return Err(fault_error(
                    403,
                    Some("url_ownership_unverified"),
                    Some("The domain or URL prefix of the video_url is not verified."),
                ));
            }
            let p = new_publish(
                inner,
                token,
                "video",
                "inbox",
                "PULL_FROM_URL",
                json!({}),
                Value::Object(source.clone()),
                now,
            );
            let publish_id = p.publish_id.clone();
            inner.publishes.push(p);
            Ok(ok(json!({ "publish_id": publish_id })))
        }
        _ => Err(invalid(
            "source_info.source must be FILE_UPLOAD or PULL_FROM_URL",
        )),
    }
}

/// Fetches the photo URLs of a content init the way TikTok does (no redirects; JPEG or WebP
/// only). Only loopback addresses can be fetched here; others are taken on trust. Returns why
/// the pull will fail, if it will.
pub(super) async fn pull_photos(_shared: &Shared, req: &Req) -> Option<String> {
    let v: Value = serde_json::from_slice(&req.body).ok()?;
    let urls: Vec<String> = v
        .get("source_info")?
        .get("photo_images")?
        .as_array()?
        .iter()
        .filter_map(|u| u.as_str().map(str::to_string))
        .collect();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    for url in urls {
        let local = url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
        if !local {
            continue;
        }
        let resp = match http.get(&url).send().await {
            Ok(r) => r,
            Err(_) => return Some(format!("{url}: unreachable")),
        };
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            return Some(format!("{url}: redirects (HTTP {status})"));
        }
        if !(200..300).contains(&status) {
            return Some(format!("{url}: HTTP {status}"));
        }
        let Ok(bytes) = resp.bytes().await else {
            return Some(format!("{url}: the download broke off"));
        };
        let jpeg = bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
        let webp = bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP";
        if !jpeg && !webp {
            return Some(format!("{url}: not a JPEG or WebP image"));
        }
    }
    None
}

fn content_init(
    inner: &mut Inner,
    cfg: &TikTokConfig,
    token: &AccessToken,
    req: &Req,
    now: DateTime<Utc>,
    pull_error: Option<String>,
) -> Answer {
    let body = json_object(req)?;
    if body.get("media_type").and_then(Value::as_str) != Some("PHOTO") {
        return Err(invalid("media_type must be PHOTO"));
    }
    let mode = match body.get("post_mode").and_then(Value::as_str) {
        Some("DIRECT_POST") => "direct",
        Some("MEDIA_UPLOAD") => "inbox",
        _ => return Err(invalid("post_mode must be DIRECT_POST or MEDIA_UPLOAD")),
    };
    let needed = if mode == "direct" {
        "video.publish"
    } else {
        "video.upload"
    };
    if !token.scopes.iter().any(|s| s == needed) {
        return Err(scope_not_authorized());
    }
    let post_info = match body.get("post_info") {
        Some(Value::Object(m)) => m.clone(),
        None => Map::new(),
        Some(_) => return Err(invalid("post_info must be an object")),
    };
    if let Some(t) = post_info.get("title").and_then(Value::as_str) {
        if utf16(t) > 90 {
            return Err(invalid("post_info.title must be at most 90 UTF-16 units"));
        }
    }
    if let Some(d) = post_info.get("description").and_then(Value::as_str) {
        if utf16(d) > 4000 {
            return Err(invalid(
                "post_info.description must be at most 4000 UTF-16 units",
            ));
        }
    }
    let Some(Value::Object(source)) = body.get("source_info") else {
        return Err(invalid("source_info is required"));
    };
    if source.get("source").and_then(Value::as_str) != Some("PULL_FROM_URL") {
        return Err(invalid(
            "photos can only be posted with source PULL_FROM_URL",
        ));
    }
    let urls: Vec<String> = source
        .get("photo_images")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if urls.is_empty() || urls.len() > 35 {
        return Err(invalid("source_info.photo_images must hold 1 to 35 URLs"));
    }
    let cover = source
        .get("photo_cover_index")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if cover as usize >= urls.len() {
        return Err(invalid("source_info.photo_cover_index is out of range"));
    }
    if let Some(bad) = urls.iter().find(|u| !https_or_loopback(u)) {
        return Err(invalid(format!("{bad} is not an https URL")));
    }
    if urls.iter().any(|u| !verified(inner, u)) {
        return Err(fault_error(
            403,
            Some("url_ownership_unverified"),
            Some("The domain or URL prefix of the photo_images is not verified."),
        ));
    }
    if mode == "direct" {
        direct_post_checks(inner, cfg, token, &post_info, now)?;
    } else if pending_inbox(inner, &token.open_id, now) >= cfg.pending_inbox_cap {
        return Err(fault_error(
            403,
            Some("spam_risk_too_many_pending_share"),
            None,
        ));
    }
    let mut p = new_publish(
        inner,
        token,
        "photo",
        mode,
        "PULL_FROM_URL",
        Value::Object(post_info),
        Value::Object(source.clone()),
        now,
    );
    p.photo_urls = urls;
    p.pull_error = pull_error;
    let publish_id = p.publish_id.clone();
    inner.publishes.push(p);
    Ok(ok(json!({ "publish_id": publish_id })))
}

// ---- status ----------------------------------------------------------------------------------

/// The status a publish shows at its `n`-th check after the bytes were in.
fn planned(p: &TikTokPublish, n: u32) -> (String, Option<String>) {
    let processing = if p.source == "FILE_UPLOAD" {
        "PROCESSING_UPLOAD"
    } else {
        "PROCESSING_DOWNLOAD"
    };
    let done = if p.mode == "inbox" {
        "SEND_TO_USER_INBOX"
    } else {
        "PUBLISH_COMPLETE"
    };
    let (status, reason) = match &p.plan {
        StatusPlan::Complete { processing_polls } if n <= *processing_polls => {
            (processing.to_string(), None)
        }
        StatusPlan::Complete { .. } => (done.to_string(), None),
        StatusPlan::Fail {
            processing_polls, ..
        } if n <= *processing_polls => (processing.to_string(), None),
        StatusPlan::Fail { fail_reason, .. } => ("FAILED".into(), Some(fail_reason.clone())),
        StatusPlan::Never => (processing.to_string(), None),
        StatusPlan::Sequence {
            statuses,
            fail_reason,
        } => {
            let s = statuses
                .get(
                    (n as usize)
                        .saturating_sub(1)
                        .min(statuses.len().saturating_sub(1)),
                )
                .cloned()
                .unwrap_or_else(|| processing.to_string());
            let reason = (s == "FAILED").then(|| {
                fail_reason
                    .clone()
                    .unwrap_or_else(|| "internal".to_string())
            });
            (s, reason)
        }
    };
    // A pull that could not fetch its media fails where it would have succeeded.
    if p.pull_error.is_some() && (status == "PUBLISH_COMPLETE" || status == "SEND_TO_USER_INBOX") {
        let reason = if p.kind == "photo" {
            "photo_pull_failed"
        } else {
            "video_pull_failed"
        };
        return ("FAILED".into(), Some(reason.into()));
    }
    (status, reason)
}

fn status_fetch(
    inner: &mut Inner,
    cfg: &TikTokConfig,
    token: &AccessToken,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_object(req)?;
    let Some(publish_id) = body.get("publish_id").and_then(Value::as_str) else {
        return Err(err(400, "invalid_publish_id", "publish_id is required."));
    };
    let public_id = inner.last_id + 1;
    let Some(p) = inner
        .publishes
        .iter_mut()
        .find(|p| p.publish_id == publish_id)
    else {
        return Err(err(
            400,
            "invalid_publish_id",
            "The publish_id does not exist.",
        ));
    };
    if p.open_id != token.open_id || p.client_key != token.client_key {
        return Err(err(
            400,
            "token_not_authorized_for_specified_publish_id",
            "The access token is not authorized for this publish_id.",
        ));
    }
    let terminal = p.status == "FAILED"
        || p.status == "PUBLISH_COMPLETE"
        || (p.mode == "inbox" && p.status == "SEND_TO_USER_INBOX");
    if !p.upload_complete {
        p.status = "PROCESSING_UPLOAD".into();
    } else if !terminal {
        p.polls += 1;
        let (status, reason) = planned(p, p.polls);
        p.status = status;
        p.fail_reason = reason;
        if p.status == "PUBLISH_COMPLETE" || (p.mode == "inbox" && p.status == "SEND_TO_USER_INBOX")
        {
            p.done_at = Some(now);
            p.polls_at_done = Some(p.polls);
        }
    } else {
        p.polls += 1;
    }
    // Public moderation: the post id shows up after a delay, never for private posts.
    let mut assigned = false;
    if p.status == "PUBLISH_COMPLETE" && p.mode == "direct" && p.public_post_id.is_none() {
        let private = p.post_info.get("privacy_level").and_then(Value::as_str) == Some(SELF_ONLY);
        if let (Some(m), false) = (cfg.moderation_polls, private) {
            let since = p.polls - p.polls_at_done.unwrap_or(p.polls);
            if since >= m {
                p.public_post_id = Some(public_id.to_string());
                assigned = true;
            }
        }
    }
    let mut data = json!({ "status": p.status });
    if let Some(r) = &p.fail_reason {
        data["fail_reason"] = json!(r);
    }
    if p.source == "FILE_UPLOAD" {
        data["uploaded_bytes"] = json!(p.uploaded_bytes);
    } else if p.kind == "video" {
        data["downloaded_bytes"] = json!(0);
    }
    if let Some(id) = &p.public_post_id {
        data["publicaly_available_post_id"] = json!([id.parse::<u64>().unwrap_or(0)]);
    }
    if assigned {
        inner.last_id = public_id;
    }
    Ok(ok(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_wildcards_match_any_port_only() {
        let r = "http://127.0.0.1:*/callback/";
        assert!(redirect_matches(r, "http://127.0.0.1:53124/callback/"));
        assert!(!redirect_matches(r, "http://127.0.0.1/callback/"));
        assert!(!redirect_matches(r, "http://127.0.0.1:53124/callback"));
        assert!(!redirect_matches(r, "http://localhost:53124/callback/"));
        assert!(redirect_matches(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:8080/cb"
        ));
    }

    #[test]
    fn only_hex_challenges_pass() {
        let hex = hex::encode(Sha256::digest(b"verifier"));
        assert!(is_hex_challenge(&hex));
        assert!(!is_hex_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_hex_challenge(&hex.to_ascii_uppercase()));
    }

    #[test]
    fn chunk_plans_follow_the_doc() {
        let cfg = TikTokConfig::default();
        let plan = |size: u64, chunk: u64, count: u64| {
            let mut m = Map::new();
            m.insert("video_size".into(), json!(size));
            m.insert("chunk_size".into(), json!(chunk));
            m.insert("total_chunk_count".into(), json!(count));
            file_upload_plan(&cfg, &m).is_ok()
        };
        assert!(plan(50_000_123, 10_000_000, 5));
        assert!(!plan(50_000_123, 10_000_000, 6));
        assert!(plan(3_000_000, 3_000_000, 1));
        assert!(!plan(3_000_000, 1_000_000, 3));
        assert!(!plan(20_000_000, 4_000_000, 5));
        assert!(!plan(100_000_000, 100_000_000, 1));
        assert!(plan(100_000_000, 50_000_000, 2));
        assert!(!plan(300_000_000, 65_000_000, 4));
    }
}
