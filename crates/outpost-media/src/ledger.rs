//! Which staged objects may be deleted: one staged file can serve several targets (Instagram,
//! Threads and TikTok fetching the same picture), so it is deleted only once **every** target
//! using it is terminal (published, failed or cancelled). A target in doubt (the network may or
//! may not have fetched it yet) keeps the object until it is reconciled.
//!
//! Pure bookkeeping: no I/O, no clock. The engine persists it (it is `Serialize`) and performs
//! the deletions it recommends; it must never decide from anything but the phases it was told.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a target that uses a staged object stands, as far as the object is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetPhase {
    /// Scheduled, sending, or waiting for the network to fetch/process the media.
    Active,
    /// The outcome is unknown (to be reconciled); a retry might need the object again.
    InDoubt,
    Published,
    Failed,
    Cancelled,
}

impl TargetPhase {
    /// Published, failed and cancelled targets will not fetch the object again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TargetPhase::Published | TargetPhase::Failed | TargetPhase::Cancelled
        )
    }
}

/// Staged object key → (target id → phase).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingLedger {
    objects: BTreeMap<String, BTreeMap<String, TargetPhase>>,
}

impl StagingLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `target` uses the object `key` (phase [`TargetPhase::Active`]).
    pub fn attach(&mut self, key: &str, target: &str) {
        self.objects
            .entry(key.into())
            .or_default()
            .insert(target.into(), TargetPhase::Active);
    }

    /// Records a target's new phase for every object it uses. A terminal target may become
    /// active again (a manual retry) as long as its object has not been deleted.
    pub fn set_phase(&mut self, target: &str, phase: TargetPhase) {
        for targets in self.objects.values_mut() {
            if let Some(p) = targets.get_mut(target) {
                *p = phase;
            }
        }
    }

    /// Objects every user of which is terminal: safe to delete now.
    pub fn deletable(&self) -> Vec<String> {
        self.objects
            .iter()
            .filter(|(_, targets)| !targets.is_empty() && targets.values().all(|p| p.is_terminal()))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Forgets an object after it was deleted from the bucket.
    pub fn forget(&mut self, key: &str) {
        self.objects.remove(key);
    }

    /// Objects that must stay (some user is not terminal): what a sweep must keep.
    pub fn live_keys(&self) -> BTreeSet<String> {
        self.objects
            .iter()
            .filter(|(_, targets)| targets.values().any(|p| !p.is_terminal()))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The targets using `key` and their phases.
    pub fn users(&self, key: &str) -> Option<&BTreeMap<String, TargetPhase>> {
        self.objects.get(key)
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_waits_for_every_target() {
        let mut l = StagingLedger::new();
        l.attach("p/a.jpg", "ig");
        l.attach("p/a.jpg", "threads");
        l.attach("p/a.jpg", "tiktok");
        l.set_phase("ig", TargetPhase::Published);
        l.set_phase("threads", TargetPhase::Failed);
        assert!(l.deletable().is_empty(), "TikTok has not fetched it yet");
        l.set_phase("tiktok", TargetPhase::Cancelled);
        assert_eq!(l.deletable(), vec!["p/a.jpg".to_string()]);
        l.forget("p/a.jpg");
        assert!(l.is_empty());
    }

    #[test]
    fn an_in_doubt_target_keeps_the_object() {
        let mut l = StagingLedger::new();
        l.attach("k", "ig");
        l.attach("k", "threads");
        l.set_phase("ig", TargetPhase::Published);
        l.set_phase("threads", TargetPhase::InDoubt);
        assert!(
            l.deletable().is_empty(),
            "a retry after reconciliation may need it"
        );
        assert!(l.live_keys().contains("k"));
        l.set_phase("threads", TargetPhase::Published);
        assert_eq!(l.deletable(), vec!["k".to_string()]);
        assert!(l.live_keys().is_empty());
    }

    #[test]
    fn a_retried_target_revives_its_object() {
        let mut l = StagingLedger::new();
        l.attach("k", "ig");
        l.set_phase("ig", TargetPhase::Failed);
        assert_eq!(l.deletable().len(), 1);
        l.set_phase("ig", TargetPhase::Active);
        assert!(l.deletable().is_empty());
    }

    #[test]
    fn one_target_may_use_several_objects() {
        let mut l = StagingLedger::new();
        l.attach("k1", "ig");
        l.attach("k2", "ig");
        l.attach("k2", "threads");
        l.set_phase("ig", TargetPhase::Published);
        assert_eq!(l.deletable(), vec!["k1".to_string()]);
        assert_eq!(l.live_keys().into_iter().collect::<Vec<_>>(), vec!["k2"]);
    }

    #[test]
    fn the_ledger_survives_a_round_trip() {
        let mut l = StagingLedger::new();
        l.attach("k", "ig");
        l.set_phase("ig", TargetPhase::InDoubt);
        let json = serde_json::to_string(&l).expect("serialise");
        let back: StagingLedger = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, l);
        assert!(json.contains("in_doubt"), "{json}");
    }
}
