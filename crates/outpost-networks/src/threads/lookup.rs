//! Reconciliation: after an attempt whose outcome is unknown, the account's posts (part 0) or
//! replies (later parts) published since the attempt began are read, and the part is found by
//! its text, the post it replies to and its kind (threads.md "Reconciliation": "Recover the
//! media ID by listing … and matching the text").

use super::plan::{first_comment, part_parent, plan_part};
use super::{Auth, Call, Lookup, PartRequest, PublishError, PublishedPart, Threads, NET};
use chrono::{DateTime, Utc};
use outpost_core::ErrorClass;
use serde_json::{json, Value};

/// How far before the recorded intent the read starts (clock differences).
const LOOKUP_MARGIN_MINUTES: i64 = 5;
/// Pages of 100 the read goes through at most.
const LOOKUP_PAGES: usize = 5;
const FIELDS: &str = "id,text,timestamp,media_type,permalink,replied_to,is_reply";

/// One post as the listing shows it.
pub(crate) struct Listed {
    pub id: String,
    pub text: String,
    pub media_type: Option<String>,
    pub permalink: Option<String>,
    pub replied_to: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// Graph times: `2026-11-28T12:00:00+0000`.
fn graph_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Text compared the way Threads keeps it: whitespace folded.
fn same_text(remote: &str, ours: &str) -> bool {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    fold(remote) == fold(ours)
}

impl Threads {
    /// The account's posts (`what` = `threads`) or replies (`replies`) since `since`, newest
    /// first, up to [`LOOKUP_PAGES`] pages.
    pub(super) async fn list_recent(
        &self,
        auth: &Auth,
        what: &'static str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Listed>, PublishError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let mut call = Call::get(
                format!("{}/{what}", auth.user_path),
                if what == "replies" {
                    "GET /{user}/replies"
                } else {
                    "GET /{user}/threads"
                },
                if what == "replies" {
                    "looking up the account's recent replies"
                } else {
                    "looking up the account's recent posts"
                },
            )
            .query("fields", FIELDS)
            .query("since", since.timestamp().to_string())
            .query("limit", "100");
            if let Some(cursor) = &after {
                call = call.query("after", cursor.clone());
            }
            let reply = self.send(auth, call).await?;
            if !reply.ok() {
                return Err(self.classify(&reply, auth, &[]));
            }
            let Some(body) = reply.json() else {
                return Err(super::malformed(&reply, auth));
            };
            for item in body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(id) = super::id_of(item) else {
                    continue;
                };
                let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
                out.push(Listed {
                    id,
                    text: text("text").unwrap_or_default(),
                    media_type: text("media_type"),
                    permalink: text("permalink"),
                    replied_to: item.get("replied_to").and_then(super::id_of),
                    timestamp: text("timestamp").as_deref().and_then(graph_time),
                });
            }
            let more = body
                .get("paging")
                .and_then(|p| p.get("next"))
                .and_then(Value::as_str)
                .is_some();
            after = body
                .get("paging")
                .and_then(|p| p.get("cursors"))
                .and_then(|c| c.get("after"))
                .and_then(Value::as_str)
                .map(str::to_string);
            if !more || after.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Finds the part among the account's posts or replies since the attempt began.
    pub(super) async fn find_part(
        &self,
        req: &PartRequest<'_>,
        auth: &Auth,
    ) -> Result<Lookup, PublishError> {
        self.find_part_since(req, auth, req.intent_at).await
    }

    /// Finds the part among the account's posts or replies published after `from` (less a
    /// margin for clock differences).
    pub(super) async fn find_part_since(
        &self,
        req: &PartRequest<'_>,
        auth: &Auth,
        from: DateTime<Utc>,
    ) -> Result<Lookup, PublishError> {
        let parent = match part_parent(req) {
            Ok(p) => p,
            Err(e) => return Ok(Lookup::CannotTell(e.message)),
        };
        let kind = match plan_part(req) {
            Ok(plan) => plan.listed_media_type(),
            Err(e) => return Ok(Lookup::CannotTell(e.message)),
        };
        let since = from - chrono::Duration::minutes(LOOKUP_MARGIN_MINUTES);
        let what = if parent.is_some() {
            "replies"
        } else {
            "threads"
        };
        let listed = match self.list_recent(auth, what, since).await {
            Ok(l) => l,
            Err(e) if e.class == ErrorClass::Permanent => {
                return Ok(Lookup::CannotTell(format!(
                    "Threads did not let Outpost read the account's recent {} ({}) — check the account on threads.net",
                    if parent.is_some() { "replies" } else { "posts" },
                    e.message.trim_start_matches("Threads: ")
                )))
            }
            Err(e) => return Err(e),
        };
        let ours = req.part.text.trim_end();
        let found = listed
            .iter()
            .filter(|p| same_text(&p.text, ours))
            .filter(|p| p.replied_to == parent)
            .filter(|p| p.media_type.as_deref().is_none_or(|m| m == kind))
            // The earliest match: a later identical post is not ours.
            .min_by_key(|p| p.timestamp);
        let Some(hit) = found else {
            tracing::info!(
                network = NET.as_str(),
                account = req.account.id.as_str(),
                target = req.target_id,
                part = req.part_index,
                read = listed.len(),
                "threads lookup: the part is not among the account's recent {what}"
            );
            return Ok(Lookup::NotFound);
        };
        let mut part = PublishedPart {
            remote_id: hit.id.clone(),
            url: hit.permalink.clone().filter(|u| u.starts_with("https://")),
            extra: json!({}),
        };
        if let Some(comment) = first_comment(req) {
            if let Ok(replies) = self.list_recent(auth, "replies", since).await {
                if let Some(c) = replies.iter().find(|r| {
                    r.replied_to.as_deref() == Some(&hit.id) && same_text(&r.text, comment)
                }) {
                    part.extra["first_comment_id"] = json!(c.id);
                }
            }
        }
        tracing::info!(
            network = NET.as_str(),
            account = req.account.id.as_str(),
            target = req.target_id,
            part = req.part_index,
            remote = hit.id.as_str(),
            "threads lookup: found the part"
        );
        Ok(Lookup::Found(part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_and_texts_compare() {
        let t = graph_time("2026-11-28T12:00:00+0000").map(|t| t.timestamp());
        assert_eq!(t, Some(1_795_867_200));
        assert!(same_text("a  b\n", "a b"));
        assert!(!same_text("a b c", "a b"));
    }
}
