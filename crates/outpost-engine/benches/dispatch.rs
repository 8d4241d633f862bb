//! Dispatcher benchmarks against the test kit's Bluesky fake over loopback HTTP, with the real
//! store on disk, the real Bluesky client and the wall clock (`SystemClock`).
//!
//! `cargo bench -p outpost-engine --bench dispatch [-- lateness|burst]`
//!
//! - **lateness**: `DISPATCH_POSTS` (1,000) posts due at random times over `DISPATCH_SPREAD_SECS`
//!   (120) seconds, on one account, fake latency 10 ms, `EngineConfig::default()`,
//!   `RunMode::Forever`. Lateness of each post = the fake's recorded time of its `createRecord`
//!   request minus the post's due time, and also the attempt's `started_at` (when the runner
//!   committed the attempt, right before the HTTP call) minus the due time.
//!   Target: p99 ≤ 1 s.
//! - **burst**: `BURST_ACCOUNTS` (10) × `BURST_PER_ACCOUNT` (100) targets due at the same instant,
//!   drained at each concurrency of `BURST_CONCURRENCY` (`16,64`; `per_network` = concurrency),
//!   fake latency 10 ms. Drain time = the last target's `published` time minus the due instant;
//!   shown next to the ideal bound targets × latency / concurrency.
//!
//! Quotas: Bluesky allows 5,000 write points per DID per hour (create = 3 points, so 1,666
//! posts); Outpost's default quota is the same 1,666/h per account, and the fake enforces
//! 3,000 XRPC requests per IP per 5 minutes. 1,000 posts on one account fit both; each scenario
//! gets its own fake and its own database so they never add up.
//!
//! `BENCH_DB_DIR=/dev/shm` puts the database on a RAM disk instead (no fsync cost), to tell
//! the store's commit cost from the dispatcher's own.
//!
//! Run under `cargo test` (without `--bench`), it does nothing.

use chrono::{DateTime, Utc};
use outpost_auth::{MemoryStore, Secret, SecretStore};
use outpost_core::{Account, AccountStatus, Network, Part, PostContent, SystemClock, TargetState};
use outpost_engine::{Engine, EngineConfig, RunMode};
use outpost_networks::bluesky::Bluesky;
use outpost_networks::Publisher;
use outpost_store::{NewPost, Store};
use outpost_testkit::bluesky::BlueskyFake;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "bench-app-pass-1234";
const LATENCY: Duration = Duration::from_millis(10);
const CREATE_RECORD: &str = "com.atproto.repo.createRecord";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One scenario's world: a fake Bluesky (on its own runtime, so the engine's two worker
/// threads are the agent's), a fresh on-disk store and connected accounts.
struct World {
    fake: BlueskyFake,
    _dir: tempfile::TempDir,
    store: Store,
    secrets: Arc<dyn SecretStore>,
    accounts: Vec<Account>,
}

impl World {
    async fn new(fake_rt: &tokio::runtime::Handle, accounts: usize) -> World {
        // Started on the fake's runtime: its server tasks live there.
        let fake = fake_rt
            .spawn(BlueskyFake::start())
            .await
            .expect("join the fake's start")
            .expect("start the Bluesky fake");
        let dir = match std::env::var_os("BENCH_DB_DIR") {
            Some(base) => tempfile::tempdir_in(base),
            None => tempfile::tempdir(),
        }
        .expect("a temporary data dir");
        let store = Store::open(&dir.path().join("outpost.db")).expect("open the on-disk store");
        let secrets: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        let client = Bluesky::new(fake.entryway_url(), fake.entryway_url(), secrets.clone());
        let mut list = Vec::new();
        for i in 0..accounts {
            let handle = format!("bench{i}.test");
            fake.add_account(&handle, PASSWORD);
            let id = outpost_core::ids::new_id("a");
            let c = client
                .connect(&id, &handle, None, &Secret::new(PASSWORD))
                .await
                .expect("connect a bench account");
            let account = Account {
                id,
                network: Network::Bluesky,
                handle: c.handle.clone(),
                remote_id: Some(c.did.clone()),
                display_name: None,
                status: AccountStatus::Active,
                status_reason: None,
                token_expires_at: None,
                settings: serde_json::json!({"pds": c.pds}),
                created_at: Utc::now(),
            };
            store.insert_account(&account).expect("insert the account");
            list.push(account);
        }
        fake.set_latency(LATENCY);
        fake.clear_requests();
        World {
            fake,
            _dir: dir,
            store,
            secrets,
            accounts: list,
        }
    }

    fn engine(&self, config: EngineConfig) -> Engine {
        let bsky = Bluesky::new(
            self.fake.entryway_url(),
            self.fake.entryway_url(),
            self.secrets.clone(),
        );
        let mut publishers: HashMap<Network, Arc<dyn Publisher>> = HashMap::new();
        publishers.insert(Network::Bluesky, Arc::new(bsky));
        Engine::new(
            self.store.clone(),
            Arc::new(SystemClock),
            publishers,
            config,
        )
    }

    /// Schedules post number `n` (its text names it) on one account.
    fn schedule(&self, n: usize, account: &Account, at: DateTime<Utc>) -> String {
        let content = PostContent {
            parts: vec![Part {
                text: format!("bench post #{n}"),
                media: vec![],
            }],
            ..Default::default()
        };
        self.store
            .create_post(
                &NewPost {
                    content,
                    scheduled_at: Some(at),
                    time_zone: "UTC".into(),
                    draft: false,
                    targets: vec![(account.id.clone(), Network::Bluesky)],
                },
                Utc::now().min(at),
            )
            .expect("schedule a post")
    }

    fn published(&self) -> i64 {
        self.store
            .target_counts()
            .expect("target counts")
            .into_iter()
            .find(|(s, _)| *s == TargetState::Published)
            .map(|(_, n)| n)
            .unwrap_or(0)
    }

    /// Runs the engine until `total` targets are published or `limit` passes. Returns whether
    /// all were published.
    async fn run_until_published(&self, engine: &Engine, total: i64, limit: Duration) -> bool {
        let cancel = CancellationToken::new();
        let handle = {
            let (e, c) = (engine.clone(), cancel.clone());
            tokio::spawn(async move { e.run(RunMode::Forever, c).await })
        };
        let deadline = Instant::now() + limit;
        let mut done = false;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.published() >= total {
                done = true;
                break;
            }
        }
        cancel.cancel();
        handle
            .await
            .expect("join the engine")
            .expect("the engine ran cleanly");
        done
    }
}

/// CPU time (user + system) this process used so far, in clock ticks (engine, store and fake
/// together), from /proc (Linux; 0 elsewhere).
fn cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0)
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn row(name: &str, v: &mut [i64]) {
    v.sort_unstable();
    println!(
        "  {name:<34} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}",
        v.len(),
        v.first().copied().unwrap_or(0),
        pct(v, 50.0),
        pct(v, 90.0),
        pct(v, 99.0),
        v.last().copied().unwrap_or(0)
    );
}

async fn lateness(fake_rt: &tokio::runtime::Handle) {
    let posts = env_usize("DISPATCH_POSTS", 1_000);
    let spread = env_usize("DISPATCH_SPREAD_SECS", 120) as i64;
    let world = World::new(fake_rt, 1).await;
    let account = world.accounts[0].clone();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    // The first post is due a few seconds after seeding, so the engine starts idle.
    let seeding = Instant::now();
    let t0 = Utc::now() + chrono::Duration::seconds(5);
    let mut due: HashMap<usize, DateTime<Utc>> = HashMap::new();
    let mut ids = Vec::with_capacity(posts);
    for n in 0..posts {
        let at = t0 + chrono::Duration::milliseconds(rng.gen_range(0..spread * 1000));
        ids.push(world.schedule(n, &account, at));
        due.insert(n, at);
    }
    let seeded_in = seeding.elapsed();
    println!(
        "lateness: {posts} posts due at random times over {spread} s on 1 account; fake latency {} ms; \
         EngineConfig::default() (concurrency 16, per network 8); on-disk store; SystemClock; seeded in {:.1} s",
        LATENCY.as_millis(),
        seeded_in.as_secs_f64()
    );
    let engine = world.engine(EngineConfig::default());
    let started = Instant::now();
    let cpu_before = cpu_ticks();
    let limit = Duration::from_secs(spread as u64 + 120);
    let all = world
        .run_until_published(&engine, posts as i64, limit)
        .await;
    let ran = started.elapsed();
    let cpu = (cpu_ticks() - cpu_before) as f64 / ticks_per_second();

    // Lateness at the fake: createRecord arrival (recorded after the fake's 10 ms latency).
    let mut at_fake = Vec::new();
    let mut per_post_requests: HashMap<usize, usize> = HashMap::new();
    for r in world.fake.requests() {
        if r.nsid() != Some(CREATE_RECORD) || r.status != 200 {
            continue;
        }
        let n = r
            .body_json()
            .and_then(|b| {
                b["record"]["text"]
                    .as_str()?
                    .strip_prefix("bench post #")?
                    .parse::<usize>()
                    .ok()
            })
            .expect("a bench post's createRecord names its post number");
        *per_post_requests.entry(n).or_default() += 1;
        at_fake.push((r.at - due[&n]).num_milliseconds());
    }
    // Lateness at the store: the attempt's started_at (committed right before the HTTP call).
    let mut at_attempt = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let post = world.store.post(id).expect("read").expect("post exists");
        for t in &post.targets {
            for a in world.store.attempts(&t.id).expect("attempts") {
                if a.try_no == 1 {
                    at_attempt.push((a.started_at - due[&n]).num_milliseconds());
                }
            }
        }
    }
    let published = world.published();
    println!(
        "  published {published}/{posts} in {:.1} s of running ({cpu:.1} s CPU, engine + store + fake){}; createRecord calls {} (duplicates: {})",
        ran.as_secs_f64(),
        if all { "" } else { " — DID NOT FINISH within the limit" },
        at_fake.len(),
        per_post_requests.values().filter(|c| **c > 1).count()
    );
    println!(
        "  {:<34} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "lateness (ms)", "n", "min", "p50", "p90", "p99", "max"
    );
    let mut fake_sorted = at_fake.clone();
    row("fake createRecord `at` - due", &mut fake_sorted);
    row("attempt started_at - due", &mut at_attempt);
    let p99 = pct(&fake_sorted, 99.0);
    println!(
        "  target p99 <= 1000 ms: {} (p99 {p99} ms)",
        if p99 <= 1000 && all { "MET" } else { "NOT MET" }
    );
}

async fn burst(fake_rt: &tokio::runtime::Handle, concurrency: usize) {
    let accounts = env_usize("BURST_ACCOUNTS", 10);
    let per_account = env_usize("BURST_PER_ACCOUNT", 100);
    let total = accounts * per_account;
    let world = World::new(fake_rt, accounts).await;
    // Due a little after seeding, with the engine already running and idle.
    let due = Utc::now() + chrono::Duration::seconds(3);
    let mut n = 0;
    for _ in 0..per_account {
        for a in &world.accounts {
            world.schedule(n, a, due);
            n += 1;
        }
    }
    let engine = world.engine(EngineConfig {
        concurrency,
        per_network: concurrency,
        ..EngineConfig::default()
    });
    let cpu_before = cpu_ticks();
    let all = world
        .run_until_published(&engine, total as i64, Duration::from_secs(120))
        .await;
    let cpu = (cpu_ticks() - cpu_before) as f64 / ticks_per_second();

    // Drain time: from the due instant to the last target's publication (store time), and to
    // the last createRecord the fake answered.
    let mut last_published: Option<DateTime<Utc>> = None;
    let mut first_call: Option<DateTime<Utc>> = None;
    let mut last_call: Option<DateTime<Utc>> = None;
    for r in world.fake.requests() {
        if r.nsid() == Some(CREATE_RECORD) && r.status == 200 {
            first_call = Some(first_call.map_or(r.at, |f| f.min(r.at)));
            last_call = Some(last_call.map_or(r.at, |l| l.max(r.at)));
        }
    }
    for p in world
        .store
        .list_posts(None, total + 10)
        .expect("list posts")
    {
        for t in p.targets {
            if t.state == TargetState::Published {
                last_published = Some(last_published.map_or(t.updated_at, |l| l.max(t.updated_at)));
            }
        }
    }
    let ms = |t: Option<DateTime<Utc>>| t.map(|t| (t - due).num_milliseconds()).unwrap_or(-1);
    let ideal = total as f64 * LATENCY.as_secs_f64() * 1000.0 / concurrency as f64;
    let drain = ms(last_published);
    println!(
        "  {:>11} {:>7} {:>10} {:>14} {:>14} {:>10} {:>10} {:>7.2}{}",
        concurrency,
        total,
        format!("{}/{}", world.published(), total),
        ms(first_call),
        ms(last_call),
        drain,
        format!("{ideal:.0}"),
        cpu,
        if all { "" } else { "  (DID NOT FINISH)" }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "dispatch: a benchmark; run it with `cargo bench -p outpost-engine --bench dispatch`"
        );
        return;
    }
    let wanted: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| name.contains(w));
    // The fake gets a runtime of its own (one thread), so the engine's runtime is shaped like
    // the agent's (two worker threads). They share the machine's cores all the same.
    let fake_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bluesky-fake")
        .enable_all()
        .build()
        .expect("the fake's runtime");
    let fake = fake_rt.handle().clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the engine's runtime");
    rt.block_on(async {
        if run("lateness") {
            lateness(&fake).await;
        }
        if run("burst") {
            let levels: Vec<usize> = std::env::var("BURST_CONCURRENCY")
                .unwrap_or_else(|_| "16,64".into())
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect();
            println!(
                "burst: {} accounts x {} posts due at the same instant; fake latency {} ms; per_network = concurrency; on-disk store",
                env_usize("BURST_ACCOUNTS", 10),
                env_usize("BURST_PER_ACCOUNT", 100),
                LATENCY.as_millis()
            );
            println!(
                "  {:>11} {:>7} {:>10} {:>14} {:>14} {:>10} {:>10} {:>7}",
                "concurrency", "targets", "published", "first call ms", "last call ms", "drain ms", "ideal ms", "CPU s"
            );
            for c in levels {
                burst(&fake, c).await;
            }
            println!(
                "  (ms after the due instant; ideal = targets x 10 ms / concurrency; CPU s = this \
                 process's CPU time, engine + store + fake, over the run on {} cores)",
                std::thread::available_parallelism().map_or(0, |n| n.get())
            );
        }
    });
}
