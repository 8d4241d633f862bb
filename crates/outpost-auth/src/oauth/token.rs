//! The OAuth 2.0 token endpoint (RFC 6749 §4.1.3 and §6): exchanging an authorisation code,
//! refreshing, and reading the answer — including the non-standard shapes some networks use
//! (TikTok's `client_key`, numbers sent as strings, a `data` envelope).
//!
//! One request, no retries: callers decide what a failure means for the account.

use crate::tokens::OAuthTokens;
use crate::Secret;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)` (RFC 6749 §2.3.1; X confidential
    /// clients, Pinterest). Without a secret the client id goes in the body (public client).
    Basic,
    /// `client_id` and `client_secret` as form fields (LinkedIn, Google, Meta).
    Body,
    /// Like `Body`, but the client id field has another name (TikTok: `client_key`).
    BodyNamed(&'static str),
}

/// Where and how to reach one network's token endpoint.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub auth: ClientAuth,
}

/// Why the token endpoint said no, in classes the engine acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_grant` and friends: the code or refresh token is spent, expired or revoked.
    /// The user must connect the account again.
    #[error("{0}")]
    Revoked(String),
    /// The app's settings are wrong (`invalid_client`, `unauthorized_client`, bad redirect):
    /// the user must fix the client id/secret in settings.
    #[error("{0}")]
    Client(String),
    /// No answer, a 5xx or a 429: worth trying again later.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// An answer that is not a token response.
    #[error("{0}")]
    Malformed(String),
}

impl TokenEndpoint {
    /// Exchanges an authorisation code (with its PKCE verifier, when one was used).
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<OAuthTokens, OAuthError> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", redirect_uri.to_string()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_string()));
        }
        let tokens = self.post(http, form, now).await?;
        Ok(tokens)
    }

    /// One refresh-token grant. A response without a new refresh token keeps the old one
    /// (RFC 6749 §6: the server *may* issue a new one); a rotated one replaces it.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &Secret,
        now: DateTime<Utc>,
    ) -> Result<OAuthTokens, OAuthError> {
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.expose().to_string()),
        ];
        let mut tokens = self.post(http, form, now).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        mut form: Vec<(&'static str, String)>,
        now: DateTime<Utc>,
    ) -> Result<OAuthTokens, OAuthError> {
        let mut req = http
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json");
        match (self.auth, &self.client_secret) {
            (ClientAuth::Basic, Some(secret)) => {
                req = req.basic_auth(&self.client_id, Some(secret.expose()));
            }
            (ClientAuth::Basic, None) => form.push(("client_id", self.client_id.clone())),
            (ClientAuth::Body, secret) | (ClientAuth::BodyNamed(_), secret) => {
                let name = match self.auth {
                    ClientAuth::BodyNamed(n) => n,
                    _ => "client_id",
                };
                form.push((name, self.client_id.clone()));
                if let Some(s) = secret {
                    form.push(("client_secret", s.expose().to_string()));
                }
            }
        }
        let resp = req
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Transient {
                message: format!(
                    "the sign-in server did not answer ({})",
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                ),
                retry_after: None,
            })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.text().await.unwrap_or_default();
        let secrets: Vec<&str> = form
            .iter()
            .filter(|(k, _)| {
                matches!(
                    *k,
                    "code" | "refresh_token" | "code_verifier" | "client_secret"
                )
            })
            .map(|(_, v)| v.as_str())
            .collect();
        parse_token_response(status.as_u16(), &body, retry_after, now, &secrets)
    }
}

/// Reads a token endpoint's answer. `secrets` are values that must not appear in an error.
pub fn parse_token_response(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    secrets: &[&str],
) -> Result<OAuthTokens, OAuthError> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    // Some networks wrap the answer (`{"data": {...}}`); errors may sit at either level.
    let root = json.as_ref();
    // Instagram's code exchange wraps it in a one-element array (`{"data": [{…}]}`).
    let inner = root
        .and_then(|v| v.get("data"))
        .and_then(|d| {
            if d.is_object() {
                Some(d)
            } else {
                d.as_array()
                    .and_then(|a| a.first())
                    .filter(|f| f.is_object())
            }
        })
        .or(root);
    let field = |name: &str| -> Option<&Value> {
        inner
            .and_then(|v| v.get(name))
            .or_else(|| root.and_then(|v| v.get(name)))
    };
    let text = |name: &str| field(name).and_then(Value::as_str).map(str::to_string);
    let clean = |s: String| -> String {
        let mut s = s;
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            s = s.replace(secret, "<redacted>");
        }
        s.chars().filter(|c| !c.is_control()).take(200).collect()
    };

    if status == 429 || status >= 500 {
        return Err(OAuthError::Transient {
            message: format!("the sign-in server answered HTTP {status}"),
            retry_after,
        });
    }
    let error = text("error").filter(|e| !e.is_empty());
    let access = text("access_token").filter(|t| !t.is_empty());
    if let (Some(access), None, true) = (access, &error, (200..300).contains(&status)) {
        let number = |name: &str| -> Option<i64> {
            field(name).and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
        };
        return Ok(OAuthTokens::from_response(
            Secret::new(access),
            text("refresh_token").map(Secret::new),
            number("expires_in"),
            number("refresh_token_expires_in").or_else(|| number("refresh_expires_in")),
            text("scope"),
            now,
        ));
    }
    // Meta's token endpoints answer `{"error_message": …}` or a Graph envelope
    // `{"error": {"message": …}}`.
    let graph_message = root
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let description = text("error_description")
        .or_else(|| text("message"))
        .or_else(|| text("error_message"))
        .or(graph_message)
        .map(clean)
        .unwrap_or_default();
    let code = error.map(clean).unwrap_or_else(|| format!("HTTP {status}"));
    let said = if description.is_empty() {
        code.clone()
    } else {
        format!("{code}: {description}")
    };
    match code.as_str() {
        "invalid_grant" | "invalid_token" | "access_denied" | "expired_token" => Err(
            OAuthError::Revoked(format!("the sign-in was refused ({said}) — connect the account again")),
        ),
        "invalid_client" | "unauthorized_client" | "invalid_scope" | "unsupported_grant_type"
        | "invalid_request" => Err(OAuthError::Client(format!(
            "the network refused the app's credentials ({said}) — check the client id and secret in Settings"
        ))),
        _ if status == 401 => Err(OAuthError::Client(format!(
            "the network refused the app's credentials ({said}) — check the client id and secret in Settings"
        ))),
        _ if status == 400 => Err(OAuthError::Revoked(format!(
            "the sign-in was refused ({said}) — connect the account again"
        ))),
        _ => Err(OAuthError::Malformed(format!(
            "the sign-in server gave an answer Outpost does not understand (HTTP {status}{})",
            if description.is_empty() { String::new() } else { format!(": {description}") }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_standard_answer_becomes_tokens() {
        let t = parse_token_response(
            200,
            r#"{"token_type":"bearer","access_token":"AT","refresh_token":"RT","expires_in":7200,"scope":"tweet.read"}"#,
            None,
            now(),
            &[],
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "AT");
        assert_eq!(t.refresh_token.unwrap().expose(), "RT");
        assert_eq!(t.expires_at.unwrap().timestamp(), 1_800_007_200);
        assert_eq!(t.scope.as_deref(), Some("tweet.read"));
    }

    #[test]
    fn instagrams_wrapped_answer_is_read() {
        let t = parse_token_response(
            200,
            r#"{"data":[{"access_token":"IGAT","user_id":"178","permissions":"instagram_business_basic"}]}"#,
            None,
            now(),
            &[],
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "IGAT");
    }

    #[test]
    fn tiktok_and_linkedin_shapes_are_read() {
        let t = parse_token_response(
            200,
            r#"{"data":{"access_token":"AT","expires_in":"86400","refresh_token":"RT","refresh_expires_in":31536000,"open_id":"o"}}"#,
            None,
            now(),
            &[],
        )
        .unwrap();
        assert_eq!(t.expires_at.unwrap().timestamp(), 1_800_086_400);
        assert_eq!(t.refresh_expires_at.unwrap().timestamp(), 1_831_536_000);
        let l = parse_token_response(
            200,
            r#"{"access_token":"AT","expires_in":5184000,"refresh_token":"RT","refresh_token_expires_in":31536000}"#,
            None,
            now(),
            &[],
        )
        .unwrap();
        assert_eq!(l.refresh_expires_at.unwrap().timestamp(), 1_831_536_000);
    }

    #[test]
    fn errors_are_classed_and_never_echo_secrets() {
        let e = parse_token_response(
            400,
            r#"{"error":"invalid_grant","error_description":"refresh token RT-secret-123 was revoked"}"#,
            None,
            now(),
            &["RT-secret-123"],
        )
        .unwrap_err();
        let OAuthError::Revoked(m) = e else {
            panic!("{e:?}")
        };
        assert!(
            m.contains("invalid_grant") && !m.contains("RT-secret-123"),
            "{m}"
        );
        assert!(matches!(
            parse_token_response(401, r#"{"error":"invalid_client"}"#, None, now(), &[]),
            Err(OAuthError::Client(_))
        ));
        assert!(matches!(
            parse_token_response(503, "busy", Some(Duration::from_secs(9)), now(), &[]),
            Err(OAuthError::Transient {
                retry_after: Some(_),
                ..
            })
        ));
        assert!(matches!(
            parse_token_response(200, "<html>", None, now(), &[]),
            Err(OAuthError::Malformed(_))
        ));
        // Meta's flat and Graph shapes carry the reason.
        let OAuthError::Revoked(m) = parse_token_response(
            400,
            r#"{"error_type":"OAuthException","code":400,"error_message":"Matching code was not found or was already used"}"#,
            None,
            now(),
            &[],
        )
        .unwrap_err() else {
            panic!("revoked")
        };
        assert!(m.contains("Matching code was not found"), "{m}");
        // TikTok puts errors in the envelope with HTTP 200.
        assert!(matches!(
            parse_token_response(
                200,
                r#"{"error":"invalid_grant","error_description":"x"}"#,
                None,
                now(),
                &[]
            ),
            Err(OAuthError::Revoked(_))
        ));
    }
}
