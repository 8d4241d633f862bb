//! Wire-level tests of the Instagram fake, through a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use outpost_testkit::instagram::{
    jpeg, Fault, FaultKind, InstagramConfig, InstagramFake, Login, MediaHost, MediaKind,
    Processing, TokenKind, TokenShape, GRAPH_VERSION, LONG_LIVED_SECS,
};
use outpost_testkit::media::{Mp4, Mp4Track};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

struct Resp {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn code(&self) -> (i64, i64) {
        (
            self.json["error"]["code"].as_i64().unwrap_or(0),
            self.json["error"]["error_subcode"].as_i64().unwrap_or(0),
        )
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

async fn get(fake: &InstagramFake, path: &str, token: &str, query: &[(&str, &str)]) -> Resp {
    let url = format!("{}/{GRAPH_VERSION}/{}", fake.base_url(), path);
    finish(
        http()
            .get(url)
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post(fake: &InstagramFake, path: &str, token: &str, form: &[(&str, &str)]) -> Resp {
    let url = format!("{}/{GRAPH_VERSION}/{}", fake.base_url(), path);
    finish(
        http()
            .post(url)
            .bearer_auth(token)
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn clip() -> Vec<u8> {
    let mut c = Mp4::new(
        5,
        vec![
            Mp4Track::video(b"avc1", 1080, 1920, 5, 30),
            Mp4Track::audio(5),
        ],
    );
    c.mdat_len = 20_000;
    c.build()
}

struct Env {
    fake: InstagramFake,
    host: MediaHost,
    user: String,
    token: String,
}

async fn env(login: Login) -> Env {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    let host = MediaHost::start().await;
    let kind = match login {
        Login::Instagram => TokenKind::InstagramLong,
        Login::Facebook => TokenKind::FacebookLong,
    };
    let issued = fake.issue_token("alice", kind);
    Env {
        fake,
        host,
        user: issued.user_id,
        token: issued.access_token,
    }
}

impl Env {
    async fn image_container(&self, name: &str) -> String {
        let url = self.host.put(name, &jpeg(1080, 1080, 3000), "image/jpeg");
        let r = post(
            &self.fake,
            &format!("{}/media", self.user),
            &self.token,
            &[("image_url", &url), ("caption", "hello #one @bob")],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json["id"].as_str().unwrap().to_string()
    }

    async fn status(&self, id: &str) -> (String, String) {
        let r = get(
            &self.fake,
            id,
            &self.token,
            &[("fields", "status_code,status")],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
        (
            r.json["status_code"].as_str().unwrap_or_default().into(),
            r.json["status"].as_str().unwrap_or_default().into(),
        )
    }

    async fn publish(&self, id: &str) -> Resp {
        post(
            &self.fake,
            &format!("{}/media_publish", self.user),
            &self.token,
            &[("creation_id", id)],
        )
        .await
    }
}

#[tokio::test]
async fn who_am_i_on_both_setups() {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    let ig = fake.issue_token("alice", TokenKind::InstagramLong);
    let r = get(
        &fake,
        "me",
        &ig.access_token,
        &[("fields", "user_id,username,name")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["user_id"], ig.user_id.as_str());
    assert_eq!(r.json["username"], "alice");
    assert_ne!(r.json["id"], ig.user_id.as_str(), "id is the app-scoped id");
    // Ids are numeric strings above 2^53.
    assert!(ig.user_id.parse::<u64>().unwrap() > (1u64 << 53));

    let fb = fake.issue_token("bob", TokenKind::FacebookLong);
    let r = get(
        &fake,
        "me/accounts",
        &fb.access_token,
        &[(
            "fields",
            "id,name,access_token,instagram_business_account{id,username}",
        )],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let page = &r.json["data"][0];
    assert_eq!(
        page["instagram_business_account"]["id"],
        fb.user_id.as_str()
    );
    assert_eq!(page["instagram_business_account"]["username"], "bob");
    let page_token = page["access_token"].as_str().unwrap();
    assert!(page_token.starts_with("EAA"));
    let r = get(
        &fake,
        "me",
        page_token,
        &[("fields", "id,name,instagram_business_account{id,username}")],
    )
    .await;
    assert_eq!(r.json["instagram_business_account"]["username"], "bob");
    // An Instagram token has no Pages; a bad token is 190.
    let r = get(&fake, "me/accounts", &ig.access_token, &[]).await;
    assert_eq!(r.code().0, 100);
    let r = get(&fake, "me", "IGAAnotatoken", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code().0, 190);
    assert_eq!(
        r.json["error"]["message"],
        "Invalid OAuth access token - Cannot parse access token"
    );
    assert_eq!(r.json["error"]["type"], "OAuthException");
}

#[tokio::test]
async fn the_code_flow_appends_a_hash_and_answers_in_both_shapes() {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    fake.add_account("carol", Login::Instagram);
    let redirect = "https://relay.example/oauth-relay.html";
    assert!(fake
        .register_redirect_uri("http://127.0.0.1:9/callback")
        .is_err());
    fake.register_redirect_uri(redirect).unwrap();
    let authorize = |scope: &'static str| {
        let fake = fake.clone();
        async move {
            http()
                .get(fake.authorize_url())
                .query(&[
                    ("client_id", fake.client_id().as_str()),
                    ("redirect_uri", redirect),
                    ("response_type", "code"),
                    ("scope", scope),
                    ("state", "st4te"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = authorize("instagram_business_basic,instagram_business_content_publish").await;
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("#_"), "{location}");
    let url = reqwest::Url::parse(location.trim_end_matches("#_")).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st4te");
    let code = q["code"].clone();
    let exchange = |code: String, secret: String| {
        let fake = fake.clone();
        async move {
            finish(
                http()
                    .post(fake.token_url())
                    .form(&[
                        ("client_id", fake.client_id()),
                        ("client_secret", secret),
                        ("grant_type", "authorization_code".into()),
                        ("redirect_uri", redirect.into()),
                        ("code", code),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let wrong = exchange(code.clone(), "nope".into()).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json["error_type"], "OAuthException");
    // Each code works once: a new consent for the next exchange.
    let r = authorize("instagram_business_basic").await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(location.trim_end_matches("#_")).unwrap();
    let code: String = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into();
    let ok = exchange(code, fake.client_secret()).await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let entry = &ok.json["data"][0];
    assert!(entry["access_token"].as_str().unwrap().starts_with("IGAA"));
    assert_eq!(entry["permissions"], "instagram_business_basic");
    // The flat shape.
    fake.set_token_shape(TokenShape::Flat);
    let r = authorize("instagram_business_basic").await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(location.trim_end_matches("#_")).unwrap();
    let code: String = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into();
    let ok = exchange(code, fake.client_secret()).await;
    assert!(ok.json["access_token"].is_string(), "{}", ok.json);
    // A deprecated scope goes back to the redirect as an error.
    let r = authorize("instagram_basic").await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.contains("error=invalid_scope") && location.contains("instagram_basic"),
        "{location}"
    );
}

#[tokio::test]
async fn long_lived_exchange_and_the_24_hour_refresh_rule() {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    let short = fake.issue_token("dave", TokenKind::InstagramShort);
    assert_eq!(short.expires_in, 3600);
    let exchange = |token: String, secret: String| {
        let fake = fake.clone();
        async move {
            finish(
                http()
                    .get(format!("{}/access_token", fake.base_url()))
                    .query(&[
                        ("grant_type", "ig_exchange_token".to_string()),
                        ("client_secret", secret),
                        ("access_token", token),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let bad = exchange(short.access_token.clone(), "wrong".into()).await;
    assert_eq!(bad.status, 400);
    let long = exchange(short.access_token.clone(), fake.client_secret()).await;
    assert_eq!(long.status, 200, "{}", long.json);
    assert_eq!(long.json["token_type"], "bearer");
    assert_eq!(long.json["expires_in"], LONG_LIVED_SECS);
    let long_token = long.json["access_token"].as_str().unwrap().to_string();
    let refresh = |token: String| {
        let fake = fake.clone();
        async move {
            finish(
                http()
                    .get(format!("{}/refresh_access_token", fake.base_url()))
                    .query(&[
                        ("grant_type", "ig_refresh_token".to_string()),
                        ("access_token", token),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let young = refresh(long_token.clone()).await;
    assert_eq!(young.code().0, 190);
    assert!(young.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at least 24 hours old"));
    fake.age_token(&long_token, chrono::Duration::hours(25));
    let fresh = refresh(long_token.clone()).await;
    assert_eq!(fresh.status, 200, "{}", fresh.json);
    let new_token = fresh.json["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_token, long_token);
    assert!(fake.token_is_live(&new_token));
    // Expired tokens cannot be refreshed.
    fake.age_token(&new_token, chrono::Duration::hours(30));
    fake.expire_token(&new_token);
    let expired = refresh(new_token).await;
    assert_eq!(expired.code(), (190, 463));
    assert!(expired.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Session has expired"));

    // Facebook: fb_exchange_token with the app id and secret.
    let fb = fake.issue_token("erin", TokenKind::FacebookShort);
    let r = finish(
        http()
            .get(format!(
                "{}/{GRAPH_VERSION}/oauth/access_token",
                fake.base_url()
            ))
            .query(&[
                ("grant_type", "fb_exchange_token".to_string()),
                ("client_id", fake.client_id()),
                ("client_secret", fake.client_secret()),
                ("fb_exchange_token", fb.access_token.clone()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json["access_token"].as_str().unwrap().starts_with("EAA"));
}

#[tokio::test]
async fn an_image_container_is_fetched_finished_published_and_commented() {
    let e = env(Login::Instagram).await;
    let id = e.image_container("a.jpg").await;
    assert_eq!(e.host.fetches("a.jpg"), 1, "the fake fetched the image");
    assert!(id.parse::<u64>().unwrap() > (1u64 << 53));
    let (code, status) = e.status(&id).await;
    assert_eq!(code, "FINISHED");
    assert!(status.starts_with("Finished"));
    let r = e.publish(&id).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let media = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(e.status(&id).await.0, "PUBLISHED");
    // A second publish of the same container is refused.
    let again = e.publish(&id).await;
    assert_eq!(again.status, 400);
    let r = get(
        &e.fake,
        &media,
        &e.token,
        &[(
            "fields",
            "permalink,media_type,media_product_type,caption,timestamp",
        )],
    )
    .await;
    assert!(r.json["permalink"]
        .as_str()
        .unwrap()
        .starts_with("https://www.instagram.com/p/"));
    assert_eq!(r.json["media_type"], "IMAGE");
    assert_eq!(r.json["caption"], "hello #one @bob");
    assert!(r.json["timestamp"].as_str().unwrap().ends_with("+0000"));
    let c = post(
        &e.fake,
        &format!("{media}/comments"),
        &e.token,
        &[("message", "first!")],
    )
    .await;
    assert_eq!(c.status, 200, "{}", c.json);
    let published = e.fake.published_by_api();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].comments[0].message, "first!");
    let list = get(
        &e.fake,
        &format!("{}/media", e.user),
        &e.token,
        &[("fields", "id,caption,timestamp")],
    )
    .await;
    assert_eq!(list.json["data"][0]["id"], media.as_str());
    // BUC usage on every answer.
    let buc: Value =
        serde_json::from_str(list.headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    assert_eq!(buc[&e.user][0]["type"], "instagram");
}

#[tokio::test]
async fn bad_media_is_refused_the_way_instagram_refuses_it() {
    let e = env(Login::Instagram).await;
    let create = |params: Vec<(&'static str, String)>| {
        let (fake, user, token) = (e.fake.clone(), e.user.clone(), e.token.clone());
        async move {
            let form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(&fake, &format!("{user}/media"), &token, &form).await
        }
    };
    let missing = format!("{}/gone.jpg", e.host.base_url());
    assert_eq!(
        create(vec![("image_url", missing)]).await.code(),
        (9004, 2207052)
    );
    let png = e.host.put("a.png", b"\x89PNG\r\n\x1a\nrest", "image/png");
    assert_eq!(
        create(vec![("image_url", png)]).await.code(),
        (36001, 2207005)
    );
    let big = e
        .host
        .put("big.jpg", &jpeg(1080, 1080, 9 * 1024 * 1024), "image/jpeg");
    assert_eq!(
        create(vec![("image_url", big)]).await.code(),
        (36000, 2207004)
    );
    let unreachable = "https://cdn.example/never.jpg".to_string();
    e.fake.set_unreachable_url(&unreachable);
    assert_eq!(
        create(vec![("image_url", unreachable)]).await.code(),
        (9004, 2207052)
    );
    // A single feed video must be a Reel.
    let video = e.host.put("v.mp4", &clip(), "video/mp4");
    assert_eq!(
        create(vec![
            ("media_type", "VIDEO".into()),
            ("video_url", video.clone())
        ])
        .await
        .code(),
        (100, 2207023)
    );
    assert_eq!(
        create(vec![("media_type", "NOPE".into()), ("video_url", video)])
            .await
            .code(),
        (100, 2207023)
    );
    assert_eq!(
        create(vec![
            (
                "image_url",
                e.host.put("c.jpg", &jpeg(1000, 1000, 1000), "image/jpeg")
            ),
            ("caption", "x".repeat(2201)),
        ])
        .await
        .code(),
        (36004, 2207010)
    );
    // Resumable upload is for Facebook Login only.
    let r = create(vec![
        ("media_type", "REELS".into()),
        ("upload_type", "resumable".into()),
    ])
    .await;
    assert_eq!(r.code().0, 100);
    assert!(e.fake.containers().is_empty());
}

#[tokio::test]
async fn carousels_need_two_to_ten_finished_items() {
    let e = env(Login::Instagram).await;
    let item = |name: &'static str| {
        let url = e.host.put(name, &jpeg(1080, 1080, 2000), "image/jpeg");
        let (fake, user, token) = (e.fake.clone(), e.user.clone(), e.token.clone());
        async move {
            let r = post(
                &fake,
                &format!("{user}/media"),
                &token,
                &[("image_url", url.as_str()), ("is_carousel_item", "true")],
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.json);
            r.json["id"].as_str().unwrap().to_string()
        }
    };
    let a = item("1.jpg").await;
    let carousel = |children: String| {
        let (fake, user, token) = (e.fake.clone(), e.user.clone(), e.token.clone());
        async move {
            post(
                &fake,
                &format!("{user}/media"),
                &token,
                &[
                    ("media_type", "CAROUSEL"),
                    ("children", children.as_str()),
                    ("caption", "two"),
                ],
            )
            .await
        }
    };
    assert_eq!(carousel(a.clone()).await.code(), (100, 2207028));
    // A video child still processing blocks the carousel.
    let video = e.host.put("v.mp4", &clip(), "video/mp4");
    let v = post(
        &e.fake,
        &format!("{}/media", e.user),
        &e.token,
        &[
            ("media_type", "VIDEO"),
            ("is_carousel_item", "true"),
            ("video_url", video.as_str()),
        ],
    )
    .await;
    let v = v.json["id"].as_str().unwrap().to_string();
    assert_eq!(carousel(format!("{a},{v}")).await.code(), (9007, 2207027));
    assert_eq!(e.status(&v).await.0, "IN_PROGRESS");
    assert_eq!(e.status(&v).await.0, "FINISHED");
    let parent = carousel(format!("{a},{v}")).await;
    assert_eq!(parent.status, 200, "{}", parent.json);
    let parent = parent.json["id"].as_str().unwrap().to_string();
    // Children cannot be published on their own.
    assert_eq!(e.publish(&a).await.status, 400);
    let r = e.publish(&parent).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let published = e.fake.published_by_api();
    assert_eq!(published[0].media_type, "CAROUSEL_ALBUM");
    assert_eq!(published[0].children, vec![a, v]);
    assert_eq!(published[0].video_urls.len(), 1);
}

#[tokio::test]
async fn the_state_machine_is_driven_by_the_test() {
    let e = env(Login::Instagram).await;
    e.fake
        .set_processing(MediaKind::Image, Processing::FinishAfter { polls: 2 });
    let id = e.image_container("slow.jpg").await;
    // Publishing before FINISHED: 9007/2207027.
    assert_eq!(e.publish(&id).await.code(), (9007, 2207027));
    assert_eq!(e.status(&id).await.0, "IN_PROGRESS");
    assert_eq!(e.status(&id).await.0, "IN_PROGRESS");
    assert_eq!(e.status(&id).await.0, "FINISHED");

    e.fake.set_processing(
        MediaKind::Image,
        Processing::error(1, "Error: Media upload has failed with error code 2207001"),
    );
    let bad = e.image_container("bad.jpg").await;
    assert_eq!(e.status(&bad).await.0, "IN_PROGRESS");
    let (code, status) = e.status(&bad).await;
    assert_eq!(code, "ERROR");
    assert!(status.contains("2207001"), "{status}");

    e.fake.set_processing(MediaKind::Image, Processing::Never);
    let stuck = e.image_container("stuck.jpg").await;
    for _ in 0..3 {
        assert_eq!(e.status(&stuck).await.0, "IN_PROGRESS");
    }
    assert!(e
        .fake
        .set_container_processing(&stuck, Processing::finished()));
    assert_eq!(e.status(&stuck).await.0, "FINISHED");
    // 24 h later every unpublished container is EXPIRED, and cannot be published.
    e.fake.advance_time(chrono::Duration::hours(25));
    assert_eq!(e.status(&stuck).await.0, "EXPIRED");
    assert_eq!(e.publish(&stuck).await.code(), (-2, 2207020));
    assert_eq!(e.status(&id).await.0, "EXPIRED");
}

#[tokio::test]
async fn the_publishing_limit_is_reported_and_enforced() {
    let e = env(Login::Instagram).await;
    e.fake.set_quota_total(2);
    let now = e.fake.now();
    e.fake.seed_published(
        "alice",
        &[
            now - chrono::Duration::hours(30),
            now - chrono::Duration::hours(3),
        ],
    );
    let limit = get(
        &e.fake,
        &format!("{}/content_publishing_limit", e.user),
        &e.token,
        &[("fields", "quota_usage,config")],
    )
    .await;
    assert_eq!(
        limit.json,
        json!({"data":[{"quota_usage":1,"config":{"quota_total":2,"quota_duration":86400}}]})
    );
    let first = e.image_container("q1.jpg").await;
    assert_eq!(e.publish(&first).await.status, 200);
    let second = e.image_container("q2.jpg").await;
    let refused = e.publish(&second).await;
    assert_eq!(refused.code(), (9, 2207042));
    assert_eq!(e.fake.quota_usage("alice"), 2);
    // `since` narrows the count.
    let since = (now - chrono::Duration::hours(1)).timestamp().to_string();
    let limit = get(
        &e.fake,
        &format!("{}/content_publishing_limit", e.user),
        &e.token,
        &[("fields", "quota_usage"), ("since", since.as_str())],
    )
    .await;
    assert_eq!(limit.json["data"][0]["quota_usage"], 1);
    // The window rolls: 22 h later the post from 3 h ago has left it.
    e.fake.advance_time(chrono::Duration::hours(22));
    let third = e.image_container("q3.jpg").await;
    assert_eq!(e.publish(&third).await.status, 200);
}

#[tokio::test]
async fn resumable_upload_in_pieces_then_processing() {
    let e = env(Login::Facebook).await;
    e.fake
        .set_processing(MediaKind::Video, Processing::FinishAfter { polls: 1 });
    let r = post(
        &e.fake,
        &format!("{}/media", e.user),
        &e.token,
        &[
            ("media_type", "REELS"),
            ("upload_type", "resumable"),
            ("caption", "a reel"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    let uri = r.json["uri"].as_str().unwrap().to_string();
    assert!(uri.ends_with(&format!("/ig-api-upload/{GRAPH_VERSION}/{id}")));
    let bytes = clip();
    let send = |offset: usize, end: usize, auth: String| {
        let uri = uri.clone();
        let body = bytes[offset..end].to_vec();
        let size = bytes.len();
        async move {
            finish(
                http()
                    .post(uri)
                    .header("Authorization", auth)
                    .header("offset", offset.to_string())
                    .header("file_size", size.to_string())
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let oauth = format!("OAuth {}", e.token);
    // Bearer is not how rupload authenticates.
    let r = send(0, 10, format!("Bearer {}", e.token)).await;
    assert_eq!(r.status, 401);
    let half = bytes.len() / 2;
    let r = send(0, half, oauth.clone()).await;
    assert_eq!(r.json["success"], true);
    assert_eq!(e.status(&id).await.0, "IN_PROGRESS", "still uploading");
    // A gap is refused; an overlap (a resend after a lost answer) is fine.
    let r = send(half + 10, bytes.len(), oauth.clone()).await;
    assert_eq!(r.json["debug_info"]["type"], "ProcessingFailedError");
    let r = send(half - 100, bytes.len(), oauth.clone()).await;
    assert_eq!(r.json["success"], true, "{}", r.json);
    assert!(r.json["message"]
        .as_str()
        .unwrap()
        .starts_with("Upload successful"));
    let c = e.fake.container(&id).unwrap();
    assert_eq!(c.received, bytes.len() as u64);
    assert_eq!(c.uploaded_via.as_deref(), Some("bytes"));
    assert_eq!(e.status(&id).await.0, "IN_PROGRESS");
    assert_eq!(e.status(&id).await.0, "FINISHED");
    assert_eq!(e.publish(&id).await.status, 200);
    let published = e.fake.published_by_api();
    assert_eq!(published[0].media_product_type, "REELS");
    assert!(published[0].permalink.contains("/reel/"));

    // Instagram Login tokens are refused by rupload.
    let ig = e.fake.issue_token("ivan", TokenKind::InstagramLong);
    let r = send(0, 10, format!("OAuth {}", ig.access_token)).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn throttling_faults_and_a_dropped_publish() {
    let e = env(Login::Instagram).await;
    e.fake.throttle("alice", 7);
    let r = get(&e.fake, "me", &e.token, &[("fields", "username")]).await;
    assert_eq!(r.code().0, 80002);
    let buc: Value =
        serde_json::from_str(r.headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    assert_eq!(buc[&e.user][0]["estimated_time_to_regain_access"], 7);
    assert_eq!(buc[&e.user][0]["call_count"], 100);
    e.fake.throttle("alice", 0);

    e.fake
        .push_fault(Fault::graph("POST */media", 1, -2, Some(2207003)));
    let url = e.host.put("f.jpg", &jpeg(1080, 1080, 1000), "image/jpeg");
    let r = post(
        &e.fake,
        &format!("{}/media", e.user),
        &e.token,
        &[("image_url", url.as_str())],
    )
    .await;
    assert_eq!(r.code(), (-2, 2207003));
    assert!(e.fake.containers().is_empty(), "no side effect");

    let id = e.image_container("d.jpg").await;
    e.fake
        .push_fault(Fault::drop_after_commit("POST */media_publish", 1));
    let dropped = http()
        .post(format!(
            "{}/{GRAPH_VERSION}/{}/media_publish",
            e.fake.base_url(),
            e.user
        ))
        .bearer_auth(&e.token)
        .form(&[("creation_id", id.as_str())])
        .send()
        .await;
    assert!(dropped.is_err(), "the connection was closed unanswered");
    assert_eq!(e.fake.published_by_api().len(), 1, "but the post went out");
    let recorded = e.fake.requests_to("POST", "*/media_publish");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, 0);
    assert_eq!(
        recorded[0].param("creation_id").as_deref(),
        Some(id.as_str())
    );

    e.fake
        .push_fault(Fault::new("GET /me", 1, FaultKind::Html { status: 502 }));
    let r = http()
        .get(format!("{}/{GRAPH_VERSION}/me", e.fake.base_url()))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
}

#[tokio::test]
async fn the_control_api_drives_the_fake_from_another_process() {
    let fake = InstagramFake::start(InstagramConfig::default()).await;
    let base = fake.base_url();
    let c = http();
    let info: Value = c
        .get(format!("{base}/_fake/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["client_id"], fake.client_id().as_str());
    let issued: Value = c
        .post(format!("{base}/_fake/tokens"))
        .json(&json!({"username": "zoe", "kind": "facebook_long"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap().to_string();
    assert_eq!(fake.account("zoe").unwrap().login, Login::Facebook);
    let ok = |r: reqwest::Response| {
        assert_eq!(r.status().as_u16(), 200);
    };
    ok(c.post(format!("{base}/_fake/processing"))
        .json(&json!({"kind": "video", "processing": {"type": "never"}}))
        .send()
        .await
        .unwrap());
    ok(c.post(format!("{base}/_fake/quota"))
        .json(&json!({"total": 3}))
        .send()
        .await
        .unwrap());
    ok(c.post(format!("{base}/_fake/faults"))
        .json(&json!([{"route": "GET /me", "kind": {"type": "status", "status": 503}}]))
        .send()
        .await
        .unwrap());
    let r = get(&fake, "me", &token, &[]).await;
    assert_eq!(r.status, 503);
    ok(c.post(format!("{base}/_fake/seed-published"))
        .json(&json!({"username": "zoe", "at": [chrono::Utc::now().to_rfc3339()]}))
        .send()
        .await
        .unwrap());
    assert_eq!(fake.quota_usage("zoe"), 1);
    ok(c.post(format!("{base}/_fake/expire-token"))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap());
    assert_eq!(get(&fake, "me", &token, &[]).await.code(), (190, 463));
    ok(c.post(format!("{base}/_fake/advance-time"))
        .json(&json!({"secs": 60}))
        .send()
        .await
        .unwrap());
    let requests: Value = c
        .get(format!("{base}/_fake/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(requests.as_array().unwrap().len(), 2);
    assert_eq!(requests[0]["endpoint"], "/me");
    let published: Value = c
        .get(format!("{base}/_fake/published"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(published.as_array().unwrap().len(), 1);
    let r = c
        .post(format!("{base}/_fake/throttle"))
        .json(&json!({"username": "nobody", "minutes": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn containers_are_capped_per_rolling_24_hours() {
    let fake = InstagramFake::start(InstagramConfig {
        container_cap: 2,
        ..InstagramConfig::default()
    })
    .await;
    let host = MediaHost::start().await;
    let issued = fake.issue_token("alice", TokenKind::InstagramLong);
    let url = host.put("a.jpg", &jpeg(1080, 1080, 1000), "image/jpeg");
    let create = || {
        let (fake, user, token, url) = (
            fake.clone(),
            issued.user_id.clone(),
            issued.access_token.clone(),
            url.clone(),
        );
        async move {
            post(
                &fake,
                &format!("{user}/media"),
                &token,
                &[("image_url", url.as_str())],
            )
            .await
        }
    };
    assert_eq!(create().await.status, 200);
    assert_eq!(create().await.status, 200);
    assert_eq!(create().await.code().0, 4);
    fake.advance_time(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    assert_eq!(create().await.status, 200);
}
