//! Identifiers: short random ids for rows, SHA-256 idempotency keys, and Bluesky-style TIDs.

use rand::Rng;
use sha2::{Digest, Sha256};

const ID_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new random id such as `p_7k2m9x4q1c8d` (prefix + 12 characters, 60 random bits).
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let tail: String = (0..12)
        .map(|_| ID_ALPHABET[rng.gen_range(0..ID_ALPHABET.len())] as char)
        .collect();
    format!("{prefix}_{tail}")
}

/// The idempotency key of one publish: SHA-256 of `post_id:network:account_id[:part]`, hex.
/// Part 0 (the post itself) has no suffix, so a single post's key is the documented one.
pub fn idempotency_key(post_id: &str, network: &str, account_id: &str, part: usize) -> String {
    let material = if part == 0 {
        format!("{post_id}:{network}:{account_id}")
    } else {
        format!("{post_id}:{network}:{account_id}:{part}")
    };
    hex::encode(Sha256::digest(material.as_bytes()))
}

const TID_ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";

/// An atproto TID (13 characters, base32-sortable) from a microsecond timestamp and a 10-bit
/// clock id. Used as a record key chosen by Outpost, so a retried create is recognisable.
pub fn tid(micros: u64, clock_id: u16) -> String {
    let v: u64 = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..13)
        .rev()
        .map(|i| TID_ALPHABET[((v >> (i * 5)) & 0x1f) as usize] as char)
        .collect()
}

/// A TID derived from an idempotency key and the time the intent was recorded: the clock id
/// comes from the key. Within one process the timestamps are strictly increasing (as atproto's
/// TID generators do), so two keys can never get the same TID here even when the clock stands
/// still (a test clock) or two intents land in the same microsecond; across processes a clash
/// needs the same microsecond *and* the same 10-bit clock id.
pub fn tid_for_key(key: &str, micros: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let mut prev = LAST.load(Ordering::Relaxed);
    let micros = loop {
        let next = micros.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(actual) => prev = actual,
        }
    };
    let digest = Sha256::digest(key.as_bytes());
    let clock_id = u16::from_be_bytes([digest[0], digest[1]]) & 0x3ff;
    tid(micros, clock_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_is_sha256_of_the_documented_material() {
        let k = idempotency_key("p_1", "bluesky", "a_1", 0);
        assert_eq!(k, hex::encode(Sha256::digest(b"p_1:bluesky:a_1")));
        assert_ne!(k, idempotency_key("p_1", "bluesky", "a_1", 1));
        assert_eq!(k.len(), 64);
    }

    #[test]
    fn tids_for_different_keys_differ_even_at_the_same_instant() {
        let tids: std::collections::HashSet<String> = (0..2000)
            .map(|i| tid_for_key(&format!("key {i}"), 1_700_000_000_000_000))
            .collect();
        assert_eq!(tids.len(), 2000);
    }

    #[test]
    fn tids_are_13_sortable_chars() {
        let a = tid(1_700_000_000_000_000, 5);
        let b = tid(1_700_000_000_000_001, 5);
        assert_eq!(a.len(), 13);
        assert!(a < b, "{a} < {b}");
        assert!(
            "234567abcdefghij".contains(&a[..1]),
            "first char must keep the top bit 0"
        );
    }

    #[test]
    fn ids_are_unique_and_prefixed() {
        let a = new_id("p");
        assert!(a.starts_with("p_") && a.len() == 14);
        assert_ne!(a, new_id("p"));
    }
}
