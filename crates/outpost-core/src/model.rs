//! Posts, targets and accounts as the user thinks of them.

use crate::network::Network;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $s),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok($name::$variant),)+
                    _ => Err(format!("unknown {} '{}' (expected one of: {})", stringify!($name), s,
                        [$($s),+].join(", "))) }
            }
        }
    };
}

string_enum! {
    /// One target's life: `scheduled → claimed → sending → [processing] → published`, with the
    /// exits `failed`, `unconfirmed`, `missed` and `cancelled`.
    TargetState {
        Draft => "draft",
        Scheduled => "scheduled",
        Claimed => "claimed",
        Sending => "sending",
        Processing => "processing",
        Published => "published",
        Failed => "failed",
        Unconfirmed => "unconfirmed",
        Missed => "missed",
        Cancelled => "cancelled",
    }
}

impl TargetState {
    /// Terminal states never change again without a user action (retry, reschedule…).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TargetState::Published | TargetState::Failed | TargetState::Cancelled
        )
    }
    /// States that wait for the user to decide.
    pub fn needs_user(self) -> bool {
        matches!(self, TargetState::Unconfirmed | TargetState::Missed)
    }
    /// States in which a runner holds the target under a lease.
    pub fn is_leased(self) -> bool {
        matches!(
            self,
            TargetState::Claimed | TargetState::Sending | TargetState::Processing
        )
    }
}

string_enum! {
    /// A post's state, derived from its targets.
    PostStatus {
        Draft => "draft",
        Scheduled => "scheduled",
        Publishing => "publishing",
        Published => "published",
        PartiallyPublished => "partially_published",
        NeedsAttention => "needs_attention",
        Failed => "failed",
        Cancelled => "cancelled",
    }
}

/// Derives a post's state from its targets' states.
pub fn derive_post_status(targets: &[TargetState]) -> PostStatus {
    use TargetState as T;
    if targets.is_empty() || targets.iter().all(|t| *t == T::Draft) {
        return PostStatus::Draft;
    }
    let count = |f: &dyn Fn(&T) -> bool| targets.iter().filter(|t| f(t)).count();
    let published = count(&|t| *t == T::Published);
    let cancelled = count(&|t| *t == T::Cancelled);
    let failed = count(&|t| *t == T::Failed);
    let attention = count(&|t| t.needs_user());
    let active = count(&|t| t.is_leased());
    let waiting = count(&|t| *t == T::Scheduled || *t == T::Draft);
    if cancelled == targets.len() {
        PostStatus::Cancelled
    } else if active > 0 {
        PostStatus::Publishing
    } else if waiting > 0 {
        if published > 0 {
            PostStatus::Publishing
        } else {
            PostStatus::Scheduled
        }
    } else if attention > 0 {
        PostStatus::NeedsAttention
    } else if published + cancelled == targets.len() {
        PostStatus::Published
    } else if published > 0 {
        PostStatus::PartiallyPublished
    } else if failed > 0 {
        PostStatus::Failed
    } else {
        PostStatus::Cancelled
    }
}

string_enum! {
    AccountStatus {
        Active => "active",
        NeedsReconnect => "needs_reconnect",
        Disabled => "disabled",
    }
}

/// A connected account. Secrets are never here: they live in the secret store under keys
/// derived from `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Account {
    pub id: String,
    pub network: Network,
    /// The handle the user knows (`alice.bsky.social`).
    pub handle: String,
    /// The network's id for the account (a DID on Bluesky), once known.
    pub remote_id: Option<String>,
    pub display_name: Option<String>,
    pub status: AccountStatus,
    pub status_reason: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Network-specific, non-secret settings (e.g. `{"pds": "https://…"}`).
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl Account {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(|v| v.as_str())
    }
    /// `network:handle`, as used in `--to`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.network, self.handle)
    }
}

/// A media file attached to a post part: a local copy plus what probing found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct MediaRef {
    pub path: String,
    pub sha256: String,
    pub mime: String,
    pub bytes: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    #[serde(default)]
    pub alt: Option<String>,
}

impl MediaRef {
    pub fn is_image(&self) -> bool {
        self.mime.starts_with("image/")
    }
    pub fn is_video(&self) -> bool {
        self.mime.starts_with("video/")
    }
    pub fn file_name(&self) -> &str {
        self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path)
    }
}

/// One part of a post: the post itself, or a later part of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct Part {
    pub text: String,
    #[serde(default)]
    pub media: Vec<MediaRef>,
}

/// What the user wrote, once, for every network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct PostContent {
    pub parts: Vec<Part>,
    /// Per-network replacement text for the first part.
    #[serde(default)]
    pub variants: BTreeMap<Network, String>,
    #[serde(default)]
    pub first_comment: Option<String>,
    /// Per-network publishing options (Pinterest `board_id`, `title`, `link`; TikTok
    /// `privacy_level`; YouTube `title`, `privacy_status`…), keyed by network name
    /// (`"pinterest"`) or by account address (`"pinterest:alice"`); the address wins.
    #[serde(default)]
    #[ts(type = "Record<string, Record<string, unknown>>")]
    pub options: BTreeMap<String, serde_json::Value>,
}

impl PostContent {
    /// The parts as they go to `network` (its variant text applied).
    pub fn parts_for(&self, network: Network) -> Vec<Part> {
        let mut parts = self.parts.clone();
        if let (Some(v), Some(first)) = (self.variants.get(&network), parts.first_mut()) {
            first.text = v.clone();
        }
        parts
    }
    /// The options for one target: the network's object, overlaid by the account's.
    pub fn options_for(&self, network: Network, address: &str) -> serde_json::Value {
        let mut merged = serde_json::Map::new();
        for key in [network.to_string(), address.to_string()] {
            if let Some(serde_json::Value::Object(o)) = self.options.get(&key) {
                merged.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        serde_json::Value::Object(merged)
    }
    pub fn is_empty(&self) -> bool {
        self.parts
            .iter()
            .all(|p| p.text.trim().is_empty() && p.media.is_empty())
    }
    pub fn all_media(&self) -> impl Iterator<Item = &MediaRef> {
        self.parts.iter().flat_map(|p| p.media.iter())
    }
}

/// What a network said when a part went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PublishedPart {
    pub remote_id: String,
    pub url: Option<String>,
    /// Network-specific facts later parts need (e.g. Bluesky's `cid` for reply refs).
    #[serde(default)]
    pub extra: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Post {
    pub id: String,
    pub content: PostContent,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// IANA zone the time was written in.
    pub time_zone: String,
    pub status: PostStatus,
    /// Every failed network's error, joined ("Bluesky: …; X: …"), ≤ 1000 characters.
    pub error_summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Target {
    pub id: String,
    pub post_id: String,
    pub account_id: String,
    /// `network:handle` of the account, for display.
    pub account_address: String,
    pub network: Network,
    pub state: TargetState,
    /// When the post was due on this network.
    pub due_at: Option<DateTime<Utc>>,
    /// When the dispatcher may next act on this target (due time, retry time, poll time).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why it is waiting, in the user's words ("rate limited until 14:05").
    pub wait_reason: Option<String>,
    pub attempts: u32,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    /// Parts already published (thread mode), in order.
    pub progress: Vec<PublishedPart>,
    pub last_error: Option<String>,
    pub error_class: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// Two-phase work in progress (container id, upload session…), persisted before use.
    /// Shown (IPC, `--json`) without its upload addresses and signed upload fields: those
    /// are short-lived capabilities (anyone holding a YouTube session URI or a TikTok
    /// `upload_url` can send bytes into it), needed only by the dispatcher, which reads the
    /// database.
    #[serde(with = "phase_shown")]
    #[ts(as = "Option<serde_json::Value>")]
    pub phase: Option<serde_json::Value>,
    pub processing_since: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// What a phase looks like outside the dispatcher: every `http(s)://` address, and every
/// field of signed upload parameters, replaced by `"(hidden)"`.
pub fn phase_for_display(phase: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    const HIDDEN: &str = "(hidden)";
    fn signed(key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        ["parameters", "signature", "policy", "credential", "headers"]
            .iter()
            .any(|w| k.contains(w))
    }
    match phase {
        Value::String(s) if s.starts_with("https://") || s.starts_with("http://") => {
            Value::String(HIDDEN.into())
        }
        Value::Array(items) => Value::Array(items.iter().map(phase_for_display).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown = if signed(k) && !v.is_number() && !v.is_null() {
                        Value::String(HIDDEN.into())
                    } else {
                        phase_for_display(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Serde for [`Target::phase`]: written through [`phase_for_display`], read as it is.
mod phase_shown {
    use serde::{Deserialize, Serialize};

    pub fn serialize<S: serde::Serializer>(
        phase: &Option<serde_json::Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        phase
            .as_ref()
            .map(super::phase_for_display)
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<serde_json::Value>, D::Error> {
        Option::<serde_json::Value>::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetState as T;

    #[test]
    fn shown_phases_hide_upload_addresses_and_signed_fields() {
        let phase = serde_json::json!({
            "stage": "upload", "offset": 268435456, "sessions": 1,
            "session": "https://www.googleapis.com/upload/youtube/v3/videos?upload_id=AbC",
            "upload_url_expires_at": "2026-11-28T20:00:00Z",
            "upload_parameters": {"x-amz-signature": "f00", "key": "uploads/1"},
            "parts": [{"url": "http://127.0.0.1:9/put?sig=1", "etag": "e1"}]
        });
        let shown = phase_for_display(&phase);
        assert_eq!(shown["stage"], "upload");
        assert_eq!(shown["offset"], 268435456);
        assert_eq!(shown["sessions"], 1);
        assert_eq!(shown["session"], "(hidden)");
        assert_eq!(shown["upload_url_expires_at"], "2026-11-28T20:00:00Z");
        assert_eq!(shown["upload_parameters"], "(hidden)");
        assert_eq!(shown["parts"][0]["url"], "(hidden)");
        assert_eq!(shown["parts"][0]["etag"], "e1");
        let text = serde_json::to_string(&shown).expect("json");
        assert!(!text.contains("upload_id") && !text.contains("sig=") && !text.contains("f00"));
    }

    #[test]
    fn post_status_is_derived_from_targets() {
        let cases: &[(&[T], PostStatus)] = &[
            (&[], PostStatus::Draft),
            (&[T::Draft], PostStatus::Draft),
            (&[T::Scheduled, T::Scheduled], PostStatus::Scheduled),
            (&[T::Sending, T::Scheduled], PostStatus::Publishing),
            (&[T::Published, T::Scheduled], PostStatus::Publishing),
            (&[T::Published, T::Published], PostStatus::Published),
            (&[T::Published, T::Failed], PostStatus::PartiallyPublished),
            (&[T::Failed, T::Failed], PostStatus::Failed),
            (&[T::Failed, T::Cancelled], PostStatus::Failed),
            (&[T::Published, T::Unconfirmed], PostStatus::NeedsAttention),
            (&[T::Missed], PostStatus::NeedsAttention),
            (&[T::Cancelled, T::Cancelled], PostStatus::Cancelled),
            (&[T::Published, T::Cancelled], PostStatus::Published),
        ];
        for (targets, want) in cases {
            assert_eq!(derive_post_status(targets), *want, "targets {targets:?}");
        }
    }

    #[test]
    fn state_names_round_trip() {
        for s in TargetState::ALL {
            assert_eq!(s.as_str().parse::<TargetState>(), Ok(*s));
        }
        assert!("bogus".parse::<TargetState>().is_err());
    }

    #[test]
    fn variants_replace_the_first_part_for_one_network_only() {
        let mut c = PostContent {
            parts: vec![
                Part {
                    text: "hello".into(),
                    media: vec![],
                },
                Part {
                    text: "second".into(),
                    media: vec![],
                },
            ],
            ..Default::default()
        };
        c.variants.insert(Network::X, "hi X".into());
        assert_eq!(c.parts_for(Network::X)[0].text, "hi X");
        assert_eq!(c.parts_for(Network::X)[1].text, "second");
        assert_eq!(c.parts_for(Network::Bluesky)[0].text, "hello");
    }
}
