//! A faithful in-process fake of Bluesky's AT Protocol servers: an
//! **entryway** (where `createSession` is called, also a handle resolver and
//! a PLC directory), a **PDS** (named in the DID document) and the **video
//! service** (`video.bsky.app`, [`BlueskyFake::video_url`]). The entryway and
//! the PDS share one state and serve every `com.atproto.*` method, as
//! `bsky.social` proxies repo calls to the account's PDS; the video listener
//! serves only `app.bsky.video.*`. [`RecordedRequest::listener`] tells which
//! host a client used.
//!
//! Implemented XRPC methods (wire format of `@atproto/pds`):
//! `com.atproto.server.{createSession, refreshSession, getSession,
//! deleteSession, describeServer, getServiceAuth}`,
//! `com.atproto.identity.resolveHandle`,
//! `com.atproto.repo.{uploadBlob, createRecord, getRecord, listRecords,
//! deleteRecord}`, `com.atproto.sync.getBlob`, `_health`; plus
//! `GET /did:plc:…` (PLC directory). On the video listener:
//! `app.bsky.video.{uploadVideo, getJobStatus, getUploadLimits}` (see the
//! `video` module for the job state machine and the test controls).
//! Anything else under `/xrpc/` answers
//! `404 {"error":"XRPCNotSupported","message":"XRPCNotSupported"}`.
//!
//! **Not implemented (yet):** OAuth/DPoP, `putRecord`/`applyWrites`, handle
//! resolution by DNS or `/.well-known/atproto-did`, video captions upload.
//!
//! Behaviour worth knowing:
//! - Time is the fake's clock ([`BlueskyFake::now`]); [`BlueskyFake::advance_time`]
//!   moves it forward for token expiry, refresh grace, rate-limit windows
//!   and blob garbage collection.
//! - Unreferenced blobs are garbage-collected lazily (on `uploadBlob` and
//!   `createRecord`) once older than [`BlueskyConfig::blob_gc_after`].
//! - Access tokens are checked against the fake's state, so
//!   [`BlueskyFake::revoke_sessions`] and [`BlueskyFake::expire_access_tokens`]
//!   take effect at once (the real PDS's access JWTs are stateless).

mod control;
mod tokens;
mod validate;
mod video;
mod xrpc;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::common::{
    random_bytes, random_string, spawn_server, ConnInfo, RateLimiter, ServerGuard, BASE32_ALPHABET,
};
pub use crate::common::{Listener, RecordedRequest};
pub use video::{JobOutcome, JobPace, JobStatusForm, VideoJob};

/// The collection Outpost writes.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// Limits and lifetimes; the defaults are the reference PDS's.
#[derive(Debug, Clone)]
pub struct BlueskyConfig {
    /// Access JWT lifetime (120 min).
    pub access_ttl: chrono::Duration,
    /// Refresh JWT lifetime (90 days).
    pub refresh_ttl: chrono::Duration,
    /// How long a rotated refresh token keeps working (2 h).
    pub refresh_grace: chrono::Duration,
    /// `createSession` per account per 5 minutes (30).
    pub session_limit_5min: u32,
    /// `createSession` per account per day (300).
    pub session_limit_day: u32,
    /// Write points per DID per hour (5000; create = 3, delete = 1).
    pub write_points_hour: u32,
    /// Write points per DID per day (35000).
    pub write_points_day: u32,
    /// All XRPC requests per IP per 5 minutes (3000).
    pub rate_limit_all_5min: u32,
    /// Unreferenced blobs are deleted after this (10 min).
    pub blob_gc_after: chrono::Duration,
    /// Port of the entryway listener (0 = any free port).
    pub entryway_port: u16,
    /// Port of the PDS listener (0 = any free port).
    pub pds_port: u16,
    /// Port of the video service listener (0 = any free port).
    pub video_port: u16,
}

impl Default for BlueskyConfig {
    fn default() -> Self {
        BlueskyConfig {
            access_ttl: chrono::Duration::minutes(120),
            refresh_ttl: chrono::Duration::days(90),
            refresh_grace: chrono::Duration::hours(2),
            session_limit_5min: 30,
            session_limit_day: 300,
            write_points_hour: 5000,
            write_points_day: 35000,
            rate_limit_all_5min: 3000,
            blob_gc_after: chrono::Duration::minutes(10),
            entryway_port: 0,
            pds_port: 0,
            video_port: 0,
        }
    }
}

/// A record in a repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub uri: String,
    pub cid: String,
    pub rkey: String,
    pub value: Value,
}

/// A queued fault. Each request to a matching XRPC method consumes one of
/// `times`; faults are consumed in the order they were pushed. Faults apply
/// on every listener, the video service's included
/// (`app.bsky.video.uploadVideo`, `app.bsky.video.getJobStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// An NSID such as `com.atproto.repo.createRecord`, or `*` for any.
    pub nsid: String,
    #[serde(default = "one")]
    pub times: u32,
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(nsid: &str, times: u32, kind: FaultKind) -> Fault {
        Fault {
            nsid: nsid.to_string(),
            times,
            kind,
        }
    }

    /// An XRPC error answer, e.g. `502 UpstreamFailure`.
    pub fn status(nsid: &str, times: u32, status: u16, error: &str, message: &str) -> Fault {
        Fault::new(
            nsid,
            times,
            FaultKind::Status {
                status,
                error: error.to_string(),
                message: message.to_string(),
            },
        )
    }

    /// A `429 RateLimitExceeded` with `Retry-After`.
    pub fn rate_limited(nsid: &str, times: u32, retry_after: RetryAfter) -> Fault {
        Fault::new(nsid, times, FaultKind::RateLimited { retry_after })
    }
}

/// What a fault does. JSON form (internally tagged by `type`):
/// `{"type":"status","status":502,"error":"UpstreamFailure","message":"…"}`,
/// `{"type":"rate_limited","retry_after":{"seconds":30}}` or
/// `{"retry_after":{"http_date":"2026-01-01T00:00:00Z"}}`,
/// `{"type":"drop_after_commit"}`, `{"type":"delay_after_commit","ms":500}`,
/// `{"type":"delay_before","ms":500}`, `{"type":"html","status":502}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "FaultKindRepr", from = "FaultKindRepr")]
pub enum FaultKind {
    /// Answer `status` with `{"error","message"}`; no side effect.
    Status {
        status: u16,
        error: String,
        message: String,
    },
    /// `429 RateLimitExceeded` with `Retry-After` and `RateLimit-*` headers
    /// (`RateLimit-Reset` = epoch seconds); no side effect.
    RateLimited { retry_after: RetryAfter },
    /// Perform the request (e.g. the record IS created), then close the
    /// connection without any HTTP response.
    DropAfterCommit,
    /// Perform the request, then wait before answering.
    DelayAfterCommit(Duration),
    /// Wait, then perform the request normally.
    DelayBefore(Duration),
    /// An HTML error page (like a proxy's 502 page); no side effect.
    Html { status: u16 },
}

/// The value of a `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    Seconds(u64),
    HttpDate(DateTime<Utc>),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FaultKindRepr {
    Status {
        status: u16,
        error: String,
        message: String,
    },
    RateLimited {
        retry_after: RetryAfter,
    },
    DropAfterCommit,
    DelayAfterCommit {
        ms: u64,
    },
    DelayBefore {
        ms: u64,
    },
    Html {
        status: u16,
    },
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<FaultKind> for FaultKindRepr {
    fn from(kind: FaultKind) -> Self {
        match kind {
            FaultKind::Status {
                status,
                error,
                message,
            } => FaultKindRepr::Status {
                status,
                error,
                message,
            },
            FaultKind::RateLimited { retry_after } => FaultKindRepr::RateLimited { retry_after },
            FaultKind::DropAfterCommit => FaultKindRepr::DropAfterCommit,
            FaultKind::DelayAfterCommit(d) => FaultKindRepr::DelayAfterCommit { ms: millis(d) },
            FaultKind::DelayBefore(d) => FaultKindRepr::DelayBefore { ms: millis(d) },
            FaultKind::Html { status } => FaultKindRepr::Html { status },
        }
    }
}

impl From<FaultKindRepr> for FaultKind {
    fn from(repr: FaultKindRepr) -> Self {
        match repr {
            FaultKindRepr::Status {
                status,
                error,
                message,
            } => FaultKind::Status {
                status,
                error,
                message,
            },
            FaultKindRepr::RateLimited { retry_after } => FaultKind::RateLimited { retry_after },
            FaultKindRepr::DropAfterCommit => FaultKind::DropAfterCommit,
            FaultKindRepr::DelayAfterCommit { ms } => {
                FaultKind::DelayAfterCommit(Duration::from_millis(ms))
            }
            FaultKindRepr::DelayBefore { ms } => FaultKind::DelayBefore(Duration::from_millis(ms)),
            FaultKindRepr::Html { status } => FaultKind::Html { status },
        }
    }
}

/// Handle to a running fake; cheap to clone. The servers stop when the last
/// clone is dropped (or when the tokio runtime shuts down).
#[derive(Clone)]
pub struct BlueskyFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl BlueskyFake {
    /// Start with the reference PDS defaults on two random ports.
    pub async fn start() -> std::io::Result<BlueskyFake> {
        BlueskyFake::start_with(BlueskyConfig::default()).await
    }

    pub async fn start_with(config: BlueskyConfig) -> std::io::Result<BlueskyFake> {
        let entryway = TcpListener::bind(("127.0.0.1", config.entryway_port)).await?;
        let pds = TcpListener::bind(("127.0.0.1", config.pds_port)).await?;
        let video = TcpListener::bind(("127.0.0.1", config.video_port)).await?;
        let entryway_addr = entryway.local_addr()?;
        let pds_addr = pds.local_addr()?;
        let video_addr = video.local_addr()?;
        let shared = Arc::new(Shared {
            secret: random_bytes::<32>(),
            entryway_url: format!("http://{entryway_addr}"),
            pds_url: format!("http://{pds_addr}"),
            service_did: format!("did:web:{}%3A{}", pds_addr.ip(), pds_addr.port()),
            video_url: format!("http://{video_addr}"),
            video_did: format!("did:web:{}%3A{}", video_addr.ip(), video_addr.port()),
            cfg: config,
            inner: Mutex::new(Inner::new()),
        });
        let mut tasks = Vec::new();
        for (listener, which) in [
            (entryway, Listener::Entryway),
            (pds, Listener::Pds),
            (video, Listener::Video),
        ] {
            let shared = shared.clone();
            tasks.push(spawn_server(listener, move |req, conn| {
                handle(shared.clone(), which, conn, req)
            }));
        }
        Ok(BlueskyFake {
            shared,
            _guard: Arc::new(ServerGuard(tasks)),
        })
    }

    /// e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn entryway_url(&self) -> String {
        self.shared.entryway_url.clone()
    }

    /// The `serviceEndpoint` of `#atproto_pds` in every DID document.
    pub fn pds_url(&self) -> String {
        self.shared.pds_url.clone()
    }

    /// The PDS service DID (`did:web:127.0.0.1%3A<port>`), the `aud` of the
    /// session JWTs and the `aud` `uploadVideo` expects in a service token.
    pub fn service_did(&self) -> String {
        self.shared.service_did.clone()
    }

    /// The video service's base URL (the real one is `https://video.bsky.app`).
    pub fn video_url(&self) -> String {
        self.shared.video_url.clone()
    }

    /// The video service's DID (`did:web:127.0.0.1%3A<port>`), the `aud` of
    /// a service token for `app.bsky.video.getUploadLimits`.
    pub fn video_service_did(&self) -> String {
        self.shared.video_did.clone()
    }

    pub fn config(&self) -> BlueskyConfig {
        self.shared.cfg.clone()
    }

    /// Create an account (or add another app password to an existing one);
    /// returns its DID (`did:plc:` + 24 base32 characters).
    pub fn add_account(&self, handle: &str, app_password: &str) -> String {
        self.shared.add_account(handle, app_password)
    }

    /// Delete the account's app passwords: `createSession` then fails with
    /// `401 AuthenticationRequired`, and (as on the reference PDS) refresh
    /// tokens issued through them die (`400 ExpiredToken` "Token has been
    /// revoked"). Issued access tokens stay valid until they expire.
    pub fn revoke_app_password(&self, handle: &str) {
        self.shared.revoke_app_password(handle);
    }

    /// Kill every access and refresh token of the account: both answer
    /// `400 ExpiredToken` "Token has been revoked".
    pub fn revoke_sessions(&self, handle: &str) {
        self.shared.revoke_sessions(handle);
    }

    /// Every access token issued so far answers `400 ExpiredToken` "Token has
    /// expired" from now on.
    pub fn expire_access_tokens(&self) {
        self.shared.expire_access_tokens();
    }

    /// `app.bsky.feed.post` records of the repo, in creation order.
    pub fn records(&self, did: &str) -> Vec<StoredRecord> {
        self.shared.records(did)
    }

    /// Every request received (control-API calls under `/_fake/` excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Number of requests to `/xrpc/<nsid>`.
    pub fn count(&self, nsid: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.nsid() == Some(nsid))
            .count()
    }

    pub fn push_fault(&self, fault: Fault) {
        self.shared.push_fault(fault);
    }

    /// Drop every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Added to every response (control API excluded).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// `uploadBlob` size limit (default 5,000,000 like a self-hosted PDS
    /// without `PDS_BLOB_UPLOAD_LIMIT`; bsky.social allows 52,428,800).
    pub fn set_blob_limit(&self, bytes: usize) {
        self.shared.lock().blob_limit = bytes;
    }

    /// `maxSize` of an `app.bsky.embed.images` image blob, checked at
    /// `createRecord` (default 2,000,000; older lexicons 1,000,000).
    pub fn set_image_max_size(&self, bytes: usize) {
        self.shared.lock().image_max_size = bytes;
    }

    /// The fake's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Move the fake's clock forward (token expiry, grace, rate windows, GC).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }

    /// Whether the account's email is verified (default `true`). Without it,
    /// `uploadVideo` fails with `unconfirmed_email`, `getUploadLimits` says
    /// `canUpload: false`, and sessions report `emailConfirmed: false`.
    /// Returns `false` for an unknown handle.
    pub fn set_email_confirmed(&self, handle: &str, confirmed: bool) -> bool {
        self.shared.set_email_confirmed(handle, confirmed)
    }

    /// How long video jobs uploaded from now on take to finish (default
    /// [`JobPace::Polls`]`(2)`: `ENCODING` on the first poll, `COMPLETED` on the
    /// second).
    pub fn set_video_pace(&self, pace: JobPace) {
        self.shared.lock().video.pace = pace;
    }

    /// How video jobs uploaded from now on end (default [`JobOutcome::Complete`]).
    pub fn set_video_outcome(&self, outcome: JobOutcome) {
        self.shared.lock().video.outcome = outcome;
    }

    /// The form of `uploadVideo`'s answer (default [`JobStatusForm::Wrapped`]).
    pub fn set_video_response_form(&self, form: JobStatusForm) {
        self.shared.lock().video.form = form;
    }

    /// While on, every `uploadVideo` answers the `already_exists` error with
    /// a finished job and its `blob` (as a re-upload of a processed video
    /// does; that also happens without this switch).
    pub fn set_video_already_exists(&self, on: bool) {
        self.shared.lock().video.already_exists = on;
    }

    /// Per-account daily video upload allowance (default 25 videos and
    /// 10 GiB a day); resets the usage counted so far.
    pub fn set_video_daily_limits(&self, videos: u32, bytes: u64) {
        let mut inner = self.shared.lock();
        inner.video.daily_videos = videos;
        inner.video.daily_bytes = bytes;
        inner.video.usage.clear();
    }

    /// Every video job so far, in upload order.
    pub fn video_jobs(&self) -> Vec<VideoJob> {
        self.shared.lock().video.snapshot()
    }

    /// Bytes and MIME type of a stored blob.
    pub fn blob(&self, did: &str, cid: &str) -> Option<(String, Vec<u8>)> {
        self.shared
            .lock()
            .blobs
            .get(&(did.to_string(), cid.to_string()))
            .map(|b| (b.mime.clone(), b.data.to_vec()))
    }
}

// ---- state -------------------------------------------------------------------

pub(crate) struct Shared {
    cfg: BlueskyConfig,
    secret: [u8; 32],
    entryway_url: String,
    pds_url: String,
    service_did: String,
    video_url: String,
    video_did: String,
    inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    clock_offset: chrono::Duration,
    latency: Duration,
    blob_limit: usize,
    image_max_size: usize,
    accounts: Vec<Account>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    /// did → (collection, rkey) → record
    repos: HashMap<String, BTreeMap<(String, String), RecordEntry>>,
    /// (did, cid) → blob
    blobs: HashMap<(String, String), BlobEntry>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    limiter: RateLimiter,
    tid_last: u64,
    tid_clock: u64,
    seq: u64,
    video: video::VideoState,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    did: String,
    handle: String,
    email: String,
    email_confirmed: bool,
    app_passwords: Vec<String>,
    /// A PLC-style `z…` key for the DID document.
    signing_key: String,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    did: String,
    exp: DateTime<Utc>,
    revoked: bool,
    force_expired: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    did: String,
    expires_at: DateTime<Utc>,
    /// Set once rotated: the successor handed out again during the grace.
    next: Option<Successor>,
}

#[derive(Debug, Clone)]
pub(crate) struct Successor {
    access_jwt: String,
    access_jti: String,
    refresh_jwt: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RecordEntry {
    uri: String,
    cid: String,
    value: Value,
    seq: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct BlobEntry {
    mime: String,
    size: usize,
    data: Bytes,
    uploaded_at: DateTime<Utc>,
    referenced: bool,
}

impl Inner {
    fn new() -> Inner {
        Inner {
            clock_offset: chrono::Duration::zero(),
            latency: Duration::ZERO,
            blob_limit: 5_000_000,
            image_max_size: 2_000_000,
            accounts: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            repos: HashMap::new(),
            blobs: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            limiter: RateLimiter::default(),
            tid_last: 0,
            tid_clock: u64::from(u16::from_le_bytes(random_bytes::<2>())) & 1023,
            seq: 0,
            video: video::VideoState::default(),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// A fresh, strictly increasing TID.
    pub(crate) fn next_tid(&mut self, now: DateTime<Utc>) -> String {
        let micros = u64::try_from(now.timestamp_micros()).unwrap_or(0);
        let ts = micros.max(self.tid_last + 1);
        self.tid_last = ts;
        validate::encode_tid(((ts & ((1 << 53) - 1)) << 10) | self.tid_clock)
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// By handle, DID or email (case-insensitive).
    pub(crate) fn account(&self, identifier: &str) -> Option<&Account> {
        let id = identifier.to_ascii_lowercase();
        self.accounts
            .iter()
            .find(|a| a.handle == id || a.did == identifier || a.email == id)
    }

    fn account_by_handle(&self, handle: &str) -> Option<&Account> {
        let handle = normalize_handle(handle);
        self.accounts.iter().find(|a| a.handle == handle)
    }

    fn revoke_refresh_of(&mut self, did: &str) {
        self.refresh.retain(|_, t| t.did != did);
    }
}

fn normalize_handle(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_ascii_lowercase()
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn did_doc(&self, account: &Account) -> Value {
        json!({
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                "https://w3id.org/security/suites/secp256k1-2019/v1"
            ],
            "id": account.did,
            "alsoKnownAs": [format!("at://{}", account.handle)],
            "verificationMethod": [{
                "id": format!("{}#atproto", account.did),
                "type": "Multikey",
                "controller": account.did,
                "publicKeyMultibase": account.signing_key,
            }],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": self.pds_url,
            }]
        })
    }

    fn add_account(&self, handle: &str, app_password: &str) -> String {
        let handle = normalize_handle(handle);
        let mut inner = self.lock();
        if let Some(existing) = inner.accounts.iter_mut().find(|a| a.handle == handle) {
            if !existing.app_passwords.iter().any(|p| p == app_password) {
                existing.app_passwords.push(app_password.to_string());
            }
            return existing.did.clone();
        }
        let did = format!("did:plc:{}", random_string(BASE32_ALPHABET, 24));
        let local = handle.split('.').next().unwrap_or("user").to_string();
        inner.accounts.push(Account {
            did: did.clone(),
            email: format!("{local}@example.test"),
            email_confirmed: true,
            handle,
            app_passwords: vec![app_password.to_string()],
            signing_key: format!(
                "zQ3sh{}",
                random_string(
                    b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
                    44
                )
            ),
        });
        did
    }

    fn revoke_app_password(&self, handle: &str) -> bool {
        let mut inner = self.lock();
        let Some(did) = inner.account_by_handle(handle).map(|a| a.did.clone()) else {
            return false;
        };
        if let Some(account) = inner.accounts.iter_mut().find(|a| a.did == did) {
            account.app_passwords.clear();
        }
        inner.revoke_refresh_of(&did);
        true
    }

    fn set_email_confirmed(&self, handle: &str, confirmed: bool) -> bool {
        let handle = normalize_handle(handle);
        let mut inner = self.lock();
        match inner.accounts.iter_mut().find(|a| a.handle == handle) {
            Some(account) => {
                account.email_confirmed = confirmed;
                true
            }
            None => false,
        }
    }

    fn revoke_sessions(&self, handle: &str) -> bool {
        let mut inner = self.lock();
        let Some(did) = inner.account_by_handle(handle).map(|a| a.did.clone()) else {
            return false;
        };
        inner.revoke_refresh_of(&did);
        for token in inner.access.values_mut().filter(|t| t.did == did) {
            token.revoked = true;
        }
        true
    }

    fn expire_access_tokens(&self) {
        for token in self.lock().access.values_mut() {
            token.force_expired = true;
        }
    }

    fn records(&self, did: &str) -> Vec<StoredRecord> {
        let inner = self.lock();
        let mut out: Vec<(u64, StoredRecord)> = inner
            .repos
            .get(did)
            .map(|repo| {
                repo.iter()
                    .filter(|((collection, _), _)| collection == POST_COLLECTION)
                    .map(|((_, rkey), r)| {
                        (
                            r.seq,
                            StoredRecord {
                                uri: r.uri.clone(),
                                cid: r.cid.clone(),
                                rkey: rkey.clone(),
                                value: r.value.clone(),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|(seq, _)| *seq);
        out.into_iter().map(|(_, r)| r).collect()
    }

    fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.lock().faults.push_back(fault);
        }
    }

    /// Consume one use of the first fault matching `nsid`.
    fn take_fault(&self, nsid: &str) -> Option<FaultKind> {
        let mut inner = self.lock();
        let index = inner
            .faults
            .iter()
            .position(|f| f.nsid == "*" || f.nsid == nsid)?;
        let fault = inner.faults.get_mut(index)?;
        let kind = fault.kind.clone();
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            inner.faults.remove(index);
        }
        Some(kind)
    }

    fn record(&self, listener: Listener, req: &Req, status: u16) {
        let mut inner = self.lock();
        let at = inner.now();
        inner.requests.push(RecordedRequest {
            listener,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: req.body.to_vec(),
            status,
            at,
        });
    }
}

// ---- request dispatch ----------------------------------------------------------

/// A fully read request.
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: std::net::SocketAddr,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

enum After {
    Nothing,
    Drop,
    Delay(Duration),
}

async fn handle(
    shared: Arc<Shared>,
    listener: Listener,
    conn: ConnInfo,
    req: Request<Body>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => return plain(400, "could not read the request body"),
    };
    let req = Req {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body,
        peer: conn.peer,
    };
    if req.path == "/_fake" || req.path.starts_with("/_fake/") {
        return control::handle(&shared, &req);
    }
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let (response, after) = route(&shared, listener, &req).await;
    let status = match after {
        After::Drop => 0,
        _ => response.status().as_u16(),
    };
    shared.record(listener, &req, status);
    match after {
        After::Nothing => response,
        After::Delay(d) => {
            tokio::time::sleep(d).await;
            response
        }
        After::Drop => {
            conn.kill();
            std::future::pending().await
        }
    }
}

async fn route(shared: &Shared, listener: Listener, req: &Req) -> (Response<Body>, After) {
    let Some(nsid) = req.path.strip_prefix("/xrpc/") else {
        return (other(shared, req), After::Nothing);
    };
    let process = |shared: &Shared, req: &Req, nsid: &str| match listener {
        Listener::Video => video::process(shared, req, nsid),
        _ => xrpc::process(shared, req, nsid),
    };
    match shared.take_fault(nsid) {
        None => (process(shared, req, nsid), After::Nothing),
        Some(FaultKind::Status {
            status,
            error,
            message,
        }) => (
            xrpc::fault_status(shared, req, status, &error, &message),
            After::Nothing,
        ),
        Some(FaultKind::RateLimited { retry_after }) => (
            xrpc::fault_rate_limited(shared, nsid, retry_after),
            After::Nothing,
        ),
        Some(FaultKind::Html { status }) => (html_error(status), After::Nothing),
        Some(FaultKind::DelayBefore(d)) => {
            tokio::time::sleep(d).await;
            (process(shared, req, nsid), After::Nothing)
        }
        Some(FaultKind::DropAfterCommit) => (process(shared, req, nsid), After::Drop),
        Some(FaultKind::DelayAfterCommit(d)) => (process(shared, req, nsid), After::Delay(d)),
    }
}

/// Non-XRPC paths: the PLC directory (`GET /did:plc:…`) and the root page.
fn other(shared: &Shared, req: &Req) -> Response<Body> {
    if req.method == "GET" || req.method == "HEAD" {
        if let Some(did) = req.path.strip_prefix('/').filter(|p| p.starts_with("did:")) {
            let inner = shared.lock();
            return match inner.accounts.iter().find(|a| a.did == did) {
                Some(account) => json_response(
                    200,
                    "application/did+ld+json; charset=utf-8",
                    &shared.did_doc(account),
                ),
                None => json_response(
                    404,
                    "application/json; charset=utf-8",
                    &json!({ "message": format!("DID not registered: {did}") }),
                ),
            };
        }
        if req.path == "/" {
            return plain(
                200,
                "This is an AT Protocol Personal Data Server (PDS) (outpost fake)\n\nMost API routes are under /xrpc/\n",
            );
        }
    }
    plain(404, "Not Found")
}

pub(crate) fn json_response(status: u16, content_type: &str, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn plain(status: u16, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(Body::from(text.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn html_error(status: u16) -> Response<Body> {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let page = format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    Response::builder()
        .status(status)
        .header("Content-Type", "text/html")
        .header("Server", "nginx")
        .body(Body::from(page))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
