//! Planning a part: every Threads rule that can be checked before the first request (the
//! 500-character count with emoji by bytes, five links, carousel sizes, formats, options), and
//! the staged addresses of the media.

use super::{permanent, PartRequest};
use outpost_core::{MediaRef, PublishError};
use serde_json::Value;

/// Threads' text limit, in its own count ([`outpost_core::text::threads_length`]).
pub const MAX_TEXT: usize = 500;
/// Unique links per post (text plus a distinct link attachment).
pub const MAX_LINKS: usize = 5;
pub const MAX_ALT: usize = 1000;
pub const MIN_CAROUSEL: usize = 2;
pub const MAX_CAROUSEL: usize = 20;
const MB: u64 = 1_000_000;
const MAX_IMAGE_BYTES: u64 = 8 * MB;
const MAX_VIDEO_BYTES: u64 = 1000 * MB;
const REPLY_CONTROLS: [&str; 5] = [
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
];

/// One image or video of a part.
pub(crate) struct MediaPlan<'a> {
    pub media: &'a MediaRef,
    pub video: bool,
    pub alt: Option<&'a str>,
}

impl MediaPlan<'_> {
    pub fn media_type(&self) -> &'static str {
        if self.video {
            "VIDEO"
        } else {
            "IMAGE"
        }
    }
    pub fn url_field(&self) -> &'static str {
        if self.video {
            "video_url"
        } else {
            "image_url"
        }
    }
}

/// What one part is to Threads.
pub(crate) struct Plan<'a> {
    pub text: &'a str,
    pub media: Vec<MediaPlan<'a>>,
    pub reply_to: Option<String>,
    pub reply_control: Option<String>,
    pub topic_tag: Option<String>,
    pub link_attachment: Option<String>,
    pub first_comment: Option<&'a str>,
}

impl Plan<'_> {
    pub fn is_text(&self) -> bool {
        self.media.is_empty()
    }
    pub fn is_carousel(&self) -> bool {
        self.media.len() > 1
    }
    /// `media_type` as the listing endpoints name a published post.
    pub fn listed_media_type(&self) -> &'static str {
        match self.media.as_slice() {
            [] => "TEXT_POST",
            [m] if m.video => "VIDEO",
            [_] => "IMAGE",
            _ => "CAROUSEL_ALBUM",
        }
    }
}

fn label(part_index: usize) -> String {
    if part_index == 0 {
        "the text".to_string()
    } else {
        format!("the text of part {}", part_index + 1)
    }
}

/// The unique links of a text, as Threads counts them.
pub(crate) fn links(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for span in outpost_core::text::find_urls(text) {
        let link = text[span.start..span.end].to_string();
        if !out.contains(&link) {
            out.push(link);
        }
    }
    out
}

/// Text length and links of a text (with an optional link attachment).
fn check_text(text: &str, what: &str, attachment: Option<&str>) -> Result<(), PublishError> {
    let n = outpost_core::text::threads_length(text);
    if n > MAX_TEXT {
        return Err(permanent(format!(
            "{what} is {n} characters as Threads counts them (each emoji counts its UTF-8 bytes, 4 for most); Threads allows {MAX_TEXT} — shorten it by {}",
            n - MAX_TEXT
        )));
    }
    let mut all = links(text);
    if let Some(a) = attachment {
        if !all.iter().any(|l| l == a) {
            all.push(a.to_string());
        }
    }
    if all.len() > MAX_LINKS {
        return Err(permanent(format!(
            "{what} has {} different links (the link attachment included); Threads allows {MAX_LINKS} per post (THREADS_API__LINK_LIMIT_EXCEEDED) — remove {}",
            all.len(),
            all.len() - MAX_LINKS
        )));
    }
    Ok(())
}

fn option_text(options: &Value, key: &str) -> Result<Option<String>, PublishError> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(permanent(format!(
            "the Threads option {key} is {other}; it must be text"
        ))),
    }
}

/// The post a thread part replies to: the previous part.
pub(crate) fn part_parent(req: &PartRequest<'_>) -> Result<Option<String>, PublishError> {
    if req.part_index == 0 {
        return Ok(None);
    }
    match req.previous.get(req.part_index - 1) {
        Some(p) if !p.remote_id.is_empty() => Ok(Some(p.remote_id.clone())),
        _ => Err(permanent(format!(
            "internal error: part {} of the thread has no published part to reply to — retry the post",
            req.part_index + 1
        ))),
    }
}

/// The first comment, for part 0 only.
pub(crate) fn first_comment<'a>(req: &PartRequest<'a>) -> Option<&'a str> {
    (req.part_index == 0)
        .then_some(req.first_comment)
        .flatten()
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// Checks the part against Threads' rules and gathers what the requests need.
pub(crate) fn plan_part<'a>(req: &PartRequest<'a>) -> Result<Plan<'a>, PublishError> {
    let text = req.part.text.trim_end();
    let options = req.options;
    let link_attachment = option_text(options, "link_attachment")?;
    if let Some(l) = &link_attachment {
        if !(l.starts_with("https://") || l.starts_with("http://")) {
            return Err(permanent(format!(
                "the Threads option link_attachment is {l:?}; it must be a web address (https://…)"
            )));
        }
        if !req.part.media.is_empty() {
            return Err(permanent(
                "Threads shows a link attachment only on text posts — remove the media or the link_attachment option",
            ));
        }
    }
    check_text(text, &label(req.part_index), link_attachment.as_deref())?;
    if text.trim().is_empty() && req.part.media.is_empty() {
        return Err(permanent(
            "the post has neither text nor media — write something or attach a file",
        ));
    }
    let reply_control = option_text(options, "reply_control")?;
    if let Some(rc) = &reply_control {
        if !REPLY_CONTROLS.contains(&rc.as_str()) {
            return Err(permanent(format!(
                "the Threads option reply_control is {rc:?}; use {}",
                REPLY_CONTROLS.join(", ")
            )));
        }
    }
    let topic_tag = option_text(options, "topic_tag")?
        .map(|t| t.trim_start_matches('#').to_string())
        .filter(|t| !t.is_empty());
    if let Some(tag) = &topic_tag {
        let n = tag.chars().count();
        if n > 50 || tag.contains('.') || tag.contains('&') {
            return Err(permanent(format!(
                "the Threads topic tag {tag:?} must be 1–50 characters without “.” or “&”"
            )));
        }
    }
    let n = req.part.media.len();
    if n > MAX_CAROUSEL {
        return Err(permanent(format!(
            "{n} files are attached; a Threads carousel takes {MIN_CAROUSEL}–{MAX_CAROUSEL} — remove {} or put them in a further thread part",
            n - MAX_CAROUSEL
        )));
    }
    let mut media = Vec::with_capacity(n);
    for m in &req.part.media {
        let mime = m.mime.trim().to_ascii_lowercase();
        let video = match mime.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" | "image/png" => false,
            "video/mp4" | "video/quicktime" => true,
            _ => {
                return Err(permanent(format!(
                "{} is {}; Threads takes JPEG and PNG images and MP4 or MOV videos — convert it",
                m.file_name(),
                m.mime
            )))
            }
        };
        let (max, noun) = if video {
            (MAX_VIDEO_BYTES, "videos up to 1 GB")
        } else {
            (MAX_IMAGE_BYTES, "images up to 8 MB")
        };
        if m.bytes > max {
            return Err(permanent(format!(
                "{} is {} bytes; Threads takes {noun} — use a smaller file",
                m.file_name(),
                m.bytes
            )));
        }
        let alt = m.alt.as_deref().map(str::trim).filter(|a| !a.is_empty());
        if let Some(a) = alt {
            let count = a.chars().count();
            if count > MAX_ALT {
                return Err(permanent(format!(
                    "the alt text of {} is {count} characters; Threads allows {MAX_ALT} — shorten it",
                    m.file_name()
                )));
            }
        }
        media.push(MediaPlan {
            media: m,
            video,
            alt,
        });
    }
    let first_comment = first_comment(req);
    if let Some(c) = first_comment {
        check_text(c, "the first comment", None)?;
    }
    Ok(Plan {
        text,
        media,
        reply_to: part_parent(req)?,
        reply_control,
        topic_tag,
        link_attachment,
        first_comment,
    })
}

/// The public addresses of the part's media, in order, from `options.media_urls`
/// (`{sha256: url}`, staged by the dispatcher).
pub(crate) fn media_urls(plan: &Plan<'_>, options: &Value) -> Result<Vec<String>, PublishError> {
    let staged = options.get("media_urls");
    let mut out = Vec::with_capacity(plan.media.len());
    for m in &plan.media {
        let url = staged
            .and_then(|s| s.get(&m.media.sha256))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let Some(url) = url else {
            return Err(permanent(format!(
                "Threads fetches media from a public address and {} has none — set up a staging bucket in Settings › Media staging (or `outpost staging set`), then retry",
                m.media.file_name()
            )));
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(permanent(format!(
                "the staged address of {} is not a web address — check the media staging settings",
                m.media.file_name()
            )));
        }
        out.push(url.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_unique_and_counted_with_the_attachment() {
        assert_eq!(
            links("see https://a.test/x and https://a.test/x, https://b.test."),
            ["https://a.test/x", "https://b.test"]
        );
        let five = (1..=5)
            .map(|i| format!("https://l{i}.test"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(check_text(&five, "the text", None).is_ok());
        assert!(check_text(&five, "the text", Some("https://l1.test")).is_ok());
        let e = check_text(&five, "the text", Some("https://l6.test")).unwrap_err();
        assert!(e.message.contains("6 different links"), "{}", e.message);
    }

    #[test]
    fn emoji_count_their_bytes() {
        let ok = format!("{}{}", "a".repeat(496), "😀");
        assert!(check_text(&ok, "the text", None).is_ok());
        let over = format!("{}{}", "a".repeat(497), "😀");
        let e = check_text(&over, "the text", None).unwrap_err();
        assert!(e.message.contains("501 characters"), "{}", e.message);
        assert!(e.message.contains("shorten it by 1"), "{}", e.message);
    }
}
