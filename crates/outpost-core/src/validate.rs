//! Per-network limits in one table, and the checks run when a post is scheduled and again
//! right before it is published. Every finding names the network, the field and the fix.

use crate::model::{MediaRef, PostContent};
use crate::network::Network;
use crate::text;
use serde::{Deserialize, Serialize};

/// How a network counts text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TextCount {
    Graphemes,
    Chars,
    /// X: URLs 23, CJK/emoji 2, after NFC.
    XWeighted,
    /// Threads: characters, emoji by their UTF-8 bytes.
    ThreadsEmojiBytes,
    Utf16,
}

impl TextCount {
    pub fn count(self, s: &str) -> usize {
        match self {
            TextCount::Graphemes => text::graphemes(s),
            TextCount::Chars => text::chars(s),
            TextCount::XWeighted => text::x_weighted_length(s),
            TextCount::ThreadsEmojiBytes => text::threads_length(s),
            TextCount::Utf16 => text::utf16_units(s),
        }
    }
    pub fn unit(self) -> &'static str {
        match self {
            TextCount::Graphemes => "characters (graphemes)",
            TextCount::Chars => "characters",
            TextCount::XWeighted => "weighted characters",
            TextCount::ThreadsEmojiBytes => "characters (emoji count their bytes)",
            TextCount::Utf16 => "UTF-16 units",
        }
    }
}

/// One network's limits. A changed limit is a one-line change here; `source` says where each
/// number comes from (the files under shared/docs/platforms/).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub network: Network,
    pub text_max: usize,
    pub text_count: TextCount,
    pub text_bytes_max: Option<usize>,
    pub max_images: usize,
    pub max_videos: usize,
    pub image_max_bytes: u64,
    pub video_max_bytes: u64,
    pub image_mimes: &'static [&'static str],
    pub requires_media: bool,
    pub video_only: bool,
    pub no_image_video_mix: bool,
    pub supports_threads: bool,
    pub source: &'static str,
}

const MB: u64 = 1_000_000;
const COMMON_IMAGES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

pub fn limits(network: Network) -> Limits {
    let base = Limits {
        network,
        text_max: 0,
        text_count: TextCount::Chars,
        text_bytes_max: None,
        max_images: 0,
        max_videos: 0,
        image_max_bytes: 0,
        video_max_bytes: 0,
        image_mimes: COMMON_IMAGES,
        requires_media: false,
        video_only: false,
        no_image_video_mix: false,
        supports_threads: false,
        source: "",
    };
    match network {
        Network::Bluesky => Limits {
            text_max: 300,
            text_count: TextCount::Graphemes,
            text_bytes_max: Some(3000),
            max_images: 4,
            // One video per post, through the video service; only `video/mp4` (the lexicon's
            // `accept`) — this table has no video MIME list, so the client refuses others.
            max_videos: 1,
            // Lexicon allows 2,000,000 since 2026-04-08; Outpost targets older PDSes too.
            image_max_bytes: MB,
            // The lexicon allows 300,000,000 bytes (since 2026-08-11; 100 MB before), but the
            // video ends up as a blob on the account's PDS, and Bluesky-hosted PDSes take at
            // most 52,428,800 bytes (50 MiB; the self-hosted installer sets the same). A larger
            // file is accepted at upload and fails minutes later with
            // `pds_upload_unsupported_blob_size`, so Outpost refuses it when the post is
            // scheduled. Source: bluesky.md, "Limits" (PDS blob limit) and §5
            // (`app.bsky.embed.video`).
            video_max_bytes: 52_428_800,
            image_mimes: &["image/jpeg", "image/png", "image/gif", "image/webp"],
            // An embed is exactly one of images, video, …
            no_image_video_mix: true,
            supports_threads: true,
            source: "bluesky.md: app.bsky.feed.post, app.bsky.embed.images, app.bsky.embed.video, PDS blob limit",
            ..base
        },
        Network::X => Limits {
            text_max: 280,
            text_count: TextCount::XWeighted,
            max_images: 4,
            max_videos: 1,
            image_max_bytes: 5 * MB,
            video_max_bytes: 512 * MB,
            no_image_video_mix: true,
            supports_threads: true,
            source: "x.md: POST /2/tweets, media upload",
            ..base
        },
        Network::LinkedIn => Limits {
            text_max: 3000,
            max_images: 20,
            max_videos: 1,
            image_max_bytes: 36 * MB,
            video_max_bytes: 500 * MB,
            no_image_video_mix: true,
            source: "linkedin.md: Posts API",
            ..base
        },
        Network::Pinterest => Limits {
            text_max: 800,
            max_images: 5,
            max_videos: 1,
            image_max_bytes: 20 * MB,
            video_max_bytes: 2000 * MB,
            image_mimes: &["image/jpeg", "image/png"],
            requires_media: true,
            no_image_video_mix: true,
            source: "pinterest.md: pins (description 800, carousel 2-5)",
            ..base
        },
        Network::Facebook => Limits {
            text_max: 63_206,
            max_images: 10,
            max_videos: 1,
            image_max_bytes: 4 * MB,
            video_max_bytes: 1000 * MB,
            no_image_video_mix: true,
            source: "facebook.md: photos ≤ 4 MB",
            ..base
        },
        Network::Instagram => Limits {
            text_max: 2200,
            max_images: 10,
            max_videos: 10,
            image_max_bytes: 8 * MB,
            video_max_bytes: 300 * MB,
            image_mimes: &["image/jpeg", "image/png"],
            requires_media: true,
            source: "instagram.md: caption 2,200; carousel 2-10",
            ..base
        },
        Network::Threads => Limits {
            text_max: 500,
            text_count: TextCount::ThreadsEmojiBytes,
            max_images: 20,
            max_videos: 20,
            image_max_bytes: 8 * MB,
            video_max_bytes: 1000 * MB,
            image_mimes: &["image/jpeg", "image/png"],
            supports_threads: true,
            source: "threads.md: 500 chars, emoji by bytes; carousel 2-20",
            ..base
        },
        Network::TikTok => Limits {
            text_max: 2200,
            text_count: TextCount::Utf16,
            max_images: 35,
            max_videos: 1,
            image_max_bytes: 20 * MB,
            video_max_bytes: 4000 * MB,
            image_mimes: &["image/jpeg", "image/webp"],
            requires_media: true,
            no_image_video_mix: true,
            source: "tiktok.md: caption 2,200 UTF-16 units",
            ..base
        },
        Network::YouTube => Limits {
            text_max: 5000,
            max_videos: 1,
            video_max_bytes: 256_000 * MB,
            requires_media: true,
            video_only: true,
            source: "youtube.md: description 5,000 bytes",
            text_count: TextCount::Chars,
            text_bytes_max: Some(5000),
            ..base
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem with a post for one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Finding {
    pub network: Network,
    pub severity: Severity,
    /// Which field: `text`, `part 2 text`, `media[1]` (the file name is in the message).
    pub field: String,
    pub message: String,
}

/// Checks one post for one network. Errors block scheduling; warnings are shown.
pub fn validate(network: Network, content: &PostContent) -> Vec<Finding> {
    let l = limits(network);
    let name = network.display_name();
    let mut out = Vec::new();
    let mut error = |field: String, message: String| {
        out.push(Finding {
            network,
            severity: Severity::Error,
            field,
            message: format!("{name}: {message}"),
        })
    };
    let parts = content.parts_for(network);
    if content.is_empty() {
        error(
            "text".into(),
            "the post is empty — write some text or add media".into(),
        );
        return out;
    }
    if parts.len() > 1 && !l.supports_threads {
        error(
            "parts".into(),
            format!("{name} does not support threads — publish the parts as separate posts or remove parts 2–{}", parts.len()),
        );
    }
    for (i, part) in parts.iter().enumerate() {
        let field = if parts.len() == 1 {
            "text".to_string()
        } else {
            format!("part {} text", i + 1)
        };
        if part.text.trim().is_empty() && part.media.is_empty() {
            error(
                field.clone(),
                format!("{field} is empty — write something or remove the part"),
            );
        }
        let n = l.text_count.count(&part.text);
        if n > l.text_max {
            error(
                field.clone(),
                format!(
                    "{field} is {n} {}; the limit is {} — shorten it by {}",
                    l.text_count.unit(),
                    l.text_max,
                    n - l.text_max
                ),
            );
        }
        if let Some(max) = l.text_bytes_max {
            let b = part.text.len();
            if b > max {
                error(
                    field.clone(),
                    format!("{field} is {b} bytes of UTF-8; the limit is {max} — shorten it"),
                );
            }
        }
        check_media(network, &l, i, parts.len(), &part.media, &mut error);
    }
    if l.requires_media && content.all_media().next().is_none() {
        let msg = match network {
            Network::Instagram => "Instagram posts require at least one media file".to_string(),
            Network::TikTok => "TikTok only supports video content — add a video".to_string(),
            Network::YouTube => "YouTube needs a video — add one".to_string(),
            _ => format!("{name} posts need an image or a video — add one"),
        };
        error("media".into(), msg);
    }
    out
}

fn check_media(
    network: Network,
    l: &Limits,
    part: usize,
    part_count: usize,
    media: &[MediaRef],
    error: &mut impl FnMut(String, String),
) {
    let name = network.display_name();
    let where_ = |j: usize| {
        if part_count == 1 {
            format!("media[{}]", j + 1)
        } else {
            format!("part {} media[{}]", part + 1, j + 1)
        }
    };
    let images = media.iter().filter(|m| m.is_image()).count();
    let videos = media.iter().filter(|m| m.is_video()).count();
    if l.video_only && images > 0 {
        let msg = if network == Network::TikTok {
            "TikTok only supports video content".to_string()
        } else {
            format!("{name} only accepts video — remove the images")
        };
        error("media".into(), msg);
    }
    if l.no_image_video_mix && images > 0 && videos > 0 {
        let msg = if network == Network::Pinterest {
            "Pinterest doesn't support mixing images and videos".to_string()
        } else {
            format!("{name} does not accept images and a video in one post — keep one kind")
        };
        error("media".into(), msg);
    }
    if images > l.max_images && !l.video_only {
        error(
            "media".into(),
            format!(
                "{images} images attached; {name} takes at most {} — remove {}",
                l.max_images,
                images - l.max_images
            ),
        );
    }
    if videos > l.max_videos {
        let msg = if l.max_videos == 0 {
            format!("Outpost cannot publish video to {name} yet — remove the video")
        } else {
            format!(
                "{videos} videos attached; {name} takes at most {}",
                l.max_videos
            )
        };
        error("media".into(), msg);
    }
    for (j, m) in media.iter().enumerate() {
        let file = m.file_name();
        if m.is_image() {
            if !l.image_mimes.contains(&m.mime.as_str()) {
                error(
                    where_(j),
                    format!(
                        "{file} is {}; {name} accepts {} — convert it",
                        m.mime,
                        l.image_mimes.join(", ")
                    ),
                );
            }
            if m.bytes > l.image_max_bytes {
                error(
                    where_(j),
                    format!(
                        "{file} is {} bytes; {name} images must be at most {} bytes — resize or compress it",
                        m.bytes, l.image_max_bytes
                    ),
                );
            }
        } else if m.is_video() && l.max_videos > 0 && m.bytes > l.video_max_bytes {
            error(
                where_(j),
                format!(
                    "{file} is {} bytes; {name} videos must be at most {} bytes",
                    m.bytes, l.video_max_bytes
                ),
            );
        } else if !m.is_image() && !m.is_video() {
            error(
                where_(j),
                format!("{file} ({}) is neither an image nor a video", m.mime),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Part;

    fn post(text: &str) -> PostContent {
        PostContent {
            parts: vec![Part {
                text: text.into(),
                media: vec![],
            }],
            ..Default::default()
        }
    }
    fn image(name: &str, bytes: u64) -> MediaRef {
        MediaRef {
            path: format!("/tmp/{name}"),
            sha256: "0".repeat(64),
            mime: "image/png".into(),
            bytes,
            width: Some(10),
            height: Some(10),
            alt: None,
        }
    }
    fn errors(n: Network, c: &PostContent) -> Vec<String> {
        validate(n, c).into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn bluesky_text_is_limited_by_graphemes_and_bytes() {
        assert!(errors(Network::Bluesky, &post(&"a".repeat(300))).is_empty());
        let e = errors(Network::Bluesky, &post(&"a".repeat(312)));
        assert_eq!(
            e,
            vec![
                "Bluesky: text is 312 characters (graphemes); the limit is 300 — shorten it by 12"
            ]
        );
        // 150 family emoji: 150 graphemes but 3,750 bytes
        let e = errors(Network::Bluesky, &post(&"👨‍👩‍👧‍👦".repeat(150)));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("3750 bytes"), "{e:?}");
    }

    #[test]
    fn media_count_size_and_kind_are_checked_per_network() {
        let mut c = post("pics");
        c.parts[0].media = (0..5).map(|i| image(&format!("p{i}.png"), 1000)).collect();
        let e = errors(Network::Bluesky, &c);
        assert_eq!(
            e,
            vec!["Bluesky: 5 images attached; Bluesky takes at most 4 — remove 1"]
        );
        c.parts[0].media = vec![image("big.png", 1_500_000)];
        let e = errors(Network::Bluesky, &c);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("big.png") && e[0].contains("1000000"),
            "{e:?}"
        );
        assert!(errors(Network::Instagram, &post("no media"))
            .contains(&"Instagram: Instagram posts require at least one media file".to_string()));
        let mut mixed = post("m");
        let mut v = image("v.mp4", 10);
        v.mime = "video/mp4".into();
        mixed.parts[0].media = vec![image("a.png", 10), v];
        assert!(errors(Network::Pinterest, &mixed).contains(
            &"Pinterest: Pinterest doesn't support mixing images and videos".to_string()
        ));
    }

    #[test]
    fn bluesky_takes_one_mp4_video_up_to_the_pds_blob_limit() {
        let video = |name: &str, bytes: u64| {
            let mut v = image(name, bytes);
            v.mime = "video/mp4".into();
            v
        };
        let l = limits(Network::Bluesky);
        assert_eq!((l.max_videos, l.video_max_bytes), (1, 52_428_800));
        let mut c = post("a clip");
        c.parts[0].media = vec![video("clip.mp4", 52_428_800)];
        assert!(errors(Network::Bluesky, &c).is_empty());
        c.parts[0].media = vec![video("big.mp4", 52_428_801)];
        assert_eq!(
            errors(Network::Bluesky, &c),
            vec![
                "Bluesky: big.mp4 is 52428801 bytes; Bluesky videos must be at most 52428800 bytes"
            ]
        );
        c.parts[0].media = vec![video("a.mp4", 10), video("b.mp4", 10)];
        assert_eq!(
            errors(Network::Bluesky, &c),
            vec!["Bluesky: 2 videos attached; Bluesky takes at most 1"]
        );
        c.parts[0].media = vec![image("a.png", 10), video("b.mp4", 10)];
        assert_eq!(
            errors(Network::Bluesky, &c),
            vec!["Bluesky: Bluesky does not accept images and a video in one post — keep one kind"]
        );
    }

    #[test]
    fn empty_posts_and_threads_where_unsupported() {
        assert_eq!(
            errors(Network::Bluesky, &post("  ")),
            vec!["Bluesky: the post is empty — write some text or add media"]
        );
        let mut c = post("one");
        c.parts.push(Part {
            text: "two".into(),
            media: vec![],
        });
        assert!(errors(Network::Bluesky, &c).is_empty());
        assert!(errors(Network::LinkedIn, &c)[0].contains("does not support threads"));
        c.parts[1].text = "a".repeat(301);
        assert!(errors(Network::Bluesky, &c)[0].starts_with("Bluesky: part 2 text is 301"));
    }

    #[test]
    fn every_network_has_limits_with_a_source() {
        for n in Network::ALL {
            let l = limits(n);
            assert!(l.text_max > 0 && !l.source.is_empty(), "{n}");
        }
    }
}
