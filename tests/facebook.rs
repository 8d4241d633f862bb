//! The `outpost` binary publishing to Facebook Pages (the test kit's Graph fake on loopback).
//!
//! The original system's Facebook scenarios (shared/seed QA review), as Outpost handles them:
//!
//! | Scenario | Test |
//! |---|---|
//! | Successful text post | [`a_text_post_goes_out_on_the_page_with_its_first_comment`] |
//! | Successful photo post | [`photos_are_uploaded_then_attached_to_one_post`] |
//! | Successful video / reel | [`a_video_goes_up_in_steps_and_is_published`], [`a_reel_is_published_once_facebook_has_processed_it`] |
//! | Expired token → account inactive | [`an_expired_token_needs_a_reconnect_and_the_post_fails_with_the_reason`] |
//! | Missing page access | [`losing_page_access_fails_the_post_and_asks_for_a_reconnect`], [`a_sign_in_without_any_page_is_refused_when_connecting`] |
//! | Invalid media → "Failed to upload media" | [`a_photo_facebook_refuses_fails_with_its_reason_and_is_not_retried`] |
//! | Rate limit (5xx) → post failed | [`server_errors_back_off_and_the_post_goes_out_once`] (Outpost retries instead) |
//!
//! Plus: connecting through the relay page and a pasted address, a revoked token (190), Pages
//! throttling (80001) waiting for `estimated_time_to_regain_access`, a lost answer
//! reconciled, and — waiting for the engine (ignored) — the long-lived sign-in kept at connect
//! time and hand-off (held by Facebook) cancelled and rescheduled.

use chrono::Utc;
use outpost_e2e::{png, Machine};
use outpost_testkit::facebook::{
    CodeGrant, Endpoint, FacebookConfig, FacebookFake, Fault, FbPage, FbUser, GraphFault,
    Processing, Throttle, ADMIN_TASKS, DEFAULT_APP_ID, DEFAULT_APP_SECRET, PAGE_SCOPES,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

struct FbMachine {
    m: Machine,
    fb: FacebookFake,
}

/// A connected Page: the fake's user and Page, Outpost's account id and address.
struct Connected {
    user: FbUser,
    page: FbPage,
    account_id: String,
    to: String,
}

async fn machine() -> FbMachine {
    let mut m = Machine::new().await;
    let fb = FacebookFake::start(FacebookConfig::default()).await;
    m.set_var("OUTPOST_FACEBOOK_BASE_URL", &fb.base_url());
    m.set_var("OUTPOST_FACEBOOK_UPLOAD_STEP_BYTES", "65536");
    let r = m
        .run_async(
            &[
                "apps",
                "set",
                "facebook",
                "--client-id",
                DEFAULT_APP_ID,
                "--client-secret-stdin",
            ],
            Some(&format!("{DEFAULT_APP_SECRET}\n")),
        )
        .await;
    assert_eq!(r.code, 0, "apps set facebook: {}", r.stderr);
    FbMachine { m, fb }
}

impl FbMachine {
    /// A user administering a Page on the fake, connected with a short-lived (1 h) user token
    /// through `--token-stdin`: Outpost exchanges it for a long-lived one and takes the Page.
    async fn connect(&self, page_name: &str, username: &str) -> Connected {
        let user = self.fb.create_user("Ada");
        let page = self.fb.create_page(page_name, Some(username));
        self.fb.grant_page(&user.id, &page.id, &ADMIN_TASKS);
        let t = self.fb.issue_user_token(&user.id, &PAGE_SCOPES, false);
        let json = json!({"access_token": t.access_token, "expires_in": t.expires_in}).to_string();
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "facebook", "--token-stdin"],
                Some(&json),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add facebook: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], username, "{v:#}");
        assert_eq!(v["account"]["remote_id"], page.id.as_str(), "{v:#}");
        assert_eq!(v["account"]["display_name"], page_name, "{v:#}");
        Connected {
            account_id: v["account"]["id"].as_str().expect("id").to_string(),
            to: format!("facebook:{username}"),
            user,
            page,
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

    fn count(&self, e: Endpoint) -> usize {
        self.fb.count(e)
    }
}

fn target(v: &Value) -> &Value {
    &v["post"]["targets"][0]
}

fn attempts(v: &Value) -> Vec<Value> {
    let tid = target(v)["id"].as_str().unwrap_or_default();
    v["attempts"][tid].as_array().cloned().unwrap_or_default()
}

/// An MP4 the prober accepts: `seconds` long, `w`×`h`, padded to about `bytes`.
fn mp4(seconds: u32, w: u16, h: u16, bytes: usize) -> Vec<u8> {
    use outpost_testkit::media::{Mp4, Mp4Track};
    let mut clip = Mp4::new(
        seconds,
        vec![
            Mp4Track::video(b"avc1", w, h, seconds, 30),
            Mp4Track::audio(seconds),
        ],
    );
    clip.mdat_len = bytes;
    clip.build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_text_post_goes_out_on_the_page_with_its_first_comment() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    let id =
        f.m.post(&[
            "Fresh sourdough at 8",
            "--to",
            &c.to,
            "--now",
            "--first-comment",
            "Order at the counter",
        ])
        .await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let posts = f.fb.live_posts(&c.page.id);
    assert_eq!(posts.len(), 1, "exactly one post");
    assert_eq!(posts[0].message.as_deref(), Some("Fresh sourdough at 8"));
    let t = target(&v);
    assert_eq!(t["remote_id"], posts[0].id.as_str());
    let (page, post) = posts[0].id.split_once('_').expect("id");
    assert_eq!(
        t["remote_url"],
        format!("https://www.facebook.com/{page}/posts/{post}")
    );
    let comments = f.fb.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].message, "Order at the counter");
    assert_eq!(
        t["progress"][0]["extra"]["first_comment_id"],
        comments[0].id.as_str()
    );
    // Published with the Page token; the tokens are in the secret store, not the database.
    let feed: Vec<_> =
        f.fb.requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(Endpoint::Feed))
            .collect();
    assert_eq!(
        feed[0].token_kind,
        Some(outpost_testkit::facebook::TokenKind::Page)
    );
    let auth = feed[0].header("authorization").unwrap_or_default();
    let token = auth.split_once(' ').map(|(_, t)| t).unwrap_or_default();
    assert!(token.len() > 20);
    for (path, bytes) in f.m.all_files() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(token),
            "the Page token is in {}",
            path.display()
        );
    }
    let acc = f.m.json(&["accounts", "list"]).await;
    assert_eq!(
        acc["accounts"][0]["settings"]["page_id"],
        c.page.id.as_str(),
        "{acc:#}"
    );
    let _ = c.user;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn photos_are_uploaded_then_attached_to_one_post() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    let id =
        f.m.post(&[
            "Three loaves",
            "--to",
            &c.to,
            "--now",
            "--media",
            &f.file("a.png", &png(640, 480, 5000)),
            "--alt",
            "a rye loaf",
            "--media",
            &f.file("b.png", &png(640, 480, 6000)),
            "--media",
            &f.file("c.png", &png(640, 480, 7000)),
        ])
        .await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let photos = f.fb.photos();
    assert_eq!(photos.len(), 3);
    assert!(photos.iter().all(|p| !p.published));
    assert_eq!(photos[0].alt_text_custom.as_deref(), Some("a rye loaf"));
    let posts = f.fb.live_posts(&c.page.id);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].attached_media.len(), 3);
    assert_eq!(posts[0].message.as_deref(), Some("Three loaves"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_video_goes_up_in_steps_and_is_published() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    let clip = mp4(12, 1280, 720, 200_000);
    let id =
        f.m.post(&[
            "Kneading, sped up",
            "--to",
            &c.to,
            "--now",
            "--media",
            &f.file("knead.mp4", &clip),
            "--option",
            "facebook.title=Kneading",
        ])
        .await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let videos = f.fb.videos();
    assert_eq!(videos.len(), 1);
    assert!(!videos[0].reel);
    assert_eq!(videos[0].title.as_deref(), Some("Kneading"));
    assert_eq!(videos[0].description.as_deref(), Some("Kneading, sped up"));
    let stored = f.fb.video_bytes(&videos[0].id).expect("bytes");
    let sent = std::fs::read(f.m.data_dir().join("knead.mp4")).expect("file");
    assert_eq!(stored, sent, "every byte arrived once, in order");
    let sessions = f.fb.upload_sessions();
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0].transfers.len() >= 3,
        "{:?}",
        sessions[0].transfers
    );
    assert!(sessions[0].transfers.iter().all(|n| *n <= 65_536));
    assert_eq!(
        target(&v)["remote_url"],
        format!(
            "https://www.facebook.com/{}/videos/{}",
            c.page.id, videos[0].id
        )
    );
    assert_eq!(f.fb.live_posts(&c.page.id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reel_is_published_once_facebook_has_processed_it() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    f.fb.set_reel_processing(Processing::AfterPolls { polls: 2 });
    let clip = mp4(15, 1080, 1920, 90_000);
    let id =
        f.m.post(&[
            "Behind the counter",
            "--to",
            &c.to,
            "--now",
            "--media",
            &f.file("reel.mp4", &clip),
            "--option",
            "facebook.reel=true",
        ])
        .await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let reels: Vec<_> = f.fb.videos().into_iter().filter(|v| v.reel).collect();
    assert_eq!(reels.len(), 1);
    assert!(reels[0].published);
    assert_eq!(reels[0].finishes, 1);
    assert_eq!(reels[0].description.as_deref(), Some("Behind the counter"));
    assert_eq!(
        target(&v)["remote_url"],
        format!("https://www.facebook.com/reel/{}", reels[0].id)
    );
    assert!(f.count(Endpoint::Rupload) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_needs_a_reconnect_and_the_post_fails_with_the_reason() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    // The first run adopts the tokens; then Facebook expires every token of the user.
    let first = f.m.post(&["before", "--to", &c.to, "--now"]).await;
    f.agent_once().await;
    assert_eq!(f.m.status_of(&first).await, "published");
    for r in f.fb.requests() {
        if let Some(t) = r
            .header("authorization")
            .and_then(|a| a.split_once(' '))
            .map(|(_, t)| t.to_string())
        {
            f.fb.expire_token(&t);
        }
    }
    let id = f.m.post(&["never sent", "--to", &c.to, "--now"]).await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "reauth", "{t:#}");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with("Facebook:") && err.contains("expired") && err.contains("reconnect"),
        "{err}"
    );
    assert_eq!(f.account_status(&c.account_id).await, "needs_reconnect");
    assert_eq!(f.fb.live_posts(&c.page.id).len(), 1, "only the first post");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_token_190_needs_a_reconnect() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    f.fb.revoke_user(&c.user.id, Some(460));
    let id = f.m.post(&["never sent", "--to", &c.to, "--now"]).await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "reauth");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("190/460") && err.contains("reconnect"),
        "{err}"
    );
    assert_eq!(f.account_status(&c.account_id).await, "needs_reconnect");
    assert!(f.fb.posts().is_empty());
    assert_eq!(f.count(Endpoint::Feed), 0, "nothing was sent to the feed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_page_access_fails_the_post_and_asks_for_a_reconnect() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    // Another admin takes "Create content" away.
    f.fb.grant_page(&c.user.id, &c.page.id, &["ANALYZE", "MODERATE"]);
    let id = f.m.post(&["no access", "--to", &c.to, "--now"]).await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "reauth", "{t:#}");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with("Facebook:") && err.contains("code 200") && err.contains("reconnect"),
        "{err}"
    );
    assert_eq!(f.account_status(&c.account_id).await, "needs_reconnect");
    assert!(f.fb.live_posts(&c.page.id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_without_any_page_is_refused_when_connecting() {
    let f = machine().await;
    let user = f.fb.create_user("Bo");
    let t = f.fb.issue_user_token(&user.id, &PAGE_SCOPES, false);
    let json = json!({"access_token": t.access_token, "expires_in": 3600}).to_string();
    let r =
        f.m.run_async(
            &["accounts", "add", "facebook", "--token-stdin"],
            Some(&json),
        )
        .await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("no Facebook Page"), "{}", r.stderr);
    let acc = f.m.json(&["accounts", "list"]).await;
    assert_eq!(acc["accounts"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_photo_facebook_refuses_fails_with_its_reason_and_is_not_retried() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    f.fb.push_fault(Fault::new(
        Endpoint::Photos,
        1,
        outpost_testkit::facebook::FaultKind::Graph(GraphFault {
            code: 100,
            subcode: Some(2069019),
            ..GraphFault::default()
        }),
    ));
    let id =
        f.m.post(&[
            "a broken photo",
            "--to",
            &c.to,
            "--now",
            "--media",
            &f.file("broken.png", &png(320, 240, 2000)),
        ])
        .await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "permanent");
    let err = t["last_error"].as_str().unwrap_or_default();
    // (The library keeps media under their content hash, so the file is named by that.)
    assert!(
        err.starts_with("Facebook: refused uploading") && err.contains("Invalid file"),
        "{err}"
    );
    assert_eq!(attempts(&v).len(), 1, "never retried: {v:#}");
    assert_eq!(f.count(Endpoint::Feed), 0);
    assert!(f.fb.posts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_back_off_and_the_post_goes_out_once() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    f.fb.push_fault(Fault::unknown_error(Endpoint::Feed, 2));
    let id =
        f.m.post(&["through two 500s", "--to", &c.to, "--now"])
            .await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let tries = attempts(&v);
    assert_eq!(tries.len(), 3, "two refused, the third published: {v:#}");
    for a in &tries[..2] {
        assert_eq!(a["error_class"], "transient", "{a:#}");
    }
    assert_eq!(f.count(Endpoint::Feed), 3);
    assert_eq!(
        f.fb.live_posts(&c.page.id).len(),
        1,
        "published exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_throttling_waits_for_the_estimated_time_to_regain_access() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    // Verified first (probe), then the Page is throttled for 3 minutes.
    let first = f.m.post(&["warm up", "--to", &c.to, "--now"]).await;
    f.agent_once().await;
    assert_eq!(f.m.status_of(&first).await, "published");
    f.fb.throttle(Throttle {
        page_id: Some(c.page.id.clone()),
        code: 80001,
        minutes: 3,
        extend_on_call: false,
    });
    let calls_before = f.count(Endpoint::Any);
    let id = f.m.post(&["throttled", "--to", &c.to, "--now"]).await;
    let started = Utc::now();
    f.agent_once().await;
    let v = f.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "scheduled", "waiting, not failed: {v:#}");
    assert_eq!(t["error_class"], "rate_limited", "{t:#}");
    let next: chrono::DateTime<Utc> = t["next_attempt_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("next attempt time");
    let wait = (next - started).num_seconds();
    assert!(
        (170..=200).contains(&wait),
        "waits about 3 minutes, not {wait} s"
    );
    assert!(
        t["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("80001"),
        "{t:#}"
    );
    // One call (the agent's check of the Page) was refused; nothing more was sent.
    assert_eq!(
        f.count(Endpoint::Any),
        calls_before + 1,
        "one call, then silence"
    );
    assert_eq!(f.fb.live_posts(&c.page.id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_answer_is_reconciled_to_one_post() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    f.fb.push_fault(Fault::drop_after_commit(Endpoint::Feed, 1));
    let id =
        f.m.post(&["the answer got lost", "--to", &c.to, "--now"])
            .await;
    f.agent_once().await;
    let v = f.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let posts = f.fb.live_posts(&c.page.id);
    assert_eq!(posts.len(), 1, "exactly one post");
    assert_eq!(f.count(Endpoint::Feed), 1, "never sent again");
    assert_eq!(t["remote_id"], posts[0].id.as_str());
    assert_eq!(t["progress"][0]["extra"]["reconciled"], true, "{t:#}");
    assert!(f.count(Endpoint::PublishedPosts) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_through_the_relay_page_and_a_pasted_address() {
    let f = machine().await;
    let user = f.fb.create_user("Ada");
    let page = f.fb.create_page("Ada's Bakery", Some("adasbakery"));
    f.fb.grant_page(&user.id, &page.id, &ADMIN_TASKS);
    let relay = "https://relay.example.org/outpost/callback";
    let mut c = f.m.command(&[
        "--json",
        "accounts",
        "connect",
        "facebook",
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
    let prefix = "https://www.facebook.com/v27.0/dialog/oauth?";
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the address is printed");
        if let Some(q) = line.trim().strip_prefix(prefix) {
            break format!("{prefix}{q}");
        }
    };
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["client_id"], DEFAULT_APP_ID);
    assert_eq!(q["redirect_uri"], relay);
    assert_eq!(q["response_type"], "code");
    assert!(q["scope"].contains("pages_manage_posts,"), "{}", q["scope"]);
    assert!(!q.contains_key("code_challenge"));
    let code =
        f.fb.issue_code(CodeGrant {
            user_id: user.id.clone(),
            client_id: DEFAULT_APP_ID.into(),
            redirect_uri: relay.into(),
            scopes: q["scope"].split(',').map(str::to_string).collect(),
        })
        .expect("code");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{relay}?code={code}&state={}", q["state"]).expect("paste");
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
    assert_eq!(v["account"]["handle"], "adasbakery", "{v:#}");
    assert_eq!(v["account"]["status"], "active");
    // The code exchange (secret, same redirect) and the long-lived exchange both happened.
    let grants: Vec<_> =
        f.fb.requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(Endpoint::Token))
            .collect();
    assert_eq!(grants.len(), 2, "code, then fb_exchange_token");
    assert_eq!(grants[0].param("redirect_uri").as_deref(), Some(relay));
    assert_eq!(
        grants[1].param("grant_type").as_deref(),
        Some("fb_exchange_token")
    );
    let id =
        f.m.post(&[
            "connected through the relay",
            "--to",
            "facebook:adasbakery",
            "--now",
        ])
        .await;
    f.agent_once().await;
    assert_eq!(f.m.status_of(&id).await, "published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_long_lived_sign_in_is_what_the_account_keeps() {
    let f = machine().await;
    let user = f.fb.create_user("Ada");
    let page = f.fb.create_page("Ada's Bakery", Some("adasbakery"));
    f.fb.grant_page(&user.id, &page.id, &ADMIN_TASKS);
    // A dialog token that expires in 2 seconds, as if the first post came hours later.
    let t = f.fb.issue_user_token(&user.id, &PAGE_SCOPES, false);
    let json = json!({"access_token": t.access_token, "expires_in": 2}).to_string();
    let r =
        f.m.run_async(
            &["--json", "accounts", "add", "facebook", "--token-stdin"],
            Some(&json),
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expires: chrono::DateTime<Utc> = r.json()["account"]["token_expires_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("expiry");
    assert!(
        expires - Utc::now() > chrono::Duration::days(59),
        "the account records the 60-day sign-in, not {expires}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let id =
        f.m.post(&[
            "hours after connecting",
            "--to",
            "facebook:adasbakery",
            "--now",
        ])
        .await;
    f.agent_once().await;
    assert_eq!(f.m.status_of(&id).await, "published");
}

/// A post scheduled two hours ahead with `facebook.hand_off=true`: the agent should hand it
/// to Facebook at once (created with `published=false` + `scheduled_publish_time`).
async fn handed_off(f: &FbMachine, c: &Connected, text: &str) -> (String, chrono::DateTime<Utc>) {
    let at = (Utc::now() + chrono::Duration::hours(2))
        .with_timezone(&Utc)
        .format("%Y-%m-%dT%H:%M:00Z")
        .to_string();
    let at_time: chrono::DateTime<Utc> = at.parse().expect("time");
    let id =
        f.m.post(&[
            text,
            "--to",
            &c.to,
            "--at",
            &at,
            "--option",
            "facebook.hand_off=true",
        ])
        .await;
    let started = Instant::now();
    f.agent_once().await;
    assert!(started.elapsed() < Duration::from_secs(60));
    let v = f.m.show(&id).await;
    let held = f.fb.held_posts(&c.page.id);
    assert_eq!(held.len(), 1, "Facebook holds the post: {v:#}");
    assert_eq!(
        held[0].scheduled_publish_time.map(|t| t.timestamp()),
        Some(at_time.timestamp())
    );
    let t = target(&v);
    assert_eq!(t["remote_id"], held[0].id.as_str(), "{v:#}");
    assert!(t["progress"][0]["extra"]["notice"]
        .as_str()
        .is_some_and(|n| n.starts_with("scheduled on Facebook for")));
    (id, at_time)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_handed_off_to_facebook_is_deleted_there_when_cancelled() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    let (id, _) = handed_off(&f, &c, "held, then cancelled").await;
    let r =
        f.m.run_async(&["--json", "posts", "cancel", &id], None)
            .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["deleted_on_network"], 1, "{}", r.stdout);
    assert!(f.fb.held_posts(&c.page.id).is_empty());
    assert!(f.fb.posts()[0].deleted);
    assert_eq!(f.count(Endpoint::Delete), 1);
    let v = f.m.show(&id).await;
    assert_eq!(target(&v)["state"], "cancelled", "{v:#}");
    // Nothing goes out later.
    f.fb.advance_time(chrono::Duration::hours(3));
    assert!(f.fb.live_posts(&c.page.id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_handed_off_to_facebook_is_moved_there_when_rescheduled() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    let (id, at) = handed_off(&f, &c, "held, then moved").await;
    let later = at + chrono::Duration::hours(1);
    let r =
        f.m.run_async(
            &[
                "posts",
                "reschedule",
                &id,
                "--at",
                &later.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let held = f.fb.held_posts(&c.page.id);
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].scheduled_publish_time.map(|t| t.timestamp()),
        Some(later.timestamp())
    );
    assert_eq!(f.count(Endpoint::Update), 1);
    let v = f.m.show(&id).await;
    assert_eq!(
        target(&v)["progress"][0]["extra"]["scheduled_on_network"]
            .as_str()
            .and_then(|s| s.parse::<chrono::DateTime<Utc>>().ok())
            .map(|t| t.timestamp()),
        Some(later.timestamp()),
        "{v:#}"
    );
    f.fb.advance_time(chrono::Duration::hours(4));
    assert_eq!(
        f.fb.live_posts(&c.page.id).len(),
        1,
        "it goes out at the new time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_pages_of_the_same_person_become_accounts_of_their_own() {
    let f = machine().await;
    let c = f.connect("Ada's Bakery", "adasbakery").await;
    let cafe = f.fb.create_page("Ada's Cafe", Some("adascafe"));
    f.fb.grant_page(&c.user.id, &cafe.id, &ADMIN_TASKS);
    let listed =
        f.m.json(&["accounts", "choices", &c.account_id, "pages"])
            .await;
    let ids: Vec<&str> = listed["choices"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&cafe.id.as_str()), "{listed:#}");
    let r =
        f.m.run_async(
            &["--json", "accounts", "add-pages", &c.account_id, &cafe.id],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json()["accounts"][0]["handle"],
        "adascafe",
        "{}",
        r.stdout
    );
    let accounts = f.m.json(&["accounts", "list"]).await;
    assert_eq!(accounts["accounts"].as_array().map(Vec::len), Some(2));
    let id =
        f.m.post(&[
            "Fresh bread at the cafe",
            "--to",
            "facebook:adascafe",
            "--now",
        ])
        .await;
    f.agent_once().await;
    assert_eq!(f.m.status_of(&id).await, "published");
    assert_eq!(
        f.fb.live_posts(&cafe.id).len(),
        1,
        "posted on the cafe's Page"
    );
    assert!(
        f.fb.live_posts(&c.page.id).is_empty(),
        "not on the bakery's"
    );
}
