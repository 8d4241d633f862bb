//! The YouTube client against the test kit's fake API, over loopback HTTP: resumable uploads
//! in steps (308 handling, a restart between steps, a dropped connection, a dead session),
//! processing, hand-off scheduling, quota, refresh, reconciliation and metadata rules.

use chrono::{DateTime, Utc};
use outpost_auth::{client_secret_key, MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::youtube::{next_quota_reset, YouTube, UNIT};
use outpost_networks::{Lookup, PartOutcome, PartRequest, Publisher};
use outpost_testkit::youtube::{
    checksum_file, pacific_midnight_after, Endpoint, Fault, FaultKind, Processing, YouTubeConfig,
    YouTubeFake, YtChannel, YtTokens, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SCOPE_UPLOAD,
};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT_ID: &str = "a_yt";

struct Env {
    fake: YouTubeFake,
    store: Arc<MemoryStore>,
    yt: YouTube,
    account: Account,
    channel: YtChannel,
    tokens: YtTokens,
    dir: tempfile::TempDir,
}

fn client() -> reqwest::Client {
    outpost_networks::http::client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

fn save(store: &MemoryStore, tokens: &YtTokens) {
    OAuthTokens::from_response(
        Secret::new(tokens.access_token.clone()),
        tokens.refresh_token.clone().map(Secret::new),
        Some(tokens.expires_in),
        None,
        Some(tokens.scope.clone()),
        Utc::now(),
    )
    .save(store, ACCOUNT_ID)
    .expect("save tokens");
}

fn publisher(fake: &YouTubeFake, store: &Arc<MemoryStore>) -> YouTube {
    let secrets: Arc<dyn SecretStore> = store.clone();
    YouTube::new(fake.base_url(), secrets)
        .with_http_client(client())
        .with_chunk_size(UNIT)
        .with_step_budget(2 * UNIT as u64, Duration::from_secs(20))
        .with_processing(Duration::ZERO, chrono::Duration::minutes(20))
}

async fn setup() -> Env {
    let fake = YouTubeFake::start(YouTubeConfig::default()).await;
    let (channel, tokens) = fake.create_channel_with_tokens("alice");
    let store = Arc::new(MemoryStore::new());
    save(&store, &tokens);
    store
        .set(
            &client_secret_key("youtube"),
            &Secret::new(DEFAULT_CLIENT_SECRET),
        )
        .expect("secret");
    let yt = publisher(&fake, &store);
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::YouTube,
        handle: "alice".into(),
        remote_id: Some(channel.id.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "client_id": DEFAULT_CLIENT_ID, "uploads_playlist": channel.uploads_playlist }),
        created_at: Utc::now(),
    };
    Env {
        fake,
        store,
        yt,
        account,
        channel,
        tokens,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

struct Post {
    part: Part,
    options: Value,
    scheduled_at: Option<DateTime<Utc>>,
    intent_at: DateTime<Utc>,
}

impl Env {
    /// A "video" of `len` bytes (the client never looks inside).
    fn video(&self, name: &str, len: usize) -> MediaRef {
        let path = self.dir.path().join(name);
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        std::fs::write(&path, &bytes).expect("write video");
        MediaRef {
            path: path.display().to_string(),
            sha256: "0".repeat(64),
            mime: "video/mp4".into(),
            bytes: len as u64,
            width: Some(1280),
            height: Some(720),
            alt: None,
        }
    }

    fn post(&self, text: &str, media: MediaRef, options: Value) -> Post {
        Post {
            part: Part {
                text: text.into(),
                media: vec![media],
            },
            options,
            scheduled_at: None,
            intent_at: Utc::now(),
        }
    }

    fn req<'a>(&'a self, p: &'a Post) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: 0,
            part: &p.part,
            previous: &[],
            client_handle: None,
            intent_at: p.intent_at,
            options: &p.options,
            first_comment: None,
            scheduled_at: p.scheduled_at,
        }
    }

    fn stored(&self) -> OAuthTokens {
        OAuthTokens::load(&*self.store, ACCOUNT_ID)
            .expect("store")
            .expect("tokens are stored")
    }

    /// Neither the message nor the excerpt carries a token, and the message names YouTube.
    fn assert_clean(&self, e: &PublishError) {
        let excerpt = e.excerpt.clone().unwrap_or_default();
        let stored = self.stored();
        let mut secrets = vec![
            self.tokens.access_token.clone(),
            stored.access_token.expose().to_string(),
        ];
        secrets.extend(self.tokens.refresh_token.clone());
        for s in secrets {
            assert!(!e.message.contains(&s), "token in message: {}", e.message);
            assert!(!excerpt.contains(&s), "token in excerpt: {excerpt}");
        }
        assert!(e.message.starts_with("YouTube: "), "{}", e.message);
    }
}

/// Runs the steps the dispatcher would (start, then poll with each stored phase) until the
/// part is published or a step fails; returns the phases seen too.
async fn drive(
    yt: &YouTube,
    req: &PartRequest<'_>,
) -> (Result<PublishedPart, PublishError>, Vec<Value>) {
    let mut phases = Vec::new();
    let mut outcome = yt.start(req).await;
    for _ in 0..500 {
        match outcome {
            Ok(PartOutcome::Published(p)) => return (Ok(p), phases),
            Ok(PartOutcome::Processing { phase, .. }) => {
                phases.push(phase.clone());
                outcome = yt.poll(req, &phase).await;
            }
            Err(e) => return (Err(e), phases),
        }
    }
    panic!("the upload never finished");
}

/// Continues from a stored phase until published or an error.
async fn resume(
    yt: &YouTube,
    req: &PartRequest<'_>,
    mut phase: Value,
) -> Result<PublishedPart, PublishError> {
    for _ in 0..500 {
        match yt.poll(req, &phase).await? {
            PartOutcome::Published(p) => return Ok(p),
            PartOutcome::Processing { phase: next, .. } => phase = next,
        }
    }
    panic!("the upload never finished");
}

fn chunk_ranges(fake: &YouTubeFake) -> Vec<(u64, u64, u16)> {
    fake.sessions()
        .iter()
        .flat_map(|s| s.chunks.iter().map(|c| (c.first, c.last, c.status)))
        .collect()
}

#[tokio::test]
async fn a_multi_chunk_upload_goes_up_in_steps_and_is_byte_exact() {
    let env = setup().await;
    let len = 5 * UNIT + 12_345;
    let video = env.video("trip.mp4", len);
    let path = video.path.clone();
    let post = env.post(
        "Alpine trip\nThree days in the mountains.",
        video,
        json!({"tags": ["alps", "hiking trip"]}),
    );
    let (result, phases) = drive(&env.yt, &env.req(&post)).await;
    let part = result.expect("published");
    assert_eq!(
        part.url.as_deref(),
        Some(&*format!(
            "https://www.youtube.com/watch?v={}",
            part.remote_id
        ))
    );
    assert_eq!(part.extra["privacy"], "public");
    // The session URI was stored before any byte (the first phase, offset 0), and every
    // later phase carries the confirmed offset, 2 chunks (one step) further each time.
    assert_eq!(phases[0]["offset"], 0);
    assert_eq!(phases[0]["part"], 0);
    assert!(phases[0]["session"]
        .as_str()
        .is_some_and(|s| s.contains("upload_id=")));
    let offsets: Vec<u64> = phases
        .iter()
        .filter(|p| p["stage"] == "upload")
        .map(|p| p["offset"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(offsets, vec![0, 2 * UNIT as u64, 4 * UNIT as u64]);
    let videos = env.fake.videos();
    assert_eq!(videos.len(), 1);
    let v = &videos[0];
    assert_eq!(v.id, part.remote_id);
    assert_eq!(v.title, "Alpine trip");
    assert_eq!(v.description, "Alpine trip\nThree days in the mountains.");
    assert_eq!(v.tags, vec!["alps".to_string(), "hiking trip".to_string()]);
    assert_eq!(v.category_id, "22");
    assert!(!v.made_for_kids);
    assert_eq!(
        v.checksum,
        checksum_file(Path::new(&path)).expect("checksum")
    );
    // Chunks: 256 KiB each (a multiple of the unit), then the tail; each with its range.
    let ranges = chunk_ranges(&env.fake);
    assert_eq!(ranges.len(), 6);
    for (i, (first, last, _)) in ranges.iter().enumerate().take(5) {
        assert_eq!(*first, (i * UNIT) as u64);
        assert_eq!(*last, ((i + 1) * UNIT - 1) as u64);
    }
    assert_eq!(ranges[5].1, len as u64 - 1);
    let start = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::VideosInsert))
        .expect("session start");
    assert_eq!(
        start.header("x-upload-content-length"),
        Some(&*len.to_string())
    );
    assert_eq!(start.header("x-upload-content-type"), Some("video/mp4"));
    assert_eq!(
        start.query_param("uploadType").as_deref(),
        Some("resumable")
    );
    assert_eq!(
        part.extra["quota_units"], 1601,
        "insert + one processing check"
    );
}

#[tokio::test]
async fn a_short_308_range_is_followed_not_assumed() {
    let env = setup().await;
    let len = 6 * UNIT + 99;
    let video = env.video("ack.mp4", len);
    let path = video.path.clone();
    // The second chunk is acknowledged one unit short.
    env.fake
        .push_fault(Fault::new(Endpoint::UploadChunk, 1, FaultKind::AckLess { units: 1 }).after(1));
    let post = env.post("short acks", video, json!({}));
    let req = env.req(&post);
    let yt = publisher(&env.fake, &env.store);
    let (result, _) = drive(&yt, &req).await;
    result.expect("published");
    let ranges = chunk_ranges(&env.fake);
    // Chunk 2 covered [1u, 2u) but only [1u, 1u) + nothing was kept: the next chunk starts
    // where the server's Range ended, at 1u again.
    assert_eq!(ranges[1].0, UNIT as u64);
    assert_eq!(
        ranges[2].0, UNIT as u64,
        "resent from the server's offset: {ranges:?}"
    );
    let v = env.fake.videos();
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].checksum,
        checksum_file(Path::new(&path)).expect("checksum")
    );
}

#[tokio::test]
async fn a_new_client_resumes_from_the_stored_phase_after_a_restart() {
    let env = setup().await;
    let len = 7 * UNIT + 1;
    let video = env.video("restart.mp4", len);
    let path = video.path.clone();
    let post = env.post("restart", video, json!({}));
    let req = env.req(&post);
    // The first process: the session, then one step (two chunks), then it "dies".
    let first = publisher(&env.fake, &env.store);
    let PartOutcome::Processing { phase, .. } = first.start(&req).await.expect("start") else {
        panic!("a session first");
    };
    let PartOutcome::Processing { phase, .. } = first.poll(&req, &phase).await.expect("step")
    else {
        panic!("more to send");
    };
    assert_eq!(phase["offset"], 2 * UNIT as u64);
    drop(first);
    // The stored phase survives as JSON text, like in SQLite.
    let stored: Value = serde_json::from_str(&phase.to_string()).expect("json");
    let second = publisher(&env.fake, &env.store);
    let part = resume(&second, &req, stored).await.expect("published");
    let ranges = chunk_ranges(&env.fake);
    let starts: Vec<u64> = ranges.iter().map(|r| r.0).collect();
    let expected: Vec<u64> = (0..8).map(|i| (i * UNIT) as u64).collect();
    assert_eq!(starts, expected, "nothing was sent twice");
    assert_eq!(env.fake.count(Endpoint::VideosInsert), 1, "one session");
    let v = env.fake.videos();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].id, part.remote_id);
    assert_eq!(
        v[0].checksum,
        checksum_file(Path::new(&path)).expect("checksum")
    );
}

#[tokio::test]
async fn a_connection_dropped_mid_chunk_resumes_from_the_servers_range() {
    let env = setup().await;
    let len = 6 * UNIT + 500;
    let video = env.video("drop.mp4", len);
    let path = video.path.clone();
    // The fourth chunk breaks off after 1.5 units... of a 1-unit chunk: use 2-unit chunks.
    let yt = publisher(&env.fake, &env.store)
        .with_chunk_size(2 * UNIT)
        .with_step_budget(4 * UNIT as u64, Duration::from_secs(20));
    env.fake
        .push_fault(Fault::drop_mid_body((UNIT + UNIT / 2) as u64).after(1));
    let post = env.post("dropped", video, json!({}));
    let req = env.req(&post);
    let PartOutcome::Processing { phase, .. } = yt.start(&req).await.expect("start") else {
        panic!("session");
    };
    // Step 1: chunk [0, 2u) lands, chunk [2u, 4u) breaks after 1.5u — progress was made, so
    // the step hands back with the confirmed offset.
    let outcome = yt.poll(&req, &phase).await.expect("step with progress");
    let PartOutcome::Processing { phase, .. } = outcome else {
        panic!("not done");
    };
    assert_eq!(
        phase["offset"],
        2 * UNIT as u64,
        "the last confirmed offset"
    );
    // The server kept one more whole unit of the broken chunk: the next step asks and
    // continues from 3u.
    let part = resume(&yt, &req, phase).await.expect("published");
    let ranges = chunk_ranges(&env.fake);
    assert_eq!(ranges[1].2, 0, "the broken chunk got no answer");
    assert_eq!(
        ranges[2].0,
        3 * UNIT as u64,
        "resumed from the server's Range: {ranges:?}"
    );
    let v = env.fake.videos();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].id, part.remote_id);
    assert_eq!(
        v[0].checksum,
        checksum_file(Path::new(&path)).expect("checksum")
    );
    // A break on the first chunk of a step is a transient error (nothing moved).
    env.fake.push_fault(Fault::drop_mid_body(10));
    let post2 = env.post(
        "dropped at once",
        env.video("drop2.mp4", 3 * UNIT),
        json!({}),
    );
    let req2 = env.req(&post2);
    let PartOutcome::Processing { phase, .. } = yt.start(&req2).await.expect("start") else {
        panic!("session");
    };
    let e = yt.poll(&req2, &phase).await.expect_err("transient");
    assert!(e.class.is_transient(), "{e:?}");
    env.assert_clean(&e);
    resume(&yt, &req2, phase)
        .await
        .expect("published after the retry");
    assert_eq!(env.fake.videos().len(), 2);
}

#[tokio::test]
async fn a_dead_session_is_replaced_and_one_video_results() {
    let env = setup().await;
    let video = env.video("gone.mp4", 5 * UNIT);
    let path = video.path.clone();
    env.fake
        .push_fault(Fault::session_gone(Endpoint::UploadChunk, 404).after(2));
    let post = env.post("gone", video, json!({}));
    let (result, phases) = drive(&env.yt, &env.req(&post)).await;
    let part = result.expect("published");
    let sessions = env.fake.sessions();
    assert_eq!(sessions.len(), 2, "a new session");
    assert_eq!(sessions[0].state, "gone");
    assert_eq!(sessions[1].state, "complete");
    let uris: std::collections::BTreeSet<String> = phases
        .iter()
        .filter_map(|p| p["session"].as_str().map(str::to_string))
        .collect();
    assert_eq!(uris.len(), 2, "the new session was stored before its bytes");
    let v = env.fake.videos();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].id, part.remote_id);
    assert_eq!(
        v[0].checksum,
        checksum_file(Path::new(&path)).expect("checksum")
    );
    assert_eq!(part.extra["upload_sessions"], 2);
    assert_eq!(part.extra["quota_units"], 3201);
}

#[tokio::test]
async fn a_scheduled_post_is_handed_off_as_private_with_publish_at() {
    let env = setup().await;
    let at = Utc::now() + chrono::Duration::hours(3);
    let at = DateTime::from_timestamp(at.timestamp(), 0).expect("time");
    let mut post = env.post("later", env.video("later.mp4", UNIT + 1), json!({}));
    post.scheduled_at = Some(at);
    let (result, _) = drive(&env.yt, &env.req(&post)).await;
    let part = result.expect("published");
    let start = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::VideosInsert))
        .expect("session start");
    let body = start.body_json().expect("json");
    assert_eq!(body["status"]["privacyStatus"], "private");
    let publish_at = body["status"]["publishAt"].as_str().expect("publishAt");
    assert_eq!(
        DateTime::parse_from_rfc3339(publish_at).expect("rfc3339"),
        at
    );
    assert_eq!(
        part.extra["scheduled_on_network"],
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let notice = part.extra["notice"].as_str().unwrap_or_default();
    assert!(notice.starts_with("scheduled on YouTube for "), "{notice}");
    assert!(
        notice.contains(&at.format("%Y-%m-%d %H:%M").to_string()),
        "{notice}"
    );
    assert_eq!(env.fake.videos()[0].privacy_status, "private");
    // Unlisted posts are never handed off (publishAt would make them public).
    let mut post = env.post(
        "unlisted",
        env.video("u.mp4", 10),
        json!({"privacy": "unlisted"}),
    );
    post.scheduled_at = Some(at);
    let (result, _) = drive(&env.yt, &env.req(&post)).await;
    let part = result.expect("published");
    assert!(part.extra.get("scheduled_on_network").is_none());
    assert_eq!(part.extra["privacy"], "unlisted");
}

#[tokio::test]
async fn an_unverified_project_keeps_the_video_private_with_a_notice() {
    let env = setup().await;
    env.fake.set_unverified_project(true);
    let post = env.post("locked", env.video("l.mp4", 100), json!({}));
    let (result, _) = drive(&env.yt, &env.req(&post)).await;
    let part = result.expect("published");
    assert_eq!(part.extra["privacy"], "private");
    assert!(
        part.extra["notice"]
            .as_str()
            .is_some_and(|n| n.contains("kept the video private")),
        "{}",
        part.extra
    );
}

#[tokio::test]
async fn quota_exceeded_waits_until_midnight_pacific() {
    let env = setup().await;
    env.fake.exhaust_quota();
    let post = env.post("no quota", env.video("q.mp4", 100), json!({}));
    let e = env.yt.start(&env.req(&post)).await.expect_err("quota");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}");
    };
    let now = Utc::now();
    assert_eq!(until, pacific_midnight_after(now), "{until}");
    assert_eq!(until, next_quota_reset(now));
    assert!(e.message.contains("quota"), "{}", e.message);
    assert!(e.message.contains("midnight Pacific"), "{}", e.message);
    env.assert_clean(&e);
    assert!(env.fake.sessions().is_empty());
    // The channel's own 24-hour cap: tomorrow.
    env.fake.reset_quota();
    env.fake.set_upload_limit(&env.channel.id, Some(0));
    let e = env.yt.start(&env.req(&post)).await.expect_err("cap");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}");
    };
    assert!(until > Utc::now() + chrono::Duration::hours(23));
    assert!(e.message.contains("24-hour upload limit"), "{}", e.message);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_without_rotation_and_a_revoked_one_needs_reconnecting() {
    let env = setup().await;
    assert!(env.fake.expire_access_token(&env.tokens.access_token));
    let post = env.post("after refresh", env.video("r.mp4", 100), json!({}));
    let e = env.yt.start(&env.req(&post)).await.expect_err("401");
    assert_eq!(e.class, ErrorClass::Reauth);
    env.assert_clean(&e);
    env.yt.refresh(&env.account).await.expect("refresh");
    let stored = env.stored();
    assert_ne!(stored.access_token.expose(), env.tokens.access_token);
    assert_eq!(
        stored
            .refresh_token
            .as_ref()
            .map(|t| t.expose().to_string()),
        env.tokens.refresh_token,
        "Google does not rotate: the refresh token is kept"
    );
    let token_call = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::Token))
        .expect("token call");
    let form = String::from_utf8_lossy(&token_call.body).to_string();
    assert!(
        form.contains("client_secret="),
        "the Desktop secret is sent"
    );
    let (result, _) = drive(&env.yt, &env.req(&post)).await;
    result.expect("published with the new token");
    // Revoked: Reauth, naming the 7-day Testing trap.
    env.fake.revoke_channel_tokens(&env.channel.id);
    let e = env.yt.refresh(&env.account).await.expect_err("revoked");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("invalid_grant"), "{}", e.message);
    assert!(e.message.contains("7 days"), "{}", e.message);
    assert!(
        e.message.chars().count() <= 200,
        "fits a card: {}",
        e.message
    );
    env.assert_clean(&e);
}

#[tokio::test]
async fn metadata_rules_are_applied_before_any_request() {
    let env = setup().await;
    let long = "é".repeat(2600);
    let post = env.post(&long, env.video("m.mp4", 10), json!({}));
    let e = env.yt.start(&env.req(&post)).await.expect_err("too long");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("5,000 bytes") || e.message.contains("5000 bytes"),
        "{}",
        e.message
    );
    assert_eq!(env.fake.count(Endpoint::Any), 0, "nothing was sent");
    let e = env
        .yt
        .start(&env.req(&env.post("t", env.video("m2.mp4", 10), json!({"privacy": "friends"}))))
        .await
        .expect_err("privacy");
    assert!(
        e.message.contains("public, unlisted or private"),
        "{}",
        e.message
    );
    // Title from the first line, < > replaced; the explicit title and options win.
    let post = env.post(
        "\n<b>Launch</b> day\nSee the <details>.",
        env.video("m3.mp4", 10),
        json!({"category_id": 28, "made_for_kids": true, "notify_subscribers": false}),
    );
    let (result, _) = drive(&env.yt, &env.req(&post)).await;
    result.expect("published");
    let v = &env.fake.videos()[0];
    assert_eq!(v.title, "\u{2039}b\u{203A}Launch\u{2039}/b\u{203A} day");
    assert!(!v.description.contains('<'));
    assert_eq!(v.category_id, "28");
    assert!(v.made_for_kids);
    assert!(!v.notify_subscribers);
    let post = env.post(
        "text",
        env.video("m4.mp4", 10),
        json!({"title": "Chosen title"}),
    );
    drive(&env.yt, &env.req(&post)).await.0.expect("published");
    assert_eq!(env.fake.videos()[1].title, "Chosen title");
    // Only one video, no threads.
    let mut two = env.post("two", env.video("a.mp4", 10), json!({}));
    two.part.media.push(env.video("b.mp4", 10));
    let e = env.yt.start(&env.req(&two)).await.expect_err("two videos");
    assert!(e.message.contains("exactly one video"), "{}", e.message);
}

#[tokio::test]
async fn processing_is_polled_and_a_failed_upload_is_permanent_with_the_reason() {
    let env = setup().await;
    env.fake.set_processing(Processing::AfterPolls { polls: 3 });
    let post = env.post("slow", env.video("s.mp4", 100), json!({}));
    let (result, phases) = drive(&env.yt, &env.req(&post)).await;
    result.expect("published");
    let processing: Vec<&Value> = phases
        .iter()
        .filter(|p| p["stage"] == "processing")
        .collect();
    assert_eq!(processing.len(), 3, "{phases:?}");
    assert!(processing[0]["video_id"].is_string());
    env.fake.set_processing(Processing::Fail {
        after_polls: 1,
        reason: "codec".into(),
    });
    let post = env.post("broken", env.video("broken.mp4", 100), json!({}));
    let (result, _) = drive(&env.yt, &env.req(&post)).await;
    let e = result.expect_err("failed");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("Failed upload"), "{}", e.message);
    assert!(e.message.contains("codec"), "{}", e.message);
    assert!(e.message.contains("broken.mp4"), "{}", e.message);
    env.fake.set_processing(Processing::Reject {
        after_polls: 0,
        reason: "duplicate".into(),
    });
    let post = env.post("dup", env.video("dup.mp4", 100), json!({}));
    let e = drive(&env.yt, &env.req(&post))
        .await
        .0
        .expect_err("rejected");
    assert!(e.message.contains("duplicate"), "{}", e.message);
}

#[tokio::test]
async fn no_answer_to_the_last_chunk_is_unknown_and_the_lookup_finds_the_video() {
    let env = setup().await;
    let post = env.post("in doubt", env.video("d.mp4", UNIT + 10), json!({}));
    let req = env.req(&post);
    // The last chunk completes the upload, then the connection drops.
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::UploadChunk, 1).after(1));
    let (result, _) = drive(&env.yt, &req).await;
    let e = result.expect_err("no answer");
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e:?}");
    env.assert_clean(&e);
    // Same process: the session says it is complete.
    let Lookup::Found(part) = env.yt.lookup(&req).await.expect("lookup") else {
        panic!("found");
    };
    let videos = env.fake.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(part.remote_id, videos[0].id);
    // After a restart (no memory of the session): the uploads playlist has it.
    let fresh = publisher(&env.fake, &env.store);
    let Lookup::Found(part) = fresh.lookup(&req).await.expect("lookup") else {
        panic!("found in the uploads");
    };
    assert_eq!(part.remote_id, videos[0].id);
    // Something never uploaded is provably absent.
    let other = env.post("never sent", env.video("n.mp4", 10), json!({}));
    assert_eq!(
        fresh.lookup(&env.req(&other)).await.expect("lookup"),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn an_incomplete_session_is_not_found_and_resumes() {
    let env = setup().await;
    let post = env.post("half", env.video("h.mp4", 4 * UNIT), json!({}));
    let req = env.req(&post);
    let PartOutcome::Processing { phase, .. } = env.yt.start(&req).await.expect("start") else {
        panic!("session");
    };
    let PartOutcome::Processing { phase, .. } = env.yt.poll(&req, &phase).await.expect("step")
    else {
        panic!("more");
    };
    assert_eq!(env.yt.lookup(&req).await.expect("lookup"), Lookup::NotFound);
    resume(&env.yt, &req, phase).await.expect("published");
    assert_eq!(env.fake.videos().len(), 1);
}

#[tokio::test]
async fn a_thumbnail_is_set_and_a_refusal_is_only_a_notice() {
    let env = setup().await;
    let thumb = env.dir.path().join("cover.jpg");
    std::fs::write(&thumb, vec![0xFF; 4000]).expect("thumb");
    let options = json!({"thumbnail_path": thumb.display().to_string()});
    let post = env.post("with cover", env.video("c.mp4", 100), options.clone());
    let part = drive(&env.yt, &env.req(&post)).await.0.expect("published");
    assert_eq!(part.extra["thumbnail"], "set");
    assert_eq!(
        env.fake.videos()[0].thumbnail.as_ref().map(|t| t.0),
        Some(4000)
    );
    env.fake.set_channel_verified(&env.channel.id, false);
    let post = env.post("unverified", env.video("c2.mp4", 100), options);
    let part = drive(&env.yt, &env.req(&post))
        .await
        .0
        .expect("still published");
    let notice = part.extra["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("thumbnail was not set"), "{notice}");
    // A missing thumbnail file fails before the upload.
    let post = env.post(
        "missing",
        env.video("c3.mp4", 100),
        json!({"thumbnail_path": "/nowhere/cover.png"}),
    );
    let e = env.yt.start(&env.req(&post)).await.expect_err("missing");
    assert!(e.message.contains("cover.png"), "{}", e.message);
}

#[tokio::test]
async fn identify_names_the_channel_and_checks_the_granted_scopes() {
    let env = setup().await;
    let tokens = env.stored();
    let who = env
        .yt
        .identify(&tokens, &json!({}))
        .await
        .expect("identify");
    assert_eq!(who.remote_id, env.channel.id);
    assert_eq!(who.handle, "alice");
    assert_eq!(
        who.settings["uploads_playlist"],
        env.channel.uploads_playlist.as_str()
    );
    let mut partial = tokens.clone();
    partial.scope = Some("https://www.googleapis.com/auth/youtube.readonly".into());
    let e = env
        .yt
        .identify(&partial, &json!({}))
        .await
        .expect_err("scope");
    assert!(
        e.message.contains("Manage your YouTube videos"),
        "{}",
        e.message
    );
    let (_, none) = env.fake.create_account_without_channel("bob");
    let t = OAuthTokens::from_response(
        Secret::new(none.access_token),
        None,
        None,
        None,
        Some(none.scope),
        Utc::now(),
    );
    let e = env
        .yt
        .identify(&t, &json!({}))
        .await
        .expect_err("no channel");
    assert!(e.message.contains("no YouTube channel"), "{}", e.message);
    let upload_only = env
        .fake
        .issue_tokens(&env.channel.id, &[SCOPE_UPLOAD])
        .expect("tokens");
    let t = OAuthTokens::from_response(
        Secret::new(upload_only.access_token),
        None,
        None,
        None,
        None,
        Utc::now(),
    );
    let e = env
        .yt
        .identify(&t, &json!({}))
        .await
        .expect_err("no read scope");
    assert!(
        e.message.contains("View your YouTube account"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn the_oauth_profile_is_googles_installed_app_flow() {
    let env = setup().await;
    let p = env.yt.oauth_profile().expect("profile");
    assert_eq!(p.network, "youtube");
    assert_eq!(
        p.authorize_url,
        format!("{}/o/oauth2/v2/auth", env.fake.base_url())
    );
    assert_eq!(p.token_url, format!("{}/token", env.fake.base_url()));
    assert_eq!(p.pkce, outpost_auth::oauth::Pkce::S256);
    assert_eq!(
        p.redirect,
        outpost_auth::oauth::RedirectRule::LoopbackAnyPort
    );
    assert!(p.needs_secret);
    assert!(p.scopes.contains(&SCOPE_UPLOAD));
    assert!(p
        .extra_authorize_params
        .contains(&("access_type", "offline".to_string())));
    assert!(p
        .extra_authorize_params
        .contains(&("prompt", "consent".to_string())));
    let real = YouTube::new(
        outpost_networks::youtube::DEFAULT_BASE_URL,
        Arc::new(MemoryStore::new()),
    );
    assert_eq!(real.token_url(), "https://oauth2.googleapis.com/token");
}

#[tokio::test]
async fn server_errors_are_transient_and_resume_the_same_session() {
    let env = setup().await;
    let video = env.video("flaky.mp4", 3 * UNIT);
    let path = video.path.clone();
    env.fake
        .push_fault(Fault::status(Endpoint::UploadChunk, 1, 503));
    let post = env.post("flaky", video, json!({}));
    let req = env.req(&post);
    let PartOutcome::Processing { phase, .. } = env.yt.start(&req).await.expect("start") else {
        panic!("session");
    };
    let e = env.yt.poll(&req, &phase).await.expect_err("503");
    assert!(e.class.is_transient(), "{e:?}");
    env.assert_clean(&e);
    resume(&env.yt, &req, phase).await.expect("published");
    assert_eq!(
        env.fake.count(Endpoint::VideosInsert),
        1,
        "never re-inserted"
    );
    assert_eq!(
        env.fake.videos()[0].checksum,
        checksum_file(Path::new(&path)).expect("checksum")
    );
}
