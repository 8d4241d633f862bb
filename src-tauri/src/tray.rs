//! The tray icon and its menu: the next three posts, the runner's state, Pause/Resume, Open,
//! Quit. Menu ids are an enum, so handlers are plain functions that tests can call.

use crate::state::AppState;
use chrono::Utc;
use outpost_engine::Event;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TRAY_ID: &str = "outpost";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    Open,
    Pause,
    Resume,
    Quit,
}

impl TrayAction {
    pub fn id(self) -> &'static str {
        match self {
            TrayAction::Open => "open",
            TrayAction::Pause => "pause",
            TrayAction::Resume => "resume",
            TrayAction::Quit => "quit",
        }
    }
    pub fn from_id(id: &str) -> Option<TrayAction> {
        [
            TrayAction::Open,
            TrayAction::Pause,
            TrayAction::Resume,
            TrayAction::Quit,
        ]
        .into_iter()
        .find(|a| a.id() == id)
    }
}

/// What the menu shows, computed from the engine (pure, so it can be tested).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    pub upcoming: Vec<String>,
    pub state_line: String,
    pub paused: bool,
}

pub fn model(state: &AppState) -> TrayModel {
    let zone = state.api.zone(None).unwrap_or(chrono_tz::UTC);
    let status = state.api.status(Utc::now()).ok();
    let needing: Vec<String> = state
        .api
        .accounts()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.status != outpost_core::AccountStatus::Active)
        .map(|a| a.address())
        .collect();
    model_from(status.as_ref(), &needing, zone)
}

/// The menu's content from the engine's status (pure).
pub fn model_from(
    status: Option<&outpost_engine::api::StatusReport>,
    needing_reconnect: &[String],
    zone: chrono_tz::Tz,
) -> TrayModel {
    let paused = status.is_some_and(|s| s.paused);
    let state_line = if !needing_reconnect.is_empty() {
        format!("Reconnect needed: {}", needing_reconnect.join(", "))
    } else if paused {
        "Publishing paused".to_string()
    } else if status.is_some_and(|s| s.running) {
        "Publishing: running".to_string()
    } else {
        "Publishing: starting".to_string()
    };
    let upcoming = status
        .map(|s| {
            s.next_due
                .iter()
                .take(3)
                .map(|n| {
                    let when =
                        n.at.map(|t| t.with_timezone(&zone).format("%a %d %b %H:%M").to_string())
                            .unwrap_or_default();
                    format!("{when} — {}", n.account)
                })
                .collect()
        })
        .unwrap_or_default();
    TrayModel {
        upcoming,
        state_line,
        paused,
    }
}

/// The Pause/Resume item for a model.
pub fn toggle_item(m: &TrayModel) -> (TrayAction, &'static str) {
    if m.paused {
        (TrayAction::Resume, "Resume publishing")
    } else {
        (TrayAction::Pause, "Pause publishing")
    }
}

fn menu(app: &AppHandle, m: &TrayModel) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    if m.upcoming.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            "none",
            "Nothing scheduled",
            false,
            None::<&str>,
        )?)?;
    }
    for (i, line) in m.upcoming.iter().enumerate() {
        menu.append(&MenuItem::with_id(
            app,
            format!("next-{i}"),
            line,
            false,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "state",
        &m.state_line,
        false,
        None::<&str>,
    )?)?;
    let (toggle, label) = toggle_item(m);
    menu.append(&MenuItem::with_id(
        app,
        toggle.id(),
        label,
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        TrayAction::Open.id(),
        "Open Outpost",
        true,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        TrayAction::Quit.id(),
        "Quit",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let Some(state) = app.try_state::<AppState>() else {
        return Ok(());
    };
    let m = menu(app, &model(&state))?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Outpost")
        .menu(&m)
        .on_menu_event(|app, event| {
            if let Some(action) = TrayAction::from_id(event.id().as_ref()) {
                perform(app, action);
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Runs a tray action (also used by tests and the single-instance handler).
pub fn perform(app: &AppHandle, action: TrayAction) {
    match action {
        TrayAction::Open => crate::show_main_window(app),
        TrayAction::Pause | TrayAction::Resume => {
            if let Some(state) = app.try_state::<AppState>() {
                if let Err(e) = state.api.set_paused(action == TrayAction::Pause) {
                    tracing::error!(error = %e, "could not change the paused setting");
                }
                state.engine.wake();
            }
            refresh(app);
        }
        TrayAction::Quit => {
            if let Some(state) = app.try_state::<AppState>() {
                state.stop();
            }
            app.exit(0);
        }
    }
}

/// Rebuilds the menu (after events that change what it shows).
pub fn refresh(app: &AppHandle) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    match menu(app, &model(&state)) {
        Ok(m) => {
            let _ = tray.set_menu(Some(m));
        }
        Err(e) => tracing::warn!(error = %e, "could not rebuild the tray menu"),
    }
}

pub fn on_event(app: &AppHandle, event: &Event) {
    match event {
        Event::TargetChanged { .. }
        | Event::AccountNeedsReconnect { .. }
        | Event::AccountExpiring { .. } => refresh(app),
        Event::Health(_) | Event::Breaker { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{model_from, toggle_item, TrayAction};
    use outpost_engine::api::{NextDue, StatusReport};

    fn status(paused: bool, due: usize) -> StatusReport {
        StatusReport {
            running: true,
            paused,
            runners: vec![],
            queue_depth: 0,
            next_due: (0..due)
                .map(|i| NextDue {
                    post_id: format!("p_{i}"),
                    account: "bluesky:alice.test".into(),
                    at: chrono::DateTime::from_timestamp(1_795_000_000 + 3600 * i as i64, 0),
                })
                .collect(),
            targets: Default::default(),
            open_breakers: vec![],
            quotas: vec![],
        }
    }

    #[test]
    fn the_menu_shows_the_next_three_posts_the_state_and_the_right_toggle() {
        let zone = chrono_tz::Europe::Berlin;
        let m = model_from(Some(&status(false, 5)), &[], zone);
        assert_eq!(m.upcoming.len(), 3, "{:?}", m.upcoming);
        assert!(
            m.upcoming[0].ends_with("— bluesky:alice.test"),
            "{:?}",
            m.upcoming
        );
        assert_eq!(m.state_line, "Publishing: running");
        assert_eq!(toggle_item(&m), (TrayAction::Pause, "Pause publishing"));
        let paused = model_from(Some(&status(true, 0)), &[], zone);
        assert!(paused.upcoming.is_empty());
        assert_eq!(paused.state_line, "Publishing paused");
        assert_eq!(
            toggle_item(&paused),
            (TrayAction::Resume, "Resume publishing")
        );
        let broken = model_from(
            Some(&status(false, 1)),
            &["bluesky:alice.test".into()],
            zone,
        );
        assert_eq!(broken.state_line, "Reconnect needed: bluesky:alice.test");
    }

    #[test]
    fn tray_ids_round_trip() {
        for a in [
            TrayAction::Open,
            TrayAction::Pause,
            TrayAction::Resume,
            TrayAction::Quit,
        ] {
            assert_eq!(TrayAction::from_id(a.id()), Some(a));
        }
        assert_eq!(TrayAction::from_id("next-0"), None);
    }
}
