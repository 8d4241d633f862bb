//! `outpost`: the command line and the headless agent. A thin face on the engine: parsing,
//! printing and exit codes live here; rules live in outpost-core, state in outpost-store.

/// `println!` that never panics: when standard output is a pipe that closed
/// (`outpost posts list | head -1`) the command ends quietly with exit 0; any other write
/// error (a full disk) ends it with exit 1 and one line on standard error.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*), true)
    };
}

/// `print!` without the newline, same rules as [`out!`].
macro_rules! out_raw {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*), false)
    };
}

/// `eprintln!` that never panics: a closed standard error is ignored.
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut e = std::io::stderr().lock();
        let _ = e.write_fmt(format_args!($($arg)*)).and_then(|_| e.write_all(b"\n"));
    }};
}

mod cli;
mod commands;
mod logging;
mod output;

pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    let written = o
        .write_fmt(args)
        .and_then(|_| if newline { o.write_all(b"\n") } else { Ok(()) })
        .and_then(|_| o.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        err!("error: cannot write the output ({e})");
        std::process::exit(1);
    }
}

use clap::Parser;
use std::process::ExitCode;

/// Errors that end the command. `Invalid` is bad input (exit 2); `Failed` is everything
/// else (exit 1).
#[derive(Debug)]
pub enum CliError {
    Invalid(String),
    Failed(String),
}

impl CliError {
    fn code(&self) -> u8 {
        match self {
            CliError::Invalid(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
    fn message(&self) -> &str {
        match self {
            CliError::Invalid(m) | CliError::Failed(m) => m,
        }
    }
}

impl From<outpost_engine::api::ApiError> for CliError {
    fn from(e: outpost_engine::api::ApiError) -> Self {
        if e.is_invalid_input() {
            CliError::Invalid(e.message)
        } else {
            CliError::Failed(e.message)
        }
    }
}

impl From<outpost_store::StoreError> for CliError {
    fn from(e: outpost_store::StoreError) -> Self {
        outpost_engine::api::ApiError::from(e).into()
    }
}

impl From<outpost_auth::SecretError> for CliError {
    fn from(e: outpost_auth::SecretError) -> Self {
        CliError::Failed(e.to_string())
    }
}

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = args.json;
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let body = serde_json::json!({
                    "error": {
                        "code": if e.code() == 2 { "invalid_input" } else { "failed" },
                        "message": e.message(),
                    }
                });
                err!("{body}");
            } else {
                err!("error: {}", e.message());
            }
            ExitCode::from(e.code())
        }
    }
}
