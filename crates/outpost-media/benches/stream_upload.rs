//! Streaming upload benchmark: a 2 GiB file uploaded in 8 MiB chunks ([`ChunkReader`] +
//! reqwest) to a local axum endpoint, measuring the uploader's peak resident memory against
//! its idle level (target: within 64 MB), and throughput against `curl -T` of the same file.
//!
//! `cargo bench -p outpost-media --bench stream_upload`. The receiving server runs in a child
//! process (this same binary with `OUTPOST_BENCH_SERVER=1`), so its buffers do not count in
//! the uploader's memory. `OUTPOST_BENCH_BYTES` changes the file size (default 2 GiB).
//! Traffic goes to 127.0.0.1 only; everything is bounded and stops by itself.

use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::Router;
use futures::StreamExt;
use outpost_media::ChunkReader;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHUNK: usize = 8 * 1024 * 1024;
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    if std::env::var("OUTPOST_BENCH_SERVER").as_deref() == Ok("1") {
        return server();
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful either.
    let size: u64 = std::env::var("OUTPOST_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2 * 1024 * 1024 * 1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let free = free_bytes(dir.path());
    if free < size + 4 * 1024 * 1024 * 1024 {
        println!(
            "stream_upload: skipped, {} GiB free in {} (need the file size + 4 GiB)",
            free / (1 << 30),
            dir.path().display()
        );
        return;
    }
    let path = dir.path().join("upload.bin");
    let started = Instant::now();
    make_file(&path, size);
    println!(
        "file: {:.0} MiB of pseudo-random data in {:.1} s",
        size as f64 / MIB,
        started.elapsed().as_secs_f64()
    );

    // The receiver, in its own process.
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env("OUTPOST_BENCH_SERVER", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the receiver");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("receiver address");
    let base = format!("http://{}", line.trim());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    // Warm up the client and runtime so "idle" includes them.
    rt.block_on(async {
        client
            .get(format!("{base}/received/warmup"))
            .send()
            .await
            .expect("warm-up")
    });
    let idle = vm_kib("VmRSS");
    reset_peak();
    let t0 = Instant::now();
    let sent = rt.block_on(upload_in_chunks(&client, &base, &path));
    let chunked_secs = t0.elapsed().as_secs_f64();
    let peak = vm_kib("VmHWM");
    let received: u64 = rt.block_on(async {
        client
            .get(format!("{base}/received/chunked"))
            .send()
            .await
            .expect("ask")
            .text()
            .await
            .expect("count")
            .parse()
            .expect("number")
    });
    assert_eq!(received, size, "the receiver got every byte");
    assert_eq!(sent, size);

    let t1 = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(&path)
        .arg(format!("{base}/whole/curl"))
        .output()
        .expect("curl runs");
    let curl_secs = t1.elapsed().as_secs_f64();
    let curl_ok = String::from_utf8_lossy(&out.stdout) == "200";

    let _ = child.kill();
    let _ = child.wait();

    let mb = size as f64 / MIB;
    println!(
        "chunks: {} × {} MiB",
        size.div_ceil(CHUNK as u64),
        CHUNK >> 20
    );
    println!("idle RSS: {:.1} MiB", idle as f64 / 1024.0);
    println!(
        "peak RSS during upload (VmHWM): {:.1} MiB (+{:.1} MiB over idle; target ≤ 64 MB)",
        peak as f64 / 1024.0,
        (peak.saturating_sub(idle)) as f64 / 1024.0
    );
    println!(
        "chunked upload (ChunkReader + reqwest): {:.1} s, {:.0} MiB/s",
        chunked_secs,
        mb / chunked_secs
    );
    println!(
        "curl -T (one streamed PUT): {:.1} s, {:.0} MiB/s{}",
        curl_secs,
        mb / curl_secs,
        if curl_ok { "" } else { " (curl FAILED)" }
    );
    let within = (peak.saturating_sub(idle)) as f64 * 1024.0 <= 64_000_000.0;
    println!("memory target: {}", if within { "met" } else { "MISSED" });
}

/// Uploads `path` as a sequence of `PUT /chunk/<offset>` with `Content-Range`, one chunk in
/// memory at a time (read in a blocking task, handed to reqwest without copying).
async fn upload_in_chunks(client: &reqwest::Client, base: &str, path: &Path) -> u64 {
    let mut reader = ChunkReader::open(path, CHUNK).expect("open");
    let total = reader.len();
    let mut sent = 0;
    loop {
        let (r, chunk) = tokio::task::spawn_blocking(move || {
            let c = reader.next_chunk();
            (reader, c)
        })
        .await
        .expect("reader task");
        reader = r;
        let Some(chunk) = chunk.expect("read") else {
            break;
        };
        let end = chunk.offset + chunk.bytes.len() as u64 - 1;
        let len = chunk.bytes.len() as u64;
        let resp = client
            .put(format!("{base}/chunk/{}", chunk.offset))
            .header(
                "content-range",
                format!("bytes {}-{end}/{total}", chunk.offset),
            )
            .body(chunk.bytes)
            .send()
            .await
            .expect("PUT");
        assert!(resp.status().is_success(), "{}", resp.status());
        sent += len;
    }
    sent
}

/// Creates a sparse file of `size` bytes and fills it with xorshift data in 1 MiB blocks.
fn make_file(path: &Path, size: u64) {
    let mut f = std::fs::File::create(path).expect("create");
    f.set_len(size).expect("set_len");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; 1024 * 1024];
    let mut written = 0;
    while written < size {
        for w in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            w.copy_from_slice(&state.to_le_bytes());
        }
        let n = (size - written).min(block.len() as u64) as usize;
        f.write_all(&block[..n]).expect("write");
        written += n as u64;
    }
    f.sync_all().expect("sync");
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-Pk"])
        .arg(dir)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The receiver: counts bytes per upload id, discarding them as they stream in.
fn server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};
        let counts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let count_into = |counts: Arc<Mutex<HashMap<String, u64>>>, id: String, body: Body| async move {
            let mut stream = body.into_data_stream();
            let mut n = 0u64;
            while let Some(piece) = stream.next().await {
                match piece {
                    Ok(b) => n += b.len() as u64,
                    Err(_) => return StatusCode::BAD_REQUEST,
                }
            }
            *counts.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default() += n;
            StatusCode::OK
        };
        let app = Router::new()
            .route(
                "/chunk/{offset}",
                put({
                    let counts = counts.clone();
                    move |UrlPath(_offset): UrlPath<u64>, headers: HeaderMap, body: Body| {
                        let ok = headers.contains_key("content-range");
                        let fut = count_into(counts.clone(), "chunked".into(), body);
                        async move {
                            if !ok {
                                return StatusCode::BAD_REQUEST;
                            }
                            fut.await
                        }
                    }
                }),
            )
            .route(
                "/whole/{id}",
                put({
                    let counts = counts.clone();
                    move |UrlPath(id): UrlPath<String>, body: Body| count_into(counts.clone(), id, body)
                }),
            )
            .route(
                "/received/{id}",
                get({
                    let counts = counts.clone();
                    move |UrlPath(id): UrlPath<String>| {
                        let n = counts
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(&id)
                            .copied()
                            .unwrap_or(0);
                        async move { n.to_string() }
                    }
                }),
            )
            .layer(axum::extract::DefaultBodyLimit::disable());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        let _ = std::io::stdout().flush();
        // The parent kills this process when done; never outlive it by more than 10 minutes.
        tokio::select! {
            r = axum::serve(listener, app) => r.expect("serve"),
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
    });
}
