//! A faithful in-process fake of LinkedIn's versioned REST API and its OAuth server, on one
//! loopback listener ([`LinkedInFake::base_url`]) that serves the paths of both
//! `www.linkedin.com` (OAuth, upload URLs) and `api.linkedin.com` (`/v2/…`, `/rest/…`).
//!
//! Implemented (wire format per `shared/docs/platforms/linkedin.md`):
//! - `GET /oauth/v2/authorization` (exact redirect match, absolute URL, no `#`; consent is
//!   given at once by the member chosen with [`LinkedInFake::set_login_member`]);
//! - `POST /oauth/v2/accessToken`: `authorization_code` and `refresh_token` grants, client
//!   secret required, 60-day access tokens, refresh tokens only for an "MDP partner" app
//!   ([`LinkedInConfig::mdp_partner`] or [`LinkedInFake::issue_tokens`] with `refresh`),
//!   `invalid_grant` bodies;
//! - `GET /v2/userinfo` (OpenID Connect);
//! - `GET /rest/organizationAcls?q=roleAssignee`, `GET /rest/organizations/{id}`;
//! - `POST /rest/posts` (201, empty body, `x-restli-id`), `GET /rest/posts?q=author`,
//!   `GET /rest/posts/{urn}`;
//! - `POST /rest/images?action=initializeUpload` + `PUT` of the bytes, `GET /rest/images/{urn}`;
//! - `POST /rest/videos?action=initializeUpload` (parts of [`LinkedInConfig::video_part_size`]),
//!   part `PUT`s answering `ETag`, `?action=finalizeUpload` (ETags checked in order),
//!   `GET /rest/videos/{urn}` walking `WAITING_UPLOAD` → `PROCESSING` → `AVAILABLE` or
//!   `PROCESSING_FAILED` as the test decides ([`VideoOutcome`], [`LinkedInFake::set_video_status`]);
//! - `POST`/`GET /rest/socialActions/{urn}/comments`.
//!
//! Every `/rest/` call needs `LinkedIn-Version` (missing: `400 VERSION_MISSING`; outside the
//! active range or sunset: `426 NONEXISTENT_VERSION`) and `X-Restli-Protocol-Version: 2.0.0`.
//! The commentary is parsed as little text ([`little`]): an unescaped reserved character
//! truncates the stored post, as LinkedIn silently does. Identical commentary from the same
//! author within [`LinkedInConfig::duplicate_window`] answers the documented
//! `422 DUPLICATE_POST` body. Each member may create [`LinkedInConfig::daily_posts_per_member`]
//! posts per UTC day (then `429` without any rate-limit header, reset at 00:00 UTC of the
//! fake's clock).
//!
//! Control: Rust methods on [`LinkedInFake`], and the same over HTTP under `/_fake/` (see
//! `control`). Requests are recorded ([`LinkedInRequest`]); faults are queued per route
//! ([`Fault`]).
//!
//! **Not implemented:** documents, `introspectToken`, the id_token of OpenID Connect, post
//! edits and deletes, image/video captions and thumbnails.

mod api;
mod control;
pub mod little;
mod oauth;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::common::{random_string, spawn_server, ConnInfo, ServerGuard};

/// LinkedIn's documented video part size is not published; 4 MiB is widely reported (3P).
pub const DEFAULT_VIDEO_PART_SIZE: u64 = 4 * 1024 * 1024;

/// Roles that may post for an organisation.
pub const POSTING_ROLES: [&str; 3] = [
    "ADMINISTRATOR",
    "CONTENT_ADMIN",
    "DIRECT_SPONSORED_CONTENT_POSTER",
];

/// The fake app and its limits.
#[derive(Debug, Clone)]
pub struct LinkedInConfig {
    /// Port of the listener (0 = any free port).
    pub port: u16,
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URLs registered for the app (exact match).
    pub redirect_uris: Vec<String>,
    /// Scopes the app's products grant; others are refused at the authorize step.
    pub allowed_scopes: Vec<String>,
    /// Refresh tokens are issued with every code exchange (MDP partners only).
    pub mdp_partner: bool,
    /// Access token lifetime (60 days).
    pub access_ttl: chrono::Duration,
    /// Refresh token lifetime from the first consent (365 days), not extended by refreshing.
    pub refresh_ttl: chrono::Duration,
    /// Oldest and newest `LinkedIn-Version` (YYYYMM) still active.
    pub oldest_version: u32,
    pub newest_version: u32,
    /// Versions answered 426 even inside the range.
    pub sunset_versions: Vec<String>,
    /// Size of each video upload part (the last one is shorter).
    pub video_part_size: u64,
    /// Posts a member may create per UTC day (~150, 3P).
    pub daily_posts_per_member: u32,
    /// Identical commentary by the same author within this is a `DUPLICATE_POST`.
    pub duplicate_window: chrono::Duration,
    /// Reading a member's own posts (`q=author`) needs `r_member_social` (UNCONFIRMED).
    pub member_reads_need_r_member_social: bool,
}

impl Default for LinkedInConfig {
    fn default() -> Self {
        LinkedInConfig {
            port: 0,
            client_id: "fake-client-id".into(),
            client_secret: "fake-client-secret".into(),
            redirect_uris: vec!["http://127.0.0.1:8724/callback".into()],
            allowed_scopes: [
                "openid",
                "profile",
                "email",
                "w_member_social",
                "r_member_social",
                "w_organization_social",
                "r_organization_social",
                "r_organization_admin",
                "rw_organization_admin",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            mdp_partner: false,
            access_ttl: chrono::Duration::days(60),
            refresh_ttl: chrono::Duration::days(365),
            oldest_version: 202511,
            newest_version: 202611,
            sunset_versions: Vec::new(),
            video_part_size: DEFAULT_VIDEO_PART_SIZE,
            daily_posts_per_member: 150,
            duplicate_window: chrono::Duration::hours(24),
            member_reads_need_r_member_social: false,
        }
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedInRequest {
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
    /// Status answered; 0 when the connection was dropped without an answer.
    pub status: u16,
    pub at: DateTime<Utc>,
}

impl LinkedInRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    /// The `action=` of a Rest.li action call (`initializeUpload`…), if any.
    pub fn action(&self) -> Option<String> {
        query_param(&self.query, "action")
    }
}

mod body_base64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(body))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Tokens handed out by [`LinkedInFake::issue_tokens`] or the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
}

/// A post as LinkedIn keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakePost {
    /// `urn:li:share:<n>`.
    pub urn: String,
    pub author: String,
    /// The member whose token created it (`urn:li:person:…`).
    pub created_by: String,
    /// The commentary as sent.
    pub commentary_sent: String,
    /// The commentary as stored (cut at an unescaped reserved character).
    pub commentary: String,
    /// What readers see.
    pub text: String,
    /// The post was cut short by an unescaped reserved character.
    pub truncated: bool,
    pub hashtags: Vec<String>,
    pub visibility: String,
    pub lifecycle_state: String,
    pub distribution: Value,
    /// `content` as sent (`media`, `multiImage`…), or null.
    pub content: Value,
    pub created_at: DateTime<Utc>,
}

/// A comment on a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeComment {
    /// `urn:li:comment:(urn:li:activity:<n>,<m>)`.
    pub urn: String,
    /// The post commented on.
    pub object: String,
    pub actor: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// An image upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeImage {
    pub urn: String,
    pub owner: String,
    /// `WAITING_UPLOAD` until the bytes arrive, then `AVAILABLE`.
    pub status: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub size: usize,
    upload_token: String,
}

/// One part of a video upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeVideoPart {
    pub upload_url: String,
    pub first_byte: u64,
    pub last_byte: u64,
    /// Set once the part was uploaded.
    pub etag: Option<String>,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// Times this part was PUT.
    pub puts: u32,
}

/// A video upload and its processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeVideo {
    pub urn: String,
    pub owner: String,
    pub file_size: u64,
    pub upload_token: String,
    pub parts: Vec<FakeVideoPart>,
    /// `WAITING_UPLOAD`, `PROCESSING`, `AVAILABLE` or `PROCESSING_FAILED`.
    pub status: String,
    pub failure_reason: Option<String>,
    /// The `uploadedPartIds` of the accepted finalize.
    pub finalized_with: Option<Vec<String>>,
    /// Status reads (`GET /rest/videos/{urn}`) since the finalize.
    pub status_reads: u32,
    pub outcome: VideoOutcome,
}

impl FakeVideo {
    /// The uploaded bytes, parts joined in order.
    pub fn data(&self) -> Vec<u8> {
        self.parts
            .iter()
            .flat_map(|p| p.bytes.iter().copied())
            .collect()
    }
}

/// How videos initialised from now on end. JSON: `{"type":"available","after_polls":1}`,
/// `{"type":"never_finishes"}`, `{"type":"fails","after_polls":1,"reason":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VideoOutcome {
    /// `PROCESSING` for the first `after_polls` status reads after the finalize, then
    /// `AVAILABLE`.
    Available { after_polls: u32 },
    /// `PROCESSING` forever (until [`LinkedInFake::set_video_status`]).
    NeverFinishes,
    /// `PROCESSING` for `after_polls` reads, then `PROCESSING_FAILED` with `reason`.
    Fails { after_polls: u32, reason: String },
}

impl Default for VideoOutcome {
    fn default() -> Self {
        VideoOutcome::Available { after_polls: 1 }
    }
}

/// A queued fault: the next `times` requests whose route matches answer `kind`.
///
/// `route` is `"*"`, or an optional method and a path: `"POST /rest/posts"`, `"/rest/videos"`
/// (every call under it, actions included), `"POST /rest/videos?action=finalizeUpload"` (that
/// action only), `"PUT /dms-uploads/*"` (a trailing `*` matches any path with that prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub route: String,
    #[serde(default = "one")]
    pub times: u32,
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(route: &str, times: u32, kind: FaultKind) -> Fault {
        Fault {
            route: route.to_string(),
            times,
            kind,
        }
    }
    /// `status` with LinkedIn's error body (`{"message","status"}`); no side effect.
    pub fn status(route: &str, times: u32, status: u16) -> Fault {
        Fault::new(route, times, FaultKind::Status { status, body: None })
    }
    /// `429` like LinkedIn's: no rate-limit headers unless `retry_after_secs` is given.
    pub fn rate_limited(route: &str, times: u32, retry_after_secs: Option<u64>) -> Fault {
        Fault::new(route, times, FaultKind::RateLimited { retry_after_secs })
    }
    /// Perform the request, then close the connection without an answer.
    pub fn drop_after_commit(route: &str, times: u32) -> Fault {
        Fault::new(route, times, FaultKind::DropAfterCommit)
    }
}

/// What a fault does (JSON tagged by `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` with `body` (default: `{"message","status"}`); no side effect.
    Status {
        status: u16,
        #[serde(default)]
        body: Option<Value>,
    },
    /// `429` with the throttle body; `Retry-After` only when given.
    RateLimited {
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Perform the request (the post IS created), then drop the connection.
    DropAfterCommit,
    /// Wait, then perform the request normally.
    DelayBefore { ms: u64 },
    /// An HTML error page from a proxy; no side effect.
    Html { status: u16 },
}

/// Handle to a running fake; cheap to clone. The server stops with the last clone.
#[derive(Clone)]
pub struct LinkedInFake {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
}

impl LinkedInFake {
    /// Starts the fake on `127.0.0.1` (panics if it cannot listen; see [`Self::try_start`]).
    pub async fn start(config: LinkedInConfig) -> LinkedInFake {
        match LinkedInFake::try_start(config).await {
            Ok(fake) => fake,
            Err(e) => panic!("the LinkedIn fake cannot listen on 127.0.0.1: {e}"),
        }
    }

    pub async fn try_start(config: LinkedInConfig) -> std::io::Result<LinkedInFake> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            cfg: config,
            inner: Mutex::new(Inner::default()),
        });
        let task = {
            let shared = shared.clone();
            spawn_server(listener, move |req, conn| handle(shared.clone(), conn, req))
        };
        Ok(LinkedInFake {
            shared,
            _guard: Arc::new(ServerGuard(vec![task])),
        })
    }

    /// `http://127.0.0.1:<port>` (no trailing slash): both `www.` and `api.` paths.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn config(&self) -> LinkedInConfig {
        self.shared.cfg.clone()
    }

    /// Adds a member; returns its OpenID `sub` (the person URN is `urn:li:person:<sub>`).
    pub fn add_member(&self, name: &str) -> String {
        self.shared.add_member(name)
    }

    /// The member who consents at `/oauth/v2/authorization` (default: the first one added).
    pub fn set_login_member(&self, sub: &str) {
        self.shared.lock().login_member = Some(sub.to_string());
    }

    /// Issues tokens for `sub` as a completed consent would; a refresh token only when
    /// `refresh` (an MDP partner app).
    pub fn issue_tokens(&self, sub: &str, scopes: &[&str], refresh: bool) -> IssuedTokens {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let mut inner = self.shared.lock();
        let now = inner.now();
        oauth::issue(&self.shared.cfg, &mut inner, sub, &scopes, refresh, now)
    }

    /// Every access token of `sub` (all members when `None`) answers 401 "expired" from now on.
    pub fn expire_access_tokens(&self, sub: Option<&str>) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        for t in inner.access.values_mut() {
            if sub.is_none_or(|s| s == t.sub) {
                t.expires_at = now - chrono::Duration::seconds(1);
            }
        }
    }

    /// The member revoked the app: access tokens answer 401 `REVOKED_ACCESS_TOKEN`, refresh
    /// tokens `invalid_grant`.
    pub fn revoke_tokens(&self, sub: &str) {
        let mut inner = self.shared.lock();
        for t in inner.access.values_mut().filter(|t| t.sub == sub) {
            t.revoked = true;
        }
        for t in inner.refresh.values_mut().filter(|t| t.sub == sub) {
            t.revoked = true;
        }
    }

    /// Only the refresh tokens of `sub` stop working.
    pub fn revoke_refresh_tokens(&self, sub: &str) {
        for t in self
            .shared
            .lock()
            .refresh
            .values_mut()
            .filter(|t| t.sub == sub)
        {
            t.revoked = true;
        }
    }

    /// Adds an organisation; returns its numeric id (`urn:li:organization:<id>`).
    pub fn add_organization(&self, name: &str) -> u64 {
        self.shared.add_organization(name)
    }

    /// Gives `sub` a role (`ADMINISTRATOR`, `CONTENT_ADMIN`, `ANALYST`…) on an organisation,
    /// state `APPROVED`. Returns false for an unknown organisation.
    pub fn grant_role(&self, organization: u64, sub: &str, role: &str) -> bool {
        self.shared.grant_role(organization, sub, role, "APPROVED")
    }

    /// Posts created, in order.
    pub fn posts(&self) -> Vec<FakePost> {
        self.shared.lock().posts.clone()
    }

    pub fn comments(&self) -> Vec<FakeComment> {
        self.shared.lock().comments.clone()
    }

    pub fn images(&self) -> Vec<FakeImage> {
        self.shared.lock().images.clone()
    }

    pub fn videos(&self) -> Vec<FakeVideo> {
        self.shared.lock().videos.clone()
    }

    /// How videos initialised from now on end (default `Available { after_polls: 1 }`).
    pub fn set_video_outcome(&self, outcome: VideoOutcome) {
        self.shared.lock().video_outcome = outcome;
    }

    /// Forces a video's status (`AVAILABLE`, `PROCESSING_FAILED` with `reason`…). False if the
    /// video is unknown.
    pub fn set_video_status(&self, urn: &str, status: &str, reason: Option<&str>) -> bool {
        let mut inner = self.shared.lock();
        match inner.videos.iter_mut().find(|v| v.urn == urn) {
            Some(v) => {
                v.status = status.to_string();
                v.failure_reason = reason.map(str::to_string);
                true
            }
            None => false,
        }
    }

    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every request (control API excluded), in arrival order.
    pub fn requests(&self) -> Vec<LinkedInRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Requests with this method and path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// Posts a member may create per UTC day from now on.
    pub fn set_daily_post_limit(&self, posts: u32) {
        self.shared.lock().daily_limit = Some(posts);
    }

    /// Versions answered 426 from now on (in addition to those outside the active range).
    pub fn set_sunset_versions(&self, versions: &[&str]) {
        self.shared.lock().sunset = Some(versions.iter().map(|v| v.to_string()).collect());
    }

    /// Added before every answer (control API excluded).
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock (token expiry, the daily counter, the duplicate window).
    pub fn advance_time(&self, by: chrono::Duration) {
        self.shared.lock().clock_offset += by;
    }
}

// ---- state -------------------------------------------------------------------------------

pub(crate) struct Shared {
    cfg: LinkedInConfig,
    base_url: String,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    sub: String,
    name: String,
    given_name: String,
    family_name: String,
    email: String,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    sub: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
    revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    sub: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
    revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    sub: String,
    scopes: Vec<String>,
    client_id: String,
    redirect_uri: String,
    expires_at: DateTime<Utc>,
    used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Organization {
    id: u64,
    name: String,
    vanity: String,
    /// (sub, role, state)
    acls: Vec<(String, String, String)>,
}

#[derive(Default)]
pub(crate) struct Inner {
    clock_offset: chrono::Duration,
    latency: Duration,
    members: Vec<Member>,
    login_member: Option<String>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    orgs: Vec<Organization>,
    posts: Vec<FakePost>,
    comments: Vec<FakeComment>,
    images: Vec<FakeImage>,
    videos: Vec<FakeVideo>,
    /// Posts created per (member sub, UTC day).
    daily: HashMap<(String, NaiveDate), u32>,
    daily_limit: Option<u32>,
    sunset: Option<Vec<String>>,
    faults: VecDeque<Fault>,
    requests: Vec<LinkedInRequest>,
    seq: u64,
    video_outcome: VideoOutcome,
}

impl Inner {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// A fresh number for URNs, large like LinkedIn's.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.seq += 1;
        7_140_000_000_000_000_000 + self.seq
    }

    pub(crate) fn member(&self, sub: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.sub == sub)
    }

    pub(crate) fn org(&self, id: u64) -> Option<&Organization> {
        self.orgs.iter().find(|o| o.id == id)
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_member(&self, name: &str) -> String {
        let sub = random_string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            10,
        );
        let name = name.trim().to_string();
        let (given, family) = match name.split_once(' ') {
            Some((g, f)) => (g.to_string(), f.to_string()),
            None => (name.clone(), String::new()),
        };
        let local: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '.' })
            .collect();
        let mut inner = self.lock();
        inner.members.push(Member {
            sub: sub.clone(),
            name,
            given_name: given,
            family_name: family,
            email: format!("{local}@example.test"),
        });
        if inner.login_member.is_none() {
            inner.login_member = Some(sub.clone());
        }
        sub
    }

    fn add_organization(&self, name: &str) -> u64 {
        let mut inner = self.lock();
        let id = 10_000_000 + inner.orgs.len() as u64 * 7 + 1;
        let vanity = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        inner.orgs.push(Organization {
            id,
            name: name.to_string(),
            vanity,
            acls: Vec::new(),
        });
        id
    }

    fn grant_role(&self, organization: u64, sub: &str, role: &str, state: &str) -> bool {
        let mut inner = self.lock();
        match inner.orgs.iter_mut().find(|o| o.id == organization) {
            Some(org) => {
                org.acls.retain(|(s, r, _)| !(s == sub && r == role));
                org.acls
                    .push((sub.to_string(), role.to_string(), state.to_string()));
                true
            }
            None => false,
        }
    }

    /// Consumes one use of the first fault whose route matches.
    fn take_fault(&self, req: &Req) -> Option<FaultKind> {
        let mut inner = self.lock();
        let index = inner
            .faults
            .iter()
            .position(|f| route_matches(&f.route, req))?;
        let fault = inner.faults.get_mut(index)?;
        let kind = fault.kind.clone();
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            inner.faults.remove(index);
        }
        Some(kind)
    }

    fn record(&self, req: &Req, status: u16) {
        let mut inner = self.lock();
        let at = inner.now();
        inner.requests.push(LinkedInRequest {
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

fn route_matches(route: &str, req: &Req) -> bool {
    let route = route.trim();
    if route == "*" {
        return true;
    }
    let (method, pattern) = match route.split_once(' ') {
        Some((m, p)) => (Some(m), p.trim()),
        None => (None, route),
    };
    if method.is_some_and(|m| !m.eq_ignore_ascii_case(&req.method)) {
        return false;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return req.path.starts_with(prefix);
    }
    match pattern.split_once("?action=") {
        Some((path, action)) => {
            req.path == path && query_param(&req.query, "action").as_deref() == Some(action)
        }
        None => req.path == pattern,
    }
}

/// A decoded query parameter.
pub(crate) fn query_param(query: &str, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Percent-decodes a path segment (`urn%3Ali%3Ashare%3A1` → `urn:li:share:1`).
pub(crate) fn decode_segment(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- request dispatch ----------------------------------------------------------------------

/// A fully read request.
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn param(&self, key: &str) -> Option<String> {
        query_param(&self.query, key)
    }
}

enum After {
    Nothing,
    Drop,
}

async fn handle(shared: Arc<Shared>, conn: ConnInfo, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => {
            return json_response(
                400,
                &json!({"message": "could not read the body", "status": 400}),
            )
        }
    };
    let req = Req {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body,
    };
    if req.path == "/_fake" || req.path.starts_with("/_fake/") {
        return control::handle(&shared, &req);
    }
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (response, after) = match shared.take_fault(&req) {
        None => (route(&shared, &req), After::Nothing),
        Some(FaultKind::Status { status, body }) => {
            let body = body.unwrap_or_else(|| default_error_body(status));
            (json_response(status, &body), After::Nothing)
        }
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            let mut response = throttled();
            if let Some(secs) = retry_after_secs {
                if let Ok(v) = secs.to_string().parse() {
                    response.headers_mut().insert("Retry-After", v);
                }
            }
            (response, After::Nothing)
        }
        Some(FaultKind::DropAfterCommit) => (route(&shared, &req), After::Drop),
        Some(FaultKind::DelayBefore { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (route(&shared, &req), After::Nothing)
        }
        Some(FaultKind::Html { status }) => (html_error(status), After::Nothing),
    };
    let status = match after {
        After::Drop => 0,
        After::Nothing => response.status().as_u16(),
    };
    shared.record(&req, status);
    match after {
        After::Nothing => response,
        After::Drop => {
            conn.kill();
            std::future::pending().await
        }
    }
}

fn route(shared: &Shared, req: &Req) -> Response<Body> {
    let path = req.path.as_str();
    match (req.method.as_str(), path) {
        ("GET", "/oauth/v2/authorization") => oauth::authorize(shared, req),
        ("POST", "/oauth/v2/accessToken") => oauth::token(shared, req),
        ("GET", "/v2/userinfo") => api::userinfo(shared, req),
        ("PUT", p) if p.starts_with("/dms-uploads/") => api::upload(shared, req),
        (_, p) if p.starts_with("/rest/") => api::rest(shared, req),
        _ => json_response(
            404,
            &json!({"message": format!("No resource found for {} {}", req.method, req.path), "status": 404}),
        ),
    }
}

/// LinkedIn's generic error body for a status.
pub(crate) fn default_error_body(status: u16) -> Value {
    let message = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    json!({ "message": message, "status": status })
}

/// LinkedIn's 429: a throttle body and no rate-limit headers.
pub(crate) fn throttled() -> Response<Body> {
    json_response(
        429,
        &json!({
            "status": 429,
            "serviceErrorCode": 101,
            "code": "TOO_MANY_REQUESTS",
            "message": "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
        }),
    )
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn empty_response(status: u16, headers: &[(&str, &str)]) -> Response<Body> {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn html_error(status: u16) -> Response<Body> {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    Response::builder()
        .status(status)
        .header("Content-Type", "text/html")
        .body(Body::from(format!(
            "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
        )))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(decode_segment("urn%3Ali%3Ashare%3A1"), "urn:li:share:1");
        assert_eq!(decode_segment("a%2"), "a%2");
        assert_eq!(decode_segment("plain"), "plain");
    }
}
