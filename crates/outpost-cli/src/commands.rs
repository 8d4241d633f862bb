//! Each command: parse → one call on the engine's API (`outpost_engine::api::Outpost`) → print.

use crate::cli::{
    AccountsCmd, AddAccount, AgentArgs, AppsCmd, Cli, Command, ConnectArgs, MediaCmd, PostArgs,
    PostsCmd, StagingCmd,
};
use crate::output;
use crate::CliError;
use chrono::Utc;
use outpost_auth::Secret;
use outpost_core::Network;
use outpost_engine::api::{ApiError, Draft, DraftMedia, DraftPart, DraftWhen, Outpost};
use outpost_engine::{Engine, EngineConfig, RunMode};
use outpost_store::Store;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

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
        Command::Accounts(AccountsCmd::Connect(c)) => ctx.accounts_connect(c),
        Command::Accounts(AccountsCmd::Choices { id, kind }) => ctx.accounts_choices(&id, &kind),
        Command::Accounts(AccountsCmd::AddPages { id, page_ids }) => {
            ctx.accounts_add_pages(&id, &page_ids)
        }
        Command::Accounts(AccountsCmd::Default { id, key, value }) => {
            ctx.accounts_default(&id, &key, value.as_deref())
        }
        Command::Apps(c) => ctx.apps(c),
        Command::Post(p) => ctx.post(p),
        Command::Posts(p) => ctx.posts(p),
        Command::Media(m) => ctx.media(m),
        Command::Staging(c) => ctx.staging(c),
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
                .ok_or_else(|| {
                    CliError::Invalid("data dir: neither --data-dir, OUTPOST_DATA_DIR, XDG_DATA_HOME nor HOME is set".into())
                })?;
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
    out!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

impl Ctx {
    /// The API with the configured secret store (opened only by commands that need it).
    fn api(&self) -> Result<Outpost, CliError> {
        Ok(Outpost::new(
            self.store.clone(),
            outpost_auth::open_from_env(&self.data_dir)?,
        ))
    }

    /// The API for commands that never touch a secret.
    fn api_no_secrets(&self) -> Outpost {
        Outpost::new(
            self.store.clone(),
            Arc::new(outpost_auth::MemoryStore::new()),
        )
    }

    // ------------------------------------------------------------ accounts

    fn accounts_add(&self, a: AddAccount) -> Result<(), CliError> {
        let network: Network = a
            .network
            .parse()
            .map_err(|e: outpost_core::network::UnknownNetwork| CliError::Invalid(e.to_string()))?;
        if network != Network::Bluesky {
            if !a.token_stdin {
                return Err(CliError::Invalid(format!(
                    "accounts add {network}: connect in the browser with `outpost accounts connect {network}`, or give tokens as JSON on standard input with --token-stdin"
                )));
            }
            let mut raw = String::new();
            std::io::stdin().read_to_string(&mut raw).map_err(|e| {
                CliError::Failed(format!(
                    "could not read the tokens from standard input: {e}"
                ))
            })?;
            let api = self.api()?;
            let r = runtime()?.block_on(api.add_account_tokens(network, &raw, Utc::now()))?;
            self.print_connected(&r.account, r.reconnected);
            return Ok(());
        }
        if a.handle.trim().is_empty() {
            return Err(CliError::Invalid(
                "accounts add bluesky: --handle is required (e.g. --handle alice.bsky.social)"
                    .into(),
            ));
        }
        if !a.app_password_stdin {
            return Err(CliError::Invalid(
                "accounts add bluesky: give the app password on standard input with --app-password-stdin (never as an argument: it would end up in your shell history)".into(),
            ));
        }
        let mut raw = String::new();
        std::io::stdin().read_to_string(&mut raw).map_err(|e| {
            CliError::Failed(format!(
                "could not read the app password from standard input: {e}"
            ))
        })?;
        let password = Secret::new(raw.trim_end_matches(['\n', '\r']).to_string());
        if password.expose().is_empty() {
            return Err(CliError::Invalid(
                "app password: standard input was empty — pipe the app password in".into(),
            ));
        }
        let api = self.api()?;
        let (account, reconnected) = runtime()?.block_on(api.connect_bluesky(
            &a.handle,
            a.pds.as_deref(),
            &password,
            Utc::now(),
        ))?;
        if self.json {
            print_json(&serde_json::json!({ "account": account, "reconnected": reconnected }));
        } else {
            out!(
                "{} {} ({}) — {}",
                if reconnected {
                    "reconnected"
                } else {
                    "connected"
                },
                account.address(),
                account.remote_id.as_deref().unwrap_or(""),
                account.id
            );
        }
        Ok(())
    }

    fn print_connected(&self, account: &outpost_core::Account, reconnected: bool) {
        if self.json {
            print_json(&serde_json::json!({ "account": account, "reconnected": reconnected }));
        } else {
            out!(
                "{} {} ({}) — {}",
                if reconnected {
                    "reconnected"
                } else {
                    "connected"
                },
                account.address(),
                account.remote_id.as_deref().unwrap_or(""),
                account.id
            );
        }
    }

    fn accounts_connect(&self, c: ConnectArgs) -> Result<(), CliError> {
        let network: Network = c
            .network
            .parse()
            .map_err(|e: outpost_core::network::UnknownNetwork| CliError::Invalid(e.to_string()))?;
        if network == Network::Bluesky {
            return Err(CliError::Invalid(
                "Bluesky uses app passwords: `outpost accounts add bluesky --handle H --app-password-stdin`".into(),
            ));
        }
        let api = self.api()?;
        let start = api.begin_connect(network, c.relay.as_deref(), c.pages)?;
        err!(
            "Open this address to connect your {} account:\n\n  {}\n\nIt sends you back to {} (register exactly that in your developer app).",
            network.display_name(),
            start.authorize_url,
            start.redirect_uri
        );
        if !c.no_browser {
            if let Err(e) = outpost_auth::oauth::open_in_browser(&start.authorize_url) {
                err!("(could not open the browser: {e} — open the address yourself)");
            }
        }
        err!(
            "Waiting up to {} s for the browser. If it cannot reach this computer, paste the address it ended on here and press Enter.",
            c.wait
        );
        // A pasted address (one line on stdin) finishes the same attempt.
        {
            let api = api.clone();
            let session = start.session.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                    let pasted = line.trim();
                    if !pasted.is_empty() {
                        match api.paste_connect(&session, pasted) {
                            Ok(()) => return,
                            Err(e) => err!("{}", e.message),
                        }
                    }
                    line.clear();
                }
            });
        }
        let r = runtime()?.block_on(api.finish_connect(
            &start.session,
            std::time::Duration::from_secs(c.wait.max(1)),
            Utc::now(),
        ))?;
        self.print_connected(&r.account, r.reconnected);
        Ok(())
    }

    fn accounts_add_pages(&self, id: &str, page_ids: &[String]) -> Result<(), CliError> {
        if page_ids.is_empty() {
            return Err(CliError::Invalid(
                "accounts add-pages: name at least one Page id (see `outpost accounts choices ID pages`)".into(),
            ));
        }
        let api = self.api()?;
        let done = runtime()?.block_on(api.connect_pages(id, page_ids, Utc::now()))?;
        if self.json {
            print_json(
                &serde_json::json!({ "accounts": done.iter().map(|r| &r.account).collect::<Vec<_>>() }),
            );
        } else {
            for r in &done {
                self.print_connected(&r.account, r.reconnected);
            }
        }
        Ok(())
    }

    fn accounts_choices(&self, id: &str, kind: &str) -> Result<(), CliError> {
        let api = self.api()?;
        let choices = runtime()?.block_on(api.account_choices(id, kind))?;
        if self.json {
            print_json(&serde_json::json!({ "choices": choices }));
        } else if choices.is_empty() {
            out!("no {kind} for this account");
        } else {
            for c in &choices {
                out!("{}  {}", c.id, c.name);
            }
        }
        Ok(())
    }

    fn accounts_default(&self, id: &str, key: &str, value: Option<&str>) -> Result<(), CliError> {
        let account = self.api_no_secrets().set_account_default(id, key, value)?;
        if self.json {
            print_json(&serde_json::json!({ "account": account }));
        } else {
            out!(
                "{}: {key} = {}",
                account.address(),
                value.unwrap_or("(cleared)")
            );
        }
        Ok(())
    }

    fn apps(&self, cmd: AppsCmd) -> Result<(), CliError> {
        match cmd {
            AppsCmd::Set {
                network,
                client_id,
                client_secret_stdin,
            } => {
                let network: Network =
                    network
                        .parse()
                        .map_err(|e: outpost_core::network::UnknownNetwork| {
                            CliError::Invalid(e.to_string())
                        })?;
                let secret = if client_secret_stdin {
                    let mut raw = String::new();
                    std::io::stdin().read_to_string(&mut raw).map_err(|e| {
                        CliError::Failed(format!(
                            "could not read the client secret from standard input: {e}"
                        ))
                    })?;
                    Some(Secret::new(raw.trim().to_string()))
                } else {
                    None
                };
                let saved =
                    self.api()?
                        .set_app_credentials(network, &client_id, secret.as_ref())?;
                if self.json {
                    print_json(&serde_json::json!({ "app": saved }));
                } else {
                    out!(
                        "{}: client id {} saved; client secret {}",
                        network.display_name(),
                        saved.client_id.unwrap_or_default(),
                        if !saved.secret_set {
                            "not set"
                        } else {
                            match self.api()?.secrets().kind() {
                                "file" => "stored in the encrypted secret file",
                                "memory" => "kept in memory only (OUTPOST_SECRET_STORE=memory: gone when this command ends)",
                                _ => "stored in the keychain",
                            }
                        }
                    );
                }
            }
            AppsCmd::List => {
                let list = self.api()?.app_credentials()?;
                if self.json {
                    print_json(&serde_json::json!({ "apps": list }));
                } else {
                    for a in &list {
                        out!(
                            "{:<10} client id {:<30} secret {}",
                            a.network.as_str(),
                            a.client_id.as_deref().unwrap_or("(none)"),
                            if a.secret_set { "set" } else { "not set" }
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn accounts_list(&self) -> Result<(), CliError> {
        let accounts = self.api_no_secrets().accounts()?;
        if self.json {
            print_json(&serde_json::json!({ "accounts": accounts }));
        } else if accounts.is_empty() {
            out!("no accounts yet — add one with `outpost accounts add bluesky --handle H --app-password-stdin`");
        } else {
            for a in &accounts {
                out!("{}", output::account_line(a));
            }
        }
        Ok(())
    }

    fn accounts_remove(&self, id: &str) -> Result<(), CliError> {
        let removed = self.api()?.remove_account(id)?;
        if self.json {
            print_json(&serde_json::json!({ "removed": removed.id }));
        } else {
            out!("removed {} and its stored credentials", removed.address());
        }
        Ok(())
    }

    // ------------------------------------------------------------ post

    fn post(&self, p: PostArgs) -> Result<(), CliError> {
        if p.to.is_empty() {
            return Err(CliError::Invalid(
                "--to: say where to publish, e.g. --to bluesky:alice.bsky.social".into(),
            ));
        }
        if p.alt.len() > p.media.len() {
            return Err(CliError::Invalid(format!(
                "--alt: {} alt texts for {} media files — give one --alt per --media, in the same order",
                p.alt.len(),
                p.media.len()
            )));
        }
        let when = match (&p.at, p.now, p.draft) {
            (Some(at), _, _) => DraftWhen::At {
                local: at.clone(),
                zone: p.tz.clone(),
            },
            (None, true, _) => DraftWhen::Now,
            (None, false, true) => DraftWhen::Draft,
            (None, false, false) => {
                return Err(CliError::Invalid(
                    "--at: say when — --at TIME, --now, or --draft to save without a time".into(),
                ))
            }
        };
        let api = self.api_no_secrets();
        let mut media = Vec::new();
        if !p.media.is_empty() {
            let rt = runtime()?;
            for (i, spec) in p.media.iter().enumerate() {
                let path = rt.block_on(api.resolve_media(&self.data_dir, spec, Utc::now()))?;
                media.push(DraftMedia {
                    path,
                    alt: p.alt.get(i).cloned(),
                });
            }
        }
        let mut parts = vec![DraftPart {
            text: p.text.clone().unwrap_or_default(),
            media,
        }];
        parts.extend(p.parts.iter().map(|t| DraftPart {
            text: t.clone(),
            media: vec![],
        }));
        let draft = Draft {
            parts,
            variants: Default::default(),
            first_comment: p.first_comment.clone(),
            options: parse_options(&p.options)?,
            account_ids: p.to.clone(),
            when,
        };
        let scheduled = api.schedule(&draft, Utc::now())?;
        if self.json {
            print_json(&serde_json::json!({
                "post_id": scheduled.post.id, "post": scheduled.post, "warnings": scheduled.warnings
            }));
        } else {
            for w in &scheduled.warnings {
                err!("warning: {}", w.message);
            }
            out!("{}", scheduled.post.id);
        }
        Ok(())
    }

    fn posts(&self, cmd: PostsCmd) -> Result<(), CliError> {
        let now = Utc::now();
        let api = self.api_no_secrets();
        let zone = api.zone(None)?;
        match cmd {
            PostsCmd::List { status, limit } => {
                let posts = api.list_posts(status.as_deref(), limit)?;
                if self.json {
                    print_json(&serde_json::json!({ "posts": posts }));
                } else if posts.is_empty() {
                    out!("no posts");
                } else {
                    for p in &posts {
                        out!("{}", output::post_line(p, zone));
                    }
                }
            }
            PostsCmd::Show { id } => {
                let detail = api.get_post(&id)?;
                if self.json {
                    print_json(&serde_json::to_value(&detail).unwrap_or_default());
                } else {
                    out_raw!("{}", output::post_block(&detail.post, zone));
                }
            }
            PostsCmd::Cancel { id } => {
                let (cancelled, held, left) = if api.has_held_targets(&id, now)? {
                    let full = self.api()?;
                    runtime()?.block_on(full.cancel_post_everywhere(&id, now))?
                } else {
                    let (c, l) = api.cancel_post(&id, now)?;
                    (c, 0, l)
                };
                let extra = if left > 0 {
                    format!("; {left} already went out or are going out now")
                } else {
                    String::new()
                };
                let held_note = if held > 0 {
                    format!(" (and deleted {held} held on the network)")
                } else {
                    String::new()
                };
                self.report(
                    &api,
                    &id,
                    serde_json::json!({ "cancelled": cancelled + held, "deleted_on_network": held, "not_cancelled": left }),
                    format!("cancelled {} network(s){held_note}{extra}", cancelled + held),
                )?;
            }
            PostsCmd::Retry { id, to } => {
                let n = api.retry_post(&id, to.as_deref(), now)?;
                self.report(
                    &api,
                    &id,
                    serde_json::json!({ "retrying": n }),
                    format!("retrying {n} network(s) now"),
                )?;
            }
            PostsCmd::Confirm { id, to } => {
                api.confirm_posted(&id, &to, now)?;
                self.report(
                    &api,
                    &id,
                    serde_json::json!({ "confirmed": to }),
                    format!("marked {to} as posted"),
                )?;
            }
            PostsCmd::Reschedule { id, at, tz } => {
                let when = DraftWhen::At {
                    local: at,
                    zone: tz.clone(),
                };
                let (n, t) = if api.has_held_targets(&id, now)? {
                    let full = self.api()?;
                    runtime()?.block_on(full.reschedule_post_everywhere(&id, &when, now))?
                } else {
                    api.reschedule_post(&id, &when, now)?
                };
                let shown = api.zone(tz.as_deref())?;
                self.report(
                    &api,
                    &id,
                    serde_json::json!({ "rescheduled": n, "scheduled_at": t }),
                    format!(
                        "rescheduled {n} network(s) to {}",
                        output::when(Some(t), shown)
                    ),
                )?;
            }
            PostsCmd::Delete { id } => {
                api.delete_post(&id)?;
                if self.json {
                    print_json(&serde_json::json!({ "deleted": id }));
                } else {
                    out!("deleted {id}");
                }
            }
        }
        Ok(())
    }

    fn report(
        &self,
        api: &Outpost,
        id: &str,
        extra: serde_json::Value,
        human: String,
    ) -> Result<(), CliError> {
        if self.json {
            let post = api.get_post(id)?.post;
            let mut v = serde_json::json!({ "post": post });
            if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
                for (k, val) in more {
                    obj.insert(k.clone(), val.clone());
                }
            }
            print_json(&v);
        } else {
            out!("{human}");
        }
        Ok(())
    }

    // ------------------------------------------------------------ media

    fn staging(&self, cmd: StagingCmd) -> Result<(), CliError> {
        let api = self.api()?;
        let rt = runtime()?;
        let show = |s: &outpost_engine::api::StagingSettings| {
            if self.json {
                print_json(&serde_json::json!({ "staging": s }));
            } else {
                out!(
                    "bucket {} at {} (region {}, folder {}/), {}; keys {}",
                    s.bucket,
                    s.endpoint,
                    s.region,
                    s.prefix,
                    match &s.public_base_url {
                        Some(u) => format!("public at {u}"),
                        None => format!("presigned links valid {} s", s.presign_expiry_secs),
                    },
                    if s.keys_set { "saved" } else { "missing" }
                );
            }
        };
        match cmd {
            StagingCmd::Set(a) => {
                let settings = outpost_engine::api::StagingSettings {
                    endpoint: a.endpoint,
                    bucket: a.bucket,
                    region: a.region,
                    prefix: a.prefix,
                    public_base_url: a.public_url,
                    presign_expiry_secs: a.link_expiry,
                    path_style: a.path_style,
                    keys_set: false,
                };
                let keys = if a.keep_keys {
                    None
                } else {
                    let mut input = String::new();
                    std::io::stdin().read_to_string(&mut input).map_err(|e| {
                        ApiError::invalid(format!(
                            "staging: could not read the keys from stdin ({e})"
                        ))
                    })?;
                    let mut lines = input.lines().map(str::trim).filter(|l| !l.is_empty());
                    match (lines.next(), lines.next()) {
                        (Some(id), Some(secret)) => Some(outpost_engine::api::StagingKeys {
                            access_key_id: id.to_string(),
                            secret_access_key: secret.to_string(),
                        }),
                        _ => {
                            return Err(ApiError::invalid(
                                "staging: give the access key id and the secret access key on two lines of stdin (or --keep-keys)",
                            )
                            .into())
                        }
                    }
                };
                let saved = rt.block_on(api.save_staging(&settings, keys.as_ref()))?;
                show(&saved);
            }
            StagingCmd::Test => {
                let Some(s) = api.staging_settings()? else {
                    return Err(ApiError::invalid(
                        "staging: no bucket is set up — `outpost staging set --endpoint … --bucket …`",
                    )
                    .into());
                };
                rt.block_on(api.test_staging(&s, None))?;
                if self.json {
                    print_json(&serde_json::json!({ "ok": true }));
                } else {
                    out!("the bucket works: a test file was written, read back and deleted");
                }
            }
            StagingCmd::Show => match api.staging_settings()? {
                Some(s) => show(&s),
                None if self.json => print_json(&serde_json::json!({ "staging": null })),
                None => out!("no staging bucket is set up"),
            },
            StagingCmd::Remove => {
                api.remove_staging()?;
                if !self.json {
                    out!("staging bucket removed");
                }
            }
        }
        Ok(())
    }

    fn media(&self, cmd: MediaCmd) -> Result<(), CliError> {
        let api = self.api_no_secrets();
        match cmd {
            MediaCmd::Add { source } => {
                let row =
                    runtime()?.block_on(api.add_media(&self.data_dir, &source, Utc::now()))?;
                if self.json {
                    print_json(&serde_json::json!({ "media": row }));
                } else {
                    out!("{}", row.id);
                }
            }
            MediaCmd::List => {
                let rows = api.list_media()?;
                if self.json {
                    print_json(&serde_json::json!({ "media": rows }));
                } else if rows.is_empty() {
                    out!(
                        "no media yet — add a file with `outpost media add PATH` (or an https URL)"
                    );
                } else {
                    for m in &rows {
                        out!("{}  {}", m.id, output::media_line(m));
                    }
                }
            }
            MediaCmd::Show { id } => {
                let m = api.get_media(&id)?;
                if self.json {
                    print_json(&serde_json::json!({ "media": m }));
                } else {
                    out!(
                        "media {}
  {}
  file: {}
  from: {}",
                        m.id,
                        output::media_line(&m),
                        m.path,
                        m.source.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ agent, status

    fn agent(&self, a: AgentArgs) -> Result<(), CliError> {
        let secrets = outpost_auth::open_from_env(&self.data_dir)?;
        tracing::info!(store = secrets.kind(), "secret store");
        let rt = runtime()?;
        rt.block_on(async {
            let engine = Engine::new(
                self.store.clone(),
                Arc::new(outpost_core::SystemClock),
                outpost_networks::publishers(secrets.clone()),
                EngineConfig {
                    concurrency: a.concurrency.max(1),
                    // For tests and slow private deployments: how long network-side processing
                    // may take before the target fails with "processing timed out".
                    processing_timeout: std::env::var("OUTPOST_PROCESSING_TIMEOUT_SECS")
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                        .map(std::time::Duration::from_secs)
                        .unwrap_or(EngineConfig::default().processing_timeout),
                    ..EngineConfig::default()
                },
            )
            .with_secrets(secrets);
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
        let api = self.api_no_secrets();
        let zone = api.zone(None)?;
        let s = api.status(Utc::now())?;
        if self.json {
            print_json(&serde_json::to_value(&s).unwrap_or_default());
            return Ok(());
        }
        if s.runners.is_empty() {
            out!("dispatcher: NOT RUNNING — scheduled posts will not go out until the app or `outpost agent` runs");
        }
        for r in &s.runners {
            out!(
                "dispatcher: running ({} pid {}), last wake {}, in flight {}, {} wake-ups",
                r.kind,
                r.pid,
                output::when(r.last_wake_at, zone),
                r.in_flight,
                r.wakes
            );
        }
        if s.paused {
            out!("publishing is PAUSED");
        }
        out!("queue depth: {} due now", s.queue_depth);
        if s.next_due.is_empty() {
            out!("next due: nothing scheduled");
        }
        for n in &s.next_due {
            out!(
                "next due: {}  {}  post {}",
                output::when(n.at, zone),
                n.account,
                n.post_id
            );
        }
        let summary: Vec<String> = s.targets.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out!(
            "targets: {}",
            if summary.is_empty() {
                "none".into()
            } else {
                summary.join(", ")
            }
        );
        for b in &s.open_breakers {
            out!(
                "breaker open: {} until {} after {} failures",
                b.scope,
                output::when(b.open_until, zone),
                b.failures
            );
        }
        for q in &s.quotas {
            out!(
                "quota: {} {}/{} per {} s",
                q.account,
                q.used,
                q.max,
                q.window_secs
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

/// `NETWORK.FIELD=VALUE` / `NETWORK:HANDLE.FIELD=VALUE` pairs into the draft's options map.
/// Values that read as JSON (numbers, `true`, arrays) stay JSON; the rest are strings.
fn parse_options(
    pairs: &[String],
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, ApiError> {
    let mut out: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
    for pair in pairs {
        let bad = || {
            ApiError::invalid(format!(
                "--option {pair:?}: expected NETWORK.FIELD=VALUE, e.g. pinterest.board_id=123"
            ))
        };
        let (key, value) = pair.split_once('=').ok_or_else(bad)?;
        let (scope, field) = key.trim().rsplit_once('.').ok_or_else(bad)?;
        if scope.is_empty() || field.is_empty() {
            return Err(bad());
        }
        let value = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(v) if !v.is_string() => v,
            _ => serde_json::Value::String(value.to_string()),
        };
        let entry = out
            .entry(scope.to_string())
            .or_insert_with(|| serde_json::json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.insert(field.to_string(), value);
        }
    }
    Ok(out)
}
