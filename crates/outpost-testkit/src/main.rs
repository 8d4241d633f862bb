//! `outpost-fake`: run a fake network server as a process.
//!
//! ```text
//! outpost-fake bluesky [--port N] [--pds-port N] [--video-port N] [--account handle:password]...
//! ```
//!
//! Prints one JSON line to stdout once listening:
//! `{"entryway":"http://…","pds":"http://…","video":"http://…","accounts":[{"handle","did"}]}`,
//! then serves until killed (SIGINT/SIGTERM). Drive it with the HTTP
//! control API under `/_fake/` (see `outpost_testkit::bluesky`).

use std::io::Write as _;
use std::process::ExitCode;

use outpost_testkit::bluesky::{BlueskyConfig, BlueskyFake};

const USAGE: &str = "usage: outpost-fake bluesky [--port N] [--pds-port N] [--video-port N] [--account handle:password]...";

struct Args {
    entryway_port: u16,
    pds_port: u16,
    video_port: u16,
    accounts: Vec<(String, String)>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut iter = args.iter();
    match iter.next().map(String::as_str) {
        Some("bluesky") => {}
        Some("-h" | "--help") | None => return Err(USAGE.to_string()),
        Some(other) => return Err(format!("unknown network {other:?}\n{USAGE}")),
    }
    let mut parsed = Args {
        entryway_port: 0,
        pds_port: 0,
        video_port: 0,
        accounts: Vec::new(),
    };
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| iter.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag {
            "--port" => {
                parsed.entryway_port = value()?
                    .parse()
                    .map_err(|_| format!("bad --port\n{USAGE}"))?
            }
            "--pds-port" => {
                parsed.pds_port = value()?
                    .parse()
                    .map_err(|_| format!("bad --pds-port\n{USAGE}"))?
            }
            "--video-port" => {
                parsed.video_port = value()?
                    .parse()
                    .map_err(|_| format!("bad --video-port\n{USAGE}"))?
            }
            "--account" => {
                let v = value()?;
                let (handle, password) = v
                    .split_once(':')
                    .ok_or_else(|| format!("--account wants handle:password\n{USAGE}"))?;
                parsed
                    .accounts
                    .push((handle.to_string(), password.to_string()));
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let config = BlueskyConfig {
        entryway_port: args.entryway_port,
        pds_port: args.pds_port,
        video_port: args.video_port,
        ..BlueskyConfig::default()
    };
    let fake = match BlueskyFake::start_with(config).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("outpost-fake: cannot listen: {e}");
            return ExitCode::from(1);
        }
    };
    let accounts: Vec<serde_json::Value> = args
        .accounts
        .iter()
        .map(|(handle, password)| {
            let did = fake.add_account(handle, password);
            serde_json::json!({ "handle": handle.to_ascii_lowercase(), "did": did })
        })
        .collect();
    let line = serde_json::json!({
        "entryway": fake.entryway_url(),
        "pds": fake.pds_url(),
        "video": fake.video_url(),
        "accounts": accounts,
    });
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    drop(stdout);
    let _ = tokio::signal::ctrl_c().await;
    drop(fake);
    ExitCode::SUCCESS
}
