//! The `outpost` binary publishing to YouTube (the test kit's YouTube fake on loopback):
//! connecting in the browser flow, a multi-chunk upload of a large generated video with a
//! connection dropped mid-way, an agent killed during an upload and restarted, an exhausted
//! quota, and a scheduled post handed off to YouTube's own scheduler.
//!
//! The large-upload test also measures the agent's peak memory (VmHWM) and its throughput
//! against a plain `curl -T` of the same file to the same fake; it prints both
//! (`cargo test -p outpost-e2e --test youtube -- --nocapture`). `OUTPOST_E2E_YOUTUBE_MB` sets
//! the file size (default 300).

use outpost_e2e::{signal, wait_exit, Machine};
use outpost_testkit::media::write_large_mp4;
use outpost_testkit::youtube::{
    checksum_file, pacific_midnight_after, Consent, Endpoint, Fault, Processing, YouTubeConfig,
    YouTubeFake, YtChannel, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, UNIT,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// The client's first (and smallest) chunk: 16 MiB; later chunks grow with the line's speed.
const CHUNK: u64 = outpost_networks::youtube::DEFAULT_CHUNK as u64;
/// The dispatcher step the kill test sets (`OUTPOST_YOUTUBE_UPLOAD_STEP_BYTES`; the default
/// step, 256 MiB, would send its whole file in one step).
const STEP: u64 = 64 * MIB;

struct YtMachine {
    m: Machine,
    yt: YouTubeFake,
}

async fn machine() -> YtMachine {
    let mut m = Machine::new().await;
    let yt = YouTubeFake::start(YouTubeConfig::default()).await;
    // Processed as soon as the last byte is in (the processing poll is tested elsewhere).
    yt.set_processing(Processing::AfterPolls { polls: 0 });
    m.set_var("OUTPOST_YOUTUBE_BASE_URL", &yt.base_url());
    let r = m
        .run_async(
            &[
                "apps",
                "set",
                "youtube",
                "--client-id",
                DEFAULT_CLIENT_ID,
                "--client-secret-stdin",
            ],
            Some(&format!("{DEFAULT_CLIENT_SECRET}\n")),
        )
        .await;
    assert_eq!(r.code, 0, "apps set: {}", r.stderr);
    YtMachine { m, yt }
}

impl YtMachine {
    /// A channel on the fake with tokens, connected with `--token-stdin`.
    async fn connect(&self, handle: &str) -> (YtChannel, String) {
        let (channel, tokens) = self.yt.create_channel_with_tokens(handle);
        let json = serde_json::to_string(&tokens).expect("json");
        let r = self
            .m
            .run_async(
                &["--json", "accounts", "add", "youtube", "--token-stdin"],
                Some(&json),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add youtube: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["account"]["handle"], handle);
        assert_eq!(v["account"]["remote_id"], channel.id.as_str());
        let account_id = v["account"]["id"].as_str().expect("id").to_string();
        (channel, account_id)
    }

    fn target(v: &Value) -> &Value {
        &v["post"]["targets"][0]
    }
}

/// A valid MP4 of `size` bytes (1080p30 video and audio, real patterned bytes).
fn write_mp4(path: &Path, size: u64) {
    write_large_mp4(path, size, 600, |_| {}).expect("write the video");
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Reads a spawned agent's output in the background (a full pipe would stall it); the
/// returned receiver gets its stderr lines.
fn drain_output(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(
            move || {
                for _ in std::io::BufReader::new(out).lines().map_while(Result::ok) {}
            },
        );
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    rx
}

/// Waits for the agent to exit, sampling its peak resident memory.
async fn wait_sampling(child: &mut std::process::Child, within: Duration) -> (i32, u64) {
    let deadline = Instant::now() + within;
    let mut peak = 0;
    loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (status.code().unwrap_or(-1), peak);
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not finish in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Uploads `path` with one plain `curl -T` (a single PUT of the whole file) to a fresh
/// session of the same fake; returns the seconds it took, or `None` without curl.
async fn curl_upload_secs(yt: &YouTubeFake, token: &str, path: &Path, total: u64) -> Option<f64> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    let r = http
        .post(format!(
            "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            yt.base_url()
        ))
        .bearer_auth(token)
        .header("x-upload-content-length", total.to_string())
        .header("x-upload-content-type", "video/mp4")
        .json(&serde_json::json!({"snippet": {"title": "curl baseline"}, "status": {"privacyStatus": "private"}}))
        .send()
        .await
        .ok()?;
    let uri = r.headers().get("location")?.to_str().ok()?.to_string();
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "PUT",
                "-H",
                "Content-Type: video/mp4",
                "-H",
                &format!("Content-Range: bytes 0-{}/{total}", total - 1),
                "-T",
            ])
            .arg(&path)
            .arg(&uri)
            .output()
            .ok()?;
        let secs = started.elapsed().as_secs_f64();
        (String::from_utf8_lossy(&out.stdout).trim() == "200").then_some(secs)
    })
    .await
    .ok()?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_in_the_browser_with_googles_installed_app_flow() {
    let y = machine().await;
    let channel = y.yt.create_channel("carol", "Carol's Channel");
    y.yt.set_consent(Some(Consent {
        channel_id: channel.id.clone(),
        grant_scopes: None,
        decline: false,
    }));
    let mut c = y.m.command(&[
        "--json",
        "accounts",
        "connect",
        "youtube",
        "--no-browser",
        "--wait",
        "30",
    ]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
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
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the address is printed");
        if line.contains("/o/oauth2/v2/auth?") {
            break line.trim().to_string();
        }
    };
    let parsed = reqwest::Url::parse(&url).expect("url");
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert!(url.starts_with(&y.yt.base_url()), "{url}");
    assert_eq!(q["client_id"], DEFAULT_CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert!(
        q["redirect_uri"].starts_with("http://127.0.0.1:"),
        "{}",
        q["redirect_uri"]
    );
    assert!(q["scope"].contains("youtube.upload"), "{}", q["scope"]);
    // The browser: Google's page redirects to the loopback listener, which finishes.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = http.get(&url).send().await.expect("consent page");
    assert_eq!(r.status().as_u16(), 302);
    let back = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("redirect")
        .to_string();
    let ok = http.get(&back).send().await.expect("loopback");
    assert!(ok.status().is_success());
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
    assert_eq!(v["account"]["remote_id"], channel.id.as_str());
    assert_eq!(
        v["account"]["settings"]["uploads_playlist"],
        channel.uploads_playlist.as_str()
    );
    // The token exchange sent the PKCE verifier and the Desktop client's secret.
    let exchange =
        y.yt.requests()
            .into_iter()
            .find(|r| r.endpoint == Some(Endpoint::Token))
            .expect("token exchange");
    let form = String::from_utf8_lossy(&exchange.body).to_string();
    assert!(form.contains("code_verifier="), "{form}");
    assert!(form.contains("client_secret="), "{form}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_upload_with_a_dropped_connection_resumes_and_lands_once() {
    let y = machine().await;
    let (channel, _) = y.connect("alice").await;
    let mb: u64 = std::env::var("OUTPOST_E2E_YOUTUBE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let path = y.m.data_dir().join("big.mp4");
    let t0 = Instant::now();
    write_mp4(&path, mb * MIB);
    let total = std::fs::metadata(&path).expect("size").len();
    let wrote = t0.elapsed();
    let t1 = Instant::now();
    let id =
        y.m.post(&[
            "Summit day\nA long film from the ridge.",
            "--to",
            "youtube:alice",
            "--now",
            "--media",
            &path.display().to_string(),
            "--option",
            "youtube.tags=[\"alps\",\"ridge\"]",
        ])
        .await;
    let scheduled = t1.elapsed();
    // Chunk 2 (16 MiB in, the first one sized to the line's speed) breaks off after 3 MiB:
    // no answer.
    y.yt.push_fault(Fault::drop_mid_body(3 * MIB).after(1));
    let t2 = Instant::now();
    let mut agent = y.m.spawn_agent(&["--once"]);
    let said = drain_output(&mut agent);
    let (code, peak_kib) = wait_sampling(&mut agent, Duration::from_secs(120)).await;
    let agent_secs = t2.elapsed().as_secs_f64();
    assert_eq!(
        code,
        0,
        "agent --once failed: {:?}",
        said.try_iter().collect::<Vec<_>>()
    );
    let v = y.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let t = YtMachine::target(&v);
    let videos = y.yt.videos();
    assert_eq!(videos.len(), 1, "one video");
    let video = &videos[0];
    assert_eq!(t["remote_id"], video.id.as_str());
    assert_eq!(
        t["remote_url"],
        format!("https://www.youtube.com/watch?v={}", video.id).as_str()
    );
    assert_eq!(video.channel_id, channel.id);
    assert_eq!(video.title, "Summit day");
    assert_eq!(video.tags, vec!["alps".to_string(), "ridge".to_string()]);
    assert_eq!(video.bytes, total);
    assert_eq!(
        video.checksum,
        checksum_file(&path).expect("checksum"),
        "byte for byte the file"
    );
    // One session; the broken chunk kept whole units, and the next one started there.
    let sessions = y.yt.sessions();
    assert_eq!(sessions.len(), 1);
    let chunks = &sessions[0].chunks;
    let broken = chunks
        .iter()
        .position(|c| c.status == 0)
        .expect("a chunk without an answer");
    assert_eq!(chunks[0].first, 0);
    assert_eq!(chunks[0].last + 1, CHUNK, "the first chunk is 16 MiB");
    assert_eq!(chunks[broken].first, CHUNK);
    assert_eq!(chunks[broken].received, 3 * MIB);
    let resumed = &chunks[broken + 1];
    assert_eq!(resumed.first, CHUNK + 3 * MIB, "from the server's Range");
    assert!(
        chunks.iter().any(|c| c.last + 1 - c.first > CHUNK),
        "chunks grew with the line's speed: {:?}",
        chunks
            .iter()
            .map(|c| c.last + 1 - c.first)
            .collect::<Vec<_>>()
    );
    assert_eq!(resumed.first % UNIT, 0);
    for c in chunks.iter().filter(|c| c.last + 1 < total) {
        assert_eq!(
            (c.last + 1 - c.first) % UNIT,
            0,
            "non-final chunks are whole units"
        );
    }
    assert_eq!(
        sessions[0].received_total, total,
        "every byte sent once (the 3 MiB that arrived before the break were kept)"
    );
    // Measured: the agent's peak memory, and throughput against plain curl.
    let first_chunk_at =
        y.yt.requests()
            .into_iter()
            .find(|r| r.endpoint == Some(Endpoint::UploadStatus))
            .map(|r| r.at)
            .expect("first request to the session");
    let last_at =
        y.yt.requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(Endpoint::UploadChunk))
            .map(|r| r.at)
            .max()
            .expect("last chunk");
    let upload_secs = ((last_at - first_chunk_at).num_milliseconds() as f64 / 1000.0).max(0.001);
    let token =
        y.yt.issue_tokens(&channel.id, &outpost_testkit::youtube::ALL_SCOPES)
            .expect("tokens")
            .access_token;
    let curl = curl_upload_secs(&y.yt, &token, &path, total).await;
    let mb_s = |secs: f64| total as f64 / MIB as f64 / secs;
    eprintln!(
        "youtube e2e: file {:.0} MiB written in {:.1} s; `post` (import) {:.1} s; agent run {:.1} s; \
         upload {:.1} s = {:.0} MiB/s; agent peak RSS (VmHWM) {} MiB; curl -T {}",
        total as f64 / MIB as f64,
        wrote.as_secs_f64(),
        scheduled.as_secs_f64(),
        agent_secs,
        upload_secs,
        mb_s(upload_secs),
        peak_kib / 1024,
        curl.map_or("not available".to_string(), |s| format!("{s:.1} s = {:.0} MiB/s", mb_s(s)))
    );
    assert!(peak_kib > 0, "VmHWM was read");
    assert!(
        peak_kib < 200 * 1024,
        "memory must not grow with the file: peak {} MiB for a {} MiB upload",
        peak_kib / 1024,
        total / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_killed_mid_upload_resumes_from_the_stored_offset() {
    let mut y = machine().await;
    y.m.set_var("OUTPOST_YOUTUBE_UPLOAD_STEP_BYTES", &STEP.to_string());
    y.connect("bob").await;
    let path = y.m.data_dir().join("long.mp4");
    write_mp4(&path, 150 * MIB);
    let total = std::fs::metadata(&path).expect("size").len();
    let id =
        y.m.post(&[
            "killed mid-way",
            "--to",
            "youtube:bob",
            "--now",
            "--media",
            &path.display().to_string(),
        ])
        .await;
    // Slow enough to kill in the second step (after the first step's offset is stored).
    y.yt.set_upload_throttle(Some(40 * MIB));
    let mut agent = y.m.spawn_agent(&[]);
    let _said = drain_output(&mut agent);
    // Once the first step's offset is stored, the second step sends one chunk of up to 64 MiB
    // (1.6 s at this speed; the fake counts a chunk's bytes when it ends): kill 0.4 s into it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = y.m.show(&id).await;
        if YtMachine::target(&v)["phase"]["offset"].as_u64() == Some(STEP) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first step never ended: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    signal(&agent, "KILL");
    wait_exit(&mut agent, Duration::from_secs(5)).await;
    // The server keeps what arrived in whole units of the chunk in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_kill = y.yt.sessions()[0].clone();
    assert!(at_kill.committed < total);
    let v = y.m.show(&id).await;
    assert_ne!(v["post"]["status"], "published");
    let stored = YtMachine::target(&v)["phase"]["offset"]
        .as_u64()
        .expect("the stored offset");
    assert_eq!(stored, STEP, "the first step's offset was stored");
    // The card says how far the upload is.
    let note = YtMachine::target(&v)["wait_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        note.starts_with("uploading to YouTube — 42 % (67.1 MB of 157."),
        "{note}"
    );
    // The session URI (a capability to upload into) stays in the database, not in the output.
    assert_eq!(YtMachine::target(&v)["phase"]["session"], "(hidden)");
    let upload_id = y.yt.sessions()[0].upload_id.clone();
    let shown = v.to_string();
    assert!(
        !shown.contains(&upload_id),
        "no upload address in `posts show --json`: {shown}"
    );
    assert!(at_kill.committed > stored);
    // Restart.
    y.yt.set_upload_throttle(None);
    let r = y.m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = y.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let sessions = y.yt.sessions();
    assert_eq!(sessions.len(), 1, "the same session");
    let after: Vec<_> = sessions[0].chunks[at_kill.chunks.len()..].to_vec();
    assert_eq!(
        after[0].first, at_kill.committed,
        "the restarted agent asked the server and went on from there"
    );
    // Bytes the server had were never sent again: everything sent before the kill that was
    // kept, plus everything after, is the file once.
    let sent_after: u64 = after.iter().map(|c| c.received).sum();
    assert_eq!(sent_after, total - at_kill.committed);
    let lost_in_flight = at_kill.received_total - at_kill.committed;
    assert!(
        lost_in_flight < CHUNK,
        "at most one chunk was cut off: {lost_in_flight}"
    );
    let videos = y.yt.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].checksum, checksum_file(&path).expect("checksum"));
    let tid = YtMachine::target(&v)["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let attempts = v["attempts"][&tid].as_array().cloned().unwrap_or_default();
    assert!(
        attempts.iter().any(|a| a["status"] == "not_published"
            || a["status"] == "abandoned"
            || a["status"] == "reconciled"),
        "the killed step was reconciled before resuming: {attempts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exhausted_quota_waits_until_midnight_pacific_with_the_reason_shown() {
    let y = machine().await;
    y.connect("cleo").await;
    let path = y.m.data_dir().join("q.mp4");
    write_mp4(&path, MIB);
    y.yt.exhaust_quota();
    let id =
        y.m.post(&[
            "no quota today",
            "--to",
            "youtube:cleo",
            "--now",
            "--media",
            &path.display().to_string(),
        ])
        .await;
    let before = chrono::Utc::now();
    let r = y.m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = y.m.show(&id).await;
    assert_ne!(v["post"]["status"], "published", "{v:#}");
    assert_ne!(v["post"]["status"], "failed", "{v:#}");
    let t = YtMachine::target(&v);
    assert_eq!(t["state"], "scheduled", "{t:#}");
    let reason = t["wait_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("rate limited — waiting until"), "{reason}");
    let error = t["last_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("YouTube:"), "{error}");
    assert!(error.contains("quota"), "{error}");
    assert!(error.contains("midnight Pacific"), "{error}");
    let next: chrono::DateTime<chrono::Utc> = t["next_attempt_at"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&chrono::Utc))
        .expect("next attempt");
    let midnight = pacific_midnight_after(before);
    assert!(
        (next - midnight).num_seconds().abs() <= 2,
        "waits until midnight Pacific: {next} vs {midnight}"
    );
    assert!(y.yt.sessions().is_empty(), "nothing was uploaded");
    // After the reset (moved to now here), the post goes out.
    y.yt.reset_quota();
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let r =
        y.m.run_async(&["posts", "reschedule", &id, "--at", &soon], None)
            .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = y.m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(y.m.status_of(&id).await, "published");
    assert_eq!(y.yt.videos().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_post_is_handed_off_to_youtube() {
    let y = machine().await;
    let (_, account_id) = y.connect("dora").await;
    let path = y.m.data_dir().join("later.mp4");
    write_mp4(&path, 2 * MIB);
    let at = chrono::Utc::now() + chrono::Duration::hours(3);
    let at =
        chrono::DateTime::from_timestamp(at.timestamp() - at.timestamp() % 60, 0).expect("time");
    let id =
        y.m.post(&[
            "Premiere tonight",
            "--to",
            "youtube:dora",
            "--at",
            &at.to_rfc3339(),
            "--media",
            &path.display().to_string(),
        ])
        .await;
    // Outpost's dispatcher starts uploads at the post's time; a post whose time is still
    // ahead when its upload starts is handed to YouTube. Here "Post again" on a post that
    // failed before its time starts the upload three hours early.
    {
        let store = outpost_store::Store::open(&y.m.data_dir().join("outpost.db")).expect("store");
        let failed = store
            .fail_due_targets_of_account(
                &account_id,
                "YouTube: failed early (test)",
                at + chrono::Duration::minutes(1),
            )
            .expect("fail");
        assert_eq!(failed, vec![id.clone()]);
    }
    let r = y.m.run_async(&["posts", "retry", &id], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = y.m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = y.m.show(&id).await;
    assert_eq!(v["post"]["status"], "published", "{v:#}");
    let part = &YtMachine::target(&v)["progress"][0];
    assert_eq!(
        part["extra"]["scheduled_on_network"],
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .as_str(),
        "{part:#}"
    );
    let notice = part["extra"]["notice"].as_str().unwrap_or_default();
    assert_eq!(
        notice,
        format!(
            "scheduled on YouTube for {}",
            at.format("%Y-%m-%d %H:%M UTC")
        )
    );
    let videos = y.yt.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].privacy_status, "private");
    assert_eq!(videos[0].requested_privacy, "private");
    let publish_at = videos[0].publish_at.clone().expect("publishAt");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&publish_at).expect("rfc3339"),
        at
    );
    // At the time, YouTube publishes it.
    y.yt.advance_time(chrono::Duration::hours(4));
    let tokens =
        y.yt.issue_tokens(&videos[0].channel_id, &outpost_testkit::youtube::ALL_SCOPES)
            .expect("tokens");
    let listed: Value = reqwest::Client::new()
        .get(format!(
            "{}/youtube/v3/videos?part=status&id={}",
            y.yt.base_url(),
            videos[0].id
        ))
        .bearer_auth(tokens.access_token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"][0]["status"]["privacyStatus"], "public");
}
