//! A 2 GiB video upload by the real `outpost` binary (`outpost agent --once`) to the test kit's
//! YouTube and TikTok fakes on loopback: its throughput against a plain `curl -T` of the same
//! file to the same fake, and the agent's peak memory during the upload against its memory
//! just before it.
//!
//! ```sh
//! cargo build --release -p outpost-cli && cargo bench -p outpost-e2e --bench video_upload
//! ```
//!
//! Builds nothing itself: it runs `target/release/outpost` (else `target/debug/outpost`) found
//! from this executable's location, and says which. One machine (`outpost_e2e::Machine`: a data
//! dir, the encrypted file secret store) gets both fakes and one connected account on each. The
//! video is written once into a temporary folder: a valid MP4 header, then an `mdat` of real,
//! non-sparse, position-dependent bytes (`UPLOAD_MB` MiB in all, 2048 by default). `outpost
//! media add` copies it into the library, and the source is deleted at once, so only one big file
//! stays on disk. The agent and curl both read that library copy.
//!
//! Each of `UPLOAD_RUNS` (3) runs per network in `UPLOAD_NETWORKS` (`youtube,tiktok`):
//!
//! 1. `outpost post TEXT --to NET:HANDLE --now --media ID`, then `outpost agent --once`, which
//!    must exit 0. The post must be `published`, and the fake must hold exactly one new video with
//!    every byte of the file (YouTube: byte count and the fake's checksum; TikTok: the committed
//!    chunks cover the file once). Anything else fails the bench.
//! 2. Memory: `/proc/<pid>/status` is read every 10 ms. Once the agent has started and has opened
//!    the upload (YouTube: the session start, `videos.insert`; TikTok: the publish `init`),
//!    before the first byte, VmRSS and VmHWM are read as "before upload", then `5` is written to
//!    `/proc/<pid>/clear_refs`, which resets VmHWM to the current RSS. The last VmHWM read before
//!    the agent exits is the peak during the upload. The reset is needed because the start-up peak
//!    (about 77 MiB) is the Argon2id key derivation of the encrypted file secret store, not the
//!    upload.
//! 3. Throughput, agent: the span the fake saw. YouTube: from the first request to the session
//!    (a status query, `Content-Range: bytes */N`, recorded on arrival since it has no body) to
//!    the latest chunk `PUT`, which the fake records when it has read the whole body, before it
//!    answers. TikTok: from the first chunk `PUT`'s `started_at` (headers arrived) to the last
//!    committed chunk's `finished_at` (body read). The span includes the gaps between dispatcher
//!    steps; that is what the user waits for.
//! 4. Throughput, curl, right after (same page-cache state): YouTube, a fresh resumable session
//!    and one `PUT` of the whole file; TikTok, `PUT /_fake/sink`, which reads the body the same way
//!    as the upload host. curl's own `%{time_total}`.
//!
//! Targets: the agent within 80 % of curl (ratio of the medians ≥ 0.80); peak memory during the
//! upload within 64 MB of the memory before it (every run).
//!
//! Run under `cargo test` (without `--bench`), it does nothing.

use chrono::{DateTime, Utc};
use outpost_e2e::Machine;
use outpost_testkit::media::write_large_mp4;
use outpost_testkit::tiktok::{self as tk, StatusPlan, TikTokConfig, TikTokFake};
use outpost_testkit::youtube::{
    self as ytk, Checksum, Endpoint as YtEndpoint, Processing, YouTubeConfig, YouTubeFake,
};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support.rs"]
mod support;
use support::{env_u64, find_outpost, memory_kb, Outpost};

const MIB: u64 = 1024 * 1024;
const YT_HANDLE: &str = "upload-bench";
const TT_USER: &str = "uploadbench";
/// Throughput target: agent MiB/s ÷ curl MiB/s.
const RATIO_TARGET: f64 = 0.80;
/// Memory target: peak during the upload − VmRSS before it, in bytes (64 MB).
const MEMORY_TARGET_BYTES: f64 = 64e6;
/// Length of the generated video (TikTok creators may post up to 600 s on the fake).
const VIDEO_SECONDS: u32 = 300;

/// A valid MP4 ([`VIDEO_SECONDS`] long, 1080p30 video and audio) of exactly `size` bytes of
/// real patterned bytes. Returns the YouTube fake's [`Checksum`] of the whole file.
fn write_video(path: &Path, size: u64) -> String {
    let mut sum = Checksum::new();
    write_large_mp4(path, size, VIDEO_SECONDS, |b| sum.update(b)).expect("write the video");
    sum.hex()
}

/// CPU time of this process (fakes + bench) and of its waited-for children, in clock ticks.
fn own_cpu_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0, 0);
    };
    let Some(close) = stat.rfind(')') else {
        return (0, 0);
    };
    // Fields after the parenthesised command name: utime, stime, cutime, cstime are 14–17.
    let f: Vec<u64> = stat[close + 2..]
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    (get(11) + get(12), get(13) + get(14))
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

/// `curl ARGS -w '\n%{http_code} %{time_total}'`: (body, HTTP status, curl's total seconds).
fn curl(args: &[&str]) -> (String, u16, f64) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code} %{time_total}"])
        .args(args)
        .output()
        .expect("curl is needed for the baseline (is it installed?)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl {args:?} failed ({}): {}{text}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let mut it = tail.split_whitespace();
    let status = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let secs = it
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("curl printed no time_total: {text}"));
    (body.to_string(), status, secs)
}

/// Kills and reaps the agent if the bench panics while it runs.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// One `outpost agent --once` as measured from outside.
struct AgentRun {
    spawned_at: DateTime<Utc>,
    baseline_at: DateTime<Utc>,
    exited_at: DateTime<Utc>,
    wall_secs: f64,
    /// VmRSS and VmHWM (the start-up peak) when the upload was opened, before its first byte.
    rss_before_kb: u64,
    hwm_before_kb: u64,
    /// Whether `clear_refs` reset VmHWM; without it the peak is the whole run's.
    reset: bool,
    /// The last VmHWM read before the agent exited: the peak since the reset.
    hwm_upload_kb: u64,
    max_rss_kb: u64,
    samples: usize,
    agent_cpu_secs: f64,
    bench_cpu_secs: f64,
}

/// Runs `outpost agent --once` (stderr to `log`), sampling its memory every 10 ms, and takes the
/// "before upload" baseline and the VmHWM reset as soon as `upload_opened` says so.
fn run_agent(
    o: &Outpost,
    log: &Path,
    within: Duration,
    hz: f64,
    mut upload_opened: impl FnMut() -> bool,
) -> AgentRun {
    let stderr = std::fs::File::create(log).expect("agent log file");
    let (own0, kids0) = own_cpu_ticks();
    let spawned_at = Utc::now();
    let started = Instant::now();
    let mut agent = Reaped(
        o.command(&["agent", "--once"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start outpost agent --once"),
    );
    let pid = agent.0.id();
    let mut baseline: Option<(DateTime<Utc>, u64, u64, bool)> = None;
    let mut hwm_upload_kb = 0;
    let mut max_rss_kb = 0;
    let mut samples = 0;
    let code = loop {
        if baseline.is_none() && upload_opened() {
            let (rss, hwm) = memory_kb(pid).expect("the agent's /proc status");
            let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
            baseline = Some((Utc::now(), rss, hwm, reset));
        }
        if let Some((rss, hwm)) = memory_kb(pid) {
            if baseline.is_some() {
                max_rss_kb = max_rss_kb.max(rss);
                hwm_upload_kb = hwm;
                samples += 1;
            }
        }
        if let Some(status) = agent.0.try_wait().expect("try_wait") {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > within {
            let _ = agent.0.kill();
            let _ = agent.0.wait();
            panic!(
                "outpost agent --once did not finish in {within:?}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        // Fine-grained until the baseline is taken (the first byte follows the session start
        // within milliseconds), then every 10 ms.
        let pause_ms = if baseline.is_none() { 1 } else { 10 };
        std::thread::sleep(Duration::from_millis(pause_ms));
    };
    let wall_secs = started.elapsed().as_secs_f64();
    let exited_at = Utc::now();
    let (own1, kids1) = own_cpu_ticks();
    assert!(
        code == 0,
        "outpost agent --once exited {code}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    let Some((baseline_at, rss_before_kb, hwm_before_kb, reset)) = baseline else {
        panic!(
            "the agent exited 0 without opening an upload; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    };
    AgentRun {
        spawned_at,
        baseline_at,
        exited_at,
        wall_secs,
        rss_before_kb,
        hwm_before_kb,
        reset,
        hwm_upload_kb,
        max_rss_kb,
        samples,
        agent_cpu_secs: kids1.saturating_sub(kids0) as f64 / hz,
        bench_cpu_secs: own1.saturating_sub(own0) as f64 / hz,
    }
}

/// What the fake saw of the agent's upload.
struct Upload {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// A line on where the time went (steps, gaps, retries).
    detail: String,
}

impl Upload {
    fn secs(&self) -> f64 {
        secs_between(self.start, self.end).max(1e-3)
    }
}

/// One run's figures.
struct RunResult {
    upload_secs: f64,
    curl_secs: f64,
    memory_delta_kb: i64,
}

/// One run as measured: the agent, what the fake saw, and curl.
struct Measured {
    agent: AgentRun,
    upload: Upload,
    curl_secs: f64,
    /// CPU of this process (the fake) and of curl while curl ran.
    curl_bench_cpu: f64,
    curl_cpu: f64,
}

/// Prints a run's lines and returns its figures.
fn report_run(
    net: &str,
    run: usize,
    runs: usize,
    total: u64,
    load: &str,
    m: &Measured,
) -> RunResult {
    let (a, up, curl_secs, curl_bench_cpu) = (&m.agent, &m.upload, m.curl_secs, m.curl_bench_cpu);
    let mib = total as f64 / MIB as f64;
    let mb = |kb: u64| kb as f64 / 1024.0;
    let upload_secs = up.secs();
    let ratio = curl_secs / upload_secs;
    let delta_kb = a.hwm_upload_kb as i64 - a.rss_before_kb as i64;
    println!(
        "  {net} run {run}/{runs} (load {load}): agent {upload_secs:.2} s = {:.1} MiB/s | curl -T {curl_secs:.2} s = {:.1} MiB/s | ratio {ratio:.2} | peak during upload {:.1} MiB − before {:.1} MiB = {:+.1} MiB",
        mib / upload_secs,
        mib / curl_secs,
        mb(a.hwm_upload_kb),
        mb(a.rss_before_kb),
        delta_kb as f64 / 1024.0,
    );
    let late = secs_between(up.start, a.baseline_at);
    println!(
        "    agent process {:.2} s: start-up → first upload request {:.2} s, upload {upload_secs:.2} s, last byte → exit {:.2} s; CPU: agent {:.2} s, fakes+bench {:.2} s (during curl: fakes+bench {curl_bench_cpu:.2} s, curl {:.2} s)",
        a.wall_secs,
        secs_between(a.spawned_at, up.start),
        secs_between(up.end, a.exited_at),
        a.agent_cpu_secs,
        a.bench_cpu_secs,
        m.curl_cpu,
    );
    println!(
        "    memory: before upload VmRSS {:.1} MiB (VmHWM so far {:.1} MiB, the start-up peak); during upload VmHWM {:.1} MiB{}, max sampled VmRSS {:.1} MiB ({} samples){}",
        mb(a.rss_before_kb),
        mb(a.hwm_before_kb),
        mb(a.hwm_upload_kb),
        if a.reset { "" } else { " (clear_refs failed: whole run)" },
        mb(a.max_rss_kb),
        a.samples,
        if late > 0.0 {
            format!("; NOTE: baseline taken {:.0} ms after the first upload request", late * 1e3)
        } else {
            String::new()
        }
    );
    println!("    {}", up.detail);
    RunResult {
        upload_secs,
        curl_secs,
        memory_delta_kb: delta_kb,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn summary(net: &str, total: u64, results: &[RunResult]) {
    let mib = total as f64 / MIB as f64;
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let agent: Vec<f64> = results.iter().map(|r| mib / r.upload_secs).collect();
    let curl: Vec<f64> = results.iter().map(|r| mib / r.curl_secs).collect();
    let ratios: Vec<String> = results
        .iter()
        .map(|r| format!("{:.2}", r.curl_secs / r.upload_secs))
        .collect();
    let (agent_med, curl_med) = (median(agent.clone()), median(curl.clone()));
    let ratio = agent_med / curl_med;
    let deltas: Vec<f64> = results
        .iter()
        .map(|r| r.memory_delta_kb as f64 / 1024.0)
        .collect();
    let worst = deltas.iter().copied().fold(f64::MIN, f64::max);
    let verdict = |ok: bool| if ok { "met" } else { "not met" };
    println!("  {net} summary ({} runs, {mib:.0} MiB):", results.len());
    println!(
        "    agent: median {:.2} s = {agent_med:.1} MiB/s (runs: {} MiB/s)",
        mib / agent_med,
        list(&agent)
    );
    println!(
        "    curl:  median {:.2} s = {curl_med:.1} MiB/s (runs: {} MiB/s)",
        mib / curl_med,
        list(&curl)
    );
    println!(
        "    ratio agent/curl (medians): {ratio:.2} (runs: {}); target ≥ {RATIO_TARGET:.2}: {}",
        ratios.join(", "),
        verdict(ratio >= RATIO_TARGET)
    );
    println!(
        "    memory, peak during upload − VmRSS before upload: median {:+.1} MiB, worst {worst:+.1} MiB ({:.1} MB) (runs: {} MiB); target ≤ 64 MB in every run: {}",
        median(deltas.clone()),
        worst * MIB as f64 / 1e6,
        list(&deltas),
        verdict(worst * (MIB as f64) <= MEMORY_TARGET_BYTES)
    );
}

/// The YouTube side: a fake with a channel, connected in Outpost.
struct Yt {
    fake: YouTubeFake,
    channel_id: String,
}

impl Yt {
    fn connect(o: &Outpost, fake: YouTubeFake) -> Yt {
        // Processed as soon as the last byte is in: the bench measures the upload.
        fake.set_processing(Processing::AfterPolls { polls: 0 });
        o.run(
            &[
                "apps",
                "set",
                "youtube",
                "--client-id",
                ytk::DEFAULT_CLIENT_ID,
                "--client-secret-stdin",
            ],
            Some(&format!("{}\n", ytk::DEFAULT_CLIENT_SECRET)),
        );
        let (channel, tokens) = fake.create_channel_with_tokens(YT_HANDLE);
        let v = o.json(
            &["accounts", "add", "youtube", "--token-stdin"],
            Some(&serde_json::to_string(&tokens).expect("tokens as JSON")),
        );
        assert_eq!(v["account"]["remote_id"], channel.id.as_str(), "{v:#}");
        Yt {
            fake,
            channel_id: channel.id,
        }
    }

    /// Checks the run's one new video and reads the span from the fake's request log.
    fn check(
        &self,
        v: &Value,
        sessions_before: usize,
        known: &mut HashSet<String>,
        total: u64,
        checksum: &str,
    ) -> Upload {
        let new: Vec<ytk::YtVideo> = self
            .fake
            .videos()
            .into_iter()
            .filter(|x| !known.contains(&x.id))
            .collect();
        assert_eq!(
            new.len(),
            1,
            "exactly one new video on the YouTube fake: {new:#?}"
        );
        let video = &new[0];
        known.insert(video.id.clone());
        assert_eq!(video.bytes, total, "the video has every byte of the file");
        assert_eq!(
            video.checksum, checksum,
            "the video is the file, byte for byte"
        );
        assert_eq!(
            v["post"]["targets"][0]["remote_id"],
            video.id.as_str(),
            "{v:#}"
        );
        let mut reqs: Vec<ytk::YtRequest> = self
            .fake
            .requests()
            .into_iter()
            .filter(|r| {
                matches!(
                    r.endpoint,
                    Some(YtEndpoint::UploadStatus | YtEndpoint::UploadChunk)
                ) && r.query_param("upload_id").as_deref() == Some(video.upload_id.as_str())
            })
            .collect();
        reqs.sort_by_key(|r| r.at);
        let start = reqs.first().map(|r| r.at).expect("requests to the session");
        let chunks: Vec<&ytk::YtRequest> = reqs
            .iter()
            .filter(|r| r.endpoint == Some(YtEndpoint::UploadChunk))
            .collect();
        let end = chunks.iter().map(|r| r.at).max().expect("chunk PUTs");
        // Each dispatcher step starts with a status query: the gap before it (after the
        // previous step's last chunk) is time between steps.
        let mut steps = 0;
        let mut gaps = Vec::new();
        let mut last_chunk: Option<DateTime<Utc>> = None;
        for r in &reqs {
            match r.endpoint {
                Some(YtEndpoint::UploadStatus) => {
                    steps += 1;
                    if let Some(prev) = last_chunk {
                        gaps.push(secs_between(prev, r.at));
                    }
                }
                _ => last_chunk = Some(r.at),
            }
        }
        let failed = chunks
            .iter()
            .filter(|r| !matches!(r.status, 200 | 201 | 308))
            .count();
        let wire: u64 = chunks.iter().map(|r| r.body_len).sum();
        let sessions = self.fake.sessions().len().saturating_sub(sessions_before);
        Upload {
            start,
            end,
            detail: format!(
                "youtube fake: {steps} steps (status queries), {} chunk PUTs ({} MiB each on average, {failed} not accepted), {:.1} MiB on the wire; {} gaps between steps total {:.2} s (max {:.0} ms); {sessions} upload session(s) opened",
                chunks.len(),
                wire / MIB / (chunks.len() as u64).max(1),
                wire as f64 / MIB as f64,
                gaps.len(),
                gaps.iter().sum::<f64>(),
                gaps.iter().copied().fold(0.0, f64::max) * 1e3,
            ),
        }
    }

    /// A fresh resumable session on the fake and one `curl -T` of the whole file to it.
    fn curl(
        &self,
        rt: &tokio::runtime::Runtime,
        path: &Path,
        total: u64,
        known: &mut HashSet<String>,
        checksum: &str,
    ) -> f64 {
        let token = self
            .fake
            .issue_tokens(&self.channel_id, &ytk::ALL_SCOPES)
            .expect("tokens for curl")
            .access_token;
        let uri = rt.block_on(async {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client");
            let r = http
                .post(format!(
                    "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
                    self.fake.base_url()
                ))
                .bearer_auth(&token)
                .header("x-upload-content-length", total.to_string())
                .header("x-upload-content-type", "video/mp4")
                .json(&serde_json::json!({
                    "snippet": {"title": "curl baseline"},
                    "status": {"privacyStatus": "private"}
                }))
                .send()
                .await
                .expect("start a session for curl");
            assert!(r.status().is_success(), "session start: {}", r.status());
            r.headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("the session URI")
                .to_string()
        });
        let range = format!("Content-Range: bytes 0-{}/{total}", total - 1);
        let path = path.display().to_string();
        let (_, status, secs) = curl(&[
            "-o",
            "/dev/null",
            "-X",
            "PUT",
            "-H",
            "Content-Type: video/mp4",
            "-H",
            &range,
            "-T",
            &path,
            &uri,
        ]);
        assert_eq!(status, 200, "curl's PUT of the whole file");
        let new: Vec<ytk::YtVideo> = self
            .fake
            .videos()
            .into_iter()
            .filter(|x| !known.contains(&x.id))
            .collect();
        assert!(
            new.len() == 1 && new[0].bytes == total && new[0].checksum == checksum,
            "curl's upload landed whole: {new:#?}"
        );
        known.insert(new[0].id.clone());
        secs
    }
}

/// The TikTok side: a fake with a creator, connected in Outpost.
struct Tt {
    fake: TikTokFake,
}

impl Tt {
    fn connect(o: &Outpost, fake: TikTokFake) -> Tt {
        // Published on the first status check: the bench measures the upload.
        fake.set_default_plan(StatusPlan::Complete {
            processing_polls: 0,
        });
        o.run(
            &[
                "apps",
                "set",
                "tiktok",
                "--client-id",
                tk::DEFAULT_CLIENT_KEY,
                "--client-secret-stdin",
            ],
            Some(&format!("{}\n", tk::DEFAULT_CLIENT_SECRET)),
        );
        let (user, tokens) = fake.create_user_with_tokens(TT_USER);
        let v = o.json(
            &["accounts", "add", "tiktok", "--token-stdin"],
            Some(&serde_json::to_string(&tokens).expect("tokens as JSON")),
        );
        assert_eq!(v["account"]["remote_id"], user.open_id.as_str(), "{v:#}");
        Tt { fake }
    }

    /// Checks the run's one new publish and reads the span from its chunk PUTs.
    fn check(&self, v: &Value, publishes_before: usize, posts_before: usize, total: u64) -> Upload {
        let publishes = self.fake.publishes();
        let new = &publishes[publishes_before.min(publishes.len())..];
        assert_eq!(new.len(), 1, "exactly one new publish (init): {new:#?}");
        let p = &new[0];
        assert_eq!(p.video_size, total, "the init announced the file's size");
        assert!(
            p.upload_complete && p.uploaded_bytes == total,
            "the fake has every byte: {p:#?}"
        );
        assert_eq!(
            self.fake.posts().len(),
            posts_before + 1,
            "exactly one new video went out"
        );
        assert!(
            v["post"]["targets"][0]["remote_url"].as_str().is_some_and(
                |u| u.starts_with(&format!("https://www.tiktok.com/@{TT_USER}/video/"))
            ),
            "{v:#}"
        );
        let puts = self.fake.chunk_puts(&p.publish_id);
        let mut committed: Vec<&tk::ChunkPut> = puts.iter().filter(|c| c.committed).collect();
        committed.sort_by_key(|c| c.first);
        let mut next = 0;
        for c in &committed {
            assert_eq!(
                c.first, next,
                "committed chunks follow each other: {committed:#?}"
            );
            assert_eq!(c.received, c.last - c.first + 1, "whole chunk: {c:#?}");
            next = c.last + 1;
        }
        assert_eq!(next, total, "the committed chunks cover the file");
        let start = puts.iter().map(|c| c.started_at).min().expect("chunk PUTs");
        let end = committed
            .iter()
            .map(|c| c.finished_at)
            .max()
            .expect("committed chunks");
        let in_chunks: f64 = committed
            .iter()
            .map(|c| secs_between(c.started_at, c.finished_at))
            .sum();
        let gaps: Vec<f64> = committed
            .windows(2)
            .map(|w| secs_between(w[0].finished_at, w[1].started_at))
            .collect();
        Upload {
            start,
            end,
            detail: format!(
                "tiktok fake: {} chunks of {} bytes (plan: {} chunks; {} PUTs not committed), {in_chunks:.2} s inside chunk PUTs; {} gaps between chunks (one dispatcher step each) total {:.2} s (max {:.0} ms)",
                committed.len(),
                p.chunk_size,
                p.total_chunks,
                puts.len() - committed.len(),
                gaps.len(),
                gaps.iter().sum::<f64>(),
                gaps.iter().copied().fold(0.0, f64::max) * 1e3,
            ),
        }
    }

    /// `curl -T` of the file to the fake's sink, which reads a body like the upload host.
    fn curl(&self, path: &Path, total: u64) -> f64 {
        let path = path.display().to_string();
        let url = format!("{}/_fake/sink", self.fake.base_url());
        let (body, status, secs) = curl(&["-T", &path, &url]);
        assert_eq!(status, 200, "curl to the sink: {body}");
        let v: Value = serde_json::from_str(body.trim()).expect("the sink answers JSON");
        assert_eq!(
            v["bytes"].as_u64(),
            Some(total),
            "the sink read the file: {v}"
        );
        secs
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "video_upload: a benchmark; run it with `cargo bench -p outpost-e2e --bench video_upload`"
        );
        return;
    }
    let size_mb = env_u64("UPLOAD_MB", 2048).max(1);
    let runs = env_u64("UPLOAD_RUNS", 3).max(1) as usize;
    let networks: Vec<String> = std::env::var("UPLOAD_NETWORKS")
        .unwrap_or_else(|_| "youtube,tiktok".into())
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for n in &networks {
        assert!(
            n == "youtube" || n == "tiktok",
            "UPLOAD_NETWORKS: unknown network {n:?} (youtube, tiktok)"
        );
    }
    let total = size_mb * MIB;
    // Generous: 2 MiB/s would still finish.
    let within = Duration::from_secs(120 + size_mb / 2);
    let hz = clock_ticks_per_sec();
    let bin = find_outpost();
    println!("video_upload: using {}", bin.display());
    println!(
        "  {size_mb} MiB video, {runs} run(s) per network: {}; {} cores, load {}",
        networks.join(", "),
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );
    println!(
        "  memory: the agent's start-up peak (~77 MiB) is the Argon2id key derivation of the encrypted file secret store; VmHWM is reset (/proc/<pid>/clear_refs) once the upload is opened, so the peak below is the upload's"
    );
    println!(
        "  span: youtube = first request to the session (status query, on arrival) → end of the last chunk body at the fake; tiktok = first chunk PUT's arrival → end of the last committed chunk body"
    );

    // The fakes run on this process's runtime for the whole bench (2 workers: the machine's
    // 2 cores, shared with the agent and curl).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime for the fakes");
    let mut m = rt.block_on(Machine::new());
    let yt_fake = networks
        .iter()
        .any(|n| n == "youtube")
        .then(|| rt.block_on(YouTubeFake::start(YouTubeConfig::default())));
    let tt_fake = networks
        .iter()
        .any(|n| n == "tiktok")
        .then(|| rt.block_on(TikTokFake::start(TikTokConfig::default())));
    if let Some(f) = &yt_fake {
        m.set_var("OUTPOST_YOUTUBE_BASE_URL", &f.base_url());
    }
    if let Some(f) = &tt_fake {
        m.set_var("OUTPOST_TIKTOK_BASE_URL", &f.base_url());
        m.set_var("OUTPOST_TIKTOK_AUTHORIZE_URL", &f.authorize_url());
    }
    let o = Outpost { bin, vars: m.env() };
    let yt = yt_fake.map(|f| Yt::connect(&o, f));
    let tt = tt_fake.map(|f| Tt::connect(&o, f));

    // The video: written, copied into the library, and the source deleted.
    let (media_id, library_path, checksum) = {
        let src = tempfile::tempdir().expect("a folder for the generated video");
        let path = src.path().join("bench.mp4");
        let t = Instant::now();
        let checksum = write_video(&path, total);
        let wrote = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let v = o.json(&["media", "add", &path.display().to_string()], None);
        let media = &v["media"];
        assert_eq!(media["bytes"].as_u64(), Some(total), "{v:#}");
        println!(
            "  video: {total} bytes written in {wrote:.1} s, `outpost media add` (copy + SHA-256) {:.1} s; source deleted, the library copy is uploaded",
            t.elapsed().as_secs_f64()
        );
        (
            media["id"].as_str().expect("media id").to_string(),
            PathBuf::from(media["path"].as_str().expect("media path")),
            checksum,
        )
    };
    assert!(library_path.is_file(), "{}", library_path.display());

    let mut known_videos: HashSet<String> = HashSet::new();
    for net in &networks {
        let mut results = Vec::new();
        for run in 1..=runs {
            let load = load_average();
            let log = m.data_dir().join(format!("agent-{net}-{run}.log"));
            let measured = if net == "youtube" {
                let yt = yt.as_ref().expect("the YouTube fake");
                // The fake's daily quota fits about 6 uploads (curl's count too).
                yt.fake.reset_quota();
                let inserts = yt.fake.count(YtEndpoint::VideosInsert);
                let sessions = yt.fake.sessions().len();
                let id = o
                    .run(
                        &[
                            "post",
                            &format!("Upload bench, run {run}\nA {size_mb} MiB video."),
                            "--to",
                            &format!("youtube:{YT_HANDLE}"),
                            "--now",
                            "--media",
                            &media_id,
                        ],
                        None,
                    )
                    .trim()
                    .to_string();
                let agent = run_agent(&o, &log, within, hz, || {
                    yt.fake.count(YtEndpoint::VideosInsert) > inserts
                });
                let v = o.json(&["posts", "show", &id], None);
                assert_eq!(v["post"]["status"], "published", "{v:#}");
                let upload = yt.check(&v, sessions, &mut known_videos, total, &checksum);
                yt.fake.reset_quota();
                let (own0, kids0) = own_cpu_ticks();
                let secs = yt.curl(&rt, &library_path, total, &mut known_videos, &checksum);
                let (own1, kids1) = own_cpu_ticks();
                Measured {
                    agent,
                    upload,
                    curl_secs: secs,
                    curl_bench_cpu: own1.saturating_sub(own0) as f64 / hz,
                    curl_cpu: kids1.saturating_sub(kids0) as f64 / hz,
                }
            } else {
                let tt = tt.as_ref().expect("the TikTok fake");
                let publishes = tt.fake.publishes().len();
                let posts = tt.fake.posts().len();
                let id = o
                    .run(
                        &[
                            "post",
                            &format!("upload bench run {run} #bench"),
                            "--to",
                            &format!("tiktok:{TT_USER}"),
                            "--now",
                            "--media",
                            &media_id,
                            "--option",
                            "tiktok.privacy_level=PUBLIC_TO_EVERYONE",
                        ],
                        None,
                    )
                    .trim()
                    .to_string();
                let agent = run_agent(&o, &log, within, hz, || {
                    tt.fake.publishes().len() > publishes
                });
                let v = o.json(&["posts", "show", &id], None);
                assert_eq!(v["post"]["status"], "published", "{v:#}");
                let upload = tt.check(&v, publishes, posts, total);
                let (own0, kids0) = own_cpu_ticks();
                let secs = tt.curl(&library_path, total);
                let (own1, kids1) = own_cpu_ticks();
                Measured {
                    agent,
                    upload,
                    curl_secs: secs,
                    curl_bench_cpu: own1.saturating_sub(own0) as f64 / hz,
                    curl_cpu: kids1.saturating_sub(kids0) as f64 / hz,
                }
            };
            results.push(report_run(net, run, runs, total, &load, &measured));
        }
        summary(net, total, &results);
    }
    drop((yt, tt));
    // The data dir (and the library copy of the video) goes with the machine.
    drop(m);
    rt.shutdown_background();
}
