//! Checking a part against Instagram's rules (instagram.md "Limits") and gathering what the
//! containers need, before anything is sent.

use super::{permanent, Login, NO_MEDIA};
use crate::PartRequest;
use outpost_core::error::sanitize_message;
use outpost_core::{MediaRef, PublishError};
use serde_json::Value;

pub(super) const CAPTION_MAX: usize = 2200;
pub(super) const HASHTAGS_MAX: usize = 30;
pub(super) const MENTIONS_MAX: usize = 20;
pub(super) const ALT_MAX: usize = 1000;
pub(super) const CAROUSEL_MAX: usize = 10;
pub(super) const COLLABORATORS_MAX: usize = 3;
const MB: u64 = 1024 * 1024;
pub(super) const IMAGE_MAX_BYTES: u64 = 8 * MB;
pub(super) const VIDEO_MAX_BYTES: u64 = 300 * MB;

/// One file of the part, as a container will carry it.
#[derive(Debug, Clone)]
pub(super) struct Item<'a> {
    /// Index in the part's media.
    pub index: usize,
    pub media: &'a MediaRef,
    pub video: bool,
    /// The public address Instagram fetches (`None`: sent by resumable upload).
    pub url: Option<String>,
    pub alt: Option<String>,
}

/// Per-target options (`PartRequest::options`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Options {
    pub share_to_feed: Option<bool>,
    pub thumb_offset: Option<u64>,
    pub cover_url: Option<String>,
    pub location_id: Option<String>,
    pub collaborators: Vec<String>,
    /// Staged public copies by SHA-256 (or by media index when given as an array).
    pub urls_by_sha: Vec<(String, String)>,
    pub urls_by_index: Vec<Option<String>>,
}

/// Everything one part needs, checked.
#[derive(Debug, Clone)]
pub(super) struct Plan<'a> {
    pub caption: Option<String>,
    pub items: Vec<Item<'a>>,
    pub options: Options,
    pub first_comment: Option<&'a str>,
}

impl Plan<'_> {
    pub fn is_carousel(&self) -> bool {
        self.items.len() > 1
    }
    /// What Instagram reports for the published post (`media_type`).
    pub fn remote_media_type(&self) -> &'static str {
        if self.is_carousel() {
            "CAROUSEL_ALBUM"
        } else if self.items.first().is_some_and(|i| i.video) {
            "VIDEO"
        } else {
            "IMAGE"
        }
    }
    /// Outpost's name for the kind of post (`extra.media_type`).
    pub fn kind(&self) -> &'static str {
        if self.is_carousel() {
            "CAROUSEL"
        } else if self.items.first().is_some_and(|i| i.video) {
            "REELS"
        } else {
            "IMAGE"
        }
    }
}

fn text_option(options: &Value, key: &str) -> Option<String> {
    match options.get(key)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_web_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("https://") || l.starts_with("http://")
}

impl Options {
    pub fn parse(options: &Value) -> Result<Options, PublishError> {
        let share_to_feed = match options.get("share_to_feed") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            Some(other) => {
                return Err(permanent(format!(
                    "the Instagram option share_to_feed is {other}; use true or false"
                )))
            }
        };
        let thumb_offset = match options.get("thumb_offset") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str()?.trim().parse().ok())
                    .ok_or_else(|| {
                        permanent(
                            "the Instagram option thumb_offset must be a whole number of milliseconds",
                        )
                    })?,
            ),
        };
        let cover_url = text_option(options, "cover_url");
        if let Some(u) = cover_url.as_deref().filter(|u| !is_web_url(u)) {
            return Err(permanent(format!(
                "the Instagram option cover_url {:?} is not a web address — use one that starts with https://",
                sanitize_message(u, 80)
            )));
        }
        let location_id = text_option(options, "location_id");
        let collaborators: Vec<String> = match options.get("collaborators") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().trim_start_matches('@').to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(|s| s.trim().trim_start_matches('@').to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Some(other) => {
                return Err(permanent(format!(
                    "the Instagram option collaborators is {other}; give up to {COLLABORATORS_MAX} usernames separated by commas"
                )))
            }
        };
        if collaborators.len() > COLLABORATORS_MAX {
            return Err(permanent(format!(
                "{} collaborators are named; Instagram invites at most {COLLABORATORS_MAX} — remove {}",
                collaborators.len(),
                collaborators.len() - COLLABORATORS_MAX
            )));
        }
        let (urls_by_sha, urls_by_index) = match options.get("media_urls") {
            Some(Value::Object(map)) => (
                map.iter()
                    .filter_map(|(sha, url)| {
                        let url = url.as_str()?.trim();
                        (!url.is_empty()).then(|| (sha.to_ascii_lowercase(), url.to_string()))
                    })
                    .collect(),
                Vec::new(),
            ),
            Some(Value::Array(items)) => (
                Vec::new(),
                items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                    })
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        Ok(Options {
            share_to_feed,
            thumb_offset,
            cover_url,
            location_id,
            collaborators,
            urls_by_sha,
            urls_by_index,
        })
    }

    /// The public address of the part's `index`-th file, if one was staged (or the file is
    /// itself at an `https://` address).
    fn url_for(&self, index: usize, m: &MediaRef) -> Option<String> {
        self.urls_by_index
            .get(index)
            .cloned()
            .flatten()
            .or_else(|| {
                let sha = m.sha256.to_ascii_lowercase();
                self.urls_by_sha
                    .iter()
                    .find(|(s, _)| *s == sha)
                    .map(|(_, u)| u.clone())
            })
            .or_else(|| {
                m.path
                    .to_ascii_lowercase()
                    .starts_with("https://")
                    .then(|| m.path.clone())
            })
    }
}

/// Counts `#tags` / `@mentions`: the marker at the start or after a non-word character,
/// followed by a word character.
pub(super) fn count_tags(text: &str, marker: char) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    (0..chars.len())
        .filter(|&i| {
            chars[i] == marker
                && (i == 0 || !word(chars[i - 1]))
                && chars.get(i + 1).is_some_and(|c| word(*c))
        })
        .count()
}

fn is_jpeg(m: &MediaRef) -> bool {
    matches!(
        m.mime.trim().to_ascii_lowercase().as_str(),
        "image/jpeg" | "image/jpg" | "image/pjpeg"
    )
}

fn is_reel_video(m: &MediaRef) -> bool {
    matches!(
        m.mime.trim().to_ascii_lowercase().as_str(),
        "video/mp4" | "video/quicktime"
    )
}

const STAGING: &str =
    "set up a staging bucket in Settings › Media staging (or `outpost staging set`), then retry";

/// Checks the part and decides how each file travels: images always by URL; videos by
/// resumable upload on Facebook Login, by URL on Instagram Login. `creating`: the containers
/// are about to be created, so the public addresses must be there (the dispatcher stages the
/// files only for that step; later steps continue with the containers).
pub(super) fn plan<'a>(
    req: &PartRequest<'a>,
    login: Login,
    creating: bool,
) -> Result<Plan<'a>, PublishError> {
    if req.part_index > 0 {
        return Err(permanent(format!(
            "Instagram has no threads, so part {} cannot be published — put everything in the first part",
            req.part_index + 1
        )));
    }
    let media = &req.part.media;
    if media.is_empty() {
        return Err(permanent(NO_MEDIA));
    }
    if media.len() > CAROUSEL_MAX {
        return Err(permanent(format!(
            "{} files are attached; an Instagram carousel takes at most {CAROUSEL_MAX} — remove {}",
            media.len(),
            media.len() - CAROUSEL_MAX
        )));
    }
    let options = Options::parse(req.options)?;
    let caption = Some(req.part.text.trim().to_string()).filter(|c| !c.is_empty());
    if let Some(c) = &caption {
        let n = c.chars().count();
        if n > CAPTION_MAX {
            return Err(permanent(format!(
                "the caption is {n} characters; Instagram allows {CAPTION_MAX} — shorten it by {}",
                n - CAPTION_MAX
            )));
        }
        let tags = count_tags(c, '#');
        if tags > HASHTAGS_MAX {
            return Err(permanent(format!(
                "the caption has {tags} hashtags; Instagram allows {HASHTAGS_MAX} — remove {}",
                tags - HASHTAGS_MAX
            )));
        }
        let mentions = count_tags(c, '@');
        if mentions > MENTIONS_MAX {
            return Err(permanent(format!(
                "the caption mentions {mentions} accounts; Instagram allows {MENTIONS_MAX} @-tags — remove {}",
                mentions - MENTIONS_MAX
            )));
        }
    }
    let mut items = Vec::with_capacity(media.len());
    for (index, m) in media.iter().enumerate() {
        let name = m.file_name();
        let video = if m.is_image() {
            if !is_jpeg(m) {
                return Err(permanent(format!(
                    "{name} is {}; Instagram takes JPEG images only — convert it to JPEG",
                    m.mime
                )));
            }
            if m.bytes > IMAGE_MAX_BYTES {
                return Err(permanent(format!(
                    "{name} is {} bytes; Instagram takes images up to 8 MB — use a smaller file",
                    m.bytes
                )));
            }
            false
        } else if m.is_video() {
            if !is_reel_video(m) {
                return Err(permanent(format!(
                    "{name} is {}; Instagram takes MP4 or MOV videos — convert it",
                    m.mime
                )));
            }
            if m.bytes > VIDEO_MAX_BYTES {
                return Err(permanent(format!(
                    "{name} is {} bytes; Instagram takes videos up to 300 MB — use a smaller file",
                    m.bytes
                )));
            }
            true
        } else {
            return Err(permanent(format!(
                "{name} is {}; Instagram takes JPEG images and MP4/MOV videos — remove it",
                m.mime
            )));
        };
        let alt = m
            .alt
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty() && !video)
            .map(str::to_string);
        if let Some(a) = &alt {
            let n = a.chars().count();
            if n > ALT_MAX {
                return Err(permanent(format!(
                    "the alt text of {name} is {n} characters; Instagram allows {ALT_MAX} — shorten it"
                )));
            }
        }
        let url = if video && login == Login::Facebook {
            None
        } else if !creating {
            options.url_for(index, m)
        } else {
            let Some(url) = options.url_for(index, m) else {
                return Err(permanent(if video {
                    format!("Instagram fetches videos from a public address on accounts connected with Instagram Login ({name}): {STAGING}")
                } else {
                    format!("Instagram fetches images from a public address ({name}): {STAGING}")
                }));
            };
            if !url.is_ascii() {
                return Err(permanent(format!(
                    "the public address of {name} has characters other than US-ASCII, which Instagram refuses — check the media staging settings"
                )));
            }
            if !is_web_url(&url) {
                return Err(permanent(format!(
                    "the public address of {name} is not a web address — check the media staging settings"
                )));
            }
            Some(url)
        };
        items.push(Item {
            index,
            media: m,
            video,
            url,
            alt,
        });
    }
    let first_comment = req.first_comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = first_comment {
        let n = c.chars().count();
        if n > CAPTION_MAX {
            return Err(permanent(format!(
                "the first comment is {n} characters; Instagram allows {CAPTION_MAX} — shorten it"
            )));
        }
    }
    Ok(Plan {
        caption,
        items,
        options,
        first_comment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_are_counted_as_instagram_sees_them() {
        assert_eq!(count_tags("#a #b c#d #", '#'), 2);
        assert_eq!(count_tags("mail a@b.c and @ana, @bo_b", '@'), 2);
    }

    #[test]
    fn options_are_read_and_checked() {
        let o = Options::parse(&json!({
            "share_to_feed": "false",
            "thumb_offset": 1500,
            "collaborators": "@ana, bo",
            "media_urls": {"ABC": "https://cdn.test/a.jpg"},
        }))
        .unwrap_or_default();
        assert_eq!(o.share_to_feed, Some(false));
        assert_eq!(o.thumb_offset, Some(1500));
        assert_eq!(o.collaborators, vec!["ana".to_string(), "bo".to_string()]);
        assert_eq!(
            o.urls_by_sha,
            vec![("abc".to_string(), "https://cdn.test/a.jpg".to_string())]
        );
        assert!(Options::parse(&json!({"collaborators": "a,b,c,d"})).is_err());
        assert!(Options::parse(&json!({"share_to_feed": "maybe"})).is_err());
        assert!(Options::parse(&json!({"cover_url": "ftp://x"})).is_err());
    }
}
