// The desktop app: a thin Tauri shell over the Outpost engine. No console window on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    outpost_app::run();
}
