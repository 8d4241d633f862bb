//! Printing results for people (plain lines) or programs (`--json`, one JSON document).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use outpost_core::{Account, Post, Target};

pub fn when(t: Option<DateTime<Utc>>, zone: Tz) -> String {
    t.map(|t| {
        t.with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

pub fn account_line(a: &Account) -> String {
    let mut s = format!("{}  {:<28} {}", a.id, a.address(), a.status);
    if let Some(r) = &a.status_reason {
        s.push_str(&format!("  ({r})"));
    }
    s
}

pub fn post_line(p: &Post, zone: Tz) -> String {
    let first = p
        .content
        .parts
        .first()
        .map(|x| x.text.replace('\n', " "))
        .unwrap_or_default();
    let text: String = first.chars().take(40).collect();
    let nets: Vec<String> = p
        .targets
        .iter()
        .map(|t| format!("{}:{}", t.network, t.state))
        .collect();
    format!(
        "{}  {:<20} {:<19} {}  {}",
        p.id,
        when(p.scheduled_at, zone),
        p.status.as_str(),
        nets.join(","),
        text
    )
}

pub fn target_block(t: &Target, zone: Tz) -> String {
    let mut s = format!("  {:<32} {}", t.account_address, t.state);
    if t.attempts > 0 {
        s.push_str(&format!("  (attempts: {})", t.attempts));
    }
    if let Some(u) = &t.remote_url {
        s.push_str(&format!("\n      live: {u}"));
    } else if let Some(r) = &t.remote_id {
        s.push_str(&format!("\n      id: {r}"));
    }
    if let Some(e) = &t.last_error {
        s.push_str(&format!("\n      error: {e}"));
    }
    if let Some(w) = &t.wait_reason {
        if t.last_error.as_deref() != Some(w) {
            s.push_str(&format!("\n      waiting: {w}"));
        }
    }
    if t.state.as_str() == "scheduled" {
        s.push_str(&format!("\n      next: {}", when(t.next_attempt_at, zone)));
    }
    if t.progress.len() > 1 {
        for (i, p) in t.progress.iter().enumerate() {
            s.push_str(&format!(
                "\n      part {}: {}",
                i + 1,
                p.url.as_deref().unwrap_or(&p.remote_id)
            ));
        }
    }
    s
}

pub fn post_block(p: &Post, zone: Tz) -> String {
    let mut s = format!(
        "post {}\n  status:    {}\n  scheduled: {} (written in {})\n",
        p.id,
        p.status.as_str(),
        when(p.scheduled_at, zone),
        p.time_zone
    );
    for (i, part) in p.content.parts.iter().enumerate() {
        let label = if p.content.parts.len() > 1 {
            format!("part {}", i + 1)
        } else {
            "text".into()
        };
        s.push_str(&format!("  {label:<10} {}\n", part.text));
        for m in &part.media {
            s.push_str(&format!(
                "    media: {} ({}, {} bytes)\n",
                m.path, m.mime, m.bytes
            ));
        }
    }
    if let Some(e) = &p.error_summary {
        s.push_str(&format!("  errors:    {e}\n"));
    }
    s.push_str("  networks:\n");
    for t in &p.targets {
        s.push_str(&target_block(t, zone));
        s.push('\n');
    }
    s
}

pub fn media_line(m: &outpost_store::MediaRow) -> String {
    let mut s = format!("{:<11} {:>10} bytes", m.mime, m.bytes);
    if let (Some(w), Some(h)) = (m.width, m.height) {
        s.push_str(&format!("  {w}×{h}"));
    }
    if let Some(d) = m.duration_ms {
        s.push_str(&format!("  {:.1} s", d as f64 / 1000.0));
    }
    if let Some(f) = m.frame_rate {
        s.push_str(&format!("  {f:.2} fps"));
    }
    if let Some(c) = &m.video_codec {
        s.push_str(&format!("  video {c}"));
    }
    if let Some(c) = &m.audio_codec {
        s.push_str(&format!("  audio {c}"));
    }
    if m.animated {
        s.push_str("  animated");
    }
    s
}
