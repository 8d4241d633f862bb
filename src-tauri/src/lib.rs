//! The desktop shell: windows, tray, notifications, and commands that each call one engine
//! function. No scheduling or network logic lives here (see crates/outpost-engine).

mod commands;
mod notify;
mod state;
mod tray;

use state::AppState;
use tauri::{Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

pub const MAIN_WINDOW: &str = "main";
pub const EVENT_CHANNEL: &str = "outpost://event";

/// Whether this launch should stay in the tray (no window).
fn background_requested(args: &[String]) -> bool {
    args.iter().any(|a| a == "--background")
}

/// Shows the main window, creating its webview if it was dropped to save memory.
pub fn show_main_window(app: &tauri::AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
        .title("Outpost")
        .inner_size(1280.0, 820.0)
        .min_inner_size(900.0, 600.0)
        // Files dropped on the window go to the page (the composer's drop zone).
        .disable_drag_drop_handler()
        .build();
    if let Err(e) = built {
        tracing::error!(error = %e, "could not open the main window");
    }
}

pub fn run() {
    let args: Vec<String> = std::env::args().collect();
    let background = background_requested(&args);
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            // A second launch: focus the running app (unless it only asked for the tray).
            if !background_requested(&argv) {
                show_main_window(app);
            }
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--background"]),
        ))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let handle = app.handle().clone();
            let state = AppState::start(&handle)?;
            forward_events(&handle, &state);
            app.manage(state);
            tray::build(&handle)?;
            if !background {
                show_main_window(&handle);
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("Outpost could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| match event {
        // Closing the last window keeps the tray agent (and the dispatcher) running; the
        // webview is gone, which frees its memory. Only Quit (an explicit exit code) ends it.
        RunEvent::ExitRequested { api, code, .. } if code.is_none() => {
            api.prevent_exit();
        }
        RunEvent::Exit => {
            if let Some(state) = handle.try_state::<AppState>() {
                state.stop();
            }
        }
        _ => {}
    });
}

/// Engine events → the UI (as `outpost://event`), the tray and desktop notifications.
fn forward_events(app: &tauri::AppHandle, state: &AppState) {
    let mut rx = state.engine.subscribe();
    let app = app.clone();
    let notifier = notify::Notifier::new(app.clone());
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let _ = app.emit(EVENT_CHANNEL, &event);
                    notifier.on_event(&event);
                    tray::on_event(&app, &event);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the UI fell behind the engine's events");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}
