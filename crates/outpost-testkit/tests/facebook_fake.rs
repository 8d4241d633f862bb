//! The Facebook fake itself, over loopback HTTP: versioned paths, tokens, Pages, publishing,
//! scheduling, uploads, Reels, errors and usage headers, faults, and the control API.

use outpost_testkit::facebook::{
    CodeGrant, Endpoint, FacebookConfig, FacebookFake, Fault, Processing, Throttle, TokenKind,
    ADMIN_TASKS, DEFAULT_APP_ID, DEFAULT_APP_SECRET, PAGE_SCOPES,
};
use serde_json::{json, Value};

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> Option<i64> {
        self.body.pointer("/error/code").and_then(Value::as_i64)
    }
    fn subcode(&self) -> Option<i64> {
        self.body
            .pointer("/error/error_subcode")
            .and_then(Value::as_i64)
    }
    fn header_json(&self, name: &str) -> Value {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or(Value::Null)
    }
}

async fn read(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

struct T {
    fake: FacebookFake,
    http: reqwest::Client,
}

impl T {
    async fn new() -> T {
        T::with(FacebookConfig::default()).await
    }
    async fn with(cfg: FacebookConfig) -> T {
        T {
            fake: FacebookFake::start(cfg).await,
            http: reqwest::Client::new(),
        }
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }
    async fn get(&self, path: &str, token: &str) -> Answer {
        read(
            self.http
                .get(self.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("get"),
        )
        .await
    }
    async fn post(&self, path: &str, token: &str, form: &[(&str, &str)]) -> Answer {
        read(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .form(form)
                .send()
                .await
                .expect("post"),
        )
        .await
    }
    async fn delete(&self, path: &str, token: &str) -> Answer {
        read(
            self.http
                .delete(self.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("delete"),
        )
        .await
    }
    /// A user with one Page and its (long-lived) user and Page tokens.
    fn page(&self) -> (String, String, String, String) {
        let (user, page, tokens) =
            self.fake
                .create_user_with_page("Ada", "Ada's Bakery", Some("adas"));
        let page_token = self
            .fake
            .page_token(&tokens.access_token, &page.id)
            .expect("page token");
        (user.id, page.id, tokens.access_token, page_token)
    }
}

#[tokio::test]
async fn every_path_needs_a_version_and_old_versions_are_served_and_recorded() {
    let t = T::new().await;
    let (_, _, user, _) = t.page();
    let a = t.get("/me", &user).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.code(), Some(2500));
    let a = t.get("/v20.0/me", &user).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let reqs = t.fake.requests();
    assert_eq!(
        reqs.last().and_then(|r| r.version.as_deref()),
        Some("v20.0")
    );
    let a = t.get("/v27.0/me?method=post", &user).await;
    assert_eq!(a.code(), Some(100));
    let a = t.get("/v27.0/?ids=1,2", &user).await;
    assert_eq!(a.status, 400);
    let a = t.get("/v27.0/me?ids=1,2", &user).await;
    assert_eq!(a.code(), Some(100));
    // Every answer carries the app usage; a body envelope carries fbtrace_id.
    assert!(a.header_json("x-app-usage")["call_count"].is_u64());
    assert!(a.body.pointer("/error/fbtrace_id").is_some());
}

#[tokio::test]
async fn the_code_exchange_needs_the_secret_and_the_same_redirect_and_codes_are_single_use() {
    let t = T::new().await;
    let user = t.fake.create_user("Ada");
    let redirect = "https://relay.example/outpost/callback";
    let code = t
        .fake
        .issue_code(CodeGrant {
            user_id: user.id.clone(),
            client_id: DEFAULT_APP_ID.into(),
            redirect_uri: redirect.into(),
            scopes: PAGE_SCOPES.iter().map(|s| s.to_string()).collect(),
        })
        .expect("code");
    assert!(t
        .fake
        .issue_code(CodeGrant {
            user_id: user.id.clone(),
            client_id: DEFAULT_APP_ID.into(),
            redirect_uri: "http://example.com/cb".into(),
            scopes: vec![],
        })
        .is_err());
    let exchange = |secret: &'static str, redirect: &'static str| {
        let code = code.clone();
        let url = t.url("/v27.0/oauth/access_token");
        let http = t.http.clone();
        async move {
            read(
                http.get(url)
                    .query(&[
                        ("client_id", DEFAULT_APP_ID),
                        ("client_secret", secret),
                        ("redirect_uri", redirect),
                        ("code", code.as_str()),
                    ])
                    .send()
                    .await
                    .expect("token"),
            )
            .await
        }
    };
    let a = exchange("nope", redirect).await;
    assert_eq!((a.status, a.code()), (400, Some(1)));
    assert_eq!(
        a.body["error"]["message"],
        "Error validating client secret."
    );
    let a = exchange(DEFAULT_APP_SECRET, "https://relay.example/other").await;
    assert_eq!(a.subcode(), Some(36008));
    let a = exchange(DEFAULT_APP_SECRET, redirect).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["token_type"], "bearer");
    let short = a.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(a.body["expires_in"].as_i64().is_some_and(|e| e <= 7200));
    let a = exchange(DEFAULT_APP_SECRET, redirect).await;
    assert_eq!(a.subcode(), Some(36009), "codes are single-use");
    // Short → long-lived, as a form POST.
    let a = read(
        t.http
            .post(t.url("/v27.0/oauth/access_token"))
            .form(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", DEFAULT_APP_ID),
                ("client_secret", DEFAULT_APP_SECRET),
                ("fb_exchange_token", short.as_str()),
            ])
            .send()
            .await
            .expect("exchange"),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["expires_in"], 5_183_944);
    // An expired token cannot be exchanged; there is no refresh grant.
    t.fake.expire_token(&short);
    let a = t
        .post(
            "/v27.0/oauth/access_token",
            "",
            &[
                ("grant_type", "fb_exchange_token"),
                ("client_id", DEFAULT_APP_ID),
                ("client_secret", DEFAULT_APP_SECRET),
                ("fb_exchange_token", short.as_str()),
            ],
        )
        .await;
    assert_eq!((a.code(), a.subcode()), (Some(190), Some(463)));
    let a = t
        .post(
            "/v27.0/oauth/access_token",
            "",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEFAULT_APP_ID),
                ("client_secret", DEFAULT_APP_SECRET),
            ],
        )
        .await;
    assert_eq!(a.code(), Some(100));
}

#[tokio::test]
async fn accounts_give_page_tokens_with_tasks_and_debug_token_tells_their_expiry() {
    let t = T::new().await;
    let user = t.fake.create_user("Ada");
    let page = t.fake.create_page("Bakery", Some("bakery"));
    t.fake.grant_page(&user.id, &page.id, &ADMIN_TASKS);
    let long = t.fake.issue_user_token(&user.id, &PAGE_SCOPES, true);
    let a = t.get("/v27.0/me/accounts", &long.access_token).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let entry = &a.body["data"][0];
    assert_eq!(entry["id"], page.id.as_str());
    assert_eq!(entry["username"], "bakery");
    assert!(entry["tasks"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("CREATE_CONTENT"))));
    let page_token = entry["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let a = t
        .get(
            &format!("/v27.0/debug_token?input_token={page_token}"),
            &long.access_token,
        )
        .await;
    assert_eq!(a.body["data"]["type"], "PAGE");
    assert_eq!(a.body["data"]["expires_at"], 0, "never expires");
    assert_eq!(a.body["data"]["profile_id"], page.id.as_str());
    // From a short-lived user token the Page token expires with it.
    let short = t.fake.issue_user_token(&user.id, &PAGE_SCOPES, false);
    let short_page = t
        .fake
        .page_token(&short.access_token, &page.id)
        .expect("page token");
    let a = t
        .get(
            &format!("/v27.0/debug_token?input_token={short_page}"),
            &long.access_token,
        )
        .await;
    assert!(a.body["data"]["expires_at"].as_i64().is_some_and(|e| e > 0));
    // GET /{page-id}?fields=access_token with a user token; /me with a Page token is the Page.
    let a = t
        .get(
            &format!("/v27.0/{}?fields=access_token", page.id),
            &long.access_token,
        )
        .await;
    assert_eq!(a.body["access_token"], page_token.as_str());
    let a = t.get("/v27.0/me", &page_token).await;
    assert_eq!(a.body["id"], page.id.as_str());
    // Without pages_show_list: 403 / code 200.
    let narrow = t
        .fake
        .issue_user_token(&user.id, &["pages_manage_posts"], true);
    let a = t.get("/v27.0/me/accounts", &narrow.access_token).await;
    assert_eq!((a.status, a.code()), (403, Some(200)));
}

#[tokio::test]
async fn the_feed_wants_the_page_itself_refuses_duplicates_and_holds_scheduled_posts() {
    let t = T::new().await;
    let (_, page, user, page_token) = t.page();
    let feed = format!("/v27.0/{page}/feed");
    let a = t.post(&feed, &user, &[("message", "as me")]).await;
    assert_eq!((a.status, a.code()), (403, Some(200)));
    assert!(a.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("must be posted to a page as the page itself")));
    let a = t.post(&feed, &page_token, &[("message", "hello")]).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap_or_default().to_string();
    assert!(id.starts_with(&format!("{page}_")));
    let a = t.post(&feed, &page_token, &[("message", "hello")]).await;
    assert_eq!(a.code(), Some(506));
    assert!(a.header_json("x-business-use-case-usage")[&page].is_array());
    // Scheduling: too soon is refused; an hour ahead is held.
    let soon = (t.fake.now() + chrono::Duration::minutes(5))
        .timestamp()
        .to_string();
    let a = t
        .post(
            &feed,
            &page_token,
            &[
                ("message", "soon"),
                ("published", "false"),
                ("scheduled_publish_time", &soon),
            ],
        )
        .await;
    assert_eq!(a.code(), Some(100));
    let later = (t.fake.now() + chrono::Duration::hours(1))
        .timestamp()
        .to_string();
    let a = t
        .post(
            &feed,
            &page_token,
            &[("message", "later"), ("scheduled_publish_time", &later)],
        )
        .await;
    assert_eq!(a.code(), Some(100), "scheduled needs published=false");
    let a = t
        .post(
            &feed,
            &page_token,
            &[
                ("message", "later"),
                ("published", "false"),
                ("scheduled_publish_time", &later),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let held = a.body["id"].as_str().unwrap_or_default().to_string();
    let a = t
        .get(&format!("/v27.0/{page}/scheduled_posts"), &page_token)
        .await;
    assert_eq!(a.body["data"][0]["id"], held.as_str());
    assert_eq!(
        a.body["data"][0]["scheduled_publish_time"]
            .as_str()
            .map(|_| ()),
        None
    );
    let a = t
        .get(&format!("/v27.0/{page}/published_posts"), &page_token)
        .await;
    assert_eq!(a.body["data"].as_array().map(Vec::len), Some(1));
    t.fake.advance_time(chrono::Duration::minutes(61));
    let a = t
        .get(&format!("/v27.0/{page}/published_posts"), &page_token)
        .await;
    assert_eq!(a.body["data"][0]["id"], held.as_str(), "newest first");
    assert_eq!(a.body["data"][0]["message"], "later");
    let a = t
        .get(&format!("/v27.0/{page}/scheduled_posts"), &page_token)
        .await;
    assert_eq!(a.body["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn held_posts_are_edited_published_early_and_deleted() {
    let t = T::new().await;
    let (_, page, _, page_token) = t.page();
    let at = (t.fake.now() + chrono::Duration::hours(2))
        .timestamp()
        .to_string();
    let a = t
        .post(
            &format!("/v27.0/{page}/feed"),
            &page_token,
            &[
                ("message", "draft"),
                ("published", "false"),
                ("scheduled_publish_time", &at),
            ],
        )
        .await;
    let id = a.body["id"].as_str().unwrap_or_default().to_string();
    let later = (t.fake.now() + chrono::Duration::hours(3))
        .timestamp()
        .to_string();
    let a = t
        .post(
            &format!("/v27.0/{id}"),
            &page_token,
            &[("message", "final"), ("scheduled_publish_time", &later)],
        )
        .await;
    assert_eq!(a.body["success"], true, "{:?}", a.body);
    let held = t.fake.held_posts(&page);
    assert_eq!(held[0].message.as_deref(), Some("final"));
    assert_eq!(
        held[0]
            .scheduled_publish_time
            .map(|t| t.timestamp().to_string()),
        Some(later)
    );
    // Comments wait for publication.
    let a = t
        .post(
            &format!("/v27.0/{id}/comments"),
            &page_token,
            &[("message", "hi")],
        )
        .await;
    assert_eq!(a.code(), Some(100));
    let a = t
        .post(
            &format!("/v27.0/{id}"),
            &page_token,
            &[("is_published", "true")],
        )
        .await;
    assert_eq!(a.body["success"], true);
    assert_eq!(t.fake.live_posts(&page).len(), 1);
    let a = t
        .post(
            &format!("/v27.0/{id}/comments"),
            &page_token,
            &[("message", "hi")],
        )
        .await;
    assert!(a.body["id"].is_string(), "{:?}", a.body);
    let a = t.delete(&format!("/v27.0/{id}"), &page_token).await;
    assert_eq!(a.body["success"], true);
    let a = t.delete(&format!("/v27.0/{id}"), &page_token).await;
    assert_eq!((a.code(), a.subcode()), (Some(100), Some(33)));
}

#[tokio::test]
async fn photos_take_multipart_sources_refuse_big_ones_and_attach_to_a_post() {
    let t = T::with(FacebookConfig {
        photo_max_bytes: 1000,
        ..FacebookConfig::default()
    })
    .await;
    let (_, page, _, page_token) = t.page();
    let png = |n: usize| {
        let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        v.resize(n, 0);
        v
    };
    let upload = |bytes: Vec<u8>| {
        let b = "XfakeBoundary7";
        let mut body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"published\"\r\n\r\nfalse\r\n--{b}\r\nContent-Disposition: form-data; name=\"alt_text_custom\"\r\n\r\na loaf\r\n--{b}\r\nContent-Disposition: form-data; name=\"source\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        let url = t.url(&format!("/v27.0/{page}/photos"));
        let http = t.http.clone();
        let token = page_token.clone();
        async move {
            read(
                http.post(url)
                    .bearer_auth(token)
                    .header("content-type", format!("multipart/form-data; boundary={b}"))
                    .body(body)
                    .send()
                    .await
                    .expect("photo"),
            )
            .await
        }
    };
    let a = upload(png(2000)).await;
    assert_eq!(a.subcode(), Some(1366046));
    let a = upload(b"not an image".to_vec()).await;
    assert_eq!(a.code(), Some(324));
    let a = upload(png(500)).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert!(
        a.body.get("post_id").is_none(),
        "unpublished photos make no post"
    );
    let photo = a.body["id"].as_str().unwrap_or_default().to_string();
    let media = json!([{ "media_fbid": photo }]).to_string();
    let a = t
        .post(
            &format!("/v27.0/{page}/feed"),
            &page_token,
            &[("message", "with a photo"), ("attached_media", &media)],
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let posts = t.fake.live_posts(&page);
    assert_eq!(posts[0].attached_media, vec![photo.clone()]);
    assert_eq!(
        t.fake.photos()[0].alt_text_custom.as_deref(),
        Some("a loaf")
    );
    let a = t
        .post(
            &format!("/v27.0/{page}/feed"),
            &page_token,
            &[("message", "again"), ("attached_media", &media)],
        )
        .await;
    assert_eq!(a.subcode(), Some(1366051));
}

#[tokio::test]
async fn the_resumable_upload_checks_offsets_and_hands_back_a_file_handle() {
    let t = T::new().await;
    let (_, page, user, page_token) = t.page();
    let start = |token: String| {
        let url = t.url(&format!(
            "/v27.0/{DEFAULT_APP_ID}/uploads?file_name=a.mp4&file_length=10&file_type=video/mp4"
        ));
        let http = t.http.clone();
        async move {
            read(
                http.post(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("start"),
            )
            .await
        }
    };
    let a = start(page_token.clone()).await;
    assert_eq!(a.code(), Some(100), "a user token starts sessions");
    let a = start(user.clone()).await;
    let session = a.body["id"].as_str().unwrap_or_default().to_string();
    assert!(session.starts_with("upload:"), "{:?}", a.body);
    let send = |offset: &'static str, bytes: &'static [u8]| {
        let url = t.url(&format!("/v27.0/{session}"));
        let http = t.http.clone();
        let user = user.clone();
        async move {
            read(
                http.post(url)
                    .header("authorization", format!("OAuth {user}"))
                    .header("file_offset", offset)
                    .body(bytes)
                    .send()
                    .await
                    .expect("transfer"),
            )
            .await
        }
    };
    let a = send("0", b"01234").await;
    assert_eq!(a.body["file_offset"], 5);
    let a = send("0", b"01234").await;
    assert_eq!(a.code(), Some(100), "a wrong offset is refused");
    let a = read(
        t.http
            .get(t.url(&format!("/v27.0/{session}")))
            .header("authorization", format!("OAuth {user}"))
            .send()
            .await
            .expect("status"),
    )
    .await;
    assert_eq!(a.body["file_offset"], 5);
    let a = send("5", b"56789").await;
    let handle = a.body["h"].as_str().unwrap_or_default().to_string();
    assert!(!handle.is_empty(), "{:?}", a.body);
    let a = t
        .post(
            &format!("/v27.0/{page}/videos"),
            &page_token,
            &[
                ("fbuploader_video_file_chunk", &handle),
                ("description", "a video"),
            ],
        )
        .await;
    let vid = a.body["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        t.fake.video_bytes(&vid).as_deref(),
        Some(&b"0123456789"[..])
    );
    assert_eq!(
        t.fake.live_posts(&page)[0].object_id.as_deref(),
        Some(vid.as_str())
    );
    let sessions = t.fake.upload_sessions();
    assert_eq!(sessions[0].transfers, vec![5, 5]);
}

#[tokio::test]
async fn reels_walk_through_start_upload_finish_and_the_status_phases() {
    let t = T::with(FacebookConfig {
        reels_per_day: 1,
        ..FacebookConfig::default()
    })
    .await;
    let (_, page, _, page_token) = t.page();
    t.fake
        .set_reel_processing(Processing::AfterPolls { polls: 2 });
    let reels = format!("/v27.0/{page}/video_reels");
    let a = t
        .post(&reels, &page_token, &[("upload_phase", "start")])
        .await;
    let vid = a.body["video_id"].as_str().unwrap_or_default().to_string();
    let upload_url = a.body["upload_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(upload_url.ends_with(&format!("/video-upload/v27.0/{vid}")));
    let a = t
        .post(
            &reels,
            &page_token,
            &[("upload_phase", "finish"), ("video_id", &vid)],
        )
        .await;
    assert_eq!(a.code(), Some(100), "nothing uploaded yet");
    for (offset, bytes) in [("0", &b"abc"[..]), ("3", &b"def"[..])] {
        let a = read(
            t.http
                .post(&upload_url)
                .header("authorization", format!("OAuth {page_token}"))
                .header("offset", offset)
                .header("file_size", "6")
                .body(bytes)
                .send()
                .await
                .expect("rupload"),
        )
        .await;
        assert_eq!(a.body["success"], true, "{:?}", a.body);
    }
    let status = t
        .get(&format!("/v27.0/{vid}?fields=status"), &page_token)
        .await;
    assert_eq!(status.body["status"]["video_status"], "upload_complete");
    assert_eq!(
        status.body["status"]["uploading_phase"]["bytes_transfered"],
        6
    );
    let a = t
        .post(
            &reels,
            &page_token,
            &[
                ("upload_phase", "finish"),
                ("video_id", &vid),
                ("video_state", "PUBLISHED"),
                ("description", "a reel"),
            ],
        )
        .await;
    assert_eq!(a.body["success"], true, "{:?}", a.body);
    let s1 = t
        .get(&format!("/v27.0/{vid}?fields=status"), &page_token)
        .await;
    assert_eq!(s1.body["status"]["video_status"], "processing");
    let s2 = t
        .get(&format!("/v27.0/{vid}?fields=status"), &page_token)
        .await;
    assert_eq!(s2.body["status"]["video_status"], "ready");
    assert_eq!(s2.body["status"]["publishing_phase"]["status"], "complete");
    assert_eq!(t.fake.live_posts(&page).len(), 1);
    // The Page's daily Reels quota (1 here) is spent: the next start is throttled.
    let a = t
        .post(&reels, &page_token, &[("upload_phase", "start")])
        .await;
    assert_eq!(a.code(), Some(32));
    let buc = a.header_json("x-business-use-case-usage");
    assert!(buc[&page][0]["estimated_time_to_regain_access"]
        .as_u64()
        .is_some_and(|m| m > 0));
}

#[tokio::test]
async fn faults_send_graph_envelopes_with_usage_headers_and_drops_commit_first() {
    let t = T::new().await;
    let (_, page, _, page_token) = t.page();
    t.fake.push_fault(Fault::unknown_error(Endpoint::Feed, 1));
    t.fake
        .push_fault(Fault::throttled(Endpoint::Feed, 1, 80001, 9));
    let a = t
        .post(
            &format!("/v27.0/{page}/feed"),
            &page_token,
            &[("message", "x")],
        )
        .await;
    assert_eq!((a.status, a.code()), (500, Some(1)));
    assert_eq!(a.body["error"]["is_transient"], true);
    let a = t
        .post(
            &format!("/v27.0/{page}/feed"),
            &page_token,
            &[("message", "x")],
        )
        .await;
    assert_eq!(a.code(), Some(80001));
    assert_eq!(
        a.header_json("x-business-use-case-usage")[&page][0]["estimated_time_to_regain_access"],
        9
    );
    t.fake
        .push_fault(Fault::drop_after_commit(Endpoint::Feed, 1));
    let sent = t
        .http
        .post(t.url(&format!("/v27.0/{page}/feed")))
        .bearer_auth(&page_token)
        .form(&[("message", "committed")])
        .send()
        .await;
    assert!(sent.is_err(), "the connection was dropped");
    assert_eq!(t.fake.live_posts(&page).len(), 1, "the post exists anyway");
    let reqs = t.fake.requests();
    assert_eq!(reqs.last().map(|r| r.status), Some(0));
    assert_eq!(
        reqs.last().and_then(|r| r.token_kind),
        Some(TokenKind::Page)
    );
}

#[tokio::test]
async fn throttles_block_the_page_and_extend_while_called() {
    let t = T::new().await;
    let (_, page, _, page_token) = t.page();
    t.fake.throttle(Throttle {
        page_id: Some(page.clone()),
        code: 80001,
        minutes: 5,
        extend_on_call: true,
    });
    t.fake.advance_time(chrono::Duration::minutes(4));
    let a = t
        .get(&format!("/v27.0/{page}?fields=id"), &page_token)
        .await;
    assert_eq!(a.code(), Some(80001));
    assert_eq!(
        a.header_json("x-business-use-case-usage")[&page][0]["estimated_time_to_regain_access"],
        5,
        "the call extended the block"
    );
    t.fake.advance_time(chrono::Duration::minutes(6));
    let a = t
        .get(&format!("/v27.0/{page}?fields=id"), &page_token)
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn revoked_and_expired_tokens_and_lost_roles_answer_190_with_their_subcode() {
    let t = T::new().await;
    let (user_id, page, user, page_token) = t.page();
    t.fake.expire_token(&user);
    let a = t.get("/v27.0/me", &user).await;
    assert_eq!((a.code(), a.subcode()), (Some(190), Some(463)));
    t.fake.remove_role(&user_id, &page);
    let a = t
        .post(
            &format!("/v27.0/{page}/feed"),
            &page_token,
            &[("message", "x")],
        )
        .await;
    assert_eq!((a.code(), a.subcode()), (Some(190), Some(492)));
    t.fake.revoke_user(&user_id, Some(458));
    let a = t.get("/v27.0/me", &page_token).await;
    assert_eq!((a.code(), a.subcode()), (Some(190), Some(458)));
    let a = t.get("/v27.0/me", "garbage").await;
    assert_eq!((a.code(), a.subcode()), (Some(190), None));
}

#[tokio::test]
async fn the_control_api_drives_the_fake_from_another_process() {
    let t = T::new().await;
    let a = read(
        t.http
            .post(t.url("/_fake/users"))
            .json(&json!({"name": "Eve", "pages": [{"name": "Eve's"}]}))
            .send()
            .await
            .expect("users"),
    )
    .await;
    let page = a.body["pages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let user = a.body["tokens"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let accounts = t.get("/v27.0/me/accounts", &user).await;
    let page_token = accounts.body["data"][0]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let a = read(
        t.http
            .post(t.url("/_fake/faults"))
            .json(&json!({"endpoint": "feed", "times": 1, "kind": {"type": "graph", "code": 2}}))
            .send()
            .await
            .expect("faults"),
    )
    .await;
    assert_eq!(a.body["queued"], 1);
    let a = t
        .post(
            &format!("/v27.0/{page}/feed"),
            &page_token,
            &[("message", "x")],
        )
        .await;
    assert_eq!(a.code(), Some(2));
    let at = (t.fake.now() + chrono::Duration::hours(1))
        .timestamp()
        .to_string();
    t.post(
        &format!("/v27.0/{page}/feed"),
        &page_token,
        &[
            ("message", "held"),
            ("published", "false"),
            ("scheduled_publish_time", &at),
        ],
    )
    .await;
    read(
        t.http
            .post(t.url("/_fake/advance-time"))
            .json(&json!({"secs": 7200}))
            .send()
            .await
            .expect("advance"),
    )
    .await;
    let posts = read(
        t.http
            .get(t.url("/_fake/posts"))
            .send()
            .await
            .expect("posts"),
    )
    .await;
    assert_eq!(posts.body[0]["published"], true);
    let reqs = read(
        t.http
            .get(t.url("/_fake/requests"))
            .send()
            .await
            .expect("requests"),
    )
    .await;
    assert!(reqs.body.as_array().is_some_and(|r| r.len() >= 3));
    let info = read(t.http.get(t.url("/_fake/info")).send().await.expect("info")).await;
    assert_eq!(info.body["version"], "v27.0");
}
