//! Instagram (Content Publishing API) for professional accounts, in both set-ups of
//! `docs/platforms/instagram.md`:
//!
//! - **Instagram Login** (the default; `account.settings["login"] = "instagram"`): Instagram
//!   User tokens on `graph.instagram.com`. Images and videos go by public URL (Instagram fetches
//!   them); long-lived tokens (60 days) renew themselves with `ig_refresh_token` once they are
//!   24 h old.
//! - **Facebook Login** (`settings["login"] = "facebook"`): the Instagram account linked to a
//!   Facebook Page, on `graph.facebook.com`. Images go by URL; videos go up as bytes through
//!   the resumable upload (`upload_type=resumable`, `rupload.facebook.com`, see [`upload`]).
//!
//! `OUTPOST_INSTAGRAM_BASE_URL` replaces all three hosts (and api.instagram.com for the code
//! exchange), paths unchanged.
//!
//! **Flow** (two-phase, every step persisted by the dispatcher before the next):
//! 1. [`Publisher::start`] reads `content_publishing_limit` (a used-up quota is
//!    `RateLimited` until the oldest counted post leaves the rolling 24 h window) and creates
//!    the container — or, for a carousel (2–10 files), one child container per file
//!    (`is_carousel_item`) — then returns `Processing` with the container ids, `created_at`
//!    and `expires_at` (= created + 24 h, past which the dispatcher fails the target as
//!    "containers expired").
//! 2. [`Publisher::poll`] continues: sends the next bytes of resumable uploads (bounded per
//!    step), checks `status_code` (`IN_PROGRESS` → poll again after 5, 10, 20, 40, then 60 s;
//!    `ERROR` → permanent with Instagram's reason; `EXPIRED` → permanent "containers expired";
//!    `PUBLISHED` → already live, never published again), creates the `CAROUSEL` parent once
//!    every child is `FINISHED`, reads the quota again and calls `media_publish` (the only
//!    call that is not idempotent), then posts the first comment (`/{media-id}/comments`,
//!    recorded in `extra`).
//! 3. [`Publisher::lookup`] reconciles a `media_publish` whose answer was lost: the container's
//!    `status_code` when this process knows it (`PUBLISHED` means live), else the account's
//!    recent media matched by caption, type and time.
//!
//! Every Graph error goes through [`crate::graph::classify`]. Tokens never reach a log line, a
//! message or an excerpt.

mod auth;
mod plan;
mod upload;

use crate::graph::{self, GraphError};
use crate::http;
use crate::{Choice, Identity, Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use outpost_auth::oauth::{ClientAuth, OAuthProfile, Pkce, RedirectRule};
use outpost_auth::{OAuthTokens, SecretStore};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, Network, Part, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use auth::{staged_owner, FACEBOOK_SCOPES, SCOPES};

const NET: Network = Network::Instagram;

/// The Graph API version in every path (instagram.md / facebook.md: keep it in config, bump
/// it on purpose; v25.0 is usable until 2028-07-29).
pub const GRAPH_VERSION: &str = "v25.0";
/// Instagram Login's API host.
pub const INSTAGRAM_GRAPH_URL: &str = "https://graph.instagram.com";
/// Facebook Login's API host.
pub const FACEBOOK_GRAPH_URL: &str = "https://graph.facebook.com";
/// The resumable upload host (Facebook Login).
pub const RUPLOAD_URL: &str = "https://rupload.facebook.com";
/// The consent page of Business Login for Instagram.
pub const AUTHORIZE_URL: &str = "https://www.instagram.com/oauth/authorize";
/// The code exchange (short-lived token).
pub const TOKEN_URL: &str = "https://api.instagram.com/oauth/access_token";
/// The code exchange's path (on the base URL when `OUTPOST_INSTAGRAM_BASE_URL` is set).
pub const TOKEN_PATH: &str = "/oauth/access_token";
/// Core validation's message, mirrored here.
pub const NO_MEDIA: &str = "Instagram posts require at least one media file";
/// The message of a container that outlived Instagram's 24 h.
pub const CONTAINERS_EXPIRED: &str = "the media containers expired on Instagram's side before they could be published (containers expired) — retry the post to send the media again";
/// How long a container lives.
pub const CONTAINER_LIFETIME: chrono::Duration = chrono::Duration::hours(24);
/// Waits between status checks: Meta suggests once a minute; Outpost starts sooner and backs
/// off to that.
pub const POLL_CADENCE_SECS: [u64; 5] = [5, 10, 20, 40, 60];
/// When the quota's reset cannot be computed from the account's recent media.
pub const QUOTA_FALLBACK: chrono::Duration = chrono::Duration::hours(1);
/// Posts of the account before the attempt (less this) are not the one being reconciled.
const LOOKUP_SKEW: chrono::Duration = chrono::Duration::minutes(10);
const RECONNECT: &str =
    "reconnect the account in Accounts (or `outpost accounts connect instagram`)";

/// Which set-up an account uses (`account.settings["login"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Login {
    /// Instagram API with Instagram Login (graph.instagram.com).
    Instagram,
    /// Instagram API with Facebook Login (graph.facebook.com, Page-linked account).
    Facebook,
}

impl Login {
    /// The account's set-up: `settings["login"]`, Instagram Login by default.
    pub fn of(account: &Account) -> Login {
        match account.setting("login").map(str::trim) {
            Some(l) if l.eq_ignore_ascii_case("facebook") => Login::Facebook,
            _ => Login::Instagram,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Login::Instagram => "instagram",
            Login::Facebook => "facebook",
        }
    }
}

/// The Instagram publisher. Cheap to share (`Arc`); one per process.
pub struct Instagram {
    instagram_graph: String,
    facebook_graph: String,
    rupload: String,
    token_url: String,
    version: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    upload_chunk: usize,
    step_bytes: u64,
    step_time: Duration,
    /// One token renewal at a time per account.
    renewals: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Containers whose `media_publish` this process sent (target:part → container id), for
    /// [`Publisher::lookup`].
    publishing: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for Instagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instagram")
            .field("instagram_graph", &self.instagram_graph)
            .field("facebook_graph", &self.facebook_graph)
            .field("rupload", &self.rupload)
            .field("token_url", &self.token_url)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Instagram {
    /// The real hosts, or `OUTPOST_INSTAGRAM_BASE_URL` for all of them; the code exchange at
    /// `OUTPOST_INSTAGRAM_TOKEN_URL`, else the documented path on that base.
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> Instagram {
        let base = http::env_url(&format!("{}_BASE_URL", NET.env_prefix()), "");
        let mut ig = if base.is_empty() {
            let mut ig = Instagram::new(INSTAGRAM_GRAPH_URL, secrets);
            ig.facebook_graph = FACEBOOK_GRAPH_URL.into();
            ig.rupload = RUPLOAD_URL.into();
            ig.token_url = TOKEN_URL.into();
            ig
        } else {
            Instagram::new(base, secrets)
        };
        let token_url = http::env_url(&format!("{}_TOKEN_URL", NET.env_prefix()), "");
        if !token_url.is_empty() {
            ig.token_url = token_url;
        }
        ig
    }

    /// The Facebook Login set-up (an Instagram professional account linked to a Facebook
    /// Page): Facebook's OAuth dialog and Graph code exchange with the Page scopes. `identify`
    /// then finds the linked account through `/me/accounts`.
    pub fn facebook_login_profile(&self) -> OAuthProfile {
        let www = if self.facebook_graph == FACEBOOK_GRAPH_URL {
            "https://www.facebook.com".to_string()
        } else {
            self.facebook_graph.clone()
        };
        OAuthProfile {
            network: "instagram",
            authorize_url: format!("{www}/{}/dialog/oauth", self.version),
            token_url: format!(
                "{}/{}/oauth/access_token",
                self.facebook_graph, self.version
            ),
            scopes: FACEBOOK_SCOPES.to_vec(),
            scope_separator: ",",
            pkce: Pkce::None,
            client_auth: ClientAuth::Body,
            client_id_param: "client_id",
            needs_secret: true,
            // Meta accepts only https redirects outside development mode: relay or paste.
            redirect: RedirectRule::HttpsOnly,
            redirect_path: "/callback",
            extra_authorize_params: Vec::new(),
        }
    }

    /// A publisher whose three hosts are all `base_url` (a fake, a proxy); the code exchange
    /// at `base_url` + `/oauth/access_token`.
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> Instagram {
        let base = base_url.into().trim().trim_end_matches('/').to_string();
        Instagram {
            instagram_graph: base.clone(),
            facebook_graph: base.clone(),
            rupload: base.clone(),
            token_url: format!("{base}{TOKEN_PATH}"),
            version: GRAPH_VERSION.into(),
            http: http::client(),
            secrets,
            upload_chunk: upload::CHUNK,
            step_bytes: upload::STEP_BYTES,
            step_time: upload::STEP_TIME,
            renewals: Mutex::new(HashMap::new()),
            publishing: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the HTTP client (tests use a short timeout).
    pub fn with_http_client(mut self, client: reqwest::Client) -> Instagram {
        self.http = client;
        self
    }

    /// Sets the three hosts one by one.
    pub fn with_hosts(
        mut self,
        instagram_graph: &str,
        facebook_graph: &str,
        rupload: &str,
    ) -> Self {
        let clean = |s: &str| s.trim().trim_end_matches('/').to_string();
        self.instagram_graph = clean(instagram_graph);
        self.facebook_graph = clean(facebook_graph);
        self.rupload = clean(rupload);
        self
    }

    pub fn with_token_url(mut self, url: impl Into<String>) -> Instagram {
        self.token_url = url.into().trim().to_string();
        self
    }

    /// The Graph version in paths (`v25.0`).
    pub fn with_version(mut self, version: &str) -> Instagram {
        self.version = version.trim().trim_matches('/').to_string();
        self
    }

    /// Resumable uploads: the size of one request's body, and how much one step sends
    /// (bytes, time) before it returns to the dispatcher.
    pub fn with_upload_limits(
        mut self,
        chunk: usize,
        step_bytes: u64,
        step_time: Duration,
    ) -> Self {
        self.upload_chunk = chunk.clamp(1, outpost_media::MAX_CHUNK);
        self.step_bytes = step_bytes.max(1);
        self.step_time = step_time;
        self
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    pub fn graph_host(&self, login: Login) -> &str {
        match login {
            Login::Instagram => &self.instagram_graph,
            Login::Facebook => &self.facebook_graph,
        }
    }

    fn graph_url(&self, login: Login, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.graph_host(login),
            self.version,
            path.trim_start_matches('/')
        )
    }

    // -----------------------------------------------------------------------------------------
    // HTTP

    async fn send(&self, auth: &Auth, call: Call) -> Result<Reply, PublishError> {
        let url = self.graph_url(auth.login, &call.path);
        let mut rb = self
            .http
            .request(call.method.clone(), &url)
            .bearer_auth(auth.tokens.access_token.expose());
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        if let Some(form) = &call.form {
            rb = rb.form(form);
        }
        let http::Exchange {
            status,
            headers,
            body,
            duration_ms,
        } = http::exchange(
            NET,
            rb,
            auth.account_id.as_str(),
            call.endpoint,
            &call.what,
            call.creates,
        )
        .await?;
        tracing::debug!(
            network = NET.as_str(),
            account = auth.account_id.as_str(),
            endpoint = call.endpoint,
            status = status.as_u16(),
            duration_ms,
            usage = usage_percent(&headers),
            version = self.version.as_str(),
            "instagram request"
        );
        Ok(Reply {
            what: call.what,
            status,
            headers,
            body,
        })
    }

    /// A call that must answer 2xx with a JSON object.
    async fn call_json(&self, auth: &Auth, call: Call) -> Result<Value, PublishError> {
        let reply = self.send(auth, call).await?;
        if !reply.ok() {
            return Err(failed(&reply, &auth.secrets()));
        }
        reply
            .json()
            .filter(Value::is_object)
            .ok_or_else(|| malformed(&reply, &auth.secrets()))
    }

    // -----------------------------------------------------------------------------------------
    // Containers

    /// `POST /{ig-user-id}/media`; the container id.
    async fn create_container(
        &self,
        auth: &Auth,
        params: Vec<(&'static str, String)>,
        what: String,
    ) -> Result<String, PublishError> {
        // A lost answer is harmless (an unpublished container publishes nothing and expires):
        // not a `creates` call.
        let call = Call::post(
            format!("{}/media", auth.user_id),
            "POST /{ig-user-id}/media",
            what,
            params,
        );
        let v = self.call_json(auth, call).await?;
        match id_of(&v) {
            Some(id) => Ok(id),
            None => Err(transient(
                "Instagram created a container without saying its id — Outpost will retry",
            )),
        }
    }

    fn common_params(plan: &plan::Plan<'_>, params: &mut Vec<(&'static str, String)>) {
        if let Some(c) = &plan.caption {
            params.push(("caption", c.clone()));
        }
        if let Some(l) = &plan.options.location_id {
            params.push(("location_id", l.clone()));
        }
        if !plan.options.collaborators.is_empty() {
            params.push((
                "collaborators",
                serde_json::to_string(&plan.options.collaborators).unwrap_or_default(),
            ));
        }
    }

    /// The single container of a one-file post (image or Reel).
    async fn create_single(
        &self,
        auth: &Auth,
        plan: &plan::Plan<'_>,
    ) -> Result<Slot, PublishError> {
        let item = plan.items.first().ok_or_else(|| permanent(NO_MEDIA))?;
        let mut params: Vec<(&'static str, String)> = Vec::new();
        let upload = if item.video {
            params.push(("media_type", "REELS".into()));
            if let Some(s) = plan.options.share_to_feed {
                params.push(("share_to_feed", s.to_string()));
            }
            if let Some(t) = plan.options.thumb_offset {
                params.push(("thumb_offset", t.to_string()));
            }
            if let Some(c) = &plan.options.cover_url {
                params.push(("cover_url", c.clone()));
            }
            self.video_source(item, &mut params).await?
        } else {
            params.push(("image_url", item.url.clone().unwrap_or_default()));
            if let Some(a) = &item.alt {
                params.push(("alt_text", a.clone()));
            }
            None
        };
        Self::common_params(plan, &mut params);
        let what = format!("creating the container for {}", item.media.file_name());
        let id = self.create_container(auth, params, what).await?;
        Ok(Slot::new(id, Some(item), upload))
    }

    /// `video_url`, or `upload_type=resumable` with the file's size for the upload.
    async fn video_source(
        &self,
        item: &plan::Item<'_>,
        params: &mut Vec<(&'static str, String)>,
    ) -> Result<Option<UploadState>, PublishError> {
        match &item.url {
            Some(url) => {
                params.push(("video_url", url.clone()));
                Ok(None)
            }
            None => {
                params.push(("upload_type", "resumable".into()));
                let size = upload::file_size(item.media).await?;
                Ok(Some(UploadState { offset: 0, size }))
            }
        }
    }

    /// One carousel child.
    async fn create_child(&self, auth: &Auth, item: &plan::Item<'_>) -> Result<Slot, PublishError> {
        let mut params: Vec<(&'static str, String)> = vec![("is_carousel_item", "true".into())];
        let upload = if item.video {
            params.push(("media_type", "VIDEO".into()));
            self.video_source(item, &mut params).await?
        } else {
            params.push(("image_url", item.url.clone().unwrap_or_default()));
            // Alt text on carousel images: the reference lists alt_text for images without
            // excluding carousel items (UNCONFIRMED for children).
            if let Some(a) = &item.alt {
                params.push(("alt_text", a.clone()));
            }
            None
        };
        let what = format!("creating the carousel item for {}", item.media.file_name());
        let id = self.create_container(auth, params, what).await?;
        Ok(Slot::new(id, Some(item), upload))
    }

    /// The `CAROUSEL` parent of finished children.
    async fn create_carousel(
        &self,
        auth: &Auth,
        plan: &plan::Plan<'_>,
        children: &[Slot],
    ) -> Result<Slot, PublishError> {
        let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
        let mut params: Vec<(&'static str, String)> = vec![
            ("media_type", "CAROUSEL".into()),
            ("children", ids.join(",")),
        ];
        Self::common_params(plan, &mut params);
        let id = self
            .create_container(auth, params, "creating the carousel".into())
            .await?;
        Ok(Slot::new(id, None, None))
    }

    /// `GET /{container-id}?fields=status_code,status`.
    async fn status(&self, auth: &Auth, id: &str) -> Result<Status, PublishError> {
        let call = Call::get(
            id.to_string(),
            "GET /{container-id}",
            "checking the container's status",
        )
        .query("fields", "status_code,status");
        let v = self.call_json(auth, call).await?;
        let code = v
            .get("status_code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let said = v
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(match code.as_str() {
            "FINISHED" => Status::Finished,
            "PUBLISHED" => Status::Published,
            "ERROR" => Status::Error(said),
            "EXPIRED" => Status::Expired,
            "IN_PROGRESS" => Status::InProgress,
            other => {
                tracing::warn!(
                    network = NET.as_str(),
                    container = id,
                    status_code = other,
                    "instagram container in an unknown state; polling again"
                );
                Status::InProgress
            }
        })
    }

    /// `POST /{ig-user-id}/media_publish`: `Ok(None)` when Instagram says the container is not
    /// ready yet (9007/2207027: keep polling).
    async fn media_publish(
        &self,
        auth: &Auth,
        container: &str,
    ) -> Result<Option<String>, PublishError> {
        let call = Call::post(
            format!("{}/media_publish", auth.user_id),
            "POST /{ig-user-id}/media_publish",
            "publishing the post",
            vec![("creation_id", container.to_string())],
        )
        .creates();
        let reply = self.send(auth, call).await?;
        let secrets = auth.secrets();
        if !reply.ok() {
            let err = GraphError::parse(&reply.body);
            match err.as_ref().map(|e| (e.code, e.subcode)) {
                Some((Some(9007), Some(2207027))) => return Ok(None),
                Some((Some(9), Some(2207042))) => {
                    let q = self.quota(auth).await.ok();
                    let until = match &q {
                        Some(q) => self.quota_reset(auth, q).await,
                        None => Utc::now() + QUOTA_FALLBACK,
                    };
                    return Err(quota_error(q.as_ref(), until).with_excerpt(&reply.body, &secrets));
                }
                _ => return Err(failed(&reply, &secrets)),
            }
        }
        match reply.json().as_ref().and_then(id_of) {
            Some(id) => Ok(Some(id)),
            None => Err(PublishError::new(
                NET,
                ErrorClass::UnknownOutcome,
                format!(
                    "Instagram answered HTTP {} to publishing without the post's id; it may have been published — Outpost will check before trying again",
                    reply.status.as_u16()
                ),
            )
            .with_excerpt(&reply.body, &secrets)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Quota

    /// `GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config`.
    async fn quota(&self, auth: &Auth) -> Result<Quota, PublishError> {
        let call = Call::get(
            format!("{}/content_publishing_limit", auth.user_id),
            "GET /{ig-user-id}/content_publishing_limit",
            "reading the publishing limit",
        )
        .query("fields", "quota_usage,config");
        let v = self.call_json(auth, call).await?;
        let entry = v
            .get("data")
            .and_then(Value::as_array)
            .and_then(|d| d.first())
            .cloned()
            .unwrap_or(Value::Null);
        let number = |v: Option<&Value>| -> Option<u64> {
            v.and_then(|x| x.as_u64().or_else(|| x.as_str()?.trim().parse().ok()))
        };
        let Some(usage) = number(entry.get("quota_usage")) else {
            return Err(transient(
                "Instagram described the publishing limit without the usage — Outpost will retry",
            ));
        };
        let config = entry.get("config");
        Ok(Quota {
            usage: usage as u32,
            // The docs say 100 or 50; without a reading, the stricter one.
            total: number(config.and_then(|c| c.get("quota_total"))).unwrap_or(50) as u32,
            duration: chrono::Duration::seconds(
                number(config.and_then(|c| c.get("quota_duration"))).unwrap_or(86_400) as i64,
            ),
        })
    }

    /// When the rolling window frees a post: the oldest post of the account inside the window
    /// leaves it (read from the account's media), else [`QUOTA_FALLBACK`] from now.
    async fn quota_reset(&self, auth: &Auth, q: &Quota) -> DateTime<Utc> {
        let now = Utc::now();
        let since = now - q.duration;
        let call = Call::get(
            format!("{}/media", auth.user_id),
            "GET /{ig-user-id}/media",
            "reading the account's recent posts",
        )
        .query("fields", "id,timestamp")
        .query("since", &since.timestamp().to_string())
        .query("limit", "100");
        let oldest = match self.call_json(auth, call).await {
            Ok(v) => v
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| parse_graph_time(m.get("timestamp")?.as_str()?))
                .filter(|t| *t > since)
                .min(),
            Err(e) => {
                tracing::warn!(
                    network = NET.as_str(),
                    account = auth.account_id.as_str(),
                    error = %e.message,
                    "instagram: could not read recent posts for the quota reset"
                );
                None
            }
        };
        match oldest {
            Some(t) => (t + q.duration).clamp(now + chrono::Duration::minutes(1), now + q.duration),
            None => now + QUOTA_FALLBACK,
        }
    }

    // -----------------------------------------------------------------------------------------
    // After publishing

    /// The permalink (best effort) and the first comment (best effort), into the part.
    async fn finish(
        &self,
        req: &PartRequest<'_>,
        auth: &Auth,
        plan: &plan::Plan<'_>,
        phase: &Phase,
        media_id: &str,
    ) -> PublishedPart {
        let permalink = self.permalink(auth, media_id).await;
        let mut part = PublishedPart {
            remote_id: media_id.to_string(),
            url: permalink,
            extra: json!({
                "media_type": plan.kind(),
                "login": phase.login.as_str(),
            }),
        };
        if let Some(c) = &phase.container {
            part.extra["container_id"] = json!(c.id);
        }
        if !phase.children.is_empty() {
            part.extra["children"] = json!(phase
                .children
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>());
        }
        if let Some(comment) = plan.first_comment {
            // The post is live whatever happens now: a failed comment must not make the
            // dispatcher publish the post again.
            match self.comment(auth, media_id, comment).await {
                Ok(id) => part.extra["first_comment_id"] = json!(id),
                Err(e) => {
                    tracing::warn!(
                        network = NET.as_str(),
                        account = req.account.id.as_str(),
                        target = req.target_id,
                        class = e.class.name(),
                        error = %e.message,
                        "instagram first comment failed; the post itself is published"
                    );
                    part.extra["first_comment_error"] = json!(e.message);
                }
            }
        }
        part
    }

    async fn permalink(&self, auth: &Auth, media_id: &str) -> Option<String> {
        let call = Call::get(
            media_id.to_string(),
            "GET /{media-id}",
            "reading the post's address",
        )
        .query("fields", "permalink");
        match self.call_json(auth, call).await {
            Ok(v) => v
                .get("permalink")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(str::to_string),
            Err(e) => {
                tracing::warn!(
                    network = NET.as_str(),
                    account = auth.account_id.as_str(),
                    error = %e.message,
                    "instagram: the post is published but its address could not be read"
                );
                None
            }
        }
    }

    /// `POST /{ig-media-id}/comments`.
    async fn comment(
        &self,
        auth: &Auth,
        media_id: &str,
        text: &str,
    ) -> Result<String, PublishError> {
        let call = Call::post(
            format!("{media_id}/comments"),
            "POST /{ig-media-id}/comments",
            "posting the first comment",
            vec![("message", text.to_string())],
        );
        let v = self.call_json(auth, call).await?;
        id_of(&v).ok_or_else(|| transient("Instagram created the comment without saying its id"))
    }

    // -----------------------------------------------------------------------------------------
    // Reconciliation

    /// The account's published media since `since` that could be this part (caption, type).
    async fn find_media(
        &self,
        auth: &Auth,
        plan: &plan::Plan<'_>,
        since: DateTime<Utc>,
    ) -> Result<Found, PublishError> {
        let call = Call::get(
            format!("{}/media", auth.user_id),
            "GET /{ig-user-id}/media",
            "looking up the account's recent posts",
        )
        .query(
            "fields",
            "id,caption,timestamp,media_type,media_product_type,permalink",
        )
        .query("since", &since.timestamp().to_string())
        .query("limit", "50");
        let v = self.call_json(auth, call).await?;
        let want_type = plan.remote_media_type();
        let ours = plan.caption.as_deref().map(comparable);
        let candidates: Vec<&Value> = v
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|m| {
                m.get("timestamp")
                    .and_then(Value::as_str)
                    .and_then(parse_graph_time)
                    .is_some_and(|t| t >= since)
            })
            .filter(|m| m.get("media_type").and_then(Value::as_str) == Some(want_type))
            .collect();
        let matching: Vec<&Value> = match &ours {
            Some(caption) => candidates
                .into_iter()
                .filter(|m| {
                    m.get("caption")
                        .and_then(Value::as_str)
                        .is_some_and(|c| comparable(c) == *caption)
                })
                .collect(),
            None => candidates
                .into_iter()
                .filter(|m| {
                    m.get("caption")
                        .and_then(Value::as_str)
                        .is_none_or(|c| c.trim().is_empty())
                })
                .collect(),
        };
        // Newest first: the oldest match is the one the attempt made.
        Ok(match matching.as_slice() {
            [] => Found::None,
            [one] => Found::One(to_published(one)),
            _ if ours.is_some() => Found::One(to_published(
                matching.last().copied().unwrap_or(&Value::Null),
            )),
            _ => Found::Ambiguous(matching.len()),
        })
    }

    fn remember(&self, req: &PartRequest<'_>, container: &str) {
        self.publishing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                format!("{}:{}", req.target_id, req.part_index),
                container.into(),
            );
    }

    fn forget(&self, req: &PartRequest<'_>) {
        self.publishing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&format!("{}:{}", req.target_id, req.part_index));
    }

    fn remembered(&self, req: &PartRequest<'_>) -> Option<String> {
        self.publishing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&format!("{}:{}", req.target_id, req.part_index))
            .cloned()
    }

    /// The main container says `PUBLISHED`: the post is live; find its id, never publish again.
    async fn already_published(
        &self,
        req: &PartRequest<'_>,
        auth: &Auth,
        plan: &plan::Plan<'_>,
        phase: &Phase,
    ) -> Result<PartOutcome, PublishError> {
        self.forget(req);
        let since = phase.created_at - LOOKUP_SKEW;
        let container = phase
            .container
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default();
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            container = container.as_str(),
            "instagram container is already published; not publishing again"
        );
        let mut part = match self.find_media(auth, plan, since).await? {
            Found::One(p) => p,
            _ => PublishedPart {
                remote_id: container.clone(),
                url: None,
                extra: json!({
                    "notice": "Instagram published this post but did not say its id — find it on the profile",
                }),
            },
        };
        part.extra["container_id"] = json!(container);
        part.extra["media_type"] = json!(plan.kind());
        part.extra["login"] = json!(phase.login.as_str());
        note_unposted_comment(plan, &mut part);
        Ok(PartOutcome::Published(part))
    }

    // -----------------------------------------------------------------------------------------
    // Steps

    fn wait(&self, mut phase: Phase) -> PartOutcome {
        phase.polls += 1;
        let i = (phase.polls.saturating_sub(1) as usize).min(POLL_CADENCE_SECS.len() - 1);
        PartOutcome::Processing {
            poll_after: Duration::from_secs(POLL_CADENCE_SECS[i]),
            phase: phase.to_value(),
        }
    }

    /// Checks one container's status; `Ok(true)` when finished, `Ok(false)` when in progress.
    async fn check_ready(
        &self,
        auth: &Auth,
        slot: &Slot,
        plan: &plan::Plan<'_>,
    ) -> Result<Result<bool, Status>, PublishError> {
        Ok(match self.status(auth, &slot.id).await? {
            Status::Finished => Ok(true),
            Status::InProgress => Ok(false),
            Status::Error(reason) => {
                let file = slot
                    .media
                    .and_then(|i| plan.items.iter().find(|it| it.index == i))
                    .map(|it| it.media.file_name().to_string());
                return Err(processing_failed(file.as_deref(), &reason));
            }
            Status::Expired => return Err(permanent(CONTAINERS_EXPIRED)),
            Status::Published => Err(Status::Published),
        })
    }

    async fn step(
        &self,
        req: &PartRequest<'_>,
        mut phase: Phase,
    ) -> Result<PartOutcome, PublishError> {
        let plan = plan::plan(req, phase.login, false)?;
        phase.check_against(&plan)?;
        let auth = self.auth_for(req.account, phase.login).await?;

        // 1. Bytes of resumable uploads, a bounded amount per step.
        if !self.upload_step(&auth, &plan, &mut phase).await? {
            return Ok(PartOutcome::Processing {
                phase: phase.to_value(),
                poll_after: Duration::ZERO,
            });
        }

        // 2. Carousel children, then the parent.
        if !phase.children.is_empty() {
            let mut waiting = false;
            for i in 0..phase.children.len() {
                if phase.children[i].ready {
                    continue;
                }
                match self.check_ready(&auth, &phase.children[i], &plan).await? {
                    Ok(true) | Err(_) => phase.children[i].ready = true,
                    Ok(false) => waiting = true,
                }
            }
            if waiting {
                return Ok(self.wait(phase));
            }
            if phase.container.is_none() {
                let parent = self.create_carousel(&auth, &plan, &phase.children).await?;
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    container = parent.id.as_str(),
                    children = phase.children.len(),
                    "instagram carousel container created"
                );
                phase.container = Some(parent);
                phase.polls = 0;
                return Ok(PartOutcome::Processing {
                    phase: phase.to_value(),
                    poll_after: Duration::ZERO,
                });
            }
        }

        // 3. The container to publish.
        let Some(main) = phase.container.clone() else {
            return Err(permanent(
                "the stored publishing state has no container — retry the post",
            ));
        };
        if !main.ready {
            match self.check_ready(&auth, &main, &plan).await? {
                Ok(true) => {
                    if let Some(c) = phase.container.as_mut() {
                        c.ready = true;
                    }
                }
                Ok(false) => return Ok(self.wait(phase)),
                Err(_) => return self.already_published(req, &auth, &plan, &phase).await,
            }
        }

        // 4. The quota, right before publishing.
        let q = self.quota(&auth).await?;
        if q.used_up() {
            let until = self.quota_reset(&auth, &q).await;
            return Err(quota_error(Some(&q), until));
        }

        // 5. Publish (the only call that is not idempotent).
        self.remember(req, &main.id);
        let started = Instant::now();
        let published = match self.media_publish(&auth, &main.id).await {
            Ok(p) => p,
            Err(e) => {
                if e.class != ErrorClass::UnknownOutcome {
                    self.forget(req);
                }
                return Err(e);
            }
        };
        let Some(media_id) = published else {
            self.forget(req);
            if let Some(c) = phase.container.as_mut() {
                c.ready = false;
            }
            return Ok(self.wait(phase));
        };
        self.forget(req);
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            media = media_id.as_str(),
            container = main.id.as_str(),
            kind = plan.kind(),
            duration_ms = started.elapsed().as_millis() as u64,
            "instagram post published"
        );
        let part = self.finish(req, &auth, &plan, &phase, &media_id).await;
        Ok(PartOutcome::Published(part))
    }
}

// ---------------------------------------------------------------------------------------------
// Plumbing types

/// One API request (path relative to `/{version}/`).
struct Call {
    method: Method,
    path: String,
    endpoint: &'static str,
    query: Vec<(&'static str, String)>,
    form: Option<Vec<(&'static str, String)>>,
    what: String,
    /// A side effect a retry could repeat (`media_publish`).
    creates: bool,
}

impl Call {
    fn get(path: String, endpoint: &'static str, what: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path,
            endpoint,
            query: Vec::new(),
            form: None,
            what: what.into(),
            creates: false,
        }
    }
    fn post(
        path: String,
        endpoint: &'static str,
        what: impl Into<String>,
        form: Vec<(&'static str, String)>,
    ) -> Call {
        Call {
            method: Method::POST,
            form: Some(form),
            ..Call::get(path, endpoint, what)
        }
    }
    fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_string()));
        self
    }
    fn creates(mut self) -> Call {
        self.creates = true;
        self
    }
}

/// An HTTP answer, body read.
struct Reply {
    what: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn ok(&self) -> bool {
        self.status.is_success()
    }
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// The tokens and ids one operation uses.
pub(crate) struct Auth {
    account_id: String,
    tokens: OAuthTokens,
    login: Login,
    /// The Instagram professional account id (`/{ig-user-id}/…`).
    user_id: String,
}

impl Auth {
    fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.tokens.access_token.expose()];
        if let Some(rt) = &self.tokens.refresh_token {
            out.push(rt.expose());
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    InProgress,
    Finished,
    Published,
    Error(String),
    Expired,
}

#[derive(Debug, Clone, Copy)]
struct Quota {
    usage: u32,
    total: u32,
    duration: chrono::Duration,
}

impl Quota {
    fn used_up(&self) -> bool {
        self.usage >= self.total
    }
}

enum Found {
    None,
    One(PublishedPart),
    Ambiguous(usize),
}

/// A resumable upload's progress: bytes Instagram confirmed, of `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadState {
    pub offset: u64,
    pub size: u64,
}

/// One container of the part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Slot {
    pub id: String,
    /// Index of the file in the part's media (`None`: the carousel parent).
    #[serde(default)]
    pub media: Option<usize>,
    /// The file's SHA-256, to notice a changed part.
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub upload: Option<UploadState>,
    /// `FINISHED` was seen.
    #[serde(default)]
    pub ready: bool,
}

impl Slot {
    fn new(id: String, item: Option<&plan::Item<'_>>, upload: Option<UploadState>) -> Slot {
        Slot {
            id,
            media: item.map(|i| i.index),
            sha256: item.map(|i| i.media.sha256.clone()).unwrap_or_default(),
            upload,
            ready: false,
        }
    }
}

/// The stored state of a part between steps (`PartOutcome::Processing::phase`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Phase {
    pub part: usize,
    pub login: Login,
    pub created_at: DateTime<Utc>,
    /// `created_at` + 24 h: the dispatcher fails the target past it ("containers expired").
    pub expires_at: DateTime<Utc>,
    /// Carousel children, in order.
    #[serde(default)]
    pub children: Vec<Slot>,
    /// The single container, or the carousel parent once created.
    #[serde(default)]
    pub container: Option<Slot>,
    /// Status checks answered `IN_PROGRESS` in a row (for the back-off).
    #[serde(default)]
    pub polls: u32,
}

impl Phase {
    fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        v["expires_at"] = json!(self
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        v["created_at"] = json!(self
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        v
    }

    /// The stored containers still describe the part's files.
    fn check_against(&self, plan: &plan::Plan<'_>) -> Result<(), PublishError> {
        let slots = self.children.iter().chain(self.container.iter());
        for s in slots {
            let Some(i) = s.media else { continue };
            let same = plan
                .items
                .iter()
                .find(|it| it.index == i)
                .is_some_and(|it| s.sha256.is_empty() || it.media.sha256 == s.sha256);
            if !same {
                return Err(permanent(
                    "the post's files changed while Instagram was processing them — retry the post to send them again",
                ));
            }
        }
        let expected = if plan.is_carousel() {
            plan.items.len()
        } else {
            0
        };
        if self.children.len() != expected {
            return Err(permanent(
                "the post's files changed while Instagram was processing them — retry the post to send them again",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A post found live after its publish answer was lost: Outpost cannot tell whether the first
/// comment went out too, and does not risk a second one.
fn note_unposted_comment(plan: &plan::Plan<'_>, part: &mut PublishedPart) {
    if plan.first_comment.is_some() {
        part.extra["first_comment_error"] = json!(
            "the post went out but Instagram's answer was lost, so Outpost did not post the first comment — add it on Instagram if it is missing"
        );
    }
}

/// Graph timestamps: `2024-05-01T12:00:00+0000` (or RFC 3339).
fn parse_graph_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Captions made comparable: whitespace folded.
fn comparable(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn to_published(m: &Value) -> PublishedPart {
    PublishedPart {
        remote_id: id_of(m).unwrap_or_default(),
        url: m
            .get("permalink")
            .and_then(Value::as_str)
            .map(str::to_string),
        extra: json!({}),
    }
}

/// The highest percentage of the `X-Business-Use-Case-Usage` entries (for logs).
fn usage_percent(headers: &HeaderMap) -> Option<u64> {
    let raw = headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())?;
    let v: Value = serde_json::from_str(raw).ok()?;
    v.as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .flat_map(|e| {
            ["call_count", "total_cputime", "total_time"]
                .into_iter()
                .filter_map(|k| e.get(k)?.as_u64())
        })
        .max()
}

fn permanent(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Permanent, message)
}

fn transient(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Transient { retry_after: None }, message)
}

fn reauth(message: impl Into<String>) -> PublishError {
    let message = message.into();
    PublishError::new(NET, ErrorClass::Reauth, format!("{message} — {RECONNECT}"))
}

/// A failed Graph call, classified once by [`graph::classify`].
fn failed(reply: &Reply, secrets: &[&str]) -> PublishError {
    let status = reply.status.as_u16();
    let err = GraphError::parse(&reply.body).unwrap_or_else(|| GraphError {
        message: if (300..400).contains(&status) {
            format!("HTTP {status}: a redirect — check OUTPOST_INSTAGRAM_BASE_URL")
        } else {
            format!("HTTP {status}")
        },
        ..GraphError::default()
    });
    let mut e = graph::classify(NET, &reply.what, status, &err, &reply.headers, Utc::now());
    e.message = redact(&e.message, secrets);
    tracing::warn!(
        network = NET.as_str(),
        status,
        code = err.code,
        subcode = err.subcode,
        class = e.class.name(),
        fbtrace_id = err.fbtrace_id.as_deref().unwrap_or("-"),
        what = reply.what.as_str(),
        "instagram request failed"
    );
    e.with_excerpt(&reply.body, secrets)
}

/// A 2xx answer whose body is not what the reference promises.
fn malformed(reply: &Reply, secrets: &[&str]) -> PublishError {
    transient(format!(
        "Instagram answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
        reply.what,
        reply.status.as_u16()
    ))
    .with_excerpt(&reply.body, secrets)
}

fn quota_error(q: Option<&Quota>, until: DateTime<Utc>) -> PublishError {
    let numbers = match q {
        Some(q) => format!("{} of {} posts in 24 h", q.usage, q.total),
        None => "the rolling 24-hour limit".into(),
    };
    PublishError::new(
        NET,
        ErrorClass::RateLimited { until },
        format!(
            "the publishing limit is used up ({numbers}) — Outpost waits until {} UTC, when the oldest counted post leaves Instagram's rolling 24-hour window",
            until.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// A container in `ERROR`: permanent, with Instagram's reason and a hint when the subcode is
/// known.
fn processing_failed(file: Option<&str>, reason: &str) -> PublishError {
    let reason = sanitize_message(reason, 160);
    let hint = if reason.contains("2207026") {
        " — convert the video to MP4 (H.264, AAC) within Instagram's limits"
    } else if reason.contains("2207052") || reason.contains("2207003") {
        " — Instagram could not fetch the file from the staging bucket; check that its addresses are public"
    } else if reason.contains("2207004") || reason.contains("2207005") || reason.contains("2207009")
    {
        " — use a JPEG of at most 8 MB with an aspect ratio between 4:5 and 1.91:1"
    } else {
        " — check the file against Instagram's media rules, then retry the post"
    };
    let what = match file {
        Some(f) => format!("Instagram could not process {f}"),
        None => "Instagram could not process the carousel".to_string(),
    };
    let reason = if reason.is_empty() {
        "status ERROR".to_string()
    } else {
        reason
    };
    permanent(format!("{what} ({reason}){hint}"))
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Publisher for Instagram {
    fn network(&self) -> Network {
        NET
    }

    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    /// Instagram publishes in two phases (containers, then `media_publish`), with the container
    /// ids persisted in between: the dispatcher uses [`Publisher::start`] and
    /// [`Publisher::poll`].
    async fn publish(&self, _req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        Err(permanent(
            "internal error: Instagram posts are published in two phases (start, then poll) — report this bug",
        ))
    }

    /// Reads the quota and creates the container(s); the rest happens in [`Publisher::poll`].
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let login = Login::of(req.account);
        let plan = plan::plan(req, login, true)?;
        let auth = self.auth_for(req.account, login).await?;
        let q = self.quota(&auth).await?;
        if q.used_up() {
            let until = self.quota_reset(&auth, &q).await;
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                usage = q.usage,
                total = q.total,
                until = %until,
                "instagram publishing quota used up; waiting"
            );
            return Err(quota_error(Some(&q), until));
        }
        let started = Instant::now();
        let now = Utc::now();
        let mut phase = Phase {
            part: req.part_index,
            login,
            created_at: now,
            expires_at: now + CONTAINER_LIFETIME,
            children: Vec::new(),
            container: None,
            polls: 0,
        };
        if plan.is_carousel() {
            for item in &plan.items {
                phase.children.push(self.create_child(&auth, item).await?);
            }
        } else {
            phase.container = Some(self.create_single(&auth, &plan).await?);
        }
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            kind = plan.kind(),
            containers = phase.children.len() + usize::from(phase.container.is_some()),
            login = login.as_str(),
            quota_usage = q.usage,
            quota_total = q.total,
            duration_ms = started.elapsed().as_millis() as u64,
            "instagram containers created"
        );
        Ok(PartOutcome::Processing {
            phase: phase.to_value(),
            poll_after: Duration::ZERO,
        })
    }

    /// One step: upload bytes, check statuses, create the carousel, publish.
    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let Ok(phase) = serde_json::from_value::<Phase>(phase.clone()) else {
            return Err(permanent(
                "the stored publishing state cannot be read — retry the post to send it again",
            ));
        };
        self.step(req, phase).await
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let login = Login::of(req.account);
        let plan = match plan::plan(req, login, false) {
            Ok(p) => p,
            Err(e) => return Ok(Lookup::CannotTell(e.message)),
        };
        let auth = self.auth_for(req.account, login).await?;
        if let Some(container) = self.remembered(req) {
            match self.status(&auth, &container).await? {
                Status::Published => {}
                // FINISHED, IN_PROGRESS, ERROR, EXPIRED: provably not published.
                _ => {
                    self.forget(req);
                    return Ok(Lookup::NotFound);
                }
            }
        }
        let since = req.intent_at - LOOKUP_SKEW;
        match self.find_media(&auth, &plan, since).await? {
            Found::One(mut part) => {
                self.forget(req);
                part.extra["media_type"] = json!(plan.kind());
                part.extra["login"] = json!(login.as_str());
                note_unposted_comment(&plan, &mut part);
                tracing::info!(
                    network = NET.as_str(),
                    account = req.account.id.as_str(),
                    target = req.target_id,
                    media = part.remote_id.as_str(),
                    "instagram lookup found the post"
                );
                Ok(Lookup::Found(part))
            }
            Found::None => Ok(Lookup::NotFound),
            Found::Ambiguous(n) => Ok(Lookup::CannotTell(format!(
                "Instagram: {n} recent posts without a caption could be this one — check the profile"
            ))),
        }
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        self.renew(account).await
    }

    /// Moves the long-lived token `identify` obtained while connecting under the account.
    async fn adopt(&self, account: &Account) -> Result<bool, PublishError> {
        self.adopt_staged(account).await
    }

    async fn probe(&self, account: &Account) -> Result<(), PublishError> {
        let login = Login::of(account);
        let auth = self.auth_for(account, login).await?;
        let call = match login {
            Login::Instagram => Call::get("me".into(), "GET /me", "checking the account")
                .query("fields", "user_id,username"),
            Login::Facebook => Call::get(
                auth.user_id.clone(),
                "GET /{ig-user-id}",
                "checking the account",
            )
            .query("fields", "id,username"),
        };
        self.call_json(&auth, call).await.map(|_| ())
    }

    /// Images always go by URL (Instagram fetches them); a part of videos only goes by URL
    /// when a bucket is set up (Facebook Login sends the bytes; Instagram Login then needs the
    /// bucket and says so).
    fn media_by_url(&self, part: &Part, _options: &Value) -> MediaByUrl {
        if part.media.iter().any(|m| m.is_image()) {
            MediaByUrl::Required
        } else if part.media.is_empty() {
            MediaByUrl::No
        } else {
            MediaByUrl::IfAvailable
        }
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        Some(
            OAuthProfile {
                network: "instagram",
                authorize_url: AUTHORIZE_URL.to_string(),
                token_url: self.token_url.clone(),
                scopes: SCOPES.to_vec(),
                scope_separator: ",",
                // Not documented for Instagram Login (UNCONFIRMED): the exchange uses the secret.
                pkce: Pkce::None,
                client_auth: ClientAuth::Body,
                client_id_param: "client_id",
                needs_secret: true,
                // https only (probably; UNCONFIRMED): the relay page or a pasted address.
                redirect: RedirectRule::HttpsOnly,
                redirect_path: "/callback",
                extra_authorize_params: Vec::new(),
            }
            .with_env_overrides(),
        )
    }

    async fn identify(
        &self,
        tokens: &OAuthTokens,
        settings: &Value,
    ) -> Result<Identity, PublishError> {
        self.who_am_i(tokens, settings).await
    }

    /// `"quota"`: the live publishing limit, one item `{id: "content_publishing_limit",
    /// name: "<used> of <total> posts in 24 h", extra: {quota_usage, quota_total}}`.
    async fn choices(&self, account: &Account, kind: &str) -> Result<Vec<Choice>, PublishError> {
        if kind != "quota" {
            return Ok(Vec::new());
        }
        let auth = self.auth_for(account, Login::of(account)).await?;
        let q = self.quota(&auth).await?;
        Ok(vec![Choice {
            id: "content_publishing_limit".into(),
            name: format!("{} of {} posts in 24 h", q.usage, q.total),
            extra: json!({
                "quota_usage": q.usage,
                "quota_total": q.total,
                "quota_duration": q.duration.num_seconds(),
            }),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_are_read() {
        let t = parse_graph_time("2024-05-01T12:00:00+0000").map(|t| t.timestamp());
        assert_eq!(t, Some(1_714_564_800));
        assert!(parse_graph_time("2024-05-01T12:00:00Z").is_some());
    }

    #[test]
    fn the_phase_carries_part_and_expiry_in_rfc3339() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let p = Phase {
            part: 0,
            login: Login::Instagram,
            created_at: now,
            expires_at: now + CONTAINER_LIFETIME,
            children: Vec::new(),
            container: Some(Slot {
                id: "17890000000000001".into(),
                media: Some(0),
                sha256: "ab".into(),
                upload: None,
                ready: false,
            }),
            polls: 0,
        };
        let v = p.to_value();
        assert_eq!(v["part"], 0);
        assert_eq!(v["expires_at"], "2027-01-16T08:00:00Z");
        let back: Phase = serde_json::from_value(v).unwrap_or_else(|_| p.clone());
        assert_eq!(back, p);
    }

    #[test]
    fn polling_backs_off_to_a_minute() {
        let ig = Instagram::new(
            "http://127.0.0.1:9",
            Arc::new(outpost_auth::MemoryStore::new()),
        );
        let now = Utc::now();
        let mut phase = Phase {
            part: 0,
            login: Login::Instagram,
            created_at: now,
            expires_at: now,
            children: Vec::new(),
            container: None,
            polls: 0,
        };
        let mut waits = Vec::new();
        for _ in 0..7 {
            let PartOutcome::Processing {
                phase: next,
                poll_after,
            } = ig.wait(phase.clone())
            else {
                panic!("processing")
            };
            waits.push(poll_after.as_secs());
            phase = serde_json::from_value(next).unwrap_or_else(|_| phase.clone());
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60, 60]);
    }

    #[test]
    fn a_failed_container_names_the_file_and_the_reason() {
        let e = processing_failed(
            Some("clip.mp4"),
            "Error: Media upload has failed with error code 2207026.",
        );
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("clip.mp4") && e.message.contains("2207026"));
        assert!(e.message.contains("convert the video"), "{}", e.message);
    }

    #[test]
    fn usage_is_read_from_the_buc_header() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            reqwest::header::HeaderValue::from_static(
                r#"{"1784":[{"type":"instagram","call_count":12,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":0}]}"#,
            ),
        );
        assert_eq!(usage_percent(&h), Some(12));
    }
}
