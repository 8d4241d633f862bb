//! [`MemoryStore`]: secrets in a `HashMap`, for tests of other crates. Nothing persists.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::{check_key, check_value, Secret, SecretError, SecretStore};

/// An in-memory store (kind `"memory"`). It applies the same key and value rules as the real
/// stores so that tests against it behave like production.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Secret>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored secrets (handy in tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Secret>> {
        // A panic elsewhere while holding the lock cannot leave the map half-updated
        // (every operation is a single insert/remove), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.len())
            .finish()
    }
}

impl SecretStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn get(&self, key: &str) -> Result<Option<Secret>, SecretError> {
        check_key(key)?;
        Ok(self.lock().get(key).cloned())
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretError> {
        check_key(key)?;
        check_value(key, value)?;
        self.lock().insert(key.to_owned(), value.clone());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), SecretError> {
        check_key(key)?;
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let store = MemoryStore::new();
        assert_eq!(store.kind(), "memory");
        assert_eq!(store.get("k").unwrap(), None);
        store.set("k", &Secret::new("v1")).unwrap();
        store.set("k", &Secret::new("v2")).unwrap();
        assert_eq!(store.get("k").unwrap(), Some(Secret::new("v2")));
        store.delete("k").unwrap();
        store.delete("k").unwrap();
        assert_eq!(store.get("k").unwrap(), None);
        assert!(matches!(
            store.set("k", &Secret::new("")),
            Err(SecretError::EmptySecret { .. })
        ));
        assert!(!format!("{store:?}").contains("v2"));
    }
}
