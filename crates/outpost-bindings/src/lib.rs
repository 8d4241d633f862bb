//! TypeScript types for the UI, generated from the Rust types that cross IPC (ts-rs). The
//! output is committed under `ui/src/lib/bindings/`; a test fails when it drifts.

use outpost_engine::api::{
    ApiError, AppCredentials, ConnectResult, Draft, PostDetail, PostFilter, Settings, StagedMedia,
    StagingKeys, StagingSettings, StatusReport,
};
use outpost_engine::connect::{AccountChoice, ConnectStart};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// Where the committed bindings live, from the repository root.
pub fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings")
}

/// Writes every type the UI uses (and what they refer to) into `dir`.
pub fn export(dir: &Path) -> Result<(), ts_rs::ExportError> {
    let cfg = ts_rs::Config::new()
        .with_out_dir(dir)
        .with_large_int("number");
    outpost_core::Post::export_all(&cfg)?;
    outpost_core::Account::export_all(&cfg)?;
    outpost_core::validate::Finding::export_all(&cfg)?;
    PostDetail::export_all(&cfg)?;
    Draft::export_all(&cfg)?;
    PostFilter::export_all(&cfg)?;
    Settings::export_all(&cfg)?;
    StatusReport::export_all(&cfg)?;
    AppCredentials::export_all(&cfg)?;
    ConnectResult::export_all(&cfg)?;
    StagedMedia::export_all(&cfg)?;
    ApiError::export_all(&cfg)?;
    StagingSettings::export_all(&cfg)?;
    StagingKeys::export_all(&cfg)?;
    ConnectStart::export_all(&cfg)?;
    AccountChoice::export_all(&cfg)?;
    outpost_engine::Event::export_all(&cfg)?;
    Ok(())
}
