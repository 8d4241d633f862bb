//! OAuth 2.0 for the networks that use it: the token endpoint (code exchange, refresh) and the
//! connect flow (system browser, PKCE, loopback redirect, relay page, pasted address).

mod profile;
mod token;

pub use profile::{OAuthProfile, Pkce, RedirectRule};

pub use token::{parse_token_response, ClientAuth, OAuthError, TokenEndpoint};
