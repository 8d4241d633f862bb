//! The `commentary` of a LinkedIn post is "little" text: the characters
//! `\ | { } @ [ ] ( ) < > # * _ ~` are reserved for mentions, hashtags and templates, and
//! LinkedIn **silently truncates** a post at the first one left unescaped (platform reference,
//! "commentary escaping"). Outpost sends what the user wrote as plain text: every reserved
//! character gets a backslash, nothing else changes, and nothing is ever cut.
//!
//! A consequence worth knowing: `#word` is sent as `\#word`, so it reads as `#word` but is not
//! a clickable hashtag (emitting hashtag elements would need LinkedIn's exact hashtag grammar,
//! which is not documented).

/// The characters little text reserves, each escaped with a backslash.
pub const RESERVED: [char; 15] = [
    '\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~',
];

/// Whether `c` is reserved by the little text format.
pub fn is_reserved(c: char) -> bool {
    RESERVED.contains(&c)
}

/// `text` as little text that LinkedIn shows exactly as written: every reserved character
/// preceded by a backslash. [`unescape_commentary`] gives `text` back.
pub fn escape_commentary(text: &str) -> String {
    let extra = text.chars().filter(|c| is_reserved(*c)).count();
    let mut out = String::with_capacity(text.len() + extra);
    for c in text.chars() {
        if is_reserved(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Plain text from escaped little text (`\x` → `x` for a reserved `x`; anything else is kept),
/// used to recognise a post LinkedIn lists back.
pub fn unescape_commentary(little: &str) -> String {
    let mut out = String::with_capacity(little.len());
    let mut chars = little.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&next) = chars.peek() {
                if is_reserved(next) {
                    out.push(next);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_character_gets_one_backslash() {
        assert_eq!(
            escape_commentary(r"\ | { } @ [ ] ( ) < > # * _ ~"),
            r"\\ \| \{ \} \@ \[ \] \( \) \< \> \# \* \_ \~"
        );
        assert_eq!(
            escape_commentary("plain text, 100% ok!"),
            "plain text, 100% ok!"
        );
        assert_eq!(escape_commentary(""), "");
        assert_eq!(escape_commentary("é😀 #tag"), "é😀 \\#tag");
        assert_eq!(escape_commentary("\\\\"), "\\\\\\\\");
    }

    #[test]
    fn nothing_else_changes_and_nothing_is_cut() {
        let text = "line one\nline two\t\"quoted\" 'single' & % $ ^ = + ; : , . ? ! / `tick`";
        assert_eq!(escape_commentary(text), text);
        let long = "x".repeat(10_000);
        assert_eq!(escape_commentary(&long), long);
    }

    #[test]
    fn unescaping_gives_the_text_back() {
        for text in [
            r"a\b",
            r"ends with \",
            r"\\(",
            "@[Name](urn:li:person:1)",
            "{hashtag|\\#|x}",
            "snake_case ~tilde~ *bold*",
            r"\n is not a newline",
        ] {
            assert_eq!(
                unescape_commentary(&escape_commentary(text)),
                text,
                "{text}"
            );
        }
        // A backslash before an ordinary character is kept as it is.
        assert_eq!(unescape_commentary(r"a\b"), r"a\b");
    }

    /// A small deterministic generator (xorshift) instead of a property-testing dependency.
    fn strings(seed: u64, count: usize) -> Vec<String> {
        let alphabet: Vec<char> = RESERVED
            .iter()
            .copied()
            .chain("ab Z09\n\t.,:;%/é中😀\u{200d}".chars())
            .collect();
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % 40) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn property_unescape_inverts_escape_and_no_reserved_character_is_left_bare() {
        for text in strings(0x9e37_79b9_7f4a_7c15, 2_000) {
            let escaped = escape_commentary(&text);
            assert_eq!(unescape_commentary(&escaped), text, "{text:?}");
            // Read left to right, every reserved character is either an escape backslash
            // followed by a reserved character, or such an escaped character.
            let mut chars = escaped.chars();
            while let Some(c) = chars.next() {
                if is_reserved(c) {
                    assert_eq!(c, '\\', "bare {c:?} in {escaped:?}");
                    let escaped_char = chars.next();
                    assert!(
                        escaped_char.is_some_and(is_reserved),
                        "dangling backslash in {escaped:?}"
                    );
                }
            }
            assert_eq!(
                escaped.chars().count(),
                text.chars().count() + text.chars().filter(|c| is_reserved(*c)).count()
            );
        }
    }
}
