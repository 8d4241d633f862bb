//! Facebook Pages (Graph API v27.0): text and link posts, one or more photos, videos through
//! the resumable upload, Reels, a first comment, hand-off to Facebook's own scheduling, and
//! reconciliation by reading the Page's posts. See `docs/platforms/facebook.md` and
//! `docs/networks/facebook.md`.
//!
//! - **Accounts are Pages.** The user signs in with their own Meta app (App ID + App Secret);
//!   [`Publisher::identify`] exchanges the dialog's short-lived user token for a long-lived one
//!   (`fb_exchange_token`), lists `/me/accounts` and picks the Page named in
//!   `settings["page_id"]` (else the first Page the user may create content on). The Page access
//!   token is kept in the secret store under `account_key(account.id, "page_token")`. Because
//!   `identify` runs before the account exists, it leaves both tokens under a Page-scoped key
//!   (see [`auth`]) that the first call for the account adopts — [`Facebook::adopt_staged`].
//! - **Publishing** always uses the Page token; the resumable video upload session uses the
//!   user token (Meta's rule). Every Graph error goes through [`crate::graph::classify`].
//! - **Create calls** (`/feed`, `/videos`) have no idempotency key: a lost answer is
//!   `UnknownOutcome` and [`Publisher::lookup`] reads `/published_posts` and `/scheduled_posts`
//!   (or `/videos`, `/video_reels`) for a post with the same text made since the attempt.
//! - **Long uploads** are cut into dispatcher steps of at most [`DEFAULT_UPLOAD_STEP`] bytes;
//!   each step asks Facebook for the committed offset first, so a crash or restart resumes.
//! - **Hand-off** (`options.hand_off = true`, scheduled at least 10 minutes ahead): the post is
//!   created with `published=false` + `scheduled_publish_time` and Facebook publishes it;
//!   [`Publisher::update_held`] / [`Publisher::delete_held`] edit or delete it.
//!
//! Nothing here sleeps or retries: one attempt, classified once. Tokens never reach a log line,
//! an error message or an excerpt.

mod auth;
mod reel;
mod video;

use crate::graph::{self, GraphError};
use crate::http;
use crate::secrets;
use crate::{Choice, Identity, Lookup, PartOutcome, PartRequest, Publisher};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use outpost_auth::oauth::{ClientAuth, OAuthProfile, Pkce, RedirectRule};
use outpost_auth::{OAuthTokens, Secret, SecretStore};
use outpost_core::error::{redact, sanitize_message};
use outpost_core::{Account, ErrorClass, MediaRef, Network, PublishError, PublishedPart};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NET: Network = Network::Facebook;
/// The one place the Graph API version is written (facebook.md: v27.0, released 2026-11-04).
macro_rules! graph_version {
    () => {
        "v27.0"
    };
}
/// The Graph API version in every path. Bump it on purpose: Graph silently serves an expired
/// version as the next one still usable, so the version in use is logged with every request.
pub const GRAPH_VERSION: &str = graph_version!();
/// The Graph host (`OUTPOST_FACEBOOK_BASE_URL` replaces it, and the video host too).
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// Where `POST /{page-id}/videos` goes.
pub const DEFAULT_VIDEO_BASE_URL: &str = "https://graph-video.facebook.com";
/// The Login dialog.
pub const AUTHORIZE_URL: &str = concat!(
    "https://www.facebook.com/",
    graph_version!(),
    "/dialog/oauth"
);
/// The token endpoint's path on the Graph host.
pub const TOKEN_PATH: &str = concat!("/", graph_version!(), "/oauth/access_token");
/// What Outpost asks for: publishing needs `pages_show_list`, `pages_manage_posts` and
/// `pages_read_engagement`; the first comment needs `pages_manage_engagement`.
pub const SCOPES: [&str; 4] = [
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_manage_engagement",
];
/// The `what` of the secret-store key holding an account's Page token.
pub const PAGE_TOKEN_KEY: &str = "page_token";
/// Bytes sent per dispatcher step of a video or Reel upload.
pub const DEFAULT_UPLOAD_STEP: usize = 32 * 1024 * 1024;
/// Facebook holds a post from 10 minutes to 30 days ahead (the upper bound is UNCONFIRMED:
/// one client says 6 months).
pub const MIN_HOLD: chrono::Duration = chrono::Duration::minutes(10);
pub const MAX_HOLD: chrono::Duration = chrono::Duration::days(30);
/// Feed post text (the value clients use; UNCONFIRMED, counted in characters).
pub const MAX_TEXT_CHARS: usize = 63_206;
/// Photos up to 4 MB (subcode 1366046 beyond).
pub const MAX_PHOTO_BYTES: u64 = 4 * 1024 * 1024;
/// How far before the recorded intent the reconciliation read starts (clock differences).
const LOOKUP_MARGIN_MINUTES: i64 = 5;
/// Pages of 100 posts the reconciliation read looks through at most.
const LOOKUP_PAGES: usize = 3;
/// Image types Facebook takes (facebook.md: JPEG, BMP, PNG, GIF, TIFF; Meta's own upload
/// message also names WebP).
const IMAGE_MIMES: [&str; 7] = [
    "image/jpeg",
    "image/jpg",
    "image/png",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/webp",
];
const VIDEO_MIMES: [&str; 2] = ["video/mp4", "video/quicktime"];
const RECONNECT: &str = "reconnect the Page in Accounts (or `outpost accounts connect facebook`)";

/// The Facebook Pages publisher. Cheap to share (`Arc`); one per process.
pub struct Facebook {
    base: String,
    video_base: String,
    token_url: String,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    upload_step: usize,
}

impl fmt::Debug for Facebook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Facebook")
            .field("base", &self.base)
            .field("video_base", &self.video_base)
            .field("token_url", &self.token_url)
            .field("upload_step", &self.upload_step)
            .finish_non_exhaustive()
    }
}

impl Facebook {
    /// Graph at `OUTPOST_FACEBOOK_BASE_URL` (default `https://graph.facebook.com`; the
    /// variable replaces `graph-video.facebook.com` and `rupload.facebook.com` too), the token
    /// endpoint at `OUTPOST_FACEBOOK_TOKEN_URL`, else the documented path on that host;
    /// `OUTPOST_FACEBOOK_UPLOAD_STEP_BYTES` changes the upload step.
    pub fn from_env(secrets: Arc<dyn SecretStore>) -> Facebook {
        let base = http::base_url(NET, DEFAULT_BASE_URL);
        let overridden = base != DEFAULT_BASE_URL;
        let token_url = http::env_url("OUTPOST_FACEBOOK_TOKEN_URL", &format!("{base}{TOKEN_PATH}"));
        let mut fb = Facebook::new(base, secrets).with_token_url(token_url);
        if !overridden {
            fb.video_base = DEFAULT_VIDEO_BASE_URL.to_string();
        }
        // Smaller upload steps (tests, very slow links).
        if let Some(step) = std::env::var("OUTPOST_FACEBOOK_UPLOAD_STEP_BYTES")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            fb = fb.with_upload_step(step);
        }
        fb
    }

    /// A publisher talking to `base_url` for every Graph host (its token endpoint at
    /// `base_url` + `/v27.0/oauth/access_token`).
    pub fn new(base_url: impl Into<String>, secrets: Arc<dyn SecretStore>) -> Facebook {
        let base = base_url.into().trim().trim_end_matches('/').to_string();
        Facebook {
            token_url: format!("{base}{TOKEN_PATH}"),
            video_base: base.clone(),
            base,
            http: http::client(),
            secrets,
            upload_step: DEFAULT_UPLOAD_STEP,
        }
    }

    /// Replaces the HTTP client (tests use a short timeout).
    pub fn with_http_client(mut self, client: reqwest::Client) -> Facebook {
        self.http = client;
        self
    }

    pub fn with_token_url(mut self, url: impl Into<String>) -> Facebook {
        self.token_url = url.into().trim().to_string();
        self
    }

    pub fn with_video_base_url(mut self, url: impl Into<String>) -> Facebook {
        self.video_base = url.into().trim().trim_end_matches('/').to_string();
        self
    }

    /// Bytes per upload step (default 32 MiB), clamped to 1 byte – 64 MiB.
    pub fn with_upload_step(mut self, bytes: usize) -> Facebook {
        self.upload_step = bytes.clamp(1, outpost_media::MAX_CHUNK);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// `https://graph.facebook.com/v27.0/<path>`.
    fn graph(&self, path: &str) -> String {
        format!(
            "{}/{GRAPH_VERSION}/{}",
            self.base,
            path.trim_start_matches('/')
        )
    }

    // -----------------------------------------------------------------------------------------
    // HTTP

    async fn send(&self, token: &str, account_id: &str, call: Call) -> Result<Reply, PublishError> {
        let mut rb = self.http.request(call.method.clone(), &call.url);
        rb = match call.auth {
            AuthScheme::Bearer => rb.bearer_auth(token),
            // The resumable upload and rupload hosts document `Authorization: OAuth <token>`.
            AuthScheme::OAuth => {
                rb.header(reqwest::header::AUTHORIZATION, format!("OAuth {token}"))
            }
            AuthScheme::None => rb,
        };
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        for (k, v) in &call.headers {
            rb = rb.header(*k, v.as_str());
        }
        if let Some(t) = call.timeout {
            rb = rb.timeout(t);
        }
        rb = match call.body {
            Body::Empty => rb,
            Body::Form(fields) => rb.form(&fields),
            Body::Multipart { boundary, bytes } => rb
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(bytes),
            Body::Bytes(bytes) => rb
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
        };
        let http::Exchange {
            status,
            headers,
            body,
            duration_ms,
        } = http::exchange(NET, rb, account_id, call.endpoint, &call.what, call.creates).await?;
        let fbtrace = (!status.is_success())
            .then(|| GraphError::parse(&body).and_then(|e| e.fbtrace_id))
            .flatten();
        tracing::debug!(
            network = NET.as_str(),
            account = account_id,
            endpoint = call.endpoint,
            graph_version = GRAPH_VERSION,
            status = status.as_u16(),
            duration_ms,
            app_usage = graph::app_usage_percent(&headers),
            regain_minutes = graph::regain_access_minutes(&headers),
            fbtrace_id = fbtrace.as_deref(),
            "facebook request"
        );
        Ok(Reply {
            what: call.what,
            status,
            headers,
            body,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Secret store (blocking: run off the async threads)

    async fn store_get(&self, key: String) -> Result<Option<Secret>, PublishError> {
        Ok(secrets::get(&self.secrets, NET, key)
            .await?
            .filter(|s| !s.is_empty()))
    }

    async fn store_set(&self, key: String, value: Secret) -> Result<(), PublishError> {
        secrets::set(&self.secrets, NET, key, value).await
    }

    async fn store_delete(&self, key: String) -> Result<(), PublishError> {
        secrets::delete(&self.secrets, NET, key).await
    }

    async fn load_tokens(&self, owner: &str) -> Result<Option<OAuthTokens>, PublishError> {
        secrets::load_tokens(&self.secrets, NET, owner).await
    }

    async fn save_tokens(&self, owner: &str, tokens: OAuthTokens) -> Result<(), PublishError> {
        secrets::save_tokens(&self.secrets, NET, owner, tokens).await
    }

    // -----------------------------------------------------------------------------------------
    // Feed posts and photos

    /// `POST /{page-id}/feed`; returns the post id (`{page}_{post}`).
    async fn create_feed_post(
        &self,
        s: &Session,
        plan: &Plan<'_>,
        photo_ids: &[String],
        hold: Option<DateTime<Utc>>,
    ) -> Result<String, PublishError> {
        let mut form: Vec<(String, String)> = Vec::new();
        if !plan.text.is_empty() {
            form.push(("message".into(), plan.text.to_string()));
        }
        if let Some(link) = &plan.link {
            form.push(("link".into(), link.clone()));
        }
        if !photo_ids.is_empty() {
            let media: Vec<Value> = photo_ids
                .iter()
                .map(|id| json!({ "media_fbid": id }))
                .collect();
            form.push(("attached_media".into(), Value::Array(media).to_string()));
        }
        push_timing(&mut form, hold);
        let call = Call::post(
            self.graph(&format!("{}/feed", s.page_id)),
            "POST /{page-id}/feed",
            if hold.is_some() {
                "handing the post to Facebook's scheduling"
            } else {
                "creating the post"
            },
            Body::Form(form),
        )
        .creates();
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        match reply.json().and_then(|v| text_of(&v, "id")) {
            Some(id) => Ok(id),
            None => Err(PublishError::new(
                NET,
                ErrorClass::UnknownOutcome,
                format!(
                    "Facebook answered HTTP {} to {} without the post's id; it may have been published — Outpost will check before trying again",
                    reply.status.as_u16(),
                    reply.what
                ),
            )
            .with_excerpt(&reply.body, &s.secrets())),
        }
    }

    /// `POST /{page-id}/photos` with `published=false` (invisible until a post attaches it, so
    /// uploading it again after a failure is harmless).
    async fn upload_photo(&self, s: &Session, m: &MediaRef) -> Result<String, PublishError> {
        let file = m.file_name().to_string();
        let bytes = read_whole(m, MAX_PHOTO_BYTES).await?;
        let mut fields: Vec<(&str, String)> = vec![("published", "false".into())];
        if let Some(alt) = m.alt.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            // Custom alt text on Page photos (Graph `alt_text_custom`).
            fields.push(("alt_text_custom", alt.to_string()));
        }
        let (boundary, body) = multipart(&fields, "source", &file, &m.mime, bytes);
        let call = Call::post(
            self.graph(&format!("{}/photos", s.page_id)),
            "POST /{page-id}/photos",
            format!("uploading {file}"),
            Body::Multipart {
                boundary,
                bytes: body,
            },
        );
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        reply
            .json()
            .and_then(|v| text_of(&v, "id"))
            .ok_or_else(|| malformed(&reply, &s.secrets()))
    }

    /// Text, link and photo posts: one step.
    async fn publish_feed(
        &self,
        s: &Session,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
        hold: Option<DateTime<Utc>>,
    ) -> Result<PublishedPart, PublishError> {
        let started = Instant::now();
        let mut photo_ids = Vec::with_capacity(plan.photos.len());
        for m in &plan.photos {
            photo_ids.push(self.upload_photo(s, m).await?);
        }
        let id = self.create_feed_post(s, plan, &photo_ids, hold).await?;
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            remote = id.as_str(),
            photos = photo_ids.len(),
            held = hold.is_some(),
            duration_ms = started.elapsed().as_millis() as u64,
            "facebook post created"
        );
        let mut part = post_part(&s.page_id, &id, hold);
        if !photo_ids.is_empty() {
            part.extra["photo_ids"] = json!(photo_ids);
        }
        self.first_comment(s, plan, &mut part, &id, hold).await;
        Ok(part)
    }

    /// The first comment under a live post (recorded in `extra`; a failure never fails the
    /// post, which is out already). A post Facebook holds cannot take comments yet.
    async fn first_comment(
        &self,
        s: &Session,
        plan: &Plan<'_>,
        part: &mut PublishedPart,
        object_id: &str,
        hold: Option<DateTime<Utc>>,
    ) {
        let Some(comment) = plan.first_comment else {
            return;
        };
        if hold.is_some() {
            part.extra["first_comment_error"] = json!(
                "Facebook takes comments only on published posts, so the first comment was not added to the post it holds"
            );
            return;
        }
        match self.post_comment(s, object_id, comment).await {
            Ok(id) => part.extra["first_comment_id"] = json!(id),
            Err(e) => {
                tracing::warn!(
                    network = NET.as_str(),
                    account = s.account_id.as_str(),
                    class = e.class.name(),
                    error = %e.message,
                    "facebook first comment failed; the post itself is published"
                );
                part.extra["first_comment_error"] = json!(e.message);
            }
        }
    }

    async fn post_comment(
        &self,
        s: &Session,
        object_id: &str,
        message: &str,
    ) -> Result<String, PublishError> {
        let call = Call::post(
            self.graph(&format!("{object_id}/comments")),
            "POST /{object-id}/comments",
            "posting the first comment",
            Body::Form(vec![("message".into(), message.to_string())]),
        );
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        reply
            .json()
            .and_then(|v| text_of(&v, "id"))
            .ok_or_else(|| malformed(&reply, &s.secrets()))
    }

    // -----------------------------------------------------------------------------------------
    // Reconciliation

    /// Reads `path` (a Page edge) since the attempt, newest first, a few pages deep.
    async fn read_edge(
        &self,
        s: &Session,
        edge: &str,
        fields: &str,
        since: DateTime<Utc>,
    ) -> Result<Result<Vec<Value>, String>, PublishError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let mut call = Call::get(
                self.graph(&format!("{}/{edge}", s.page_id)),
                "GET /{page-id}/{edge}",
                "looking up the Page's recent posts",
            )
            .query("fields", fields)
            .query("limit", "100")
            .query("since", &since.timestamp().to_string());
            if let Some(a) = &after {
                call = call.query("after", a);
            }
            let reply = self
                .send(s.page_token.expose(), &s.account_id, call)
                .await?;
            if !reply.ok() {
                let e = graph_failure(&reply, &s.secrets());
                let err = GraphError::parse(&reply.body).unwrap_or_default();
                // Without read access the lookup cannot decide; the user must.
                if matches!(err.code, Some(10 | 200..=299)) && e.class == ErrorClass::Reauth {
                    return Ok(Err(format!(
                        "Facebook does not let Outpost read the Page's posts ({}) — check the Page on facebook.com",
                        err.describe()
                    )));
                }
                return Err(e);
            }
            let Some(v) = reply.json() else {
                return Err(malformed(&reply, &s.secrets()));
            };
            if let Some(items) = v.get("data").and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            after = v
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|_| v.pointer("/paging/next").is_some());
            if after.is_none() {
                break;
            }
        }
        Ok(Ok(out))
    }

    async fn find_part(&self, s: &Session, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let plan = plan_part(req)?;
        let since = req.intent_at - chrono::Duration::minutes(LOOKUP_MARGIN_MINUTES);
        let created_after = |item: &Value| {
            item.get("created_time")
                .and_then(Value::as_str)
                .and_then(parse_fb_time)
                .is_none_or(|t| t >= since)
        };
        if plan.video.is_some() {
            let edge = if plan.reel { "video_reels" } else { "videos" };
            let items = match self
                .read_edge(
                    s,
                    edge,
                    "id,description,created_time,published,scheduled_publish_time",
                    since,
                )
                .await?
            {
                Ok(items) => items,
                Err(why) => return Ok(Lookup::CannotTell(why)),
            };
            let found = items.iter().find(|v| {
                created_after(v)
                    && same_text(
                        v.get("description").and_then(Value::as_str).unwrap_or(""),
                        plan.text,
                    )
            });
            let Some(v) = found else {
                return Ok(Lookup::NotFound);
            };
            let Some(id) = text_of(v, "id") else {
                return Ok(Lookup::NotFound);
            };
            let held = v.get("published").and_then(Value::as_bool) == Some(false);
            let hold = held
                .then(|| v.get("scheduled_publish_time").and_then(epoch_of))
                .flatten();
            let mut part = if plan.reel {
                reel::reel_part(&s.page_id, &id, hold)
            } else {
                video::video_part(&s.page_id, &id, hold)
            };
            part.extra["reconciled"] = json!(true);
            self.reconciled_comment(s, &plan, &mut part, &id, hold)
                .await?;
            return Ok(Lookup::Found(part));
        }
        for (edge, held) in [("published_posts", false), ("scheduled_posts", true)] {
            let items = match self
                .read_edge(
                    s,
                    edge,
                    "id,message,created_time,scheduled_publish_time",
                    since,
                )
                .await?
            {
                Ok(items) => items,
                Err(why) => return Ok(Lookup::CannotTell(why)),
            };
            let found = items.iter().find(|p| {
                created_after(p)
                    && same_text(
                        p.get("message").and_then(Value::as_str).unwrap_or(""),
                        plan.text,
                    )
            });
            if let Some(p) = found {
                let Some(id) = text_of(p, "id") else {
                    continue;
                };
                let hold = held
                    .then(|| p.get("scheduled_publish_time").and_then(epoch_of))
                    .flatten();
                let mut part = post_part(&s.page_id, &id, hold);
                part.extra["reconciled"] = json!(true);
                self.reconciled_comment(s, &plan, &mut part, &id, hold)
                    .await?;
                return Ok(Lookup::Found(part));
            }
        }
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            target = req.target_id,
            "facebook lookup: the post is not among the Page's recent posts"
        );
        Ok(Lookup::NotFound)
    }

    /// After a lost answer the first comment was never sent: find it, else post it now.
    async fn reconciled_comment(
        &self,
        s: &Session,
        plan: &Plan<'_>,
        part: &mut PublishedPart,
        id: &str,
        hold: Option<DateTime<Utc>>,
    ) -> Result<(), PublishError> {
        let Some(comment) = plan.first_comment else {
            return Ok(());
        };
        if hold.is_none() {
            let call = Call::get(
                self.graph(&format!("{id}/comments")),
                "GET /{object-id}/comments",
                "looking up the first comment",
            )
            .query("fields", "id,message,from")
            .query("limit", "100");
            let reply = self
                .send(s.page_token.expose(), &s.account_id, call)
                .await?;
            if reply.ok() {
                let found = reply.json().and_then(|v| {
                    v.get("data")?
                        .as_array()?
                        .iter()
                        .find(|c| {
                            same_text(
                                c.get("message").and_then(Value::as_str).unwrap_or(""),
                                comment,
                            ) && c.pointer("/from/id").and_then(Value::as_str)
                                == Some(s.page_id.as_str())
                        })
                        .and_then(|c| text_of(c, "id"))
                });
                if let Some(cid) = found {
                    part.extra["first_comment_id"] = json!(cid);
                    return Ok(());
                }
            }
        }
        self.first_comment(s, plan, part, id, hold).await;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Hand-off

    /// When the post goes out: now, held by Facebook until `scheduled_at`, or not yet (the
    /// dispatcher waits).
    fn timing(
        &self,
        req: &PartRequest<'_>,
        plan: &Plan<'_>,
    ) -> Result<Option<DateTime<Utc>>, PublishError> {
        if !plan.hand_off {
            return Ok(None);
        }
        let Some(at) = req.scheduled_at else {
            return Ok(None);
        };
        let now = Utc::now();
        let lead = at - now;
        if lead >= MIN_HOLD && lead <= MAX_HOLD {
            return Ok(Some(at));
        }
        if lead > MAX_HOLD {
            let until = at - MAX_HOLD + chrono::Duration::hours(1);
            return Err(PublishError::new(
                NET,
                ErrorClass::RateLimited { until },
                format!(
                    "Facebook holds posts at most 30 days ahead — Outpost hands this one over on {}",
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
        if lead > chrono::Duration::zero() {
            return Err(PublishError::new(
                NET,
                ErrorClass::RateLimited { until: at },
                format!(
                    "Facebook holds posts only 10 minutes or more ahead — Outpost publishes this one itself at {}",
                    at.format("%H:%M UTC")
                ),
            ));
        }
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Plumbing types

#[derive(Clone, Copy)]
enum AuthScheme {
    Bearer,
    OAuth,
    None,
}

enum Body {
    Empty,
    Form(Vec<(String, String)>),
    Multipart { boundary: String, bytes: Vec<u8> },
    Bytes(Vec<u8>),
}

/// One API request.
struct Call {
    method: Method,
    url: String,
    /// The endpoint without ids, for logs.
    endpoint: &'static str,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Body,
    auth: AuthScheme,
    timeout: Option<Duration>,
    /// The operation in the user's words ("creating the post").
    what: String,
    /// A side effect a retry could repeat (`/feed`, `/videos`).
    creates: bool,
}

impl Call {
    fn get(url: String, endpoint: &'static str, what: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            url,
            endpoint,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            auth: AuthScheme::Bearer,
            timeout: None,
            what: what.into(),
            creates: false,
        }
    }
    fn post(url: String, endpoint: &'static str, what: impl Into<String>, body: Body) -> Call {
        Call {
            method: Method::POST,
            body,
            ..Call::get(url, endpoint, what)
        }
    }
    fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_string()));
        self
    }
    fn header(mut self, key: &'static str, value: String) -> Call {
        self.headers.push((key, value));
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

/// The tokens one operation uses.
struct Session {
    account_id: String,
    page_id: String,
    page_token: Secret,
    /// The long-lived user token (the resumable upload needs it).
    user: Option<OAuthTokens>,
    /// The Meta App ID (`settings["client_id"]`).
    app_id: Option<String>,
}

impl Session {
    fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.page_token.expose()];
        if let Some(u) = &self.user {
            out.push(u.access_token.expose());
        }
        out
    }
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    let x = v.get(key)?;
    x.as_str()
        .map(str::to_string)
        .or_else(|| x.as_u64().map(|n| n.to_string()))
        .filter(|s| !s.is_empty())
}

fn epoch_of(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64()
        .or_else(|| v.as_str()?.trim().parse().ok())
        .and_then(|n| DateTime::from_timestamp(n, 0))
        .or_else(|| v.as_str().and_then(parse_fb_time))
}

/// Graph times: `2026-11-28T16:10:00+0000` (or RFC 3339).
fn parse_fb_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `published=false` + `scheduled_publish_time` (UNIX seconds) for a held post.
fn push_timing(form: &mut Vec<(String, String)>, hold: Option<DateTime<Utc>>) {
    if let Some(at) = hold {
        form.push(("published".into(), "false".into()));
        form.push(("scheduled_publish_time".into(), at.timestamp().to_string()));
    }
}

/// `extra` for a post Facebook holds: the time and the card's notice.
fn mark_held(part: &mut PublishedPart, hold: Option<DateTime<Utc>>) {
    if let Some(at) = hold {
        part.extra["scheduled_on_network"] = json!(rfc3339(at));
        part.extra["notice"] = json!(format!(
            "scheduled on Facebook for {}",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
}

/// A feed post: `{page}_{post}` → `https://www.facebook.com/{page}/posts/{post}`.
fn post_part(page_id: &str, id: &str, hold: Option<DateTime<Utc>>) -> PublishedPart {
    let (page, post) = id.split_once('_').unwrap_or((page_id, id));
    let mut part = PublishedPart {
        remote_id: id.to_string(),
        url: Some(format!("https://www.facebook.com/{page}/posts/{post}")),
        extra: json!({ "kind": "post", "page_id": page_id }),
    };
    mark_held(&mut part, hold);
    part
}

/// A `multipart/form-data` body: text fields, then one file.
fn multipart(
    fields: &[(&str, String)],
    file_field: &str,
    file_name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> (String, Vec<u8>) {
    let b = boundary();
    let mut body = Vec::with_capacity(bytes.len() + 512);
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
            .collect()
    };
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            clean(file_name),
            clean(mime)
        )
        .as_bytes(),
    );
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (b, body)
}

fn boundary() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{nanos}:{n}:{}", std::process::id()));
    format!("outpost-{}", hex::encode(&digest[..16]))
}

/// A small file, whole (photos: at most `max` bytes).
async fn read_whole(m: &MediaRef, max: u64) -> Result<Vec<u8>, PublishError> {
    let path = std::path::PathBuf::from(&m.path);
    let size = usize::try_from(max)
        .unwrap_or(outpost_media::MAX_CHUNK)
        .max(1);
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = outpost_media::ChunkReader::open(&path, size)?;
        let len = reader.len();
        let first = reader.next_chunk()?;
        Ok::<_, outpost_media::MediaError>((len, first))
    })
    .await;
    let file = m.file_name();
    match read {
        Ok(Ok((len, _))) if len > max => Err(permanent(format!(
            "{file} is {len} bytes; Facebook takes photos up to 4 MB — use a smaller file"
        ))),
        Ok(Ok((_, Some(chunk)))) => Ok(chunk.bytes),
        Ok(Ok((_, None))) => Err(permanent(format!("{file} is empty — attach it again"))),
        Ok(Err(e)) => Err(permanent(format!(
            "{file} cannot be read ({}) — attach it again",
            sanitize_message(&e.to_string(), 120)
        ))),
        Err(e) => Err(transient(format!(
            "reading {file} failed ({}) — Outpost will retry",
            sanitize_message(&e.to_string(), 80)
        ))),
    }
}

/// Text as Graph returns it made comparable: whitespace folded, ends trimmed.
fn comparable(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn same_text(remote: &str, ours: &str) -> bool {
    comparable(remote) == comparable(ours)
}

// ---------------------------------------------------------------------------------------------
// Errors

fn reauth(message: impl Into<String>) -> PublishError {
    let message = message.into();
    PublishError::new(NET, ErrorClass::Reauth, format!("{message} ({RECONNECT})"))
}

fn permanent(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Permanent, message)
}

fn transient(message: impl Into<String>) -> PublishError {
    PublishError::new(NET, ErrorClass::Transient { retry_after: None }, message)
}

/// A 2xx answer whose body is not what Graph documents.
fn malformed(reply: &Reply, secrets: &[&str]) -> PublishError {
    transient(format!(
        "Facebook answered {} with something Outpost cannot read (HTTP {}) — Outpost will retry",
        reply.what,
        reply.status.as_u16()
    ))
    .with_excerpt(&reply.body, secrets)
}

/// Every failed Graph call: the envelope through [`graph::classify`] (by code and subcode,
/// never by status); an answer without an envelope by its status (5xx transient).
fn graph_failure(reply: &Reply, secrets: &[&str]) -> PublishError {
    let status = reply.status.as_u16();
    let err = GraphError::parse(&reply.body).unwrap_or_else(|| GraphError {
        message: format!("HTTP {status}"),
        ..GraphError::default()
    });
    if let Some(trace) = &err.fbtrace_id {
        tracing::info!(
            network = NET.as_str(),
            code = err.code,
            subcode = err.subcode,
            fbtrace_id = trace.as_str(),
            "facebook error"
        );
    }
    // Meta's texts are long and a card keeps 200 characters: shorten them so the advice at
    // the end ("reconnect…", "waits until…") survives. The class depends only on the codes;
    // the excerpt keeps the whole answer.
    let mut short = err.clone();
    short.message = sanitize_message(&redact(&err.message, secrets), MESSAGE_CHARS);
    short.user_msg = err
        .user_msg
        .as_deref()
        .map(|m| sanitize_message(&redact(m, secrets), MESSAGE_CHARS));
    let mut e = graph::classify(NET, &reply.what, status, &short, &reply.headers, Utc::now());
    e.message = redact(&e.message, secrets);
    e.with_excerpt(&reply.body, secrets)
}

/// How much of Meta's error text a message keeps.
const MESSAGE_CHARS: usize = 80;

// ---------------------------------------------------------------------------------------------
// Planning a part (everything checked before the first request)

/// What one part is to Facebook.
struct Plan<'a> {
    text: &'a str,
    link: Option<String>,
    photos: Vec<&'a MediaRef>,
    video: Option<&'a MediaRef>,
    reel: bool,
    title: Option<String>,
    hand_off: bool,
    first_comment: Option<&'a str>,
}

fn flag(options: &Value, key: &str) -> Result<bool, PublishError> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        Some(other) => Err(permanent(format!(
            "the Facebook option {key} is {other}; use true or false"
        ))),
    }
}

fn plan_part<'a>(req: &PartRequest<'a>) -> Result<Plan<'a>, PublishError> {
    if req.part_index > 0 {
        return Err(permanent(
            "Facebook Page posts have no thread parts — put everything in one post",
        ));
    }
    let text = req.part.text.trim_end();
    let n = outpost_core::text::chars(text);
    if n > MAX_TEXT_CHARS {
        return Err(permanent(format!(
            "the text is {n} characters; Facebook allows {MAX_TEXT_CHARS} — shorten it by {}",
            n - MAX_TEXT_CHARS
        )));
    }
    let options = req.options;
    let link = match options.get("link") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s))
            if (s.trim().starts_with("https://") || s.trim().starts_with("http://"))
                && !s.trim().contains(char::is_whitespace) =>
        {
            Some(s.trim().to_string())
        }
        Some(other) => {
            return Err(permanent(format!(
                "the Facebook option link is {other}; give a complete https:// address"
            )))
        }
    };
    let title = match options.get("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(other) => {
            return Err(permanent(format!(
                "the Facebook option title is {other}; give text"
            )))
        }
    };
    let reel = flag(options, "reel")?;
    let hand_off = flag(options, "hand_off")?;
    let mut photos = Vec::new();
    let mut videos = Vec::new();
    for m in &req.part.media {
        let mime = m.mime.trim().to_ascii_lowercase();
        if IMAGE_MIMES.contains(&mime.as_str()) {
            if m.bytes > MAX_PHOTO_BYTES {
                return Err(permanent(format!(
                    "{} is {} bytes; Facebook takes photos up to 4 MB — use a smaller file",
                    m.file_name(),
                    m.bytes
                )));
            }
            photos.push(m);
        } else if VIDEO_MIMES.contains(&mime.as_str()) {
            videos.push(m);
        } else {
            return Err(permanent(format!(
                "{} is {}; Facebook takes JPEG, PNG, GIF, BMP, TIFF or WebP photos and MP4 or MOV videos — convert it",
                m.file_name(),
                m.mime
            )));
        }
    }
    if videos.len() > 1 || (!videos.is_empty() && !photos.is_empty()) {
        return Err(permanent(
            "a Facebook post carries photos or one video, not both or several videos — split them into separate posts",
        ));
    }
    if link.is_some() && !req.part.media.is_empty() {
        return Err(permanent(
            "a Facebook post shows either a link preview or media — remove the link option, or put the link in the text",
        ));
    }
    let video = videos.first().copied();
    if reel {
        let Some(v) = video else {
            return Err(permanent(
                "the Facebook option reel needs exactly one video — attach a vertical video, or remove the option",
            ));
        };
        if let (Some(w), Some(h)) = (v.width, v.height) {
            if w < 540 || h < 960 {
                return Err(permanent(format!(
                    "{} is {w}×{h}; Facebook Reels need at least 540×960 (1080×1920, 9:16, is recommended)",
                    v.file_name()
                )));
            }
        }
    }
    if text.trim().is_empty() && req.part.media.is_empty() && link.is_none() {
        return Err(permanent(
            "the post has neither text nor media — write something or attach a file",
        ));
    }
    let first_comment = req.first_comment.map(str::trim).filter(|c| !c.is_empty());
    Ok(Plan {
        text,
        link,
        photos,
        video,
        reel,
        title,
        hand_off,
        first_comment,
    })
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Publisher for Facebook {
    fn network(&self) -> Network {
        NET
    }

    /// Graph has no client-chosen id for a post.
    fn new_client_handle(&self, _idempotency_key: &str, _now: DateTime<Utc>) -> Option<String> {
        None
    }

    /// The long-lived user token and the Page token `identify` obtained move under the new
    /// account (see [`Facebook::adopt_staged`]).
    async fn adopt(&self, account: &Account) -> Result<bool, PublishError> {
        self.adopt_staged(account).await
    }

    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError> {
        match self.start(req).await? {
            PartOutcome::Published(part) => Ok(part),
            PartOutcome::Processing { .. } => Err(permanent(
                "internal error: Facebook videos and Reels are published in steps (start, then poll) — report this bug",
            )),
        }
    }

    /// Text, link and photo posts go out at once; a video or Reel starts its upload and
    /// returns `Processing` until it is published.
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        let plan = plan_part(req)?;
        let hold = self.timing(req, &plan)?;
        let s = self.session(req.account).await?;
        match plan.video {
            Some(v) if plan.reel => self.start_reel(&s, req, &plan, v, hold).await,
            Some(v) => self.start_video(&s, req, &plan, v, hold).await,
            None => self
                .publish_feed(&s, req, &plan, hold)
                .await
                .map(PartOutcome::Published),
        }
    }

    /// One step of a video or Reel: more bytes, the publish call, or a status check.
    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &Value,
    ) -> Result<PartOutcome, PublishError> {
        let plan = plan_part(req)?;
        let s = self.session(req.account).await?;
        let hold = phase
            .get("hold")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let Some(v) = plan.video else {
            return Err(permanent(
                "the stored upload state belongs to a video, but the post has none now — retry the post",
            ));
        };
        match phase.get("kind").and_then(Value::as_str) {
            Some("reel") => self.poll_reel(&s, req, &plan, v, phase, hold).await,
            Some("video") => self.poll_video(&s, req, &plan, v, phase, hold).await,
            _ => Err(permanent(
                "the stored upload state is not one Outpost knows — retry the post",
            )),
        }
    }

    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError> {
        let s = self.session(req.account).await?;
        self.find_part(&s, req).await
    }

    async fn refresh(&self, account: &Account) -> Result<(), PublishError> {
        self.renew(account).await
    }

    /// `GET /{page-id}?fields=id,name` with the Page token.
    async fn probe(&self, account: &Account) -> Result<(), PublishError> {
        let s = self.session(account).await?;
        let call = Call::get(
            self.graph(&s.page_id),
            "GET /{page-id}",
            "checking the Page",
        )
        .query("fields", "id,name");
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        Ok(())
    }

    fn oauth_profile(&self) -> Option<OAuthProfile> {
        Some(
            OAuthProfile {
                network: "facebook",
                authorize_url: AUTHORIZE_URL.to_string(),
                token_url: self.token_url.clone(),
                scopes: SCOPES.to_vec(),
                // The dialog takes a comma-separated list.
                scope_separator: ",",
                // Meta's PKCE flow is "still in testing" and the code exchange needs the App
                // Secret anyway (facebook.md "Auth").
                pkce: Pkce::None,
                client_auth: ClientAuth::Body,
                client_id_param: "client_id",
                needs_secret: true,
                // Live Meta apps refuse http:// redirects: the relay page or a pasted address.
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
        self.identify_page(tokens, settings).await
    }

    async fn update_held(
        &self,
        req: &PartRequest<'_>,
        remote_id: &str,
    ) -> Result<PublishedPart, PublishError> {
        self.update_held_post(req, remote_id).await
    }

    async fn delete_held(&self, account: &Account, remote_id: &str) -> Result<(), PublishError> {
        self.delete_held_post(account, remote_id).await
    }

    /// `"pages"`: the Pages the signed-in user may manage (`/me/accounts`).
    async fn choices(&self, account: &Account, kind: &str) -> Result<Vec<Choice>, PublishError> {
        match kind {
            "pages" => self.page_choices(account).await,
            _ => Ok(Vec::new()),
        }
    }
}

impl Facebook {
    /// [`Publisher::update_held`]: a new text and time for a post Facebook holds
    /// (`POST /{id}` with `message` — `description` for a video — and
    /// `scheduled_publish_time`). A time less than 10 minutes ahead publishes it now
    /// (`is_published=true`). Attached media cannot be changed on Facebook: cancel and post
    /// again for that.
    async fn update_held_post(
        &self,
        req: &PartRequest<'_>,
        remote_id: &str,
    ) -> Result<PublishedPart, PublishError> {
        let plan = plan_part(req)?;
        let s = self.session(req.account).await?;
        let is_video = !remote_id.contains('_');
        let now = Utc::now();
        let at = req.scheduled_at;
        let mut form: Vec<(String, String)> = vec![(
            if is_video { "description" } else { "message" }.into(),
            plan.text.to_string(),
        )];
        if is_video {
            if let Some(t) = &plan.title {
                form.push(("title".into(), t.clone()));
            }
        }
        let hold = match at {
            Some(at) if at - now > MAX_HOLD => {
                return Err(permanent(
                    "Facebook holds posts at most 30 days ahead — choose an earlier time, or cancel and schedule it again",
                ))
            }
            Some(at) if at - now >= MIN_HOLD => {
                form.push(("scheduled_publish_time".into(), at.timestamp().to_string()));
                Some(at)
            }
            // Less than 10 minutes ahead (or now): Facebook cannot hold it, so it goes out.
            _ => {
                form.push(("is_published".into(), "true".into()));
                None
            }
        };
        let call = Call::post(
            self.graph(remote_id),
            "POST /{object-id}",
            "changing the post Facebook holds",
            Body::Form(form),
        );
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if !reply.ok() {
            return Err(graph_failure(&reply, &s.secrets()));
        }
        tracing::info!(
            network = NET.as_str(),
            account = s.account_id.as_str(),
            remote = remote_id,
            held = hold.is_some(),
            "facebook held post updated"
        );
        let mut part = if !is_video {
            post_part(&s.page_id, remote_id, hold)
        } else if plan.reel {
            reel::reel_part(&s.page_id, remote_id, hold)
        } else {
            video::video_part(&s.page_id, remote_id, hold)
        };
        if hold.is_none() {
            self.first_comment(&s, &plan, &mut part, remote_id, None)
                .await;
        }
        Ok(part)
    }

    /// [`Publisher::delete_held`]: `DELETE /{id}`; a post already gone counts as deleted.
    async fn delete_held_post(
        &self,
        account: &Account,
        remote_id: &str,
    ) -> Result<(), PublishError> {
        let s = self.session(account).await?;
        let mut call = Call::get(
            self.graph(remote_id),
            "DELETE /{object-id}",
            "deleting the post Facebook holds",
        );
        call.method = Method::DELETE;
        let reply = self
            .send(s.page_token.expose(), &s.account_id, call)
            .await?;
        if reply.ok() {
            tracing::info!(
                network = NET.as_str(),
                account = s.account_id.as_str(),
                remote = remote_id,
                "facebook held post deleted"
            );
            return Ok(());
        }
        let err = GraphError::parse(&reply.body).unwrap_or_default();
        if err.code == Some(100) && err.subcode == Some(33) {
            tracing::info!(
                network = NET.as_str(),
                account = s.account_id.as_str(),
                remote = remote_id,
                "facebook held post was already gone"
            );
            return Ok(());
        }
        Err(graph_failure(&reply, &s.secrets()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_and_epochs_are_read() {
        let t = parse_fb_time("2026-11-28T16:10:00+0000").map(|t| t.timestamp());
        assert_eq!(t, Some(1_795_882_200));
        assert_eq!(
            epoch_of(&json!(1_800_000_000)).map(|t| t.timestamp()),
            Some(1_800_000_000)
        );
        assert_eq!(
            epoch_of(&json!("1800000000")).map(|t| t.timestamp()),
            Some(1_800_000_000)
        );
    }

    #[test]
    fn post_ids_become_permalinks_and_held_parts_carry_the_notice() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let p = post_part("111", "111_222", Some(at));
        assert_eq!(
            p.url.as_deref(),
            Some("https://www.facebook.com/111/posts/222")
        );
        assert_eq!(p.extra["scheduled_on_network"], "2027-01-15T08:00:00Z");
        assert_eq!(
            p.extra["notice"],
            "scheduled on Facebook for 2027-01-15 08:00 UTC"
        );
        assert!(post_part("111", "111_222", None)
            .extra
            .get("notice")
            .is_none());
    }

    #[test]
    fn texts_compare_with_folded_whitespace() {
        assert!(same_text("hello  world\n", "hello world"));
        assert!(!same_text("hello", "hello world"));
    }

    #[test]
    fn the_multipart_body_carries_fields_and_the_file() {
        let (b, body) = multipart(
            &[("published", "false".into())],
            "source",
            "a\"b.png",
            "image/png",
            b"\x89PNG".to_vec(),
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{b}\r\n")));
        assert!(text.contains("name=\"published\"\r\n\r\nfalse\r\n"));
        assert!(text.contains("filename=\"ab.png\""));
        assert!(text.ends_with(&format!("\r\n--{b}--\r\n")));
    }
}
