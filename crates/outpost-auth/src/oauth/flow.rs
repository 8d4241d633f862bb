//! The "connect an account" flow for OAuth 2.0 networks (RFC 6749 §4.1 as a native app, RFC
//! 8252): Outpost opens the system browser on the network's authorisation page, the person
//! signs in and agrees, and the browser brings the code back to Outpost by one of three ways:
//!
//! 1. **Loopback redirect** (X, TikTok, Google, LinkedIn…): `redirect_uri` is
//!    `http://127.0.0.1:<port><path>` and [`PendingConnect::wait`] listens there.
//! 2. **Relay page** (networks that allow only `https://` redirects: Threads, Instagram…):
//!    `redirect_uri` is the user's copy of `docs/oauth-relay.html` on any HTTPS static host. The
//!    loopback port travels in `state` as `<port>.<random>`; the page forwards the response to
//!    `http://127.0.0.1:<port>/callback`, where the same listener waits.
//! 3. **Pasted address**: the person copies the address the browser ended on (the relay page
//!    shows it; any registered HTTPS page works, it need not even load) and pastes it into
//!    Outpost: [`PendingConnect::complete_with_pasted`] or, while `wait` runs,
//!    [`PasteHandle::submit`].
//!
//! ```text
//! let mut pending = ConnectFlow::begin(&profile, &client_id, relay.as_deref())?;
//! let _ = open_in_browser(pending.authorize_url());   // and print the URL too
//! let callback = pending.wait(DEFAULT_WAIT).await?;    // or complete_with_pasted(text)
//! let tokens = pending.finish(&http, client_secret, callback).await?;
//! ```
//!
//! Every response is checked against the flow's `state` (256 random bits, compared exactly).
//! PKCE (RFC 7636) is used whenever the profile says the network supports it. The code must be
//! exchanged at once: X's codes live 30 seconds.

use super::callback::{parse_pasted, Callback};
use super::loopback::{self, ConnContext};
use super::pkce::{new_state, state_matches, PkcePair};
use super::{ClientAuth, OAuthError, OAuthProfile, RedirectRule, TokenEndpoint};
use crate::tokens::OAuthTokens;
use crate::Secret;
use reqwest::Url;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long [`PendingConnect::wait`] is usually given: five minutes to sign in and agree.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);

/// The path on the loopback listener that the relay page forwards to (whatever the profile's
/// own `redirect_path`): `http://127.0.0.1:<port>/callback`.
pub const RELAY_CALLBACK_PATH: &str = "/callback";

/// Why connecting an account did not work. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The network only accepts one registered port, and something else listens on it.
    #[error(
        "port {port} on 127.0.0.1 is already in use, and {network} only accepts the address \
         http://127.0.0.1:{port}{path} registered in your app — close the program that uses the \
         port (another Outpost sign-in window?) and try again, or register another port in your \
         {network} app and in Outpost's settings"
    )]
    PortInUse {
        port: u16,
        network: String,
        path: String,
    },
    /// Opening the loopback listener failed for another reason.
    #[error("Outpost could not open a local port to receive the sign-in ({0}) — try again, or use the relay page and paste the address")]
    Listen(String),
    /// The network needs an `https://` redirect and no relay address is configured.
    #[error(
        "{network} only sends sign-ins back to an https:// address — host Outpost's relay page \
         (docs/oauth-relay.html) on any HTTPS static host, register its address in your \
         {network} app and enter it as the relay page address when connecting (or `--relay`)"
    )]
    NeedsRelay { network: String },
    /// The relay address in the settings is not usable.
    #[error("the relay page address {0:?} is not usable: it must be a complete https:// address without a # part")]
    BadRelay(String),
    /// The profile or the app settings are incomplete (no client id, bad authorisation URL).
    #[error("{0}")]
    BadSettings(String),
    /// The network needs the app's client secret for the exchange, and there is none.
    #[error("{network} needs your app's client secret to finish connecting — enter it in Outpost's settings")]
    MissingSecret { network: String },
    /// The person chose "cancel"/"deny" on the network's page (`error=access_denied`).
    #[error("you declined the connection on {network}'s page, so nothing was connected{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Declined {
        network: String,
        description: Option<String>,
    },
    /// The network answered with another `error=` (`invalid_scope`, `server_error`, …).
    #[error("{network} did not allow the connection ({error}{}) — check the app's settings and permissions, then try again", .description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        network: String,
        error: String,
        description: Option<String>,
    },
    /// The response belongs to another attempt (its `state` differs, or is missing).
    #[error("this sign-in address belongs to another connection attempt (its state does not match) — use the address from the attempt you just started, or start again")]
    StateMismatch,
    /// A response without `code` (and without `error`).
    #[error("the address has no authorisation code in it — copy the whole address from the browser's address bar after agreeing")]
    MissingCode,
    /// The pasted text is not an address or a query.
    #[error("that does not look like the address the browser was sent to — copy the whole address from the address bar (it contains code= and state=)")]
    NotAnAddress,
    /// Nothing came back in time.
    #[error("no sign-in came back within {} — start connecting again, or paste the address the browser ended on", human(*.0))]
    TimedOut(Duration),
    /// The token endpoint refused the code (or could not be reached).
    #[error("{0}")]
    Token(#[from] OAuthError),
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 {
        format!("{} minutes", s / 60)
    } else if s == 1 {
        "1 second".to_string()
    } else if s >= 1 {
        format!("{s} seconds")
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Starts connect flows. See the module documentation.
#[derive(Debug)]
pub struct ConnectFlow;

impl ConnectFlow {
    /// Prepares one connect attempt for `client_id` (the user's app or Outpost's own):
    /// opens the loopback listener on 127.0.0.1 (any free port, or the profile's fixed one),
    /// makes `state` and the PKCE verifier, and builds the authorisation address.
    ///
    /// With `relay_url` (needed for [`RedirectRule::HttpsOnly`], optional otherwise) the
    /// redirect address is the relay page, and `state` carries the listener's port.
    ///
    /// Needs no async runtime; the listener only starts answering in [`PendingConnect::wait`]
    /// (the browser's connection waits in the kernel's backlog until then).
    pub fn begin(
        profile: &OAuthProfile,
        client_id: &str,
        relay_url: Option<&str>,
    ) -> Result<PendingConnect, ConnectError> {
        let network = profile.network;
        let client_id = client_id.trim();
        if client_id.is_empty() {
            return Err(ConnectError::BadSettings(format!(
                "no client id is set for {network} — enter your app's client id in Outpost's settings"
            )));
        }
        let relay = match relay_url.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => Some(check_relay(r)?),
            None if profile.redirect == RedirectRule::HttpsOnly => {
                return Err(ConnectError::NeedsRelay {
                    network: network.to_string(),
                })
            }
            None => None,
        };
        let redirect_path = normalise_path(profile.redirect_path);
        let port = match (profile.redirect, &relay) {
            (RedirectRule::LoopbackFixedPort(p), None) => p,
            _ => 0,
        };
        let listener = bind(port, network, &redirect_path)?;
        let port = listener
            .local_addr()
            .map_err(|e| ConnectError::Listen(e.to_string()))?
            .port();
        let via_relay = relay.is_some();
        let state = new_state(via_relay.then_some(port));
        let (redirect_uri, callback_path) = match relay {
            Some(r) => (r, RELAY_CALLBACK_PATH.to_string()),
            None => (
                format!("http://127.0.0.1:{port}{redirect_path}"),
                redirect_path,
            ),
        };
        let pkce = PkcePair::generate(profile.pkce);
        let authorize_url =
            authorize_url(profile, client_id, &redirect_uri, &state, pkce.as_ref())?;
        let (paste_tx, paste_rx) = mpsc::unbounded_channel();
        tracing::debug!(network, port, via_relay, "connect flow started");
        Ok(PendingConnect {
            network,
            authorize_url,
            redirect_uri,
            state,
            pkce,
            token_url: profile.token_url.clone(),
            client_id: client_id.to_string(),
            client_auth: profile.client_auth,
            needs_secret: profile.needs_secret,
            listener: Some(listener),
            port,
            callback_path,
            paste_tx,
            paste_rx,
        })
    }
}

/// One connect attempt in progress: show [`authorize_url`](Self::authorize_url), get the
/// [`Callback`] (from [`wait`](Self::wait) or a pasted address), then [`finish`](Self::finish).
#[derive(Debug)]
pub struct PendingConnect {
    network: &'static str,
    authorize_url: String,
    redirect_uri: String,
    state: String,
    pkce: Option<PkcePair>,
    token_url: String,
    client_id: String,
    client_auth: ClientAuth,
    needs_secret: bool,
    /// Closed (taken) by the first `wait`.
    listener: Option<TcpListener>,
    port: u16,
    callback_path: String,
    paste_tx: mpsc::UnboundedSender<Callback>,
    paste_rx: mpsc::UnboundedReceiver<Callback>,
}

impl PendingConnect {
    /// The address to open in the system browser (and to print, for copying).
    pub fn authorize_url(&self) -> &str {
        &self.authorize_url
    }

    /// The `redirect_uri` sent to the network: `http://127.0.0.1:<port><path>`, or the relay
    /// page's address.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The loopback listener's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path the listener answers on (`/callback` for the relay page).
    pub fn callback_path(&self) -> &str {
        &self.callback_path
    }

    /// This attempt's `state` (in the authorisation address already; not a secret, but only
    /// this attempt's responses carry it).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// A handle that completes a running [`wait`](Self::wait) with a pasted address — for a UI
    /// that offers "paste the address" while the listener waits.
    pub fn paste_handle(&self) -> PasteHandle {
        PasteHandle {
            network: self.network,
            state: self.state.clone(),
            tx: self.paste_tx.clone(),
        }
    }

    /// Reads a pasted address (see [`parse_pasted_redirect`](super::parse_pasted_redirect))
    /// against this attempt's `state`. Works with or without the listener, also after `wait`
    /// timed out.
    pub fn complete_with_pasted(&self, url_or_query: &str) -> Result<Callback, ConnectError> {
        parse_pasted(url_or_query, &self.state, self.network)
    }

    /// Waits for the browser to come back, for at most `timeout` ([`DEFAULT_WAIT`] usually).
    ///
    /// Returns the first response that carries a code and this attempt's `state` (the browser
    /// is answered "You can close this tab and return to Outpost"), or a pasted address handed
    /// in through a [`PasteHandle`]. Responses with another `state` are answered with an error
    /// page (HTTP 400) and ignored: the flow goes on. An `error=` response of this attempt
    /// ends it: [`ConnectError::Declined`] when the person declined, [`ConnectError::Refused`]
    /// otherwise. The listener is closed when this returns, whatever the result; after that
    /// only a pasted address can complete the attempt. Dropping the future (a "Cancel" button)
    /// closes the listener too.
    pub async fn wait(&mut self, timeout: Duration) -> Result<Callback, ConnectError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let listener = match self.listener.take() {
            Some(std) => Some(
                tokio::net::TcpListener::from_std(std)
                    .map_err(|e| ConnectError::Listen(e.to_string()))?,
            ),
            None => None,
        };
        let ctx = Arc::new(ConnContext {
            state: self.state.clone(),
            path: self.callback_path.clone(),
            network: self.network.to_string(),
            done: AtomicBool::new(false),
        });
        let (tx, mut outcomes) = mpsc::unbounded_channel();
        // Dropping the set when this returns aborts connections still in progress.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(ConnectError::TimedOut(timeout));
                }
                Some(callback) = self.paste_rx.recv() => return Ok(callback),
                Some(outcome) = outcomes.recv() => return outcome,
                accepted = accept(listener.as_ref()) => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(loopback::serve(stream, ctx.clone(), tx.clone()));
                    }
                    // Out of file descriptors and the like: wait a little, keep listening.
                    Err(e) => {
                        tracing::warn!(error = %e, "loopback listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next() => {}
            }
        }
    }

    /// Exchanges the callback's code at the token endpoint (with the PKCE verifier when one was
    /// used and the same `redirect_uri`), right away. `client_secret` is the user's app's
    /// secret when the network needs one (or the client is confidential).
    pub async fn finish(
        self,
        http: &reqwest::Client,
        client_secret: Option<Secret>,
        callback: Callback,
    ) -> Result<OAuthTokens, ConnectError> {
        if !state_matches(&self.state, &callback.state) {
            return Err(ConnectError::StateMismatch);
        }
        let client_secret = client_secret.filter(|s| !s.is_empty());
        if self.needs_secret && client_secret.is_none() {
            return Err(ConnectError::MissingSecret {
                network: self.network.to_string(),
            });
        }
        let endpoint = TokenEndpoint {
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            client_secret,
            auth: self.client_auth,
        };
        let verifier = self.pkce.as_ref().map(|p| p.verifier.expose());
        let tokens = endpoint
            .exchange_code(
                http,
                callback.code.expose(),
                &self.redirect_uri,
                verifier,
                chrono::Utc::now(),
            )
            .await?;
        Ok(tokens)
    }
}

/// The next connection on the listener; never, without one.
async fn accept(
    listener: Option<&tokio::net::TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Completes a running [`PendingConnect::wait`] with an address the person pasted.
#[derive(Debug, Clone)]
pub struct PasteHandle {
    network: &'static str,
    state: String,
    tx: mpsc::UnboundedSender<Callback>,
}

impl PasteHandle {
    /// Reads the pasted text; when it is a valid response of this attempt, hands it to the
    /// waiting `wait` (which then returns it) and returns `Ok`. Otherwise returns why not
    /// (the wait goes on). Delivering after the attempt ended is not an error.
    pub fn submit(&self, url_or_query: &str) -> Result<(), ConnectError> {
        let callback = parse_pasted(url_or_query, &self.state, self.network)?;
        let _ = self.tx.send(callback);
        Ok(())
    }
}

/// The token endpoint of `profile` for `client_id` — for refreshing the tokens that
/// [`PendingConnect::finish`] returned.
pub fn token_endpoint(
    profile: &OAuthProfile,
    client_id: &str,
    client_secret: Option<Secret>,
) -> TokenEndpoint {
    TokenEndpoint {
        token_url: profile.token_url.clone(),
        client_id: client_id.trim().to_string(),
        client_secret: client_secret.filter(|s| !s.is_empty()),
        auth: profile.client_auth,
    }
}

/// Opens `url` (`http://` or `https://` only) in the system browser: `xdg-open` (Linux and
/// other Unix), `open` (macOS), `rundll32 url.dll,FileProtocolHandler` (Windows — not
/// `cmd /c start`, because cmd would split the address at every `&`). No shell is involved;
/// the command is not waited for. An error only means the browser could not be started —
/// callers always print the address too, so it never ends the flow.
pub fn open_in_browser(url: &str) -> Result<(), std::io::Error> {
    let invalid =
        |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string());
    let parsed = Url::parse(url).map_err(|_| invalid("not a valid address"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("only http:// and https:// addresses are opened"));
    }
    let url = parsed.as_str();
    let mut cmd = if cfg!(target_os = "macos") {
        let mut c = std::process::Command::new("open");
        c.arg(url);
        c
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler").arg(url);
        c
    } else {
        let mut c = std::process::Command::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn()?;
    // Reap it in the background (xdg-open may wait for the browser).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

fn normalise_path(path: &str) -> String {
    let path = path.trim();
    if path.is_empty() {
        RELAY_CALLBACK_PATH.to_string()
    } else if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

fn check_relay(relay: &str) -> Result<String, ConnectError> {
    let bad = || ConnectError::BadRelay(relay.chars().take(200).collect());
    let url = Url::parse(relay).map_err(|_| bad())?;
    if url.scheme() != "https" || !url.has_host() || url.fragment().is_some() {
        return Err(bad());
    }
    // Sent exactly as configured: the network compares it with the registered one.
    Ok(relay.to_string())
}

fn bind(port: u16, network: &str, path: &str) -> Result<TcpListener, ConnectError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse if port != 0 => ConnectError::PortInUse {
            port,
            network: network.to_string(),
            path: path.to_string(),
        },
        std::io::ErrorKind::PermissionDenied if port != 0 => ConnectError::Listen(format!(
            "port {port} needs administrator rights; register a port above 1024 in your {network} app"
        )),
        _ => ConnectError::Listen(e.to_string()),
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ConnectError::Listen(e.to_string()))?;
    Ok(listener)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (spaces become
/// `%20`, not `+`, which not every network decodes).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The authorisation request (RFC 6749 §4.1.1, RFC 7636 §4.3) on top of the profile's
/// authorisation address (whose own query parameters are kept).
pub(crate) fn authorize_url(
    profile: &OAuthProfile,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    pkce: Option<&PkcePair>,
) -> Result<String, ConnectError> {
    let mut url = Url::parse(profile.authorize_url.trim()).map_err(|_| {
        ConnectError::BadSettings(format!(
            "the authorisation address for {} ({:?}) is not a valid address",
            profile.network, profile.authorize_url
        ))
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ConnectError::BadSettings(format!(
            "the authorisation address for {} must start with https://",
            profile.network
        )));
    }
    let mut params: Vec<(&str, String)> = vec![
        ("response_type", "code".into()),
        (profile.client_id_param, client_id.into()),
        ("redirect_uri", redirect_uri.into()),
    ];
    if !profile.scopes.is_empty() {
        params.push(("scope", profile.scopes.join(profile.scope_separator)));
    }
    params.push(("state", state.into()));
    if let Some(p) = pkce {
        params.push(("code_challenge", p.challenge.clone()));
        params.push(("code_challenge_method", p.method.into()));
    }
    for (k, v) in &profile.extra_authorize_params {
        if !params.iter().any(|(name, _)| name == k) {
            params.push((k, v.clone()));
        }
    }
    let ours = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let query = match url.query().filter(|q| !q.is_empty()) {
        Some(existing) => format!("{existing}&{ours}"),
        None => ours,
    };
    url.set_query(Some(&query));
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::super::Pkce;
    use super::*;

    fn profile() -> OAuthProfile {
        OAuthProfile {
            network: "x",
            authorize_url: "https://x.example/i/oauth2/authorize".into(),
            token_url: "https://api.x.example/2/oauth2/token".into(),
            scopes: vec!["tweet.read", "tweet.write", "offline.access"],
            scope_separator: " ",
            pkce: Pkce::S256,
            client_auth: ClientAuth::Basic,
            client_id_param: "client_id",
            needs_secret: false,
            redirect: RedirectRule::LoopbackAnyPort,
            redirect_path: "/callback",
            extra_authorize_params: vec![],
        }
    }

    fn query(url: &str) -> Vec<(String, String)> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
        q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_authorisation_address_has_every_parameter() {
        let p = profile();
        let pending = ConnectFlow::begin(&p, " my-client ", None).unwrap();
        let url = pending.authorize_url();
        assert!(url.starts_with("https://x.example/i/oauth2/authorize?response_type=code&"));
        // Spaces as %20, never +.
        assert!(
            url.contains("scope=tweet.read%20tweet.write%20offline.access"),
            "{url}"
        );
        let q = query(url);
        assert_eq!(get(&q, "client_id"), Some("my-client"));
        let redirect = format!("http://127.0.0.1:{}/callback", pending.port());
        assert_eq!(get(&q, "redirect_uri"), Some(redirect.as_str()));
        assert_eq!(pending.redirect_uri(), redirect);
        assert_eq!(get(&q, "state"), Some(pending.state()));
        assert_eq!(get(&q, "code_challenge_method"), Some("S256"));
        let verifier = pending.pkce.as_ref().unwrap().verifier.expose().to_string();
        assert_eq!(
            get(&q, "code_challenge").map(str::to_string),
            super::super::pkce::challenge(&verifier, Pkce::S256)
        );
        assert!(!url.contains(&verifier));
        assert!(!format!("{pending:?}").contains(&verifier));
        assert_ne!(pending.port(), 0);
    }

    #[test]
    fn tiktok_style_profiles_are_honoured() {
        let mut p = profile();
        p.network = "tiktok";
        p.authorize_url = "https://www.tiktok.example/v2/auth/authorize/?lang=en".into();
        p.client_id_param = "client_key";
        p.scope_separator = ",";
        p.scopes = vec!["user.info.basic", "video.publish"];
        p.pkce = Pkce::S256Hex;
        p.redirect_path = "/callback/";
        p.extra_authorize_params = vec![("prompt", "consent".into()), ("state", "evil".into())];
        let pending = ConnectFlow::begin(&p, "key", None).unwrap();
        let q = query(pending.authorize_url());
        assert_eq!(get(&q, "lang"), Some("en"));
        assert_eq!(get(&q, "client_key"), Some("key"));
        assert_eq!(get(&q, "client_id"), None);
        assert_eq!(get(&q, "scope"), Some("user.info.basic,video.publish"));
        assert_eq!(get(&q, "prompt"), Some("consent"));
        assert_eq!(q.iter().filter(|(k, _)| k == "state").count(), 1);
        assert_eq!(get(&q, "state"), Some(pending.state()));
        let challenge = get(&q, "code_challenge").unwrap();
        assert_eq!(challenge.len(), 64);
        assert!(pending.redirect_uri().ends_with("/callback/"));

        p.pkce = Pkce::None;
        p.scopes = vec![];
        let pending = ConnectFlow::begin(&p, "key", None).unwrap();
        let q = query(pending.authorize_url());
        assert_eq!(get(&q, "code_challenge"), None);
        assert_eq!(get(&q, "code_challenge_method"), None);
        assert_eq!(get(&q, "scope"), None);
    }

    #[test]
    fn the_relay_carries_the_port_in_state() {
        let mut p = profile();
        p.redirect = RedirectRule::HttpsOnly;
        let e = ConnectFlow::begin(&p, "id", None).unwrap_err();
        assert!(matches!(e, ConnectError::NeedsRelay { .. }));
        assert!(e.to_string().contains("oauth-relay.html"), "{e}");
        for bad in [
            "http://relay.example/r.html",
            "https://relay.example/r#x",
            "relay.example",
        ] {
            assert!(matches!(
                ConnectFlow::begin(&p, "id", Some(bad)),
                Err(ConnectError::BadRelay(_))
            ));
        }
        let relay = "https://me.example.org/outpost/oauth-relay.html";
        let pending = ConnectFlow::begin(&p, "id", Some(relay)).unwrap();
        assert_eq!(pending.redirect_uri(), relay);
        assert_eq!(pending.callback_path(), RELAY_CALLBACK_PATH);
        let (port, _) = pending.state().split_once('.').unwrap();
        assert_eq!(port, pending.port().to_string());
        let q = query(pending.authorize_url());
        assert_eq!(get(&q, "redirect_uri"), Some(relay));
    }

    #[test]
    fn a_taken_fixed_port_is_named() {
        let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = holder.local_addr().unwrap().port();
        let mut p = profile();
        p.network = "linkedin";
        p.redirect = RedirectRule::LoopbackFixedPort(port);
        let e = ConnectFlow::begin(&p, "id", None).unwrap_err();
        assert!(
            matches!(e, ConnectError::PortInUse { port: q, .. } if q == port),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains(&port.to_string()) && text.contains("already in use"),
            "{text}"
        );
        drop(holder);
        let pending = ConnectFlow::begin(&p, "id", None).unwrap();
        assert_eq!(pending.port(), port);
    }

    #[test]
    fn settings_errors_are_clear() {
        let mut p = profile();
        assert!(matches!(
            ConnectFlow::begin(&p, "  ", None),
            Err(ConnectError::BadSettings(_))
        ));
        p.authorize_url = "not a url".into();
        assert!(matches!(
            ConnectFlow::begin(&p, "id", None),
            Err(ConnectError::BadSettings(_))
        ));
    }

    #[test]
    fn the_browser_opener_refuses_non_web_addresses() {
        assert!(open_in_browser("file:///etc/passwd").is_err());
        assert!(open_in_browser("javascript:alert(1)").is_err());
        assert!(open_in_browser("not a url").is_err());
    }

    #[test]
    fn encoding_is_strict() {
        assert_eq!(encode("a b+c/d?e&f=g~h"), "a%20b%2Bc%2Fd%3Fe%26f%3Dg~h");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
