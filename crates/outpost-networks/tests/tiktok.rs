//! The TikTok client against the test kit's fake API, over loopback HTTP: chunked uploads cut
//! into steps (exact ranges, resumption by a new client, dropped connections, expired upload
//! addresses, a lost last answer), creator-info checks, unaudited apps, inbox mode, processing
//! failures, photo posts by URL, token refresh with rotation and the error classes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use outpost_auth::{client_secret_key, MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::tiktok::{TikTok, INBOX_NOTICE, UNAUDITED_NOTICE};
use outpost_networks::{Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use outpost_testkit::media::{Mp4, Mp4Track};
use outpost_testkit::tiktok::{
    Endpoint, Fault, StatusPlan, TikTokConfig, TikTokFake, TikTokTokens, TikTokUser,
    DEFAULT_CLIENT_KEY, DEFAULT_CLIENT_SECRET,
};

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT_ID: &str = "a_tiktok";
/// The smallest chunk the client uses (5 MiB).
const CHUNK: u64 = 5 * 1024 * 1024;

struct Env {
    fake: TikTokFake,
    store: Arc<MemoryStore>,
    account: Account,
    user: TikTokUser,
    tokens: TikTokTokens,
    dir: tempfile::TempDir,
}

fn http() -> reqwest::Client {
    outpost_networks::http::client_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn save(store: &MemoryStore, tokens: &TikTokTokens) {
    OAuthTokens::from_response(
        Secret::new(tokens.access_token.clone()),
        Some(Secret::new(tokens.refresh_token.clone())),
        Some(tokens.expires_in),
        Some(tokens.refresh_expires_in),
        Some(tokens.scope.clone()),
        Utc::now(),
    )
    .save(store, ACCOUNT_ID)
    .expect("save tokens");
}

async fn setup_with(cfg: TikTokConfig) -> Env {
    let fake = TikTokFake::start(cfg).await;
    let (user, tokens) = fake.create_user_with_tokens("alice");
    let store = Arc::new(MemoryStore::new());
    save(&store, &tokens);
    store
        .set(
            &client_secret_key("tiktok"),
            &Secret::new(DEFAULT_CLIENT_SECRET),
        )
        .expect("secret");
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::TikTok,
        handle: "alice".into(),
        remote_id: Some(user.open_id.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "client_id": DEFAULT_CLIENT_KEY }),
        created_at: Utc::now(),
    };
    Env {
        fake,
        store,
        account,
        user,
        tokens,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

async fn setup() -> Env {
    setup_with(TikTokConfig::default()).await
}

fn public() -> Value {
    json!({ "privacy_level": "PUBLIC_TO_EVERYONE" })
}

impl Env {
    /// A new client (as after a restart): same store, same fake.
    fn client(&self) -> TikTok {
        let secrets: Arc<dyn SecretStore> = self.store.clone();
        TikTok::new(self.fake.base_url(), secrets)
            .with_http_client(http())
            .with_chunk_size(CHUNK)
            .with_status_interval(Duration::from_millis(10))
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

    /// A valid MP4 of `seconds` whose `mdat` makes it `size` bytes, filled with a pattern so
    /// chunk boundaries show.
    fn video(&self, name: &str, seconds: u32, size: usize) -> (MediaRef, Vec<u8>) {
        let mut mp4 = Mp4::new(
            seconds,
            vec![
                Mp4Track::video(b"avc1", 1280, 720, seconds, 30),
                Mp4Track::audio(seconds),
            ],
        );
        mp4.mdat_len = 0;
        let head = mp4.build().len();
        mp4.mdat_len = size.saturating_sub(head);
        let mut bytes = mp4.build();
        let start = bytes.len() - mp4.mdat_len;
        for (i, b) in bytes[start..].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let path = self.dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        (
            MediaRef {
                path: path.to_string_lossy().into_owned(),
                sha256: "a".repeat(64),
                mime: "video/mp4".into(),
                bytes: bytes.len() as u64,
                width: Some(1280),
                height: Some(720),
                alt: None,
            },
            bytes,
        )
    }

    fn photo(&self, name: &str, sha: &str) -> MediaRef {
        let path = self.dir.path().join(name);
        std::fs::write(&path, JPEG).expect("write");
        MediaRef {
            path: path.to_string_lossy().into_owned(),
            sha256: sha.into(),
            mime: "image/jpeg".into(),
            bytes: JPEG.len() as u64,
            width: Some(1080),
            height: Some(1080),
            alt: None,
        }
    }

    fn stored(&self) -> OAuthTokens {
        OAuthTokens::load(&*self.store, ACCOUNT_ID)
            .expect("store")
            .expect("tokens are stored")
    }

    /// Neither the message nor the excerpt carries a token, and the message names TikTok.
    fn assert_clean(&self, e: &PublishError) {
        let excerpt = e.excerpt.clone().unwrap_or_default();
        let stored = self.stored();
        let mut secrets = vec![
            self.tokens.access_token.clone(),
            self.tokens.refresh_token.clone(),
            stored.access_token.expose().to_string(),
        ];
        secrets.extend(stored.refresh_token.map(|t| t.expose().to_string()));
        for s in secrets {
            assert!(!e.message.contains(&s), "token in message: {}", e.message);
            assert!(!excerpt.contains(&s), "token in excerpt: {excerpt}");
        }
        assert!(!e.message.contains("upload_token"), "{}", e.message);
        assert!(e.message.starts_with("TikTok: "), "{}", e.message);
    }
}

/// A few bytes that start like a JPEG (all the fake checks).
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

fn video_part(m: MediaRef) -> Part {
    Part {
        text: "a video #fyp".into(),
        media: vec![m],
    }
}

fn phase_of(outcome: PartOutcome) -> Value {
    match outcome {
        PartOutcome::Processing { phase, .. } => phase,
        PartOutcome::Published(p) => panic!("expected processing, got published {p:?}"),
    }
}

/// Steps until published (bounded), the way the dispatcher would.
async fn drive(
    tt: &TikTok,
    req: &PartRequest<'_>,
    mut outcome: PartOutcome,
) -> Result<PublishedPart, PublishError> {
    for _ in 0..200 {
        match outcome {
            PartOutcome::Published(p) => return Ok(p),
            PartOutcome::Processing { phase, .. } => {
                outcome = tt.poll(req, &phase).await?;
            }
        }
    }
    panic!("never published")
}

async fn run(tt: &TikTok, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
    let first = tt.start(req).await?;
    drive(tt, req, first).await
}

fn upload_puts(env: &Env) -> Vec<outpost_testkit::tiktok::TikTokRequest> {
    env.fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::Upload))
        .collect()
}

#[tokio::test]
async fn a_video_goes_up_in_several_chunks_with_exact_ranges() {
    let env = setup().await;
    let tt = env.client();
    let (m, bytes) = env.video("clip.mp4", 20, 16_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    let first = tt.start(&req).await.expect("start");
    let phase = phase_of(first.clone());
    assert_eq!(phase["part"], 0);
    assert_eq!(phase["stage"], "upload");
    assert_eq!(phase["next_chunk"], 0);
    assert!(phase["upload_url"].is_string());
    assert!(phase.get("expires_at").is_none());
    assert!(upload_puts(&env).is_empty(), "start sends no chunk");
    let part_out = drive(&tt, &req, first).await.expect("published");

    // 16,000,000 bytes in chunks of 5 MiB: 3 chunks, the last absorbing the remainder.
    let publishes = env.fake.publishes();
    assert_eq!(publishes.len(), 1);
    let p = &publishes[0];
    assert_eq!(
        (p.video_size, p.chunk_size, p.total_chunks),
        (16_000_000, CHUNK, 3)
    );
    let init = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::VideoInit))
        .expect("init");
    let body = init.body_json().expect("json");
    assert_eq!(body["post_info"]["title"], "a video #fyp");
    assert_eq!(body["post_info"]["privacy_level"], "PUBLIC_TO_EVERYONE");
    assert_eq!(body["post_info"]["brand_content_toggle"], false);
    assert_eq!(body["source_info"]["total_chunk_count"], 3);
    assert_eq!(
        init.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let puts = upload_puts(&env);
    let ranges: Vec<(Option<&str>, Option<&str>)> = puts
        .iter()
        .map(|r| (r.header("content-range"), r.header("content-length")))
        .collect();
    assert_eq!(
        ranges,
        [
            (Some("bytes 0-5242879/16000000"), Some("5242880")),
            (Some("bytes 5242880-10485759/16000000"), Some("5242880")),
            (Some("bytes 10485760-15999999/16000000"), Some("5514240")),
        ]
    );
    for r in &puts {
        assert_eq!(r.header("content-type"), Some("video/mp4"));
        assert!(r.header("transfer-encoding").is_none(), "a sized body");
        assert!(
            r.header("authorization").is_none(),
            "no token to the upload host"
        );
    }
    assert_eq!(env.fake.upload_bytes(&p.publish_id).expect("kept"), bytes);
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let post_id = posts[0].public_post_id.clone().expect("moderated");
    assert_eq!(part_out.remote_id, post_id);
    assert_eq!(
        part_out.url.as_deref(),
        Some(format!("https://www.tiktok.com/@alice/video/{post_id}").as_str())
    );
    assert_eq!(part_out.extra["publish_id"], p.publish_id.as_str());
    assert!(part_out.extra.get("notice").is_none());
}

#[tokio::test]
async fn a_new_client_continues_from_the_stored_phase_and_one_video_results() {
    let env = setup().await;
    let (m, bytes) = env.video("resume.mp4", 20, 16_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    let phase = {
        let a = env.client();
        let started = a.start(&req).await.expect("start");
        let after_one = a.poll(&req, &phase_of(started)).await.expect("chunk 1");
        phase_of(after_one)
        // `a` is gone: the process "restarts".
    };
    assert_eq!(phase["next_chunk"], 1);
    assert_eq!(phase["offset"], CHUNK);
    let stored: Value = serde_json::from_str(&phase.to_string()).expect("json");
    let b = env.client();
    let out = drive(
        &b,
        &req,
        PartOutcome::Processing {
            phase: stored,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    let publishes = env.fake.publishes();
    assert_eq!(publishes.len(), 1, "no new init");
    assert_eq!(env.fake.posts().len(), 1);
    let puts = env.fake.chunk_puts(&publishes[0].publish_id);
    let firsts: Vec<u64> = puts.iter().map(|p| p.first).collect();
    assert_eq!(firsts, [0, CHUNK, 2 * CHUNK], "no chunk sent twice");
    assert_eq!(
        env.fake
            .upload_bytes(&publishes[0].publish_id)
            .expect("kept"),
        bytes
    );
    assert_eq!(out.extra["publish_id"], publishes[0].publish_id.as_str());
}

#[tokio::test]
async fn a_stale_phase_is_resynchronised_from_tiktoks_range() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("stale.mp4", 20, 16_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    let at_zero = phase_of(tt.start(&req).await.expect("start"));
    let at_one = phase_of(tt.poll(&req, &at_zero).await.expect("chunk 1"));
    let _at_two = phase_of(tt.poll(&req, &at_one).await.expect("chunk 2"));
    // The process died before it stored `_at_two`: the next step uses `at_one`.
    let next = tt.poll(&req, &at_one).await.expect("resync");
    let next = phase_of(next);
    assert_eq!(next["next_chunk"], 2, "TikTok's 416 range moved it on");
    drive(
        &tt,
        &req,
        PartOutcome::Processing {
            phase: next,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    let puts = env.fake.chunk_puts(&env.fake.publishes()[0].publish_id);
    assert_eq!(
        puts.iter().map(|p| (p.index, p.status)).collect::<Vec<_>>(),
        [(0, 206), (1, 206), (1, 416), (2, 201)]
    );
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn a_connection_dropped_mid_chunk_fails_the_step_transiently_and_the_chunk_is_sent_again() {
    let env = setup().await;
    let tt = env.client();
    let (m, bytes) = env.video("drop.mp4", 20, 16_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    env.fake.push_fault(Fault::drop_mid_chunk(1, 1_000_000));
    let p0 = phase_of(tt.start(&req).await.expect("start"));
    let p1 = phase_of(tt.poll(&req, &p0).await.expect("chunk 1"));
    let e = tt.poll(&req, &p1).await.expect_err("dropped");
    assert!(e.class.is_transient(), "{e:?}");
    env.assert_clean(&e);
    // The dispatcher keeps the phase: the next step sends chunk 2 again.
    let p2 = phase_of(tt.poll(&req, &p1).await.expect("chunk 2 again"));
    assert_eq!(p2["next_chunk"], 2);
    drive(
        &tt,
        &req,
        PartOutcome::Processing {
            phase: p2,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    let id = env.fake.publishes()[0].publish_id.clone();
    let puts = env.fake.chunk_puts(&id);
    assert_eq!(
        puts.iter()
            .map(|p| (p.index, p.committed))
            .collect::<Vec<_>>(),
        [(0, true), (1, false), (1, true), (2, true)]
    );
    assert_eq!(env.fake.upload_bytes(&id).expect("kept"), bytes);
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn a_server_error_on_a_chunk_is_transient_and_the_same_chunk_goes_again() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("flaky.mp4", 20, 12_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    env.fake
        .push_fault(Fault::status(Endpoint::Upload, 1, 503).on_chunk(1));
    let p0 = phase_of(tt.start(&req).await.expect("start"));
    let p1 = phase_of(tt.poll(&req, &p0).await.expect("chunk 1"));
    let e = tt.poll(&req, &p1).await.expect_err("503");
    assert!(e.class.is_transient(), "{e:?}");
    assert!(e.message.contains("same part"), "{}", e.message);
    drive(
        &tt,
        &req,
        PartOutcome::Processing {
            phase: p1,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn a_lost_answer_to_the_last_chunk_is_found_by_the_next_step() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("last.mp4", 20, 12_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::Upload, 1).on_chunk(1));
    let p0 = phase_of(tt.start(&req).await.expect("start"));
    let p1 = phase_of(tt.poll(&req, &p0).await.expect("chunk 1"));
    let e = tt.poll(&req, &p1).await.expect_err("no answer");
    assert!(e.class.is_transient(), "{e:?}");
    let next = phase_of(tt.poll(&req, &p1).await.expect("resync"));
    assert_eq!(next["stage"], "status");
    drive(
        &tt,
        &req,
        PartOutcome::Processing {
            phase: next,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    assert_eq!(env.fake.publishes().len(), 1);
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn an_expired_upload_address_starts_a_new_upload() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("slow.mp4", 20, 12_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    let p0 = phase_of(tt.start(&req).await.expect("start"));
    let p1 = phase_of(tt.poll(&req, &p0).await.expect("chunk 1"));
    // An hour passes on TikTok's side (the 24 h token still works).
    env.fake.advance_time(chrono::Duration::minutes(61));
    let p = phase_of(tt.poll(&req, &p1).await.expect("re-init"));
    assert_eq!(p["next_chunk"], 0);
    assert_eq!(p["restarts"], 1);
    assert_ne!(p["publish_id"], p1["publish_id"]);
    let new_id = p["publish_id"].as_str().expect("id").to_string();
    drive(
        &tt,
        &req,
        PartOutcome::Processing {
            phase: p,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    assert_eq!(env.fake.publishes().len(), 2);
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1, "one video");
    assert_eq!(posts[0].publish_id, new_id);
}

#[tokio::test]
async fn an_unaudited_app_posts_privately_and_says_so() {
    let env = setup().await;
    env.fake.set_audited(false);
    env.fake.set_private_account(&env.user.open_id, true);
    let tt = env.client();
    let (m, _) = env.video("private.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    let out = run(&tt, &req).await.expect("published");
    assert_eq!(out.extra["notice"], UNAUDITED_NOTICE);
    assert_eq!(out.extra["privacy_level"], "SELF_ONLY");
    assert!(out.url.is_none(), "a private post has no public id");
    let posts = env.fake.posts();
    assert_eq!(posts[0].privacy_level(), Some("SELF_ONLY"));

    // A public account cannot take posts from an unaudited app at all.
    env.fake.set_private_account(&env.user.open_id, false);
    let e = run(&tt, &req).await.expect_err("refused");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("private"), "{}", e.message);
    env.assert_clean(&e);
}

#[tokio::test]
async fn an_init_refused_for_an_unaudited_app_is_sent_again_as_self_only() {
    let env = setup().await;
    env.fake.push_fault(Fault::error(
        Endpoint::VideoInit,
        1,
        403,
        "unaudited_client_can_only_post_to_private_accounts",
    ));
    let tt = env.client();
    let (m, _) = env.video("fallback.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    let out = run(&tt, &req).await.expect("published");
    assert_eq!(out.extra["notice"], UNAUDITED_NOTICE);
    let inits: Vec<Value> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::VideoInit))
        .filter_map(|r| r.body_json())
        .collect();
    assert_eq!(inits.len(), 2);
    assert_eq!(inits[0]["post_info"]["privacy_level"], "PUBLIC_TO_EVERYONE");
    assert_eq!(inits[1]["post_info"]["privacy_level"], "SELF_ONLY");
}

#[tokio::test]
async fn inbox_mode_sends_a_draft_to_the_creator() {
    // The upload address is on another host name than the API (as TikTok's is).
    let env = setup_with(TikTokConfig {
        upload_host: Some("localhost".into()),
        ..TikTokConfig::default()
    })
    .await;
    let tt = env.client();
    let (m, _) = env.video("draft.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = json!({ "mode": "inbox" });
    let req = env.req(&part, &options);
    let out = run(&tt, &req).await.expect("delivered");
    assert_eq!(out.extra["notice"], INBOX_NOTICE);
    assert_eq!(out.extra["mode"], "inbox");
    let init = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::InboxInit))
        .expect("inbox init");
    let body = init.body_json().expect("json");
    assert!(body.get("post_info").is_none(), "{body}");
    assert_eq!(body["source_info"]["source"], "FILE_UPLOAD");
    let put = upload_puts(&env).pop().expect("a chunk");
    assert!(
        put.header("host")
            .is_some_and(|h| h.starts_with("localhost:")),
        "{put:?}"
    );
    let posts = env.fake.posts();
    assert_eq!((posts.len(), posts[0].mode.as_str()), (1, "inbox"));
    assert_eq!(posts[0].status, "SEND_TO_USER_INBOX");
}

#[tokio::test]
async fn a_failed_post_is_permanent_with_tiktoks_reason_and_internal_failures_start_again() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("bad.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    env.fake.set_default_plan(StatusPlan::Fail {
        processing_polls: 1,
        fail_reason: "frame_rate_check_failed".into(),
    });
    let e = run(&tt, &req).await.expect_err("failed");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("frame_rate_check_failed"),
        "{}",
        e.message
    );
    assert!(e.message.contains("bad.mp4"), "{}", e.message);
    assert!(env.fake.posts().is_empty());

    // `internal` is retryable: a new init, and the video goes out once.
    env.fake.set_default_plan(StatusPlan::Fail {
        processing_polls: 0,
        fail_reason: "internal".into(),
    });
    let p = phase_of(tt.start(&req).await.expect("start"));
    let p = phase_of(tt.poll(&req, &p).await.expect("chunk"));
    env.fake.set_default_plan(StatusPlan::Complete {
        processing_polls: 0,
    });
    let p = phase_of(tt.poll(&req, &p).await.expect("FAILED internal → new init"));
    assert_eq!(p["restarts"], 1);
    drive(
        &tt,
        &req,
        PartOutcome::Processing {
            phase: p,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn a_video_longer_than_the_creator_may_post_is_refused_before_any_upload() {
    let env = setup().await;
    env.fake.set_max_duration(&env.user.open_id, 60);
    let tt = env.client();
    let (m, _) = env.video("long.mp4", 95, 3_000_000);
    let part = video_part(m);
    let options = public();
    let e = tt
        .start(&env.req(&part, &options))
        .await
        .expect_err("too long");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("1 min 35 s"), "{}", e.message);
    assert!(e.message.contains("up to 1 min"), "{}", e.message);
    assert!(
        e.message.contains("max_video_post_duration_sec = 60"),
        "{}",
        e.message
    );
    assert_eq!(env.fake.count(Endpoint::VideoInit), 0);
    assert!(env.fake.publishes().is_empty());
}

#[tokio::test]
async fn privacy_must_be_chosen_and_the_creators_switches_win() {
    let env = setup().await;
    env.fake
        .update_user(&env.user.open_id, |u| u.comment_disabled = true);
    let tt = env.client();
    let (m, _) = env.video("switches.mp4", 20, 3_000_000);
    let part = video_part(m);
    let none = json!({});
    let e = tt
        .start(&env.req(&part, &none))
        .await
        .expect_err("no privacy");
    assert!(e.message.contains("privacy_level"), "{}", e.message);
    assert!(e.message.contains("PUBLIC_TO_EVERYONE"), "{}", e.message);
    let friends = json!({"privacy_level": "MUTUAL_FOLLOW_FRIENDS", "disable_duet": true});
    run(&tt, &env.req(&part, &friends))
        .await
        .expect("published");
    let init = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::VideoInit))
        .and_then(|r| r.body_json())
        .expect("init");
    assert_eq!(init["post_info"]["disable_comment"], true);
    assert_eq!(init["post_info"]["disable_duet"], true);
    assert_eq!(init["post_info"]["disable_stitch"], false);
    assert_eq!(init["post_info"]["privacy_level"], "MUTUAL_FOLLOW_FRIENDS");
    let bad = json!({"privacy_level": "FOLLOWER_OF_CREATOR"});
    let e = tt
        .start(&env.req(&part, &bad))
        .await
        .expect_err("not offered");
    assert!(
        e.message
            .contains("cannot post with privacy_level FOLLOWER_OF_CREATOR"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn parts_outside_tiktoks_rules_are_refused_before_any_request() {
    let env = setup().await;
    let tt = env.client();
    let options = public();
    let none = Part {
        text: "just text".into(),
        media: vec![],
    };
    let e = tt
        .start(&env.req(&none, &options))
        .await
        .expect_err("no media");
    assert!(
        e.message.contains("TikTok only supports video content"),
        "{}",
        e.message
    );
    let (v, _) = env.video("v.mp4", 10, 100_000);
    let mixed = Part {
        text: "mixed".into(),
        media: vec![v.clone(), env.photo("p.jpg", &"b".repeat(64))],
    };
    let e = tt
        .start(&env.req(&mixed, &options))
        .await
        .expect_err("mixed");
    assert!(e.message.contains("images and a video"), "{}", e.message);
    let mut png = env.photo("p.png", &"c".repeat(64));
    png.mime = "image/png".into();
    let e = tt
        .start(&env.req(
            &Part {
                text: String::new(),
                media: vec![png],
            },
            &options,
        ))
        .await
        .expect_err("png");
    assert!(e.message.contains("JPEG or WebP"), "{}", e.message);
    let long = Part {
        text: "é".repeat(2201),
        media: vec![v],
    };
    let e = tt
        .start(&env.req(&long, &options))
        .await
        .expect_err("caption");
    assert!(e.message.contains("2200"), "{}", e.message);
    assert_eq!(env.fake.count(Endpoint::Any), 0);
}

#[tokio::test]
async fn photo_posts_go_by_url_and_need_the_staged_addresses() {
    let env = setup().await;
    let tt = env.client();
    let media = media_server().await;
    let a = env.photo("a.jpg", &"1".repeat(64));
    let b = env.photo("b.jpg", &"2".repeat(64));
    let part = Part {
        text: "two photos".into(),
        media: vec![a, b],
    };
    assert_eq!(tt.media_by_url(&part, &json!({})), MediaByUrl::Required);
    let (v, _) = env.video("v.mp4", 10, 100_000);
    assert_eq!(tt.media_by_url(&video_part(v), &json!({})), MediaByUrl::No);
    let unstaged = public();
    let e = tt
        .start(&env.req(&part, &unstaged))
        .await
        .expect_err("no urls");
    assert!(e.message.contains("staging bucket"), "{}", e.message);
    let options = json!({
        "privacy_level": "PUBLIC_TO_EVERYONE",
        "title": "Two",
        "media_urls": {"1".repeat(64): format!("{media}/a.jpg"), "2".repeat(64): format!("{media}/b.jpg")},
    });
    let out = run(&tt, &env.req(&part, &options))
        .await
        .expect("published");
    assert!(
        out.url.as_deref().is_some_and(|u| u.contains("/photo/")),
        "{out:?}"
    );
    let init = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::ContentInit))
        .and_then(|r| r.body_json())
        .expect("content init");
    assert_eq!(init["media_type"], "PHOTO");
    assert_eq!(init["post_mode"], "DIRECT_POST");
    assert_eq!(init["post_info"]["title"], "Two");
    assert_eq!(init["post_info"]["description"], "two photos");
    assert_eq!(
        init["source_info"]["photo_images"],
        json!([format!("{media}/a.jpg"), format!("{media}/b.jpg")])
    );
    assert_eq!(env.fake.posts()[0].kind, "photo");
}

#[tokio::test]
async fn the_publish_id_known_to_the_process_answers_the_lookup() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("lookup.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    // Nothing started: a video upload can always be repeated safely.
    assert_eq!(tt.lookup(&req).await.expect("lookup"), Lookup::NotFound);
    let p = phase_of(tt.start(&req).await.expect("start"));
    assert_eq!(tt.lookup(&req).await.expect("lookup"), Lookup::NotFound);
    drive(
        &tt,
        &req,
        PartOutcome::Processing {
            phase: p,
            poll_after: Duration::ZERO,
        },
    )
    .await
    .expect("published");
    match tt.lookup(&req).await.expect("lookup") {
        Lookup::Found(part) => assert_eq!(
            part.extra["publish_id"],
            env.fake.publishes()[0].publish_id.as_str()
        ),
        other => panic!("{other:?}"),
    }
    // A photo post whose init got no answer cannot be looked up.
    let photo = Part {
        text: "p".into(),
        media: vec![env.photo("x.jpg", &"9".repeat(64))],
    };
    let other_req = PartRequest {
        target_id: "t_2",
        ..env.req(&photo, &options)
    };
    assert!(matches!(
        tt.lookup(&other_req).await.expect("lookup"),
        Lookup::CannotTell(_)
    ));
}

#[tokio::test]
async fn no_answer_to_the_init_is_an_unknown_outcome() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("doubt.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::VideoInit, 1));
    let e = tt.start(&req).await.expect_err("no answer");
    assert_eq!(e.class, ErrorClass::UnknownOutcome);
    // FILE_UPLOAD posts nothing before its chunks: the lookup says a new start is safe.
    assert_eq!(tt.lookup(&req).await.expect("lookup"), Lookup::NotFound);
    run(&tt, &req).await.expect("published");
    assert_eq!(env.fake.publishes().len(), 2);
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn errors_are_classified_per_tiktoks_table() {
    let env = setup().await;
    let tt = env.client();
    let (m, _) = env.video("errs.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = public();
    let req = env.req(&part, &options);

    env.fake
        .push_fault(Fault::rate_limited(Endpoint::CreatorInfo, 1, None));
    let e = tt.start(&req).await.expect_err("429");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}")
    };
    let wait = (until - Utc::now()).num_seconds();
    assert!((55..=61).contains(&wait), "a minute: {wait}");
    env.assert_clean(&e);

    env.fake
        .push_fault(Fault::rate_limited(Endpoint::VideoInit, 1, Some(3)));
    let e = tt.start(&req).await.expect_err("429 with Retry-After");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}")
    };
    assert!((until - Utc::now()).num_seconds() <= 3);

    env.fake.push_fault(Fault::error(
        Endpoint::CreatorInfo,
        1,
        200,
        "spam_risk_too_many_posts",
    ));
    let e = tt.start(&req).await.expect_err("daily cap under HTTP 200");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}")
    };
    assert!((until - Utc::now()).num_hours() >= 23);
    assert!(e.message.contains("daily posting limit"), "{}", e.message);

    env.fake.push_fault(Fault::error(
        Endpoint::VideoInit,
        1,
        403,
        "spam_risk_user_banned_from_posting",
    ));
    assert_eq!(
        tt.start(&req).await.expect_err("banned").class,
        ErrorClass::Permanent
    );

    env.fake
        .push_fault(Fault::status(Endpoint::CreatorInfo, 1, 500));
    assert!(tt.start(&req).await.expect_err("500").class.is_transient());

    // Without video.publish: permanent, naming the scope.
    let t = env
        .fake
        .issue_tokens(&env.user.open_id, &["user.info.basic", "video.upload"])
        .expect("tokens");
    save(&env.store, &t);
    let e = tt.start(&req).await.expect_err("scope");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("video.publish"), "{}", e.message);

    // An expired token: reauth (the dispatcher refreshes, then tries again).
    env.fake.expire_access_token(&t.access_token);
    let e = tt.start(&req).await.expect_err("401");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("access_token_invalid"), "{}", e.message);
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_saves_the_new_pair() {
    let env = setup_with(TikTokConfig::short_lived()).await;
    let tt = env.client();
    env.fake.expire_access_token(&env.tokens.access_token);
    tt.refresh(&env.account).await.expect("refresh");
    let stored = env.stored();
    assert_ne!(stored.access_token.expose(), env.tokens.access_token);
    let rotated = stored.refresh_token.clone().expect("refresh token");
    assert_ne!(rotated.expose(), env.tokens.refresh_token);
    assert!(!env.fake.refresh_token_is_live(&env.tokens.refresh_token));
    let left = stored.expires_at.expect("expiry") - Utc::now();
    assert!((7100..=7200).contains(&left.num_seconds()), "{left}");
    assert!(stored.refresh_expires_at.is_some());
    // The form TikTok wants: client_key, the secret, the grant.
    let grant = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::Token))
        .expect("token request");
    assert_eq!(
        grant.form("client_key").as_deref(),
        Some(DEFAULT_CLIENT_KEY)
    );
    assert_eq!(
        grant.form("client_secret").as_deref(),
        Some(DEFAULT_CLIENT_SECRET)
    );
    assert_eq!(grant.form("grant_type").as_deref(), Some("refresh_token"));
    assert!(grant.form("client_id").is_none());
    // The rotated one works, and the video goes out with the new access token.
    tt.refresh(&env.account).await.expect("second refresh");
    let (m, _) = env.video("after.mp4", 20, 3_000_000);
    let part = video_part(m);
    let options = public();
    run(&tt, &env.req(&part, &options))
        .await
        .expect("published");

    // Revoked: reconnect.
    let now = env.stored().refresh_token.expect("rt");
    env.fake.revoke_refresh_token(now.expose());
    let e = tt.refresh(&env.account).await.expect_err("revoked");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("invalid_grant"), "{}", e.message);
    env.assert_clean(&e);
    // No client secret stored: say where to enter it.
    env.store
        .delete(&client_secret_key("tiktok"))
        .expect("delete");
    let e = tt.refresh(&env.account).await.expect_err("no secret");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("client secret"), "{}", e.message);
}

#[tokio::test]
async fn identify_reads_the_open_id_and_the_username() {
    let env = setup().await;
    let tt = env.client();
    let tokens = env.stored();
    let who = tt.identify(&tokens, &json!({})).await.expect("identify");
    assert_eq!(who.remote_id, env.user.open_id);
    assert_eq!(who.handle, "alice");
    assert_eq!(who.display_name.as_deref(), Some("alice (fake)"));
    assert_eq!(who.settings["union_id"], env.user.union_id.as_str());
    tt.probe(&env.account).await.expect("probe");
    let p = tt.oauth_profile().expect("profile");
    assert_eq!(p.authorize_url, "https://www.tiktok.com/v2/auth/authorize/");
    assert_eq!(
        p.token_url,
        format!("{}/v2/oauth/token/", env.fake.base_url())
    );
    assert_eq!(p.client_id_param, "client_key");
    assert_eq!(
        p.scopes.join(p.scope_separator),
        "user.info.basic,video.upload,video.publish"
    );
    assert!(p.needs_secret);
    assert_eq!(p.pkce, outpost_auth::oauth::Pkce::S256Hex);
    assert_eq!(
        p.redirect,
        outpost_auth::oauth::RedirectRule::LoopbackAnyPort
    );
    assert_eq!(p.redirect_path, "/callback/");
}

/// A loopback server for staged photos: every path answers the JPEG.
async fn media_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    JPEG.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(JPEG).await;
            });
        }
    });
    format!("http://{addr}")
}
