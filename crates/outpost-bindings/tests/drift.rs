//! The committed TypeScript bindings must be exactly what the Rust types generate today.

use std::collections::BTreeMap;
use std::path::Path;

fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                let rel = p
                    .strip_prefix(base)
                    .map(|r| r.display().to_string())
                    .unwrap_or_default();
                out.insert(rel, text);
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

#[test]
fn committed_bindings_match_the_rust_types() {
    let fresh = tempfile::tempdir().expect("tempdir");
    outpost_bindings::export(fresh.path()).expect("export");
    let want = files(fresh.path());
    let have = files(&outpost_bindings::committed_dir());
    assert!(!want.is_empty());
    let missing: Vec<&String> = want.keys().filter(|k| !have.contains_key(*k)).collect();
    let extra: Vec<&String> = have.keys().filter(|k| !want.contains_key(*k)).collect();
    let changed: Vec<&String> = want
        .iter()
        .filter(|(k, v)| have.get(*k).is_some_and(|h| h != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "ui/src/lib/bindings drifted from the Rust types — run `cargo run -p outpost-bindings` and commit.\nmissing: {missing:?}\nextra: {extra:?}\nchanged: {changed:?}"
    );
}
