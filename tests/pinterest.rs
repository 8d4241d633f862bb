//! The `outpost` binary publishing to Pinterest (the test kit's Pinterest fake on loopback):
//! boards chosen per post or by default, image Pins with title/link/alt, carousels, video Pins,
//! checks at scheduling time, token refresh with rotation and revocation, rate limits and the
//! spam block, server errors, a create whose answer was lost, and staged images that Pinterest
//! fetches from a real S3-compatible bucket.

use outpost_e2e::{png, Machine};
use outpost_testkit::media::{Mp4, Mp4Track};
use outpost_testkit::pinterest::{
    Fault, MediaPlan, PinterestConfig, PinterestFake, PinterestRequest,
};
use serde_json::Value;
use std::time::{Duration, Instant};

struct PinMachine {
    m: Machine,
    p: PinterestFake,
}

async fn machine() -> PinMachine {
    let mut m = Machine::new().await;
    let p = PinterestFake::start(PinterestConfig::default()).await;
    m.set_var("OUTPOST_PINTEREST_BASE_URL", &p.base_url());
    let r = m
        .run_async(
            &[
                "apps",
                "set",
                "pinterest",
                "--client-id",
                &p.client_id(),
                "--client-secret-stdin",
            ],
            Some(&format!("{}\n", p.client_secret())),
        )
        .await;
    assert_eq!(r.code, 0, "apps set pinterest: {}", r.stderr);
    PinMachine { m, p }
}

/// A connected Pinterest account.
struct Account {
    id: String,
    refresh_token: String,
}

impl PinMachine {
    /// A business account on the fake with tokens, connected with `--token-stdin`.
    async fn connect(&self, username: &str) -> Account {
        let tokens = self.p.issue_tokens(username);
        let json = serde_json::to_string(&tokens).expect("json");
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "pinterest", "--token-stdin"],
                Some(&json),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add pinterest: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], username, "{v:#}");
        Account {
            id: v["account"]["id"].as_str().expect("id").to_string(),
            refresh_token: tokens.refresh_token,
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

    fn creates(&self) -> Vec<PinterestRequest> {
        self.p.requests_to("POST", "/v5/pins")
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

    /// A post that must be refused when it is scheduled: exit code 2 with `message`, nothing
    /// stored, nothing sent.
    async fn refused(&self, args: &[&str], message: &str) {
        let mut all = vec!["post"];
        all.extend_from_slice(args);
        let r = self.m.run_async(&all, None).await;
        assert_eq!(r.code, 2, "refused as bad input: {r:?}");
        assert!(r.stderr.contains(message), "{}", r.stderr);
        let posts = self.m.json(&["posts", "list"]).await;
        assert_eq!(
            posts["posts"].as_array().map(Vec::len),
            Some(0),
            "{posts:#}"
        );
    }
}

fn target(v: &Value) -> &Value {
    &v["post"]["targets"][0]
}

fn attempts(v: &Value) -> Vec<Value> {
    let tid = target(v)["id"].as_str().unwrap_or_default();
    v["attempts"][tid].as_array().cloned().unwrap_or_default()
}

fn pin_url(id: &str) -> String {
    format!("https://www.pinterest.com/pin/{id}/")
}

fn board(b: &str) -> String {
    format!("pinterest.board_id={b}")
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!(
        "http://x/?{}",
        String::from_utf8_lossy(body).replace('+', "%20")
    ))
    .map(|u| u.query_pairs().into_owned().collect())
    .unwrap_or_default()
}

fn field(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn video_clip() -> Vec<u8> {
    let mut clip = Mp4::new(
        10,
        vec![
            Mp4Track::video(b"avc1", 1080, 1920, 10, 30),
            Mp4Track::audio(10),
        ],
    );
    clip.mdat_len = 300_000;
    clip.build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_board_the_post_is_refused_at_scheduling() {
    let p = machine().await;
    p.connect("alice").await;
    let img = p.file("a.png", &png(600, 900, 2000));
    p.refused(
        &[
            "no board",
            "--to",
            "pinterest:alice",
            "--now",
            "--media",
            &img,
        ],
        "Pinterest board not selected — choose a board for pinterest:alice",
    )
    .await;
    assert!(p.creates().is_empty());
    assert!(p.p.pins().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn images_and_a_video_together_are_refused_at_scheduling() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Mixed", "PUBLIC");
    let img = p.file("a.png", &png(600, 900, 2000));
    let clip = p.file("c.mp4", &video_clip());
    p.refused(
        &[
            "image and video",
            "--to",
            "pinterest:alice",
            "--now",
            "--media",
            &img,
            "--media",
            &clip,
            "--option",
            &board(&b),
        ],
        "Pinterest doesn't support mixing images and videos",
    )
    .await;
    assert!(p.p.requests_to("POST", "/v5/media").is_empty());
    assert!(p.creates().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_boards_are_listed_and_the_default_board_is_used() {
    let p = machine().await;
    let alice = p.connect("alice").await;
    let recipes = p.p.add_board("alice", "Recipes", "PUBLIC");
    let secret = p.p.add_board("alice", "Gift ideas", "SECRET");
    p.p.add_board("bob", "Not hers", "PUBLIC");
    let v =
        p.m.json(&["accounts", "choices", &alice.id, "boards"])
            .await;
    let listed: Vec<(String, String, String)> = v["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["name"].as_str().unwrap_or_default().to_string(),
                c["extra"]["privacy"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (recipes.clone(), "Recipes".to_string(), "PUBLIC".to_string()),
            (
                secret.clone(),
                "Gift ideas".to_string(),
                "SECRET".to_string()
            ),
        ],
        "{v:#}"
    );
    let r =
        p.m.run_async(
            &["accounts", "default", &alice.id, "board_id", &secret],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id =
        p.m.post(&[
            "goes to the default board",
            "--to",
            "pinterest:alice",
            "--now",
            "--media",
            &p.file("a.png", &png(600, 900, 2000)),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let pins = p.p.pins();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].board_id, secret);
    assert_eq!(p.creates().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_pin_carries_title_link_description_and_alt_text() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Autumn", "PUBLIC");
    let id =
        p.m.post(&[
            "Red leaves on the old path — a walk in October.",
            "--to",
            "pinterest:alice",
            "--now",
            "--media",
            &p.file("leaves.png", &png(640, 960, 4000)),
            "--alt",
            "Red maple leaves covering a forest path",
            "--option",
            &board(&b),
            "--option",
            "pinterest.title=Autumn walk",
            "--option",
            "pinterest.link=https://example.test/autumn?ref=outpost",
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let pins = p.p.pins();
    assert_eq!(pins.len(), 1);
    let pin = &pins[0];
    assert_eq!(pin.board_id, b);
    assert_eq!(pin.media_type, "image");
    assert_eq!(pin.source_type, "image_base64");
    assert_eq!(pin.image_sizes, vec![(640, 960)]);
    assert_eq!(pin.title.as_deref(), Some("Autumn walk"));
    assert_eq!(
        pin.link.as_deref(),
        Some("https://example.test/autumn?ref=outpost")
    );
    assert_eq!(
        pin.description.as_deref(),
        Some("Red leaves on the old path — a walk in October.")
    );
    assert_eq!(
        pin.alt_text.as_deref(),
        Some("Red maple leaves covering a forest path")
    );
    assert_eq!(t["remote_id"], pin.id.as_str());
    assert_eq!(t["remote_url"], pin_url(&pin.id));
    assert_eq!(attempts(&v).len(), 1);
    assert_eq!(p.creates().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_carousel_of_three_images_of_one_size_is_one_pin() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Carousels", "PUBLIC");
    let mut args: Vec<String> = vec![
        "three of a kind".into(),
        "--to".into(),
        "pinterest:alice".into(),
        "--now".into(),
        "--option".into(),
        board(&b),
    ];
    for i in 0..3 {
        args.push("--media".into());
        args.push(p.file(&format!("c{i}.png"), &png(600, 600, 2000 + i * 100)));
        args.push("--alt".into());
        args.push(format!("slide {i}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = p.m.post(&a).await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let pins = p.p.pins();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].media_type, "multiple_images");
    assert_eq!(pins[0].source_type, "multiple_image_base64");
    assert_eq!(pins[0].image_sizes, vec![(600, 600); 3]);
    assert_eq!(pins[0].alt_text.as_deref(), Some("slide 0"));
    assert_eq!(p.creates().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_carousel_of_different_sizes_is_refused_before_anything_is_sent() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Carousels", "PUBLIC");
    let square = p.file("square.png", &png(600, 600, 2000));
    let tall = p.file("tall.png", &png(600, 900, 2000));
    let square2 = p.file("square2.png", &png(600, 600, 2100));
    let r =
        p.m.run_async(
            &[
                "post",
                "sizes differ",
                "--to",
                "pinterest:alice",
                "--now",
                "--option",
                &board(&b),
                "--media",
                &square,
                "--media",
                &tall,
                "--media",
                &square2,
            ],
            None,
        )
        .await;
    // Refused when scheduling (the sizes are known then): nothing stored, nothing sent.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Pinterest: Pinterest carousels need images of the same size"),
        "{}",
        r.stderr
    );
    let listed = p.m.json(&["posts", "list"]).await;
    assert_eq!(listed["posts"].as_array().map(Vec::len), Some(0));
    p.agent_once().await;
    assert!(p.creates().is_empty(), "nothing was sent");
    assert!(p.p.pins().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_video_pin_is_registered_uploaded_processed_then_pinned() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Clips", "PUBLIC");
    p.p.set_media_plan(MediaPlan::SucceedAfterPolls { polls: 1 });
    let bytes = video_clip();
    let id =
        p.m.post(&[
            "a video pin",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--option",
            "pinterest.title=Ten seconds",
            "--media",
            &p.file("clip.mp4", &bytes),
        ])
        .await;
    let started = Instant::now();
    p.agent_once().await;
    let v = p.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let media = p.p.media();
    assert_eq!(media.len(), 1, "registered once");
    let m = &media[0];
    assert_eq!(m.status, "succeeded");
    assert_eq!(m.uploaded_bytes, Some(bytes.len() as u64));
    assert!(m.looks_like_video);
    assert_eq!(
        m.upload_fields.last().map(String::as_str),
        Some("file"),
        "the file goes last"
    );
    assert_eq!(m.polls, 2, "processing once, then succeeded");
    let uploads = p.p.requests_to("POST", "/pinterest-media-upload/");
    assert_eq!(uploads.len(), 1);
    assert!(
        uploads[0].header("authorization").is_none(),
        "no bearer token to the upload service"
    );
    let pins = p.p.pins();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].media_type, "video");
    assert_eq!(pins[0].source_type, "video_id");
    assert_eq!(pins[0].media_id.as_deref(), Some(m.media_id.as_str()));
    assert_eq!(pins[0].title.as_deref(), Some("Ten seconds"));
    assert!(pins[0].cover.is_some());
    assert_eq!(p.creates().len(), 1, "the Pin was created after processing");
    // Order on the wire: register, upload, status checks, the Pin.
    let order: Vec<String> =
        p.p.requests()
            .into_iter()
            .filter(|r| r.path != "/v5/user_account")
            .map(|r| {
                if r.path.starts_with("/v5/media/") {
                    "GET media".to_string()
                } else {
                    format!("{} {}", r.method, r.path)
                }
            })
            .collect();
    assert_eq!(
        order,
        [
            "POST /v5/media",
            "POST /pinterest-media-upload/",
            "GET media",
            "GET media",
            "POST /v5/pins"
        ],
        "{order:?}"
    );
    assert_eq!(t["remote_url"], pin_url(&pins[0].id));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn video_processing_that_fails_is_permanent_with_the_reason() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Clips", "PUBLIC");
    p.p.set_media_plan(MediaPlan::FailAfterPolls { polls: 0 });
    let id =
        p.m.post(&[
            "this video will not process",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("bad.mp4", &video_clip()),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "permanent");
    let media_id = p.p.media()[0].media_id.clone();
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("could not process the video")
            && err.contains(&format!("media {media_id}: failed")),
        "{err}"
    );
    assert!(p.creates().is_empty());
    assert!(p.p.pins().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_is_refreshed_with_rotation_and_the_pin_goes_out() {
    let p = machine().await;
    let alice = p.connect("alice").await;
    let b = p.p.add_board("alice", "Board", "PUBLIC");
    p.p.expire_access_tokens();
    let id =
        p.m.post(&[
            "after a refresh",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("a.png", &png(600, 900, 2000)),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let grants = p.p.requests_to("POST", "/v5/oauth/token");
    assert_eq!(grants.len(), 1, "one refresh");
    let f = form(&grants[0].body);
    assert_eq!(field(&f, "grant_type"), "refresh_token");
    assert_eq!(field(&f, "refresh_token"), alice.refresh_token);
    assert!(
        grants[0]
            .header("authorization")
            .is_some_and(|h| h.starts_with("Basic ")),
        "client authentication with Basic"
    );
    assert_eq!(p.p.pins().len(), 1);
    assert_eq!(p.account_status(&alice.id).await, "active");
    // The rotated refresh token was saved: the next refresh spends it (the first one is gone
    // on the fake, so reusing it would fail).
    p.p.expire_access_tokens();
    let id2 =
        p.m.post(&[
            "after a second refresh",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("b.png", &png(600, 900, 2100)),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id2).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let grants = p.p.requests_to("POST", "/v5/oauth/token");
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[1].status, 200);
    let second = field(&form(&grants[1].body), "refresh_token");
    assert!(!second.is_empty() && second != alice.refresh_token);
    assert_eq!(p.p.pins().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_refresh_token_needs_a_reconnect() {
    let p = machine().await;
    let alice = p.connect("alice").await;
    let b = p.p.add_board("alice", "Board", "PUBLIC");
    assert!(p.p.revoke_tokens("alice"));
    let id =
        p.m.post(&[
            "never sent",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("a.png", &png(600, 900, 2000)),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "reauth", "{t:#}");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with("Pinterest:") && err.contains("reconnect"),
        "{err}"
    );
    assert_eq!(p.account_status(&alice.id).await, "needs_reconnect");
    let grants = p.p.requests_to("POST", "/v5/oauth/token");
    assert_eq!(grants.len(), 1, "one refresh attempt");
    assert_eq!(grants[0].status, 400);
    assert!(p.creates().is_empty());
    assert!(p.p.pins().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_waits_for_the_reset_then_publishes() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Board", "PUBLIC");
    p.p.push_fault(Fault::rate_limited("POST /v5/pins", 1, 3));
    let id =
        p.m.post(&[
            "rate limited first",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("a.png", &png(600, 900, 2000)),
        ])
        .await;
    let started = Instant::now();
    p.agent_once().await;
    let v = p.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let creates = p.creates();
    assert_eq!(creates.len(), 2, "one refused, one after the reset");
    assert_eq!(creates[0].status, 429);
    assert_eq!(creates[1].status, 201);
    let gap = (creates[1].at - creates[0].at).num_milliseconds();
    assert!(gap >= 2500, "waited for the reset ({gap} ms)");
    assert_eq!(p.p.pins().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_from_the_spam_block_fails_permanently_and_is_never_retried() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Board", "PUBLIC");
    p.p.push_fault(Fault::spam("POST /v5/pins", 1));
    let id =
        p.m.post(&[
            "looks like spam",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("a.png", &png(600, 900, 2000)),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "permanent");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("Pinterest flagged this as spam") && err.contains("will not retry"),
        "{err}"
    );
    assert_eq!(attempts(&v).len(), 1, "never retried: {v:#}");
    // A second dispatcher run does not touch it either.
    p.agent_once().await;
    assert_eq!(p.creates().len(), 1);
    assert!(p.p.pins().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_503_backs_off_then_publishes() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Board", "PUBLIC");
    p.p.push_fault(Fault::status("POST /v5/pins", 1, 503));
    let id =
        p.m.post(&[
            "through a 503",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("a.png", &png(600, 900, 2000)),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let tries = attempts(&v);
    assert_eq!(tries.len(), 2, "one refused, the second published: {v:#}");
    assert_eq!(tries[0]["error_class"], "transient");
    let creates = p.creates();
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0].status, 503);
    assert!(creates[1].at > creates[0].at);
    assert_eq!(p.p.pins().len(), 1, "published exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_whose_answer_was_lost_is_reconciled_to_one_pin() {
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Board", "PUBLIC");
    p.p.push_fault(Fault::drop_after_commit("POST /v5/pins", 1));
    let id =
        p.m.post(&[
            "the answer got lost",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--option",
            "pinterest.title=Lost and found",
            "--media",
            &p.file("a.png", &png(600, 900, 2000)),
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let pins = p.p.pins();
    assert_eq!(pins.len(), 1, "exactly one Pin");
    assert_eq!(p.creates().len(), 1, "never sent again");
    assert_eq!(p.creates()[0].status, 0, "the answer was dropped");
    assert_eq!(t["remote_id"], pins[0].id.as_str());
    assert_eq!(t["remote_url"], pin_url(&pins[0].id));
    assert!(!p.p.requests_to("GET", "/v5/pins").is_empty(), "looked up");
}

// ---- staging ---------------------------------------------------------------------------------

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_staged_image_is_fetched_by_url_and_deleted_once_the_pin_is_out() {
    let Some(s3) = s3_env() else { return };
    let p = machine().await;
    p.connect("alice").await;
    let b = p.p.add_board("alice", "Staged", "PUBLIC");
    let prefix = format!(
        "outpost-staging/e2e-{}",
        p.m.data_dir()
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let r =
        p.m.run_async(
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
    let image = png(700, 1000, 5000);
    let id =
        p.m.post(&[
            "from the bucket",
            "--to",
            "pinterest:alice",
            "--now",
            "--option",
            &board(&b),
            "--media",
            &p.file("staged.png", &image),
            "--alt",
            "a staged image",
        ])
        .await;
    p.agent_once().await;
    let v = p.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let pins = p.p.pins();
    assert_eq!(pins.len(), 1);
    let pin = &pins[0];
    assert_eq!(pin.source_type, "image_url", "{pin:?}");
    assert_eq!(pin.alt_text.as_deref(), Some("a staged image"));
    assert_eq!(pin.image_urls.len(), 1);
    let url = pin.image_urls[0].clone();
    assert!(url.starts_with(&s3.endpoint), "{url}");
    // The key of the staged object, from the path-style URL.
    let parsed = reqwest::Url::parse(&url).expect("staged url");
    let key = parsed
        .path()
        .trim_start_matches('/')
        .strip_prefix(&format!("{}/", s3.bucket))
        .expect("path-style URL")
        .to_string();
    assert!(key.starts_with(&format!("{prefix}/")), "{key}");
    let public = format!("{}/{key}", s3.public_url.trim_end_matches('/'));
    // Pinterest fetched it when the pin was created (the fake refuses image URLs it cannot
    // fetch); the run ended by deleting what only finished targets used.
    let gone = reqwest::get(&public).await.expect("GET public");
    assert_eq!(gone.status().as_u16(), 404, "the staged object was deleted");
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
    assert_eq!(p.creates().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bucket_with_wrong_keys_is_refused_when_it_is_set_up_not_when_a_post_is_due() {
    let Some(s3) = s3_env() else { return };
    let p = machine().await;
    let set = |secret: String| {
        let args: Vec<String> = [
            "staging",
            "set",
            "--endpoint",
            &s3.endpoint,
            "--bucket",
            &s3.bucket,
            "--region",
            "us-east-1",
            "--path-style",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        (args, format!("{}\n{secret}\n", s3.key_id))
    };
    let (args, keys) = set("not-the-secret".into());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = p.m.run_async(&a, Some(&keys)).await;
    assert_eq!(r.code, 2, "wrong keys are invalid input: {}", r.stderr);
    assert!(r.stderr.contains("staging"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("not-the-secret"),
        "the secret is never echoed"
    );
    // Nothing was saved.
    let shown = p.m.json(&["staging", "show"]).await;
    assert!(shown["staging"].is_null(), "{shown}");
    // The right keys work, and `staging test` confirms it later.
    let (args, keys) = set(s3.secret.clone());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = p.m.run_async(&a, Some(&keys)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.m.run_async(&["staging", "test"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("the bucket works"), "{}", r.stdout);
}
