use super::*;
use chrono::TimeZone;
use outpost_core::{AccountStatus, Part};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn account(store: &Store, handle: &str) -> Account {
    let a = Account {
        id: outpost_core::ids::new_id("a"),
        network: Network::Bluesky,
        handle: handle.into(),
        remote_id: Some(format!("did:plc:{handle}")),
        display_name: None,
        status: AccountStatus::Active,
        status_reason: None,
        token_expires_at: None,
        settings: serde_json::json!({"pds": "http://127.0.0.1:1"}),
        created_at: t0(),
    };
    store.insert_account(&a).expect("insert account");
    a
}

fn new_post(accounts: &[&Account], at: DateTime<Utc>) -> NewPost {
    NewPost {
        content: PostContent {
            parts: vec![Part {
                text: "hello".into(),
                media: vec![],
            }],
            ..Default::default()
        },
        scheduled_at: Some(at),
        time_zone: "Europe/Berlin".into(),
        draft: false,
        targets: accounts.iter().map(|a| (a.id.clone(), a.network)).collect(),
    }
}

const LEASE: Duration = Duration::from_secs(60);

#[test]
fn a_database_from_a_newer_outpost_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outpost.db");
    drop(Store::open(&path).expect("create"));
    {
        let c = Connection::open(&path).expect("raw open");
        c.execute_batch("PRAGMA user_version = 99;").expect("bump");
    }
    let before = std::fs::read(&path).expect("read");
    match Store::open(&path) {
        Err(e @ StoreError::TooNew { .. }) => {
            assert!(e.to_string().contains("update Outpost"), "{e}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer database was opened"),
    }
    assert_eq!(
        before,
        std::fs::read(&path).expect("read"),
        "the file must not be altered"
    );
}

#[test]
fn files_that_are_not_outpost_databases_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.db");
    std::fs::write(
        &text,
        "this is a text file, not a database, and it is long enough to have a header....",
    )
    .expect("write");
    assert!(matches!(
        Store::open(&text),
        Err(StoreError::NotOutpost { .. })
    ));
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE foo (x INTEGER);"))
        .expect("other db");
    assert!(matches!(
        Store::open(&other),
        Err(StoreError::NotOutpost { .. })
    ));
}

#[test]
fn wal_is_on_and_reopening_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outpost.db");
    let s = Store::open(&path).expect("open");
    let a = account(&s, "alice.test");
    let mode: String = s
        .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
        .expect("mode");
    assert_eq!(mode, "wal");
    drop(s);
    let s = Store::open(&path).expect("reopen");
    assert_eq!(
        s.account(&a.id).expect("read").map(|x| x.handle),
        Some("alice.test".into())
    );
}

#[test]
fn duplicate_targets_and_accounts_are_conflicts() {
    let s = Store::open_in_memory().expect("open");
    let a = account(&s, "alice.test");
    let mut p = new_post(&[&a], t0());
    p.targets.push((a.id.clone(), Network::Bluesky));
    assert!(matches!(
        s.create_post(&p, t0()),
        Err(StoreError::Conflict(_))
    ));
    assert!(
        s.list_posts(None, 10).expect("list").is_empty(),
        "nothing half-written"
    );
    let dup = Account {
        id: "a_other".into(),
        ..a.clone()
    };
    assert!(matches!(
        s.insert_account(&dup),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn claim_is_atomic_leases_expire_and_are_recovered() {
    let s = Store::open_in_memory().expect("open");
    let a = account(&s, "alice.test");
    let b = account(&s, "bob.test");
    let id = s
        .create_post(&new_post(&[&a, &b], t0()), t0())
        .expect("post");
    assert!(
        s.claim_due(
            "r1",
            t0() - chrono::Duration::seconds(1),
            LEASE,
            10,
            &[],
            &[]
        )
        .expect("claim")
        .is_empty(),
        "not due yet"
    );
    let got = s.claim_due("r1", t0(), LEASE, 1, &[], &[]).expect("claim");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].state, TargetState::Claimed);
    let got2 = s.claim_due("r2", t0(), LEASE, 10, &[], &[]).expect("claim");
    assert_eq!(got2.len(), 1);
    assert_ne!(got[0].id, got2[0].id, "one target, one runner");
    assert!(s
        .claim_due("r3", t0(), LEASE, 10, &[], &[])
        .expect("claim")
        .is_empty());
    assert_eq!(
        s.post(&id).expect("post").map(|p| p.status),
        Some(PostStatus::Publishing)
    );
    // r1 dies; its lease expires and the target comes back.
    let later = t0() + chrono::Duration::seconds(61);
    s.renew_leases("r2", later + chrono::Duration::seconds(60))
        .expect("renew");
    let rec = s.recover_expired_leases(later).expect("recover");
    assert_eq!(rec, vec![got[0].id.clone()]);
    let again = s
        .claim_due("r3", later, LEASE, 10, &[], &[])
        .expect("claim");
    assert_eq!(
        again.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        vec![got[0].id.clone()]
    );
    // r1 wakes up and tries to act: refused.
    let e = s.begin_attempt(&got[0].id, "r1", 0, "k", None, later, later, None);
    assert!(matches!(e, Err(StoreError::Conflict(_))));
}

#[test]
fn skip_lists_keep_targets_of_blocked_accounts_and_networks_waiting() {
    let s = Store::open_in_memory().expect("open");
    let a = account(&s, "alice.test");
    s.create_post(&new_post(&[&a], t0()), t0()).expect("post");
    assert!(s
        .claim_due("r", t0(), LEASE, 10, std::slice::from_ref(&a.id), &[])
        .expect("claim")
        .is_empty());
    assert!(s
        .claim_due("r", t0(), LEASE, 10, &[], &[Network::Bluesky])
        .expect("claim")
        .is_empty());
    assert_eq!(
        s.claim_due("r", t0(), LEASE, 10, &[], &[Network::X])
            .expect("claim")
            .len(),
        1
    );
}

#[test]
fn thread_parts_are_recorded_in_order_and_publish_the_target() {
    let s = Store::open_in_memory().expect("open");
    let a = account(&s, "alice.test");
    let pid = s.create_post(&new_post(&[&a], t0()), t0()).expect("post");
    let t = s
        .claim_due("r", t0(), LEASE, 10, &[], &[])
        .expect("claim")
        .remove(0);
    let part = |i: usize| PublishedPart {
        remote_id: format!("at://x/{i}"),
        url: None,
        extra: serde_json::json!({}),
    };
    let att = s
        .begin_attempt(&t.id, "r", 0, "k0", Some("rkey0"), t0(), t0(), None)
        .expect("begin");
    assert_eq!(
        s.in_doubt_attempt(&t.id, 0).expect("doubt").map(|a| a.id),
        Some(att)
    );
    s.finish_attempt(
        att,
        AttemptEnd::Succeeded,
        None,
        Some("at://x/0"),
        None,
        None,
        t0(),
    )
    .expect("finish");
    s.record_part(&t.id, "r", 0, &part(0), false, t0())
        .expect("part 0");
    assert!(matches!(
        s.record_part(&t.id, "r", 2, &part(2), true, t0()),
        Err(StoreError::Corrupt(_))
    ));
    s.record_part(&t.id, "r", 1, &part(1), true, t0())
        .expect("part 1");
    let t = s.target(&t.id).expect("target").expect("exists");
    assert_eq!(t.state, TargetState::Published);
    assert_eq!(t.progress.len(), 2);
    assert_eq!(t.remote_id.as_deref(), Some("at://x/0"));
    assert_eq!(
        s.client_handle("k0").expect("handle").map(|h| h.0),
        Some("rkey0".into())
    );
    assert_eq!(
        s.post(&pid).expect("post").map(|p| p.status),
        Some(PostStatus::Published)
    );
}

#[test]
fn failures_show_on_the_post_and_retry_reschedules() {
    let s = Store::open_in_memory().expect("open");
    let a = account(&s, "alice.test");
    let pid = s.create_post(&new_post(&[&a], t0()), t0()).expect("post");
    let t = s
        .claim_due("r", t0(), LEASE, 10, &[], &[])
        .expect("claim")
        .remove(0);
    s.transition(
        &t.id,
        "r",
        &Transition::Failed {
            error: "Bluesky: <b>text</b> too long".into(),
            class: "permanent".into(),
        },
        t0(),
    )
    .expect("fail");
    let p = s.post(&pid).expect("post").expect("exists");
    assert_eq!(p.status, PostStatus::Failed);
    assert_eq!(p.error_summary.as_deref(), Some("Bluesky: text too long"));
    assert!(matches!(
        s.reschedule_post("nope", t0(), "UTC", t0()),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.retry_post(&pid, None, t0()).expect("retry"), 1);
    assert_eq!(
        s.post(&pid).expect("post").map(|p| p.status),
        Some(PostStatus::Scheduled)
    );
    assert!(matches!(
        s.retry_post(&pid, None, t0()),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn cancel_leaves_targets_being_sent_alone() {
    let s = Store::open_in_memory().expect("open");
    let a = account(&s, "alice.test");
    let b = account(&s, "bob.test");
    let pid = s
        .create_post(&new_post(&[&a, &b], t0()), t0())
        .expect("post");
    let held = s.claim_due("r", t0(), LEASE, 1, &[], &[]).expect("claim");
    assert_eq!(held.len(), 1);
    let (cancelled, left) = s.cancel_post(&pid, t0()).expect("cancel");
    assert_eq!((cancelled, left), (1, 1));
    assert!(matches!(s.delete_post(&pid), Err(StoreError::Conflict(_))));
    assert!(matches!(
        s.delete_account(&a.id).or(s.delete_account(&b.id)),
        Err(StoreError::Conflict(_)) | Ok(_)
    ));
}

#[test]
fn locks_have_one_holder_until_they_expire_or_are_released() {
    let s = Store::open_in_memory().expect("open");
    let later = t0() + chrono::Duration::minutes(2);
    assert!(s.try_lock("refresh:a", "app", t0(), later).expect("lock"));
    assert!(!s.try_lock("refresh:a", "agent", t0(), later).expect("busy"));
    assert!(s
        .try_lock("refresh:a", "app", t0(), later)
        .expect("ours again"));
    assert!(s
        .try_lock("refresh:b", "agent", t0(), later)
        .expect("another name"));
    // Expired: the next runner takes it over.
    assert!(s
        .try_lock(
            "refresh:a",
            "agent",
            later,
            later + chrono::Duration::minutes(2)
        )
        .expect("expired"));
    s.unlock("refresh:a", "app").expect("not ours: no-op");
    assert!(!s
        .try_lock("refresh:a", "app", later, later)
        .expect("still the agent's"));
    s.unlock("refresh:a", "agent").expect("release");
    assert!(s.try_lock("refresh:a", "app", later, later).expect("free"));
}

#[test]
fn staged_objects_are_deletable_once_every_target_using_them_is_finished() {
    let s = Store::open_in_memory().expect("open");
    let a = account(&s, "alice.test");
    let b = account(&s, "bob.test");
    let pid = s
        .create_post(&new_post(&[&a, &b], t0()), t0())
        .expect("post");
    let post = s.post(&pid).expect("read").expect("post");
    let (ta, tb) = (post.targets[0].id.clone(), post.targets[1].id.clone());
    let row = |key: &str, target: &str| StagedRow {
        key: key.into(),
        target_id: target.into(),
        sha256: "ab".repeat(32),
        url: format!("https://bucket.test/{key}"),
        expires_at: Some(t0() + chrono::Duration::hours(24)),
        created_at: t0(),
    };
    // One object shared by both targets, one used by the first only.
    s.record_staged(&row("shared", &ta)).expect("stage");
    s.record_staged(&row("shared", &tb)).expect("stage");
    s.record_staged(&row("only-a", &ta)).expect("stage");
    assert_eq!(s.staged_for_target(&ta).expect("rows").len(), 2);
    assert!(s.staged_deletable().expect("none yet").is_empty());
    let mut live = s.staged_live_keys().expect("live");
    live.sort();
    assert_eq!(live, ["only-a", "shared"]);

    // The first target is published: its own object may go, the shared one not yet.
    let held = s.claim_due("r", t0(), LEASE, 2, &[], &[]).expect("claim");
    let published = PublishedPart {
        remote_id: "1".into(),
        url: None,
        extra: serde_json::Value::Null,
    };
    let first = held.iter().find(|t| t.id == ta).expect("claimed a");
    s.record_part(&first.id, "r", 0, &published, true, t0())
        .expect("publish a");
    assert_eq!(s.staged_deletable().expect("one"), ["only-a"]);
    s.staged_deleted("only-a", t0()).expect("deleted");
    assert!(s.staged_deletable().expect("none").is_empty());
    assert_eq!(s.staged_for_target(&ta).expect("rows").len(), 1);

    // The second fails for good: the shared object may go now.
    s.transition(
        &tb,
        "r",
        &Transition::Failed {
            error: "X: refused".into(),
            class: "permanent".into(),
        },
        t0(),
    )
    .expect("fail b");
    assert_eq!(s.staged_deletable().expect("shared"), ["shared"]);
    assert!(s.staged_live_keys().expect("live").is_empty());
}

// ----------------------------------------------------------------- property test

#[derive(Debug, Clone)]
enum Op {
    Schedule {
        accounts: u8,
        in_secs: u16,
    },
    Edit {
        post: u8,
    },
    Cancel {
        post: u8,
    },
    Reschedule {
        post: u8,
        in_secs: u16,
    },
    Claim {
        runner: u8,
    },
    /// The runner works on what it holds; `outcome` picks success/transient/permanent, and
    /// `crash_after_send` makes it die with the request sent (the network may have it).
    Work {
        runner: u8,
        outcome: u8,
        crash_after_send: bool,
        network_got_it: bool,
    },
    Crash {
        runner: u8,
    },
    Advance {
        secs: u16,
    },
    Recover,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..=2, 0u16..120).prop_map(|(accounts, in_secs)| Op::Schedule { accounts, in_secs }),
        any::<u8>().prop_map(|post| Op::Edit { post }),
        any::<u8>().prop_map(|post| Op::Cancel { post }),
        (any::<u8>(), 0u16..120).prop_map(|(post, in_secs)| Op::Reschedule { post, in_secs }),
        (0u8..3).prop_map(|runner| Op::Claim { runner }),
        (0u8..3, 0u8..3, any::<bool>(), any::<bool>()).prop_map(
            |(runner, outcome, crash_after_send, network_got_it)| Op::Work {
                runner,
                outcome,
                crash_after_send,
                network_got_it
            }
        ),
        (0u8..3).prop_map(|runner| Op::Crash { runner }),
        (1u16..200).prop_map(|secs| Op::Advance { secs }),
        Just(Op::Recover),
    ]
}

struct Sim {
    s: Store,
    now: DateTime<Utc>,
    accounts: Vec<Account>,
    posts: Vec<String>,
    /// What each runner believes it holds.
    held: HashMap<String, HashSet<String>>,
    /// Posts the "network" received, per target.
    network: HashMap<String, u32>,
}

impl Sim {
    fn runner(i: u8) -> String {
        format!("r{i}")
    }

    /// One runner's work on one target, as the engine does it: reconcile first, then send.
    fn work_one(&mut self, runner: &str, tid: &str, outcome: u8, crash: bool, got_it: bool) {
        let now = self.now;
        if let Ok(Some(att)) = self.s.in_doubt_attempt(tid, 0) {
            // Reconcile: ask the "network".
            if self.network.get(tid).copied().unwrap_or(0) > 0 {
                let _ = self
                    .s
                    .settle_in_doubt(tid, 0, AttemptEnd::Reconciled, Some("remote"), now);
                let p = PublishedPart {
                    remote_id: "remote".into(),
                    url: None,
                    extra: serde_json::json!({}),
                };
                let _ = self.s.record_part(tid, runner, 0, &p, true, now);
                return;
            }
            let _ = self
                .s
                .settle_in_doubt(tid, 0, AttemptEnd::NotPublished, None, now);
            let _ = att;
        }
        let Ok(att) =
            self.s
                .begin_attempt(tid, runner, 0, &format!("k-{tid}"), None, now, now, None)
        else {
            return; // lost the lease: do nothing (never send without the intent recorded)
        };
        if crash {
            if got_it {
                *self.network.entry(tid.to_string()).or_default() += 1;
            }
            self.held.remove(runner);
            return;
        }
        match outcome {
            0 => {
                *self.network.entry(tid.to_string()).or_default() += 1;
                let _ = self.s.finish_attempt(
                    att,
                    AttemptEnd::Succeeded,
                    None,
                    Some("remote"),
                    None,
                    None,
                    now,
                );
                let p = PublishedPart {
                    remote_id: "remote".into(),
                    url: None,
                    extra: serde_json::json!({}),
                };
                let _ = self.s.record_part(tid, runner, 0, &p, true, now);
            }
            1 => {
                let _ = self.s.finish_attempt(
                    att,
                    AttemptEnd::Failed,
                    Some("transient"),
                    None,
                    None,
                    None,
                    now,
                );
                let _ = self.s.transition(
                    tid,
                    runner,
                    &Transition::Retry {
                        at: now + chrono::Duration::seconds(5),
                        reason: "retry".into(),
                        error: Some("HTTP 503".into()),
                        class: Some("transient".into()),
                        count_attempt: true,
                    },
                    now,
                );
            }
            _ => {
                let _ = self.s.finish_attempt(
                    att,
                    AttemptEnd::Failed,
                    Some("permanent"),
                    None,
                    None,
                    None,
                    now,
                );
                let _ = self.s.transition(
                    tid,
                    runner,
                    &Transition::Failed {
                        error: "bad".into(),
                        class: "permanent".into(),
                    },
                    now,
                );
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.now;
        match op {
            Op::Schedule { accounts, in_secs } => {
                let acc: Vec<&Account> = self.accounts.iter().take(*accounts as usize).collect();
                let id = self
                    .s
                    .create_post(
                        &new_post(&acc, now + chrono::Duration::seconds(i64::from(*in_secs))),
                        now,
                    )
                    .expect("create");
                self.posts.push(id);
            }
            Op::Edit { post } | Op::Cancel { post } | Op::Reschedule { post, .. }
                if self.posts.is_empty() =>
            {
                let _ = post;
            }
            Op::Edit { post } => {
                let id = self.posts[*post as usize % self.posts.len()].clone();
                let content = PostContent {
                    parts: vec![Part {
                        text: "edited".into(),
                        media: vec![],
                    }],
                    ..Default::default()
                };
                let _ = self.s.edit_post(&id, &content, now, &[]);
            }
            Op::Cancel { post } => {
                let id = self.posts[*post as usize % self.posts.len()].clone();
                let _ = self.s.cancel_post(&id, now);
            }
            Op::Reschedule { post, in_secs } => {
                let id = self.posts[*post as usize % self.posts.len()].clone();
                let _ = self.s.reschedule_post(
                    &id,
                    now + chrono::Duration::seconds(i64::from(*in_secs)),
                    "UTC",
                    now,
                );
            }
            Op::Claim { runner } => {
                let r = Self::runner(*runner);
                let got = self
                    .s
                    .claim_due(&r, now, LEASE, 5, &[], &[])
                    .expect("claim");
                self.held
                    .entry(r)
                    .or_default()
                    .extend(got.into_iter().map(|t| t.id));
            }
            Op::Work {
                runner,
                outcome,
                crash_after_send,
                network_got_it,
            } => {
                let r = Self::runner(*runner);
                let targets: Vec<String> = self
                    .held
                    .get(&r)
                    .map(|h| h.iter().cloned().collect())
                    .unwrap_or_default();
                for tid in targets {
                    if !self.held.contains_key(&r) {
                        break;
                    }
                    self.work_one(&r, &tid, *outcome, *crash_after_send, *network_got_it);
                    if let Some(h) = self.held.get_mut(&r) {
                        h.remove(&tid);
                    }
                }
            }
            Op::Crash { runner } => {
                self.held.remove(&Self::runner(*runner));
            }
            Op::Advance { secs } => {
                self.now = now + chrono::Duration::seconds(i64::from(*secs));
                // Live runners renew their leases as the engine does.
                for r in self.held.keys() {
                    let _ = self.s.renew_leases(
                        r,
                        self.now + chrono::Duration::from_std(LEASE).unwrap_or_default(),
                    );
                }
            }
            Op::Recover => {
                self.s.recover_expired_leases(now).expect("recover");
            }
        }
    }

    fn check_invariants(&self) -> std::result::Result<(), TestCaseError> {
        // Never two live claims: a target is believed held by at most one runner whose lease
        // the database confirms.
        let mut owners: HashMap<&String, Vec<&String>> = HashMap::new();
        for (r, ts) in &self.held {
            for t in ts {
                if let Ok(Some(row)) = self.s.target(t) {
                    if row.lease_owner.as_ref() == Some(r)
                        && row.lease_until.is_some_and(|u| u >= self.now)
                    {
                        owners.entry(t).or_default().push(r);
                    }
                }
            }
        }
        for (t, rs) in owners {
            prop_assert!(rs.len() <= 1, "target {t} held by {rs:?}");
        }
        for (t, n) in &self.network {
            prop_assert!(*n <= 1, "target {t} reached the network {n} times");
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn interleavings_never_double_claim_or_double_publish_and_always_settle(ops in proptest::collection::vec(op(), 1..60)) {
        let s = Store::open_in_memory().expect("open");
        let accounts = vec![account(&s, "alice.test"), account(&s, "bob.test")];
        let mut sim = Sim { s, now: t0(), accounts, posts: vec![], held: HashMap::new(), network: HashMap::new() };
        for op in &ops {
            sim.apply(op);
            sim.check_invariants()?;
        }
        // Drain: every runner dies, time passes, a healthy runner finishes everything.
        sim.held.clear();
        for _ in 0..50 {
            sim.now += chrono::Duration::seconds(300);
            sim.s.recover_expired_leases(sim.now).expect("recover");
            let got = sim.s.claim_due("final", sim.now, LEASE, 1000, &[], &[]).expect("claim");
            if got.is_empty() && sim.s.next_wake().expect("wake").is_none() { break; }
            for t in got { sim.work_one("final", &t.id, 0, false, false); }
            sim.check_invariants()?;
        }
        for pid in &sim.posts {
            let p = sim.s.post(pid).expect("post").expect("exists");
            for t in &p.targets {
                prop_assert!(matches!(t.state, TargetState::Published | TargetState::Failed | TargetState::Cancelled),
                    "target {} ended in {:?}", t.id, t.state);
                prop_assert!(t.lease_owner.is_none());
                if t.state == TargetState::Published {
                    prop_assert_eq!(sim.network.get(&t.id).copied(), Some(1), "published once on the network");
                }
            }
        }
    }
}
