//! Outpost's SQLite store: the one place that reads and writes the database.
//!
//! Every state change of a target is one SQL statement (or one `BEGIN IMMEDIATE` transaction)
//! that checks the state it expects, so several processes — the app, a headless agent, the
//! CLI — can share one database and still publish each target once. This crate never talks
//! to a network and never sleeps.

mod schema;

use chrono::{DateTime, Utc};
use outpost_core::error::combine_errors;
use outpost_core::model::derive_post_status;
use outpost_core::{
    Account, AccountStatus, Network, Post, PostContent, PostStatus, PublishedPart, Target,
    TargetState,
};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// `PRAGMA application_id` of an Outpost database ("OUTP").
pub const APPLICATION_ID: i32 = 0x4F55_5450;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {path} was written by a newer Outpost (schema version {found}; this Outpost knows up to {known}) — update Outpost; the file was not changed")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("database: {path} is not an Outpost database ({detail}) — choose another --data-dir or move the file away; it was not changed")]
    NotOutpost { path: String, detail: String },
    #[error("database: could not switch {path} to WAL journaling (got '{mode}') — is it on a network file system?")]
    NoWal { path: String, mode: String },
    #[error("database is busy (another Outpost process holds the write lock) — try again")]
    Busy,
    #[error("database: the disk is full — free some space and try again; nothing was written")]
    DiskFull,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database: stored data is damaged: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Busy and locked databases are passing states, never failures shown to a user.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy)
    }
    /// Errors that describe bad input (exit code 2 in the CLI).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::Conflict(_)
                | StoreError::NotOutpost { .. }
                | StoreError::TooNew { .. }
        )
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy,
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}
fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(to_ms)
}

/// A handle on the database; cheap to clone, safe to share between threads. Calls block the
/// calling thread briefly (async callers use `spawn_blocking`).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    wake_file: Option<PathBuf>,
}

/// A file in the media library, as the store keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct MediaRow {
    /// The short id users type (`outpost post --media ID`): the first 12 hex digits of sha256.
    pub id: String,
    pub sha256: String,
    pub path: String,
    pub mime: String,
    pub bytes: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub frame_rate: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub animated: bool,
    /// The path or URL it was added from.
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One object in the staging bucket, for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedRow {
    pub key: String,
    pub target_id: String,
    pub sha256: String,
    pub url: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn staged_from_row(r: &Row<'_>) -> rusqlite::Result<StagedRow> {
    Ok(StagedRow {
        key: r.get(0)?,
        target_id: r.get(1)?,
        sha256: r.get(2)?,
        url: r.get(3)?,
        expires_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
        created_at: from_ms(r.get(5)?),
    })
}

const MEDIA_COLUMNS: &str = "sha256, path, mime, bytes, width, height, duration_ms, frame_rate, video_codec, audio_codec, animated, source, created_at";

fn media_from_row(r: &Row<'_>) -> rusqlite::Result<MediaRow> {
    let sha256: String = r.get(0)?;
    Ok(MediaRow {
        id: sha256.chars().take(12).collect(),
        sha256,
        path: r.get(1)?,
        mime: r.get(2)?,
        bytes: r.get::<_, i64>(3)? as u64,
        width: r.get::<_, Option<i64>>(4)?.map(|v| v as u32),
        height: r.get::<_, Option<i64>>(5)?.map(|v| v as u32),
        duration_ms: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        frame_rate: r.get(7)?,
        video_codec: r.get(8)?,
        audio_codec: r.get(9)?,
        animated: r.get::<_, i64>(10)? != 0,
        source: r.get(11)?,
        created_at: from_ms(r.get(12)?),
    })
}

/// What a new post needs.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub content: PostContent,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub draft: bool,
    /// (account id, network) for each target.
    pub targets: Vec<(String, Network)>,
}

/// A runner's view of itself, for `outpost status` and the app's status bar.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct RunnerHealth {
    pub id: String,
    pub pid: i64,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub last_wake_at: Option<DateTime<Utc>>,
    pub next_due_at: Option<DateTime<Utc>>,
    pub queue_depth: i64,
    pub in_flight: i64,
    pub stopped_at: Option<DateTime<Utc>>,
    /// How many times the runner woke up since it started.
    pub wakes: i64,
}

/// One row of the attempts log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct Attempt {
    pub id: i64,
    pub target_id: String,
    pub part_index: usize,
    pub idem_key: String,
    pub try_no: i64,
    pub status: String,
    pub error_class: Option<String>,
    pub client_handle: Option<String>,
    pub intent_at: DateTime<Utc>,
    pub remote_id: Option<String>,
    pub message: Option<String>,
    pub excerpt: Option<String>,
    pub runner: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    Succeeded,
    Failed,
    /// Sent, outcome unknown: stays in doubt until reconciled.
    Unknown,
    /// Reconciliation found it published.
    Reconciled,
    /// Reconciliation proved it was not published.
    NotPublished,
    /// The network accepted the step and is processing it (two-phase work).
    Processing,
}

impl AttemptEnd {
    fn as_str(self) -> &'static str {
        match self {
            AttemptEnd::Succeeded => "succeeded",
            AttemptEnd::Failed => "failed",
            AttemptEnd::Unknown => "unknown",
            AttemptEnd::Reconciled => "reconciled",
            AttemptEnd::NotPublished => "not_published",
            AttemptEnd::Processing => "processing",
        }
    }
}

/// What the dispatcher decided for a leased target after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Wait and try again (backoff, rate limit, quota, breaker): back to `scheduled`.
    Retry {
        at: DateTime<Utc>,
        reason: String,
        error: Option<String>,
        class: Option<String>,
        count_attempt: bool,
    },
    Failed {
        error: String,
        class: String,
    },
    Unconfirmed {
        error: String,
    },
    Missed {
        reason: String,
    },
    /// Two-phase work continues: poll again at `at`. `note` is what the card says meanwhile
    /// ("uploading to YouTube — 45 % (…)", "processing on Instagram").
    Processing {
        phase: serde_json::Value,
        at: DateTime<Utc>,
        note: String,
    },
}

const TARGET_COLUMNS: &str = "t.id, t.post_id, t.account_id, t.network, t.state, t.due_at, t.next_attempt_at, \
     t.wait_reason, t.attempts, t.remote_id, t.remote_url, t.progress, t.last_error, t.error_class, \
     t.lease_owner, t.lease_until, t.phase, t.processing_since, t.updated_at, \
     COALESCE(a.network || ':' || a.handle, t.network || ':(removed account)')";

fn target_from_row(r: &Row<'_>) -> rusqlite::Result<Target> {
    let parse_err = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let network: String = r.get(3)?;
    let state: String = r.get(4)?;
    let progress: String = r.get(11)?;
    let phase: Option<String> = r.get(16)?;
    Ok(Target {
        id: r.get(0)?,
        post_id: r.get(1)?,
        account_id: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        network: network
            .parse()
            .map_err(|e: outpost_core::network::UnknownNetwork| parse_err(3, e.to_string()))?,
        state: state.parse().map_err(|e: String| parse_err(4, e))?,
        due_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
        next_attempt_at: r.get::<_, Option<i64>>(6)?.map(from_ms),
        wait_reason: r.get(7)?,
        attempts: r.get::<_, i64>(8)? as u32,
        remote_id: r.get(9)?,
        remote_url: r.get(10)?,
        progress: serde_json::from_str(&progress).map_err(|e| parse_err(11, e.to_string()))?,
        last_error: r.get(12)?,
        error_class: r.get(13)?,
        lease_owner: r.get(14)?,
        lease_until: r.get::<_, Option<i64>>(15)?.map(from_ms),
        phase: phase
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| parse_err(16, e.to_string()))?,
        processing_since: r.get::<_, Option<i64>>(17)?.map(from_ms),
        updated_at: from_ms(r.get(18)?),
        account_address: r.get(19)?,
    })
}

const ACCOUNT_COLUMNS: &str = "id, network, handle, remote_id, display_name, status, status_reason, token_expires_at, settings, created_at";

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    let conv = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let network: String = r.get(1)?;
    let status: String = r.get(5)?;
    let settings: String = r.get(8)?;
    Ok(Account {
        id: r.get(0)?,
        network: network
            .parse()
            .map_err(|e: outpost_core::network::UnknownNetwork| conv(1, e.to_string()))?,
        handle: r.get(2)?,
        remote_id: r.get(3)?,
        display_name: r.get(4)?,
        status: status.parse().map_err(|e: String| conv(5, e))?,
        status_reason: r.get(6)?,
        token_expires_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
        settings: serde_json::from_str(&settings).map_err(|e| conv(8, e.to_string()))?,
        created_at: from_ms(r.get(9)?),
    })
}

fn attempt_from_row(r: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: r.get(0)?,
        target_id: r.get(1)?,
        part_index: r.get::<_, i64>(2)? as usize,
        idem_key: r.get(3)?,
        try_no: r.get(4)?,
        status: r.get(5)?,
        error_class: r.get(6)?,
        client_handle: r.get(7)?,
        intent_at: from_ms(r.get(8)?),
        remote_id: r.get(9)?,
        message: r.get(10)?,
        excerpt: r.get(11)?,
        runner: r.get(12)?,
        started_at: from_ms(r.get(13)?),
        finished_at: r.get::<_, Option<i64>>(14)?.map(from_ms),
        duration_ms: r.get(15)?,
    })
}

const ATTEMPT_COLUMNS: &str = "id, target_id, part_index, idem_key, try_no, status, error_class, client_handle, intent_at, remote_id, message, excerpt, runner, started_at, finished_at, duration_ms";

impl Store {
    /// Opens (creating if needed) the database at `path`, refusing files that are not
    /// Outpost's or that come from a newer Outpost, and checks that WAL is really on.
    pub fn open(path: &Path) -> Result<Store> {
        let display = path.display().to_string();
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let not_outpost = |detail: String| StoreError::NotOutpost {
            path: display.clone(),
            detail,
        };
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase) => not_outpost("not an SQLite file".into()),
                _ => StoreError::from(e),
            })?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if app_id != 0 && app_id != APPLICATION_ID {
            return Err(not_outpost(format!("application id {app_id:#x}")));
        }
        if app_id == 0 && tables > 0 {
            return Err(not_outpost(format!(
                "it already holds {tables} tables of another program"
            )));
        }
        let known = schema::MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: display,
                found: version,
                known,
            });
        }
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        let mode_back: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") || !mode_back.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal {
                path: display,
                mode: mode_back,
            });
        }
        let wake_file = path.with_extension("wake");
        Self::finish_open(conn, Some(path.to_path_buf()), Some(wake_file))
    }

    /// A private in-memory database (tests and benchmarks).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Self::finish_open(conn, None, None)
    }

    fn finish_open(
        mut conn: Connection,
        path: Option<PathBuf>,
        wake_file: Option<PathBuf>,
    ) -> Result<Store> {
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;",
        )?;
        let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        if fk != 1 {
            return Err(StoreError::Corrupt(
                "foreign keys could not be enabled".into(),
            ));
        }
        let migrations = rusqlite_migration::Migrations::new(
            schema::MIGRATIONS
                .iter()
                .map(|sql| rusqlite_migration::M::up(sql))
                .collect(),
        );
        migrations.to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => StoreError::from(err),
            other => StoreError::Corrupt(format!("migration failed: {other}")),
        })?;
        conn.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID};"))?;
        Ok(Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path,
                wake_file,
            }),
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The file other processes touch after a change that may move the next due time.
    pub fn wake_file(&self) -> Option<&Path> {
        self.inner.wake_file.as_deref()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn();
        f(&conn)
    }

    /// One `BEGIN IMMEDIATE` transaction.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Tells runners in other processes that something changed (they watch the wake file).
    pub fn signal_change(&self) {
        if let Some(p) = &self.inner.wake_file {
            let stamp = Utc::now().timestamp_millis().to_string();
            if let Err(e) = std::fs::write(p, stamp) {
                tracing::warn!(error = %e, path = %p.display(), "could not touch the wake file");
            }
        }
    }

    // ---------------------------------------------------------------- settings

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    pub fn delete_setting(&self, key: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM settings WHERE key = ?1", [key])?;
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    // ---------------------------------------------------------------- media

    /// Records a library file (the same content twice is one row; the first source is kept).
    pub fn upsert_media(&self, m: &MediaRow) -> Result<MediaRow> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO media (sha256, path, mime, bytes, width, height, duration_ms, frame_rate, video_codec, audio_codec, animated, source, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, mime = excluded.mime, bytes = excluded.bytes,
                    width = excluded.width, height = excluded.height, duration_ms = excluded.duration_ms,
                    frame_rate = excluded.frame_rate, video_codec = excluded.video_codec,
                    audio_codec = excluded.audio_codec, animated = excluded.animated",
                params![
                    m.sha256, m.path, m.mime, m.bytes as i64, m.width.map(i64::from), m.height.map(i64::from),
                    m.duration_ms.map(|v| v as i64), m.frame_rate, m.video_codec, m.audio_codec,
                    i64::from(m.animated), m.source, to_ms(m.created_at)
                ],
            )?;
            Ok(tx.query_row(&format!("SELECT {MEDIA_COLUMNS} FROM media WHERE sha256 = ?1"), [&m.sha256], media_from_row)?)
        })
    }

    /// Forgets a library file (after garbage collection removed it from disk).
    pub fn delete_media(&self, sha256: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM media WHERE sha256 = ?1", [sha256])?;
            Ok(())
        })
    }

    /// A library file by its id (a prefix of its SHA-256, at least 6 hex digits).
    pub fn media(&self, id: &str) -> Result<Option<MediaRow>> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < 6 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {MEDIA_COLUMNS} FROM media WHERE sha256 LIKE ?1 || '%' LIMIT 2"
            ))?;
            let rows = st
                .query_map([&id], media_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if rows.len() > 1 {
                return Err(StoreError::Conflict(format!(
                    "media {id}: more than one file starts with that id — give more digits"
                )));
            }
            Ok(rows.into_iter().next())
        })
    }

    pub fn list_media(&self) -> Result<Vec<MediaRow>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {MEDIA_COLUMNS} FROM media ORDER BY created_at DESC"
            ))?;
            let rows = st.query_map([], media_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    // ---------------------------------------------------------------- locks

    /// Takes the lock `name` for `owner` until `until`, if it is free or expired (or already
    /// ours). True when taken.
    pub fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT INTO locks (name, owner, until) VALUES (?1, ?2, ?4)
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                 WHERE locks.until <= ?3 OR locks.owner = excluded.owner",
                params![name, owner, to_ms(now), to_ms(until)],
            )?;
            Ok(n > 0)
        })
    }

    /// Releases the lock if `owner` holds it.
    pub fn unlock(&self, name: &str, owner: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM locks WHERE name = ?1 AND owner = ?2",
                params![name, owner],
            )?;
            Ok(())
        })
    }

    // ---------------------------------------------------------------- staged media

    /// Records an object uploaded to the staging bucket for `target_id` (before its URL is
    /// handed to the network, so a crash cannot orphan it).
    pub fn record_staged(&self, s: &StagedRow) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO staged (key, target_id, sha256, url, expires_at, created_at, deleted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                params![s.key, s.target_id, s.sha256, s.url, opt_ms(s.expires_at), to_ms(s.created_at)],
            )?;
            Ok(())
        })
    }

    /// The live staged objects of one target.
    pub fn staged_for_target(&self, target_id: &str) -> Result<Vec<StagedRow>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT key, target_id, sha256, url, expires_at, created_at FROM staged
                 WHERE target_id = ?1 AND deleted_at IS NULL ORDER BY created_at",
            )?;
            let rows = st.query_map([target_id], staged_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Keys of live objects every one of whose targets is finished (published, failed or
    /// cancelled) — or whose targets are gone (the post was deleted).
    pub fn staged_deletable(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT DISTINCT s.key FROM staged s WHERE s.deleted_at IS NULL AND NOT EXISTS (
                    SELECT 1 FROM staged s2 JOIN targets t ON t.id = s2.target_id
                    WHERE s2.key = s.key AND s2.deleted_at IS NULL
                      AND t.state NOT IN ('published', 'failed', 'cancelled'))
                 ORDER BY s.key",
            )?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Keys some unfinished target still needs (kept by the start-up sweep).
    pub fn staged_live_keys(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT DISTINCT s.key FROM staged s JOIN targets t ON t.id = s.target_id
                 WHERE s.deleted_at IS NULL AND t.state NOT IN ('published', 'failed', 'cancelled')",
            )?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Marks an object deleted from the bucket (for every target that used it).
    pub fn staged_deleted(&self, key: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE staged SET deleted_at = ?2 WHERE key = ?1 AND deleted_at IS NULL",
                params![key, to_ms(now)],
            )?;
            Ok(())
        })
    }

    /// Media hashes referenced by any post (drafts included), and those a target that is not
    /// finished still needs — for the library's garbage collection.
    pub fn media_references(&self) -> Result<(HashSet<String>, HashSet<String>)> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT p.content, EXISTS (SELECT 1 FROM targets t WHERE t.post_id = p.id
                    AND t.state NOT IN ('published', 'failed', 'cancelled')) FROM posts p",
            )?;
            let mut all = HashSet::new();
            let mut live = HashSet::new();
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
            for row in rows {
                let (content, needed) = row?;
                let Ok(content) = serde_json::from_str::<PostContent>(&content) else {
                    continue;
                };
                for m in content.all_media() {
                    all.insert(m.sha256.clone());
                    if needed {
                        live.insert(m.sha256.clone());
                    }
                }
            }
            Ok((all, live))
        })
    }

    // ---------------------------------------------------------------- accounts

    pub fn insert_account(&self, a: &Account) -> Result<()> {
        self.write(|tx| {
            let exists: Option<String> = tx
                .query_row(
                    "SELECT id FROM accounts WHERE network = ?1 AND handle = ?2",
                    params![a.network.as_str(), a.handle],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::Conflict(format!(
                    "account {} is already connected — remove it first, or reconnect it",
                    a.address()
                )));
            }
            tx.execute(
                "INSERT INTO accounts (id, network, handle, remote_id, display_name, status, status_reason, token_expires_at, settings, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    a.id,
                    a.network.as_str(),
                    a.handle,
                    a.remote_id,
                    a.display_name,
                    a.status.as_str(),
                    a.status_reason,
                    opt_ms(a.token_expires_at),
                    a.settings.to_string(),
                    to_ms(a.created_at)
                ],
            )?;
            Ok(())
        })
    }

    /// Updates what a reconnect learns (remote id, settings) and makes the account active.
    pub fn reconnect_account(&self, a: &Account) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE accounts SET remote_id = ?2, display_name = ?3, settings = ?4, status = 'active', status_reason = NULL, token_expires_at = ?5 WHERE id = ?1",
                params![a.id, a.remote_id, a.display_name, a.settings.to_string(), opt_ms(a.token_expires_at)],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("account {}: no such account", a.id)));
            }
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY network, handle"
            ))?;
            let rows = st.query_map([], account_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn account(&self, id: &str) -> Result<Option<Account>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                [id],
                account_from_row,
            )
            .optional()?)
        })
    }

    /// Finds an account by `network` and handle (case-insensitive) or by id.
    pub fn find_account(&self, network: Network, handle: &str) -> Result<Option<Account>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE network = ?1 AND (lower(handle) = lower(?2) OR id = ?2)"
                ),
                params![network.as_str(), handle.trim_start_matches('@')],
                account_from_row,
            )
            .optional()?)
        })
    }

    /// Replaces the account's non-secret settings (a default board, the client id used).
    pub fn set_account_settings(&self, id: &str, settings: &serde_json::Value) -> Result<()> {
        let n = self.write(|tx| {
            Ok(tx.execute(
                "UPDATE accounts SET settings = ?2 WHERE id = ?1",
                params![id, settings.to_string()],
            )?)
        })?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "account {id}: no such account — see `outpost accounts list`"
            )));
        }
        Ok(())
    }

    /// Records when the account's access token expires (after a connect or a refresh).
    pub fn set_token_expiry(&self, id: &str, at: Option<DateTime<Utc>>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE accounts SET token_expires_at = ?2 WHERE id = ?1",
                params![id, opt_ms(at)],
            )?;
            Ok(())
        })
    }

    pub fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        reason: Option<&str>,
    ) -> Result<bool> {
        let changed = self.write(|tx| {
            Ok(tx.execute(
                "UPDATE accounts SET status = ?2, status_reason = ?3 WHERE id = ?1 AND (status != ?2 OR status_reason IS NOT ?3)",
                params![id, status.as_str(), reason],
            )?)
        })?;
        Ok(changed > 0)
    }

    /// Removes an account. Refused while it still has posts waiting to go out.
    pub fn delete_account(&self, id: &str) -> Result<Account> {
        let account = self.account(id)?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "account {id}: no such account — see `outpost accounts list`"
            ))
        })?;
        self.write(|tx| {
            let pending: i64 = tx.query_row(
                "SELECT count(*) FROM targets WHERE account_id = ?1 AND state IN ('scheduled','claimed','sending','processing','unconfirmed','missed','draft')",
                [id],
                |r| r.get(0),
            )?;
            if pending > 0 {
                return Err(StoreError::Conflict(format!(
                    "account {} still has {pending} post(s) waiting — cancel them or let them finish first",
                    account.address()
                )));
            }
            tx.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
            Ok(())
        })?;
        Ok(account)
    }

    // ---------------------------------------------------------------- posts

    /// Stores a post and its targets in one transaction. Returns the post id.
    pub fn create_post(&self, new: &NewPost, now: DateTime<Utc>) -> Result<String> {
        let post_id = outpost_core::ids::new_id("p");
        let state = if new.draft {
            TargetState::Draft
        } else {
            TargetState::Scheduled
        };
        let due = new.scheduled_at.unwrap_or(now);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO posts (id, content, scheduled_at, time_zone, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![
                    post_id,
                    serde_json::to_string(&new.content)?,
                    opt_ms(new.scheduled_at),
                    new.time_zone,
                    if new.draft { PostStatus::Draft } else { PostStatus::Scheduled }.as_str(),
                    to_ms(now)
                ],
            )?;
            for (account_id, network) in &new.targets {
                let r = tx.execute(
                    "INSERT INTO targets (id, post_id, account_id, network, state, due_at, next_attempt_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        outpost_core::ids::new_id("t"),
                        post_id,
                        account_id,
                        network.as_str(),
                        state.as_str(),
                        to_ms(due),
                        if new.draft { None } else { Some(to_ms(due)) },
                        to_ms(now)
                    ],
                );
                if let Err(e) = r {
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
                        return Err(StoreError::Conflict(format!(
                            "account {account_id} is named twice for one post — each account gets one copy"
                        )));
                    }
                    return Err(e.into());
                }
            }
            Ok(())
        })?;
        self.signal_change();
        Ok(post_id)
    }

    pub fn post(&self, id: &str) -> Result<Option<Post>> {
        self.read(|c| load_post(c, id))
    }

    /// Posts, newest scheduled time first, optionally only those with one status.
    pub fn list_posts(&self, status: Option<PostStatus>, limit: usize) -> Result<Vec<Post>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id FROM posts WHERE (?1 IS NULL OR status = ?1)
                 ORDER BY COALESCE(scheduled_at, created_at) DESC LIMIT ?2",
            )?;
            let ids: Vec<String> = st
                .query_map(params![status.map(|s| s.as_str()), limit as i64], |r| {
                    r.get(0)
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(p) = load_post(c, &id)? {
                    out.push(p);
                }
            }
            Ok(out)
        })
    }

    /// Posts scheduled in `[from, to)` (drafts without a time count as created then),
    /// soonest first.
    pub fn list_posts_between(
        &self,
        status: Option<PostStatus>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<Post>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id FROM posts WHERE (?1 IS NULL OR status = ?1)
                   AND (?2 IS NULL OR COALESCE(scheduled_at, created_at) >= ?2)
                   AND (?3 IS NULL OR COALESCE(scheduled_at, created_at) < ?3)
                 ORDER BY COALESCE(scheduled_at, created_at) LIMIT ?4",
            )?;
            let ids: Vec<String> = st
                .query_map(
                    params![
                        status.map(|s| s.as_str()),
                        opt_ms(from),
                        opt_ms(to),
                        limit as i64
                    ],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(p) = load_post(c, &id)? {
                    out.push(p);
                }
            }
            Ok(out)
        })
    }

    /// Cancels every target that has not gone out and is not being sent right now.
    /// Returns (cancelled, left as they are).
    pub fn cancel_post(&self, id: &str, now: DateTime<Utc>) -> Result<(usize, usize)> {
        let r = self.write(|tx| {
            require_post(tx, id)?;
            let cancelled = tx.execute(
                "UPDATE targets SET state = 'cancelled', next_attempt_at = NULL, wait_reason = NULL, updated_at = ?2
                 WHERE post_id = ?1 AND state IN ('draft','scheduled','missed','unconfirmed','failed') AND lease_owner IS NULL",
                params![id, to_ms(now)],
            )?;
            let left: i64 = tx.query_row(
                "SELECT count(*) FROM targets WHERE post_id = ?1 AND state NOT IN ('cancelled')",
                [id],
                |r| r.get(0),
            )?;
            refresh_post(tx, id, now)?;
            Ok((cancelled, left as usize))
        })?;
        self.signal_change();
        Ok(r)
    }

    /// Sets the post's scheduled time (its held copies moved on the network; nothing waits here).
    pub fn set_post_time(
        &self,
        id: &str,
        at: DateTime<Utc>,
        zone: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            require_post(tx, id)?;
            tx.execute(
                "UPDATE posts SET scheduled_at = ?2, time_zone = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, to_ms(at), zone, to_ms(now)],
            )?;
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    /// Restarts the processing time-out of a target this runner holds (its upload progressed).
    pub fn restart_processing_clock(&self, target_id: &str, runner: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE targets SET processing_since = NULL WHERE id = ?1 AND lease_owner = ?2",
                params![target_id, runner],
            )?;
            Ok(())
        })
    }

    /// Makes waiting targets due now (hand-off: a network that holds the post until its time
    /// must get it ahead of that time). Returns how many moved.
    pub fn dispatch_now(&self, target_ids: &[String], now: DateTime<Utc>) -> Result<usize> {
        let n = self.write(|tx| {
            let mut n = 0;
            for id in target_ids {
                n += tx.execute(
                    "UPDATE targets SET next_attempt_at = ?2, updated_at = ?2
                     WHERE id = ?1 AND state = 'scheduled' AND lease_owner IS NULL",
                    params![id, to_ms(now)],
                )?;
            }
            Ok(n)
        })?;
        if n > 0 {
            self.signal_change();
        }
        Ok(n)
    }

    /// A post the network was holding until its time (hand-off) was deleted there: the target
    /// is cancelled.
    pub fn cancel_held_target(&self, target_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            let t = load_target(tx, target_id)?;
            tx.execute(
                "UPDATE targets SET state = 'cancelled', updated_at = ?2 WHERE id = ?1 AND state = 'published'",
                params![target_id, to_ms(now)],
            )?;
            refresh_post(tx, &t.post_id, now)?;
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    /// A held post was changed on the network (new text or time): its published part is
    /// replaced and its due time moved.
    pub fn update_held_target(
        &self,
        target_id: &str,
        part: &PublishedPart,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            let t = load_target(tx, target_id)?;
            let progress = serde_json::to_string(&vec![part.clone()])
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "UPDATE targets SET progress = ?2, remote_id = ?3, remote_url = ?4, due_at = ?5, updated_at = ?6
                 WHERE id = ?1 AND state = 'published'",
                params![
                    target_id,
                    progress,
                    part.remote_id,
                    part.url,
                    to_ms(due_at),
                    to_ms(now)
                ],
            )?;
            refresh_post(tx, &t.post_id, now)?;
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    /// Deletes a post. Refused while a runner is sending it.
    pub fn delete_post(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            require_post(tx, id)?;
            let busy: i64 = tx.query_row(
                "SELECT count(*) FROM targets WHERE post_id = ?1 AND lease_owner IS NOT NULL",
                [id],
                |r| r.get(0),
            )?;
            if busy > 0 {
                return Err(StoreError::Conflict(format!(
                    "post {id} is being published right now — wait for it to finish, then delete it"
                )));
            }
            tx.execute("DELETE FROM posts WHERE id = ?1", [id])?;
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    /// Moves a post to a new time. Targets already published or being sent stay as they are;
    /// the others (scheduled, missed, failed, drafts) are scheduled at the new time.
    pub fn reschedule_post(
        &self,
        id: &str,
        at: DateTime<Utc>,
        zone: &str,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let n = self.write(|tx| {
            require_post(tx, id)?;
            let n = tx.execute(
                "UPDATE targets SET state = 'scheduled', due_at = ?2, next_attempt_at = ?2, attempts = 0,
                    wait_reason = NULL, last_error = NULL, error_class = NULL, updated_at = ?3
                 WHERE post_id = ?1 AND state IN ('draft','scheduled','missed','failed') AND lease_owner IS NULL",
                params![id, to_ms(at), to_ms(now)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!(
                    "post {id} has nothing left to reschedule (it is published, being sent, or cancelled)"
                )));
            }
            tx.execute(
                "UPDATE posts SET scheduled_at = ?2, time_zone = ?3 WHERE id = ?1",
                params![id, to_ms(at), zone],
            )?;
            refresh_post(tx, id, now)?;
            Ok(n)
        })?;
        self.signal_change();
        Ok(n)
    }

    /// Replaces a post's content. Only while nothing of it has gone out or is going out —
    /// except the targets in `held`: published copies a network holds until their time, which
    /// the caller updates there.
    pub fn edit_post(
        &self,
        id: &str,
        content: &PostContent,
        now: DateTime<Utc>,
        held: &[String],
    ) -> Result<()> {
        self.write(|tx| {
            require_post(tx, id)?;
            let mut st = tx.prepare(
                "SELECT id FROM targets WHERE post_id = ?1 AND (lease_owner IS NOT NULL OR state IN ('sending','processing','published','unconfirmed'))",
            )?;
            let started = st
                .query_map([id], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|t| !held.contains(t))
                .count();
            drop(st);
            if started > 0 {
                return Err(StoreError::Conflict(format!(
                    "post {id} has already gone out (or is going out) on some networks — it can no longer be edited"
                )));
            }
            tx.execute(
                "UPDATE posts SET content = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, serde_json::to_string(content)?, to_ms(now)],
            )?;
            Ok(())
        })?;
        self.signal_change();
        Ok(())
    }

    /// Schedules failed, missed or unconfirmed targets again, now ("Post again").
    /// `account_id` limits it to one target.
    pub fn retry_post(
        &self,
        id: &str,
        account_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let n = self.write(|tx| {
            require_post(tx, id)?;
            // An unconfirmed target's in-doubt attempts are settled by the user's choice.
            tx.execute(
                "UPDATE attempts SET status = 'abandoned', finished_at = ?3
                 WHERE status IN ('sending','unknown') AND target_id IN
                   (SELECT id FROM targets WHERE post_id = ?1 AND state = 'unconfirmed' AND (?2 IS NULL OR account_id = ?2))",
                params![id, account_id, to_ms(now)],
            )?;
            let n = tx.execute(
                "UPDATE targets SET state = 'scheduled', due_at = ?3, next_attempt_at = ?3, attempts = 0, wait_reason = NULL,
                    last_error = NULL, error_class = NULL, phase = NULL, processing_since = NULL, updated_at = ?3
                 WHERE post_id = ?1 AND (?2 IS NULL OR account_id = ?2)
                   AND state IN ('failed','missed','unconfirmed') AND lease_owner IS NULL",
                params![id, account_id, to_ms(now)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!(
                    "post {id} has no failed, missed or unconfirmed network to retry"
                )));
            }
            refresh_post(tx, id, now)?;
            Ok(n)
        })?;
        self.signal_change();
        Ok(n)
    }

    /// The user says an unconfirmed target did go out ("It was posted").
    pub fn confirm_published(&self, target_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            let post_id: Option<String> = tx
                .query_row(
                    "SELECT post_id FROM targets WHERE id = ?1 AND state = 'unconfirmed'",
                    [target_id],
                    |r| r.get(0),
                )
                .optional()?;
            let post_id = post_id.ok_or_else(|| {
                StoreError::Conflict(format!("target {target_id} is not waiting for confirmation"))
            })?;
            tx.execute(
                "UPDATE attempts SET status = 'confirmed_by_user', finished_at = ?2 WHERE target_id = ?1 AND status IN ('sending','unknown')",
                params![target_id, to_ms(now)],
            )?;
            tx.execute(
                "UPDATE targets SET state = 'published', last_error = NULL, wait_reason = NULL, updated_at = ?2 WHERE id = ?1",
                params![target_id, to_ms(now)],
            )?;
            refresh_post(tx, &post_id, now)?;
            Ok(())
        })
    }

    // ---------------------------------------------------------------- dispatcher

    /// The earliest time a runner has something to do: a due or retry time, a poll, or a
    /// lease that will expire.
    pub fn next_wake(&self) -> Result<Option<DateTime<Utc>>> {
        self.next_wake_due_before(None)
    }

    /// [`Store::next_wake`] for targets originally due before `due_before` only.
    pub fn next_wake_due_before(
        &self,
        due_before: Option<DateTime<Utc>>,
    ) -> Result<Option<DateTime<Utc>>> {
        self.read(|c| {
            let due: Option<i64> = c.query_row(
                "SELECT min(next_attempt_at) FROM targets WHERE state IN ('scheduled','processing') AND lease_owner IS NULL
                   AND (?1 IS NULL OR due_at <= ?1 OR next_attempt_at < due_at)",
                [opt_ms(due_before)],
                |r| r.get(0),
            )?;
            let lease: Option<i64> = c.query_row(
                "SELECT min(lease_until) FROM targets WHERE lease_until IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            Ok(match (due, lease) {
                (Some(a), Some(b)) => Some(from_ms(a.min(b))),
                (a, b) => a.or(b).map(from_ms),
            })
        })
    }

    /// Targets due now that nobody holds (the queue depth).
    pub fn due_count(&self, now: DateTime<Utc>) -> Result<i64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM targets WHERE state IN ('scheduled','processing') AND next_attempt_at <= ?1 AND lease_owner IS NULL",
                [to_ms(now)],
                |r| r.get(0),
            )?)
        })
    }

    /// Claims up to `limit` due targets for `runner` with one atomic statement, skipping the
    /// accounts and networks that may not be called now. Scheduled targets become `claimed`;
    /// processing ones keep their state (the runner polls them).
    pub fn claim_due(
        &self,
        runner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        skip_accounts: &[String],
        skip_networks: &[Network],
    ) -> Result<Vec<Target>> {
        self.claim_due_before(
            runner,
            now,
            lease,
            limit,
            skip_accounts,
            skip_networks,
            None,
        )
    }

    /// [`Store::claim_due`], limited to targets originally due before `due_before` (used by
    /// `agent --once`, which publishes only what was due when it started).
    #[allow(clippy::too_many_arguments)]
    pub fn claim_due_before(
        &self,
        runner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        skip_accounts: &[String],
        skip_networks: &[Network],
        due_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<Target>> {
        let lease_until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        let skip_accounts = serde_json::to_string(skip_accounts)?;
        let skip_networks =
            serde_json::to_string(&skip_networks.iter().map(|n| n.as_str()).collect::<Vec<_>>())?;
        let claimed = self.write(|tx| {
            let mut st = tx.prepare_cached(
                "UPDATE targets SET
                    state = CASE state WHEN 'scheduled' THEN 'claimed' ELSE state END,
                    lease_owner = ?1, lease_until = ?2, updated_at = ?3
                 WHERE id IN (
                    SELECT id FROM targets
                    WHERE state IN ('scheduled','processing') AND next_attempt_at <= ?3
                      AND lease_owner IS NULL
                      AND COALESCE(account_id, '') NOT IN (SELECT value FROM json_each(?4))
                      AND network NOT IN (SELECT value FROM json_each(?5))
                      AND (?7 IS NULL OR due_at <= ?7 OR next_attempt_at < due_at)
                    ORDER BY next_attempt_at
                    LIMIT ?6)
                 RETURNING id",
            )?;
            let ids: Vec<String> = st
                .query_map(
                    params![
                        runner,
                        to_ms(lease_until),
                        to_ms(now),
                        skip_accounts,
                        skip_networks,
                        limit as i64,
                        opt_ms(due_before)
                    ],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                out.push(load_target(tx, id)?);
            }
            for t in &out {
                refresh_post(tx, &t.post_id, now)?;
            }
            Ok(out)
        })?;
        Ok(claimed)
    }

    /// Extends the leases `runner` holds. Returns how many it still holds.
    pub fn renew_leases(&self, runner: &str, until: DateTime<Utc>) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE targets SET lease_until = ?2 WHERE lease_owner = ?1",
                params![runner, to_ms(until)],
            )?)
        })
    }

    /// Gives back every target whose lease expired (its runner died): claimed and sending
    /// targets return to `scheduled` (an in-doubt attempt is reconciled before any retry),
    /// processing targets keep polling. Returns the recovered target ids.
    pub fn recover_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<String>> {
        self.write(|tx| {
            let mut st = tx.prepare_cached(
                "UPDATE targets SET
                    state = CASE WHEN state IN ('claimed','sending') THEN 'scheduled' ELSE state END,
                    lease_owner = NULL, lease_until = NULL,
                    next_attempt_at = min(COALESCE(next_attempt_at, ?1), ?1),
                    updated_at = ?1
                 WHERE lease_owner IS NOT NULL AND lease_until < ?1
                 RETURNING id, post_id",
            )?;
            let rows: Vec<(String, String)> = st
                .query_map([to_ms(now)], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (_, post) in &rows {
                refresh_post(tx, post, now)?;
            }
            Ok(rows.into_iter().map(|(id, _)| id).collect())
        })
    }

    /// Expires at once the leases of a runner known to be dead (its process is gone), so
    /// its targets are recovered now instead of when the lease runs out. Returns the number
    /// of leases expired.
    pub fn expire_runner(&self, runner: &str, now: DateTime<Utc>) -> Result<usize> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runners SET stopped_at = COALESCE(stopped_at, ?2) WHERE id = ?1",
                params![runner, to_ms(now)],
            )?;
            Ok(tx.execute(
                "UPDATE targets SET lease_until = ?2 - 1 WHERE lease_owner = ?1",
                params![runner, to_ms(now)],
            )?)
        })
    }

    /// Releases every lease of `runner` without changing state (clean shutdown): targets it
    /// had only claimed go back to `scheduled`.
    pub fn release_runner(&self, runner: &str, now: DateTime<Utc>) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE targets SET state = CASE WHEN state IN ('claimed','sending') THEN 'scheduled' ELSE state END,
                    lease_owner = NULL, lease_until = NULL, next_attempt_at = COALESCE(next_attempt_at, ?2), updated_at = ?2
                 WHERE lease_owner = ?1",
                params![runner, to_ms(now)],
            )?)
        })
    }

    pub fn target(&self, id: &str) -> Result<Option<Target>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {TARGET_COLUMNS} FROM targets t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.id = ?1"),
                [id],
                target_from_row,
            )
            .optional()?)
        })
    }

    /// Attempts of a target part that are in doubt (sent, outcome unknown).
    pub fn in_doubt_attempt(&self, target_id: &str, part: usize) -> Result<Option<Attempt>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE target_id = ?1 AND part_index = ?2 AND status IN ('sending','unknown') ORDER BY try_no DESC LIMIT 1"),
                params![target_id, part as i64],
                attempt_from_row,
            )
            .optional()?)
        })
    }

    /// The client handle (e.g. a Bluesky rkey) recorded for an idempotency key, if any.
    pub fn client_handle(&self, idem_key: &str) -> Result<Option<(String, DateTime<Utc>)>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT client_handle, intent_at FROM attempts WHERE idem_key = ?1 AND client_handle IS NOT NULL ORDER BY try_no LIMIT 1",
                [idem_key],
                |r| Ok((r.get::<_, String>(0)?, from_ms(r.get(1)?))),
            )
            .optional()?)
        })
    }

    pub fn attempts(&self, target_id: &str) -> Result<Vec<Attempt>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE target_id = ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([target_id], attempt_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Records the intent to send part `part` — committed before the network call — and
    /// marks the target `sending`, with `activity` as what its card says meanwhile (how far
    /// an upload is; `None` clears an earlier wait's reason). Fails with `Conflict` if
    /// `runner` no longer holds it.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_attempt(
        &self,
        target_id: &str,
        runner: &str,
        part: usize,
        idem_key: &str,
        client_handle: Option<&str>,
        intent_at: DateTime<Utc>,
        now: DateTime<Utc>,
        activity: Option<&str>,
    ) -> Result<i64> {
        self.write(|tx| {
            let held = tx.execute(
                "UPDATE targets SET state = 'sending', wait_reason = ?4, updated_at = ?3 WHERE id = ?1 AND lease_owner = ?2 AND state IN ('claimed','sending','processing')",
                params![target_id, runner, to_ms(now), activity],
            )?;
            if held == 0 {
                return Err(StoreError::Conflict(format!("target {target_id} is no longer held by this runner")));
            }
            let (account_id, network): (Option<String>, String) = tx.query_row(
                "SELECT account_id, network FROM targets WHERE id = ?1",
                [target_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let try_no: i64 = tx.query_row(
                "SELECT COALESCE(max(try_no), 0) + 1 FROM attempts WHERE idem_key = ?1",
                [idem_key],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO attempts (target_id, account_id, network, part_index, idem_key, try_no, status, client_handle, intent_at, runner, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sending', ?7, ?8, ?9, ?10)",
                params![target_id, account_id, network, part as i64, idem_key, try_no, client_handle, to_ms(intent_at), runner, to_ms(now)],
            )?;
            let post_id: String = tx.query_row("SELECT post_id FROM targets WHERE id = ?1", [target_id], |r| r.get(0))?;
            refresh_post(tx, &post_id, now)?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Closes an attempt row.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_attempt(
        &self,
        attempt_id: i64,
        end: AttemptEnd,
        class: Option<&str>,
        remote_id: Option<&str>,
        message: Option<&str>,
        excerpt: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE attempts SET status = ?2, error_class = ?3, remote_id = ?4, message = ?5, excerpt = ?6,
                    finished_at = ?7, duration_ms = ?7 - started_at
                 WHERE id = ?1",
                params![attempt_id, end.as_str(), class, remote_id, message, excerpt, to_ms(now)],
            )?;
            Ok(())
        })
    }

    /// Settles every in-doubt attempt of a part (after reconciliation).
    pub fn settle_in_doubt(
        &self,
        target_id: &str,
        part: usize,
        end: AttemptEnd,
        remote_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE attempts SET status = ?3, remote_id = COALESCE(?4, remote_id), finished_at = COALESCE(finished_at, ?5)
                 WHERE target_id = ?1 AND part_index = ?2 AND status IN ('sending','unknown')",
                params![target_id, part as i64, end.as_str(), remote_id, to_ms(now)],
            )?;
            Ok(())
        })
    }

    /// Stores a published part — before the next part starts. When it is the last part the
    /// target becomes `published` and its lease is released.
    pub fn record_part(
        &self,
        target_id: &str,
        runner: &str,
        part: usize,
        published: &PublishedPart,
        last: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            let t = load_target(tx, target_id)?;
            if t.lease_owner.as_deref() != Some(runner) {
                return Err(StoreError::Conflict(format!("target {target_id} is no longer held by this runner")));
            }
            let mut progress = t.progress.clone();
            if progress.len() == part {
                progress.push(published.clone());
            } else if progress.len() < part {
                return Err(StoreError::Corrupt(format!("target {target_id}: part {part} published before part {}", progress.len())));
            }
            let first = progress.first().cloned();
            if last {
                tx.execute(
                    "UPDATE targets SET state = 'published', progress = ?2, remote_id = ?3, remote_url = ?4,
                        lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, wait_reason = NULL,
                        last_error = NULL, error_class = NULL, phase = NULL, processing_since = NULL, updated_at = ?5
                     WHERE id = ?1",
                    params![
                        target_id,
                        serde_json::to_string(&progress)?,
                        first.as_ref().map(|p| p.remote_id.clone()),
                        first.as_ref().and_then(|p| p.url.clone()),
                        to_ms(now)
                    ],
                )?;
            } else {
                tx.execute(
                    "UPDATE targets SET progress = ?2, phase = NULL, processing_since = NULL, updated_at = ?3 WHERE id = ?1",
                    params![target_id, serde_json::to_string(&progress)?, to_ms(now)],
                )?;
            }
            refresh_post(tx, &t.post_id, now)?;
            Ok(())
        })
    }

    /// Moves a leased target on after an attempt (see [`Transition`]); releases the lease
    /// unless the target keeps processing. Returns the updated target.
    pub fn transition(
        &self,
        target_id: &str,
        runner: &str,
        to: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Target> {
        let t = self.write(|tx| {
            let n = match to {
                // A wait that is not a network failure (a rate limit, a quota, Outpost's own
                // pacing) does not count as processing time: the processing time-out starts
                // again when the work resumes. Transient failures keep the clock running, so a
                // network that keeps failing while it processes still times out.
                Transition::Retry { at, reason, error, class, count_attempt } => tx.execute(
                    "UPDATE targets SET state = 'scheduled', next_attempt_at = ?3, wait_reason = ?4,
                        last_error = COALESCE(?5, last_error), error_class = COALESCE(?6, error_class),
                        attempts = attempts + ?7, lease_owner = NULL, lease_until = NULL, updated_at = ?8,
                        processing_since = CASE WHEN ?6 IS NULL OR ?6 = 'rate_limited' THEN NULL ELSE processing_since END
                     WHERE id = ?1 AND lease_owner = ?2",
                    params![target_id, runner, to_ms(*at), reason, error, class, i64::from(*count_attempt), to_ms(now)],
                )?,
                Transition::Failed { error, class } => tx.execute(
                    "UPDATE targets SET state = 'failed', next_attempt_at = NULL, wait_reason = NULL, last_error = ?3,
                        error_class = ?4, lease_owner = NULL, lease_until = NULL, updated_at = ?5
                     WHERE id = ?1 AND lease_owner = ?2",
                    params![target_id, runner, error, class, to_ms(now)],
                )?,
                Transition::Unconfirmed { error } => tx.execute(
                    "UPDATE targets SET state = 'unconfirmed', next_attempt_at = NULL, wait_reason = NULL, last_error = ?3,
                        error_class = 'unknown_outcome', lease_owner = NULL, lease_until = NULL, updated_at = ?4
                     WHERE id = ?1 AND lease_owner = ?2",
                    params![target_id, runner, error, to_ms(now)],
                )?,
                Transition::Missed { reason } => tx.execute(
                    "UPDATE targets SET state = 'missed', next_attempt_at = NULL, wait_reason = ?3, last_error = ?3,
                        error_class = 'missed', lease_owner = NULL, lease_until = NULL, updated_at = ?4
                     WHERE id = ?1 AND lease_owner = ?2",
                    params![target_id, runner, reason, to_ms(now)],
                )?,
                Transition::Processing { phase, at, note } => tx.execute(
                    "UPDATE targets SET state = 'processing', phase = ?3, next_attempt_at = ?4,
                        processing_since = COALESCE(processing_since, ?5), wait_reason = ?6,
                        lease_owner = NULL, lease_until = NULL, updated_at = ?5
                     WHERE id = ?1 AND lease_owner = ?2",
                    params![target_id, runner, phase.to_string(), to_ms(*at), to_ms(now), note],
                )?,
            };
            if n == 0 {
                return Err(StoreError::Conflict(format!("target {target_id} is no longer held by this runner")));
            }
            let t = load_target(tx, target_id)?;
            refresh_post(tx, &t.post_id, now)?;
            Ok(t)
        })?;
        Ok(t)
    }

    /// Marks every target of an account that is due and waiting as failed with `reason`
    /// (used when the account needs reconnecting). Returns the post ids touched.
    pub fn fail_due_targets_of_account(
        &self,
        account_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        self.write(|tx| {
            let mut st = tx.prepare(
                "UPDATE targets SET state = 'failed', last_error = ?2, error_class = 'reauth', next_attempt_at = NULL, wait_reason = NULL, updated_at = ?3
                 WHERE account_id = ?1 AND state = 'scheduled' AND lease_owner IS NULL AND next_attempt_at <= ?3
                 RETURNING post_id",
            )?;
            let posts: Vec<String> = st
                .query_map(params![account_id, reason, to_ms(now)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for p in &posts {
                refresh_post(tx, p, now)?;
            }
            Ok(posts)
        })
    }

    /// Successful publishes by an account since `since` (for quotas).
    /// Targets of `account_id` due in `[from, to)` that are still going out or went out
    /// (not cancelled, failed or missed), leaving out the post `except_post`.
    pub fn targets_due_between(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        except_post: Option<&str>,
    ) -> Result<u32> {
        self.read(|c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM targets WHERE account_id = ?1 AND due_at >= ?2 AND due_at < ?3
                   AND state NOT IN ('cancelled', 'failed', 'missed', 'draft')
                   AND post_id IS NOT ?4",
                params![account_id, to_ms(from), to_ms(to), except_post],
                |r| r.get(0),
            )?;
            Ok(n as u32)
        })
    }

    pub fn published_count(
        &self,
        account_id: &str,
        since: DateTime<Utc>,
    ) -> Result<(u32, Option<DateTime<Utc>>)> {
        self.read(|c| {
            let (n, oldest): (i64, Option<i64>) = c.query_row(
                "SELECT count(*), min(started_at) FROM attempts WHERE account_id = ?1 AND status IN ('succeeded','reconciled','sending','unknown') AND started_at > ?2",
                params![account_id, to_ms(since)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((n as u32, oldest.map(from_ms)))
        })
    }

    // ---------------------------------------------------------------- breakers, runners

    pub fn breaker(&self, scope: &str) -> Result<outpost_core::retry::BreakerState> {
        self.read(|c| {
            let raw: Option<String> = c
                .query_row(
                    "SELECT breaker FROM network_state WHERE scope = ?1",
                    [scope],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(raw
                .map(|r| serde_json::from_str(&r))
                .transpose()?
                .unwrap_or_default())
        })
    }

    pub fn breakers(&self) -> Result<Vec<(String, outpost_core::retry::BreakerState)>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT scope, breaker FROM network_state ORDER BY scope")?;
            let rows: Vec<(String, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(s, b)| Ok((s, serde_json::from_str(&b)?)))
                .collect()
        })
    }

    pub fn save_breaker(
        &self,
        scope: &str,
        state: &outpost_core::retry::BreakerState,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO network_state (scope, breaker, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (scope) DO UPDATE SET breaker = excluded.breaker, updated_at = excluded.updated_at",
                params![scope, serde_json::to_string(state)?, to_ms(now)],
            )?;
            Ok(())
        })
    }

    pub fn register_runner(&self, id: &str, kind: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO runners (id, pid, kind, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
                params![id, i64::from(std::process::id()), kind, to_ms(now)],
            )?;
            // Keep the table small: forget runners that stopped more than a day ago.
            tx.execute(
                "DELETE FROM runners WHERE COALESCE(stopped_at, heartbeat_at) < ?1",
                [to_ms(now - chrono::Duration::days(1))],
            )?;
            Ok(())
        })
    }

    pub fn runner_heartbeat(
        &self,
        id: &str,
        now: DateTime<Utc>,
        next_due: Option<DateTime<Utc>>,
        queue_depth: i64,
        in_flight: i64,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runners SET heartbeat_at = ?2, last_wake_at = ?2, next_due_at = ?3, queue_depth = ?4, in_flight = ?5, wakes = wakes + 1 WHERE id = ?1",
                params![id, to_ms(now), opt_ms(next_due), queue_depth, in_flight],
            )?;
            Ok(())
        })
    }

    pub fn runner_stopped(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runners SET stopped_at = ?2 WHERE id = ?1",
                params![id, to_ms(now)],
            )?;
            Ok(())
        })
    }

    pub fn runners(&self) -> Result<Vec<RunnerHealth>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, pid, kind, started_at, heartbeat_at, last_wake_at, next_due_at, queue_depth, in_flight, stopped_at, wakes
                 FROM runners ORDER BY heartbeat_at DESC",
            )?;
            let rows = st.query_map([], |r| {
                Ok(RunnerHealth {
                    id: r.get(0)?,
                    pid: r.get(1)?,
                    kind: r.get(2)?,
                    started_at: from_ms(r.get(3)?),
                    heartbeat_at: from_ms(r.get(4)?),
                    last_wake_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
                    next_due_at: r.get::<_, Option<i64>>(6)?.map(from_ms),
                    queue_depth: r.get(7)?,
                    in_flight: r.get(8)?,
                    stopped_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
                    wakes: r.get(10)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Counts of targets per state (for `status`).
    pub fn target_counts(&self) -> Result<Vec<(TargetState, i64)>> {
        self.read(|c| {
            let mut st =
                c.prepare("SELECT state, count(*) FROM targets GROUP BY state ORDER BY state")?;
            let rows: Vec<(String, i64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows
                .into_iter()
                .filter_map(|(s, n)| s.parse().ok().map(|s| (s, n)))
                .collect())
        })
    }

    /// The next scheduled targets (for `status` and the tray).
    pub fn upcoming(&self, limit: usize) -> Result<Vec<Target>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {TARGET_COLUMNS} FROM targets t LEFT JOIN accounts a ON a.id = t.account_id
                 WHERE t.state = 'scheduled' ORDER BY t.next_attempt_at LIMIT ?1"
            ))?;
            let rows = st.query_map([limit as i64], target_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

fn require_post(tx: &Transaction<'_>, id: &str) -> Result<()> {
    let exists: Option<i64> = tx
        .query_row("SELECT 1 FROM posts WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    exists.map(|_| ()).ok_or_else(|| {
        StoreError::NotFound(format!(
            "post {id}: no such post — see `outpost posts list`"
        ))
    })
}

fn load_target(c: &Connection, id: &str) -> Result<Target> {
    Ok(c.query_row(
        &format!("SELECT {TARGET_COLUMNS} FROM targets t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.id = ?1"),
        [id],
        target_from_row,
    )?)
}

fn load_post(c: &Connection, id: &str) -> Result<Option<Post>> {
    let row = c
        .query_row(
            "SELECT id, content, scheduled_at, time_zone, status, error_summary, created_at, updated_at FROM posts WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((id, content, scheduled_at, zone, status, error_summary, created, updated)) = row
    else {
        return Ok(None);
    };
    let mut st = c.prepare_cached(&format!(
        "SELECT {TARGET_COLUMNS} FROM targets t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.post_id = ?1 ORDER BY t.network, t.id"
    ))?;
    let targets = st
        .query_map([&id], target_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(Post {
        id,
        content: serde_json::from_str(&content)?,
        scheduled_at: scheduled_at.map(from_ms),
        time_zone: zone,
        status: status.parse().map_err(StoreError::Corrupt)?,
        error_summary,
        created_at: from_ms(created),
        updated_at: from_ms(updated),
        targets,
    }))
}

/// Recomputes a post's cached status and error summary from its targets.
fn refresh_post(tx: &Connection, post_id: &str, now: DateTime<Utc>) -> Result<()> {
    let mut st = tx.prepare_cached("SELECT state, last_error FROM targets WHERE post_id = ?1")?;
    let rows: Vec<(String, Option<String>)> = st
        .query_map([post_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let states: Vec<TargetState> = rows.iter().filter_map(|(s, _)| s.parse().ok()).collect();
    let status = derive_post_status(&states);
    let errors: Vec<&str> = rows
        .iter()
        .filter(|(s, _)| s == "failed" || s == "unconfirmed" || s == "missed")
        .filter_map(|(_, e)| e.as_deref())
        .collect();
    let summary = if errors.is_empty() {
        None
    } else {
        Some(combine_errors(errors))
    };
    tx.execute(
        "UPDATE posts SET status = ?2, error_summary = ?3, updated_at = ?4 WHERE id = ?1 AND (status != ?2 OR error_summary IS NOT ?3)",
        params![post_id, status.as_str(), summary, to_ms(now)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
