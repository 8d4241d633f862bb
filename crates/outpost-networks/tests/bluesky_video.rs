//! Bluesky video posts (two-phase: `start` uploads, `poll` waits and posts) against the test
//! kit's fake entryway + PDS + video service, over loopback HTTP.

use chrono::{DateTime, Utc};
use outpost_auth::{MemoryStore, Secret, SecretStore};
use outpost_core::{Account, AccountStatus, ErrorClass, MediaRef, Network, Part, PublishedPart};
use outpost_networks::bluesky::Bluesky;
use outpost_networks::{Lookup, PartOutcome, PartRequest, Publisher};
use outpost_testkit::bluesky::{
    BlueskyFake, Fault, FaultKind, JobOutcome, JobPace, JobStatusForm, Listener, RecordedRequest,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const HANDLE: &str = "alice.test";
const ACCOUNT_ID: &str = "a_alice";

struct Env {
    fake: BlueskyFake,
    bsky: Bluesky,
    account: Account,
    did: String,
    dir: tempfile::TempDir,
}

async fn setup() -> Env {
    let fake = BlueskyFake::start().await.expect("fake starts");
    let did = fake.add_account(HANDLE, APP_PASSWORD);
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    let bsky = Bluesky::new(fake.entryway_url(), fake.entryway_url(), store)
        .with_video_service(format!("{}/", fake.video_url()))
        .with_http_client(
            outpost_networks::http::client_builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client"),
        );
    assert_eq!(bsky.video_service(), fake.video_url());
    let connected = bsky
        .connect(ACCOUNT_ID, HANDLE, None, &Secret::new(APP_PASSWORD))
        .await
        .expect("connect");
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
    fake.clear_requests();
    Env {
        fake,
        bsky,
        account,
        did,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

/// Bytes that sniff as MP4 (an `ftyp` box), distinct per `seed`.
fn mp4_bytes(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypmp42\0\0\0\0isommp42".to_vec();
    v.resize(len.max(v.len()), seed);
    v
}

impl Env {
    fn rkey(&self, key: &str) -> String {
        self.bsky
            .new_client_handle(key, Utc::now())
            .expect("Bluesky always chooses a record key")
    }

    fn write_video(&self, name: &str, seed: u8, len: usize, alt: Option<&str>) -> MediaRef {
        let path = self.dir.path().join(name);
        let bytes = mp4_bytes(seed, len);
        std::fs::write(&path, &bytes).expect("write mp4");
        MediaRef {
            path: path.to_string_lossy().into_owned(),
            sha256: "0".repeat(64),
            mime: "video/mp4".into(),
            bytes: bytes.len() as u64,
            width: Some(1920),
            height: Some(1080),
            alt: alt.map(str::to_string),
        }
    }

    fn video_part(&self, text: &str, name: &str, seed: u8) -> Part {
        Part {
            text: text.into(),
            media: vec![self.write_video(name, seed, 5000, Some("a cat on a keyboard"))],
        }
    }

    fn req<'a>(
        &'a self,
        part: &'a Part,
        previous: &'a [PublishedPart],
        rkey: &'a str,
    ) -> PartRequest<'a> {
        PartRequest {
            post_id: "p_1",
            target_id: "t_1",
            account: &self.account,
            part_index: previous.len(),
            part,
            previous,
            client_handle: Some(rkey),
            intent_at: DateTime::parse_from_rfc3339("2026-11-28T12:00:00.123Z")
                .expect("date")
                .with_timezone(&Utc),
            options: &serde_json::Value::Null,
            first_comment: None,
            scheduled_at: None,
        }
    }

    fn requests(&self, nsid: &str) -> Vec<RecordedRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.nsid() == Some(nsid))
            .collect()
    }
}

/// `start`, then `poll` (as the dispatcher would, storing the phase) until it stops
/// processing; returns the result and the number of polls.
async fn run_to_end(
    bsky: &Bluesky,
    req: &PartRequest<'_>,
    max_polls: usize,
) -> (Result<PartOutcome, outpost_core::PublishError>, usize) {
    let outcome = bsky.start(req).await;
    poll_to_end(bsky, req, outcome, max_polls).await
}

/// Polls from a `start` outcome until it stops processing.
async fn poll_to_end(
    bsky: &Bluesky,
    req: &PartRequest<'_>,
    mut outcome: Result<PartOutcome, outpost_core::PublishError>,
    max_polls: usize,
) -> (Result<PartOutcome, outpost_core::PublishError>, usize) {
    let mut polls = 0;
    while let Ok(PartOutcome::Processing { phase, .. }) = &outcome {
        if polls == max_polls {
            break;
        }
        // The dispatcher keeps the phase as JSON and adds its own "part".
        let mut stored: Value =
            serde_json::from_str(&serde_json::to_string(phase).expect("json")).expect("json");
        stored["part"] = json!(req.part_index);
        outcome = bsky.poll(req, &stored).await;
        polls += 1;
    }
    (outcome, polls)
}

fn published(outcome: Result<PartOutcome, outpost_core::PublishError>) -> PublishedPart {
    match outcome {
        Ok(PartOutcome::Published(p)) => p,
        other => panic!("expected Published, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_video_post_goes_through_upload_processing_and_one_create() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(3));
    let part = env.video_part("watch this https://example.com #cats", "clip.mp4", 1);
    let rkey = env.rkey("k-video");
    let req = env.req(&part, &[], &rkey);

    let started = env.bsky.start(&req).await.expect("start");
    let PartOutcome::Processing { phase, poll_after } = started else {
        panic!("expected Processing, got {started:?}");
    };
    assert_eq!(poll_after, Duration::from_secs(3));
    assert_eq!(phase["stage"], "encoding");
    let job_id = phase["job_id"].as_str().expect("job id").to_string();
    let expires: DateTime<Utc> = phase["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("RFC 3339");
    let hours = (expires - Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{hours} min");
    assert!(
        env.fake.records(&env.did).is_empty(),
        "no record before the video is ready"
    );

    // The service token: the PDS's own did:web, the uploadBlob method, ≤ 1 h.
    let auths = env.requests("com.atproto.server.getServiceAuth");
    assert_eq!(auths.len(), 1);
    assert_eq!(auths[0].listener, Listener::Pds);
    assert_eq!(auths[0].status, 200);
    let q: Vec<(String, String)> = serde_urlencoded_pairs(&auths[0].query);
    let get = |k: &str| {
        q.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("aud"), env.fake.service_did());
    assert_eq!(get("lxm"), "com.atproto.repo.uploadBlob");
    let exp: i64 = get("exp").parse().expect("exp");
    let ahead = exp - auths[0].at.timestamp();
    assert!((25 * 60..=35 * 60).contains(&ahead), "{ahead} s");

    // The upload: the file itself, with its length, as video/mp4, on the video service.
    let uploads = env.requests("app.bsky.video.uploadVideo");
    assert_eq!(uploads.len(), 1);
    let up = &uploads[0];
    assert_eq!(up.listener, Listener::Video);
    assert_eq!(up.header("content-type"), Some("video/mp4"));
    assert_eq!(up.header("content-length"), Some("5000"));
    assert_eq!(up.header("transfer-encoding"), None);
    assert_eq!(up.body, mp4_bytes(1, 5000));
    assert!(up
        .query
        .contains(&format!("did={}", env.did.replace(':', "%3A"))));
    assert!(up.query.contains("name=clip.mp4"));
    let token = up
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .expect("bearer");
    assert!(
        env.requests("com.atproto.server.createSession").is_empty(),
        "the stored session is used, no login"
    );
    assert_ne!(token, "", "a service token");

    // Polls until published.
    let mut outcome = PartOutcome::Processing {
        phase: phase.clone(),
        poll_after,
    };
    let mut polls = 0;
    while let PartOutcome::Processing { phase, .. } = &outcome {
        assert_eq!(phase["job_id"], job_id.as_str(), "the same job");
        outcome = env.bsky.poll(&req, phase).await.expect("poll");
        polls += 1;
        assert!(polls <= 5, "too many polls");
    }
    assert_eq!(polls, 3);
    let PartOutcome::Published(part_out) = outcome else {
        unreachable!()
    };
    assert_eq!(
        part_out.remote_id,
        format!("at://{}/app.bsky.feed.post/{rkey}", env.did)
    );
    assert_eq!(part_out.extra["rkey"], rkey.as_str());

    let records = env.fake.records(&env.did);
    assert_eq!(records.len(), 1, "exactly one record");
    let record = &records[0].value;
    assert_eq!(record["text"], "watch this https://example.com #cats");
    assert_eq!(record["createdAt"], "2026-11-28T12:00:00.123Z");
    assert_eq!(record["facets"].as_array().map(Vec::len), Some(2));
    let embed = &record["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.video");
    assert_eq!(embed["alt"], "a cat on a keyboard");
    assert_eq!(embed["aspectRatio"], json!({"width": 1920, "height": 1080}));
    assert_eq!(embed["video"]["mimeType"], "video/mp4");
    assert_eq!(embed["video"]["size"], 5000);
    let jobs = env.fake.video_jobs();
    assert_eq!(
        embed["video"]["ref"]["$link"].as_str(),
        jobs[0].blob_cid.as_deref()
    );
    assert_eq!(env.requests("com.atproto.repo.createRecord").len(), 1);
    assert!(env
        .fake
        .requests()
        .iter()
        .all(|r| r.nsid() != Some("app.bsky.video.getJobStatus")
            || r.header("authorization").is_none()));

    // Reconciliation by rkey is unchanged.
    let Lookup::Found(found) = env.bsky.lookup(&req).await.expect("lookup") else {
        panic!("not found")
    };
    assert_eq!(found.remote_id, part_out.remote_id);
}

fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x.test/?{query}"))
        .expect("query")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn both_upload_answer_forms_are_read() {
    for form in [JobStatusForm::Wrapped, JobStatusForm::Bare] {
        let env = setup().await;
        env.fake.set_video_response_form(form);
        let part = env.video_part("", "clip.mp4", 2);
        let rkey = env.rkey("k-form");
        let req = env.req(&part, &[], &rkey);
        let (outcome, polls) = run_to_end(&env.bsky, &req, 5).await;
        let p = published(outcome);
        assert_eq!(polls, 2, "{form:?}");
        assert!(p.remote_id.ends_with(&rkey));
        assert_eq!(env.fake.records(&env.did).len(), 1, "{form:?}");
    }
}

#[tokio::test]
async fn already_exists_with_a_blob_posts_at_once() {
    let env = setup().await;
    env.fake.set_video_already_exists(true);
    let part = env.video_part("again", "clip.mp4", 3);
    let rkey = env.rkey("k-exists");
    let outcome = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect("start");
    let PartOutcome::Published(p) = outcome else {
        panic!("expected Published at once, got {outcome:?}");
    };
    assert!(p.remote_id.ends_with(&rkey));
    let records = env.fake.records(&env.did);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value["embed"]["$type"], "app.bsky.embed.video");
    assert!(env.requests("app.bsky.video.getJobStatus").is_empty());

    // Without the switch: the same file posted a second time is recognised by the service.
    env.fake.set_video_already_exists(false);
    env.fake.set_video_response_form(JobStatusForm::Bare);
    let part2 = env.video_part("fresh", "other.mp4", 4);
    let rkey2 = env.rkey("k-exists-2");
    let (outcome, polls) = run_to_end(&env.bsky, &env.req(&part2, &[], &rkey2), 5).await;
    published(outcome);
    assert_eq!(polls, 2);
    let rkey3 = env.rkey("k-exists-3");
    let outcome = env
        .bsky
        .start(&env.req(&part2, &[], &rkey3))
        .await
        .expect("start");
    assert!(matches!(outcome, PartOutcome::Published(_)), "{outcome:?}");
    assert_eq!(env.fake.records(&env.did).len(), 3);
}

#[tokio::test]
async fn an_encoding_failure_is_permanent_and_explained() {
    let env = setup().await;
    env.fake
        .set_video_outcome(JobOutcome::fail("encoding_failure"));
    let part = env.video_part("", "clip.mp4", 5);
    let rkey = env.rkey("k-enc");
    let (outcome, _) = run_to_end(&env.bsky, &env.req(&part, &[], &rkey), 5).await;
    let e = outcome.expect_err("failed");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(
        e.message,
        "Bluesky: the video service could not encode clip.mp4 (encoding_failure) — export it again as H.264 MP4"
    );
    assert!(e.excerpt.unwrap_or_default().contains("JOB_STATE_FAILED"));
    assert!(env.fake.records(&env.did).is_empty());
}

#[tokio::test]
async fn generic_and_pds_upload_failures_upload_again_once_then_give_up() {
    for code in ["generic_failure", "pds_upload_failure"] {
        let env = setup().await;
        env.fake.set_video_outcome(JobOutcome::fail(code));
        let part = env.video_part("", "clip.mp4", 6);
        let rkey = env.rkey("k-generic");
        let (outcome, _) = run_to_end(&env.bsky, &env.req(&part, &[], &rkey), 10).await;
        let e = outcome.expect_err("failed");
        assert_eq!(e.class, ErrorClass::Permanent, "{code}: {e:?}");
        assert!(
            e.message.contains(code) && e.message.contains("second time"),
            "{}",
            e.message
        );
        assert!(e.message.contains("clip.mp4"), "{}", e.message);
        assert_eq!(
            env.fake.video_jobs().len(),
            2,
            "{code}: uploaded once more, not forever"
        );
        assert!(env.fake.records(&env.did).is_empty());
    }
}

#[tokio::test]
async fn a_generic_failure_then_success_publishes_once() {
    let env = setup().await;
    env.fake
        .set_video_outcome(JobOutcome::fail("generic_failure"));
    let part = env.video_part("second try", "clip.mp4", 6);
    let rkey = env.rkey("k-generic-ok");
    let req = env.req(&part, &[], &rkey);
    let PartOutcome::Processing { phase, .. } = env.bsky.start(&req).await.expect("start") else {
        panic!("expected Processing");
    };
    let mut stored = phase.clone();
    stored["part"] = json!(0);
    // The first job fails; the client uploads again, and this time the service succeeds.
    env.fake.set_video_outcome(JobOutcome::Complete);
    let mut outcome = Ok(PartOutcome::Processing {
        phase: stored,
        poll_after: std::time::Duration::ZERO,
    });
    let mut first = true;
    for _ in 0..20 {
        let Ok(PartOutcome::Processing { phase, .. }) = &outcome else {
            break;
        };
        let mut p = phase.clone();
        p["part"] = json!(0);
        if first {
            // Make the already-uploaded first job fail on its next poll.
            env.fake
                .set_video_outcome(JobOutcome::fail("generic_failure"));
            outcome = env.bsky.poll(&req, &p).await;
            env.fake.set_video_outcome(JobOutcome::Complete);
            first = false;
        } else {
            outcome = env.bsky.poll(&req, &p).await;
        }
    }
    assert!(
        matches!(outcome, Ok(PartOutcome::Published(_))),
        "{outcome:?}"
    );
    assert_eq!(env.fake.records(&env.did).len(), 1);
}

#[tokio::test]
async fn a_video_that_never_finishes_keeps_processing_and_backs_off() {
    let env = setup().await;
    env.fake.set_video_outcome(JobOutcome::NeverCompletes);
    let part = env.video_part("", "clip.mp4", 7);
    let rkey = env.rkey("k-never");
    let req = env.req(&part, &[], &rkey);
    let PartOutcome::Processing { mut phase, .. } = env.bsky.start(&req).await.expect("start")
    else {
        panic!("expected Processing");
    };
    let expires = phase["expires_at"].clone();
    phase["part"] = json!(0);
    let mut waits = Vec::new();
    for _ in 0..14 {
        match env.bsky.poll(&req, &phase).await.expect("poll") {
            PartOutcome::Processing {
                phase: next,
                poll_after,
            } => {
                assert_eq!(next["stage"], "encoding");
                assert_eq!(next["expires_at"], expires, "the deadline does not move");
                assert_eq!(next["part"], 0, "the dispatcher's keys are kept");
                waits.push(poll_after.as_secs());
                phase = next;
            }
            other => panic!("expected Processing, got {other:?}"),
        }
    }
    assert_eq!(phase["polls"], 14);
    assert_eq!(&waits[..9], &[3; 9]);
    assert_eq!(waits.last(), Some(&10), "{waits:?}");
    assert!(env.fake.records(&env.did).is_empty());
}

#[tokio::test]
async fn the_client_never_asks_for_a_token_beyond_an_hour() {
    let env = setup().await;
    // The fake refuses one.
    let store_token = {
        // a session of our own, straight from the fake
        let r: Value = reqwest::Client::new()
            .post(format!(
                "{}/xrpc/com.atproto.server.createSession",
                env.fake.entryway_url()
            ))
            .json(&json!({"identifier": HANDLE, "password": APP_PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        r["accessJwt"].as_str().expect("jwt").to_string()
    };
    let far = (env.fake.now() + chrono::Duration::minutes(61)).timestamp();
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/xrpc/com.atproto.server.getServiceAuth",
            env.fake.pds_url()
        ))
        .query(&[
            ("aud", env.fake.service_did()),
            ("lxm", "com.atproto.repo.uploadBlob".into()),
            ("exp", far.to_string()),
        ])
        .bearer_auth(store_token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "BadExpiration");
    env.fake.clear_requests();

    // The client's own requests: three videos, every token ≤ 1 h ahead and granted.
    for i in 0..3u8 {
        let part = env.video_part("", &format!("v{i}.mp4"), 20 + i);
        let rkey = env.rkey(&format!("k-exp-{i}"));
        let (outcome, _) = run_to_end(&env.bsky, &env.req(&part, &[], &rkey), 5).await;
        published(outcome);
    }
    let auths = env.requests("com.atproto.server.getServiceAuth");
    assert_eq!(auths.len(), 3);
    for a in &auths {
        assert_eq!(a.status, 200, "{a:?}");
        let exp: i64 = serde_urlencoded_pairs(&a.query)
            .into_iter()
            .find(|(k, _)| k == "exp")
            .and_then(|(_, v)| v.parse().ok())
            .expect("exp");
        assert!(exp - a.at.timestamp() <= 3600);
    }
}

#[tokio::test]
async fn an_unconfirmed_email_is_permanent_and_says_what_to_do() {
    let env = setup().await;
    env.fake.set_email_confirmed(HANDLE, false);
    let part = env.video_part("", "clip.mp4", 8);
    let rkey = env.rkey("k-email");
    let e = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message
            .contains("verify your email address on Bluesky first"),
        "{}",
        e.message
    );
    assert!(!e.excerpt.unwrap_or_default().contains("eyJ"));
    assert!(env.fake.records(&env.did).is_empty());
}

#[tokio::test]
async fn an_expired_access_token_during_start_is_refreshed_once() {
    let env = setup().await;
    env.fake.expire_access_tokens();
    let part = env.video_part("", "clip.mp4", 9);
    let rkey = env.rkey("k-expired");
    let req = env.req(&part, &[], &rkey);
    let started = env.bsky.start(&req).await;
    assert!(
        matches!(started, Ok(PartOutcome::Processing { .. })),
        "{started:?}"
    );
    let auths = env.requests("com.atproto.server.getServiceAuth");
    assert_eq!(
        auths.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![400, 200]
    );
    assert_eq!(env.requests("com.atproto.server.refreshSession").len(), 1);
    assert_eq!(env.requests("app.bsky.video.uploadVideo").len(), 1);
    let (outcome, _) = poll_to_end(&env.bsky, &req, started, 5).await;
    published(outcome);
    assert_eq!(env.fake.records(&env.did).len(), 1);
}

#[tokio::test]
async fn a_dropped_create_inside_poll_is_unknown_then_found() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(1));
    let part = env.video_part("did it go out?", "clip.mp4", 10);
    let rkey = env.rkey("k-drop");
    let req = env.req(&part, &[], &rkey);
    let PartOutcome::Processing { phase, .. } = env.bsky.start(&req).await.expect("start") else {
        panic!("expected Processing");
    };
    env.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::DropAfterCommit,
    ));
    let e = env.bsky.poll(&req, &phase).await.expect_err("dropped");
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e:?}");
    assert_eq!(env.fake.records(&env.did).len(), 1, "the fake did commit");
    let Lookup::Found(found) = env.bsky.lookup(&req).await.expect("lookup") else {
        panic!("expected Found");
    };
    assert_eq!(found.remote_id, env.fake.records(&env.did)[0].uri);
    assert_eq!(found.extra["rkey"], rkey.as_str());
}

#[tokio::test]
async fn a_thread_part_with_a_video_replies_to_the_earlier_parts() {
    let env = setup().await;
    let first = Part {
        text: "1/2".into(),
        media: vec![],
    };
    let rkey1 = env.rkey("k-thread-1");
    let outcome = env
        .bsky
        .start(&env.req(&first, &[], &rkey1))
        .await
        .expect("text part");
    let root = published(Ok(outcome));
    let second = env.video_part("2/2", "clip.mp4", 11);
    let rkey2 = env.rkey("k-thread-2");
    let previous = [root.clone()];
    let (outcome, _) = run_to_end(&env.bsky, &env.req(&second, &previous, &rkey2), 5).await;
    published(outcome);
    let records = env.fake.records(&env.did);
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[1].value["reply"]["root"]["uri"],
        root.remote_id.as_str()
    );
    assert_eq!(
        records[1].value["reply"]["parent"]["uri"],
        root.remote_id.as_str()
    );
    assert_eq!(records[1].value["embed"]["$type"], "app.bsky.embed.video");
}

#[tokio::test]
async fn videos_bluesky_cannot_take_are_refused_before_any_request() {
    let env = setup().await;
    let mut mov = env.write_video("clip.mov", 12, 100, None);
    mov.mime = "video/quicktime".into();
    let rkey = env.rkey("k-mov");
    let part = Part {
        text: String::new(),
        media: vec![mov],
    };
    let e = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect_err("not mp4");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("clip.mov") && e.message.contains("MP4"),
        "{}",
        e.message
    );

    // Too large for the limit (a sparse file: nothing is read).
    let path = env.dir.path().join("huge.mp4");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(52_428_801).expect("set_len");
    let mut huge = env.write_video("small.mp4", 13, 100, None);
    huge.path = path.to_string_lossy().into_owned();
    let part = Part {
        text: String::new(),
        media: vec![huge],
    };
    let e = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("huge.mp4") && e.message.contains("52,428,801"),
        "{}",
        e.message
    );

    // Two videos, or a video with an image.
    let part = Part {
        text: String::new(),
        media: vec![
            env.write_video("a.mp4", 14, 100, None),
            env.write_video("b.mp4", 15, 100, None),
        ],
    };
    let e = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect_err("two videos");
    assert!(e.message.contains("2 videos"), "{}", e.message);

    let missing = MediaRef {
        path: env
            .dir
            .path()
            .join("gone.mp4")
            .to_string_lossy()
            .into_owned(),
        ..env.write_video("x.mp4", 16, 100, None)
    };
    let part = Part {
        text: String::new(),
        media: vec![missing],
    };
    let e = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect_err("missing");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("gone.mp4"), "{}", e.message);

    assert!(
        env.fake.requests().is_empty(),
        "nothing was sent: {:?}",
        env.fake.requests()
    );
}

#[tokio::test]
async fn a_part_without_video_is_published_at_once() {
    let env = setup().await;
    let part = Part {
        text: "just text".into(),
        media: vec![],
    };
    let rkey = env.rkey("k-text");
    let outcome = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect("start");
    assert!(matches!(outcome, PartOutcome::Published(_)), "{outcome:?}");
    assert!(env.requests("com.atproto.server.getServiceAuth").is_empty());
}

#[tokio::test]
async fn a_daily_limit_is_rate_limited_until_the_service_says() {
    let env = setup().await;
    env.fake.set_video_daily_limits(0, 0);
    let part = env.video_part("", "clip.mp4", 17);
    let rkey = env.rkey("k-limit");
    let e = env
        .bsky
        .start(&env.req(&part, &[], &rkey))
        .await
        .expect_err("limited");
    let ErrorClass::RateLimited { until } = e.class else {
        panic!("expected RateLimited, got {e:?}");
    };
    assert!(until > Utc::now() + chrono::Duration::hours(23), "{until}");
}

#[tokio::test]
async fn a_video_job_the_service_forgot_is_permanent() {
    let env = setup().await;
    let part = env.video_part("", "clip.mp4", 18);
    let rkey = env.rkey("k-forgot");
    let req = env.req(&part, &[], &rkey);
    let e = env
        .bsky
        .poll(&req, &json!({"job_id": "nope", "stage": "encoding"}))
        .await
        .expect_err("unknown job");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("retry the post"), "{}", e.message);
    // A video service that is down is transient.
    env.fake.push_fault(Fault::status(
        "app.bsky.video.getJobStatus",
        1,
        503,
        "NotEnoughResources",
        "busy",
    ));
    let e = env
        .bsky
        .poll(&req, &json!({"job_id": "nope", "stage": "encoding"}))
        .await
        .expect_err("down");
    assert!(e.class.is_transient(), "{e:?}");
}

#[tokio::test]
async fn a_blob_collected_while_the_post_waited_asks_for_a_new_upload() {
    let env = setup().await;
    env.fake.set_video_pace(JobPace::Polls(1));
    let part = env.video_part("", "clip.mp4", 19);
    let rkey = env.rkey("k-gc");
    let req = env.req(&part, &[], &rkey);
    let PartOutcome::Processing { phase, .. } = env.bsky.start(&req).await.expect("start") else {
        panic!("expected Processing");
    };
    env.fake.push_fault(Fault::status(
        "com.atproto.repo.createRecord",
        1,
        503,
        "NotEnoughResources",
        "busy",
    ));
    let e = env.bsky.poll(&req, &phase).await.expect_err("PDS down");
    assert!(e.class.is_transient(), "{e:?}");
    // The PDS collects the unreferenced video blob before the next try.
    env.fake.advance_time(chrono::Duration::minutes(11));
    let e = env.bsky.poll(&req, &phase).await.expect_err("blob gone");
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("BlobNotFound") && e.message.contains("retry the post"),
        "{}",
        e.message
    );
    assert!(env.fake.records(&env.did).is_empty());
}
