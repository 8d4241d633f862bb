//! The one surface every face calls: the desktop app's commands, the `outpost` CLI and the
//! tests. Each operation is a short function over the store (and, to connect accounts, the
//! networks); rules come from outpost-core. Errors cross to the faces as `{ code, message }`.

use crate::media::attach;
use crate::{SETTING_CATCH_UP_SECS, SETTING_PAUSED};
use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use outpost_auth::{Secret, SecretStore};
use outpost_core::retry::{default_quotas, DEFAULT_CATCH_UP_WINDOW};
use outpost_core::time::{check_not_past, local_zone_name, parse_schedule_time, parse_zone};
use outpost_core::validate::{validate_options, validate_with, Finding, Severity};
use outpost_core::{Account, AccountStatus, Network, Part, Post, PostContent, PostStatus};
use outpost_store::{Attempt, NewPost, RunnerHealth, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

pub const SETTING_TZ: &str = "time_zone";
pub const SETTING_NOTIFICATIONS: &str = "notifications";
pub const SETTING_START_AT_LOGIN: &str = "start_at_login";

/// Where the UI branches on an error; everything else is in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    NotFound,
    Conflict,
    Failed,
}

/// The one error type that crosses to the app and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, ts_rs::TS)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            code: ErrorCode::InvalidInput,
            message: message.into(),
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        ApiError {
            code: ErrorCode::Failed,
            message: message.into(),
        }
    }
    pub fn is_invalid_input(&self) -> bool {
        self.code != ErrorCode::Failed
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::NotOutpost { .. } | StoreError::TooNew { .. } => ErrorCode::InvalidInput,
            _ => ErrorCode::Failed,
        };
        ApiError {
            code,
            message: e.to_string(),
        }
    }
}

impl From<outpost_auth::SecretError> for ApiError {
    fn from(e: outpost_auth::SecretError) -> Self {
        ApiError::failed(e.to_string())
    }
}

/// A media file as the user attached it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct DraftMedia {
    pub path: String,
    #[serde(default)]
    pub alt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct DraftPart {
    pub text: String,
    #[serde(default)]
    pub media: Vec<DraftMedia>,
}

/// When a post should go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DraftWhen {
    Now,
    /// `local` is RFC 3339 or wall-clock time ("2026-12-01 09:30") in `zone` (default: the
    /// user's zone setting).
    At {
        local: String,
        zone: Option<String>,
    },
    Draft,
}

/// What the composer (or `outpost post`) sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Draft {
    pub parts: Vec<DraftPart>,
    #[serde(default)]
    pub variants: BTreeMap<Network, String>,
    #[serde(default)]
    pub first_comment: Option<String>,
    /// Per-network options ([`PostContent::options`]).
    #[serde(default)]
    #[ts(type = "Record<string, Record<string, unknown>>")]
    pub options: BTreeMap<String, serde_json::Value>,
    pub account_ids: Vec<String>,
    pub when: DraftWhen,
}

/// Which posts to list (the calendar asks for a range).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PostFilter {
    #[serde(default)]
    #[ts(optional)]
    pub status: Option<PostStatus>,
    /// Only posts scheduled at or after this instant.
    #[serde(default)]
    #[ts(optional)]
    pub from: Option<DateTime<Utc>>,
    /// Only posts scheduled before this instant.
    #[serde(default)]
    #[ts(optional)]
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<usize>,
}

/// A network's app credentials as the UI may see them: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AppCredentials {
    pub network: Network,
    pub client_id: Option<String>,
    /// Whether a client secret is stored. The secret itself never leaves the keychain.
    pub secret_set: bool,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ConnectResult {
    pub account: Account,
    pub reconnected: bool,
}

/// A file added to the media library, with what the composer shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StagedMedia {
    #[serde(flatten)]
    pub media: outpost_core::MediaRef,
    /// A data: URL or an asset URL the webview can show.
    pub thumbnail: Option<String>,
    /// Video length in seconds, when probing found it.
    pub duration_secs: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Scheduled {
    pub post: Post,
    pub warnings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct PostDetail {
    pub post: Post,
    pub attempts: BTreeMap<String, Vec<Attempt>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ts_rs::TS)]
pub struct Settings {
    pub time_zone: String,
    pub catch_up_window_secs: u64,
    pub notifications: bool,
    pub start_at_login: bool,
    /// Days a library file that no post uses any more is kept before it is deleted.
    #[serde(default = "default_keep_days")]
    pub media_keep_days: u64,
}

fn default_keep_days() -> u64 {
    crate::housekeeping::DEFAULT_MEDIA_KEEP_DAYS
}

/// The staging bucket as the settings screen shows and edits it (the keys are write-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct StagingSettings {
    /// `https://s3.eu-central-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`…
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Folder inside the bucket that Outpost owns and cleans up.
    pub prefix: String,
    /// The bucket's public address; empty/none: Outpost hands out presigned URLs.
    pub public_base_url: Option<String>,
    pub presign_expiry_secs: u64,
    pub path_style: bool,
    /// Output only: whether both keys are saved in the secret store.
    #[serde(default)]
    pub keys_set: bool,
}

/// Keys typed into the settings screen; they go to the secret store and nowhere else.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct StagingKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct NextDue {
    pub post_id: String,
    pub account: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct OpenBreaker {
    pub scope: String,
    pub open_until: Option<DateTime<Utc>>,
    pub failures: u32,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct QuotaUsage {
    pub account: String,
    pub used: u32,
    pub max: u32,
    pub window_secs: u64,
    pub source: String,
}

/// Runner health and the queue, for `outpost status`, the status bar and the tray.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct StatusReport {
    pub running: bool,
    pub paused: bool,
    pub runners: Vec<RunnerHealth>,
    pub queue_depth: i64,
    pub next_due: Vec<NextDue>,
    pub targets: BTreeMap<String, i64>,
    pub open_breakers: Vec<OpenBreaker>,
    pub quotas: Vec<QuotaUsage>,
}

/// The service handle the faces hold. Cheap to clone.
#[derive(Clone)]
pub struct Outpost {
    store: Store,
    secrets: Arc<dyn SecretStore>,
    /// The network clients (built on first use, with `OUTPOST_<NETWORK>_BASE_URL`).
    publishers: Arc<std::sync::OnceLock<HashMap<Network, Arc<dyn outpost_networks::Publisher>>>>,
    /// OAuth connect attempts waiting for the browser.
    pending: Arc<crate::connect::Pending>,
}

/// The daily cap of an X account: `daily_cap`, else its `tier`'s documented per-user cap.
fn x_daily_cap(a: &Account) -> u32 {
    if let Some(n) = a
        .setting("daily_cap")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    match a.setting("tier").map(str::to_ascii_lowercase).as_deref() {
        Some("basic") => 100,
        Some("pro") => 10_000,
        _ => 17,
    }
}

/// Fills options the post leaves open from the account's defaults (a Pinterest account's
/// default board), under the account's address, so the stored post says what will be used.
fn apply_account_defaults(content: &mut PostContent, accounts: &[Account]) {
    for a in accounts {
        // Pinterest: the default board; LinkedIn: "post as" (an explicit `null` in the post
        // means the member, so only an absent key takes the default).
        let key = match a.network {
            Network::Pinterest => "board_id",
            Network::LinkedIn => "author",
            _ => continue,
        };
        let Some(value) = a.setting(key).filter(|b| !b.trim().is_empty()) else {
            continue;
        };
        if content
            .options_for(a.network, &a.address())
            .get(key)
            .is_some()
        {
            continue;
        }
        let entry = content
            .options
            .entry(a.address())
            .or_insert_with(|| serde_json::json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.insert(key.into(), serde_json::Value::String(value.to_string()));
        }
    }
}

fn row_to_ref(row: &outpost_store::MediaRow) -> outpost_core::MediaRef {
    outpost_core::MediaRef {
        path: row.path.clone(),
        sha256: row.sha256.clone(),
        mime: row.mime.clone(),
        bytes: row.bytes,
        width: row.width,
        height: row.height,
        alt: None,
    }
}

/// Plain http is accepted only from this machine (a local server); everything else must be
/// https.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// What the composer shows for a library file: its 320 px thumbnail (a small PNG, inlined) or,
/// for videos, no image (the UI draws a typed placeholder) and the probed length.
fn staged(data_dir: &std::path::Path, row: &outpost_store::MediaRow) -> StagedMedia {
    let media = row_to_ref(row);
    let thumbnail = outpost_media::MediaLibrary::open(data_dir)
        .ok()
        .and_then(|lib| lib.get(&row.sha256).ok().flatten().map(|item| (lib, item)))
        .and_then(|(lib, item)| lib.thumbnail(&item).ok())
        .and_then(|t| match t {
            outpost_media::Thumbnail::Image { path, .. } => std::fs::read(path).ok(),
            outpost_media::Thumbnail::Placeholder { .. } => None,
        })
        .map(|png| ("image/png".to_string(), png))
        // An image the decoder cannot scale (an unusual encoding) is shown as it is, if small.
        .or_else(|| {
            (media.is_image() && media.bytes <= 2_000_000)
                .then(|| std::fs::read(&media.path).ok())
                .flatten()
                .map(|b| (media.mime.clone(), b))
        })
        .map(|(mime, bytes)| {
            use base64::Engine as _;
            format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        });
    StagedMedia {
        media,
        thumbnail,
        duration_secs: row.duration_ms.map(|ms| ms as f64 / 1000.0),
    }
}

fn at_least_now(t: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    t.max(now)
}

impl Outpost {
    pub fn new(store: Store, secrets: Arc<dyn SecretStore>) -> Outpost {
        Outpost {
            store,
            secrets,
            publishers: Default::default(),
            pending: Default::default(),
        }
    }

    pub(crate) fn publishers(&self) -> &HashMap<Network, Arc<dyn outpost_networks::Publisher>> {
        self.publishers
            .get_or_init(|| outpost_networks::publishers(self.secrets.clone()))
    }

    pub(crate) fn pending(&self) -> &crate::connect::Pending {
        &self.pending
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.secrets
    }

    /// The zone wall-clock input is read in: `given`, else the setting, else the system's.
    pub fn zone(&self, given: Option<&str>) -> Result<Tz, ApiError> {
        let name = match given {
            Some(z) if !z.trim().is_empty() => z.to_string(),
            _ => self
                .store
                .setting(SETTING_TZ)?
                .unwrap_or_else(local_zone_name),
        };
        parse_zone(&name).map_err(|e| ApiError::invalid(e.to_string()))
    }

    /// `NETWORK:HANDLE` (or an account id) → the account, or an error listing what exists.
    pub fn resolve_account(&self, spec: &str) -> Result<Account, ApiError> {
        if let Some(a) = self.store.account(spec)? {
            return Ok(a);
        }
        let (net, handle) = spec.split_once(':').ok_or_else(|| {
            ApiError::invalid(format!(
                "--to: '{spec}' is not NETWORK:HANDLE (for example bluesky:alice.bsky.social)"
            ))
        })?;
        let network: Network =
            net.parse()
                .map_err(|e: outpost_core::network::UnknownNetwork| {
                    ApiError::invalid(format!("--to: {e}"))
                })?;
        self.store.find_account(network, handle)?.ok_or_else(|| {
            let known: Vec<String> = self.store.accounts().unwrap_or_default().iter().map(|a| a.address()).collect();
            ApiError::invalid(format!(
                "--to: unknown account {network}:{handle} — connect it with `outpost accounts add {network} --handle {handle} …`{}",
                if known.is_empty() { String::new() } else { format!(" (connected: {})", known.join(", ")) }
            ))
        })
    }

    fn accounts_of(&self, ids: &[String]) -> Result<Vec<Account>, ApiError> {
        if ids.is_empty() {
            return Err(ApiError::invalid(
                "accounts: choose at least one account to publish to (--to NETWORK:HANDLE)",
            ));
        }
        let mut out: Vec<Account> = Vec::new();
        for id in ids {
            let a = self.resolve_account(id)?;
            if out.iter().any(|x| x.id == a.id) {
                return Err(ApiError::invalid(format!(
                    "--to: {} is named twice — each account gets one copy",
                    a.address()
                )));
            }
            out.push(a);
        }
        Ok(out)
    }

    fn content_of(&self, d: &Draft) -> Result<PostContent, ApiError> {
        let mut parts = Vec::new();
        for (i, p) in d.parts.iter().enumerate() {
            let mut media = Vec::new();
            for m in &p.media {
                let r = attach(
                    &PathBuf::from(&m.path),
                    m.alt.clone().filter(|a| !a.trim().is_empty()),
                )
                .map_err(|e| {
                    ApiError::invalid(if d.parts.len() > 1 {
                        format!("part {}: {e}", i + 1)
                    } else {
                        e.to_string()
                    })
                })?;
                media.push(r);
            }
            parts.push(Part {
                text: p.text.clone(),
                media,
            });
        }
        if parts.is_empty() {
            parts.push(Part::default());
        }
        Ok(PostContent {
            parts,
            variants: d.variants.clone(),
            first_comment: d.first_comment.clone(),
            options: d.options.clone(),
        })
    }

    fn findings(&self, content: &PostContent, accounts: &[Account]) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let facts = crate::media::facts_for(&self.store, content);
        for a in accounts {
            // Content findings once per network; option findings for every account.
            if seen.insert(a.network) {
                out.extend(validate_with(a.network, content, &|m| {
                    facts.get(&m.sha256).cloned()
                }));
            }
            out.extend(validate_options(
                a.network,
                &a.address(),
                &content.options_for(a.network, &a.address()),
            ));
            if a.status != AccountStatus::Active {
                out.push(Finding {
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
        out
    }

    /// Live checks for the composer: what would block scheduling, and warnings.
    pub fn check_draft(&self, d: &Draft) -> Result<Vec<Finding>, ApiError> {
        let accounts = self.accounts_of(&d.account_ids)?;
        let mut content = self.content_of(d)?;
        apply_account_defaults(&mut content, &accounts);
        Ok(self.findings(&content, &accounts))
    }

    fn when_to_instant(
        &self,
        when: &DraftWhen,
        now: DateTime<Utc>,
    ) -> Result<(Option<DateTime<Utc>>, Tz), ApiError> {
        Ok(match when {
            DraftWhen::Now => (Some(now), self.zone(None)?),
            DraftWhen::Draft => (None, self.zone(None)?),
            DraftWhen::At { local, zone } => {
                let zone = self.zone(zone.as_deref())?;
                let t = parse_schedule_time(local, zone)
                    .map_err(|e| ApiError::invalid(format!("--at: {e}")))?;
                check_not_past(t, now).map_err(|e| ApiError::invalid(format!("--at: {e}")))?;
                (Some(at_least_now(t, now)), zone)
            }
        })
    }

    /// Validates and stores a post. Errors block; warnings come back with the post.
    pub fn schedule(&self, d: &Draft, now: DateTime<Utc>) -> Result<Scheduled, ApiError> {
        let accounts = self.accounts_of(&d.account_ids)?;
        let (scheduled_at, zone) = self.when_to_instant(&d.when, now)?;
        let mut content = self.content_of(d)?;
        apply_account_defaults(&mut content, &accounts);
        if !matches!(d.when, DraftWhen::Draft) {
            if let Some(at) = scheduled_at {
                self.check_daily_caps(&accounts, at, zone, None)?;
            }
        }
        let findings = self.findings(&content, &accounts);
        let (errors, warnings): (Vec<Finding>, Vec<Finding>) = findings
            .into_iter()
            .partition(|f| f.severity == Severity::Error);
        if !errors.is_empty() {
            let lines: Vec<String> = errors
                .iter()
                .map(|f| format!("{} ({})", f.message, f.field))
                .collect();
            return Err(ApiError::invalid(lines.join("\n")));
        }
        let id = self.store.create_post(
            &NewPost {
                content,
                scheduled_at,
                time_zone: zone.name().to_string(),
                draft: matches!(d.when, DraftWhen::Draft),
                targets: accounts.iter().map(|a| (a.id.clone(), a.network)).collect(),
            },
            now,
        )?;
        if !matches!(d.when, DraftWhen::Draft) {
            self.dispatch_hand_offs(&id, now)?;
        }
        let post = self.get_post(&id)?.post;
        Ok(Scheduled { post, warnings })
    }

    /// Replaces the content of a post nothing of which has gone out yet.
    pub fn update_post(&self, id: &str, d: &Draft, now: DateTime<Utc>) -> Result<Post, ApiError> {
        let post = self.get_post(id)?.post;
        let accounts: Vec<Account> = post
            .targets
            .iter()
            .filter_map(|t| self.store.account(&t.account_id).ok().flatten())
            .collect();
        let mut content = self.content_of(d)?;
        apply_account_defaults(&mut content, &accounts);
        let errors: Vec<String> = self
            .findings(&content, &accounts)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.message)
            .collect();
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors.join("\n")));
        }
        if let DraftWhen::At { .. } | DraftWhen::Now = d.when {
            if let (Some(at), zone) = self.when_to_instant(&d.when, now)? {
                self.check_daily_caps(&accounts, at, zone, Some(id))?;
            }
        }
        let held: Vec<String> = Self::held_targets(&post, now)
            .into_iter()
            .map(|(t, _)| t.id)
            .collect();
        self.store.edit_post(id, &content, now, &held)?;
        if let DraftWhen::At { .. } | DraftWhen::Now = d.when {
            let (at, zone) = self.when_to_instant(&d.when, now)?;
            if let (Some(at), true) = (at, post.scheduled_at != at) {
                self.store.reschedule_post(id, at, zone.name(), now)?;
            }
            self.dispatch_hand_offs(id, now)?;
        }
        Ok(self.get_post(id)?.post)
    }

    /// Edits a post, and the copies networks hold until their time (hand-off) with it.
    pub async fn update_post_everywhere(
        &self,
        id: &str,
        d: &Draft,
        now: DateTime<Utc>,
    ) -> Result<Post, ApiError> {
        let before = self.get_post(id)?.post;
        let held = Self::held_targets(&before, now);
        let post = self.update_post(id, d, now)?;
        for (t, was) in held {
            let at = post.scheduled_at.unwrap_or(was);
            self.update_held_target(&post, &t, at, now).await?;
        }
        Ok(self.get_post(id)?.post)
    }

    pub fn list_posts(&self, status: Option<&str>, limit: usize) -> Result<Vec<Post>, ApiError> {
        let status: Option<PostStatus> = status
            .map(|s| {
                s.parse()
                    .map_err(|e: String| ApiError::invalid(format!("--status: {e}")))
            })
            .transpose()?;
        Ok(self.store.list_posts(status, limit)?)
    }

    /// Posts for the calendar and lists: a status, a time range, a limit (default 5,000).
    pub fn filter_posts(&self, f: &PostFilter) -> Result<Vec<Post>, ApiError> {
        Ok(self
            .store
            .list_posts_between(f.status, f.from, f.to, f.limit.unwrap_or(5_000))?)
    }

    /// Adds picked files to the media library (the same library as `outpost media add`).
    pub async fn import_media(
        &self,
        data_dir: &std::path::Path,
        paths: &[PathBuf],
        now: DateTime<Utc>,
    ) -> Result<Vec<StagedMedia>, ApiError> {
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let row = self.add_media(data_dir, &p.to_string_lossy(), now).await?;
            out.push(staged(data_dir, &row));
        }
        Ok(out)
    }

    /// Adds a file dropped on the window (its bytes) to the media library.
    pub async fn import_media_bytes(
        &self,
        data_dir: &std::path::Path,
        name: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<StagedMedia, ApiError> {
        // Through a private temporary file, so the library's own checks and atomic copy apply.
        let incoming = data_dir.join("media").join(".incoming");
        std::fs::create_dir_all(&incoming).map_err(|e| {
            ApiError::failed(format!(
                "media: cannot write to {} ({e})",
                incoming.display()
            ))
        })?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || ".-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let tmp = incoming.join(format!("{}-{safe}", outpost_core::ids::new_id("drop")));
        std::fs::write(&tmp, bytes).map_err(|e| {
            ApiError::failed(format!(
                "media: cannot store {name} ({e}) — is the disk full?"
            ))
        })?;
        let result = self.add_media(data_dir, &tmp.to_string_lossy(), now).await;
        let _ = std::fs::remove_file(&tmp);
        let mut row = result.map_err(|e| ApiError {
            code: e.code,
            message: e.message.replace(&tmp.to_string_lossy().to_string(), name),
        })?;
        row.source = Some(name.to_string());
        let row = self.store.upsert_media(&row)?;
        Ok(staged(data_dir, &row))
    }

    /// Adds a file or an https URL to the media library (`<data dir>/media`) and records it.
    /// A URL is checked at once (status, type, length) and downloaded now, so a link that dies
    /// later cannot break the post.
    pub async fn add_media(
        &self,
        data_dir: &std::path::Path,
        spec: &str,
        now: DateTime<Utc>,
    ) -> Result<outpost_store::MediaRow, ApiError> {
        let library = outpost_media::MediaLibrary::open(data_dir)
            .map_err(|e| ApiError::failed(e.to_string()))?;
        let spec = spec.trim();
        let item = if spec.starts_with("https://") || spec.starts_with("http://") {
            let opts = outpost_media::FetchOptions {
                allow_http: is_loopback_url(spec),
                ..Default::default()
            };
            library.add_url(spec, &opts).await.map(|(_, item)| item)
        } else {
            library.add_file(std::path::Path::new(spec))
        }
        .map_err(|e| {
            if e.is_transient() {
                ApiError::failed(e.to_string())
            } else {
                ApiError::invalid(e.to_string())
            }
        })?;
        let row = outpost_store::MediaRow {
            id: item.sha256.chars().take(12).collect(),
            sha256: item.sha256.clone(),
            path: item.path.to_string_lossy().to_string(),
            mime: item.mime.clone(),
            bytes: item.bytes,
            width: item.width,
            height: item.height,
            duration_ms: item.duration_ms,
            frame_rate: item.frame_rate,
            video_codec: item.video_codec.clone(),
            audio_codec: item.audio_codec.clone(),
            animated: item.animated,
            source: Some(spec.to_string()),
            created_at: now,
        };
        Ok(self.store.upsert_media(&row)?)
    }

    /// Thumbnails and probed facts for files already attached to a post (the edit view).
    /// Files that are not in the library (any more) are left out.
    pub fn media_previews(
        &self,
        data_dir: &std::path::Path,
        sha256s: &[String],
    ) -> Result<Vec<StagedMedia>, ApiError> {
        let mut out = Vec::new();
        for sha in sha256s {
            if let Some(row) = self.store.media(sha)? {
                out.push(staged(data_dir, &row));
            }
        }
        Ok(out)
    }

    pub fn list_media(&self) -> Result<Vec<outpost_store::MediaRow>, ApiError> {
        Ok(self.store.list_media()?)
    }

    pub fn get_media(&self, id: &str) -> Result<outpost_store::MediaRow, ApiError> {
        self.store.media(id)?.ok_or_else(|| ApiError {
            code: ErrorCode::NotFound,
            message: format!("media {id}: no such media id — see `outpost media list`"),
        })
    }

    /// What `--media` may name: a media id from the library, an https URL or a file path
    /// (both added to the library now). Returns the library copy's path the post attaches.
    pub async fn resolve_media(
        &self,
        data_dir: &std::path::Path,
        spec: &str,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let looks_like_id =
            spec.len() >= 6 && spec.len() <= 64 && spec.chars().all(|c| c.is_ascii_hexdigit());
        if looks_like_id && !std::path::Path::new(spec).exists() {
            return Ok(self.get_media(spec)?.path);
        }
        // A URL is downloaded now and a file copied now, into the library: the post no longer
        // depends on the link staying alive or the file staying unchanged, and the probed
        // facts (length, frame rate) are known for the per-network checks.
        Ok(self.add_media(data_dir, spec, now).await?.path)
    }

    fn client_id_key(network: Network) -> String {
        format!("app_credentials.{network}.client_id")
    }

    fn client_secret_key(network: Network) -> String {
        outpost_auth::client_secret_key(&network.to_string())
    }

    /// What the settings screen shows for every network that needs the user's own app.
    pub fn app_credentials(&self) -> Result<Vec<AppCredentials>, ApiError> {
        let mut out = Vec::new();
        for n in Network::ALL.into_iter().filter(|n| *n != Network::Bluesky) {
            let client_id = self.store.setting(&Self::client_id_key(n))?;
            let secret_set = self
                .secrets
                .get(&Self::client_secret_key(n))
                .map(|s| s.is_some())
                .unwrap_or(false);
            out.push(AppCredentials {
                network: n,
                client_id,
                secret_set,
            });
        }
        Ok(out)
    }

    /// Stores a client id (settings) and, when given, a client secret (secret store only).
    pub fn set_app_credentials(
        &self,
        network: Network,
        client_id: &str,
        client_secret: Option<&Secret>,
    ) -> Result<AppCredentials, ApiError> {
        let client_id = client_id.trim();
        if client_id.is_empty() {
            return Err(ApiError::invalid(format!(
                "{}: client id is empty — copy it from your developer app",
                network.display_name()
            )));
        }
        if let Some(secret) = client_secret.filter(|s| !s.expose().trim().is_empty()) {
            self.secrets
                .set(&Self::client_secret_key(network), secret)?;
        }
        self.store
            .set_setting(&Self::client_id_key(network), client_id)?;
        let secret_set = self
            .secrets
            .get(&Self::client_secret_key(network))?
            .is_some();
        Ok(AppCredentials {
            network,
            client_id: Some(client_id.to_string()),
            secret_set,
        })
    }

    pub fn get_post(&self, id: &str) -> Result<PostDetail, ApiError> {
        let post = self.store.post(id)?.ok_or_else(|| ApiError {
            code: ErrorCode::NotFound,
            message: format!("post {id}: no such post — see `outpost posts list`"),
        })?;
        let mut attempts = BTreeMap::new();
        for t in &post.targets {
            attempts.insert(t.id.clone(), self.store.attempts(&t.id)?);
        }
        Ok(PostDetail { post, attempts })
    }

    pub fn cancel_post(&self, id: &str, now: DateTime<Utc>) -> Result<(usize, usize), ApiError> {
        Ok(self.store.cancel_post(id, now)?)
    }

    /// Targets a network holds until a time still ahead (hand-off: Facebook
    /// `scheduled_publish_time`, YouTube `publishAt`), with that time.
    fn held_targets(post: &Post, now: DateTime<Utc>) -> Vec<(outpost_core::Target, DateTime<Utc>)> {
        post.targets
            .iter()
            .filter(|t| t.state == outpost_core::TargetState::Published)
            .filter_map(|t| {
                let at = t
                    .progress
                    .first()?
                    .extra
                    .get("scheduled_on_network")?
                    .as_str()?
                    .parse::<DateTime<Utc>>()
                    .ok()?;
                (at > now).then(|| (t.clone(), at))
            })
            .collect()
    }

    /// Targets the user asked a network to hold until the scheduled time (`hand_off` on
    /// Facebook or YouTube) are handed over now, ahead of that time: the network then
    /// publishes even if this computer is off.
    fn dispatch_hand_offs(&self, id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let post = self.get_post(id)?.post;
        if post.scheduled_at.is_none_or(|at| at <= now) {
            return Ok(());
        }
        let ids: Vec<String> = post
            .targets
            .iter()
            .filter(|t| matches!(t.network, Network::Facebook | Network::YouTube))
            .filter(|t| t.state == outpost_core::TargetState::Scheduled)
            .filter(|t| {
                post.content
                    .options_for(t.network, &t.account_address)
                    .get("hand_off")
                    .and_then(|v| v.as_bool())
                    == Some(true)
            })
            .map(|t| t.id.clone())
            .collect();
        if !ids.is_empty() {
            let n = self.store.dispatch_now(&ids, now)?;
            tracing::info!(post_id = %id, count = n, "handing off to the network ahead of time");
        }
        Ok(())
    }

    /// Whether a network holds a copy of the post until a time still ahead (hand-off): then
    /// cancelling and rescheduling also change it there (and need the account's secrets).
    pub fn has_held_targets(&self, id: &str, now: DateTime<Utc>) -> Result<bool, ApiError> {
        Ok(!Self::held_targets(&self.get_post(id)?.post, now).is_empty())
    }

    /// Cancels a post everywhere: the targets still waiting here, and the copies a network
    /// holds until their time (deleted there first). Returns (cancelled here, deleted on a
    /// network, left).
    pub async fn cancel_post_everywhere(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize, usize), ApiError> {
        let post = self.get_post(id)?.post;
        let mut deleted = 0;
        for (t, _) in Self::held_targets(&post, now) {
            let account = self.store.account(&t.account_id)?.ok_or_else(|| {
                ApiError::failed(format!("{}: the account is gone", t.account_address))
            })?;
            let publisher = self.publishers().get(&t.network).cloned().ok_or_else(|| {
                ApiError::failed(format!("{}: not supported", t.network.display_name()))
            })?;
            let remote = t.remote_id.clone().unwrap_or_default();
            publisher
                .delete_held(&account, &remote)
                .await
                .map_err(|e| ApiError::failed(e.message))?;
            self.store.cancel_held_target(&t.id, now)?;
            tracing::info!(post_id = %id, network = %t.network, account = %t.account_address, "held post deleted on the network");
            deleted += 1;
        }
        let (cancelled, left) = self.store.cancel_post(id, now)?;
        Ok((cancelled, deleted, left))
    }

    /// Moves a post: the targets waiting here, and the copies a network holds (updated there).
    pub async fn reschedule_post_everywhere(
        &self,
        id: &str,
        when: &DraftWhen,
        now: DateTime<Utc>,
    ) -> Result<(usize, DateTime<Utc>), ApiError> {
        let post = self.get_post(id)?.post;
        let held = Self::held_targets(&post, now);
        let waiting = post
            .targets
            .iter()
            .filter(|t| !t.state.is_terminal())
            .count();
        let (moved, at) = if waiting == 0 && !held.is_empty() {
            let (at, zone) = self.when_to_instant(when, now)?;
            let at = at.ok_or_else(|| ApiError::invalid("--at: give a time to reschedule to"))?;
            self.store.set_post_time(id, at, zone.name(), now)?;
            (0, at)
        } else {
            self.reschedule_post(id, when, now)?
        };
        let mut post_now = post.clone();
        post_now.scheduled_at = Some(at);
        for (t, _) in held {
            self.update_held_target(&post_now, &t, at, now).await?;
        }
        Ok((moved, at))
    }

    /// Sends the post's current content and time to the network holding target `t`.
    async fn update_held_target(
        &self,
        post: &Post,
        t: &outpost_core::Target,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let account = self.store.account(&t.account_id)?.ok_or_else(|| {
            ApiError::failed(format!("{}: the account is gone", t.account_address))
        })?;
        let publisher = self.publishers().get(&t.network).cloned().ok_or_else(|| {
            ApiError::failed(format!("{}: not supported", t.network.display_name()))
        })?;
        let parts = post.content.parts_for(t.network);
        let Some(part) = parts.first() else {
            return Ok(());
        };
        let options = post.content.options_for(t.network, &t.account_address);
        let remote = t.remote_id.clone().unwrap_or_default();
        let req = outpost_networks::PartRequest {
            post_id: &post.id,
            target_id: &t.id,
            account: &account,
            part_index: 0,
            part,
            previous: &[],
            client_handle: None,
            intent_at: now,
            options: &options,
            first_comment: post.content.first_comment.as_deref(),
            scheduled_at: Some(at),
        };
        let updated = publisher
            .update_held(&req, &remote)
            .await
            .map_err(|e| ApiError::failed(e.message))?;
        self.store.update_held_target(&t.id, &updated, at, now)?;
        tracing::info!(post_id = %post.id, network = %t.network, account = %t.account_address, "held post updated on the network");
        Ok(())
    }

    pub fn retry_post(
        &self,
        id: &str,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize, ApiError> {
        let account = account.map(|a| self.resolve_account(a)).transpose()?;
        Ok(self
            .store
            .retry_post(id, account.as_ref().map(|a| a.id.as_str()), now)?)
    }

    /// "It was posted" for an unconfirmed network.
    pub fn confirm_posted(
        &self,
        id: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let account = self.resolve_account(account)?;
        let post = self.get_post(id)?.post;
        let target = post
            .targets
            .iter()
            .find(|t| t.account_id == account.id)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "--to: post {id} is not published to {}",
                    account.address()
                ))
            })?;
        Ok(self.store.confirm_published(&target.id, now)?)
    }

    pub fn reschedule_post(
        &self,
        id: &str,
        when: &DraftWhen,
        now: DateTime<Utc>,
    ) -> Result<(usize, DateTime<Utc>), ApiError> {
        let (at, zone) = self.when_to_instant(when, now)?;
        let at = at.ok_or_else(|| ApiError::invalid("--at: give a time to reschedule to"))?;
        let accounts: Vec<Account> = self
            .get_post(id)?
            .post
            .targets
            .iter()
            .filter(|t| !t.state.is_terminal())
            .filter_map(|t| self.store.account(&t.account_id).ok().flatten())
            .collect();
        self.check_daily_caps(&accounts, at, zone, Some(id))?;
        let moved = self.store.reschedule_post(id, at, zone.name(), now)?;
        self.dispatch_hand_offs(id, now)?;
        Ok((moved, at))
    }

    /// X's per-account daily cap (the original system allowed 2 a day; X's Free tier takes 17
    /// posts per user per 24 h, Basic 100): the account's `daily_cap` setting, else the
    /// default of its API `tier` setting, else 17. Counted per calendar day in `zone`.
    fn check_daily_caps(
        &self,
        accounts: &[Account],
        at: DateTime<Utc>,
        zone: Tz,
        except_post: Option<&str>,
    ) -> Result<(), ApiError> {
        for a in accounts.iter().filter(|a| a.network == Network::X) {
            let cap = x_daily_cap(a);
            let local = at.with_timezone(&zone).date_naive();
            let start = zone
                .from_local_datetime(&local.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(at);
            let end = local
                .succ_opt()
                .and_then(|d| {
                    zone.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(at + chrono::Duration::days(1));
            let already = self
                .store
                .targets_due_between(&a.id, start, end, except_post)?;
            if already >= cap {
                return Err(ApiError::invalid(format!(
                    "You've already scheduled {already} X posts for {} — {} takes at most {cap} a day (change it with `outpost accounts default {} daily_cap N`)",
                    local.format("%Y-%m-%d"),
                    a.address(),
                    a.id
                )));
            }
        }
        Ok(())
    }

    pub fn delete_post(&self, id: &str) -> Result<(), ApiError> {
        Ok(self.store.delete_post(id)?)
    }

    pub fn accounts(&self) -> Result<Vec<Account>, ApiError> {
        Ok(self.store.accounts()?)
    }

    /// Removes an account and its stored credentials.
    pub fn remove_account(&self, spec: &str) -> Result<Account, ApiError> {
        let account = self.resolve_account(spec).map_err(|e| ApiError {
            code: ErrorCode::NotFound,
            message: if spec.contains(':') {
                e.message
            } else {
                format!("account {spec}: no such account — see `outpost accounts list`")
            },
        })?;
        let removed = self.store.delete_account(&account.id)?;
        for what in ["app_password", "session", outpost_auth::tokens::OAUTH_KEY] {
            self.secrets
                .delete(&outpost_auth::account_key(&removed.id, what))?;
        }
        Ok(removed)
    }

    /// Connects (or reconnects) a Bluesky account with an app password. Nothing is stored
    /// unless the login works.
    pub async fn connect_bluesky(
        &self,
        handle: &str,
        pds: Option<&str>,
        app_password: &Secret,
        now: DateTime<Utc>,
    ) -> Result<(Account, bool), ApiError> {
        let handle = handle.trim().trim_start_matches('@').to_ascii_lowercase();
        if handle.is_empty() {
            return Err(ApiError::invalid(
                "--handle: empty — give the account's handle, e.g. alice.bsky.social",
            ));
        }
        if app_password.expose().trim().is_empty() {
            return Err(ApiError::invalid(
                "app password: empty — create one in Bluesky under Settings → App passwords",
            ));
        }
        let existing = self.store.find_account(Network::Bluesky, &handle)?;
        let account_id = existing
            .as_ref()
            .map(|e| e.id.clone())
            .unwrap_or_else(|| outpost_core::ids::new_id("a"));
        let bluesky = outpost_networks::bluesky::Bluesky::from_env(self.secrets.clone());
        let connected = bluesky
            .connect(&account_id, &handle, pds, app_password)
            .await
            .map_err(|e| match e.class {
                outpost_core::ErrorClass::Transient { .. }
                | outpost_core::ErrorClass::UnknownOutcome => ApiError::failed(e.message),
                _ => ApiError::invalid(e.message),
            })?;
        let account = Account {
            id: account_id,
            network: Network::Bluesky,
            handle: connected.handle.to_ascii_lowercase(),
            remote_id: Some(connected.did.clone()),
            display_name: None,
            status: AccountStatus::Active,
            status_reason: None,
            token_expires_at: None,
            settings: serde_json::json!({ "pds": connected.pds }),
            created_at: now,
        };
        let reconnected = existing.is_some();
        if reconnected {
            self.store.reconnect_account(&account)?;
        } else if let Err(e) = self.store.insert_account(&account) {
            for what in ["app_password", "session"] {
                let _ = self
                    .secrets
                    .delete(&outpost_auth::account_key(&account.id, what));
            }
            return Err(e.into());
        }
        Ok((account, reconnected))
    }

    pub fn settings(&self) -> Result<Settings, ApiError> {
        let get = |k: &str| self.store.setting(k);
        Ok(Settings {
            time_zone: get(SETTING_TZ)?.unwrap_or_else(local_zone_name),
            catch_up_window_secs: get(SETTING_CATCH_UP_SECS)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_CATCH_UP_WINDOW.as_secs()),
            notifications: get(SETTING_NOTIFICATIONS)?.is_none_or(|v| v == "1"),
            start_at_login: get(SETTING_START_AT_LOGIN)?.is_some_and(|v| v == "1"),
            media_keep_days: get(crate::housekeeping::SETTING_MEDIA_KEEP_DAYS)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(crate::housekeeping::DEFAULT_MEDIA_KEEP_DAYS),
        })
    }

    pub fn save_settings(&self, s: &Settings) -> Result<Settings, ApiError> {
        parse_zone(&s.time_zone).map_err(|e| ApiError::invalid(format!("time zone: {e}")))?;
        if s.catch_up_window_secs > 7 * 24 * 3600 {
            return Err(ApiError::invalid(
                "catch-up window: at most 7 days (604800 seconds)",
            ));
        }
        let flag = |b: bool| if b { "1" } else { "0" };
        self.store.set_setting(SETTING_TZ, &s.time_zone)?;
        self.store
            .set_setting(SETTING_CATCH_UP_SECS, &s.catch_up_window_secs.to_string())?;
        self.store
            .set_setting(SETTING_NOTIFICATIONS, flag(s.notifications))?;
        if !(1..=3650).contains(&s.media_keep_days) {
            return Err(ApiError::invalid(
                "media clean-up: keep unused files between 1 and 3650 days",
            ));
        }
        self.store
            .set_setting(SETTING_START_AT_LOGIN, flag(s.start_at_login))?;
        self.store.set_setting(
            crate::housekeeping::SETTING_MEDIA_KEEP_DAYS,
            &s.media_keep_days.to_string(),
        )?;
        self.settings()
    }

    /// The staging bucket settings, if a bucket is set up.
    pub fn staging_settings(&self) -> Result<Option<StagingSettings>, ApiError> {
        let Some(c) = crate::staging::config(&self.store).map_err(ApiError::failed)? else {
            return Ok(None);
        };
        let keys_set = [
            outpost_media::ACCESS_KEY_ID,
            outpost_media::SECRET_ACCESS_KEY,
        ]
        .iter()
        .all(|what| {
            self.secrets
                .get(&outpost_auth::account_key(
                    outpost_media::STAGING_ACCOUNT,
                    what,
                ))
                .is_ok_and(|v| v.is_some())
        });
        Ok(Some(StagingSettings {
            endpoint: c.endpoint,
            bucket: c.bucket,
            region: c.region,
            prefix: c.prefix,
            public_base_url: c.public_base_url,
            presign_expiry_secs: c.presign_expiry.as_secs(),
            path_style: c.path_style,
            keys_set,
        }))
    }

    fn staging_config(s: &StagingSettings) -> Result<outpost_media::StagingConfig, ApiError> {
        if !(60..=7 * 24 * 3600).contains(&s.presign_expiry_secs) {
            return Err(ApiError::invalid(
                "staging: presigned links must last between 60 seconds and 7 days (604800 s)",
            ));
        }
        Ok(outpost_media::StagingConfig {
            endpoint: s.endpoint.trim().to_string(),
            bucket: s.bucket.trim().to_string(),
            region: s.region.trim().to_string(),
            prefix: s.prefix.trim().trim_matches('/').to_string(),
            public_base_url: s
                .public_base_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            presign_expiry: std::time::Duration::from_secs(s.presign_expiry_secs),
            path_style: s.path_style,
        })
    }

    fn staging_with(
        &self,
        s: &StagingSettings,
        keys: Option<&StagingKeys>,
    ) -> Result<outpost_media::Staging, ApiError> {
        let config = Self::staging_config(s)?;
        let made = match keys {
            Some(k) => outpost_media::Staging::with_credentials(
                config,
                &Secret::new(k.access_key_id.trim()),
                &Secret::new(k.secret_access_key.trim()),
            ),
            None => outpost_media::Staging::new(config, &*self.secrets),
        };
        made.map_err(|e| ApiError::invalid(format!("staging: {e}")))
    }

    /// "Test connection": writes, reads back and deletes a small object with these settings
    /// (and these keys, or the saved ones). Wrong keys, bucket or endpoint fail here with a
    /// clear message, not when a post is due.
    pub async fn test_staging(
        &self,
        s: &StagingSettings,
        keys: Option<&StagingKeys>,
    ) -> Result<(), ApiError> {
        let staging = self.staging_with(s, keys)?;
        staging
            .test_connection()
            .await
            .map_err(|e| ApiError::invalid(format!("staging: {e}")))
    }

    /// Tests, then saves the bucket settings (and the keys, to the secret store only).
    pub async fn save_staging(
        &self,
        s: &StagingSettings,
        keys: Option<&StagingKeys>,
    ) -> Result<StagingSettings, ApiError> {
        self.test_staging(s, keys).await?;
        if let Some(k) = keys {
            for (what, value) in [
                (outpost_media::ACCESS_KEY_ID, &k.access_key_id),
                (outpost_media::SECRET_ACCESS_KEY, &k.secret_access_key),
            ] {
                self.secrets.set(
                    &outpost_auth::account_key(outpost_media::STAGING_ACCOUNT, what),
                    &Secret::new(value.trim()),
                )?;
            }
        }
        let config = Self::staging_config(s)?;
        let raw = serde_json::to_string(&config).map_err(|e| ApiError::failed(e.to_string()))?;
        self.store
            .set_setting(crate::staging::SETTING_STAGING, &raw)?;
        self.staging_settings()?
            .ok_or_else(|| ApiError::failed("staging settings were not saved"))
    }

    /// Forgets the bucket (settings and keys). Objects already staged stay until their posts
    /// finish only if a bucket is configured again; say so in the UI.
    pub fn remove_staging(&self) -> Result<(), ApiError> {
        self.store.delete_setting(crate::staging::SETTING_STAGING)?;
        for what in [
            outpost_media::ACCESS_KEY_ID,
            outpost_media::SECRET_ACCESS_KEY,
        ] {
            self.secrets.delete(&outpost_auth::account_key(
                outpost_media::STAGING_ACCOUNT,
                what,
            ))?;
        }
        Ok(())
    }

    pub fn set_paused(&self, paused: bool) -> Result<(), ApiError> {
        Ok(self
            .store
            .set_setting(SETTING_PAUSED, if paused { "1" } else { "0" })?)
    }

    pub fn status(&self, now: DateTime<Utc>) -> Result<StatusReport, ApiError> {
        let runners: Vec<RunnerHealth> = self
            .store
            .runners()?
            .into_iter()
            .filter(|r| {
                r.stopped_at.is_none() && now - r.heartbeat_at < chrono::Duration::seconds(90)
            })
            .collect();
        let mut quotas = Vec::new();
        for a in self.store.accounts()? {
            for q in default_quotas(a.network) {
                let since = now - chrono::Duration::from_std(q.window).unwrap_or_default();
                let (used, _) = self.store.published_count(&a.id, since)?;
                quotas.push(QuotaUsage {
                    account: a.address(),
                    used,
                    max: q.max,
                    window_secs: q.window.as_secs(),
                    source: q.source.to_string(),
                });
            }
        }
        Ok(StatusReport {
            running: !runners.is_empty(),
            paused: self
                .store
                .setting(SETTING_PAUSED)?
                .is_some_and(|v| v == "1"),
            runners,
            queue_depth: self.store.due_count(now)?,
            next_due: self
                .store
                .upcoming(3)?
                .into_iter()
                .map(|t| NextDue {
                    post_id: t.post_id,
                    account: t.account_address,
                    at: t.next_attempt_at,
                })
                .collect(),
            targets: self
                .store
                .target_counts()?
                .into_iter()
                .map(|(s, n)| (s.as_str().to_string(), n))
                .collect(),
            open_breakers: self
                .store
                .breakers()?
                .into_iter()
                .filter(|(_, b)| b.open_until.is_some_and(|u| u > now))
                .map(|(scope, b)| OpenBreaker {
                    scope,
                    open_until: b.open_until,
                    failures: b.consecutive_failures,
                })
                .collect(),
            quotas,
        })
    }
}
