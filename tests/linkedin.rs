//! The `outpost` binary publishing to LinkedIn (the test kit's LinkedIn fake on loopback):
//! connecting in the browser flow and with tokens, little-text escaping, images with alt text,
//! multi-part video, organisation pages, the first comment, token expiry and refresh, rate
//! limits, server errors, duplicates, processing that never ends, and a create whose answer
//! was lost.

use outpost_e2e::{png, Machine};
use outpost_testkit::linkedin::{Fault, IssuedTokens, LinkedInConfig, LinkedInFake, VideoOutcome};
use outpost_testkit::media::{Mp4, Mp4Track};
use serde_json::Value;
use std::time::{Duration, Instant};

/// "Sign In with LinkedIn using OpenID Connect" + "Share on LinkedIn".
const MEMBER_SCOPES: &[&str] = &["openid", "profile", "w_member_social"];
/// The member scopes plus the Community Management API's page scopes.
const PAGE_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "w_member_social",
    "w_organization_social",
    "r_organization_admin",
];
/// Every character the little format reserves, in plain sight and in look-alike elements.
const RESERVED_TEXT: &str = "All of them: \\ | { } @ [ ] ( ) < > # * _ ~ — and snake_case(arg), \
#launch, {hashtag|\\#|x}, @[Ann](urn:li:person:abc), <b>*bold*</b> ~~gone~~ \\n end.";

struct LiMachine {
    m: Machine,
    li: LinkedInFake,
}

async fn machine() -> LiMachine {
    machine_with(LinkedInConfig::default()).await
}

async fn machine_with(config: LinkedInConfig) -> LiMachine {
    let mut m = Machine::new().await;
    let li = LinkedInFake::start(config).await;
    m.set_var("OUTPOST_LINKEDIN_BASE_URL", &li.base_url());
    let cfg = li.config();
    let r = m
        .run_async(
            &[
                "apps",
                "set",
                "linkedin",
                "--client-id",
                &cfg.client_id,
                "--client-secret-stdin",
            ],
            Some(&format!("{}\n", cfg.client_secret)),
        )
        .await;
    assert_eq!(r.code, 0, "apps set linkedin: {}", r.stderr);
    LiMachine { m, li }
}

/// A connected member: the fake's `sub`, Outpost's account id and the tokens it was given.
struct Member {
    sub: String,
    account_id: String,
    tokens: IssuedTokens,
}

impl Member {
    fn urn(&self) -> String {
        format!("urn:li:person:{}", self.sub)
    }
}

impl LiMachine {
    /// A member on the fake with tokens, connected in Outpost with `--token-stdin`. The
    /// handle is the member's name (LinkedIn has no public handle).
    async fn connect(&self, name: &str, scopes: &[&str], refresh: bool) -> Member {
        let sub = self.li.add_member(name);
        let tokens = self.li.issue_tokens(&sub, scopes, refresh);
        let mut json = serde_json::to_value(&tokens).expect("json");
        if refresh {
            json["refresh_token_expires_in"] = serde_json::json!(31_536_000);
        }
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "linkedin", "--token-stdin"],
                Some(&json.to_string()),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add linkedin: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], name, "{v:#}");
        assert_eq!(
            v["account"]["remote_id"],
            format!("urn:li:person:{sub}"),
            "{v:#}"
        );
        let account_id = v["account"]["id"].as_str().expect("account id").to_string();
        Member {
            sub,
            account_id,
            tokens,
        }
    }

    async fn agent_once(&self) {
        let r = self.m.run_async(&["agent", "--once"], None).await;
        assert_eq!(r.code, 0, "agent --once: {}", r.stderr);
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.m.data_dir().join(name);
        std::fs::write(&p, bytes).expect("write media");
        p.display().to_string()
    }

    /// `POST /rest/posts` requests the fake received.
    fn creates(&self) -> usize {
        self.li.count("POST", "/rest/posts")
    }

    async fn account_status(&self, id: &str) -> String {
        let acc = self.m.json(&["accounts", "list"]).await;
        acc["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["id"] == id)
            .and_then(|a| a["status"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

fn target(v: &Value) -> &Value {
    &v["post"]["targets"][0]
}

/// The attempts of the post's (only) target.
fn attempts(v: &Value) -> Vec<Value> {
    let tid = target(v)["id"].as_str().unwrap_or_default();
    v["attempts"][tid].as_array().cloned().unwrap_or_default()
}

fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

/// What Outpost must send for `text`: every reserved character behind a backslash.
fn escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\|{}@[]()<>#*_~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!(
        "http://x/?{}",
        String::from_utf8_lossy(body).replace('+', "%20")
    ))
    .map(|u| u.query_pairs().into_owned().collect())
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_in_the_browser_flow_with_the_client_secret_and_the_loopback_listener() {
    let li = machine().await;
    let sub = li.li.add_member("Carla");
    let mut child = li.m.command(&[
        "--json",
        "accounts",
        "connect",
        "linkedin",
        "--no-browser",
        "--wait",
        "30",
    ]);
    child
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = child.spawn().expect("spawn connect");
    let stderr = child.stderr.take().expect("stderr");
    let prefix = format!("{}/oauth/v2/authorization?", li.li.base_url());
    let url = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.expect("line");
            if line.trim().starts_with(&prefix) {
                return line.trim().to_string();
            }
        }
        panic!("no authorize URL printed");
    })
    .await
    .expect("join");
    let parsed = reqwest::Url::parse(&url).expect("url");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], li.li.config().client_id);
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:8724/callback");
    assert!(
        !q.contains_key("code_challenge"),
        "LinkedIn has no PKCE: {url}"
    );
    assert!(!q["state"].is_empty());
    let scopes: Vec<&str> = q["scope"].split(' ').collect();
    for s in MEMBER_SCOPES {
        assert!(scopes.contains(s), "{scopes:?}");
    }
    // The browser opens the page; the fake's member consents at once and LinkedIn redirects
    // to the loopback listener with the code and the state.
    let page = reqwest::get(&url).await.expect("authorize + callback");
    assert!(page.status().is_success(), "{}", page.status());
    assert!(page
        .text()
        .await
        .unwrap_or_default()
        .contains("close this tab"));
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["account"]["handle"], "Carla", "{v:#}");
    assert_eq!(v["account"]["remote_id"], format!("urn:li:person:{sub}"));
    assert_eq!(v["account"]["status"], "active");
    assert!(v["account"]["token_expires_at"].is_string(), "{v:#}");
    // The code was exchanged once, with the secret in the body and the same redirect.
    let exchanges: Vec<_> = li
        .li
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/oauth/v2/accessToken")
        .collect();
    assert_eq!(exchanges.len(), 1);
    let f = form(&exchanges[0].body);
    let field = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("grant_type"), "authorization_code");
    assert_eq!(field("client_secret"), li.li.config().client_secret);
    assert_eq!(field("redirect_uri"), "http://127.0.0.1:8724/callback");
    let id =
        li.m.post(&[
            "connected through the browser",
            "--to",
            "linkedin:Carla",
            "--now",
        ])
        .await;
    li.agent_once().await;
    assert_eq!(li.m.status_of(&id).await, "published");
    let posts = li.li.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].author, format!("urn:li:person:{sub}"));
    assert_eq!(posts[0].text, "connected through the browser");
    // Neither the code nor the tokens are in the database.
    let db = std::fs::read(li.m.data_dir().join("outpost.db")).expect("db");
    assert!(!String::from_utf8_lossy(&db).contains(&field("code")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_reserved_character_arrives_exactly_as_written() {
    let li = machine().await;
    let ada = li.connect("Ada", MEMBER_SCOPES, false).await;
    let id =
        li.m.post(&[RESERVED_TEXT, "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let posts = li.li.posts();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert!(!p.truncated, "LinkedIn cut the post: {:?}", p.commentary);
    assert_eq!(
        p.text, RESERVED_TEXT,
        "readers see exactly what was written"
    );
    assert_eq!(p.commentary_sent, escaped(RESERVED_TEXT));
    assert!(
        p.hashtags.is_empty(),
        "nothing became an element: {:?}",
        p.hashtags
    );
    assert_eq!(p.author, ada.urn());
    assert_eq!(p.visibility, "PUBLIC");
    assert_eq!(p.lifecycle_state, "PUBLISHED");
    assert_eq!(t["remote_id"], p.urn.as_str());
    assert_eq!(t["remote_url"], post_url(&p.urn));
    assert_eq!(li.creates(), 1);
    // Every versioned call carried the version and the Rest.li protocol header.
    for r in li
        .li
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/rest/"))
    {
        assert!(r.header("linkedin-version").is_some(), "{}", r.path);
        assert_eq!(r.header("x-restli-protocol-version"), Some("2.0.0"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_image_and_a_multi_image_post_carry_their_alt_texts() {
    let li = machine().await;
    let ada = li.connect("Ada", MEMBER_SCOPES, false).await;
    let single_png = png(64, 48, 3000);
    let single =
        li.m.post(&[
            "one photo",
            "--to",
            "linkedin:Ada",
            "--now",
            "--media",
            &li.file("one.png", &single_png),
            "--alt",
            "a lighthouse at dusk",
        ])
        .await;
    let mut args: Vec<String> = vec![
        "three photos".into(),
        "--to".into(),
        "linkedin:Ada".into(),
        "--now".into(),
    ];
    for i in 0..3 {
        args.push("--media".into());
        args.push(li.file(&format!("p{i}.png"), &png(80 + i, 60, 2500 + i as usize)));
        args.push("--alt".into());
        args.push(format!("photo {i} (of 3)"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let multi = li.m.post(&a).await;
    li.agent_once().await;
    for id in [&single, &multi] {
        let v = li.m.show(id).await;
        assert_eq!(target(&v)["state"], "published", "{v:#}");
        assert_eq!(attempts(&v).len(), 1, "{v:#}");
    }
    let posts = li.li.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(li.creates(), 2);
    let images = li.li.images();
    assert_eq!(images.len(), 4, "four uploads, each once");
    for i in &images {
        assert_eq!(i.status, "AVAILABLE");
        assert_eq!(i.owner, ada.urn());
    }
    let one = posts
        .iter()
        .find(|p| p.text == "one photo")
        .expect("single");
    let media = &one.content["media"];
    assert_eq!(
        media["altText"], "a lighthouse at dusk",
        "{:#}",
        one.content
    );
    let urn = media["id"].as_str().expect("image urn");
    let uploaded = images.iter().find(|i| i.urn == urn).expect("uploaded");
    assert_eq!(uploaded.bytes, single_png, "the bytes arrived intact");
    let three = posts
        .iter()
        .find(|p| p.text == "three photos")
        .expect("multi");
    let list = three.content["multiImage"]["images"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 3, "{:#}", three.content);
    for (i, item) in list.iter().enumerate() {
        assert_eq!(item["altText"], format!("photo {i} (of 3)"));
        let urn = item["id"].as_str().unwrap_or_default();
        assert!(images.iter().any(|img| img.urn == urn), "{urn}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_video_in_several_parts_is_published_once_processing_is_done() {
    let li = machine_with(LinkedInConfig {
        video_part_size: 100_000,
        ..LinkedInConfig::default()
    })
    .await;
    let ada = li.connect("Ada", MEMBER_SCOPES, false).await;
    let mut clip = Mp4::new(
        10,
        vec![
            Mp4Track::video(b"avc1", 1280, 720, 10, 30),
            Mp4Track::audio(10),
        ],
    );
    clip.mdat_len = 250_000;
    let bytes = clip.build();
    let id =
        li.m.post(&[
            "a video",
            "--to",
            "linkedin:Ada",
            "--now",
            "--media",
            &li.file("clip.mp4", &bytes),
        ])
        .await;
    li.li
        .set_video_outcome(VideoOutcome::Available { after_polls: 1 });
    let started = Instant::now();
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let videos = li.li.videos();
    assert_eq!(videos.len(), 1, "uploaded once");
    let video = &videos[0];
    assert_eq!(video.owner, ada.urn());
    assert_eq!(
        video.parts.len(),
        3,
        "{} bytes in 100 kB parts",
        bytes.len()
    );
    assert!(video.parts.iter().all(|p| p.puts == 1), "each part once");
    assert_eq!(video.data(), bytes, "the parts join to the file");
    let etags: Vec<String> = video
        .parts
        .iter()
        .map(|p| p.etag.clone().unwrap_or_default())
        .collect();
    assert_eq!(video.finalized_with.as_ref(), Some(&etags));
    assert_eq!(video.status, "AVAILABLE");
    assert_eq!(
        video.status_reads, 2,
        "read once while PROCESSING, then AVAILABLE"
    );
    let posts = li.li.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].content["media"]["id"], video.urn.as_str());
    assert_eq!(
        li.creates(),
        1,
        "the post was created only after processing"
    );
    let create_at = li
        .li
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/rest/posts")
        .map(|r| r.at)
        .expect("create");
    let last_read = li
        .li
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/rest/videos/"))
        .map(|r| r.at)
        .max()
        .expect("status reads");
    assert!(create_at >= last_read);
    assert_eq!(t["remote_url"], post_url(&posts[0].urn));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_goes_out_as_an_organisation_the_member_administers() {
    let li = machine().await;
    let olga = li.connect("Olga", PAGE_SCOPES, false).await;
    let acme = li.li.add_organization("Acme Corp");
    let viewer_only = li.li.add_organization("Beta Ltd");
    let gamma = li.li.add_organization("Gamma");
    assert!(li.li.grant_role(acme, &olga.sub, "ADMINISTRATOR"));
    assert!(li.li.grant_role(viewer_only, &olga.sub, "ANALYST"));
    assert!(li.li.grant_role(gamma, &olga.sub, "CONTENT_ADMIN"));
    let v =
        li.m.json(&["accounts", "choices", &olga.account_id, "organizations"])
            .await;
    let choices = v["choices"].as_array().cloned().unwrap_or_default();
    let listed: Vec<(String, String)> = choices
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                format!("urn:li:organization:{acme}"),
                "Acme Corp".to_string()
            ),
            (format!("urn:li:organization:{gamma}"), "Gamma".to_string()),
        ],
        "only pages the member may post for: {v:#}"
    );
    let acme_urn = format!("urn:li:organization:{acme}");
    let id =
        li.m.post(&[
            "news from the company",
            "--to",
            "linkedin:Olga",
            "--now",
            "--option",
            &format!("linkedin.author={acme_urn}"),
        ])
        .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let posts = li.li.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].author, acme_urn);
    assert_eq!(posts[0].created_by, olga.urn());
    assert_eq!(target(&v)["remote_url"], post_url(&posts[0].urn));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_account_default_author_posts_as_the_organisation() {
    let li = machine().await;
    let olga = li.connect("Olga", PAGE_SCOPES, false).await;
    let acme = li.li.add_organization("Acme Corp");
    assert!(li.li.grant_role(acme, &olga.sub, "ADMINISTRATOR"));
    let acme_urn = format!("urn:li:organization:{acme}");
    let r =
        li.m.run_async(
            &["accounts", "default", &olga.account_id, "author", &acme_urn],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id =
        li.m.post(&[
            "posted by default as the page",
            "--to",
            "linkedin:Olga",
            "--now",
        ])
        .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let posts = li.li.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].author, acme_urn, "the account's default author");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_comment_goes_under_the_new_post_once() {
    let li = machine().await;
    let ada = li.connect("Ada", MEMBER_SCOPES, false).await;
    let comment = "Links in the first comment (as promised): https://example.test/a_b #1";
    let id =
        li.m.post(&[
            "the post itself",
            "--to",
            "linkedin:Ada",
            "--now",
            "--first-comment",
            comment,
        ])
        .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let posts = li.li.posts();
    assert_eq!(posts.len(), 1);
    let comments = li.li.comments();
    assert_eq!(comments.len(), 1, "exactly one comment");
    assert_eq!(comments[0].object, posts[0].urn);
    assert_eq!(comments[0].actor, ada.urn());
    assert_eq!(comments[0].text, comment, "comments are sent as written");
    let recorded = t["progress"][0]["extra"]["first_comment"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(recorded, comments[0].urn, "{t:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_without_a_refresh_token_needs_a_reconnect() {
    let li = machine().await;
    let ada = li.connect("Ada", MEMBER_SCOPES, false).await;
    assert!(ada.tokens.refresh_token.is_none());
    li.li.expire_access_tokens(Some(&ada.sub));
    let id =
        li.m.post(&["never sent", "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "reauth", "{t:#}");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with("LinkedIn:") && err.contains("60 days") && err.contains("connect"),
        "{err}"
    );
    assert_eq!(li.account_status(&ada.account_id).await, "needs_reconnect");
    assert!(li.li.posts().is_empty());
    assert_eq!(li.creates(), 0);
    assert_eq!(li.li.count("POST", "/oauth/v2/accessToken"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_with_a_refresh_token_is_refreshed_and_the_post_goes_out() {
    let li = machine_with(LinkedInConfig {
        mdp_partner: true,
        ..LinkedInConfig::default()
    })
    .await;
    let ada = li.connect("Ada", MEMBER_SCOPES, true).await;
    let refresh = ada.tokens.refresh_token.clone().expect("refresh token");
    li.li.expire_access_tokens(Some(&ada.sub));
    let id =
        li.m.post(&["after a refresh", "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    assert_eq!(target(&v)["state"], "published", "{v:#}");
    let grants: Vec<_> = li
        .li
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/oauth/v2/accessToken")
        .collect();
    assert_eq!(grants.len(), 1, "one refresh");
    let f = form(&grants[0].body);
    assert!(f.contains(&("grant_type".into(), "refresh_token".into())));
    assert!(f.contains(&("refresh_token".into(), refresh)));
    assert_eq!(li.li.posts().len(), 1);
    assert_eq!(li.li.posts()[0].created_by, ada.urn());
    assert_eq!(li.account_status(&ada.account_id).await, "active");
    // The new access token was saved: the next post needs no refresh.
    let id2 =
        li.m.post(&["and again", "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    assert_eq!(li.m.status_of(&id2).await, "published");
    assert_eq!(li.li.count("POST", "/oauth/v2/accessToken"), 1);
    assert_eq!(li.creates(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_with_retry_after_waits_for_the_reset_then_publishes() {
    let li = machine().await;
    li.connect("Ada", MEMBER_SCOPES, false).await;
    li.li
        .push_fault(Fault::rate_limited("POST /rest/posts", 1, Some(3)));
    let id =
        li.m.post(&["rate limited first", "--to", "linkedin:Ada", "--now"])
            .await;
    let started = Instant::now();
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let creates: Vec<_> = li
        .li
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/rest/posts")
        .collect();
    assert_eq!(creates.len(), 2, "one refused, one after the reset");
    assert_eq!(creates[0].status, 429);
    assert_eq!(creates[1].status, 201);
    let gap = (creates[1].at - creates[0].at).num_milliseconds();
    assert!(gap >= 2500, "waited for the reset ({gap} ms)");
    assert_eq!(li.li.posts().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_without_headers_waits_until_midnight_utc_and_sends_nothing_more() {
    let li = machine().await;
    li.connect("Ada", MEMBER_SCOPES, false).await;
    li.li
        .push_fault(Fault::rate_limited("POST /rest/posts", 1, None));
    let id =
        li.m.post(&["daily limit reached", "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "scheduled", "waiting, not failed: {v:#}");
    assert_eq!(t["error_class"], "rate_limited", "{t:#}");
    let next: chrono::DateTime<chrono::Utc> = t["next_attempt_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("next attempt time");
    let midnight = (chrono::Utc::now().date_naive() + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    assert!(
        (next - midnight).num_seconds().abs() <= 2,
        "next attempt {next}, midnight {midnight}"
    );
    assert_eq!(li.creates(), 1);
    assert!(li.li.posts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_503s_back_off_and_the_third_attempt_publishes() {
    let li = machine().await;
    li.connect("Ada", MEMBER_SCOPES, false).await;
    li.li.push_fault(Fault::status("POST /rest/posts", 2, 503));
    let id =
        li.m.post(&["through two 503s", "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let tries = attempts(&v);
    assert_eq!(tries.len(), 3, "two refused, the third published: {v:#}");
    for a in &tries[..2] {
        assert_eq!(a["error_class"], "transient", "{a:#}");
    }
    assert_eq!(li.creates(), 3);
    assert_eq!(li.li.posts().len(), 1, "published exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_post_is_permanent_and_names_the_existing_post() {
    let li = machine().await;
    li.connect("Ada", MEMBER_SCOPES, false).await;
    let first =
        li.m.post(&["same words twice", "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    assert_eq!(li.m.status_of(&first).await, "published");
    let original = li.li.posts()[0].urn.clone();
    let second =
        li.m.post(&["same words twice", "--to", "linkedin:Ada", "--now"])
            .await;
    li.agent_once().await;
    let v = li.m.show(&second).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "permanent");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("DUPLICATE_POST")
            && err.contains(&original)
            && err.contains(&post_url(&original)),
        "{err}"
    );
    assert_eq!(attempts(&v).len(), 1, "never retried: {v:#}");
    assert_eq!(li.creates(), 2);
    assert_eq!(li.li.posts().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn video_processing_that_never_finishes_times_out() {
    let mut li = machine().await;
    li.m.set_var("OUTPOST_PROCESSING_TIMEOUT_SECS", "4");
    li.connect("Ada", MEMBER_SCOPES, false).await;
    li.li.set_video_outcome(VideoOutcome::NeverFinishes);
    let clip = Mp4::new(5, vec![Mp4Track::video(b"avc1", 640, 360, 5, 30)]);
    let id =
        li.m.post(&[
            "stuck video",
            "--to",
            "linkedin:Ada",
            "--now",
            "--media",
            &li.file("stuck.mp4", &clip.build()),
        ])
        .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("processing timed out"), "{err}");
    assert_eq!(li.li.videos().len(), 1);
    assert_eq!(li.li.videos()[0].status, "PROCESSING");
    assert_eq!(li.creates(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn video_processing_that_fails_is_permanent_with_linkedins_reason() {
    let li = machine().await;
    li.connect("Ada", MEMBER_SCOPES, false).await;
    li.li.set_video_outcome(VideoOutcome::Fails {
        after_polls: 0,
        reason: "Video codec is not supported".into(),
    });
    let clip = Mp4::new(5, vec![Mp4Track::video(b"avc1", 640, 360, 5, 30)]);
    let id =
        li.m.post(&[
            "broken video",
            "--to",
            "linkedin:Ada",
            "--now",
            "--media",
            &li.file("broken.mp4", &clip.build()),
        ])
        .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "failed", "{v:#}");
    assert_eq!(t["error_class"], "permanent");
    let err = t["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("PROCESSING_FAILED") && err.contains("Video codec is not supported"),
        "{err}"
    );
    assert_eq!(li.creates(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_whose_answer_was_lost_is_reconciled_and_published_once() {
    let li = machine().await;
    let ada = li.connect("Ada", MEMBER_SCOPES, false).await;
    li.li
        .push_fault(Fault::drop_after_commit("POST /rest/posts", 1));
    let id =
        li.m.post(&[
            "the answer got lost (really)",
            "--to",
            "linkedin:Ada",
            "--now",
        ])
        .await;
    li.agent_once().await;
    let v = li.m.show(&id).await;
    let t = target(&v);
    assert_eq!(t["state"], "published", "{v:#}");
    let posts = li.li.posts();
    assert_eq!(posts.len(), 1, "exactly one post");
    assert_eq!(li.creates(), 1, "never sent again");
    assert_eq!(posts[0].author, ada.urn());
    assert_eq!(t["remote_id"], posts[0].urn.as_str());
    assert_eq!(t["remote_url"], post_url(&posts[0].urn));
    assert_eq!(t["progress"][0]["extra"]["reconciled"], true, "{t:#}");
    let lookups = li
        .li
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/rest/posts")
        .count();
    assert!(lookups >= 1, "the author's posts were read");
}
