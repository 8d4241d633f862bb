//! Tests against the REAL OS keychain.
//!
//! They run only when `OUTPOST_TEST_KEYCHAIN` names the backend to test, and then they must
//! pass against it:
//!
//! ```sh
//! scripts/with-keychain.sh secret-service cargo test -p outpost-auth --test keychain -- --nocapture
//! scripts/with-keychain.sh keyutils       cargo test -p outpost-auth --test keychain -- --nocapture
//! ```
//!
//! Without the variable each test prints "skipped: set OUTPOST_TEST_KEYCHAIN" and passes.
//! Every test uses its own keyring service name, so runs never see each other's items, and
//! each checks through a channel independent of this crate that the item really is in the
//! backend (a direct Secret Service search over D-Bus; the `keyctl` tool for keyutils).

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use outpost_auth::{account_key, open_from_vars, Backend, KeychainStore, Secret, SecretStore};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    SecretService,
    Keyutils,
}

impl Target {
    fn backend(self) -> Backend {
        match self {
            Target::SecretService => Backend::SecretService,
            Target::Keyutils => Backend::Keyutils,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Target::SecretService => "keychain:secret-service",
            Target::Keyutils => "keychain:keyutils",
        }
    }
}

/// The backend under test, or `None` (after printing the skip notice).
fn target(test: &str) -> Option<Target> {
    match std::env::var("OUTPOST_TEST_KEYCHAIN").as_deref() {
        Ok("secret-service") => Some(Target::SecretService),
        Ok("keyutils") => Some(Target::Keyutils),
        Ok(other) => {
            panic!("OUTPOST_TEST_KEYCHAIN={other:?}: expected \"secret-service\" or \"keyutils\"")
        }
        Err(_) => {
            println!("{test}: skipped: set OUTPOST_TEST_KEYCHAIN (see scripts/with-keychain.sh)");
            None
        }
    }
}

/// A keyring service name no other run or test uses.
fn unique_service(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("outpost-test-{test}-{}-{nanos}", std::process::id())
}

/// Reads an item without going through outpost-auth or keyring: `None` when absent.
fn read_directly(target: Target, service: &str, key: &str) -> Option<String> {
    match target {
        Target::SecretService => secret_service_lookup(service, key),
        Target::Keyutils => keyctl_lookup(service, key),
    }
}

fn secret_service_lookup(service: &str, key: &str) -> Option<String> {
    use dbus_secret_service::{EncryptionType, SecretService};
    let ss = SecretService::connect(EncryptionType::Dh).expect("connect to the Secret Service");
    let found = ss
        .search_items(std::collections::HashMap::from([
            ("service", service),
            ("username", key),
        ]))
        .expect("search the Secret Service");
    let items: Vec<_> = found.unlocked.iter().chain(found.locked.iter()).collect();
    assert!(items.len() <= 1, "{} items for {key}", items.len());
    let item = items.first()?;
    item.unlock().expect("unlock item");
    Some(String::from_utf8(item.get_secret().expect("item secret")).expect("utf-8"))
}

fn keyctl_lookup(service: &str, key: &str) -> Option<String> {
    // keyring's keyutils credential describes keys as "keyring-rs:<user>@<service>".
    let description = format!("keyring-rs:{key}@{service}");
    let search = Command::new("keyctl")
        .args(["search", "@s", "user", &description])
        .output()
        .expect("run keyctl");
    if !search.status.success() {
        return None;
    }
    let id = String::from_utf8_lossy(&search.stdout).trim().to_owned();
    let print = Command::new("keyctl")
        .args(["pipe", &id])
        .output()
        .expect("run keyctl pipe");
    assert!(print.status.success(), "keyctl pipe {id} failed");
    Some(String::from_utf8(print.stdout).expect("utf-8"))
}

#[test]
fn set_get_overwrite_delete_against_the_real_backend() {
    let Some(target) = target("set_get_overwrite_delete") else {
        return;
    };
    let service = unique_service("crud");
    let store = KeychainStore::new(&service, target.backend());
    store.probe().expect("probe the keychain");
    assert_eq!(store.kind(), target.kind());

    let key = account_key("did:plc:test", "app_password");
    let other = account_key("did:plc:test", "session");
    assert_eq!(
        store.get(&key).unwrap(),
        None,
        "fresh service must be empty"
    );

    store.set(&key, &Secret::new("first-välue")).unwrap();
    assert_eq!(store.get(&key).unwrap(), Some(Secret::new("first-välue")));
    assert_eq!(
        read_directly(target, &service, &key).as_deref(),
        Some("first-välue"),
        "the item must really be in the {target:?} backend"
    );

    store.set(&key, &Secret::new("second")).unwrap();
    assert_eq!(store.get(&key).unwrap(), Some(Secret::new("second")));
    assert_eq!(
        read_directly(target, &service, &key).as_deref(),
        Some("second")
    );

    // A fresh store object (as another process would have) reads the same item.
    let fresh = KeychainStore::new(&service, target.backend());
    assert_eq!(fresh.get(&key).unwrap(), Some(Secret::new("second")));

    // Keys are independent; a long token fits.
    let long = "t".repeat(4000);
    store.set(&other, &Secret::new(long.clone())).unwrap();
    assert_eq!(store.get(&other).unwrap(), Some(Secret::new(long)));

    store.delete(&key).unwrap();
    assert_eq!(store.get(&key).unwrap(), None);
    assert_eq!(
        read_directly(target, &service, &key),
        None,
        "deleted in the backend"
    );
    store.delete(&key).unwrap();
    assert!(store.get(&other).unwrap().is_some(), "other key untouched");

    store.delete(&other).unwrap();
    assert_eq!(store.get(&other).unwrap(), None);
    assert_eq!(store.get("account/never/set").unwrap(), None);
}

#[test]
fn services_are_isolated() {
    let Some(target) = target("services_are_isolated") else {
        return;
    };
    let a = KeychainStore::new(&unique_service("iso-a"), target.backend());
    let b = KeychainStore::new(&unique_service("iso-b"), target.backend());
    a.set("shared/key", &Secret::new("from-a")).unwrap();
    assert_eq!(b.get("shared/key").unwrap(), None);
    a.delete("shared/key").unwrap();
}

#[test]
fn default_backend_resolves_to_a_working_keychain() {
    let Some(target) = target("default_backend") else {
        return;
    };
    let service = unique_service("default");
    let store = KeychainStore::new(&service, Backend::Default);
    store
        .probe()
        .expect("Backend::Default must find a keychain");
    println!("Backend::Default resolved to {}", store.kind());
    // With a Secret Service on the bus, Default must prefer it. Under keyutils the script
    // passes no session bus, so Default must fall back to the kernel keyring.
    let no_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("DISPLAY").is_none();
    if target == Target::SecretService || no_bus {
        assert_eq!(store.kind(), target.kind());
    }
    store.set("k", &Secret::new("v")).unwrap();
    assert_eq!(read_directly(target, &service, "k").as_deref(), Some("v"));
    store.delete("k").unwrap();
}

#[test]
fn open_from_env_probes_the_keychain() {
    let Some(target) = target("open_from_env") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let service = unique_service("env");
    let store = open_from_vars(dir.path(), |name| match name {
        "OUTPOST_SECRET_STORE" => Some("keychain".into()),
        "OUTPOST_KEYCHAIN_SERVICE" => Some(service.clone()),
        _ => None,
    })
    .expect("keychain store from the environment");
    println!("open_from_env chose {}", store.kind());
    assert!(store.kind().starts_with("keychain:"));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the keychain store must not create files in the data directory"
    );
    if target == Target::SecretService {
        assert_eq!(store.kind(), target.kind());
    }
}

/// Under the keyutils run there is no session bus: asking for the Secret Service explicitly
/// must fail with the "no keychain" error (not a generic failure, not a fallback).
#[test]
fn explicit_secret_service_without_a_bus_is_unavailable() {
    let Some(target) = target("explicit_secret_service_without_a_bus") else {
        return;
    };
    let no_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("DISPLAY").is_none();
    if target != Target::Keyutils || !no_bus {
        println!("explicit_secret_service_without_a_bus: not applicable here");
        return;
    }
    let store = KeychainStore::new(&unique_service("nobus"), Backend::SecretService);
    let err = store.probe().expect_err("no bus, no Secret Service");
    println!("error: {err}");
    assert!(
        matches!(err, outpost_auth::SecretError::KeychainUnavailable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("OUTPOST_SECRET_STORE=file"));
    assert!(!err.is_transient());
}
