//! What the benches that run the `outpost` binary share: finding the binary, running it with
//! a machine's environment, and reading a process's memory from `/proc`.
//! (Included with `#[path = "support.rs"] mod support;`; not every bench uses every item.)
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A knob from the environment, else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `target/release/outpost`, else `target/debug/outpost`, from the bench's own location
/// (`target/<profile>/deps/<bench>-…`).
pub fn find_outpost() -> PathBuf {
    let exe = std::env::current_exe().expect("this bench's path");
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("the target folder above target/<profile>/deps");
    let name = format!("outpost{}", std::env::consts::EXE_SUFFIX);
    for profile in ["release", "debug"] {
        let bin = target.join(profile).join(&name);
        if bin.is_file() {
            return bin;
        }
    }
    panic!(
        "no outpost binary under {} — build it first: cargo build --release -p outpost-cli",
        target.display()
    );
}

/// The `outpost` binary with a machine's environment.
pub struct Outpost {
    pub bin: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl Outpost {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args).env_remove("RUST_LOG");
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Runs `outpost ARGS` to completion; panics unless it exits 0. Returns stdout.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn outpost");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                pipe.write_all(input.as_bytes()).expect("write stdin");
            }
        }
        let out = child.wait_with_output().expect("wait for outpost");
        assert!(
            out.status.success(),
            "outpost {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `outpost --json ARGS`, which must succeed.
    pub fn json(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all, stdin);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("outpost {all:?}: not JSON ({e}): {out}"))
    }
}

/// VmRSS and VmHWM of a process, in kB.
pub fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
