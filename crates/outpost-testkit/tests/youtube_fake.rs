//! Tests of the YouTube fake itself, over real loopback HTTP: OAuth for installed apps, the
//! resumable upload protocol (chunk rules, 308 + Range, status queries, broken connections,
//! dead sessions), processing, scheduling, quota, thumbnails, the uploads playlist and the
//! control API.

use base64::Engine as _;
use outpost_testkit::youtube::{
    checksum_bytes, pacific_midnight_after, Consent, Endpoint, Fault, FaultKind, Processing,
    QuotaModel, QuotaUse, YouTubeConfig, YouTubeFake, YtTokens, DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET, SCOPE_UPLOAD, UNIT,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn http() -> reqwest::Client {
    // 308 is "Resume Incomplete" here: never follow it.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn fake() -> YouTubeFake {
    YouTubeFake::start(YouTubeConfig::default()).await
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn metadata(title: &str) -> Value {
    json!({"snippet": {"title": title, "description": "d", "categoryId": "22"},
           "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": false}})
}

/// Starts a session; returns the session URI.
async fn start_session(fake: &YouTubeFake, token: &str, total: u64, body: &Value) -> String {
    let r = http()
        .post(format!(
            "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            fake.base_url()
        ))
        .bearer_auth(token)
        .header("x-upload-content-length", total.to_string())
        .header("x-upload-content-type", "video/mp4")
        .json(body)
        .send()
        .await
        .expect("session start");
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    assert!(loc.contains("upload_id="), "{loc}");
    loc
}

async fn put(uri: &str, range: &str, body: Vec<u8>) -> reqwest::Response {
    http()
        .put(uri)
        .header("content-range", range)
        .header("content-type", "video/mp4")
        .body(body)
        .send()
        .await
        .expect("put")
}

async fn query(uri: &str, total: u64) -> reqwest::Response {
    put(uri, &format!("bytes */{total}"), Vec::new()).await
}

fn range_of(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn reason_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    (
        status,
        v["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn token_form(fake: &YouTubeFake, form: &[(&str, &str)]) -> (u16, Value) {
    let r = http()
        .post(format!("{}/token", fake.base_url()))
        .form(form)
        .send()
        .await
        .expect("token");
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_installed_app_flow_needs_base64url_pkce_and_refresh_does_not_rotate() {
    let fake = fake().await;
    let channel = fake.create_channel("alice", "Alice");
    let verifier = "a".repeat(43) + "-._~verifier";
    let redirect = "http://127.0.0.1:49999/callback";
    fake.set_consent(Some(Consent {
        channel_id: channel.id.clone(),
        grant_scopes: None,
        decline: false,
    }));
    let url = format!(
        "{}/o/oauth2/v2/auth?response_type=code&client_id={DEFAULT_CLIENT_ID}&redirect_uri={}&scope={}&state=s1&code_challenge={}&code_challenge_method=S256&access_type=offline&prompt=consent",
        fake.base_url(),
        urlencode(redirect),
        urlencode(&format!("{SCOPE_UPLOAD} https://www.googleapis.com/auth/youtube.readonly")),
        challenge(&verifier)
    );
    let r = http().get(&url).send().await.expect("authorize");
    assert_eq!(r.status().as_u16(), 302);
    let loc = reqwest::Url::parse(
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location"),
    )
    .expect("url");
    assert_eq!(loc.port(), Some(49999));
    let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "s1");
    let code = q["code"].clone();
    // Without the secret (Desktop clients may leave it out), with the verifier.
    let (status, body) = token_form(
        &fake,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", DEFAULT_CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let rt = body["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    // Codes are single use.
    let (status, body) = token_form(
        &fake,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", DEFAULT_CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A hex challenge (TikTok style) fails the exchange.
    let hex_challenge = hex::encode(Sha256::digest(verifier.as_bytes()));
    let code2 = fake
        .issue_code(outpost_testkit::youtube::CodeGrant {
            channel_id: channel.id.clone(),
            client_id: DEFAULT_CLIENT_ID.into(),
            redirect_uri: redirect.into(),
            code_challenge: hex_challenge,
            code_challenge_method: "S256".into(),
            scopes: vec![SCOPE_UPLOAD.into()],
        })
        .expect("code");
    let (status, body) = token_form(
        &fake,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", redirect),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_description"], "Invalid code verifier.");
    // A wrong secret is refused.
    let (status, body) = token_form(
        &fake,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Refresh: a new access token, no new refresh token; the old one keeps working.
    for _ in 0..2 {
        let (status, body) = token_form(
            &fake,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none(), "{body}");
    }
    // Revoked: invalid_grant with Google's words.
    assert!(fake.revoke_refresh_token(&rt));
    let (status, body) = token_form(
        &fake,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .unwrap_or_default()
        .trim_start_matches("x=")
        .to_string()
}

#[tokio::test]
async fn the_consent_page_refuses_other_redirects_and_reports_a_decline() {
    let fake = fake().await;
    let channel = fake.create_channel("bob", "Bob");
    let base = format!(
        "{}/o/oauth2/v2/auth?response_type=code&client_id={DEFAULT_CLIENT_ID}&scope={}&state=st",
        fake.base_url(),
        urlencode(SCOPE_UPLOAD)
    );
    // No consent configured: the sign-in page, no redirect.
    let r = http()
        .get(format!(
            "{base}&redirect_uri={}",
            urlencode("http://127.0.0.1:1234/")
        ))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status().as_u16(), 200);
    let r = http()
        .get(format!(
            "{base}&redirect_uri={}",
            urlencode("https://example.com/cb")
        ))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("redirect_uri_mismatch"));
    fake.set_consent(Some(Consent {
        channel_id: channel.id,
        grant_scopes: None,
        decline: true,
    }));
    let r = http()
        .get(format!(
            "{base}&redirect_uri={}",
            urlencode("http://[::1]:8080/cb")
        ))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status().as_u16(), 302);
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        loc.starts_with("http://[::1]:8080/cb?error=access_denied"),
        "{loc}"
    );
    assert!(loc.contains("state=st"), "{loc}");
}

#[tokio::test]
async fn channels_list_needs_read_access_and_shows_the_uploads_playlist() {
    let fake = fake().await;
    let (channel, tokens) = fake.create_channel_with_tokens("carol");
    let r = http()
        .get(format!(
            "{}/youtube/v3/channels?part=snippet,contentDetails&mine=true",
            fake.base_url()
        ))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .expect("channels");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["items"][0]["id"], channel.id.as_str());
    assert_eq!(v["items"][0]["snippet"]["customUrl"], "@carol");
    assert_eq!(
        v["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"],
        channel.uploads_playlist.as_str()
    );
    let upload_only = fake
        .issue_tokens(&channel.id, &[SCOPE_UPLOAD])
        .expect("tokens");
    let r = http()
        .get(format!(
            "{}/youtube/v3/channels?part=id&mine=true",
            fake.base_url()
        ))
        .bearer_auth(&upload_only.access_token)
        .send()
        .await
        .expect("channels");
    assert_eq!(reason_of(r).await, (403, "insufficientPermissions".into()));
    let r = http()
        .get(format!(
            "{}/youtube/v3/channels?part=id&mine=true",
            fake.base_url()
        ))
        .bearer_auth("ya29.nonsense")
        .send()
        .await
        .expect("channels");
    assert_eq!(reason_of(r).await, (401, "authError".into()));
    let (_, no_channel) = fake.create_account_without_channel("dan");
    let r = http()
        .get(format!(
            "{}/youtube/v3/channels?part=id&mine=true",
            fake.base_url()
        ))
        .bearer_auth(&no_channel.access_token)
        .send()
        .await
        .expect("channels");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["items"], json!([]));
}

#[tokio::test]
async fn the_session_start_checks_headers_and_metadata() {
    let fake = fake().await;
    let (_, t) = fake.create_channel_with_tokens("erin");
    let url = format!(
        "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        fake.base_url()
    );
    let send = |headers: Vec<(&'static str, String)>, body: Value| {
        let mut rb = http().post(&url).bearer_auth(&t.access_token).json(&body);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        rb.send()
    };
    let good = || {
        vec![
            ("x-upload-content-length", "1000".to_string()),
            ("x-upload-content-type", "video/mp4".to_string()),
        ]
    };
    let r = send(
        vec![("x-upload-content-type", "video/mp4".into())],
        metadata("t"),
    )
    .await
    .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let r = send(
        vec![
            ("x-upload-content-length", "1000".into()),
            ("x-upload-content-type", "image/png".into()),
        ],
        metadata("t"),
    )
    .await
    .expect("send");
    assert_eq!(reason_of(r).await, (400, "badContent".into()));
    let r = send(good(), metadata(&"x".repeat(101)))
        .await
        .expect("send");
    assert_eq!(reason_of(r).await, (400, "invalidTitle".into()));
    let r = send(good(), metadata("a <b>")).await.expect("send");
    assert_eq!(reason_of(r).await, (400, "invalidTitle".into()));
    let mut m = metadata("t");
    m["snippet"]["description"] = json!("é".repeat(2501));
    let r = send(good(), m).await.expect("send");
    assert_eq!(reason_of(r).await, (400, "invalidDescription".into()));
    let mut m = metadata("t");
    m["status"]["publishAt"] = json!("2030-01-01T00:00:00.000Z");
    let r = send(good(), m.clone()).await.expect("send");
    assert_eq!(reason_of(r).await, (400, "invalidPublishAt".into()));
    m["status"]["privacyStatus"] = json!("private");
    let r = send(good(), m).await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let mut m = metadata("t");
    m["snippet"]["categoryId"] = json!("999");
    let r = send(good(), m).await.expect("send");
    assert_eq!(reason_of(r).await, (400, "invalidCategoryId".into()));
    let sessions = fake.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].total, 1000);
    assert_eq!(sessions[0].mime, "video/mp4");
}

#[tokio::test]
async fn chunks_follow_the_resumable_protocol() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("fay");
    let bytes = data(2 * UNIT as usize + 1000);
    let total = bytes.len() as u64;
    let uri = start_session(&fake, &t.access_token, total, &metadata("protocol")).await;
    // Nothing yet: 308 without Range.
    let r = query(&uri, total).await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(range_of(&r), None);
    // A non-final chunk that is not a multiple of 256 KiB is refused.
    let r = put(
        &uri,
        &format!("bytes 0-999/{total}"),
        bytes[..1000].to_vec(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 400);
    // First unit: 308 + Range.
    let u = UNIT as usize;
    let r = put(
        &uri,
        &format!("bytes 0-{}/{total}", u - 1),
        bytes[..u].to_vec(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(
        range_of(&r).as_deref(),
        Some(&*format!("bytes=0-{}", u - 1))
    );
    // A gap is refused.
    let r = put(
        &uri,
        &format!("bytes {}-{}/{total}", 2 * u, total - 1),
        bytes[2 * u..].to_vec(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 400);
    // Overlap: the duplicate bytes are ignored.
    let r = put(
        &uri,
        &format!("bytes 0-{}/{total}", 2 * u - 1),
        bytes[..2 * u].to_vec(),
    )
    .await;
    assert_eq!(
        range_of(&r).as_deref(),
        Some(&*format!("bytes=0-{}", 2 * u - 1))
    );
    // The no-308 variant.
    let r = http()
        .put(&uri)
        .header("content-range", format!("bytes */{total}"))
        .header("x-guploader-no-308", "yes")
        .body(Vec::new())
        .send()
        .await
        .expect("query");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("x-http-status-code-override")
            .and_then(|v| v.to_str().ok()),
        Some("308")
    );
    // The final chunk: 200 + the video.
    let r = put(
        &uri,
        &format!("bytes {}-{}/{total}", 2 * u, total - 1),
        bytes[2 * u..].to_vec(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("video");
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 11);
    assert_eq!(v["snippet"]["title"], "protocol");
    assert_eq!(v["status"]["uploadStatus"], "uploaded");
    // Complete: the status query answers the video.
    let r = query(&uri, total).await;
    assert_eq!(r.status().as_u16(), 200);
    let video = fake.video(&id).expect("stored");
    assert_eq!(video.channel_id, channel.id);
    assert_eq!(video.checksum, checksum_bytes(&bytes));
    assert_eq!(fake.video_bytes(&id).as_deref(), Some(&bytes[..]));
    let s = &fake.sessions()[0];
    assert_eq!(s.state, "complete");
    // Refused chunks are not counted: one unit, two units (one a duplicate), the tail.
    assert_eq!(
        s.received_total,
        u as u64 + 2 * u as u64 + (total - 2 * u as u64)
    );
    // Chunk bodies are counted, not kept.
    let chunks: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::UploadChunk))
        .collect();
    assert!(chunks.iter().all(|c| c.body.is_empty()));
    assert!(chunks.iter().any(|c| c.body_len == u as u64));
    assert_eq!(fake.count(Endpoint::UploadStatus), 3);
}

#[tokio::test]
async fn a_connection_dropped_mid_chunk_keeps_whole_units() {
    let fake = fake().await;
    let (_, t) = fake.create_channel_with_tokens("gus");
    let u = UNIT as usize;
    let bytes = data(8 * u + 77);
    let total = bytes.len() as u64;
    let uri = start_session(&fake, &t.access_token, total, &metadata("dropped")).await;
    // 2.5 units arrive, then the connection breaks.
    fake.push_fault(Fault::drop_mid_body((2 * u + u / 2) as u64));
    let err = http()
        .put(&uri)
        .header("content-range", format!("bytes 0-{}/{total}", 4 * u - 1))
        .body(bytes[..4 * u].to_vec())
        .send()
        .await;
    assert!(err.is_err(), "no answer");
    let r = query(&uri, total).await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(
        range_of(&r).as_deref(),
        Some(&*format!("bytes=0-{}", 2 * u - 1))
    );
    // Short acknowledgement: all 4 units arrive, 1 is not kept.
    fake.push_fault(Fault::new(
        Endpoint::UploadChunk,
        1,
        FaultKind::AckLess { units: 1 },
    ));
    let r = put(
        &uri,
        &format!("bytes {}-{}/{total}", 2 * u, 6 * u - 1),
        bytes[2 * u..6 * u].to_vec(),
    )
    .await;
    assert_eq!(
        range_of(&r).as_deref(),
        Some(&*format!("bytes=0-{}", 5 * u - 1))
    );
    let r = put(
        &uri,
        &format!("bytes {}-{}/{total}", 5 * u, total - 1),
        bytes[5 * u..].to_vec(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let v = fake.videos();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].checksum, checksum_bytes(&bytes));
    let s = &fake.sessions()[0];
    assert_eq!(s.chunks[0].status, 0);
    assert_eq!(s.chunks[0].received, (2 * u + u / 2) as u64);
}

#[tokio::test]
async fn dead_sessions_answer_404_or_410_and_expire_with_time() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("hal");
    let uri = start_session(&fake, &t.access_token, 10, &metadata("a")).await;
    fake.push_fault(Fault::session_gone(Endpoint::UploadStatus, 410));
    assert_eq!(query(&uri, 10).await.status().as_u16(), 410);
    assert_eq!(query(&uri, 10).await.status().as_u16(), 410, "stays dead");
    let uri2 = start_session(&fake, &t.access_token, 10, &metadata("b")).await;
    assert_eq!(query(&uri2, 10).await.status().as_u16(), 308);
    fake.advance_time(chrono::Duration::days(8));
    assert_eq!(query(&uri2, 10).await.status().as_u16(), 404);
    let t = fake
        .issue_tokens(&channel.id, &[SCOPE_UPLOAD])
        .expect("fresh tokens");
    let uri3 = start_session(&fake, &t.access_token, 10, &metadata("c")).await;
    let id = fake.sessions()[2].upload_id.clone();
    assert!(fake.expire_session(&id, 404));
    let r = put(&uri3, "bytes 0-9/10", vec![1; 10]).await;
    assert_eq!(r.status().as_u16(), 404);
    assert!(fake.videos().is_empty());
}

#[tokio::test]
async fn accept_then_drop_on_the_final_chunk_still_makes_the_video() {
    let fake = fake().await;
    let (_, t) = fake.create_channel_with_tokens("ivy");
    let bytes = data(5000);
    let uri = start_session(&fake, &t.access_token, 5000, &metadata("in doubt")).await;
    fake.push_fault(Fault::drop_after_commit(Endpoint::UploadChunk, 1));
    assert!(http()
        .put(&uri)
        .header("content-range", "bytes 0-4999/5000")
        .body(bytes)
        .send()
        .await
        .is_err());
    let r = query(&uri, 5000).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("video");
    assert_eq!(v["snippet"]["title"], "in doubt");
    assert_eq!(fake.videos().len(), 1);
}

async fn upload_whole(fake: &YouTubeFake, token: &str, body: &Value) -> Value {
    let uri = start_session(fake, token, 100, body).await;
    let r = put(&uri, "bytes 0-99/100", vec![7; 100]).await;
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("video")
}

async fn list_video(fake: &YouTubeFake, token: &str, id: &str) -> Value {
    let r = http()
        .get(format!(
            "{}/youtube/v3/videos?part=status,processingDetails&id={id}",
            fake.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("videos.list");
    let v: Value = r.json().await.expect("json");
    v["items"][0].clone()
}

#[tokio::test]
async fn processing_walks_the_plan() {
    let fake = fake().await;
    let (_, t) = fake.create_channel_with_tokens("jay");
    fake.set_processing(Processing::AfterPolls { polls: 2 });
    let v = upload_whole(&fake, &t.access_token, &metadata("p")).await;
    let id = v["id"].as_str().expect("id").to_string();
    let first = list_video(&fake, &t.access_token, &id).await;
    assert_eq!(first["status"]["uploadStatus"], "uploaded");
    assert_eq!(first["processingDetails"]["processingStatus"], "processing");
    let second = list_video(&fake, &t.access_token, &id).await;
    assert_eq!(second["status"]["uploadStatus"], "processed");
    assert_eq!(second["processingDetails"]["processingStatus"], "succeeded");
    fake.set_processing(Processing::Fail {
        after_polls: 1,
        reason: "codec".into(),
    });
    let v = upload_whole(&fake, &t.access_token, &metadata("bad")).await;
    let id = v["id"].as_str().expect("id").to_string();
    let failed = list_video(&fake, &t.access_token, &id).await;
    assert_eq!(failed["status"]["uploadStatus"], "failed");
    assert_eq!(failed["status"]["failureReason"], "codec");
    fake.set_processing(Processing::Reject {
        after_polls: 0,
        reason: "duplicate".into(),
    });
    let v = upload_whole(&fake, &t.access_token, &metadata("dup")).await;
    assert_eq!(v["status"]["uploadStatus"], "rejected");
    assert_eq!(v["status"]["rejectionReason"], "duplicate");
}

#[tokio::test]
async fn publish_at_flips_to_public_unless_the_project_is_unverified() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("kim");
    fake.set_processing(Processing::AfterPolls { polls: 0 });
    let at = (fake.now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut m = metadata("later");
    m["status"] = json!({"privacyStatus": "private", "publishAt": at});
    let v = upload_whole(&fake, &t.access_token, &m).await;
    assert_eq!(v["status"]["privacyStatus"], "private");
    assert!(v["status"]["publishAt"].is_string());
    let id = v["id"].as_str().expect("id").to_string();
    fake.advance_time(chrono::Duration::hours(2));
    let t = fake
        .issue_tokens(&channel.id, &outpost_testkit::youtube::ALL_SCOPES)
        .expect("fresh tokens");
    let now = list_video(&fake, &t.access_token, &id).await;
    assert_eq!(now["status"]["privacyStatus"], "public");
    fake.set_unverified_project(true);
    let v = upload_whole(&fake, &t.access_token, &metadata("locked")).await;
    assert_eq!(v["status"]["privacyStatus"], "private");
    assert_eq!(fake.videos()[1].requested_privacy, "public");
}

#[tokio::test]
async fn quota_is_counted_per_project_in_either_model_and_resets_at_midnight_pacific() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("lee");
    let t = std::cell::RefCell::new(t);
    let url = format!(
        "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        fake.base_url()
    );
    let start = || {
        http()
            .post(&url)
            .bearer_auth(t.borrow().access_token.clone())
            .header("x-upload-content-length", "10")
            .header("x-upload-content-type", "video/mp4")
            .json(&metadata("q"))
            .send()
    };
    // 1,600 of 10,000 units: six sessions, the seventh is refused.
    for _ in 0..6 {
        assert_eq!(start().await.expect("start").status().as_u16(), 200);
    }
    let r = start().await.expect("start");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 403);
    assert_eq!(v["error"]["errors"][0]["reason"], "quotaExceeded");
    assert_eq!(v["error"]["errors"][0]["domain"], "youtube.quota");
    assert_eq!(
        fake.quota_used(DEFAULT_CLIENT_ID),
        QuotaUse {
            units: 9600,
            inserts: 0
        }
    );
    // Midnight Pacific: a new day.
    let now = fake.now();
    let midnight = pacific_midnight_after(now);
    fake.advance_time(midnight - now + chrono::Duration::seconds(1));
    *t.borrow_mut() = fake
        .issue_tokens(&channel.id, &outpost_testkit::youtube::ALL_SCOPES)
        .expect("fresh tokens");
    assert_eq!(start().await.expect("start").status().as_u16(), 200);
    // The bucket model: inserts have their own 100.
    fake.set_quota_model(QuotaModel::current());
    fake.set_quota_used(
        DEFAULT_CLIENT_ID,
        QuotaUse {
            units: 0,
            inserts: 100,
        },
    );
    assert_eq!(
        reason_of(start().await.expect("start")).await.1,
        "quotaExceeded"
    );
    fake.reset_quota();
    assert_eq!(start().await.expect("start").status().as_u16(), 200);
    fake.exhaust_quota();
    let token = t.borrow().access_token.clone();
    let r = http()
        .get(format!(
            "{}/youtube/v3/channels?part=id&mine=true",
            fake.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("channels");
    assert_eq!(reason_of(r).await, (403, "quotaExceeded".into()));
}

#[tokio::test]
async fn the_channel_upload_cap_answers_upload_limit_exceeded() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("max");
    fake.set_upload_limit(&channel.id, Some(1));
    upload_whole(&fake, &t.access_token, &metadata("one")).await;
    let r = http()
        .post(format!(
            "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            fake.base_url()
        ))
        .bearer_auth(&t.access_token)
        .header("x-upload-content-length", "10")
        .header("x-upload-content-type", "video/mp4")
        .json(&metadata("two"))
        .send()
        .await
        .expect("start");
    assert_eq!(reason_of(r).await, (400, "uploadLimitExceeded".into()));
}

#[tokio::test]
async fn thumbnails_have_a_2_mb_cap_and_need_a_verified_channel() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("nia");
    let v = upload_whole(&fake, &t.access_token, &metadata("thumbs")).await;
    let id = v["id"].as_str().expect("id").to_string();
    let set = |body: Vec<u8>, video: String| {
        http()
            .post(format!(
                "{}/upload/youtube/v3/thumbnails/set?videoId={video}",
                fake.base_url()
            ))
            .bearer_auth(&t.access_token)
            .header("content-type", "image/jpeg")
            .body(body)
            .send()
    };
    let r = set(vec![0; 2 * 1024 * 1024 + 1], id.clone())
        .await
        .expect("set");
    assert_eq!(reason_of(r).await, (400, "invalidImage".into()));
    let r = set(vec![0; 10], "nope".into()).await.expect("set");
    assert_eq!(reason_of(r).await, (404, "videoNotFound".into()));
    fake.set_channel_verified(&channel.id, false);
    let r = set(vec![0; 10], id.clone()).await.expect("set");
    assert_eq!(reason_of(r).await, (403, "forbidden".into()));
    fake.set_channel_verified(&channel.id, true);
    let r = set(vec![0; 10], id.clone()).await.expect("set");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        fake.video(&id).and_then(|v| v.thumbnail).map(|t| t.0),
        Some(10)
    );
}

#[tokio::test]
async fn the_uploads_playlist_lists_newest_first_in_pages() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("oli");
    for i in 0..3 {
        upload_whole(&fake, &t.access_token, &metadata(&format!("video {i}"))).await;
    }
    let page = |token: Option<String>| {
        let mut url = format!(
            "{}/youtube/v3/playlistItems?part=snippet,contentDetails&playlistId={}&maxResults=2",
            fake.base_url(),
            channel.uploads_playlist
        );
        if let Some(t) = token {
            url.push_str(&format!("&pageToken={t}"));
        }
        http().get(url).bearer_auth(&t.access_token).send()
    };
    let v: Value = page(None).await.expect("page").json().await.expect("json");
    assert_eq!(v["items"][0]["snippet"]["title"], "video 2");
    assert_eq!(v["items"][1]["snippet"]["title"], "video 1");
    let next = v["nextPageToken"].as_str().expect("next").to_string();
    let v: Value = page(Some(next))
        .await
        .expect("page")
        .json()
        .await
        .expect("json");
    assert_eq!(v["items"][0]["snippet"]["title"], "video 0");
    assert!(v.get("nextPageToken").is_none());
}

#[tokio::test]
async fn videos_update_refuses_a_token_with_only_the_upload_scope() {
    let fake = fake().await;
    let (channel, t) = fake.create_channel_with_tokens("pat");
    let v = upload_whole(&fake, &t.access_token, &metadata("u")).await;
    let upload_only: YtTokens = fake
        .issue_tokens(&channel.id, &[SCOPE_UPLOAD])
        .expect("tokens");
    let r = http()
        .put(format!("{}/youtube/v3/videos?part=status", fake.base_url()))
        .bearer_auth(&upload_only.access_token)
        .json(&json!({"id": v["id"], "status": {"privacyStatus": "unlisted"}}))
        .send()
        .await
        .expect("update");
    assert_eq!(reason_of(r).await, (403, "insufficientPermissions".into()));
}

#[tokio::test]
async fn the_control_api_drives_the_fake_from_another_process() {
    let fake = fake().await;
    let base = fake.base_url();
    let c = http();
    let v: Value = c
        .post(format!("{base}/_fake/channels"))
        .json(&json!({"handle": "quinn"}))
        .send()
        .await
        .expect("channels")
        .json()
        .await
        .expect("json");
    let token = v["tokens"]["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(v["channel"]["custom_url"], "@quinn");
    let r = c
        .post(format!("{base}/_fake/faults"))
        .json(&json!({"endpoint": "videos_insert", "times": 1,
                      "kind": {"type": "status", "status": 503}}))
        .send()
        .await
        .expect("fault");
    assert_eq!(r.status().as_u16(), 200);
    let r = http()
        .post(format!(
            "{base}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"
        ))
        .bearer_auth(&token)
        .header("x-upload-content-length", "10")
        .header("x-upload-content-type", "video/mp4")
        .json(&metadata("c"))
        .send()
        .await
        .expect("start");
    assert_eq!(reason_of(r).await, (503, "backendError".into()));
    c.post(format!("{base}/_fake/quota/exhaust"))
        .send()
        .await
        .expect("exhaust");
    let used: Value = c
        .get(format!("{base}/_fake/quota"))
        .send()
        .await
        .expect("quota")
        .json()
        .await
        .expect("json");
    assert_eq!(used["units"], 10_000);
    c.post(format!("{base}/_fake/quota/reset"))
        .send()
        .await
        .expect("reset");
    upload_whole(&fake, &token, &metadata("via control")).await;
    let videos: Value = c
        .get(format!("{base}/_fake/videos"))
        .send()
        .await
        .expect("videos")
        .json()
        .await
        .expect("json");
    assert_eq!(videos[0]["title"], "via control");
    let sessions: Value = c
        .get(format!("{base}/_fake/sessions"))
        .send()
        .await
        .expect("sessions")
        .json()
        .await
        .expect("json");
    assert_eq!(sessions[0]["state"], "complete");
    let requests: Value = c
        .get(format!("{base}/_fake/requests"))
        .send()
        .await
        .expect("requests")
        .json()
        .await
        .expect("json");
    assert!(requests.as_array().is_some_and(|r| r.len() >= 3));
    let info: Value = c
        .get(format!("{base}/_fake/info"))
        .send()
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    assert_eq!(info["client_id"], DEFAULT_CLIENT_ID);
}

#[tokio::test]
async fn the_testing_mode_kills_refresh_tokens_after_seven_days() {
    let fake = fake().await;
    let (_, t) = fake.create_channel_with_tokens("rae");
    let rt = t.refresh_token.expect("refresh token");
    fake.set_testing_mode(true);
    assert!(fake.refresh_token_is_live(&rt));
    fake.advance_time(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    assert!(!fake.refresh_token_is_live(&rt));
    let (status, body) = token_form(
        &fake,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
