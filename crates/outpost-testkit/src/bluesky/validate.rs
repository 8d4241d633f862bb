//! Lexicon validation of `app.bsky.feed.post` records, with the messages of
//! `@atproto/lexicon` (`Record/text must not be longer than 300 graphemes`).
//!
//! Stricter than the reference PDS on purpose (so client bugs surface):
//! facet byte ranges must lie inside `text` and on UTF-8 boundaries, facet
//! features and embeds must have a known `$type` (the lexicon unions are
//! open), and `reply` refs must name records that exist (checked by the
//! caller with [`PostRefs::replies`]).

use serde_json::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;

/// A blob referenced by a record, with the constraints of its lexicon slot.
#[derive(Debug, Clone)]
pub(crate) struct BlobUse {
    pub cid: String,
    pub mime: String,
    pub max_size: usize,
    /// Accepted MIME patterns (`image/*`, `video/mp4`).
    pub accept: &'static [&'static str],
}

/// What the caller must check against the server state.
#[derive(Debug, Default)]
pub(crate) struct PostRefs {
    pub blobs: Vec<BlobUse>,
    /// (path, uri, cid) of `reply.root` and `reply.parent`.
    pub replies: Vec<(String, String, String)>,
}

pub(crate) struct Limits {
    pub image_max_size: usize,
}

const EXTERNAL_THUMB_MAX: usize = 1_000_000;
const VIDEO_MAX: usize = 300_000_000;
const CAPTION_MAX: usize = 20_000;
const IMAGE_ACCEPT: &[&str] = &["image/*"];
const VIDEO_ACCEPT: &[&str] = &["video/mp4"];
const CAPTION_ACCEPT: &[&str] = &["text/vtt"];

const FACET_FEATURES: &[&str] = &[
    "app.bsky.richtext.facet#mention",
    "app.bsky.richtext.facet#link",
    "app.bsky.richtext.facet#tag",
];
const EMBEDS: &[&str] = &[
    "app.bsky.embed.images",
    "app.bsky.embed.video",
    "app.bsky.embed.external",
    "app.bsky.embed.record",
    "app.bsky.embed.recordWithMedia",
    "app.bsky.embed.gallery",
];
const MEDIA: &[&str] = &[
    "app.bsky.embed.images",
    "app.bsky.embed.video",
    "app.bsky.embed.external",
    "app.bsky.embed.gallery",
];

type VResult<T> = Result<T, String>;

/// Validate a post record; the error is the lexicon message (without the
/// `Invalid app.bsky.feed.post record: ` prefix).
pub(crate) fn validate_post(record: &Map<String, Value>, limits: &Limits) -> VResult<PostRefs> {
    let mut refs = PostRefs::default();
    let path = "Record";

    let text = required(record, path, "text")?;
    let text = string(text, &format!("{path}/text"))?;
    string_limits(text, &format!("{path}/text"), 3000, 300)?;

    if let Some(facets) = record.get("facets") {
        let facets = array(facets, &format!("{path}/facets"))?;
        for (i, facet) in facets.iter().enumerate() {
            validate_facet(facet, &format!("{path}/facets/{i}"), text)?;
        }
    }

    if let Some(reply) = record.get("reply") {
        let p = format!("{path}/reply");
        let reply = object(reply, &p)?;
        for key in ["root", "parent"] {
            let r = required(reply, &p, key)?;
            let (uri, cid) = strong_ref(r, &format!("{p}/{key}"))?;
            refs.replies.push((format!("{p}/{key}"), uri, cid));
        }
    }

    if let Some(embed) = record.get("embed") {
        validate_embed(embed, &format!("{path}/embed"), EMBEDS, limits, &mut refs)?;
    }

    if let Some(langs) = record.get("langs") {
        let p = format!("{path}/langs");
        let langs = array(langs, &p)?;
        max_items(langs, &p, 3)?;
        for (i, lang) in langs.iter().enumerate() {
            let lp = format!("{p}/{i}");
            let lang = string(lang, &lp)?;
            if !is_language(lang) {
                return Err(format!("{lp} must be a well-formed BCP 47 language tag"));
            }
        }
    }

    if let Some(labels) = record.get("labels") {
        let p = format!("{path}/labels");
        let labels = typed_object(labels, &p)?;
        if type_of(labels) != Some("com.atproto.label.defs#selfLabels") {
            return Err(format!(
                "{p} $type must be one of com.atproto.label.defs#selfLabels"
            ));
        }
        let values = array(required(labels, &p, "values")?, &format!("{p}/values"))?;
        max_items(values, &format!("{p}/values"), 10)?;
        for (i, v) in values.iter().enumerate() {
            let vp = format!("{p}/values/{i}");
            let v = object(v, &vp)?;
            let val = string(required(v, &vp, "val")?, &format!("{vp}/val"))?;
            string_limits(val, &format!("{vp}/val"), 128, usize::MAX)?;
        }
    }

    if let Some(tags) = record.get("tags") {
        let p = format!("{path}/tags");
        let tags = array(tags, &p)?;
        max_items(tags, &p, 8)?;
        for (i, tag) in tags.iter().enumerate() {
            let tp = format!("{p}/{i}");
            string_limits(string(tag, &tp)?, &tp, 640, 64)?;
        }
    }

    let created = required(record, path, "createdAt")?;
    let created = string(created, &format!("{path}/createdAt"))?;
    if !is_datetime(created) {
        return Err(format!(
            "{path}/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
        ));
    }

    Ok(refs)
}

fn validate_facet(facet: &Value, path: &str, text: &str) -> VResult<()> {
    let facet = object(facet, path)?;
    let index_path = format!("{path}/index");
    let index = object(required(facet, path, "index")?, &index_path)?;
    let start = integer(
        required(index, &index_path, "byteStart")?,
        &format!("{index_path}/byteStart"),
        0,
    )?;
    let end = integer(
        required(index, &index_path, "byteEnd")?,
        &format!("{index_path}/byteEnd"),
        0,
    )?;
    let len = text.len() as i64;
    if start >= end {
        return Err(format!(
            "{index_path}/byteStart must be less than {index_path}/byteEnd"
        ));
    }
    if end > len {
        return Err(format!(
            "{index_path}/byteEnd must not be greater than the UTF-8 length of Record/text ({len})"
        ));
    }
    for (name, at) in [("byteStart", start), ("byteEnd", end)] {
        let at = usize::try_from(at).unwrap_or(usize::MAX);
        if !text.is_char_boundary(at) {
            return Err(format!(
                "{index_path}/{name} must fall on a UTF-8 character boundary of Record/text"
            ));
        }
    }

    let features_path = format!("{path}/features");
    let features = array(required(facet, path, "features")?, &features_path)?;
    for (i, feature) in features.iter().enumerate() {
        let fp = format!("{features_path}/{i}");
        let feature = typed_object(feature, &fp)?;
        match type_of(feature) {
            Some("app.bsky.richtext.facet#link") => {
                let uri = string(required(feature, &fp, "uri")?, &format!("{fp}/uri"))?;
                if !is_uri(uri) {
                    return Err(format!("{fp}/uri must be a uri"));
                }
            }
            Some("app.bsky.richtext.facet#mention") => {
                let did = string(required(feature, &fp, "did")?, &format!("{fp}/did"))?;
                if !is_did(did) {
                    return Err(format!("{fp}/did must be a valid did"));
                }
            }
            Some("app.bsky.richtext.facet#tag") => {
                let tag = string(required(feature, &fp, "tag")?, &format!("{fp}/tag"))?;
                string_limits(tag, &format!("{fp}/tag"), 640, 64)?;
            }
            _ => {
                return Err(format!(
                    "{fp} $type must be one of {}",
                    FACET_FEATURES.join(", ")
                ))
            }
        }
    }
    Ok(())
}

fn validate_embed(
    embed: &Value,
    path: &str,
    allowed: &[&str],
    limits: &Limits,
    refs: &mut PostRefs,
) -> VResult<()> {
    let embed = typed_object(embed, path)?;
    let kind = type_of(embed).unwrap_or_default();
    if !allowed.contains(&kind) {
        return Err(format!(
            "{path} $type must be one of {}",
            allowed.join(", ")
        ));
    }
    match kind {
        "app.bsky.embed.images" => {
            let ip = format!("{path}/images");
            let images = array(required(embed, path, "images")?, &ip)?;
            max_items(images, &ip, 4)?;
            for (i, image) in images.iter().enumerate() {
                let p = format!("{ip}/{i}");
                let image = object(image, &p)?;
                let blob = required(image, &p, "image")?;
                refs.blobs.push(blob_ref(
                    blob,
                    &format!("{p}/image"),
                    limits.image_max_size,
                    IMAGE_ACCEPT,
                )?);
                let alt = required(image, &p, "alt")?;
                string(alt, &format!("{p}/alt"))?;
                if let Some(ratio) = image.get("aspectRatio") {
                    aspect_ratio(ratio, &format!("{p}/aspectRatio"))?;
                }
            }
        }
        "app.bsky.embed.video" => {
            let blob = required(embed, path, "video")?;
            refs.blobs.push(blob_ref(
                blob,
                &format!("{path}/video"),
                VIDEO_MAX,
                VIDEO_ACCEPT,
            )?);
            if let Some(captions) = embed.get("captions") {
                let cp = format!("{path}/captions");
                let captions = array(captions, &cp)?;
                max_items(captions, &cp, 20)?;
                for (i, caption) in captions.iter().enumerate() {
                    let p = format!("{cp}/{i}");
                    let caption = object(caption, &p)?;
                    let lang = string(required(caption, &p, "lang")?, &format!("{p}/lang"))?;
                    if !is_language(lang) {
                        return Err(format!(
                            "{p}/lang must be a well-formed BCP 47 language tag"
                        ));
                    }
                    let file = required(caption, &p, "file")?;
                    refs.blobs.push(blob_ref(
                        file,
                        &format!("{p}/file"),
                        CAPTION_MAX,
                        CAPTION_ACCEPT,
                    )?);
                }
            }
            if let Some(alt) = embed.get("alt") {
                string_limits(
                    string(alt, &format!("{path}/alt"))?,
                    &format!("{path}/alt"),
                    10_000,
                    1_000,
                )?;
            }
            if let Some(ratio) = embed.get("aspectRatio") {
                aspect_ratio(ratio, &format!("{path}/aspectRatio"))?;
            }
            if let Some(presentation) = embed.get("presentation") {
                // Open enum (knownValues "default", "gif"): any string.
                string(presentation, &format!("{path}/presentation"))?;
            }
        }
        "app.bsky.embed.external" => {
            let ep = format!("{path}/external");
            let external = object(required(embed, path, "external")?, &ep)?;
            let uri = string(required(external, &ep, "uri")?, &format!("{ep}/uri"))?;
            if !is_uri(uri) {
                return Err(format!("{ep}/uri must be a uri"));
            }
            string(required(external, &ep, "title")?, &format!("{ep}/title"))?;
            string(
                required(external, &ep, "description")?,
                &format!("{ep}/description"),
            )?;
            if let Some(thumb) = external.get("thumb") {
                refs.blobs.push(blob_ref(
                    thumb,
                    &format!("{ep}/thumb"),
                    EXTERNAL_THUMB_MAX,
                    IMAGE_ACCEPT,
                )?);
            }
        }
        "app.bsky.embed.record" => {
            let r = required(embed, path, "record")?;
            strong_ref(r, &format!("{path}/record"))?;
        }
        "app.bsky.embed.recordWithMedia" => {
            let rp = format!("{path}/record");
            let record = object(required(embed, path, "record")?, &rp)?;
            strong_ref(required(record, &rp, "record")?, &format!("{rp}/record"))?;
            let media = required(embed, path, "media")?;
            validate_embed(media, &format!("{path}/media"), MEDIA, limits, refs)?;
        }
        "app.bsky.embed.gallery" => {
            // Shallow: the lexicon is new; only its blobs are checked.
            collect_blobs(&Value::Object(embed.clone()), path, limits, refs)?;
        }
        _ => {}
    }
    Ok(())
}

fn collect_blobs(value: &Value, path: &str, limits: &Limits, refs: &mut PostRefs) -> VResult<()> {
    match value {
        Value::Object(map) if map.get("$type").and_then(Value::as_str) == Some("blob") => {
            refs.blobs
                .push(blob_ref(value, path, limits.image_max_size, IMAGE_ACCEPT)?);
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect_blobs(v, &format!("{path}/{k}"), limits, refs)?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_blobs(v, &format!("{path}/{i}"), limits, refs)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn aspect_ratio(value: &Value, path: &str) -> VResult<()> {
    let ratio = object(value, path)?;
    for key in ["width", "height"] {
        integer(required(ratio, path, key)?, &format!("{path}/{key}"), 1)?;
    }
    Ok(())
}

fn blob_ref(
    value: &Value,
    path: &str,
    max_size: usize,
    accept: &'static [&'static str],
) -> VResult<BlobUse> {
    let bad = || format!("{path} should be a blob ref");
    let map = value.as_object().ok_or_else(bad)?;
    let (cid, mime) = if map.get("$type").and_then(Value::as_str) == Some("blob") {
        let cid = map
            .get("ref")
            .and_then(Value::as_object)
            .and_then(|r| r.get("$link"))
            .and_then(Value::as_str)
            .ok_or_else(bad)?;
        let mime = map
            .get("mimeType")
            .and_then(Value::as_str)
            .ok_or_else(bad)?;
        map.get("size").and_then(Value::as_i64).ok_or_else(bad)?;
        (cid, mime)
    } else {
        // legacy untyped blob ref
        let cid = map.get("cid").and_then(Value::as_str).ok_or_else(bad)?;
        let mime = map
            .get("mimeType")
            .and_then(Value::as_str)
            .ok_or_else(bad)?;
        (cid, mime)
    };
    if !is_cid(cid) {
        return Err(bad());
    }
    Ok(BlobUse {
        cid: cid.to_string(),
        mime: mime.to_string(),
        max_size,
        accept,
    })
}

fn strong_ref(value: &Value, path: &str) -> VResult<(String, String)> {
    let map = object(value, path)?;
    let uri = string(required(map, path, "uri")?, &format!("{path}/uri"))?;
    if !is_at_uri(uri) {
        return Err(format!("{path}/uri must be a valid at-uri"));
    }
    let cid = string(required(map, path, "cid")?, &format!("{path}/cid"))?;
    if !is_cid(cid) {
        return Err(format!("{path}/cid must be a cid string"));
    }
    Ok((uri.to_string(), cid.to_string()))
}

// ---- primitive checks -------------------------------------------------------

pub(crate) fn required<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> VResult<&'a Value> {
    map.get(key)
        .ok_or_else(|| format!("{path} must have the property \"{key}\""))
}

pub(crate) fn string<'a>(value: &'a Value, path: &str) -> VResult<&'a str> {
    value
        .as_str()
        .ok_or_else(|| format!("{path} must be a string"))
}

fn object<'a>(value: &'a Value, path: &str) -> VResult<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| format!("{path} must be an object"))
}

fn typed_object<'a>(value: &'a Value, path: &str) -> VResult<&'a Map<String, Value>> {
    match value.as_object() {
        Some(map) if map.get("$type").and_then(Value::as_str).is_some() => Ok(map),
        _ => Err(format!(
            "{path} must be an object which includes the \"$type\" property"
        )),
    }
}

fn type_of(map: &Map<String, Value>) -> Option<&str> {
    map.get("$type").and_then(Value::as_str)
}

fn array<'a>(value: &'a Value, path: &str) -> VResult<&'a Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| format!("{path} must be an array"))
}

fn max_items(items: &[Value], path: &str, max: usize) -> VResult<()> {
    if items.len() > max {
        return Err(format!("{path} must not have more than {max} elements"));
    }
    Ok(())
}

fn integer(value: &Value, path: &str, minimum: i64) -> VResult<i64> {
    let n = value
        .as_i64()
        .ok_or_else(|| format!("{path} must be an integer"))?;
    if n < minimum {
        return Err(format!("{path} can not be less than {minimum}"));
    }
    Ok(n)
}

/// `maxLength` counts UTF-8 bytes (the validator's `utf8Len`) and is checked
/// before `maxGraphemes`, as in `@atproto/lexicon`.
fn string_limits(s: &str, path: &str, max_bytes: usize, max_graphemes: usize) -> VResult<()> {
    if s.len() > max_bytes {
        return Err(format!(
            "{path} must not be longer than {max_bytes} characters"
        ));
    }
    if max_graphemes != usize::MAX && s.graphemes(true).count() > max_graphemes {
        return Err(format!(
            "{path} must not be longer than {max_graphemes} graphemes"
        ));
    }
    Ok(())
}

/// atproto datetime: RFC 3339 with upper-case `T`, seconds, and a timezone
/// (`Z` or `±hh:mm`, not `-00:00`).
pub(crate) fn is_datetime(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() < 20 || bytes[10] != b'T' || s.ends_with("-00:00") || s.starts_with("0000") {
        return false;
    }
    let tz_ok = s.ends_with('Z') || {
        let tail = &bytes[bytes.len().saturating_sub(6)..];
        tail.len() == 6
            && (tail[0] == b'+' || tail[0] == b'-')
            && tail[3] == b':'
            && tail[1..3].iter().chain(&tail[4..6]).all(u8::is_ascii_digit)
    };
    tz_ok && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

pub(crate) fn is_did(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("did:") else {
        return false;
    };
    let Some((method, id)) = rest.split_once(':') else {
        return false;
    };
    !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_lowercase())
        && !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:%".contains(&b))
        && !s.ends_with(':')
        && !s.ends_with('%')
        && s.len() <= 2048
}

fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
        && s.len() <= 8192
}

fn is_at_uri(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("at://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    !authority.is_empty() && !s.chars().any(char::is_whitespace) && s.len() <= 8192
}

pub(crate) fn is_cid(s: &str) -> bool {
    (s.len() >= 8
        && s.starts_with('b')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)))
        || (s.len() == 46 && s.starts_with("Qm") && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    let first_ok = (2..=3).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic())
        || first == "i"
        || first == "x";
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

const TID_CHARS: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID: 13 base32-sortable characters, the first in `234567abcdefghij`.
pub(crate) fn is_tid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13 && TID_CHARS[..16].contains(&b[0]) && b.iter().all(|c| TID_CHARS.contains(c))
}

/// Encode a 64-bit TID value (top bit zero) as 13 base32-sortable chars.
pub(crate) fn encode_tid(value: u64) -> String {
    (0..13)
        .map(|i| {
            let shift = 60 - 5 * i;
            char::from(TID_CHARS[((value >> shift) & 31) as usize])
        })
        .collect()
}

/// Generic record-key syntax: 1–512 of `[A-Za-z0-9._:~-]`, not `.`/`..`.
pub(crate) fn is_record_key(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b))
}

/// NSID syntax (loose): at least three dot-separated segments.
pub(crate) fn is_nsid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 3
        && s.len() <= 317
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 63
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && parts
            .last()
            .is_some_and(|p| p.as_bytes()[0].is_ascii_alphabetic() && !p.contains('-'))
}

/// Does `mime` match one of the accept patterns (`image/*`, `*/*`, exact)?
pub(crate) fn mime_accepted(mime: &str, accept: &[&str]) -> bool {
    accept.iter().any(|pattern| {
        *pattern == "*/*"
            || pattern
                .strip_suffix("/*")
                .map(|prefix| mime.split('/').next() == Some(prefix))
                .unwrap_or(*pattern == mime)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> Limits {
        Limits {
            image_max_size: 2_000_000,
        }
    }

    fn check(v: Value) -> VResult<PostRefs> {
        let map = v.as_object().cloned().unwrap_or_default();
        validate_post(&map, &limits())
    }

    #[test]
    fn tids() {
        assert!(is_tid("3jzfcijpj2z2a"));
        assert!(!is_tid("kjzfcijpj2z2a"));
        assert!(!is_tid("3jzfcijpj2z2"));
        assert!(!is_tid("3jzfcijpj2z21"));
        assert!(is_tid(&encode_tid(1_700_000_000_000_000 << 10)));
    }

    #[test]
    fn datetimes() {
        assert!(is_datetime("2026-08-07T05:31:12.156Z"));
        assert!(is_datetime("2026-08-07T05:31:12+02:00"));
        assert!(!is_datetime("2026-08-07 05:31:12Z"));
        assert!(!is_datetime("2026-08-07T05:31:12"));
        assert!(!is_datetime("2026-08-07T05:31:12-00:00"));
        assert!(!is_datetime("yesterday"));
    }

    #[test]
    fn text_limits() {
        let ok = check(json!({"text": "é".repeat(300), "createdAt": "2026-01-01T00:00:00Z"}));
        assert!(ok.is_ok());
        let err = check(json!({"text": "a".repeat(301), "createdAt": "2026-01-01T00:00:00Z"}));
        assert_eq!(
            err.err().as_deref(),
            Some("Record/text must not be longer than 300 graphemes")
        );
        // 👨‍👩‍👧‍👦 is one grapheme of 25 bytes: 121 of them = 3025 bytes
        let err = check(json!({"text": "👨‍👩‍👧‍👦".repeat(121), "createdAt": "2026-01-01T00:00:00Z"}));
        assert_eq!(
            err.err().as_deref(),
            Some("Record/text must not be longer than 3000 characters")
        );
    }

    #[test]
    fn facets() {
        let facet = |s: i64, e: i64| {
            json!({"text": "héllo world", "createdAt": "2026-01-01T00:00:00Z",
                "facets": [{"index": {"byteStart": s, "byteEnd": e},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://x.test"}]}]})
        };
        assert!(check(facet(0, 6)).is_ok());
        assert!(check(facet(0, 2)).is_err()); // inside é
        assert!(check(facet(0, 13)).is_err());
        assert!(check(facet(3, 3)).is_err());
    }

    #[test]
    fn a_video_embed_takes_one_mp4_blob_up_to_300_mb() {
        let blob = json!({"$type": "blob", "ref": {"$link": "bafkreiabc234"},
            "mimeType": "video/mp4", "size": 10});
        let post =
            |embed: Value| json!({"text": "", "createdAt": "2026-01-01T00:00:00Z", "embed": embed});
        let refs = check(post(json!({"$type": "app.bsky.embed.video", "video": blob,
            "alt": "a cat", "aspectRatio": {"width": 16, "height": 9}})))
        .expect("valid");
        assert_eq!(refs.blobs.len(), 1);
        assert_eq!(refs.blobs[0].max_size, 300_000_000);
        assert_eq!(refs.blobs[0].accept, &["video/mp4"]);
        assert!(check(post(json!({"$type": "app.bsky.embed.video"}))).is_err());
        assert!(check(post(json!({"$type": "app.bsky.embed.video", "video": "x"}))).is_err());
        assert!(check(post(
            json!({"$type": "app.bsky.embed.video", "video": blob, "alt": "a".repeat(10_001)})
        ))
        .is_err());
        assert!(check(post(
            json!({"$type": "app.bsky.embed.video", "video": blob, "presentation": 1})
        ))
        .is_err());
    }

    #[test]
    fn mimes() {
        assert!(mime_accepted("image/png", &["image/*"]));
        assert!(!mime_accepted("video/mp4", &["image/*"]));
        assert!(mime_accepted("video/mp4", &["video/mp4"]));
    }
}
