//! The connect flow against a real OAuth 2.0 authorisation server on loopback: oidc-provider
//! (npm; OpenID-certified), installed by `scripts/oauth-test-server.sh install` into
//! `.tools/oauth-server` and configured by `tools/oauth-server/server.mjs`. Each test binary
//! starts one server on a free port (or uses `OUTPOST_TEST_OAUTH_ISSUER` when set, see
//! `scripts/oauth-test-server.sh start`); the test plays the person in the browser with plain
//! HTTP (the server's two-button login/consent page, cookies carried by hand).
//!
//! Without the server these tests print "skipped" and pass — unless
//! `OUTPOST_TEST_OAUTH_REQUIRED=1`, when they fail (CI sets it so a missing server is noticed).

use outpost_auth::oauth::{
    parse_pasted_redirect, token_endpoint, Callback, ClientAuth, ConnectError, ConnectFlow,
    OAuthError, OAuthProfile, PendingConnect, Pkce, RedirectRule,
};
use outpost_auth::Secret;
use reqwest::{StatusCode, Url};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const PUBLIC: &str = "outpost-public";
const CONFIDENTIAL: &str = "outpost-confidential";
const CONFIDENTIAL_SECRET: &str = "outpost-test-secret";
/// Registered for `outpost-public` in server.mjs; never fetched (the test runs the relay page's
/// script itself).
const RELAY: &str = "https://relay.outpost.test/oauth-relay.html";
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The server

fn required() -> bool {
    std::env::var("OUTPOST_TEST_OAUTH_REQUIRED").as_deref() == Ok("1")
}

fn skip(why: &str) -> Option<String> {
    if required() {
        panic!("OUTPOST_TEST_OAUTH_REQUIRED=1 but {why}: run scripts/oauth-test-server.sh install");
    }
    eprintln!("skipped: {why} — run scripts/oauth-test-server.sh install (OAuth connect-flow tests did NOT run)");
    None
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The issuer of the test server, starting it on first use.
fn issuer() -> Option<String> {
    static ISSUER: OnceLock<Result<String, String>> = OnceLock::new();
    match ISSUER.get_or_init(start_server) {
        Ok(issuer) => Some(issuer.clone()),
        Err(why) => skip(why),
    }
}

fn start_server() -> Result<String, String> {
    if let Some(issuer) = std::env::var("OUTPOST_TEST_OAUTH_ISSUER")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return Ok(issuer.trim_end_matches('/').to_string());
    }
    let dir = workspace().join(".tools/oauth-server");
    if !dir.join("node_modules/oidc-provider/package.json").exists()
        || !dir.join("server.mjs").exists()
    {
        return Err("the OAuth test server (oidc-provider) is not installed".into());
    }
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oauth-test-server.log");
    let log = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new("node")
        .arg(dir.join("server.mjs"))
        .args(["--port", "0", "--exit-with-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("node could not be started ({e})"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining: the server must never write into a closed pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .map_err(|_| "the OAuth test server did not report ready within 20 s".to_string())?;
    let issuer = line
        .trim()
        .strip_prefix("ready ")
        .ok_or_else(|| format!("the OAuth test server said {line:?} instead of ready"))?
        .to_string();
    // The server exits when its stdin closes, i.e. when this test process ends; keep the
    // handles (and so the pipe) alive until then.
    static CHILD: OnceLock<Mutex<std::process::Child>> = OnceLock::new();
    let _ = CHILD.set(Mutex::new(child));
    Ok(issuer)
}

fn profile(issuer: &str, pkce: Pkce, auth: ClientAuth, redirect: RedirectRule) -> OAuthProfile {
    OAuthProfile {
        network: "testnet",
        authorize_url: format!("{issuer}/auth"),
        token_url: format!("{issuer}/token"),
        scopes: vec!["openid", "offline_access", "post.write"],
        scope_separator: " ",
        pkce,
        client_auth: auth,
        client_id_param: "client_id",
        needs_secret: false,
        redirect,
        redirect_path: "/callback",
        extra_authorize_params: vec![],
    }
}

fn public_profile(issuer: &str) -> OAuthProfile {
    profile(
        issuer,
        Pkce::S256,
        ClientAuth::Basic,
        RedirectRule::LoopbackAnyPort,
    )
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

// ---------------------------------------------------------------------------------------------
// The person in the browser

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Decision {
    Approve,
    Deny,
}

/// A browser without a window: follows redirects by hand, keeps cookies, and clicks the test
/// server's Approve/Deny buttons.
struct Browser {
    http: reqwest::Client,
    cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    fn new() -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    async fn send(&self, method: reqwest::Method, url: &Url) -> reqwest::Response {
        let cookie = {
            let jar = self.cookies.lock().expect("jar");
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut req = self.http.request(method.clone(), url.clone());
        if !cookie.is_empty() {
            req = req.header(reqwest::header::COOKIE, cookie);
        }
        if method == reqwest::Method::POST {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body("");
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut jar = self.cookies.lock().expect("jar");
        for value in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let value = value.to_str().unwrap_or_default();
            let Some((name, rest)) = value.split_once('=') else {
                continue;
            };
            let val = rest.split(';').next().unwrap_or_default();
            if val.is_empty()
                || value
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970")
            {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), val.to_string());
            }
        }
        resp
    }

    /// Opens `authorize_url`, signs in and agrees (or declines) until the server redirects to
    /// an address starting with `redirect_uri`, and returns that address without visiting it.
    async fn sign_in(&self, authorize_url: &str, redirect_uri: &str, decision: Decision) -> String {
        let mut url = Url::parse(authorize_url).expect("authorize url");
        for _ in 0..20 {
            let is_interaction = url.path().starts_with("/interaction/");
            let resp = if is_interaction {
                // The page first (as a person would see it), then the button.
                let page = self.send(reqwest::Method::GET, &url).await;
                assert_eq!(page.status(), StatusCode::OK, "interaction page {url}");
                let button = match decision {
                    Decision::Approve => "approve",
                    Decision::Deny => "deny",
                };
                let post = url
                    .join(&format!("{}/{button}", url.path()))
                    .expect("button url");
                self.send(reqwest::Method::POST, &post).await
            } else {
                self.send(reqwest::Method::GET, &url).await
            };
            let status = resp.status();
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                let body = resp.text().await.unwrap_or_default();
                panic!("the authorisation server stopped at {url} with {status}: {body}");
            };
            let next = url.join(&location).expect("location");
            if next.as_str().starts_with(redirect_uri) {
                return next.to_string();
            }
            url = next;
        }
        panic!("too many redirects from {authorize_url}");
    }
}

/// Visits an address on the loopback listener (as the browser does after the last redirect).
async fn visit(url: &str) -> (StatusCode, String) {
    let resp = http().get(url).send().await.expect("loopback GET");
    let status = resp.status();
    (status, resp.text().await.unwrap_or_default())
}

/// The whole connect flow up to the callback: sign in, deliver to the listener, wait.
async fn connect(
    pending: &mut PendingConnect,
    decision: Decision,
) -> (Result<Callback, ConnectError>, StatusCode, String) {
    let browser = Browser::new();
    let authorize = pending.authorize_url().to_string();
    let redirect = pending.redirect_uri().to_string();
    let (result, (status, body)) = tokio::join!(pending.wait(WAIT), async {
        let location = browser.sign_in(&authorize, &redirect, decision).await;
        visit(&location).await
    });
    (result, status, body)
}

fn assert_fresh_tokens(tokens: &outpost_auth::OAuthTokens) {
    assert!(!tokens.access_token.is_empty());
    assert!(
        tokens.refresh_token.as_ref().is_some_and(|r| !r.is_empty()),
        "a refresh token is issued"
    );
    let expires = tokens.expires_at.expect("expires_in is sent");
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::Duration::seconds(500) && left <= chrono::Duration::seconds(600),
        "{left}"
    );
}

// ---------------------------------------------------------------------------------------------
// The flow

#[tokio::test]
async fn the_full_connect_flow_with_pkce_returns_tokens() {
    let Some(issuer) = issuer() else { return };
    let p = public_profile(&issuer);
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    assert!(pending
        .authorize_url()
        .contains("code_challenge_method=S256"));
    let (result, status, body) = connect(&mut pending, Decision::Approve).await;
    let callback = result.expect("a code comes back");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("You can close this tab and return to Outpost"),
        "{body}"
    );
    // RFC 9207: oidc-provider names itself in the response.
    assert!(
        callback
            .params
            .iter()
            .any(|(k, v)| k == "iss" && v == &issuer),
        "{:?}",
        callback.params
    );
    // The listener is closed now.
    assert!(std::net::TcpStream::connect(("127.0.0.1", pending.port())).is_err());
    let tokens = pending
        .finish(&http(), None, callback)
        .await
        .expect("the code is exchanged");
    assert_fresh_tokens(&tokens);
}

#[tokio::test]
async fn a_wrong_state_is_ignored_and_the_right_one_then_accepted() {
    let Some(issuer) = issuer() else { return };
    let p = public_profile(&issuer);
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    let browser = Browser::new();
    let authorize = pending.authorize_url().to_string();
    let redirect = pending.redirect_uri().to_string();
    let state = pending.state().to_string();
    let port = pending.port();
    let (result, visits) = tokio::join!(pending.wait(WAIT), async {
        // A connection that never sends anything (browsers open speculative ones) must not
        // hold up the others.
        let _idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("idle connection");
        let location = browser
            .sign_in(&authorize, &redirect, Decision::Approve)
            .await;
        let started = std::time::Instant::now();
        let forged = location.replace(&state, "another-attempts-state-value");
        assert_ne!(forged, location);
        let first = visit(&forged).await;
        let stray = visit(&format!("{redirect}?foo=bar")).await;
        let elsewhere = visit(&redirect.replace("/callback", "/favicon.ico")).await;
        let second = visit(&location).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the idle connection held up others"
        );
        (first, stray, elsewhere, second)
    });
    let (first, stray, elsewhere, second) = visits;
    assert_eq!(first.0, StatusCode::BAD_REQUEST);
    assert!(
        first.1.contains("not the sign-in Outpost is waiting for"),
        "{}",
        first.1
    );
    assert_eq!(stray.0, StatusCode::BAD_REQUEST);
    assert_eq!(elsewhere.0, StatusCode::NOT_FOUND);
    assert_eq!(second.0, StatusCode::OK, "{}", second.1);
    let callback = result.expect("the right response is accepted");
    assert_eq!(callback.state, state);
    let tokens = pending
        .finish(&http(), None, callback)
        .await
        .expect("tokens");
    assert_fresh_tokens(&tokens);
}

#[tokio::test]
async fn declining_ends_the_flow_with_a_clear_error() {
    let Some(issuer) = issuer() else { return };
    let p = public_profile(&issuer);
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    let (result, status, body) = connect(&mut pending, Decision::Deny).await;
    let e = result.expect_err("declined");
    assert!(matches!(e, ConnectError::Declined { .. }), "{e:?}");
    assert!(e.to_string().contains("you declined"), "{e}");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("You declined the connection"), "{body}");
}

#[tokio::test]
async fn the_server_enforces_pkce_for_public_clients() {
    let Some(issuer) = issuer() else { return };
    // Without PKCE the authorisation request itself is refused (and says so to the listener).
    let p = profile(
        &issuer,
        Pkce::None,
        ClientAuth::Basic,
        RedirectRule::LoopbackAnyPort,
    );
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    assert!(!pending.authorize_url().contains("code_challenge"));
    let (result, status, _) = connect(&mut pending, Decision::Approve).await;
    let e = result.expect_err("refused");
    assert!(
        matches!(e, ConnectError::Refused { ref error, .. } if error == "invalid_request"),
        "{e:?}"
    );
    assert!(e.to_string().contains("PKCE"), "{e}");
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // With PKCE, a code exchanged with the wrong verifier is refused.
    let p = public_profile(&issuer);
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    let (result, _, _) = connect(&mut pending, Decision::Approve).await;
    let callback = result.expect("code");
    let wrong = outpost_auth::oauth::pkce::new_verifier();
    let e = token_endpoint(&p, PUBLIC, None)
        .exchange_code(
            &http(),
            callback.code.expose(),
            pending.redirect_uri(),
            Some(wrong.expose()),
            chrono::Utc::now(),
        )
        .await
        .expect_err("wrong verifier");
    assert!(matches!(e, OAuthError::Revoked(_)), "{e:?}");
    // The right verifier still works (oidc-provider checks PKCE before it spends the code), so
    // the refusal above was the verifier's doing.
    let tokens = pending
        .finish(&http(), None, callback)
        .await
        .expect("the right verifier");
    assert_fresh_tokens(&tokens);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_the_old_one_is_then_refused() {
    let Some(issuer) = issuer() else { return };
    let p = public_profile(&issuer);
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    let (result, _, _) = connect(&mut pending, Decision::Approve).await;
    let tokens = pending
        .finish(&http(), None, result.expect("code"))
        .await
        .expect("tokens");
    let first = tokens.refresh_token.clone().expect("refresh token");
    let endpoint = token_endpoint(&p, PUBLIC, None);
    let refreshed = endpoint
        .refresh(&http(), &first, chrono::Utc::now())
        .await
        .expect("refresh");
    let second = refreshed.refresh_token.clone().expect("rotated");
    assert_ne!(second, first, "the refresh token is rotated");
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_fresh_tokens(&refreshed);
    let e = endpoint
        .refresh(&http(), &first, chrono::Utc::now())
        .await
        .expect_err("the old refresh token is spent");
    assert!(matches!(e, OAuthError::Revoked(_)), "{e:?}");
    assert!(e.to_string().contains("connect the account again"), "{e}");
    // Re-using a rotated token revokes the whole grant (RFC 9700 §4.14.2): the new one is dead
    // too, which is why the engine must save a rotated token before anything else.
    let e = endpoint
        .refresh(&http(), &second, chrono::Utc::now())
        .await
        .expect_err("the grant is revoked");
    assert!(matches!(e, OAuthError::Revoked(_)), "{e:?}");
}

#[tokio::test]
async fn a_revoked_refresh_token_is_refused() {
    let Some(issuer) = issuer() else { return };
    let p = public_profile(&issuer);
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    let (result, _, _) = connect(&mut pending, Decision::Approve).await;
    let tokens = pending
        .finish(&http(), None, result.expect("code"))
        .await
        .expect("tokens");
    let refresh = tokens.refresh_token.expect("refresh token");
    // RFC 7009 revocation, as the user's "disconnect" on the network's side would.
    let resp = http()
        .post(format!("{issuer}/token/revocation"))
        .form(&[
            ("token", refresh.expose()),
            ("token_type_hint", "refresh_token"),
            ("client_id", PUBLIC),
        ])
        .send()
        .await
        .expect("revocation");
    assert_eq!(resp.status(), StatusCode::OK);
    let e = token_endpoint(&p, PUBLIC, None)
        .refresh(&http(), &refresh, chrono::Utc::now())
        .await
        .expect_err("revoked");
    assert!(matches!(e, OAuthError::Revoked(_)), "{e:?}");
}

#[tokio::test]
async fn a_confidential_client_authenticates_with_basic_auth_on_a_fixed_port() {
    let Some(issuer) = issuer() else { return };
    let port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("free port");
        l.local_addr().expect("addr").port()
    };
    let mut p = profile(
        &issuer,
        Pkce::None,
        ClientAuth::Basic,
        RedirectRule::LoopbackFixedPort(port),
    );
    p.needs_secret = true;

    // No secret: refused before the network is asked.
    let pending = ConnectFlow::begin(&p, CONFIDENTIAL, None).expect("begin");
    let fake = Callback {
        code: Secret::new("unused"),
        state: pending.state().to_string(),
        params: vec![],
    };
    let e = pending
        .finish(&http(), None, fake)
        .await
        .expect_err("no secret");
    assert!(matches!(e, ConnectError::MissingSecret { .. }), "{e:?}");

    // A wrong secret: the network refuses the app's credentials.
    let mut pending = ConnectFlow::begin(&p, CONFIDENTIAL, None).expect("begin");
    assert_eq!(pending.port(), port);
    assert_eq!(
        pending.redirect_uri(),
        format!("http://127.0.0.1:{port}/callback")
    );
    let (result, _, _) = connect(&mut pending, Decision::Approve).await;
    let e = pending
        .finish(
            &http(),
            Some(Secret::new("wrong-secret")),
            result.expect("code"),
        )
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(e, ConnectError::Token(OAuthError::Client(_))),
        "{e:?}"
    );

    // The right one (the port is free again after the previous attempt).
    let mut pending = ConnectFlow::begin(&p, CONFIDENTIAL, None).expect("begin");
    let (result, _, _) = connect(&mut pending, Decision::Approve).await;
    let tokens = pending
        .finish(
            &http(),
            Some(Secret::new(CONFIDENTIAL_SECRET)),
            result.expect("code"),
        )
        .await
        .expect("tokens");
    assert_fresh_tokens(&tokens);
    // Refreshing with Basic auth too.
    let endpoint = token_endpoint(&p, CONFIDENTIAL, Some(Secret::new(CONFIDENTIAL_SECRET)));
    let refreshed = endpoint
        .refresh(
            &http(),
            tokens.refresh_token.as_ref().expect("rt"),
            chrono::Utc::now(),
        )
        .await
        .expect("refresh");
    assert!(!refreshed.access_token.is_empty());
}

#[tokio::test]
async fn a_pasted_address_completes_the_flow() {
    let Some(issuer) = issuer() else { return };
    // An https-only network: the redirect goes to the relay page, which the person never
    // reaches (say it is blocked); they paste the address from the address bar instead.
    let p = profile(
        &issuer,
        Pkce::S256,
        ClientAuth::Basic,
        RedirectRule::HttpsOnly,
    );
    let pending = ConnectFlow::begin(&p, PUBLIC, Some(RELAY)).expect("begin");
    assert_eq!(pending.redirect_uri(), RELAY);
    let location = Browser::new()
        .sign_in(pending.authorize_url(), RELAY, Decision::Approve)
        .await;
    // Wrong attempts first: another flow's state, a mangled address.
    assert!(matches!(
        parse_pasted_redirect(&location, "some-other-state"),
        Err(ConnectError::StateMismatch)
    ));
    assert!(matches!(
        pending.complete_with_pasted("https://relay.outpost.test/oauth-relay.html"),
        Err(ConnectError::NotAnAddress)
    ));
    let callback = pending
        .complete_with_pasted(&format!("  {location}#_\n"))
        .expect("pasted");
    let tokens = pending
        .finish(&http(), None, callback)
        .await
        .expect("tokens");
    assert_fresh_tokens(&tokens);

    // While the listener waits, a paste completes the wait (the query alone is enough).
    let p = public_profile(&issuer);
    let mut pending = ConnectFlow::begin(&p, PUBLIC, None).expect("begin");
    let paste = pending.paste_handle();
    let authorize = pending.authorize_url().to_string();
    let redirect = pending.redirect_uri().to_string();
    let (result, ()) = tokio::join!(pending.wait(WAIT), async {
        let location = Browser::new()
            .sign_in(&authorize, &redirect, Decision::Approve)
            .await;
        assert!(matches!(
            paste.submit("code=abc&state=nope"),
            Err(ConnectError::StateMismatch)
        ));
        let query = location.split_once('?').expect("query").1;
        paste.submit(query).expect("pasted");
    });
    let tokens = pending
        .finish(&http(), None, result.expect("the pasted code"))
        .await
        .expect("tokens");
    assert_fresh_tokens(&tokens);
}

#[tokio::test]
async fn the_relay_page_forwards_the_response_to_the_listener() {
    let Some(issuer) = issuer() else { return };
    let p = profile(
        &issuer,
        Pkce::S256,
        ClientAuth::Basic,
        RedirectRule::HttpsOnly,
    );
    let mut pending = ConnectFlow::begin(&p, PUBLIC, Some(RELAY)).expect("begin");
    let authorize = pending.authorize_url().to_string();
    let port = pending.port();
    let (result, (status, body)) = tokio::join!(pending.wait(WAIT), async {
        let location = Browser::new()
            .sign_in(&authorize, RELAY, Decision::Approve)
            .await;
        // The browser loads the relay page at `location`; its script computes the forward.
        let url = Url::parse(&location).expect("relay address");
        let target = relay_target(&format!("?{}", url.query().unwrap_or_default()), "#_")
            .expect("node runs the relay script")
            .expect("a target");
        assert!(
            target.starts_with(&format!("http://127.0.0.1:{port}/callback?")),
            "{target}"
        );
        visit(&target).await
    });
    assert_eq!(status, StatusCode::OK, "{body}");
    let tokens = pending
        .finish(&http(), None, result.expect("code via the relay"))
        .await
        .expect("tokens");
    assert_fresh_tokens(&tokens);
}

// ---------------------------------------------------------------------------------------------
// Without the server

#[tokio::test]
async fn the_listener_gives_up_after_the_timeout() {
    let p = profile(
        "https://auth.invalid",
        Pkce::S256,
        ClientAuth::Basic,
        RedirectRule::LoopbackAnyPort,
    );
    let mut pending = ConnectFlow::begin(&p, "id", None).expect("begin");
    let started = std::time::Instant::now();
    let e = pending
        .wait(Duration::from_millis(300))
        .await
        .expect_err("timeout");
    assert!(matches!(e, ConnectError::TimedOut(_)), "{e:?}");
    assert!(e.to_string().contains("paste"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Closed afterwards; a pasted address still completes the attempt.
    assert!(std::net::TcpStream::connect(("127.0.0.1", pending.port())).is_err());
    let state = pending.state().to_string();
    let cb = pending
        .complete_with_pasted(&format!("code=late&state={state}"))
        .expect("paste after timeout");
    assert_eq!(cb.code.expose(), "late");
}

/// The relay page's forwarding logic, run by node (skipped without node).
fn relay_target(search: &str, hash: &str) -> Option<Result<String, String>> {
    let html = std::fs::read_to_string(workspace().join("docs/oauth-relay.html")).expect("page");
    let script = between(&html, "<script>", "</script>");
    let program = format!(
        "{script}\nconsole.log(JSON.stringify(outpostRelayTarget(process.argv[1], process.argv[2])));"
    );
    let out = match Command::new("node")
        .args(["-e", &program, search, hash])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            let _ = skip(&format!("node could not be started ({e})"));
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    Some(match v.get("target").and_then(|t| t.as_str()) {
        Some(t) => Ok(t.to_string()),
        None => Err(v
            .get("problem")
            .and_then(|p| p.as_str())
            .unwrap_or_default()
            .to_string()),
    })
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).expect("start tag") + start.len();
    let to = from + text[from..].find(end).expect("end tag");
    &text[from..to]
}

#[test]
fn the_relay_page_only_forwards_to_loopback_with_the_port_from_state() {
    let cases: [(&str, &str, Result<&str, &str>); 7] = [
        (
            "?code=a%2Bb&state=5123.xyz&iss=x",
            "#_",
            Ok("http://127.0.0.1:5123/callback?code=a%2Bb&state=5123.xyz&iss=x"),
        ),
        (
            "?error=access_denied&state=80.s",
            "",
            Ok("http://127.0.0.1:80/callback?error=access_denied&state=80.s"),
        ),
        (
            "",
            "#code=c&state=65535.s",
            Ok("http://127.0.0.1:65535/callback?code=c&state=65535.s"),
        ),
        (
            "?code=c&state=1234.@evil.example/x",
            "",
            Ok("http://127.0.0.1:1234/callback?code=c&state=1234.@evil.example/x"),
        ),
        ("?code=c&state=nodigits", "", Err("no port")),
        ("?code=c&state=70000.s", "", Err("no port")),
        ("?state=5123.s", "#_", Err("no code")),
    ];
    for (search, hash, want) in cases {
        let Some(got) = relay_target(search, hash) else {
            return;
        };
        match (got, want) {
            (Ok(t), Ok(w)) => assert_eq!(t, w, "{search}"),
            (Err(p), Err(w)) => assert!(p.contains(w), "{search}: {p}"),
            (got, want) => panic!("{search}{hash}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn the_relay_page_is_strict_and_its_csp_matches_its_script_and_style() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let html = std::fs::read_to_string(workspace().join("docs/oauth-relay.html")).expect("page");
    let csp = between(
        &html,
        "http-equiv=\"Content-Security-Policy\" content=\"",
        "\"",
    );
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    for tag in ["script", "style"] {
        let body = between(&html, &format!("<{tag}>"), &format!("</{tag}>"));
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
        assert!(
            csp.contains(&format!("{tag}-src 'sha256-{hash}'")),
            "update the page's CSP: {tag}-src 'sha256-{hash}'"
        );
    }
    assert!(html.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
    // No external resources.
    for needle in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(needle), "{needle}");
    }
    assert!(html.len() < 8 * 1024, "{}", html.len());
}
