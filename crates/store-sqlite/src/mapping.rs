//! Whether a reader maps the database file into its memory (`mmap_size`), decided by how
//! often the database changes between two of its reads.
//!
//! A mapped reader reads pages straight from the file's mapping: lookups of a database that
//! does not change are 10–30 % faster than through `read` calls (roster-bench: get, filter,
//! list). But when a read transaction starts after another connection committed, SQLite drops
//! the connection's page cache and unmaps the whole file, and the pages are mapped again one
//! fault at a time; unmapping makes the kernel interrupt every core this process runs on. Under
//! a steady stream of writes nearly every read pays that: PATCH, which reads the resource
//! before it writes it, ran 15 % slower mapped. So each reader follows how many of its reads
//! found the database changed ([`Mapping::observe`]) and unmaps when most do, maps again when
//! few do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Commits of the database's writer, counted: a reader that saw another count before its
/// previous read finds the database changed. Only a heuristic's input: commits by another
/// process (the CLI) are not counted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Commits(Arc<AtomicU64>);

impl Commits {
    /// Counts one commit.
    pub(crate) fn note(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The commits so far.
    pub(crate) fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The statement that maps a reader's files (up to 1 GiB of each).
pub(crate) const MAPPED: &str = "PRAGMA mmap_size = 1073741824";
/// The statement that reads them through `read` calls instead.
pub(crate) const UNMAPPED: &str = "PRAGMA mmap_size = 0";

/// How much one read weighs in [`Mapping`]'s score: the score is a moving average over about
/// the last 16 reads, from 0 (none found a change) to [`FULL`] (all did).
const WEIGHT: u32 = 16;
/// The score when every recent read found the database changed.
const FULL: u32 = 1024;
/// Past this score (about half the recent reads found a change), the reader unmaps.
const UNMAP_ABOVE: u32 = FULL / 2;
/// Below this score (about one read in eight), it maps again.
const MAP_BELOW: u32 = FULL / 8;

/// One reader's mapping and how often its reads found the database changed.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    mapped: bool,
    score: u32,
}

impl Default for Mapping {
    /// Mapped (as the connection opens), with no change seen.
    fn default() -> Self {
        Mapping {
            mapped: true,
            score: 0,
        }
    }
}

impl Mapping {
    /// Notes whether the database `changed` since the reader's previous read; answers the
    /// mapping to switch to (true: mapped), when the reader should switch.
    pub(crate) fn observe(&mut self, changed: bool) -> Option<bool> {
        self.score = self.score - self.score / WEIGHT + if changed { FULL / WEIGHT } else { 0 };
        let want = if self.mapped {
            self.score <= UNMAP_ABOVE
        } else {
            self.score < MAP_BELOW
        };
        (want != self.mapped).then(|| {
            self.mapped = want;
            want
        })
    }

    /// Undoes the last switch, which the connection refused.
    pub(crate) fn refused(&mut self) {
        self.mapped = !self.mapped;
    }

    /// Whether the reader is mapped.
    #[cfg(test)]
    pub(crate) fn mapped(&self) -> bool {
        self.mapped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `reads` to `m`, and answers the switches it asked for.
    fn feed(m: &mut Mapping, reads: impl IntoIterator<Item = bool>) -> Vec<bool> {
        reads.into_iter().filter_map(|c| m.observe(c)).collect()
    }

    #[test]
    fn a_database_that_does_not_change_stays_mapped() {
        let mut m = Mapping::default();
        assert!(feed(&mut m, [false; 1000]).is_empty());
        assert!(m.mapped());
    }

    #[test]
    fn a_reader_whose_reads_mostly_find_a_change_unmaps_then_maps_again_when_writes_stop() {
        let mut m = Mapping::default();
        // A few changes among many reads do not unmap.
        assert!(feed(&mut m, [true, false, false, false].repeat(100)).is_empty());
        // A steady stream of writes does, within a few dozen reads, once.
        let mut m = Mapping::default();
        let switched = feed(&mut m, [true; 40]);
        assert_eq!(switched, vec![false]);
        assert!(!m.mapped());
        // Writes stopping maps it again, once.
        assert_eq!(feed(&mut m, [false; 60]), vec![true]);
        assert!(m.mapped());
    }

    #[test]
    fn a_refused_switch_is_undone() {
        let mut m = Mapping::default();
        assert_eq!(feed(&mut m, [true; 40]), vec![false]);
        m.refused();
        assert!(m.mapped());
        // Still changing: it asks again at the next read.
        assert_eq!(m.observe(true), Some(false));
    }

    proptest! {
        /// Whatever the reads, the score stays in range, and switches alternate (never two
        /// asks for the same mapping in a row).
        #[test]
        fn switches_alternate(reads in proptest::collection::vec(any::<bool>(), 0..2000)) {
            let mut m = Mapping::default();
            let mut last = true;
            for changed in reads {
                if let Some(want) = m.observe(changed) {
                    prop_assert_ne!(want, last);
                    last = want;
                }
                prop_assert!(m.score <= FULL);
                prop_assert_eq!(m.mapped(), last);
            }
        }

    }
}
