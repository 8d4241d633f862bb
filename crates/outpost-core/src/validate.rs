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
    /// Video container types the network takes (empty: any video).
    pub video_mimes: &'static [&'static str],
    /// Video length in milliseconds, `(min, max)`; 0 means no bound on that side.
    pub video_ms: (u64, u64),
    /// Video frame rate in whole frames per second, `(min, max)`; 0 means no bound.
    pub video_fps: (u32, u32),
    /// Video aspect ratio bounds as `(width, height)` pairs: narrowest and widest allowed.
    pub video_aspect: Option<((u32, u32), (u32, u32))>,
    /// Image aspect ratio bounds, as for video.
    pub image_aspect: Option<((u32, u32), (u32, u32))>,
    /// Smallest side of a video / width of an image, in pixels (0: no bound).
    pub video_min_side: u32,
    pub image_min_width: u32,
    /// The video figures above come from third-party reports only (the platform reference
    /// marks them UNCONFIRMED): findings against them are warnings, not errors.
    pub video_limits_unconfirmed: bool,
    /// Whether Outpost posts `first_comment` on this network (as a comment or self-reply).
    pub supports_first_comment: bool,
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
        video_mimes: &[],
        video_ms: (0, 0),
        video_fps: (0, 0),
        video_aspect: None,
        image_aspect: None,
        video_min_side: 0,
        image_min_width: 0,
        video_limits_unconfirmed: false,
        supports_first_comment: false,
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
            video_mimes: &["video/mp4"],
            // 3 min per third-party reports (raised from 60 s in March 2025), UNCONFIRMED.
            video_ms: (0, 180_000),
            video_limits_unconfirmed: true,
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
            // x.md "Limits": advanced profile 0.5–140 s, ≤ 60 fps, aspect 1:3 to 3:1, 32×32 minimum.
            video_mimes: &["video/mp4", "video/quicktime"],
            video_ms: (500, 140_000),
            video_fps: (0, 60),
            video_aspect: Some(((1, 3), (3, 1))),
            video_min_side: 32,
            supports_first_comment: true,
            ..base
        },
        Network::LinkedIn => Limits {
            text_max: 3000,
            max_images: 20,
            max_videos: 1,
            image_max_bytes: 36 * MB,
            video_max_bytes: 500 * MB,
            // linkedin.md "Limits": JPG, PNG and GIF only.
            image_mimes: &["image/jpeg", "image/png", "image/gif"],
            no_image_video_mix: true,
            source: "linkedin.md: Posts API",
            // linkedin.md "Limits": MP4, 3 s – 30 min, aspect 1:2.4 to 2.4:1 — all third-party.
            video_mimes: &["video/mp4"],
            video_ms: (3_000, 1_800_000),
            video_aspect: Some(((10, 24), (24, 10))),
            video_limits_unconfirmed: true,
            supports_first_comment: true,
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
            // pinterest.md "Limits": MP4/MOV/M4V, 4 s – 15 min, aspect 1:2 to 1.91:1 — third-party.
            video_mimes: &["video/mp4", "video/quicktime", "video/x-m4v"],
            video_ms: (4_000, 900_000),
            video_aspect: Some(((1, 2), (191, 100))),
            video_limits_unconfirmed: true,
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
            video_mimes: &["video/mp4", "video/quicktime"],
            supports_first_comment: true,
            ..base
        },
        Network::Instagram => Limits {
            text_max: 2200,
            max_images: 10,
            max_videos: 10,
            image_max_bytes: 8 * MB,
            video_max_bytes: 300 * MB,
            // instagram.md "Limits": JPEG only (PNG is refused by the API).
            image_mimes: &["image/jpeg"],
            requires_media: true,
            source: "instagram.md: caption 2,200; carousel 2-10",
            // instagram.md "Limits": image aspect 4:5 to 1.91:1, width ≥ 320 (scaled up to 1440);
            // Reel MOV/MP4, 3 s – 15 min, 23–60 fps, aspect 0.01:1 to 10:1.
            image_aspect: Some(((4, 5), (191, 100))),
            image_min_width: 320,
            video_mimes: &["video/mp4", "video/quicktime"],
            video_ms: (3_000, 900_000),
            video_fps: (23, 60),
            video_aspect: Some(((1, 100), (10, 1))),
            supports_first_comment: true,
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
            // threads.md "Limits": image aspect ≤ 10:1, width ≥ 320; video MOV/MP4, ≤ 300 s,
            // 23–60 fps, aspect 0.01:1 to 10:1.
            image_aspect: Some(((1, 10), (10, 1))),
            image_min_width: 320,
            video_mimes: &["video/mp4", "video/quicktime"],
            video_ms: (0, 300_000),
            video_fps: (23, 60),
            video_aspect: Some(((1, 100), (10, 1))),
            supports_first_comment: true,
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
            // tiktok.md "Limits": MP4/WebM/MOV, 23–60 fps, 360–4096 px per side, ≤ 10 min (the
            // creator's own cap, `max_video_post_duration_sec`, is checked before publishing).
            video_mimes: &["video/mp4", "video/webm", "video/quicktime"],
            video_ms: (0, 600_000),
            video_fps: (23, 60),
            video_min_side: 360,
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

/// What probing found about a media file beyond [`MediaRef`]'s own fields (kept in the media
/// library, looked up by SHA-256).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaFacts {
    /// The name the user knows the file by (the library stores it under its hash).
    pub name: Option<String>,
    pub duration_ms: Option<u64>,
    pub frame_rate: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
}

/// Checks one post for one network with what the post itself carries (sizes, types,
/// dimensions). Errors block scheduling; warnings are shown.
pub fn validate(network: Network, content: &PostContent) -> Vec<Finding> {
    validate_with(network, content, &|_| None)
}

/// Like [`validate`], with the probed facts of each file (length, frame rate) from `facts`.
pub fn validate_with(
    network: Network,
    content: &PostContent,
    facts: &dyn Fn(&MediaRef) -> Option<MediaFacts>,
) -> Vec<Finding> {
    let l = limits(network);
    let name = network.display_name();
    let mut out = Vec::new();
    let mut push = |severity: Severity, field: String, message: String| {
        out.push(Finding {
            network,
            severity,
            field,
            message: format!("{name}: {message}"),
        })
    };
    let parts = content.parts_for(network);
    if content.is_empty() {
        push(
            Severity::Error,
            "text".into(),
            "the post is empty — write some text or add media".into(),
        );
        return out;
    }
    if parts.len() > 1 && !l.supports_threads {
        push(
                Severity::Error,
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
            push(
                Severity::Error,
                field.clone(),
                format!("{field} is empty — write something or remove the part"),
            );
        }
        let n = l.text_count.count(&part.text);
        if n > l.text_max {
            push(
                Severity::Error,
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
                push(
                    Severity::Error,
                    field.clone(),
                    format!("{field} is {b} bytes of UTF-8; the limit is {max} — shorten it"),
                );
            }
        }
        check_media(network, &l, i, parts.len(), &part.media, facts, &mut push);
    }
    if !l.supports_first_comment
        && content
            .first_comment
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
    {
        push(
            Severity::Warning,
            "first_comment".into(),
            format!("first comments are not supported — it will not be posted on {name}"),
        );
    }
    if l.requires_media && content.all_media().next().is_none() {
        let msg = match network {
            Network::Instagram => "Instagram posts require at least one media file".to_string(),
            Network::TikTok => "TikTok only supports video content — add a video".to_string(),
            Network::YouTube => "YouTube needs a video — add one".to_string(),
            _ => format!("{name} posts need an image or a video — add one"),
        };
        push(Severity::Error, "media".into(), msg);
    }
    out
}

fn check_media(
    network: Network,
    l: &Limits,
    part: usize,
    part_count: usize,
    media: &[MediaRef],
    facts: &dyn Fn(&MediaRef) -> Option<MediaFacts>,
    push: &mut impl FnMut(Severity, String, String),
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
        push(Severity::Error, "media".into(), msg);
    }
    if l.no_image_video_mix && images > 0 && videos > 0 {
        let msg = if network == Network::Pinterest {
            "Pinterest doesn't support mixing images and videos".to_string()
        } else {
            format!("{name} does not accept images and a video in one post — keep one kind")
        };
        push(Severity::Error, "media".into(), msg);
    }
    if network == Network::Pinterest && images > 1 {
        let sizes: Vec<(Option<u32>, Option<u32>)> = media
            .iter()
            .filter(|m| m.is_image())
            .map(|m| (m.width, m.height))
            .collect();
        if sizes.iter().any(|s| *s != sizes[0]) {
            push(
                Severity::Error,
                "media".into(),
                "Pinterest carousels need images of the same size — crop them to one size".into(),
            );
        }
    }
    if images > l.max_images && !l.video_only {
        push(
            Severity::Error,
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
        push(Severity::Error, "media".into(), msg);
    }
    for (j, m) in media.iter().enumerate() {
        let f = facts(m).unwrap_or_default();
        let file = f.name.as_deref().unwrap_or_else(|| m.file_name());
        if m.is_image() {
            if !l.image_mimes.contains(&m.mime.as_str()) {
                push(
                    Severity::Error,
                    where_(j),
                    format!(
                        "{file} is {}; {name} accepts {} — convert it",
                        m.mime,
                        l.image_mimes.join(", ")
                    ),
                );
            }
            if m.bytes > l.image_max_bytes {
                push(
                    Severity::Error,
                    where_(j),
                    format!(
                        "{file} is {} bytes; {name} images must be at most {} bytes — resize or compress it",
                        m.bytes, l.image_max_bytes
                    ),
                );
            }
            if let (Some(w), Some(h)) = (m.width, m.height) {
                if l.image_min_width > 0 && w < l.image_min_width {
                    push(
                        Severity::Error,
                        where_(j),
                        format!(
                            "{file} is {w} px wide; {name} needs images at least {} px wide — use a larger image",
                            l.image_min_width
                        ),
                    );
                }
                if let Some(msg) = aspect_problem(w, h, l.image_aspect) {
                    push(
                        Severity::Error,
                        where_(j),
                        format!("{file} {msg} for {name} images — crop it"),
                    );
                }
            }
        } else if m.is_video() {
            if l.max_videos > 0 && m.bytes > l.video_max_bytes {
                push(
                    Severity::Error,
                    where_(j),
                    format!(
                        "{file} is {} bytes; {name} videos must be at most {} bytes",
                        m.bytes, l.video_max_bytes
                    ),
                );
            }
            if l.max_videos == 0 {
                continue;
            }
            let sev = if l.video_limits_unconfirmed {
                Severity::Warning
            } else {
                Severity::Error
            };
            if !l.video_mimes.is_empty() && !l.video_mimes.contains(&m.mime.as_str()) {
                push(
                    Severity::Error,
                    where_(j),
                    format!(
                        "{file} is {}; {name} accepts {} — convert it",
                        m.mime,
                        l.video_mimes.join(", ")
                    ),
                );
            }
            if let Some(ms) = f.duration_ms {
                let (min, max) = l.video_ms;
                if (min > 0 && ms < min) || (max > 0 && ms > max) {
                    let range = match (min, max) {
                        (0, max) => format!("at most {}", human_ms(max)),
                        (min, 0) => format!("at least {}", human_ms(min)),
                        (min, max) => format!("{} to {}", human_ms(min), human_ms(max)),
                    };
                    let fix = if ms < min {
                        "use a longer clip"
                    } else {
                        "trim it"
                    };
                    push(
                        sev,
                        where_(j),
                        format!(
                            "{file} is {} long; {name} takes videos of {range} — {fix}",
                            human_ms(ms)
                        ),
                    );
                }
            }
            if let Some(fps) = f.frame_rate {
                let (min, max) = l.video_fps;
                // A little slack for 23.976 / 59.94 style rates.
                if (min > 0 && fps + 0.5 < f64::from(min))
                    || (max > 0 && fps > f64::from(max) + 0.5)
                {
                    let range = match (min, max) {
                        (0, max) => format!("at most {max}"),
                        (min, 0) => format!("at least {min}"),
                        (min, max) => format!("{min}–{max}"),
                    };
                    push(
                        sev,
                        where_(j),
                        format!(
                            "{file} runs at {fps:.2} frames per second; {name} takes {range} fps — re-export it"
                        ),
                    );
                }
            }
            if let (Some(w), Some(h)) = (m.width, m.height) {
                if l.video_min_side > 0 && w.min(h) < l.video_min_side {
                    push(
                        sev,
                        where_(j),
                        format!(
                            "{file} is {w}×{h}; {name} needs at least {} px on each side — use a larger video",
                            l.video_min_side
                        ),
                    );
                }
                if let Some(msg) = aspect_problem(w, h, l.video_aspect) {
                    push(
                        sev,
                        where_(j),
                        format!("{file} {msg} for {name} videos — crop it"),
                    );
                }
            }
        } else {
            push(
                Severity::Error,
                where_(j),
                format!("{file} ({}) is neither an image nor a video", m.mime),
            );
        }
    }
}

/// Checks one target's options (`PostContent::options_for`) for `network`; `address` names
/// the account in messages.
pub fn validate_options(
    network: Network,
    address: &str,
    options: &serde_json::Value,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let text = |k: &str| {
        options
            .get(k)
            .and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.trim().to_string()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
    };
    let mut error = |field: &str, message: String| {
        out.push(Finding {
            network,
            severity: Severity::Error,
            field: field.into(),
            message: format!("{}: {message}", network.display_name()),
        })
    };
    // Yes/no options must be booleans.
    let flags: &[&str] = match network {
        Network::TikTok => &["disable_comment", "disable_duet", "disable_stitch"],
        Network::YouTube => &["made_for_kids", "hand_off", "notify_subscribers"],
        Network::Facebook => &["hand_off", "reel"],
        _ => &[],
    };
    for key in flags {
        if let Some(v) = options
            .get(*key)
            .filter(|v| !v.is_null() && !v.is_boolean())
        {
            error(key, format!("the option {key} is {v}; use true or false"));
        }
    }
    if network == Network::TikTok {
        const LEVELS: [&str; 4] = [
            "PUBLIC_TO_EVERYONE",
            "MUTUAL_FOLLOW_FRIENDS",
            "FOLLOWER_OF_CREATOR",
            "SELF_ONLY",
        ];
        let inbox = options.get("mode").and_then(|v| v.as_str()) == Some("inbox");
        match options.get("mode") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(m)) if m == "direct" || m == "inbox" => {}
            Some(serde_json::Value::String(m)) => error(
                "mode",
                format!("the option mode is {m:?}; use direct (post now) or inbox (send to the TikTok inbox as a draft)"),
            ),
            Some(v) => error("mode", format!("the option mode is {v}; it must be text")),
        }
        match options.get("privacy_level") {
            None | Some(serde_json::Value::Null) if !inbox => error(
                "privacy_level",
                format!("choose who can watch this video for {address}"),
            ),
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(p)) if LEVELS.contains(&p.as_str()) => {}
            Some(serde_json::Value::String(p)) => error(
                "privacy_level",
                format!(
                    "the option privacy_level is {p:?}; use one of {}",
                    LEVELS.join(", ")
                ),
            ),
            Some(v) => error(
                "privacy_level",
                format!("the option privacy_level is {v}; it must be text"),
            ),
        }
    }
    if network == Network::YouTube {
        if let Some(t) = text("title") {
            if t.contains(['<', '>']) {
                error(
                    "title",
                    "the title contains < or >, which YouTube refuses — remove them".into(),
                );
            }
            let n = t.chars().count();
            if n > 100 {
                error(
                    "title",
                    format!(
                        "the title is {n} characters; the limit is 100 — shorten it by {}",
                        n - 100
                    ),
                );
            }
        }
        match options.get("privacy") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(p))
                if matches!(p.as_str(), "public" | "unlisted" | "private") => {}
            Some(serde_json::Value::String(p)) => error(
                "privacy",
                format!("the option privacy is {p:?}; use public, unlisted or private"),
            ),
            Some(v) => error(
                "privacy",
                format!("the option privacy is {v}; it must be text"),
            ),
        }
        if let Some(tags) = options.get("tags").and_then(|v| v.as_array()) {
            let tags: Vec<&str> = tags.iter().filter_map(|t| t.as_str()).collect();
            if let Some(bad) = tags.iter().find(|t| t.contains(['<', '>'])) {
                error(
                    "tags",
                    format!("the tag {bad:?} contains < or >, which YouTube refuses — remove them"),
                );
            }
            // YouTube counts the commas between tags, and quotes around tags with spaces.
            let n: usize = tags
                .iter()
                .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
                .sum::<usize>()
                + tags.len().saturating_sub(1);
            if n > 500 {
                error(
                    "tags",
                    format!("the tags take {n} characters (commas, and quotes around tags with spaces, count); the limit is 500 — remove some tags"),
                );
            }
        }
    }
    if network == Network::Pinterest {
        if text("board_id").is_none() {
            error(
                "board",
                format!("Pinterest board not selected — choose a board for {address}"),
            );
        }
        if let Some(t) = text("title") {
            if t.chars().count() > 100 {
                error(
                    "title",
                    format!(
                        "the pin title is {} characters; the limit is 100 — shorten it",
                        t.chars().count()
                    ),
                );
            }
        }
        if let Some(link) = text("link") {
            if !(link.starts_with("https://") || link.starts_with("http://")) || link.len() > 2048 {
                error("link", format!("the pin link {link:?} must be an http(s) address of at most 2,048 characters"));
            }
        }
    }
    out
}

/// `Some("is 1:5 (…); the allowed range is 4:5 to 1.91:1")` when `w`×`h` is outside the
/// bounds. Compared exactly in integers: `w/h < a/b` ⇔ `w·b < a·h`.
fn aspect_problem(w: u32, h: u32, bounds: Option<((u32, u32), (u32, u32))>) -> Option<String> {
    let ((na, nb), (wa, wb)) = bounds?;
    if w == 0 || h == 0 {
        return None;
    }
    let (w64, h64) = (u64::from(w), u64::from(h));
    let too_narrow = w64 * u64::from(nb) < u64::from(na) * h64;
    let too_wide = w64 * u64::from(wb) > u64::from(wa) * h64;
    if !too_narrow && !too_wide {
        return None;
    }
    Some(format!(
        "is {w}×{h} ({}:1); the allowed aspect ratio is {} to {}",
        trim_ratio(w as f64 / h as f64),
        ratio_label(na, nb),
        ratio_label(wa, wb)
    ))
}

fn trim_ratio(r: f64) -> String {
    let s = format!("{r:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn ratio_label(a: u32, b: u32) -> String {
    if b == 1 || a == 1 || b.rem_euclid(10) != 0 {
        format!("{a}:{b}")
    } else {
        format!("{}:1", trim_ratio(f64::from(a) / f64::from(b)))
    }
}

/// "2 min 30 s", "0.5 s".
fn human_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let rest = ms % 1000;
    match (secs / 60, secs % 60, rest) {
        (0, s, 0) => format!("{s} s"),
        (0, s, r) => trim_ratio(s as f64 + r as f64 / 1000.0) + " s",
        (m, 0, _) => format!("{m} min"),
        (m, s, _) => format!("{m} min {s} s"),
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

    fn video(name: &str, w: u32, h: u32) -> MediaRef {
        MediaRef {
            mime: "video/mp4".into(),
            width: Some(w),
            height: Some(h),
            ..image(name, 1000)
        }
    }

    fn with_media(m: MediaRef) -> PostContent {
        PostContent {
            parts: vec![Part {
                text: "clip".into(),
                media: vec![m],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn probed_length_frame_rate_and_aspect_are_checked() {
        let facts = |ms: u64, fps: f64| {
            move |_: &MediaRef| {
                Some(MediaFacts {
                    duration_ms: Some(ms),
                    frame_rate: Some(fps),
                    ..Default::default()
                })
            }
        };
        let clip = with_media(video("clip.mp4", 1080, 1920));
        // X: 0.5–140 s, ≤ 60 fps, 1:3 to 3:1.
        assert!(validate_with(Network::X, &clip, &facts(30_000, 30.0)).is_empty());
        let long = validate_with(Network::X, &clip, &facts(150_000, 30.0));
        assert_eq!(long.len(), 1, "{long:?}");
        assert_eq!(long[0].severity, Severity::Error);
        assert_eq!(long[0].field, "media[1]");
        assert_eq!(
            long[0].message,
            "X: clip.mp4 is 2 min 30 s long; X takes videos of 0.5 s to 2 min 20 s — trim it"
        );
        let fast = validate_with(Network::X, &clip, &facts(30_000, 120.0));
        assert!(
            fast[0]
                .message
                .contains("120.00 frames per second; X takes at most 60 fps"),
            "{fast:?}"
        );
        // 29.97 and 59.94 are fine where 30/60 are.
        assert!(validate_with(Network::X, &clip, &facts(30_000, 59.94)).is_empty());
        let narrow = validate_with(
            Network::X,
            &with_media(video("tall.mp4", 100, 400)),
            &facts(30_000, 30.0),
        );
        assert_eq!(
            narrow[0].message,
            "X: tall.mp4 is 100×400 (0.25:1); the allowed aspect ratio is 1:3 to 3:1 for X videos — crop it"
        );
        // Instagram: 23–60 fps, 3 s minimum.
        let slow = validate_with(Network::Instagram, &clip, &facts(2_000, 15.0));
        assert_eq!(slow.len(), 2, "{slow:?}");
        assert!(slow[0]
            .message
            .contains("is 2 s long; Instagram takes videos of 3 s to 15 min — use a longer clip"));
        // LinkedIn's video figures are unconfirmed: a warning, not an error.
        let li = validate_with(Network::LinkedIn, &clip, &facts(2_000, 30.0));
        assert_eq!(li.len(), 1);
        assert_eq!(li[0].severity, Severity::Warning);
        // Without probed facts only what the post carries is checked.
        assert!(validate(Network::X, &clip).is_empty());
    }

    #[test]
    fn image_aspect_width_and_video_formats_are_checked() {
        let mut wide = image("pano.jpg", 1000);
        wide.mime = "image/jpeg".into();
        wide.width = Some(3000);
        wide.height = Some(1000);
        let e = errors(Network::Instagram, &with_media(wide.clone()));
        assert_eq!(
            e,
            ["Instagram: pano.jpg is 3000×1000 (3:1); the allowed aspect ratio is 4:5 to 1.91:1 for Instagram images — crop it"]
        );
        wide.width = Some(200);
        wide.height = Some(200);
        assert!(errors(Network::Instagram, &with_media(wide))[0]
            .contains("is 200 px wide; Instagram needs images at least 320 px wide"));
        let mut webm = video("clip.webm", 1280, 720);
        webm.mime = "video/webm".into();
        assert_eq!(
            errors(Network::X, &with_media(webm.clone())),
            ["X: clip.webm is video/webm; X accepts video/mp4, video/quicktime — convert it"]
        );
        assert!(errors(Network::TikTok, &with_media(webm)).is_empty());
        assert_eq!(human_ms(500), "0.5 s");
        assert_eq!(human_ms(900_000), "15 min");
    }

    #[test]
    fn pinterest_needs_a_board_and_first_comments_warn_where_unsupported() {
        let none = serde_json::json!({});
        let f = validate_options(Network::Pinterest, "pinterest:alice", &none);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].message,
            "Pinterest: Pinterest board not selected — choose a board for pinterest:alice"
        );
        let ok = serde_json::json!({"board_id": "549755885175", "title": "Autumn", "link": "https://example.com"});
        assert!(validate_options(Network::Pinterest, "pinterest:alice", &ok).is_empty());
        let bad = serde_json::json!({"board_id": 5, "title": "t".repeat(101), "link": "ftp://x"});
        assert_eq!(
            validate_options(Network::Pinterest, "pinterest:alice", &bad).len(),
            2
        );
        assert!(validate_options(Network::X, "x:alice", &none).is_empty());

        let mut c = post("hello");
        c.first_comment = Some("links below".into());
        assert!(validate(Network::X, &c).is_empty());
        let w = validate(Network::Bluesky, &c);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].severity, Severity::Warning);
        assert_eq!(w[0].field, "first_comment");
    }

    #[test]
    fn tiktok_and_youtube_options_are_checked_with_the_composers_messages() {
        let msgs = |n: Network, o: serde_json::Value| -> Vec<String> {
            validate_options(n, "tiktok:me", &o)
                .into_iter()
                .map(|f| format!("{}|{}", f.field, f.message))
                .collect()
        };
        assert_eq!(
            msgs(Network::TikTok, serde_json::json!({})),
            ["privacy_level|TikTok: choose who can watch this video for tiktok:me"]
        );
        assert!(msgs(Network::TikTok, serde_json::json!({"mode": "inbox"})).is_empty());
        assert!(msgs(
            Network::TikTok,
            serde_json::json!({"privacy_level": "SELF_ONLY", "disable_duet": true})
        )
        .is_empty());
        assert_eq!(
            msgs(Network::TikTok, serde_json::json!({"privacy_level": "FRIENDS", "mode": "later", "disable_comment": "yes"})),
            [
                "disable_comment|TikTok: the option disable_comment is \"yes\"; use true or false",
                "mode|TikTok: the option mode is \"later\"; use direct (post now) or inbox (send to the TikTok inbox as a draft)",
                "privacy_level|TikTok: the option privacy_level is \"FRIENDS\"; use one of PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR, SELF_ONLY",
            ]
        );
        let long = "t".repeat(103);
        assert_eq!(
            msgs(Network::YouTube, serde_json::json!({"title": format!("<b>{long}"), "privacy": "friends", "tags": ["a<b"]})),
            [
                "title|YouTube: the title contains < or >, which YouTube refuses — remove them",
                "title|YouTube: the title is 106 characters; the limit is 100 — shorten it by 6",
                "privacy|YouTube: the option privacy is \"friends\"; use public, unlisted or private",
                "tags|YouTube: the tag \"a<b\" contains < or >, which YouTube refuses — remove them",
            ]
        );
        let many: Vec<String> = (0..60).map(|i| format!("tag number {i}")).collect();
        assert!(msgs(Network::YouTube, serde_json::json!({"tags": many}))[0]
            .contains("the limit is 500"));
        assert!(msgs(
            Network::Facebook,
            serde_json::json!({"hand_off": true, "reel": false})
        )
        .is_empty());
    }

    #[test]
    fn every_network_has_limits_with_a_source() {
        for n in Network::ALL {
            let l = limits(n);
            assert!(l.text_max > 0 && !l.source.is_empty(), "{n}");
        }
    }
}
