//! Cross-process wake-ups: other processes touch the store's wake file after a change; the
//! file watcher (inotify on Linux) turns that into an immediate wake, without polling.

use crate::Engine;
use notify::{RecursiveMode, Watcher};

/// Keeps the watcher alive; dropping it stops watching.
pub struct WakeWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Watches the store's wake file and wakes `engine` whenever it changes.
pub fn watch_wake_file(engine: &Engine) -> notify::Result<Option<WakeWatcher>> {
    let Some(file) = engine.store().wake_file().map(|p| p.to_path_buf()) else {
        return Ok(None);
    };
    let Some(dir) = file.parent().map(|p| p.to_path_buf()) else {
        return Ok(None);
    };
    let target = engine.clone();
    let name = file.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            let ours = event
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name);
            if ours && (event.kind.is_modify() || event.kind.is_create()) {
                target.wake();
            }
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(Some(WakeWatcher { _watcher: watcher }))
}
