//! Counting text the way each network counts it, and finding the links, mentions and hashtags
//! in it (with UTF-8 byte offsets, as Bluesky's facets need).

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

pub fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

pub fn utf8_bytes(text: &str) -> usize {
    text.len()
}

/// X's weighted length: text NFC-normalised, each URL counts 23, code points in the light
/// ranges count 1, everything else (CJK, emoji…) counts 2.
pub fn x_weighted_length(text: &str) -> usize {
    let nfc: String = text.nfc().collect();
    let mut total = 0;
    let mut last = 0;
    for span in find_urls(&nfc) {
        total += weigh_x(&nfc[last..span.start]) + 23;
        last = span.end;
    }
    total + weigh_x(&nfc[last..])
}

fn weigh_x(s: &str) -> usize {
    // An emoji sequence (one grapheme with an emoji in it) counts 2 however many code points it has.
    s.graphemes(true)
        .map(|g| {
            if g.chars().any(is_emoji) {
                2
            } else {
                g.chars()
                    .map(|c| {
                        let cp = c as u32;
                        let light = cp <= 4351
                            || (8192..=8205).contains(&cp)
                            || (8208..=8223).contains(&cp)
                            || (8242..=8247).contains(&cp);
                        if light {
                            1
                        } else {
                            2
                        }
                    })
                    .sum()
            }
        })
        .sum()
}

fn is_emoji(c: char) -> bool {
    let cp = c as u32;
    (0x1F000..=0x1FAFF).contains(&cp) || (0x2600..=0x27BF).contains(&cp) || cp == 0xFE0F
}

/// Threads' count: characters, except that each emoji counts its UTF-8 bytes.
pub fn threads_length(text: &str) -> usize {
    text.graphemes(true)
        .map(|g| if g.chars().any(is_emoji) { g.len() } else { 1 })
        .sum()
}

/// Plain Unicode scalar values (what most networks mean by "characters").
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

/// UTF-16 code units (TikTok).
pub fn utf16_units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// A byte range in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// http(s) URLs, without trailing punctuation that usually ends a sentence.
pub fn find_urls(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = text[from..].find("http") {
        let start = from + rel;
        let rest = &text[start..];
        let scheme_len = if rest.starts_with("https://") {
            8
        } else if rest.starts_with("http://") {
            7
        } else {
            from = start + 4;
            continue;
        };
        let preceded_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let mut end = start
            + rest
                .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
                .unwrap_or(rest.len());
        while end > start + scheme_len {
            let last = text[..end].chars().next_back().unwrap_or(' ');
            let unbalanced_paren = last == ')' && !text[start..end].contains('(');
            if ".,;:!?'".contains(last) || unbalanced_paren {
                end -= last.len_utf8();
            } else {
                break;
            }
        }
        if preceded_ok
            && end > start + scheme_len + 2
            && text[start + scheme_len..end].contains('.')
        {
            out.push(Span { start, end });
        }
        from = end.max(start + scheme_len);
    }
    out
}

/// `@handle.domain` mentions: the span covers the `@`; the handle is returned without it.
pub fn find_mentions(text: &str) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        if c != '@' {
            continue;
        }
        if text[..i]
            .chars()
            .next_back()
            .is_some_and(|p| p.is_alphanumeric() || p == '@')
        {
            continue;
        }
        let rest = &text[i + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        let handle = rest[..len].trim_end_matches(['.', '-']);
        let labels: Vec<&str> = handle.split('.').collect();
        let valid = labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty() && l.len() <= 63)
            && labels
                .last()
                .is_some_and(|tld| tld.chars().next().is_some_and(|c| c.is_ascii_alphabetic()));
        if valid {
            out.push((
                Span {
                    start: i,
                    end: i + 1 + handle.len(),
                },
                handle.to_ascii_lowercase(),
            ));
        }
    }
    out
}

/// `#hashtags`: the span covers the `#`; the tag is returned without it. Purely numeric tags
/// (`#1`) are not tags; trailing punctuation is not part of the tag.
pub fn find_hashtags(text: &str) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        if c != '#' && c != '＃' {
            continue;
        }
        if text[..i]
            .chars()
            .next_back()
            .is_some_and(|p| !p.is_whitespace())
        {
            continue;
        }
        let body_start = i + c.len_utf8();
        let rest = &text[body_start..];
        let len = rest
            .find(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '_' && c != '-'))
            .unwrap_or(rest.len());
        let tag = &rest[..len];
        if tag.is_empty() || tag.chars().all(|c| c.is_ascii_digit()) || graphemes(tag) > 64 {
            continue;
        }
        out.push((
            Span {
                start: i,
                end: body_start + len,
            },
            tag.to_string(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bluesky_counts_graphemes_and_bytes() {
        let family = "👨‍👩‍👧‍👦"; // one grapheme, 25 bytes
        assert_eq!(graphemes(family), 1);
        assert_eq!(utf8_bytes(family), 25);
        assert_eq!(graphemes("héllo"), 5);
    }

    #[test]
    fn x_weighs_urls_cjk_and_emoji() {
        assert_eq!(x_weighted_length("hello"), 5);
        assert_eq!(
            x_weighted_length("see https://example.com/a/very/long/path/indeed"),
            4 + 23
        );
        assert_eq!(x_weighted_length("日本"), 4);
        assert_eq!(x_weighted_length("👍"), 2);
        assert_eq!(x_weighted_length("👨‍👩‍👧‍👦"), 2, "an emoji sequence counts once");
        // NFC: e + combining acute is one code point after normalisation
        assert_eq!(x_weighted_length("e\u{301}"), 1);
    }

    #[test]
    fn threads_counts_emoji_by_bytes() {
        assert_eq!(threads_length("hi"), 2);
        assert_eq!(threads_length("hi👍"), 2 + 4);
    }

    #[test]
    fn urls_are_found_with_byte_offsets_and_without_trailing_punctuation() {
        let t = "Read (https://example.com/x) and http://a.io. Done";
        let spans = find_urls(t);
        let found: Vec<&str> = spans.iter().map(|s| &t[s.start..s.end]).collect();
        assert_eq!(found, vec!["https://example.com/x", "http://a.io"]);
        let t = "héllo https://é.example/ü";
        let s = find_urls(t)[0];
        assert_eq!(&t[s.start..s.end], "https://é.example/ü");
        assert!(find_urls("nohttps://x.y").is_empty());
    }

    #[test]
    fn mentions_and_hashtags() {
        let t = "hi @alice.bsky.social and @bob. #rust #2026 #1 mail a@b.com (#tag)";
        let m: Vec<String> = find_mentions(t).into_iter().map(|(_, h)| h).collect();
        assert_eq!(m, vec!["alice.bsky.social"]);
        let h: Vec<String> = find_hashtags(t).into_iter().map(|(_, h)| h).collect();
        assert_eq!(
            h,
            vec!["rust"],
            "numeric-only and mid-word tags are not tags"
        );
        let (span, _) = find_hashtags("é #über")[0];
        assert_eq!(&"é #über"[span.start..span.end], "#über");
    }
}
