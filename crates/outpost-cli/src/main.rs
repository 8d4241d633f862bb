//! `outpost`: the command line and the headless agent. A thin face on the engine: parsing,
//! printing and exit codes live here; rules live in outpost-core, state in outpost-store.

mod cli;
mod commands;
mod logging;
mod output;

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
                eprintln!("{body}");
            } else {
                eprintln!("error: {}", e.message());
            }
            ExitCode::from(e.code())
        }
    }
}
