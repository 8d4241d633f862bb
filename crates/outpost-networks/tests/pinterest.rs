//! The Pinterest client against the test kit's fake API v5, over loopback HTTP.

use chrono::Utc;
use outpost_auth::{client_secret_key, MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::pinterest::{self, Pinterest};
use outpost_networks::{Lookup, PartOutcome, PartRequest, Publisher};
use outpost_testkit::pinterest::{Fault, MediaPlan, PinterestConfig, PinterestFake};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const USER: &str = "alice";
const ACCOUNT_ID: &str = "a_pin";

struct Env {
    fake: PinterestFake,
    store: Arc<MemoryStore>,
    pin: Pinterest,
    account: Account,
    board: String,
    dir: tempfile::TempDir,
}

async fn setup() -> Env {
    let fake = PinterestFake::start(PinterestConfig::default()).await;
    let user = fake.add_user(USER);
    let board = fake.add_board(USER, "Recipes", "PUBLIC");
    let issued = fake.issue_tokens(USER);
    let store = Arc::new(MemoryStore::new());
    OAuthTokens::from_response(
        Secret::new(issued.access_token),
        Some(Secret::new(issued.refresh_token)),
        Some(issued.expires_in),
        Some(issued.refresh_token_expires_in),
        Some(issued.scope),
        Utc::now(),
    )
    .save(&*store, ACCOUNT_ID)
    .expect("save tokens");
    store
        .set(
            &client_secret_key("pinterest"),
            &Secret::new(fake.client_secret()),
        )
        .expect("save secret");
    let secrets: Arc<dyn SecretStore> = store.clone();
    let pin = Pinterest::new(fake.base_url(), secrets).with_http_client(
        outpost_networks::http::client_builder()
            .timeout(Duration::from_secs(3))
            .build()
            .expect("client"),
    );
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::Pinterest,
        handle: USER.into(),
        remote_id: Some(user.id),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "client_id": fake.client_id() }),
        created_at: Utc::now(),
    };
    Env {
        fake,
        store,
        pin,
        account,
        board,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    // Grey 8-bit pixels, stored (uncompressed) deflate blocks.
    let mut raw = Vec::new();
    for _ in 0..height {
        raw.push(0);
        raw.extend(std::iter::repeat_n(0x80u8, width as usize));
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn mp4(len: usize) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x18];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v.extend((0..len).map(|i| (i % 251) as u8));
    v
}

fn media(
    path: &Path,
    mime: &str,
    bytes: u64,
    size: Option<(u32, u32)>,
    alt: Option<&str>,
) -> MediaRef {
    MediaRef {
        path: path.to_string_lossy().into_owned(),
        sha256: "0".repeat(64),
        mime: mime.into(),
        bytes,
        width: size.map(|s| s.0),
        height: size.map(|s| s.1),
        alt: alt.map(str::to_string),
    }
}

impl Env {
    fn image(&self, name: &str, w: u32, h: u32, alt: Option<&str>) -> MediaRef {
        let path = self.dir.path().join(name);
        let data = png(w, h);
        std::fs::write(&path, &data).expect("write png");
        media(&path, "image/png", data.len() as u64, Some((w, h)), alt)
    }

    fn video(&self, name: &str, len: usize) -> MediaRef {
        let path = self.dir.path().join(name);
        let data = mp4(len);
        std::fs::write(&path, &data).expect("write mp4");
        media(
            &path,
            "video/mp4",
            data.len() as u64,
            Some((1080, 1920)),
            Some("A clip"),
        )
    }

    fn options(&self) -> Value {
        json!({ "board_id": self.board })
    }

    fn req<'a>(&'a self, part: &'a Part, options: &'a Value) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: 0,
            part,
            previous: &[],
            client_handle: None,
            intent_at: Utc::now(),
            options,
            first_comment: None,
            scheduled_at: None,
        }
    }

    fn stored_tokens(&self) -> OAuthTokens {
        OAuthTokens::load(&*self.store, ACCOUNT_ID)
            .expect("store")
            .expect("tokens stored")
    }

    /// No message or excerpt may carry a token or the client secret.
    fn assert_clean(&self, e: &PublishError) {
        let t = self.stored_tokens();
        let mut secrets = vec![
            t.access_token.expose().to_string(),
            self.fake.client_secret(),
        ];
        if let Some(r) = &t.refresh_token {
            secrets.push(r.expose().to_string());
        }
        for r in self.fake.requests() {
            if let Some(b) = r
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
            {
                secrets.push(b.to_string());
            }
        }
        let excerpt = e.excerpt.clone().unwrap_or_default();
        for s in secrets {
            assert!(!e.message.contains(&s), "secret in message: {}", e.message);
            assert!(!excerpt.contains(&s), "secret in excerpt: {excerpt}");
        }
        assert!(e.message.starts_with("Pinterest: "), "{}", e.message);
    }
}

fn part(text: &str, media: Vec<MediaRef>) -> Part {
    Part {
        text: text.into(),
        media,
    }
}

fn processing(outcome: Result<PartOutcome, PublishError>) -> Value {
    match outcome {
        Ok(PartOutcome::Processing { phase, poll_after }) => {
            assert!(poll_after >= Duration::from_secs(1), "{poll_after:?}");
            phase
        }
        other => panic!("expected Processing, got {other:?}"),
    }
}

fn published(outcome: Result<PartOutcome, PublishError>) -> PublishedPart {
    match outcome {
        Ok(PartOutcome::Published(p)) => p,
        other => panic!("expected Published, got {other:?}"),
    }
}

// ---- images ------------------------------------------------------------------------------------

#[tokio::test]
async fn an_image_pin_carries_title_link_alt_and_description() {
    let env = setup().await;
    let img = env.image("soup.png", 100, 150, Some("A bowl of soup"));
    let p = part("Autumn soup, step by step", vec![img]);
    let options = json!({
        "board_id": env.board,
        "title": "Pumpkin soup",
        "link": "https://example.test/soup",
    });
    let done = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect("published");
    let pins = env.fake.pins();
    assert_eq!(pins.len(), 1);
    let stored = &pins[0];
    assert_eq!(done.remote_id, stored.id);
    assert_eq!(
        done.url.as_deref(),
        Some(format!("https://www.pinterest.com/pin/{}/", stored.id).as_str())
    );
    assert_eq!(done.extra["board_id"], env.board.as_str());
    assert_eq!(stored.board_id, env.board);
    assert_eq!(stored.title.as_deref(), Some("Pumpkin soup"));
    assert_eq!(stored.link.as_deref(), Some("https://example.test/soup"));
    assert_eq!(stored.alt_text.as_deref(), Some("A bowl of soup"));
    assert_eq!(
        stored.description.as_deref(),
        Some("Autumn soup, step by step")
    );
    assert_eq!(stored.source_type, "image_base64");
    assert_eq!(stored.image_sizes, vec![(100, 150)]);
    let sent = env.fake.requests_to("POST", "/v5/pins");
    assert_eq!(sent.len(), 1);
    let body = sent[0].body_json().expect("json");
    assert_eq!(body["media_source"]["content_type"], "image/png");
    assert!(sent[0]
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer pina_")));

    // A description override replaces the text; `start` publishes images at once.
    let options = json!({ "board_id": env.board, "description": "Short" });
    let p2 = part("long text", vec![env.image("b.png", 10, 10, None)]);
    let done = published(env.pin.start(&env.req(&p2, &options)).await);
    assert_eq!(env.fake.pins()[1].description.as_deref(), Some("Short"));
    assert_eq!(env.fake.pins()[1].id, done.remote_id);
}

#[tokio::test]
async fn a_missing_board_is_permanent_with_the_exact_message() {
    let env = setup().await;
    let p = part("hello", vec![env.image("a.png", 10, 10, None)]);
    for options in [
        Value::Null,
        json!({}),
        json!({ "board_id": "" }),
        json!({ "title": "x" }),
    ] {
        let e = env
            .pin
            .publish(&env.req(&p, &options))
            .await
            .expect_err("no board");
        assert_eq!(e.class, ErrorClass::Permanent);
        assert_eq!(
            e.message,
            "Pinterest: Pinterest board not selected — choose a board for this account"
        );
        let e = env
            .pin
            .start(&env.req(&p, &options))
            .await
            .expect_err("no board");
        assert_eq!(e.class, ErrorClass::Permanent);
    }
    assert_eq!(
        pinterest::check_options(&json!({})),
        Err("Pinterest board not selected — choose a board for this account".to_string())
    );
    assert!(env.fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_board_that_is_gone_is_permanent_and_named() {
    let env = setup().await;
    let foreign = env.fake.add_board("bob", "Bob's", "PUBLIC");
    let p = part("hello", vec![env.image("a.png", 10, 10, None)]);
    let options = json!({ "board_id": foreign });
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("not ours");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains(&format!("board {foreign}")),
        "{}",
        e.message
    );
    assert!(e.message.contains("choose another board"), "{}", e.message);
    env.assert_clean(&e);
    assert!(env.fake.pins().is_empty());
}

#[tokio::test]
async fn a_carousel_of_three_images_is_one_pin() {
    let env = setup().await;
    let images = vec![
        env.image("1.png", 60, 90, Some("first")),
        env.image("2.png", 60, 90, None),
        env.image("3.png", 60, 90, None),
    ];
    let p = part("Three steps", images);
    let options = env.options();
    let done = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect("published");
    let pins = env.fake.pins();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].id, done.remote_id);
    assert_eq!(pins[0].media_type, "multiple_images");
    assert_eq!(pins[0].source_type, "multiple_image_base64");
    assert_eq!(pins[0].image_sizes, vec![(60, 90); 3]);
    assert_eq!(pins[0].alt_text.as_deref(), Some("first"));
}

#[tokio::test]
async fn a_carousel_of_different_sizes_is_refused_before_sending() {
    let env = setup().await;
    let p = part(
        "Mixed sizes",
        vec![
            env.image("1.png", 60, 90, None),
            env.image("2.png", 90, 60, None),
        ],
    );
    let options = env.options();
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("sizes differ");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message
            .starts_with("Pinterest: Pinterest carousels need images of the same size"),
        "{}",
        e.message
    );
    // Sizes Outpost did not know are read from the files.
    let mut unknown = env.image("3.png", 60, 90, None);
    unknown.width = None;
    unknown.height = None;
    let mut other = env.image("4.png", 61, 90, None);
    other.width = None;
    other.height = None;
    let p = part("Probed", vec![unknown, other]);
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("sizes differ");
    assert!(
        e.message.contains("need images of the same size"),
        "{}",
        e.message
    );
    // More than five images.
    let six: Vec<MediaRef> = (0..6)
        .map(|i| env.image(&format!("s{i}.png"), 10, 10, None))
        .collect();
    let p = part("Six", six);
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("too many");
    assert!(e.message.contains("at most 5"), "{}", e.message);
    assert!(env.fake.requests().is_empty());
}

#[tokio::test]
async fn mixing_images_and_video_is_refused() {
    let env = setup().await;
    let p = part(
        "Both",
        vec![env.image("a.png", 10, 10, None), env.video("v.mp4", 1000)],
    );
    let options = env.options();
    for result in [
        env.pin.start(&env.req(&p, &options)).await.map(|_| ()),
        env.pin.publish(&env.req(&p, &options)).await.map(|_| ()),
    ] {
        let e = result.expect_err("mixed");
        assert_eq!(e.class, ErrorClass::Permanent);
        assert_eq!(
            e.message,
            "Pinterest: Pinterest doesn't support mixing images and videos"
        );
    }
    assert!(env.fake.requests().is_empty());
}

#[tokio::test]
async fn later_thread_parts_and_empty_parts_are_refused() {
    let env = setup().await;
    let p = part("second", vec![env.image("a.png", 10, 10, None)]);
    let options = env.options();
    let mut req = env.req(&p, &options);
    req.part_index = 1;
    let e = env.pin.publish(&req).await.expect_err("no threads");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("no threads"), "{}", e.message);
    let text_only = part("just words", vec![]);
    let e = env
        .pin
        .publish(&env.req(&text_only, &options))
        .await
        .expect_err("no media");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(env.fake.requests().is_empty());
}

#[tokio::test]
async fn staged_urls_are_sent_as_image_urls() {
    let env = setup().await;
    let img = env.image("a.png", 10, 10, None);
    let p = part("From the bucket", vec![img]);
    let options = json!({ "board_id": env.board, "media_urls": ["https://bucket.test/x/a.png"] });
    env.pin
        .publish(&env.req(&p, &options))
        .await
        .expect("published");
    let pins = env.fake.pins();
    assert_eq!(pins[0].source_type, "image_url");
    assert_eq!(pins[0].image_urls, vec!["https://bucket.test/x/a.png"]);
    // Staged copies keyed by the files' SHA-256 (what the staging ledger records).
    let mut a = env.image("c1.png", 10, 10, None);
    a.sha256 = "a".repeat(64);
    let mut b = env.image("c2.png", 10, 10, None);
    b.sha256 = "b".repeat(64);
    let p = part("Two from the bucket", vec![a, b]);
    let options = json!({ "board_id": env.board, "media_urls": {
        "a".repeat(64): "https://bucket.test/x/1.webp",
        "b".repeat(64): "https://bucket.test/x/2.webp",
    } });
    env.pin
        .publish(&env.req(&p, &options))
        .await
        .expect("published");
    let pins = env.fake.pins();
    assert_eq!(pins[1].source_type, "multiple_image_urls");
    assert_eq!(
        pins[1].image_urls,
        vec![
            "https://bucket.test/x/1.webp",
            "https://bucket.test/x/2.webp"
        ]
    );
}

// ---- video -------------------------------------------------------------------------------------

#[tokio::test]
async fn a_video_pin_registers_uploads_processes_then_publishes() {
    let env = setup().await;
    let v = env.video("clip.mp4", 600_000);
    let p = part("Watch this", vec![v.clone()]);
    let options = json!({ "board_id": env.board, "title": "Clip" });
    let phase = processing(env.pin.start(&env.req(&p, &options)).await);
    assert_eq!(phase["part"], 0);
    let media_id = phase["media_id"].as_str().expect("media id").to_string();
    assert!(phase["expires_at"].is_string());
    assert!(env.fake.pins().is_empty(), "no Pin before processing");

    let media = env.fake.media();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_id, media_id);
    assert_eq!(media[0].status, "processing");
    assert_eq!(media[0].uploaded_bytes, Some(v.bytes));
    assert_eq!(media[0].upload_file_name.as_deref(), Some("clip.mp4"));
    assert_eq!(media[0].upload_content_type.as_deref(), Some("video/mp4"));
    assert_eq!(
        media[0].upload_fields.last().map(String::as_str),
        Some("file")
    );
    assert_eq!(media[0].upload_fields.len(), 9, "8 parameters and the file");
    let upload = env.fake.requests_to("POST", "/pinterest-media-upload/");
    assert_eq!(upload.len(), 1);
    assert!(
        upload[0].header("authorization").is_none(),
        "no bearer to S3"
    );
    assert_eq!(
        upload[0]
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok()),
        Some(upload[0].body.len()),
        "sent with a length, not chunked"
    );

    // First poll: still processing (the fake needs one poll); then the Pin.
    let phase = processing(env.pin.poll(&env.req(&p, &options), &phase).await);
    assert_eq!(phase["part"], 0);
    assert_eq!(phase["status"], "processing");
    assert_eq!(phase["polls"], 1);
    let done = published(env.pin.poll(&env.req(&p, &options), &phase).await);
    let pins = env.fake.pins();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].id, done.remote_id);
    assert_eq!(pins[0].media_type, "video");
    assert_eq!(pins[0].media_id.as_deref(), Some(media_id.as_str()));
    assert_eq!(pins[0].title.as_deref(), Some("Clip"));
    assert_eq!(pins[0].alt_text.as_deref(), Some("A clip"));
    assert!(pins[0]
        .cover
        .as_ref()
        .is_some_and(|c| c["cover_image_key_frame_time"].is_u64()));
}

#[tokio::test]
async fn a_failed_video_is_permanent() {
    let env = setup().await;
    env.fake
        .set_media_plan(MediaPlan::FailAfterPolls { polls: 0 });
    let p = part("Broken", vec![env.video("bad.mp4", 2000)]);
    let options = env.options();
    let phase = processing(env.pin.start(&env.req(&p, &options)).await);
    let e = env
        .pin
        .poll(&env.req(&p, &options), &phase)
        .await
        .expect_err("failed");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("could not process the video bad.mp4"),
        "{}",
        e.message
    );
    env.assert_clean(&e);
    assert!(env.fake.pins().is_empty());
}

#[tokio::test]
async fn a_video_that_never_finishes_keeps_processing() {
    let env = setup().await;
    env.fake.set_media_plan(MediaPlan::NeverFinishes);
    let p = part("Slow", vec![env.video("slow.mp4", 2000)]);
    let options = env.options();
    let mut phase = processing(env.pin.start(&env.req(&p, &options)).await);
    for n in 1..=15u64 {
        phase = processing(env.pin.poll(&env.req(&p, &options), &phase).await);
        assert_eq!(phase["polls"], n);
    }
    match env.pin.poll(&env.req(&p, &options), &phase).await {
        Ok(PartOutcome::Processing { poll_after, .. }) => {
            assert!(
                poll_after > Duration::from_secs(5),
                "backs off: {poll_after:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(env.fake.pins().is_empty());
}

// ---- auth --------------------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_token_is_reauth_then_refresh_saves_new_tokens() {
    let env = setup().await;
    let before = env.stored_tokens();
    env.fake.expire_access_tokens();
    let p = part("after expiry", vec![env.image("a.png", 10, 10, None)]);
    let options = env.options();
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("401");
    assert_eq!(e.class, ErrorClass::Reauth);
    env.assert_clean(&e);

    env.pin.refresh(&env.account).await.expect("refreshed");
    let after = env.stored_tokens();
    assert_ne!(after.access_token, before.access_token);
    assert_ne!(
        after.refresh_token, before.refresh_token,
        "the refresh token rotated"
    );
    assert!(after.refresh_expires_at.is_some());
    let grant = env.fake.requests_to("POST", "/v5/oauth/token");
    assert_eq!(grant.len(), 1);
    let expected = format!(
        "Basic {}",
        base64_encode(&format!(
            "{}:{}",
            env.fake.client_id(),
            env.fake.client_secret()
        ))
    );
    assert_eq!(grant[0].header("authorization"), Some(expected.as_str()));
    let form = grant[0].form();
    assert!(form.contains(&("grant_type".into(), "refresh_token".into())));
    assert!(form.contains(&("continuous_refresh".into(), "true".into())));

    env.pin
        .publish(&env.req(&p, &options))
        .await
        .expect("published after refresh");
    assert_eq!(env.fake.pins().len(), 1);
    env.pin.probe(&env.account).await.expect("probe");
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn a_revoked_refresh_token_is_reauth() {
    let env = setup().await;
    assert!(env.fake.revoke_tokens(USER));
    let e = env.pin.refresh(&env.account).await.expect_err("revoked");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("invalid_grant"), "{}", e.message);
    env.assert_clean(&e);
    let e = env.pin.probe(&env.account).await.expect_err("revoked");
    assert_eq!(e.class, ErrorClass::Reauth);
}

#[tokio::test]
async fn refresh_without_the_app_secret_or_tokens_says_what_to_do() {
    let env = setup().await;
    env.store
        .delete(&client_secret_key("pinterest"))
        .expect("delete");
    let e = env.pin.refresh(&env.account).await.expect_err("no secret");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("Settings"), "{}", e.message);
    OAuthTokens::delete(&*env.store, ACCOUNT_ID).expect("delete");
    let e = env.pin.refresh(&env.account).await.expect_err("no tokens");
    assert_eq!(e.class, ErrorClass::Reauth);
    let p = part("x", vec![env.image("a.png", 10, 10, None)]);
    let options = env.options();
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("no tokens");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(env.fake.requests().is_empty());
}

// ---- errors ------------------------------------------------------------------------------------

#[tokio::test]
async fn a_429_is_rate_limited_until_the_reset() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::rate_limited("POST /v5/pins", 1, 120));
    let p = part("busy", vec![env.image("a.png", 10, 10, None)]);
    let options = env.options();
    let before = Utc::now();
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("429");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}")
    };
    let wait = (until - before).num_seconds();
    assert!((118..=122).contains(&wait), "{wait}");
    env.assert_clean(&e);
    assert!(env.fake.pins().is_empty());
}

#[tokio::test]
async fn a_spam_429_is_permanent_and_never_rate_limited() {
    let env = setup().await;
    env.fake.push_fault(Fault::spam("POST /v5/pins", 1));
    let p = part("buy now", vec![env.image("a.png", 10, 10, None)]);
    let options = env.options();
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("spam");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(
        e.message,
        "Pinterest: Pinterest flagged this as spam — Outpost will not retry automatically"
    );
    assert!(e.excerpt.unwrap_or_default().contains("spam"));
}

#[tokio::test]
async fn a_503_is_transient() {
    let env = setup().await;
    env.fake.push_fault(Fault::status("POST /v5/pins", 1, 503));
    let p = part("later", vec![env.image("a.png", 10, 10, None)]);
    let options = env.options();
    let e = env
        .pin
        .publish(&env.req(&p, &options))
        .await
        .expect_err("503");
    assert!(e.class.is_transient(), "{e:?}");
    env.assert_clean(&e);
    env.pin
        .publish(&env.req(&p, &options))
        .await
        .expect("then it works");
    assert_eq!(env.fake.pins().len(), 1);
}

#[tokio::test]
async fn a_create_dropped_after_commit_is_unknown_then_found_by_lookup() {
    let env = setup().await;
    let options =
        json!({ "board_id": env.board, "title": "Dropped", "link": "https://example.test/d" });
    let p = part("In doubt", vec![env.image("a.png", 10, 10, None)]);
    let mut req = env.req(&p, &options);
    assert_eq!(
        env.pin.lookup(&req).await.expect("lookup"),
        Lookup::NotFound
    );
    env.fake
        .push_fault(Fault::drop_after_commit("POST /v5/pins", 1));
    req.intent_at = Utc::now();
    let e = env.pin.publish(&req).await.expect_err("dropped");
    assert_eq!(e.class, ErrorClass::UnknownOutcome);
    let pins = env.fake.pins();
    assert_eq!(pins.len(), 1, "the fake created the Pin");
    match env.pin.lookup(&req).await.expect("lookup") {
        Lookup::Found(found) => {
            assert_eq!(found.remote_id, pins[0].id);
            assert_eq!(
                found.url.as_deref(),
                Some(format!("https://www.pinterest.com/pin/{}/", pins[0].id).as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    // Another title is not this attempt.
    let other = json!({ "board_id": env.board, "title": "Something else" });
    assert_eq!(
        env.pin.lookup(&env.req(&p, &other)).await.expect("lookup"),
        Lookup::NotFound
    );
    // Pins created long before the attempt do not count either.
    let mut late = env.req(&p, &options);
    late.intent_at = Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        env.pin.lookup(&late).await.expect("lookup"),
        Lookup::NotFound
    );
    assert_eq!(env.fake.pins().len(), 1, "exactly one Pin");
}

// ---- account -----------------------------------------------------------------------------------

#[tokio::test]
async fn boards_are_listed_across_pages() {
    let env = setup().await;
    for i in 0..259 {
        env.fake.add_board(
            USER,
            &format!("Board {i}"),
            if i == 3 { "SECRET" } else { "PUBLIC" },
        );
    }
    env.fake.add_board("bob", "Not Alice's", "PUBLIC");
    let boards = env
        .pin
        .choices(&env.account, "boards")
        .await
        .expect("boards");
    assert_eq!(boards.len(), 260);
    assert_eq!(boards[0].id, env.board);
    assert_eq!(boards[0].name, "Recipes");
    assert_eq!(boards[0].extra, json!({ "privacy": "PUBLIC" }));
    assert_eq!(boards[4].extra, json!({ "privacy": "SECRET" }));
    let pages = env.fake.requests_to("GET", "/v5/boards");
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].query_param("page_size").as_deref(), Some("250"));
    assert!(pages[1].query_param("bookmark").is_some());
    assert!(env
        .pin
        .choices(&env.account, "organizations")
        .await
        .expect("none")
        .is_empty());
}

#[tokio::test]
async fn identify_reads_the_user_account_and_the_profile_is_pinterests() {
    let env = setup().await;
    let tokens = env.stored_tokens();
    let settings = json!({ "client_id": env.fake.client_id() });
    let id = env
        .pin
        .identify(&tokens, &settings)
        .await
        .expect("identify");
    assert_eq!(Some(id.remote_id.clone()), env.account.remote_id);
    assert_eq!(id.handle, USER);
    assert_eq!(id.settings["account_type"], "BUSINESS");
    assert_eq!(id.settings["client_id"], env.fake.client_id().as_str());
    let profile = env.pin.oauth_profile().expect("profile");
    assert_eq!(profile.network, "pinterest");
    assert_eq!(profile.scope_separator, ",");
    assert!(profile.needs_secret);
    assert_eq!(profile.redirect_path, "/callback");
    assert_eq!(
        profile.redirect,
        outpost_auth::oauth::RedirectRule::LoopbackFixedPort(8725)
    );
    assert_eq!(profile.client_auth, outpost_auth::oauth::ClientAuth::Basic);
    assert_eq!(profile.pkce, outpost_auth::oauth::Pkce::None);
    for scope in [
        "boards:read",
        "pins:read",
        "pins:write",
        "user_accounts:read",
    ] {
        assert!(profile.scopes.contains(&scope), "{scope}");
    }
    if std::env::var("OUTPOST_PINTEREST_TOKEN_URL").is_err() {
        assert_eq!(profile.token_url, env.fake.token_url());
    }
    if std::env::var("OUTPOST_PINTEREST_AUTHORIZE_URL").is_err() {
        assert_eq!(profile.authorize_url, "https://www.pinterest.com/oauth/");
    }
}
