//! Reading an authorisation response (RFC 6749 §4.1.2): from the loopback listener's request,
//! from the relay page's forward, or from an address the user pasted.

use super::pkce::state_matches;
use super::ConnectError;
use crate::Secret;
use reqwest::Url;

/// A valid authorisation response: a code, and the `state` that matched the pending flow.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The authorisation code. Short-lived (X: 30 s): exchange it at once.
    pub code: Secret,
    /// The `state` as returned (equal to the pending flow's).
    pub state: String,
    /// The response's other parameters, e.g. `iss` (RFC 9207) or a network's granted `scopes`
    /// — never `code` or `state`.
    pub params: Vec<(String, String)>,
}

/// What a set of callback parameters means for a pending flow.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// A code with the right state: the flow is complete.
    Accept(Callback),
    /// An error response that belongs to this flow (`access_denied`, `invalid_scope`, …): the
    /// flow has ended.
    End(ConnectError),
    /// Not a response to this flow (wrong or missing state, nothing useful): answered with an
    /// error page and otherwise ignored.
    Ignore(ConnectError),
}

/// Longest error text taken from a callback into a message.
const MAX_ERROR_TEXT: usize = 200;

/// Printable, bounded text from an untrusted parameter.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_ERROR_TEXT)
        .collect()
}

/// Classifies the parameters of a callback against the expected `state`.
///
/// - `code` + matching `state` → [`Verdict::Accept`];
/// - `error` with the matching `state`, or with no `state` at all (some servers drop it on
///   errors) → [`Verdict::End`]: [`ConnectError::Declined`] for `access_denied`,
///   [`ConnectError::Refused`] otherwise;
/// - anything with a different `state`, or a code without one → [`Verdict::Ignore`].
///
/// The first occurrence of a repeated parameter counts.
pub(crate) fn classify(
    pairs: Vec<(String, String)>,
    expected_state: &str,
    network: &str,
) -> Verdict {
    let first = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let state = first("state");
    let state_ok = state.is_some_and(|s| state_matches(expected_state, s));
    if let Some(error) = first("error").filter(|e| !e.is_empty()) {
        if state.is_some() && !state_ok {
            return Verdict::Ignore(ConnectError::StateMismatch);
        }
        let description = first("error_description")
            .map(clean)
            .filter(|d| !d.is_empty());
        return Verdict::End(if error == "access_denied" {
            ConnectError::Declined {
                network: network.to_string(),
                description,
            }
        } else {
            ConnectError::Refused {
                network: network.to_string(),
                error: clean(error),
                description,
            }
        });
    }
    let Some(code) = first("code").filter(|c| !c.is_empty()) else {
        return Verdict::Ignore(ConnectError::MissingCode);
    };
    if !state_ok {
        return Verdict::Ignore(ConnectError::StateMismatch);
    }
    let code = Secret::new(code);
    let state = state.unwrap_or_default().to_string();
    let params = pairs
        .into_iter()
        .filter(|(k, _)| k != "code" && k != "state")
        .collect();
    Verdict::Accept(Callback {
        code,
        state,
        params,
    })
}

/// The query parameters of `query` (without the leading `?`).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    // Any base works: only the query is read.
    let Ok(url) = Url::parse(&format!("http://outpost.invalid/?{query}")) else {
        return Vec::new();
    };
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn has_response(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(k, _)| k == "code" || k == "error")
}

/// Reads the address the browser ended on — pasted by the user — and checks it against the
/// pending flow's `state`.
///
/// Accepts the full redirect address (the loopback one, the relay page's `https://` one, or any
/// registered page's), with or without a fragment (Instagram and Threads append `#_`; a
/// fragment-mode response carries its parameters there), or just its query string (with or
/// without the `?`). Surrounding spaces, quotes and angle brackets are ignored.
///
/// Errors: [`ConnectError::NotAnAddress`] when nothing like a response is in the text,
/// [`ConnectError::MissingCode`], [`ConnectError::StateMismatch`] (an address from another
/// attempt), [`ConnectError::Declined`] / [`ConnectError::Refused`] for `error=` responses.
pub fn parse_pasted_redirect(
    url_or_query: &str,
    expected_state: &str,
) -> Result<Callback, ConnectError> {
    parse_pasted(url_or_query, expected_state, "the network")
}

pub(crate) fn parse_pasted(
    text: &str,
    expected_state: &str,
    network: &str,
) -> Result<Callback, ConnectError> {
    let text = text
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '<' || c == '>' || c.is_whitespace());
    if text.is_empty() {
        return Err(ConnectError::NotAnAddress);
    }
    let pairs = match Url::parse(text) {
        Ok(url) if url.has_host() => {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            match url.fragment() {
                Some(fragment) if !has_response(&pairs) => query_pairs(fragment),
                _ => pairs,
            }
        }
        _ => {
            // A bare query, possibly still with the path before it or a fragment after it.
            let query = text.split_once('?').map_or(text, |(_, q)| q);
            let (query, fragment) = query.split_once('#').unwrap_or((query, ""));
            let pairs = query_pairs(query);
            if has_response(&pairs) || fragment.is_empty() {
                pairs
            } else {
                query_pairs(fragment)
            }
        }
    };
    if pairs.is_empty() {
        return Err(ConnectError::NotAnAddress);
    }
    match classify(pairs, expected_state, network) {
        Verdict::Accept(callback) => Ok(callback),
        Verdict::End(e) | Verdict::Ignore(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";

    fn ok(text: &str) -> Callback {
        parse_pasted_redirect(text, STATE).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn full_addresses_and_bare_queries_are_read() {
        for text in [
            format!("http://127.0.0.1:53682/callback?code=abc-123&state={STATE}"),
            format!("https://relay.example.org/oauth-relay.html?code=abc-123&state={STATE}#_"),
            format!("  <https://example.org/cb?state={STATE}&code=abc-123&iss=https%3A%2F%2Fx>\n"),
            format!("\"?code=abc-123&state={STATE}\""),
            format!("code=abc-123&state={STATE}"),
            format!("code=abc-123&state={STATE}#_"),
            format!("127.0.0.1:53682/callback?code=abc-123&state={STATE}"),
            format!("https://example.org/cb#code=abc-123&state={STATE}"),
        ] {
            let cb = ok(&text);
            assert_eq!(cb.code.expose(), "abc-123", "{text}");
            assert_eq!(cb.state, STATE);
            assert!(cb.params.iter().all(|(k, _)| k != "code" && k != "state"));
        }
        let cb = ok(&format!(
            "https://x.example/cb?code=a%2Fb%2Bc&state={STATE}&iss=https%3A%2F%2Fauth.example"
        ));
        assert_eq!(cb.code.expose(), "a/b+c");
        assert_eq!(
            cb.params,
            vec![("iss".to_string(), "https://auth.example".to_string())]
        );
    }

    #[test]
    fn pasted_errors_are_clear() {
        let e = parse_pasted_redirect(
            &format!("http://127.0.0.1:1/callback?error=access_denied&error_description=User+said+no&state={STATE}"),
            STATE,
        )
        .unwrap_err();
        assert!(matches!(e, ConnectError::Declined { .. }), "{e:?}");
        assert!(e.to_string().contains("declined"), "{e}");
        assert!(e.to_string().contains("User said no"), "{e}");
        // Error responses without a state still end the flow.
        assert!(matches!(
            parse_pasted_redirect("error=invalid_scope", STATE),
            Err(ConnectError::Refused { ref error, .. }) if error == "invalid_scope"
        ));
        // With another attempt's state they are not this flow's.
        assert!(matches!(
            parse_pasted_redirect("error=access_denied&state=other", STATE),
            Err(ConnectError::StateMismatch)
        ));
        assert!(matches!(
            parse_pasted_redirect(&format!("https://x.example/cb?state={STATE}"), STATE),
            Err(ConnectError::MissingCode)
        ));
        assert!(matches!(
            parse_pasted_redirect(&format!("code=abc&state={STATE}x"), STATE),
            Err(ConnectError::StateMismatch)
        ));
        assert!(matches!(
            parse_pasted_redirect("code=abc", STATE),
            Err(ConnectError::StateMismatch)
        ));
        assert!(matches!(
            parse_pasted_redirect("   ", STATE),
            Err(ConnectError::NotAnAddress)
        ));
        assert!(matches!(
            parse_pasted_redirect("https://example.org/", STATE),
            Err(ConnectError::NotAnAddress)
        ));
        let e = parse_pasted_redirect("code=s3cret-code&state=wrong", STATE).unwrap_err();
        assert!(!e.to_string().contains("s3cret-code"));
    }

    #[test]
    fn error_text_from_the_network_is_bounded_and_printable() {
        let long = "x".repeat(1000);
        let e = parse_pasted_redirect(
            &format!("error=server_error&error_description={long}%0A%1B[31m"),
            STATE,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.len() < 500, "{}", text.len());
        assert!(!text.chars().any(char::is_control));
    }
}
