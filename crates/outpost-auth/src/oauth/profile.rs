//! What the connect flow needs to know about one network's OAuth 2.0 set-up.

use super::ClientAuth;

/// How the network wants PKCE (RFC 7636).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkce {
    /// The network does not support it (LinkedIn's 3-legged flow, Pinterest).
    None,
    /// `code_challenge = BASE64URL(SHA256(verifier))`, method `S256`.
    S256,
    /// TikTok: the SHA-256 of the verifier as lower-case hex, method `S256`.
    S256Hex,
}

/// Which redirect addresses the network accepts for a desktop app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectRule {
    /// `http://127.0.0.1:<any port>/<path>` (RFC 8252 §7.3: X, Google).
    LoopbackAnyPort,
    /// `http://127.0.0.1:<registered port>/<path>` (networks that compare the port too).
    LoopbackFixedPort(u16),
    /// Only `https://` redirects (Meta, TikTok, LinkedIn in practice): the relay page or a
    /// pasted address brings the code back.
    HttpsOnly,
}

/// One network's OAuth 2.0 endpoints and rules.
#[derive(Debug, Clone)]
pub struct OAuthProfile {
    /// Lower-case network name (`"x"`), also the `OUTPOST_<NAME>_…` prefix.
    pub network: &'static str,
    pub authorize_url: String,
    pub token_url: String,
    pub scopes: Vec<&'static str>,
    /// `" "` by the RFC; `","` for networks that want commas (TikTok, Pinterest).
    pub scope_separator: &'static str,
    pub pkce: Pkce,
    pub client_auth: ClientAuth,
    /// The authorisation request's client id parameter (`client_id`; TikTok `client_key`).
    pub client_id_param: &'static str,
    /// Whether the network requires a client secret (confidential client).
    pub needs_secret: bool,
    pub redirect: RedirectRule,
    /// The path of the loopback redirect (`/callback`).
    pub redirect_path: &'static str,
    /// Extra authorisation request parameters (Google: `access_type=offline`).
    pub extra_authorize_params: Vec<(&'static str, String)>,
}

impl OAuthProfile {
    /// Applies `OUTPOST_<NETWORK>_AUTHORIZE_URL` / `OUTPOST_<NETWORK>_TOKEN_URL` when set, so
    /// the flow works against any standards-compliant OAuth 2.0 server (tests, private
    /// deployments).
    pub fn with_env_overrides(mut self) -> Self {
        let prefix = format!("OUTPOST_{}", self.network.to_ascii_uppercase());
        let var = |suffix: &str| {
            std::env::var(format!("{prefix}_{suffix}"))
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(u) = var("AUTHORIZE_URL") {
            self.authorize_url = u;
        }
        if let Some(u) = var("TOKEN_URL") {
            self.token_url = u;
        }
        self
    }
}
