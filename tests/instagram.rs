//! The `outpost` binary publishing to Instagram (the test kit's Instagram fake on loopback),
//! covering the original system's Instagram scenarios (single image, image carousel published
//! directly, carousel with videos through processing, processing that never ends, containers
//! that expire, no media, an expired token) plus a dispatcher restarted mid-processing, a used-up
//! publishing quota, a lost `media_publish` answer, and images that Instagram fetches from a real
//! S3-compatible staging bucket.
//!
//! Images always go by URL, so the tests with images need the S3-compatible server started by
//! `scripts/s3-test-server.sh start` (skipped without it, failing with
//! `OUTPOST_TEST_S3_REQUIRED=1`). Video-only posts of Facebook Login accounts go up as bytes
//! (resumable upload) and need no bucket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use outpost_e2e::{signal, wait_exit, Machine};
use outpost_testkit::instagram::{
    jpeg, Fault, InstagramConfig, InstagramFake, Login, MediaKind, Processing, TokenKind,
    TokenShape,
};
use outpost_testkit::media::{Mp4, Mp4Track};
use serde_json::Value;
use std::time::{Duration, Instant};

struct IgMachine {
    m: Machine,
    ig: InstagramFake,
}

async fn machine() -> IgMachine {
    let mut m = Machine::new().await;
    let ig = InstagramFake::start(InstagramConfig::default()).await;
    m.set_var("OUTPOST_INSTAGRAM_BASE_URL", &ig.base_url());
    let r = m
        .run_async(
            &[
                "apps",
                "set",
                "instagram",
                "--client-id",
                &ig.client_id(),
                "--client-secret-stdin",
            ],
            Some(&format!("{}\n", ig.client_secret())),
        )
        .await;
    assert_eq!(r.code, 0, "apps set instagram: {}", r.stderr);
    IgMachine { m, ig }
}

/// A connected account.
struct Connected {
    id: String,
    token: String,
    user_id: String,
}

fn target(v: &Value) -> &Value {
    &v["post"]["targets"][0]
}

fn attempts(v: &Value) -> Vec<Value> {
    let tid = target(v)["id"].as_str().unwrap_or_default();
    v["attempts"][tid].as_array().cloned().unwrap_or_default()
}

fn reel_clip(seed: usize) -> Vec<u8> {
    let mut clip = Mp4::new(
        6,
        vec![
            Mp4Track::video(b"avc1", 1080, 1920, 6, 30),
            Mp4Track::audio(6),
        ],
    );
    clip.mdat_len = 40_000 + seed;
    clip.build()
}

impl IgMachine {
    /// An account of `login`'s set-up on the fake, connected with `--token-stdin` (a long-lived
    /// token, as the connect flow leaves it).
    async fn connect(&self, username: &str, login: Login) -> Connected {
        let kind = match login {
            Login::Instagram => TokenKind::InstagramLong,
            Login::Facebook => TokenKind::FacebookLong,
        };
        let issued = self.ig.issue_token(username, kind);
        let json = serde_json::json!({
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
        })
        .to_string();
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "instagram", "--token-stdin"],
                Some(&json),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add instagram: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], username, "{v:#}");
        assert_eq!(v["account"]["remote_id"], issued.user_id.as_str());
        assert_eq!(
            v["account"]["settings"]["login"],
            match login {
                Login::Instagram => "instagram",
                Login::Facebook => "facebook",
            },
            "{v:#}"
        );
        Connected {
            id: v["account"]["id"].as_str().expect("id").to_string(),
            token: issued.access_token,
            user_id: issued.user_id,
        }
    }

    async fn agent_once(&self) {
        let r = self.m.run_async(&["agent", "--once"], None).await;
        assert_eq!(r.code, 0, "agent --once: {}", r.stderr);
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.m.data_dir().join(name);
        std::fs::write(&p, bytes).expect("write media");
        p.display().to_string()
    }

    fn image(&self, name: &str) -> String {
        self.file(name, &jpeg(1080, 1080, 4000 + name.len() * 13))
    }

    fn reel(&self, name: &str) -> String {
        self.file(name, &reel_clip(name.len()))
    }

    fn publishes(&self) -> usize {
        self.ig.requests_to("POST", "*/media_publish").len()
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

    /// Status checks of `container` the fake answered.
    fn status_checks(&self, container: &str) -> usize {
        self.ig.requests_to("GET", &format!("/{container}")).len()
    }

    async fn wait_for(&self, what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !ok() {
            assert!(
                Instant::now() < deadline,
                "{what} did not happen in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// ---- staging (S3-compatible server) --------------------------------------------------------

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

impl IgMachine {
    /// `outpost staging set` with a prefix of this machine's own; returns the prefix.
    async fn staging(&self, s3: &S3) -> String {
        let prefix = format!(
            "outpost-staging/ig-{}",
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
}

async fn listing(s3: &S3, prefix: &str) -> String {
    reqwest::get(format!(
        "{}?list-type=2&prefix={prefix}/",
        s3.public_url.trim_end_matches('/')
    ))
    .await
    .expect("list")
    .text()
    .await
    .unwrap_or_default()
}

// ---- the original system's Instagram scenarios ---------------------------------------------

/// "Successful single image: container created, published" — by URL through the bucket, which
/// is emptied once the post is out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_image_goes_out_by_url_through_the_staging_bucket() {
    let Some(s3) = s3_env() else { return };
    let ig = machine().await;
    ig.connect("alice", Login::Instagram).await;
    let prefix = ig.staging(&s3).await;
    let id =
        ig.m.post(&[
            "Golden hour on the pier #sunset",
            "--to",
            "instagram:alice",
            "--now",
            "--media",
            &ig.image("pier.jpg"),
            "--alt",
            "A wooden pier at sunset",
            "--first-comment",
            "Shot on film",
        ])
        .await;
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let media = ig.ig.published_by_api();
    assert_eq!(media.len(), 1);
    let m = &media[0];
    assert_eq!(t["remote_id"], m.id.as_str());
    assert_eq!(t["remote_url"], m.permalink.as_str());
    assert_eq!(
        m.caption.as_deref(),
        Some("Golden hour on the pier #sunset")
    );
    assert_eq!(m.alt_text.as_deref(), Some("A wooden pier at sunset"));
    assert_eq!(m.comments.len(), 1);
    assert_eq!(m.comments[0].message, "Shot on film");
    let extra = &t["progress"][0]["extra"];
    assert_eq!(extra["first_comment_id"], m.comments[0].id.as_str());
    // Instagram fetched the image from the bucket (a presigned address on the endpoint).
    assert_eq!(m.image_urls.len(), 1);
    let url = m.image_urls[0].clone();
    assert!(url.starts_with(&s3.endpoint), "{url}");
    let container = ig.ig.containers().pop().unwrap();
    assert!(container.fetched_bytes.is_some(), "the fake fetched it");
    // The quota was read before anything was created or published.
    let order: Vec<String> = ig
        .ig
        .requests()
        .iter()
        .filter(|r| r.method == "POST" || r.endpoint.ends_with("content_publishing_limit"))
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.endpoint.rsplit('/').next().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            "GET content_publishing_limit",
            "POST media",
            "GET content_publishing_limit",
            "POST media_publish",
            "POST comments"
        ]
    );
    // Deleted once the post was out.
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
    let list = listing(&s3, &prefix).await;
    assert!(
        list.contains("<ListBucketResult") && list.contains("<KeyCount>0</KeyCount>"),
        "nothing left under the prefix: {list}"
    );
    assert_eq!(ig.publishes(), 1);
}

/// "Successful carousel (images only): direct publish" — no processing wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_carousel_is_published_directly() {
    let Some(s3) = s3_env() else { return };
    let ig = machine().await;
    ig.connect("bea", Login::Instagram).await;
    ig.staging(&s3).await;
    let mut args: Vec<String> = vec![
        "Three frames".into(),
        "--to".into(),
        "instagram:bea".into(),
        "--now".into(),
    ];
    for i in 0..3 {
        args.push("--media".into());
        args.push(ig.image(&format!("frame{i}.jpg")));
        args.push("--alt".into());
        args.push(format!("frame {i}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = ig.m.post(&a).await;
    let started = Instant::now();
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let media = ig.ig.published_by_api();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_type, "CAROUSEL_ALBUM");
    assert_eq!(media[0].children.len(), 3);
    assert_eq!(media[0].image_urls.len(), 3);
    // Every status check found the containers ready: nothing waited for processing.
    for c in ig.ig.containers() {
        assert_eq!(c.polls, 0, "{c:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "published without polling waits ({:?})",
        started.elapsed()
    );
    let children = ig
        .ig
        .containers()
        .iter()
        .filter(|c| c.is_carousel_item)
        .count();
    assert_eq!(children, 3);
    assert_eq!(ig.publishes(), 1);
}

/// "Carousel with videos: two-phase: processing → polled → published" (Facebook Login: the
/// videos go up as bytes, no bucket needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_carousel_with_videos_is_processed_polled_then_published() {
    let ig = machine().await;
    ig.connect("cleo", Login::Facebook).await;
    ig.ig
        .set_processing(MediaKind::Video, Processing::FinishAfter { polls: 1 });
    let id =
        ig.m.post(&[
            "two clips",
            "--to",
            "instagram:cleo",
            "--now",
            "--media",
            &ig.reel("one.mp4"),
            "--media",
            &ig.reel("second.mp4"),
        ])
        .await;
    let started = Instant::now();
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let statuses: Vec<String> = attempts(&v)
        .iter()
        .map(|a| a["status"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        statuses.iter().any(|s| s == "processing"),
        "went through processing: {statuses:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "polled after a wait"
    );
    let media = ig.ig.published_by_api();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_type, "CAROUSEL_ALBUM");
    assert_eq!(media[0].children.len(), 2);
    let videos: Vec<_> = ig
        .ig
        .containers()
        .into_iter()
        .filter(|c| c.is_carousel_item)
        .collect();
    assert_eq!(videos.len(), 2);
    for c in &videos {
        assert!(
            c.resumable && c.uploaded_via.as_deref() == Some("bytes"),
            "{c:?}"
        );
        assert_eq!(c.media_type, "VIDEO");
        assert!(c.polls >= 1, "IN_PROGRESS at least once");
    }
    assert_eq!(t["progress"][0]["extra"]["media_type"], "CAROUSEL");
    assert_eq!(ig.publishes(), 1);
}

/// The same on Instagram Login: an image and a video, both fetched from the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_and_video_carousel_on_instagram_login_fetches_both_from_the_bucket() {
    let Some(s3) = s3_env() else { return };
    let ig = machine().await;
    ig.connect("dina", Login::Instagram).await;
    ig.staging(&s3).await;
    let id =
        ig.m.post(&[
            "photo and clip",
            "--to",
            "instagram:dina",
            "--now",
            "--media",
            &ig.image("photo.jpg"),
            "--media",
            &ig.reel("clip.mp4"),
        ])
        .await;
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let media = ig.ig.published_by_api();
    assert_eq!(media[0].image_urls.len(), 1);
    assert_eq!(media[0].video_urls.len(), 1);
    assert!(media[0].video_urls[0].starts_with(&s3.endpoint));
    assert!(ig.ig.containers().iter().all(|c| !c.resumable));
}

/// "Container timeout (>30 min): failed, processing timed out" (the window shortened).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_container_that_never_finishes_times_out() {
    let mut ig = machine().await;
    ig.m.set_var("OUTPOST_PROCESSING_TIMEOUT_SECS", "3");
    ig.connect("eve", Login::Facebook).await;
    ig.ig.set_processing(MediaKind::Video, Processing::Never);
    let id =
        ig.m.post(&[
            "stuck reel",
            "--to",
            "instagram:eve",
            "--now",
            "--media",
            &ig.reel("stuck.mp4"),
        ])
        .await;
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(v["post"]["status"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "permanent");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("processing timed out"), "{err}");
    let container = ig.ig.containers().pop().unwrap();
    assert!(ig.status_checks(&container.id) >= 1);
    assert_eq!(ig.publishes(), 0);
    assert!(ig.ig.published().is_empty());
}

/// "Container expired (>24 hours): failed, containers expired" (the fake's clock jumps a
/// day while the dispatcher polls).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_container_left_past_24_hours_fails_as_containers_expired() {
    let ig = machine().await;
    ig.connect("fay", Login::Facebook).await;
    ig.ig.set_processing(MediaKind::Video, Processing::Never);
    let id =
        ig.m.post(&[
            "too late",
            "--to",
            "instagram:fay",
            "--now",
            "--media",
            &ig.reel("late.mp4"),
        ])
        .await;
    let mut agent = ig.m.spawn_agent(&["--once"]);
    let fake = ig.ig.clone();
    ig.wait_for("a status check", Duration::from_secs(20), || {
        fake.containers()
            .first()
            .is_some_and(|c| fake.requests_to("GET", &format!("/{}", c.id)).len() == 1)
    })
    .await;
    ig.ig.advance_time(chrono::Duration::hours(25));
    assert_eq!(wait_exit(&mut agent, Duration::from_secs(60)).await, 0);
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "permanent");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with("Instagram:") && err.contains("containers expired"),
        "{err}"
    );
    assert_eq!(ig.ig.containers()[0].status_code, "EXPIRED");
    assert_eq!(ig.publishes(), 0);
}

/// "No media: Instagram posts require at least one media file" — refused when scheduling.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_without_media_is_refused_when_it_is_scheduled() {
    let ig = machine().await;
    ig.connect("gus", Login::Instagram).await;
    let r =
        ig.m.run_async(
            &["post", "just words", "--to", "instagram:gus", "--now"],
            None,
        )
        .await;
    assert_eq!(r.code, 2, "refused as bad input: {r:?}");
    assert!(
        r.stderr
            .contains("Instagram posts require at least one media file"),
        "{}",
        r.stderr
    );
    let posts = ig.m.json(&["posts", "list"]).await;
    assert_eq!(posts["posts"].as_array().map(Vec::len), Some(0));
    ig.agent_once().await;
    assert!(ig.ig.containers().is_empty());
}

/// "Expired token": the session expired on Meta's side; the account needs reconnecting and
/// the post fails with Meta's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_fails_the_post_and_asks_for_a_reconnect() {
    let ig = machine().await;
    let acc = ig.connect("hana", Login::Instagram).await;
    ig.ig.expire_token(&acc.token);
    let id =
        ig.m.post(&[
            "never sent",
            "--to",
            "instagram:hana",
            "--now",
            "--media",
            &ig.image("h.jpg"),
        ])
        .await;
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "reauth");
    let err = t["last_error"].as_str().unwrap_or_default();
    // Meta's own sentence is long: the card keeps its start; the account's status says
    // "reconnect".
    assert!(
        err.starts_with("Instagram: the account's sign-in no longer works")
            && err.contains("Session has expired"),
        "{err}"
    );
    assert_eq!(ig.account_status(&acc.id).await, "needs_reconnect");
    assert!(ig.ig.containers().is_empty());
    assert!(!err.contains(&acc.token));
}

/// "Expired token: Invalid OAuth access token" — the token Meta no longer accepts at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_meta_no_longer_accepts_says_invalid_oauth_access_token() {
    let ig = machine().await;
    let acc = ig.connect("ivo", Login::Instagram).await;
    ig.ig.revoke_tokens("ivo");
    let id =
        ig.m.post(&[
            "never sent either",
            "--to",
            "instagram:ivo",
            "--now",
            "--media",
            &ig.image("i.jpg"),
        ])
        .await;
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "reauth");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("Invalid OAuth access token"), "{err}");
    assert_eq!(ig.account_status(&acc.id).await, "needs_reconnect");
    // Secrets never reach the data folder in the clear.
    for (path, bytes) in ig.m.all_files() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&acc.token),
            "{} holds the token",
            path.display()
        );
    }
}

// ---- beyond the original table ---------------------------------------------------------------

/// Connecting with Instagram Login over the https relay, the address pasted back: the code
/// becomes a short-lived token, exchanged at once for a 60-day one that the account keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connecting_by_pasting_the_relay_address_keeps_a_long_lived_token() {
    let mut ig = machine().await;
    ig.m.set_var("OUTPOST_INSTAGRAM_AUTHORIZE_URL", &ig.ig.authorize_url());
    let relay = "https://relay.example/oauth-relay.html";
    ig.ig.register_redirect_uri(relay).unwrap();
    ig.ig.add_account("pia", Login::Instagram);
    // The auth crate reads the flat answer; the wrapped `{"data":[…]}` one is not read yet.
    ig.ig.set_token_shape(TokenShape::Flat);
    let mut c = ig.m.command(&[
        "--json",
        "accounts",
        "connect",
        "instagram",
        "--relay",
        relay,
        "--no-browser",
        "--wait",
        "60",
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
    let prefix = format!("{}?", ig.ig.authorize_url());
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the address is printed");
        if let Some(at) = line.find(&prefix) {
            break line[at..].trim().to_string();
        }
    };
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["redirect_uri"], relay);
    assert_eq!(q["client_id"], ig.ig.client_id());
    assert_eq!(
        q["scope"],
        "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_comments"
    );
    // The user approves on Instagram; the browser lands on the relay page (address + `#_`).
    let approved = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .expect("authorize");
    assert_eq!(approved.status().as_u16(), 302);
    let landed = approved.headers()["location"].to_str().unwrap().to_string();
    assert!(
        landed.starts_with(relay) && landed.ends_with("#_"),
        "{landed}"
    );
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{landed}").expect("paste");
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}",
        rx.try_iter().collect::<Vec<_>>()
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["account"]["handle"], "pia", "{v:#}");
    assert_eq!(v["account"]["settings"]["login"], "instagram");
    let expires = chrono::DateTime::parse_from_rfc3339(
        v["account"]["token_expires_at"].as_str().expect("expiry"),
    )
    .unwrap()
    .with_timezone(&chrono::Utc);
    assert!(
        (expires - chrono::Utc::now()).num_days() >= 59,
        "the 60-day token is kept: {expires}"
    );
    let exchange = ig.ig.requests_to("POST", "/oauth/access_token");
    assert_eq!(exchange.len(), 1);
    assert_eq!(
        exchange[0].param("client_secret").as_deref(),
        Some(ig.ig.client_secret().as_str())
    );
    let long = ig.ig.requests_to("GET", "/access_token");
    assert_eq!(long.len(), 1, "short → long-lived once");
    assert_eq!(
        long[0].param("grant_type").as_deref(),
        Some("ig_exchange_token")
    );
    // The account works with the long-lived token.
    let id = v["account"]["id"].as_str().unwrap().to_string();
    let q = ig.m.json(&["accounts", "choices", &id, "quota"]).await;
    assert_eq!(q["choices"][0]["name"], "0 of 50 posts in 24 h", "{q:#}");
    let used = ig
        .ig
        .requests_to("GET", "*/content_publishing_limit")
        .pop()
        .expect("quota read");
    let token = used
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    assert!(ig.ig.token_is_live(&token));
    let short = exchange[0].param("code").unwrap_or_default();
    assert!(!token.is_empty() && token != short);
    assert!(long[0].param("access_token").as_deref() != Some(token.as_str()));
}

/// The dispatcher is killed while Instagram processes the container; the next one resumes
/// polling from the stored phase and publishes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_dispatcher_resumes_polling_and_publishes_once() {
    let ig = machine().await;
    ig.connect("jo", Login::Facebook).await;
    ig.ig.set_processing(MediaKind::Video, Processing::Never);
    let id =
        ig.m.post(&[
            "survives a restart",
            "--to",
            "instagram:jo",
            "--now",
            "--media",
            &ig.reel("restart.mp4"),
        ])
        .await;
    let mut agent = ig.m.spawn_agent(&[]);
    let fake = ig.ig.clone();
    ig.wait_for("a status check", Duration::from_secs(20), || {
        fake.containers()
            .first()
            .is_some_and(|c| !fake.requests_to("GET", &format!("/{}", c.id)).is_empty())
    })
    .await;
    // Let the step end (the phase is stored, the next check is 5 s away), then kill it.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    signal(&agent, "KILL");
    wait_exit(&mut agent, Duration::from_secs(5)).await;
    let v = ig.m.show(&id).await;
    assert_eq!(target(&v)["state"], "processing", "{v:#}");
    assert!(target(&v)["phase"]["container"]["id"].is_string(), "{v:#}");
    let container = ig.ig.containers()[0].clone();
    assert_eq!(container.uploaded_via.as_deref(), Some("bytes"));
    let uploads_before = container.upload_requests;
    assert!(ig
        .ig
        .set_container_processing(&container.id, Processing::finished()));
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    assert_eq!(ig.publishes(), 1, "exactly one media_publish");
    assert_eq!(ig.ig.containers().len(), 1, "no container created again");
    assert_eq!(
        ig.ig.containers()[0].upload_requests,
        uploads_before,
        "nothing uploaded again"
    );
    assert_eq!(ig.ig.published_by_api().len(), 1);
    assert_eq!(
        target(&v)["remote_id"],
        ig.ig.published_by_api()[0].id.as_str()
    );
}

/// The publishing quota is used up: the post waits (with the reason) until the oldest counted
/// post leaves the rolling 24 h window; nothing is created meanwhile. The composer can read the
/// numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_used_up_quota_makes_the_post_wait_with_the_reason() {
    let ig = machine().await;
    let acc = ig.connect("kai", Login::Facebook).await;
    ig.ig.set_quota_total(2);
    let now = ig.ig.now();
    ig.ig.seed_published(
        "kai",
        &[
            now - chrono::Duration::hours(23),
            now - chrono::Duration::hours(1),
        ],
    );
    let v = ig.m.json(&["accounts", "choices", &acc.id, "quota"]).await;
    assert_eq!(v["choices"][0]["id"], "content_publishing_limit", "{v:#}");
    assert_eq!(v["choices"][0]["name"], "2 of 2 posts in 24 h");
    assert_eq!(v["choices"][0]["extra"]["quota_total"], 2);
    let id =
        ig.m.post(&[
            "over the limit",
            "--to",
            "instagram:kai",
            "--now",
            "--media",
            &ig.reel("over.mp4"),
        ])
        .await;
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "scheduled", "waiting, not failed: {v:#}");
    assert_eq!(t["error_class"], "rate_limited");
    let reason = t["wait_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("rate limited — waiting until"), "{reason}");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("publishing limit is used up (2 of 2 posts in 24 h)"),
        "{err}"
    );
    // It waits about an hour: until the post from 23 h ago leaves the window.
    let next = chrono::DateTime::parse_from_rfc3339(t["next_attempt_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let wait = (next - chrono::Utc::now()).num_minutes();
    assert!((55..=61).contains(&wait), "{wait} minutes");
    assert!(ig.ig.containers().is_empty(), "nothing created");
    assert_eq!(ig.publishes(), 0);
    assert_eq!(ig.m.status_of(&id).await, "scheduled");
}

/// `media_publish` went through but its answer was lost: reconciled to one post, never
/// published twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_publish_answer_is_reconciled_to_one_post() {
    let ig = machine().await;
    let acc = ig.connect("lea", Login::Facebook).await;
    ig.ig
        .push_fault(Fault::drop_after_commit("POST */media_publish", 1));
    let id =
        ig.m.post(&[
            "the answer got lost",
            "--to",
            "instagram:lea",
            "--now",
            "--media",
            &ig.reel("lost.mp4"),
        ])
        .await;
    ig.agent_once().await;
    let v = ig.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let media = ig.ig.published_by_api();
    assert_eq!(media.len(), 1, "exactly one post");
    assert_eq!(ig.publishes(), 1, "never sent again");
    assert_eq!(t["remote_id"], media[0].id.as_str());
    assert_eq!(media[0].owner, acc.user_id);
    assert!(
        attempts(&v).iter().any(|a| a["status"] == "reconciled"),
        "{v:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connecting_through_facebook_login_finds_the_page_linked_account() {
    let ig = machine().await;
    let relay = "https://relay.example/oauth-relay.html";
    ig.ig.register_redirect_uri(relay).unwrap();
    ig.ig.add_account("fbpia", Login::Facebook);
    assert!(ig.ig.set_consenting_account("fbpia"));
    let mut c = ig.m.command(&[
        "--json",
        "accounts",
        "connect",
        "instagram",
        "--pages",
        "--relay",
        relay,
        "--no-browser",
        "--wait",
        "60",
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
        if let Some(at) = line.find("/dialog/oauth?") {
            let start = line[..at].rfind("http").expect("an address");
            break line[start..].trim().to_string();
        }
    };
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["redirect_uri"], relay);
    assert!(
        q["scope"].contains("instagram_content_publish") && q["scope"].contains("pages_show_list"),
        "{}",
        q["scope"]
    );
    // The user approves on Facebook; the browser lands on the relay page; the address is pasted.
    let approved = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        approved.status().as_u16(),
        302,
        "{:?}",
        approved.text().await
    );
    let landed = approved.headers()["location"].to_str().unwrap().to_string();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{landed}").expect("paste");
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}",
        rx.try_iter().collect::<Vec<_>>()
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["account"]["handle"], "fbpia", "{v:#}");
    assert_eq!(v["account"]["settings"]["login"], "facebook", "{v:#}");
}
