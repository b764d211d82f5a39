//! What this process's engine has done, for `/metrics`: objects sent by action, failures, and
//! the progress of the cycles it is running (objects processed of total), kept in memory
//! and read when the metrics are rendered.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and the cycles' progress.
#[derive(Debug, Default)]
pub struct Progress {
    created: AtomicU64,
    updated: AtomicU64,
    deactivated: AtomicU64,
    deleted: AtomicU64,
    failed: AtomicU64,
    /// Per target: (processed, total) of its running cycle, and whether it is quarantined.
    targets: Mutex<HashMap<String, (i64, i64, bool)>>,
}

/// What [`Progress`] holds at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Objects created in targets.
    pub created: u64,
    /// Objects updated.
    pub updated: u64,
    /// Users deactivated.
    pub deactivated: u64,
    /// Objects deleted.
    pub deleted: u64,
    /// Objects that failed.
    pub failed: u64,
    /// Objects processed in the running cycles.
    pub processed: i64,
    /// Objects the running cycles go through.
    pub total: i64,
    /// Targets this process works that are quarantined.
    pub quarantined: i64,
}

impl Progress {
    /// Counts an object's outcome (`created`, `updated`, `deactivated`, `deleted`; others
    /// are not counted), or a failure.
    pub fn count(&self, action: Option<&str>) {
        let counter = match action {
            None => &self.failed,
            Some("created") => &self.created,
            Some("updated") => &self.updated,
            Some("deactivated") => &self.deactivated,
            Some("deleted") => &self.deleted,
            Some(_) => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records where a target's run stands (a cycle's progress, `(0, 0)` between cycles).
    pub fn run(&self, target: &str, processed: i64, total: i64, quarantined: bool) {
        if let Ok(mut targets) = self.targets.lock() {
            targets.insert(target.to_owned(), (processed, total, quarantined));
        }
    }

    /// The counters and the sum over the targets.
    pub fn snapshot(&self) -> Snapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = Snapshot {
            created: load(&self.created),
            updated: load(&self.updated),
            deactivated: load(&self.deactivated),
            deleted: load(&self.deleted),
            failed: load(&self.failed),
            ..Snapshot::default()
        };
        if let Ok(targets) = self.targets.lock() {
            for (processed, total, quarantined) in targets.values() {
                s.processed += processed;
                s.total += total;
                s.quarantined += i64::from(*quarantined);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_and_cycles_summed() {
        let p = Progress::default();
        p.count(Some("created"));
        p.count(Some("created"));
        p.count(Some("unchanged"));
        p.count(None);
        p.run("a", 50, 200, false);
        p.run("b", 0, 0, true);
        p.run("a", 100, 200, false);
        let s = p.snapshot();
        assert_eq!((s.created, s.failed, s.updated), (2, 1, 0));
        assert_eq!((s.processed, s.total, s.quarantined), (100, 200, 1));
    }
}
