//! The [`Secret`] wrapper: the only shape in which a token, app password or client secret
//! travels through Outpost.
//!
//! It must never leak through formatting or serialisation: `Debug` and `Display` print
//! `<redacted>`, there is deliberately no `Serialize`/`Deserialize`, no `Deref<Target = str>`
//! and no `From` conversion back into a plain string. Reading the value takes an explicit
//! [`Secret::expose`] call, which is easy to grep for in review.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// What every formatter prints instead of the value.
const REDACTED: &str = "<redacted>";

/// A secret value (token, app password, client secret, passphrase).
///
/// `Debug`/`Display` print `<redacted>`; the type has no `Serialize`; the heap buffer is
/// overwritten with zeros when the value is dropped. Equality runs in time independent of
/// where the first difference is (the length is not hidden).
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value. Moving a `String` in does not copy it, so no unwiped copy is left behind.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plain value, for the one place that has to hand it to a network client or store.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// True for the empty string (which no store accepts).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = Secret::new("hunter2-app-password");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret:#?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(
            format!("{secret:>20}"),
            "<redacted>",
            "padding must not matter"
        );
        // Inside a derived Debug of a containing struct, too.
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            password: Secret,
        }
        let login = Login {
            user: "alice".into(),
            password: secret.clone(),
        };
        let printed = format!("{login:?}");
        assert!(!printed.contains("hunter2"), "leaked: {printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn expose_clone_and_eq() {
        let a = Secret::new(String::from("s3cret"));
        let b = a.clone();
        assert_eq!(a.expose(), "s3cret");
        assert_eq!(a, b);
        assert_ne!(a, Secret::new("s3creT"));
        assert_ne!(a, Secret::new("s3cret "));
        assert!(Secret::new("").is_empty());
    }
}
