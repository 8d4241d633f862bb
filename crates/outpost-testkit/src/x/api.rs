//! The X API endpoints of the fake: wire formats, status codes, error bodies and rate-limit
//! headers as `x.md` describes them.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::FromRequest;
use axum::http::Request;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use super::{
    is_id, AccessToken, Endpoint, Inner, LimitScope, MediaEntry, Processing, RefreshErrorForm,
    Reply, ReplyRestriction, Req, Shared, XConfig, XMedia, XTokens,
};
use crate::common::LimitStatus;

/// The longest `total_bytes` the initialize schema allows.
const MAX_TOTAL_BYTES: u64 = 17_179_869_184;
const MB: u64 = 1024 * 1024;
const REPLY_RESTRICTED: &str = "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the author of the post you are replying to.";
const REPLY_TO_MISSING: &str =
    "You attempted to reply to a Tweet that is deleted or not visible to you.";
const DUPLICATE: &str = "You are not allowed to create a Tweet with duplicate content.";
const NOT_PERMITTED: &str = "You are not permitted to perform this action.";
const INVALID_MEDIA: &str = "Your media IDs are invalid.";

const MEDIA_TYPES: [&str; 15] = [
    "video/mp4",
    "video/webm",
    "video/mp2t",
    "video/quicktime",
    "text/srt",
    "text/vtt",
    "image/jpeg",
    "image/gif",
    "image/bmp",
    "image/png",
    "image/webp",
    "image/pjpeg",
    "image/tiff",
    "model/gltf-binary",
    "model/vnd.usdz+zip",
];
const CATEGORIES: [&str; 8] = [
    "amplify_video",
    "tweet_gif",
    "tweet_image",
    "tweet_video",
    "dm_gif",
    "dm_image",
    "dm_video",
    "subtitles",
];
const TWEET_KEYS: [&str; 16] = [
    "text",
    "media",
    "reply",
    "reply_settings",
    "poll",
    "quote_tweet_id",
    "community_id",
    "share_with_followers",
    "made_with_ai",
    "paid_partnership",
    "nullcast",
    "for_super_followers_only",
    "geo",
    "edit_options",
    "card_uri",
    "direct_message_deep_link",
];
const TWEET_MEDIA_KEYS: [&str; 7] = [
    "media_ids",
    "tagged_user_ids",
    "preview_media_id",
    "title",
    "description",
    "embeddable",
    "call_to_actions",
];
const TWEET_REPLY_KEYS: [&str; 3] = [
    "in_reply_to_tweet_id",
    "exclude_reply_user_ids",
    "auto_populate_reply_metadata",
];
const REPLY_SETTINGS: [&str; 4] = ["following", "mentionedUsers", "subscribers", "verified"];

// ---- bodies ----------------------------------------------------------------------------------

pub(super) fn not_found() -> Reply {
    Reply::json(
        404,
        json!({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}),
    )
}

fn problem(status: u16, title: &str, detail: &str, kind: &str) -> Reply {
    Reply::json(
        status,
        json!({"title": title, "detail": detail, "type": kind, "status": status}),
    )
}

fn unauthorized() -> Reply {
    problem(401, "Unauthorized", "Unauthorized", "about:blank")
}

fn forbidden(detail: &str) -> Reply {
    Reply::json(
        403,
        json!({"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}),
    )
}

fn invalid(message: impl Into<String>) -> Reply {
    Reply::json(
        400,
        json!({
            "errors": [{"message": message.into()}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.x.com/2/problems/invalid-request",
        }),
    )
}

fn resource_not_found(kind: &str, parameter: &str, id: &str) -> Reply {
    let detail = format!("Could not find {kind} with {parameter}: [{id}].");
    Reply::json(
        404,
        json!({
            "errors": [{
                "value": id, "detail": detail, "title": "Not Found Error",
                "resource_type": kind, "parameter": parameter, "resource_id": id,
                "type": "https://api.x.com/2/problems/resource-not-found",
            }],
            "title": "Not Found Error",
            "detail": detail,
            "type": "https://api.x.com/2/problems/resource-not-found",
        }),
    )
}

fn too_many() -> Reply {
    // The v2 problem form; X's docs show the v1.1 `{"errors":[{"code":88,…}]}` (UNCONFIRMED
    // which one v2 sends).
    problem(429, "Too Many Requests", "Too Many Requests", "about:blank")
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

pub(super) fn fault_status(status: u16, body: Option<Value>) -> Reply {
    match body {
        Some(body) => Reply::json(status, body),
        None => {
            let title = axum::http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error");
            problem(status, title, title, "about:blank")
        }
    }
}

// ---- rate limits -----------------------------------------------------------------------------

fn window_limit(inner: &Inner, endpoint: Endpoint) -> (u32, chrono::Duration) {
    inner.window_limits.get(&endpoint).copied().unwrap_or((
        endpoint.default_window_limit(),
        chrono::Duration::minutes(15),
    ))
}

fn app_limit(inner: &Inner, endpoint: Endpoint) -> Option<u32> {
    match inner.app_24h.get(&endpoint) {
        Some(limit) => *limit,
        None => endpoint.default_app_limit(),
    }
}

fn push_limit(headers: &mut Vec<(String, String)>, prefix: &str, s: &LimitStatus) {
    headers.push((format!("{prefix}-limit"), s.limit.to_string()));
    headers.push((format!("{prefix}-remaining"), s.remaining.to_string()));
    headers.push((format!("{prefix}-reset"), s.reset.timestamp().to_string()));
}

/// Counts the request in every bucket of the endpoint; returns the headers and whether any
/// bucket is over its limit.
fn consume_limits(
    inner: &mut Inner,
    endpoint: Endpoint,
    token: &AccessToken,
    now: DateTime<Utc>,
) -> (Vec<(String, String)>, bool) {
    let mut headers = Vec::new();
    let day = chrono::Duration::hours(24);
    let (limit, window) = window_limit(inner, endpoint);
    let s = inner.limiter.consume(
        &format!("window:{}", endpoint.name()),
        &token.user_id,
        limit,
        window,
        1,
        now,
    );
    let mut exceeded = s.exceeded;
    push_limit(&mut headers, "x-rate-limit", &s);
    if let Some(limit) = inner.user_24h.get(&endpoint).copied() {
        let s = inner.limiter.consume(
            &format!("user24:{}", endpoint.name()),
            &token.user_id,
            limit,
            day,
            1,
            now,
        );
        exceeded |= s.exceeded;
        push_limit(&mut headers, "x-user-limit-24hour", &s);
    }
    if let Some(limit) = app_limit(inner, endpoint) {
        let s = inner.limiter.consume(
            &format!("app24:{}", endpoint.name()),
            &token.client_id,
            limit,
            day,
            1,
            now,
        );
        exceeded |= s.exceeded;
        push_limit(&mut headers, "x-app-limit-24hour", &s);
    }
    (headers, exceeded)
}

pub(super) fn fault_rate_limited(
    shared: &Shared,
    endpoint: Endpoint,
    reset_in_secs: i64,
    scope: LimitScope,
) -> Reply {
    let inner = shared.lock();
    let now = inner.now();
    let reset = now + chrono::Duration::seconds(reset_in_secs);
    let (limit, window) = window_limit(&inner, endpoint);
    let exhausted = |limit: u32| LimitStatus {
        limit,
        remaining: 0,
        reset,
        window_secs: reset_in_secs,
        exceeded: true,
    };
    let fresh = |limit: u32, window: chrono::Duration| LimitStatus {
        limit,
        remaining: limit.saturating_sub(1),
        reset: now + window,
        window_secs: window.num_seconds(),
        exceeded: false,
    };
    let mut reply = too_many();
    let day = chrono::Duration::hours(24);
    match scope {
        LimitScope::Window => push_limit(&mut reply.headers, "x-rate-limit", &exhausted(limit)),
        LimitScope::User24h => {
            push_limit(&mut reply.headers, "x-rate-limit", &fresh(limit, window));
            let cap = inner.user_24h.get(&endpoint).copied().unwrap_or(17);
            push_limit(&mut reply.headers, "x-user-limit-24hour", &exhausted(cap));
        }
        LimitScope::App24h => {
            push_limit(&mut reply.headers, "x-rate-limit", &fresh(limit, window));
            let cap = app_limit(&inner, endpoint).unwrap_or(10_000);
            push_limit(&mut reply.headers, "x-app-limit-24hour", &exhausted(cap));
        }
    }
    if scope != LimitScope::App24h {
        if let Some(cap) = app_limit(&inner, endpoint) {
            push_limit(&mut reply.headers, "x-app-limit-24hour", &fresh(cap, day));
        }
    }
    reply
}

// ---- dispatch --------------------------------------------------------------------------------

/// A multipart body, read before the state is locked.
pub(super) struct Form {
    fields: Vec<(String, Bytes)>,
}

impl Form {
    fn bytes(&self, name: &str) -> Option<&Bytes> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }
    fn text(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
    }
}

fn is_multipart(req: &Req) -> bool {
    req.header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"))
}

async fn read_multipart(req: &Req) -> Result<Form, String> {
    let content_type = req.header("content-type").unwrap_or_default().to_string();
    let request = Request::builder()
        .method("POST")
        .header("content-type", content_type)
        .body(Body::from(req.body.clone()))
        .map_err(|e| e.to_string())?;
    let mut multipart = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|e| e.body_text())?;
    let mut fields = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let data = field.bytes().await.map_err(|e| e.body_text())?;
                fields.push((name, data));
            }
            Ok(None) => break,
            Err(e) => return Err(e.body_text()),
        }
    }
    Ok(Form { fields })
}

pub(super) async fn process(shared: &Shared, endpoint: Endpoint, req: &Req) -> Reply {
    match endpoint {
        Endpoint::Token => oauth_token(shared, req),
        Endpoint::Revoke => oauth_revoke(shared, req),
        _ => {
            let form = if matches!(endpoint, Endpoint::MediaAppend | Endpoint::MediaUpload)
                && is_multipart(req)
            {
                Some(read_multipart(req).await)
            } else {
                None
            };
            authed(shared, endpoint, req, form)
        }
    }
}

fn bearer(req: &Req) -> Option<&str> {
    let auth = req.header("authorization")?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn authed(
    shared: &Shared,
    endpoint: Endpoint,
    req: &Req,
    form: Option<Result<Form, String>>,
) -> Reply {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    let Some(token) = bearer(req).and_then(|t| inner.access.get(t)).cloned() else {
        return unauthorized();
    };
    if token.expires_at <= now {
        return unauthorized();
    }
    if let Some(block) = &inner.credits {
        return Reply::json(block.status, block.body.clone());
    }
    let (headers, exceeded) = consume_limits(&mut inner, endpoint, &token, now);
    let granted = |scope: &&str| token.scopes.iter().any(|g| g == scope);
    let mut reply = if exceeded {
        too_many()
    } else if !endpoint.required_scopes().iter().all(granted) {
        forbidden(NOT_PERMITTED)
    } else {
        let inner = &mut *inner;
        let result = match endpoint {
            Endpoint::UsersMe => users_me(inner, &token, req),
            Endpoint::UserTweets => user_tweets(inner, &token, req),
            Endpoint::CreateTweet => create_tweet(inner, cfg, &token, req, now),
            Endpoint::MediaInitialize => media_initialize(inner, cfg, &token, req, now),
            Endpoint::MediaAppend => media_append(inner, &token, req, form, now),
            Endpoint::MediaFinalize => media_finalize(inner, cfg, &token, req, now),
            Endpoint::MediaStatus => media_status(inner, cfg, &token, req),
            Endpoint::MediaMetadata => media_metadata(inner, &token, req),
            Endpoint::MediaUpload => media_upload(inner, cfg, &token, req, form, now),
            Endpoint::Token | Endpoint::Revoke | Endpoint::Any => Err(not_found()),
        };
        result.unwrap_or_else(|e| e)
    };
    reply.headers.extend(headers);
    reply
}

type Answer = Result<Reply, Reply>;

fn json_object(req: &Req) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("The request body must be a JSON object.")),
    }
}

fn refuse_unknown_keys(map: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), Reply> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!(
            "{at}.{k}: is not defined in the schema and the schema does not allow additional properties"
        ))),
        None => Ok(()),
    }
}

fn param(params: &[(String, String)], key: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

fn rfc3339_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

// ---- users -----------------------------------------------------------------------------------

fn users_me(inner: &mut Inner, token: &AccessToken, req: &Req) -> Answer {
    let Some(user) = inner.user(&token.user_id) else {
        return Err(unauthorized());
    };
    let mut data = json!({"id": user.id, "name": user.name, "username": user.username});
    let fields = param(&req.params(), "user.fields").unwrap_or_default();
    for field in fields.split(',').map(str::trim) {
        match field {
            "verified" | "protected" => data[field] = json!(false),
            "verified_type" => data[field] = json!("none"),
            _ => {}
        }
    }
    Ok(Reply::json(200, json!({ "data": data })))
}

fn user_tweets(inner: &mut Inner, token: &AccessToken, req: &Req) -> Answer {
    if !inner.read_access {
        return Err(Reply::json(
            403,
            json!({
                "client_id": token.client_id,
                "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via the developer portal.",
                "registration_url": "https://developer.x.com/en/docs/projects/overview",
                "title": "Client Forbidden",
                "required_enrollment": "Appropriate Level of API Access",
                "reason": "client-not-enrolled",
                "type": "https://api.x.com/2/problems/client-forbidden",
            }),
        ));
    }
    let author = req
        .path
        .trim_start_matches("/2/users/")
        .trim_end_matches('/')
        .trim_end_matches("/tweets")
        .to_string();
    let params = req.params();
    let number = |key: &str| -> Result<Option<u64>, Reply> {
        match param(&params, key) {
            None => Ok(None),
            Some(v) if is_id(&v) => Ok(v.parse().ok()),
            Some(v) => Err(invalid(format!(
                "The `{key}` query parameter value [{v}] is not valid"
            ))),
        }
    };
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, Reply> {
        match param(&params, key) {
            None => Ok(None),
            Some(v) => DateTime::parse_from_rfc3339(&v)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| {
                    invalid(format!(
                        "The `{key}` query parameter value [{v}] is not a valid RFC 3339 time"
                    ))
                }),
        }
    };
    let since_id = number("since_id")?;
    let until_id = number("until_id")?;
    let start_time = time("start_time")?;
    let end_time = time("end_time")?;
    let max_results = match param(&params, "max_results") {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (5..=100).contains(&n) => n,
            _ => {
                return Err(invalid(format!(
                    "The `max_results` query parameter value [{v}] is not between 5 and 100"
                )))
            }
        },
    };
    let offset = match param(&params, "pagination_token") {
        None => 0,
        Some(v) => match v
            .strip_prefix("7140dibdnow9c7btw")
            .and_then(|n| usize::from_str_radix(n, 16).ok())
        {
            Some(n) => n,
            None => {
                return Err(invalid(format!(
                    "The `pagination_token` query parameter value [{v}] is not valid"
                )))
            }
        },
    };
    let exclude = param(&params, "exclude").unwrap_or_default();
    let no_replies = exclude.split(',').any(|e| e.trim() == "replies");
    let fields = param(&params, "tweet.fields").unwrap_or_default();
    let fields: Vec<&str> = fields.split(',').map(str::trim).collect();
    if inner.user(&author).is_none() {
        let detail = format!("Could not find user with id: [{author}].");
        return Ok(Reply::json(
            200,
            json!({"errors": [{
                "value": author, "detail": detail, "title": "Not Found Error",
                "resource_type": "user", "parameter": "id", "resource_id": author,
                "type": "https://api.x.com/2/problems/resource-not-found",
            }]}),
        ));
    }
    let id_num = |id: &str| id.parse::<u64>().unwrap_or(0);
    let mut matching: Vec<&super::XTweet> = inner
        .tweets
        .iter()
        .filter(|t| t.author_id == author)
        .filter(|t| since_id.is_none_or(|s| id_num(&t.id) > s))
        .filter(|t| until_id.is_none_or(|u| id_num(&t.id) < u))
        .filter(|t| start_time.is_none_or(|s| t.created_at >= s))
        .filter(|t| end_time.is_none_or(|e| t.created_at <= e))
        .filter(|t| !(no_replies && t.in_reply_to.is_some()))
        .collect();
    matching.sort_by_key(|t| std::cmp::Reverse(id_num(&t.id)));
    let page: Vec<&super::XTweet> = matching
        .iter()
        .skip(offset)
        .take(max_results)
        .copied()
        .collect();
    if page.is_empty() {
        return Ok(Reply::json(200, json!({"meta": {"result_count": 0}})));
    }
    let data: Vec<Value> = page
        .iter()
        .map(|t| {
            let mut v = json!({"id": t.id, "text": t.text, "edit_history_tweet_ids": [t.id]});
            for field in &fields {
                match *field {
                    "created_at" => v[*field] = json!(rfc3339_millis(t.created_at)),
                    "author_id" => v[*field] = json!(t.author_id),
                    "conversation_id" => v[*field] = json!(t.conversation_id),
                    "reply_settings" => {
                        v[*field] = json!(t.reply_settings.as_deref().unwrap_or("everyone"))
                    }
                    "in_reply_to_user_id" => {
                        if let Some(parent) = t
                            .in_reply_to
                            .as_ref()
                            .and_then(|p| inner.tweets.iter().find(|x| &x.id == p))
                        {
                            v[*field] = json!(parent.author_id);
                        }
                    }
                    "referenced_tweets" => {
                        if let Some(parent) = &t.in_reply_to {
                            v[*field] = json!([{"type": "replied_to", "id": parent}]);
                        }
                    }
                    "attachments" if !t.media_ids.is_empty() => {
                        let keys: Vec<String> = t
                            .media_ids
                            .iter()
                            .filter_map(|m| inner.media.get(m).map(|e| e.info.media_key.clone()))
                            .collect();
                        v[*field] = json!({ "media_keys": keys });
                    }
                    _ => {}
                }
            }
            v
        })
        .collect();
    let mut meta = json!({
        "result_count": page.len(),
        "newest_id": page.first().map(|t| t.id.clone()),
        "oldest_id": page.last().map(|t| t.id.clone()),
    });
    if offset + page.len() < matching.len() {
        meta["next_token"] = json!(format!("7140dibdnow9c7btw{:x}", offset + page.len()));
    }
    Ok(Reply::json(200, json!({"data": data, "meta": meta})))
}

// ---- posts -----------------------------------------------------------------------------------

/// twitter-text v2 weights: URLs 23; code points 0–4351, 8192–8205, 8208–8223, 8242–8247 count
/// 1; everything else 2; an emoji grapheme counts 2 whatever its composition.
pub(crate) fn weighted_length(text: &str) -> usize {
    let mut total = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
            total += 23 + (word.len() - trimmed.len());
            continue;
        }
        for g in word.graphemes(true) {
            let emoji = g.chars().any(|c| {
                let cp = c as u32;
                (0x1F000..=0x1FAFF).contains(&cp) || (0x2600..=0x27BF).contains(&cp)
            });
            total += if emoji {
                2
            } else {
                g.chars()
                    .map(|c| {
                        let cp = c as u32;
                        let light = cp <= 4351
                            || (8192..=8205).contains(&cp)
                            || (8208..=8223).contains(&cp)
                            || (8242..=8247).contains(&cp);
                        if light {
                            1
                        } else {
                            2
                        }
                    })
                    .sum()
            };
        }
    }
    total
}

fn mentions(text: &str, username: &str) -> bool {
    let needle = format!("@{}", username.to_ascii_lowercase());
    text.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '@'))
        .any(|w| w == needle)
}

fn is_processing_category(category: &str) -> bool {
    matches!(
        category,
        "tweet_gif" | "tweet_video" | "amplify_video" | "dm_gif" | "dm_video"
    )
}

fn create_tweet(
    inner: &mut Inner,
    cfg: &XConfig,
    token: &AccessToken,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_object(req)?;
    refuse_unknown_keys(&body, &TWEET_KEYS, "$")?;
    let text = match body.get("text") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid("$.text: string expected")),
    };
    let mut media_ids: Vec<String> = Vec::new();
    if let Some(media) = body.get("media") {
        let Value::Object(media) = media else {
            return Err(invalid("$.media: object expected"));
        };
        refuse_unknown_keys(media, &TWEET_MEDIA_KEYS, "$.media")?;
        let Some(Value::Array(ids)) = media.get("media_ids") else {
            return Err(invalid("$.media.media_ids: array expected"));
        };
        if ids.is_empty() || ids.len() > 4 {
            return Err(invalid(format!(
                "$.media.media_ids: there must be between 1 and 4 items, found {}",
                ids.len()
            )));
        }
        for id in ids {
            match id.as_str() {
                Some(s) if is_id(s) => media_ids.push(s.to_string()),
                _ => {
                    return Err(invalid(format!(
                        "$.media.media_ids: {id} does not match ^[0-9]{{1,19}}$"
                    )))
                }
            }
        }
    }
    let mut in_reply_to: Option<String> = None;
    if let Some(reply) = body.get("reply") {
        let Value::Object(reply) = reply else {
            return Err(invalid("$.reply: object expected"));
        };
        refuse_unknown_keys(reply, &TWEET_REPLY_KEYS, "$.reply")?;
        match reply.get("in_reply_to_tweet_id").and_then(Value::as_str) {
            Some(id) if is_id(id) => in_reply_to = Some(id.to_string()),
            _ => {
                return Err(invalid(
                    "$.reply.in_reply_to_tweet_id: a string matching ^[0-9]{1,19}$ is required",
                ))
            }
        }
    }
    let reply_settings = match body.get("reply_settings") {
        None => None,
        Some(Value::String(s)) if REPLY_SETTINGS.contains(&s.as_str()) => Some(s.clone()),
        Some(v) => {
            return Err(invalid(format!(
            "$.reply_settings: {v} is not one of following, mentionedUsers, subscribers, verified"
        )))
        }
    };
    if text.is_empty() && media_ids.is_empty() {
        return Err(invalid(
            "Your request must include text, media, a poll, a quote_tweet_id, a card_uri or a direct_message_deep_link.",
        ));
    }
    if weighted_length(&text) > cfg.max_weighted_length {
        return Err(invalid(
            "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.",
        ));
    }
    let mut processed = 0;
    for id in &media_ids {
        let usable = inner.media.get(id).is_some_and(|m| {
            m.info.owner_id == token.user_id
                && m.info.finalized
                && m.info.expires_at > now
                && m.info.state.as_deref().is_none_or(|s| s == "succeeded")
        });
        if !usable {
            return Err(invalid(INVALID_MEDIA));
        }
        if inner
            .media
            .get(id)
            .is_some_and(|m| is_processing_category(&m.info.category))
        {
            processed += 1;
        }
    }
    // Up to 4 photos, or 1 animated GIF, or 1 video.
    if processed > 1 || (processed == 1 && media_ids.len() > 1) {
        return Err(invalid(INVALID_MEDIA));
    }
    if let Some(parent_id) = &in_reply_to {
        let Some(parent) = inner.tweets.iter().find(|t| &t.id == parent_id) else {
            return Err(forbidden(REPLY_TO_MISSING));
        };
        let username = inner
            .user(&token.user_id)
            .map(|u| u.username.clone())
            .unwrap_or_default();
        let summoned = mentions(&parent.text, &username);
        let refused = match inner.reply_restriction {
            ReplyRestriction::Off => false,
            ReplyRestriction::OthersOnly => parent.author_id != token.user_id && !summoned,
            ReplyRestriction::All => !summoned,
        };
        if refused {
            return Err(forbidden(REPLY_RESTRICTED));
        }
    }
    if !text.is_empty() {
        let since = now - cfg.duplicate_window;
        if inner
            .tweets
            .iter()
            .any(|t| t.author_id == token.user_id && t.text == text && t.created_at > since)
        {
            return Err(forbidden(DUPLICATE));
        }
    }
    let tweet = inner.store_tweet(
        &token.user_id,
        &text,
        media_ids,
        in_reply_to.as_deref(),
        reply_settings,
        now,
    );
    Ok(Reply::json(
        201,
        json!({"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}}),
    ))
}

// ---- media -----------------------------------------------------------------------------------

fn max_bytes(category: &str) -> u64 {
    match category {
        "tweet_gif" | "dm_gif" => 15 * MB,
        "tweet_video" | "dm_video" | "amplify_video" => 512 * MB,
        "subtitles" => MB,
        _ => 5 * MB,
    }
}

fn media_key_prefix(category: &str) -> &'static str {
    match category {
        "tweet_gif" | "dm_gif" => "16",
        "tweet_video" | "dm_video" => "7",
        "amplify_video" => "13",
        _ => "3",
    }
}

fn category_fits(category: &str, media_type: &str) -> bool {
    match category {
        "tweet_image" | "dm_image" => media_type.starts_with("image/"),
        "tweet_gif" | "dm_gif" => media_type == "image/gif",
        "tweet_video" | "dm_video" | "amplify_video" => media_type.starts_with("video/"),
        "subtitles" => media_type.starts_with("text/"),
        _ => false,
    }
}

fn default_category(media_type: &str) -> &'static str {
    if media_type == "image/gif" {
        "tweet_gif"
    } else if media_type.starts_with("video/") {
        "tweet_video"
    } else if media_type.starts_with("text/") {
        "subtitles"
    } else {
        "tweet_image"
    }
}

fn new_media(
    inner: &mut Inner,
    cfg: &XConfig,
    owner: &str,
    media_type: &str,
    category: &str,
    total_bytes: u64,
    now: DateTime<Utc>,
) -> String {
    let id = inner.next_id(now);
    let entry = MediaEntry {
        info: XMedia {
            id: id.clone(),
            media_key: format!("{}_{id}", media_key_prefix(category)),
            owner_id: owner.to_string(),
            media_type: media_type.to_string(),
            category: category.to_string(),
            total_bytes,
            segment_indices: Vec::new(),
            segment_sizes: Vec::new(),
            finalized: false,
            state: None,
            polls: 0,
            alt_text: None,
            expires_at: now + chrono::Duration::seconds(cfg.media_expires_after_secs),
        },
        segments: BTreeMap::new(),
        plan: inner.processing.clone(),
    };
    inner.media.insert(id.clone(), entry);
    inner.media_order.push(id.clone());
    id
}

fn expires_after(m: &MediaEntry, now: DateTime<Utc>) -> i64 {
    (m.info.expires_at - now).num_seconds().max(0)
}

fn media_initialize(
    inner: &mut Inner,
    cfg: &XConfig,
    token: &AccessToken,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_object(req)?;
    refuse_unknown_keys(
        &body,
        &[
            "media_type",
            "total_bytes",
            "media_category",
            "additional_owners",
            "shared",
        ],
        "$",
    )?;
    let media_type = match body.get("media_type").and_then(Value::as_str) {
        Some(t) if MEDIA_TYPES.contains(&t) => t.to_string(),
        Some(t) => {
            return Err(invalid(format!(
                "$.media_type: {t} is not a supported media type"
            )))
        }
        None => return Err(invalid("$.media_type: required")),
    };
    let Some(total_bytes) = body
        .get("total_bytes")
        .and_then(Value::as_u64)
        .filter(|n| *n <= MAX_TOTAL_BYTES)
    else {
        return Err(invalid(
            "$.total_bytes: an integer between 0 and 17179869184 is required",
        ));
    };
    let category = match body.get("media_category").and_then(Value::as_str) {
        None => default_category(&media_type).to_string(),
        Some(c) if CATEGORIES.contains(&c) => c.to_string(),
        Some(c) => {
            return Err(invalid(format!(
                "$.media_category: {c} is not a supported media category"
            )))
        }
    };
    if !category_fits(&category, &media_type) {
        return Err(invalid(format!(
            "media_category {category} does not accept media_type {media_type}"
        )));
    }
    let limit = max_bytes(&category);
    if total_bytes > limit {
        return Err(invalid(format!("File size exceeds {limit} bytes.")));
    }
    let id = new_media(
        inner,
        cfg,
        &token.user_id,
        &media_type,
        &category,
        total_bytes,
        now,
    );
    let Some(m) = inner.media.get(&id) else {
        return Err(not_found());
    };
    Ok(Reply::json(
        200,
        json!({"data": {
            "id": id,
            "media_key": m.info.media_key,
            "expires_after_secs": expires_after(m, now),
        }}),
    ))
}

/// The id in `/2/media/upload/{id}/append|finalize`.
fn path_media_id(req: &Req) -> String {
    req.path
        .trim_end_matches('/')
        .rsplit('/')
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn owned_media<'a>(
    inner: &'a mut Inner,
    token: &AccessToken,
    id: &str,
    now: DateTime<Utc>,
) -> Result<&'a mut MediaEntry, Reply> {
    match inner.media.get_mut(id) {
        Some(m) if m.info.owner_id == token.user_id => {
            if m.info.expires_at <= now {
                Err(invalid(format!("Media id {id} has expired.")))
            } else {
                Ok(m)
            }
        }
        _ => Err(resource_not_found("media", "id", id)),
    }
}

fn media_append(
    inner: &mut Inner,
    token: &AccessToken,
    req: &Req,
    form: Option<Result<Form, String>>,
    now: DateTime<Utc>,
) -> Answer {
    let id = path_media_id(req);
    let (segment, data) = match form {
        Some(Ok(form)) => (
            form.text("segment_index"),
            form.bytes("media").cloned().unwrap_or_default(),
        ),
        Some(Err(e)) => return Err(invalid(format!("Unreadable multipart body: {e}"))),
        None => {
            let body = json_object(req)?;
            let segment = body.get("segment_index").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            let data = body
                .get("media")
                .and_then(Value::as_str)
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .map(Bytes::from)
                .unwrap_or_default();
            (segment, data)
        }
    };
    let Some(index) = segment
        .as_deref()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|i| *i <= 999)
    else {
        return Err(invalid(
            "segment_index: an integer between 0 and 999 is required",
        ));
    };
    if data.is_empty() {
        return Err(invalid("media: the chunk is required"));
    }
    let m = owned_media(inner, token, &id, now)?;
    if m.info.finalized {
        return Err(invalid(format!("Media id {id} is already finalized.")));
    }
    m.info.segment_indices.push(index);
    m.info.segment_sizes.push(data.len());
    m.segments.insert(index, data);
    let expires_at = m.info.expires_at.timestamp();
    Ok(Reply::json(
        200,
        json!({"data": {"expires_at": expires_at}}),
    ))
}

fn processing_info(m: &MediaEntry, cfg: &XConfig) -> Option<Value> {
    let state = m.info.state.as_deref()?;
    let mut info = json!({ "state": state });
    match state {
        "pending" | "in_progress" => {
            info["check_after_secs"] = json!(cfg.check_after_secs);
            let percent = match &m.plan {
                Processing::AfterPolls { polls } => m.info.polls * 100 / (*polls).max(1),
                Processing::Never => (m.info.polls * 10).min(99),
                Processing::Fail { after_polls, .. } => {
                    m.info.polls * 100 / (after_polls + 1).max(1)
                }
            };
            info["progress_percent"] = json!(percent.min(99));
        }
        "succeeded" => info["progress_percent"] = json!(100),
        _ => {
            if let Processing::Fail { name, message, .. } = &m.plan {
                info["error"] = json!({"code": 1, "name": name, "message": message});
            }
        }
    }
    Some(info)
}

fn media_finalize(
    inner: &mut Inner,
    cfg: &XConfig,
    token: &AccessToken,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let id = path_media_id(req);
    let m = owned_media(inner, token, &id, now)?;
    if !m.info.finalized {
        if m.segments.is_empty() {
            return Err(invalid(format!("Media id {id} has no uploaded segments.")));
        }
        let size: u64 = m.segments.values().map(|b| b.len() as u64).sum();
        if size != m.info.total_bytes {
            return Err(invalid(
                "Segments do not add up to provided total file size.",
            ));
        }
        m.info.finalized = true;
        if is_processing_category(&m.info.category) {
            m.info.state = Some(
                match &m.plan {
                    Processing::AfterPolls { polls: 0 } => "succeeded",
                    Processing::Fail { after_polls: 0, .. } => "failed",
                    _ => "pending",
                }
                .to_string(),
            );
        }
    }
    let mut data = json!({
        "id": id,
        "media_key": m.info.media_key,
        "size": m.info.total_bytes,
        "expires_after_secs": expires_after(m, now),
    });
    if let Some(info) = processing_info(m, cfg) {
        data["processing_info"] = info;
    }
    Ok(Reply::json(200, json!({ "data": data })))
}

fn media_status(inner: &mut Inner, cfg: &XConfig, token: &AccessToken, req: &Req) -> Answer {
    let params = req.params();
    if param(&params, "command").as_deref() != Some("STATUS") {
        return Err(invalid("command: STATUS is required"));
    }
    let Some(id) = param(&params, "media_id").filter(|id| is_id(id)) else {
        return Err(invalid("media_id: required"));
    };
    let m = match inner.media.get_mut(&id) {
        Some(m) if m.info.owner_id == token.user_id => m,
        _ => return Err(resource_not_found("media", "media_id", &id)),
    };
    if matches!(m.info.state.as_deref(), Some("pending" | "in_progress")) {
        m.info.polls += 1;
        let polls = m.info.polls;
        let next = match &m.plan {
            Processing::AfterPolls { polls: n } if polls >= *n => "succeeded",
            Processing::Fail { after_polls, .. } if polls >= *after_polls => "failed",
            _ => "in_progress",
        };
        m.info.state = Some(next.to_string());
    }
    let mut data = json!({"id": id, "media_key": m.info.media_key});
    if let Some(info) = processing_info(m, cfg) {
        data["processing_info"] = info;
    }
    Ok(Reply::json(200, json!({ "data": data })))
}

fn media_metadata(inner: &mut Inner, token: &AccessToken, req: &Req) -> Answer {
    let body = json_object(req)?;
    refuse_unknown_keys(&body, &["id", "metadata"], "$")?;
    let Some(id) = body.get("id").and_then(Value::as_str).filter(|s| is_id(s)) else {
        return Err(invalid("$.id: a media id is required"));
    };
    let Some(text) = body
        .get("metadata")
        .and_then(|m| m.get("alt_text"))
        .and_then(|a| a.get("text"))
        .and_then(Value::as_str)
    else {
        return Err(invalid("$.metadata.alt_text.text: required"));
    };
    if text.chars().count() > 1000 {
        return Err(invalid(
            "$.metadata.alt_text.text: must be at most 1000 characters",
        ));
    }
    let m = match inner.media.get_mut(id) {
        Some(m) if m.info.owner_id == token.user_id => m,
        _ => return Err(resource_not_found("media", "id", id)),
    };
    m.info.alt_text = Some(text.to_string());
    Ok(Reply::json(
        200,
        json!({"data": {"id": id, "associated_metadata": {"alt_text": {"text": text}}}}),
    ))
}

fn media_upload(
    inner: &mut Inner,
    cfg: &XConfig,
    token: &AccessToken,
    req: &Req,
    form: Option<Result<Form, String>>,
    now: DateTime<Utc>,
) -> Answer {
    let (data, category, media_type) = match form {
        Some(Ok(form)) => (
            form.bytes("media").cloned().unwrap_or_default(),
            form.text("media_category"),
            form.text("media_type"),
        ),
        Some(Err(e)) => return Err(invalid(format!("Unreadable multipart body: {e}"))),
        None => {
            let body = json_object(req)?;
            let data = body
                .get("media")
                .and_then(Value::as_str)
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .map(Bytes::from)
                .unwrap_or_default();
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
            (data, text("media_category"), text("media_type"))
        }
    };
    let Some(category) = category else {
        return Err(invalid("media_category: required"));
    };
    if !matches!(category.as_str(), "tweet_image" | "dm_image" | "subtitles") {
        return Err(invalid(format!(
            "media_category {category} needs the chunked upload (initialize, append, finalize)"
        )));
    }
    if data.is_empty() {
        return Err(invalid("media: required"));
    }
    if data.len() as u64 > max_bytes(&category) {
        return Err(invalid(format!(
            "File size exceeds {} bytes.",
            max_bytes(&category)
        )));
    }
    let media_type = media_type.unwrap_or_else(|| "image/jpeg".to_string());
    let id = new_media(
        inner,
        cfg,
        &token.user_id,
        &media_type,
        &category,
        data.len() as u64,
        now,
    );
    let Some(m) = inner.media.get_mut(&id) else {
        return Err(not_found());
    };
    m.info.segment_indices.push(0);
    m.info.segment_sizes.push(data.len());
    m.segments.insert(0, data);
    m.info.finalized = true;
    Ok(Reply::json(
        200,
        json!({"data": {
            "id": id,
            "media_key": m.info.media_key,
            "size": m.info.total_bytes,
            "expires_after_secs": expires_after(m, now),
        }}),
    ))
}

// ---- OAuth -----------------------------------------------------------------------------------

fn form_fields(req: &Req) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&req.body).unwrap_or_default()
}

/// Who is calling the token endpoint: Basic auth (confidential clients), else `client_id` in
/// the body (public clients only).
fn client_auth(inner: &Inner, req: &Req, body_client: Option<&str>) -> Result<String, Reply> {
    let refused = || {
        oauth_error(
            401,
            "unauthorized_client",
            "Missing valid authorization header",
        )
    };
    if let Some(basic) = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(refused)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(refused)?;
        return match inner.clients.get(id) {
            Some(Some(expected)) if expected == secret => Ok(id.to_string()),
            Some(None) if secret.is_empty() => Ok(id.to_string()),
            _ => Err(refused()),
        };
    }
    let Some(id) = body_client else {
        return Err(oauth_error(
            400,
            "invalid_request",
            "Missing required parameter [client_id].",
        ));
    };
    match inner.clients.get(id) {
        Some(None) => Ok(id.to_string()),
        _ => Err(refused()),
    }
}

fn token_reply(tokens: &XTokens) -> Reply {
    let mut body = json!({
        "token_type": "bearer",
        "expires_in": tokens.expires_in,
        "access_token": tokens.access_token,
        "scope": tokens.scope,
    });
    if let Some(rt) = &tokens.refresh_token {
        body["refresh_token"] = json!(rt);
    }
    Reply::json(200, body)
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

fn oauth_token(shared: &Shared, req: &Req) -> Reply {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    let content_type = req.header("content-type").unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter [grant_type].",
        );
    }
    let form = form_fields(req);
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let client_id = match client_auth(&inner, req, field("client_id")) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    match field("grant_type") {
        Some("refresh_token") => {
            let Some(presented) = field("refresh_token") else {
                return oauth_error(
                    400,
                    "invalid_request",
                    "Missing required parameter [refresh_token].",
                );
            };
            match inner.refresh.get(presented).cloned() {
                Some(entry) if entry.client_id == client_id => {
                    // Rotation: the presented token dies as the new pair is issued.
                    inner.refresh.remove(presented);
                    let tokens = inner.issue_tokens(cfg, &entry.user_id, &client_id, &entry.scopes);
                    token_reply(&tokens)
                }
                _ => {
                    let error = match inner.refresh_error {
                        RefreshErrorForm::InvalidGrant => "invalid_grant",
                        RefreshErrorForm::InvalidRequest => "invalid_request",
                    };
                    oauth_error(400, error, "Value passed for the token was invalid.")
                }
            }
        }
        Some("authorization_code") => {
            let refused = || {
                oauth_error(
                    400,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                )
            };
            let (Some(code), Some(redirect), Some(verifier)) =
                (field("code"), field("redirect_uri"), field("code_verifier"))
            else {
                return refused();
            };
            // Single use: the code is spent whatever happens next.
            let Some(entry) = inner.codes.remove(code) else {
                return refused();
            };
            let grant = entry.grant;
            if entry.expires_at <= now
                || grant.client_id != client_id
                || grant.redirect_uri != redirect
                || !pkce_matches(
                    &grant.code_challenge_method,
                    &grant.code_challenge,
                    verifier,
                )
            {
                return refused();
            }
            let tokens = inner.issue_tokens(cfg, &grant.user_id, &client_id, &grant.scopes);
            token_reply(&tokens)
        }
        Some(other) => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("The grant type [{other}] is not supported."),
        ),
        None => oauth_error(
            400,
            "invalid_request",
            "Missing required parameter [grant_type].",
        ),
    }
}

fn oauth_revoke(shared: &Shared, req: &Req) -> Reply {
    let mut inner = shared.lock();
    let form = form_fields(req);
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if let Err(reply) = client_auth(&inner, req, field("client_id").as_deref()) {
        return reply;
    }
    let Some(token) = field("token") else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter [token].",
        );
    };
    inner.access.remove(&token);
    inner.refresh.remove(&token);
    Reply::json(200, json!({"revoked": true}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_length_follows_twitter_text_v2() {
        assert_eq!(weighted_length("hello"), 5);
        assert_eq!(weighted_length("日本"), 4);
        assert_eq!(
            weighted_length("see https://example.com/a/very/long/path ok"),
            4 + 23 + 3
        );
        assert_eq!(weighted_length("👩‍👩‍👧"), 2);
    }

    #[test]
    fn mentions_are_whole_handles() {
        assert!(mentions("hi @Alice!", "alice"));
        assert!(!mentions("hi @alicex", "alice"));
    }
}
