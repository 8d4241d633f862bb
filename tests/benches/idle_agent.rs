//! The idle headless agent: resident memory and wake-ups per minute with 10,000 future posts.
//!
//! ```sh
//! cargo build --release -p outpost-cli && cargo bench -p outpost-e2e --bench idle_agent
//! ```
//!
//! Builds nothing itself: it runs `target/release/outpost` (else `target/debug/outpost`) found
//! from this executable's location, and says which. It starts a Bluesky fake, connects one
//! account with `outpost accounts add bluesky --app-password-stdin` (encrypted file secret
//! store), writes `IDLE_POSTS` (10,000) posts due 1 to 30 days from now straight into the same
//! database file with `outpost_store::Store::create_post`, starts `outpost agent`, waits
//! `IDLE_WARMUP_SECS` (10), then for `IDLE_SECS` (60) samples VmRSS/VmHWM from
//! `/proc/<pid>/status` every second and reads the runner's `wakes` counter from
//! `outpost --json status` at the start and the end of the window. It ends the agent with
//! SIGTERM (`kill -TERM`) and checks that it exits 0.
//!
//! Targets: VmRSS under 30 MB; no more than 2 wake-ups a minute when nothing is due.
//!
//! Run under `cargo test` (without `--bench`), it does nothing.

use chrono::Utc;
use outpost_core::{Network, Part, PostContent};
use outpost_store::{NewPost, Store};
use outpost_testkit::bluesky::BlueskyFake;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support.rs"]
mod support;
use support::{env_u64, find_outpost, memory_kb, Outpost};

const HANDLE: &str = "idle.test";
const PASSWORD: &str = "idle-bench-app-pass-2k9x";

/// The agent's `wakes` counter from `outpost --json status`.
fn wakes(env: &Outpost, pid: u32) -> i64 {
    let out = env.run(&["--json", "status"], None);
    let v: serde_json::Value = serde_json::from_str(&out).expect("status --json is JSON");
    v["runners"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["pid"].as_u64() == Some(u64::from(pid)))
                .and_then(|r| r["wakes"].as_i64())
        })
        .unwrap_or_else(|| panic!("the agent (pid {pid}) is not among the runners: {v:#}"))
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "idle_agent: a benchmark; run it with `cargo bench -p outpost-e2e --bench idle_agent`"
        );
        return;
    }
    let posts = env_u64("IDLE_POSTS", 10_000) as usize;
    let warmup = Duration::from_secs(env_u64("IDLE_WARMUP_SECS", 10));
    let window = Duration::from_secs(env_u64("IDLE_SECS", 60).max(1));
    let bin = find_outpost();
    println!("idle_agent: using {}", bin.display());

    // The fake runs on this process's runtime for the whole bench.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime for the fake");
    let fake = rt
        .block_on(BlueskyFake::start())
        .expect("start the Bluesky fake");
    fake.add_account(HANDLE, PASSWORD);

    let data = tempfile::tempdir().expect("a data dir");
    let logs = tempfile::tempdir().expect("a folder for the agent's stderr");
    let env = Outpost {
        bin,
        vars: vec![
            (
                "OUTPOST_DATA_DIR".to_string(),
                data.path().display().to_string(),
            ),
            ("OUTPOST_BLUESKY_BASE_URL".to_string(), fake.entryway_url()),
            ("OUTPOST_BLUESKY_PLC_URL".to_string(), fake.entryway_url()),
            ("OUTPOST_SECRET_STORE".to_string(), "file".into()),
            (
                "OUTPOST_SECRETS_KEY".to_string(),
                "idle agent bench passphrase".into(),
            ),
            ("OUTPOST_LOG".to_string(), "info".into()),
        ],
    };
    env.run(
        &[
            "accounts",
            "add",
            "bluesky",
            "--handle",
            HANDLE,
            "--app-password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );

    // 10,000 future posts, written straight into the agent's database file.
    let seeding = Instant::now();
    {
        let store = Store::open(&data.path().join("outpost.db")).expect("open the database");
        let account = store
            .accounts()
            .expect("accounts")
            .into_iter()
            .find(|a| a.handle == HANDLE)
            .expect("the connected account");
        let now = Utc::now();
        for i in 0..posts {
            // Evenly from 1 day to 30 days ahead: nothing is due during the bench.
            let offset_s = 86_400 + (i as i64 * 29 * 86_400) / posts.max(1) as i64;
            let new = NewPost {
                content: PostContent {
                    parts: vec![Part {
                        text: format!("idle bench post {i}"),
                        media: vec![],
                    }],
                    ..Default::default()
                },
                scheduled_at: Some(now + chrono::Duration::seconds(offset_s)),
                time_zone: "UTC".into(),
                draft: false,
                targets: vec![(account.id.clone(), Network::Bluesky)],
            };
            store.create_post(&new, now).expect("create a post");
        }
    }
    println!(
        "  seeded {posts} future posts with Store::create_post in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let stderr_path = logs.path().join("agent.stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("agent stderr file");
    let mut agent = env
        .command(&["agent"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start outpost agent");
    let pid = agent.id();
    let started = Instant::now();
    std::thread::sleep(warmup);
    if let Some(code) = agent.try_wait().expect("try_wait") {
        panic!(
            "the agent exited during warm-up ({code}): {}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    }
    let (rss_warm, _) = memory_kb(pid).expect("the agent's /proc status");
    let wakes_before = wakes(&env, pid);
    let cpu_before = cpu_ticks(pid).unwrap_or(0);
    let window_start = Instant::now();
    let mut samples = Vec::new();
    let mut hwm = 0;
    while window_start.elapsed() < window {
        std::thread::sleep(
            Duration::from_secs(1).min(window.saturating_sub(window_start.elapsed())),
        );
        if let Some((rss, peak)) = memory_kb(pid) {
            samples.push(rss);
            hwm = hwm.max(peak);
        }
    }
    let wakes_after = wakes(&env, pid);
    let measured = window_start.elapsed();
    let cpu_after = cpu_ticks(pid).unwrap_or(0);
    let (rss_end, hwm_end) = memory_kb(pid).expect("the agent's /proc status");
    hwm = hwm.max(hwm_end);

    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -TERM {pid} failed");
    let code = wait_exit(&mut agent, Duration::from_secs(15));
    if code.is_none() {
        let _ = agent.kill();
    }

    let wakes = wakes_after - wakes_before;
    let per_minute = wakes as f64 * 60.0 / measured.as_secs_f64();
    let max_rss = samples.iter().copied().max().unwrap_or(rss_end);
    let avg_rss = samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64;
    let mb = |kb: f64| kb / 1024.0;
    println!(
        "  agent pid {pid}: warm-up {:.0} s, window {:.1} s, {} RSS samples",
        warmup.as_secs_f64(),
        measured.as_secs_f64(),
        samples.len()
    );
    println!(
        "  VmRSS: after warm-up {:.1} MiB, mean {:.1} MiB, max {:.1} MiB, end {:.1} MiB; VmHWM {:.1} MiB",
        mb(rss_warm as f64),
        mb(avg_rss),
        mb(max_rss as f64),
        mb(rss_end as f64),
        mb(hwm as f64)
    );
    println!(
        "  wake-ups: {wakes} in {:.1} s = {per_minute:.2}/min (runner wakes {wakes_before} -> {wakes_after}, {:.0} s after start)",
        measured.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let ticks = cpu_after.saturating_sub(cpu_before);
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    println!(
        "  CPU while idle: {:.2} s over the window ({ticks} ticks)",
        ticks as f64 / hz
    );
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    println!(
        "  targets: max VmRSS < 30 MB: {} ({:.1} MB); VmHWM < 30 MB: {} ({:.1} MB); <= 2 wake-ups/min: {}",
        verdict((max_rss as f64) * 1024.0 < 30e6),
        max_rss as f64 * 1024.0 / 1e6,
        verdict((hwm as f64) * 1024.0 < 30e6),
        hwm as f64 * 1024.0 / 1e6,
        verdict(per_minute <= 2.0)
    );
    match code {
        Some(0) => println!("  SIGTERM: the agent exited 0"),
        other => {
            println!(
                "  agent stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
            panic!("after SIGTERM the agent ended with {other:?}, expected exit code 0");
        }
    }
    drop(fake);
    rt.shutdown_background();
}
