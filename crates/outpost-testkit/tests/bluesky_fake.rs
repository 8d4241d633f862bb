//! Wire-level tests of the Bluesky fake, through a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Utc;
use outpost_testkit::bluesky::{
    BlueskyConfig, BlueskyFake, Fault, FaultKind, Listener, RecordedRequest, RetryAfter,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const HANDLE: &str = "alice.test";
const PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

struct Resp {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn error(&self) -> (&str, &str) {
        (
            self.json["error"].as_str().unwrap_or("<none>"),
            self.json["message"].as_str().unwrap_or("<none>"),
        )
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn finish(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        json,
    }
}

async fn post(base: &str, nsid: &str, token: Option<&str>, body: Option<Value>) -> Resp {
    let mut req = http().post(format!("{base}/xrpc/{nsid}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    finish(req.send().await.unwrap()).await
}

async fn get(base: &str, nsid: &str, token: Option<&str>, query: &[(&str, &str)]) -> Resp {
    let mut req = http().get(format!("{base}/xrpc/{nsid}")).query(query);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    finish(req.send().await.unwrap()).await
}

struct Env {
    fake: BlueskyFake,
    did: String,
    access: String,
    refresh: String,
}

impl Env {
    fn pds(&self) -> String {
        self.fake.pds_url()
    }
}

async fn login(fake: &BlueskyFake, identifier: &str, password: &str) -> Resp {
    post(
        &fake.entryway_url(),
        "com.atproto.server.createSession",
        None,
        Some(json!({ "identifier": identifier, "password": password })),
    )
    .await
}

async fn setup_with(config: BlueskyConfig) -> Env {
    let fake = BlueskyFake::start_with(config).await.unwrap();
    let did = fake.add_account(HANDLE, PASSWORD);
    let r = login(&fake, HANDLE, PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    Env {
        access: r.json["accessJwt"].as_str().unwrap().to_string(),
        refresh: r.json["refreshJwt"].as_str().unwrap().to_string(),
        fake,
        did,
    }
}

async fn setup() -> Env {
    setup_with(BlueskyConfig::default()).await
}

fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.');
    let header = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let payload = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    assert!(it.next().is_some(), "three parts");
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&payload).unwrap(),
    )
}

fn post_record(text: &str) -> Value {
    json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2026-08-07T05:31:12.156Z",
    })
}

/// A TID for "now"-ish, distinct per `n`.
fn tid(n: u64) -> String {
    const CHARS: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let micros = u64::try_from(Utc::now().timestamp_micros()).unwrap() + n;
    let v = micros << 10;
    (0..13)
        .map(|i| char::from(CHARS[((v >> (60 - 5 * i)) & 31) as usize]))
        .collect()
}

async fn create(env: &Env, rkey: Option<&str>, record: Value) -> Resp {
    let mut body = json!({
        "repo": env.did,
        "collection": "app.bsky.feed.post",
        "record": record,
    });
    if let Some(rkey) = rkey {
        body["rkey"] = json!(rkey);
    }
    post(
        &env.pds(),
        "com.atproto.repo.createRecord",
        Some(&env.access),
        Some(body),
    )
    .await
}

async fn upload(env: &Env, bytes: &[u8], mime: &str) -> Resp {
    let r = http()
        .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", env.pds()))
        .bearer_auth(&env.access)
        .header("Content-Type", mime)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    finish(r).await
}

fn images_embed(blob: &Value, n: usize) -> Value {
    let images: Vec<Value> = (0..n)
        .map(|_| json!({ "image": blob, "alt": "", "aspectRatio": {"width": 1, "height": 1} }))
        .collect();
    json!({ "$type": "app.bsky.embed.images", "images": images })
}

// ---- sessions -----------------------------------------------------------------------

#[tokio::test]
async fn login_on_the_entryway_points_at_the_pds() {
    let fake = BlueskyFake::start().await.unwrap();
    let did = fake.add_account(HANDLE, PASSWORD);
    assert!(did.starts_with("did:plc:"));
    assert_eq!(did.len(), "did:plc:".len() + 24);
    assert_ne!(fake.entryway_url(), fake.pds_url());
    assert!(!fake.pds_url().ends_with('/'));

    let r = login(&fake, HANDLE, PASSWORD).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["did"], did.as_str());
    assert_eq!(r.json["handle"], HANDLE);
    assert_eq!(r.json["active"], true);
    assert!(r.json["email"].is_string());
    assert_eq!(r.json["emailConfirmed"], true);
    let doc = &r.json["didDoc"];
    assert_eq!(doc["id"], did.as_str());
    assert_eq!(doc["alsoKnownAs"], json!([format!("at://{HANDLE}")]));
    let service = &doc["service"][0];
    assert_eq!(service["id"], "#atproto_pds");
    assert_eq!(service["type"], "AtprotoPersonalDataServer");
    assert_eq!(service["serviceEndpoint"], fake.pds_url().as_str());

    // JWT shapes and lifetimes
    let (h, p) = jwt_parts(r.json["accessJwt"].as_str().unwrap());
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(h["alg"], "HS256");
    assert_eq!(p["sub"], did.as_str());
    assert_eq!(p["scope"], "com.atproto.appPass");
    assert_eq!(
        p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(),
        120 * 60
    );
    let (h, p) = jwt_parts(r.json["refreshJwt"].as_str().unwrap());
    assert_eq!(h["typ"], "refresh+jwt");
    assert_eq!(p["scope"], "com.atproto.refresh");
    assert!(p["jti"].is_string());
    assert_eq!(
        p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(),
        90 * 24 * 3600
    );

    // identifier may be the DID too; the session works on the PDS
    let r2 = login(&fake, &did, PASSWORD).await;
    assert_eq!(r2.status, 200);
    let s = get(
        &fake.pds_url(),
        "com.atproto.server.getSession",
        r.json["accessJwt"].as_str(),
        &[],
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.json["did"], did.as_str());
    assert_eq!(s.header("cache-control"), Some("private"));

    // handle → DID → document, with the entryway as resolver and PLC directory
    let h = get(
        &fake.entryway_url(),
        "com.atproto.identity.resolveHandle",
        None,
        &[("handle", HANDLE)],
    )
    .await;
    assert_eq!(h.json, json!({ "did": did }));
    let unknown = get(
        &fake.entryway_url(),
        "com.atproto.identity.resolveHandle",
        None,
        &[("handle", "nobody.test")],
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.error(),
        ("InvalidRequest", "Unable to resolve handle")
    );
    let plc = finish(
        http()
            .get(format!("{}/{did}", fake.entryway_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(plc.status, 200);
    assert_eq!(
        plc.json["service"][0]["serviceEndpoint"],
        fake.pds_url().as_str()
    );
    let missing = finish(
        http()
            .get(format!(
                "{}/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
                fake.entryway_url()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, 404);

    let reqs = fake.requests();
    let logins: Vec<&RecordedRequest> = reqs
        .iter()
        .filter(|r| r.nsid() == Some("com.atproto.server.createSession"))
        .collect();
    assert!(logins.iter().all(|r| r.listener == Listener::Entryway));
    assert_eq!(logins[0].method, "POST");
    assert_eq!(logins[0].status, 200);
    assert_eq!(logins[0].body_json().unwrap()["identifier"], HANDLE);
    let gs = reqs
        .iter()
        .find(|r| r.nsid() == Some("com.atproto.server.getSession"))
        .unwrap();
    assert_eq!(gs.listener, Listener::Pds);
    assert!(gs.header("authorization").unwrap().starts_with("Bearer "));
    assert_eq!(fake.count("com.atproto.server.createSession"), 2);
}

#[tokio::test]
async fn wrong_password_is_401_authentication_required() {
    let fake = BlueskyFake::start().await.unwrap();
    fake.add_account(HANDLE, PASSWORD);
    for (id, pw) in [(HANDLE, "wrong"), ("nobody.test", PASSWORD)] {
        let r = login(&fake, id, pw).await;
        assert_eq!(r.status, 401);
        assert_eq!(
            r.error(),
            ("AuthenticationRequired", "Invalid identifier or password")
        );
    }
    let r = post(
        &fake.entryway_url(),
        "com.atproto.server.createSession",
        None,
        Some(json!({ "identifier": HANDLE })),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        (
            "InvalidRequest",
            "Input must have the property \"password\""
        )
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_has_a_grace_returning_the_same_successor() {
    let env = setup().await;
    let base = env.pds();
    let r1 = post(
        &base,
        "com.atproto.server.refreshSession",
        Some(&env.refresh),
        None,
    )
    .await;
    assert_eq!(r1.status, 200, "{:?}", r1.json);
    let a1 = r1.json["accessJwt"].as_str().unwrap().to_string();
    let f1 = r1.json["refreshJwt"].as_str().unwrap().to_string();
    assert_ne!(f1, env.refresh, "rotated");
    assert_ne!(a1, env.access);
    assert_eq!(r1.json["did"], env.did.as_str());

    // reuse of the old one within the grace: the same successor
    let again = post(
        &base,
        "com.atproto.server.refreshSession",
        Some(&env.refresh),
        None,
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json["refreshJwt"], f1.as_str());
    assert_eq!(again.json["accessJwt"], a1.as_str());

    // the successor itself rotates
    let r2 = post(&base, "com.atproto.server.refreshSession", Some(&f1), None).await;
    assert_eq!(r2.status, 200);
    assert_ne!(r2.json["refreshJwt"], f1.as_str());

    // wrong token kinds
    let r3 = post(&base, "com.atproto.server.refreshSession", Some(&a1), None).await;
    assert_eq!(r3.status, 400);
    assert_eq!(r3.error(), ("InvalidToken", "Invalid token type"));
    let garbage = post(
        &base,
        "com.atproto.server.refreshSession",
        Some("abc.def.ghi"),
        None,
    )
    .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.json["error"], "InvalidToken");
    let none = post(&base, "com.atproto.server.refreshSession", None, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json["error"], "AuthMissing");
    // a refresh token is not an access token
    let wrong = get(&base, "com.atproto.server.getSession", Some(&f1), &[]).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.error(), ("InvalidToken", "Invalid token type"));

    // after the grace the old one is dead
    env.fake
        .advance_time(chrono::Duration::hours(2) + chrono::Duration::seconds(1));
    let dead = post(
        &base,
        "com.atproto.server.refreshSession",
        Some(&env.refresh),
        None,
    )
    .await;
    assert_eq!(dead.status, 400);
    assert_eq!(dead.error(), ("ExpiredToken", "Token has been revoked"));
    // an expired token is reported as expired before its type is looked at
    let expired = post(&base, "com.atproto.server.refreshSession", Some(&a1), None).await;
    assert_eq!(expired.error(), ("ExpiredToken", "Token has expired"));
}

#[tokio::test]
async fn an_expired_access_token_is_400_expired_token_not_401() {
    let env = setup().await;
    let base = env.pds();
    env.fake.expire_access_tokens();
    let r = get(
        &base,
        "com.atproto.server.getSession",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json,
        json!({"error":"ExpiredToken","message":"Token has expired"})
    );

    let fresh = post(
        &base,
        "com.atproto.server.refreshSession",
        Some(&env.refresh),
        None,
    )
    .await;
    assert_eq!(fresh.status, 200);
    let access = fresh.json["accessJwt"].as_str().unwrap();
    let ok = get(&base, "com.atproto.server.getSession", Some(access), &[]).await;
    assert_eq!(ok.status, 200);

    // natural expiry after 120 minutes
    env.fake.advance_time(chrono::Duration::minutes(121));
    let r = get(&base, "com.atproto.server.getSession", Some(access), &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), ("ExpiredToken", "Token has expired"));

    let missing = get(&base, "com.atproto.server.getSession", None, &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.error(), ("AuthMissing", "Authentication Required"));
    let garbage = get(
        &base,
        "com.atproto.server.getSession",
        Some("not-a-jwt"),
        &[],
    )
    .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(
        garbage.error(),
        ("InvalidToken", "Token could not be verified")
    );
}

#[tokio::test]
async fn a_revoked_app_password_blocks_login_and_refresh() {
    let env = setup().await;
    env.fake.revoke_app_password(HANDLE);
    let r = login(&env.fake, HANDLE, PASSWORD).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.error(),
        ("AuthenticationRequired", "Invalid identifier or password")
    );
    let refresh = post(
        &env.pds(),
        "com.atproto.server.refreshSession",
        Some(&env.refresh),
        None,
    )
    .await;
    assert_eq!(refresh.status, 400);
    assert_eq!(refresh.error(), ("ExpiredToken", "Token has been revoked"));
    // a new app password works again
    env.fake.add_account(HANDLE, "new-pass-word-0000");
    assert_eq!(
        login(&env.fake, HANDLE, "new-pass-word-0000").await.status,
        200
    );
}

#[tokio::test]
async fn revoked_sessions_kill_access_and_refresh_tokens() {
    let env = setup().await;
    env.fake.revoke_sessions(HANDLE);
    let r = get(
        &env.pds(),
        "com.atproto.server.getSession",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), ("ExpiredToken", "Token has been revoked"));
    let f = post(
        &env.pds(),
        "com.atproto.server.refreshSession",
        Some(&env.refresh),
        None,
    )
    .await;
    assert_eq!(f.error(), ("ExpiredToken", "Token has been revoked"));
    assert_eq!(login(&env.fake, HANDLE, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn create_session_is_rate_limited_per_account() {
    let fake = BlueskyFake::start_with(BlueskyConfig {
        session_limit_5min: 3,
        ..BlueskyConfig::default()
    })
    .await
    .unwrap();
    fake.add_account(HANDLE, PASSWORD);
    for left in [2, 1, 0] {
        let r = login(&fake, HANDLE, PASSWORD).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(
            r.header("ratelimit-remaining"),
            Some(left.to_string().as_str())
        );
        assert_eq!(r.header("ratelimit-policy"), Some("3;w=300"));
    }
    let r = login(&fake, HANDLE, PASSWORD).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.error(), ("RateLimitExceeded", "Rate Limit Exceeded"));
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry));
    let reset: i64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!((reset - Utc::now().timestamp() - retry).abs() <= 2);
    // another account is not affected
    fake.add_account("bob.test", PASSWORD);
    assert_eq!(login(&fake, "bob.test", PASSWORD).await.status, 200);
    // a new window
    fake.advance_time(chrono::Duration::minutes(5));
    assert_eq!(login(&fake, HANDLE, PASSWORD).await.status, 200);
}

// ---- blobs and records ---------------------------------------------------------------------

#[tokio::test]
async fn upload_blob_returns_a_blob_ref_and_enforces_the_limit() {
    let env = setup().await;
    let r = upload(&env, PNG, "image/png").await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let blob = &r.json["blob"];
    assert_eq!(blob["$type"], "blob");
    assert_eq!(blob["mimeType"], "image/png");
    assert_eq!(blob["size"], PNG.len());
    let link = blob["ref"]["$link"].as_str().unwrap();
    assert!(link.starts_with("bafkrei"), "{link}");
    assert_eq!(env.fake.blob(&env.did, link).unwrap().1, PNG);
    // same bytes, same link
    let again = upload(&env, PNG, "image/png").await;
    assert_eq!(again.json["blob"]["ref"]["$link"], link);

    env.fake.set_blob_limit(10);
    let big = upload(&env, PNG, "image/png").await;
    assert_eq!(big.status, 413);
    assert_eq!(big.error(), ("PayloadTooLarge", "request entity too large"));

    let no_auth = finish(
        http()
            .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", env.pds()))
            .body(PNG.to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(no_auth.status, 401);
}

#[tokio::test]
async fn create_record_returns_uri_cid_commit_and_get_record_finds_it() {
    let env = setup().await;
    let rkey = tid(0);
    let r = create(&env, Some(&rkey), post_record("hello world")).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let uri = format!("at://{}/app.bsky.feed.post/{rkey}", env.did);
    assert_eq!(r.json["uri"], uri.as_str());
    let cid = r.json["cid"].as_str().unwrap();
    assert!(cid.starts_with("bafyrei"));
    assert!(r.json["commit"]["cid"].is_string());
    assert_eq!(r.json["commit"]["rev"].as_str().unwrap().len(), 13);
    assert_eq!(r.json["validationStatus"], "valid");

    let records = env.fake.records(&env.did);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].rkey, rkey);
    assert_eq!(records[0].uri, uri);
    assert_eq!(records[0].value["text"], "hello world");

    // getRecord needs no auth, accepts the handle as repo
    for repo in [env.did.as_str(), HANDLE] {
        let g = get(
            &env.pds(),
            "com.atproto.repo.getRecord",
            None,
            &[
                ("repo", repo),
                ("collection", "app.bsky.feed.post"),
                ("rkey", &rkey),
            ],
        )
        .await;
        assert_eq!(g.status, 200);
        assert_eq!(g.json["uri"], uri.as_str());
        assert_eq!(g.json["cid"], cid);
        assert_eq!(g.json["value"]["text"], "hello world");
    }
    let other = tid(99);
    let g = get(
        &env.pds(),
        "com.atproto.repo.getRecord",
        None,
        &[
            ("repo", &env.did),
            ("collection", "app.bsky.feed.post"),
            ("rkey", &other),
        ],
    )
    .await;
    assert_eq!(g.status, 400);
    assert_eq!(
        g.error(),
        (
            "RecordNotFound",
            format!(
                "Could not locate record: at://{}/app.bsky.feed.post/{other}",
                env.did
            )
            .as_str()
        )
    );

    // without rkey the server picks a TID
    let auto = create(&env, None, post_record("second")).await;
    assert_eq!(auto.status, 200);
    assert_eq!(env.fake.records(&env.did)[1].value["text"], "second");
}

#[tokio::test]
async fn a_duplicate_rkey_is_a_bare_500() {
    let env = setup().await;
    let rkey = tid(0);
    assert_eq!(
        create(&env, Some(&rkey), post_record("one")).await.status,
        200
    );
    let dup = create(&env, Some(&rkey), post_record("two")).await;
    assert_eq!(dup.status, 500);
    assert_eq!(
        dup.json,
        json!({"error":"InternalServerError","message":"Internal Server Error"})
    );
    assert_eq!(env.fake.records(&env.did).len(), 1);
    assert_eq!(env.fake.records(&env.did)[0].value["text"], "one");
}

#[tokio::test]
async fn create_record_validates_the_post_like_the_pds() {
    let env = setup().await;
    let blob = upload(&env, PNG, "image/png").await.json["blob"].clone();
    let now = "2026-08-07T05:31:12.156Z";
    let family = "👨\u{200d}👩\u{200d}👧\u{200d}👦"; // one grapheme, 25 bytes
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"text": "a".repeat(301), "createdAt": now}),
            "Record/text must not be longer than 300 graphemes",
        ),
        (
            json!({"text": family.repeat(121), "createdAt": now}),
            "Record/text must not be longer than 3000 characters",
        ),
        (
            json!({"text": "hi"}),
            "Record must have the property \"createdAt\"",
        ),
        (
            json!({"text": "hi", "createdAt": "2026-08-07 05:31"}),
            "Record/createdAt must be an valid atproto datetime",
        ),
        (
            json!({"text": "hi", "createdAt": now, "facets": [{
                "index": {"byteStart": 0, "byteEnd": 3},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://a.test"}]}]}),
            "Record/facets/0/index/byteEnd must not be greater than the UTF-8 length",
        ),
        (
            json!({"text": "héllo", "createdAt": now, "facets": [{
                "index": {"byteStart": 0, "byteEnd": 2},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}]}]}),
            "UTF-8 character boundary",
        ),
        (
            json!({"text": "hello", "createdAt": now, "facets": [{
                "index": {"byteStart": 0, "byteEnd": 2},
                "features": [{"$type": "app.bsky.richtext.facet#bold"}]}]}),
            "Record/facets/0/features/0 $type must be one of",
        ),
        (
            json!({"text": "", "createdAt": now, "embed": images_embed(&blob, 5)}),
            "Record/embed/images must not have more than 4 elements",
        ),
        (
            json!({"text": "", "createdAt": now, "embed": {"$type": "app.bsky.embed.images",
                "images": [{"image": blob}]}}),
            "Record/embed/images/0 must have the property \"alt\"",
        ),
        (
            json!({"text": "", "createdAt": now, "embed": {"$type": "app.bsky.embed.images",
                "images": [{"image": blob, "alt": "", "aspectRatio": {"width": 0, "height": 1}}]}}),
            "Record/embed/images/0/aspectRatio/width can not be less than 1",
        ),
        (
            json!({"text": "", "createdAt": now, "embed": {"$type": "app.bsky.embed.poll"}}),
            "Record/embed $type must be one of",
        ),
        (
            json!({"text": "", "createdAt": now, "embed": {"images": []}}),
            "Record/embed must be an object which includes the \"$type\" property",
        ),
    ];
    for (i, (record, expected)) in cases.into_iter().enumerate() {
        let r = create(&env, Some(&tid(i as u64)), record).await;
        assert_eq!(r.status, 400, "case {i}: {:?}", r.json);
        let (error, message) = r.error();
        assert_eq!(error, "InvalidRequest", "case {i}");
        assert!(
            message.starts_with("Invalid app.bsky.feed.post record: ")
                && message.contains(expected),
            "case {i}: {message}"
        );
    }

    // 300 graphemes of many bytes is fine; 4 images is fine
    let ok = create(
        &env,
        Some(&tid(100)),
        json!({"text": "é".repeat(300), "createdAt": now, "embed": images_embed(&blob, 4)}),
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.json);
    assert!(
        env.fake.records(&env.did).len() == 1,
        "nothing else was created"
    );
}

#[tokio::test]
async fn record_keys_and_repos_are_checked() {
    let env = setup().await;
    for bad in ["not-a-tid", "kjzfcijpj2z2a", "3jzfcijpj2z2"] {
        let r = create(&env, Some(bad), post_record("x")).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json["error"], "InvalidRequest");
    }
    let r = create(&env, Some("has space"), post_record("x")).await;
    assert_eq!(
        r.error(),
        ("InvalidRequest", "Input/rkey must be a valid Record Key")
    );

    let bob = env.fake.add_account("bob.test", "bob-pass");
    let r = post(
        &env.pds(),
        "com.atproto.repo.createRecord",
        Some(&env.access),
        Some(json!({"repo": bob, "collection": "app.bsky.feed.post", "record": post_record("x")})),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.error(),
        ("AuthenticationRequired", "Authentication Required")
    );
    let r = post(
        &env.pds(),
        "com.atproto.repo.createRecord",
        Some(&env.access),
        Some(json!({"repo": "ghost.test", "collection": "app.bsky.feed.post", "record": post_record("x")})),
    )
    .await;
    assert_eq!(
        r.error(),
        ("InvalidRequest", "Could not find repo: ghost.test")
    );
    assert!(env.fake.records(&env.did).is_empty());
    assert!(env.fake.records(&bob).is_empty());
}

#[tokio::test]
async fn image_blobs_are_checked_at_create_time() {
    let env = setup().await;
    let mut big = PNG.to_vec();
    big.resize(1_500_000, 0);
    let blob = upload(&env, &big, "image/png").await.json["blob"].clone();
    let record = |blob: &Value| json!({"text": "", "createdAt": "2026-08-07T05:31:12Z", "embed": images_embed(blob, 1)});

    env.fake.set_image_max_size(1_000_000);
    let r = create(&env, Some(&tid(1)), record(&blob)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "BlobTooLarge");
    assert!(r.json["message"].as_str().unwrap().contains("too large"));

    env.fake.set_image_max_size(2_000_000);
    let ok = create(&env, Some(&tid(2)), record(&blob)).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json);

    let mut missing = blob.clone();
    missing["ref"]["$link"] = json!("bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    let r = create(&env, Some(&tid(3)), record(&missing)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "BlobNotFound");

    let mut wrong_mime = blob.clone();
    wrong_mime["mimeType"] = json!("image/jpeg");
    let r = create(&env, Some(&tid(4)), record(&wrong_mime)).await;
    assert_eq!(r.json["error"], "InvalidMimeType");
}

#[tokio::test]
async fn unreferenced_blobs_are_garbage_collected() {
    let env = setup().await;
    let blob = upload(&env, PNG, "image/png").await.json["blob"].clone();
    let link = blob["ref"]["$link"].as_str().unwrap().to_string();
    env.fake.advance_time(chrono::Duration::minutes(11));
    let r = create(
        &env,
        Some(&tid(1)),
        json!({"text": "", "createdAt": "2026-08-07T05:31:12Z", "embed": images_embed(&blob, 1)}),
    )
    .await;
    assert_eq!(r.json["error"], "BlobNotFound");
    assert!(env.fake.blob(&env.did, &link).is_none());
}

#[tokio::test]
async fn replies_must_reference_existing_records() {
    let env = setup().await;
    let root = create(&env, Some(&tid(1)), post_record("root")).await.json;
    let strong = json!({"uri": root["uri"], "cid": root["cid"]});
    let mut reply = post_record("reply");
    reply["reply"] = json!({"root": strong, "parent": strong});
    assert_eq!(create(&env, Some(&tid(2)), reply.clone()).await.status, 200);
    reply["reply"]["parent"]["uri"] =
        json!(format!("at://{}/app.bsky.feed.post/{}", env.did, tid(50)));
    let r = create(&env, Some(&tid(3)), reply).await;
    assert_eq!(r.status, 400);
    assert!(r.json["message"]
        .as_str()
        .unwrap()
        .contains("Record/reply/parent"));
}

#[tokio::test]
async fn list_records_pages_newest_first_and_delete_removes() {
    let env = setup().await;
    let keys: Vec<String> = (0..5).map(|i| tid(i * 10)).collect();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            create(&env, Some(k), post_record(&format!("p{i}")))
                .await
                .status,
            200
        );
    }
    let page = get(
        &env.pds(),
        "com.atproto.repo.listRecords",
        None,
        &[
            ("repo", &env.did),
            ("collection", "app.bsky.feed.post"),
            ("limit", "2"),
        ],
    )
    .await;
    let texts: Vec<&str> = page.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["p4", "p3"]);
    let cursor = page.json["cursor"].as_str().unwrap().to_string();
    let next = get(
        &env.pds(),
        "com.atproto.repo.listRecords",
        None,
        &[
            ("repo", &env.did),
            ("collection", "app.bsky.feed.post"),
            ("limit", "2"),
            ("cursor", &cursor),
        ],
    )
    .await;
    assert_eq!(next.json["records"][0]["value"]["text"], "p2");
    let rev = get(
        &env.pds(),
        "com.atproto.repo.listRecords",
        None,
        &[
            ("repo", &env.did),
            ("collection", "app.bsky.feed.post"),
            ("reverse", "true"),
        ],
    )
    .await;
    assert_eq!(rev.json["records"][0]["value"]["text"], "p0");
    assert_eq!(rev.json["records"].as_array().unwrap().len(), 5);

    let d = post(
        &env.pds(),
        "com.atproto.repo.deleteRecord",
        Some(&env.access),
        Some(json!({"repo": env.did, "collection": "app.bsky.feed.post", "rkey": keys[0]})),
    )
    .await;
    assert_eq!(d.status, 200);
    assert!(d.json["commit"]["rev"].is_string());
    assert_eq!(env.fake.records(&env.did).len(), 4);
}

// ---- rate limits -----------------------------------------------------------------------

#[tokio::test]
async fn every_xrpc_response_carries_rate_limit_headers() {
    let env = setup().await;
    let r = get(
        &env.pds(),
        "com.atproto.server.getSession",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(r.header("ratelimit-limit"), Some("3000"));
    assert_eq!(r.header("ratelimit-policy"), Some("3000;w=300"));
    let reset: i64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
    let now = Utc::now().timestamp();
    assert!(reset > now && reset <= now + 301, "reset is epoch seconds");
    let remaining: u32 = r.header("ratelimit-remaining").unwrap().parse().unwrap();
    assert!(remaining < 3000);

    let c = create(&env, Some(&tid(1)), post_record("x")).await;
    assert_eq!(c.header("ratelimit-limit"), Some("5000"));
    assert_eq!(
        c.header("ratelimit-remaining"),
        Some("4997"),
        "create costs 3 points"
    );
    assert_eq!(c.header("ratelimit-policy"), Some("5000;w=3600"));
    let bad = create(&env, Some(&tid(2)), json!({"text": 1})).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("ratelimit-remaining"), Some("4994"));
}

#[tokio::test]
async fn write_points_run_out() {
    let env = setup_with(BlueskyConfig {
        write_points_hour: 7,
        ..BlueskyConfig::default()
    })
    .await;
    assert_eq!(
        create(&env, Some(&tid(1)), post_record("1")).await.status,
        200
    );
    assert_eq!(
        create(&env, Some(&tid(2)), post_record("2")).await.status,
        200
    );
    let r = create(&env, Some(&tid(3)), post_record("3")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json["error"], "RateLimitExceeded");
    assert_eq!(r.header("ratelimit-policy"), Some("7;w=3600"));
    assert!(r.header("retry-after").is_some());
    assert_eq!(env.fake.records(&env.did).len(), 2);
}

#[tokio::test]
async fn the_global_limit_applies_per_ip() {
    let fake = BlueskyFake::start_with(BlueskyConfig {
        rate_limit_all_5min: 2,
        ..BlueskyConfig::default()
    })
    .await
    .unwrap();
    let base = fake.entryway_url();
    for _ in 0..2 {
        let r = get(&base, "com.atproto.server.describeServer", None, &[]).await;
        assert_eq!(r.status, 200);
    }
    let r = get(&base, "com.atproto.server.describeServer", None, &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("ratelimit-policy"), Some("2;w=300"));
}

// ---- faults ------------------------------------------------------------------------------

#[tokio::test]
async fn a_status_burst_is_consumed_after_n_requests() {
    let env = setup().await;
    env.fake.push_fault(Fault::status(
        "com.atproto.repo.createRecord",
        2,
        502,
        "UpstreamFailure",
        "Upstream service unreachable",
    ));
    let rkey = tid(1);
    for _ in 0..2 {
        let r = create(&env, Some(&rkey), post_record("x")).await;
        assert_eq!(r.status, 502);
        assert_eq!(
            r.error(),
            ("UpstreamFailure", "Upstream service unreachable")
        );
    }
    assert!(
        env.fake.records(&env.did).is_empty(),
        "a status fault does nothing"
    );
    assert_eq!(
        create(&env, Some(&rkey), post_record("x")).await.status,
        200
    );
    assert_eq!(env.fake.count("com.atproto.repo.createRecord"), 3);
    let statuses: Vec<u16> = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.nsid() == Some("com.atproto.repo.createRecord"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [502, 502, 200]);
}

#[tokio::test]
async fn faults_match_by_nsid_or_wildcard_in_order() {
    let env = setup().await;
    env.fake
        .push_fault(Fault::status("*", 1, 503, "NotEnoughResources", "busy"));
    env.fake.push_fault(Fault::status(
        "com.atproto.server.getSession",
        1,
        500,
        "InternalServerError",
        "Internal Server Error",
    ));
    let a = get(&env.pds(), "com.atproto.repo.listRecords", None, &[]).await;
    assert_eq!(a.status, 503);
    let b = create(&env, Some(&tid(1)), post_record("x")).await;
    assert_eq!(
        b.status, 200,
        "the getSession fault does not match createRecord"
    );
    let c = get(
        &env.pds(),
        "com.atproto.server.getSession",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(c.status, 500);
    let d = get(
        &env.pds(),
        "com.atproto.server.getSession",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(d.status, 200);
}

#[tokio::test]
async fn rate_limited_faults_send_retry_after_in_both_forms() {
    let env = setup().await;
    env.fake.push_fault(Fault::rate_limited(
        "com.atproto.repo.createRecord",
        1,
        RetryAfter::Seconds(30),
    ));
    let r = create(&env, Some(&tid(1)), post_record("x")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.error(), ("RateLimitExceeded", "Rate Limit Exceeded"));
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("ratelimit-limit"), Some("5000"));
    let reset: i64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!((reset - (Utc::now().timestamp() + 30)).abs() <= 2);

    let at = Utc::now() + chrono::Duration::minutes(17);
    env.fake.push_fault(Fault::rate_limited(
        "com.atproto.repo.createRecord",
        1,
        RetryAfter::HttpDate(at),
    ));
    let r = create(&env, Some(&tid(2)), post_record("x")).await;
    assert_eq!(r.status, 429);
    let header = r.header("retry-after").unwrap();
    let parsed = httpdate::parse_http_date(header).unwrap();
    let secs = parsed
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(secs as i64, at.timestamp());
    assert_eq!(
        r.header("ratelimit-reset"),
        Some(at.timestamp().to_string().as_str())
    );
    assert!(env.fake.records(&env.did).is_empty());
}

#[tokio::test]
async fn drop_after_commit_closes_the_connection_but_the_record_exists() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::DropAfterCommit,
    ));
    let rkey = tid(1);
    let err = http()
        .post(format!("{}/xrpc/com.atproto.repo.createRecord", env.pds()))
        .bearer_auth(&env.access)
        .json(
            &json!({"repo": env.did, "collection": "app.bsky.feed.post", "rkey": rkey,
            "record": post_record("in doubt")}),
        )
        .send()
        .await
        .expect_err("no HTTP response at all");
    assert!(!err.is_status(), "{err:?}");
    assert_eq!(
        env.fake.records(&env.did).len(),
        1,
        "the side effect happened"
    );
    let g = get(
        &env.pds(),
        "com.atproto.repo.getRecord",
        None,
        &[
            ("repo", &env.did),
            ("collection", "app.bsky.feed.post"),
            ("rkey", &rkey),
        ],
    )
    .await;
    assert_eq!(g.status, 200);
    let recorded = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.nsid() == Some("com.atproto.repo.createRecord"))
        .unwrap();
    assert_eq!(recorded.status, 0, "recorded as dropped");
}

#[tokio::test]
async fn delay_after_commit_lets_the_client_time_out_after_the_side_effect() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::DelayAfterCommit(Duration::from_secs(3)),
    ));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client
        .post(format!("{}/xrpc/com.atproto.repo.createRecord", env.pds()))
        .bearer_auth(&env.access)
        .json(
            &json!({"repo": env.did, "collection": "app.bsky.feed.post", "rkey": tid(1),
            "record": post_record("slow")}),
        )
        .send()
        .await
        .expect_err("timeout");
    assert!(err.is_timeout());
    assert_eq!(env.fake.records(&env.did).len(), 1);
}

#[tokio::test]
async fn delay_before_and_latency_slow_the_answer() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        "com.atproto.server.getSession",
        1,
        FaultKind::DelayBefore(Duration::from_millis(200)),
    ));
    let t = std::time::Instant::now();
    let r = get(
        &env.pds(),
        "com.atproto.server.getSession",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));

    env.fake.set_latency(Duration::from_millis(150));
    let t = std::time::Instant::now();
    get(&env.pds(), "com.atproto.server.describeServer", None, &[]).await;
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn an_html_fault_is_a_proxy_error_page() {
    let env = setup().await;
    env.fake.push_fault(Fault::new(
        "com.atproto.repo.uploadBlob",
        1,
        FaultKind::Html { status: 502 },
    ));
    let r = http()
        .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", env.pds()))
        .bearer_auth(&env.access)
        .header("Content-Type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("502 Bad Gateway"));
}

#[tokio::test]
async fn unknown_methods_and_wrong_http_methods() {
    let env = setup().await;
    let r = get(
        &env.pds(),
        "app.bsky.video.getUploadLimits",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error(), ("XRPCNotSupported", "XRPCNotSupported"));
    let r = get(
        &env.pds(),
        "com.atproto.repo.createRecord",
        Some(&env.access),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        (
            "InvalidRequest",
            "Incorrect HTTP method (GET) expected POST"
        )
    );
    let r = http()
        .post(format!("{}/xrpc/com.atproto.repo.createRecord", env.pds()))
        .bearer_auth(&env.access)
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    let r = finish(r).await;
    assert_eq!(
        r.error(),
        (
            "InvalidRequest",
            "Wrong request encoding (Content-Type): text/plain"
        )
    );
}

// ---- control API and binary ------------------------------------------------------------------

#[tokio::test]
async fn the_http_control_api_drives_the_fake() {
    let fake = BlueskyFake::start().await.unwrap();
    let c = http();
    let base = fake.pds_url();
    let r: Value = c
        .post(format!("{base}/_fake/accounts"))
        .json(&json!({"handle": "carol.test", "password": "pw-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let did = r["did"].as_str().unwrap().to_string();
    assert!(did.starts_with("did:plc:"));
    let s = login(&fake, "carol.test", "pw-1").await;
    assert_eq!(s.status, 200);
    let access = s.json["accessJwt"].as_str().unwrap().to_string();

    let fault = json!({"nsid": "com.atproto.server.getSession", "times": 1,
        "kind": {"type": "status", "status": 503, "error": "NotEnoughResources", "message": "busy"}});
    let q = c
        .post(format!("{base}/_fake/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(q.status().as_u16(), 200);
    assert_eq!(
        get(&base, "com.atproto.server.getSession", Some(&access), &[])
            .await
            .status,
        503
    );

    c.post(format!(
        "{}/_fake/expire-access-tokens",
        fake.entryway_url()
    ))
    .send()
    .await
    .unwrap();
    let e = get(&base, "com.atproto.server.getSession", Some(&access), &[]).await;
    assert_eq!(e.error(), ("ExpiredToken", "Token has expired"));

    c.post(format!("{base}/_fake/revoke-app-password"))
        .json(&json!({"handle": "carol.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login(&fake, "carol.test", "pw-1").await.status, 401);
    let unknown = c
        .post(format!("{base}/_fake/revoke-sessions"))
        .json(&json!({"handle": "nobody.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);

    let latency = c
        .post(format!("{base}/_fake/latency"))
        .json(&json!({"ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(latency.status().as_u16(), 200);

    let records: Value = c
        .get(format!("{base}/_fake/records"))
        .query(&[("did", &did)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(records, json!([]));

    let requests: Vec<RecordedRequest> = c
        .get(format!("{base}/_fake/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(requests.iter().all(|r| !r.path.starts_with("/_fake")));
    let first = &requests[0];
    assert_eq!(first.nsid(), Some("com.atproto.server.createSession"));
    assert_eq!(first.body_json().unwrap()["password"], "pw-1");
    assert_eq!(requests, fake.requests());
}

#[tokio::test]
async fn fault_json_round_trips() {
    let faults = vec![
        Fault::status("*", 2, 502, "UpstreamFailure", "x"),
        Fault::rate_limited("a.b.c", 1, RetryAfter::Seconds(5)),
        Fault::rate_limited(
            "a.b.c",
            1,
            RetryAfter::HttpDate(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
        ),
        Fault::new("a.b.c", 1, FaultKind::DropAfterCommit),
        Fault::new(
            "a.b.c",
            1,
            FaultKind::DelayAfterCommit(Duration::from_millis(1500)),
        ),
        Fault::new(
            "a.b.c",
            1,
            FaultKind::DelayBefore(Duration::from_millis(10)),
        ),
        Fault::new("a.b.c", 1, FaultKind::Html { status: 504 }),
    ];
    let text = serde_json::to_string(&faults).unwrap();
    let back: Vec<Fault> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, faults);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v[4]["kind"],
        json!({"type": "delay_after_commit", "ms": 1500})
    );
    assert_eq!(v[1]["kind"]["retry_after"], json!({"seconds": 5}));
    let minimal: Fault =
        serde_json::from_value(json!({"nsid": "*", "kind": {"type": "drop_after_commit"}}))
            .unwrap();
    assert_eq!(minimal.times, 1);
}

#[tokio::test]
async fn the_binary_prints_its_urls_and_serves() {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost-fake"))
        .args([
            "bluesky",
            "--account",
            "dave.test:pw-dave",
            "--account",
            "erin.test:pw-erin",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let entryway = info["entryway"].as_str().unwrap();
    let pds = info["pds"].as_str().unwrap();
    assert!(entryway.starts_with("http://127.0.0.1:"));
    assert_ne!(entryway, pds);
    let accounts = info["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["handle"], "dave.test");
    assert!(accounts[0]["did"].as_str().unwrap().starts_with("did:plc:"));

    let r = post(
        entryway,
        "com.atproto.server.createSession",
        None,
        Some(json!({"identifier": "erin.test", "password": "pw-erin"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["did"], accounts[1]["did"]);
    assert_eq!(r.json["didDoc"]["service"][0]["serviceEndpoint"], pds);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_binary_rejects_bad_arguments() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost-fake"))
        .args(["mastodon"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}
