//! OAuth 2.0 for the networks that use it: the token endpoint (code exchange, refresh) and the
//! connect flow (system browser, PKCE, loopback redirect, relay page, pasted address).

mod callback;
mod flow;
mod loopback;
pub mod pkce;
mod profile;
mod token;

pub use callback::{parse_pasted_redirect, Callback};
pub use flow::{
    open_in_browser, token_endpoint, ConnectError, ConnectFlow, PasteHandle, PendingConnect,
    DEFAULT_WAIT, RELAY_CALLBACK_PATH,
};
pub use pkce::PkcePair;
pub use profile::{OAuthProfile, Pkce, RedirectRule};

pub use token::{parse_token_response, ClientAuth, OAuthError, TokenEndpoint};
