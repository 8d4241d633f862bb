//! Wire-level tests of the LinkedIn fake, through a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use outpost_testkit::linkedin::{
    Fault, FaultKind, LinkedInConfig, LinkedInFake, VideoOutcome, DEFAULT_VIDEO_PART_SIZE,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const VERSION: &str = "202603";
const MEMBER: [&str; 3] = ["openid", "profile", "w_member_social"];

struct Resp {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
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
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().await.unwrap(),
    }
}

struct Env {
    fake: LinkedInFake,
    sub: String,
    token: String,
}

impl Env {
    fn author(&self) -> String {
        format!("urn:li:person:{}", self.sub)
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }
    /// A versioned Rest.li call with the member's token.
    async fn rest(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        self.rest_as(&self.token, method, path, body).await
    }
    async fn rest_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut req = http()
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("LinkedIn-Version", VERSION)
            .header("X-Restli-Protocol-Version", "2.0.0");
        if let Some(b) = body {
            req = req.json(&b);
        }
        finish(req.send().await.unwrap()).await
    }
    fn post_body(&self, commentary: &str) -> Value {
        json!({
            "author": self.author(),
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        })
    }
    async fn create(&self, commentary: &str) -> Resp {
        self.rest(
            reqwest::Method::POST,
            "/rest/posts",
            Some(self.post_body(commentary)),
        )
        .await
    }
}

async fn setup_with(config: LinkedInConfig) -> Env {
    let fake = LinkedInFake::start(config).await;
    let sub = fake.add_member("Ada Lovelace");
    let token = fake.issue_tokens(&sub, &MEMBER, false).access_token;
    Env { fake, sub, token }
}

async fn setup() -> Env {
    setup_with(LinkedInConfig::default()).await
}

#[tokio::test]
async fn rest_calls_need_both_headers_and_an_active_version() {
    let env = setup().await;
    let body = env.post_body("hello");
    let send = |version: Option<&str>, protocol: Option<&str>| {
        let mut req = http()
            .post(env.url("/rest/posts"))
            .bearer_auth(&env.token)
            .json(&body);
        if let Some(v) = version {
            req = req.header("LinkedIn-Version", v);
        }
        if let Some(p) = protocol {
            req = req.header("X-Restli-Protocol-Version", p);
        }
        async move { finish(req.send().await.unwrap()).await }
    };
    let r = send(None, Some("2.0.0")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "VERSION_MISSING");
    let r = send(Some("202301"), Some("2.0.0")).await;
    assert_eq!(r.status, 426, "{}", r.text);
    assert_eq!(r.json()["code"], "NONEXISTENT_VERSION");
    let r = send(Some("202613"), Some("2.0.0")).await;
    assert_eq!(r.status, 426, "not a month");
    let r = send(Some(VERSION), None).await;
    assert_eq!(r.status, 400);
    let r = send(Some(VERSION), Some("1.0.0")).await;
    assert_eq!(r.status, 400);
    assert!(env.fake.posts().is_empty(), "nothing was created");

    env.fake.set_sunset_versions(&[VERSION]);
    assert_eq!(send(Some(VERSION), Some("2.0.0")).await.status, 426);
    env.fake.set_sunset_versions(&[]);
    let r = send(Some(VERSION), Some("2.0.0")).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn a_post_is_201_with_an_empty_body_and_the_urn_in_x_restli_id() {
    let env = setup().await;
    let r = env.create("Hello, LinkedIn.").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.text, "", "the body is empty");
    let urn = r.header("x-restli-id").unwrap().to_string();
    assert!(urn.starts_with("urn:li:share:"), "{urn}");
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].urn, urn);
    assert_eq!(posts[0].text, "Hello, LinkedIn.");
    assert_eq!(posts[0].author, env.author());

    // Find-by-author lists it back (newest first), commentary as stored.
    env.create("Second").await;
    let r = env
        .rest(
            reqwest::Method::GET,
            &format!(
                "/rest/posts?author={}&q=author&count=10",
                env.author().replace(':', "%3A")
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let elements = r.json()["elements"].as_array().cloned().unwrap();
    assert_eq!(elements.len(), 2);
    assert_eq!(elements[0]["commentary"], "Second");
    assert_eq!(elements[1]["id"], urn.as_str());
    assert!(elements[1]["createdAt"].as_i64().unwrap() > 0);
    // And by URN.
    let r = env
        .rest(
            reqwest::Method::GET,
            &format!("/rest/posts/{}", urn.replace(':', "%3A")),
            None,
        )
        .await;
    assert_eq!(r.json()["commentary"], "Hello, LinkedIn.");
}

#[tokio::test]
async fn an_unescaped_reserved_character_silently_truncates_the_post() {
    let env = setup().await;
    let r = env.create("Launch day (finally) is here").await;
    assert_eq!(r.status, 201, "LinkedIn accepts it silently");
    let r2 = env
        .create(r"Launch day \(finally\) is here, \#1 \@ \_x\_ \~ \\ \| \{\} \[\] \<\> \*")
        .await;
    assert_eq!(r2.status, 201);
    let r3 = env.create("Shipping #rust today").await;
    assert_eq!(r3.status, 201);
    let posts = env.fake.posts();
    assert_eq!(posts[0].text, "Launch day ");
    assert!(posts[0].truncated);
    assert_eq!(posts[0].commentary, "Launch day ");
    assert_eq!(
        posts[1].text,
        r"Launch day (finally) is here, #1 @ _x_ ~ \ | {} [] <> *"
    );
    assert!(!posts[1].truncated);
    assert_eq!(posts[2].text, "Shipping #rust today");
    assert_eq!(posts[2].hashtags, vec!["rust"]);
}

#[tokio::test]
async fn identical_commentary_is_a_duplicate_with_the_documented_body() {
    let env = setup().await;
    let first = env.create("Same words").await;
    let urn = first.header("x-restli-id").unwrap().to_string();
    let again = env.create("Same words").await;
    assert_eq!(again.status, 422);
    let body = again.json();
    assert_eq!(body["status"], 422);
    assert_eq!(
        body["errorDetailType"],
        "com.linkedin.common.error.BadRequest"
    );
    assert_eq!(
        body["message"],
        format!("com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {urn}")
    );
    assert_eq!(
        body["errorDetails"]["inputErrors"][0]["code"],
        "DUPLICATE_POST"
    );
    assert_eq!(env.fake.posts().len(), 1);
    // Outside the window it is a new post.
    env.fake.advance_time(chrono::Duration::hours(25));
    let later = env.fake.issue_tokens(&env.sub, &MEMBER, false).access_token;
    let r = env
        .rest_as(
            &later,
            reqwest::Method::POST,
            "/rest/posts",
            Some(env.post_body("Same words")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn bad_tokens_get_the_documented_401_bodies() {
    let env = setup().await;
    let call = |auth: Option<String>| {
        let mut req = http()
            .get(env.url("/rest/organizationAcls?q=roleAssignee"))
            .header("LinkedIn-Version", VERSION)
            .header("X-Restli-Protocol-Version", "2.0.0");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        async move { finish(req.send().await.unwrap()).await }
    };
    let r = call(None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["message"], "Empty oauth2_access_token");
    let r = call(Some("Bearer nope".into())).await;
    assert_eq!(r.json()["serviceErrorCode"], 65600);
    let r = env
        .rest(
            reqwest::Method::GET,
            "/rest/organizationAcls?q=roleAssignee",
            None,
        )
        .await;
    assert_eq!(r.status, 403, "a member token without r_organization_admin");
    env.fake.expire_access_tokens(Some(&env.sub));
    let r = call(Some(format!("Bearer {}", env.token))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "EXPIRED_ACCESS_TOKEN");
    let fresh = env.fake.issue_tokens(&env.sub, &MEMBER, false).access_token;
    env.fake.revoke_tokens(&env.sub);
    let r = call(Some(format!("Bearer {fresh}"))).await;
    assert_eq!(r.json()["serviceErrorCode"], 65601);
    assert_eq!(r.json()["code"], "REVOKED_ACCESS_TOKEN");
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded_pairs(query)
}

fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(&v.replace('+', " "))))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_code_flow_checks_the_redirect_and_the_secret_and_issues_60_day_tokens() {
    let config = LinkedInConfig::default();
    let redirect = config.redirect_uris[0].clone();
    let env = setup_with(config.clone()).await;
    let authorize = |redirect_uri: &str, scope: &str| {
        let req = http().get(env.url("/oauth/v2/authorization")).query(&[
            ("response_type", "code"),
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("state", "st-1"),
            ("scope", scope),
        ]);
        async move { finish(req.send().await.unwrap()).await }
    };
    assert_eq!(
        authorize("http://127.0.0.1:9999/callback", "openid")
            .await
            .status,
        400,
        "unregistered redirect"
    );
    assert_eq!(
        authorize(&format!("{redirect}#frag"), "openid")
            .await
            .status,
        400,
        "no fragment"
    );
    assert_eq!(
        authorize("/callback", "openid").await.status,
        400,
        "absolute only"
    );
    let r = authorize(&redirect, "openid profile w_nonsense").await;
    assert_eq!(r.status, 302);
    let q = query_of(r.header("location").unwrap());
    assert_eq!(param(&q, "error"), Some("unauthorized_scope_error"));

    let r = authorize(&redirect, "openid profile w_member_social").await;
    assert_eq!(r.status, 302);
    let location = r.header("location").unwrap().to_string();
    assert!(location.starts_with(&redirect), "{location}");
    let q = query_of(&location);
    assert_eq!(param(&q, "state"), Some("st-1"));
    let code = param(&q, "code").unwrap().to_string();

    let exchange = |form: Vec<(&'static str, String)>| {
        let req = http().post(env.url("/oauth/v2/accessToken")).form(&form);
        async move { finish(req.send().await.unwrap()).await }
    };
    let base = |secret: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("redirect_uri", redirect.clone()),
            ("client_id", config.client_id.clone()),
            ("client_secret", secret.to_string()),
        ]
    };
    let mut no_secret = base("");
    no_secret.retain(|(k, _)| *k != "client_secret");
    let r = exchange(no_secret).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    let r = exchange(base("wrong")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    let r = exchange(base(&config.client_secret)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let tokens = r.json();
    assert_eq!(tokens["expires_in"], 5_184_000);
    assert!(
        tokens.get("refresh_token").is_none(),
        "self-serve apps get no refresh token"
    );
    let r = exchange(base(&config.client_secret)).await;
    assert_eq!(r.json()["error"], "invalid_grant", "a code works once");

    // The new token reads the profile.
    let r = finish(
        http()
            .get(env.url("/v2/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sub"], env.sub.as_str());
    assert_eq!(r.json()["name"], "Ada Lovelace");
    assert!(r.json().get("email").is_none(), "no email scope");
}

#[tokio::test]
async fn mdp_partners_get_refresh_tokens_that_do_not_rotate() {
    let config = LinkedInConfig {
        mdp_partner: true,
        ..LinkedInConfig::default()
    };
    let env = setup_with(config.clone()).await;
    let issued = env.fake.issue_tokens(&env.sub, &MEMBER, true);
    let refresh = issued.refresh_token.clone().unwrap();
    let grant = |token: &str| {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
        ];
        let req = http().post(env.url("/oauth/v2/accessToken")).form(&form);
        async move { finish(req.send().await.unwrap()).await }
    };
    env.fake.advance_time(chrono::Duration::days(10));
    let r = grant(&refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_ne!(body["access_token"], issued.access_token.as_str());
    assert_eq!(body["refresh_token"], refresh.as_str(), "not rotated");
    let left = body["refresh_token_expires_in"].as_i64().unwrap();
    assert!(
        left <= 355 * 86_400 && left > 354 * 86_400,
        "{left}: not extended"
    );
    let r = grant("unknown").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    env.fake.revoke_refresh_tokens(&env.sub);
    assert_eq!(grant(&refresh).await.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn organisations_the_member_administers_are_listed_and_can_post() {
    let env = setup().await;
    let org = env.fake.add_organization("Acme Widgets");
    let other = env.fake.add_organization("Analysts Inc");
    env.fake.grant_role(org, &env.sub, "ADMINISTRATOR");
    env.fake.grant_role(other, &env.sub, "ANALYST");
    let token = env
        .fake
        .issue_tokens(
            &env.sub,
            &[
                "openid",
                "profile",
                "w_member_social",
                "w_organization_social",
                "r_organization_admin",
            ],
            false,
        )
        .access_token;
    let r = env
        .rest_as(
            &token,
            reqwest::Method::GET,
            "/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let elements = r.json()["elements"].as_array().cloned().unwrap();
    assert_eq!(elements.len(), 1);
    assert_eq!(
        elements[0]["organization"],
        format!("urn:li:organization:{org}")
    );
    assert_eq!(elements[0]["role"], "ADMINISTRATOR");
    let r = env
        .rest_as(
            &token,
            reqwest::Method::GET,
            &format!("/rest/organizations/{org}"),
            None,
        )
        .await;
    assert_eq!(r.json()["localizedName"], "Acme Widgets");

    let mut body = env.post_body("From the page");
    body["author"] = json!(format!("urn:li:organization:{org}"));
    let r = env
        .rest_as(
            &token,
            reqwest::Method::POST,
            "/rest/posts",
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    body["author"] = json!(format!("urn:li:organization:{other}"));
    let r = env
        .rest_as(
            &token,
            reqwest::Method::POST,
            "/rest/posts",
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 403, "an analyst cannot post");
    body["author"] = json!(format!("urn:li:organization:{org}"));
    body["commentary"] = json!("Member token without w_organization_social");
    let r = env
        .rest(reqwest::Method::POST, "/rest/posts", Some(body))
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn images_are_initialised_uploaded_and_posted() {
    let env = setup().await;
    let r = env
        .rest(
            reqwest::Method::POST,
            "/rest/images?action=initializeUpload",
            Some(json!({"initializeUploadRequest": {"owner": env.author()}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let value = r.json()["value"].clone();
    let image = value["image"].as_str().unwrap().to_string();
    let upload_url = value["uploadUrl"].as_str().unwrap().to_string();
    assert!(image.starts_with("urn:li:image:"));

    // Posting before the upload is refused.
    let mut body = env.post_body("With a picture");
    body["content"] = json!({"media": {"id": image, "altText": "A cat"}});
    let r = env
        .rest(reqwest::Method::POST, "/rest/posts", Some(body.clone()))
        .await;
    assert_eq!(r.status, 400);

    let put = |auth: bool| {
        let mut req = http().put(&upload_url).body(b"\x89PNG fake".to_vec());
        if auth {
            req = req.bearer_auth(&env.token);
        }
        async move { finish(req.send().await.unwrap()).await }
    };
    assert_eq!(put(false).await.status, 401, "the upload wants the token");
    assert_eq!(put(true).await.status, 201);
    let images = env.fake.images();
    assert_eq!(images[0].bytes, b"\x89PNG fake");
    assert_eq!(images[0].status, "AVAILABLE");
    // A member token cannot read images back.
    let r = env
        .rest(
            reqwest::Method::GET,
            &format!("/rest/images/{}", image.replace(':', "%3A")),
            None,
        )
        .await;
    assert_eq!(r.status, 403);

    let r = env
        .rest(reqwest::Method::POST, "/rest/posts", Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(env.fake.posts()[0].content["media"]["altText"], "A cat");

    // multiImage needs 2 to 20 images.
    let mut one = env.post_body("Only one in a multiImage");
    one["content"] = json!({"multiImage": {"images": [{"id": image}]}});
    let r = env
        .rest(reqwest::Method::POST, "/rest/posts", Some(one))
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn videos_upload_in_parts_check_etags_and_walk_their_states() {
    let env = setup_with(LinkedInConfig {
        video_part_size: 1000,
        ..LinkedInConfig::default()
    })
    .await;
    env.fake
        .set_video_outcome(VideoOutcome::Available { after_polls: 2 });
    let size = 2_500u64;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let r = env
        .rest(
            reqwest::Method::POST,
            "/rest/videos?action=initializeUpload",
            Some(json!({"initializeUploadRequest": {
                "owner": env.author(), "fileSizeBytes": size,
                "uploadCaptions": false, "uploadThumbnail": false}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let value = r.json()["value"].clone();
    let video = value["video"].as_str().unwrap().to_string();
    let token = value["uploadToken"].as_str().unwrap().to_string();
    let instructions = value["uploadInstructions"].as_array().cloned().unwrap();
    let ranges: Vec<(u64, u64)> = instructions
        .iter()
        .map(|i| {
            (
                i["firstByte"].as_u64().unwrap(),
                i["lastByte"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranges,
        vec![(0, 999), (1000, 1999), (2000, 2499)],
        "inclusive ranges"
    );
    let status = || {
        let path = format!("/rest/videos/{}", video.replace(':', "%3A"));
        let env = &env;
        async move {
            env.rest(reqwest::Method::GET, &path, None).await.json()["status"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(status().await, "WAITING_UPLOAD");

    // A part of the wrong size is refused.
    let url0 = instructions[0]["uploadUrl"].as_str().unwrap();
    let r = finish(http().put(url0).body(vec![0u8; 10]).send().await.unwrap()).await;
    assert_eq!(r.status, 400);

    let mut etags = Vec::new();
    for (i, (first, last)) in ranges.iter().enumerate() {
        let url = instructions[i]["uploadUrl"].as_str().unwrap();
        let part = data[*first as usize..=*last as usize].to_vec();
        let r = finish(
            http()
                .put(url)
                .header("Content-Type", "application/octet-stream")
                .body(part)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        etags.push(r.header("etag").unwrap().to_string());
    }
    let finalize = |ids: Vec<String>| {
        let body = json!({"finalizeUploadRequest": {"video": video, "uploadToken": token, "uploadedPartIds": ids}});
        let env = &env;
        async move {
            env.rest(
                reqwest::Method::POST,
                "/rest/videos?action=finalizeUpload",
                Some(body),
            )
            .await
        }
    };
    let mut reversed = etags.clone();
    reversed.reverse();
    assert_eq!(finalize(reversed).await.status, 400, "order matters");
    assert_eq!(finalize(etags[..2].to_vec()).await.status, 400);
    let r = finalize(etags.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(env.fake.videos()[0].data(), data);

    assert_eq!(status().await, "PROCESSING");
    assert_eq!(status().await, "PROCESSING");
    assert_eq!(status().await, "AVAILABLE");

    let mut body = env.post_body("A video");
    body["content"] = json!({"media": {"id": video, "title": "Clip"}});
    let r = env
        .rest(reqwest::Method::POST, "/rest/posts", Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Another member may not read it.
    let mallory = env.fake.add_member("Mallory");
    let other = env.fake.issue_tokens(&mallory, &MEMBER, false).access_token;
    let r = env
        .rest_as(
            &other,
            reqwest::Method::GET,
            &format!("/rest/videos/{}", video.replace(':', "%3A")),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "Accessing this video resource is forbidden. Please check your permissions for this resource"
    );
}

#[tokio::test]
async fn a_failing_video_reports_its_reason_and_a_stuck_one_never_finishes() {
    let env = setup().await;
    let init = || {
        let env = &env;
        async move {
            let r = env
                .rest(
                    reqwest::Method::POST,
                    "/rest/videos?action=initializeUpload",
                    Some(json!({"initializeUploadRequest": {"owner": env.author(), "fileSizeBytes": 10}})),
                )
                .await;
            let value = r.json()["value"].clone();
            assert_eq!(value["uploadInstructions"].as_array().unwrap().len(), 1);
            assert_eq!(
                value["uploadToken"], "",
                "single-part uploads have an empty token"
            );
            let url = value["uploadInstructions"][0]["uploadUrl"]
                .as_str()
                .unwrap()
                .to_string();
            let put = finish(http().put(url).body(vec![7u8; 10]).send().await.unwrap()).await;
            let etag = put.header("etag").unwrap().to_string();
            let video = value["video"].as_str().unwrap().to_string();
            let r = env
                .rest(
                    reqwest::Method::POST,
                    "/rest/videos?action=finalizeUpload",
                    Some(json!({"finalizeUploadRequest": {"video": video, "uploadToken": "", "uploadedPartIds": [etag]}})),
                )
                .await;
            assert_eq!(r.status, 200);
            video
        }
    };
    env.fake.set_video_outcome(VideoOutcome::Fails {
        after_polls: 0,
        reason: "Video is too short".into(),
    });
    let failing = init().await;
    let r = env
        .rest(
            reqwest::Method::GET,
            &format!("/rest/videos/{}", failing.replace(':', "%3A")),
            None,
        )
        .await;
    assert_eq!(r.json()["status"], "PROCESSING_FAILED");
    assert_eq!(r.json()["processingFailureReason"], "Video is too short");

    env.fake.set_video_outcome(VideoOutcome::NeverFinishes);
    let stuck = init().await;
    for _ in 0..5 {
        let r = env
            .rest(
                reqwest::Method::GET,
                &format!("/rest/videos/{}", stuck.replace(':', "%3A")),
                None,
            )
            .await;
        assert_eq!(r.json()["status"], "PROCESSING");
    }
    assert!(env.fake.set_video_status(&stuck, "AVAILABLE", None));
    let r = env
        .rest(
            reqwest::Method::GET,
            &format!("/rest/videos/{}", stuck.replace(':', "%3A")),
            None,
        )
        .await;
    assert_eq!(r.json()["status"], "AVAILABLE");
}

#[tokio::test]
async fn the_daily_limit_answers_429_without_headers_until_midnight_utc() {
    let env = setup().await;
    env.fake.set_daily_post_limit(1);
    assert_eq!(env.create("one").await.status, 201);
    let r = env.create("two").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["status"], 429);
    for h in [
        "retry-after",
        "x-ratelimit-reset",
        "ratelimit-reset",
        "x-rate-limit-reset",
    ] {
        assert!(r.header(h).is_none(), "{h} is never sent");
    }
    let now = env.fake.now();
    let midnight = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 1)
        .unwrap()
        .and_utc();
    env.fake.advance_time(midnight - now);
    let token = env.fake.issue_tokens(&env.sub, &MEMBER, false).access_token;
    let r = env
        .rest_as(
            &token,
            reqwest::Method::POST,
            "/rest/posts",
            Some(env.post_body("two")),
        )
        .await;
    assert_eq!(r.status, 201, "a new UTC day: {}", r.text);
}

#[tokio::test]
async fn faults_answer_errors_or_drop_the_connection_after_the_commit() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::status("POST /rest/posts", 1, 503));
    let r = env.create("first try").await;
    assert_eq!(r.status, 503);
    assert!(env.fake.posts().is_empty(), "no side effect");

    env.fake
        .push_fault(Fault::rate_limited("/rest/posts", 1, Some(30)));
    let r = env.create("second try").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));

    env.fake.push_fault(Fault::new(
        "POST /rest/posts",
        1,
        FaultKind::Html { status: 502 },
    ));
    let r = env.create("third try").await;
    assert_eq!(r.status, 502);
    assert!(r.text.contains("<html>"));

    // A fault on another action does not fire.
    env.fake.push_fault(Fault::status(
        "POST /rest/videos?action=finalizeUpload",
        1,
        500,
    ));
    env.fake
        .push_fault(Fault::drop_after_commit("POST /rest/posts", 1));
    let sent = http()
        .post(env.url("/rest/posts"))
        .bearer_auth(&env.token)
        .header("LinkedIn-Version", VERSION)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .json(&env.post_body("dropped"))
        .send()
        .await;
    assert!(sent.is_err(), "no answer at all");
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1, "the post was committed");
    assert_eq!(posts[0].text, "dropped");
    let recorded = env.fake.requests();
    assert_eq!(recorded.last().unwrap().status, 0);
    assert_eq!(env.fake.count("POST", "/rest/posts"), 4);
    env.fake.clear_faults();
}

#[tokio::test]
async fn comments_are_added_to_existing_posts() {
    let env = setup().await;
    let urn = env
        .create("Post")
        .await
        .header("x-restli-id")
        .unwrap()
        .to_string();
    let path = format!("/rest/socialActions/{}/comments", urn.replace(':', "%3A"));
    let r = env
        .rest(
            reqwest::Method::POST,
            &path,
            Some(json!({"actor": env.author(), "object": urn, "message": {"text": "First (comment)!"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let comment_urn = r.header("x-restli-id").unwrap().to_string();
    assert!(
        comment_urn.starts_with("urn:li:comment:(urn:li:activity:"),
        "{comment_urn}"
    );
    let comments = env.fake.comments();
    assert_eq!(comments[0].text, "First (comment)!");
    assert_eq!(comments[0].object, urn);
    let r = env.rest(reqwest::Method::GET, &path, None).await;
    assert_eq!(r.json()["elements"].as_array().unwrap().len(), 1);
    let r = env
        .rest(
            reqwest::Method::POST,
            "/rest/socialActions/urn%3Ali%3Ashare%3A1/comments",
            Some(json!({"actor": env.author(), "message": {"text": "x"}})),
        )
        .await;
    assert_eq!(r.status, 404, "no such post");
}

#[tokio::test]
async fn the_control_api_drives_the_fake_over_http() {
    let fake = LinkedInFake::start(LinkedInConfig::default()).await;
    let base = fake.base_url();
    let control = |method: reqwest::Method, path: &str, body: Value| {
        let req = http().request(method, format!("{base}{path}")).json(&body);
        async move { finish(req.send().await.unwrap()).await }
    };
    let info = control(reqwest::Method::GET, "/_fake/info", json!({})).await;
    assert_eq!(info.json()["base_url"], base.as_str());
    let member = control(
        reqwest::Method::POST,
        "/_fake/members",
        json!({"name": "Grace Hopper"}),
    )
    .await;
    let sub = member.json()["sub"].as_str().unwrap().to_string();
    let tokens = control(
        reqwest::Method::POST,
        "/_fake/tokens",
        json!({"sub": sub, "scopes": MEMBER, "refresh": true}),
    )
    .await;
    let access = tokens.json()["access_token"].as_str().unwrap().to_string();
    assert!(tokens.json()["refresh_token"].is_string());
    let queued = control(
        reqwest::Method::POST,
        "/_fake/faults",
        json!([{"route": "POST /rest/posts", "kind": {"type": "status", "status": 500}}]),
    )
    .await;
    assert_eq!(queued.json()["queued"], 1);
    let post = |text: &str| {
        let req = http()
            .post(format!("{base}/rest/posts"))
            .bearer_auth(&access)
            .header("LinkedIn-Version", VERSION)
            .header("X-Restli-Protocol-Version", "2.0.0")
            .json(&json!({
                "author": format!("urn:li:person:{sub}"), "commentary": text, "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED"}));
        async move { finish(req.send().await.unwrap()).await }
    };
    assert_eq!(post("hi").await.status, 500);
    assert_eq!(post("hi").await.status, 201);
    let posts = control(reqwest::Method::GET, "/_fake/posts", json!({})).await;
    assert_eq!(posts.json().as_array().unwrap().len(), 1);
    let requests = control(reqwest::Method::GET, "/_fake/requests", json!({})).await;
    assert_eq!(
        requests.json().as_array().unwrap().len(),
        2,
        "control calls are not recorded"
    );
    let r = control(
        reqwest::Method::POST,
        "/_fake/video/outcome",
        json!({"type": "fails", "after_polls": 1, "reason": "bad codec"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = control(
        reqwest::Method::POST,
        "/_fake/daily-limit",
        json!({"posts": 0}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(post("again").await.status, 429);
    let r = control(
        reqwest::Method::POST,
        "/_fake/advance-time",
        json!({"secs": 86_400}),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = control(
        reqwest::Method::POST,
        "/_fake/expire-access-tokens",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(post("late").await.status, 401);
    assert_eq!(
        control(reqwest::Method::POST, "/_fake/nope", json!({}))
            .await
            .status,
        404
    );
    assert_eq!(DEFAULT_VIDEO_PART_SIZE, 4 * 1024 * 1024);
}
