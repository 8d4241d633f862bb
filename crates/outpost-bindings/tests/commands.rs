//! The UI's IPC calls and the shell's commands must name the same set: every `invoke` in
//! `ui/src/lib/backend/tauriBackend.ts` has a command in `src-tauri/build.rs` (which the
//! capability grants and `generate_handler!` registers), and no command is left unused.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Names in `call<…>('name'` / `invoke<…>('name'`.
fn ui_commands() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("ui/src/lib/backend/tauriBackend.ts"))
        .expect("tauriBackend.ts");
    let mut out = BTreeSet::new();
    for marker in ["call<", "invoke<"] {
        let mut rest = text.as_str();
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            if let Some(open) = rest.find(">('") {
                let after = &rest[open + 3..];
                if let Some(end) = after.find('\'') {
                    let name = &after[..end];
                    if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        out.insert(name.to_string());
                    }
                }
            }
        }
    }
    out
}

/// The quoted names in build.rs's `COMMANDS` list.
fn shell_commands() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("src-tauri/build.rs")).expect("build.rs");
    let start = text.find("const COMMANDS").expect("COMMANDS list");
    let list = &text[start..];
    let list = &list[..list.find("];").expect("end of COMMANDS")];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Functions registered with `generate_handler!` in the shell.
fn handler_commands() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(root().join("src-tauri/src/commands.rs")).expect("commands.rs");
    let start = text.find("generate_handler![").expect("handler") + "generate_handler![".len();
    let list = &text[start..];
    let list = &list[..list.find(']').expect("end of handler")];
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn ui_calls_and_shell_commands_agree() {
    let ui = ui_commands();
    let shell = shell_commands();
    let handler = handler_commands();
    assert!(ui.len() >= 20, "found only {ui:?}");
    assert_eq!(
        ui, shell,
        "ui/src/lib/backend/tauriBackend.ts vs src-tauri/build.rs COMMANDS"
    );
    assert_eq!(
        shell, handler,
        "src-tauri/build.rs COMMANDS vs generate_handler! in src-tauri/src/commands.rs"
    );
}

#[test]
fn the_capability_grants_exactly_the_commands() {
    let text = std::fs::read_to_string(root().join("src-tauri/capabilities/main.json"))
        .expect("capability");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let granted: BTreeSet<String> = v["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str())
        .filter_map(|p| p.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();
    assert_eq!(
        granted,
        shell_commands(),
        "src-tauri/capabilities/main.json grants"
    );
}
