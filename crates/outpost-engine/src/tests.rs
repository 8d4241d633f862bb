//! Dispatcher tests: the real store, the real Bluesky client and the test kit's Bluesky fake
//! over loopback HTTP; only time is simulated (a manual clock), so nothing sleeps for real
//! except while waiting for the engine to react.

use super::*;
use chrono::{TimeZone, Utc};
use outpost_auth::{MemoryStore, Secret, SecretStore};
use outpost_core::{
    Account, AccountStatus, ManualClock, Part, PostContent, PostStatus, TargetState,
};
use outpost_networks::bluesky::Bluesky;
use outpost_store::NewPost;
use outpost_testkit::bluesky::{BlueskyFake, Fault, FaultKind, RetryAfter};

struct Rig {
    fake: BlueskyFake,
    did: String,
    store: Store,
    clock: ManualClock,
    account: Account,
    secrets: Arc<dyn SecretStore>,
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

async fn rig() -> Rig {
    let fake = BlueskyFake::start().await.expect("fake");
    let did = fake.add_account("alice.test", "app-pass-1234-abcd");
    let secrets: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    let store = Store::open_in_memory().expect("store");
    let bsky = Bluesky::new(fake.entryway_url(), fake.entryway_url(), secrets.clone());
    let account_id = outpost_core::ids::new_id("a");
    let c = bsky
        .connect(
            &account_id,
            "alice.test",
            None,
            &Secret::new("app-pass-1234-abcd"),
        )
        .await
        .expect("connect");
    let account = Account {
        id: account_id,
        network: Network::Bluesky,
        handle: c.handle.clone(),
        remote_id: Some(c.did.clone()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: serde_json::json!({"pds": c.pds}),
        created_at: t0(),
    };
    store.insert_account(&account).expect("account");
    Rig {
        fake,
        did,
        store,
        clock: ManualClock::new(t0()),
        account,
        secrets,
    }
}

impl Rig {
    fn engine(&self, config: EngineConfig) -> Engine {
        let bsky = Bluesky::new(
            self.fake.entryway_url(),
            self.fake.entryway_url(),
            self.secrets.clone(),
        )
        .with_video_service(self.fake.video_url());
        let mut publishers: HashMap<Network, Arc<dyn Publisher>> = HashMap::new();
        publishers.insert(Network::Bluesky, Arc::new(bsky));
        Engine::new(
            self.store.clone(),
            Arc::new(self.clock.clone()),
            publishers,
            config,
        )
        .with_secrets(self.secrets.clone())
    }

    fn schedule(&self, parts: &[&str], at: chrono::DateTime<Utc>) -> String {
        let parts = parts
            .iter()
            .map(|t| Part {
                text: t.to_string(),
                media: vec![],
            })
            .collect();
        self.schedule_parts(parts, at)
    }

    /// Stores a post to this rig's account, due at `at`.
    fn schedule_parts(&self, parts: Vec<Part>, at: chrono::DateTime<Utc>) -> String {
        let content = PostContent {
            parts,
            ..Default::default()
        };
        self.store
            .create_post(
                &NewPost {
                    content,
                    scheduled_at: Some(at),
                    time_zone: "UTC".into(),
                    draft: false,
                    targets: vec![(self.account.id.clone(), Network::Bluesky)],
                },
                self.clock.now().min(at),
            )
            .expect("post")
    }

    fn post(&self, id: &str) -> outpost_core::Post {
        self.store.post(id).expect("read").expect("post exists")
    }

    fn target_state(&self, id: &str) -> TargetState {
        self.post(id).targets[0].state
    }

    /// Waits (real time, bounded) until `f` holds.
    async fn until(&self, what: &str, f: impl Fn(&Rig) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !f(self) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for: {what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    fn records(&self) -> usize {
        self.fake.records(&self.did).len()
    }
}

fn start(
    engine: &Engine,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), EngineError>>,
) {
    let cancel = CancellationToken::new();
    let e = engine.clone();
    let c = cancel.clone();
    (
        cancel,
        tokio::spawn(async move { e.run(RunMode::Forever, c).await }),
    )
}

async fn stop(cancel: CancellationToken, h: tokio::task::JoinHandle<Result<(), EngineError>>) {
    cancel.cancel();
    h.await.expect("join").expect("engine ran cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_at_the_due_time_and_not_before() {
    let r = rig().await;
    let engine = r.engine(EngineConfig::default());
    let id = r.schedule(
        &["hello from the dispatcher"],
        t0() + chrono::Duration::minutes(10),
    );
    let (cancel, h) = start(&engine);
    r.clock.advance(chrono::Duration::minutes(9));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(r.records(), 0, "nothing may go out before the due time");
    assert_eq!(r.target_state(&id), TargetState::Scheduled);
    r.clock.advance(chrono::Duration::minutes(1));
    r.until("published", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    assert_eq!(r.records(), 1);
    let p = r.post(&id);
    assert_eq!(p.status, PostStatus::Published);
    assert!(p.targets[0]
        .remote_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://bsky.app/profile/")));
    let attempts = r.store.attempts(&p.targets[0].id).expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, "succeeded");
    assert_eq!(
        attempts[0].started_at,
        t0() + chrono::Duration::minutes(10),
        "sent at the due instant"
    );
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_post_wakes_the_dispatcher_at_once() {
    let r = rig().await;
    let engine = r.engine(EngineConfig::default());
    let (cancel, h) = start(&engine);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let id = r.schedule(&["now"], r.clock.now());
    engine.wake();
    r.until("published without the clock moving", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff_then_published() {
    let r = rig().await;
    r.fake.push_fault(Fault::status(
        "com.atproto.repo.createRecord",
        3,
        503,
        "NotEnoughResources",
        "busy",
    ));
    let engine = r.engine(EngineConfig::default());
    let id = r.schedule(&["persistent"], t0());
    let (cancel, h) = start(&engine);
    r.until("first failure", |r| r.post(&id).targets[0].attempts == 1)
        .await;
    let t = r.post(&id).targets.remove(0);
    assert_eq!(t.state, TargetState::Scheduled);
    let wait = t.next_attempt_at.expect("retry time") - t0();
    assert!(
        wait <= chrono::Duration::seconds(2),
        "first retry within the 2 s ceiling, got {wait}"
    );
    assert!(
        t.wait_reason
            .as_deref()
            .is_some_and(|w| w.contains("retry 1 of 5")),
        "{:?}",
        t.wait_reason
    );
    for _ in 0..20 {
        if r.target_state(&id) == TargetState::Published {
            break;
        }
        r.clock.advance(chrono::Duration::seconds(20));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.until("published after retries", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    assert_eq!(r.records(), 1, "exactly one post");
    let attempts = r
        .store
        .attempts(&r.post(&id).targets[0].id)
        .expect("attempts");
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.status.as_str())
            .collect::<Vec<_>>(),
        vec!["failed", "failed", "failed", "succeeded"]
    );
    assert!(attempts[0]
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("Bluesky:")));
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_until_retry_after() {
    let r = rig().await;
    r.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::RateLimited {
            retry_after: RetryAfter::Seconds(120),
        },
    ));
    let engine = r.engine(EngineConfig::default());
    let id = r.schedule(&["limited"], t0());
    let (cancel, h) = start(&engine);
    r.until("rate limited", |r| {
        r.post(&id).targets[0].error_class.as_deref() == Some("rate_limited")
    })
    .await;
    let t = r.post(&id).targets.remove(0);
    assert_eq!(
        t.next_attempt_at,
        Some(t0() + chrono::Duration::seconds(120))
    );
    assert!(t
        .wait_reason
        .as_deref()
        .is_some_and(|w| w.contains("rate limited")));
    r.clock.advance(chrono::Duration::seconds(119));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(r.records(), 0, "not before Retry-After");
    r.clock.advance(chrono::Duration::seconds(1));
    r.until("published after the wait", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    assert_eq!(r.fake.count("com.atproto.repo.createRecord"), 2);
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_access_token_is_refreshed_and_published_once() {
    let r = rig().await;
    r.fake.expire_access_tokens();
    let engine = r.engine(EngineConfig::default());
    let id = r.schedule(&["after refresh"], t0());
    let (cancel, h) = start(&engine);
    r.until("published", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    assert_eq!(r.records(), 1);
    assert!(r.fake.count("com.atproto.server.refreshSession") >= 1);
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_app_password_marks_the_account_and_fails_with_the_reason() {
    let r = rig().await;
    r.fake.revoke_sessions("alice.test");
    r.fake.revoke_app_password("alice.test");
    let engine = r.engine(EngineConfig::default());
    let mut events = engine.subscribe();
    let id = r.schedule(&["doomed"], t0());
    let id2 = r.schedule(&["also doomed"], t0());
    let (cancel, h) = start(&engine);
    r.until("failed", |r| {
        r.target_state(&id) == TargetState::Failed && r.target_state(&id2) == TargetState::Failed
    })
    .await;
    let a = r
        .store
        .account(&r.account.id)
        .expect("read")
        .expect("account");
    assert_eq!(a.status, AccountStatus::NeedsReconnect);
    let err = r.post(&id).targets[0]
        .last_error
        .clone()
        .unwrap_or_default();
    assert!(
        err.starts_with("Bluesky:") && err.to_lowercase().contains("reconnect"),
        "{err}"
    );
    assert!(!err.contains("app-pass-1234-abcd"));
    let mut saw = false;
    while let Ok(ev) = events.try_recv() {
        saw |= matches!(ev, Event::AccountNeedsReconnect { .. });
    }
    assert!(saw, "an AccountNeedsReconnect event was sent");
    assert_eq!(r.records(), 0);
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_response_is_reconciled_never_reposted() {
    let r = rig().await;
    r.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::DropAfterCommit,
    ));
    let engine = r.engine(EngineConfig::default());
    let id = r.schedule(&["maybe sent"], t0());
    let (cancel, h) = start(&engine);
    r.until("published", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    assert_eq!(r.records(), 1, "the record exists once");
    assert_eq!(
        r.fake.count("com.atproto.repo.createRecord"),
        1,
        "no second create"
    );
    let attempts = r
        .store
        .attempts(&r.post(&id).targets[0].id)
        .expect("attempts");
    assert_eq!(attempts[0].status, "reconciled");
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_part_failure_resumes_from_the_failed_part() {
    let r = rig().await;
    let id = r.schedule(&["p1", "p2", "p3"], t0());
    // Fail the first createRecord of part 3 only: let two creates through by delaying the
    // fault: push it after two records exist.
    let engine = r.engine(EngineConfig {
        per_network: 1,
        ..EngineConfig::default()
    });
    r.fake.push_fault(Fault::new(
        "com.atproto.repo.createRecord",
        1,
        FaultKind::DelayBefore(std::time::Duration::from_millis(300)),
    ));
    let (cancel, h) = start(&engine);
    r.until("two parts", |r| r.records() >= 2).await;
    r.fake.push_fault(Fault::status(
        "com.atproto.repo.createRecord",
        1,
        502,
        "UpstreamFailure",
        "upstream",
    ));
    r.until("published or retrying", |r| {
        let t = &r.post(&id).targets[0];
        t.state == TargetState::Published || t.attempts > 0
    })
    .await;
    for _ in 0..10 {
        if r.target_state(&id) == TargetState::Published {
            break;
        }
        r.clock.advance(chrono::Duration::seconds(10));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.until("published", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    stop(cancel, h).await;
    let recs = r.fake.records(&r.did);
    assert_eq!(recs.len(), 3, "each part exactly once");
    let texts: Vec<&str> = recs
        .iter()
        .filter_map(|x| x.value["text"].as_str())
        .collect();
    assert_eq!(texts, vec!["p1", "p2", "p3"]);
    assert_eq!(r.post(&id).targets[0].progress.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_database_publish_each_target_once() {
    let r = rig().await;
    r.fake.set_latency(std::time::Duration::from_millis(20));
    let ids: Vec<String> = (0..20)
        .map(|i| r.schedule(&[&format!("post {i}")], t0()))
        .collect();
    let e1 = r.engine(EngineConfig {
        runner_kind: "one".into(),
        ..EngineConfig::default()
    });
    let e2 = r.engine(EngineConfig {
        runner_kind: "two".into(),
        ..EngineConfig::default()
    });
    let (c1, h1) = start(&e1);
    let (c2, h2) = start(&e2);
    r.until("all published", |r| {
        ids.iter()
            .all(|id| r.target_state(id) == TargetState::Published)
    })
    .await;
    stop(c1, h1).await;
    stop(c2, h2).await;
    assert_eq!(r.records(), 20);
    assert_eq!(r.fake.count("com.atproto.repo.createRecord"), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_publishes_recent_and_misses_old_posts() {
    let r = rig().await;
    // Written long ago: due 1 h and 3 h before "now".
    let recent = r.schedule(&["recent"], t0() - chrono::Duration::hours(1));
    let old = r.schedule(&["old"], t0() - chrono::Duration::hours(3));
    let engine = r.engine(EngineConfig::default());
    let (cancel, h) = start(&engine);
    r.until("settled", |r| {
        r.target_state(&recent) == TargetState::Published
            && r.target_state(&old) == TargetState::Missed
    })
    .await;
    stop(cancel, h).await;
    let t = r.post(&old).targets.remove(0);
    assert!(
        t.last_error
            .as_deref()
            .is_some_and(|e| e.contains("missed") && e.contains("catch-up window")),
        "{:?}",
        t.last_error
    );
    assert_eq!(r.post(&old).status, PostStatus::NeedsAttention);
    assert_eq!(r.records(), 1);
    // The user decides: publish now.
    r.store
        .retry_post(&old, None, r.clock.now())
        .expect("retry");
    let (cancel, h) = start(&engine);
    r.until("published on request", |r| {
        r.target_state(&old) == TargetState::Published
    })
    .await;
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_after_five_failures_and_probes_with_a_read() {
    let r = rig().await;
    r.fake.push_fault(Fault::status(
        "com.atproto.repo.createRecord",
        5,
        503,
        "NotEnoughResources",
        "down",
    ));
    let engine = r.engine(EngineConfig {
        concurrency: 1,
        ..EngineConfig::default()
    });
    let ids: Vec<String> = (0..7)
        .map(|i| r.schedule(&[&format!("b{i}")], t0()))
        .collect();
    let (cancel, h) = start(&engine);
    r.until("breaker open", |r| {
        r.store
            .breaker("network:bluesky")
            .map(|b| b.open_until.is_some())
            .unwrap_or(false)
    })
    .await;
    r.until("others wait with a reason", |r| {
        ids.iter()
            .filter(|id| {
                r.post(id).targets[0]
                    .wait_reason
                    .as_deref()
                    .is_some_and(|w| w.contains("failing repeatedly"))
            })
            .count()
            >= 1
    })
    .await;
    let creates = r.fake.count("com.atproto.repo.createRecord");
    assert_eq!(creates, 5, "no publish while the breaker is open");
    let reads = r.fake.count("com.atproto.server.getSession");
    r.clock.advance(chrono::Duration::seconds(31));
    r.until("probe ran", |r| {
        r.fake.count("com.atproto.server.getSession") > reads
    })
    .await;
    for _ in 0..30 {
        if ids
            .iter()
            .all(|id| r.target_state(id) == TargetState::Published)
        {
            break;
        }
        r.clock.advance(chrono::Duration::seconds(30));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.until("all published", |r| {
        ids.iter()
            .all(|id| r.target_state(id) == TargetState::Published)
    })
    .await;
    assert_eq!(r.records(), 7);
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_makes_targets_wait_with_a_visible_reason() {
    let r = rig().await;
    let mut quotas = HashMap::new();
    quotas.insert(
        Network::Bluesky,
        vec![outpost_core::retry::Quota {
            max: 2,
            window: std::time::Duration::from_secs(3600),
            source: "test cap",
        }],
    );
    let engine = r.engine(EngineConfig {
        concurrency: 1,
        quotas,
        ..EngineConfig::default()
    });
    let ids: Vec<String> = (0..3)
        .map(|i| r.schedule(&[&format!("q{i}")], t0()))
        .collect();
    let (cancel, h) = start(&engine);
    r.until("two out, one waiting", |r| {
        ids.iter()
            .filter(|id| r.target_state(id) == TargetState::Published)
            .count()
            == 2
            && ids.iter().any(|id| {
                r.post(id).targets[0]
                    .wait_reason
                    .as_deref()
                    .is_some_and(|w| w.contains("limit reached"))
            })
    })
    .await;
    let waiting = ids
        .iter()
        .find(|id| r.target_state(id) == TargetState::Scheduled)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        r.post(&waiting).targets[0].next_attempt_at,
        Some(t0() + chrono::Duration::hours(1))
    );
    r.clock.advance(chrono::Duration::hours(1));
    r.until("third published after the window", |r| {
        r.target_state(&waiting) == TargetState::Published
    })
    .await;
    stop(cancel, h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_mode_publishes_what_is_due_and_returns() {
    let r = rig().await;
    let due = r.schedule(&["due"], t0());
    let later = r.schedule(&["later"], t0() + chrono::Duration::hours(1));
    let engine = r.engine(EngineConfig::default());
    engine
        .run(
            RunMode::Once {
                start: t0(),
                settle: std::time::Duration::from_secs(60),
            },
            CancellationToken::new(),
        )
        .await
        .expect("once");
    assert_eq!(r.target_state(&due), TargetState::Published);
    assert_eq!(r.target_state(&later), TargetState::Scheduled);
}

/// A small file the probe and the fake both take as MP4 (an `ftyp` box and padding).
fn mp4_file(dir: &std::path::Path, name: &str) -> outpost_core::MediaRef {
    let mut bytes = vec![0, 0, 0, 0x18];
    bytes.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    bytes.extend_from_slice(&[0, 0, 0, 8]);
    bytes.extend_from_slice(b"free");
    bytes.resize(4096, 7);
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write mp4");
    outpost_core::MediaRef {
        path: path.to_string_lossy().to_string(),
        sha256: outpost_core::media::sha256_hex(&bytes),
        mime: "video/mp4".into(),
        bytes: bytes.len() as u64,
        width: None,
        height: None,
        alt: Some("a clip".into()),
    }
}

impl Rig {
    fn schedule_video(&self, dir: &std::path::Path) -> String {
        let part = Part {
            text: "a video".into(),
            media: vec![mp4_file(dir, "clip.mp4")],
        };
        self.schedule_parts(vec![part], self.clock.now())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_processing_is_polled_by_the_dispatcher_and_published() {
    let r = rig().await;
    let dir = tempfile::tempdir().expect("tempdir");
    r.fake
        .set_video_pace(outpost_testkit::bluesky::JobPace::Polls(3));
    let id = r.schedule_video(dir.path());
    let engine = r.engine(EngineConfig::default());
    let (cancel, h) = start(&engine);
    r.until("processing", |r| {
        r.target_state(&id) == TargetState::Processing
    })
    .await;
    let t = r.post(&id).targets.remove(0);
    assert!(
        t.phase.as_ref().is_some_and(|p| p["job_id"].is_string()),
        "{:?}",
        t.phase
    );
    assert_eq!(
        t.lease_owner, None,
        "no task is blocked on a processing target"
    );
    for _ in 0..10 {
        if r.target_state(&id) == TargetState::Published {
            break;
        }
        r.clock.advance(chrono::Duration::seconds(10));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.until("published", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    stop(cancel, h).await;
    let recs = r.fake.records(&r.did);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].value["embed"]["$type"], "app.bsky.embed.video");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_processing_resumes_polling_and_publishes_once() {
    let r = rig().await;
    let dir = tempfile::tempdir().expect("tempdir");
    r.fake
        .set_video_pace(outpost_testkit::bluesky::JobPace::Polls(4));
    let id = r.schedule_video(dir.path());
    let first = r.engine(EngineConfig::default());
    let (cancel, h) = start(&first);
    r.until("processing", |r| {
        r.target_state(&id) == TargetState::Processing
    })
    .await;
    stop(cancel, h).await;
    let uploads = r.fake.video_jobs().len();
    let second = r.engine(EngineConfig::default());
    let (cancel, h) = start(&second);
    for _ in 0..20 {
        if r.target_state(&id) == TargetState::Published {
            break;
        }
        r.clock.advance(chrono::Duration::seconds(10));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.until("published", |r| {
        r.target_state(&id) == TargetState::Published
    })
    .await;
    stop(cancel, h).await;
    assert_eq!(
        r.fake.video_jobs().len(),
        uploads,
        "polling resumed: the video was not uploaded again"
    );
    assert_eq!(r.records(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_that_never_finishes_times_out_with_a_clear_error() {
    let r = rig().await;
    let dir = tempfile::tempdir().expect("tempdir");
    r.fake
        .set_video_outcome(outpost_testkit::bluesky::JobOutcome::NeverCompletes);
    let id = r.schedule_video(dir.path());
    let engine = r.engine(EngineConfig::default());
    let (cancel, h) = start(&engine);
    r.until("processing", |r| {
        r.target_state(&id) == TargetState::Processing
    })
    .await;
    for _ in 0..40 {
        if r.target_state(&id) == TargetState::Failed {
            break;
        }
        r.clock.advance(chrono::Duration::minutes(1));
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    r.until("failed", |r| r.target_state(&id) == TargetState::Failed)
        .await;
    stop(cancel, h).await;
    let t = r.post(&id).targets.remove(0);
    let err = t.last_error.unwrap_or_default();
    assert!(
        err.contains("processing timed out after 30 minutes"),
        "{err}"
    );
    assert!(t
        .processing_since
        .is_some_and(|s| r.clock.now() - s >= chrono::Duration::minutes(30)));
    assert_eq!(r.records(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_wait_while_processing_does_not_count_as_processing_time() {
    let r = rig().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The first status check of the video job is rate limited for 2 hours.
    r.fake.push_fault(Fault::rate_limited(
        "app.bsky.video.getJobStatus",
        1,
        RetryAfter::Seconds(2 * 3600),
    ));
    let id = r.schedule_video(dir.path());
    let engine = r.engine(EngineConfig::default());
    let (cancel, h) = start(&engine);
    r.until("processing", |r| {
        r.target_state(&id) == TargetState::Processing
    })
    .await;
    // The first status check (a few seconds later) meets the rate limit: the target waits.
    let mut waiting = None;
    for _ in 0..40 {
        let t = r.post(&id).targets.remove(0);
        if t.state == TargetState::Scheduled && t.phase.is_some() {
            waiting = Some(t);
            break;
        }
        r.clock.advance(chrono::Duration::seconds(5));
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    let waiting = waiting.expect("the target waits for the rate limit");
    assert!(
        waiting
            .next_attempt_at
            .is_some_and(|at| at - r.clock.now() > chrono::Duration::minutes(90)),
        "{waiting:?}"
    );
    // Two hours and a bit later the check goes through: published, not "timed out".
    for _ in 0..30 {
        let state = r.target_state(&id);
        if state == TargetState::Published || state == TargetState::Failed {
            break;
        }
        r.clock.advance(chrono::Duration::minutes(10));
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    r.until("settled", |r| {
        matches!(
            r.target_state(&id),
            TargetState::Published | TargetState::Failed
        )
    })
    .await;
    stop(cancel, h).await;
    let t = r.post(&id).targets.remove(0);
    assert_eq!(t.state, TargetState::Published, "{:?}", t.last_error);
    assert_eq!(r.records(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picked_and_dropped_media_go_to_the_one_library_with_thumbnails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("outpost.db")).expect("store");
    let api = crate::api::Outpost::new(store, Arc::new(MemoryStore::new()));
    // A valid 2×1 PNG.
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&[
        0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
    let dropped = api
        .import_media_bytes(dir.path(), "my photo.png", &png, t0())
        .await
        .expect("dropped file");
    assert!(dropped
        .media
        .path
        .starts_with(&dir.path().join("media").display().to_string()));
    assert!(dropped
        .thumbnail
        .as_deref()
        .is_some_and(|t| t.starts_with("data:image/png;base64,")));
    let original = dir.path().join("picked.png");
    std::fs::write(&original, &png).expect("write");
    let picked = api
        .import_media(dir.path(), std::slice::from_ref(&original), t0())
        .await
        .expect("picked");
    assert_eq!(
        picked[0].media.sha256, dropped.media.sha256,
        "the same content is stored once"
    );
    assert!(original.exists(), "the user's file stays where it was");
    assert_eq!(api.list_media().expect("list").len(), 1);
    let incoming = std::fs::read_dir(dir.path().join("media/.incoming"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(incoming, 0, "no temporary file is left behind");
    let broken = api
        .import_media_bytes(dir.path(), "broken.png", b"not an image at all", t0())
        .await;
    let e = broken.expect_err("not media");
    assert!(e.message.contains("broken.png"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_or_deleted_after_scheduling_fails_before_anything_is_sent() {
    let r = rig().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let changed = r.schedule_video(dir.path());
    // Same size, different bytes: only the hash can tell.
    let path = dir.path().join("clip.mp4");
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).expect("rewrite");
    let other = tempfile::tempdir().expect("tempdir");
    let deleted = r.schedule_video(other.path());
    std::fs::remove_file(other.path().join("clip.mp4")).expect("delete");

    let engine = r.engine(EngineConfig::default());
    let (cancel, h) = start(&engine);
    r.until("both failed", |r| {
        r.target_state(&changed) == TargetState::Failed
            && r.target_state(&deleted) == TargetState::Failed
    })
    .await;
    stop(cancel, h).await;
    let t = r.post(&changed).targets.remove(0);
    assert_eq!(
        t.last_error.as_deref(),
        Some("Bluesky: clip.mp4 changed since the post was scheduled — attach the file again and retry")
    );
    let t = r.post(&deleted).targets.remove(0);
    assert_eq!(
        t.last_error.as_deref(),
        Some("Bluesky: clip.mp4 was deleted since the post was scheduled — attach the file again and retry")
    );
    assert_eq!(r.fake.count("com.atproto.repo.uploadBlob"), 0);
    assert_eq!(r.fake.count("app.bsky.video.uploadVideo"), 0);
    assert_eq!(r.records(), 0, "nothing was published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probed_video_length_and_pinterest_board_are_checked_when_scheduling() {
    use crate::api::{Draft, DraftMedia, DraftPart, DraftWhen};
    use outpost_testkit::media::{Mp4, Mp4Track};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("outpost.db")).expect("store");
    let api = crate::api::Outpost::new(store.clone(), Arc::new(MemoryStore::new()));
    let account = |id: &str, network: Network, settings: serde_json::Value| Account {
        id: id.into(),
        network,
        handle: "alice".into(),
        remote_id: Some("1".into()),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings,
        created_at: t0(),
    };
    store
        .insert_account(&account("a_x", Network::X, serde_json::json!({})))
        .expect("x");
    store
        .insert_account(&account("a_pin", Network::Pinterest, serde_json::json!({})))
        .expect("pinterest");
    // A real MP4 header: 150 s, 1280×720, 30 fps.
    let clip = dir.path().join("long.mp4");
    let mp4 = Mp4::new(150, vec![Mp4Track::video(b"avc1", 1280, 720, 150, 30)]);
    std::fs::write(&clip, mp4.build()).expect("write");
    let added = api
        .add_media(dir.path(), &clip.to_string_lossy(), t0())
        .await
        .expect("added");
    assert_eq!(added.duration_ms, Some(150_000));
    let draft = |ids: &[&str], options: serde_json::Value| Draft {
        parts: vec![DraftPart {
            text: "a clip".into(),
            media: vec![DraftMedia {
                path: added.path.clone(),
                alt: None,
            }],
        }],
        variants: Default::default(),
        first_comment: None,
        options: serde_json::from_value(options).expect("options"),
        account_ids: ids.iter().map(|s| s.to_string()).collect(),
        when: DraftWhen::Draft,
    };
    let e = api
        .schedule(&draft(&["a_x"], serde_json::json!({})), t0())
        .expect_err("too long for X");
    assert_eq!(
        e.message,
        "X: long.mp4 is 2 min 30 s long; X takes videos of 0.5 s to 2 min 20 s — trim it (media[1])"
    );
    let e = api
        .schedule(&draft(&["a_pin"], serde_json::json!({})), t0())
        .expect_err("no board");
    assert!(
        e.message
            .contains("Pinterest board not selected — choose a board for pinterest:alice"),
        "{}",
        e.message
    );
    let ok = api
        .schedule(
            &draft(
                &["a_pin"],
                serde_json::json!({"pinterest": {"board_id": "42"}}),
            ),
            t0(),
        )
        .expect("with a board");
    assert_eq!(
        ok.post
            .content
            .options_for(Network::Pinterest, "pinterest:alice")["board_id"],
        "42"
    );
    // The account's default board fills the option in, and the stored post says so.
    store
        .set_account_settings("a_pin", &serde_json::json!({"board_id": "77"}))
        .expect("settings");
    let ok = api
        .schedule(&draft(&["a_pin"], serde_json::json!({})), t0())
        .expect("default board");
    assert_eq!(ok.post.content.options["pinterest:alice"]["board_id"], "77");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_collects_unused_library_files_after_the_keep_period() {
    use crate::api::{Draft, DraftMedia, DraftPart, DraftWhen};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("outpost.db")).expect("store");
    let api = crate::api::Outpost::new(store.clone(), Arc::new(MemoryStore::new()));
    let now = Utc::now();
    let write = |name: &str, w: u32| {
        let p = dir.path().join(name);
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&w.to_be_bytes());
        png.extend_from_slice(&[0, 0, 0, 1, 8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        png.extend_from_slice(b"IEND");
        png.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        std::fs::write(&p, png).expect("write");
        p
    };
    let unused = api
        .add_media(dir.path(), &write("unused.png", 2).to_string_lossy(), now)
        .await
        .expect("unused");
    let kept = api
        .add_media(dir.path(), &write("kept.png", 3).to_string_lossy(), now)
        .await
        .expect("kept");
    // A draft still uses `kept`.
    let account = Account {
        id: "a_gc".into(),
        network: Network::Bluesky,
        handle: "gc.test".into(),
        remote_id: None,
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: serde_json::json!({}),
        created_at: now,
    };
    store.insert_account(&account).expect("account");
    api.schedule(
        &Draft {
            parts: vec![DraftPart {
                text: "draft".into(),
                media: vec![DraftMedia {
                    path: kept.path.clone(),
                    alt: None,
                }],
            }],
            variants: Default::default(),
            first_comment: None,
            options: Default::default(),
            account_ids: vec!["a_gc".into()],
            when: DraftWhen::Draft,
        },
        now,
    )
    .expect("draft");
    let run_at = |at: chrono::DateTime<Utc>| {
        let engine = Engine::new(
            store.clone(),
            Arc::new(ManualClock::new(at)),
            HashMap::new(),
            EngineConfig::default(),
        );
        async move {
            engine
                .run(
                    RunMode::Once {
                        start: at,
                        settle: std::time::Duration::from_secs(1),
                    },
                    CancellationToken::new(),
                )
                .await
                .expect("run");
        }
    };
    // 29 days later nothing is removed.
    run_at(now + chrono::Duration::days(29)).await;
    assert!(std::path::Path::new(&unused.path).exists());
    // 31 days later the unused file and its row are gone; the one a draft uses stays.
    run_at(now + chrono::Duration::days(31)).await;
    assert!(
        !std::path::Path::new(&unused.path).exists(),
        "unused file removed"
    );
    assert!(
        store.media(&unused.sha256).expect("read").is_none(),
        "row removed"
    );
    assert!(
        std::path::Path::new(&kept.path).exists(),
        "a draft still uses it"
    );
    assert!(store.media(&kept.sha256).expect("read").is_some());
}
