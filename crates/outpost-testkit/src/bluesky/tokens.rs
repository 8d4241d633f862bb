//! Session JWTs shaped like the reference PDS's: HS256, header `typ`
//! `at+jwt` (access) or `refresh+jwt` (refresh), payload `scope`, `aud`
//! (the PDS `did:web`), `sub` (the account DID), `iat`, `exp`, `jti`.
//! The signature is a real HMAC-SHA256 over a per-fake random secret.
//!
//! Service tokens (`com.atproto.server.getServiceAuth`) are shaped like the
//! reference PDS's inter-service JWTs: header `typ` `JWT`, payload `iss`
//! (the account DID), `aud`, `lxm` (optional), `iat`, `exp`, `jti`. The real
//! PDS signs them with the account's ES256K key; the fake uses its HMAC
//! secret, which its video service shares.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::common::hmac_sha256;

pub(crate) const SCOPE_ACCESS: &str = "com.atproto.access";
pub(crate) const SCOPE_APP_PASS: &str = "com.atproto.appPass";
pub(crate) const SCOPE_REFRESH: &str = "com.atproto.refresh";
pub(crate) const TYP_ACCESS: &str = "at+jwt";
pub(crate) const TYP_REFRESH: &str = "refresh+jwt";
pub(crate) const TYP_SERVICE: &str = "JWT";

pub(crate) struct Claims<'a> {
    pub typ: &'a str,
    pub scope: &'a str,
    pub aud: &'a str,
    pub sub: &'a str,
    pub iat: i64,
    pub exp: i64,
    pub jti: &'a str,
}

pub(crate) fn sign(secret: &[u8], claims: &Claims<'_>) -> String {
    let header = json!({ "typ": claims.typ, "alg": "HS256" });
    let payload = json!({
        "scope": claims.scope,
        "aud": claims.aud,
        "sub": claims.sub,
        "iat": claims.iat,
        "exp": claims.exp,
        "jti": claims.jti,
    });
    sign_parts(secret, &header, &payload)
}

/// An inter-service token (`getServiceAuth`).
pub(crate) struct ServiceClaims<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub lxm: Option<&'a str>,
    pub iat: i64,
    pub exp: i64,
    pub jti: &'a str,
}

pub(crate) fn sign_service(secret: &[u8], claims: &ServiceClaims<'_>) -> String {
    let header = json!({ "typ": TYP_SERVICE, "alg": "HS256" });
    let mut payload = json!({
        "iss": claims.iss,
        "aud": claims.aud,
        "iat": claims.iat,
        "exp": claims.exp,
        "jti": claims.jti,
    });
    if let (Some(lxm), Some(map)) = (claims.lxm, payload.as_object_mut()) {
        map.insert("lxm".into(), Value::String(lxm.to_string()));
    }
    sign_parts(secret, &header, &payload)
}

fn sign_parts(secret: &[u8], header: &Value, payload: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = hmac_sha256(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A token whose signature verified: (header, payload).
pub(crate) struct Decoded {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
}

impl Decoded {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }
    pub fn exp(&self) -> Option<i64> {
        self.payload.get("exp").and_then(Value::as_i64)
    }
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }
}

/// Check the signature and decode; `None` for anything that is not a JWT
/// signed by `secret` ("Token could not be verified").
pub(crate) fn verify(secret: &[u8], token: &str) -> Option<Decoded> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let expected = hmac_sha256(secret, format!("{h}.{p}").as_bytes());
    let given = URL_SAFE_NO_PAD.decode(s).ok()?;
    if given.as_slice() != expected.as_slice() {
        return None;
    }
    let header: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return None;
    }
    let payload: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    Some(Decoded { header, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let secret = b"secret";
        let jwt = sign(
            secret,
            &Claims {
                typ: TYP_ACCESS,
                scope: SCOPE_ACCESS,
                aud: "did:web:pds.test",
                sub: "did:plc:abc",
                iat: 1,
                exp: 2,
                jti: "j",
            },
        );
        let decoded = verify(secret, &jwt);
        assert!(decoded.is_some());
        let decoded = decoded.unwrap_or_else(|| unreachable!());
        assert_eq!(decoded.str("sub"), Some("did:plc:abc"));
        assert_eq!(decoded.typ(), Some(TYP_ACCESS));
        assert!(verify(b"other", &jwt).is_none());
        assert!(verify(secret, "garbage").is_none());
        let mut tampered = jwt.clone();
        tampered.insert(jwt.find('.').unwrap_or(0) + 2, 'x');
        assert!(verify(secret, &tampered).is_none());
    }
}
