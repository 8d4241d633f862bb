//! PKCE (RFC 7636) and the `state` value: the two random values that tie a code to the flow
//! that asked for it.

use super::Pkce;
use crate::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of the verifiers Outpost makes: 64 random bytes → 86 base64url characters, inside
/// RFC 7636's 43–128 (§4.1) and well above its 256-bit minimum of entropy.
const VERIFIER_BYTES: usize = 64;

/// One PKCE verifier and the challenge sent in the authorisation request.
#[derive(Debug, Clone)]
pub struct PkcePair {
    /// Sent only to the token endpoint, with the code.
    pub verifier: Secret,
    /// Sent in the authorisation request (`code_challenge`).
    pub challenge: String,
    /// `code_challenge_method`: always `S256` (TikTok's hex form too).
    pub method: &'static str,
}

impl PkcePair {
    /// A fresh verifier from the operating system's CSPRNG and its challenge; `None` for
    /// [`Pkce::None`].
    pub fn generate(kind: Pkce) -> Option<Self> {
        let verifier = new_verifier();
        let challenge = challenge(verifier.expose(), kind)?;
        Some(PkcePair {
            verifier,
            challenge,
            method: "S256",
        })
    }
}

/// A new code verifier: base64url of 64 CSPRNG bytes (86 characters from RFC 7636's
/// unreserved set `[A-Za-z0-9-._~]`).
pub fn new_verifier() -> Secret {
    let mut bytes = [0u8; VERIFIER_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    Secret::new(verifier)
}

/// Whether `verifier` is a valid RFC 7636 §4.1 code verifier: 43–128 characters from
/// `[A-Za-z0-9-._~]`.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The `code_challenge` for `verifier`: `BASE64URL(SHA256(verifier))` without padding for
/// [`Pkce::S256`], the lower-case hex SHA-256 for [`Pkce::S256Hex`] (TikTok), `None` for
/// [`Pkce::None`].
pub fn challenge(verifier: &str, kind: Pkce) -> Option<String> {
    let digest = Sha256::digest(verifier.as_bytes());
    match kind {
        Pkce::None => None,
        Pkce::S256 => Some(URL_SAFE_NO_PAD.encode(digest)),
        Pkce::S256Hex => Some(hex::encode(digest)),
    }
}

/// A new `state`: 32 CSPRNG bytes (256 bits) as base64url, 43 characters. When `port` is
/// given (the relay flow), the value is `<port>.<random>` so the relay page can tell where
/// Outpost's loopback listener is; the whole value is still compared exactly.
pub fn new_state(port: Option<u16>) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let random = URL_SAFE_NO_PAD.encode(bytes);
    match port {
        Some(p) => format!("{p}.{random}"),
        None => random,
    }
}

/// Exact comparison of a returned `state` with the expected one, in time independent of where
/// they differ.
pub fn state_matches(expected: &str, got: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(got.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b_vector() {
        assert!(is_valid_verifier(RFC_VERIFIER));
        assert_eq!(
            challenge(RFC_VERIFIER, Pkce::S256).as_deref(),
            Some(RFC_CHALLENGE)
        );
        // The same digest, hex-encoded (TikTok): decode the RFC's base64url and compare.
        let digest = URL_SAFE_NO_PAD.decode(RFC_CHALLENGE).unwrap_or_default();
        assert_eq!(
            challenge(RFC_VERIFIER, Pkce::S256Hex),
            Some(hex::encode(digest))
        );
        assert_eq!(
            challenge(RFC_VERIFIER, Pkce::S256Hex).as_deref(),
            Some("13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3")
        );
        assert_eq!(challenge(RFC_VERIFIER, Pkce::None), None);
    }

    #[test]
    fn generated_verifiers_are_valid_and_different() {
        let a = PkcePair::generate(Pkce::S256).unwrap();
        let b = PkcePair::generate(Pkce::S256).unwrap();
        assert!(is_valid_verifier(a.verifier.expose()));
        assert_eq!(a.verifier.expose().len(), 86);
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.method, "S256");
        assert_eq!(
            challenge(a.verifier.expose(), Pkce::S256).as_deref(),
            Some(a.challenge.as_str())
        );
        assert_eq!(a.challenge.len(), 43);
        let hex = PkcePair::generate(Pkce::S256Hex).unwrap();
        assert_eq!(hex.challenge.len(), 64);
        assert!(hex.challenge.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(PkcePair::generate(Pkce::None).is_none());
        assert!(!format!("{a:?}").contains(a.verifier.expose()));
    }

    #[test]
    fn verifier_rules() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"~._-".repeat(32)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(50))));
    }

    #[test]
    fn states_are_long_random_and_compared_exactly() {
        let a = new_state(None);
        let b = new_state(None);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(state_matches(&a, &a.clone()));
        assert!(!state_matches(&a, &b));
        assert!(!state_matches(&a, &a[..42]));
        assert!(!state_matches(&a, &format!("{a}x")));
        assert!(!state_matches("", ""));
        let relay = new_state(Some(53682));
        let (port, rest) = relay.split_once('.').unwrap();
        assert_eq!(port, "53682");
        assert_eq!(rest.len(), 43);
    }
}
