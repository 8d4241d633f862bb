//! The LinkedIn client against the test kit's fake, over loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use outpost_auth::{client_secret_key, MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::linkedin::{
    escape_commentary, LinkedIn, LINKEDIN_VERSION, MEMBER_SCOPES, ORGANIZATION_SCOPES,
};
use outpost_networks::{Lookup, PartOutcome, PartRequest, Publisher};
use outpost_testkit::linkedin::{
    Fault, LinkedInConfig, LinkedInFake, LinkedInRequest, VideoOutcome,
};
use serde_json::{json, Value};
use std::sync::Arc;

const ACCOUNT_ID: &str = "a_ada";
/// Every reserved character of the little format, in several contexts.
const RESERVED_TEXT: &str = "Backslash \\ pipe | braces {x} at @ada [link](url) <tag> #launch * star _under_ ~tilde~ — end.\nSecond line: snake_case(arg) & 100% #1";

struct Env {
    fake: LinkedInFake,
    store: Arc<MemoryStore>,
    li: LinkedIn,
    account: Account,
    sub: String,
    dir: tempfile::TempDir,
}

fn stored_tokens(access: &str, refresh: Option<&str>) -> OAuthTokens {
    OAuthTokens::from_response(
        Secret::new(access),
        refresh.map(Secret::new),
        Some(5_184_000),
        refresh.map(|_| 31_536_000),
        Some(MEMBER_SCOPES.join(",")),
        Utc::now(),
    )
}

async fn setup_with(config: LinkedInConfig, scopes: &[&str], refresh: bool) -> Env {
    let fake = LinkedInFake::start(config.clone()).await;
    let sub = fake.add_member("Ada Lovelace");
    let issued = fake.issue_tokens(&sub, scopes, refresh);
    let store = Arc::new(MemoryStore::new());
    stored_tokens(&issued.access_token, issued.refresh_token.as_deref())
        .save(&*store, ACCOUNT_ID)
        .unwrap();
    store
        .set(
            &client_secret_key("linkedin"),
            &Secret::new(config.client_secret.clone()),
        )
        .unwrap();
    let secrets: Arc<dyn SecretStore> = store.clone();
    let li = LinkedIn::new(fake.base_url(), secrets);
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::LinkedIn,
        handle: "Ada Lovelace".into(),
        remote_id: Some(format!("urn:li:person:{sub}")),
        display_name: Some("Ada Lovelace".into()),
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "client_id": config.client_id }),
        created_at: Utc::now(),
    };
    Env {
        fake,
        store,
        li,
        account,
        sub,
        dir: tempfile::tempdir().unwrap(),
    }
}

async fn setup() -> Env {
    setup_with(LinkedInConfig::default(), &MEMBER_SCOPES, false).await
}

fn text_part(text: &str) -> Part {
    Part {
        text: text.into(),
        media: vec![],
    }
}

fn intent() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::seconds(5)
}

struct Req<'a> {
    options: Value,
    first_comment: Option<&'a str>,
    part_index: usize,
}

impl Default for Req<'_> {
    fn default() -> Self {
        Req {
            options: json!({}),
            first_comment: None,
            part_index: 0,
        }
    }
}

impl Env {
    fn author(&self) -> String {
        format!("urn:li:person:{}", self.sub)
    }

    fn req<'a>(&'a self, part: &'a Part, r: &'a Req<'a>) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: r.part_index,
            part,
            previous: &[],
            client_handle: None,
            intent_at: intent(),
            options: &r.options,
            first_comment: r.first_comment,
            scheduled_at: None,
        }
    }

    async fn publish(&self, part: &Part) -> Result<PublishedPart, PublishError> {
        let r = Req::default();
        self.li.publish(&self.req(part, &r)).await
    }

    fn file(&self, name: &str, mime: &str, bytes: &[u8], alt: Option<&str>) -> MediaRef {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        MediaRef {
            path: path.display().to_string(),
            sha256: String::new(),
            mime: mime.into(),
            bytes: bytes.len() as u64,
            width: Some(10),
            height: Some(10),
            alt: alt.map(str::to_string),
        }
    }

    fn requests(&self, method: &str, path: &str) -> Vec<LinkedInRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    fn access_token(&self) -> String {
        OAuthTokens::load(&*self.store, ACCOUNT_ID)
            .unwrap()
            .unwrap()
            .access_token
            .expose()
            .to_string()
    }
}

fn assert_class(result: &Result<impl std::fmt::Debug, PublishError>, class: &str) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.class.name(), class, "{e:?}");
            assert!(e.message.starts_with("LinkedIn: "), "{}", e.message);
            e.message.clone()
        }
        Ok(v) => panic!("expected a {class} error, got {v:?}"),
    }
}

#[tokio::test]
async fn a_text_post_round_trips_every_reserved_character_and_sends_the_versioned_headers() {
    let env = setup().await;
    let published = env.publish(&text_part(RESERVED_TEXT)).await.unwrap();

    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(
        post.text, RESERVED_TEXT,
        "LinkedIn shows exactly what was written"
    );
    assert!(!post.truncated);
    assert_eq!(post.commentary_sent, escape_commentary(RESERVED_TEXT));
    assert_eq!(post.author, env.author());
    assert_eq!(post.visibility, "PUBLIC");
    assert_eq!(post.lifecycle_state, "PUBLISHED");
    assert_eq!(post.distribution["feedDistribution"], "MAIN_FEED");

    assert_eq!(published.remote_id, post.urn);
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://www.linkedin.com/feed/update/{}/", post.urn).as_str())
    );
    let create = &env.requests("POST", "/rest/posts")[0];
    assert_eq!(create.header("linkedin-version"), Some(LINKEDIN_VERSION));
    assert_eq!(create.header("x-restli-protocol-version"), Some("2.0.0"));
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {}", env.access_token()).as_str())
    );
    let body = create.body_json().unwrap();
    assert_eq!(body["isReshareDisabledByAuthor"], false);
    assert!(body.get("content").is_none());
}

#[tokio::test]
async fn text_over_the_limit_is_permanent_names_the_limit_and_sends_nothing() {
    let env = setup().await;
    let long = "é".repeat(3_001);
    let result = env.publish(&text_part(&long)).await;
    let message = assert_class(&result, "permanent");
    assert!(
        message.contains("3001") && message.contains("3000"),
        "{message}"
    );
    assert!(env.fake.requests().is_empty(), "nothing was sent");
    // Exactly at the limit is fine, and arrives whole.
    let exact = "a".repeat(3_000);
    env.publish(&text_part(&exact)).await.unwrap();
    assert_eq!(env.fake.posts()[0].text, exact);
}

#[tokio::test]
async fn identify_reads_the_openid_profile_and_probe_uses_it() {
    let env = setup().await;
    let token = env.access_token();
    let tokens = stored_tokens(&token, None);
    let identity = env.li.identify(&tokens, &json!({})).await.unwrap();
    assert_eq!(identity.remote_id, env.author());
    assert_eq!(identity.handle, "Ada Lovelace");
    assert_eq!(identity.display_name.as_deref(), Some("Ada Lovelace"));
    assert!(!identity.settings.to_string().contains(&token));
    env.li.probe(&env.account).await.unwrap();
    assert_eq!(env.requests("GET", "/v2/userinfo").len(), 2);

    let profile = env.li.oauth_profile().unwrap();
    assert_eq!(
        profile.authorize_url,
        format!("{}/oauth/v2/authorization", env.fake.base_url())
    );
    assert_eq!(profile.scopes, MEMBER_SCOPES.to_vec());
    assert!(profile.needs_secret);
    let pages = env.li.oauth_profile_with_pages();
    assert!(pages.scopes.contains(&"w_organization_social"));
}

#[tokio::test]
async fn an_organisation_the_member_administers_can_be_chosen_and_posted_as() {
    let scopes: Vec<&str> = MEMBER_SCOPES
        .iter()
        .chain(&ORGANIZATION_SCOPES)
        .copied()
        .collect();
    let env = setup_with(LinkedInConfig::default(), &scopes, false).await;
    let org = env.fake.add_organization("Acme Widgets");
    let watched = env.fake.add_organization("Watched Co");
    env.fake.grant_role(org, &env.sub, "ADMINISTRATOR");
    env.fake.grant_role(watched, &env.sub, "ANALYST");

    let choices = env.li.choices(&env.account, "organizations").await.unwrap();
    assert_eq!(choices.len(), 1, "{choices:?}");
    assert_eq!(choices[0].id, format!("urn:li:organization:{org}"));
    assert_eq!(choices[0].name, "Acme Widgets");
    assert!(env
        .li
        .choices(&env.account, "boards")
        .await
        .unwrap()
        .is_empty());

    let part = text_part("From the page (with care)");
    let r = Req {
        options: json!({ "author": choices[0].id }),
        ..Req::default()
    };
    let published = env.li.publish(&env.req(&part, &r)).await.unwrap();
    let post = &env.fake.posts()[0];
    assert_eq!(post.author, choices[0].id);
    assert_eq!(post.text, "From the page (with care)");
    assert_eq!(published.extra["author"], choices[0].id.as_str());

    // A page where the member is only an analyst: LinkedIn says 403.
    let r = Req {
        options: json!({ "author": format!("urn:li:organization:{watched}") }),
        ..Req::default()
    };
    let result = env.li.publish(&env.req(&part, &r)).await;
    let message = assert_class(&result, "permanent");
    assert!(message.contains("w_organization_social"), "{message}");
    // Nonsense in the option never reaches LinkedIn.
    let r = Req {
        options: json!({ "author": "acme" }),
        ..Req::default()
    };
    assert_class(&env.li.publish(&env.req(&part, &r)).await, "permanent");
}

#[tokio::test]
async fn listing_pages_without_page_access_names_the_permission() {
    let env = setup().await;
    let result = env.li.choices(&env.account, "organizations").await;
    let message = assert_class(&result, "permanent");
    assert!(message.contains("r_organization_admin"), "{message}");
}

#[tokio::test]
async fn one_image_is_initialised_uploaded_and_posted_with_its_alt_text() {
    let env = setup().await;
    let image = env.file(
        "cat.png",
        "image/png",
        b"\x89PNG cat bytes",
        Some("A cat on a mat"),
    );
    let part = Part {
        text: "A cat".into(),
        media: vec![image],
    };
    env.publish(&part).await.unwrap();
    let images = env.fake.images();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].bytes, b"\x89PNG cat bytes");
    assert_eq!(images[0].owner, env.author());
    let post = &env.fake.posts()[0];
    assert_eq!(post.content["media"]["id"], images[0].urn.as_str());
    assert_eq!(post.content["media"]["altText"], "A cat on a mat");
    let init = &env.requests("POST", "/rest/images")[0];
    assert_eq!(init.action().as_deref(), Some("initializeUpload"));
    assert_eq!(init.header("linkedin-version"), Some(LINKEDIN_VERSION));
    assert_eq!(
        init.body_json().unwrap()["initializeUploadRequest"]["owner"],
        env.author()
    );
}

#[tokio::test]
async fn three_images_make_a_multi_image_post() {
    let env = setup().await;
    let media = vec![
        env.file("a.jpg", "image/jpeg", b"jpeg-a", Some("first")),
        env.file("b.png", "image/png", b"png-b", None),
        env.file("c.gif", "image/gif", b"gif-c", Some("third")),
    ];
    let part = Part {
        text: "Three pictures".into(),
        media,
    };
    env.publish(&part).await.unwrap();
    let images = env.fake.images();
    assert_eq!(images.len(), 3);
    let post = &env.fake.posts()[0];
    let entries = post.content["multiImage"]["images"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for (entry, image) in entries.iter().zip(&images) {
        assert_eq!(entry["id"], image.urn.as_str(), "in the order attached");
    }
    assert_eq!(entries[0]["altText"], "first");
    assert!(entries[1].get("altText").is_none());
    assert_eq!(entries[2]["altText"], "third");
    assert_eq!(
        images.iter().map(|i| i.bytes.clone()).collect::<Vec<_>>(),
        vec![b"jpeg-a".to_vec(), b"png-b".to_vec(), b"gif-c".to_vec()]
    );
    // 21 images are refused before anything is sent.
    env.fake.clear_requests();
    let many: Vec<MediaRef> = (0..21)
        .map(|i| env.file(&format!("{i}.png"), "image/png", b"x", None))
        .collect();
    let result = env
        .publish(&Part {
            text: "too many".into(),
            media: many,
        })
        .await;
    assert!(assert_class(&result, "permanent").contains("20"));
    assert!(env.fake.requests().is_empty());
}

fn video_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn video_env(outcome: VideoOutcome) -> Env {
    let env = setup_with(
        LinkedInConfig {
            video_part_size: 100_000,
            ..LinkedInConfig::default()
        },
        &MEMBER_SCOPES,
        false,
    )
    .await;
    env.fake.set_video_outcome(outcome);
    env
}

#[tokio::test]
async fn a_video_uploads_every_part_finalises_with_the_etags_and_posts_once_available() {
    let env = video_env(VideoOutcome::Available { after_polls: 1 }).await;
    let data = video_bytes(350_000);
    let part = Part {
        text: "Watch (this)".into(),
        media: vec![env.file("clip.mp4", "video/mp4", &data, None)],
    };
    let r = Req {
        options: json!({ "title": "Launch clip" }),
        ..Req::default()
    };
    let req = env.req(&part, &r);
    let outcome = env.li.start(&req).await.unwrap();
    let PartOutcome::Processing { phase, poll_after } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(poll_after.as_secs() >= 1);
    assert_eq!(phase["part"], 0);
    let videos = env.fake.videos();
    assert_eq!(videos.len(), 1);
    let video = &videos[0];
    assert_eq!(phase["video"], video.urn.as_str());
    assert_eq!(video.parts.len(), 4, "350,000 bytes in parts of 100,000");
    assert!(video.parts.iter().all(|p| p.puts == 1), "each part once");
    assert_eq!(video.data(), data, "every byte range went to its own URL");
    let etags: Vec<String> = video
        .parts
        .iter()
        .map(|p| p.etag.clone().unwrap())
        .collect();
    assert_eq!(
        video.finalized_with.as_ref(),
        Some(&etags),
        "finalised with the ETags in order"
    );
    assert_eq!(phase["etags"], json!(etags));
    assert_eq!(phase["finalized"], true);
    let init = &env.requests("POST", "/rest/videos")[0];
    assert_eq!(
        init.body_json().unwrap()["initializeUploadRequest"]["fileSizeBytes"],
        350_000
    );
    assert!(
        env.fake.posts().is_empty(),
        "no post before processing ends"
    );

    // First poll: still processing.
    let again = env.li.poll(&req, &phase).await.unwrap();
    let PartOutcome::Processing { phase, .. } = again else {
        panic!("{again:?}")
    };
    assert_eq!(phase["part"], 0);
    assert_eq!(phase["polls"], 1);
    assert!(env.fake.posts().is_empty());
    // Second poll: available → the post.
    let done = env.li.poll(&req, &phase).await.unwrap();
    let PartOutcome::Published(published) = done else {
        panic!("{done:?}")
    };
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].content["media"]["id"], video.urn.as_str());
    assert_eq!(posts[0].content["media"]["title"], "Launch clip");
    assert_eq!(posts[0].text, "Watch (this)");
    assert_eq!(published.remote_id, posts[0].urn);
    assert_eq!(published.extra["video"], video.urn.as_str());
}

#[tokio::test]
async fn a_finalize_without_an_answer_is_checked_on_the_next_poll() {
    let env = video_env(VideoOutcome::Available { after_polls: 0 }).await;
    let data = video_bytes(150_000);
    let part = Part {
        text: "Finalize dropped".into(),
        media: vec![env.file("clip.mp4", "video/mp4", &data, None)],
    };
    // The first finalize is refused before it is applied, then answered normally.
    env.fake.push_fault(Fault::status(
        "POST /rest/videos?action=finalizeUpload",
        1,
        503,
    ));
    let r = Req::default();
    let req = env.req(&part, &r);
    assert_class(&env.li.start(&req).await, "transient");

    // A finalize dropped after it was applied: the phase says so, the next poll sees it.
    env.fake.push_fault(Fault::drop_after_commit(
        "POST /rest/videos?action=finalizeUpload",
        1,
    ));
    let PartOutcome::Processing { phase, .. } = env.li.start(&req).await.unwrap() else {
        panic!("processing expected")
    };
    assert_eq!(phase["finalized"], false);
    let done = env.li.poll(&req, &phase).await.unwrap();
    assert!(matches!(done, PartOutcome::Published(_)), "{done:?}");
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn a_video_that_fails_processing_is_permanent_with_the_reason() {
    let env = video_env(VideoOutcome::Fails {
        after_polls: 1,
        reason: "Unsupported codec".into(),
    })
    .await;
    let part = Part {
        text: "Broken".into(),
        media: vec![env.file("bad.mp4", "video/mp4", &video_bytes(1_000), None)],
    };
    let r = Req::default();
    let req = env.req(&part, &r);
    let PartOutcome::Processing { phase, .. } = env.li.start(&req).await.unwrap() else {
        panic!("processing expected")
    };
    let PartOutcome::Processing { phase, .. } = env.li.poll(&req, &phase).await.unwrap() else {
        panic!("still processing on the first poll")
    };
    let result = env.li.poll(&req, &phase).await;
    let message = assert_class(&result, "permanent");
    assert!(
        message.contains("Unsupported codec") && message.contains("bad.mp4"),
        "{message}"
    );
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_video_that_never_finishes_keeps_processing() {
    let env = video_env(VideoOutcome::NeverFinishes).await;
    let part = Part {
        text: "Slow".into(),
        media: vec![env.file("slow.mp4", "video/mp4", &video_bytes(500), None)],
    };
    let r = Req::default();
    let req = env.req(&part, &r);
    let PartOutcome::Processing { mut phase, .. } = env.li.start(&req).await.unwrap() else {
        panic!("processing expected")
    };
    for n in 1..=15 {
        let PartOutcome::Processing {
            phase: next,
            poll_after,
        } = env.li.poll(&req, &phase).await.unwrap()
        else {
            panic!("still processing")
        };
        assert_eq!(next["polls"], n);
        if n > 12 {
            assert!(poll_after.as_secs() >= 20, "slower polls later");
        }
        phase = next;
    }
    assert!(phase["expires_at"].is_string());
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_duplicate_is_permanent_and_names_the_existing_post() {
    let env = setup().await;
    let first = env.publish(&text_part("Same words twice")).await.unwrap();
    let result = env.publish(&text_part("Same words twice")).await;
    let message = assert_class(&result, "permanent");
    assert!(message.contains(&first.remote_id), "{message}");
    assert!(
        message.contains(&format!(
            "https://www.linkedin.com/feed/update/{}/",
            first.remote_id
        )),
        "{message}"
    );
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn an_expired_token_is_reauth_and_cannot_be_refreshed_without_a_refresh_token() {
    let env = setup().await;
    env.fake.expire_access_tokens(None);
    let result = env.publish(&text_part("after 60 days")).await;
    let message = assert_class(&result, "reauth");
    assert!(message.contains("60 days"), "{message}");
    assert!(!message.contains(&env.access_token()));
    let refreshed = env.li.refresh(&env.account).await;
    let message = assert_class(&refreshed, "reauth");
    assert_eq!(
        message,
        "LinkedIn: LinkedIn tokens last 60 days and cannot be refreshed — connect the account again (Accounts → Reconnect, or `outpost accounts connect linkedin`)"
    );
    assert!(
        env.requests("POST", "/oauth/v2/accessToken").is_empty(),
        "nothing to ask the token endpoint"
    );
}

#[tokio::test]
async fn a_token_past_its_stored_expiry_is_reauth_without_a_call() {
    let env = setup().await;
    let mut tokens = OAuthTokens::load(&*env.store, ACCOUNT_ID).unwrap().unwrap();
    tokens.expires_at = Some(Utc::now() - chrono::Duration::minutes(1));
    tokens.save(&*env.store, ACCOUNT_ID).unwrap();
    assert_class(&env.publish(&text_part("x")).await, "reauth");
    assert!(env.fake.requests().is_empty());
    OAuthTokens::delete(&*env.store, ACCOUNT_ID).unwrap();
    assert_class(&env.publish(&text_part("x")).await, "reauth");
    assert_class(&env.li.refresh(&env.account).await, "reauth");
}

#[tokio::test]
async fn with_a_refresh_token_a_refresh_saves_new_tokens_that_work() {
    let env = setup_with(
        LinkedInConfig {
            mdp_partner: true,
            ..LinkedInConfig::default()
        },
        &MEMBER_SCOPES,
        true,
    )
    .await;
    let before = OAuthTokens::load(&*env.store, ACCOUNT_ID).unwrap().unwrap();
    env.fake.expire_access_tokens(None);
    assert_class(&env.publish(&text_part("first try")).await, "reauth");

    env.li.refresh(&env.account).await.unwrap();
    let after = OAuthTokens::load(&*env.store, ACCOUNT_ID).unwrap().unwrap();
    assert_ne!(
        after.access_token, before.access_token,
        "a new access token is saved"
    );
    assert_eq!(
        after.refresh_token, before.refresh_token,
        "LinkedIn does not rotate it"
    );
    assert!(after.expires_at.unwrap() > Utc::now() + chrono::Duration::days(59));
    let grant = &env.requests("POST", "/oauth/v2/accessToken")[0];
    let form = String::from_utf8(grant.body.clone()).unwrap();
    assert!(
        form.contains("grant_type=refresh_token") && form.contains("client_secret="),
        "{form}"
    );

    env.publish(&text_part("second try")).await.unwrap();
    assert_eq!(env.fake.posts().len(), 1);

    // A revoked refresh token: reconnect.
    env.fake.revoke_refresh_tokens(&env.sub);
    let message = assert_class(&env.li.refresh(&env.account).await, "reauth");
    assert!(message.contains("invalid_grant"), "{message}");
}

#[tokio::test]
async fn a_429_is_rate_limited_until_midnight_utc_or_the_header() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::rate_limited("POST /rest/posts", 1, None));
    let result = env.publish(&text_part("throttled")).await;
    assert_class(&result, "rate_limited");
    let Err(PublishError {
        class: ErrorClass::RateLimited { until },
        ..
    }) = result
    else {
        unreachable!()
    };
    let now = Utc::now();
    assert!(until > now && until <= now + chrono::Duration::hours(24));
    assert_eq!(until.format("%H:%M:%S").to_string(), "00:00:00");

    env.fake
        .push_fault(Fault::rate_limited("POST /rest/posts", 1, Some(120)));
    let Err(PublishError {
        class: ErrorClass::RateLimited { until },
        ..
    }) = env.publish(&text_part("throttled")).await
    else {
        panic!("rate limited expected")
    };
    let wait = (until - Utc::now()).num_seconds();
    assert!((100..=125).contains(&wait), "{wait}");
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_503_is_transient_and_nothing_is_posted() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::status("POST /rest/posts", 1, 503));
    assert_class(&env.publish(&text_part("busy")).await, "transient");
    assert!(env.fake.posts().is_empty());
    env.publish(&text_part("busy")).await.unwrap();
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn a_post_dropped_after_the_commit_is_unknown_then_found_by_lookup() {
    let env = setup().await;
    env.publish(&text_part("An older post")).await.unwrap();
    env.fake
        .push_fault(Fault::drop_after_commit("POST /rest/posts", 1));
    let part = text_part(RESERVED_TEXT);
    let r = Req::default();
    let req = env.req(&part, &r);
    assert_class(&env.li.publish(&req).await, "unknown_outcome");
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 2, "it went out");

    let found = env.li.lookup(&req).await.unwrap();
    let Lookup::Found(published) = found else {
        panic!("{found:?}")
    };
    assert_eq!(published.remote_id, posts[1].urn);
    let list = &env.requests("GET", "/rest/posts")[0];
    assert!(list.query.contains("q=author"), "{}", list.query);
    assert!(
        list.query
            .contains(&format!("author=urn%3Ali%3Aperson%3A{}", env.sub)),
        "{}",
        list.query
    );

    // A text that never went out is provably absent.
    let never = text_part("Never sent");
    assert_eq!(
        env.li.lookup(&env.req(&never, &r)).await.unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn lookup_cannot_tell_when_linkedin_refuses_to_list_posts() {
    let env = setup_with(
        LinkedInConfig {
            member_reads_need_r_member_social: true,
            ..LinkedInConfig::default()
        },
        &MEMBER_SCOPES,
        false,
    )
    .await;
    let part = text_part("hello");
    let r = Req::default();
    let found = env.li.lookup(&env.req(&part, &r)).await.unwrap();
    assert!(
        matches!(&found, Lookup::CannotTell(why) if why.contains("r_member_social")),
        "{found:?}"
    );
}

#[tokio::test]
async fn the_first_comment_follows_the_post() {
    let env = setup().await;
    let part = text_part("Post with a comment");
    let r = Req {
        first_comment: Some("Link in the first comment (as promised): https://example.com/a_b"),
        ..Req::default()
    };
    let published = env.li.publish(&env.req(&part, &r)).await.unwrap();
    let comments = env.fake.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].object, published.remote_id);
    assert_eq!(comments[0].actor, env.author());
    assert_eq!(
        comments[0].text,
        "Link in the first comment (as promised): https://example.com/a_b"
    );
    assert_eq!(published.extra["first_comment"], comments[0].urn.as_str());
    let call = &env.fake.requests().last().cloned().unwrap();
    assert_eq!(
        call.path,
        format!(
            "/rest/socialActions/{}/comments",
            published.remote_id.replace(':', "%3A")
        )
    );

    // A failing comment never fails the live post.
    env.fake
        .push_fault(Fault::status("POST /rest/socialActions/*", 1, 500));
    let part = text_part("Another post");
    let published = env.li.publish(&env.req(&part, &r)).await.unwrap();
    assert!(published.extra["first_comment_error"].is_string());
    assert_eq!(env.fake.posts().len(), 2);
}

#[tokio::test]
async fn threads_are_not_supported() {
    let env = setup().await;
    let part = text_part("part two");
    let r = Req {
        part_index: 1,
        ..Req::default()
    };
    let message = assert_class(&env.li.publish(&env.req(&part, &r)).await, "permanent");
    assert!(message.contains("no threads"), "{message}");
    assert!(env.fake.requests().is_empty());
}

#[tokio::test]
async fn a_sunset_version_is_permanent_and_says_how_to_fix_it() {
    let env = setup().await;
    let old = LinkedIn::new(env.fake.base_url(), env.store.clone()).with_version("202301");
    let message = assert_class(
        &old.publish(&env.req(&text_part("x"), &Req::default()))
            .await,
        "permanent",
    );
    assert!(
        message.contains("202301") && message.contains("OUTPOST_LINKEDIN_VERSION"),
        "{message}"
    );
    assert!(env.fake.posts().is_empty());
}
