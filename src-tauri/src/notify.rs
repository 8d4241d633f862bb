//! Desktop notifications: one per post when a network fails or the post is missed, and one
//! when an account needs reconnecting. Clicking "Open" shows the post in the app where the
//! notification server supports actions. A setting turns them off.

use crate::state::AppState;
use outpost_core::TargetState;
use outpost_engine::Event;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager};

/// Failures of one post seen within this window become one notification.
const GATHER: Duration = Duration::from_millis(1500);

#[derive(Clone)]
pub struct Notifier {
    app: AppHandle,
    pending: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

/// The text of a notification about one post (pure, for tests).
pub fn post_message(networks: &[String], first_error: &str, missed: bool) -> (String, String) {
    let list = networks.join(", ");
    let summary = if missed {
        format!("Outpost: a post was missed on {list}")
    } else {
        format!("Outpost: a post failed on {list}")
    };
    (summary, first_error.to_string())
}

impl Notifier {
    pub fn new(app: AppHandle) -> Notifier {
        Notifier {
            app,
            pending: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn enabled(&self) -> bool {
        self.app
            .try_state::<AppState>()
            .and_then(|s| s.api.settings().ok())
            .is_none_or(|s| s.notifications)
    }

    pub fn on_event(&self, event: &Event) {
        match event {
            Event::TargetChanged { post_id, target }
                if matches!(
                    target.state,
                    TargetState::Failed | TargetState::Missed | TargetState::Unconfirmed
                ) =>
            {
                let line = format!(
                    "{}\u{1f}{}\u{1f}{}",
                    target.network.display_name(),
                    target.last_error.clone().unwrap_or_default(),
                    target.state.as_str()
                );
                let first = {
                    let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                    let entry = pending.entry(post_id.clone()).or_default();
                    entry.push(line);
                    entry.len() == 1
                };
                if first {
                    let me = self.clone();
                    let post_id = post_id.clone();
                    tauri::async_runtime::spawn(async move {
                        tokio::time::sleep(GATHER).await;
                        let lines = me
                            .pending
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&post_id)
                            .unwrap_or_default();
                        me.notify_post(&post_id, &lines);
                    });
                }
            }
            Event::AccountNeedsReconnect {
                address, reason, ..
            } if self.enabled() => {
                self.show(&format!("Outpost: reconnect {address}"), reason, None);
            }
            Event::AccountExpiring {
                address, reason, ..
            } if self.enabled() => {
                self.show(
                    &format!("Outpost: {address} needs reconnecting soon"),
                    reason,
                    None,
                );
            }
            _ => {}
        }
    }

    fn notify_post(&self, post_id: &str, lines: &[String]) {
        if !self.enabled() || lines.is_empty() {
            return;
        }
        let mut networks = vec![];
        let mut first_error = String::new();
        let mut missed = true;
        for l in lines {
            let mut parts = l.split('\u{1f}');
            let net = parts.next().unwrap_or_default().to_string();
            let err = parts.next().unwrap_or_default();
            let state = parts.next().unwrap_or_default();
            if !networks.contains(&net) {
                networks.push(net);
            }
            if first_error.is_empty() {
                first_error = err.to_string();
            }
            missed &= state == "missed";
        }
        let (summary, body) = post_message(&networks, &first_error, missed);
        self.show(&summary, &body, Some(post_id.to_string()));
    }

    fn show(&self, summary: &str, body: &str, post_id: Option<String>) {
        let app = self.app.clone();
        let (summary, body) = (summary.to_string(), body.to_string());
        // notify-rust blocks while it waits for a click: give it its own thread.
        std::thread::spawn(move || {
            let mut n = notify_rust::Notification::new();
            n.appname("Outpost")
                .summary(&summary)
                .body(&body)
                .timeout(notify_rust::Timeout::Milliseconds(15_000));
            if post_id.is_some() {
                n.action("default", "Open").action("open", "Open post");
            }
            match n.show() {
                Ok(handle) => {
                    if let Some(id) = post_id {
                        #[cfg(all(unix, not(target_os = "macos")))]
                        handle.wait_for_action(|action| {
                            if action == "default" || action == "open" {
                                crate::show_main_window(&app);
                                let _ = app.emit("outpost://open-post", id.clone());
                            }
                        });
                        #[cfg(not(all(unix, not(target_os = "macos"))))]
                        let _ = (handle, id, &app);
                    }
                }
                // No notification daemon: the card and the tray still show the failure.
                Err(e) => tracing::info!(error = %e, "desktop notification not shown"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::post_message;

    #[test]
    fn one_notification_names_every_failed_network() {
        let (s, b) = post_message(
            &["Bluesky".into(), "X".into()],
            "Bluesky: server unavailable",
            false,
        );
        assert_eq!(s, "Outpost: a post failed on Bluesky, X");
        assert_eq!(b, "Bluesky: server unavailable");
        let (s, _) = post_message(&["Bluesky".into()], "missed", true);
        assert!(s.contains("missed"));
    }
}
