//! The Threads fake itself, over real loopback HTTP: tokens and their rules, containers and
//! their state machine, media fetched from loopback, carousels, replies, quotas, faults and the
//! control API.

use outpost_testkit::threads::{
    CodeGrant, Endpoint, Fault, IssuedToken, MediaHost, NotReadyForm, Processing, ThreadsConfig,
    ThreadsFake, ThreadsUser, CODE_NOT_FOUND, DEFAULT_APP_ID, DEFAULT_APP_SECRET,
    LINK_LIMIT_EXCEEDED, TOO_YOUNG_TO_REFRESH,
};
use serde_json::{json, Value};

struct Env {
    fake: ThreadsFake,
    user: ThreadsUser,
    token: IssuedToken,
    http: reqwest::Client,
}

async fn env() -> Env {
    let fake = ThreadsFake::start(ThreadsConfig::default()).await;
    let (user, token) = fake.create_user_with_token("alice");
    Env {
        fake,
        user,
        token,
        http: reqwest::Client::new(),
    }
}

/// A PNG header big enough for the fake's check.
fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&640u32.to_be_bytes());
    v.extend_from_slice(&480u32.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0]);
    v
}

fn mp4() -> Vec<u8> {
    let mut v = vec![0, 0, 0, 24];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(&self.token.access_token);
        if method == reqwest::Method::GET {
            rb = rb.query(form);
        } else {
            rb = rb.form(form);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, form).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, query).await
    }

    /// Creates a container; returns its id (panics on refusal).
    async fn container(&self, form: &[(&str, &str)]) -> String {
        let (s, v) = self.post("/v1.0/me/threads", form).await;
        assert_eq!(s, 200, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    async fn status(&self, id: &str) -> Value {
        let (s, v) = self
            .get(
                &format!("/v1.0/{id}"),
                &[("fields", "status,error_message")],
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    async fn publish(&self, id: &str) -> (u16, Value) {
        self.post(
            &format!("/v1.0/{}/threads_publish", self.user.id),
            &[("creation_id", id)],
        )
        .await
    }
}

fn code_of(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn codes_are_single_use_https_only_and_give_a_numeric_user_id() {
    let e = env().await;
    let grant = |redirect: &str| CodeGrant {
        user_id: e.user.id.clone(),
        app_id: DEFAULT_APP_ID.into(),
        redirect_uri: redirect.into(),
        scopes: vec!["threads_basic".into(), "threads_content_publish".into()],
    };
    assert!(e
        .fake
        .issue_code(grant("http://127.0.0.1:8080/cb"))
        .is_err());
    assert!(e
        .fake
        .issue_code(grant("https://localhost:8443/cb"))
        .is_err());
    let redirect = "https://relay.example.org/oauth-relay.html";
    let code = e.fake.issue_code(grant(redirect)).expect("code");
    let exchange = |code: String, secret: &str| {
        e.http.post(e.url("/oauth/access_token")).form(&[
            ("client_id", DEFAULT_APP_ID),
            ("client_secret", secret),
            ("code", &code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect),
        ])
    };
    let r = exchange(code.clone(), DEFAULT_APP_SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let raw = r.text().await.expect("body");
    // The user id is a bare JSON number larger than 2^53.
    assert!(raw.contains(&format!("\"user_id\":{}", e.user.id)), "{raw}");
    assert!(e.user.id.parse::<u64>().expect("numeric") > (1u64 << 53));
    let v: Value = serde_json::from_str(&raw).expect("json");
    let short = v["access_token"].as_str().expect("token").to_string();
    assert_eq!(e.fake.token_is_long_lived(&short), Some(false));
    // A second use of the code: the flat error shape.
    let again = exchange(code, DEFAULT_APP_SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status().as_u16(), 400);
    let body: Value = again.json().await.expect("json");
    assert_eq!(body["error_type"], "OAuthException");
    assert_eq!(body["error_message"], CODE_NOT_FOUND);
    // A wrong secret is refused too.
    let code = e.fake.issue_code(grant(redirect)).expect("code");
    let bad = exchange(code, "wrong").send().await.expect("send");
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn short_lived_tokens_are_exchanged_with_the_secret_and_only_while_valid() {
    let e = env().await;
    let short = e.fake.issue_short_lived(&e.user.id).expect("short");
    let exchange = |token: &str, secret: Option<&str>| {
        let mut q = vec![
            ("grant_type", "th_exchange_token".to_string()),
            ("access_token", token.to_string()),
        ];
        if let Some(s) = secret {
            q.push(("client_secret", s.to_string()));
        }
        e.http.get(e.url("/access_token")).query(&q).send()
    };
    let r = exchange(&short.access_token, None).await.expect("send");
    assert_eq!(r.status().as_u16(), 400, "the secret is required");
    let r = exchange(&short.access_token, Some(DEFAULT_APP_SECRET))
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let long: IssuedToken = r.json().await.expect("json");
    assert_eq!(long.token_type, "bearer");
    assert!(long.expires_in > 59 * 86_400, "{long:?}");
    assert_eq!(e.fake.token_is_long_lived(&long.access_token), Some(true));
    // An expired short-lived token cannot be exchanged.
    let other = e.fake.issue_short_lived(&e.user.id).expect("short");
    e.fake.advance_time(chrono::Duration::hours(2));
    let r = exchange(&other.access_token, Some(DEFAULT_APP_SECRET))
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        (code_of(&v), v["error"]["error_subcode"].as_i64()),
        (190, Some(463))
    );
}

#[tokio::test]
async fn refresh_needs_a_day_old_unexpired_token_and_no_secret() {
    let e = env().await;
    let refresh = |token: &str| {
        e.http
            .get(e.url("/refresh_access_token"))
            .query(&[("grant_type", "th_refresh_token"), ("access_token", token)])
            .send()
    };
    let r = refresh(&e.token.access_token).await.expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["message"], TOO_YOUNG_TO_REFRESH);
    assert_eq!(code_of(&v), 190);
    assert!(e
        .fake
        .backdate_token(&e.token.access_token, chrono::Duration::hours(25)));
    let r = refresh(&e.token.access_token).await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let fresh: IssuedToken = r.json().await.expect("json");
    assert_ne!(fresh.access_token, e.token.access_token);
    assert!(e.fake.token_is_live(&fresh.access_token));
    assert!(fresh.expires_in >= 60 * 86_400 - 5);
    // Expired for good: refused with 190 / 463.
    let old = e
        .fake
        .issue_long_lived(&e.user.id, &["threads_basic"], chrono::Duration::days(61))
        .expect("token");
    let r = refresh(&old.access_token).await.expect("send");
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        (code_of(&v), v["error"]["error_subcode"].as_i64()),
        (190, Some(463))
    );
    // Without threads_basic: refused.
    let narrow = e
        .fake
        .issue_long_lived(
            &e.user.id,
            &["threads_content_publish"],
            chrono::Duration::days(2),
        )
        .expect("token");
    let r = refresh(&narrow.access_token).await.expect("send");
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(e.fake.count(Endpoint::RefreshToken), 4);
}

#[tokio::test]
async fn me_answers_the_fields_and_dead_tokens_are_401_code_190() {
    let e = env().await;
    let (s, v) = e.get("/v1.0/me", &[("fields", "id,username,name")]).await;
    assert_eq!(s, 200);
    assert_eq!(v["id"], e.user.id.as_str());
    assert_eq!(v["username"], "alice");
    // The token as a parameter works too, and the user id stands in for "me".
    let r = e
        .http
        .get(e.url(&format!("/v1.0/{}", e.user.id)))
        .query(&[("access_token", e.token.access_token.as_str())])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let (s, v) = e.get("/v1.0/me", &[("fields", "followers")]).await;
    assert_eq!((s, code_of(&v)), (400, 100));
    assert!(e.fake.revoke_token(&e.token.access_token));
    let (s, v) = e.get("/v1.0/me", &[]).await;
    assert_eq!(s, 401);
    assert_eq!(
        (code_of(&v), v["error"]["error_subcode"].as_i64()),
        (190, Some(460))
    );
    assert_eq!(v["error"]["type"], "OAuthException");
    assert!(v["error"]["fbtrace_id"].is_string());
}

#[tokio::test]
async fn text_is_counted_with_emoji_bytes_and_links_are_capped_at_five() {
    let e = env().await;
    let fits = format!("{}{}", "a".repeat(496), "👍");
    let (s, v) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "TEXT"),
                ("text", &fits),
                ("auto_publish_text", "true"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let over = format!("{}{}", "a".repeat(497), "👍");
    let (s, v) = e
        .post(
            "/v1.0/me/threads",
            &[("media_type", "TEXT"), ("text", &over)],
        )
        .await;
    assert_eq!((s, code_of(&v)), (400, 100), "{v}");
    let six = (1..=6)
        .map(|i| format!("https://l{i}.test"))
        .collect::<Vec<_>>()
        .join(" ");
    let (s, v) = e
        .post(
            "/v1.0/me/threads",
            &[("media_type", "TEXT"), ("text", &six)],
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["message"], LINK_LIMIT_EXCEEDED);
    // Five in the text and a different link attachment: six as well.
    let five = (1..=5)
        .map(|i| format!("https://l{i}.test"))
        .collect::<Vec<_>>()
        .join(" ");
    let (s, _) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "TEXT"),
                ("text", &five),
                ("link_attachment", "https://other.test"),
            ],
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "TEXT"),
                ("text", &five),
                ("link_attachment", "https://l1.test"),
            ],
        )
        .await;
    assert_eq!(s, 200, "the same link counts once");
}

#[tokio::test]
async fn auto_publish_text_posts_at_once_and_replies_chain() {
    let e = env().await;
    let (s, v) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "TEXT"),
                ("text", "root"),
                ("auto_publish_text", "true"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let root = v["id"].as_str().expect("id").to_string();
    let posts = e.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].id, root, "the answer is the post's id");
    assert!(posts[0].auto_published);
    // A reply through the two-step flow.
    let c = e
        .container(&[
            ("media_type", "TEXT"),
            ("text", "reply"),
            ("reply_to_id", &root),
        ])
        .await;
    assert_eq!(e.status(&c).await["status"], "FINISHED");
    let (s, v) = e.publish(&c).await;
    assert_eq!(s, 200, "{v}");
    let reply = v["id"].as_str().expect("id").to_string();
    assert_eq!(e.status(&c).await["status"], "PUBLISHED");
    let (_, listed) = e
        .get(
            "/v1.0/me/replies",
            &[("fields", "id,text,replied_to,root_post,is_reply,timestamp")],
        )
        .await;
    assert_eq!(listed["data"][0]["id"], reply.as_str());
    assert_eq!(listed["data"][0]["replied_to"]["id"], root.as_str());
    assert_eq!(listed["data"][0]["root_post"]["id"], root.as_str());
    assert_eq!(listed["data"][0]["is_reply"], true);
    let (_, threads) = e.get("/v1.0/me/threads", &[("fields", "id,text")]).await;
    assert_eq!(threads["data"].as_array().map(Vec::len), Some(1));
    // Publishing twice is refused; replying to an unknown post too.
    let (s, _) = e.publish(&c).await;
    assert_eq!(s, 400);
    let (s, _) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "TEXT"),
                ("text", "x"),
                ("reply_to_id", "123"),
            ],
        )
        .await;
    assert_eq!(s, 400);
    // Another user's root cannot be replied to.
    let (_, bob_token) = e.fake.create_user_with_token("bob");
    let r = e
        .http
        .post(e.url("/v1.0/me/threads"))
        .bearer_auth(&bob_token.access_token)
        .form(&[
            ("media_type", "TEXT"),
            ("text", "hi"),
            ("reply_to_id", root.as_str()),
            ("auto_publish_text", "true"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn media_are_fetched_from_loopback_and_containers_walk_their_states() {
    let e = env().await;
    let host = MediaHost::start().await;
    let img = host.put("a.png", "image/png", &png());
    let c = e
        .container(&[
            ("media_type", "IMAGE"),
            ("image_url", &img),
            ("text", "pic"),
        ])
        .await;
    assert_eq!(host.hits("a.png"), 1, "fetched when the container was made");
    // Not ready yet: publishing is refused the Instagram way.
    let (s, v) = e.publish(&c).await;
    assert_eq!(s, 400);
    assert_eq!(
        (code_of(&v), v["error"]["error_subcode"].as_i64()),
        (9007, Some(2207027))
    );
    assert_eq!(e.status(&c).await["status"], "IN_PROGRESS");
    assert_eq!(e.status(&c).await["status"], "FINISHED");
    let (s, v) = e.publish(&c).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(e.fake.posts()[0].media_urls, std::slice::from_ref(&img));
    // An image that cannot be fetched is refused at creation.
    let (s, v) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "IMAGE"),
                ("image_url", &host.url("gone.png")),
            ],
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(code_of(&v), 9004);
    // A video that cannot be fetched ends in ERROR.
    let c = e
        .container(&[
            ("media_type", "VIDEO"),
            ("video_url", &host.url("gone.mp4")),
        ])
        .await;
    let v = e.status(&c).await;
    assert_eq!(v["status"], "ERROR");
    assert_eq!(v["error_message"], "FAILED_DOWNLOADING_VIDEO");
    // A video that never finishes, and one that fails its checks.
    let clip = host.put("c.mp4", "video/mp4", &mp4());
    e.fake.set_processing(Processing::Never);
    let never = e
        .container(&[("media_type", "VIDEO"), ("video_url", &clip)])
        .await;
    for _ in 0..3 {
        assert_eq!(e.status(&never).await["status"], "IN_PROGRESS");
    }
    assert!(e.fake.set_container_processing(
        &never,
        Processing::Error {
            after_polls: 1,
            message: "INVALID_DURATION".into()
        }
    ));
    assert_eq!(e.status(&never).await["status"], "IN_PROGRESS");
    let v = e.status(&never).await;
    assert_eq!(
        (v["status"].as_str(), v["error_message"].as_str()),
        (Some("ERROR"), Some("INVALID_DURATION"))
    );
    // Containers expire after 24 hours.
    e.fake.set_processing(Processing::AfterPolls { polls: 0 });
    let late = e
        .container(&[("media_type", "VIDEO"), ("video_url", &clip)])
        .await;
    e.fake.advance_time(chrono::Duration::hours(25));
    assert_eq!(e.status(&late).await["status"], "EXPIRED");
    e.fake.set_not_ready_form(NotReadyForm::Code100);
}

#[tokio::test]
async fn carousels_take_two_to_twenty_items_and_count_once() {
    let e = env().await;
    let host = MediaHost::start().await;
    let img = host.put("a.png", "image/png", &png());
    e.fake.set_processing(Processing::AfterPolls { polls: 1 });
    let mut children = Vec::new();
    for _ in 0..3 {
        children.push(
            e.container(&[
                ("media_type", "IMAGE"),
                ("image_url", &img),
                ("is_carousel_item", "true"),
            ])
            .await,
        );
    }
    let (s, _) = e
        .post(
            "/v1.0/me/threads",
            &[("media_type", "CAROUSEL"), ("children", &children[0])],
        )
        .await;
    assert_eq!(s, 400, "one child is not a carousel");
    let plain = e
        .container(&[("media_type", "IMAGE"), ("image_url", &img)])
        .await;
    let (s, _) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "CAROUSEL"),
                ("children", &format!("{},{plain}", children[0])),
            ],
        )
        .await;
    assert_eq!(s, 400, "children must be carousel items");
    let (s, _) = e.publish(&children[0]).await;
    assert_eq!(s, 400, "a child is never published alone");
    let parent = e
        .container(&[
            ("media_type", "CAROUSEL"),
            ("children", &children.join(",")),
            ("text", "three"),
        ])
        .await;
    // The carousel waits for its children.
    assert_eq!(e.status(&parent).await["status"], "IN_PROGRESS");
    assert_eq!(e.status(&parent).await["status"], "FINISHED");
    let (s, v) = e.publish(&parent).await;
    assert_eq!(s, 200, "{v}");
    let posts = e.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].media_type, "CAROUSEL_ALBUM");
    assert_eq!(posts[0].media_urls.len(), 3);
    let (_, q) = e
        .get(
            "/v1.0/me/threads_publishing_limit",
            &[("fields", "quota_usage,config")],
        )
        .await;
    assert_eq!(q["data"][0]["quota_usage"], 1);
    // Children cannot be used twice.
    let (s, _) = e
        .post(
            "/v1.0/me/threads",
            &[
                ("media_type", "CAROUSEL"),
                ("children", &children[..2].join(",")),
            ],
        )
        .await;
    assert_eq!(s, 400);
    // Twenty-one is too many.
    let ids: Vec<String> = (0..21).map(|i| format!("{}", 1000 + i)).collect();
    let (s, _) = e
        .post(
            "/v1.0/me/threads",
            &[("media_type", "CAROUSEL"), ("children", &ids.join(","))],
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn the_publishing_limit_has_the_documented_shape_and_is_enforced() {
    let e = env().await;
    let (s, v) = e
        .get(
            "/v1.0/me/threads_publishing_limit",
            &[(
                "fields",
                "quota_usage,config,delete_quota_usage,delete_config",
            )],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"data": [{"quota_usage": 0, "config": {"quota_total": 250, "quota_duration": 86400},
                          "delete_quota_usage": 0, "delete_config": {"quota_total": 100, "quota_duration": 86400}}]})
    );
    // The reply fields need threads_manage_replies.
    let (s, v) = e
        .get(
            "/v1.0/me/threads_publishing_limit",
            &[("fields", "reply_quota_usage,reply_config")],
        )
        .await;
    assert_eq!((s, code_of(&v)), (403, 10));
    e.fake.set_quota(1, 5, chrono::Duration::seconds(3600));
    fn text(t: &str) -> Vec<(&str, &str)> {
        vec![
            ("media_type", "TEXT"),
            ("auto_publish_text", "true"),
            ("text", t),
        ]
    }
    let (s, _) = e.post("/v1.0/me/threads", &text("one")).await;
    assert_eq!(s, 200);
    let (s, v) = e.post("/v1.0/me/threads", &text("two")).await;
    assert_eq!(s, 400);
    assert_eq!(
        (code_of(&v), v["error"]["error_subcode"].as_i64()),
        (9, Some(2207042))
    );
    let (_, v) = e.get("/v1.0/me/threads_publishing_limit", &[]).await;
    assert_eq!(v["data"][0]["quota_usage"], 1);
    assert_eq!(v["data"][0]["config"]["quota_total"], 1);
    // The window rolls.
    e.fake.advance_time(chrono::Duration::seconds(3601));
    let (s, _) = e.post("/v1.0/me/threads", &text("two")).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn listings_filter_by_time_and_page_newest_first() {
    let e = env().await;
    for i in 0..5 {
        e.fake
            .insert_post(&e.user.id, &format!("post {i}"), None)
            .expect("post");
    }
    let (_, v) = e
        .get(
            "/v1.0/me/threads",
            &[("fields", "id,text,timestamp"), ("limit", "2")],
        )
        .await;
    assert_eq!(v["data"][0]["text"], "post 4");
    assert!(v["data"][0]["timestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with("+0000")));
    let after = v["paging"]["cursors"]["after"].as_str().expect("cursor");
    assert!(v["paging"]["next"].is_string());
    let (_, v) = e
        .get(
            "/v1.0/me/threads",
            &[("fields", "id,text"), ("limit", "2"), ("after", after)],
        )
        .await;
    assert_eq!(v["data"][0]["text"], "post 2");
    let future = (e.fake.now() + chrono::Duration::minutes(1))
        .timestamp()
        .to_string();
    let (_, v) = e.get("/v1.0/me/threads", &[("since", &future)]).await;
    assert_eq!(v["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn faults_apply_in_order_and_drop_after_commit_keeps_the_post() {
    let e = env().await;
    e.fake
        .push_fault(Fault::drop_after_commit(Endpoint::CreateContainer, 1).after(1));
    e.fake.push_fault(Fault::throttled(Endpoint::Me, 1, 4));
    let text = |t: &'static str| {
        vec![
            ("media_type", "TEXT"),
            ("auto_publish_text", "true"),
            ("text", t),
        ]
    };
    let (s, _) = e.post("/v1.0/me/threads", &text("passes")).await;
    assert_eq!(s, 200, "the first create is let through");
    let r = e
        .http
        .post(e.url("/v1.0/me/threads"))
        .bearer_auth(&e.token.access_token)
        .form(&text("dropped"))
        .send()
        .await;
    assert!(r.is_err(), "the connection was closed unanswered");
    assert_eq!(e.fake.posts().len(), 2, "but the post was made");
    let creates = e.fake.requests_to(Endpoint::CreateContainer);
    assert_eq!(
        creates.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 0]
    );
    assert_eq!(creates[1].param("text").as_deref(), Some("dropped"));
    let (s, v) = e.get("/v1.0/me", &[]).await;
    assert_eq!((s, code_of(&v)), (400, 4));
    e.fake.push_fault(Fault::status(Endpoint::Publish, 1, 503));
    let (s, v) = e.publish("1").await;
    assert_eq!((s, code_of(&v)), (503, 2));
}

#[tokio::test]
async fn the_control_api_drives_the_fake_over_http() {
    let fake = ThreadsFake::start(ThreadsConfig::default()).await;
    let http = reqwest::Client::new();
    let ctl = |path: &str| format!("{}/_fake/{path}", fake.base_url());
    let v: Value = http
        .post(ctl("users"))
        .json(&json!({"username": "carol", "age_secs": 90000}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let token = v["token"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let user_id = v["user"]["id"].as_str().expect("id").to_string();
    // A day old already: refreshable.
    let r = http
        .get(format!("{}/refresh_access_token", fake.base_url()))
        .query(&[("grant_type", "th_refresh_token"), ("access_token", &token)])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let queued: Value = http
        .post(ctl("faults"))
        .json(&json!([{"endpoint": "publish", "times": 2, "kind": {"type": "status", "status": 500}}]))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(queued["queued"], 1);
    let r = http
        .post(ctl("quota"))
        .json(&json!({"posts": 3, "replies": 4, "duration_secs": 60}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(fake.config().quota_total, 3);
    let r = http
        .post(ctl("posts"))
        .json(&json!({"owner_id": user_id, "text": "made elsewhere"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let posts: Value = http
        .get(ctl("posts"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(posts[0]["text"], "made elsewhere");
    let r = http
        .post(ctl("revoke-user"))
        .json(&json!({"user_id": user_id}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert!(!fake.token_is_live(&token));
    let requests: Value = http
        .get(ctl("requests"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        requests.as_array().map(Vec::len),
        Some(1),
        "control calls are not recorded"
    );
    let r = http
        .post(ctl("codes"))
        .json(&json!({"user_id": user_id, "redirect_uri": "http://127.0.0.1/cb"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400, "plain http redirects are refused");
}
