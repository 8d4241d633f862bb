//! XRPC method handlers. Status codes, error names and messages follow
//! `@atproto/pds` / `@atproto/xrpc-server`.

use axum::body::Body;
use axum::http::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::tokens::{self, Claims};
use super::validate::{self, Limits, PostRefs};
use super::{
    AccessToken, Account, BlobEntry, Inner, RecordEntry, RefreshToken, Req, RetryAfter, Shared,
    Successor, POST_COLLECTION,
};
use crate::common::{base32_lower, random_bytes, tightest, LimitStatus};

/// A response under construction.
pub(crate) struct Reply {
    status: u16,
    body: ReplyBody,
    /// Route limit governing the `RateLimit-*` headers (else the global one).
    rate: Option<LimitStatus>,
    retry_after: Option<String>,
    /// Authenticated: `Cache-Control: private`, `Vary: Authorization`.
    private: bool,
}

enum ReplyBody {
    Json(Value),
    Empty,
    Bytes { mime: String, data: Vec<u8> },
}

type XResult<T> = Result<T, Box<Reply>>;

fn xerr(status: u16, error: &str, message: impl Into<String>) -> Box<Reply> {
    Box::new(Reply {
        status,
        body: ReplyBody::Json(json!({ "error": error, "message": message.into() })),
        rate: None,
        retry_after: None,
        private: false,
    })
}

fn invalid(message: impl Into<String>) -> Box<Reply> {
    xerr(400, "InvalidRequest", message)
}

fn ok(body: Value) -> Reply {
    Reply {
        status: 200,
        body: ReplyBody::Json(body),
        rate: None,
        retry_after: None,
        private: false,
    }
}

fn rate_limited(rate: LimitStatus) -> Box<Reply> {
    let mut reply = xerr(429, "RateLimitExceeded", "Rate Limit Exceeded");
    reply.rate = Some(rate);
    reply
}

/// Attach a route rate-limit status to whatever the handler answered.
fn with_rate(rate: LimitStatus, result: XResult<Reply>) -> XResult<Reply> {
    match result {
        Ok(mut reply) => {
            reply.rate = Some(rate);
            Ok(reply)
        }
        Err(mut reply) => {
            reply.rate = Some(rate);
            Err(reply)
        }
    }
}

fn private(mut result: XResult<Reply>) -> XResult<Reply> {
    match &mut result {
        Ok(reply) => reply.private = true,
        Err(reply) => reply.private = true,
    }
    result
}

fn into_response(reply: Reply, global: LimitStatus, now: DateTime<Utc>) -> Response<Body> {
    let rate = reply.rate.unwrap_or(global);
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in rate.headers() {
        builder = builder.header(name, value);
    }
    if reply.status == 429 {
        let retry = reply
            .retry_after
            .unwrap_or_else(|| rate.retry_after_secs(now).to_string());
        builder = builder.header("Retry-After", retry);
    }
    if reply.private {
        builder = builder
            .header("Cache-Control", "private")
            .header("Vary", "Authorization");
    }
    let built = match reply.body {
        ReplyBody::Json(value) => builder
            .header("Content-Type", "application/json; charset=utf-8")
            .body(Body::from(value.to_string())),
        ReplyBody::Empty => builder.body(Body::empty()),
        ReplyBody::Bytes { mime, data } => {
            builder.header("Content-Type", mime).body(Body::from(data))
        }
    };
    built.unwrap_or_else(|_| super::plain(500, "response build error"))
}

fn window_5min() -> chrono::Duration {
    chrono::Duration::minutes(5)
}

fn global_key(req: &Req) -> String {
    req.peer.ip().to_string()
}

/// Handle one XRPC request (no fault).
pub(crate) fn process(shared: &Shared, req: &Req, nsid: &str) -> Response<Body> {
    let mut inner = shared.lock();
    let now = inner.now();
    let global = inner.limiter.consume(
        "global-all",
        &global_key(req),
        shared.cfg.rate_limit_all_5min,
        window_5min(),
        1,
        now,
    );
    let result = if nsid != "_health" && !validate::is_nsid(nsid) {
        Err(invalid("invalid xrpc path"))
    } else if global.exceeded {
        Err(rate_limited(global.clone()))
    } else {
        dispatch(shared, &mut inner, req, nsid, now)
    };
    drop(inner);
    into_response(result.unwrap_or_else(|e| *e), global, now)
}

/// The answer of a `FaultKind::Status` (nothing performed).
pub(crate) fn fault_status(
    shared: &Shared,
    req: &Req,
    status: u16,
    error: &str,
    message: &str,
) -> Response<Body> {
    let inner = shared.lock();
    let now = inner.now();
    let global = inner.limiter.peek(
        "global-all",
        &global_key(req),
        shared.cfg.rate_limit_all_5min,
        window_5min(),
        now,
    );
    drop(inner);
    into_response(*xerr(status, error, message), global, now)
}

/// The answer of a `FaultKind::RateLimited` (nothing performed): the limit
/// that would govern the method, exhausted until the retry time.
pub(crate) fn fault_rate_limited(
    shared: &Shared,
    nsid: &str,
    retry_after: RetryAfter,
) -> Response<Body> {
    let now = shared.lock().now();
    let cfg = &shared.cfg;
    let (limit, window) = match nsid {
        "com.atproto.repo.createRecord"
        | "com.atproto.repo.deleteRecord"
        | "com.atproto.repo.putRecord"
        | "com.atproto.repo.applyWrites" => (cfg.write_points_hour, chrono::Duration::hours(1)),
        "com.atproto.server.createSession" => (cfg.session_limit_5min, window_5min()),
        _ => (cfg.rate_limit_all_5min, window_5min()),
    };
    let (reset, header) = match retry_after {
        RetryAfter::Seconds(secs) => (
            now + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000)),
            secs.to_string(),
        ),
        RetryAfter::HttpDate(at) => {
            let system = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(u64::try_from(at.timestamp()).unwrap_or(0));
            (at, httpdate::fmt_http_date(system))
        }
    };
    let rate = LimitStatus {
        limit,
        remaining: 0,
        reset,
        window_secs: window.num_seconds(),
        exceeded: true,
    };
    let mut reply = rate_limited(rate.clone());
    reply.retry_after = Some(header);
    into_response(*reply, rate, now)
}

type Handler = fn(&Shared, &mut Inner, &Req, DateTime<Utc>) -> XResult<Reply>;

fn dispatch(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    nsid: &str,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    let (method, handler): (&str, Handler) = match nsid {
        "_health" => ("GET", health),
        "com.atproto.server.createSession" => ("POST", create_session),
        "com.atproto.server.refreshSession" => ("POST", refresh_session),
        "com.atproto.server.getSession" => ("GET", get_session),
        "com.atproto.server.deleteSession" => ("POST", delete_session),
        "com.atproto.server.describeServer" => ("GET", describe_server),
        "com.atproto.server.getServiceAuth" => ("GET", get_service_auth),
        "com.atproto.identity.resolveHandle" => ("GET", resolve_handle),
        "com.atproto.repo.uploadBlob" => ("POST", upload_blob),
        "com.atproto.repo.createRecord" => ("POST", create_record),
        "com.atproto.repo.getRecord" => ("GET", get_record),
        "com.atproto.repo.listRecords" => ("GET", list_records),
        "com.atproto.repo.deleteRecord" => ("POST", delete_record),
        "com.atproto.sync.getBlob" => ("GET", get_blob),
        _ => return Err(xerr(404, "XRPCNotSupported", "XRPCNotSupported")),
    };
    let method_ok = req.method == method || (method == "GET" && req.method == "HEAD");
    if !method_ok {
        return Err(invalid(format!(
            "Incorrect HTTP method ({}) expected {method}",
            req.method
        )));
    }
    handler(shared, inner, req, now)
}

// ---- input helpers -----------------------------------------------------------

fn json_input(req: &Req) -> XResult<Map<String, Value>> {
    let Some(content_type) = req.header("content-type") else {
        return Err(invalid(
            "Request encoding (Content-Type) required but not provided",
        ));
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Err(invalid(format!(
            "Wrong request encoding (Content-Type): {essence}"
        )));
    }
    let value: Value = serde_json::from_slice(&req.body)
        .map_err(|e| invalid(format!("Invalid JSON body: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(invalid("Input must be an object")),
    }
}

fn input_str<'a>(input: &'a Map<String, Value>, key: &str) -> XResult<&'a str> {
    let value = input
        .get(key)
        .ok_or_else(|| invalid(format!("Input must have the property \"{key}\"")))?;
    value
        .as_str()
        .ok_or_else(|| invalid(format!("Input/{key} must be a string")))
}

fn input_opt_str<'a>(input: &'a Map<String, Value>, key: &str) -> XResult<Option<&'a str>> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(invalid(format!("Input/{key} must be a string"))),
    }
}

fn params(req: &Req) -> XResult<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&req.query)
        .map_err(|_| invalid("Invalid query string"))
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn required_param<'a>(params: &'a [(String, String)], key: &str) -> XResult<&'a str> {
    param(params, key).ok_or_else(|| invalid(format!("Params must have the property \"{key}\"")))
}

// ---- auth ------------------------------------------------------------------------

struct Authed {
    did: String,
    jti: String,
}

/// `parseAuthorizationHeader`: `None` when absent.
fn authorization(req: &Req) -> XResult<Option<(String, String)>> {
    let Some(header) = req.header("authorization").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let parts: Vec<&str> = header.split(' ').collect();
    if parts.len() != 2 {
        return Err(xerr(400, "InvalidToken", "Malformed authorization header"));
    }
    let scheme = parts[0].to_ascii_uppercase();
    match scheme.as_str() {
        "BASIC" | "BEARER" | "DPOP" => Ok(Some((scheme, parts[1].to_string()))),
        _ => Err(xerr(
            400,
            "InvalidToken",
            format!("Unsupported authorization type: {}", parts[0]),
        )),
    }
}

fn auth_missing() -> Box<Reply> {
    xerr(401, "AuthMissing", "Authentication Required")
}

fn verify_bearer(
    shared: &Shared,
    token: &str,
    typ: &str,
    scopes: &[&str],
    now: DateTime<Utc>,
) -> XResult<Authed> {
    if token.is_empty() {
        return Err(auth_missing());
    }
    let decoded = tokens::verify(&shared.secret, token)
        .ok_or_else(|| xerr(400, "InvalidToken", "Token could not be verified"))?;
    if decoded.exp().is_some_and(|exp| exp <= now.timestamp()) {
        return Err(xerr(400, "ExpiredToken", "Token has expired"));
    }
    if decoded.typ().is_some_and(|t| t != typ) {
        return Err(xerr(400, "InvalidToken", "Invalid token type"));
    }
    let sub = decoded
        .str("sub")
        .filter(|s| s.starts_with("did:"))
        .ok_or_else(|| xerr(400, "InvalidToken", "Malformed token"))?;
    if !decoded.str("scope").is_some_and(|s| scopes.contains(&s)) {
        return Err(xerr(400, "InvalidToken", "Bad token scope"));
    }
    Ok(Authed {
        did: sub.to_string(),
        jti: decoded.str("jti").unwrap_or_default().to_string(),
    })
}

fn auth_access(shared: &Shared, inner: &Inner, req: &Req, now: DateTime<Utc>) -> XResult<Authed> {
    let authed = match authorization(req)? {
        None => return Err(auth_missing()),
        Some((scheme, token)) if scheme == "BEARER" => verify_bearer(
            shared,
            &token,
            tokens::TYP_ACCESS,
            &[
                tokens::SCOPE_ACCESS,
                tokens::SCOPE_APP_PASS,
                "com.atproto.appPassPrivileged",
            ],
            now,
        )?,
        Some((scheme, _)) if scheme == "DPOP" => {
            return Err(xerr(
                400,
                "InvalidToken",
                "DPoP (OAuth) access tokens are not supported by this fake",
            ))
        }
        Some(_) => return Err(xerr(400, "InvalidToken", "Unexpected authorization type")),
    };
    match inner.access.get(&authed.jti) {
        None => Err(xerr(400, "InvalidToken", "Token could not be verified")),
        Some(t) if t.revoked => Err(xerr(400, "ExpiredToken", "Token has been revoked")),
        Some(t) if t.force_expired => Err(xerr(400, "ExpiredToken", "Token has expired")),
        Some(_) => Ok(authed),
    }
}

fn auth_refresh(shared: &Shared, req: &Req, now: DateTime<Utc>) -> XResult<Authed> {
    match authorization(req)? {
        Some((scheme, token)) if scheme == "BEARER" => verify_bearer(
            shared,
            &token,
            tokens::TYP_REFRESH,
            &[tokens::SCOPE_REFRESH],
            now,
        ),
        _ => Err(auth_missing()),
    }
}

fn random_jti() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>())
}

fn issue_access(
    shared: &Shared,
    inner: &mut Inner,
    did: &str,
    now: DateTime<Utc>,
) -> (String, String) {
    let jti = hex::encode(random_bytes::<16>());
    let exp = now + shared.cfg.access_ttl;
    let jwt = tokens::sign(
        &shared.secret,
        &Claims {
            typ: tokens::TYP_ACCESS,
            scope: tokens::SCOPE_APP_PASS,
            aud: &shared.service_did,
            sub: did,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: &jti,
        },
    );
    inner.access.insert(
        jti.clone(),
        AccessToken {
            did: did.to_string(),
            exp,
            revoked: false,
            force_expired: false,
        },
    );
    (jwt, jti)
}

fn issue_refresh(
    shared: &Shared,
    inner: &mut Inner,
    did: &str,
    jti: &str,
    now: DateTime<Utc>,
) -> String {
    let exp = now + shared.cfg.refresh_ttl;
    let jwt = tokens::sign(
        &shared.secret,
        &Claims {
            typ: tokens::TYP_REFRESH,
            scope: tokens::SCOPE_REFRESH,
            aud: &shared.service_did,
            sub: did,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti,
        },
    );
    inner
        .refresh
        .entry(jti.to_string())
        .or_insert(RefreshToken {
            did: did.to_string(),
            expires_at: exp,
            next: None,
        });
    jwt
}

fn session_body(shared: &Shared, account: &Account, access: &str, refresh: &str) -> Value {
    json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": account.handle,
        "did": account.did,
        "didDoc": shared.did_doc(account),
        "email": account.email,
        "emailConfirmed": account.email_confirmed,
        "emailAuthFactor": false,
        "active": true,
    })
}

// ---- com.atproto.server ------------------------------------------------------------

fn health(_: &Shared, _: &mut Inner, _: &Req, _: DateTime<Utc>) -> XResult<Reply> {
    Ok(ok(json!({ "version": "0.4.0-outpost-fake" })))
}

fn create_session(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    let input = json_input(req)?;
    let identifier = input_str(&input, "identifier")?;
    let password = input_str(&input, "password")?;
    let key = identifier.to_ascii_lowercase();
    let cfg = &shared.cfg;
    let a = inner.limiter.consume(
        "repo-create-session-5min",
        &key,
        cfg.session_limit_5min,
        window_5min(),
        1,
        now,
    );
    let b = inner.limiter.consume(
        "repo-create-session-day",
        &key,
        cfg.session_limit_day,
        chrono::Duration::days(1),
        1,
        now,
    );
    let Some(rate) = tightest(vec![a, b]) else {
        return Err(xerr(500, "InternalServerError", "Internal Server Error"));
    };
    if rate.exceeded {
        return Err(rate_limited(rate));
    }
    let result = (|| {
        let account = inner
            .account(identifier)
            .filter(|a| a.app_passwords.iter().any(|p| p == password))
            .cloned()
            .ok_or_else(|| {
                xerr(
                    401,
                    "AuthenticationRequired",
                    "Invalid identifier or password",
                )
            })?;
        let (access, _) = issue_access(shared, inner, &account.did, now);
        let refresh = issue_refresh(shared, inner, &account.did, &random_jti(), now);
        Ok(ok(session_body(shared, &account, &access, &refresh)))
    })();
    with_rate(rate, result)
}

fn refresh_session(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    private((|| {
        let authed = auth_refresh(shared, req, now)?;
        let revoked = || xerr(400, "ExpiredToken", "Token has been revoked");
        let token = inner
            .refresh
            .get(&authed.jti)
            .cloned()
            .ok_or_else(revoked)?;
        if token.expires_at <= now {
            return Err(revoked());
        }
        let account = inner.account(&authed.did).cloned().ok_or_else(|| {
            invalid(format!(
                "Could not find user info for account: {}",
                authed.did
            ))
        })?;
        let grace_end = (now + shared.cfg.refresh_grace).min(token.expires_at);
        let successor = match token.next {
            Some(mut successor) => {
                // Reuse within the grace: the same successor pair, with a
                // new access token only if the old one no longer works.
                let usable = inner
                    .access
                    .get(&successor.access_jti)
                    .is_some_and(|t| !t.revoked && !t.force_expired && t.exp > now);
                if !usable {
                    let (jwt, jti) = issue_access(shared, inner, &account.did, now);
                    successor.access_jwt = jwt;
                    successor.access_jti = jti;
                }
                successor
            }
            None => {
                let (access_jwt, access_jti) = issue_access(shared, inner, &account.did, now);
                let refresh_jwt = issue_refresh(shared, inner, &account.did, &random_jti(), now);
                Successor {
                    access_jwt,
                    access_jti,
                    refresh_jwt,
                }
            }
        };
        if let Some(old) = inner.refresh.get_mut(&authed.jti) {
            old.expires_at = grace_end;
            old.next = Some(successor.clone());
        }
        Ok(ok(session_body(
            shared,
            &account,
            &successor.access_jwt,
            &successor.refresh_jwt,
        )))
    })())
}

fn get_session(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    private((|| {
        let authed = auth_access(shared, inner, req, now)?;
        let account = inner
            .account(&authed.did)
            .ok_or_else(|| xerr(403, "AccountNotFound", "Account not found"))?;
        Ok(ok(json!({
            "handle": account.handle,
            "did": account.did,
            "didDoc": shared.did_doc(account),
            "email": account.email,
            "emailConfirmed": account.email_confirmed,
            "emailAuthFactor": false,
            "active": true,
        })))
    })())
}

fn delete_session(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    private((|| {
        let authed = auth_refresh(shared, req, now)?;
        inner.refresh.remove(&authed.jti);
        Ok(Reply {
            body: ReplyBody::Empty,
            ..ok(Value::Null)
        })
    })())
}

fn describe_server(shared: &Shared, _: &mut Inner, _: &Req, _: DateTime<Utc>) -> XResult<Reply> {
    Ok(ok(json!({
        "did": shared.service_did,
        "availableUserDomains": [".test"],
        "inviteCodeRequired": false,
        "phoneVerificationRequired": false,
        "links": {},
        "contact": {},
    })))
}

/// `com.atproto.server.getServiceAuth`: a short-lived token that another
/// service (the video service) accepts on the account's behalf. As on the
/// reference PDS, `exp` may be at most 1 h ahead (1 min without `lxm`) and
/// not in the past (`400 BadExpiration`); without `exp` the token lives
/// 60 s. Stricter than the reference PDS: `aud` must be this PDS's own
/// `did:web` or the fake video service's, so a client that derives the
/// audience from the entryway (or anything else) is caught here.
fn get_service_auth(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    private((|| {
        let authed = auth_access(shared, inner, req, now)?;
        let params = params(req)?;
        let aud = required_param(&params, "aud")?;
        if !validate::is_did(aud) {
            return Err(invalid("Params/aud must be a valid did"));
        }
        if aud != shared.service_did && aud != shared.video_did {
            return Err(invalid(format!(
                "aud {aud} is not a service this fake issues tokens for: use the PDS's own did:web ({}) or the video service's ({})",
                shared.service_did, shared.video_did
            )));
        }
        let lxm = param(&params, "lxm");
        if lxm.is_some_and(|l| !validate::is_nsid(l)) {
            return Err(invalid("Params/lxm must be a valid nsid"));
        }
        let exp = match param(&params, "exp") {
            None => now.timestamp() + 60,
            Some(raw) => raw
                .parse::<i64>()
                .map_err(|_| invalid("Params/exp must be an integer"))?,
        };
        let diff = exp - now.timestamp();
        if diff < 0 {
            return Err(invalid_named("BadExpiration", "expiration is in past"));
        }
        if diff > 3600 {
            return Err(invalid_named(
                "BadExpiration",
                "cannot request a token with an expiration more than an hour in the future",
            ));
        }
        if lxm.is_none() && diff > 60 {
            return Err(invalid_named(
                "BadExpiration",
                "cannot request a method-less token with an expiration more than a minute in the future",
            ));
        }
        let jti = hex::encode(random_bytes::<16>());
        let token = tokens::sign_service(
            &shared.secret,
            &tokens::ServiceClaims {
                iss: &authed.did,
                aud,
                lxm,
                iat: now.timestamp(),
                exp,
                jti: &jti,
            },
        );
        Ok(ok(json!({ "token": token })))
    })())
}

fn invalid_named(error: &str, message: &str) -> Box<Reply> {
    xerr(400, error, message)
}

// ---- com.atproto.identity ------------------------------------------------------------

fn resolve_handle(_: &Shared, inner: &mut Inner, req: &Req, _: DateTime<Utc>) -> XResult<Reply> {
    let params = params(req)?;
    let handle = required_param(&params, "handle")?;
    let account = inner
        .account_by_handle(handle)
        .ok_or_else(|| invalid("Unable to resolve handle"))?;
    Ok(ok(json!({ "did": account.did })))
}

// ---- com.atproto.repo ------------------------------------------------------------------

/// CIDv1 (sha2-256) in multibase base32: codec 0x55 raw → `bafkrei…`,
/// 0x71 dag-cbor → `bafyrei…`.
pub(crate) fn cid(codec: u8, data: &[u8]) -> String {
    let mut bytes = vec![0x01, codec, 0x12, 0x20];
    bytes.extend_from_slice(&Sha256::digest(data));
    format!("b{}", base32_lower(&bytes))
}

pub(crate) fn sniff_mime(data: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else if data.len() >= 12 && &data[4..8] == b"ftyp" {
        match &data[8..12] {
            b"avif" | b"avis" => Some("image/avif"),
            b"heic" | b"heix" | b"mif1" => Some("image/heic"),
            b"qt  " => Some("video/quicktime"),
            _ => Some("video/mp4"),
        }
    } else if starts(b"WEBVTT") {
        Some("text/vtt")
    } else {
        None
    }
}

pub(crate) fn gc_blobs(shared: &Shared, inner: &mut Inner, now: DateTime<Utc>) {
    let cutoff = now - shared.cfg.blob_gc_after;
    inner
        .blobs
        .retain(|_, b| b.referenced || b.uploaded_at > cutoff);
}

fn upload_blob(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    private((|| {
        let authed = auth_access(shared, inner, req, now)?;
        let Some(content_type) = req.header("content-type") else {
            return Err(invalid(
                "Request encoding (Content-Type) required but not provided",
            ));
        };
        if req.body.len() > inner.blob_limit {
            return Err(xerr(413, "PayloadTooLarge", "request entity too large"));
        }
        gc_blobs(shared, inner, now);
        let declared = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let mime = sniff_mime(&req.body).map(str::to_string).unwrap_or(
            if declared.is_empty() || declared == "*/*" {
                "application/octet-stream".to_string()
            } else {
                declared
            },
        );
        let link = cid(0x55, &req.body);
        let size = req.body.len();
        let entry = inner
            .blobs
            .entry((authed.did.clone(), link.clone()))
            .or_insert(BlobEntry {
                mime: mime.clone(),
                size,
                data: req.body.clone(),
                uploaded_at: now,
                referenced: false,
            });
        entry.uploaded_at = now;
        Ok(ok(json!({
            "blob": {
                "$type": "blob",
                "ref": { "$link": link },
                "mimeType": entry.mime,
                "size": size,
            }
        })))
    })())
}

fn write_points(
    shared: &Shared,
    inner: &mut Inner,
    did: &str,
    points: u32,
    now: DateTime<Utc>,
) -> LimitStatus {
    let hour = inner.limiter.consume(
        "repo-write-hour",
        did,
        shared.cfg.write_points_hour,
        chrono::Duration::hours(1),
        points,
        now,
    );
    let day = inner.limiter.consume(
        "repo-write-day",
        did,
        shared.cfg.write_points_day,
        chrono::Duration::days(1),
        points,
        now,
    );
    tightest(vec![hour.clone(), day]).unwrap_or(hour)
}

fn commit(inner: &mut Inner, did: &str, data_cid: &str, now: DateTime<Utc>) -> Value {
    let rev = inner.next_tid(now);
    let commit_cid = cid(0x71, format!("{did}|{rev}|{data_cid}").as_bytes());
    json!({ "cid": commit_cid, "rev": rev })
}

/// The repo's DID for a handle-or-DID, or `400 Could not find repo`.
fn repo_did(inner: &Inner, repo: &str) -> XResult<String> {
    inner
        .account(repo)
        .map(|a| a.did.clone())
        .ok_or_else(|| invalid(format!("Could not find repo: {repo}")))
}

fn create_record(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    private((|| {
        let authed = auth_access(shared, inner, req, now)?;
        let input = json_input(req)?;
        let repo = input_str(&input, "repo")?;
        let collection = input_str(&input, "collection")?;
        if !validate::is_nsid(collection) {
            return Err(invalid("Input/collection must be a valid nsid"));
        }
        let rkey = input_opt_str(&input, "rkey")?;
        if rkey.is_some_and(|r| !validate::is_record_key(r)) {
            return Err(invalid("Input/rkey must be a valid Record Key"));
        }
        let validate_flag = match input.get("validate") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(invalid("Input/validate must be a boolean")),
        };
        let record = input
            .get("record")
            .ok_or_else(|| invalid("Input must have the property \"record\""))?
            .as_object()
            .ok_or_else(|| invalid("Input/record must be an object"))?;

        let rate = write_points(shared, inner, &authed.did, 3, now);
        if rate.exceeded {
            return Err(rate_limited(rate));
        }
        let result = create_record_inner(
            shared,
            inner,
            &authed,
            repo,
            collection,
            rkey,
            validate_flag,
            record,
            now,
        );
        with_rate(rate, result)
    })())
}

#[allow(clippy::too_many_arguments)]
fn create_record_inner(
    shared: &Shared,
    inner: &mut Inner,
    authed: &Authed,
    repo: &str,
    collection: &str,
    rkey: Option<&str>,
    validate_flag: Option<bool>,
    record: &Map<String, Value>,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    let did = repo_did(inner, repo)?;
    if did != authed.did {
        return Err(xerr(
            401,
            "AuthenticationRequired",
            "Authentication Required",
        ));
    }
    let mut record = record.clone();
    if record.get("$type").is_none_or(Value::is_null) {
        record.insert("$type".into(), Value::String(collection.to_string()));
    }
    let record_type = record
        .get("$type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if validate_flag != Some(false) && record_type != collection {
        return Err(invalid(format!(
            "Invalid $type: expected {collection}, got {record_type}"
        )));
    }

    let mut refs = PostRefs::default();
    let validation_status = if collection == POST_COLLECTION {
        if validate_flag == Some(false) {
            None
        } else {
            let limits = Limits {
                image_max_size: inner.image_max_size,
            };
            refs = validate::validate_post(&record, &limits)
                .map_err(|m| invalid(format!("Invalid {POST_COLLECTION} record: {m}")))?;
            Some("valid")
        }
    } else if validate_flag == Some(true) {
        return Err(invalid(format!("Lexicon not found: lex:{collection}")));
    } else if validate_flag == Some(false) {
        None
    } else {
        Some("unknown")
    };

    let rkey = match rkey {
        Some(r) => r.to_string(),
        None => inner.next_tid(now),
    };
    if collection == POST_COLLECTION && !validate::is_tid(&rkey) {
        return Err(invalid(format!(
            "Invalid record key for {POST_COLLECTION}: \"{rkey}\" is not a TID"
        )));
    }
    let key = (collection.to_string(), rkey.clone());
    if inner.repos.get(&did).is_some_and(|r| r.contains_key(&key)) {
        // The reference PDS fails in its MST insert: a generic 500.
        return Err(xerr(500, "InternalServerError", "Internal Server Error"));
    }

    gc_blobs(shared, inner, now);
    for blob in &refs.blobs {
        let stored = inner
            .blobs
            .get(&(did.clone(), blob.cid.clone()))
            .ok_or_else(|| {
                xerr(
                    400,
                    "BlobNotFound",
                    format!("Could not find blob: {}", blob.cid),
                )
            })?;
        if stored.size > blob.max_size {
            return Err(xerr(
                400,
                "BlobTooLarge",
                format!(
                    "This file is too large. It is {} but the maximum size is {}.",
                    pretty_size(stored.size),
                    pretty_size(blob.max_size)
                ),
            ));
        }
        if stored.mime != blob.mime {
            return Err(xerr(
                400,
                "InvalidMimeType",
                format!(
                    "Referenced Mimetype does not match stored blob. Expected: {}, Got: {}",
                    stored.mime, blob.mime
                ),
            ));
        }
        if !validate::mime_accepted(&blob.mime, blob.accept) {
            return Err(xerr(
                400,
                "InvalidMimeType",
                format!(
                    "Wrong type of file. It is {} but it must match {}.",
                    blob.mime,
                    blob.accept.join(", ")
                ),
            ));
        }
    }
    for (path, uri, cid) in &refs.replies {
        let exists = inner
            .repos
            .values()
            .flat_map(|r| r.values())
            .any(|r| &r.uri == uri && &r.cid == cid);
        if !exists {
            return Err(invalid(format!(
                "Invalid {POST_COLLECTION} record: {path} must reference an existing record (uri and cid): {uri}"
            )));
        }
    }

    let value = Value::Object(record);
    let record_cid = cid(0x71, value.to_string().as_bytes());
    let uri = format!("at://{did}/{collection}/{rkey}");
    for blob in &refs.blobs {
        if let Some(b) = inner.blobs.get_mut(&(did.clone(), blob.cid.clone())) {
            b.referenced = true;
        }
    }
    let seq = inner.next_seq();
    inner.repos.entry(did.clone()).or_default().insert(
        key,
        RecordEntry {
            uri: uri.clone(),
            cid: record_cid.clone(),
            value,
            seq,
        },
    );
    let commit = commit(inner, &did, &record_cid, now);
    let mut body = json!({ "uri": uri, "cid": record_cid, "commit": commit });
    if let (Some(status), Some(map)) = (validation_status, body.as_object_mut()) {
        map.insert("validationStatus".into(), Value::String(status.to_string()));
    }
    Ok(ok(body))
}

fn pretty_size(bytes: usize) -> String {
    // `pretty-bytes` style (SI units)
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.3} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.3} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.3} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
    .replace(".000 ", " ")
}

fn get_record(_: &Shared, inner: &mut Inner, req: &Req, _: DateTime<Utc>) -> XResult<Reply> {
    let params = params(req)?;
    let repo = required_param(&params, "repo")?;
    let collection = required_param(&params, "collection")?;
    let rkey = required_param(&params, "rkey")?;
    let want_cid = param(&params, "cid");
    let did = repo_did(inner, repo)?;
    let uri = format!("at://{did}/{collection}/{rkey}");
    let found = inner
        .repos
        .get(&did)
        .and_then(|r| r.get(&(collection.to_string(), rkey.to_string())))
        .filter(|r| want_cid.is_none_or(|c| c == r.cid))
        .ok_or_else(|| {
            xerr(
                400,
                "RecordNotFound",
                format!("Could not locate record: {uri}"),
            )
        })?;
    Ok(ok(
        json!({ "uri": found.uri, "cid": found.cid, "value": found.value }),
    ))
}

fn list_records(_: &Shared, inner: &mut Inner, req: &Req, _: DateTime<Utc>) -> XResult<Reply> {
    let params = params(req)?;
    let repo = required_param(&params, "repo")?;
    let collection = required_param(&params, "collection")?;
    let limit = match param(&params, "limit") {
        None => 50,
        Some(raw) => {
            let n: i64 = raw
                .parse()
                .map_err(|_| invalid("Params/limit must be an integer"))?;
            if n < 1 {
                return Err(invalid("Params/limit can not be less than 1"));
            }
            if n > 100 {
                return Err(invalid("Params/limit can not be greater than 100"));
            }
            usize::try_from(n).unwrap_or(50)
        }
    };
    let reverse = match param(&params, "reverse") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(invalid("Params/reverse must be a boolean")),
    };
    let cursor = param(&params, "cursor");
    let did = repo_did(inner, repo)?;
    let mut entries: Vec<(&String, &RecordEntry)> = inner
        .repos
        .get(&did)
        .map(|r| {
            r.iter()
                .filter(|((c, _), _)| c == collection)
                .map(|((_, rkey), e)| (rkey, e))
                .collect()
        })
        .unwrap_or_default();
    if !reverse {
        entries.reverse();
    }
    let records: Vec<(&String, &RecordEntry)> = entries
        .into_iter()
        .filter(|(rkey, _)| match cursor {
            None => true,
            Some(c) if reverse => rkey.as_str() > c,
            Some(c) => rkey.as_str() < c,
        })
        .take(limit)
        .collect();
    let cursor = records.last().map(|(rkey, _)| (*rkey).clone());
    let records: Vec<Value> = records
        .into_iter()
        .map(|(_, e)| json!({ "uri": e.uri, "cid": e.cid, "value": e.value }))
        .collect();
    let mut body = json!({ "records": records });
    if let (Some(cursor), Some(map)) = (cursor, body.as_object_mut()) {
        map.insert("cursor".into(), Value::String(cursor));
    }
    Ok(ok(body))
}

fn delete_record(
    shared: &Shared,
    inner: &mut Inner,
    req: &Req,
    now: DateTime<Utc>,
) -> XResult<Reply> {
    private((|| {
        let authed = auth_access(shared, inner, req, now)?;
        let input = json_input(req)?;
        let repo = input_str(&input, "repo")?;
        let collection = input_str(&input, "collection")?;
        let rkey = input_str(&input, "rkey")?;
        let rate = write_points(shared, inner, &authed.did, 1, now);
        if rate.exceeded {
            return Err(rate_limited(rate));
        }
        let result = (|| {
            let did = repo_did(inner, repo)?;
            if did != authed.did {
                return Err(xerr(
                    401,
                    "AuthenticationRequired",
                    "Authentication Required",
                ));
            }
            let removed = inner
                .repos
                .get_mut(&did)
                .and_then(|r| r.remove(&(collection.to_string(), rkey.to_string())));
            match removed {
                Some(entry) => {
                    let commit = commit(inner, &did, &entry.cid, now);
                    Ok(ok(json!({ "commit": commit })))
                }
                None => Ok(ok(json!({}))),
            }
        })();
        with_rate(rate, result)
    })())
}

// ---- com.atproto.sync --------------------------------------------------------------------

fn get_blob(_: &Shared, inner: &mut Inner, req: &Req, _: DateTime<Utc>) -> XResult<Reply> {
    let params = params(req)?;
    let did = required_param(&params, "did")?;
    let cid = required_param(&params, "cid")?;
    let blob = inner
        .blobs
        .get(&(did.to_string(), cid.to_string()))
        .ok_or_else(|| xerr(400, "BlobNotFound", "Blob not found"))?;
    Ok(Reply {
        body: ReplyBody::Bytes {
            mime: blob.mime.clone(),
            data: blob.data.to_vec(),
        },
        ..ok(Value::Null)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cids_have_the_expected_prefixes() {
        assert!(cid(0x55, b"hello").starts_with("bafkrei"));
        assert!(cid(0x71, b"hello").starts_with("bafyrei"));
        assert_eq!(cid(0x55, b"hello").len(), 59);
    }

    #[test]
    fn pretty_sizes() {
        assert_eq!(pretty_size(1_000_000), "1 MB");
        assert_eq!(pretty_size(1_500_000), "1.500 MB");
        assert_eq!(pretty_size(999), "999 B");
    }
}
