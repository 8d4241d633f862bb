//! Sign-in: the consent page (www.instagram.com / api.instagram.com `/oauth/authorize`), the
//! code exchange (api.instagram.com `/oauth/access_token`, legacy flat errors
//! `{"error_type","code","error_message"}` — UNCONFIRMED), the long-lived exchange and refresh
//! of Instagram Login tokens (graph.instagram.com `/access_token`, `/refresh_access_token`) and
//! Facebook's `fb_exchange_token` (graph.facebook.com `/{v}/oauth/access_token`).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::Response;
use serde_json::json;

use super::graph::{check_token, error};
use super::{
    json_response, random_token, CodeRec, Login, Shared, TokenKind, TokenShape, FACEBOOK_SCOPES,
};

/// Scope names Instagram Login accepts (the old `business_*` names were deprecated).
const IG_LOGIN_SCOPES: [&str; 5] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
    "instagram_business_manage_messages",
    "instagram_business_manage_insights",
];

fn legacy_error(status: u16, message: &str) -> Response<Body> {
    json_response(
        status,
        &json!({ "error_type": "OAuthException", "code": status, "error_message": message }),
    )
}

fn html(status: u16, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(Body::from(format!(
            "<!doctype html><html><body><p>{text}</p></body></html>"
        )))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn redirect_matches(registered: &[String], uri: &str) -> bool {
    // "The App Dashboard may have added a trailing slash": both spellings match.
    registered.iter().any(|r| {
        r == uri || r.trim_end_matches('/') == uri.trim_end_matches('/') && r.ends_with('/')
    })
}

/// `GET /oauth/authorize?client_id&redirect_uri&response_type=code&scope&state`: the
/// consenting account approves at once; the browser goes to `redirect_uri?code&state#_`.
pub(crate) fn authorize(shared: &Shared, p: &HashMap<String, String>) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    if p.get("client_id") != Some(&cfg.client_id) {
        return html(400, "Invalid Request: Invalid platform app");
    }
    let Some(redirect) = p.get("redirect_uri").cloned() else {
        return html(400, "Invalid Request: redirect_uri is missing");
    };
    if !redirect_matches(&inner.redirect_uris, &redirect) {
        return html(
            400,
            "Invalid redirect_uri: the redirect URI is not registered for this app",
        );
    }
    if p.get("response_type").map(String::as_str) != Some("code") {
        return html(400, "Invalid Request: response_type must be code");
    }
    let scopes: Vec<String> = p
        .get("scope")
        .map(|s| {
            s.split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = scopes
        .iter()
        .find(|s| !IG_LOGIN_SCOPES.contains(&s.as_str()))
    {
        let mut query = vec![
            ("error", "invalid_scope".to_string()),
            ("error_reason", "invalid_scope".to_string()),
            ("error_description", format!("Invalid Scopes: {bad}")),
        ];
        if let Some(state) = p.get("state") {
            query.push(("state", state.clone()));
        }
        let location = format!(
            "{redirect}?{}#_",
            serde_urlencoded::to_string(query).unwrap_or_default()
        );
        return found(&location);
    }
    let Some(account) = inner.consenting.clone() else {
        return html(400, "No Instagram professional account can sign in");
    };
    let code = format!("AQ{}", random_token(60));
    let expires_at = inner.now() + cfg.code_ttl;
    inner.codes.insert(
        code.clone(),
        CodeRec {
            account,
            redirect_uri: redirect.clone(),
            scopes,
            expires_at,
        },
    );
    let mut query = vec![("code", code)];
    if let Some(state) = p.get("state") {
        query.push(("state", state.clone()));
    }
    let location = format!(
        "{redirect}?{}#_",
        serde_urlencoded::to_string(query).unwrap_or_default()
    );
    found(&location)
}

fn found(location: &str) -> Response<Body> {
    Response::builder()
        .status(302)
        .header("Location", location)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// `POST /oauth/access_token` (form): the code → a short-lived Instagram User token.
pub(crate) fn code_exchange(shared: &Shared, p: &HashMap<String, String>) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    if p.get("client_id") != Some(&cfg.client_id) {
        return legacy_error(400, "Invalid platform app");
    }
    if p.get("client_secret") != Some(&cfg.client_secret) {
        return legacy_error(400, "Error validating client secret.");
    }
    if p.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return legacy_error(400, "Unsupported grant_type");
    }
    let Some(code) = p.get("code").and_then(|c| inner.codes.remove(c)) else {
        return legacy_error(400, "This authorization code has been used or is invalid");
    };
    if code.expires_at <= inner.now() {
        return legacy_error(400, "This authorization code has expired");
    }
    if p.get("redirect_uri") != Some(&code.redirect_uri) {
        return legacy_error(
            400,
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    let issued = inner.issue(cfg, &code.account, TokenKind::InstagramShort, &code.scopes);
    let entry = json!({
        "access_token": issued.access_token,
        "user_id": issued.user_id,
        "permissions": code.scopes.join(","),
    });
    let body = match inner.token_shape {
        TokenShape::Wrapped => json!({ "data": [entry] }),
        TokenShape::Flat => entry,
    };
    json_response(200, &body)
}

/// `GET /access_token?grant_type=ig_exchange_token&client_secret&access_token`.
pub(crate) fn ig_exchange(shared: &Shared, p: &HashMap<String, String>) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    if p.get("grant_type").map(String::as_str) != Some("ig_exchange_token") {
        return error(400, 100, None, "Unsupported grant type");
    }
    if p.get("client_secret") != Some(&cfg.client_secret) {
        return error(400, 100, None, "Error validating client secret.");
    }
    let caller = match check_token(&inner, p.get("access_token").map(String::as_str), now) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if caller.rec.kind != TokenKind::InstagramShort {
        return error(
            400,
            190,
            None,
            "Invalid OAuth access token - only a short-lived Instagram User access token can be exchanged",
        );
    }
    let scopes = caller.rec.scopes.clone();
    let issued = inner.issue(
        cfg,
        &caller.account.ig_user_id,
        TokenKind::InstagramLong,
        &scopes,
    );
    json_response(
        200,
        &json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
        }),
    )
}

/// `GET /refresh_access_token?grant_type=ig_refresh_token&access_token`: a long-lived token
/// at least 24 h old and not expired gets a new 60-day token (the exact refusal is
/// UNCONFIRMED: a code-190 `OAuthException`).
pub(crate) fn ig_refresh(shared: &Shared, p: &HashMap<String, String>) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    if p.get("grant_type").map(String::as_str) != Some("ig_refresh_token") {
        return error(400, 100, None, "Unsupported grant type");
    }
    let caller = match check_token(&inner, p.get("access_token").map(String::as_str), now) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if caller.rec.kind != TokenKind::InstagramLong {
        return error(
            400,
            190,
            None,
            "Invalid OAuth access token - only a long-lived Instagram User access token can be refreshed",
        );
    }
    if now - caller.rec.issued_at < chrono::Duration::hours(24) {
        return error(
            400,
            190,
            None,
            "Error validating access token: the token must be at least 24 hours old to be refreshed",
        );
    }
    if !caller
        .rec
        .scopes
        .iter()
        .any(|s| s == "instagram_business_basic")
    {
        return error(
            403,
            10,
            None,
            "(#10) Refreshing needs the instagram_business_basic permission",
        );
    }
    let scopes = caller.rec.scopes.clone();
    let issued = inner.issue(
        cfg,
        &caller.account.ig_user_id,
        TokenKind::InstagramLong,
        &scopes,
    );
    json_response(
        200,
        &json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
        }),
    )
}

/// `GET /{v}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token`.
pub(crate) fn fb_exchange(shared: &Shared, p: &HashMap<String, String>) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    let now = inner.now();
    if p.get("grant_type").map(String::as_str) != Some("fb_exchange_token") {
        return error(400, 100, None, "(#100) Unsupported grant_type");
    }
    if p.get("client_id") != Some(&cfg.client_id) {
        return error(
            400,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    // Meta answers code 1 here; 100 keeps a wrong secret from looking transient (UNCONFIRMED).
    if p.get("client_secret") != Some(&cfg.client_secret) {
        return error(400, 100, None, "Error validating client secret.");
    }
    let caller = match check_token(&inner, p.get("fb_exchange_token").map(String::as_str), now) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if !matches!(
        caller.rec.kind,
        TokenKind::FacebookShort | TokenKind::FacebookLong
    ) {
        return error(
            400,
            190,
            None,
            "Invalid OAuth access token - only a Facebook user access token can be exchanged",
        );
    }
    let scopes = caller.rec.scopes.clone();
    let issued = inner.issue(
        cfg,
        &caller.account.ig_user_id,
        TokenKind::FacebookLong,
        &scopes,
    );
    json_response(
        200,
        &json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
        }),
    )
}

/// Codes of the Facebook Login dialog start with this (the Instagram Login ones with `AQ`).
const FB_CODE_PREFIX: &str = "FBQ";

/// `GET /{v}/dialog/oauth?client_id&redirect_uri&response_type=code&scope&state` (Facebook
/// Login for an Instagram account linked to a Page): the consenting account's Facebook user
/// approves at once; the browser goes to `redirect_uri?code&state#_`.
pub(crate) fn fb_authorize(shared: &Shared, p: &HashMap<String, String>) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    if p.get("client_id") != Some(&cfg.client_id) {
        return html(
            400,
            "Invalid App ID: The provided app ID does not look like a valid app ID.",
        );
    }
    let Some(redirect) = p.get("redirect_uri").cloned() else {
        return html(400, "URL blocked: redirect_uri is missing");
    };
    if !redirect_matches(&inner.redirect_uris, &redirect) {
        return html(
            400,
            "URL blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings.",
        );
    }
    let scopes: Vec<String> = p
        .get("scope")
        .map(|s| {
            s.split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = scopes
        .iter()
        .find(|s| !FACEBOOK_SCOPES.contains(&s.as_str()))
    {
        return html(400, &format!("Invalid Scopes: {bad}"));
    }
    let Some(account) = inner.consenting.clone() else {
        return html(400, "No Facebook user can sign in");
    };
    let linked = inner
        .accounts
        .iter()
        .any(|a| a.ig_user_id == account && a.login == Login::Facebook);
    if !linked {
        return html(
            400,
            "This Instagram account is not linked to a Facebook Page",
        );
    }
    let code = format!("{FB_CODE_PREFIX}{}", random_token(60));
    let expires_at = inner.now() + cfg.code_ttl;
    inner.codes.insert(
        code.clone(),
        CodeRec {
            account,
            redirect_uri: redirect.clone(),
            scopes,
            expires_at,
        },
    );
    let mut query = vec![("code", code)];
    if let Some(state) = p.get("state") {
        query.push(("state", state.clone()));
    }
    found(&format!(
        "{redirect}?{}#_",
        serde_urlencoded::to_string(query).unwrap_or_default()
    ))
}

/// Whether a token request carries a Facebook Login code (see [`fb_code_exchange`]).
pub(crate) fn is_fb_code(p: &HashMap<String, String>) -> bool {
    p.get("code").is_some_and(|c| c.starts_with(FB_CODE_PREFIX))
}

/// `/{v}/oauth/access_token` with `code`: the Facebook Login code → a short-lived Facebook
/// user token (Graph's `{access_token, token_type, expires_in}`; errors in the Graph envelope).
pub(crate) fn fb_code_exchange(shared: &Shared, p: &HashMap<String, String>) -> Response<Body> {
    let cfg = &shared.cfg;
    let mut inner = shared.lock();
    if p.get("client_id") != Some(&cfg.client_id) {
        return error(
            400,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    if p.get("client_secret") != Some(&cfg.client_secret) {
        return error(400, 1, None, "Error validating client secret.");
    }
    let Some(code) = p.get("code").and_then(|c| inner.codes.remove(c)) else {
        return error(
            400,
            100,
            Some(36009),
            "This authorization code has been used.",
        );
    };
    if code.expires_at <= inner.now() {
        return error(
            400,
            100,
            Some(36007),
            "This authorization code has expired.",
        );
    }
    if p.get("redirect_uri") != Some(&code.redirect_uri) {
        return error(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    let issued = inner.issue(cfg, &code.account, TokenKind::FacebookShort, &code.scopes);
    json_response(
        200,
        &json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
        }),
    )
}
