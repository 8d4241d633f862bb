//! Helpers for the end-to-end tests: they run the real `outpost` binary, as a user or a
//! script would, against the test kit's fake networks on loopback.

use outpost_testkit::bluesky::BlueskyFake;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `outpost` binary cargo built next to this test executable.
pub fn outpost_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile> folder");
    let bin = dir.join(format!("outpost{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing — build it first: cargo build -p outpost-cli",
        bin.display()
    );
    bin
}

/// Result of one `outpost` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).to_string(),
            stderr: String::from_utf8_lossy(&o.stderr).to_string(),
        }
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// One user's machine: a data dir, a secret store and a Bluesky fake.
pub struct Machine {
    pub dir: tempfile::TempDir,
    pub fake: BlueskyFake,
    vars: Vec<(String, String)>,
}

pub const PASSWORD: &str = "e2e-app-pass-7f3k-q9zx";

impl Machine {
    pub async fn new() -> Machine {
        let fake = BlueskyFake::start().await.expect("start the Bluesky fake");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = vec![
            (
                "OUTPOST_DATA_DIR".to_string(),
                dir.path().display().to_string(),
            ),
            ("OUTPOST_BLUESKY_BASE_URL".into(), fake.entryway_url()),
            ("OUTPOST_BLUESKY_PLC_URL".into(), fake.entryway_url()),
            ("OUTPOST_TZ".into(), "Europe/Berlin".into()),
            ("OUTPOST_LOG".into(), "info".into()),
        ];
        // The real keychain where the test run provides one (CI does), else the encrypted file.
        match std::env::var("OUTPOST_TEST_KEYCHAIN") {
            Ok(_) => {
                vars.push(("OUTPOST_SECRET_STORE".into(), "keychain".into()));
                let service = format!(
                    "outpost-e2e-{}",
                    dir.path()
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default()
                );
                vars.push(("OUTPOST_KEYCHAIN_SERVICE".into(), service));
            }
            Err(_) => {
                vars.push(("OUTPOST_SECRET_STORE".into(), "file".into()));
                vars.push((
                    "OUTPOST_SECRETS_KEY".into(),
                    "e2e passphrase for the test machine".into(),
                ));
            }
        }
        Machine { dir, fake, vars }
    }

    /// Adds (or replaces) an environment variable for every later `outpost` process.
    pub fn set_var(&mut self, key: &str, value: &str) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.to_string()));
    }

    /// The environment every `outpost` process of this machine gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = self.vars.clone();
        let home = self.dir.path().join("home");
        let _ = std::fs::create_dir_all(&home);
        v.push(("HOME".into(), home.display().to_string()));
        v.push((
            "XDG_DATA_HOME".into(),
            home.join("share").display().to_string(),
        ));
        v.push((
            "XDG_CONFIG_HOME".into(),
            home.join("config").display().to_string(),
        ));
        v
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(outpost_bin());
        c.args(args);
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c.env_remove("RUST_LOG");
        c
    }

    /// Runs `outpost ARGS` (blocking) with optional standard input.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut c = self.command(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn outpost");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                pipe.write_all(input.as_bytes()).expect("write stdin");
            }
        }
        Run::from(child.wait_with_output().expect("wait for outpost"))
    }

    pub async fn run_async(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let stdin = stdin.map(str::to_string);
        let me = self.clone_for_blocking();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            me.run(&a, stdin.as_deref())
        })
        .await
        .expect("join")
    }

    fn clone_for_blocking(&self) -> Runner {
        Runner {
            vars: self.vars.clone(),
        }
    }

    /// `outpost --json ARGS`, which must succeed.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let r = self.run_async(&all, None).await;
        assert_eq!(r.code, 0, "outpost {all:?} failed: {}", r.stderr);
        r.json()
    }

    /// Creates the account on the fake and connects it in Outpost. Returns the DID.
    pub async fn connect(&self, handle: &str) -> String {
        let did = self.fake.add_account(handle, PASSWORD);
        let r = self
            .run_async(
                &[
                    "accounts",
                    "add",
                    "bluesky",
                    "--handle",
                    handle,
                    "--app-password-stdin",
                ],
                Some(&format!("{PASSWORD}\n")),
            )
            .await;
        assert_eq!(r.code, 0, "accounts add failed: {}", r.stderr);
        did
    }

    /// Schedules a post; returns its id.
    pub async fn post(&self, args: &[&str]) -> String {
        let mut all = vec!["post"];
        all.extend_from_slice(args);
        let r = self.run_async(&all, None).await;
        assert_eq!(r.code, 0, "post failed: {}", r.stderr);
        r.stdout.trim().to_string()
    }

    pub async fn show(&self, id: &str) -> Value {
        self.json(&["posts", "show", id]).await
    }

    /// The post's status (`published`, `failed`, …).
    pub async fn status_of(&self, id: &str) -> String {
        self.show(id).await["post"]["status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Polls until the post reaches `status` (bounded).
    pub async fn wait_status(&self, id: &str, status: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.show(id).await;
            if v["post"]["status"] == status {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "post {id} did not become {status} in {within:?}: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn spawn_agent(&self, args: &[&str]) -> Child {
        let mut all = vec!["agent"];
        all.extend_from_slice(args);
        let mut c = self.command(&all);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().expect("spawn agent")
    }

    /// Every file under the data dir, as bytes (for secret scans).
    pub fn all_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(p: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path, out);
                    } else if let Ok(b) = std::fs::read(&path) {
                        out.push((path, b));
                    }
                }
            }
        }
        let mut out = vec![];
        walk(self.data_dir(), &mut out);
        out
    }
}

struct Runner {
    vars: Vec<(String, String)>,
}

impl Runner {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut c = Command::new(outpost_bin());
        c.args(args);
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn outpost");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                pipe.write_all(input.as_bytes()).expect("write stdin");
            }
        }
        Run::from(child.wait_with_output().expect("wait for outpost"))
    }
}

/// Sends a signal by name with the system's `kill` (no unsafe code).
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} failed");
}

/// Waits for a child to exit (bounded); returns its exit code.
pub async fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "process {} did not exit within {within:?}",
            child.id()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A valid PNG of `w`×`h` pixels, padded with an ancillary chunk to at least `min_bytes`.
pub fn png(w: u32, h: u32, min_bytes: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let chunk = |v: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0, 0, 0]);
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut v, b"IHDR", &ihdr);
    let pad = min_bytes.saturating_sub(v.len() + 24);
    if pad > 0 {
        chunk(&mut v, b"tEXt", &vec![b'a'; pad]);
    }
    chunk(&mut v, b"IEND", &[]);
    v
}
