//! `outpost-fake`: run a fake network server as a process.
//!
//! ```text
//! outpost-fake bluesky [--port N] [--pds-port N] [--video-port N] [--account handle:password]...
//! outpost-fake x|linkedin|pinterest [--port N] [--user NAME]...
//! ```
//!
//! The OAuth networks print `{"base_url", "client_id", "client_secret"?, "users": [{"name",
//! "id", "tokens": {…}}]}`: the tokens are ready for `outpost accounts add NET --token-stdin`.
//!
//! Prints one JSON line to stdout once listening:
//! `{"entryway":"http://…","pds":"http://…","video":"http://…","accounts":[{"handle","did"}]}`,
//! then serves until killed (SIGINT/SIGTERM). Drive it with the HTTP
//! control API under `/_fake/` (see `outpost_testkit::bluesky`).

use std::io::Write as _;
use std::process::ExitCode;

use outpost_testkit::bluesky::{BlueskyConfig, BlueskyFake};
use outpost_testkit::media::write_large_mp4;

const USAGE: &str = "usage: outpost-fake bluesky [--port N] [--pds-port N] [--video-port N] [--account handle:password]...\n       outpost-fake x|linkedin|pinterest|youtube|tiktok [--port N] [--user NAME]...\n       outpost-fake video FILE.mp4 --mb N [--seconds S]   (writes a valid 1080p30 MP4 of N MiB)";

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

/// `x|linkedin|pinterest [--port N] [--user NAME]...`
async fn oauth_fake(network: &str, rest: &[String]) -> ExitCode {
    let mut port = 0u16;
    let mut users: Vec<String> = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--port", Some(v)) => match v.parse() {
                Ok(p) => port = p,
                Err(_) => {
                    eprintln!("bad --port\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            ("--user", Some(v)) => users.push(v.clone()),
            _ => {
                eprintln!("unknown option {a:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if users.is_empty() {
        users.push("alice".into());
    }
    let started: Result<(Box<dyn std::any::Any + Send>, serde_json::Value), std::io::Error> =
        match network {
            "x" => {
                use outpost_testkit::x::{XConfig, XFake, DEFAULT_CLIENT_ID};
                match XFake::try_start(XConfig {
                    port,
                    ..XConfig::default()
                })
                .await
                {
                    Ok(fake) => {
                        let list: Vec<serde_json::Value> = users
                            .iter()
                            .map(|u| {
                                let (user, tokens) = fake.create_user_with_tokens(u);
                                serde_json::json!({"name": u, "id": user.id, "tokens": tokens})
                            })
                            .collect();
                        let line = serde_json::json!({
                            "base_url": fake.base_url(), "client_id": DEFAULT_CLIENT_ID, "users": list,
                        });
                        Ok((Box::new(fake), line))
                    }
                    Err(e) => Err(e),
                }
            }
            "linkedin" => {
                use outpost_testkit::linkedin::{LinkedInConfig, LinkedInFake};
                let config = LinkedInConfig {
                    port,
                    ..LinkedInConfig::default()
                };
                let (id, secret) = (config.client_id.clone(), config.client_secret.clone());
                match LinkedInFake::try_start(config).await {
                    Ok(fake) => {
                        let list: Vec<serde_json::Value> = users
                            .iter()
                            .map(|u| {
                                let sub = fake.add_member(u);
                                let tokens = fake.issue_tokens(
                                    &sub,
                                    &["openid", "profile", "w_member_social"],
                                    false,
                                );
                                serde_json::json!({"name": u, "id": sub, "tokens": tokens})
                            })
                            .collect();
                        let line = serde_json::json!({
                            "base_url": fake.base_url(), "client_id": id, "client_secret": secret, "users": list,
                        });
                        Ok((Box::new(fake), line))
                    }
                    Err(e) => Err(e),
                }
            }
            "pinterest" => {
                use outpost_testkit::pinterest::{PinterestConfig, PinterestFake};
                match PinterestFake::try_start(PinterestConfig {
                    port,
                    ..PinterestConfig::default()
                })
                .await
                {
                    Ok(fake) => {
                        let list: Vec<serde_json::Value> = users
                            .iter()
                            .map(|u| {
                                let user = fake.add_user(u);
                                let board = fake.add_board(u, "Ideas", "PUBLIC");
                                let tokens = fake.issue_tokens(u);
                                serde_json::json!({"name": u, "id": user.id, "board_id": board, "tokens": tokens})
                            })
                            .collect();
                        let line = serde_json::json!({
                            "base_url": fake.base_url(), "client_id": fake.client_id(),
                            "client_secret": fake.client_secret(), "users": list,
                        });
                        Ok((Box::new(fake), line))
                    }
                    Err(e) => Err(e),
                }
            }
            "youtube" => {
                use outpost_testkit::youtube::{
                    Processing, YouTubeConfig, YouTubeFake, DEFAULT_CLIENT_ID,
                    DEFAULT_CLIENT_SECRET,
                };
                match YouTubeFake::try_start(YouTubeConfig {
                    port,
                    ..YouTubeConfig::default()
                })
                .await
                {
                    Ok(fake) => {
                        // Processed on the second check, as a short video would be.
                        fake.set_processing(Processing::AfterPolls { polls: 1 });
                        let list: Vec<serde_json::Value> = users
                            .iter()
                            .map(|u| {
                                let (channel, tokens) = fake.create_channel_with_tokens(u);
                                serde_json::json!({"name": u, "id": channel.id, "tokens": tokens})
                            })
                            .collect();
                        let line = serde_json::json!({
                            "base_url": fake.base_url(), "client_id": DEFAULT_CLIENT_ID,
                            "client_secret": DEFAULT_CLIENT_SECRET, "users": list,
                        });
                        Ok((Box::new(fake), line))
                    }
                    Err(e) => Err(e),
                }
            }
            "tiktok" => {
                use outpost_testkit::tiktok::{
                    StatusPlan, TikTokConfig, TikTokFake, DEFAULT_CLIENT_KEY, DEFAULT_CLIENT_SECRET,
                };
                match TikTokFake::try_start(TikTokConfig {
                    port,
                    ..TikTokConfig::default()
                })
                .await
                {
                    Ok(fake) => {
                        fake.set_default_plan(StatusPlan::Complete {
                            processing_polls: 1,
                        });
                        let list: Vec<serde_json::Value> = users
                            .iter()
                            .map(|u| {
                                let (user, tokens) = fake.create_user_with_tokens(u);
                                serde_json::json!({"name": u, "id": user.open_id, "tokens": tokens})
                            })
                            .collect();
                        let line = serde_json::json!({
                            "base_url": fake.base_url(), "authorize_url": fake.authorize_url(),
                            "client_id": DEFAULT_CLIENT_KEY, "client_secret": DEFAULT_CLIENT_SECRET,
                            "users": list,
                        });
                        Ok((Box::new(fake), line))
                    }
                    Err(e) => Err(e),
                }
            }
            _ => unreachable!("checked by the caller"),
        };
    let (fake, line) = match started {
        Ok(v) => v,
        Err(e) => {
            eprintln!("outpost-fake: cannot listen: {e}");
            return ExitCode::from(1);
        }
    };
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

/// `video FILE --mb N [--seconds S]`: a valid MP4 (1080p30 H.264 + AAC headers) whose `mdat`
/// is filled with position-dependent bytes (not sparse), for trying large uploads by hand.
fn write_video(rest: &[String]) -> ExitCode {
    let mut path = None;
    let (mut mb, mut seconds) = (0u64, 60u32);
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.clone().next()) {
            ("--mb", Some(v)) => {
                mb = v.parse().unwrap_or(0);
                it.next();
            }
            ("--seconds", Some(v)) => {
                seconds = v.parse().unwrap_or(0);
                it.next();
            }
            (p, _) if !p.starts_with("--") && path.is_none() => path = Some(p.to_string()),
            _ => {
                eprintln!("unknown option {a:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(path), 1..=4000, 1..) = (path, mb, seconds) else {
        eprintln!("video: give a file, --mb 1..4000 and --seconds ≥ 1\n{USAGE}");
        return ExitCode::from(2);
    };
    let total = mb * 1024 * 1024;
    let written = write_large_mp4(std::path::Path::new(&path), total, seconds, |_| {});
    match written {
        Ok(()) => {
            println!("{path}: {total} bytes, {seconds} s, 1920x1080 30 fps");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("video: cannot write {path}: {e}");
            ExitCode::from(1)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("video") {
        return write_video(&argv[1..]);
    }
    if let Some(net @ ("x" | "linkedin" | "pinterest" | "youtube" | "tiktok")) =
        argv.first().map(String::as_str)
    {
        return oauth_fake(net, &argv[1..]).await;
    }
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
