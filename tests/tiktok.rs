//! The `outpost` binary publishing to TikTok (the test kit's TikTok fake on loopback):
//! connecting in the browser flow (hex PKCE, `client_key`, the client secret), a video of
//! several hundred MB in chunks through a dropped connection, an agent killed with `kill -9`
//! mid-upload that resumes from the stored offset, an unaudited app's private post with its
//! notice, and a rate limit that is waited out with the reason shown.
//!
//! The large-upload test also measures the agent's peak memory (VmHWM) and its upload
//! throughput against `curl -T` of the same file to the same fake (printed with
//! `--nocapture`).

use outpost_e2e::{signal, wait_exit, Machine};
use outpost_testkit::media::{Mp4, Mp4Track};
use outpost_testkit::tiktok::{
    ChunkPut, Endpoint, Fault, FaultKind, StatusPlan, TikTokConfig, TikTokFake, TikTokUser,
    DEFAULT_CLIENT_KEY, DEFAULT_CLIENT_SECRET,
};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const UNAUDITED_NOTICE: &str =
    "TikTok: this app is not audited yet, so the video was posted privately (only you can see it)";

struct TtMachine {
    m: Machine,
    tt: TikTokFake,
}

async fn machine() -> TtMachine {
    let mut m = Machine::new().await;
    let tt = TikTokFake::start(TikTokConfig::default()).await;
    // Status checks answer at once (the post is processed on the first check).
    tt.set_default_plan(StatusPlan::Complete {
        processing_polls: 0,
    });
    m.set_var("OUTPOST_TIKTOK_BASE_URL", &tt.base_url());
    m.set_var("OUTPOST_TIKTOK_AUTHORIZE_URL", &tt.authorize_url());
    let r = m
        .run_async(
            &[
                "apps",
                "set",
                "tiktok",
                "--client-id",
                DEFAULT_CLIENT_KEY,
                "--client-secret-stdin",
            ],
            Some(&format!("{DEFAULT_CLIENT_SECRET}\n")),
        )
        .await;
    assert_eq!(r.code, 0, "apps set tiktok: {}", r.stderr);
    TtMachine { m, tt }
}

impl TtMachine {
    /// A creator on the fake with tokens, connected in Outpost with `--token-stdin`.
    async fn connect(&self, username: &str) -> TikTokUser {
        let (user, tokens) = self.tt.create_user_with_tokens(username);
        let json = serde_json::to_string(&tokens).expect("json");
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "tiktok", "--token-stdin"],
                Some(&json),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add tiktok: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], username, "{v:#}");
        assert_eq!(v["account"]["remote_id"], user.open_id.as_str());
        user
    }

    async fn agent_once(&self) {
        let r = self.m.run_async(&["agent", "--once"], None).await;
        assert_eq!(r.code, 0, "agent --once: {}", r.stderr);
    }

    /// A running agent whose log goes to a file (a full stderr pipe would stall it).
    fn spawn_agent(&self, log: &str) -> Child {
        let file = std::fs::File::create(self.m.data_dir().join(log)).expect("log file");
        let mut c = self.m.command(&["agent"]);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        c.spawn().expect("spawn agent")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.m.data_dir().join(name)).unwrap_or_default()
    }

    fn target(v: &Value) -> &Value {
        &v["post"]["targets"][0]
    }
}

/// A valid MP4 (1280×720, 30 fps, `seconds` long) of exactly `size` bytes: the box tree
/// Outpost's prober reads, then one large `mdat` written sparse (a hole, not written bytes).
fn big_video(dir: &Path, name: &str, seconds: u32, size: u64) -> String {
    let mut mp4 = Mp4::new(
        seconds,
        vec![
            Mp4Track::video(b"avc1", 1280, 720, seconds, 30),
            Mp4Track::audio(seconds),
        ],
    );
    mp4.mdat_len = 0;
    let mut head = mp4.build();
    head.truncate(head.len() - 8); // the empty mdat
    let mdat = size - head.len() as u64;
    head.extend_from_slice(&u32::try_from(mdat).expect("under 4 GiB").to_be_bytes());
    head.extend_from_slice(b"mdat");
    head.extend_from_slice(b"outpost-e2e-tiktok-payload");
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(&head).expect("write");
    f.set_len(size).expect("extend sparse");
    path.display().to_string()
}

fn committed(puts: &[ChunkPut]) -> Vec<u64> {
    puts.iter()
        .filter(|p| p.committed)
        .map(|p| p.index)
        .collect()
}

/// Kilobytes of a `/proc/<pid>/status` field (Linux).
fn proc_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `curl -T file` to the fake's sink; (bytes per second, seconds).
fn curl_upload(file: &str, url: &str) -> Option<(f64, f64)> {
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-T",
            file,
            "-o",
            "/dev/null",
            "-w",
            "%{speed_upload} %{time_total}",
            url,
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_in_the_browser_flow_with_hex_pkce_and_the_client_secret() {
    let t = machine().await;
    let user = t.tt.create_user("carol", "Carol");
    t.tt.set_authorize_user(Some(&user.open_id));
    let mut c = t.m.command(&[
        "--json",
        "accounts",
        "connect",
        "tiktok",
        "--no-browser",
        "--wait",
        "30",
    ]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn connect");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let prefix = t.tt.authorize_url();
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the address is printed");
        if line.trim().starts_with(&prefix) {
            break line.trim().to_string();
        }
    };
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["client_key"], DEFAULT_CLIENT_KEY);
    assert!(!q.contains_key("client_id"));
    assert_eq!(q["scope"], "user.info.basic,video.upload,video.publish");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 64, "hex SHA-256");
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
    assert!(q["redirect_uri"].ends_with("/callback/"));
    // The browser: TikTok's page consents and redirects to the loopback listener.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http.get(&url).send().await.expect("authorize page");
    assert_eq!(page.status().as_u16(), 302);
    let back = page
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    assert!(back.contains("scopes="), "{back}");
    let done = http.get(&back).send().await.expect("loopback listener");
    assert!(done.status().is_success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}",
        rx.try_iter().collect::<Vec<_>>()
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["account"]["handle"], "carol");
    assert_eq!(v["account"]["remote_id"], user.open_id.as_str());
    // The exchange sent the secret and the verifier; the code's hex challenge matched.
    let exchange =
        t.tt.requests()
            .into_iter()
            .find(|r| r.endpoint == Some(Endpoint::Token))
            .expect("token exchange");
    assert_eq!(exchange.status, 200);
    assert_eq!(
        exchange.form("client_secret").as_deref(),
        Some(DEFAULT_CLIENT_SECRET)
    );
    assert!(exchange.form("code_verifier").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_video_goes_up_in_chunks_through_a_dropped_connection_and_posts_once() {
    let t = machine().await;
    t.connect("alice").await;
    const SIZE: u64 = 280_000_000;
    let file = big_video(t.m.data_dir(), "big.mp4", 60, SIZE);
    // The connection breaks 20 MB into the second chunk.
    t.tt.push_fault(Fault::drop_mid_chunk(1, 20_000_000));
    let id =
        t.m.post(&[
            "a big one #fyp",
            "--to",
            "tiktok:alice",
            "--now",
            "--media",
            &file,
            "--option",
            "tiktok.privacy_level=PUBLIC_TO_EVERYONE",
        ])
        .await;
    let started = Instant::now();
    let mut agent = t.spawn_agent("agent-big.log");
    let pid = agent.id();
    // The agent's peak memory before the first chunk (start-up and the file check before
    // publishing are done by then); then the peak is reset (Linux `clear_refs` 5) so the final
    // VmHWM is the peak of the upload and the status checks alone.
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut before_upload_kb = None;
    let mut reset = false;
    let v = loop {
        let v = t.m.show(&id).await;
        if v["post"]["status"] == "published" {
            break v;
        }
        let phase = &TtMachine::target(&v)["phase"];
        if before_upload_kb.is_none() && phase["stage"] == "upload" && phase["next_chunk"] == 0 {
            before_upload_kb = proc_kb(pid, "VmHWM:");
            reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        }
        assert!(Instant::now() < deadline, "not published: {v:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let wall = started.elapsed();
    let hwm_kb = proc_kb(pid, "VmHWM:");
    let rss_kb = proc_kb(pid, "VmRSS:");
    signal(&agent, "TERM");
    wait_exit(&mut agent, Duration::from_secs(10)).await;

    let publishes = t.tt.publishes();
    assert_eq!(publishes.len(), 1, "one init");
    let p = &publishes[0];
    // 280 MB in chunks of 64,000,000: 4 chunks, the last absorbing 24 MB.
    assert_eq!(
        (p.video_size, p.chunk_size, p.total_chunks),
        (SIZE, 64_000_000, 4)
    );
    let puts = t.tt.chunk_puts(&p.publish_id);
    assert_eq!(committed(&puts), [0, 1, 2, 3], "{puts:#?}");
    let broken: Vec<&ChunkPut> = puts.iter().filter(|c| !c.committed).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!((broken[0].index, broken[0].status), (1, 0));
    let last = puts.iter().rfind(|c| c.committed).expect("last");
    assert_eq!(
        (last.first, last.last, last.content_length),
        (192_000_000, SIZE - 1, Some(88_000_000))
    );
    let posts = t.tt.posts();
    assert_eq!(posts.len(), 1, "one video");
    assert_eq!(posts[0].title(), Some("a big one #fyp"));
    let target = TtMachine::target(&v);
    assert!(target["remote_url"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://www.tiktok.com/@alice/video/")));
    let tid = target["id"].as_str().unwrap_or_default().to_string();
    let attempts = v["attempts"][&tid].as_array().cloned().unwrap_or_default();
    assert!(
        attempts.iter().any(|a| a["error_class"] == "transient"),
        "the dropped chunk was a transient failure: {attempts:#?}"
    );

    // Measurements: the agent's transfer rate (committed chunk PUTs), memory, and curl.
    let (bytes, secs) = puts
        .iter()
        .filter(|c| c.committed)
        .fold((0u64, 0f64), |(b, s), c| {
            (
                b + c.received,
                s + (c.finished_at - c.started_at).num_milliseconds() as f64 / 1000.0,
            )
        });
    let agent_mb_s = bytes as f64 / 1e6 / secs.max(0.001);
    // First PUT to the last answer, including the retry after the drop and the steps between.
    let span = match (puts.first(), puts.iter().rfind(|c| c.committed)) {
        (Some(a), Some(b)) => (b.finished_at - a.started_at).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let curl = curl_upload(&file, &format!("{}/_fake/sink", t.tt.base_url()));
    eprintln!(
        "TIKTOK-MEASURE upload {SIZE} bytes: agent {agent_mb_s:.1} MB/s over committed chunks ({secs:.2} s), \
         curl -T {} ; agent VmHWM {} kB ({}; before the first chunk {} kB), VmRSS {} kB; chunks span {span:.2} s; post→published {:.1} s",
        curl.map(|(bps, s)| format!("{:.1} MB/s ({s:.2} s)", bps / 1e6))
            .unwrap_or_else(|| "unavailable".into()),
        hwm_kb.map(|k| k.to_string()).unwrap_or_else(|| "?".into()),
        if reset { "peak since the upload began" } else { "whole run" },
        before_upload_kb.map(|k| k.to_string()).unwrap_or_else(|| "?".into()),
        rss_kb.map(|k| k.to_string()).unwrap_or_else(|| "?".into()),
        wall.as_secs_f64()
    );
    if let Some(kb) = hwm_kb {
        // The 88 MB last chunk held in memory would show; the stream keeps a few MiB in
        // flight.
        let bound = if reset { 64 * 1024 } else { 128 * 1024 };
        assert!(kb < bound, "agent peak RSS {kb} kB");
    }
    let log = t.log("agent-big.log");
    assert!(log.contains("tiktok chunk sent"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_killed_mid_upload_resumes_from_the_stored_offset() {
    let mut t = machine().await;
    // 10 MB chunks, so that the kill lands mid-upload.
    t.m.set_var("OUTPOST_TIKTOK_CHUNK_BYTES", "10000000");
    t.connect("bob").await;
    const SIZE: u64 = 100_000_000;
    let file = big_video(t.m.data_dir(), "kill.mp4", 60, SIZE);
    // The fifth chunk's PUT stalls: the agent dies while sending it.
    t.tt.push_fault(
        Fault::new(Endpoint::Upload, 1, FaultKind::DelayBefore { ms: 8000 }).on_chunk(4),
    );
    let id =
        t.m.post(&[
            "killed mid-upload",
            "--to",
            "tiktok:bob",
            "--now",
            "--media",
            &file,
            "--option",
            "tiktok.privacy_level=MUTUAL_FOLLOW_FRIENDS",
        ])
        .await;
    let mut agent = t.spawn_agent("agent-kill.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    let publish_id = loop {
        let done = t.tt.publishes().first().map(|p| {
            (
                p.publish_id.clone(),
                committed(&t.tt.chunk_puts(&p.publish_id)).len(),
            )
        });
        if let Some((pid, 4)) = done {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "four chunks never arrived: {}",
            t.log("agent-kill.log")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The stored phase says chunk 5 is next.
    let v = t.m.show(&id).await;
    assert_eq!(TtMachine::target(&v)["phase"]["next_chunk"], 4, "{v:#}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&agent, "KILL");
    wait_exit(&mut agent, Duration::from_secs(5)).await;
    assert_ne!(t.m.status_of(&id).await, "published");

    let started = Instant::now();
    t.agent_once().await;
    let v =
        t.m.wait_status(&id, "published", Duration::from_secs(5))
            .await;
    assert!(started.elapsed() < Duration::from_secs(60));
    let publishes = t.tt.publishes();
    assert_eq!(
        publishes.len(),
        1,
        "the same upload went on: {publishes:#?}"
    );
    let puts = t.tt.chunk_puts(&publish_id);
    let earlier: Vec<u64> = puts
        .iter()
        .filter(|c| c.index < 4)
        .map(|c| c.index)
        .collect();
    assert_eq!(earlier, [0, 1, 2, 3], "earlier chunks were not sent again");
    assert_eq!(committed(&puts), (0..10).collect::<Vec<u64>>());
    assert_eq!(t.tt.posts().len(), 1, "one video");
    let target = TtMachine::target(&v);
    assert_eq!(
        target["progress"][0]["extra"]["privacy_level"],
        "MUTUAL_FOLLOW_FRIENDS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unaudited_app_posts_privately_and_the_card_says_so() {
    let t = machine().await;
    let user = t.connect("dora").await;
    t.tt.set_audited(false);
    t.tt.set_private_account(&user.open_id, true);
    let file = big_video(t.m.data_dir(), "small.mp4", 15, 3_000_000);
    let id =
        t.m.post(&[
            "for everyone, I hoped",
            "--to",
            "tiktok:dora",
            "--now",
            "--media",
            &file,
            "--option",
            "tiktok.privacy_level=PUBLIC_TO_EVERYONE",
        ])
        .await;
    t.agent_once().await;
    let v = t.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let target = TtMachine::target(&v);
    assert_eq!(target["progress"][0]["extra"]["notice"], UNAUDITED_NOTICE);
    assert_eq!(target["progress"][0]["extra"]["privacy_level"], "SELF_ONLY");
    assert_eq!(t.tt.posts()[0].privacy_level(), Some("SELF_ONLY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limit_is_waited_out_with_the_reason_shown() {
    let t = machine().await;
    t.connect("erin").await;
    // TikTok sends no reset header; this fault adds a Retry-After of 3 s so the test need not
    // wait the minute the client otherwise waits.
    t.tt.push_fault(Fault::rate_limited(Endpoint::CreatorInfo, 1, Some(3)));
    let file = big_video(t.m.data_dir(), "rl.mp4", 15, 3_000_000);
    let id =
        t.m.post(&[
            "after the limit",
            "--to",
            "tiktok:erin",
            "--now",
            "--media",
            &file,
            "--option",
            "tiktok.privacy_level=SELF_ONLY",
        ])
        .await;
    t.tt.clear_requests();
    let mut agent = t.spawn_agent("agent-rl.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    let waiting = loop {
        let v = t.m.show(&id).await;
        let target = TtMachine::target(&v).clone();
        if target["wait_reason"]
            .as_str()
            .is_some_and(|r| r.contains("rate limited"))
        {
            break target;
        }
        assert!(Instant::now() < deadline, "never waited: {v:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(waiting["error_class"], "rate_limited");
    let err = waiting["last_error"].as_str().unwrap_or_default();
    assert!(err.starts_with("TikTok: rate limited"), "{err}");
    assert!(err.contains("a minute per account"), "{err}");
    t.m.wait_status(&id, "published", Duration::from_secs(30))
        .await;
    signal(&agent, "TERM");
    wait_exit(&mut agent, Duration::from_secs(10)).await;
    let checks: Vec<_> =
        t.tt.requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(Endpoint::CreatorInfo))
            .collect();
    assert_eq!(checks.len(), 2, "one refused, one after the wait");
    let gap = (checks[1].at - checks[0].at).num_milliseconds();
    assert!(gap >= 2500, "waited for Retry-After ({gap} ms)");
    assert_eq!(t.tt.posts().len(), 1);
}
