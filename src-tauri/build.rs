fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=tauri.conf.json");
    let commands: &'static [&'static str] = &COMMANDS;
    let attrs = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attrs) {
        panic!("tauri build failed: {e:#}");
    }
}

/// Every command the shell exposes; the capability file grants them to the main window.
const COMMANDS: [&str; 36] = [
    "list_posts",
    "get_post",
    "check_draft",
    "schedule_post",
    "update_post",
    "reschedule_post",
    "cancel_post",
    "retry_post",
    "confirm_posted",
    "delete_post",
    "list_accounts",
    "connect_bluesky",
    "remove_account",
    "get_status",
    "pause",
    "resume",
    "get_settings",
    "save_settings",
    "list_app_credentials",
    "set_app_credentials",
    "begin_connect",
    "finish_connect",
    "paste_connect",
    "cancel_connect",
    "account_choices",
    "set_account_default",
    "connect_pages",
    "get_staging",
    "test_staging",
    "save_staging",
    "remove_staging",
    "pick_media",
    "add_media_bytes",
    "media_previews",
    "open_external",
    "open_log_folder",
];
