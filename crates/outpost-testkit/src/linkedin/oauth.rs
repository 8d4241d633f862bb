//! `www.linkedin.com/oauth/v2/…`: the authorisation page (consent given at once) and the token
//! endpoint (`authorization_code`, `refresh_token`).

use axum::body::Body;
use axum::http::Response;
use serde_json::{json, Value};

use super::{
    json_response, AccessToken, AuthCode, Inner, IssuedTokens, LinkedInConfig, RefreshToken, Req,
    Shared,
};
use crate::common::random_string;

const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Issues an access token (and a refresh token when `refresh`) for `sub`.
pub(crate) fn issue(
    cfg: &LinkedInConfig,
    inner: &mut Inner,
    sub: &str,
    scopes: &[String],
    refresh: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> IssuedTokens {
    let access = format!("AQV{}", random_string(TOKEN_ALPHABET, 40));
    inner.access.insert(
        access.clone(),
        AccessToken {
            sub: sub.to_string(),
            scopes: scopes.to_vec(),
            expires_at: now + cfg.access_ttl,
            revoked: false,
        },
    );
    let refresh_token = refresh.then(|| {
        let token = format!("AQX{}", random_string(TOKEN_ALPHABET, 40));
        inner.refresh.insert(
            token.clone(),
            RefreshToken {
                sub: sub.to_string(),
                scopes: scopes.to_vec(),
                expires_at: now + cfg.refresh_ttl,
                revoked: false,
            },
        );
        token
    });
    IssuedTokens {
        access_token: access,
        refresh_token,
        expires_in: cfg.access_ttl.num_seconds(),
        scope: scopes.join(","),
    }
}

fn html(status: u16, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(Body::from(format!(
            "<html><body><h1>Bummer, something went wrong.</h1><p>{text}</p></body></html>"
        )))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(302)
        .header("Location", location)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

/// The redirect URL without its query (LinkedIn ignores query parameters when matching).
fn without_query(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri)
}

/// `GET /oauth/v2/authorization`.
pub(crate) fn authorize(shared: &Shared, req: &Req) -> Response<Body> {
    let cfg = &shared.cfg;
    let p = |k: &str| req.param(k).unwrap_or_default();
    if p("response_type") != "code" {
        return html(400, "response_type must be code");
    }
    if p("client_id") != cfg.client_id {
        return html(400, "The passed in client_id is invalid");
    }
    let redirect_uri = p("redirect_uri");
    let absolute = redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://");
    let registered = cfg
        .redirect_uris
        .iter()
        .any(|r| without_query(r) == without_query(&redirect_uri));
    if !absolute || redirect_uri.contains('#') || !registered {
        return html(400, "The redirect_uri does not match the registered value");
    }
    let state = p("state");
    let scopes: Vec<String> = p("scope")
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = scopes.iter().find(|s| !cfg.allowed_scopes.contains(s)) {
        return redirect(&with_query(
            &redirect_uri,
            &[
                ("error", "unauthorized_scope_error"),
                (
                    "error_description",
                    &format!("Scope \"{bad}\" is not authorized for your application"),
                ),
                ("state", &state),
            ],
        ));
    }
    let mut inner = shared.lock();
    let Some(sub) = inner.login_member.clone() else {
        return html(400, "no member is signed in to the fake (add one first)");
    };
    let code = format!("AQT{}", random_string(TOKEN_ALPHABET, 60));
    let now = inner.now();
    inner.codes.insert(
        code.clone(),
        AuthCode {
            sub,
            scopes,
            client_id: cfg.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            expires_at: now + chrono::Duration::minutes(30),
            used: false,
        },
    );
    redirect(&with_query(
        &redirect_uri,
        &[("code", &code), ("state", &state)],
    ))
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response<Body> {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

fn token_body(t: &IssuedTokens, refresh_expires_in: Option<i64>) -> Value {
    let mut body = json!({
        "access_token": t.access_token,
        "expires_in": t.expires_in,
        "scope": t.scope,
        "token_type": "Bearer",
    });
    if let (Some(rt), Some(exp)) = (&t.refresh_token, refresh_expires_in) {
        body["refresh_token"] = json!(rt);
        body["refresh_token_expires_in"] = json!(exp);
    }
    body
}

/// `POST /oauth/v2/accessToken` (form-encoded; the client secret in the body).
pub(crate) fn token(shared: &Shared, req: &Req) -> Response<Body> {
    let cfg = &shared.cfg;
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(&req.body) {
        Ok(f) => f,
        Err(_) => return oauth_error(400, "invalid_request", "Unable to parse the request body"),
    };
    let field = |k: &str| {
        form.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    for required in ["grant_type", "client_id", "client_secret"] {
        if field(required).is_none_or(|v| v.is_empty()) {
            return oauth_error(
                400,
                "invalid_request",
                &format!("A required parameter \"{required}\" is missing"),
            );
        }
    }
    if field("client_id").as_deref() != Some(cfg.client_id.as_str())
        || field("client_secret").as_deref() != Some(cfg.client_secret.as_str())
    {
        return oauth_error(401, "invalid_client", "Client authentication failed");
    }
    let mut inner = shared.lock();
    let now = inner.now();
    match field("grant_type").as_deref() {
        Some("authorization_code") => {
            let code = field("code").unwrap_or_default();
            let redirect_uri = field("redirect_uri").unwrap_or_default();
            let grant = match inner.codes.get_mut(&code) {
                Some(c) if !c.used && c.expires_at > now && c.client_id == cfg.client_id => {
                    c.used = true;
                    c.clone()
                }
                _ => {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "The authorization code is invalid, expired or already used",
                    )
                }
            };
            if grant.redirect_uri != redirect_uri {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "The redirect_uri does not match the one of the authorization request",
                );
            }
            let issued = issue(
                cfg,
                &mut inner,
                &grant.sub,
                &grant.scopes,
                cfg.mdp_partner,
                now,
            );
            json_response(
                200,
                &token_body(&issued, Some(cfg.refresh_ttl.num_seconds())),
            )
        }
        Some("refresh_token") => {
            let token = field("refresh_token").unwrap_or_default();
            let stored = match inner.refresh.get(&token) {
                Some(t) if !t.revoked && t.expires_at > now => t.clone(),
                _ => {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "The provided refresh token is invalid, expired or revoked",
                    )
                }
            };
            // A new access token; the refresh token stays the same and its lifetime is not
            // extended (365 days from the first consent).
            let mut issued = issue(cfg, &mut inner, &stored.sub, &stored.scopes, false, now);
            issued.refresh_token = Some(token);
            let left = (stored.expires_at - now).num_seconds();
            json_response(200, &token_body(&issued, Some(left)))
        }
        _ => oauth_error(
            400,
            "unsupported_grant_type",
            "The grant_type is not supported",
        ),
    }
}
