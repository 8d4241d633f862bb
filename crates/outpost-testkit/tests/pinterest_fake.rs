//! Wire-level tests of the Pinterest fake, through a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use outpost_testkit::pinterest::{
    Fault, FaultKind, Limits, MediaPlan, PinterestConfig, PinterestFake, RateLimit, ResetForm,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const USER: &str = "alice";

struct Resp {
    status: u16,
    headers: HeaderMap,
    text: String,
    json: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn message(&self) -> String {
        self.json["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn finish(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        json,
    }
}

/// A PNG header big enough for the fake's size check (it reads `IHDR` only).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    out
}

fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00];
    out.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 0x08]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[0x03, 0x01, 0x22, 0x00, 0xff, 0xd9]);
    out
}

fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

fn mp4() -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x18];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v.extend(std::iter::repeat_n(7u8, 4096));
    v
}

struct Env {
    fake: PinterestFake,
    token: String,
    refresh: String,
    board: String,
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }
    async fn get(&self, path: &str) -> Resp {
        finish(
            http()
                .get(self.url(path))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    async fn post(&self, path: &str, body: Value) -> Resp {
        finish(
            http()
                .post(self.url(path))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    async fn pin(&self, media_source: Value) -> Resp {
        self.post(
            "/v5/pins",
            json!({ "board_id": self.board, "description": "hello", "media_source": media_source }),
        )
        .await
    }
    async fn token_grant(&self, auth: Option<(&str, &str)>, form: &[(&str, &str)]) -> Resp {
        let mut rb = http().post(self.fake.token_url()).form(form);
        if let Some((id, secret)) = auth {
            rb = rb.basic_auth(id, Some(secret));
        }
        finish(rb.send().await.unwrap()).await
    }
    async fn refresh_grant(&self, refresh: &str) -> Resp {
        let id = self.fake.client_id();
        let secret = self.fake.client_secret();
        self.token_grant(
            Some((&id, &secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("continuous_refresh", "true"),
            ],
        )
        .await
    }
    /// Registers a video and uploads `file` with every parameter (file last).
    async fn register_and_upload(&self, file: &[u8]) -> String {
        let r = self
            .post("/v5/media", json!({ "media_type": "video" }))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let media_id = r.json["media_id"].as_str().unwrap().to_string();
        let url = r.json["upload_url"].as_str().unwrap().to_string();
        let params: Vec<(String, String)> = r.json["upload_parameters"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let up = upload(&url, &params, file, false, None).await;
        assert_eq!(up.status, 204, "{}", up.text);
        media_id
    }
}

/// A multipart body by hand: `params` then `file` (or the file first when `file_first`).
async fn upload(
    url: &str,
    params: &[(String, String)],
    file: &[u8],
    file_first: bool,
    bearer: Option<&str>,
) -> Resp {
    let boundary = "testboundary42";
    let mut fields = Vec::new();
    for (k, v) in params {
        fields.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    let mut file_part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
    )
    .into_bytes();
    file_part.extend_from_slice(file);
    file_part.extend_from_slice(b"\r\n");
    let mut body = Vec::new();
    if file_first {
        body.extend_from_slice(&file_part);
        body.extend_from_slice(&fields);
    } else {
        body.extend_from_slice(&fields);
        body.extend_from_slice(&file_part);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut rb = http()
        .post(url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    finish(rb.send().await.unwrap()).await
}

async fn setup_with(config: PinterestConfig) -> Env {
    let fake = PinterestFake::start(config).await;
    fake.add_user(USER);
    let board = fake.add_board(USER, "Recipes", "PUBLIC");
    let tokens = fake.issue_tokens(USER);
    Env {
        fake,
        token: tokens.access_token,
        refresh: tokens.refresh_token,
        board,
    }
}

async fn setup() -> Env {
    setup_with(PinterestConfig::default()).await
}

// ---- OAuth -------------------------------------------------------------------------------------

#[tokio::test]
async fn the_token_endpoint_requires_basic_client_auth() {
    let env = setup().await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", env.refresh.as_str()),
    ];
    let r = env.token_grant(None, &form).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_client");
    let id = env.fake.client_id();
    let r = env.token_grant(Some((&id, "wrong-secret")), &form).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["error"], "invalid_client");
    // The refresh token was not spent by the refused attempts.
    let r = env.refresh_grant(&env.refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn every_refresh_rotates_the_refresh_token() {
    let env = setup().await;
    let r = env.refresh_grant(&env.refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for field in [
        "access_token",
        "refresh_token",
        "expires_in",
        "refresh_token_expires_in",
        "refresh_token_expires_at",
        "scope",
    ] {
        assert!(!r.json[field].is_null(), "{field} missing: {}", r.text);
    }
    assert_eq!(r.json["token_type"], "bearer");
    assert_eq!(r.json["response_type"], "refresh_token");
    assert_eq!(r.json["refresh_token_expires_in"], 60 * 86_400);
    let new_refresh = r.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, env.refresh);
    let new_access = r.json["access_token"].as_str().unwrap().to_string();
    // The spent refresh token is refused with invalid_grant.
    let again = env.refresh_grant(&env.refresh).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json["error"], "invalid_grant");
    // The new access token works; the new refresh token works once more.
    let me = finish(
        http()
            .get(env.url("/v5/user_account"))
            .bearer_auth(&new_access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(env.refresh_grant(&new_refresh).await.status, 200);
    // The client's continuous_refresh flag was recorded.
    let sent = env.fake.requests_to("POST", "/v5/oauth/token");
    assert!(sent.iter().all(|r| r
        .form()
        .contains(&("continuous_refresh".into(), "true".into()))));
}

#[tokio::test]
async fn a_refresh_token_unused_for_sixty_days_expires() {
    let env = setup().await;
    env.fake.advance_time(chrono::Duration::days(59));
    let r = env.refresh_grant(&env.refresh).await;
    assert_eq!(r.status, 200, "refreshed within 60 days: {}", r.text);
    let fresh = r.json["refresh_token"].as_str().unwrap().to_string();
    env.fake.advance_time(chrono::Duration::days(61));
    let r = env.refresh_grant(&fresh).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "invalid_grant");
    // The access token (30 days) is long dead too.
    assert_eq!(env.get("/v5/user_account").await.status, 401);
}

#[tokio::test]
async fn revoked_refresh_tokens_get_invalid_grant() {
    let env = setup().await;
    assert!(env.fake.revoke_refresh_tokens(USER));
    let r = env.refresh_grant(&env.refresh).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "invalid_grant");
    assert!(!env.fake.revoke_refresh_tokens("nobody"));
}

#[tokio::test]
async fn the_consent_page_redirects_with_a_single_use_code() {
    let env = setup().await;
    let redirect = "https://localhost:8725/callback";
    assert!(env
        .fake
        .register_redirect_uri("http://127.0.0.1:8725/callback")
        .is_err());
    env.fake.register_redirect_uri(redirect).unwrap();
    let authorize = |redirect_uri: &str| {
        let url = format!(
            "{}?client_id={}&redirect_uri={}&response_type=code&scope=boards:read,pins:write&state=st-1",
            env.fake.authorize_url(),
            env.fake.client_id(),
            redirect_uri
        );
        async move { finish(http().get(url).send().await.unwrap()).await }
    };
    let r = authorize("https://elsewhere.test/cb").await;
    assert_eq!(r.status, 400, "unregistered redirect");
    let r = authorize(redirect).await;
    assert_eq!(r.status, 302);
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!("{redirect}?code=")),
        "{location}"
    );
    assert!(location.ends_with("&state=st-1"), "{location}");
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let id = env.fake.client_id();
    let secret = env.fake.client_secret();
    let grant = |redirect_uri: &'static str| {
        let code = code.clone();
        let (id, secret) = (id.clone(), secret.clone());
        let env = &env;
        async move {
            env.token_grant(
                Some((&id, &secret)),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect_uri),
                ],
            )
            .await
        }
    };
    let r = grant("https://localhost:8725/callback").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response_type"], "authorization_code");
    assert_eq!(r.json["scope"], "boards:read,pins:write");
    assert!(r.json["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("pinr_"));
    let r = grant("https://localhost:8725/callback").await;
    assert_eq!(r.status, 400, "a code is single-use");
    assert_eq!(r.json["error"], "invalid_grant");
    // With the switch, plain-http loopback redirects can be registered.
    env.fake.set_allow_http_redirects(true);
    env.fake
        .register_redirect_uri("http://127.0.0.1:8725/callback")
        .unwrap();
}

// ---- account, boards -----------------------------------------------------------------------------

#[tokio::test]
async fn bad_tokens_get_the_documented_401_body() {
    let env = setup().await;
    let r = finish(
        http()
            .get(env.url("/v5/user_account"))
            .bearer_auth("pina_nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json,
        json!({"code": 2, "message": "Authentication failed.", "status": "failure"})
    );
    let r = finish(http().get(env.url("/v5/boards")).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    env.fake.expire_access_tokens();
    assert_eq!(env.get("/v5/user_account").await.status, 401);
}

#[tokio::test]
async fn the_user_account_and_headers() {
    let env = setup().await;
    let r = env.get("/v5/user_account").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["username"], USER);
    assert_eq!(r.json["account_type"], "BUSINESS");
    assert!(r.json["id"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|b| b.is_ascii_digit()));
    assert!(r.header("x-pinterest-rid").is_some());
    assert_eq!(r.header("x-ratelimit-limit"), Some("100"));
    assert!(r.header("x-ratelimit-remaining").is_some());
    let reset: i64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        (1..=60).contains(&reset),
        "seconds until the reset: {reset}"
    );
}

#[tokio::test]
async fn boards_paginate_with_bookmarks() {
    let env = setup().await;
    for i in 0..29 {
        env.fake.add_board(USER, &format!("Board {i}"), "PUBLIC");
    }
    env.fake.add_board(USER, "Hidden", "SECRET");
    env.fake.add_board("bob", "Not alice's", "PUBLIC");
    let first = env.get("/v5/boards").await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.json["items"].as_array().unwrap().len(),
        25,
        "default page size"
    );
    let bookmark = first.json["bookmark"].as_str().unwrap().to_string();
    let second = env.get(&format!("/v5/boards?bookmark={bookmark}")).await;
    let items = second.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert!(second.json["bookmark"].is_null(), "null on the last page");
    assert!(items.iter().all(|b| b["owner"]["username"] == USER));
    assert_eq!(items.last().unwrap()["privacy"], "SECRET");
    let public = env.get("/v5/boards?page_size=250&privacy=PUBLIC").await;
    assert_eq!(public.json["items"].as_array().unwrap().len(), 30);
    for bad in ["0", "251"] {
        let r = env.get(&format!("/v5/boards?page_size={bad}")).await;
        assert_eq!(r.status, 400, "page_size={bad}");
    }
    assert_eq!(env.get("/v5/boards?bookmark=garbage!").await.status, 400);
}

// ---- pins ------------------------------------------------------------------------------------

#[tokio::test]
async fn an_image_pin_is_created_with_its_fields() {
    let env = setup().await;
    let r = env
        .post(
            "/v5/pins",
            json!({
                "board_id": env.board,
                "title": "Soup",
                "description": "Autumn soup",
                "link": "https://example.test/soup",
                "alt_text": "A bowl",
                "media_source": { "source_type": "image_base64", "content_type": "image/png", "data": b64(&png(1000, 1500)) },
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap();
    assert!(
        id.len() >= 18 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(r.json["board_id"], env.board.as_str());
    assert_eq!(r.json["media"]["media_type"], "image");
    let pins = env.fake.pins();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].title.as_deref(), Some("Soup"));
    assert_eq!(pins[0].alt_text.as_deref(), Some("A bowl"));
    assert_eq!(pins[0].link.as_deref(), Some("https://example.test/soup"));
    assert_eq!(pins[0].image_sizes, vec![(1000, 1500)]);
    assert_eq!(pins[0].source_type, "image_base64");
    let jpg = env
        .pin(json!({ "source_type": "image_base64", "content_type": "image/jpeg", "data": b64(&jpeg(640, 480)) }))
        .await;
    assert_eq!(jpg.status, 201, "{}", jpg.text);
    assert_eq!(env.fake.pins()[1].image_sizes, vec![(640, 480)]);
    let fetched = env.get(&format!("/v5/pins/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json["title"], "Soup");
}

#[tokio::test]
async fn pin_fields_are_validated() {
    let env = setup().await;
    let img = json!({ "source_type": "image_base64", "content_type": "image/png", "data": b64(&png(10, 10)) });
    let r = env
        .post(
            "/v5/pins",
            json!({ "board_id": "abc", "media_source": img }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("does not match '^\\d+$'"),
        "{}",
        r.text
    );
    let other = env.fake.add_board("bob", "Bob's", "PUBLIC");
    let r = env
        .post(
            "/v5/pins",
            json!({ "board_id": other, "media_source": img }),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(r.message().contains("Board not found"), "{}", r.text);
    for (field, len) in [("title", 101), ("description", 801), ("alt_text", 501)] {
        let r = env
            .post(
                "/v5/pins",
                json!({ "board_id": env.board, field: "x".repeat(len), "media_source": img }),
            )
            .await;
        assert_eq!(r.status, 400, "{field}");
    }
    let ok = env
        .post(
            "/v5/pins",
            json!({ "board_id": env.board, "description": "é".repeat(800), "media_source": img }),
        )
        .await;
    assert_eq!(ok.status, 201, "800 characters fit: {}", ok.text);
    let long_link = format!("https://example.test/{}", "a".repeat(2048));
    let r = env
        .post(
            "/v5/pins",
            json!({ "board_id": env.board, "link": long_link, "media_source": img }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        env.post("/v5/pins", json!({ "board_id": env.board }))
            .await
            .status,
        400
    );
    assert_eq!(env.fake.pins().len(), 1);
}

#[tokio::test]
async fn base64_sources_must_decode_to_the_declared_image() {
    let env = setup().await;
    let cases = [
        json!({ "source_type": "image_base64", "content_type": "image/gif", "data": b64(&png(5, 5)) }),
        json!({ "source_type": "image_base64", "content_type": "image/png", "data": "%%%not base64%%%" }),
        json!({ "source_type": "image_base64", "content_type": "image/png", "data": b64(b"just text") }),
        json!({ "source_type": "image_base64", "content_type": "image/jpeg", "data": b64(&png(5, 5)) }),
        json!({ "source_type": "image_base64", "content_type": "image/png" }),
        json!({ "source_type": "pin_url", "url": "https://pinterest.com/pin/1" }),
        json!({ "source_type": "gif_magic" }),
        json!({ "url": "https://x.test/a.png" }),
    ];
    for case in cases {
        let r = env.pin(case.clone()).await;
        assert_eq!(r.status, 400, "{case}: {}", r.text);
    }
    assert!(env.fake.pins().is_empty());
}

#[tokio::test]
async fn carousels_take_two_to_five_images_of_one_size() {
    let env = setup().await;
    let item = |w, h| json!({ "content_type": "image/png", "data": b64(&png(w, h)) });
    let r = env
        .pin(json!({ "source_type": "multiple_image_base64", "items": vec![item(800, 800); 6] }))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("constraint: maxItems=5"), "{}", r.text);
    let r = env
        .pin(json!({ "source_type": "multiple_image_base64", "items": vec![item(800, 800)] }))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("minItems=2"), "{}", r.text);
    let r = env
        .pin(json!({ "source_type": "multiple_image_base64", "items": [item(800, 800), item(800, 600)] }))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("same dimensions"), "{}", r.text);
    let r = env
        .pin(json!({ "source_type": "multiple_image_base64", "items": vec![item(800, 800); 3] }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["media"]["media_type"], "multiple_images");
    let urls = json!({ "source_type": "multiple_image_urls", "items": [{"url": "https://cdn.test/1.webp"}, {"url": "https://cdn.test/2.webp"}], "index": 0 });
    assert_eq!(env.pin(urls).await.status, 201);
    let pins = env.fake.pins();
    assert_eq!(pins.len(), 2);
    assert_eq!(pins[0].image_sizes, vec![(800, 800); 3]);
    assert_eq!(pins[1].image_urls.len(), 2);
}

#[tokio::test]
async fn image_urls_may_be_unreachable() {
    let env = setup().await;
    env.fake.set_unreachable_url("https://cdn.test/gone.png");
    let r = env
        .pin(json!({ "source_type": "image_url", "url": "https://cdn.test/gone.png" }))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("Unable to reach the URL"),
        "{}",
        r.text
    );
    let r = env
        .pin(json!({ "source_type": "image_url", "url": "https://cdn.test/ok.webp" }))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        env.fake.pins()[0].image_urls,
        vec!["https://cdn.test/ok.webp"]
    );
}

#[tokio::test]
async fn pins_list_newest_first_and_trial_hides_them_from_others() {
    let env = setup().await;
    let second_board = env.fake.add_board(USER, "Second", "PUBLIC");
    let img = json!({ "source_type": "image_base64", "content_type": "image/png", "data": b64(&png(4, 4)) });
    let mut ids = Vec::new();
    for i in 0..5 {
        let board = if i % 2 == 0 {
            &env.board
        } else {
            &second_board
        };
        let r = env
            .post(
                "/v5/pins",
                json!({ "board_id": board, "description": format!("pin {i}"), "media_source": img }),
            )
            .await;
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }
    let page = env.get("/v5/pins?page_size=2").await;
    let got: Vec<&str> = page.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[4].as_str(), ids[3].as_str()], "newest first");
    let bookmark = page.json["bookmark"].as_str().unwrap();
    let next = env
        .get(&format!("/v5/pins?page_size=2&bookmark={bookmark}"))
        .await;
    assert_eq!(next.json["items"][0]["id"], ids[2].as_str());
    let board = env.get(&format!("/v5/boards/{}/pins", env.board)).await;
    let descriptions: Vec<&str> = board.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["description"].as_str().unwrap())
        .collect();
    assert_eq!(descriptions, vec!["pin 4", "pin 2", "pin 0"]);
    // Standard access: another user sees the Pin; Trial: only its creator does.
    let bob = env.fake.issue_tokens("bob").access_token;
    let as_bob = |id: String| {
        let url = env.url(&format!("/v5/pins/{id}"));
        let bob = bob.clone();
        async move { finish(http().get(url).bearer_auth(bob).send().await.unwrap()).await }
    };
    assert_eq!(as_bob(ids[0].clone()).await.status, 200);
    env.fake.set_trial(true);
    assert_eq!(as_bob(ids[0].clone()).await.status, 404);
    assert_eq!(env.get(&format!("/v5/pins/{}", ids[0])).await.status, 200);
    let bob_board = env
        .get(&format!(
            "/v5/boards/{}/pins",
            env.fake.add_board("bob", "b", "PUBLIC")
        ))
        .await;
    assert_eq!(bob_board.status, 404);
}

#[tokio::test]
async fn missing_scopes_are_refused() {
    let env = setup().await;
    let read_only = env
        .fake
        .issue_tokens_with_scopes(USER, &["boards:read", "pins:read", "user_accounts:read"]);
    let r = finish(
        http()
            .post(env.url("/v5/pins"))
            .bearer_auth(&read_only.access_token)
            .json(&json!({ "board_id": env.board, "media_source": { "source_type": "image_url", "url": "https://x.test/a.jpg" } }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.message().contains("boards:write"), "{}", r.text);
}

// ---- video ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_video_goes_registered_processing_succeeded_then_pins() {
    let env = setup().await;
    let r = env
        .post("/v5/media", json!({ "media_type": "video" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["upload_url"], env.fake.upload_url().as_str());
    let params = r.json["upload_parameters"].as_object().unwrap().clone();
    for key in [
        "x-amz-date",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-algorithm",
        "key",
        "policy",
        "x-amz-credential",
        "Content-Type",
    ] {
        assert!(params.contains_key(key), "{key}");
    }
    let media_id = r.json["media_id"].as_str().unwrap().to_string();
    let path = format!("/v5/media/{media_id}");
    assert_eq!(env.get(&path).await.json["status"], "registered");
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let up = upload(env.fake.upload_url().as_str(), &pairs, &mp4(), false, None).await;
    assert_eq!(up.status, 204, "{}", up.text);
    assert!(up.header("etag").is_some());
    // Not ready yet: a Pin cannot use it.
    let early = env
        .pin(json!({ "source_type": "video_id", "media_id": media_id, "cover_image_key_frame_time": 1 }))
        .await;
    assert_eq!(early.status, 400, "{}", early.text);
    assert_eq!(env.get(&path).await.json["status"], "processing");
    assert_eq!(env.get(&path).await.json["status"], "succeeded");
    let no_cover = env
        .pin(json!({ "source_type": "video_id", "media_id": media_id }))
        .await;
    assert_eq!(no_cover.status, 400);
    assert!(no_cover
        .message()
        .contains("cover_image_url or cover_image_content_type"));
    let pin = env
        .pin(json!({ "source_type": "video_id", "media_id": media_id, "cover_image_key_frame_time": 1 }))
        .await;
    assert_eq!(pin.status, 201, "{}", pin.text);
    assert_eq!(pin.json["media"]["media_type"], "video");
    let stored = &env.fake.media()[0];
    assert_eq!(stored.uploaded_bytes, Some(mp4().len() as u64));
    assert_eq!(
        stored.upload_fields.last().map(String::as_str),
        Some("file")
    );
    assert_eq!(
        env.fake.pins()[0].media_id.as_deref(),
        Some(media_id.as_str())
    );
}

#[tokio::test]
async fn the_upload_form_is_an_s3_post_policy() {
    let env = setup().await;
    let r = env
        .post("/v5/media", json!({ "media_type": "video" }))
        .await;
    let url = r.json["upload_url"].as_str().unwrap().to_string();
    let all: Vec<(String, String)> = r.json["upload_parameters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    // The Pinterest token must not go to S3.
    let r1 = upload(&url, &all, &mp4(), false, Some(&env.token)).await;
    assert_eq!(r1.status, 400);
    assert!(
        r1.text.contains("<Code>InvalidArgument</Code>"),
        "{}",
        r1.text
    );
    // Every parameter is a policy condition.
    let without_signature: Vec<_> = all
        .iter()
        .filter(|(k, _)| k != "x-amz-signature")
        .cloned()
        .collect();
    let r2 = upload(&url, &without_signature, &mp4(), false, None).await;
    assert_eq!(r2.status, 403);
    assert!(r2.text.contains("AccessDenied"), "{}", r2.text);
    // Fields after the file are ignored, as S3 does.
    let r3 = upload(&url, &all, &mp4(), true, None).await;
    assert_eq!(r3.status, 400, "{}", r3.text);
    let without_key: Vec<_> = all.iter().filter(|(k, _)| k != "key").cloned().collect();
    assert_eq!(
        upload(&url, &without_key, &mp4(), false, None).await.status,
        400
    );
    assert_eq!(env.fake.media()[0].status, "registered");
    // The policy expires.
    env.fake.advance_time(chrono::Duration::hours(2));
    let late = upload(&url, &all, &mp4(), false, None).await;
    assert_eq!(late.status, 403);
    assert!(late.text.contains("Policy expired"), "{}", late.text);
}

#[tokio::test]
async fn media_plans_fail_or_never_finish_and_non_video_fails() {
    let env = setup().await;
    env.fake
        .set_media_plan(MediaPlan::FailAfterPolls { polls: 0 });
    let failing = env.register_and_upload(&mp4()).await;
    assert_eq!(
        env.get(&format!("/v5/media/{failing}")).await.json["status"],
        "failed"
    );
    env.fake.set_media_plan(MediaPlan::NeverFinishes);
    let stuck = env.register_and_upload(&mp4()).await;
    for _ in 0..5 {
        assert_eq!(
            env.get(&format!("/v5/media/{stuck}")).await.json["status"],
            "processing"
        );
    }
    assert!(env.fake.set_media_status(&stuck, "succeeded"));
    assert_eq!(
        env.get(&format!("/v5/media/{stuck}")).await.json["status"],
        "succeeded"
    );
    env.fake
        .set_media_plan(MediaPlan::SucceedAfterPolls { polls: 0 });
    let text = env.register_and_upload(b"this is not a video").await;
    assert_eq!(
        env.get(&format!("/v5/media/{text}")).await.json["status"],
        "failed"
    );
    // Another user's media is not found.
    let bob = env.fake.issue_tokens("bob").access_token;
    let r = finish(
        http()
            .get(env.url(&format!("/v5/media/{stuck}")))
            .bearer_auth(bob)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        env.post("/v5/media", json!({ "media_type": "image" }))
            .await
            .status,
        400
    );
}

// ---- limits and faults ---------------------------------------------------------------------------

#[tokio::test]
async fn exceeding_a_category_limit_answers_429_with_a_reset() {
    let env = setup().await;
    env.fake.set_limits(Limits {
        org_write: RateLimit {
            limit: 2,
            window_secs: 600,
        },
        ..Limits::standard()
    });
    let img = json!({ "source_type": "image_url", "url": "https://cdn.test/a.jpg" });
    assert_eq!(env.pin(img.clone()).await.status, 201);
    let second = env.pin(img.clone()).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.header("x-ratelimit-remaining"), Some("0"));
    let third = env.pin(img).await;
    assert_eq!(third.status, 429);
    assert!(!third.text.to_ascii_lowercase().contains("spam"));
    let reset: i64 = third.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((590..=600).contains(&reset), "{reset}");
    assert_eq!(env.fake.pins().len(), 2);
    // Reads count against org_read, not org_write.
    assert_eq!(env.get("/v5/boards").await.status, 200);
}

#[tokio::test]
async fn trial_access_has_a_daily_app_limit_and_epoch_resets_can_be_chosen() {
    let env = setup_with(PinterestConfig {
        trial: true,
        reset_form: ResetForm::Epoch,
        limits: Some(Limits {
            universal: RateLimit {
                limit: 3,
                window_secs: 86_400,
            },
            ..Limits::trial()
        }),
        ..PinterestConfig::default()
    })
    .await;
    let bob = env.fake.issue_tokens("bob").access_token;
    assert_eq!(env.get("/v5/user_account").await.status, 200);
    assert_eq!(env.get("/v5/boards").await.status, 200);
    // The Trial limit is per app: bob's request counts against the same 3.
    let r = finish(
        http()
            .get(env.url("/v5/user_account"))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let over = env.get("/v5/user_account").await;
    assert_eq!(over.status, 429);
    let reset: i64 = over.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > 1_700_000_000, "epoch seconds: {reset}");
}

#[tokio::test]
async fn faults_answer_rate_limits_spam_errors_and_drops() {
    let env = setup().await;
    let img = json!({ "source_type": "image_url", "url": "https://cdn.test/a.jpg" });
    env.fake
        .push_fault(Fault::rate_limited("POST /v5/pins", 1, 120));
    env.fake.push_fault(Fault::spam("POST /v5/pins", 1));
    env.fake.push_fault(Fault::status("/v5/pins", 1, 503));
    env.fake.push_fault(Fault::new(
        "POST /v5/pins",
        1,
        FaultKind::Html { status: 502 },
    ));
    let limited = env.pin(img.clone()).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("x-ratelimit-reset"), Some("120"));
    assert!(!limited.text.to_ascii_lowercase().contains("spam"));
    let spam = env.pin(img.clone()).await;
    assert_eq!(spam.status, 429);
    assert!(spam.json["message_detail"]
        .as_str()
        .unwrap()
        .contains("spam"));
    assert_eq!(env.pin(img.clone()).await.status, 503);
    let html = env.pin(img.clone()).await;
    assert_eq!(html.status, 502);
    assert!(html.text.starts_with("<html>"));
    assert!(
        env.fake.pins().is_empty(),
        "no fault above had a side effect"
    );

    // Accept, then drop: the Pin exists but no answer arrives.
    env.fake
        .push_fault(Fault::drop_after_commit("POST /v5/pins", 1));
    let dropped = http()
        .post(env.url("/v5/pins"))
        .bearer_auth(&env.token)
        .json(&json!({ "board_id": env.board, "media_source": img }))
        .send()
        .await;
    assert!(dropped.is_err(), "no answer");
    assert_eq!(env.fake.pins().len(), 1);
    env.fake
        .push_fault(Fault::new("GET /v5/boards*", 1, FaultKind::DropBefore));
    assert!(http()
        .get(env.url("/v5/boards"))
        .bearer_auth(&env.token)
        .send()
        .await
        .is_err());
    let recorded = env.fake.requests_to("POST", "/v5/pins");
    assert_eq!(
        recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 429, 503, 502, 0]
    );
    assert!(recorded.iter().all(|r| r.header("authorization").is_some()));
}

// ---- control API ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_control_api_drives_the_fake_over_http() {
    let fake = PinterestFake::start(PinterestConfig::default()).await;
    let base = fake.base_url();
    let c = http();
    let info = finish(c.get(format!("{base}/_fake/info")).send().await.unwrap()).await;
    assert_eq!(info.json["token_url"], fake.token_url().as_str());
    let tokens = finish(
        c.post(format!("{base}/_fake/tokens"))
            .json(&json!({ "username": "carol" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let access = tokens.json["access_token"].as_str().unwrap().to_string();
    let board = finish(
        c.post(format!("{base}/_fake/boards"))
            .json(&json!({ "username": "carol", "name": "Travel" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let board_id = board.json["id"].as_str().unwrap().to_string();
    let q = finish(
        c.post(format!("{base}/_fake/faults"))
            .json(
                &json!([{ "route": "POST /v5/pins", "kind": { "type": "status", "status": 500 } }]),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(q.json["queued"], 1);
    let pin = |c: &reqwest::Client| {
        c.post(format!("{base}/v5/pins"))
            .bearer_auth(&access)
            .json(&json!({ "board_id": board_id, "media_source": { "source_type": "image_url", "url": "https://cdn.test/x.jpg" } }))
            .send()
    };
    assert_eq!(pin(&c).await.unwrap().status(), 500);
    assert_eq!(pin(&c).await.unwrap().status(), 201);
    let pins = finish(c.get(format!("{base}/_fake/pins")).send().await.unwrap()).await;
    assert_eq!(pins.json.as_array().unwrap().len(), 1);
    let plan = finish(
        c.post(format!("{base}/_fake/media/plan"))
            .json(&json!({ "type": "never_finishes" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(plan.status, 200);
    let requests = finish(
        c.get(format!("{base}/_fake/requests"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        requests.json.as_array().unwrap().len(),
        2,
        "control calls are not recorded"
    );
    let revoke = finish(
        c.post(format!("{base}/_fake/revoke-tokens"))
            .json(&json!({ "username": "carol" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(revoke.status, 200);
    assert_eq!(pin(&c).await.unwrap().status(), 401);
    let unknown = finish(c.get(format!("{base}/_fake/nope")).send().await.unwrap()).await;
    assert_eq!(unknown.status, 404);
}
