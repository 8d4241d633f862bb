//! The `outpost` binary publishing to X (the test kit's X fake on loopback): connecting in the
//! browser flow and with tokens, every media kind, threads, token refresh and revocation, rate
//! limits, server errors, duplicates, processing that never ends, and a thread that resumes.

use outpost_e2e::{png, Machine};
use outpost_testkit::media::{Mp4, Mp4Track};
use outpost_testkit::x::{
    CodeGrant, Endpoint, Fault, LimitScope, Processing, ReplyRestriction, XConfig, XFake,
    DEFAULT_CLIENT_ID,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A 1×1 GIF.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21,
    0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b,
];

/// Starts `outpost accounts connect x --no-browser`, keeps reading its stderr (a closed pipe
/// would kill it), and returns the child, the stderr lines as they come, and the address.
fn start_connect(
    m: &Machine,
    wait: &str,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    String,
) {
    let mut c = m.command(&[
        "--json",
        "accounts",
        "connect",
        "x",
        "--no-browser",
        "--wait",
        wait,
    ]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("spawn connect");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the address is printed");
        if let Some(u) = line
            .trim()
            .strip_prefix("https://x.com/i/oauth2/authorize?")
        {
            break format!("https://x.com/i/oauth2/authorize?{u}");
        }
    };
    (child, rx, url)
}

struct XMachine {
    m: Machine,
    x: XFake,
}

async fn machine() -> XMachine {
    let mut m = Machine::new().await;
    let x = XFake::start(XConfig::default()).await;
    m.set_var("OUTPOST_X_BASE_URL", &x.base_url());
    let r = m
        .run_async(
            &["apps", "set", "x", "--client-id", DEFAULT_CLIENT_ID],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "apps set: {}", r.stderr);
    XMachine { m, x }
}

impl XMachine {
    /// A user on the fake with tokens, connected in Outpost with `--token-stdin`.
    async fn connect(&self, username: &str) -> outpost_testkit::x::XUser {
        let (user, tokens) = self.x.create_user_with_tokens(username);
        let json = serde_json::to_string(&tokens).expect("json");
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "x", "--token-stdin"],
                Some(&json),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add x: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], username);
        assert_eq!(v["account"]["remote_id"], user.id.as_str());
        user
    }

    async fn agent_once(&self) {
        let r = self.m.run_async(&["agent", "--once"], None).await;
        assert_eq!(r.code, 0, "agent --once: {}", r.stderr);
    }

    fn texts(&self) -> Vec<String> {
        self.x.tweets().into_iter().map(|t| t.text).collect()
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.m.data_dir().join(name);
        std::fs::write(&p, bytes).expect("write media");
        p.display().to_string()
    }

    fn target(v: &Value) -> &Value {
        &v["post"]["targets"][0]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_in_the_browser_flow_with_pkce_and_the_loopback_listener() {
    let x = machine().await;
    let user = x.x.create_user("carol", "Carol");
    let (child, said, url) = start_connect(&x.m, "30");
    let parsed = reqwest::Url::parse(&url).expect("url");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], DEFAULT_CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:8723/callback");
    assert!(
        q["scope"].split(' ').any(|s| s == "offline.access"),
        "{}",
        q["scope"]
    );
    // The user approves: X issues a code bound to the PKCE challenge and the redirect.
    let code =
        x.x.issue_code(CodeGrant {
            user_id: user.id.clone(),
            client_id: DEFAULT_CLIENT_ID.into(),
            redirect_uri: q["redirect_uri"].clone(),
            code_challenge: q["code_challenge"].clone(),
            code_challenge_method: "S256".into(),
            scopes: q["scope"].split(' ').map(str::to_string).collect(),
        })
        .expect("code");
    // The browser follows the redirect to the loopback listener — first with a wrong state,
    // which is refused and ignored.
    let http = reqwest::Client::new();
    let bad = http
        .get(format!("{}?code={code}&state=forged", q["redirect_uri"]))
        .send()
        .await
        .expect("listener");
    assert_eq!(bad.status().as_u16(), 400);
    let ok = http
        .get(format!(
            "{}?code={code}&state={}",
            q["redirect_uri"], q["state"]
        ))
        .send()
        .await
        .expect("listener");
    assert!(ok.status().is_success());
    assert!(ok
        .text()
        .await
        .unwrap_or_default()
        .contains("close this tab"));
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}",
        said.try_iter().collect::<Vec<_>>()
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["account"]["handle"], "carol");
    assert_eq!(v["account"]["status"], "active");
    assert!(v["account"]["token_expires_at"].is_string(), "{v}");
    // The tokens are in the secret store, not in the database.
    let accounts = x.m.json(&["accounts", "list"]).await;
    assert_eq!(accounts["accounts"][0]["handle"], "carol");
    let id =
        x.m.post(&["connected through the browser", "--to", "x:carol", "--now"])
            .await;
    x.agent_once().await;
    assert_eq!(x.m.status_of(&id).await, "published");
    // A second attempt, declined on X's page and pasted back: it ends at once with the
    // reason (and the fixed port was free again for it).
    let (mut again, rx, url2) = start_connect(&x.m, "60");
    let state2: String = reqwest::Url::parse(&url2)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let started = Instant::now();
    {
        use std::io::Write;
        let mut stdin = again.stdin.take().expect("stdin");
        writeln!(
            stdin,
            "http://127.0.0.1:8723/callback?error=access_denied&error_description=The+user+denied&state={state2}"
        )
        .expect("paste");
    }
    let status = tokio::task::spawn_blocking(move || again.wait().expect("wait"))
        .await
        .expect("join");
    assert_eq!(status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(10), "ended at once");
    let said: Vec<String> = rx.try_iter().collect();
    assert!(
        said.iter()
            .any(|l| l.contains("you declined the connection on X's page")),
        "{said:?}"
    );
    let db = std::fs::read(x.m.data_dir().join("outpost.db")).expect("db");
    for t in x.x.tweets() {
        assert_eq!(t.author_id, user.id);
    }
    assert!(!String::from_utf8_lossy(&db).contains(&code));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn text_images_with_alt_gif_and_video_are_published() {
    let x = machine().await;
    x.connect("alice").await;
    let mut args: Vec<String> = vec![
        "four photos".into(),
        "--to".into(),
        "x:alice".into(),
        "--now".into(),
    ];
    for i in 0..4 {
        args.push("--media".into());
        args.push(x.file(&format!("p{i}.png"), &png(64, 48, 2000)));
        args.push("--alt".into());
        args.push(format!("photo {i}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let photos = x.m.post(&a).await;
    let gif =
        x.m.post(&[
            "a gif",
            "--to",
            "x:alice",
            "--now",
            "--media",
            &x.file("a.gif", GIF),
        ])
        .await;
    let clip = Mp4::new(
        10,
        vec![
            Mp4Track::video(b"avc1", 1280, 720, 10, 30),
            Mp4Track::audio(10),
        ],
    );
    let video =
        x.m.post(&[
            "a video",
            "--to",
            "x:alice",
            "--now",
            "--media",
            &x.file("clip.mp4", &clip.build()),
        ])
        .await;
    x.x.video_processing(2);
    x.agent_once().await;
    for id in [&photos, &gif, &video] {
        let v = x.m.show(id).await;
        assert_eq!(v["post"]["status"], "published", "{v:#}");
        assert!(XMachine::target(&v)["remote_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://x.com/alice/status/")));
    }
    let tweets = x.x.tweets();
    assert_eq!(tweets.len(), 3);
    let with_photos = tweets
        .iter()
        .find(|t| t.text == "four photos")
        .expect("photos");
    assert_eq!(with_photos.media_ids.len(), 4);
    let media = x.x.media();
    let alts: Vec<String> = media.iter().filter_map(|m| m.alt_text.clone()).collect();
    for i in 0..4 {
        assert!(alts.contains(&format!("photo {i}")), "{alts:?}");
    }
    assert!(media.iter().any(|m| m.category == "tweet_gif"));
    assert!(media
        .iter()
        .any(|m| m.category == "tweet_video" || m.category == "amplify_video"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_is_refreshed_with_rotation_and_the_post_goes_out() {
    let x = machine().await;
    let (user, tokens) = x.x.create_user_with_tokens("dave");
    let json = serde_json::to_string(&tokens).expect("json");
    let r =
        x.m.run_async(&["accounts", "add", "x", "--token-stdin"], Some(&json))
            .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    x.x.expire_access_token(&tokens.access_token);
    let id =
        x.m.post(&["after a refresh", "--to", "x:dave", "--now"])
            .await;
    x.agent_once().await;
    let v = x.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let old = tokens.refresh_token.expect("refresh token");
    assert!(
        !x.x.refresh_token_is_live(&old),
        "the used refresh token is spent (rotation)"
    );
    assert_eq!(x.x.tweets()[0].author_id, user.id);
    let acc = x.m.json(&["accounts", "list"]).await;
    assert_eq!(acc["accounts"][0]["status"], "active");
    // Tokens live in the secret store only: not in the database, its WAL or the JSON logs.
    for (path, bytes) in x.m.all_files() {
        if path.file_name().is_some_and(|n| n == "secrets.enc") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for secret in [tokens.access_token.as_str(), old.as_str()] {
            assert!(!text.contains(secret), "a token is in {}", path.display());
        }
    }
    // A second post works with the rotated tokens (they were saved).
    let id2 = x.m.post(&["and again", "--to", "x:dave", "--now"]).await;
    x.agent_once().await;
    assert_eq!(x.m.status_of(&id2).await, "published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_refresh_token_needs_a_reconnect_and_fails_with_the_reason() {
    let x = machine().await;
    let user = x.connect("erin").await;
    x.x.revoke_user_tokens(&user.id);
    let id = x.m.post(&["never sent", "--to", "x:erin", "--now"]).await;
    x.agent_once().await;
    let v = x.m.show(&id).await;
    assert_eq!(v["post"]["status"], "failed", "{v:#}");
    let err = XMachine::target(&v)["last_error"].as_str().unwrap_or("");
    assert!(err.starts_with("X:") && err.contains("connect"), "{err}");
    let acc = x.m.json(&["accounts", "list"]).await;
    assert_eq!(acc["accounts"][0]["status"], "needs_reconnect", "{acc:#}");
    assert!(x.x.tweets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_waits_until_the_reset_and_server_errors_back_off() {
    let x = machine().await;
    x.connect("fay").await;
    x.x.push_fault(Fault::rate_limited(
        Endpoint::CreateTweet,
        1,
        3,
        LimitScope::Window,
    ));
    let limited =
        x.m.post(&["rate limited first", "--to", "x:fay", "--now"])
            .await;
    let started = Instant::now();
    x.agent_once().await;
    let v = x.m.show(&limited).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let creates: Vec<_> =
        x.x.requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(Endpoint::CreateTweet))
            .collect();
    assert_eq!(creates.len(), 2, "one refused, one after the reset");
    let gap = (creates[1].at - creates[0].at).num_milliseconds();
    assert!(gap >= 2000, "waited for the reset ({gap} ms)");
    assert!(started.elapsed() < Duration::from_secs(30));

    x.x.push_fault(Fault::status(Endpoint::CreateTweet, 2, 503));
    let flaky =
        x.m.post(&["through two 503s", "--to", "x:fay", "--now"])
            .await;
    x.agent_once().await;
    let v = x.m.show(&flaky).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let tid = XMachine::target(&v)["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        v["attempts"][&tid].as_array().map(Vec::len),
        Some(3),
        "two refused, the third published: {v:#}"
    );
    assert_eq!(
        x.texts()
            .iter()
            .filter(|t| *t == "through two 503s")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_is_a_permanent_error_naming_the_fix() {
    let x = machine().await;
    x.connect("gus").await;
    let first =
        x.m.post(&["same words twice", "--to", "x:gus", "--now"])
            .await;
    x.agent_once().await;
    assert_eq!(x.m.status_of(&first).await, "published");
    let second =
        x.m.post(&["same words twice", "--to", "x:gus", "--now"])
            .await;
    x.agent_once().await;
    let v = x.m.show(&second).await;
    assert_eq!(v["post"]["status"], "failed");
    let t = XMachine::target(&v);
    assert_eq!(t["error_class"], "permanent");
    assert!(
        t["last_error"].as_str().unwrap_or("").contains("duplicate"),
        "{t}"
    );
    let tid = t["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        v["attempts"][&tid].as_array().map(Vec::len),
        Some(1),
        "never retried: {v:#}"
    );
    assert_eq!(x.x.count(Endpoint::CreateTweet), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn video_processing_that_never_finishes_times_out_with_a_clear_error() {
    let mut x = machine().await;
    x.m.set_var("OUTPOST_PROCESSING_TIMEOUT_SECS", "4");
    x.connect("hal").await;
    x.x.set_processing(Processing::Never);
    let clip = Mp4::new(5, vec![Mp4Track::video(b"avc1", 640, 360, 5, 30)]);
    let id =
        x.m.post(&[
            "stuck video",
            "--to",
            "x:hal",
            "--now",
            "--media",
            &x.file("stuck.mp4", &clip.build()),
        ])
        .await;
    x.agent_once().await;
    let v = x.m.show(&id).await;
    assert_eq!(v["post"]["status"], "failed", "{v:#}");
    let err = XMachine::target(&v)["last_error"].as_str().unwrap_or("");
    assert!(err.contains("processing timed out"), "{err}");
    assert!(x.x.tweets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thread_that_fails_midway_resumes_without_reposting_published_parts() {
    let x = machine().await;
    x.connect("ivy").await;
    x.x.set_reply_restriction(ReplyRestriction::All);
    let id =
        x.m.post(&[
            "1/ a thread",
            "--part",
            "2/ the middle",
            "--part",
            "3/ the end",
            "--to",
            "x:ivy",
            "--now",
        ])
        .await;
    x.agent_once().await;
    let v = x.m.show(&id).await;
    assert_eq!(v["post"]["status"], "failed", "{v:#}");
    assert_eq!(
        XMachine::target(&v)["progress"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(x.texts(), ["1/ a thread"]);
    // The user lifts the restriction and retries: parts 2 and 3 go out as replies, part 1
    // is not posted again.
    x.x.set_reply_restriction(ReplyRestriction::Off);
    let r = x.m.run_async(&["posts", "retry", &id], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    x.agent_once().await;
    let v = x.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let tweets = x.x.tweets();
    assert_eq!(
        tweets.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        ["1/ a thread", "2/ the middle", "3/ the end"]
    );
    assert_eq!(
        tweets[1].in_reply_to.as_deref(),
        Some(tweets[0].id.as_str())
    );
    assert_eq!(
        tweets[2].in_reply_to.as_deref(),
        Some(tweets[1].id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daily_cap_is_enforced_when_scheduling() {
    let x = machine().await;
    x.connect("kim").await;
    let acc = x.m.json(&["accounts", "list"]).await;
    let id = acc["accounts"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r =
        x.m.run_async(&["accounts", "default", &id, "daily_cap", "2"], None)
            .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let day = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let at = |hh: &str| format!("{day} {hh}");
    x.m.post(&["one", "--to", "x:kim", "--at", &at("09:00")])
        .await;
    x.m.post(&["two", "--to", "x:kim", "--at", &at("10:00")])
        .await;
    let r =
        x.m.run_async(
            &["post", "three", "--to", "x:kim", "--at", &at("11:00")],
            None,
        )
        .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("You've already scheduled 2 X posts for {day}")),
        "{}",
        r.stderr
    );
    // Another day is fine; moving it onto the full day is refused the same way.
    let next = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let other =
        x.m.post(&["three", "--to", "x:kim", "--at", &format!("{next} 09:00")])
            .await;
    let r =
        x.m.run_async(&["posts", "reschedule", &other, "--at", &at("12:00")], None)
            .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("You've already scheduled 2 X posts"),
        "{}",
        r.stderr
    );
    let listed = x.m.json(&["posts", "list"]).await;
    assert_eq!(listed["posts"].as_array().map(Vec::len), Some(3));
}
