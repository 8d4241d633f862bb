//! Logs: human lines on the terminal, JSON lines in `<data dir>/logs/` (rotated daily, 14
//! files kept). Events carry fields (post_id, network, account, attempt, duration_ms); no
//! secret is ever formatted into them.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// Starts logging. `verbose` shows info on the terminal (the agent); otherwise warnings only.
pub fn init(data_dir: &Path, verbose: bool) -> Option<WorkerGuard> {
    let term_filter = EnvFilter::try_from_env("OUTPOST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(if verbose { "info" } else { "warn" }));
    let terminal = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .with_filter(term_filter);
    let logs = data_dir.join("logs");
    let file = std::fs::create_dir_all(&logs)
        .ok()
        .and_then(|_| {
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("outpost")
                .filename_suffix("jsonl")
                .max_log_files(14)
                .build(&logs)
                .ok()
        })
        .map(tracing_appender::non_blocking);
    match file {
        Some((writer, guard)) => {
            let json = fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(writer)
                .with_filter(EnvFilter::new("info,outpost=debug"));
            let _ = tracing_subscriber::registry()
                .with(terminal)
                .with(json)
                .try_init();
            Some(guard)
        }
        None => {
            let _ = tracing_subscriber::registry().with(terminal).try_init();
            None
        }
    }
}
