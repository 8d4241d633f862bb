//! The Instagram client against the test kit's fake (both set-ups), over loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use outpost_auth::{client_secret_key, MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::instagram::{Instagram, CONTAINERS_EXPIRED, NO_MEDIA};
use outpost_networks::{Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use outpost_testkit::instagram::{
    jpeg, Fault, FaultKind, InstagramConfig, InstagramFake, Login, MediaHost, MediaKind,
    Processing, TokenKind,
};
use outpost_testkit::media::{Mp4, Mp4Track};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT_ID: &str = "a_ig";

struct Env {
    fake: InstagramFake,
    host: MediaHost,
    store: Arc<MemoryStore>,
    ig: Instagram,
    account: Account,
    token: String,
    dir: tempfile::TempDir,
}

fn client(base: &str, store: Arc<MemoryStore>) -> Instagram {
    let secrets: Arc<dyn SecretStore> = store;
    Instagram::new(base, secrets).with_http_client(
        outpost_networks::http::client_builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
}

fn save(store: &MemoryStore, token: &str, expires_in: i64, issued_at: DateTime<Utc>) {
    let mut t = OAuthTokens::from_response(
        Secret::new(token),
        None,
        Some(expires_in),
        None,
        None,
        issued_at,
    );
    t.issued_at = issued_at;
    t.save(store, ACCOUNT_ID).unwrap();
}

async fn setup_with(login: Login, kind: TokenKind) -> Env {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    let host = MediaHost::start().await;
    let issued = fake.issue_token("alice", kind);
    let store = Arc::new(MemoryStore::new());
    save(&store, &issued.access_token, issued.expires_in, Utc::now());
    store
        .set(
            &client_secret_key("instagram"),
            &Secret::new(fake.client_secret()),
        )
        .unwrap();
    let ig = client(&fake.base_url(), store.clone());
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::Instagram,
        handle: "alice".into(),
        remote_id: Some(issued.user_id.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "client_id": fake.client_id(), "login": match login {
            Login::Instagram => "instagram",
            Login::Facebook => "facebook",
        }}),
        created_at: Utc::now(),
    };
    Env {
        fake,
        host,
        store,
        ig,
        account,
        token: issued.access_token,
        dir: tempfile::tempdir().unwrap(),
    }
}

async fn setup(login: Login) -> Env {
    let kind = match login {
        Login::Instagram => TokenKind::InstagramLong,
        Login::Facebook => TokenKind::FacebookLong,
    };
    setup_with(login, kind).await
}

fn clip(mdat: usize) -> Vec<u8> {
    let mut c = Mp4::new(
        5,
        vec![
            Mp4Track::video(b"avc1", 1080, 1920, 5, 30),
            Mp4Track::audio(5),
        ],
    );
    c.mdat_len = mdat;
    c.build()
}

impl Env {
    /// A file on disk (and, for `staged`, on the media host standing in for the bucket).
    fn media(&self, name: &str, bytes: &[u8], mime: &str, alt: Option<&str>) -> MediaRef {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        MediaRef {
            path: path.display().to_string(),
            sha256: hex::encode(Sha256::digest(bytes)),
            mime: mime.into(),
            bytes: bytes.len() as u64,
            width: None,
            height: None,
            alt: alt.map(str::to_string),
        }
    }

    fn image(&self, name: &str, alt: Option<&str>) -> MediaRef {
        self.media(
            name,
            &jpeg(1080, 1080, 2000 + name.len() * 7),
            "image/jpeg",
            alt,
        )
    }

    fn video(&self, name: &str, mdat: usize) -> MediaRef {
        self.media(name, &clip(mdat), "video/mp4", None)
    }

    /// `options.media_urls` as the dispatcher builds it: every file put on the media host.
    fn staged(&self, media: &[MediaRef]) -> Value {
        let mut map = serde_json::Map::new();
        for m in media {
            let bytes = std::fs::read(&m.path).unwrap();
            let name = format!("{}-{}", &m.sha256[..12], m.file_name());
            map.insert(
                m.sha256.clone(),
                json!(self.host.put(&name, &bytes, &m.mime)),
            );
        }
        json!({ "media_urls": map })
    }
}

fn request<'a>(
    env: &'a Env,
    part: &'a Part,
    options: &'a Value,
    first_comment: Option<&'a str>,
) -> PartRequest<'a> {
    PartRequest {
        post_id: "p1",
        target_id: "t1",
        account: &env.account,
        part_index: 0,
        part,
        previous: &[],
        client_handle: None,
        intent_at: Utc::now(),
        options,
        first_comment,
        scheduled_at: None,
    }
}

/// start, then poll until published (no waiting): the phases and waits seen on the way.
async fn drive(
    ig: &Instagram,
    req: &PartRequest<'_>,
) -> (Result<PublishedPart, PublishError>, Vec<(Value, Duration)>) {
    let mut seen = Vec::new();
    let mut outcome = ig.start(req).await;
    // As the dispatcher does: the files are staged for `start` only.
    let mut later = req.options.clone();
    if let Some(o) = later.as_object_mut() {
        o.remove("media_urls");
    }
    let mut poll_req = *req;
    poll_req.options = &later;
    for _ in 0..60 {
        match outcome {
            Ok(PartOutcome::Published(p)) => return (Ok(p), seen),
            Ok(PartOutcome::Processing { phase, poll_after }) => {
                assert_eq!(phase["part"], 0, "{phase}");
                seen.push((phase.clone(), poll_after));
                outcome = ig.poll(&poll_req, &phase).await;
            }
            Err(e) => return (Err(e), seen),
        }
    }
    panic!("never finished: {seen:?}");
}

fn endpoints(fake: &InstagramFake) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| {
            let ep = r.endpoint.clone();
            let parts: Vec<&str> = ep.trim_matches('/').split('/').collect();
            let generic = match parts.as_slice() {
                [id] if id.chars().all(|c| c.is_ascii_digit()) => "/{id}".to_string(),
                [id, rest] if id.chars().all(|c| c.is_ascii_digit()) => format!("/{{id}}/{rest}"),
                _ => ep,
            };
            format!("{} {generic}", r.method)
        })
        .collect()
}

#[tokio::test]
async fn a_single_image_is_created_published_and_commented() {
    let env = setup(Login::Instagram).await;
    let img = env.image("beach.jpg", Some("A quiet beach at dawn"));
    let part = Part {
        text: "Morning light #sea".into(),
        media: vec![img.clone()],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, Some("more photos soon"));
    assert_eq!(env.ig.media_by_url(&part, &options), MediaByUrl::Required);
    let (published, steps) = drive(&env.ig, &req).await;
    let p = published.unwrap();
    assert_eq!(steps.len(), 1, "containers persisted before publishing");
    assert_eq!(steps[0].1, Duration::ZERO);
    let phase = &steps[0].0;
    let created = DateTime::parse_from_rfc3339(phase["created_at"].as_str().unwrap()).unwrap();
    let expires = DateTime::parse_from_rfc3339(phase["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::hours(24));
    let media = env.fake.published_by_api();
    assert_eq!(media.len(), 1);
    let m = &media[0];
    assert_eq!(p.remote_id, m.id);
    assert_eq!(p.url.as_deref(), Some(m.permalink.as_str()));
    assert_eq!(m.caption.as_deref(), Some("Morning light #sea"));
    assert_eq!(m.alt_text.as_deref(), Some("A quiet beach at dawn"));
    assert_eq!(m.media_type, "IMAGE");
    assert_eq!(m.comments[0].message, "more photos soon");
    assert_eq!(p.extra["first_comment_id"], m.comments[0].id.as_str());
    assert_eq!(
        p.extra["container_id"],
        m.container_id.clone().unwrap().as_str()
    );
    assert_eq!(p.extra["media_type"], "IMAGE");
    assert_eq!(p.extra["login"], "instagram");
    assert_eq!(
        endpoints(&env.fake),
        [
            "GET /{id}/content_publishing_limit",
            "POST /{id}/media",
            "GET /{id}",
            "GET /{id}/content_publishing_limit",
            "POST /{id}/media_publish",
            "GET /{id}",
            "POST /{id}/comments",
        ]
    );
    // Bearer tokens on the Graph host; the image fetched by "Instagram" once.
    let create = &env.fake.requests_to("POST", "*/media")[0];
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {}", env.token).as_str())
    );
    assert!(create.path.starts_with("/v25.0/"), "{}", create.path);
}

#[tokio::test]
async fn a_carousel_with_a_video_processes_then_publishes_with_backoff() {
    let env = setup(Login::Instagram).await;
    env.fake
        .set_processing(MediaKind::Video, Processing::FinishAfter { polls: 2 });
    let part = Part {
        text: "Three of a kind".into(),
        media: vec![
            env.image("a.jpg", Some("first")),
            env.video("b.mp4", 4000),
            env.image("c.jpg", None),
        ],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    let (published, steps) = drive(&env.ig, &req).await;
    let p = published.unwrap();
    let waits: Vec<u64> = steps.iter().map(|(_, d)| d.as_secs()).collect();
    // children created; IN_PROGRESS twice (5 s, 10 s); parent created; published.
    assert_eq!(waits, [0, 5, 10, 0], "{steps:?}");
    let children: Vec<Value> = steps[0].0["children"].as_array().unwrap().clone();
    assert_eq!(children.len(), 3);
    assert!(steps[2].0["container"].is_null());
    assert!(steps[3].0["container"]["id"].is_string());
    let media = env.fake.published_by_api();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_type, "CAROUSEL_ALBUM");
    assert_eq!(media[0].caption.as_deref(), Some("Three of a kind"));
    assert_eq!(media[0].video_urls.len(), 1);
    let child_ids: Vec<String> = children
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(media[0].children, child_ids);
    let first = env.fake.container(&child_ids[0]).unwrap();
    assert!(first.is_carousel_item && first.caption.is_none());
    assert_eq!(first.alt_text.as_deref(), Some("first"));
    let video = env.fake.container(&child_ids[1]).unwrap();
    assert_eq!(video.media_type, "VIDEO");
    assert_eq!(p.extra["media_type"], "CAROUSEL");
    assert_eq!(p.extra["children"].as_array().unwrap().len(), 3);
    assert_eq!(env.fake.requests_to("POST", "*/media_publish").len(), 1);
}

#[tokio::test]
async fn a_reel_goes_up_by_resumable_upload_in_bounded_steps_on_facebook_login() {
    let env = setup(Login::Facebook).await;
    let bytes_len = clip(50_000).len() as u64;
    let ig = client(&env.fake.base_url(), env.store.clone()).with_upload_limits(
        8 * 1024,
        20 * 1024,
        Duration::from_secs(20),
    );
    let part = Part {
        text: "A reel".into(),
        media: vec![env.video("reel.mp4", 50_000)],
    };
    let options = json!({ "share_to_feed": false, "thumb_offset": 1200 });
    assert_eq!(ig.media_by_url(&part, &options), MediaByUrl::IfAvailable);
    let req = request(&env, &part, &options, None);
    let (published, steps) = drive(&ig, &req).await;
    published.unwrap();
    // start, then three upload steps of at most 20 KiB (24 KiB with 8 KiB chunks), then
    // IN_PROGRESS once, then published.
    let offsets: Vec<u64> = steps
        .iter()
        .map(|(p, _)| p["container"]["upload"]["offset"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    assert!(steps.len() >= 3, "{steps:?}");
    let c = env.fake.containers().pop().unwrap();
    assert!(c.resumable);
    assert_eq!(c.media_type, "REELS");
    assert_eq!(c.received, bytes_len);
    assert_eq!(c.uploaded_via.as_deref(), Some("bytes"));
    assert_eq!(c.share_to_feed, Some(false));
    assert_eq!(c.thumb_offset, Some(1200));
    assert_eq!(
        c.upload_requests as u64,
        bytes_len.div_ceil(8 * 1024),
        "every chunk sent once"
    );
    let uploads = env.fake.requests_to("POST", "/ig-api-upload/*");
    assert!(uploads
        .iter()
        .all(|u| u.header("authorization") == Some(format!("OAuth {}", env.token).as_str())));
    assert_eq!(uploads[0].header("offset"), Some("0"));
    assert_eq!(
        uploads[1].header("offset"),
        Some((8 * 1024).to_string().as_str())
    );
    assert_eq!(
        uploads[0].header("file_size"),
        Some(bytes_len.to_string().as_str())
    );
    let media = env.fake.published_by_api();
    assert_eq!(media[0].media_product_type, "REELS");
    assert!(media[0].video_urls.is_empty(), "bytes, not a URL");
}

#[tokio::test]
async fn an_upload_resumes_from_a_stale_stored_offset_after_a_crash() {
    let env = setup(Login::Facebook).await;
    let ig = client(&env.fake.base_url(), env.store.clone()).with_upload_limits(
        4 * 1024,
        8 * 1024,
        Duration::from_secs(20),
    );
    let part = Part {
        text: String::new(),
        media: vec![env.video("r.mp4", 30_000)],
    };
    let options = json!({});
    let req = request(&env, &part, &options, None);
    let PartOutcome::Processing { phase: first, .. } = ig.start(&req).await.unwrap() else {
        panic!("processing")
    };
    let PartOutcome::Processing { phase: second, .. } = ig.poll(&req, &first).await.unwrap() else {
        panic!("processing")
    };
    assert_eq!(second["container"]["upload"]["offset"], 8 * 1024);
    // The next step sent more, but its phase was never stored: resume from `second` again.
    let PartOutcome::Processing { .. } = ig.poll(&req, &second).await.unwrap() else {
        panic!("processing")
    };
    let mut phase = second;
    let mut published = None;
    for _ in 0..40 {
        match ig.poll(&req, &phase).await.unwrap() {
            PartOutcome::Processing { phase: next, .. } => phase = next,
            PartOutcome::Published(p) => {
                published = Some(p);
                break;
            }
        }
    }
    assert!(published.is_some());
    let c = env.fake.containers().pop().unwrap();
    assert_eq!(
        c.received,
        std::fs::metadata(&part.media[0].path).unwrap().len()
    );
    assert_eq!(env.fake.published_by_api().len(), 1);
}

#[tokio::test]
async fn a_container_error_is_permanent_with_instagram_s_reason() {
    let env = setup(Login::Instagram).await;
    env.fake.set_processing(
        MediaKind::Video,
        Processing::error(
            1,
            "Error: Media upload has failed with error code 2207026. The video format is not supported.",
        ),
    );
    let part = Part {
        text: "bad reel".into(),
        media: vec![env.video("bad.mp4", 1000)],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    let (published, _) = drive(&env.ig, &req).await;
    let e = published.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message
            .starts_with("Instagram: Instagram could not process bad.mp4")
            && e.message.contains("2207026"),
        "{}",
        e.message
    );
    assert!(env.fake.requests_to("POST", "*/media_publish").is_empty());
}

#[tokio::test]
async fn an_expired_container_is_permanent_containers_expired() {
    let env = setup(Login::Instagram).await;
    env.fake.set_processing(MediaKind::Image, Processing::Never);
    let part = Part {
        text: "never ready".into(),
        media: vec![env.image("n.jpg", None)],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    let PartOutcome::Processing { phase, .. } = env.ig.start(&req).await.unwrap() else {
        panic!("processing")
    };
    let PartOutcome::Processing { phase, poll_after } = env.ig.poll(&req, &phase).await.unwrap()
    else {
        panic!("processing")
    };
    assert_eq!(poll_after, Duration::from_secs(5));
    env.fake.advance_time(chrono::Duration::hours(25));
    let e = env.ig.poll(&req, &phase).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(e.message, format!("Instagram: {CONTAINERS_EXPIRED}"));
    assert!(e.message.contains("containers expired"));
    assert!(env.fake.requests_to("POST", "*/media_publish").is_empty());
}

#[tokio::test]
async fn a_used_up_quota_waits_until_the_oldest_post_leaves_the_window() {
    let env = setup(Login::Instagram).await;
    env.fake.set_quota_total(2);
    let now = env.fake.now();
    let oldest = now - chrono::Duration::hours(23);
    env.fake
        .seed_published("alice", &[oldest, now - chrono::Duration::hours(2)]);
    let choices = env.ig.choices(&env.account, "quota").await.unwrap();
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0].id, "content_publishing_limit");
    assert_eq!(choices[0].name, "2 of 2 posts in 24 h");
    assert_eq!(choices[0].extra["quota_usage"], 2);
    assert_eq!(choices[0].extra["quota_total"], 2);
    assert!(env
        .ig
        .choices(&env.account, "boards")
        .await
        .unwrap()
        .is_empty());
    let part = Part {
        text: "one too many".into(),
        media: vec![env.image("q.jpg", None)],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    let e = env.ig.start(&req).await.unwrap_err();
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}")
    };
    let expected = oldest + chrono::Duration::hours(24);
    assert!(
        (until - expected).num_seconds().abs() <= 2,
        "{until} vs {expected}"
    );
    assert!(
        e.message
            .contains("publishing limit is used up (2 of 2 posts in 24 h)"),
        "{}",
        e.message
    );
    assert!(env.fake.containers().is_empty(), "nothing created");
    // No post of the account inside the window to time it by: an hour.
    let env = setup(Login::Instagram).await;
    env.fake.set_quota_total(0);
    let part = Part {
        text: "no quota at all".into(),
        media: vec![env.image("z.jpg", None)],
    };
    let options = env.staged(&part.media);
    let e = env
        .ig
        .start(&request(&env, &part, &options, None))
        .await
        .unwrap_err();
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}")
    };
    let wait = (until - Utc::now()).num_minutes();
    assert!((58..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn publishing_past_the_quota_is_rate_limited_never_failed() {
    let env = setup(Login::Instagram).await;
    let part = Part {
        text: "raced".into(),
        media: vec![env.image("r.jpg", None)],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    let PartOutcome::Processing { phase, .. } = env.ig.start(&req).await.unwrap() else {
        panic!("processing")
    };
    env.fake
        .push_fault(Fault::graph("POST */media_publish", 1, 9, Some(2207042)));
    let e = env.ig.poll(&req, &phase).await.unwrap_err();
    assert!(matches!(e.class, ErrorClass::RateLimited { .. }), "{e:?}");
    assert!(e.message.contains("publishing limit"), "{}", e.message);
}

#[tokio::test]
async fn not_ready_at_publish_keeps_polling() {
    let env = setup(Login::Instagram).await;
    let part = Part {
        text: "patience".into(),
        media: vec![env.image("p.jpg", None)],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    env.fake
        .push_fault(Fault::graph("POST */media_publish", 1, 9007, Some(2207027)));
    let (published, steps) = drive(&env.ig, &req).await;
    published.unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1].1, Duration::from_secs(5));
    assert_eq!(env.fake.published_by_api().len(), 1);
}

#[tokio::test]
async fn a_lost_publish_answer_is_reconciled_by_container_or_by_caption() {
    let env = setup(Login::Instagram).await;
    let part = Part {
        text: "lost in transit".into(),
        media: vec![env.image("l.jpg", None)],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    // Nothing published yet: provably not found.
    assert_eq!(env.ig.lookup(&req).await.unwrap(), Lookup::NotFound);
    let PartOutcome::Processing { phase, .. } = env.ig.start(&req).await.unwrap() else {
        panic!("processing")
    };
    env.fake
        .push_fault(Fault::drop_after_commit("POST */media_publish", 1));
    let e = env.ig.poll(&req, &phase).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e:?}");
    let media = env.fake.published_by_api();
    assert_eq!(media.len(), 1);
    // This process remembers the container: PUBLISHED, then the media by caption.
    let Lookup::Found(found) = env.ig.lookup(&req).await.unwrap() else {
        panic!("found")
    };
    assert_eq!(found.remote_id, media[0].id);
    assert_eq!(found.url.as_deref(), Some(media[0].permalink.as_str()));
    // A restarted process (no memory) finds it by caption and time.
    let fresh = client(&env.fake.base_url(), env.store.clone());
    let Lookup::Found(again) = fresh.lookup(&req).await.unwrap() else {
        panic!("found")
    };
    assert_eq!(again.remote_id, media[0].id);
    // And polling the stored phase sees PUBLISHED: never published twice.
    let PartOutcome::Published(p) = fresh.poll(&req, &phase).await.unwrap() else {
        panic!("published")
    };
    assert_eq!(p.remote_id, media[0].id);
    assert_eq!(env.fake.requests_to("POST", "*/media_publish").len(), 1);
    assert_eq!(env.fake.published_by_api().len(), 1);
}

#[tokio::test]
async fn graph_errors_are_classified_by_code_not_status() {
    let env = setup(Login::Instagram).await;
    let part = Part {
        text: "errors".into(),
        media: vec![env.image("e.jpg", None)],
    };
    let options = env.staged(&part.media);
    let req = request(&env, &part, &options, None);
    type Check = fn(&ErrorClass) -> bool;
    let cases: Vec<(Fault, Check)> = vec![
        (Fault::graph("POST */media", 1, -2, Some(2207003)), |c| {
            c.is_transient()
        }),
        (Fault::graph("POST */media", 1, 25, Some(2207050)), |c| {
            *c == ErrorClass::Reauth
        }),
        (
            Fault::graph("POST */media", 1, 4, Some(2207051)),
            |c| matches!(c, ErrorClass::RateLimited { until } if (*until - Utc::now()).num_hours() >= 23),
        ),
        (Fault::graph("POST */media", 1, 36003, Some(2207009)), |c| {
            *c == ErrorClass::Permanent
        }),
        (Fault::status("POST */media", 1, 503), |c| c.is_transient()),
        (
            Fault::new("POST */media", 1, FaultKind::Html { status: 502 }),
            |c| c.is_transient(),
        ),
    ];
    for (fault, check) in cases {
        let route = format!("{fault:?}");
        env.fake.push_fault(fault);
        let e = env.ig.start(&req).await.unwrap_err();
        assert!(check(&e.class), "{route}: {e:?}");
        assert!(e.message.starts_with("Instagram: "), "{}", e.message);
    }
    // Throttled (80002): until the BUC header's regain time.
    env.fake.throttle("alice", 12);
    let e = env.ig.start(&req).await.unwrap_err();
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}")
    };
    assert_eq!((until - Utc::now()).num_minutes(), 11);
    env.fake.throttle("alice", 0);
    // A token Meta no longer accepts.
    env.fake.revoke_tokens("alice");
    let e = env.ig.start(&req).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(
        e.message.contains("Invalid OAuth access token"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(&env.token));
    assert!(!e.excerpt.unwrap_or_default().contains(&env.token));
}

#[tokio::test]
async fn parts_instagram_cannot_take_are_refused_before_anything_is_sent() {
    let env = setup(Login::Instagram).await;
    let none = Part {
        text: "text only".into(),
        media: vec![],
    };
    let options = json!({});
    let e = env
        .ig
        .start(&request(&env, &none, &options, None))
        .await
        .unwrap_err();
    assert_eq!(e.message, format!("Instagram: {NO_MEDIA}"));
    assert_eq!(env.ig.media_by_url(&none, &options), MediaByUrl::No);
    let png = Part {
        text: "png".into(),
        media: vec![env.media("x.png", b"\x89PNG\r\n\x1a\n", "image/png", None)],
    };
    let e = env
        .ig
        .start(&request(&env, &png, &env.staged(&png.media), None))
        .await
        .unwrap_err();
    assert!(e.message.contains("JPEG images only"), "{}", e.message);
    let unstaged = Part {
        text: "no bucket".into(),
        media: vec![env.image("u.jpg", None)],
    };
    let e = env
        .ig
        .start(&request(&env, &unstaged, &options, None))
        .await
        .unwrap_err();
    assert!(e.message.contains("staging bucket"), "{}", e.message);
    // Instagram Login cannot take video bytes.
    let reel = Part {
        text: "reel".into(),
        media: vec![env.video("v.mp4", 100)],
    };
    let e = env
        .ig
        .start(&request(&env, &reel, &options, None))
        .await
        .unwrap_err();
    assert!(e.message.contains("Instagram Login"), "{}", e.message);
    let long = Part {
        text: "x".repeat(2201),
        media: vec![env.image("l.jpg", None)],
    };
    let e = env
        .ig
        .start(&request(&env, &long, &env.staged(&long.media), None))
        .await
        .unwrap_err();
    assert!(e.message.contains("2200"), "{}", e.message);
    let tags = Part {
        text: (0..31)
            .map(|i| format!("#t{i}"))
            .collect::<Vec<_>>()
            .join(" "),
        media: vec![env.image("t.jpg", None)],
    };
    let e = env
        .ig
        .start(&request(&env, &tags, &env.staged(&tags.media), None))
        .await
        .unwrap_err();
    assert!(e.message.contains("31 hashtags"), "{}", e.message);
    let mut req = request(&env, &unstaged, &options, None);
    req.part_index = 1;
    let e = env.ig.start(&req).await.unwrap_err();
    assert!(e.message.contains("no threads"), "{}", e.message);
    assert!(env.fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn instagram_login_tokens_are_exchanged_then_refreshed_after_24_hours() {
    // A short-lived token (from the code exchange) becomes long-lived with the app secret.
    let env = setup_with(Login::Instagram, TokenKind::InstagramShort).await;
    env.ig.refresh(&env.account).await.unwrap();
    let t = OAuthTokens::load(&*env.store, ACCOUNT_ID).unwrap().unwrap();
    assert_ne!(t.access_token.expose(), env.token);
    assert_eq!(
        t.refresh_token.as_ref().map(Secret::expose),
        Some(t.access_token.expose()),
        "the long-lived token renews itself"
    );
    let days = (t.expires_at.unwrap() - Utc::now()).num_days();
    assert!((59..=60).contains(&days), "{days}");
    let exchange = env.fake.requests_to("GET", "/access_token");
    assert_eq!(exchange.len(), 1);
    assert_eq!(
        exchange[0].param("client_secret").as_deref(),
        Some(env.fake.client_secret().as_str())
    );
    // Younger than 24 h: nothing to do (no request).
    env.ig.refresh(&env.account).await.unwrap();
    assert!(env
        .fake
        .requests_to("GET", "/refresh_access_token")
        .is_empty());
    // 25 h later (both clocks): ig_refresh_token, no secret.
    let long = t.access_token.expose().to_string();
    env.fake.age_token(&long, chrono::Duration::hours(25));
    save(
        &env.store,
        &long,
        5_000_000,
        Utc::now() - chrono::Duration::hours(25),
    );
    env.ig.refresh(&env.account).await.unwrap();
    let refreshes = env.fake.requests_to("GET", "/refresh_access_token");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(
        refreshes[0].param("grant_type").as_deref(),
        Some("ig_refresh_token")
    );
    assert!(refreshes[0].param("client_secret").is_none());
    let renewed = OAuthTokens::load(&*env.store, ACCOUNT_ID).unwrap().unwrap();
    assert_ne!(renewed.access_token.expose(), long);
    assert!(env.fake.token_is_live(renewed.access_token.expose()));
    // Expired: reconnect.
    save(
        &env.store,
        renewed.access_token.expose(),
        -10,
        Utc::now() - chrono::Duration::days(61),
    );
    let e = env.ig.refresh(&env.account).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("expired"), "{}", e.message);
}

#[tokio::test]
async fn a_refused_refresh_needs_a_reconnect() {
    let env = setup(Login::Instagram).await;
    save(
        &env.store,
        &env.token,
        5_000_000,
        Utc::now() - chrono::Duration::days(2),
    );
    env.fake.revoke_tokens("alice");
    let e = env.ig.refresh(&env.account).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("reconnect"), "{}", e.message);
    assert!(!e.message.contains(&env.token));
}

#[tokio::test]
async fn facebook_login_tokens_are_exchanged_once_and_never_refreshed() {
    let env = setup_with(Login::Facebook, TokenKind::FacebookShort).await;
    env.ig.refresh(&env.account).await.unwrap();
    let t = OAuthTokens::load(&*env.store, ACCOUNT_ID).unwrap().unwrap();
    assert!(t.access_token.expose().starts_with("EAA"));
    assert!(t.refresh_token.is_none(), "no refresh grant on Facebook");
    let calls = env.fake.requests_to("GET", "/oauth/access_token");
    assert_eq!(
        calls[0].param("grant_type").as_deref(),
        Some("fb_exchange_token")
    );
    assert_eq!(
        calls[0].param("client_id").as_deref(),
        Some(env.fake.client_id().as_str())
    );
    let e = env.ig.refresh(&env.account).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("cannot be renewed"), "{}", e.message);
}

#[tokio::test]
async fn identify_tells_the_two_setups_apart() {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    let store = Arc::new(MemoryStore::new());
    let ig = client(&fake.base_url(), store);
    let tokens = |t: &str| {
        OAuthTokens::from_response(
            Secret::new(t),
            None,
            Some(5_000_000),
            None,
            None,
            Utc::now(),
        )
    };
    let a = fake.issue_token("ig_alice", TokenKind::InstagramLong);
    let who = ig
        .identify(&tokens(&a.access_token), &json!({"client_id": "1"}))
        .await
        .unwrap();
    assert_eq!(who.remote_id, a.user_id);
    assert_eq!(who.handle, "ig_alice");
    assert_eq!(who.settings["login"], "instagram");
    assert_eq!(who.settings["client_id"], "1");
    let b = fake.issue_token("fb_bob", TokenKind::FacebookLong);
    let who = ig
        .identify(&tokens(&b.access_token), &json!({}))
        .await
        .unwrap();
    assert_eq!(who.remote_id, b.user_id);
    assert_eq!(who.handle, "fb_bob");
    assert_eq!(who.settings["login"], "facebook");
    let account = fake.account("fb_bob").unwrap();
    assert_eq!(who.settings["page_id"], account.page_id.unwrap().as_str());
    let page = fake.issue_token("fb_bob", TokenKind::FacebookPage);
    let who = ig
        .identify(&tokens(&page.access_token), &json!({}))
        .await
        .unwrap();
    assert_eq!(who.remote_id, b.user_id);
    let e = ig
        .identify(&tokens("IGAAnot-a-token"), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth, "{e:?}");
}

#[tokio::test]
async fn probe_reads_the_account_on_either_host() {
    let env = setup(Login::Instagram).await;
    env.ig.probe(&env.account).await.unwrap();
    assert_eq!(env.fake.requests()[0].endpoint, "/me");
    let env = setup(Login::Facebook).await;
    env.ig.probe(&env.account).await.unwrap();
    let user = env.account.remote_id.clone().unwrap();
    assert_eq!(env.fake.requests()[0].endpoint, format!("/{user}"));
    env.fake.expire_token(&env.token);
    let e = env.ig.probe(&env.account).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("Session has expired"), "{}", e.message);
}

#[test]
fn the_oauth_profile_is_instagram_login_over_https() {
    let ig = Instagram::new("http://127.0.0.1:9", Arc::new(MemoryStore::new()));
    let p = ig.oauth_profile().unwrap();
    assert_eq!(p.network, "instagram");
    assert_eq!(p.token_url, "http://127.0.0.1:9/oauth/access_token");
    assert_eq!(
        p.scopes,
        [
            "instagram_business_basic",
            "instagram_business_content_publish",
            "instagram_business_manage_comments"
        ]
    );
    assert_eq!(p.scope_separator, ",");
    assert!(p.needs_secret);
    assert_eq!(p.pkce, outpost_auth::oauth::Pkce::None);
    assert_eq!(p.redirect, outpost_auth::oauth::RedirectRule::HttpsOnly);
    assert_eq!(p.client_auth, outpost_auth::oauth::ClientAuth::Body);
}

#[tokio::test]
async fn connecting_exchanges_the_short_lived_token_and_adopt_moves_it_to_the_account() {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    let store = Arc::new(MemoryStore::new());
    store
        .set(
            &client_secret_key("instagram"),
            &Secret::new(fake.client_secret()),
        )
        .unwrap();
    let ig = client(&fake.base_url(), store.clone());
    // What the code exchange gives: a short-lived token without `expires_in`.
    let short = fake.issue_token("nia", TokenKind::InstagramShort);
    let tokens = OAuthTokens::from_response(
        Secret::new(&short.access_token),
        None,
        None,
        None,
        None,
        Utc::now(),
    );
    let who = ig
        .identify(&tokens, &json!({ "client_id": fake.client_id() }))
        .await
        .unwrap();
    assert_eq!(who.remote_id, short.user_id);
    assert_eq!(
        fake.requests_to("GET", "/access_token").len(),
        1,
        "exchanged"
    );
    // The engine saves the tokens it has (the short one) under the new account, then adopts.
    tokens.save(&*store, ACCOUNT_ID).unwrap();
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::Instagram,
        handle: who.handle.clone(),
        remote_id: Some(who.remote_id.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: who.settings.clone(),
        created_at: Utc::now(),
    };
    assert!(ig.adopt(&account).await.unwrap());
    assert!(!ig.adopt(&account).await.unwrap(), "once");
    let stored = OAuthTokens::load(&*store, ACCOUNT_ID).unwrap().unwrap();
    assert_ne!(stored.access_token.expose(), short.access_token);
    assert!(fake.token_is_live(stored.access_token.expose()));
    assert_eq!(
        stored.refresh_token.as_ref().map(Secret::expose),
        Some(stored.access_token.expose())
    );
    assert!((stored.expires_at.unwrap() - Utc::now()).num_days() >= 59);
    assert!(
        OAuthTokens::load(
            &*store,
            &outpost_networks::instagram::staged_owner(&who.remote_id)
        )
        .unwrap()
        .is_none(),
        "nothing left staged"
    );

    // A long-lived token imported without `expires_in`: Instagram refuses to exchange it, so
    // it is taken as it is — and marked renewable at its first use.
    let long = fake.issue_token("oli", TokenKind::InstagramLong);
    let tokens = OAuthTokens::from_response(
        Secret::new(&long.access_token),
        None,
        Some(5_000_000),
        None,
        None,
        Utc::now(),
    );
    let who = ig.identify(&tokens, &json!({})).await.unwrap();
    assert_eq!(who.handle, "oli");
    let mut bare = tokens.clone();
    bare.expires_at = None;
    ig.identify(&bare, &json!({})).await.unwrap();
    tokens.save(&*store, "a_oli").unwrap();
    let oli = Account {
        id: "a_oli".into(),
        remote_id: Some(long.user_id.clone()),
        handle: "oli".into(),
        settings: json!({"login": "instagram"}),
        ..account.clone()
    };
    assert!(!ig.adopt(&oli).await.unwrap());
    ig.probe(&oli).await.unwrap();
    let stored = OAuthTokens::load(&*store, "a_oli").unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), long.access_token);
    assert_eq!(
        stored.refresh_token.as_ref().map(Secret::expose),
        Some(long.access_token.as_str())
    );
}
