//! What one YouTube upload will be, decided (and checked) before the first request: the
//! video file, the `snippet` and `status` metadata from the post and its options, whether the
//! post is handed off to YouTube's own scheduler (`privacyStatus=private` + `publishAt`), and
//! the optional custom thumbnail.
//!
//! Options (`--option youtube.FIELD=VALUE`): `title`, `tags` (array or comma-separated),
//! `category_id` (default 22, People & Blogs), `privacy` (`public` / `unlisted` / `private`;
//! `privacy_status` is read too), `made_for_kids` (default false), `notify_subscribers`,
//! `hand_off`, `thumbnail_path`.

use super::{permanent, HAND_OFF_LEAD, HAND_OFF_LEAD_EXPLICIT, THUMBNAIL_MAX_BYTES};
use crate::PartRequest;
use chrono::{DateTime, Utc};
use outpost_core::error::truncate_chars;
use outpost_core::{MediaRef, PublishError};
use serde_json::{json, Value};
use std::path::PathBuf;

/// `snippet.title`: at most 100 characters.
pub(super) const TITLE_MAX_CHARS: usize = 100;
/// `snippet.description`: at most 5,000 bytes of UTF-8.
pub(super) const DESCRIPTION_MAX_BYTES: usize = 5000;
/// `snippet.tags`: at most 500 characters, commas and quotes included.
pub(super) const TAGS_MAX_CHARS: usize = 500;
/// People & Blogs, YouTube's default for uploads.
pub(super) const DEFAULT_CATEGORY: &str = "22";

/// The custom thumbnail to set after the upload.
#[derive(Debug, Clone)]
pub(super) struct Thumbnail {
    pub path: PathBuf,
    pub mime: &'static str,
}

#[derive(Debug, Clone)]
pub(super) struct Plan<'a> {
    pub media: &'a MediaRef,
    /// `X-Upload-Content-Type`.
    pub mime: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub category_id: String,
    /// What the user asked for (`public` by default).
    pub privacy: String,
    pub made_for_kids: bool,
    pub notify_subscribers: Option<bool>,
    /// `publishAt` when the post is handed off to YouTube's scheduler.
    pub publish_at: Option<DateTime<Utc>>,
}

impl Plan<'_> {
    /// The `videos.insert` metadata.
    pub fn metadata(&self) -> Value {
        let mut snippet = json!({
            "title": self.title,
            "description": self.description,
            "categoryId": self.category_id,
        });
        if !self.tags.is_empty() {
            snippet["tags"] = json!(self.tags);
        }
        let mut status = json!({ "selfDeclaredMadeForKids": self.made_for_kids });
        match self.publish_at {
            Some(at) => {
                status["privacyStatus"] = json!("private");
                status["publishAt"] = json!(rfc3339_millis(at));
            }
            None => status["privacyStatus"] = json!(self.privacy),
        }
        json!({ "snippet": snippet, "status": status })
    }
}

/// `YYYY-MM-DDThh:mm:ss.sZ`, the form the docs show for `publishAt`.
pub(super) fn rfc3339_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// YouTube refuses `<` and `>` in titles and descriptions; the look-alike angle quotation
/// marks keep the text readable.
pub(super) fn without_angle_brackets(s: &str) -> String {
    s.replace('<', "\u{2039}").replace('>', "\u{203A}")
}

/// The tag list's length as YouTube counts it: commas between tags, quotes around tags that
/// contain spaces.
pub(super) fn tags_length(tags: &[String]) -> usize {
    let chars: usize = tags
        .iter()
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .sum();
    chars + tags.len().saturating_sub(1)
}

fn option_text(options: &Value, key: &str) -> Option<String> {
    match options.get(key)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn option_bool(options: &Value, key: &str) -> Result<Option<bool>, PublishError> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(permanent(format!(
            "the YouTube option {key} is {other}; use true or false"
        ))),
    }
}

/// The title from the post: its first non-empty line, else the file's name.
fn derived_title(text: &str, media: &MediaRef) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let name = media.file_name();
            name.rsplit_once('.')
                .map_or(name, |(stem, _)| stem)
                .to_string()
        });
    let line = without_angle_brackets(&line);
    truncate_chars(line.trim(), TITLE_MAX_CHARS)
}

fn tags_of(options: &Value) -> Result<Vec<String>, PublishError> {
    let raw: Vec<String> = match options.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(str::to_string).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|t| match t {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(permanent(format!(
                    "the YouTube option tags contains {other}; give words, e.g. tags=[\"travel\",\"alps\"] or tags=travel,alps"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(permanent(format!(
                "the YouTube option tags is {other}; give words, e.g. tags=travel,alps"
            )))
        }
    };
    let tags: Vec<String> = raw
        .iter()
        .map(|t| t.trim().trim_start_matches('#').trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(bad) = tags.iter().find(|t| t.contains('<') || t.contains('>')) {
        return Err(permanent(format!(
            "the YouTube tag {bad:?} contains < or >, which YouTube refuses — remove them"
        )));
    }
    let n = tags_length(&tags);
    if n > TAGS_MAX_CHARS {
        return Err(permanent(format!(
            "the YouTube tags take {n} characters (commas, and quotes around tags with spaces, count); YouTube allows {TAGS_MAX_CHARS} — remove some tags"
        )));
    }
    Ok(tags)
}

pub(super) fn thumbnail_of(options: &Value) -> Result<Option<Thumbnail>, PublishError> {
    let Some(raw) = option_text(options, "thumbnail_path") else {
        return Ok(None);
    };
    let path = PathBuf::from(&raw);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| raw.clone());
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mime = match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => {
            return Err(permanent(format!(
                "the thumbnail {name} is not a JPEG or PNG image — YouTube takes .jpg or .png thumbnails"
            )))
        }
    };
    let meta = std::fs::metadata(&path).map_err(|e| {
        permanent(format!(
            "the thumbnail {name} cannot be read ({}) — choose the thumbnail file again",
            e.kind()
        ))
    })?;
    if meta.len() > THUMBNAIL_MAX_BYTES {
        return Err(permanent(format!(
            "the thumbnail {name} is {} bytes; YouTube takes thumbnails up to 2 MB — use a smaller image (1280×720 JPEG works well)",
            meta.len()
        )));
    }
    Ok(Some(Thumbnail { path, mime }))
}

/// Checks the part against YouTube's rules and decides the metadata.
pub(super) fn plan<'a>(
    req: &PartRequest<'a>,
    now: DateTime<Utc>,
) -> Result<Plan<'a>, PublishError> {
    if req.part_index > 0 {
        return Err(permanent(format!(
            "YouTube has no threads — publish part {} as its own post",
            req.part_index + 1
        )));
    }
    let videos: Vec<&MediaRef> = req.part.media.iter().filter(|m| m.is_video()).collect();
    let others = req.part.media.len() - videos.len();
    let media = match (videos.as_slice(), others) {
        ([one], 0) => *one,
        ([], _) => {
            return Err(permanent(
                "a YouTube post is a video — attach one video file",
            ))
        }
        _ => {
            return Err(permanent(format!(
                "a YouTube post is exactly one video; this one has {} videos and {others} other files — keep one video",
                videos.len()
            )))
        }
    };
    let mime = media.mime.trim().to_ascii_lowercase();
    let options = req.options;
    let text = req.part.text.trim();

    let title = match option_text(options, "title") {
        Some(t) => {
            let t = without_angle_brackets(&t);
            let n = t.chars().count();
            if n > TITLE_MAX_CHARS {
                return Err(permanent(format!(
                    "the YouTube title is {n} characters; YouTube allows {TITLE_MAX_CHARS} — shorten it by {}",
                    n - TITLE_MAX_CHARS
                )));
            }
            t
        }
        None => derived_title(text, media),
    };
    let description = without_angle_brackets(text);
    if description.len() > DESCRIPTION_MAX_BYTES {
        return Err(permanent(format!(
            "the YouTube description is {} bytes of UTF-8 (after replacing < and >); YouTube allows {DESCRIPTION_MAX_BYTES} bytes — shorten the text by {} bytes",
            description.len(),
            description.len() - DESCRIPTION_MAX_BYTES
        )));
    }
    let tags = tags_of(options)?;
    let category_id =
        option_text(options, "category_id").unwrap_or_else(|| DEFAULT_CATEGORY.to_string());
    if category_id.is_empty() || !category_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(permanent(format!(
            "the YouTube option category_id is {category_id:?}; use a numeric category id such as 22 (People & Blogs), 10 (Music) or 27 (Education)"
        )));
    }
    let privacy = option_text(options, "privacy")
        .or_else(|| option_text(options, "privacy_status"))
        .map(|p| p.to_ascii_lowercase())
        .unwrap_or_else(|| "public".to_string());
    if !matches!(privacy.as_str(), "public" | "unlisted" | "private") {
        return Err(permanent(format!(
            "the YouTube option privacy is {privacy:?}; use public, unlisted or private"
        )));
    }
    let made_for_kids = option_bool(options, "made_for_kids")?.unwrap_or(false);
    let notify_subscribers = option_bool(options, "notify_subscribers")?;
    let hand_off = option_bool(options, "hand_off")?;
    // Hand-off: YouTube publishes the video itself at the post's time, so it goes out even
    // while this computer sleeps. Only for public posts (publishAt always makes the video
    // public), and only while the time is still ahead.
    let publish_at = match (hand_off, req.scheduled_at) {
        (Some(false), _) | (_, None) => None,
        (_, Some(_)) if privacy != "public" => None,
        (explicit, Some(at)) => {
            let lead = at - now;
            let wanted = if explicit == Some(true) {
                HAND_OFF_LEAD_EXPLICIT
            } else {
                HAND_OFF_LEAD
            };
            (lead > wanted).then_some(at)
        }
    };
    // Checked now so a bad thumbnail fails before the upload; set after it.
    thumbnail_of(options)?;
    Ok(Plan {
        media,
        mime,
        title,
        description,
        tags,
        category_id,
        privacy,
        made_for_kids,
        notify_subscribers,
        publish_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_core::{Account, AccountStatus, Network, Part};

    fn account() -> Account {
        Account {
            id: "a".into(),
            network: Network::YouTube,
            handle: "h".into(),
            remote_id: None,
            display_name: None,
            status: AccountStatus::Active,
            status_reason: None,
            token_expires_at: None,
            settings: json!({}),
            created_at: Utc::now(),
        }
    }

    fn video() -> MediaRef {
        MediaRef {
            path: "/tmp/My Clip.mp4".into(),
            sha256: "0".repeat(64),
            mime: "video/mp4".into(),
            bytes: 10,
            width: None,
            height: None,
            alt: None,
        }
    }

    fn plan_of(
        text: &str,
        options: Value,
        scheduled_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(String, String, Option<DateTime<Utc>>), PublishError> {
        let account = account();
        let part = Part {
            text: text.into(),
            media: vec![video()],
        };
        let req = PartRequest {
            post_id: "p",
            target_id: "t",
            account: &account,
            part_index: 0,
            part: &part,
            previous: &[],
            client_handle: None,
            intent_at: now,
            options: &options,
            first_comment: None,
            scheduled_at,
        };
        let p = plan(&req, now)?;
        Ok((p.title, p.description, p.publish_at))
    }

    #[test]
    fn the_title_is_the_first_line_without_angle_brackets_and_at_most_100_chars() {
        let now = Utc::now();
        let (title, description, _) =
            plan_of("\n  A <great> day  \nmore words", json!({}), None, now).expect("plan");
        assert_eq!(title, "A \u{2039}great\u{203A} day");
        assert!(description.starts_with("A \u{2039}great"));
        let long = "x".repeat(150);
        let (title, _, _) = plan_of(&long, json!({}), None, now).expect("plan");
        assert_eq!(title.chars().count(), 100);
        assert!(title.ends_with('…'));
        let (title, _, _) = plan_of("", json!({}), None, now).expect("plan");
        assert_eq!(title, "My Clip");
        let (title, _, _) = plan_of("text", json!({"title": "Chosen"}), None, now).expect("plan");
        assert_eq!(title, "Chosen");
        let e = plan_of("t", json!({"title": "y".repeat(101)}), None, now).expect_err("long");
        assert!(e.message.contains("101 characters"), "{}", e.message);
    }

    #[test]
    fn the_description_is_limited_in_bytes() {
        let now = Utc::now();
        // 2,500 two-byte characters = 5,000 bytes: fits.
        assert!(plan_of(&"é".repeat(2500), json!({}), None, now).is_ok());
        let e = plan_of(&"é".repeat(2501), json!({}), None, now).expect_err("too long");
        assert!(e.message.contains("5002 bytes"), "{}", e.message);
        assert!(e.message.starts_with("YouTube: "), "{}", e.message);
    }

    #[test]
    fn hand_off_happens_only_well_ahead_and_for_public_posts() {
        let now = Utc::now();
        let later = now + chrono::Duration::hours(2);
        let (_, _, at) = plan_of("t", json!({}), Some(later), now).expect("plan");
        assert_eq!(at, Some(later));
        let soon = now + chrono::Duration::minutes(2);
        let (_, _, at) = plan_of("t", json!({}), Some(soon), now).expect("plan");
        assert_eq!(at, None, "a few minutes ahead: upload normally");
        let (_, _, at) = plan_of("t", json!({"hand_off": true}), Some(soon), now).expect("plan");
        assert_eq!(at, Some(soon), "asked for: hand off even when close");
        let (_, _, at) = plan_of("t", json!({"hand_off": false}), Some(later), now).expect("plan");
        assert_eq!(at, None);
        let (_, _, at) =
            plan_of("t", json!({"privacy": "unlisted"}), Some(later), now).expect("plan");
        assert_eq!(at, None);
        let (_, _, at) = plan_of("t", json!({"hand_off": true}), Some(now), now).expect("plan");
        assert_eq!(at, None, "the time has come: nothing to hand off");
    }

    #[test]
    fn tags_are_counted_like_youtube() {
        assert_eq!(tags_length(&["a".into(), "b c".into()]), 1 + 1 + 5);
        let now = Utc::now();
        let many: Vec<String> = (0..60).map(|i| format!("tag number {i}")).collect();
        let e = plan_of("t", json!({ "tags": many }), None, now).expect_err("too many");
        assert!(e.message.contains("allows 500"), "{}", e.message);
        assert!(plan_of("t", json!({"tags": "a, b ,#c"}), None, now).is_ok());
    }
}
