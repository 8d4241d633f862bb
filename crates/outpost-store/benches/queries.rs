//! Claim cost and due-query cost with 100,000 posts in an on-disk (WAL) database.
//!
//! `cargo bench -p outpost-store --bench queries`
//!
//! Seeds a fresh database in a temporary directory through the public API (`create_post`, one
//! transaction per post, as the app and the CLI write them), prints how long that took and the
//! SQLite query plans of the dispatcher's queries, then measures with criterion:
//!
//! - `claim_due/16`: one `claim_due` of a batch of 16 (each iteration really claims 16 rows;
//!   they are handed back with `release_runner` outside the timed part);
//! - `next_wake`, `due_count`: the dispatcher's per-wake reads;
//! - `create_post`: one post with one target (one fsync'ed transaction).
//!
//! Knobs (environment): `QUERIES_POSTS` (default 100000), `QUERIES_DUE` (how many of them are
//! due now, default 1000; the rest are spread over the next 90 days).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use outpost_core::{Account, AccountStatus, Network, Part, PostContent};
use outpost_store::{NewPost, Store};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const ACCOUNTS: usize = 10;
const BATCH: usize = 16;
const RUNNER: &str = "bench-runner";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn content(i: usize) -> PostContent {
    PostContent {
        parts: vec![Part {
            text: format!("benchmark post number {i}: a short text like most scheduled posts"),
            media: vec![],
        }],
        ..Default::default()
    }
}

fn new_post(i: usize, at: DateTime<Utc>, account: &str) -> NewPost {
    NewPost {
        content: content(i),
        scheduled_at: Some(at),
        time_zone: "UTC".into(),
        draft: false,
        targets: vec![(account.to_string(), Network::Bluesky)],
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    accounts: Vec<String>,
    /// The instant the due posts are due before (the benches' "now").
    now: DateTime<Utc>,
}

fn seed() -> Fixture {
    let posts = env_usize("QUERIES_POSTS", 100_000);
    let due = env_usize("QUERIES_DUE", 1_000).min(posts);
    let dir = tempfile::tempdir().expect("a temporary directory for the database");
    let store = Store::open(&dir.path().join("outpost.db")).expect("open the on-disk store");
    let now = Utc::now();
    let accounts: Vec<String> = (0..ACCOUNTS)
        .map(|i| {
            let a = Account {
                id: outpost_core::ids::new_id("a"),
                network: Network::Bluesky,
                handle: format!("bench{i}.test"),
                remote_id: Some(format!("did:plc:bench{i}")),
                display_name: None,
                status: AccountStatus::Active,
                status_reason: None,
                token_expires_at: None,
                settings: serde_json::json!({"pds": "http://127.0.0.1:1"}),
                created_at: now,
            };
            store.insert_account(&a).expect("insert a bench account");
            a.id
        })
        .collect();

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let started = Instant::now();
    for i in 0..posts {
        let account = &accounts[i % ACCOUNTS];
        let at = if i < due {
            // Due within the last ten minutes.
            now - ChronoDuration::milliseconds(rng.gen_range(1..600_000))
        } else {
            now + ChronoDuration::milliseconds(rng.gen_range(60_000..90 * 86_400_000))
        };
        // Created "an hour ago" so that past due times are accepted as they are.
        store
            .create_post(&new_post(i, at, account), now - ChronoDuration::hours(1))
            .expect("seed a post");
        if (i + 1) % 20_000 == 0 {
            eprintln!(
                "  seeded {} posts in {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let took = started.elapsed();
    let db = dir.path().join("outpost.db");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "seeded {posts} posts ({due} due now) with create_post, one transaction each, in {:.1} s ({:.3} ms/post); db {:.1} MB + wal {:.1} MB",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / posts.max(1) as f64,
        size(&db) as f64 / 1e6,
        size(&db.with_extension("db-wal")) as f64 / 1e6,
    );
    Fixture {
        _dir: dir,
        store,
        accounts,
        now,
    }
}

/// Prints SQLite's plan for the dispatcher's queries (read-only, on a second connection).
fn print_query_plans(db: &Path, now: DateTime<Utc>) {
    let conn =
        match rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        {
            Ok(c) => c,
            Err(e) => {
                println!("(cannot open the database read-only for EXPLAIN: {e})");
                return;
            }
        };
    use rusqlite::types::Value;
    let now = Value::Integer(now.timestamp_millis());
    let null = Value::Null;
    // The statements exactly as the store prepares them, with the parameters the dispatcher
    // binds (`RunMode::Forever`: no `due_before`, nothing skipped).
    let queries: Vec<(&str, &str, Vec<Value>)> = vec![
        (
            "claim_due",
            "UPDATE targets SET
                state = CASE state WHEN 'scheduled' THEN 'claimed' ELSE state END,
                lease_owner = ?1, lease_until = ?2, updated_at = ?3
             WHERE id IN (
                SELECT id FROM targets
                WHERE state IN ('scheduled','processing') AND next_attempt_at <= ?3
                  AND lease_owner IS NULL
                  AND COALESCE(account_id, '') NOT IN (SELECT value FROM json_each(?4))
                  AND network NOT IN (SELECT value FROM json_each(?5))
                  AND (?7 IS NULL OR due_at <= ?7)
                ORDER BY next_attempt_at
                LIMIT ?6)
             RETURNING id",
            vec![
                Value::Text(RUNNER.into()),
                now.clone(),
                now.clone(),
                Value::Text("[]".into()),
                Value::Text("[]".into()),
                Value::Integer(BATCH as i64),
                null.clone(),
            ],
        ),
        (
            "next_wake (due)",
            "SELECT min(next_attempt_at) FROM targets WHERE state IN ('scheduled','processing') AND lease_owner IS NULL
               AND (?1 IS NULL OR due_at <= ?1)",
            vec![null.clone()],
        ),
        (
            "next_wake (leases)",
            "SELECT min(lease_until) FROM targets WHERE lease_until IS NOT NULL",
            vec![],
        ),
        (
            "due_count",
            "SELECT count(*) FROM targets WHERE state IN ('scheduled','processing') AND next_attempt_at <= ?1 AND lease_owner IS NULL",
            vec![now.clone()],
        ),
    ];
    println!("query plans (EXPLAIN QUERY PLAN):");
    for (name, sql, params) in queries {
        let plan: rusqlite::Result<Vec<String>> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .and_then(|mut st| {
                st.query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            });
        match plan {
            Ok(lines) => println!("  {name}: {}", lines.join(" | ")),
            Err(e) => println!("  {name}: (failed: {e})"),
        }
    }
}

fn benches(c: &mut Criterion) {
    let fx = seed();
    if let Some(path) = fx.store.path() {
        print_query_plans(path, fx.now);
    }
    let store = &fx.store;
    let now = fx.now;
    let lease = Duration::from_secs(60);
    // Nothing may be held before the claim bench starts.
    store.release_runner(RUNNER, now).expect("release");

    c.bench_function("claim_due/16", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let claimed = store
                    .claim_due(RUNNER, now, lease, BATCH, &[], &[])
                    .expect("claim_due");
                total += started.elapsed();
                assert_eq!(
                    claimed.len(),
                    BATCH,
                    "each iteration must claim a full batch"
                );
                let released = store.release_runner(RUNNER, now).expect("release_runner");
                assert_eq!(released, BATCH, "the batch is handed back");
                black_box(claimed);
            }
            total
        })
    });

    c.bench_function("release_runner/16", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let claimed = store
                    .claim_due(RUNNER, now, lease, BATCH, &[], &[])
                    .expect("claim_due");
                assert_eq!(claimed.len(), BATCH);
                let started = Instant::now();
                let released = store.release_runner(RUNNER, now).expect("release_runner");
                total += started.elapsed();
                assert_eq!(released, BATCH);
            }
            total
        })
    });

    c.bench_function("next_wake", |b| {
        b.iter(|| black_box(store.next_wake().expect("next_wake")))
    });

    c.bench_function("due_count", |b| {
        b.iter(|| {
            let n = store.due_count(now).expect("due_count");
            debug_assert!(n > 0);
            black_box(n)
        })
    });

    // Last: it adds rows (future posts, so the due set the others measure is unchanged).
    let mut i = 0usize;
    let future = now + ChronoDuration::days(30);
    c.bench_function("create_post", |b| {
        b.iter(|| {
            i += 1;
            let account = &fx.accounts[i % ACCOUNTS];
            black_box(
                store
                    .create_post(&new_post(i, future, account), now)
                    .expect("create_post"),
            )
        })
    });
}

criterion_group! {
    name = queries;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = benches
}

criterion_main!(queries);
