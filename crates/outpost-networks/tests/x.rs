//! The X client against the test kit's fake API, over loopback HTTP.

use chrono::{DateTime, Utc};
use outpost_auth::{MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::x::X;
use outpost_networks::{Lookup, PartOutcome, PartRequest, Publisher};
use outpost_testkit::x::{
    Endpoint, Fault, LimitScope, Processing, RefreshErrorForm, XConfig, XFake, XTokens, XUser,
    DEFAULT_CLIENT_ID,
};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT_ID: &str = "a_alice";

struct Env {
    fake: XFake,
    store: Arc<MemoryStore>,
    x: X,
    account: Account,
    user: XUser,
    tokens: XTokens,
    dir: tempfile::TempDir,
}

fn client() -> reqwest::Client {
    outpost_networks::http::client_builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client")
}

fn save(store: &MemoryStore, tokens: &XTokens) {
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

async fn setup() -> Env {
    let fake = XFake::start(XConfig::default()).await;
    let (user, tokens) = fake.create_user_with_tokens("alice");
    let store = Arc::new(MemoryStore::new());
    save(&store, &tokens);
    let secrets: Arc<dyn SecretStore> = store.clone();
    let x = X::new(fake.base_url(), secrets).with_http_client(client());
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::X,
        handle: "alice".into(),
        remote_id: Some(user.id.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "client_id": DEFAULT_CLIENT_ID }),
        created_at: Utc::now(),
    };
    Env {
        fake,
        store,
        x,
        account,
        user,
        tokens,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

fn text(t: &str) -> Part {
    Part {
        text: t.into(),
        media: vec![],
    }
}

const NO_OPTIONS: &Value = &Value::Null;

impl Env {
    fn req<'a>(&'a self, part: &'a Part, previous: &'a [PublishedPart]) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: previous.len(),
            part,
            previous,
            client_handle: None,
            intent_at: Utc::now(),
            options: NO_OPTIONS,
            first_comment: None,
            scheduled_at: None,
        }
    }

    async fn publish(&self, part: &Part) -> Result<PublishedPart, PublishError> {
        self.x.publish(&self.req(part, &[])).await
    }

    fn stored(&self) -> OAuthTokens {
        OAuthTokens::load(&*self.store, ACCOUNT_ID)
            .expect("store")
            .expect("tokens are stored")
    }

    fn file(&self, name: &str, mime: &str, bytes: &[u8], alt: Option<&str>) -> MediaRef {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write media");
        media(&path, mime, bytes.len() as u64, alt)
    }

    /// Neither the message nor the excerpt carries a token, and the message names X.
    fn assert_clean(&self, e: &PublishError) {
        let excerpt = e.excerpt.clone().unwrap_or_default();
        let stored = self.stored();
        let mut secrets = vec![
            self.tokens.access_token.clone(),
            stored.access_token.expose().to_string(),
        ];
        secrets.extend(self.tokens.refresh_token.clone());
        secrets.extend(stored.refresh_token.map(|t| t.expose().to_string()));
        for s in secrets {
            assert!(!e.message.contains(&s), "token in message: {}", e.message);
            assert!(!excerpt.contains(&s), "token in excerpt: {excerpt}");
        }
        assert!(e.message.starts_with("X: "), "{}", e.message);
    }
}

fn media(path: &Path, mime: &str, bytes: u64, alt: Option<&str>) -> MediaRef {
    MediaRef {
        path: path.to_string_lossy().into_owned(),
        sha256: "0".repeat(64),
        mime: mime.into(),
        bytes,
        width: None,
        height: None,
        alt: alt.map(str::to_string),
    }
}

fn processing_phase(outcome: PartOutcome) -> (Value, Duration) {
    match outcome {
        PartOutcome::Processing { phase, poll_after } => (phase, poll_after),
        PartOutcome::Published(p) => panic!("expected processing, got published {p:?}"),
    }
}

fn published(outcome: PartOutcome) -> PublishedPart {
    match outcome {
        PartOutcome::Published(p) => p,
        PartOutcome::Processing { phase, .. } => panic!("expected published, got {phase}"),
    }
}

#[tokio::test]
async fn a_text_post_is_created_with_its_url() {
    let env = setup().await;
    let part = env
        .publish(&text("hello from Outpost"))
        .await
        .expect("publish");
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(tweets[0].text, "hello from Outpost");
    assert_eq!(tweets[0].author_id, env.user.id);
    assert_eq!(part.remote_id, tweets[0].id);
    assert_eq!(
        part.url.as_deref(),
        Some(format!("https://x.com/alice/status/{}", tweets[0].id).as_str())
    );
    let create = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::CreateTweet))
        .expect("a create");
    assert_eq!(
        create.body_json(),
        Some(json!({"text": "hello from Outpost"}))
    );
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {}", env.tokens.access_token).as_str())
    );
}

#[tokio::test]
async fn a_thread_of_three_chains_each_part_to_the_previous_one() {
    let env = setup().await;
    let parts = [text("1/3 start"), text("2/3 middle"), text("3/3 end")];
    let mut previous: Vec<PublishedPart> = Vec::new();
    for part in &parts {
        let done = env.x.start(&env.req(part, &previous)).await.expect("part");
        previous.push(published(done));
    }
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 3);
    assert_eq!(tweets[0].in_reply_to, None);
    assert_eq!(
        tweets[1].in_reply_to.as_deref(),
        Some(previous[0].remote_id.as_str())
    );
    assert_eq!(
        tweets[2].in_reply_to.as_deref(),
        Some(previous[1].remote_id.as_str())
    );
    assert!(tweets.iter().all(|t| t.conversation_id == tweets[0].id));
}

#[tokio::test]
async fn four_images_go_up_in_order_with_their_alt_text() {
    let env = setup().await;
    let files: Vec<MediaRef> = (0..4)
        .map(|i| {
            let alt = (i != 2).then(|| format!("picture number {i}"));
            env.file(
                &format!("img{i}.png"),
                "image/png",
                format!("png bytes {i}").as_bytes(),
                alt.as_deref(),
            )
        })
        .collect();
    let part = Part {
        text: "four pictures".into(),
        media: files,
    };
    let outcome = env.x.start(&env.req(&part, &[])).await.expect("start");
    let done = published(outcome);
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(tweets[0].id, done.remote_id);
    let uploaded = env.fake.media();
    assert_eq!(uploaded.len(), 4);
    let ids: Vec<String> = uploaded.iter().map(|m| m.id.clone()).collect();
    assert_eq!(tweets[0].media_ids, ids, "attached in the part's order");
    for (i, m) in uploaded.iter().enumerate() {
        assert_eq!(m.category, "tweet_image");
        assert_eq!(m.media_type, "image/png");
        assert_eq!(
            env.fake.media_bytes(&m.id).unwrap(),
            format!("png bytes {i}").into_bytes()
        );
        let expected = (i != 2).then(|| format!("picture number {i}"));
        assert_eq!(m.alt_text, expected, "image {i}");
    }
    assert_eq!(env.fake.count(Endpoint::MediaMetadata), 3);
    assert_eq!(
        env.fake.count(Endpoint::MediaStatus),
        0,
        "images need no polling"
    );
}

#[tokio::test]
async fn media_beyond_x_rules_is_refused_before_any_request() {
    let env = setup().await;
    let png = |i: usize| env.file(&format!("p{i}.png"), "image/png", b"png", None);
    let five = Part {
        text: "five".into(),
        media: (0..5).map(png).collect(),
    };
    let e = env.x.start(&env.req(&five, &[])).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("at most 4"), "{}", e.message);
    let mixed = Part {
        text: "mixed".into(),
        media: vec![png(9), env.file("v.mp4", "video/mp4", b"video", None)],
    };
    let e = env.x.start(&env.req(&mixed, &[])).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message
            .contains("up to 4 images, or one GIF, or one video"),
        "{}",
        e.message
    );
    let two_gifs = Part {
        text: "gifs".into(),
        media: vec![
            env.file("a.gif", "image/gif", b"GIF89a", None),
            env.file("b.gif", "image/gif", b"GIF89a", None),
        ],
    };
    assert!(env.x.start(&env.req(&two_gifs, &[])).await.is_err());
    let avi = Part {
        text: "avi".into(),
        media: vec![env.file("v.avi", "video/x-msvideo", b"RIFF", None)],
    };
    let e = env.x.start(&env.req(&avi, &[])).await.unwrap_err();
    assert!(e.message.contains("MP4"), "{}", e.message);
    let mut huge = png(7);
    huge.bytes = 6 * 1024 * 1024;
    let big = Part {
        text: "big".into(),
        media: vec![huge],
    };
    let e = env.x.start(&env.req(&big, &[])).await.unwrap_err();
    assert!(e.message.contains("5 MB"), "{}", e.message);
    let mut long_alt = png(8);
    long_alt.alt = Some("a".repeat(1001));
    let alt = Part {
        text: "alt".into(),
        media: vec![long_alt],
    };
    let e = env.x.start(&env.req(&alt, &[])).await.unwrap_err();
    assert!(e.message.contains("1000"), "{}", e.message);
    assert!(env.fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn text_over_280_weighted_characters_is_refused_before_any_request() {
    let env = setup().await;
    let e = env.publish(&text(&"a".repeat(281))).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("281 weighted characters"),
        "{}",
        e.message
    );
    // CJK counts 2: 141 characters are 282.
    let e = env.publish(&text(&"日".repeat(141))).await.unwrap_err();
    assert!(e.message.contains("282"), "{}", e.message);
    // A long URL counts 23.
    let url = format!("https://example.com/{}", "p".repeat(300));
    assert!(env.publish(&text(&format!("see {url}"))).await.is_ok());
    assert_eq!(env.fake.count(Endpoint::CreateTweet), 1);
    assert_eq!(env.fake.count(Endpoint::Any), 1);
}

#[tokio::test]
async fn a_video_is_two_phase_start_then_polls_until_published() {
    let env = setup().await;
    env.fake.video_processing(2);
    let video = env.file("clip.mp4", "video/mp4", &[7u8; 3000], Some("a clip"));
    let part = Part {
        text: "watch this".into(),
        media: vec![video],
    };
    let req = env.req(&part, &[]);
    let (phase, poll_after) = processing_phase(env.x.start(&req).await.expect("start"));
    let media = env.fake.media();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].category, "tweet_video");
    assert_eq!(phase["part"], 0);
    assert_eq!(phase["pending"], media[0].id);
    assert_eq!(phase["media_ids"], json!([media[0].id]));
    assert!(phase["expires_at"].is_string());
    assert_eq!(poll_after, Duration::from_secs(1), "check_after_secs");
    assert!(
        env.fake.tweets().is_empty(),
        "nothing posted while processing"
    );

    let (phase, _) = processing_phase(env.x.poll(&req, &phase).await.expect("poll 1"));
    assert_eq!(phase["stage"], "in_progress");
    assert_eq!(phase["polls"], 1);
    assert!(env.fake.tweets().is_empty());

    let done = published(env.x.poll(&req, &phase).await.expect("poll 2"));
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(tweets[0].id, done.remote_id);
    assert_eq!(tweets[0].media_ids, vec![media[0].id.clone()]);
    assert_eq!(env.fake.count(Endpoint::MediaStatus), 2);
    assert_eq!(
        env.fake.count(Endpoint::MediaInitialize),
        1,
        "polling never uploads again"
    );
}

#[tokio::test]
async fn a_gif_is_processed_then_posted_with_its_alt_text() {
    let env = setup().await;
    env.fake.video_processing(1);
    let gif = env.file(
        "dance.gif",
        "image/gif",
        b"GIF89a-animated",
        Some("a dance"),
    );
    let part = Part {
        text: "".into(),
        media: vec![gif],
    };
    let req = env.req(&part, &[]);
    let (phase, _) = processing_phase(env.x.start(&req).await.expect("start"));
    let done = published(env.x.poll(&req, &phase).await.expect("poll"));
    let media = env.fake.media();
    assert_eq!(media[0].category, "tweet_gif");
    assert_eq!(media[0].media_type, "image/gif");
    assert_eq!(media[0].alt_text.as_deref(), Some("a dance"));
    let tweets = env.fake.tweets();
    assert_eq!(tweets[0].id, done.remote_id);
    assert_eq!(tweets[0].text, "", "a media-only post has no text");
}

#[tokio::test]
async fn failed_processing_is_permanent_with_x_reason() {
    let env = setup().await;
    env.fake.set_processing(Processing::invalid_media(1));
    let part = Part {
        text: "broken".into(),
        media: vec![env.file("bad.mp4", "video/mp4", b"not a video", None)],
    };
    let req = env.req(&part, &[]);
    let (phase, _) = processing_phase(env.x.start(&req).await.expect("start"));
    let e = env.x.poll(&req, &phase).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("Unsupported video format"),
        "{}",
        e.message
    );
    assert!(e.message.contains("bad.mp4"), "{}", e.message);
    env.assert_clean(&e);
    assert!(env.fake.tweets().is_empty());
}

#[tokio::test]
async fn processing_that_never_finishes_keeps_polling() {
    let env = setup().await;
    env.fake.set_processing(Processing::Never);
    let part = Part {
        text: "slow".into(),
        media: vec![env.file("slow.mp4", "video/mp4", b"slow video", None)],
    };
    let req = env.req(&part, &[]);
    let (mut phase, _) = processing_phase(env.x.start(&req).await.expect("start"));
    for i in 1..=4 {
        let (next, _) = processing_phase(env.x.poll(&req, &phase).await.expect("poll"));
        assert_eq!(next["polls"], i);
        assert_eq!(
            next["expires_at"], phase["expires_at"],
            "the deadline stays"
        );
        phase = next;
    }
    assert!(env.fake.tweets().is_empty());
}

#[tokio::test]
async fn chunked_upload_reads_the_file_in_order_from_disk() {
    let env = setup().await;
    let x = X::new(env.fake.base_url(), env.store.clone())
        .with_http_client(client())
        .with_chunk_size(1000);
    env.fake.video_processing(0);
    let data: Vec<u8> = (0..4500u32).map(|i| (i * 7 % 251) as u8).collect();
    let part = Part {
        text: "chunks".into(),
        media: vec![env.file("long.mp4", "video/mp4", &data, None)],
    };
    let done = published(x.start(&env.req(&part, &[])).await.expect("start"));
    let media = env.fake.media();
    assert_eq!(media[0].total_bytes, 4500);
    assert_eq!(media[0].segment_indices, vec![0, 1, 2, 3, 4]);
    assert_eq!(media[0].segment_sizes, vec![1000, 1000, 1000, 1000, 500]);
    assert_eq!(env.fake.media_bytes(&media[0].id).unwrap(), data);
    let appends: Vec<String> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::MediaAppend))
        .map(|r| r.path)
        .collect();
    assert_eq!(appends.len(), 5);
    assert!(appends
        .iter()
        .all(|p| p == &format!("/2/media/upload/{}/append", media[0].id)));
    assert_eq!(env.fake.tweets()[0].id, done.remote_id);
}

#[tokio::test]
async fn a_duplicate_post_is_permanent() {
    let env = setup().await;
    env.publish(&text("same words")).await.expect("first");
    let e = env.publish(&text("same words")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message
            .contains("X refused a duplicate post — change the text"),
        "{}",
        e.message
    );
    env.assert_clean(&e);
    assert_eq!(env.fake.tweets().len(), 1);
}

#[tokio::test]
async fn an_expired_token_is_reauth_then_refresh_rotates_and_saves_the_new_pair() {
    let env = setup().await;
    assert!(env.fake.expire_access_token(&env.tokens.access_token));
    let e = env.publish(&text("after expiry")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    env.assert_clean(&e);
    assert!(env.fake.tweets().is_empty());

    env.x.refresh(&env.account).await.expect("refresh");
    let stored = env.stored();
    let old_refresh = env.tokens.refresh_token.clone().unwrap();
    assert_ne!(stored.access_token.expose(), env.tokens.access_token);
    let new_refresh = stored.refresh_token.clone().expect("a refresh token");
    assert_ne!(new_refresh.expose(), old_refresh);
    assert!(!env.fake.refresh_token_is_live(&old_refresh), "rotated");
    assert!(env.fake.refresh_token_is_live(new_refresh.expose()));
    assert!(stored.expires_at.is_some());
    let token_call = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::Token))
        .expect("a token request");
    let form = String::from_utf8_lossy(&token_call.body).to_string();
    assert!(form.contains("grant_type=refresh_token"), "{form}");
    assert!(
        form.contains(&format!("client_id={DEFAULT_CLIENT_ID}")),
        "a public client sends its id: {form}"
    );
    assert!(token_call.header("authorization").is_none());

    let part = env.publish(&text("after refresh")).await.expect("publish");
    assert_eq!(env.fake.tweets()[0].id, part.remote_id);
    // A second refresh spends the new token, not the dead old one.
    env.x.refresh(&env.account).await.expect("second refresh");
}

#[tokio::test]
async fn a_revoked_refresh_token_is_reauth_in_both_answer_forms() {
    let env = setup().await;
    let rt = env.tokens.refresh_token.clone().unwrap();
    assert!(env.fake.revoke_refresh_token(&rt));
    let e = env.x.refresh(&env.account).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(
        e.message.contains("connect the account again"),
        "{}",
        e.message
    );
    env.assert_clean(&e);
    env.fake
        .set_refresh_error_form(RefreshErrorForm::InvalidRequest);
    let e = env.x.refresh(&env.account).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth, "{}", e.message);
    assert_eq!(
        env.stored().refresh_token.unwrap().expose(),
        rt,
        "nothing saved"
    );
}

#[tokio::test]
async fn refresh_without_a_client_id_or_tokens_says_what_to_do() {
    let mut env = setup().await;
    env.account.settings = json!({});
    let e = env.x.refresh(&env.account).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("Settings"), "{}", e.message);
    env.account.id = "a_unknown".into();
    let e = env.publish(&text("no tokens")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("connect"), "{}", e.message);
}

#[tokio::test]
async fn rate_limits_wait_until_the_reset_header() {
    let env = setup().await;
    env.fake.push_fault(Fault::rate_limited(
        Endpoint::CreateTweet,
        1,
        120,
        LimitScope::Window,
    ));
    let e = env.publish(&text("limited")).await.unwrap_err();
    let expected = env.fake.now().timestamp() + 120;
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("expected rate limited: {e:?}")
    };
    assert!(
        (expected - 2..=expected).contains(&until.timestamp()),
        "{until} vs {expected}"
    );
    env.assert_clean(&e);
    // The 24-hour user cap wins when it is the exhausted one.
    env.fake.push_fault(Fault::rate_limited(
        Endpoint::CreateTweet,
        1,
        20_000,
        LimitScope::User24h,
    ));
    let e = env.publish(&text("limited")).await.unwrap_err();
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("expected rate limited: {e:?}")
    };
    let expected = env.fake.now().timestamp() + 20_000;
    assert!(
        (expected - 2..=expected).contains(&until.timestamp()),
        "{until} vs {expected}"
    );
    assert!(e.message.contains("24-hour"), "{}", e.message);
    // A real bucket running out.
    env.fake
        .set_limit(Endpoint::CreateTweet, 1, chrono::Duration::minutes(15));
    env.publish(&text("one")).await.expect("first fits");
    let e = env.publish(&text("two")).await.unwrap_err();
    assert!(matches!(e.class, ErrorClass::RateLimited { .. }), "{e:?}");
    assert!(env.fake.tweets().len() == 1);
}

#[tokio::test]
async fn server_trouble_is_transient_and_posts_nothing() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::status(Endpoint::CreateTweet, 1, 503));
    let e = env.publish(&text("busy")).await.unwrap_err();
    assert!(e.class.is_transient(), "{e:?}");
    assert!(e.message.contains("503"), "{}", e.message);
    env.assert_clean(&e);
    assert!(env.fake.tweets().is_empty());
    // A chunk upload failing is transient too, and nothing is posted.
    env.fake
        .push_fault(Fault::status(Endpoint::MediaAppend, 1, 500));
    let part = Part {
        text: "pic".into(),
        media: vec![env.file("a.jpg", "image/jpeg", b"jpeg", None)],
    };
    let e = env.x.start(&env.req(&part, &[])).await.unwrap_err();
    assert!(e.class.is_transient(), "{e:?}");
    assert!(env.fake.tweets().is_empty());
}

#[tokio::test]
async fn a_dropped_answer_after_the_commit_is_unknown_then_found_by_lookup() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::CreateTweet, 1));
    let part = text("did it go out?");
    let req = env.req(&part, &[]);
    let e = env.x.publish(&req).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{}", e.message);
    env.assert_clean(&e);
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 1, "the fake committed it");
    match env.x.lookup(&req).await.expect("lookup") {
        Lookup::Found(found) => {
            assert_eq!(found.remote_id, tweets[0].id);
            assert_eq!(
                found.url,
                Some(format!("https://x.com/alice/status/{}", tweets[0].id))
            );
        }
        other => panic!("expected found, got {other:?}"),
    }
    let read = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(Endpoint::UserTweets))
        .expect("a timeline read");
    assert_eq!(read.path, format!("/2/users/{}/tweets", env.user.id));
    assert!(read.query_param("start_time").is_some());
    // Another text was never posted.
    let other = text("never sent");
    assert_eq!(
        env.x.lookup(&env.req(&other, &[])).await.expect("lookup"),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn lookup_says_not_found_when_nothing_was_posted() {
    let env = setup().await;
    env.publish(&text("an older post")).await.expect("publish");
    let part = text("the one in doubt");
    assert_eq!(
        env.x.lookup(&env.req(&part, &[])).await.expect("lookup"),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn lookup_of_a_thread_part_matches_its_parent_too() {
    let env = setup().await;
    let first = env.publish(&text("thread root")).await.expect("root");
    // The same text posted elsewhere, not as a reply: not our part.
    env.fake
        .insert_tweet(&env.user.id, "part two", None)
        .expect("seed");
    let part = text("part two");
    let previous = vec![first.clone()];
    let req = env.req(&part, &previous);
    assert_eq!(env.x.lookup(&req).await.expect("lookup"), Lookup::NotFound);
    let reply = env
        .fake
        .insert_tweet(&env.user.id, "part two", Some(&first.remote_id))
        .expect("seed reply");
    match env.x.lookup(&req).await.expect("lookup") {
        Lookup::Found(found) => assert_eq!(found.remote_id, reply.id),
        other => panic!("expected found, got {other:?}"),
    }
    let read = env
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.endpoint == Some(Endpoint::UserTweets))
        .expect("a read");
    assert_eq!(read.query_param("since_id"), Some(first.remote_id));
}

#[tokio::test]
async fn lookup_without_read_access_cannot_tell() {
    let env = setup().await;
    env.fake.set_read_access(false);
    let part = text("unknowable");
    match env.x.lookup(&env.req(&part, &[])).await.expect("lookup") {
        Lookup::CannotTell(why) => {
            assert!(why.contains("read"), "{why}");
            assert!(why.contains("403"), "{why}");
        }
        other => panic!("expected cannot tell, got {other:?}"),
    }
}

#[tokio::test]
async fn lookup_renews_an_expired_token_once() {
    let env = setup().await;
    env.publish(&text("posted earlier")).await.expect("publish");
    env.fake.expire_access_tokens();
    let part = text("posted earlier");
    let found = env.x.lookup(&env.req(&part, &[])).await.expect("lookup");
    assert!(matches!(found, Lookup::Found(_)), "{found:?}");
    assert_eq!(env.fake.count(Endpoint::Token), 1);
}

#[tokio::test]
async fn the_first_comment_is_a_reply_recorded_in_extra() {
    let env = setup().await;
    let part = text("main post");
    let mut req = env.req(&part, &[]);
    req.first_comment = Some("link in the first comment: https://example.com");
    let done = env.x.publish(&req).await.expect("publish");
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 2);
    assert_eq!(tweets[0].id, done.remote_id);
    assert_eq!(
        tweets[1].in_reply_to.as_deref(),
        Some(done.remote_id.as_str())
    );
    assert_eq!(done.extra["first_comment_id"], json!(tweets[1].id));
    // A lookup finds the comment too.
    match env.x.lookup(&req).await.expect("lookup") {
        Lookup::Found(found) => assert_eq!(found.extra["first_comment_id"], json!(tweets[1].id)),
        other => panic!("{other:?}"),
    }
    // Later parts do not repeat it.
    let second = text("second part");
    let previous = vec![done];
    let mut req2 = env.req(&second, &previous);
    req2.first_comment = Some("link in the first comment: https://example.com");
    env.x.publish(&req2).await.expect("part 2");
    assert_eq!(env.fake.tweets().len(), 3);
}

#[tokio::test]
async fn a_failed_first_comment_leaves_the_post_published() {
    let env = setup().await;
    // The comment duplicates an earlier post: X refuses it, the post stands.
    env.publish(&text("comment text")).await.expect("earlier");
    let part = text("main");
    let mut req = env.req(&part, &[]);
    req.first_comment = Some("comment text");
    let done = env.x.publish(&req).await.expect("publish");
    assert!(done.extra.get("first_comment_id").is_none());
    assert!(done.extra["first_comment_error"]
        .as_str()
        .unwrap()
        .contains("duplicate"));
}

#[tokio::test]
async fn missing_scopes_name_the_fix() {
    let env = setup().await;
    let limited = env
        .fake
        .issue_tokens(
            &env.user.id,
            &["tweet.read", "users.read", "offline.access"],
        )
        .unwrap();
    save(&env.store, &limited);
    let e = env.publish(&text("no write scope")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("tweet.write"), "{}", e.message);
    assert!(e.message.contains("Read and write"), "{}", e.message);
}

#[tokio::test]
async fn exhausted_credits_are_permanent_and_say_so() {
    let env = setup().await;
    env.fake
        .set_credits_exhausted(Some(outpost_testkit::x::CreditsBlock::default()));
    let e = env.publish(&text("no credits")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent, "{}", e.message);
    assert!(e.message.contains("credits"), "{}", e.message);
}

#[tokio::test]
async fn a_reply_to_a_deleted_post_is_permanent() {
    let env = setup().await;
    let gone = PublishedPart {
        remote_id: "1234567890123".into(),
        url: None,
        extra: json!({}),
    };
    let part = text("orphan");
    let previous = vec![gone];
    let e = env.x.publish(&env.req(&part, &previous)).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("deleted or not visible"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn probe_and_identify_read_users_me() {
    let env = setup().await;
    env.x.probe(&env.account).await.expect("probe");
    let tokens = env.stored();
    let who = env.x.identify(&tokens, &json!({})).await.expect("identify");
    assert_eq!(who.remote_id, env.user.id);
    assert_eq!(who.handle, "alice");
    assert_eq!(who.display_name.as_deref(), Some(env.user.name.as_str()));
    env.fake.expire_access_tokens();
    assert_eq!(
        env.x.probe(&env.account).await.unwrap_err().class,
        ErrorClass::Reauth
    );
}

#[tokio::test]
async fn the_oauth_profile_is_x_native_app_with_pkce() {
    let env = setup().await;
    let p = env.x.oauth_profile().expect("a profile");
    assert_eq!(p.network, "x");
    assert_eq!(p.authorize_url, "https://x.com/i/oauth2/authorize");
    assert_eq!(
        p.token_url,
        format!("{}/2/oauth2/token", env.fake.base_url())
    );
    assert_eq!(
        p.scopes,
        vec![
            "tweet.read",
            "tweet.write",
            "users.read",
            "offline.access",
            "media.write"
        ]
    );
    assert_eq!(p.pkce, outpost_auth::oauth::Pkce::S256);
    assert_eq!(p.client_auth, outpost_auth::oauth::ClientAuth::Basic);
    assert!(!p.needs_secret);
    assert_eq!(
        p.redirect,
        outpost_auth::oauth::RedirectRule::LoopbackFixedPort(8723)
    );
    assert_eq!(p.redirect_path, "/callback");
    assert_eq!(p.scope_separator, " ");
}

#[tokio::test]
async fn reply_settings_come_from_the_target_options() {
    let env = setup().await;
    let part = text("only followers may reply");
    let options = json!({"reply_settings": "following"});
    let mut req = env.req(&part, &[]);
    req.options = &options;
    env.x.publish(&req).await.expect("publish");
    assert_eq!(
        env.fake.tweets()[0].reply_settings.as_deref(),
        Some("following")
    );
    let bad = json!({"reply_settings": "nobody"});
    req.options = &bad;
    let e = env.x.publish(&req).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
}

#[tokio::test]
async fn the_intent_time_bounds_the_lookup() {
    let env = setup().await;
    env.publish(&text("old news")).await.expect("publish");
    let part = text("old news");
    let mut req = env.req(&part, &[]);
    // An attempt recorded long after the post: the old post is not it.
    let later: DateTime<Utc> = Utc::now() + chrono::Duration::hours(1);
    req.intent_at = later;
    assert_eq!(env.x.lookup(&req).await.expect("lookup"), Lookup::NotFound);
}
