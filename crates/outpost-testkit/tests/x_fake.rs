//! Wire-level tests of the X fake, through a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use outpost_testkit::x::{
    CodeGrant, CreditsBlock, Endpoint, Fault, LimitScope, Processing, RefreshErrorForm,
    ReplyRestriction, XConfig, XFake, XTokens, XUser, DEFAULT_CLIENT_ID,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Resp {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn header_num(&self, name: &str) -> i64 {
        self.header(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("header {name} missing or not a number: {:?}", self.headers))
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
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
    fake: XFake,
    base: String,
    user: XUser,
    tokens: XTokens,
}

async fn setup() -> Env {
    let fake = XFake::start(XConfig::default()).await;
    let (user, tokens) = fake.create_user_with_tokens("alice");
    Env {
        base: fake.base_url(),
        fake,
        user,
        tokens,
    }
}

impl Env {
    fn at(&self) -> &str {
        &self.tokens.access_token
    }
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        self.get_as(self.at(), path, query).await
    }
    async fn get_as(&self, token: &str, path: &str, query: &[(&str, &str)]) -> Resp {
        finish(
            http()
                .get(format!("{}{path}", self.base))
                .query(query)
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    async fn post(&self, path: &str, body: Value) -> Resp {
        self.post_as(self.at(), path, body).await
    }
    async fn post_as(&self, token: &str, path: &str, body: Value) -> Resp {
        finish(
            http()
                .post(format!("{}{path}", self.base))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    async fn tweet(&self, text: &str) -> Resp {
        self.post("/2/tweets", json!({ "text": text })).await
    }
    async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Resp {
        let mut req = http()
            .post(format!("{}/2/oauth2/token", self.base))
            .form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        finish(req.send().await.unwrap()).await
    }
    async fn refresh(&self, refresh_token: &str) -> Resp {
        self.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", DEFAULT_CLIENT_ID),
            ],
            None,
        )
        .await
    }
    async fn append(&self, id: &str, index: &str, bytes: &[u8]) -> Resp {
        let boundary = "XFAKEBOUNDARY";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n{index}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        finish(
            http()
                .post(format!("{}/2/media/upload/{id}/append", self.base))
                .bearer_auth(self.at())
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    /// initialize + one append per chunk + finalize; returns (media id, finalize answer).
    async fn upload(&self, media_type: &str, category: &str, chunks: &[&[u8]]) -> (String, Resp) {
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        let init = self
            .post(
                "/2/media/upload/initialize",
                json!({"media_type": media_type, "total_bytes": total, "media_category": category}),
            )
            .await;
        assert_eq!(init.status, 200, "{}", init.json);
        let id = init.json["data"]["id"].as_str().unwrap().to_string();
        for (i, chunk) in chunks.iter().enumerate() {
            let r = self.append(&id, &i.to_string(), chunk).await;
            assert_eq!(r.status, 200, "{}", r.json);
        }
        let fin = self
            .post(&format!("/2/media/upload/{id}/finalize"), Value::Null)
            .await;
        (id, fin)
    }
    async fn status(&self, id: &str) -> Resp {
        self.get(
            "/2/media/upload",
            &[("command", "STATUS"), ("media_id", id)],
        )
        .await
    }
}

#[tokio::test]
async fn users_me_answers_with_the_user_and_rate_limit_headers() {
    let env = setup().await;
    let r = env.get("/2/users/me", &[]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["data"]["id"], env.user.id);
    assert_eq!(r.json["data"]["username"], "alice");
    assert!(r.json["data"]["name"].is_string());
    assert_eq!(r.header_num("x-rate-limit-limit"), 75);
    assert_eq!(r.header_num("x-rate-limit-remaining"), 74);
    let reset = r.header_num("x-rate-limit-reset");
    let now = Utc::now().timestamp();
    assert!(
        (now + 890..=now + 910).contains(&reset),
        "a 15-minute window: {reset} vs {now}"
    );
    // Ids look like X's: 1 to 19 digits.
    assert!(env.user.id.len() >= 18 && env.user.id.bytes().all(|b| b.is_ascii_digit()));
}

#[tokio::test]
async fn missing_unknown_and_expired_tokens_answer_401_problem_json() {
    let env = setup().await;
    let r = finish(
        http()
            .get(format!("{}/2/users/me", env.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json,
        json!({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})
    );
    assert_eq!(env.get_as("nope", "/2/users/me", &[]).await.status, 401);
    assert!(env.fake.expire_access_token(env.at()));
    assert_eq!(env.get("/2/users/me", &[]).await.status, 401);
    // Expiry by the clock too: 2 hours.
    let (_, other) = env.fake.create_user_with_tokens("bob");
    env.fake.advance_time(chrono::Duration::seconds(7201));
    assert_eq!(
        env.get_as(&other.access_token, "/2/users/me", &[])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let env = setup().await;
    let old = env.tokens.refresh_token.clone().unwrap();
    let r = env.refresh(&old).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["token_type"], "bearer");
    assert_eq!(r.json["expires_in"], 7200);
    let new_rt = r.json["refresh_token"].as_str().unwrap().to_string();
    let new_at = r.json["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_rt, old);
    assert_ne!(new_at, env.tokens.access_token);
    assert!(r.json["scope"].as_str().unwrap().contains("tweet.write"));
    assert_eq!(env.get_as(&new_at, "/2/users/me", &[]).await.status, 200);
    // The old one is spent.
    let r = env.refresh(&old).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json,
        json!({"error":"invalid_grant","error_description":"Value passed for the token was invalid."})
    );
    assert!(!env.fake.refresh_token_is_live(&old));
    assert!(env.fake.refresh_token_is_live(&new_rt));
    // X's observed form.
    env.fake
        .set_refresh_error_form(RefreshErrorForm::InvalidRequest);
    assert_eq!(env.refresh(&old).await.json["error"], "invalid_request");
    // Revocation.
    assert!(env.fake.revoke_refresh_token(&new_rt));
    assert_eq!(env.refresh(&new_rt).await.status, 400);
}

#[tokio::test]
async fn a_refresh_token_is_issued_only_with_offline_access() {
    let env = setup().await;
    let t = env
        .fake
        .issue_tokens(&env.user.id, &["tweet.read", "users.read"])
        .unwrap();
    assert!(t.refresh_token.is_none());
    assert_eq!(t.scope, "tweet.read users.read");
    assert!(env.fake.issue_tokens("999", &["tweet.read"]).is_none());
}

#[tokio::test]
async fn confidential_clients_must_use_basic_auth() {
    let env = setup().await;
    env.fake.register_client("web-app", Some("s3cret"));
    let t = env
        .fake
        .issue_tokens_for(&env.user.id, &["offline.access", "tweet.read"], "web-app")
        .unwrap();
    let rt = t.refresh_token.unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", "web-app"),
    ];
    let r = env.token(&form, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json,
        json!({"error":"unauthorized_client","error_description":"Missing valid authorization header"})
    );
    assert_eq!(
        env.token(&form, Some(("web-app", "wrong"))).await.status,
        401
    );
    let r = env.token(&form[..2], Some(("web-app", "s3cret"))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    // A public client's token cannot be refreshed by another client.
    let public_rt = env.tokens.refresh_token.clone().unwrap();
    let r = env
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", public_rt.as_str()),
            ],
            Some(("web-app", "s3cret")),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn authorization_codes_check_pkce_are_single_use_and_expire() {
    let env = setup().await;
    let verifier = "a-very-long-verifier-string-of-at-least-43-characters-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:8723/callback";
    let grant = CodeGrant {
        user_id: env.user.id.clone(),
        client_id: DEFAULT_CLIENT_ID.into(),
        redirect_uri: redirect.into(),
        code_challenge: challenge.clone(),
        code_challenge_method: "S256".into(),
        scopes: vec!["tweet.read".into(), "offline.access".into()],
    };
    let exchange = |code: String, verifier: &'static str, redirect: &'static str| {
        let env = &env;
        async move {
            env.token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                    ("client_id", DEFAULT_CLIENT_ID),
                ],
                None,
            )
            .await
        }
    };
    let code = env.fake.issue_code(grant.clone()).unwrap();
    let r = exchange(code.clone(), verifier, "http://127.0.0.1:8723/callback").await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json["refresh_token"].is_string());
    let r = exchange(code, verifier, "http://127.0.0.1:8723/callback").await;
    assert_eq!(r.status, 400, "a code works once");
    assert_eq!(
        r.json["error_description"],
        "Value passed for the authorization code was invalid."
    );
    let code = env.fake.issue_code(grant.clone()).unwrap();
    let wrong = "another-verifier-that-does-not-match-the-challenge-000000";
    assert_eq!(
        exchange(code, wrong, "http://127.0.0.1:8723/callback")
            .await
            .status,
        400
    );
    let code = env.fake.issue_code(grant.clone()).unwrap();
    assert_eq!(
        exchange(code, verifier, "http://127.0.0.1:8723/callback/")
            .await
            .status,
        400,
        "redirect matching is exact"
    );
    let code = env.fake.issue_code(grant.clone()).unwrap();
    env.fake.advance_time(chrono::Duration::seconds(31));
    assert_eq!(
        exchange(code, verifier, "http://127.0.0.1:8723/callback")
            .await
            .status,
        400,
        "codes expire after 30 s"
    );
    let mut local = grant;
    local.redirect_uri = "http://localhost:8723/callback".into();
    assert!(env
        .fake
        .issue_code(local)
        .unwrap_err()
        .contains("localhost"));
}

#[tokio::test]
async fn posts_are_created_once_and_identical_text_is_a_duplicate() {
    let fake = XFake::start(XConfig {
        duplicate_window: chrono::Duration::hours(1),
        ..XConfig::default()
    })
    .await;
    let (user, tokens) = fake.create_user_with_tokens("alice");
    let env = Env {
        base: fake.base_url(),
        fake,
        user,
        tokens,
    };
    let r = env.tweet("hello world").await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["data"]["text"], "hello world");
    assert_eq!(r.json["data"]["edit_history_tweet_ids"], json!([id]));
    assert_eq!(r.header_num("x-rate-limit-limit"), 100);
    assert_eq!(r.header_num("x-app-limit-24hour-limit"), 10_000);
    let r = env.tweet("hello world").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json,
        json!({"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403})
    );
    assert_eq!(env.fake.tweets().len(), 1);
    env.fake.advance_time(chrono::Duration::minutes(61));
    assert_eq!(
        env.tweet("hello world").await.status,
        201,
        "the window passed"
    );
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 2);
    assert_eq!(tweets[0].author_id, env.user.id);
    assert!(
        tweets[1].id.parse::<u64>().unwrap() > tweets[0].id.parse::<u64>().unwrap(),
        "ids increase"
    );
}

#[tokio::test]
async fn bad_bodies_are_400_invalid_request() {
    let env = setup().await;
    let r = env
        .post("/2/tweets", json!({"text": "x", "community": "1"}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json["type"],
        "https://api.x.com/2/problems/invalid-request"
    );
    assert!(r.json["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("community"));
    let five = json!({"text": "x", "media": {"media_ids": ["1", "2", "3", "4", "5"]}});
    assert_eq!(env.post("/2/tweets", five).await.status, 400);
    let bad_id = json!({"text": "x", "media": {"media_ids": ["abc"]}});
    assert_eq!(env.post("/2/tweets", bad_id).await.status, 400);
    let unknown_media = json!({"text": "x", "media": {"media_ids": ["123"]}});
    let r = env.post("/2/tweets", unknown_media).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json["errors"][0]["message"],
        "Your media IDs are invalid."
    );
    assert_eq!(env.post("/2/tweets", json!({})).await.status, 400);
    let long = "a".repeat(281);
    assert_eq!(env.tweet(&long).await.status, 400);
    assert_eq!(env.tweet(&"a".repeat(280)).await.status, 201);
    assert_eq!(
        env.tweet(&"日".repeat(141)).await.status,
        400,
        "CJK weighs 2"
    );
    assert_eq!(env.fake.tweets().len(), 1);
}

#[tokio::test]
async fn replies_need_a_visible_parent_and_obey_the_restriction_switch() {
    let env = setup().await;
    let missing = json!({"text": "re", "reply": {"in_reply_to_tweet_id": "1234567890"}});
    let r = env.post("/2/tweets", missing).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json["detail"],
        "You attempted to reply to a Tweet that is deleted or not visible to you."
    );
    let root = env.tweet("root").await.json["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reply =
        |text: &str, parent: &str| json!({"text": text, "reply": {"in_reply_to_tweet_id": parent}});
    let r = env.post("/2/tweets", reply("part 2", &root)).await;
    assert_eq!(r.status, 201);
    let part2 = r.json["data"]["id"].as_str().unwrap().to_string();
    let stored = env.fake.tweets();
    assert_eq!(stored[1].in_reply_to.as_deref(), Some(root.as_str()));
    assert_eq!(stored[1].conversation_id, root);

    let bob = env.fake.create_user("bob", "Bob");
    let bobs = env.fake.insert_tweet(&bob.id, "bob's post", None).unwrap();
    let hey = env.fake.insert_tweet(&bob.id, "hey @alice", None).unwrap();
    env.fake.set_reply_restriction(ReplyRestriction::OthersOnly);
    let r = env.post("/2/tweets", reply("self reply", &part2)).await;
    assert_eq!(r.status, 201, "own posts are exempt in this mode");
    let r = env.post("/2/tweets", reply("to bob", &bobs.id)).await;
    assert_eq!(r.status, 403);
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("you have not been mentioned"));
    assert_eq!(
        env.post("/2/tweets", reply("summoned", &hey.id))
            .await
            .status,
        201
    );
    env.fake.set_reply_restriction(ReplyRestriction::All);
    assert_eq!(
        env.post("/2/tweets", reply("self again", &root))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn video_upload_walks_the_processing_states_and_gates_the_post() {
    let env = setup().await;
    env.fake.video_processing(3);
    let (id, fin) = env
        .upload("video/mp4", "tweet_video", &[b"0123456789", b"abcdef"])
        .await;
    assert_eq!(fin.status, 200, "{}", fin.json);
    assert_eq!(fin.json["data"]["id"], id);
    assert_eq!(fin.json["data"]["size"], 16);
    assert_eq!(fin.json["data"]["media_key"], format!("7_{id}"));
    assert_eq!(fin.json["data"]["processing_info"]["state"], "pending");
    assert_eq!(fin.json["data"]["processing_info"]["check_after_secs"], 1);
    let post = json!({"text": "video", "media": {"media_ids": [id]}});
    assert_eq!(
        env.post("/2/tweets", post.clone()).await.status,
        400,
        "not ready yet"
    );
    let s = env.status(&id).await;
    assert_eq!(s.status, 200, "{}", s.json);
    assert_eq!(s.json["data"]["processing_info"]["state"], "in_progress");
    assert!(s.json["data"]["processing_info"]["progress_percent"].is_u64());
    assert_eq!(
        env.status(&id).await.json["data"]["processing_info"]["state"],
        "in_progress"
    );
    let s = env.status(&id).await;
    assert_eq!(s.json["data"]["processing_info"]["state"], "succeeded");
    assert_eq!(s.json["data"]["processing_info"]["progress_percent"], 100);
    assert_eq!(env.post("/2/tweets", post).await.status, 201);
    assert_eq!(
        env.fake.media_bytes(&id).unwrap(),
        b"0123456789abcdef".to_vec()
    );
    let media = env.fake.media();
    assert_eq!(media[0].segment_indices, vec![0, 1]);
    assert_eq!(media[0].polls, 3);
    assert_eq!(env.fake.tweets()[0].media_ids, vec![id]);
}

#[tokio::test]
async fn processing_can_fail_or_never_finish() {
    let env = setup().await;
    env.fake.set_processing(Processing::invalid_media(1));
    let (id, fin) = env.upload("image/gif", "tweet_gif", &[b"GIF89a..."]).await;
    assert_eq!(fin.json["data"]["processing_info"]["state"], "pending");
    let s = env.status(&id).await;
    assert_eq!(s.json["data"]["processing_info"]["state"], "failed");
    assert_eq!(
        s.json["data"]["processing_info"]["error"],
        json!({"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"})
    );
    env.fake.set_processing(Processing::Never);
    let (id, _) = env.upload("video/mp4", "tweet_video", &[b"x"]).await;
    for _ in 0..5 {
        assert_eq!(
            env.status(&id).await.json["data"]["processing_info"]["state"],
            "in_progress"
        );
    }
    assert!(env
        .fake
        .set_media_processing(&id, Processing::AfterPolls { polls: 1 }));
    assert_eq!(
        env.status(&id).await.json["data"]["processing_info"]["state"],
        "succeeded"
    );
    // Failing at finalize.
    env.fake.set_processing(Processing::Fail {
        after_polls: 0,
        name: "InvalidMedia".into(),
        message: "Video too long".into(),
    });
    let (_, fin) = env.upload("video/mp4", "tweet_video", &[b"y"]).await;
    assert_eq!(fin.json["data"]["processing_info"]["state"], "failed");
}

#[tokio::test]
async fn images_need_no_processing_and_take_alt_text() {
    let env = setup().await;
    let (id, fin) = env.upload("image/png", "tweet_image", &[b"png"]).await;
    assert!(
        fin.json["data"].get("processing_info").is_none(),
        "{}",
        fin.json
    );
    let alt = |text: String| json!({"id": id, "metadata": {"alt_text": {"text": text}}});
    let r = env.post("/2/media/metadata", alt("a cat".into())).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(env.fake.media()[0].alt_text.as_deref(), Some("a cat"));
    assert_eq!(
        env.post("/2/media/metadata", alt("é".repeat(1000)))
            .await
            .status,
        200
    );
    assert_eq!(
        env.post("/2/media/metadata", alt("a".repeat(1001)))
            .await
            .status,
        400
    );
    // Four images, or one GIF/video alone.
    let mut ids = vec![id.clone()];
    for _ in 0..3 {
        ids.push(env.upload("image/jpeg", "tweet_image", &[b"jpg"]).await.0);
    }
    env.fake.video_processing(0);
    let (gif, fin) = env.upload("image/gif", "tweet_gif", &[b"gif"]).await;
    assert_eq!(fin.json["data"]["processing_info"]["state"], "succeeded");
    let mixed = json!({"text": "mixed", "media": {"media_ids": [ids[0], gif]}});
    assert_eq!(env.post("/2/tweets", mixed).await.status, 400);
    let four = json!({"text": "four", "media": {"media_ids": ids}});
    assert_eq!(env.post("/2/tweets", four).await.status, 201);
    let media_only = json!({"media": {"media_ids": [gif]}});
    assert_eq!(env.post("/2/tweets", media_only).await.status, 201);
}

#[tokio::test]
async fn the_chunked_upload_validates_segments_sizes_and_ownership() {
    let env = setup().await;
    let init = env
        .post(
            "/2/media/upload/initialize",
            json!({"media_type": "video/mp4", "total_bytes": 10, "media_category": "tweet_video"}),
        )
        .await;
    assert_eq!(init.json["data"]["expires_after_secs"], 86_400);
    let id = init.json["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(env.append(&id, "1000", b"abc").await.status, 400);
    assert_eq!(env.append(&id, "-1", b"abc").await.status, 400);
    let r = env.append(&id, "0", b"abc").await;
    assert_eq!(r.status, 200);
    assert!(r.json["data"]["expires_at"].as_i64().unwrap() > Utc::now().timestamp());
    let fin = env
        .post(&format!("/2/media/upload/{id}/finalize"), Value::Null)
        .await;
    assert_eq!(fin.status, 400);
    assert_eq!(
        fin.json["errors"][0]["message"],
        "Segments do not add up to provided total file size."
    );
    // Base64 JSON appends are accepted too.
    let b64 = base64::engine::general_purpose::STANDARD.encode(b"defghij");
    let r = env
        .post(
            &format!("/2/media/upload/{id}/append"),
            json!({"media": b64, "segment_index": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let fin = env
        .post(&format!("/2/media/upload/{id}/finalize"), Value::Null)
        .await;
    assert_eq!(fin.status, 200, "{}", fin.json);
    // Someone else's media is unknown to you.
    let (_, bob) = env.fake.create_user_with_tokens("bob");
    assert_eq!(
        env.get_as(
            &bob.access_token,
            "/2/media/upload",
            &[("command", "STATUS"), ("media_id", &id)]
        )
        .await
        .status,
        404
    );
    // Types and sizes.
    let too_big = json!({"media_type": "image/png", "total_bytes": 6 * 1024 * 1024, "media_category": "tweet_image"});
    assert_eq!(
        env.post("/2/media/upload/initialize", too_big).await.status,
        400
    );
    let wrong = json!({"media_type": "video/avi", "total_bytes": 10});
    assert_eq!(
        env.post("/2/media/upload/initialize", wrong).await.status,
        400
    );
    // Expired media is refused when posting.
    env.fake.video_processing(0);
    let (vid, _) = env.upload("video/mp4", "tweet_video", &[b"v"]).await;
    env.fake.advance_time(chrono::Duration::hours(25));
    // The access token expired with the clock too: a fresh one for the same user.
    let token = env
        .fake
        .issue_tokens(&env.user.id, &outpost_testkit::x::ALL_SCOPES)
        .unwrap();
    let r = env
        .post_as(
            &token.access_token,
            "/2/tweets",
            json!({"text": "late", "media": {"media_ids": [vid]}}),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn missing_scopes_are_403() {
    let env = setup().await;
    let t = env
        .fake
        .issue_tokens(&env.user.id, &["tweet.read", "users.read"])
        .unwrap();
    let r = env
        .post_as(&t.access_token, "/2/tweets", json!({"text": "hi"}))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json["detail"],
        "You are not permitted to perform this action."
    );
    let init = json!({"media_type": "image/png", "total_bytes": 3});
    assert_eq!(
        env.post_as(&t.access_token, "/2/media/upload/initialize", init)
            .await
            .status,
        403
    );
    assert!(env.fake.tweets().is_empty());
}

#[tokio::test]
async fn rate_limit_buckets_answer_429_with_their_headers() {
    let env = setup().await;
    env.fake
        .set_limit(Endpoint::CreateTweet, 2, chrono::Duration::minutes(15));
    env.fake.set_user_24h_limit(Endpoint::CreateTweet, Some(17));
    assert_eq!(env.tweet("one").await.status, 201);
    let r = env.tweet("two").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header_num("x-rate-limit-remaining"), 0);
    assert_eq!(r.header_num("x-user-limit-24hour-limit"), 17);
    assert_eq!(r.header_num("x-user-limit-24hour-remaining"), 15);
    let r = env.tweet("three").await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json,
        json!({"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429})
    );
    assert_eq!(r.header_num("x-rate-limit-remaining"), 0);
    assert!(r.header_num("x-rate-limit-reset") > Utc::now().timestamp());
    assert_eq!(env.fake.tweets().len(), 2);
    // Another endpoint has its own bucket.
    assert_eq!(env.get("/2/users/me", &[]).await.status, 200);
    // The window passes.
    env.fake.advance_time(chrono::Duration::minutes(16));
    assert_eq!(env.tweet("four").await.status, 201);
    // A user cap of 3 a day is hit on the next post (the 15-minute bucket has room).
    env.fake
        .set_limit(Endpoint::CreateTweet, 100, chrono::Duration::minutes(15));
    env.fake.set_user_24h_limit(Endpoint::CreateTweet, Some(3));
    let r = env.tweet("five").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header_num("x-user-limit-24hour-remaining"), 0);
    assert!(r.header_num("x-rate-limit-remaining") > 0);
}

#[tokio::test]
async fn faults_answer_errors_rate_limits_and_drop_after_commit() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::status(Endpoint::CreateTweet, 1, 503));
    let r = env.tweet("a").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json["title"], "Service Unavailable");
    assert!(env.fake.tweets().is_empty(), "no side effect");

    env.fake.push_fault(Fault::rate_limited(
        Endpoint::CreateTweet,
        1,
        120,
        LimitScope::Window,
    ));
    let r = env.tweet("a").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header_num("x-rate-limit-remaining"), 0);
    let reset = r.header_num("x-rate-limit-reset");
    let expected = env.fake.now().timestamp() + 120;
    assert!(
        (expected - 2..=expected).contains(&reset),
        "{reset} vs {expected}"
    );

    env.fake.push_fault(Fault::rate_limited(
        Endpoint::CreateTweet,
        1,
        3600,
        LimitScope::User24h,
    ));
    let r = env.tweet("a").await;
    assert_eq!(r.header_num("x-user-limit-24hour-remaining"), 0);
    assert!(r.header_num("x-rate-limit-remaining") > 0);

    env.fake
        .push_fault(Fault::drop_after_commit(Endpoint::CreateTweet, 1));
    let err = http()
        .post(format!("{}/2/tweets", env.base))
        .bearer_auth(env.at())
        .json(&json!({"text": "committed"}))
        .send()
        .await;
    assert!(err.is_err(), "the connection is closed without an answer");
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(tweets[0].text, "committed");
    let recorded = env.fake.requests();
    let last = recorded.last().unwrap();
    assert_eq!(last.status, 0);
    assert_eq!(last.endpoint, Some(Endpoint::CreateTweet));
    assert_eq!(env.tweet("after").await.status, 201, "faults are used up");
    assert_eq!(env.fake.count(Endpoint::CreateTweet), 5);
}

#[tokio::test]
async fn the_user_timeline_filters_pages_and_can_be_forbidden() {
    let env = setup().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(
            env.tweet(&format!("post {i}")).await.json["data"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let reply = env
        .post(
            "/2/tweets",
            json!({"text": "a reply", "reply": {"in_reply_to_tweet_id": ids[11]}}),
        )
        .await;
    let reply_id = reply.json["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/2/users/{}/tweets", env.user.id);
    let r = env
        .get(
            &path,
            &[
                ("max_results", "5"),
                ("tweet.fields", "created_at,referenced_tweets,author_id"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let data = r.json["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert_eq!(data[0]["id"], reply_id, "newest first");
    assert_eq!(
        data[0]["referenced_tweets"],
        json!([{"type": "replied_to", "id": ids[11]}])
    );
    assert_eq!(data[0]["author_id"], env.user.id);
    assert!(data[0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.json["meta"]["result_count"], 5);
    let next = r.json["meta"]["next_token"].as_str().unwrap().to_string();
    let r2 = env
        .get(&path, &[("max_results", "5"), ("pagination_token", &next)])
        .await;
    assert_eq!(r2.json["data"][0]["id"], ids[7]);
    let r = env.get(&path, &[("since_id", &ids[9])]).await;
    assert_eq!(r.json["meta"]["result_count"], 3);
    let r = env
        .get(&path, &[("since_id", &ids[9]), ("exclude", "replies")])
        .await;
    assert_eq!(r.json["meta"]["result_count"], 2);
    let future = (Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = env.get(&path, &[("start_time", &future)]).await;
    assert_eq!(r.json, json!({"meta": {"result_count": 0}}));
    assert_eq!(env.get(&path, &[("max_results", "101")]).await.status, 400);

    env.fake.set_read_access(false);
    let r = env.get(&path, &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json["type"],
        "https://api.x.com/2/problems/client-forbidden"
    );
    assert_eq!(r.json["reason"], "client-not-enrolled");
}

#[tokio::test]
async fn credits_exhausted_blocks_every_call() {
    let env = setup().await;
    env.fake
        .set_credits_exhausted(Some(CreditsBlock::default()));
    let r = env.tweet("x").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json["type"], "https://api.x.com/2/problems/usage-capped");
    assert_eq!(env.get("/2/users/me", &[]).await.status, 429);
    env.fake.set_credits_exhausted(Some(CreditsBlock {
        status: 402,
        body: json!({"title": "CreditsDepleted"}),
    }));
    assert_eq!(env.tweet("x").await.status, 402);
    env.fake.set_credits_exhausted(None);
    assert_eq!(env.tweet("x").await.status, 201);
}

#[tokio::test]
async fn unknown_paths_answer_404() {
    let env = setup().await;
    let r = env.get("/1.1/statuses/update.json", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["errors"][0]["code"], 34);
    assert_eq!(env.fake.requests()[0].endpoint, None);
}

#[tokio::test]
async fn the_control_api_drives_the_fake_over_http() {
    let fake = XFake::start(XConfig::default()).await;
    let base = fake.base_url();
    let c = http();
    let post = |path: &str, body: Value| {
        let req = c.post(format!("{base}/_fake/{path}")).json(&body);
        async move { finish(req.send().await.unwrap()).await }
    };
    let info = finish(c.get(format!("{base}/_fake/info")).send().await.unwrap()).await;
    assert_eq!(info.json["base_url"], base);
    let made = post("users", json!({"username": "dana"})).await;
    assert_eq!(made.status, 200, "{}", made.json);
    let user_id = made.json["user"]["id"].as_str().unwrap().to_string();
    let at = made.json["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = made.json["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let q = post(
        "faults",
        json!([{"endpoint": "create_tweet", "kind": {"type": "status", "status": 502}},
               {"endpoint": "*", "times": 2, "kind": {"type": "delay_before", "ms": 1}}]),
    )
    .await;
    assert_eq!(q.json["queued"], 2);
    let tweet = |text: &str| {
        let req = c
            .post(format!("{base}/2/tweets"))
            .bearer_auth(&at)
            .json(&json!({ "text": text }));
        async move { finish(req.send().await.unwrap()).await }
    };
    assert_eq!(tweet("one").await.status, 502);
    assert_eq!(tweet("one").await.status, 201);
    let seeded = post(
        "tweets",
        json!({"author_id": user_id, "text": "from the website"}),
    )
    .await;
    assert_eq!(seeded.status, 200);
    let tweets = finish(c.get(format!("{base}/_fake/tweets")).send().await.unwrap()).await;
    assert_eq!(tweets.json.as_array().unwrap().len(), 2);
    let requests = finish(
        c.get(format!("{base}/_fake/requests"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let list = requests.json.as_array().unwrap();
    assert_eq!(list.len(), 2, "control calls are not recorded");
    assert_eq!(list[0]["endpoint"], "create_tweet");
    assert_eq!(
        post("revoke-refresh-token", json!({"refresh_token": rt}))
            .await
            .status,
        200
    );
    assert!(!fake.refresh_token_is_live(&rt));
    assert_eq!(
        post("expire-access-token", json!({"access_token": at}))
            .await
            .status,
        200
    );
    assert_eq!(tweet("two").await.status, 401);
    assert_eq!(
        post("processing", json!({"type": "never"})).await.status,
        200
    );
    assert_eq!(
        post("reply-restriction", json!({"mode": "others_only"}))
            .await
            .status,
        200
    );
    assert_eq!(
        post("limits", json!({"endpoint": "users_me", "limit": 1}))
            .await
            .status,
        200
    );
    assert_eq!(
        post("credits-exhausted", json!({"enabled": false}))
            .await
            .status,
        200
    );
    assert_eq!(post("advance-time", json!({"secs": 60})).await.status, 200);
    assert!(fake.now() > Utc::now() + chrono::Duration::seconds(50));
    assert_eq!(
        post("revoke-refresh-token", json!({"refresh_token": "nope"}))
            .await
            .status,
        404
    );
    assert_eq!(post("nope", json!({})).await.status, 404);
    let del = finish(
        c.delete(format!("{base}/_fake/requests"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(del.status, 200);
    assert!(fake.requests().is_empty());
}
