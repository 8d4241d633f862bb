//! Wire-level tests of the Bluesky fake's video service (third listener) and of
//! `getServiceAuth`, through a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use outpost_testkit::bluesky::{
    BlueskyConfig, BlueskyFake, Fault, JobOutcome, JobPace, JobStatusForm, Listener,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const HANDLE: &str = "alice.test";
const PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const UPLOAD_LXM: &str = "com.atproto.repo.uploadBlob";
const LIMITS_LXM: &str = "app.bsky.video.getUploadLimits";

struct Resp {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("<none>")
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
    Resp {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A tiny file that sniffs as MP4 (an `ftyp` box), distinct per `seed`.
fn mp4(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypmp42\0\0\0\0isommp42".to_vec();
    v.resize(len.max(v.len()), seed);
    v
}

fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

struct Env {
    fake: BlueskyFake,
    did: String,
    access: String,
}

async fn setup() -> Env {
    setup_with(BlueskyConfig::default()).await
}

async fn setup_with(config: BlueskyConfig) -> Env {
    let fake = BlueskyFake::start_with(config).await.unwrap();
    let did = fake.add_account(HANDLE, PASSWORD);
    let r = finish(
        http()
            .post(format!(
                "{}/xrpc/com.atproto.server.createSession",
                fake.entryway_url()
            ))
            .json(&json!({ "identifier": HANDLE, "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    Env {
        access: r.json["accessJwt"].as_str().unwrap().to_string(),
        fake,
        did,
    }
}

impl Env {
    async fn service_auth(&self, aud: &str, lxm: Option<&str>, exp_in: Option<i64>) -> Resp {
        let mut query: Vec<(&str, String)> = vec![("aud", aud.to_string())];
        if let Some(lxm) = lxm {
            query.push(("lxm", lxm.to_string()));
        }
        if let Some(secs) = exp_in {
            query.push(("exp", (self.fake.now().timestamp() + secs).to_string()));
        }
        finish(
            http()
                .get(format!(
                    "{}/xrpc/com.atproto.server.getServiceAuth",
                    self.fake.pds_url()
                ))
                .query(&query)
                .bearer_auth(&self.access)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn upload_token(&self) -> String {
        let r = self
            .service_auth(&self.fake.service_did(), Some(UPLOAD_LXM), Some(1800))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json["token"].as_str().unwrap().to_string()
    }

    async fn upload_with(&self, token: &str, did: &str, bytes: &[u8], mime: &str) -> Resp {
        finish(
            http()
                .post(format!(
                    "{}/xrpc/app.bsky.video.uploadVideo",
                    self.fake.video_url()
                ))
                .query(&[("did", did), ("name", "clip.mp4")])
                .bearer_auth(token)
                .header("Content-Type", mime)
                .body(bytes.to_vec())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn upload(&self, bytes: &[u8]) -> Resp {
        let token = self.upload_token().await;
        self.upload_with(&token, &self.did, bytes, "video/mp4")
            .await
    }

    async fn job(&self, job_id: &str) -> Resp {
        finish(
            http()
                .get(format!(
                    "{}/xrpc/app.bsky.video.getJobStatus",
                    self.fake.video_url()
                ))
                .query(&[("jobId", job_id)])
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn limits(&self) -> Resp {
        let r = self
            .service_auth(&self.fake.video_service_did(), Some(LIMITS_LXM), Some(60))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        let token = r.json["token"].as_str().unwrap().to_string();
        finish(
            http()
                .get(format!(
                    "{}/xrpc/app.bsky.video.getUploadLimits",
                    self.fake.video_url()
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn create_video_post(&self, rkey: &str, embed: Value) -> Resp {
        finish(
            http()
                .post(format!(
                    "{}/xrpc/com.atproto.repo.createRecord",
                    self.fake.pds_url()
                ))
                .bearer_auth(&self.access)
                .json(&json!({
                    "repo": self.did,
                    "collection": "app.bsky.feed.post",
                    "rkey": rkey,
                    "record": {
                        "$type": "app.bsky.feed.post",
                        "text": "",
                        "createdAt": "2026-08-07T05:31:12.156Z",
                        "embed": embed,
                    }
                }))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn control(&self, path: &str, body: Value) -> Resp {
        finish(
            http()
                .post(format!("{}/_fake/{path}", self.fake.video_url()))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

fn job_id(r: &Resp) -> String {
    let status = r.json.get("jobStatus").unwrap_or(&r.json);
    status["jobId"].as_str().unwrap().to_string()
}

// ---- getServiceAuth ---------------------------------------------------------------------

#[tokio::test]
async fn service_auth_issues_a_token_for_the_pds_audience_and_method() {
    let env = setup().await;
    let r = env
        .service_auth(&env.fake.service_did(), Some(UPLOAD_LXM), Some(1800))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let token = r.json["token"].as_str().unwrap();
    let claims = jwt_payload(token);
    assert_eq!(claims["iss"], env.did.as_str());
    assert_eq!(claims["aud"], env.fake.service_did().as_str());
    assert_eq!(claims["lxm"], UPLOAD_LXM);
    let exp = claims["exp"].as_i64().unwrap();
    // The asked-for exp (a second may pass between asking and this check).
    let asked = env.fake.now().timestamp() + 1800;
    assert!((asked - 1..=asked).contains(&exp), "{exp} vs {asked}");

    // Without exp: a 60 s token.
    let r = env
        .service_auth(&env.fake.service_did(), Some(UPLOAD_LXM), None)
        .await;
    let exp = jwt_payload(r.json["token"].as_str().unwrap())["exp"]
        .as_i64()
        .unwrap();
    assert!((exp - env.fake.now().timestamp() - 60).abs() <= 2, "{exp}");

    // It needs a session.
    let r = finish(
        http()
            .get(format!(
                "{}/xrpc/com.atproto.server.getServiceAuth",
                env.fake.pds_url()
            ))
            .query(&[("aud", env.fake.service_did())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "AuthMissing"));
}

#[tokio::test]
async fn service_auth_refuses_far_expirations_and_foreign_audiences() {
    let env = setup().await;
    let pds = env.fake.service_did();
    // A few seconds past the hour, not one: `exp` is computed here and checked against the
    // fake's clock a moment later, so a second boundary in between takes one off (this was
    // flaky with 3601).
    let r = env.service_auth(&pds, Some(UPLOAD_LXM), Some(3605)).await;
    assert_eq!((r.status, r.error()), (400, "BadExpiration"));
    assert_eq!(
        r.json["message"],
        "cannot request a token with an expiration more than an hour in the future"
    );
    assert_eq!(
        env.service_auth(&pds, Some(UPLOAD_LXM), Some(3600))
            .await
            .status,
        200
    );
    let r = env.service_auth(&pds, None, Some(120)).await;
    assert_eq!((r.status, r.error()), (400, "BadExpiration"));
    let r = env.service_auth(&pds, Some(UPLOAD_LXM), Some(-5)).await;
    assert_eq!((r.status, r.error()), (400, "BadExpiration"));
    assert_eq!(r.json["message"], "expiration is in past");

    // The entryway is not the PDS: a token for it is refused.
    let entryway_port = env
        .fake
        .entryway_url()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let r = env
        .service_auth(
            &format!("did:web:127.0.0.1%3A{entryway_port}"),
            Some(UPLOAD_LXM),
            Some(600),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "InvalidRequest"),
        "{:?}",
        r.json
    );
    let r = env
        .service_auth("bsky.social", Some(UPLOAD_LXM), Some(600))
        .await;
    assert_eq!(r.status, 400);
}

// ---- uploadVideo + getJobStatus ----------------------------------------------------------

#[tokio::test]
async fn a_video_walks_to_completed_and_its_blob_makes_a_post() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(3));
    let bytes = mp4(1, 4000);
    let r = env.upload(&bytes).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let status = &r.json["jobStatus"];
    assert!(status.is_object(), "wrapped by default: {:?}", r.json);
    assert_eq!(status["state"], "JOB_STATE_CREATED");
    assert_eq!(status["did"], env.did.as_str());
    assert!(status.get("blob").is_none());
    let id = job_id(&r);

    let first = env.job(&id).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json["jobStatus"]["state"], "JOB_STATE_ENCODING");
    let second = env.job(&id).await;
    let state = second.json["jobStatus"]["state"].as_str().unwrap();
    assert!(state.starts_with("JOB_STATE_") && state != "JOB_STATE_COMPLETED");
    let done = env.job(&id).await;
    let status = &done.json["jobStatus"];
    assert_eq!(status["state"], "JOB_STATE_COMPLETED");
    assert_eq!(status["progress"], 100);
    let blob = status["blob"].clone();
    assert_eq!(blob["mimeType"], "video/mp4");
    assert_eq!(blob["size"], 4000);
    let cid = blob["ref"]["$link"].as_str().unwrap();
    assert_eq!(
        env.fake.blob(&env.did, cid),
        Some(("video/mp4".to_string(), bytes.clone())),
        "the blob is on the PDS"
    );
    // Polling a finished job repeats its answer.
    assert_eq!(env.job(&id).await.json["jobStatus"]["blob"], blob);

    let r = env
        .create_video_post(
            "3kabcdefghij2",
            json!({
                "$type": "app.bsky.embed.video",
                "video": blob,
                "alt": "a cat",
                "aspectRatio": {"width": 16, "height": 9},
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let records = env.fake.records(&env.did);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value["embed"]["alt"], "a cat");

    let jobs = env.fake.video_jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "JOB_STATE_COMPLETED");
    assert_eq!(jobs[0].polls, 4);
    assert_eq!(jobs[0].blob_cid.as_deref(), Some(cid));

    let listeners: Vec<(Listener, String)> = env
        .fake
        .requests()
        .iter()
        .filter_map(|r| Some((r.listener, r.nsid()?.to_string())))
        .collect();
    assert!(listeners.contains(&(Listener::Video, "app.bsky.video.uploadVideo".into())));
    assert!(listeners.contains(&(Listener::Video, "app.bsky.video.getJobStatus".into())));
    assert!(listeners.contains(&(Listener::Pds, "com.atproto.server.getServiceAuth".into())));
    let upload = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.nsid() == Some("app.bsky.video.uploadVideo"))
        .unwrap();
    assert_eq!(upload.body, bytes, "the upload body is recorded");
}

#[tokio::test]
async fn the_upload_answer_can_be_bare() {
    let env = setup().await;
    env.fake.set_video_response_form(JobStatusForm::Bare);
    let r = env.upload(&mp4(2, 100)).await;
    assert_eq!(r.status, 200);
    assert!(r.json.get("jobStatus").is_none(), "{:?}", r.json);
    assert_eq!(r.json["state"], "JOB_STATE_CREATED");
    // getJobStatus keeps the lexicon's wrapped form.
    let id = r.json["jobId"].as_str().unwrap();
    assert!(env.job(id).await.json["jobStatus"].is_object());
}

#[tokio::test]
async fn the_pace_can_follow_the_fake_clock() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Seconds(60));
    let id = job_id(&env.upload(&mp4(3, 100)).await);
    for _ in 0..5 {
        let r = env.job(&id).await;
        assert_ne!(r.json["jobStatus"]["state"], "JOB_STATE_COMPLETED");
    }
    env.fake.advance_time(chrono::Duration::seconds(45));
    let r = env.job(&id).await;
    assert_eq!(r.json["jobStatus"]["state"], "JOB_STATE_UPLOADING");
    env.fake.advance_time(chrono::Duration::seconds(16));
    let r = env.job(&id).await;
    assert_eq!(r.json["jobStatus"]["state"], "JOB_STATE_COMPLETED");
    assert!(r.json["jobStatus"]["blob"].is_object());
}

#[tokio::test]
async fn a_job_can_stay_encoding_forever() {
    let env = setup().await;
    env.fake.set_video_outcome(JobOutcome::NeverCompletes);
    let id = job_id(&env.upload(&mp4(4, 100)).await);
    env.fake.advance_time(chrono::Duration::hours(3));
    for _ in 0..30 {
        let r = env.job(&id).await;
        assert_eq!(r.json["jobStatus"]["state"], "JOB_STATE_ENCODING");
        assert!(r.json["jobStatus"]["progress"].as_u64().unwrap() < 100);
        assert!(r.json["jobStatus"].get("blob").is_none());
    }
}

#[tokio::test]
async fn a_job_can_fail_with_a_chosen_failure_code() {
    let env = setup().await;
    for (i, code) in [
        "encoding_failure",
        "generic_failure",
        "pds_upload_failure",
        "validation_failure",
    ]
    .into_iter()
    .enumerate()
    {
        env.fake.set_video_outcome(JobOutcome::fail(code));
        env.fake.set_video_pace(JobPace::Polls(1));
        let id = job_id(&env.upload(&mp4(40 + i as u8, 100)).await);
        let r = env.job(&id).await;
        let status = &r.json["jobStatus"];
        assert_eq!(status["state"], "JOB_STATE_FAILED", "{code}");
        assert_eq!(status["failureCode"], code);
        assert_eq!(status["error"], code);
        assert!(status["message"].is_string());
        assert!(status.get("blob").is_none());
    }
    env.fake.set_video_outcome(JobOutcome::Fail {
        failure_code: "encoding_failure".into(),
        message: Some("unsupported codec".into()),
    });
    let id = job_id(&env.upload(&mp4(99, 100)).await);
    assert_eq!(
        env.job(&id).await.json["jobStatus"]["message"],
        "unsupported codec"
    );
}

#[tokio::test]
async fn non_mp4_bytes_and_oversized_blobs_fail_the_job() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(1));
    let id = job_id(
        &env.upload(b"this is not a video at all, just text bytes")
            .await,
    );
    let r = env.job(&id).await;
    assert_eq!(r.json["jobStatus"]["failureCode"], "validation_failure");

    env.fake.set_blob_limit(1000);
    let id = job_id(&env.upload(&mp4(5, 1001)).await);
    let r = env.job(&id).await;
    assert_eq!(
        r.json["jobStatus"]["failureCode"],
        "pds_upload_unsupported_blob_size"
    );
}

#[tokio::test]
async fn already_exists_still_carries_the_blob() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(1));
    let bytes = mp4(6, 500);
    let id = job_id(&env.upload(&bytes).await);
    let blob = env.job(&id).await.json["jobStatus"]["blob"].clone();
    assert!(blob.is_object());

    // The same video again: an error that carries the blob.
    let r = env.upload(&bytes).await;
    assert_eq!(r.status, 409, "{:?}", r.json);
    assert_eq!(r.error(), "already_exists");
    assert_eq!(r.json["jobStatus"]["blob"], blob);
    assert_eq!(r.json["jobStatus"]["error"], "already_exists");
    assert_eq!(env.fake.video_jobs().len(), 1, "no second job");

    // The switch forces it for new content too, in either form.
    env.fake.set_video_already_exists(true);
    env.fake.set_video_response_form(JobStatusForm::Bare);
    let fresh = mp4(7, 600);
    let r = env.upload(&fresh).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json["error"], "already_exists");
    assert_eq!(r.json["state"], "JOB_STATE_COMPLETED");
    let blob = r.json["blob"].clone();
    assert_eq!(blob["size"], 600);
    let r = env
        .create_video_post(
            "3kabcdefghij3",
            json!({ "$type": "app.bsky.embed.video", "video": blob }),
        )
        .await;
    assert_eq!(r.status, 200, "the blob is usable: {:?}", r.json);
}

#[tokio::test]
async fn the_same_video_still_processing_answers_its_job() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(5));
    let bytes = mp4(8, 100);
    let a = job_id(&env.upload(&bytes).await);
    let b = job_id(&env.upload(&bytes).await);
    assert_eq!(a, b);
}

#[tokio::test]
async fn upload_tokens_are_checked_by_the_video_service() {
    let env = setup().await;
    let bytes = mp4(9, 100);
    let upload = |token: String| {
        let env = &env;
        let bytes = bytes.clone();
        async move { env.upload_with(&token, &env.did, &bytes, "video/mp4").await }
    };
    let r = finish(
        http()
            .post(format!(
                "{}/xrpc/app.bsky.video.uploadVideo",
                env.fake.video_url()
            ))
            .query(&[("did", env.did.as_str()), ("name", "clip.mp4")])
            .header("Content-Type", "video/mp4")
            .body(bytes.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "AuthMissing"));

    let r = upload(env.access.clone()).await;
    assert_eq!((r.status, r.error()), (401, "BadJwtType"), "a session JWT");

    let wrong_aud = env
        .service_auth(&env.fake.video_service_did(), Some(UPLOAD_LXM), Some(600))
        .await;
    let r = upload(wrong_aud.json["token"].as_str().unwrap().into()).await;
    assert_eq!((r.status, r.error()), (401, "BadJwtAudience"));

    let wrong_lxm = env
        .service_auth(&env.fake.service_did(), Some(LIMITS_LXM), Some(600))
        .await;
    let r = upload(wrong_lxm.json["token"].as_str().unwrap().into()).await;
    assert_eq!((r.status, r.error()), (401, "BadJwtLexiconMethod"));

    let short = env
        .service_auth(&env.fake.service_did(), Some(UPLOAD_LXM), Some(60))
        .await;
    env.fake.advance_time(chrono::Duration::seconds(61));
    let r = upload(short.json["token"].as_str().unwrap().into()).await;
    assert_eq!((r.status, r.error()), (401, "JwtExpired"));

    let token = env.upload_token().await;
    let other = env.fake.add_account("bob.test", "bob-pass-0000-0000");
    let r = env.upload_with(&token, &other, &bytes, "video/mp4").await;
    assert_eq!(r.status, 400, "did must be the token's issuer");
    let r = env.upload_with(&token, &env.did, &bytes, "image/png").await;
    assert_eq!((r.status, r.error()), (400, "InvalidRequest"));
    let r = env.upload_with(&token, &env.did, &bytes, "video/mp4").await;
    assert_eq!(r.status, 200, "{:?}", r.json);
}

#[tokio::test]
async fn an_unconfirmed_email_blocks_video_uploads() {
    let env = setup().await;
    assert!(env.fake.set_email_confirmed(HANDLE, false));
    assert!(!env.fake.set_email_confirmed("nobody.test", false));
    let r = env.upload(&mp4(10, 100)).await;
    assert_eq!((r.status, r.error()), (403, "unconfirmed_email"));
    assert!(env.fake.video_jobs().is_empty());
    let limits = env.limits().await;
    assert_eq!(limits.json["canUpload"], false);
    assert_eq!(limits.json["error"], "unconfirmed_email");
    let session = finish(
        http()
            .get(format!(
                "{}/xrpc/com.atproto.server.getSession",
                env.fake.pds_url()
            ))
            .bearer_auth(&env.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(session.json["emailConfirmed"], false);

    env.fake.set_email_confirmed(HANDLE, true);
    assert_eq!(env.upload(&mp4(10, 100)).await.status, 200);
}

#[tokio::test]
async fn daily_upload_limits_run_out() {
    // A session that outlives the day the test skips.
    let env = setup_with(BlueskyConfig {
        access_ttl: chrono::Duration::days(2),
        ..BlueskyConfig::default()
    })
    .await;
    let limits = env.limits().await;
    assert_eq!(limits.status, 200, "{:?}", limits.json);
    assert_eq!(limits.json["canUpload"], true);
    assert_eq!(limits.json["remainingDailyVideos"], 25);

    env.fake.set_video_daily_limits(1, 1_000_000);
    assert_eq!(env.upload(&mp4(11, 100)).await.status, 200);
    let limits = env.limits().await;
    assert_eq!(limits.json["canUpload"], false);
    assert_eq!(limits.json["remainingDailyVideos"], 0);
    assert_eq!(limits.json["remainingDailyBytes"], 1_000_000 - 100);
    let r = env.upload(&mp4(12, 100)).await;
    assert_eq!((r.status, r.error()), (429, "RateLimitExceeded"));
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&retry), "{retry}");

    // A new day.
    env.fake.advance_time(chrono::Duration::hours(24));
    let r = env.upload(&mp4(12, 100)).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
}

#[tokio::test]
async fn unknown_jobs_and_wrong_hosts_are_refused() {
    let env = setup().await;
    let r = env.job("nope").await;
    assert_eq!((r.status, r.error()), (404, "NotFound"));
    // The video service serves only app.bsky.video.*, the PDS none of them.
    let r = finish(
        http()
            .get(format!(
                "{}/xrpc/com.atproto.server.getSession",
                env.fake.video_url()
            ))
            .bearer_auth(&env.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error()), (404, "XRPCNotSupported"));
    let r = finish(
        http()
            .get(format!(
                "{}/xrpc/app.bsky.video.getJobStatus",
                env.fake.pds_url()
            ))
            .query(&[("jobId", "x")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error()), (404, "XRPCNotSupported"));
}

#[tokio::test]
async fn faults_apply_to_the_video_service() {
    let env = setup().await;
    env.fake.push_fault(Fault::status(
        "app.bsky.video.uploadVideo",
        1,
        503,
        "NotEnoughResources",
        "busy",
    ));
    let r = env.upload(&mp4(13, 100)).await;
    assert_eq!((r.status, r.error()), (503, "NotEnoughResources"));
    assert!(env.fake.video_jobs().is_empty(), "nothing was performed");
    assert_eq!(env.upload(&mp4(13, 100)).await.status, 200);
}

#[tokio::test]
async fn create_record_checks_the_video_embed() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(1));
    let id = job_id(&env.upload(&mp4(14, 100)).await);
    let blob = env.job(&id).await.json["jobStatus"]["blob"].clone();

    // A blob that is not on the PDS.
    let mut missing = blob.clone();
    missing["ref"]["$link"] = json!("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
    let r = env
        .create_video_post(
            "3kabcdefghij4",
            json!({ "$type": "app.bsky.embed.video", "video": missing }),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "BlobNotFound"));

    // The blob claimed as something else.
    let mut wrong = blob.clone();
    wrong["mimeType"] = json!("video/quicktime");
    let r = env
        .create_video_post(
            "3kabcdefghij5",
            json!({ "$type": "app.bsky.embed.video", "video": wrong }),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "InvalidMimeType"));

    // An image blob in the video slot.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let image = finish(
        http()
            .post(format!(
                "{}/xrpc/com.atproto.repo.uploadBlob",
                env.fake.pds_url()
            ))
            .bearer_auth(&env.access)
            .header("Content-Type", "image/png")
            .body(png.to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    let r = env
        .create_video_post(
            "3kabcdefghij6",
            json!({ "$type": "app.bsky.embed.video", "video": image.json["blob"] }),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "InvalidMimeType"),
        "{:?}",
        r.json
    );

    let r = env
        .create_video_post(
            "3kabcdefghij7",
            json!({ "$type": "app.bsky.embed.video", "video": blob, "aspectRatio": {"width": 0, "height": 9} }),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "InvalidRequest"));
    let r = env
        .create_video_post(
            "3kabcdefghij7",
            json!({ "$type": "app.bsky.embed.video", "video": blob, "alt": 5 }),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "InvalidRequest"));
    let r = env
        .create_video_post(
            "3kabcdefghij7",
            json!({ "$type": "app.bsky.embed.video", "video": blob, "alt": "ok", "presentation": "default" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(env.fake.records(&env.did).len() == 1);
}

#[tokio::test]
async fn the_control_api_drives_the_video_service() {
    let env = setup().await;
    let info = finish(
        http()
            .get(format!("{}/_fake/info", env.fake.pds_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info.json["video"], env.fake.video_url().as_str());
    assert_eq!(
        info.json["video_did"],
        env.fake.video_service_did().as_str()
    );

    assert_eq!(
        env.control("video/pace", json!({"polls": 1})).await.status,
        200
    );
    assert_eq!(
        env.control("video/response-form", json!({"form": "bare"}))
            .await
            .status,
        200
    );
    assert_eq!(
        env.control(
            "video/outcome",
            json!({"type": "fail", "failure_code": "encoding_failure"})
        )
        .await
        .status,
        200
    );
    let r = env.upload(&mp4(15, 100)).await;
    let id = r.json["jobId"].as_str().expect("bare form").to_string();
    assert_eq!(
        env.job(&id).await.json["jobStatus"]["failureCode"],
        "encoding_failure"
    );

    env.control("video/outcome", json!({"type": "never_completes"}))
        .await;
    let id = env.upload(&mp4(16, 100)).await.json["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.job(&id).await.json["jobStatus"]["state"],
        "JOB_STATE_ENCODING"
    );

    env.control("video/outcome", json!({"type": "complete"}))
        .await;
    env.control("video/pace", json!({"secs": 30})).await;
    let id = env.upload(&mp4(17, 100)).await.json["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(
        env.job(&id).await.json["jobStatus"]["state"],
        "JOB_STATE_COMPLETED"
    );
    env.control("advance-time", json!({"secs": 31})).await;
    assert_eq!(
        env.job(&id).await.json["jobStatus"]["state"],
        "JOB_STATE_COMPLETED"
    );

    env.control("video/already-exists", json!({"enabled": true}))
        .await;
    assert_eq!(env.upload(&mp4(18, 100)).await.status, 409);
    env.control("video/already-exists", json!({"enabled": false}))
        .await;

    env.control("video/limits", json!({"videos": 0, "bytes": 0}))
        .await;
    assert_eq!(env.upload(&mp4(19, 100)).await.status, 429);
    env.control("video/limits", json!({"videos": 5, "bytes": 1000000}))
        .await;

    let r = env
        .control(
            "email-confirmed",
            json!({"handle": HANDLE, "confirmed": false}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(env.upload(&mp4(20, 100)).await.status, 403);
    let r = env
        .control(
            "email-confirmed",
            json!({"handle": "x.test", "confirmed": false}),
        )
        .await;
    assert_eq!(r.status, 404);

    let jobs = finish(
        http()
            .get(format!("{}/_fake/video/jobs", env.fake.entryway_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        jobs.json.as_array().unwrap().len(),
        env.fake.video_jobs().len()
    );
    assert_eq!(jobs.json[0]["failure_code"], "encoding_failure");
}
