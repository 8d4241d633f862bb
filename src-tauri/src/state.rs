//! The app's services: the engine API, the dispatcher, and where things live on disk.

use outpost_auth::{Secret, SecretError, SecretStore};
use outpost_engine::api::Outpost;
use outpost_engine::{Engine, EngineConfig, RunMode};
use outpost_store::Store;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

pub struct AppState {
    pub api: Outpost,
    pub engine: Engine,
    pub data_dir: PathBuf,
    cancel: CancellationToken,
    _watch: Mutex<Option<outpost_engine::watch::WakeWatcher>>,
    _log_guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Used when the configured secret store cannot be opened: every use says why, so the UI
/// shows the fix instead of failing silently.
struct Unavailable(String);

impl SecretStore for Unavailable {
    fn kind(&self) -> &'static str {
        "unavailable"
    }
    fn get(&self, _: &str) -> Result<Option<Secret>, SecretError> {
        Err(SecretError::KeychainUnavailable {
            detail: self.0.clone(),
        })
    }
    fn set(&self, _: &str, _: &Secret) -> Result<(), SecretError> {
        Err(SecretError::KeychainUnavailable {
            detail: self.0.clone(),
        })
    }
    fn delete(&self, _: &str) -> Result<(), SecretError> {
        Err(SecretError::KeychainUnavailable {
            detail: self.0.clone(),
        })
    }
}

pub fn data_dir() -> PathBuf {
    std::env::var_os("OUTPOST_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("outpost")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/outpost")))
        .unwrap_or_else(|| PathBuf::from("outpost-data"))
}

impl AppState {
    pub fn start(_app: &tauri::AppHandle) -> Result<AppState, Box<dyn std::error::Error>> {
        let data_dir = data_dir();
        std::fs::create_dir_all(&data_dir)?;
        let log_guard = init_logging(&data_dir);
        let store = Store::open(&data_dir.join("outpost.db"))?;
        let secrets: Arc<dyn SecretStore> = match outpost_auth::open_from_env(&data_dir) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "secret store unavailable");
                Arc::new(Unavailable(e.to_string()))
            }
        };
        let engine = Engine::new(
            store.clone(),
            Arc::new(outpost_core::SystemClock),
            outpost_networks::publishers(secrets.clone()),
            EngineConfig {
                runner_kind: "app".into(),
                ..EngineConfig::default()
            },
        )
        .with_secrets(secrets.clone());
        let watch = outpost_engine::watch::watch_wake_file(&engine).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot watch for changes from other processes");
            None
        });
        let cancel = CancellationToken::new();
        {
            let (engine, cancel) = (engine.clone(), cancel.clone());
            tauri::async_runtime::spawn(async move {
                if let Err(e) = engine.run(RunMode::Forever, cancel).await {
                    tracing::error!(error = %e, "the dispatcher stopped");
                }
            });
        }
        Ok(AppState {
            api: Outpost::new(store, secrets),
            engine,
            data_dir,
            cancel,
            _watch: Mutex::new(watch),
            _log_guard: log_guard,
        })
    }

    /// Stops the dispatcher (in-flight calls finish or stay reconcilable).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

fn init_logging(data_dir: &std::path::Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Layer};
    let logs = data_dir.join("logs");
    std::fs::create_dir_all(&logs).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("outpost-app")
        .filename_suffix("jsonl")
        .max_log_files(14)
        .build(&logs)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let json = fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
        .with_filter(EnvFilter::new("info"));
    let terminal = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(
            EnvFilter::try_from_env("OUTPOST_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        );
    let _ = tracing_subscriber::registry()
        .with(json)
        .with(terminal)
        .try_init();
    Some(guard)
}
