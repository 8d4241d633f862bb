//! The Bluesky client against the test kit's fake entryway + PDS, over loopback HTTP.

use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use outpost_auth::{account_key, MemoryStore, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishError, PublishedPart,
};
use outpost_networks::bluesky::Bluesky;
use outpost_networks::{Lookup, PartRequest, Publisher};
use outpost_testkit::bluesky::{BlueskyFake, Fault, FaultKind, Listener, RetryAfter};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const HANDLE: &str = "alice.test";
const ACCOUNT_ID: &str = "a_alice";

struct Env {
    fake: BlueskyFake,
    store: Arc<MemoryStore>,
    bsky: Bluesky,
    account: Account,
    did: String,
    dir: tempfile::TempDir,
}

fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    outpost_networks::http::client_builder()
        .timeout(timeout)
        .build()
        .expect("client")
}

fn publisher(fake: &BlueskyFake, store: &Arc<MemoryStore>) -> Bluesky {
    let secrets: Arc<dyn SecretStore> = store.clone();
    // The fake's entryway is also its PLC directory.
    Bluesky::new(fake.entryway_url(), fake.entryway_url(), secrets)
        .with_http_client(client_with_timeout(Duration::from_secs(2)))
}

async fn setup() -> Env {
    let fake = BlueskyFake::start().await.expect("fake starts");
    let did = fake.add_account(HANDLE, APP_PASSWORD);
    let store = Arc::new(MemoryStore::new());
    let bsky = publisher(&fake, &store);
    let connected = bsky
        .connect(ACCOUNT_ID, HANDLE, None, &Secret::new(APP_PASSWORD))
        .await
        .expect("connect");
    assert_eq!(connected.did, did);
    let account = Account {
        id: ACCOUNT_ID.into(),
        network: Network::Bluesky,
        handle: connected.handle.clone(),
        remote_id: Some(connected.did.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: json!({ "pds": connected.pds }),
        created_at: Utc::now(),
    };
    Env {
        fake,
        store,
        bsky,
        account,
        did,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

fn text_part(text: &str) -> Part {
    Part {
        text: text.into(),
        media: vec![],
    }
}

impl Env {
    fn rkey(&self, key: &str) -> String {
        self.bsky
            .new_client_handle(key, Utc::now())
            .expect("Bluesky always chooses a record key")
    }

    fn req<'a>(
        &'a self,
        part: &'a Part,
        previous: &'a [PublishedPart],
        rkey: Option<&'a str>,
    ) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: previous.len(),
            part,
            previous,
            client_handle: rkey,
            intent_at: DateTime::parse_from_rfc3339("2026-11-28T12:00:00.123Z")
                .expect("date")
                .with_timezone(&Utc),
            options: &serde_json::Value::Null,
            first_comment: None,
            scheduled_at: None,
        }
    }

    async fn publish_text(&self, text: &str, key: &str) -> Result<PublishedPart, PublishError> {
        let part = text_part(text);
        let rkey = self.rkey(key);
        self.bsky.publish(&self.req(&part, &[], Some(&rkey))).await
    }

    fn stored_session(&self) -> Value {
        let raw = self
            .store
            .get(&account_key(ACCOUNT_ID, "session"))
            .expect("store")
            .expect("a session is stored");
        serde_json::from_str(raw.expose()).expect("session JSON")
    }

    /// Every secret that ever travelled: the app password, and every bearer token the client
    /// sent (access and refresh JWTs), plus the stored session's tokens.
    fn all_secrets(&self) -> Vec<String> {
        let mut out = vec![APP_PASSWORD.to_string()];
        for r in self.fake.requests() {
            if let Some(token) = r
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
            {
                out.push(token.to_string());
            }
        }
        if let Ok(Some(raw)) = self.store.get(&account_key(ACCOUNT_ID, "session")) {
            if let Ok(v) = serde_json::from_str::<Value>(raw.expose()) {
                for k in ["accessJwt", "refreshJwt"] {
                    if let Some(t) = v[k].as_str() {
                        out.push(t.to_string());
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Neither the message nor the excerpt may contain a secret (or anything JWT-shaped).
    fn assert_clean(&self, e: &PublishError) {
        let excerpt = e.excerpt.clone().unwrap_or_default();
        for secret in self.all_secrets() {
            assert!(
                !e.message.contains(&secret),
                "secret in message: {}",
                e.message
            );
            assert!(!excerpt.contains(&secret), "secret in excerpt: {excerpt}");
        }
        assert!(
            !e.message.contains("eyJ"),
            "JWT-shaped text in message: {}",
            e.message
        );
        assert!(
            !excerpt.contains("eyJ"),
            "JWT-shaped text in excerpt: {excerpt}"
        );
        assert!(e.message.starts_with("Bluesky: "), "{}", e.message);
    }

    fn write_png(&self, name: &str, width: u32, height: u32) -> MediaRef {
        let path = self.dir.path().join(name);
        let bytes = png(width, height);
        std::fs::write(&path, &bytes).expect("write png");
        media(
            &path,
            "image/png",
            bytes.len() as u64,
            Some((width, height)),
        )
    }
}

fn media(path: &Path, mime: &str, bytes: u64, size: Option<(u32, u32)>) -> MediaRef {
    MediaRef {
        path: path.to_string_lossy().into_owned(),
        sha256: "0".repeat(64),
        mime: mime.into(),
        bytes,
        width: size.map(|s| s.0),
        height: size.map(|s| s.1),
        alt: None,
    }
}

// A minimal, valid RGB PNG: IHDR, one IDAT with a stored (uncompressed) zlib stream, IEND.
fn png(width: u32, height: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x * 40) as u8, (y * 40) as u8, 0x80]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn byte_range(text: &str, needle: &str) -> (usize, usize) {
    let start = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in {text}"));
    (start, start + needle.len())
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn connect_logs_in_at_the_entryway_and_posts_to_the_did_doc_pds() {
    let env = setup().await;
    let logins: Vec<_> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.nsid() == Some("com.atproto.server.createSession"))
        .collect();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].listener, Listener::Entryway);
    assert_eq!(
        env.account.setting("pds"),
        Some(env.fake.pds_url().as_str())
    );

    // Both secrets are in the store, under the documented keys.
    let pw = env
        .store
        .get(&account_key(ACCOUNT_ID, "app_password"))
        .expect("store");
    assert_eq!(pw.as_ref().map(Secret::expose), Some(APP_PASSWORD));
    let session = env.stored_session();
    assert_eq!(session["did"], env.did.as_str());
    assert_eq!(session["pds"], env.fake.pds_url().as_str());
    assert_eq!(session["handle"], HANDLE);
    assert!(session["accessJwt"].as_str().is_some_and(|t| !t.is_empty()));

    let rkey = env.rkey("k-connect");
    let part = text_part("hello from Outpost");
    let published = env
        .bsky
        .publish(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect("publish");
    assert_eq!(
        published.remote_id,
        format!("at://{}/app.bsky.feed.post/{rkey}", env.did)
    );
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://bsky.app/profile/{}/post/{rkey}", env.did).as_str())
    );
    assert_eq!(published.extra["rkey"], rkey.as_str());
    let creates: Vec<_> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.nsid() == Some("com.atproto.repo.createRecord"))
        .collect();
    assert_eq!(creates.len(), 1);
    assert_eq!(
        creates[0].listener,
        Listener::Pds,
        "posts go to the PDS named in the DID document"
    );
    let body = creates[0].body_json().expect("json body");
    assert_eq!(body["repo"], env.did.as_str());
    assert_eq!(body["collection"], "app.bsky.feed.post");
    assert_eq!(body["rkey"], rkey.as_str());

    let records = env.fake.records(&env.did);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value["text"], "hello from Outpost");
    assert_eq!(records[0].value["createdAt"], "2026-11-28T12:00:00.123Z");
    assert_eq!(published.extra["cid"], records[0].cid.as_str());
}

#[tokio::test]
async fn connect_with_an_explicit_pds_logs_in_there() {
    let fake = BlueskyFake::start().await.expect("fake");
    fake.add_account(HANDLE, APP_PASSWORD);
    let store = Arc::new(MemoryStore::new());
    let bsky = publisher(&fake, &store);
    let connected = bsky
        .connect(
            ACCOUNT_ID,
            HANDLE,
            Some(&format!("{}/", fake.pds_url())),
            &Secret::new(APP_PASSWORD),
        )
        .await
        .expect("connect");
    assert_eq!(connected.pds, fake.pds_url());
    let login = fake
        .requests()
        .into_iter()
        .find(|r| r.nsid() == Some("com.atproto.server.createSession"))
        .expect("a login");
    assert_eq!(login.listener, Listener::Pds);
}

#[tokio::test]
async fn connect_with_a_wrong_app_password_says_so_without_echoing_it() {
    let fake = BlueskyFake::start().await.expect("fake");
    fake.add_account(HANDLE, APP_PASSWORD);
    let store = Arc::new(MemoryStore::new());
    let bsky = publisher(&fake, &store);
    let wrong = "wxyz-wxyz-wxyz-wxyz";
    let e = bsky
        .connect(ACCOUNT_ID, HANDLE, None, &Secret::new(wrong))
        .await
        .expect_err("wrong password");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(
        e.message.contains("app password revoked or wrong"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(wrong) && !e.excerpt.unwrap_or_default().contains(wrong));
    assert!(store.is_empty(), "nothing is stored when the login fails");
}

#[tokio::test]
async fn facets_carry_utf8_byte_offsets_for_links_mentions_and_hashtags() {
    let env = setup().await;
    let bob = env.fake.add_account("bob.test", "bob-app-pass-0000");
    let text = "Grüße 👋 café — lies https://example.com/ü?x=1, frag @bob.test und #rüst! (@nobody.invalid)";
    env.publish_text(text, "k-facets").await.expect("publish");
    let record = env.fake.records(&env.did).pop().expect("a record").value;
    let facets = record["facets"].as_array().expect("facets").clone();
    assert_eq!(
        facets.len(),
        3,
        "link, mention, tag; the unknown handle stays text: {facets:#?}"
    );

    let (s, e) = byte_range(text, "https://example.com/ü?x=1");
    assert_eq!(facets[0]["index"], json!({"byteStart": s, "byteEnd": e}));
    assert_eq!(
        facets[0]["features"][0],
        json!({"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/ü?x=1"})
    );
    let (s, e) = byte_range(text, "@bob.test");
    assert_eq!(facets[1]["index"], json!({"byteStart": s, "byteEnd": e}));
    assert_eq!(
        facets[1]["features"][0],
        json!({"$type": "app.bsky.richtext.facet#mention", "did": bob})
    );
    let (s, e) = byte_range(text, "#rüst");
    assert_eq!(facets[2]["index"], json!({"byteStart": s, "byteEnd": e}));
    assert_eq!(
        facets[2]["features"][0],
        json!({"$type": "app.bsky.richtext.facet#tag", "tag": "rüst"})
    );
    assert!(
        s > text.chars().position(|c| c == '#').unwrap_or(0),
        "offsets are bytes, not chars"
    );
}

#[tokio::test]
async fn a_mention_inside_a_link_is_not_a_second_facet() {
    let env = setup().await;
    env.fake.add_account("bob.test", "bob-app-pass-0000");
    let text = "see https://example.com/@bob.test now";
    env.publish_text(text, "k-overlap").await.expect("publish");
    let record = env.fake.records(&env.did).pop().expect("a record").value;
    let facets = record["facets"].as_array().expect("facets");
    assert_eq!(facets.len(), 1, "{facets:#?}");
    assert_eq!(
        facets[0]["features"][0]["$type"],
        "app.bsky.richtext.facet#link"
    );
}

#[tokio::test]
async fn two_images_go_up_as_blobs_with_alt_text_and_aspect_ratio() {
    let env = setup().await;
    let mut wide = env.write_png("wide.png", 6, 3);
    wide.alt = Some("A wide test pattern".into());
    let mut tall = env.write_png("tall.png", 2, 5);
    tall.width = None; // unknown: the client reads the size from the file
    tall.height = None;
    let part = Part {
        text: "two pictures".into(),
        media: vec![wide.clone(), tall],
    };
    let rkey = env.rkey("k-images");
    env.bsky
        .publish(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect("publish");
    assert_eq!(env.fake.count("com.atproto.repo.uploadBlob"), 2);
    let uploads: Vec<_> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.nsid() == Some("com.atproto.repo.uploadBlob"))
        .collect();
    assert!(uploads
        .iter()
        .all(|u| u.header("content-type") == Some("image/png")));
    assert!(uploads.iter().all(|u| u.listener == Listener::Pds));
    assert_eq!(uploads[0].body, std::fs::read(&wide.path).expect("read"));

    let record = env.fake.records(&env.did).pop().expect("a record").value;
    let embed = &record["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    let images = embed["images"].as_array().expect("images");
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["alt"], "A wide test pattern");
    assert_eq!(images[0]["aspectRatio"], json!({"width": 6, "height": 3}));
    assert_eq!(images[1]["alt"], "", "alt is required, and may be empty");
    assert_eq!(images[1]["aspectRatio"], json!({"width": 2, "height": 5}));
    assert_eq!(images[0]["image"]["mimeType"], "image/png");
    let cid = images[0]["image"]["ref"]["$link"]
        .as_str()
        .expect("blob cid");
    assert!(
        env.fake.blob(&env.did, cid).is_some(),
        "the blob is stored on the PDS"
    );
}

#[tokio::test]
async fn an_image_over_one_megabyte_is_refused_before_any_upload() {
    let env = setup().await;
    let small = env.write_png("small.png", 2, 2);
    let path = env.dir.path().join("photo.png");
    std::fs::write(&path, vec![0u8; 1_500_000]).expect("write");
    let big = media(&path, "image/png", 1_500_000, Some((4000, 3000)));
    let part = Part {
        text: "too big".into(),
        media: vec![small, big],
    };
    let rkey = env.rkey("k-big");
    let e = env
        .bsky
        .publish(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect_err("too big");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message
            .starts_with("Bluesky: image photo.png is 1,500,000 bytes; the limit is 1,000,000 — "),
        "{}",
        e.message
    );
    assert_eq!(
        env.fake.count("com.atproto.repo.uploadBlob"),
        0,
        "nothing is uploaded"
    );
    assert_eq!(env.fake.count("com.atproto.repo.createRecord"), 0);
}

#[tokio::test]
async fn a_missing_image_file_is_permanent_and_named() {
    let env = setup().await;
    let gone = media(&env.dir.path().join("gone.jpg"), "image/jpeg", 10, None);
    let part = Part {
        text: "x".into(),
        media: vec![gone],
    };
    let rkey = env.rkey("k-gone");
    let e = env
        .bsky
        .publish(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect_err("missing");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("gone.jpg"), "{}", e.message);
}

#[tokio::test]
async fn a_thread_of_three_links_each_part_to_the_root_and_its_parent() {
    let env = setup().await;
    let mut done: Vec<PublishedPart> = Vec::new();
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        let part = text_part(text);
        let rkey = env.rkey(&format!("k-thread:{i}"));
        let mut req = env.req(&part, &done, Some(&rkey));
        req.part_index = i;
        let published = env.bsky.publish(&req).await.expect("publish part");
        done.push(published);
    }
    let records = env.fake.records(&env.did);
    assert_eq!(records.len(), 3);
    assert!(
        records[0].value.get("reply").is_none(),
        "the first part is not a reply"
    );
    let strong = |p: &PublishedPart| json!({"uri": p.remote_id, "cid": p.extra["cid"]});
    assert_eq!(
        records[1].value["reply"],
        json!({"root": strong(&done[0]), "parent": strong(&done[0])})
    );
    assert_eq!(
        records[2].value["reply"],
        json!({"root": strong(&done[0]), "parent": strong(&done[1])})
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_post_made_once() {
    let env = setup().await;
    let before = env.stored_session();
    env.fake.expire_access_tokens();
    env.publish_text("after expiry", "k-expired")
        .await
        .expect("publish after refresh");
    assert_eq!(env.fake.records(&env.did).len(), 1, "exactly one record");
    assert_eq!(env.fake.count("com.atproto.server.refreshSession"), 1);
    assert_eq!(
        env.fake.count("com.atproto.repo.createRecord"),
        2,
        "the refused one and the retry"
    );
    assert_eq!(
        env.fake.count("com.atproto.server.createSession"),
        1,
        "no new login"
    );
    let after = env.stored_session();
    assert_ne!(
        before["refreshJwt"], after["refreshJwt"],
        "the rotated session is persisted"
    );
    assert_ne!(before["accessJwt"], after["accessJwt"]);

    // A second Bluesky (another process) picks the rotated session up from the store.
    let other = publisher(&env.fake, &env.store);
    let part = text_part("from another process");
    let rkey = env.rkey("k-other");
    other
        .publish(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect("publish with the stored session");
    assert_eq!(env.fake.count("com.atproto.server.createSession"), 1);
    assert_eq!(env.fake.count("com.atproto.server.refreshSession"), 1);
}

#[tokio::test]
async fn a_dead_refresh_token_falls_back_to_the_stored_app_password() {
    let env = setup().await;
    env.fake.revoke_sessions(HANDLE);
    env.publish_text("after revocation", "k-relogin")
        .await
        .expect("publish after a new login");
    assert_eq!(env.fake.count("com.atproto.server.refreshSession"), 1);
    assert_eq!(
        env.fake.count("com.atproto.server.createSession"),
        2,
        "connect + one new login"
    );
    let relogin = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.nsid() == Some("com.atproto.server.createSession"))
        .nth(1)
        .expect("second login");
    assert_eq!(
        relogin.listener,
        Listener::Entryway,
        "logs in where connect did"
    );
    assert_eq!(env.fake.records(&env.did).len(), 1);
}

#[tokio::test]
async fn a_revoked_app_password_needs_the_user_and_leaks_nothing() {
    let env = setup().await;
    env.fake.revoke_app_password(HANDLE);
    env.fake.revoke_sessions(HANDLE);
    let e = env
        .publish_text("never", "k-revoked")
        .await
        .expect_err("must fail");
    assert_eq!(e.class, ErrorClass::Reauth);
    assert!(
        e.message.contains("app password revoked or wrong"),
        "{}",
        e.message
    );
    assert!(e.message.contains("reconnect the account"), "{}", e.message);
    assert!(
        e.message
            .contains("outpost accounts add bluesky --handle alice.test"),
        "{}",
        e.message
    );
    env.assert_clean(&e);
    assert_eq!(env.fake.records(&env.did).len(), 0);

    // The engine's one refresh says the same.
    let e = env
        .bsky
        .refresh(&env.account)
        .await
        .expect_err("refresh fails");
    assert_eq!(e.class, ErrorClass::Reauth);
    env.assert_clean(&e);
    let e = env.bsky.probe(&env.account).await.expect_err("probe fails");
    assert_eq!(e.class, ErrorClass::Reauth);
    env.assert_clean(&e);

    // Reconciliation needs no login: it still works with dead credentials.
    let part = text_part("never");
    let rkey = env.rkey("k-revoked");
    let found = env
        .bsky
        .lookup(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect("lookup");
    assert_eq!(found, Lookup::NotFound);
}

#[tokio::test]
async fn refresh_rotates_and_probe_uses_the_new_session() {
    let env = setup().await;
    let before = env.stored_session();
    env.bsky.refresh(&env.account).await.expect("refresh");
    let after = env.stored_session();
    assert_ne!(before["refreshJwt"], after["refreshJwt"]);
    env.bsky.probe(&env.account).await.expect("probe");
    let probe = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.nsid() == Some("com.atproto.server.getSession"))
        .expect("getSession");
    assert_eq!(
        probe.header("authorization").map(str::to_string),
        after["accessJwt"].as_str().map(|t| format!("Bearer {t}"))
    );
    assert_eq!(
        env.fake.count("com.atproto.repo.createRecord"),
        0,
        "a probe never publishes"
    );
}

#[tokio::test]
async fn server_unavailable_is_transient_and_nothing_is_posted() {
    let env = setup().await;
    env.fake.push_fault(Fault::status(
        "com.atproto.repo.createRecord",
        1,
        503,
        "NotEnoughResources",
        "Not enough resources",
    ));
    let e = env.publish_text("busy", "k-503").await.expect_err("503");
    assert!(e.class.is_transient(), "{e:?}");
    assert_eq!(
        e.message,
        "Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — Outpost will retry"
    );
    assert!(e
        .excerpt
        .as_deref()
        .is_some_and(|x| x.contains("NotEnoughResources")));
    env.assert_clean(&e);
    assert_eq!(
        env.fake.count("com.atproto.repo.getRecord"),
        1,
        "checked before calling it transient"
    );
    assert!(env.fake.records(&env.did).is_empty());
}

#[tokio::test]
async fn a_proxy_html_error_page_is_transient_with_a_readable_message() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        "com.atproto.repo.uploadBlob",
        1,
        FaultKind::Html { status: 502 },
    ));
    let img = env.write_png("a.png", 2, 2);
    let part = Part {
        text: "x".into(),
        media: vec![img],
    };
    let rkey = env.rkey("k-html");
    let e = env
        .bsky
        .publish(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect_err("502");
    assert!(e.class.is_transient(), "{e:?}");
    assert_eq!(
        e.message,
        "Bluesky: the server is unavailable (HTTP 502) — Outpost will retry"
    );
    assert!(e
        .excerpt
        .as_deref()
        .is_some_and(|x| x.contains("502 Bad Gateway")));
}

#[tokio::test]
async fn rate_limits_give_the_instant_to_wait_for_in_seconds_or_as_a_date() {
    let env = setup().await;
    env.fake.push_fault(Fault::rate_limited(
        "com.atproto.repo.createRecord",
        1,
        RetryAfter::Seconds(120),
    ));
    let before = Utc::now();
    let e = env
        .publish_text("slow down", "k-429s")
        .await
        .expect_err("429");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("expected rate_limited, got {e:?}");
    };
    let expected = before + ChronoDuration::seconds(120);
    assert!(
        (until - expected).num_seconds().abs() <= 3,
        "until {until} should be about {expected}"
    );
    env.assert_clean(&e);

    let date = (Utc::now() + ChronoDuration::minutes(17)).trunc_subsecs(0);
    env.fake.push_fault(Fault::rate_limited(
        "com.atproto.repo.createRecord",
        1,
        RetryAfter::HttpDate(date),
    ));
    let e = env
        .publish_text("slow down", "k-429d")
        .await
        .expect_err("429");
    assert_eq!(e.class, ErrorClass::RateLimited { until: date });
    assert!(
        e.message.contains("Outpost will wait until"),
        "{}",
        e.message
    );
    assert_eq!(
        env.fake.count("com.atproto.repo.getRecord"),
        0,
        "a 429 did nothing: no lookup"
    );
    assert!(env.fake.records(&env.did).is_empty());
}

#[tokio::test]
async fn a_dropped_connection_after_the_commit_is_unknown_then_found_by_lookup() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::DropAfterCommit,
    ));
    let part = text_part("did it go out?");
    let rkey = env.rkey("k-drop");
    let req = env.req(&part, &[], Some(&rkey));
    let e = env.bsky.publish(&req).await.expect_err("dropped");
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e:?}");
    env.assert_clean(&e);
    assert_eq!(env.fake.records(&env.did).len(), 1, "the fake did commit");

    let found = env.bsky.lookup(&req).await.expect("lookup");
    let Lookup::Found(part_found) = found else {
        panic!("expected Found, got {found:?}");
    };
    let record = &env.fake.records(&env.did)[0];
    assert_eq!(part_found.remote_id, record.uri);
    assert_eq!(part_found.extra["cid"], record.cid.as_str());
    assert_eq!(part_found.extra["rkey"], rkey.as_str());

    // A (wrong) blind retry with the same rkey cannot duplicate: the PDS answers the duplicate
    // with a bare 500, the client looks the record up and reports it as published.
    let again = env
        .bsky
        .publish(&req)
        .await
        .expect("duplicate rkey resolves to the record");
    assert_eq!(again.remote_id, record.uri);
    assert_eq!(env.fake.records(&env.did).len(), 1, "still one post");
}

#[tokio::test]
async fn a_slow_answer_after_the_commit_is_unknown_outcome() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::DelayAfterCommit(Duration::from_secs(5)),
    ));
    let e = env
        .publish_text("slow", "k-slow")
        .await
        .expect_err("timeout");
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e:?}");
    assert!(e.message.contains("timed out"), "{}", e.message);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let env = setup().await;
    // A port nobody listens on: bind, note it, close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let store = Arc::new(MemoryStore::new());
    let mut session = env.stored_session();
    session["pds"] = json!(format!("http://127.0.0.1:{port}"));
    store
        .set(
            &account_key(ACCOUNT_ID, "session"),
            &Secret::new(session.to_string()),
        )
        .expect("store");
    let bsky = publisher(&env.fake, &store);
    let part = text_part("nobody home");
    let rkey = env.rkey("k-refused");
    let e = bsky
        .publish(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect_err("refused");
    assert!(e.class.is_transient(), "{e:?}");
    assert!(e.message.contains("could not connect"), "{}", e.message);
}

#[tokio::test]
async fn lookup_says_not_found_for_an_unused_rkey_and_cannot_tell_without_one() {
    let env = setup().await;
    let part = text_part("never sent");
    let rkey = env.rkey("k-unused");
    let found = env
        .bsky
        .lookup(&env.req(&part, &[], Some(&rkey)))
        .await
        .expect("lookup");
    assert_eq!(found, Lookup::NotFound);
    let found = env
        .bsky
        .lookup(&env.req(&part, &[], None))
        .await
        .expect("lookup");
    assert!(matches!(found, Lookup::CannotTell(_)), "{found:?}");
    let e = env
        .bsky
        .publish(&env.req(&part, &[], None))
        .await
        .expect_err("no rkey");
    assert_eq!(e.class, ErrorClass::Permanent);
}

#[tokio::test]
async fn a_record_the_pds_rejects_is_permanent() {
    let env = setup().await;
    let e = env
        .publish_text(&"a".repeat(301), "k-long")
        .await
        .expect_err("too long");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(
        e.message.contains("HTTP 400 InvalidRequest"),
        "{}",
        e.message
    );
    env.assert_clean(&e);
}

#[tokio::test]
async fn client_handles_are_tids_unique_even_at_the_same_instant() {
    // The engine stores the first handle of a key before using it, so handles need not be
    // reproducible — but two keys must never share one (a test clock stands still).
    let env = setup().await;
    let now = Utc::now();
    let a = env.bsky.new_client_handle("key-a", now).expect("tid");
    assert_eq!(a.len(), 13);
    let b = env.bsky.new_client_handle("key-b", now).expect("tid");
    assert_ne!(a, b);
    assert!(a < b, "TIDs keep increasing: {a} < {b}");
}

#[tokio::test]
async fn no_tracing_event_carries_a_secret() {
    use std::io::Write;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = setup().await;
    env.fake.expire_access_tokens();
    env.publish_text("traced", "k-trace-1")
        .await
        .expect("publish");
    env.fake.revoke_app_password(HANDLE);
    env.fake.revoke_sessions(HANDLE);
    let _ = env.publish_text("traced", "k-trace-2").await;

    let logged =
        String::from_utf8_lossy(&sink.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(
        logged.contains("nsid=\"com.atproto.repo.createRecord\""),
        "events carry fields: {logged}"
    );
    assert!(logged.contains("duration_ms="), "{logged}");
    for secret in env.all_secrets() {
        assert!(!logged.contains(&secret), "a secret was logged");
    }
    assert!(!logged.contains("eyJ"), "a JWT-shaped string was logged");
}
