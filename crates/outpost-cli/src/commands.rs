//! Each command: parse → one engine/store call → print.

use crate::cli::{AccountsCmd, AddAccount, AgentArgs, Cli, Command, PostArgs, PostsCmd};
use crate::output;
use crate::CliError;
use chrono::Utc;
use chrono_tz::Tz;
use outpost_auth::{Secret, SecretStore};
use outpost_core::time::{check_not_past, local_zone_name, parse_schedule_time, parse_zone};
use outpost_core::validate::{validate, Severity};
use outpost_core::{Account, AccountStatus, Network, Part, PostContent, PostStatus};
use outpost_engine::{Engine, EngineConfig, RunMode};
use outpost_store::{NewPost, Store};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SETTING_TZ: &str = "time_zone";

pub fn run(cli: Cli) -> Result<(), CliError> {
    let data_dir = data_dir(cli.data_dir.clone())?;
    let verbose = matches!(cli.command, Command::Agent(_));
    let _guard = crate::logging::init(&data_dir, verbose);
    let store = Store::open(&data_dir.join("outpost.db"))?;
    let ctx = Ctx {
        data_dir,
        store,
        json: cli.json,
    };
    match cli.command {
        Command::Accounts(AccountsCmd::Add(a)) => ctx.accounts_add(a),
        Command::Accounts(AccountsCmd::List) => ctx.accounts_list(),
        Command::Accounts(AccountsCmd::Remove { id }) => ctx.accounts_remove(&id),
        Command::Post(p) => ctx.post(p),
        Command::Posts(p) => ctx.posts(p),
        Command::Agent(a) => ctx.agent(a),
        Command::Status => ctx.status(),
    }
}

fn data_dir(given: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let dir = match given {
        Some(d) => d,
        None => {
            let base = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .ok_or_else(|| CliError::Invalid("data dir: neither --data-dir, OUTPOST_DATA_DIR, XDG_DATA_HOME nor HOME is set".into()))?;
            base.join("outpost")
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::Failed(format!("data dir: cannot create {} ({e})", dir.display()))
    })?;
    Ok(dir)
}

struct Ctx {
    data_dir: PathBuf,
    store: Store,
    json: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

impl Ctx {
    fn secrets(&self) -> Result<Arc<dyn SecretStore>, CliError> {
        Ok(outpost_auth::open_from_env(&self.data_dir)?)
    }

    fn zone(&self, given: Option<&str>) -> Result<Tz, CliError> {
        let name = match given {
            Some(z) => z.to_string(),
            None => self
                .store
                .setting(SETTING_TZ)?
                .unwrap_or_else(local_zone_name),
        };
        parse_zone(&name).map_err(|e| CliError::Invalid(e.to_string()))
    }

    /// `NETWORK:HANDLE` → the account, or a clear error listing what is connected.
    fn resolve(&self, spec: &str) -> Result<Account, CliError> {
        let (net, handle) = spec.split_once(':').ok_or_else(|| {
            CliError::Invalid(format!(
                "--to: '{spec}' is not NETWORK:HANDLE (for example bluesky:alice.bsky.social)"
            ))
        })?;
        let network: Network =
            net.parse()
                .map_err(|e: outpost_core::network::UnknownNetwork| {
                    CliError::Invalid(format!("--to: {e}"))
                })?;
        self.store.find_account(network, handle)?.ok_or_else(|| {
            let known: Vec<String> = self
                .store
                .accounts()
                .unwrap_or_default()
                .iter()
                .map(|a| a.address())
                .collect();
            CliError::Invalid(format!(
                "--to: unknown account {network}:{handle} — connect it with `outpost accounts add {network} --handle {handle} …`{}",
                if known.is_empty() { String::new() } else { format!(" (connected: {})", known.join(", ")) }
            ))
        })
    }

    // ------------------------------------------------------------ accounts

    fn accounts_add(&self, a: AddAccount) -> Result<(), CliError> {
        let network: Network = a
            .network
            .parse()
            .map_err(|e: outpost_core::network::UnknownNetwork| CliError::Invalid(e.to_string()))?;
        if network != Network::Bluesky {
            return Err(CliError::Invalid(format!(
                "accounts add: {} accounts are connected with `outpost accounts connect {network}`, which this version does not have yet",
                network.display_name()
            )));
        }
        if !a.app_password_stdin {
            return Err(CliError::Invalid(
                "accounts add bluesky: give the app password on standard input with --app-password-stdin (never as an argument: it would end up in your shell history)".into(),
            ));
        }
        let handle = a.handle.trim().trim_start_matches('@').to_ascii_lowercase();
        if handle.is_empty() {
            return Err(CliError::Invalid(
                "--handle: empty — give the account's handle, e.g. alice.bsky.social".into(),
            ));
        }
        let mut raw = String::new();
        std::io::stdin().read_to_string(&mut raw).map_err(|e| {
            CliError::Failed(format!(
                "could not read the app password from standard input: {e}"
            ))
        })?;
        let password = raw.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            return Err(CliError::Invalid(
                "app password: standard input was empty — pipe the app password in".into(),
            ));
        }
        let password = Secret::new(password);
        let existing = self.store.find_account(network, &handle)?;
        let account_id = existing
            .as_ref()
            .map(|e| e.id.clone())
            .unwrap_or_else(|| outpost_core::ids::new_id("a"));
        let secrets = self.secrets()?;
        let bluesky = outpost_networks::bluesky::Bluesky::from_env(secrets.clone());
        let rt = runtime()?;
        let connected = rt
            .block_on(bluesky.connect(&account_id, &handle, a.pds.as_deref(), &password))
            .map_err(|e| match e.class {
                outpost_core::ErrorClass::Transient { .. }
                | outpost_core::ErrorClass::UnknownOutcome => CliError::Failed(e.message),
                _ => CliError::Invalid(e.message),
            })?;
        let account = Account {
            id: account_id,
            network,
            handle: connected.handle.to_ascii_lowercase(),
            remote_id: Some(connected.did.clone()),
            display_name: None,
            status: AccountStatus::Active,
            status_reason: None,
            token_expires_at: None,
            settings: serde_json::json!({ "pds": connected.pds }),
            created_at: Utc::now(),
        };
        let reconnected = existing.is_some();
        if reconnected {
            self.store.reconnect_account(&account)?;
        } else if let Err(e) = self.store.insert_account(&account) {
            for what in ["app_password", "session"] {
                let _ = secrets.delete(&outpost_auth::account_key(&account.id, what));
            }
            return Err(e.into());
        }
        if self.json {
            print_json(&serde_json::json!({ "account": account, "reconnected": reconnected }));
        } else {
            println!(
                "{} {} ({}) — {}",
                if reconnected {
                    "reconnected"
                } else {
                    "connected"
                },
                account.address(),
                connected.did,
                account.id
            );
        }
        Ok(())
    }

    fn accounts_list(&self) -> Result<(), CliError> {
        let accounts = self.store.accounts()?;
        if self.json {
            print_json(&serde_json::json!({ "accounts": accounts }));
        } else if accounts.is_empty() {
            println!("no accounts yet — add one with `outpost accounts add bluesky --handle H --app-password-stdin`");
        } else {
            for a in &accounts {
                println!("{}", output::account_line(a));
            }
        }
        Ok(())
    }

    fn accounts_remove(&self, id: &str) -> Result<(), CliError> {
        let account = match self.store.account(id)? {
            Some(a) => a,
            None => match id.split_once(':') {
                Some(_) => self.resolve(id)?,
                None => {
                    return Err(CliError::Invalid(format!(
                        "account {id}: no such account — see `outpost accounts list`"
                    )))
                }
            },
        };
        let removed = self.store.delete_account(&account.id)?;
        let secrets = self.secrets()?;
        for what in ["app_password", "session"] {
            secrets.delete(&outpost_auth::account_key(&removed.id, what))?;
        }
        if self.json {
            print_json(&serde_json::json!({ "removed": removed.id }));
        } else {
            println!("removed {} and its stored credentials", removed.address());
        }
        Ok(())
    }

    // ------------------------------------------------------------ post

    fn post(&self, p: PostArgs) -> Result<(), CliError> {
        let now = Utc::now();
        if p.to.is_empty() {
            return Err(CliError::Invalid(
                "--to: say where to publish, e.g. --to bluesky:alice.bsky.social".into(),
            ));
        }
        let mut accounts: Vec<Account> = Vec::new();
        for spec in &p.to {
            let a = self.resolve(spec)?;
            if accounts.iter().any(|x| x.id == a.id) {
                return Err(CliError::Invalid(format!(
                    "--to: {} is named twice — each account gets one copy",
                    a.address()
                )));
            }
            accounts.push(a);
        }
        let zone = self.zone(p.tz.as_deref())?;
        let scheduled_at = match (&p.at, p.now, p.draft) {
            (Some(at), _, _) => {
                let t = parse_schedule_time(at, zone)
                    .map_err(|e| CliError::Invalid(format!("--at: {e}")))?;
                check_not_past(t, now).map_err(|e| CliError::Invalid(format!("--at: {e}")))?;
                Some(t.max(now))
            }
            (None, true, _) => Some(now),
            (None, false, true) => None,
            (None, false, false) => {
                return Err(CliError::Invalid(
                    "--at: say when — --at TIME, --now, or --draft to save without a time".into(),
                ))
            }
        };
        if p.alt.len() > p.media.len() {
            return Err(CliError::Invalid(format!(
                "--alt: {} alt texts for {} media files — give one --alt per --media, in the same order",
                p.alt.len(),
                p.media.len()
            )));
        }
        let mut media = Vec::new();
        for (i, path) in p.media.iter().enumerate() {
            let alt = p.alt.get(i).cloned();
            media.push(
                outpost_engine::media::attach(path, alt)
                    .map_err(|e| CliError::Invalid(e.to_string()))?,
            );
        }
        let mut parts = vec![Part {
            text: p.text.clone().unwrap_or_default(),
            media,
        }];
        parts.extend(p.parts.iter().map(|t| Part {
            text: t.clone(),
            media: vec![],
        }));
        let content = PostContent {
            parts,
            ..Default::default()
        };
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for a in &accounts {
            for f in validate(a.network, &content) {
                match f.severity {
                    Severity::Error => errors.push(f),
                    Severity::Warning => warnings.push(f),
                }
            }
            if a.status != AccountStatus::Active {
                warnings.push(outpost_core::validate::Finding {
                    network: a.network,
                    severity: Severity::Warning,
                    field: "account".into(),
                    message: format!(
                        "{}: account {} needs reconnecting — reconnect it before the post is due",
                        a.network.display_name(),
                        a.address()
                    ),
                });
            }
        }
        errors.dedup();
        if !errors.is_empty() {
            let lines: Vec<String> = errors
                .iter()
                .map(|f| format!("{} ({})", f.message, f.field))
                .collect();
            return Err(CliError::Invalid(lines.join("\n")));
        }
        let new = NewPost {
            content,
            scheduled_at,
            time_zone: zone.name().to_string(),
            draft: p.draft,
            targets: accounts.iter().map(|a| (a.id.clone(), a.network)).collect(),
        };
        let id = self.store.create_post(&new, now)?;
        let post = self
            .store
            .post(&id)?
            .ok_or_else(|| CliError::Failed(format!("post {id} vanished after it was written")))?;
        if self.json {
            print_json(&serde_json::json!({ "post_id": id, "post": post, "warnings": warnings }));
        } else {
            for w in &warnings {
                eprintln!("warning: {}", w.message);
            }
            println!("{id}");
        }
        Ok(())
    }

    fn posts(&self, cmd: PostsCmd) -> Result<(), CliError> {
        let now = Utc::now();
        let zone = self.zone(None)?;
        match cmd {
            PostsCmd::List { status, limit } => {
                let status: Option<PostStatus> = status
                    .map(|s| {
                        s.parse()
                            .map_err(|e: String| CliError::Invalid(format!("--status: {e}")))
                    })
                    .transpose()?;
                let posts = self.store.list_posts(status, limit)?;
                if self.json {
                    print_json(&serde_json::json!({ "posts": posts }));
                } else if posts.is_empty() {
                    println!("no posts");
                } else {
                    for p in &posts {
                        println!("{}", output::post_line(p, zone));
                    }
                }
            }
            PostsCmd::Show { id } => {
                let post = self.store.post(&id)?.ok_or_else(|| {
                    CliError::Invalid(format!(
                        "post {id}: no such post — see `outpost posts list`"
                    ))
                })?;
                if self.json {
                    let mut attempts = serde_json::Map::new();
                    for t in &post.targets {
                        attempts.insert(
                            t.id.clone(),
                            serde_json::to_value(self.store.attempts(&t.id)?).unwrap_or_default(),
                        );
                    }
                    print_json(&serde_json::json!({ "post": post, "attempts": attempts }));
                } else {
                    print!("{}", output::post_block(&post, zone));
                }
            }
            PostsCmd::Cancel { id } => {
                let (cancelled, left) = self.store.cancel_post(&id, now)?;
                self.report(
                    &id,
                    serde_json::json!({ "cancelled": cancelled, "not_cancelled": left }),
                    format!(
                        "cancelled {cancelled} network(s){}",
                        if left > 0 {
                            format!("; {left} already went out or are going out now")
                        } else {
                            String::new()
                        }
                    ),
                )?;
            }
            PostsCmd::Retry { id, to } => {
                let account = to.map(|t| self.resolve(&t)).transpose()?;
                let n = self
                    .store
                    .retry_post(&id, account.as_ref().map(|a| a.id.as_str()), now)?;
                self.report(
                    &id,
                    serde_json::json!({ "retrying": n }),
                    format!("retrying {n} network(s) now"),
                )?;
            }
            PostsCmd::Confirm { id, to } => {
                let account = self.resolve(&to)?;
                let post = self
                    .store
                    .post(&id)?
                    .ok_or_else(|| CliError::Invalid(format!("post {id}: no such post")))?;
                let target = post
                    .targets
                    .iter()
                    .find(|t| t.account_id == account.id)
                    .ok_or_else(|| {
                        CliError::Invalid(format!(
                            "--to: post {id} is not published to {}",
                            account.address()
                        ))
                    })?;
                self.store.confirm_published(&target.id, now)?;
                self.report(
                    &id,
                    serde_json::json!({ "confirmed": target.id }),
                    format!("marked {} as posted", account.address()),
                )?;
            }
            PostsCmd::Reschedule { id, at, tz } => {
                let zone = self.zone(tz.as_deref())?;
                let t = parse_schedule_time(&at, zone)
                    .map_err(|e| CliError::Invalid(format!("--at: {e}")))?;
                check_not_past(t, now).map_err(|e| CliError::Invalid(format!("--at: {e}")))?;
                let n = self
                    .store
                    .reschedule_post(&id, t.max(now), zone.name(), now)?;
                self.report(
                    &id,
                    serde_json::json!({ "rescheduled": n, "scheduled_at": t }),
                    format!(
                        "rescheduled {n} network(s) to {}",
                        output::when(Some(t), zone)
                    ),
                )?;
            }
            PostsCmd::Delete { id } => {
                self.store.delete_post(&id)?;
                if self.json {
                    print_json(&serde_json::json!({ "deleted": id }));
                } else {
                    println!("deleted {id}");
                }
            }
        }
        Ok(())
    }

    fn report(&self, id: &str, extra: serde_json::Value, human: String) -> Result<(), CliError> {
        if self.json {
            let post = self.store.post(id)?;
            let mut v = serde_json::json!({ "post": post });
            if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
                for (k, val) in more {
                    obj.insert(k.clone(), val.clone());
                }
            }
            print_json(&v);
        } else {
            println!("{human}");
        }
        Ok(())
    }

    // ------------------------------------------------------------ agent, status

    fn agent(&self, a: AgentArgs) -> Result<(), CliError> {
        let secrets = self.secrets()?;
        let rt = runtime()?;
        rt.block_on(async {
            let engine = Engine::new(
                self.store.clone(),
                Arc::new(outpost_core::SystemClock),
                outpost_networks::publishers(secrets),
                EngineConfig { concurrency: a.concurrency.max(1), ..EngineConfig::default() },
            );
            let _watch = outpost_engine::watch::watch_wake_file(&engine).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot watch for changes from other processes; they are noticed within 30 s");
                None
            });
            let cancel = tokio_util::sync::CancellationToken::new();
            spawn_signal_handler(cancel.clone());
            let mode = if a.once {
                RunMode::Once { start: Utc::now(), settle: std::time::Duration::from_secs(60) }
            } else {
                RunMode::Forever
            };
            tracing::info!(data_dir = %self.data_dir.display(), runner = engine.runner_id(), "agent running");
            engine.run(mode, cancel).await.map_err(|e| CliError::Failed(e.to_string()))
        })
    }

    fn status(&self) -> Result<(), CliError> {
        let now = Utc::now();
        let zone = self.zone(None)?;
        let runners = self.store.runners()?;
        let alive: Vec<_> = runners
            .iter()
            .filter(|r| {
                r.stopped_at.is_none() && now - r.heartbeat_at < chrono::Duration::seconds(90)
            })
            .collect();
        let counts = self.store.target_counts()?;
        let next = self.store.upcoming(3)?;
        let depth = self.store.due_count(now)?;
        let breakers: Vec<_> = self
            .store
            .breakers()?
            .into_iter()
            .filter(|(_, b)| b.open_until.is_some())
            .collect();
        let paused = self
            .store
            .setting(outpost_engine::SETTING_PAUSED)?
            .is_some_and(|v| v == "1");
        let mut quotas = Vec::new();
        for a in self.store.accounts()? {
            for q in outpost_core::retry::default_quotas(a.network) {
                let (used, _) = self.store.published_count(
                    &a.id,
                    now - chrono::Duration::from_std(q.window).unwrap_or_default(),
                )?;
                quotas.push(serde_json::json!({
                    "account": a.address(), "used": used, "max": q.max, "window_secs": q.window.as_secs(), "source": q.source,
                }));
            }
        }
        if self.json {
            print_json(&serde_json::json!({
                "running": !alive.is_empty(),
                "paused": paused,
                "runners": alive,
                "queue_depth": depth,
                "next_due": next.iter().map(|t| serde_json::json!({"post_id": t.post_id, "account": t.account_address, "at": t.next_attempt_at})).collect::<Vec<_>>(),
                "targets": counts.iter().map(|(s, n)| (s.as_str().to_string(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
                "open_breakers": breakers.iter().map(|(s, b)| serde_json::json!({"scope": s, "open_until": b.open_until, "failures": b.consecutive_failures})).collect::<Vec<_>>(),
                "quotas": quotas,
            }));
            return Ok(());
        }
        if alive.is_empty() {
            println!("dispatcher: NOT RUNNING — scheduled posts will not go out until the app or `outpost agent` runs");
        } else {
            for r in &alive {
                println!(
                    "dispatcher: running ({} pid {}), last wake {}, in flight {}",
                    r.kind,
                    r.pid,
                    output::when(r.last_wake_at, zone),
                    r.in_flight
                );
            }
        }
        if paused {
            println!("publishing is PAUSED");
        }
        println!("queue depth: {depth} due now");
        if next.is_empty() {
            println!("next due: nothing scheduled");
        }
        for t in &next {
            println!(
                "next due: {}  {}  post {}",
                output::when(t.next_attempt_at, zone),
                t.account_address,
                t.post_id
            );
        }
        let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!(
            "targets: {}",
            if summary.is_empty() {
                "none".into()
            } else {
                summary.join(", ")
            }
        );
        for (s, b) in &breakers {
            println!(
                "breaker open: {s} until {} after {} failures",
                output::when(b.open_until, zone),
                b.consecutive_failures
            );
        }
        for q in &quotas {
            println!(
                "quota: {} {}/{} per {} s",
                q["account"].as_str().unwrap_or(""),
                q["used"],
                q["max"],
                q["window_secs"]
            );
        }
        Ok(())
    }
}

fn spawn_signal_handler(cancel: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("signal received: stopping after in-flight calls");
        cancel.cancel();
    });
}

#[allow(dead_code)]
fn exists(p: &Path) -> bool {
    p.exists()
}
