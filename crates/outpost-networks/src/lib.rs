//! One module per network behind one [`Publisher`] trait. Each module speaks the network's
//! real HTTP API and decides, once, the class of every error (`outpost_core::ErrorClass`).
//!
//! A network module never sleeps, retries or schedules: it makes one attempt and reports what
//! happened; the dispatcher decides what to do next.

pub mod bluesky;
pub mod facebook;
pub mod file_body;
pub mod graph;
pub mod http;
pub mod instagram;
pub mod linkedin;
pub mod pinterest;
pub mod secrets;
pub mod threads;
pub mod tiktok;
pub mod x;
pub mod youtube;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use outpost_auth::SecretStore;
use outpost_core::{Account, Network, Part, PublishError, PublishedPart};
use std::collections::HashMap;
use std::sync::Arc;

/// Everything a network needs to publish one part of one target.
#[derive(Debug, Clone, Copy)]
pub struct PartRequest<'a> {
    pub post_id: &'a str,
    pub target_id: &'a str,
    pub account: &'a Account,
    /// 0 for the post itself, 1.. for later thread parts.
    pub part_index: usize,
    /// The part as it goes to this network (variant text already applied).
    pub part: &'a Part,
    /// Parts of this thread already published, in order.
    pub previous: &'a [PublishedPart],
    /// The handle chosen by [`Publisher::new_client_handle`] and persisted before the call
    /// (a Bluesky record key), if the network has one.
    pub client_handle: Option<&'a str>,
    /// When the intent was first recorded (used as the post's `createdAt`).
    pub intent_at: DateTime<Utc>,
    /// This target's options ([`outpost_core::PostContent::options_for`]): a JSON object.
    pub options: &'a serde_json::Value,
    /// The post's first comment, when the user wrote one (networks that support it post it
    /// after the first part).
    pub first_comment: Option<&'a str>,
    /// When the post is scheduled (networks that can hold a post until then).
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// What one step of a publish achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartOutcome {
    /// The part is live.
    Published(PublishedPart),
    /// The network is still working on it (video processing, a container): the dispatcher
    /// stores `phase` (before it is needed again) and calls [`Publisher::poll`] after
    /// `poll_after`. `phase` may carry `"expires_at"` (RFC 3339): past it the work is dead.
    Processing {
        phase: serde_json::Value,
        poll_after: std::time::Duration,
    },
}

/// Who a set of tokens belongs to, as the network says (for connecting an OAuth account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The network's stable id (X user id, LinkedIn person URN, Pinterest username…).
    pub remote_id: String,
    /// The handle the user knows (`@alice` without the `@`).
    pub handle: String,
    pub display_name: Option<String>,
    /// Non-secret facts to keep in the account's settings (API tier, account type…).
    pub settings: serde_json::Value,
}

/// One item of an account-level choice the composer offers (a Pinterest board, a LinkedIn
/// organisation the member administers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Choice {
    pub id: String,
    pub name: String,
    /// Anything else worth showing (privacy, follower count…).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub extra: serde_json::Value,
}

/// Whether a part's media must reach the network at public URLs (copied to the user's
/// staging bucket by the dispatcher just before [`Publisher::start`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaByUrl {
    /// The network takes the bytes.
    No,
    /// URLs are used when a bucket is set up, bytes otherwise (Pinterest).
    IfAvailable,
    /// The network only fetches by URL (Instagram images, Threads, TikTok photos): without a
    /// bucket the post fails with a message that says how to set one up.
    Required,
}

/// What a reconciliation lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The part is live on the network.
    Found(PublishedPart),
    /// Provably not published: a retry is safe.
    NotFound,
    /// The network cannot tell (no read access, no handle): the user must decide.
    CannotTell(String),
}

#[async_trait]
pub trait Publisher: Send + Sync {
    fn network(&self) -> Network;

    /// A client-chosen handle that makes a retried create recognisable (Bluesky: a TID record
    /// key), chosen once per idempotency key and stored before the first call.
    fn new_client_handle(&self, idempotency_key: &str, now: DateTime<Utc>) -> Option<String>;

    /// Publishes one part. One attempt, no retries.
    async fn publish(&self, req: &PartRequest<'_>) -> Result<PublishedPart, PublishError>;

    /// Starts publishing one part: networks with asynchronous processing return
    /// [`PartOutcome::Processing`]; the others publish at once (the default).
    async fn start(&self, req: &PartRequest<'_>) -> Result<PartOutcome, PublishError> {
        self.publish(req).await.map(PartOutcome::Published)
    }

    /// Continues two-phase work from its stored `phase`. One step, no waiting: the
    /// dispatcher schedules the next poll.
    async fn poll(
        &self,
        req: &PartRequest<'_>,
        phase: &serde_json::Value,
    ) -> Result<PartOutcome, PublishError> {
        let _ = (req, phase);
        Err(PublishError::new(
            self.network(),
            outpost_core::ErrorClass::Permanent,
            "this network has no asynchronous processing to continue — retry the post",
        ))
    }

    /// Asks the network whether an attempt whose outcome is unknown went out.
    async fn lookup(&self, req: &PartRequest<'_>) -> Result<Lookup, PublishError>;

    /// Renews the account's credentials (one refresh). `Reauth` means the user must reconnect.
    async fn refresh(&self, account: &Account) -> Result<(), PublishError>;

    /// A cheap authenticated read, used to probe an open circuit breaker (never a publish).
    async fn probe(&self, account: &Account) -> Result<(), PublishError>;

    /// Whether this part's media go by URL (see [`MediaByUrl`]); bytes by default.
    fn media_by_url(&self, part: &Part, options: &serde_json::Value) -> MediaByUrl {
        let _ = (part, options);
        MediaByUrl::No
    }

    /// The network's OAuth 2.0 set-up, for networks connected by OAuth (with the
    /// `OUTPOST_<NETWORK>_AUTHORIZE_URL` / `_TOKEN_URL` overrides applied).
    fn oauth_profile(&self) -> Option<outpost_auth::oauth::OAuthProfile> {
        None
    }

    /// Who `tokens` belong to (one authenticated read, e.g. X `GET /2/users/me`).
    /// `settings` are the account settings chosen so far (the client id used).
    async fn identify(
        &self,
        tokens: &outpost_auth::OAuthTokens,
        settings: &serde_json::Value,
    ) -> Result<Identity, PublishError> {
        let _ = (tokens, settings);
        Err(PublishError::new(
            self.network(),
            outpost_core::ErrorClass::Permanent,
            "this network is not connected with OAuth tokens",
        ))
    }

    /// Hand-off: replaces a post the network holds until its scheduled time (Facebook
    /// `scheduled_publish_time`, YouTube `publishAt`) with this part and `req.scheduled_at`.
    /// Returns the held post as it is now.
    async fn update_held(
        &self,
        req: &PartRequest<'_>,
        remote_id: &str,
    ) -> Result<PublishedPart, PublishError> {
        let _ = (req, remote_id);
        Err(PublishError::new(
            self.network(),
            outpost_core::ErrorClass::Permanent,
            "this network does not hold posts for Outpost",
        ))
    }

    /// Hand-off: deletes a post the network holds before it goes out (the user cancelled).
    async fn delete_held(&self, account: &Account, remote_id: &str) -> Result<(), PublishError> {
        let _ = (account, remote_id);
        Err(PublishError::new(
            self.network(),
            outpost_core::ErrorClass::Permanent,
            "this network does not hold posts for Outpost",
        ))
    }

    /// Called once an account connected by OAuth exists (it has its id): networks that
    /// exchanged or derived credentials while identifying it (Facebook's long-lived user and
    /// Page tokens) move them under the account here. Returns whether anything changed.
    async fn adopt(&self, account: &Account) -> Result<bool, PublishError> {
        let _ = account;
        Ok(false)
    }

    /// Account-level choices of kind `kind` (`"boards"`, `"organizations"`); none by default.
    async fn choices(&self, account: &Account, kind: &str) -> Result<Vec<Choice>, PublishError> {
        let _ = (account, kind);
        Ok(Vec::new())
    }
}

/// The publishers Outpost has, keyed by network, with base URLs from the environment
/// (`OUTPOST_<NETWORK>_BASE_URL`).
pub fn publishers(secrets: Arc<dyn SecretStore>) -> HashMap<Network, Arc<dyn Publisher>> {
    let mut map: HashMap<Network, Arc<dyn Publisher>> = HashMap::new();
    map.insert(
        Network::Bluesky,
        Arc::new(bluesky::Bluesky::from_env(secrets.clone())),
    );
    map.insert(Network::X, Arc::new(x::X::from_env(secrets.clone())));
    map.insert(
        Network::LinkedIn,
        Arc::new(linkedin::LinkedIn::from_env(secrets.clone())),
    );
    map.insert(
        Network::Pinterest,
        Arc::new(pinterest::Pinterest::from_env(secrets.clone())),
    );
    map.insert(
        Network::TikTok,
        Arc::new(tiktok::TikTok::from_env(secrets.clone())),
    );
    map.insert(
        Network::Threads,
        Arc::new(threads::Threads::from_env(secrets.clone())),
    );
    map.insert(
        Network::Instagram,
        Arc::new(instagram::Instagram::from_env(secrets.clone())),
    );
    map.insert(
        Network::YouTube,
        Arc::new(youtube::YouTube::from_env(secrets.clone())),
    );
    map.insert(
        Network::Facebook,
        Arc::new(facebook::Facebook::from_env(secrets.clone())),
    );
    map
}
