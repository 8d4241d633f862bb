//! The `outpost` binary publishing for real (to the Bluesky fake): on time, through server
//! errors, rate limits, expired and revoked credentials, two agents at once, and a `kill -9`.

use outpost_e2e::{png, signal, wait_exit, Machine, PASSWORD};
use outpost_testkit::bluesky::{Fault, FaultKind, RetryAfter};
use std::time::Duration;

const CREATE: &str = "com.atproto.repo.createRecord";

fn create_times(m: &Machine) -> Vec<chrono::DateTime<chrono::Utc>> {
    m.fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(CREATE))
        .map(|r| r.at)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_post_goes_out_at_its_time() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    let due = chrono::Utc::now() + chrono::Duration::seconds(3);
    let due_s = due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut agent = m.spawn_agent(&[]);
    let id = m
        .post(&[
            "Hello from Outpost https://example.com #launch",
            "--to",
            "bluesky:alice.test",
            "--at",
            &due_s,
        ])
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(m.fake.records(&did).len(), 0, "nothing before the due time");
    let v = m
        .wait_status(&id, "published", Duration::from_secs(15))
        .await;
    let sent = create_times(&m)[0];
    let lateness = (sent - due).num_milliseconds();
    assert!(
        (0..=1500).contains(&lateness),
        "sent {lateness} ms after the due time"
    );
    let t = &v["post"]["targets"][0];
    assert!(
        t["remote_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://bsky.app/profile/")),
        "{t}"
    );
    let rec = &m.fake.records(&did)[0].value;
    assert_eq!(
        rec["facets"].as_array().map(|f| f.len()),
        Some(2),
        "link and hashtag facets: {rec}"
    );
    signal(&agent, "TERM");
    assert_eq!(
        wait_exit(&mut agent, Duration::from_secs(10)).await,
        0,
        "SIGTERM stops the agent cleanly"
    );
    let st = m.json(&["status"]).await;
    assert_eq!(st["running"], false, "no runner left registered: {st:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_from_another_process_wakes_a_running_agent_at_once() {
    let m = Machine::new().await;
    let _did = m.connect("alice.test").await;
    let mut agent = m.spawn_agent(&[]);
    tokio::time::sleep(Duration::from_secs(2)).await; // the agent is asleep (next wake ≤ 30 s)
    let before = chrono::Utc::now();
    let id = m
        .post(&["right now", "--to", "bluesky:alice.test", "--now"])
        .await;
    m.wait_status(&id, "published", Duration::from_secs(10))
        .await;
    let sent = create_times(&m)[0];
    let delay = (sent - before).num_milliseconds();
    assert!(
        delay < 2000,
        "noticed {delay} ms after the write (must be well under the 30 s tick)"
    );
    signal(&agent, "TERM");
    assert_eq!(wait_exit(&mut agent, Duration::from_secs(10)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_are_retried_with_backoff() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    m.fake.push_fault(Fault::status(
        CREATE,
        2,
        503,
        "NotEnoughResources",
        "Not Enough Resources",
    ));
    let id = m
        .post(&[
            "survives a 503 burst",
            "--to",
            "bluesky:alice.test",
            "--now",
        ])
        .await;
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = m
        .wait_status(&id, "published", Duration::from_secs(1))
        .await;
    assert_eq!(m.fake.records(&did).len(), 1);
    let tid = v["post"]["targets"][0]["id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let statuses: Vec<String> = v["attempts"][&tid]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["status"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(statuses, vec!["failed", "failed", "succeeded"]);
    let msg = v["attempts"][&tid][0]["message"].as_str().unwrap_or("");
    assert!(msg.starts_with("Bluesky:") && msg.contains("503"), "{msg}");
    let times = create_times(&m);
    assert!(
        times[2] - times[0] <= chrono::Duration::seconds(7),
        "backoff ceilings are 2 s then 4 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_with_retry_after_is_waited_out() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    m.fake.push_fault(Fault::new(
        CREATE,
        1,
        FaultKind::RateLimited {
            retry_after: RetryAfter::Seconds(3),
        },
    ));
    let id = m
        .post(&["patience", "--to", "bluesky:alice.test", "--now"])
        .await;
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    m.wait_status(&id, "published", Duration::from_secs(1))
        .await;
    let times = create_times(&m);
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= chrono::Duration::seconds(3),
        "retried {} ms after a 3 s Retry-After",
        (times[1] - times[0]).num_milliseconds()
    );
    assert_eq!(m.fake.records(&did).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_session_is_refreshed() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    m.fake.expire_access_tokens();
    let id = m
        .post(&["fresh tokens", "--to", "bluesky:alice.test", "--now"])
        .await;
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    m.wait_status(&id, "published", Duration::from_secs(1))
        .await;
    assert_eq!(m.fake.records(&did).len(), 1);
    assert!(m.fake.count("com.atproto.server.refreshSession") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_app_password_fails_the_post_and_asks_to_reconnect() {
    let m = Machine::new().await;
    m.connect("alice.test").await;
    m.fake.revoke_sessions("alice.test");
    m.fake.revoke_app_password("alice.test");
    let id = m
        .post(&["will fail", "--to", "bluesky:alice.test", "--now"])
        .await;
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = m.wait_status(&id, "failed", Duration::from_secs(1)).await;
    let err = v["post"]["targets"][0]["last_error"].as_str().unwrap_or("");
    assert!(
        err.starts_with("Bluesky:") && err.to_lowercase().contains("reconnect"),
        "{err}"
    );
    assert_eq!(v["post"]["error_summary"].as_str(), Some(err));
    let accounts = m.json(&["accounts", "list"]).await;
    assert_eq!(accounts["accounts"][0]["status"], "needs_reconnect");
    // Human output shows the error on the post.
    let show = m.run_async(&["posts", "show", &id], None).await;
    assert!(show.stdout.contains("error: Bluesky:"), "{}", show.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_agents_on_one_database_publish_each_post_once() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    m.fake.set_latency(Duration::from_millis(50));
    let mut ids = vec![];
    for i in 0..12 {
        ids.push(
            m.post(&[&format!("race {i}"), "--to", "bluesky:alice.test", "--now"])
                .await,
        );
    }
    let mut a = m.spawn_agent(&["--once"]);
    let mut b = m.spawn_agent(&["--once"]);
    assert_eq!(wait_exit(&mut a, Duration::from_secs(60)).await, 0);
    assert_eq!(wait_exit(&mut b, Duration::from_secs(60)).await, 0);
    for id in &ids {
        assert_eq!(m.status_of(id).await, "published");
    }
    assert_eq!(m.fake.records(&did).len(), 12);
    assert_eq!(m.fake.count(CREATE), 12, "no create was sent twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_publish_then_restart_loses_nothing_and_posts_once() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    // The PDS commits the record, then takes 20 s to answer: the agent dies in between.
    m.fake.push_fault(Fault::new(
        CREATE,
        1,
        FaultKind::DelayAfterCommit(Duration::from_secs(20)),
    ));
    let id = m
        .post(&["in doubt", "--to", "bluesky:alice.test", "--now"])
        .await;
    let mut agent = m.spawn_agent(&[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !m
        .fake
        .records(&did)
        .iter()
        .any(|r| r.value["text"] == "in doubt")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the create never reached the fake"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let other = m
        .post(&["queued behind it", "--to", "bluesky:alice.test", "--now"])
        .await;
    signal(&agent, "KILL");
    wait_exit(&mut agent, Duration::from_secs(5)).await;
    assert_ne!(
        m.status_of(&id).await,
        "published",
        "the agent died before it heard back"
    );
    let started = std::time::Instant::now();
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a dead runner's targets are recovered at once, not after the lease"
    );
    let v = m
        .wait_status(&id, "published", Duration::from_secs(1))
        .await;
    m.wait_status(&other, "published", Duration::from_secs(1))
        .await;
    let texts: Vec<String> = m
        .fake
        .records(&did)
        .iter()
        .map(|r| r.value["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        texts.iter().filter(|t| *t == "in doubt").count(),
        1,
        "{texts:?}"
    );
    assert_eq!(texts.len(), 2);
    let tid = v["post"]["targets"][0]["id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(
        v["attempts"][&tid][0]["status"], "reconciled",
        "{:#}",
        v["attempts"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn threads_and_images_with_alt_text() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    let a = m.data_dir().join("a.png");
    let b = m.data_dir().join("b.png");
    std::fs::write(&a, png(1200, 800, 20_000)).expect("write");
    std::fs::write(&b, png(400, 400, 5_000)).expect("write");
    let id = m
        .post(&[
            "Part one 🧵",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            a.to_str().unwrap_or(""),
            "--alt",
            "A wide landscape",
            "--media",
            b.to_str().unwrap_or(""),
            "--alt",
            "A square",
            "--part",
            "Part two",
            "--part",
            "Part three",
        ])
        .await;
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    m.wait_status(&id, "published", Duration::from_secs(1))
        .await;
    let recs = m.fake.records(&did);
    assert_eq!(recs.len(), 3);
    let images = &recs[0].value["embed"]["images"];
    assert_eq!(images[0]["alt"], "A wide landscape");
    assert_eq!(
        images[0]["aspectRatio"],
        serde_json::json!({"width": 1200, "height": 800})
    );
    assert_eq!(images[1]["alt"], "A square");
    assert_eq!(
        recs[2].value["reply"]["root"]["uri"],
        serde_json::json!(recs[0].uri)
    );
    assert_eq!(
        recs[2].value["reply"]["parent"]["uri"],
        serde_json::json!(recs[1].uri)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_reaches_the_database_or_the_logs() {
    let m = Machine::new().await;
    m.connect("alice.test").await;
    m.fake.expire_access_tokens(); // forces a refresh: more tokens in play
    m.fake
        .push_fault(Fault::status(CREATE, 1, 502, "UpstreamFailure", "upstream"));
    let id = m
        .post(&["secret scan", "--to", "bluesky:alice.test", "--now"])
        .await;
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    m.wait_status(&id, "published", Duration::from_secs(1))
        .await;
    let mut secrets: Vec<String> = vec![PASSWORD.to_string()];
    for req in m.fake.requests() {
        if let Some(auth) = req.header("authorization") {
            if let Some(tok) = auth.strip_prefix("Bearer ") {
                secrets.push(tok.to_string());
            }
        }
        if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&req.body) {
            if let Some(p) = body["password"].as_str() {
                secrets.push(p.to_string());
            }
        }
    }
    assert!(
        secrets.len() >= 3,
        "the scan must have tokens to look for: {}",
        secrets.len()
    );
    let files = m.all_files();
    assert!(
        files
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("logs")),
        "a JSON log was written"
    );
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{} contains a secret",
                path.display()
            );
        }
    }
    assert!(!r.stderr.contains(PASSWORD));
}
