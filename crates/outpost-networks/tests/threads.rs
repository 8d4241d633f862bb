//! The Threads client against the test kit's fake API, over loopback HTTP.

use chrono::Utc;
use outpost_auth::{client_secret_key, MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::threads::Threads;
use outpost_networks::{Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use outpost_testkit::threads::{
    Endpoint, Fault, IssuedToken, MediaHost, Processing, ThreadsConfig, ThreadsFake, ThreadsUser,
    DEFAULT_APP_ID, DEFAULT_APP_SECRET,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT_ID: &str = "a_alice";

struct Env {
    fake: ThreadsFake,
    host: MediaHost,
    store: Arc<MemoryStore>,
    threads: Threads,
    account: Account,
    user: ThreadsUser,
    token: IssuedToken,
}

fn client() -> reqwest::Client {
    outpost_networks::http::client_builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client")
}

/// Stores `token` as issued `issued_ago`, expiring `expires_in` seconds from now.
fn save(store: &MemoryStore, token: &str, expires_in: i64, issued_ago: chrono::Duration) {
    let now = Utc::now();
    let mut t = OAuthTokens::from_response(
        Secret::new(token),
        None,
        Some(expires_in),
        None,
        Some("threads_basic,threads_content_publish".into()),
        now,
    );
    t.issued_at = now - issued_ago;
    t.refresh_token = Some(Secret::new(token));
    t.save(store, ACCOUNT_ID).expect("save tokens");
}

async fn setup() -> Env {
    let fake = ThreadsFake::start(ThreadsConfig::default()).await;
    let (user, token) = fake.create_user_with_token("alice");
    let store = Arc::new(MemoryStore::new());
    save(
        &store,
        &token.access_token,
        token.expires_in,
        chrono::Duration::zero(),
    );
    let secrets: Arc<dyn SecretStore> = store.clone();
    let threads = Threads::new(fake.base_url(), secrets)
        .with_http_client(client())
        .with_poll_interval(Duration::ZERO);
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::Threads,
        handle: "alice".into(),
        remote_id: Some(user.id.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "client_id": DEFAULT_APP_ID }),
        created_at: Utc::now(),
    };
    Env {
        fake,
        host: MediaHost::start().await,
        store,
        threads,
        account,
        user,
        token,
    }
}

fn text(t: &str) -> Part {
    Part {
        text: t.into(),
        media: vec![],
    }
}

fn png_bytes() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&640u32.to_be_bytes());
    v.extend_from_slice(&480u32.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0]);
    v
}

fn mp4_bytes() -> Vec<u8> {
    let mut v = vec![0, 0, 0, 24];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v
}

struct Req {
    part: Part,
    previous: Vec<PublishedPart>,
    options: Value,
    first_comment: Option<String>,
    intent_at: chrono::DateTime<Utc>,
}

impl Req {
    fn new(part: Part) -> Req {
        Req {
            part,
            previous: vec![],
            options: json!({}),
            first_comment: None,
            intent_at: Utc::now(),
        }
    }
    fn after(mut self, previous: &[PublishedPart]) -> Req {
        self.previous = previous.to_vec();
        self
    }
    fn options(mut self, o: Value) -> Req {
        if let (Some(m), Some(n)) = (self.options.as_object_mut(), o.as_object()) {
            m.extend(n.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self
    }
}

impl Env {
    fn req<'a>(&'a self, r: &'a Req) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: r.previous.len(),
            part: &r.part,
            previous: &r.previous,
            client_handle: None,
            intent_at: r.intent_at,
            options: &r.options,
            first_comment: r.first_comment.as_deref(),
            scheduled_at: None,
        }
    }

    /// A media file served by the host, with its staged address in the request's options.
    fn media(&self, name: &str, video: bool, alt: Option<&str>) -> (MediaRef, Value) {
        let (mime, bytes) = if video {
            ("video/mp4", mp4_bytes())
        } else {
            ("image/png", png_bytes())
        };
        let url = self.host.put(name, mime, &bytes);
        let sha = format!("{:0>64}", name.replace('.', ""));
        let m = MediaRef {
            path: format!("/tmp/{name}"),
            sha256: sha.clone(),
            mime: mime.into(),
            bytes: bytes.len() as u64,
            width: Some(640),
            height: Some(480),
            alt: alt.map(str::to_string),
        };
        (m, json!({ sha: url }))
    }

    fn media_part(&self, t: &str, files: &[(&str, bool, Option<&str>)]) -> Req {
        let mut part = text(t);
        let mut urls = serde_json::Map::new();
        for (name, video, alt) in files {
            let (m, u) = self.media(name, *video, *alt);
            part.media.push(m);
            if let Some(o) = u.as_object() {
                urls.extend(o.clone());
            }
        }
        Req::new(part).options(json!({ "media_urls": urls }))
    }

    /// `start`, then `poll` until published (bounded).
    async fn publish_fully(&self, r: &Req) -> Result<PublishedPart, PublishError> {
        let req = self.req(r);
        let mut outcome = self.threads.start(&req).await?;
        for _ in 0..20 {
            match outcome {
                PartOutcome::Published(p) => return Ok(p),
                PartOutcome::Processing { phase, .. } => {
                    assert_eq!(phase["part"], r.previous.len());
                    outcome = self.threads.poll(&req, &phase).await?;
                }
            }
        }
        panic!("never published");
    }

    fn stored(&self) -> OAuthTokens {
        OAuthTokens::load(&*self.store, ACCOUNT_ID)
            .expect("store")
            .expect("tokens are stored")
    }

    /// Neither the message nor the excerpt carries the token; the message names Threads.
    fn assert_clean(&self, e: &PublishError) {
        let excerpt = e.excerpt.clone().unwrap_or_default();
        let t = &self.token.access_token;
        assert!(
            !e.message.contains(t.as_str()),
            "token in message: {}",
            e.message
        );
        assert!(!excerpt.contains(t.as_str()), "token in excerpt: {excerpt}");
        assert!(e.message.starts_with("Threads: "), "{}", e.message);
    }
}

#[tokio::test]
async fn a_text_post_is_one_call_after_the_quota_read() {
    let env = setup().await;
    let r = Req::new(text("hello threads")).options(json!({
        "reply_control": "accounts_you_follow",
        "topic_tag": "#rustlang",
        "link_attachment": "https://example.com/article",
    }));
    let published = env.threads.publish(&env.req(&r)).await.expect("published");
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(published.remote_id, post.id);
    assert_eq!(published.url.as_deref(), Some(post.permalink.as_str()));
    assert!(post.auto_published);
    assert_eq!(post.text.as_deref(), Some("hello threads"));
    assert_eq!(post.reply_control.as_deref(), Some("accounts_you_follow"));
    assert_eq!(post.topic_tag.as_deref(), Some("rustlang"));
    assert_eq!(
        post.link_attachment.as_deref(),
        Some("https://example.com/article")
    );
    let order: Vec<Endpoint> = env
        .fake
        .requests()
        .iter()
        .filter_map(|r| r.endpoint)
        .collect();
    assert_eq!(
        order,
        [
            Endpoint::PublishingLimit,
            Endpoint::CreateContainer,
            Endpoint::Object
        ]
    );
    assert_eq!(env.fake.count(Endpoint::Publish), 0, "no publish step");
    let create = &env.fake.requests_to(Endpoint::CreateContainer)[0];
    assert_eq!(create.param("auto_publish_text").as_deref(), Some("true"));
    assert_eq!(create.param("media_type").as_deref(), Some("TEXT"));
    // The token travels as the documented parameter, in the body of a POST.
    assert!(!create.query.contains("access_token"));
    assert_eq!(
        create.param("access_token").as_deref(),
        Some(env.token.access_token.as_str())
    );
    assert_eq!(
        env.threads.media_by_url(&r.part, &r.options),
        MediaByUrl::No
    );
}

#[tokio::test]
async fn text_and_links_are_checked_before_anything_is_sent() {
    let env = setup().await;
    let over = format!("{}{}", "a".repeat(497), "😀");
    let e = env
        .threads
        .publish(&env.req(&Req::new(text(&over))))
        .await
        .expect_err("too long");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("501 characters"), "{}", e.message);
    let six = (1..=6)
        .map(|i| format!("https://l{i}.test"))
        .collect::<Vec<_>>()
        .join(" ");
    let e = env
        .threads
        .publish(&env.req(&Req::new(text(&six))))
        .await
        .expect_err("too many links");
    assert!(
        e.message.contains("THREADS_API__LINK_LIMIT_EXCEEDED"),
        "{}",
        e.message
    );
    let r = env
        .media_part("pic", &[("a.png", false, None)])
        .options(json!({"link_attachment": "https://x.test"}));
    let e = env
        .threads
        .start(&env.req(&r))
        .await
        .expect_err("no link on media");
    assert!(
        e.message.contains("link attachment only on text posts"),
        "{}",
        e.message
    );
    let files: Vec<(String, bool, Option<&str>)> =
        (0..21).map(|i| (format!("{i}.png"), false, None)).collect();
    let refs: Vec<(&str, bool, Option<&str>)> =
        files.iter().map(|(n, v, a)| (n.as_str(), *v, *a)).collect();
    let e = env
        .threads
        .start(&env.req(&env.media_part("many", &refs)))
        .await
        .expect_err("21 items");
    assert!(e.message.contains("2–20"), "{}", e.message);
    assert_eq!(env.fake.count(Endpoint::Any), 0, "nothing was sent");
    // The server's own check agrees when it sees six links anyway (another client's count).
    assert!(e.message.starts_with("Threads: "));
}

#[tokio::test]
async fn an_image_post_waits_for_its_container_then_publishes() {
    let env = setup().await;
    let r = env.media_part("a photo", &[("a.png", false, Some("a red square"))]);
    assert_eq!(
        env.threads.media_by_url(&r.part, &r.options),
        MediaByUrl::Required
    );
    let req = env.req(&r);
    let PartOutcome::Processing { phase, poll_after } =
        env.threads.start(&req).await.expect("start")
    else {
        panic!("an image needs processing")
    };
    assert_eq!(poll_after, Duration::ZERO);
    assert_eq!(phase["part"], 0);
    assert_eq!(phase["step"], "container");
    assert!(phase["expires_at"].is_string());
    let container = phase["container"].as_str().expect("container").to_string();
    assert_eq!(env.host.hits("a.png"), 1, "Threads fetched it");
    // First check: still processing.
    let PartOutcome::Processing { phase, .. } = env.threads.poll(&req, &phase).await.expect("poll")
    else {
        panic!("still processing")
    };
    assert_eq!(phase["polls"], 1);
    let PartOutcome::Published(p) = env.threads.poll(&req, &phase).await.expect("poll") else {
        panic!("published")
    };
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(p.remote_id, posts[0].id);
    assert_eq!(posts[0].container_id.as_deref(), Some(container.as_str()));
    assert_eq!(posts[0].media_type, "IMAGE");
    assert_eq!(posts[0].alt_texts, [Some("a red square".to_string())]);
    assert_eq!(env.fake.count(Endpoint::Publish), 1);
    assert_eq!(
        env.fake.count(Endpoint::PublishingLimit),
        2,
        "before the containers and before the publish"
    );
}

#[tokio::test]
async fn a_carousel_waits_for_its_items_then_for_itself() {
    let env = setup().await;
    let r = env.media_part(
        "three",
        &[
            ("1.png", false, Some("one")),
            ("2.mp4", true, None),
            ("3.png", false, None),
        ],
    );
    let req = env.req(&r);
    let PartOutcome::Processing { phase, .. } = env.threads.start(&req).await.expect("start")
    else {
        panic!("processing")
    };
    assert_eq!(phase["step"], "children");
    assert_eq!(phase["children"].as_array().map(Vec::len), Some(3));
    let mut outcome = PartOutcome::Processing {
        phase,
        poll_after: Duration::ZERO,
    };
    let mut steps = Vec::new();
    let p = loop {
        match outcome {
            PartOutcome::Published(p) => break p,
            PartOutcome::Processing { phase, .. } => {
                steps.push(phase["step"].as_str().unwrap_or_default().to_string());
                assert!(steps.len() < 10, "{steps:?}");
                outcome = env.threads.poll(&req, &phase).await.expect("poll");
            }
        }
    };
    assert_eq!(steps.first().map(String::as_str), Some("children"));
    assert_eq!(steps.last().map(String::as_str), Some("container"));
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.id, p.remote_id);
    assert_eq!(post.media_type, "CAROUSEL_ALBUM");
    assert_eq!(post.media_urls.len(), 3);
    assert_eq!(post.alt_texts[0].as_deref(), Some("one"));
    let children: Vec<_> = env
        .fake
        .containers()
        .into_iter()
        .filter(|c| c.is_carousel_item)
        .collect();
    assert_eq!(children.len(), 3);
    assert!(children.iter().all(|c| c.text.is_none()));
}

#[tokio::test]
async fn a_thread_chains_replies_to_the_previous_part() {
    let env = setup().await;
    let p1 = env
        .publish_fully(&Req::new(text("1/ start")))
        .await
        .expect("part 1");
    let r2 = env
        .media_part("2/ a picture", &[("b.png", false, None)])
        .after(std::slice::from_ref(&p1));
    let p2 = env.publish_fully(&r2).await.expect("part 2");
    let p3 = env
        .publish_fully(&Req::new(text("3/ end")).after(&[p1.clone(), p2.clone()]))
        .await
        .expect("part 3");
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[1].reply_to.as_deref(), Some(p1.remote_id.as_str()));
    assert_eq!(posts[2].reply_to.as_deref(), Some(p2.remote_id.as_str()));
    assert_eq!(posts[2].id, p3.remote_id);
    assert_eq!(posts[2].root_post, p1.remote_id);
}

#[tokio::test]
async fn a_first_comment_is_a_reply_under_the_post() {
    let env = setup().await;
    let mut r = Req::new(text("the post"));
    r.first_comment = Some("and a comment".into());
    let p = env.publish_fully(&r).await.expect("published");
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].text.as_deref(), Some("and a comment"));
    assert_eq!(posts[1].reply_to.as_deref(), Some(p.remote_id.as_str()));
    assert_eq!(p.extra["first_comment_id"], posts[1].id.as_str());
}

#[tokio::test]
async fn container_errors_are_explained_or_tried_again() {
    let env = setup().await;
    env.fake.set_processing(Processing::Error {
        after_polls: 0,
        message: "INVALID_DURATION".into(),
    });
    let e = env
        .publish_fully(&env.media_part("long", &[("long.mp4", true, None)]))
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("longer than Threads takes"),
        "{}",
        e.message
    );
    assert!(e.message.contains("INVALID_DURATION"), "{}", e.message);
    // A download failure although the address works: a new container, which succeeds.
    env.fake.set_processing(Processing::Error {
        after_polls: 0,
        message: "FAILED_DOWNLOADING_VIDEO".into(),
    });
    let r = env.media_part("dl", &[("dl.mp4", true, None)]);
    let req = env.req(&r);
    let PartOutcome::Processing { phase, .. } = env.threads.start(&req).await.expect("start")
    else {
        panic!("processing")
    };
    env.fake.set_processing(Processing::AfterPolls { polls: 0 });
    let PartOutcome::Processing { phase: again, .. } =
        env.threads.poll(&req, &phase).await.expect("poll")
    else {
        panic!("made again")
    };
    assert_eq!(again["recreated"], 1);
    assert_ne!(again["container"], phase["container"]);
    let PartOutcome::Published(_) = env.threads.poll(&req, &again).await.expect("poll") else {
        panic!("published")
    };
    // The same failure with an address that does not work: permanent, naming the bucket.
    env.fake.set_processing(Processing::Error {
        after_polls: 0,
        message: "FAILED_DOWNLOADING_VIDEO".into(),
    });
    let r = env.media_part("gone", &[("gone.mp4", true, None)]);
    let req = env.req(&r);
    let PartOutcome::Processing { phase, .. } = env.threads.start(&req).await.expect("start")
    else {
        panic!("processing")
    };
    env.host.remove("gone.mp4");
    let e = env.threads.poll(&req, &phase).await.expect_err("permanent");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("staging bucket"), "{}", e.message);
    assert!(e.message.contains("HTTP 404"), "{}", e.message);
    // An image the crawler cannot fetch is refused at creation; the address is not shown.
    let r = env.media_part("img", &[("x.png", false, None)]);
    env.host.remove("x.png");
    let e = env.threads.start(&env.req(&r)).await.expect_err("refused");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(!e.message.contains(&env.host.url("x.png")), "{}", e.message);
    env.assert_clean(&e);
}

#[tokio::test]
async fn an_expired_container_and_a_not_ready_publish() {
    let env = setup().await;
    env.fake.set_processing(Processing::AfterPolls { polls: 0 });
    let r = env.media_part("later", &[("l.png", false, None)]);
    let req = env.req(&r);
    let PartOutcome::Processing { phase, .. } = env.threads.start(&req).await.expect("start")
    else {
        panic!("processing")
    };
    // Threads says "not ready" at publish time after all: keep polling.
    env.fake.push_fault(Fault::graph(
        Endpoint::Publish,
        1,
        400,
        9007,
        Some(2207027),
        "Media ID is not available",
    ));
    let PartOutcome::Processing { phase: next, .. } =
        env.threads.poll(&req, &phase).await.expect("poll")
    else {
        panic!("still waiting")
    };
    // A day later the container is gone.
    env.fake.advance_time(chrono::Duration::hours(25));
    let e = env.threads.poll(&req, &next).await.expect_err("expired");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("containers expired"), "{}", e.message);
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_publish_whose_answer_was_lost_is_found_by_the_lookup() {
    let env = setup().await;
    env.fake.set_processing(Processing::AfterPolls { polls: 0 });
    let r = env.media_part("lost answer", &[("q.png", false, None)]);
    let req = env.req(&r);
    let PartOutcome::Processing { phase, .. } = env.threads.start(&req).await.expect("start")
    else {
        panic!("processing")
    };
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::Publish, 1));
    let e = env.threads.poll(&req, &phase).await.expect_err("in doubt");
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e:?}");
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1, "it was published");
    let Lookup::Found(found) = env.threads.lookup(&req).await.expect("lookup") else {
        panic!("found")
    };
    assert_eq!(found.remote_id, posts[0].id);
    assert_eq!(found.url.as_deref(), Some(posts[0].permalink.as_str()));
    // Polling the same phase again sees PUBLISHED and recovers the id the same way.
    let PartOutcome::Published(again) = env.threads.poll(&req, &phase).await.expect("poll") else {
        panic!("published")
    };
    assert_eq!(again.remote_id, posts[0].id);
    assert_eq!(
        env.fake.count(Endpoint::Publish),
        1,
        "never published twice"
    );
    // Another text is not found.
    let other = Req::new(text("never sent"));
    assert_eq!(
        env.threads.lookup(&env.req(&other)).await.expect("lookup"),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn a_lost_text_reply_is_found_among_the_replies_to_the_previous_part() {
    let env = setup().await;
    let p1 = env
        .publish_fully(&Req::new(text("root")))
        .await
        .expect("root");
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::CreateContainer, 1));
    let r = Req::new(text("the reply")).after(std::slice::from_ref(&p1));
    let e = env.threads.start(&env.req(&r)).await.expect_err("in doubt");
    assert_eq!(e.class, ErrorClass::UnknownOutcome);
    let Lookup::Found(found) = env.threads.lookup(&env.req(&r)).await.expect("lookup") else {
        panic!("found")
    };
    let posts = env.fake.posts();
    assert_eq!(found.remote_id, posts[1].id);
    assert_eq!(posts[1].reply_to.as_deref(), Some(p1.remote_id.as_str()));
    // The same text as a reply to another post is not this part.
    let elsewhere = env
        .fake
        .insert_post(&env.user.id, "same words", None)
        .expect("post");
    env.fake
        .insert_post(&env.user.id, "dup", Some(&elsewhere.id))
        .expect("reply");
    let r = Req::new(text("dup")).after(std::slice::from_ref(&p1));
    assert_eq!(
        env.threads.lookup(&env.req(&r)).await.expect("lookup"),
        Lookup::NotFound
    );
    assert!(env
        .fake
        .requests_to(Endpoint::ListReplies)
        .iter()
        .all(|q| q.param("since").is_some()));
}

#[tokio::test]
async fn a_used_up_quota_waits_for_the_oldest_post_to_leave_the_window() {
    let env = setup().await;
    env.fake.set_quota(1, 1000, chrono::Duration::seconds(600));
    env.publish_fully(&Req::new(text("first")))
        .await
        .expect("first");
    let first_at = env.fake.posts()[0].timestamp;
    let e = env
        .threads
        .start(&env.req(&Req::new(text("second"))))
        .await
        .expect_err("quota");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("rate limited: {e:?}")
    };
    let expected = first_at + chrono::Duration::seconds(600);
    assert!(
        (until - expected).num_seconds().abs() <= 1,
        "{until} vs {expected}"
    );
    assert!(
        e.message.contains("threads_publishing_limit"),
        "{}",
        e.message
    );
    assert!(e.message.contains("1 of its 1 posts"), "{}", e.message);
    assert_eq!(
        env.fake.count(Endpoint::CreateContainer),
        1,
        "nothing more was sent"
    );
}

#[tokio::test]
async fn graph_errors_are_classified_and_never_carry_the_token() {
    let env = setup().await;
    let t = text("x");
    let r = Req::new(t);
    env.fake
        .push_fault(Fault::throttled(Endpoint::CreateContainer, 1, 4));
    let e = env
        .threads
        .start(&env.req(&r))
        .await
        .expect_err("throttled");
    assert!(matches!(e.class, ErrorClass::RateLimited { .. }), "{e:?}");
    env.assert_clean(&e);
    env.fake
        .push_fault(Fault::status(Endpoint::CreateContainer, 1, 500));
    let e = env.threads.start(&env.req(&r)).await.expect_err("500");
    assert!(e.class.is_transient(), "{e:?}");
    env.assert_clean(&e);
    env.fake.push_fault(Fault::graph(
        Endpoint::CreateContainer,
        1,
        400,
        100,
        None,
        "Invalid parameter",
    ));
    let e = env.threads.start(&env.req(&r)).await.expect_err("100");
    assert_eq!(e.class, ErrorClass::Permanent);
    env.assert_clean(&e);
    assert!(e
        .excerpt
        .as_deref()
        .is_some_and(|x| x.contains("Invalid parameter")));
    env.fake.revoke_token(&env.token.access_token);
    let e = env.threads.start(&env.req(&r)).await.expect_err("revoked");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("reconnect"), "{}", e.message);
    env.assert_clean(&e);
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_token_younger_than_a_day_is_not_refreshed() {
    let env = setup().await;
    env.threads.refresh(&env.account).await.expect("left alone");
    assert_eq!(env.fake.count(Endpoint::RefreshToken), 0);
    assert_eq!(env.stored().access_token.expose(), env.token.access_token);
    // Expired: nothing can renew it.
    save(
        &env.store,
        &env.token.access_token,
        -60,
        chrono::Duration::hours(2),
    );
    let e = env
        .threads
        .refresh(&env.account)
        .await
        .expect_err("expired");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("expired"), "{}", e.message);
    assert_eq!(env.fake.count(Endpoint::RefreshToken), 0);
}

#[tokio::test]
async fn a_day_old_token_is_refreshed_without_the_secret_and_saved() {
    let env = setup().await;
    let old = env
        .fake
        .issue_long_lived(
            &env.user.id,
            &["threads_basic", "threads_content_publish"],
            chrono::Duration::days(50),
        )
        .expect("token");
    save(
        &env.store,
        &old.access_token,
        old.expires_in,
        chrono::Duration::days(50),
    );
    env.threads.refresh(&env.account).await.expect("refreshed");
    let calls = env.fake.requests_to(Endpoint::RefreshToken);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].param("grant_type").as_deref(),
        Some("th_refresh_token")
    );
    assert!(
        calls[0].param("client_secret").is_none(),
        "no secret is sent"
    );
    let t = env.stored();
    assert_ne!(t.access_token.expose(), old.access_token);
    assert!(env.fake.token_is_live(t.access_token.expose()));
    assert_eq!(
        t.refresh_token.as_ref().map(Secret::expose),
        Some(t.access_token.expose()),
        "renewable again"
    );
    let left = t.expires_at.expect("expiry") - Utc::now();
    assert!(left > chrono::Duration::days(59), "{left}");
    // Threads' clock disagrees (the token is young there): kept, no error.
    let young = env
        .fake
        .issue_long_lived(&env.user.id, &["threads_basic"], chrono::Duration::zero())
        .expect("token");
    save(
        &env.store,
        &young.access_token,
        young.expires_in,
        chrono::Duration::days(2),
    );
    env.threads.refresh(&env.account).await.expect("kept");
    assert_eq!(env.stored().access_token.expose(), young.access_token);
    // A revoked token cannot be renewed: reconnect.
    let dead = env
        .fake
        .issue_long_lived(&env.user.id, &["threads_basic"], chrono::Duration::days(3))
        .expect("token");
    env.fake.revoke_token(&dead.access_token);
    save(
        &env.store,
        &dead.access_token,
        dead.expires_in,
        chrono::Duration::days(3),
    );
    let e = env
        .threads
        .refresh(&env.account)
        .await
        .expect_err("revoked");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(!e.message.contains(&dead.access_token));
}

#[tokio::test]
async fn connecting_exchanges_the_short_lived_token_and_the_first_call_adopts_it() {
    let env = setup().await;
    env.store
        .set(
            &client_secret_key("threads"),
            &Secret::new(DEFAULT_APP_SECRET),
        )
        .expect("secret");
    let short = env.fake.issue_short_lived(&env.user.id).expect("short");
    // What the code exchange gives: no expires_in, no refresh token.
    let tokens = OAuthTokens::from_response(
        Secret::new(short.access_token.clone()),
        None,
        None,
        None,
        None,
        Utc::now(),
    );
    let who = env
        .threads
        .identify(&tokens, &json!({}))
        .await
        .expect("identify");
    assert_eq!(who.remote_id, env.user.id);
    assert_eq!(who.handle, "alice");
    let exchanges = env.fake.requests_to(Endpoint::ExchangeToken);
    assert_eq!(exchanges.len(), 1);
    assert_eq!(
        exchanges[0].param("client_secret").as_deref(),
        Some(DEFAULT_APP_SECRET)
    );
    // The engine saves what it has (the short-lived token)…
    tokens.save(&*env.store, ACCOUNT_ID).expect("save");
    // …and the account's first call takes the long-lived one.
    env.threads.probe(&env.account).await.expect("probe");
    let t = env.stored();
    assert_ne!(t.access_token.expose(), short.access_token);
    assert_eq!(
        env.fake.token_is_long_lived(t.access_token.expose()),
        Some(true)
    );
    assert!(t.refresh_token.is_some());
    assert!(t.expires_at.expect("expiry") - Utc::now() > chrono::Duration::days(59));
    // A long-lived token imported without a refresh token is made renewable once.
    let long = env
        .fake
        .issue_long_lived(&env.user.id, &["threads_basic"], chrono::Duration::zero())
        .expect("long");
    OAuthTokens::from_response(
        Secret::new(long.access_token.clone()),
        None,
        Some(long.expires_in),
        None,
        None,
        Utc::now(),
    )
    .save(&*env.store, ACCOUNT_ID)
    .expect("save");
    env.threads.probe(&env.account).await.expect("probe");
    assert_eq!(
        env.stored().refresh_token.as_ref().map(Secret::expose),
        Some(long.access_token.as_str())
    );
    assert_eq!(
        env.fake.count(Endpoint::ExchangeToken),
        1,
        "no second exchange"
    );
}

#[tokio::test]
async fn the_oauth_profile_follows_the_reference() {
    let env = setup().await;
    let p = env.threads.oauth_profile().expect("profile");
    assert_eq!(p.network, "threads");
    assert_eq!(p.authorize_url, "https://threads.net/oauth/authorize");
    assert_eq!(
        p.token_url,
        format!("{}/oauth/access_token", env.fake.base_url())
    );
    assert_eq!(p.scopes, ["threads_basic", "threads_content_publish"]);
    assert_eq!(p.scope_separator, ",");
    assert!(p.needs_secret);
    assert_eq!(p.redirect, outpost_auth::oauth::RedirectRule::HttpsOnly);
    assert_eq!(p.pkce, outpost_auth::oauth::Pkce::None);
}
