//! The Facebook Pages client against the test kit's fake Graph API, over loopback HTTP.

use chrono::{DateTime, Utc};
use outpost_auth::{account_key, client_secret_key, MemoryStore, OAuthTokens, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::facebook::{Facebook, PAGE_TOKEN_KEY};
use outpost_networks::{Lookup, PartOutcome, PartRequest, Publisher};
use outpost_testkit::facebook::{
    Endpoint, FacebookConfig, FacebookFake, Fault, FbPage, FbUser, GraphFault, Processing,
    Throttle, TokenKind, ADMIN_TASKS, DEFAULT_APP_ID, DEFAULT_APP_SECRET, PAGE_SCOPES,
};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT_ID: &str = "a_bakery";

struct Env {
    fake: FacebookFake,
    store: Arc<MemoryStore>,
    fb: Facebook,
    account: Account,
    user: FbUser,
    page: FbPage,
    dir: tempfile::TempDir,
}

fn client() -> reqwest::Client {
    outpost_networks::http::client_builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client")
}

fn short_tokens(access: &str, expires_in: i64) -> OAuthTokens {
    OAuthTokens::from_response(
        Secret::new(access),
        None,
        Some(expires_in),
        None,
        None,
        Utc::now(),
    )
}

/// A user administering one Page, with the app secret stored, connected like the engine does
/// it: `identify` with the dialog's short-lived token, then the account created and the
/// endpoint's tokens saved under its id.
async fn setup() -> Env {
    let fake = FacebookFake::start(FacebookConfig::default()).await;
    let user = fake.create_user("Ada");
    let page = fake.create_page("Ada's Bakery", Some("adasbakery"));
    fake.grant_page(&user.id, &page.id, &ADMIN_TASKS);
    let store = Arc::new(MemoryStore::new());
    store
        .set(
            &client_secret_key("facebook"),
            &Secret::new(DEFAULT_APP_SECRET),
        )
        .expect("secret");
    let secrets: Arc<dyn SecretStore> = store.clone();
    let fb = Facebook::new(fake.base_url(), secrets)
        .with_http_client(client())
        .with_upload_step(4096);
    let short = fake.issue_user_token(&user.id, &PAGE_SCOPES, false);
    let tokens = short_tokens(&short.access_token, short.expires_in.unwrap_or(3600));
    let settings = json!({ "client_id": DEFAULT_APP_ID });
    let who = fb.identify(&tokens, &settings).await.expect("identify");
    let mut merged = settings.clone();
    if let (Some(m), Some(n)) = (merged.as_object_mut(), who.settings.as_object()) {
        m.extend(n.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::Facebook,
        handle: who.handle.clone(),
        remote_id: Some(who.remote_id.clone()),
        display_name: who.display_name.clone(),
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: tokens.expires_at,
        settings: merged,
        created_at: Utc::now(),
    };
    tokens.save(&*store, ACCOUNT_ID).expect("save tokens");
    Env {
        fake,
        store,
        fb,
        account,
        user,
        page,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

fn text(t: &str) -> Part {
    Part {
        text: t.into(),
        media: vec![],
    }
}

/// A valid PNG of `w`×`h`, padded to at least `min_bytes`.
fn png(w: u32, h: u32, min_bytes: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let chunk = |v: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0, 0, 0]);
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut v, b"IHDR", &ihdr);
    let pad = min_bytes.saturating_sub(v.len() + 24);
    if pad > 0 {
        chunk(&mut v, b"tEXt", &vec![b'a'; pad]);
    }
    chunk(&mut v, b"IEND", &[]);
    v
}

fn video_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

struct Opts {
    options: Value,
    first_comment: Option<String>,
    scheduled_at: Option<DateTime<Utc>>,
    intent_at: DateTime<Utc>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            options: json!({}),
            first_comment: None,
            scheduled_at: None,
            intent_at: Utc::now(),
        }
    }
}

impl Env {
    fn req<'a>(&'a self, part: &'a Part, o: &'a Opts) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: 0,
            part,
            previous: &[],
            client_handle: None,
            intent_at: o.intent_at,
            options: &o.options,
            first_comment: o.first_comment.as_deref(),
            scheduled_at: o.scheduled_at,
        }
    }

    /// Start, then every poll the dispatcher would make, until published.
    async fn run(&self, part: &Part, o: &Opts) -> Result<PublishedPart, PublishError> {
        let req = self.req(part, o);
        let mut outcome = self.fb.start(&req).await?;
        for _ in 0..200 {
            match outcome {
                PartOutcome::Published(p) => return Ok(p),
                PartOutcome::Processing { phase, .. } => {
                    assert_eq!(phase["part"], 0, "{phase}");
                    outcome = self.fb.poll(&req, &phase).await?;
                }
            }
        }
        panic!("never published");
    }

    async fn publish(&self, part: &Part) -> Result<PublishedPart, PublishError> {
        self.fb.publish(&self.req(part, &Opts::default())).await
    }

    fn file(&self, name: &str, mime: &str, bytes: &[u8], alt: Option<&str>) -> MediaRef {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write media");
        media(&path, mime, bytes.len() as u64, alt)
    }

    fn page_token(&self) -> Option<String> {
        self.store
            .get(&account_key(ACCOUNT_ID, PAGE_TOKEN_KEY))
            .expect("store")
            .map(|s| s.expose().to_string())
    }

    fn user_token(&self) -> OAuthTokens {
        OAuthTokens::load(&*self.store, ACCOUNT_ID)
            .expect("store")
            .expect("user tokens")
    }

    fn requests_to(&self, e: Endpoint) -> Vec<outpost_testkit::facebook::FbRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(e))
            .collect()
    }
}

fn media(path: &Path, mime: &str, bytes: u64, alt: Option<&str>) -> MediaRef {
    MediaRef {
        path: path.display().to_string(),
        sha256: String::new(),
        mime: mime.into(),
        bytes,
        width: Some(1080),
        height: Some(1920),
        alt: alt.map(str::to_string),
    }
}

// ---- connecting ----------------------------------------------------------------------------

#[tokio::test]
async fn identify_exchanges_the_short_token_and_the_first_call_adopts_the_page_token() {
    let env = setup().await;
    assert_eq!(env.account.handle, "adasbakery");
    assert_eq!(env.account.remote_id.as_deref(), Some(env.page.id.as_str()));
    assert_eq!(env.account.display_name.as_deref(), Some("Ada's Bakery"));
    assert_eq!(env.account.settings["page_id"], env.page.id.as_str());
    assert_eq!(env.account.settings["long_lived"], true);
    assert_eq!(env.account.settings["page_token_expires"], "never");
    assert_eq!(env.account.settings["fb_user_id"], env.user.id.as_str());
    // The exchange sent the App Secret in a form body, never in the URL.
    let exchanges = env.requests_to(Endpoint::Token);
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0].method, "POST");
    assert_eq!(
        exchanges[0].param("grant_type").as_deref(),
        Some("fb_exchange_token")
    );
    assert!(!exchanges[0].query.contains(DEFAULT_APP_SECRET));
    // Before the first call the account's keys hold only the short-lived token.
    assert!(env.page_token().is_none());
    env.fb.probe(&env.account).await.expect("probe");
    let page_token = env.page_token().expect("the page token was adopted");
    assert_eq!(
        env.fake
            .token_info(&page_token)
            .map(|(k, e)| (k, e.is_none())),
        Some((TokenKind::Page, true)),
        "a never-expiring Page token"
    );
    let user = env.user_token();
    assert!(
        user.expires_at
            .is_some_and(|e| e - Utc::now() > chrono::Duration::days(59)),
        "the long-lived user token replaced the short one"
    );
    // Every request carried the version.
    assert!(env
        .fake
        .requests()
        .iter()
        .all(|r| r.version.as_deref() == Some("v27.0")));
    // Nothing is left under the staging key.
    assert!(!env.fb.adopt_staged(&env.account).await.expect("adopt"));
}

#[tokio::test]
async fn identify_picks_the_page_in_the_settings_and_explains_missing_pages() {
    let env = setup().await;
    let second = env.fake.create_page("Ada's Second Shop", None);
    env.fake.grant_page(&env.user.id, &second.id, &ADMIN_TASKS);
    let t = env.fake.issue_user_token(&env.user.id, &PAGE_SCOPES, false);
    let tokens = short_tokens(&t.access_token, 3600);
    let who = env
        .fb
        .identify(
            &tokens,
            &json!({"client_id": DEFAULT_APP_ID, "page_id": second.id}),
        )
        .await
        .expect("identify");
    assert_eq!(who.remote_id, second.id);
    assert_eq!(who.handle, second.id, "no username: the id is the handle");
    let e = env
        .fb
        .identify(
            &tokens,
            &json!({"client_id": DEFAULT_APP_ID, "page_id": "999"}),
        )
        .await
        .expect_err("unknown page");
    assert!(
        e.message.contains("does not include the Facebook Page 999"),
        "{}",
        e.message
    );
    // A user without any Page.
    let loner = env.fake.create_user("Bo");
    let t = env.fake.issue_user_token(&loner.id, &PAGE_SCOPES, false);
    let e = env
        .fb
        .identify(
            &short_tokens(&t.access_token, 3600),
            &json!({"client_id": DEFAULT_APP_ID}),
        )
        .await
        .expect_err("no page");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("no Facebook Page"), "{}", e.message);
    // A role without CREATE_CONTENT.
    let viewer = env.fake.create_user("Cy");
    env.fake.grant_page(&viewer.id, &env.page.id, &["ANALYZE"]);
    let t = env.fake.issue_user_token(&viewer.id, &PAGE_SCOPES, false);
    let e = env
        .fb
        .identify(
            &short_tokens(&t.access_token, 3600),
            &json!({"client_id": DEFAULT_APP_ID}),
        )
        .await
        .expect_err("cannot post");
    assert!(e.message.contains("cannot create content"), "{}", e.message);
}

#[tokio::test]
async fn without_the_app_secret_a_short_token_is_refused_and_a_wrong_secret_names_settings() {
    let fake = FacebookFake::start(FacebookConfig::default()).await;
    let (user, _, _) = fake.create_user_with_page("Di", "Di's", None);
    let store = Arc::new(MemoryStore::new());
    let fb = Facebook::new(fake.base_url(), store.clone()).with_http_client(client());
    let t = fake.issue_user_token(&user.id, &PAGE_SCOPES, false);
    let e = fb
        .identify(
            &short_tokens(&t.access_token, 3600),
            &json!({"client_id": DEFAULT_APP_ID}),
        )
        .await
        .expect_err("no secret");
    assert!(e.message.contains("App Secret"), "{}", e.message);
    store
        .set(&client_secret_key("facebook"), &Secret::new("wrong"))
        .expect("secret");
    let e = fb
        .identify(
            &short_tokens(&t.access_token, 3600),
            &json!({"client_id": DEFAULT_APP_ID}),
        )
        .await
        .expect_err("wrong secret");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("App ID and App Secret"), "{}", e.message);
    assert!(!e.message.contains("wrong"));
}

#[tokio::test]
async fn the_oauth_profile_follows_the_reference() {
    let env = setup().await;
    let p = env.fb.oauth_profile().expect("profile");
    assert_eq!(
        p.authorize_url,
        "https://www.facebook.com/v27.0/dialog/oauth"
    );
    assert_eq!(
        p.token_url,
        format!("{}/v27.0/oauth/access_token", env.fake.base_url())
    );
    assert_eq!(p.scope_separator, ",");
    assert!(p.scopes.contains(&"pages_manage_posts"));
    assert!(p.scopes.contains(&"pages_show_list"));
    assert!(p.scopes.contains(&"pages_read_engagement"));
    assert!(p.needs_secret);
    assert_eq!(p.redirect, outpost_auth::oauth::RedirectRule::HttpsOnly);
    assert_eq!(p.pkce, outpost_auth::oauth::Pkce::None);
}

#[tokio::test]
async fn choices_list_the_users_pages() {
    let env = setup().await;
    let other = env.fake.create_page("Ada's Café", None);
    env.fake.grant_page(&env.user.id, &other.id, &["ANALYZE"]);
    env.fb.probe(&env.account).await.expect("probe");
    let pages = env
        .fb
        .choices(&env.account, "pages")
        .await
        .expect("choices");
    assert_eq!(pages.len(), 2);
    let mine = pages.iter().find(|c| c.id == env.page.id).expect("page");
    assert_eq!(mine.name, "Ada's Bakery");
    assert_eq!(mine.extra["connected"], true);
    assert_eq!(mine.extra["can_post"], true);
    let cafe = pages.iter().find(|c| c.id == other.id).expect("cafe");
    assert_eq!(cafe.extra["can_post"], false);
    assert!(env
        .fb
        .choices(&env.account, "boards")
        .await
        .expect("none")
        .is_empty());
}

// ---- publishing ----------------------------------------------------------------------------

#[tokio::test]
async fn a_text_post_goes_out_with_the_page_token_and_its_first_comment() {
    let env = setup().await;
    let o = Opts {
        first_comment: Some("More in the comments".into()),
        ..Opts::default()
    };
    let part = env
        .run(&text("Fresh bread today"), &o)
        .await
        .expect("publish");
    let posts = env.fake.live_posts(&env.page.id);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].message.as_deref(), Some("Fresh bread today"));
    assert_eq!(part.remote_id, posts[0].id);
    let (page, post) = posts[0].id.split_once('_').expect("page_post");
    assert_eq!(
        part.url.as_deref(),
        Some(format!("https://www.facebook.com/{page}/posts/{post}").as_str())
    );
    let comments = env.fake.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].object_id, posts[0].id);
    assert_eq!(comments[0].message, "More in the comments");
    assert_eq!(part.extra["first_comment_id"], comments[0].id.as_str());
    let feed = env.requests_to(Endpoint::Feed);
    assert_eq!(feed[0].token_kind, Some(TokenKind::Page));
    assert!(feed[0].header("authorization").is_some());
    assert!(!feed[0].query.contains("access_token"));
}

#[tokio::test]
async fn a_link_post_carries_the_link_and_a_bad_link_is_permanent() {
    let env = setup().await;
    let o = Opts {
        options: json!({"link": "https://example.com/menu"}),
        ..Opts::default()
    };
    env.run(&text("Our menu"), &o).await.expect("publish");
    let posts = env.fake.live_posts(&env.page.id);
    assert_eq!(posts[0].link.as_deref(), Some("https://example.com/menu"));
    let o = Opts {
        options: json!({"link": "https://gone.invalid/x"}),
        ..Opts::default()
    };
    let e = env
        .run(&text("Broken"), &o)
        .await
        .expect_err("scrape fails");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("1609005"), "{}", e.message);
    let o = Opts {
        options: json!({"link": "not a url"}),
        ..Opts::default()
    };
    let e = env.run(&text("x"), &o).await.expect_err("invalid option");
    assert!(e.message.contains("option link"), "{}", e.message);
}

#[tokio::test]
async fn several_photos_are_uploaded_unpublished_then_attached_with_their_alt_texts() {
    let env = setup().await;
    let a = env.file("a.png", "image/png", &png(64, 48, 3000), Some("a loaf"));
    let b = env.file("b.png", "image/png", &png(64, 48, 3000), None);
    let part = Part {
        text: "Two loaves".into(),
        media: vec![a, b],
    };
    let published = env.run(&part, &Opts::default()).await.expect("publish");
    let photos = env.fake.photos();
    assert_eq!(photos.len(), 2);
    assert!(photos.iter().all(|p| !p.published && p.via == "source"));
    assert_eq!(photos[0].alt_text_custom.as_deref(), Some("a loaf"));
    assert_eq!(photos[0].mime, "image/png");
    let posts = env.fake.live_posts(&env.page.id);
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].attached_media,
        vec![photos[0].id.clone(), photos[1].id.clone()]
    );
    assert_eq!(
        published.extra["photo_ids"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn a_photo_facebook_refuses_is_permanent_with_its_message() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        Endpoint::Photos,
        1,
        outpost_testkit::facebook::FaultKind::Graph(GraphFault {
            code: 100,
            subcode: Some(2069019),
            ..GraphFault::default()
        }),
    ));
    let p = env.file("odd.png", "image/png", &png(8, 8, 100), None);
    let e = env
        .publish(&Part {
            text: "x".into(),
            media: vec![p],
        })
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("uploading odd.png"), "{}", e.message);
    assert!(e.message.contains("2069019"), "{}", e.message);
    assert!(env.fake.live_posts(&env.page.id).is_empty());
}

#[tokio::test]
async fn a_video_goes_up_in_steps_then_is_published_on_the_video_host() {
    let env = setup().await;
    let bytes = video_bytes(10_000);
    let v = env.file("clip.mp4", "video/mp4", &bytes, None);
    let part = Part {
        text: "Baking timelapse".into(),
        media: vec![v],
    };
    let o = Opts {
        options: json!({"title": "Timelapse"}),
        first_comment: Some("Recipe below".into()),
        ..Opts::default()
    };
    let req = env.req(&part, &o);
    let PartOutcome::Processing { phase, poll_after } = env.fb.start(&req).await.expect("start")
    else {
        panic!("a 10 kB video in 4 kB steps needs several steps");
    };
    assert_eq!(poll_after, Duration::ZERO);
    assert_eq!(phase["kind"], "video");
    assert_eq!(phase["offset"], 4096);
    let published = env.run(&part, &o).await.expect("publish");
    let videos = env.fake.videos();
    let video = videos
        .iter()
        .find(|v| v.id == published.remote_id)
        .expect("video");
    assert_eq!(video.title.as_deref(), Some("Timelapse"));
    assert_eq!(video.description.as_deref(), Some("Baking timelapse"));
    assert_eq!(
        env.fake.video_bytes(&video.id).as_deref(),
        Some(bytes.as_slice())
    );
    assert_eq!(
        published.url.as_deref(),
        Some(
            format!(
                "https://www.facebook.com/{}/videos/{}",
                env.page.id, video.id
            )
            .as_str()
        )
    );
    let sessions = env.fake.upload_sessions();
    let s = sessions.last().expect("session");
    assert_eq!(s.transfers, vec![4096, 4096, 1808]);
    assert_eq!(s.file_type, "video/mp4");
    // The session and the bytes used the user token (Meta's rule), with OAuth and file_offset.
    let transfers = env.requests_to(Endpoint::UploadTransfer);
    assert!(transfers
        .iter()
        .all(|r| r.token_kind == Some(TokenKind::User)));
    assert!(transfers.iter().all(|r| r
        .header("authorization")
        .is_some_and(|a| a.starts_with("OAuth "))));
    assert_eq!(
        transfers.last().and_then(|r| r.header("file_offset")),
        Some("8192")
    );
    // Every later step asked for the committed offset first.
    assert!(env.requests_to(Endpoint::UploadStatus).len() >= 2);
    let publish = env.requests_to(Endpoint::Videos);
    assert_eq!(
        publish.last().map(|r| r.token_kind),
        Some(Some(TokenKind::Page))
    );
    assert_eq!(env.fake.comments()[0].object_id, video.id);
}

#[tokio::test]
async fn a_lost_transfer_answer_resumes_from_the_committed_offset() {
    let env = setup().await;
    let bytes = video_bytes(9_000);
    let v = env.file("clip.mp4", "video/mp4", &bytes, None);
    let part = Part {
        text: "resumed".into(),
        media: vec![v],
    };
    let o = Opts::default();
    let req = env.req(&part, &o);
    let PartOutcome::Processing { phase, .. } = env.fb.start(&req).await.expect("start") else {
        panic!("steps");
    };
    // The second step's bytes arrive, but the answer is lost: a transient error; the phase
    // the dispatcher kept still says 4096.
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::UploadTransfer, 1));
    let e = env.fb.poll(&req, &phase).await.expect_err("lost");
    assert!(e.class.is_transient(), "{e:?}");
    let mut outcome = env.fb.poll(&req, &phase).await.expect("resume");
    while let PartOutcome::Processing { phase, .. } = outcome {
        outcome = env.fb.poll(&req, &phase).await.expect("step");
    }
    let sessions = env.fake.upload_sessions();
    assert_eq!(sessions.len(), 1, "one session");
    assert_eq!(sessions[0].transfers, vec![4096, 4096, 808]);
    let id = match outcome {
        PartOutcome::Published(p) => p.remote_id,
        PartOutcome::Processing { .. } => unreachable!(),
    };
    assert_eq!(env.fake.video_bytes(&id).as_deref(), Some(bytes.as_slice()));
}

#[tokio::test]
async fn a_reel_is_started_uploaded_finished_and_polled_until_ready() {
    let env = setup().await;
    env.fake
        .set_reel_processing(Processing::AfterPolls { polls: 2 });
    let bytes = video_bytes(6_000);
    let v = env.file("reel.mp4", "video/mp4", &bytes, None);
    let part = Part {
        text: "Reel time".into(),
        media: vec![v],
    };
    let o = Opts {
        options: json!({"reel": true}),
        ..Opts::default()
    };
    let published = env.run(&part, &o).await.expect("publish");
    let videos = env.fake.videos();
    let reel = videos.iter().find(|v| v.reel).expect("reel");
    assert_eq!(published.remote_id, reel.id);
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://www.facebook.com/reel/{}", reel.id).as_str())
    );
    assert!(reel.published);
    assert_eq!(reel.video_state.as_deref(), Some("PUBLISHED"));
    assert_eq!(reel.finishes, 1);
    assert_eq!(
        env.fake.video_bytes(&reel.id).as_deref(),
        Some(bytes.as_slice())
    );
    let rup = env.requests_to(Endpoint::Rupload);
    assert_eq!(rup.len(), 2);
    assert_eq!(rup[1].header("offset"), Some("4096"));
    assert_eq!(rup[1].header("file_size"), Some("6000"));
    assert!(rup.iter().all(|r| r.token_kind == Some(TokenKind::Page)));
    assert_eq!(env.fake.live_posts(&env.page.id).len(), 1);
}

#[tokio::test]
async fn a_reel_that_fails_processing_is_permanent_with_facebooks_reason() {
    let env = setup().await;
    env.fake.set_reel_processing(Processing::Fail {
        after_polls: 1,
        message: "The video's aspect ratio is not supported".into(),
    });
    let v = env.file("reel.mp4", "video/mp4", &video_bytes(100), None);
    let o = Opts {
        options: json!({"reel": true}),
        ..Opts::default()
    };
    let e = env
        .run(
            &Part {
                text: "bad".into(),
                media: vec![v],
            },
            &o,
        )
        .await
        .expect_err("fails");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("aspect ratio is not supported"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_reel_finish_without_an_answer_is_checked_not_repeated() {
    let env = setup().await;
    let v = env.file("reel.mp4", "video/mp4", &video_bytes(100), None);
    let part = Part {
        text: "finish lost".into(),
        media: vec![v],
    };
    let o = Opts {
        options: json!({"reel": true}),
        ..Opts::default()
    };
    // start → video_reels(start); finish → video_reels(finish, dropped after it took effect).
    env.fake.push_fault(Fault::new(
        Endpoint::VideoReels,
        1,
        outpost_testkit::facebook::FaultKind::DelayBefore { ms: 0 },
    ));
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::VideoReels, 1));
    let req = env.req(&part, &o);
    let PartOutcome::Processing { phase, .. } = env.fb.start(&req).await.expect("start") else {
        panic!("processing");
    };
    assert_eq!(phase["stage"], "finish");
    let mut outcome = env.fb.poll(&req, &phase).await.expect("poll");
    while let PartOutcome::Processing { phase, .. } = outcome {
        outcome = env.fb.poll(&req, &phase).await.expect("poll");
    }
    let reel = env
        .fake
        .videos()
        .into_iter()
        .find(|v| v.reel)
        .expect("reel");
    assert_eq!(reel.finishes, 1, "finished once");
    assert!(reel.published);
}

#[tokio::test]
async fn media_and_options_are_checked_before_anything_is_sent() {
    let env = setup().await;
    let v = env.file("a.mp4", "video/mp4", &video_bytes(10), None);
    let p = env.file("a.png", "image/png", &png(8, 8, 100), None);
    let e = env
        .publish(&Part {
            text: "mix".into(),
            media: vec![v.clone(), p],
        })
        .await
        .expect_err("mix");
    assert!(e.message.contains("photos or one video"), "{}", e.message);
    let o = Opts {
        options: json!({"reel": true}),
        ..Opts::default()
    };
    let e = env
        .run(&text("no video"), &o)
        .await
        .expect_err("reel without video");
    assert!(
        e.message.contains("reel needs exactly one video"),
        "{}",
        e.message
    );
    let mut small = v.clone();
    small.width = Some(320);
    small.height = Some(240);
    let e = env
        .run(
            &Part {
                text: "tiny".into(),
                media: vec![small],
            },
            &o,
        )
        .await
        .expect_err("too small");
    assert!(e.message.contains("540×960"), "{}", e.message);
    let e = env
        .publish(&text(&"x".repeat(63_207)))
        .await
        .expect_err("long");
    assert!(e.message.contains("63206"), "{}", e.message);
    assert_eq!(env.fake.count(Endpoint::Feed), 0);
    assert_eq!(env.fake.count(Endpoint::Photos), 0);
}

// ---- hand-off ------------------------------------------------------------------------------

#[tokio::test]
async fn hand_off_holds_the_post_on_facebook_until_its_time() {
    let env = setup().await;
    let at = Utc::now() + chrono::Duration::hours(2);
    let o = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(at),
        first_comment: Some("later".into()),
        ..Opts::default()
    };
    let part = env
        .run(&text("Held by Facebook"), &o)
        .await
        .expect("hand off");
    let held = env.fake.held_posts(&env.page.id);
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].scheduled_publish_time.map(|t| t.timestamp()),
        Some(at.timestamp())
    );
    assert_eq!(part.remote_id, held[0].id);
    let when: DateTime<Utc> = part.extra["scheduled_on_network"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("scheduled_on_network");
    assert_eq!(when.timestamp(), at.timestamp());
    assert_eq!(
        part.extra["notice"],
        format!(
            "scheduled on Facebook for {}",
            at.format("%Y-%m-%d %H:%M UTC")
        )
    );
    assert!(part.extra["first_comment_error"].is_string());
    assert!(env.fake.live_posts(&env.page.id).is_empty());
    let feed = env.requests_to(Endpoint::Feed);
    assert_eq!(feed[0].param("published").as_deref(), Some("false"));
    assert_eq!(
        feed[0].param("scheduled_publish_time"),
        Some(at.timestamp().to_string())
    );
    env.fake.advance_time(chrono::Duration::hours(3));
    assert_eq!(env.fake.live_posts(&env.page.id).len(), 1);
    assert!(env.fake.held_posts(&env.page.id).is_empty());
}

#[tokio::test]
async fn a_held_video_and_a_held_reel_are_scheduled_too() {
    let env = setup().await;
    let at = Utc::now() + chrono::Duration::hours(5);
    let v = env.file("v.mp4", "video/mp4", &video_bytes(5000), None);
    let o = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(at),
        ..Opts::default()
    };
    let part = env
        .run(
            &Part {
                text: "held video".into(),
                media: vec![v.clone()],
            },
            &o,
        )
        .await
        .expect("video");
    assert!(part.extra["scheduled_on_network"].is_string());
    let o = Opts {
        options: json!({"hand_off": true, "reel": true}),
        scheduled_at: Some(at),
        ..Opts::default()
    };
    let reel = env
        .run(
            &Part {
                text: "held reel".into(),
                media: vec![v],
            },
            &o,
        )
        .await
        .expect("reel");
    assert!(reel.extra["notice"]
        .as_str()
        .is_some_and(|n| n.starts_with("scheduled on Facebook")));
    let videos = env.fake.videos();
    assert!(videos
        .iter()
        .all(|v| !v.published && v.scheduled_publish_time.is_some()));
    assert_eq!(
        videos
            .iter()
            .find(|v| v.reel)
            .and_then(|v| v.video_state.clone())
            .as_deref(),
        Some("SCHEDULED")
    );
    assert_eq!(env.fake.held_posts(&env.page.id).len(), 2);
}

#[tokio::test]
async fn a_held_post_is_edited_moved_and_deleted() {
    let env = setup().await;
    let at = Utc::now() + chrono::Duration::hours(2);
    let o = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(at),
        ..Opts::default()
    };
    let part = env.run(&text("first words"), &o).await.expect("hand off");
    let later = at + chrono::Duration::hours(1);
    let edited = text("better words");
    let o2 = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(later),
        ..Opts::default()
    };
    let updated = env
        .fb
        .update_held(&env.req(&edited, &o2), &part.remote_id)
        .await
        .expect("update");
    assert_eq!(updated.remote_id, part.remote_id);
    assert_eq!(
        updated.extra["notice"],
        format!(
            "scheduled on Facebook for {}",
            later.format("%Y-%m-%d %H:%M UTC")
        )
    );
    let held = env.fake.held_posts(&env.page.id);
    assert_eq!(held[0].message.as_deref(), Some("better words"));
    assert_eq!(
        held[0].scheduled_publish_time.map(|t| t.timestamp()),
        Some(later.timestamp())
    );
    assert_eq!(held[0].edits, 1);
    env.fb
        .delete_held(&env.account, &part.remote_id)
        .await
        .expect("delete");
    assert!(env.fake.held_posts(&env.page.id).is_empty());
    assert!(env.fake.posts()[0].deleted);
    // Deleting again: already gone counts as done.
    env.fb
        .delete_held(&env.account, &part.remote_id)
        .await
        .expect("delete twice");
}

#[tokio::test]
async fn a_held_post_moved_to_now_is_published_at_once() {
    let env = setup().await;
    let o = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(Utc::now() + chrono::Duration::hours(2)),
        ..Opts::default()
    };
    let part = env.run(&text("soon"), &o).await.expect("hand off");
    let o2 = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(Utc::now()),
        ..Opts::default()
    };
    let updated = env
        .fb
        .update_held(&env.req(&text("soon"), &o2), &part.remote_id)
        .await
        .expect("publish now");
    assert!(updated.extra.get("scheduled_on_network").is_none());
    assert_eq!(env.fake.live_posts(&env.page.id).len(), 1);
}

#[tokio::test]
async fn hand_off_too_close_or_too_far_waits_and_without_it_the_post_goes_out_now() {
    let env = setup().await;
    let soon = Utc::now() + chrono::Duration::minutes(5);
    let o = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(soon),
        ..Opts::default()
    };
    let e = env.run(&text("too close"), &o).await.expect_err("wait");
    assert_eq!(e.class, ErrorClass::RateLimited { until: soon });
    let far = Utc::now() + chrono::Duration::days(40);
    let o = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(far),
        ..Opts::default()
    };
    let e = env.run(&text("too far"), &o).await.expect_err("wait");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}");
    };
    assert!(far - until <= chrono::Duration::days(30));
    assert_eq!(env.fake.count(Endpoint::Feed), 0);
    // hand_off false: published at once even for a later time (the dispatcher's timing).
    let o = Opts {
        scheduled_at: Some(Utc::now() + chrono::Duration::hours(1)),
        ..Opts::default()
    };
    env.run(&text("now"), &o).await.expect("publish");
    assert_eq!(env.fake.live_posts(&env.page.id).len(), 1);
}

// ---- errors --------------------------------------------------------------------------------

#[tokio::test]
async fn a_revoked_token_is_reauth_and_refresh_cannot_help() {
    let env = setup().await;
    env.fb.probe(&env.account).await.expect("probe");
    env.fake.revoke_user(&env.user.id, Some(460));
    let e = env.publish(&text("never")).await.expect_err("revoked");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.starts_with("Facebook:"), "{}", e.message);
    assert!(e.message.contains("190/460"), "{}", e.message);
    assert!(e.message.contains("reconnect"), "{}", e.message);
    let e = env.fb.refresh(&env.account).await.expect_err("refresh");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("connect"), "{}", e.message);
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn refresh_takes_a_new_page_token_with_the_user_token() {
    let env = setup().await;
    env.fb.probe(&env.account).await.expect("probe");
    let old = env.page_token().expect("page token");
    env.fake.expire_token(&old);
    let e = env.publish(&text("first try")).await.expect_err("expired");
    assert_eq!(e.class, ErrorClass::Reauth);
    env.store
        .delete(&account_key(ACCOUNT_ID, PAGE_TOKEN_KEY))
        .expect("forget");
    env.fb.refresh(&env.account).await.expect("refresh");
    let new = env.page_token().expect("new page token");
    assert_ne!(new, old);
    env.publish(&text("second try")).await.expect("publish");
}

#[tokio::test]
async fn pages_buc_throttling_waits_for_the_regain_time() {
    let env = setup().await;
    env.fake.throttle(Throttle {
        page_id: Some(env.page.id.clone()),
        code: 80001,
        minutes: 7,
        extend_on_call: false,
    });
    let e = env
        .publish(&text("throttled"))
        .await
        .expect_err("throttled");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}");
    };
    let minutes = (until - Utc::now()).num_seconds() as f64 / 60.0;
    assert!((6.5..=7.1).contains(&minutes), "{minutes}");
    assert!(e.message.contains("80001"), "{}", e.message);
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn throttles_without_a_reset_and_policy_blocks_wait() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::graph(Endpoint::Feed, 1, 4, None));
    let e = env.publish(&text("app limit")).await.expect_err("4");
    assert!(matches!(e.class, ErrorClass::RateLimited { .. }), "{e:?}");
    env.fake
        .push_fault(Fault::graph(Endpoint::Feed, 1, 368, Some(1390008)));
    let e = env.publish(&text("policy")).await.expect_err("368");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("{e:?}");
    };
    assert!(until - Utc::now() > chrono::Duration::hours(20));
    assert!(e.message.contains("policy"), "{}", e.message);
}

#[tokio::test]
async fn unknown_errors_are_transient_duplicates_and_bad_parameters_permanent() {
    let env = setup().await;
    env.fake.push_fault(Fault::unknown_error(Endpoint::Feed, 1));
    let e = env.publish(&text("flaky")).await.expect_err("1");
    assert!(e.class.is_transient(), "{e:?}");
    env.fake.push_fault(Fault::status(Endpoint::Feed, 1, 502));
    let e = env.publish(&text("flaky")).await.expect_err("502");
    assert!(e.class.is_transient(), "{e:?}");
    env.publish(&text("same words")).await.expect("first");
    let e = env.publish(&text("same words")).await.expect_err("506");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("duplicate"), "{}", e.message);
    env.fake
        .push_fault(Fault::graph(Endpoint::Feed, 1, 100, None));
    let e = env.publish(&text("bad")).await.expect_err("100");
    assert_eq!(e.class, ErrorClass::Permanent);
    // An excerpt is kept, without any token.
    let excerpt = e.excerpt.clone().unwrap_or_default();
    assert!(excerpt.contains("fbtrace_id"), "{excerpt}");
    let page_token = env.page_token().unwrap_or_default();
    assert!(!excerpt.contains(&page_token));
    assert!(!e.message.contains(&page_token));
}

#[tokio::test]
async fn losing_create_content_is_reauth_and_losing_the_role_too() {
    let env = setup().await;
    env.fb.probe(&env.account).await.expect("probe");
    env.fake
        .grant_page(&env.user.id, &env.page.id, &["ANALYZE"]);
    let e = env.publish(&text("no rights")).await.expect_err("200");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("pages_read_engagement"), "{}", e.message);
    let feed = env.requests_to(Endpoint::Feed);
    assert_eq!(feed.last().map(|r| r.status), Some(403));
    env.fake.remove_role(&env.user.id, &env.page.id);
    let e = env.publish(&text("no role")).await.expect_err("492");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(e.message.contains("190/492"), "{}", e.message);
}

#[tokio::test]
async fn a_lost_create_answer_is_unknown_and_the_lookup_finds_it_once() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::Feed, 1));
    let o = Opts {
        first_comment: Some("comment after reconcile".into()),
        ..Opts::default()
    };
    let part = text("answer lost");
    let e = env.run(&part, &o).await.expect_err("lost");
    assert_eq!(e.class, ErrorClass::UnknownOutcome);
    let Lookup::Found(found) = env.fb.lookup(&env.req(&part, &o)).await.expect("lookup") else {
        panic!("found");
    };
    let posts = env.fake.live_posts(&env.page.id);
    assert_eq!(posts.len(), 1);
    assert_eq!(found.remote_id, posts[0].id);
    assert_eq!(found.extra["reconciled"], true);
    assert_eq!(env.fake.comments().len(), 1, "the first comment was added");
    assert!(found.extra["first_comment_id"].is_string());
    // Another text is not there.
    let other = text("never sent");
    assert_eq!(
        env.fb
            .lookup(&env.req(&other, &Opts::default()))
            .await
            .expect("lookup"),
        Lookup::NotFound
    );
    // A post made before the attempt does not count.
    let old = Opts {
        intent_at: Utc::now() + chrono::Duration::hours(1),
        ..Opts::default()
    };
    assert_eq!(
        env.fb.lookup(&env.req(&part, &old)).await.expect("lookup"),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn the_lookup_finds_a_held_post_and_a_lost_video_publish() {
    let env = setup().await;
    let at = Utc::now() + chrono::Duration::hours(2);
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::Feed, 1));
    let o = Opts {
        options: json!({"hand_off": true}),
        scheduled_at: Some(at),
        ..Opts::default()
    };
    let part = text("held, answer lost");
    let e = env.run(&part, &o).await.expect_err("lost");
    assert_eq!(e.class, ErrorClass::UnknownOutcome);
    let Lookup::Found(found) = env.fb.lookup(&env.req(&part, &o)).await.expect("lookup") else {
        panic!("found");
    };
    assert!(found.extra["scheduled_on_network"].is_string());
    // A video whose publish answer was lost.
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::Videos, 1));
    let v = env.file("v.mp4", "video/mp4", &video_bytes(100), None);
    let vpart = Part {
        text: "video, answer lost".into(),
        media: vec![v],
    };
    let e = env.run(&vpart, &Opts::default()).await.expect_err("lost");
    assert_eq!(e.class, ErrorClass::UnknownOutcome);
    let Lookup::Found(found) = env
        .fb
        .lookup(&env.req(&vpart, &Opts::default()))
        .await
        .expect("lookup")
    else {
        panic!("found video");
    };
    assert_eq!(found.extra["kind"], "video");
    assert_eq!(env.fake.videos().len(), 1);
}

#[tokio::test]
async fn usage_headers_come_with_every_answer() {
    let env = setup().await;
    env.fake.set_app_usage(Some(42));
    env.publish(&text("usage")).await.expect("publish");
    for r in env.fake.requests() {
        assert!(r.status > 0);
    }
    // The fake's answers carry the headers; the client logs them (read here directly).
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/v27.0/me", env.fake.base_url()))
        .bearer_auth(env.user_token().access_token.expose())
        .send()
        .await
        .expect("me");
    let usage: Value = serde_json::from_str(
        resp.headers()
            .get("x-app-usage")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("{}"),
    )
    .unwrap_or(Value::Null);
    assert_eq!(usage["call_count"], 42);
}
