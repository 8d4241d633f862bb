//! LinkedIn's "little" text format, as the fake reads a post's `commentary`.
//!
//! The real API parses `commentary` into text, mentions and hashtags. Per the platform
//! reference, a reserved character that is neither escaped nor the start of a valid element
//! makes LinkedIn **silently truncate** the post there (the create still answers 201). The fake
//! does the same, so a client that forgets to escape is caught end to end.
//!
//! Elements understood (anything else reserved and unescaped truncates):
//! - `\x` where `x` is reserved: the literal `x`;
//! - `#word` (letters and digits): a hashtag, shown as `#word`;
//! - `{hashtag|\#|word}`: the hashtag template, shown as `#word`;
//! - `@[Name](urn:li:person:…)` / `@[Name](urn:li:organization:…)`: a mention, shown as `Name`.

use serde::{Deserialize, Serialize};

/// The characters little reserves (`\ | { } @ [ ] ( ) < > # * _ ~`).
pub const RESERVED: [char; 15] = [
    '\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~',
];

pub fn is_reserved(c: char) -> bool {
    RESERVED.contains(&c)
}

/// A commentary as LinkedIn would show and keep it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rendered {
    /// What readers see.
    pub text: String,
    /// The commentary as stored (and listed back): the input, cut where parsing stopped.
    pub stored: String,
    /// Byte offset in the input of the unescaped reserved character that cut the post.
    pub truncated_at: Option<usize>,
    /// Hashtags without `#`.
    pub hashtags: Vec<String>,
    /// `(name, urn)` of each mention.
    pub mentions: Vec<(String, String)>,
}

/// Parses `input` as little text.
pub fn render(input: &str) -> Rendered {
    let mut out = Rendered::default();
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        let Some(c) = rest.chars().next() else { break };
        if !is_reserved(c) {
            out.text.push(c);
            i += c.len_utf8();
            continue;
        }
        let consumed = match c {
            '\\' => match rest[1..].chars().next() {
                Some(n) if is_reserved(n) => {
                    out.text.push(n);
                    Some(1 + n.len_utf8())
                }
                _ => None,
            },
            '#' => {
                let word = word_at(&rest[1..]);
                if word.is_empty() {
                    None
                } else {
                    out.text.push('#');
                    out.text.push_str(word);
                    out.hashtags.push(word.to_string());
                    Some(1 + word.len())
                }
            }
            '{' => {
                let prefix = "{hashtag|\\#|";
                rest.strip_prefix(prefix).and_then(|after| {
                    let word = word_at(after);
                    let tail = &after[word.len()..];
                    if word.is_empty() || !tail.starts_with('}') {
                        return None;
                    }
                    out.text.push('#');
                    out.text.push_str(word);
                    out.hashtags.push(word.to_string());
                    Some(prefix.len() + word.len() + 1)
                })
            }
            '@' => mention(rest).map(|(name, urn, len)| {
                out.text.push_str(&name);
                out.mentions.push((name, urn));
                len
            }),
            _ => None,
        };
        match consumed {
            Some(n) => i += n,
            None => {
                out.truncated_at = Some(i);
                break;
            }
        }
    }
    out.stored = match out.truncated_at {
        Some(at) => input[..at].to_string(),
        None => input.to_string(),
    };
    out
}

/// The letters and digits at the start of `s`.
fn word_at(s: &str) -> &str {
    let end = s
        .char_indices()
        .find(|(_, c)| !c.is_alphanumeric())
        .map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// `@[Name](urn)` at the start of `s` → (name, urn, bytes consumed).
fn mention(s: &str) -> Option<(String, String, usize)> {
    let body = s.strip_prefix("@[")?;
    let mut name = String::new();
    let mut chars = body.char_indices();
    let close = loop {
        let (i, c) = chars.next()?;
        match c {
            ']' => break i,
            '\\' => {
                let (_, n) = chars.next()?;
                if !is_reserved(n) {
                    return None;
                }
                name.push(n);
            }
            c if is_reserved(c) => return None,
            c => name.push(c),
        }
    };
    let after = body[close + 1..].strip_prefix('(')?;
    let end = after.find(')')?;
    let urn = &after[..end];
    let valid = (urn.starts_with("urn:li:person:") || urn.starts_with("urn:li:organization:"))
        && !urn.chars().any(is_reserved);
    if !valid || name.is_empty() {
        return None;
    }
    let len = 2 + close + 1 + 1 + end + 1;
    Some((name, urn.to_string(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_renders_exactly() {
        let r = render(r"a \\ \| \{ \} \@ \[ \] \( \) \< \> \# \* \_ \~ z");
        assert_eq!(r.text, r"a \ | { } @ [ ] ( ) < > # * _ ~ z");
        assert_eq!(r.truncated_at, None);
    }

    #[test]
    fn an_unescaped_reserved_character_cuts_the_post() {
        let r = render("Hello (world) and more");
        assert_eq!(r.text, "Hello ");
        assert_eq!(r.stored, "Hello ");
        assert_eq!(r.truncated_at, Some(6));
        assert_eq!(render("snake_case").text, "snake");
        assert_eq!(render("a # b").text, "a ");
        assert_eq!(render("trailing \\").text, "trailing ");
        assert_eq!(render(r"\n").text, "");
    }

    #[test]
    fn elements_are_understood() {
        let r = render("Go #rust and {hashtag|\\#|tokio} with @[Ann Lee](urn:li:person:abc)!");
        assert_eq!(r.text, "Go #rust and #tokio with Ann Lee!");
        assert_eq!(r.hashtags, vec!["rust", "tokio"]);
        assert_eq!(
            r.mentions,
            vec![("Ann Lee".to_string(), "urn:li:person:abc".to_string())]
        );
        assert_eq!(render("@[x](https://evil)").text, "");
    }
}
