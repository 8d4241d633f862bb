//! The `outpost` binary publishing to Threads (the test kit's Threads fake on loopback).
//!
//! The original system's Threads scenarios (QA review, "Platform-Specific Test Scenarios"):
//!
//! | Scenario | Test |
//! |---|---|
//! | Successful text post → container created, published | `a_text_post_is_published_in_one_step` |
//! | Single video post → two-phase processing | `a_video_is_processed_in_two_phases_then_published` (S3) |
//! | Thread mode (multiple posts) → sequential posts | `a_thread_is_published_as_a_chain_of_replies` |
//! | Token < 24 h old → "Token must be at least 24 hours old to refresh" | `a_token_younger_than_a_day_is_not_refreshed` |
//! | Invalid token → account marked inactive, reconnect required | `an_invalid_token_needs_a_reconnect_and_a_new_token_works` |
//! | Video processing timeout → failed | `a_container_that_never_finishes_times_out` (S3) |
//!
//! and beyond it: a thread whose second part's answer was lost (reconciled, nothing posted
//! twice), the same for an image's `threads_publish` (S3), a thread that fails midway and
//! resumes with `posts retry`, a dispatcher restarted
//! while a container is processing, a used-up publishing quota, connecting through the relay
//! page with the long-lived exchange, and media staged in a real S3-compatible bucket.
//!
//! Media tests need the S3 server of `scripts/s3-test-server.sh` (Threads only fetches media
//! by URL); without it they print SKIPPED, unless `OUTPOST_TEST_S3_REQUIRED=1`.

use outpost_e2e::{png, signal, wait_exit, Machine};
use outpost_testkit::media::{Mp4, Mp4Track};
use outpost_testkit::threads::{
    CodeGrant, Endpoint, Fault, IssuedToken, Processing, ThreadsConfig, ThreadsFake, ThreadsUser,
    DEFAULT_APP_ID, DEFAULT_APP_SECRET,
};
use serde_json::Value;
use std::time::{Duration, Instant};

struct TMachine {
    m: Machine,
    t: ThreadsFake,
}

async fn machine() -> TMachine {
    let mut m = Machine::new().await;
    let t = ThreadsFake::start(ThreadsConfig::default()).await;
    m.set_var("OUTPOST_THREADS_BASE_URL", &t.base_url());
    // Containers are checked after half a second (then a second), not Meta's 30 s.
    m.set_var("OUTPOST_THREADS_POLL_SECS", "0.5");
    let r = m
        .run_async(
            &[
                "apps",
                "set",
                "threads",
                "--client-id",
                DEFAULT_APP_ID,
                "--client-secret-stdin",
            ],
            Some(&format!("{DEFAULT_APP_SECRET}\n")),
        )
        .await;
    assert_eq!(r.code, 0, "apps set threads: {}", r.stderr);
    TMachine { m, t }
}

fn target(v: &Value) -> &Value {
    &v["post"]["targets"][0]
}

fn attempts(v: &Value) -> Vec<Value> {
    let tid = target(v)["id"].as_str().unwrap_or_default();
    v["attempts"][tid].as_array().cloned().unwrap_or_default()
}

impl TMachine {
    /// Connects `token` with `--token-stdin`; returns the account id.
    async fn add(&self, token: &IssuedToken, username: &str) -> String {
        let json = serde_json::to_string(token).expect("json");
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "threads", "--token-stdin"],
                Some(&json),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add threads: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], username, "{v:#}");
        v["account"]["id"].as_str().expect("id").to_string()
    }

    /// A user on the fake with a long-lived token, connected in Outpost.
    async fn connect(&self, username: &str) -> (ThreadsUser, IssuedToken, String) {
        let (user, token) = self.t.create_user_with_token(username);
        let id = self.add(&token, username).await;
        (user, token, id)
    }

    async fn agent_once(&self) -> outpost_e2e::Run {
        let r = self.m.run_async(&["agent", "--once"], None).await;
        assert_eq!(r.code, 0, "agent --once: {}", r.stderr);
        r
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.m.data_dir().join(name);
        std::fs::write(&p, bytes).expect("write media");
        p.display().to_string()
    }

    fn texts(&self) -> Vec<String> {
        self.t
            .posts()
            .into_iter()
            .map(|p| p.text.unwrap_or_default())
            .collect()
    }

    async fn account_status(&self, id: &str) -> String {
        let acc = self.m.json(&["accounts", "list"]).await;
        acc["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["id"] == id)
            .and_then(|a| a["status"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// Polls `posts show` until `check` holds (bounded).
    async fn wait_for(&self, id: &str, within: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.m.show(id).await;
            if check(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "condition not reached: {v:#}");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_text_post_is_published_in_one_step() {
    let t = machine().await;
    t.connect("alice").await;
    let id =
        t.m.post(&[
            "hello from outpost https://example.com",
            "--to",
            "threads:alice",
            "--now",
            "--option",
            "threads.reply_control=accounts_you_follow",
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let posts = t.t.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(target(&v)["remote_id"], posts[0].id.as_str());
    assert_eq!(target(&v)["remote_url"], posts[0].permalink.as_str());
    assert!(posts[0].auto_published, "one call: auto_publish_text");
    assert_eq!(
        posts[0].reply_control.as_deref(),
        Some("accounts_you_follow")
    );
    assert_eq!(t.t.count(Endpoint::Publish), 0);
    assert_eq!(attempts(&v).len(), 1);
    // The token is in the secret store, never in the database.
    let db = std::fs::read(t.m.data_dir().join("outpost.db")).expect("db");
    let sent = t.t.requests_to(Endpoint::CreateContainer)[0]
        .param("access_token")
        .expect("token sent");
    assert!(!String::from_utf8_lossy(&db).contains(&sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn too_long_text_and_too_many_links_are_refused_at_scheduling() {
    let t = machine().await;
    t.connect("alice").await;
    // 497 letters and an emoji of 4 bytes: 501 as Threads counts.
    let long = format!("{}😀", "a".repeat(497));
    let r =
        t.m.run_async(&["post", &long, "--to", "threads:alice", "--now"], None)
            .await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("Threads"), "{}", r.stderr);
    // Six links pass the scheduling checks but are refused before anything is sent.
    let six = (1..=6)
        .map(|i| format!("https://l{i}.example"))
        .collect::<Vec<_>>()
        .join(" ");
    let id = t.m.post(&[&six, "--to", "threads:alice", "--now"]).await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(target(&v)["state"], "failed", "{v:#}");
    assert_eq!(target(&v)["error_class"], "permanent");
    assert!(target(&v)["last_error"]
        .as_str()
        .unwrap_or_default()
        .contains("THREADS_API__LINK_LIMIT_EXCEEDED"));
    assert_eq!(t.t.count(Endpoint::CreateContainer), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thread_is_published_as_a_chain_of_replies() {
    let t = machine().await;
    t.connect("alice").await;
    let id =
        t.m.post(&[
            "1/ a thread",
            "--part",
            "2/ the middle",
            "--part",
            "3/ the end",
            "--to",
            "threads:alice",
            "--now",
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let posts = t.t.posts();
    assert_eq!(t.texts(), ["1/ a thread", "2/ the middle", "3/ the end"]);
    assert_eq!(posts[0].reply_to, None);
    assert_eq!(posts[1].reply_to.as_deref(), Some(posts[0].id.as_str()));
    assert_eq!(posts[2].reply_to.as_deref(), Some(posts[1].id.as_str()));
    let progress = target(&v)["progress"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(progress.len(), 3);
    assert_eq!(progress[2]["remote_id"], posts[2].id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_answer_midway_is_reconciled_and_the_thread_goes_on() {
    let t = machine().await;
    t.connect("alice").await;
    // Part 2 is published, then the connection drops before the answer.
    t.t.push_fault(Fault::drop_after_commit(Endpoint::CreateContainer, 1).after(1));
    let id =
        t.m.post(&[
            "1/ first",
            "--part",
            "2/ lost answer",
            "--part",
            "3/ last",
            "--to",
            "threads:alice",
            "--now",
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let posts = t.t.posts();
    assert_eq!(
        t.texts(),
        ["1/ first", "2/ lost answer", "3/ last"],
        "nothing was posted twice"
    );
    assert_eq!(posts[2].reply_to.as_deref(), Some(posts[1].id.as_str()));
    let creates = t.t.requests_to(Endpoint::CreateContainer);
    assert_eq!(creates.len(), 3);
    assert_eq!(creates[1].status, 0, "the answer was dropped");
    assert!(t.t.count(Endpoint::ListReplies) >= 1, "looked up");
    let tries = attempts(&v);
    assert!(
        tries
            .iter()
            .any(|a| a["status"] == "reconciled" && a["part_index"] == 1),
        "{tries:#?}"
    );
    assert_eq!(target(&v)["progress"][1]["remote_id"], posts[1].id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thread_that_fails_midway_resumes_without_reposting_published_parts() {
    let t = machine().await;
    t.connect("alice").await;
    t.t.push_fault(
        Fault::graph(
            Endpoint::CreateContainer,
            1,
            400,
            100,
            None,
            "Invalid parameter",
        )
        .after(1),
    );
    let id =
        t.m.post(&[
            "1/ a thread",
            "--part",
            "2/ refused once",
            "--part",
            "3/ the end",
            "--to",
            "threads:alice",
            "--now",
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(v["post"]["status"], "failed", "{v:#}");
    assert_eq!(target(&v)["error_class"], "permanent");
    assert_eq!(target(&v)["progress"].as_array().map(Vec::len), Some(1));
    assert_eq!(t.texts(), ["1/ a thread"]);
    let r = t.m.run_async(&["posts", "retry", &id], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let posts = t.t.posts();
    assert_eq!(t.texts(), ["1/ a thread", "2/ refused once", "3/ the end"]);
    assert_eq!(posts[1].reply_to.as_deref(), Some(posts[0].id.as_str()));
    assert_eq!(posts[2].reply_to.as_deref(), Some(posts[1].id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_younger_than_a_day_is_not_refreshed() {
    let t = machine().await;
    let (user, _) = t.t.create_user_with_token("dana");
    // A long-lived token that expires in 3 days (inside the 7-day refresh margin) but was
    // issued just now: Threads would refuse to renew it ("Token must be at least 24 hours
    // old to refresh"), so Outpost does not ask.
    let token =
        t.t.issue_long_lived(
            &user.id,
            &["threads_basic", "threads_content_publish"],
            chrono::Duration::days(57),
        )
        .expect("token");
    assert!(token.expires_in < 4 * 86_400, "{token:?}");
    // As `--token-stdin` takes it: no refresh token (Threads has none).
    let account = t.add(&token, "dana").await;
    let first = t.m.post(&["first", "--to", "threads:dana", "--now"]).await;
    t.agent_once().await;
    assert_eq!(t.m.status_of(&first).await, "published");
    // The second run finds a renewable token inside the margin, and leaves it alone.
    let second = t.m.post(&["second", "--to", "threads:dana", "--now"]).await;
    let r = t.agent_once().await;
    assert_eq!(t.m.status_of(&second).await, "published");
    assert!(
        r.stderr
            .contains("threads token younger than 24 hours: not refreshed"),
        "{}",
        r.stderr
    );
    assert_eq!(t.t.count(Endpoint::RefreshToken), 0, "never sent");
    assert_eq!(t.account_status(&account).await, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_token_needs_a_reconnect_and_a_new_token_works() {
    let t = machine().await;
    let (user, _, account) = t.connect("erin").await;
    t.t.revoke_user(&user.id);
    let id =
        t.m.post(&["never sent", "--to", "threads:erin", "--now"])
            .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(target(&v)["state"], "failed", "{v:#}");
    assert_eq!(target(&v)["error_class"], "reauth");
    let err = target(&v)["last_error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with("Threads:") && err.contains("reconnect"),
        "{err}"
    );
    assert_eq!(t.account_status(&account).await, "needs_reconnect");
    assert!(t.t.posts().is_empty());
    assert_eq!(
        t.t.count(Endpoint::RefreshToken),
        0,
        "a young token is never sent to refresh"
    );
    // Reconnecting with a new token makes the account active again; the retry goes out.
    let fresh =
        t.t.issue_long_lived(
            &user.id,
            &["threads_basic", "threads_content_publish"],
            chrono::Duration::zero(),
        )
        .expect("token");
    assert_eq!(t.add(&fresh, "erin").await, account);
    assert_eq!(t.account_status(&account).await, "active");
    let r = t.m.run_async(&["posts", "retry", &id], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    t.agent_once().await;
    assert_eq!(t.m.status_of(&id).await, "published");
    assert_eq!(t.texts(), ["never sent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_used_up_quota_waits_with_the_reason_then_publishes() {
    let t = machine().await;
    t.connect("quinn").await;
    // One post per rolling 6 seconds.
    t.t.set_quota(1, 1000, chrono::Duration::seconds(6));
    let first =
        t.m.post(&["first of the window", "--to", "threads:quinn", "--now"])
            .await;
    t.agent_once().await;
    assert_eq!(t.m.status_of(&first).await, "published");
    let second =
        t.m.post(&["waits for the quota", "--to", "threads:quinn", "--now"])
            .await;
    let mut agent = t.m.spawn_agent(&[]);
    let waiting = t
        .wait_for(&second, Duration::from_secs(15), |v| {
            target(v)["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("threads_publishing_limit"))
        })
        .await;
    let tg = target(&waiting);
    assert_ne!(tg["state"], "failed", "{tg:#}");
    assert_eq!(tg["error_class"], "rate_limited");
    assert!(
        tg["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("1 of its 1 posts"),
        "{tg:#}"
    );
    assert!(
        tg["wait_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("waiting until"),
        "{tg:#}"
    );
    let v =
        t.m.wait_status(&second, "published", Duration::from_secs(20))
            .await;
    signal(&agent, "TERM");
    wait_exit(&mut agent, Duration::from_secs(10)).await;
    let posts = t.t.posts();
    assert_eq!(posts.len(), 2);
    let gap = (posts[1].timestamp - posts[0].timestamp).num_milliseconds();
    assert!(gap >= 5_000, "waited for the window ({gap} ms)");
    let tries = attempts(&v);
    assert_eq!(tries[0]["error_class"], "rate_limited", "{tries:#?}");
    assert_eq!(
        t.t.count(Endpoint::CreateContainer),
        2,
        "the quota was read first: nothing was refused by Threads"
    );
}

/// Starts `outpost accounts connect threads --no-browser --relay …`, keeps reading its
/// stderr, and returns the child, the lines, and the authorization address.
fn start_connect(
    m: &Machine,
    relay: &str,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    String,
) {
    let mut c = m.command(&[
        "--json",
        "accounts",
        "connect",
        "threads",
        "--no-browser",
        "--relay",
        relay,
        "--wait",
        "30",
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
        if let Some(i) = line.find("https://threads.net/oauth/authorize?") {
            break line[i..].trim().to_string();
        }
    };
    (child, rx, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connecting_through_the_relay_exchanges_for_a_long_lived_token() {
    let t = machine().await;
    let user = t.t.create_user("carol", "Carol");
    let relay = "https://relay.example.org/oauth-relay.html";
    let (mut child, said, url) = start_connect(&t.m, relay);
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["client_id"], DEFAULT_APP_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["redirect_uri"], relay);
    assert_eq!(q["scope"], "threads_basic,threads_content_publish");
    assert!(!q.contains_key("code_challenge"), "no PKCE for Threads");
    let code =
        t.t.issue_code(CodeGrant {
            user_id: user.id.clone(),
            app_id: DEFAULT_APP_ID.into(),
            redirect_uri: relay.into(),
            scopes: q["scope"].split(',').map(str::to_string).collect(),
        })
        .expect("code");
    // The relay page shows the address (with Threads' `#_`); the user pastes it.
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{relay}?code={code}&state={}#_", q["state"]).expect("paste");
    }
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
    assert_eq!(v["account"]["remote_id"], user.id.as_str());
    // The account expires with the 60-day token (so it is renewed in time), not in an hour.
    let expires = v["account"]["token_expires_at"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("token_expires_at: {v:#}"));
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::days(50),
        "{expires}"
    );
    let grants = t.t.requests_to(Endpoint::CodeExchange);
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].param("client_secret").as_deref(),
        Some(DEFAULT_APP_SECRET)
    );
    assert_eq!(
        t.t.count(Endpoint::ExchangeToken),
        1,
        "exchanged for 60 days"
    );
    // The first post uses the long-lived token.
    let id =
        t.m.post(&[
            "connected through the relay",
            "--to",
            "threads:carol",
            "--now",
        ])
        .await;
    t.agent_once().await;
    assert_eq!(t.m.status_of(&id).await, "published");
    let used = t.t.requests_to(Endpoint::CreateContainer)[0]
        .param("access_token")
        .expect("token");
    assert_eq!(t.t.token_is_long_lived(&used), Some(true));
    let db = std::fs::read(t.m.data_dir().join("outpost.db")).expect("db");
    assert!(!String::from_utf8_lossy(&db).contains(&code));
    assert!(!String::from_utf8_lossy(&db).contains(&used));
}

// ---- media (staged in a real S3-compatible bucket) -----------------------------------------

/// The S3-compatible server started by `scripts/s3-test-server.sh start`.
struct S3 {
    endpoint: String,
    public_url: String,
    bucket: String,
    key_id: String,
    secret: String,
}

fn s3_env() -> Option<S3> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(endpoint) = var("OUTPOST_TEST_S3_ENDPOINT") else {
        if var("OUTPOST_TEST_S3_REQUIRED").as_deref() == Some("1") {
            panic!("OUTPOST_TEST_S3_REQUIRED=1 but OUTPOST_TEST_S3_ENDPOINT is not set: run eval \"$(scripts/s3-test-server.sh start)\" first");
        }
        eprintln!(
            "SKIPPED (not run): no S3 server — start it with eval \"$(scripts/s3-test-server.sh start)\""
        );
        return None;
    };
    let required = |k: &str| {
        var(k)
            .unwrap_or_else(|| panic!("{k} is not set (scripts/s3-test-server.sh start prints it)"))
    };
    Some(S3 {
        endpoint,
        public_url: required("OUTPOST_TEST_S3_PUBLIC_URL"),
        bucket: var("OUTPOST_TEST_S3_BUCKET").unwrap_or_else(|| "outpost-test".into()),
        key_id: required("OUTPOST_TEST_S3_ACCESS_KEY_ID"),
        secret: required("OUTPOST_TEST_S3_SECRET_ACCESS_KEY"),
    })
}

impl TMachine {
    /// `outpost staging set` with this machine's own prefix; returns the prefix.
    async fn stage_in(&self, s3: &S3) -> String {
        let prefix = format!(
            "outpost-staging/threads-{}",
            self.m
                .data_dir()
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let r = self
            .m
            .run_async(
                &[
                    "staging",
                    "set",
                    "--endpoint",
                    &s3.endpoint,
                    "--bucket",
                    &s3.bucket,
                    "--region",
                    "us-east-1",
                    "--prefix",
                    &prefix,
                    "--path-style",
                ],
                Some(&format!("{}\n{}\n", s3.key_id, s3.secret)),
            )
            .await;
        assert_eq!(r.code, 0, "staging set: {}", r.stderr);
        prefix
    }

    /// Nothing is left under the prefix.
    async fn assert_bucket_empty(&self, s3: &S3, prefix: &str) {
        let listing = reqwest::get(format!(
            "{}?list-type=2&prefix={prefix}/",
            s3.public_url.trim_end_matches('/')
        ))
        .await
        .expect("list")
        .text()
        .await
        .unwrap_or_default();
        assert!(
            listing.contains("<ListBucketResult") && listing.contains("<KeyCount>0</KeyCount>"),
            "nothing left under the prefix: {listing}"
        );
    }
}

fn video_clip() -> Vec<u8> {
    let mut clip = Mp4::new(
        10,
        vec![
            Mp4Track::video(b"avc1", 1080, 1920, 10, 30),
            Mp4Track::audio(10),
        ],
    );
    clip.mdat_len = 200_000;
    clip.build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_staged_image_and_carousel_are_fetched_by_url_and_deleted_once_out() {
    let Some(s3) = s3_env() else { return };
    let t = machine().await;
    t.connect("alice").await;
    let prefix = t.stage_in(&s3).await;
    let single =
        t.m.post(&[
            "from the bucket",
            "--to",
            "threads:alice",
            "--now",
            "--media",
            &t.file("staged.png", &png(700, 1000, 5000)),
            "--alt",
            "a staged image",
        ])
        .await;
    let carousel =
        t.m.post(&[
            "two pictures and a clip",
            "--to",
            "threads:alice",
            "--now",
            "--media",
            &t.file("c1.png", &png(800, 800, 3000)),
            "--media",
            &t.file("c2.png", &png(900, 900, 3000)),
            "--media",
            &t.file("c3.mp4", &video_clip()),
        ])
        .await;
    t.agent_once().await;
    for id in [&single, &carousel] {
        let v = t.m.show(id).await;
        assert_eq!(target(&v)["state"], "published", "{v:#}");
    }
    let posts = t.t.posts();
    assert_eq!(posts.len(), 2);
    let image = posts
        .iter()
        .find(|p| p.media_type == "IMAGE")
        .expect("image post");
    assert_eq!(image.alt_texts, [Some("a staged image".to_string())]);
    let url = image.media_urls[0].clone();
    assert!(url.starts_with(&s3.endpoint), "{url}");
    let album = posts
        .iter()
        .find(|p| p.media_type == "CAROUSEL_ALBUM")
        .expect("carousel");
    assert_eq!(album.media_urls.len(), 3);
    // The fake fetched every address when the containers were made (it refuses unreachable
    // images); the run ended by deleting what only finished targets used.
    let parsed = reqwest::Url::parse(&url).expect("staged url");
    let key = parsed
        .path()
        .trim_start_matches('/')
        .strip_prefix(&format!("{}/", s3.bucket))
        .expect("path-style URL")
        .to_string();
    assert!(key.starts_with(&format!("{prefix}/")), "{key}");
    let public = format!("{}/{key}", s3.public_url.trim_end_matches('/'));
    let gone = reqwest::get(&public).await.expect("GET public");
    assert_eq!(gone.status().as_u16(), 404, "the staged object was deleted");
    t.assert_bucket_empty(&s3, &prefix).await;
    assert_eq!(t.t.count(Endpoint::Publish), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_video_is_processed_in_two_phases_then_published() {
    let Some(s3) = s3_env() else { return };
    let t = machine().await;
    t.connect("vic").await;
    t.stage_in(&s3).await;
    t.t.set_processing(Processing::AfterPolls { polls: 3 });
    let id =
        t.m.post(&[
            "a video",
            "--to",
            "threads:vic",
            "--now",
            "--media",
            &t.file("clip.mp4", &video_clip()),
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let posts = t.t.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].media_type, "VIDEO");
    assert_eq!(target(&v)["remote_id"], posts[0].id.as_str());
    let tries = attempts(&v);
    assert!(
        tries.iter().filter(|a| a["status"] == "processing").count() >= 3,
        "start, then polls while IN_PROGRESS: {tries:#?}"
    );
    assert_eq!(t.t.containers().len(), 1);
    assert!(t.t.count(Endpoint::Object) >= 4, "status checks");
    assert_eq!(t.t.count(Endpoint::Publish), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_container_that_never_finishes_times_out() {
    let Some(s3) = s3_env() else { return };
    let mut t = machine().await;
    t.m.set_var("OUTPOST_PROCESSING_TIMEOUT_SECS", "4");
    t.connect("hal").await;
    let prefix = t.stage_in(&s3).await;
    t.t.set_processing(Processing::Never);
    let id =
        t.m.post(&[
            "stuck video",
            "--to",
            "threads:hal",
            "--now",
            "--media",
            &t.file("stuck.mp4", &video_clip()),
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(target(&v)["state"], "failed", "{v:#}");
    let err = target(&v)["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("processing timed out"), "{err}");
    assert!(t.t.posts().is_empty());
    assert_eq!(t.t.count(Endpoint::Publish), 0);
    // A failed target's staged file is deleted too.
    t.assert_bucket_empty(&s3, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_restarted_while_a_container_processes_resumes_polling() {
    let Some(s3) = s3_env() else { return };
    let t = machine().await;
    t.connect("rex").await;
    t.stage_in(&s3).await;
    t.t.set_processing(Processing::Never);
    let id =
        t.m.post(&[
            "survives a restart",
            "--to",
            "threads:rex",
            "--now",
            "--media",
            &t.file("r.mp4", &video_clip()),
        ])
        .await;
    let mut agent = t.m.spawn_agent(&[]);
    // Wait until the container exists and has been checked at least once.
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.t.count(Endpoint::Object) < 1 {
        assert!(Instant::now() < deadline, "the container was never checked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&agent, "KILL");
    wait_exit(&mut agent, Duration::from_secs(5)).await;
    let v = t.m.show(&id).await;
    assert_ne!(target(&v)["state"], "published");
    let containers = t.t.containers();
    assert_eq!(containers.len(), 1);
    // Threads finishes processing while no dispatcher runs.
    assert!(t
        .t
        .set_container_processing(&containers[0].id, Processing::AfterPolls { polls: 0 }));
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    assert_eq!(
        t.t.containers().len(),
        1,
        "no new container: polling resumed"
    );
    assert_eq!(t.t.count(Endpoint::Publish), 1, "published once");
    assert_eq!(t.t.posts().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_threads_publish_of_an_image_is_reconciled_and_the_thread_continues() {
    let Some(s3) = s3_env() else { return };
    let t = machine().await;
    t.connect("ivy").await;
    t.stage_in(&s3).await;
    // The image's container is published, then the connection drops before the answer.
    t.t.push_fault(Fault::drop_after_commit(Endpoint::Publish, 1));
    let id =
        t.m.post(&[
            "1/ a picture",
            "--part",
            "2/ a reply",
            "--part",
            "3/ the end",
            "--to",
            "threads:ivy",
            "--now",
            "--media",
            &t.file("pic.png", &png(700, 1000, 4000)),
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let posts = t.t.posts();
    assert_eq!(t.texts(), ["1/ a picture", "2/ a reply", "3/ the end"]);
    assert_eq!(posts[0].media_type, "IMAGE");
    assert_eq!(posts[1].reply_to.as_deref(), Some(posts[0].id.as_str()));
    assert_eq!(posts[2].reply_to.as_deref(), Some(posts[1].id.as_str()));
    let publishes = t.t.requests_to(Endpoint::Publish);
    assert_eq!(publishes.len(), 1, "never published again");
    assert_eq!(publishes[0].status, 0);
    assert_eq!(
        t.t.containers()
            .iter()
            .filter(|c| c.media_type == "IMAGE")
            .count(),
        1
    );
    assert!(attempts(&v)
        .iter()
        .any(|a| a["status"] == "reconciled" && a["part_index"] == 0));
    assert_eq!(target(&v)["remote_id"], posts[0].id.as_str());
}
