//! Wire-level tests of the TikTok fake, through a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use outpost_testkit::tiktok::{
    CodeGrant, Endpoint, Fault, StatusPlan, TikTokConfig, TikTokFake, TikTokTokens, TikTokUser,
    ALL_SCOPES, DEFAULT_CLIENT_KEY, DEFAULT_CLIENT_SECRET,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const MB: u64 = 1_000_000;

struct Resp {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn finish(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    Resp {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

struct Env {
    fake: TikTokFake,
    base: String,
    user: TikTokUser,
    tokens: TikTokTokens,
}

async fn setup_with(cfg: TikTokConfig) -> Env {
    let fake = TikTokFake::start(cfg).await;
    let (user, tokens) = fake.create_user_with_tokens("alice");
    Env {
        base: fake.base_url(),
        fake,
        user,
        tokens,
    }
}

async fn setup() -> Env {
    setup_with(TikTokConfig::default()).await
}

impl Env {
    async fn api(&self, path: &str, body: Option<Value>) -> Resp {
        self.api_as(&self.tokens.access_token, path, body).await
    }

    async fn api_as(&self, token: &str, path: &str, body: Option<Value>) -> Resp {
        let mut rb = http()
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json; charset=UTF-8");
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        finish(rb.send().await.unwrap()).await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Resp {
        finish(
            http()
                .post(format!("{}/v2/oauth/token/", self.base))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn init(&self, size: u64, chunk: u64, count: u64, privacy: &str) -> Resp {
        self.api(
            "/v2/post/publish/video/init/",
            Some(json!({
                "post_info": {"title": "hello #fake", "privacy_level": privacy,
                              "disable_comment": false, "disable_duet": false, "disable_stitch": false,
                              "brand_content_toggle": false},
                "source_info": {"source": "FILE_UPLOAD", "video_size": size,
                                "chunk_size": chunk, "total_chunk_count": count},
            })),
        )
        .await
    }

    async fn put(&self, url: &str, first: u64, len: u64, total: u64, fill: u8) -> Resp {
        self.put_with(url, first, len, total, fill, "video/mp4")
            .await
    }

    async fn put_with(
        &self,
        url: &str,
        first: u64,
        len: u64,
        total: u64,
        fill: u8,
        content_type: &str,
    ) -> Resp {
        finish(
            http()
                .put(url)
                .header("content-type", content_type)
                .header(
                    "content-range",
                    format!("bytes {first}-{}/{total}", first + len - 1),
                )
                .body(vec![fill; len as usize])
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn status(&self, publish_id: &str) -> Resp {
        self.api(
            "/v2/post/publish/status/fetch/",
            Some(json!({ "publish_id": publish_id })),
        )
        .await
    }
}

fn challenge(verifier: &str) -> String {
    hex::encode(Sha256::digest(verifier.as_bytes()))
}

const VERIFIER: &str = "a-verifier-of-more-than-forty-three-characters_0123456789";

#[tokio::test]
async fn the_authorize_page_wants_a_hex_challenge_and_the_token_endpoint_the_secret_and_verifier() {
    let env = setup().await;
    env.fake.set_authorize_user(Some(&env.user.open_id));
    let redirect = "http://127.0.0.1:53682/callback/";
    let authorize = |challenge: String| {
        let url = format!(
            "{}?{}",
            env.fake.authorize_url(),
            serde_urlencoded::to_string([
                ("client_key", DEFAULT_CLIENT_KEY),
                ("scope", "user.info.basic,video.upload,video.publish"),
                ("redirect_uri", redirect),
                ("state", "st8"),
                ("response_type", "code"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .unwrap()
        );
        async move { finish(http().get(url).send().await.unwrap()).await }
    };
    // A base64url challenge (RFC 7636's own form) is refused.
    let r = authorize("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()).await;
    assert_eq!(r.status, 302);
    assert!(r
        .header("location")
        .unwrap()
        .contains("error=invalid_request"));
    let r = authorize(challenge(VERIFIER)).await;
    assert_eq!(r.status, 302);
    let location = reqwest::Url::parse(r.header("location").unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect));
    let q: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st8");
    assert_eq!(q["scopes"], "user.info.basic,video.upload,video.publish");
    let code = q["code"].clone();
    // An unregistered redirect (the wildcard is for 127.0.0.1 only) is an error page.
    env.fake.set_authorize_user(Some(&env.user.open_id));
    let url = format!(
        "{}?client_key={DEFAULT_CLIENT_KEY}&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcallback%2F&response_type=code",
        env.fake.authorize_url()
    );
    assert_eq!(
        finish(http().get(url).send().await.unwrap()).await.status,
        400
    );

    let base = [
        ("client_key", DEFAULT_CLIENT_KEY),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect),
        ("code", code.as_str()),
    ];
    // No secret; then no verifier; then a wrong one.
    let r = env.token(&base).await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let mut with_secret = base.to_vec();
    with_secret.push(("client_secret", DEFAULT_CLIENT_SECRET));
    let r = env.token(&with_secret).await;
    assert_eq!(r.json["error"], "invalid_request");
    let mut wrong = with_secret.clone();
    wrong.push((
        "code_verifier",
        "b-verifier-of-more-than-forty-three-characters_0123456789",
    ));
    let r = env.token(&wrong).await;
    assert_eq!(r.json["error"], "invalid_grant");
    assert!(r.json["log_id"].is_string());
    // The wrong verifier spent the code (single use): get another.
    let code = env
        .fake
        .issue_code(CodeGrant {
            open_id: env.user.open_id.clone(),
            client_key: DEFAULT_CLIENT_KEY.into(),
            redirect_uri: redirect.into(),
            code_challenge: challenge(VERIFIER),
            scopes: vec!["user.info.basic".into(), "video.publish".into()],
        })
        .unwrap();
    let mut good = with_secret.clone();
    good.retain(|(k, _)| *k != "code");
    good.push(("code", code.as_str()));
    good.push(("code_verifier", VERIFIER));
    let r = env.token(&good).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json["access_token"].as_str().unwrap().starts_with("act."));
    assert!(r.json["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("rft."));
    assert_eq!(r.json["open_id"], env.user.open_id.as_str());
    assert_eq!(r.json["scope"], "user.info.basic,video.publish");
    assert_eq!(r.json["expires_in"], 86_400);
    assert_eq!(r.json["refresh_expires_in"], 31_536_000);
    assert_eq!(r.json["token_type"], "Bearer");
    let again = env.token(&good).await;
    assert_eq!(again.json["error"], "invalid_grant", "codes are single-use");
    // A base64url challenge cannot even be registered.
    assert!(env
        .fake
        .issue_code(CodeGrant {
            open_id: env.user.open_id.clone(),
            client_key: DEFAULT_CLIENT_KEY.into(),
            redirect_uri: redirect.into(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            scopes: vec![],
        })
        .is_err());
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let env = setup_with(TikTokConfig::short_lived()).await;
    let refresh = |rt: String| {
        let env = &env;
        async move {
            env.token(&[
                ("client_key", DEFAULT_CLIENT_KEY),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .await
        }
    };
    let r = refresh(env.tokens.refresh_token.clone()).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["expires_in"], 7200);
    assert_eq!(r.json["refresh_expires_in"], 180 * 86_400);
    let new_rt = r.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_rt, env.tokens.refresh_token);
    assert!(!env.fake.refresh_token_is_live(&env.tokens.refresh_token));
    let old = refresh(env.tokens.refresh_token.clone()).await;
    assert_eq!(
        (old.status, old.json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(env.fake.revoke_refresh_token(&new_rt));
    assert_eq!(refresh(new_rt).await.json["error"], "invalid_grant");
    // A wrong secret is the app's problem.
    let r = env
        .token(&[
            ("client_key", DEFAULT_CLIENT_KEY),
            ("client_secret", "nope"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "rft.x"),
        ])
        .await;
    assert_eq!(r.json["error"], "invalid_client");
}

#[tokio::test]
async fn oauth_errors_can_come_under_http_200() {
    let env = setup_with(TikTokConfig {
        oauth_errors_under_200: true,
        ..TikTokConfig::default()
    })
    .await;
    let r = env
        .token(&[
            ("client_key", DEFAULT_CLIENT_KEY),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", "rft.unknown"),
        ])
        .await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (200, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn user_info_and_creator_info_use_the_envelope() {
    let env = setup().await;
    let r = finish(
        http()
            .get(format!(
                "{}/v2/user/info/?fields=open_id,union_id,display_name",
                env.base
            ))
            .bearer_auth(&env.tokens.access_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.code(), "ok");
    assert_eq!(r.json["data"]["user"]["open_id"], env.user.open_id.as_str());
    assert_eq!(r.json["data"]["user"]["display_name"], "alice (fake)");
    assert!(r.json["error"]["log_id"].is_string());
    // `username` needs user.info.profile, which Outpost never asks for.
    let r = finish(
        http()
            .get(format!(
                "{}/v2/user/info/?fields=open_id,username",
                env.base
            ))
            .bearer_auth(&env.tokens.access_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.code()), (401, "scope_not_authorized"));

    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let d = &r.json["data"];
    assert_eq!(d["creator_username"], "alice");
    assert_eq!(
        d["privacy_level_options"],
        json!(["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"])
    );
    assert_eq!(d["max_video_post_duration_sec"], 600);
    env.fake.set_private_account(&env.user.open_id, true);
    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!(
        r.json["data"]["privacy_level_options"],
        json!(["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"])
    );
    env.fake.set_audited(false);
    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!(
        r.json["data"]["privacy_level_options"],
        json!(["SELF_ONLY"])
    );
    // Without video.publish; with an expired token.
    let t = env
        .fake
        .issue_tokens(&env.user.open_id, &["user.info.basic", "video.upload"])
        .unwrap();
    let r = env
        .api_as(
            &t.access_token,
            "/v2/post/publish/creator_info/query/",
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "scope_not_authorized"));
    env.fake.expire_access_token(&env.tokens.access_token);
    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!((r.status, r.code()), (401, "access_token_invalid"));
}

#[tokio::test]
async fn the_init_checks_the_chunk_plan_exactly() {
    let env = setup().await;
    env.fake.set_limit(Endpoint::VideoInit, 100);
    let r = env.init(50_000_123, 10 * MB, 5, "PUBLIC_TO_EVERYONE").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let publish_id = r.json["data"]["publish_id"].as_str().unwrap();
    assert!(publish_id.starts_with("v_pub_file~v2-1."));
    let url = r.json["data"]["upload_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/video/?upload_id=", env.base)),
        "{url}"
    );
    assert!(url.contains("&upload_token="));
    for (size, chunk, count) in [
        (50_000_123, 10 * MB, 4),     // count must be floor(size / chunk)
        (100 * MB, 100 * MB, 1),      // over 64 MB must be chunked
        (20 * MB, 4 * MB, 5),         // chunks under 5 MB
        (300 * MB, 65 * MB, 4),       // chunks over 64 MB
        (3 * MB, MB, 3),              // under 5 MB goes whole
        (5_000_000_000, 64 * MB, 78), // over 4 GB
    ] {
        let r = env.init(size, chunk, count, "PUBLIC_TO_EVERYONE").await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_params"),
            "{size} {chunk} {count}"
        );
    }
    assert_eq!(
        env.init(3 * MB, 3 * MB, 1, "PUBLIC_TO_EVERYONE")
            .await
            .status,
        200
    );
    // Privacy must be one of the creator's options.
    let r = env.init(3 * MB, 3 * MB, 1, "FOLLOWER_OF_CREATOR").await;
    assert_eq!((r.status, r.code()), (403, "privacy_level_option_mismatch"));
}

#[tokio::test]
async fn chunks_go_in_order_with_exact_ranges_then_the_post_is_processed() {
    let env = setup().await;
    // 12 MB in two chunks of 6 MB (the last absorbs nothing).
    let size = 12 * MB;
    let r = env.init(size, 6 * MB, 2, "PUBLIC_TO_EVERYONE").await;
    let publish_id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
    let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
    let r = env.status(&publish_id).await;
    assert_eq!(r.json["data"]["status"], "PROCESSING_UPLOAD");
    assert_eq!(r.json["data"]["uploaded_bytes"], 0);
    // The second chunk first: 416 with what is held.
    let r = env.put(&url, 6 * MB, 6 * MB, size, 2).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */12000000"));
    // A wrong length; a wrong content type.
    let r = env.put(&url, 0, 5 * MB, size, 1).await;
    assert_eq!(r.status, 400);
    let r = env.put_with(&url, 0, 6 * MB, size, 1, "image/png").await;
    assert_eq!(r.status, 400);
    let r = env.put(&url, 0, 6 * MB, size, 1).await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-5999999/12000000"));
    // The same chunk again: out of step.
    let r = env.put(&url, 0, 6 * MB, size, 1).await;
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes 0-5999999/12000000"))
    );
    let r = env.status(&publish_id).await;
    assert_eq!(r.json["data"]["uploaded_bytes"], 6 * MB);
    let r = env.put(&url, 6 * MB, 6 * MB, size, 2).await;
    assert_eq!(r.status, 201);
    // Default plan: one PROCESSING_UPLOAD, then PUBLISH_COMPLETE with the public id.
    assert_eq!(
        env.status(&publish_id).await.json["data"]["status"],
        "PROCESSING_UPLOAD"
    );
    assert!(env.fake.posts().is_empty());
    let r = env.status(&publish_id).await;
    assert_eq!(r.json["data"]["status"], "PUBLISH_COMPLETE");
    assert!(
        r.json["data"]["publicaly_available_post_id"][0].is_u64(),
        "{}",
        r.json
    );
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].title(), Some("hello #fake"));
    let bytes = env.fake.upload_bytes(&publish_id).unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert!(bytes[..6_000_000].iter().all(|b| *b == 1));
    assert!(bytes[6_000_000..].iter().all(|b| *b == 2));
    let puts = env.fake.chunk_puts(&publish_id);
    assert_eq!(puts.iter().filter(|p| p.committed).count(), 2);
    assert_eq!(puts.len(), 6);
    // Another user's token may not ask.
    let (_, other) = env.fake.create_user_with_tokens("bob");
    let r = env
        .api_as(
            &other.access_token,
            "/v2/post/publish/status/fetch/",
            Some(json!({ "publish_id": publish_id })),
        )
        .await;
    assert_eq!(r.code(), "token_not_authorized_for_specified_publish_id");
    assert_eq!(
        env.status("v_pub_file~v2-1.1").await.code(),
        "invalid_publish_id"
    );
}

#[tokio::test]
async fn an_upload_address_expires_after_an_hour_and_unknown_ones_are_404() {
    let env = setup().await;
    let r = env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await;
    let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
    env.fake.advance_time(chrono::Duration::minutes(61));
    assert_eq!(env.put(&url, 0, 3 * MB, 3 * MB, 0).await.status, 403);
    let unknown = format!("{}/video/?upload_id=1&upload_token=x", env.base);
    assert_eq!(env.put(&unknown, 0, 3 * MB, 3 * MB, 0).await.status, 404);
}

#[tokio::test]
async fn a_connection_dropped_mid_chunk_stores_nothing_and_the_chunk_can_be_sent_again() {
    let env = setup().await;
    let size = 10 * MB;
    let r = env.init(size, 5 * MB, 2, "PUBLIC_TO_EVERYONE").await;
    let publish_id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
    let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
    env.fake.push_fault(Fault::drop_mid_chunk(1, 1_000_000));
    assert_eq!(env.put(&url, 0, 5 * MB, size, 1).await.status, 206);
    let dropped = http()
        .put(&url)
        .header("content-type", "video/mp4")
        .header(
            "content-range",
            format!("bytes {}-{}/{size}", 5 * MB, size - 1),
        )
        .body(vec![2u8; 5 * MB as usize])
        .send()
        .await;
    assert!(dropped.is_err(), "the connection was closed mid-chunk");
    let puts = env.fake.chunk_puts(&publish_id);
    let last = puts.last().unwrap();
    assert_eq!((last.index, last.status, last.committed), (1, 0, false));
    assert!(last.received >= 1_000_000 && last.received < 5 * MB);
    assert_eq!(
        env.fake.publish(&publish_id).unwrap().uploaded_bytes,
        5 * MB
    );
    assert_eq!(env.put(&url, 5 * MB, 5 * MB, size, 2).await.status, 201);
}

#[tokio::test]
async fn an_unaudited_app_posts_only_privately_to_private_accounts() {
    let env = setup().await;
    env.fake.set_audited(false);
    let r = env.init(3 * MB, 3 * MB, 1, "PUBLIC_TO_EVERYONE").await;
    assert_eq!(
        (r.status, r.code()),
        (403, "unaudited_client_can_only_post_to_private_accounts")
    );
    // SELF_ONLY, but the account is public.
    let r = env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await;
    assert_eq!(
        r.code(),
        "unaudited_client_can_only_post_to_private_accounts"
    );
    env.fake.set_private_account(&env.user.open_id, true);
    let r = env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await;
    assert_eq!(r.status, 200, "{}", r.json);
}

#[tokio::test]
async fn the_daily_cap_shows_on_creator_info_under_http_200_and_on_the_init() {
    let env = setup_with(TikTokConfig {
        daily_post_cap: 1,
        ..TikTokConfig::default()
    })
    .await;
    env.fake.set_default_plan(StatusPlan::Complete {
        processing_polls: 0,
    });
    let r = env.init(3 * MB, 3 * MB, 1, "PUBLIC_TO_EVERYONE").await;
    let id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
    let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
    assert_eq!(env.put(&url, 0, 3 * MB, 3 * MB, 0).await.status, 201);
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "PUBLISH_COMPLETE"
    );
    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!((r.status, r.code()), (200, "spam_risk_too_many_posts"));
    let r = env.init(3 * MB, 3 * MB, 1, "PUBLIC_TO_EVERYONE").await;
    assert_eq!((r.status, r.code()), (403, "spam_risk_too_many_posts"));
    env.fake.advance_time(chrono::Duration::hours(25));
    let fresh = env
        .fake
        .issue_tokens(&env.user.open_id, &ALL_SCOPES)
        .unwrap();
    let r = env
        .api_as(
            &fresh.access_token,
            "/v2/post/publish/creator_info/query/",
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (200, "ok"), "a day later");
}

#[tokio::test]
async fn per_token_windows_answer_429_without_headers() {
    let env = setup().await;
    for _ in 0..6 {
        assert_eq!(env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await.status, 200);
    }
    let r = env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await;
    assert_eq!((r.status, r.code()), (429, "rate_limit_exceeded"));
    assert!(r.header("retry-after").is_none());
    assert!(r.header("x-ratelimit-reset").is_none());
    // The window slides: a minute later it works again.
    env.fake.advance_time(chrono::Duration::seconds(61));
    assert_eq!(env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await.status, 200);
    // A fault with Retry-After (not TikTok's, for quick tests).
    env.fake
        .push_fault(Fault::rate_limited(Endpoint::Status, 1, Some(3)));
    let r = env.status("x").await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("3")));
}

#[tokio::test]
async fn error_faults_carry_tiktok_codes() {
    let env = setup().await;
    env.fake.push_fault(Fault::error(
        Endpoint::CreatorInfo,
        1,
        200,
        "spam_risk_user_banned_from_posting",
    ));
    env.fake
        .push_fault(Fault::status(Endpoint::CreatorInfo, 1, 500));
    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!(
        (r.status, r.code()),
        (200, "spam_risk_user_banned_from_posting")
    );
    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!((r.status, r.code()), (500, "internal_error"));
    let r = env.api("/v2/post/publish/creator_info/query/", None).await;
    assert_eq!(r.code(), "ok");
    // Accept, then drop: the init is made.
    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::VideoInit, 1));
    let dropped = http()
        .post(format!("{}/v2/post/publish/video/init/", env.base))
        .bearer_auth(&env.tokens.access_token)
        .json(&json!({
            "post_info": {"privacy_level": "SELF_ONLY", "brand_content_toggle": false},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1},
        }))
        .send()
        .await;
    assert!(dropped.is_err());
    assert_eq!(env.fake.publishes().len(), 1);
    let reqs = env.fake.requests();
    assert_eq!(reqs.last().unwrap().status, 0);
}

#[tokio::test]
async fn status_plans_are_followed_and_inbox_drafts_wait_for_the_creator() {
    let env = setup().await;
    env.fake.set_default_plan(StatusPlan::Fail {
        processing_polls: 1,
        fail_reason: "duration_check_failed".into(),
    });
    let r = env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await;
    let id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
    let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
    env.put(&url, 0, 3 * MB, 3 * MB, 0).await;
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "PROCESSING_UPLOAD"
    );
    let r = env.status(&id).await;
    assert_eq!(r.json["data"]["status"], "FAILED");
    assert_eq!(r.json["data"]["fail_reason"], "duration_check_failed");
    assert!(env.fake.posts().is_empty());

    env.fake.set_default_plan(StatusPlan::Complete {
        processing_polls: 0,
    });
    let r = env
        .api(
            "/v2/post/publish/inbox/video/init/",
            Some(json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 3 * MB, "chunk_size": 3 * MB, "total_chunk_count": 1}})),
        )
        .await;
    let id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("v_inbox_file~v2."));
    let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
    assert_eq!(env.put(&url, 0, 3 * MB, 3 * MB, 0).await.status, 201);
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "SEND_TO_USER_INBOX"
    );
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "SEND_TO_USER_INBOX"
    );
    assert!(env.fake.finish_inbox(&id));
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "PUBLISH_COMPLETE"
    );

    // A sequence the test chooses.
    let r = env.init(3 * MB, 3 * MB, 1, "SELF_ONLY").await;
    let id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
    let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
    env.put(&url, 0, 3 * MB, 3 * MB, 0).await;
    env.fake.set_plan(
        &id,
        StatusPlan::Sequence {
            statuses: vec!["PROCESSING_UPLOAD".into(), "FAILED".into()],
            fail_reason: Some("internal".into()),
        },
    );
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "PROCESSING_UPLOAD"
    );
    let r = env.status(&id).await;
    assert_eq!(
        (
            r.json["data"]["status"].as_str(),
            r.json["data"]["fail_reason"].as_str()
        ),
        (Some("FAILED"), Some("internal"))
    );
}

#[tokio::test]
async fn inbox_shares_are_capped_at_five_pending() {
    let env = setup().await;
    env.fake.set_default_plan(StatusPlan::Complete {
        processing_polls: 0,
    });
    env.fake.set_limit(Endpoint::InboxInit, 100);
    let inbox = || {
        env.api(
            "/v2/post/publish/inbox/video/init/",
            Some(json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}})),
        )
    };
    for _ in 0..5 {
        let r = inbox().await;
        let id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
        let url = r.json["data"]["upload_url"].as_str().unwrap().to_string();
        env.put(&url, 0, 1000, 1000, 0).await;
        assert_eq!(
            env.status(&id).await.json["data"]["status"],
            "SEND_TO_USER_INBOX"
        );
    }
    let r = inbox().await;
    assert_eq!(
        (r.status, r.code()),
        (403, "spam_risk_too_many_pending_share")
    );
}

/// A loopback file server: `/photo.jpg`, `/photo.png`, `/moved` (302).
async fn media_server() -> String {
    use axum::response::IntoResponse;
    let app = axum::Router::new()
        .route(
            "/photo.jpg",
            axum::routing::get(|| async { vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F'] }),
        )
        .route(
            "/photo.png",
            axum::routing::get(|| async { b"\x89PNG\r\n\x1a\n".to_vec() }),
        )
        .route(
            "/moved",
            axum::routing::get(|| async {
                (axum::http::StatusCode::FOUND, [("location", "/photo.jpg")]).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn photo_posts_are_pulled_from_verified_urls() {
    let env = setup().await;
    env.fake.set_default_plan(StatusPlan::Complete {
        processing_polls: 1,
    });
    let media = media_server().await;
    let photo = |urls: Vec<String>| {
        env.api(
            "/v2/post/publish/content/init/",
            Some(json!({
                "media_type": "PHOTO", "post_mode": "DIRECT_POST",
                "post_info": {"title": "t", "description": "d", "privacy_level": "PUBLIC_TO_EVERYONE",
                              "disable_comment": false, "auto_add_music": true, "brand_content_toggle": false},
                "source_info": {"source": "PULL_FROM_URL", "photo_cover_index": 0, "photo_images": urls},
            })),
        )
    };
    let r = photo(vec![
        format!("{media}/photo.jpg"),
        format!("{media}/photo.jpg"),
    ])
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("p_pub_url~v2."));
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "PROCESSING_DOWNLOAD"
    );
    assert_eq!(
        env.status(&id).await.json["data"]["status"],
        "PUBLISH_COMPLETE"
    );
    for bad in ["photo.png", "moved", "missing"] {
        let r = photo(vec![format!("{media}/{bad}")]).await;
        let id = r.json["data"]["publish_id"].as_str().unwrap().to_string();
        env.status(&id).await;
        let r = env.status(&id).await;
        assert_eq!(r.json["data"]["status"], "FAILED", "{bad}");
        assert_eq!(r.json["data"]["fail_reason"], "photo_pull_failed", "{bad}");
    }
    let r = photo(vec!["https://unverified.example/a.jpg".into()]).await;
    assert_eq!((r.status, r.code()), (403, "url_ownership_unverified"));
    env.fake
        .add_verified_prefix("https://cdn.example.org/outpost/");
    let r = photo(vec!["https://cdn.example.org/outpost/a.jpg".into()]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn the_control_api_drives_the_fake_over_http() {
    let env = setup().await;
    let c = http();
    let info: Value = c
        .get(format!("{}/_fake/info", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["client_key"], DEFAULT_CLIENT_KEY);
    let made: Value = c
        .post(format!("{}/_fake/users", env.base))
        .json(&json!({"username": "carol", "private_account": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(made["user"]["private_account"], true);
    assert!(made["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .starts_with("act."));
    let queued: Value = c
        .post(format!("{}/_fake/faults", env.base))
        .json(&json!([{"endpoint": "upload", "chunk": 1, "kind": {"type": "drop_mid_body", "after_bytes": 10}},
                      {"endpoint": "status", "kind": {"type": "error", "status": 503}}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queued["queued"], 2);
    let r = env.status("x").await;
    assert_eq!((r.status, r.code()), (503, "internal_error"));
    let r = c
        .post(format!("{}/_fake/plan", env.base))
        .json(&json!({"type": "sequence", "statuses": ["PUBLISH_COMPLETE"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The sink reads a body like the upload host does.
    let sunk: Value = c
        .put(format!("{}/_fake/sink", env.base))
        .body(vec![0u8; 3_000_000])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sunk["bytes"], 3_000_000);
    let reqs: Value = c
        .get(format!("{}/_fake/requests", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reqs
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["endpoint"] == "status"));
    let bad = c
        .post(format!("{}/_fake/creator", env.base))
        .json(&json!({"open_id": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 404);
}
