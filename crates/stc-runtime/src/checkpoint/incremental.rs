//! Incremental checkpoints (`execution.checkpointing.incremental`, Flink's key; off by
//! default, as in Flink).
//!
//! A complete snapshot of a large, growing state at every checkpoint costs processing time in
//! proportion to the state, not to what changed: a join holding 4 M rows snapshotted every
//! second writes the same rows again and again. With incremental checkpoints an operator that
//! supports them (regular and interval joins, non-windowed GROUP BY) writes, at most
//! checkpoints, only the changes
//! since the previous completed checkpoint; the checkpoint's metadata lists that checkpoint's
//! keyed files of the operator and the new ones, and a restore reads them all (Flink's
//! incremental RocksDB checkpoints share SST files the same way).
//!
//! The log's entries are the operator's own, and so is the meaning of the tables it writes
//! from them, as long as a restore of the chain's tables, concatenated in order, gives the
//! state back. Joins log changes as rows that *add up*: a stored row's multiplicity (and its
//! partner count) changes by a signed amount, and the restore sums every file's rows per
//! stored row. GROUP BY logs changed keys and writes those groups as they are at the barrier
//! (a row count of 0: gone); its restore lets a later row of a key replace an earlier one.
//!
//! [`ChangeLog`] keeps the log in segments, one per checkpoint barrier, until a barrier names a
//! completed checkpoint that covers them ([`Increment::Since`]): a checkpoint may fail after
//! the operator snapshotted it, and the next delta must then repeat its changes. A complete
//! snapshot is written instead of a delta when the chain of deltas since the last complete one
//! would cost a restore more than the state itself (more rows than the state holds, or
//! [`MAX_CHAIN`] deltas), when the log outgrew its bound (see [`ChangeLog::push`]), and for
//! savepoints, which stay self-contained.
//!
//! Files that later checkpoints may refer to live in `<checkpoint dir>/shared/`, and are
//! deleted once no retained checkpoint refers to them (`storage::prune`).

use std::sync::Arc;

use super::{Barrier, BarrierKind, Increment, KeyedPart};

/// Deltas after which a complete snapshot is written again, whatever their size: a restore
/// reads one file per delta and table and subtask.
pub const MAX_CHAIN: usize = 32;

/// Changes logged, at least, before the log gives up and the next snapshot is complete (so a
/// small state that changes a lot does not hold a log many times its size).
const MIN_LOG_LIMIT: usize = 1 << 16;

/// An operator's log of state changes for incremental checkpoints (see the module docs).
pub struct ChangeLog<C> {
    /// Changes before each barrier since the last complete snapshot, by checkpoint id; shared
    /// with snapshot conversions.
    sealed: Vec<(u64, Arc<Vec<C>>)>,
    /// Changes since the last barrier.
    current: Vec<C>,
    /// Changes in `sealed` and `current`.
    logged: usize,
    /// Where recording started: the log holds every change after this checkpoint's (complete)
    /// snapshot. `None`: not recording.
    since: Option<u64>,
    /// Most changes held before recording stops.
    limit: usize,
    /// Deltas written since the last complete snapshot, and their rows.
    chain_len: usize,
    chain_rows: usize,
}

impl<C> Default for ChangeLog<C> {
    fn default() -> Self {
        ChangeLog {
            sealed: Vec::new(),
            current: Vec::new(),
            logged: 0,
            since: None,
            limit: MIN_LOG_LIMIT,
            chain_len: 0,
            chain_rows: 0,
        }
    }
}

/// What an operator snapshots at a barrier.
pub enum Plan<C> {
    /// The whole state, with the [`KeyedPart`] to declare (complete or a chain's base).
    Complete(KeyedPart),
    /// The changes since completed checkpoint `since`: every segment logged after it.
    Changes {
        since: u64,
        segments: Vec<Arc<Vec<C>>>,
    },
}

impl<C> ChangeLog<C> {
    /// Whether changes are to be logged (callers skip building them otherwise).
    pub fn recording(&self) -> bool {
        self.since.is_some()
    }

    /// Logs one change. A log that outgrows its bound (twice the state at the last snapshot,
    /// or [`MIN_LOG_LIMIT`]) is dropped: the next snapshot is complete and starts a new one.
    pub fn push(&mut self, change: C) {
        if self.since.is_none() {
            return;
        }
        if self.logged >= self.limit {
            self.stop();
            return;
        }
        self.current.push(change);
        self.logged += 1;
    }

    fn stop(&mut self) {
        self.since = None;
        self.sealed.clear();
        self.current = Vec::new();
        self.logged = 0;
    }

    fn restart(&mut self, at: u64, state_rows: usize) {
        self.stop();
        self.since = Some(at);
        self.chain_len = 0;
        self.chain_rows = 0;
        self.limit = state_rows.saturating_mul(2).max(MIN_LOG_LIMIT);
    }

    /// Decides what to snapshot at `barrier`, for a state of `state_rows` rows, and moves the
    /// log on.
    pub fn plan(&mut self, barrier: &Barrier, state_rows: usize) -> Plan<C> {
        let segment = Arc::new(std::mem::take(&mut self.current));
        match (barrier.kind, barrier.increment) {
            (_, Increment::Off) => {
                self.stop();
                Plan::Complete(KeyedPart::Complete)
            }
            // Self-contained, and no base for later deltas (they build on checkpoints); the
            // log goes on across it.
            (BarrierKind::Savepoint { .. }, _) => {
                if self.since.is_some() {
                    self.sealed.push((barrier.id, segment));
                }
                Plan::Complete(KeyedPart::Complete)
            }
            (BarrierKind::Checkpoint, Increment::Start) => {
                self.restart(barrier.id, state_rows);
                Plan::Complete(KeyedPart::Base)
            }
            (BarrierKind::Checkpoint, Increment::Since(base)) => {
                self.sealed.retain(|(id, _)| *id > base);
                if self.since.is_some() {
                    self.sealed.push((barrier.id, segment));
                }
                self.logged = self.sealed.iter().map(|(_, s)| s.len()).sum();
                let covered = self.since.is_some_and(|s| s <= base);
                if covered
                    && self.chain_len < MAX_CHAIN
                    && self.chain_rows + self.logged <= state_rows
                {
                    self.chain_len += 1;
                    self.chain_rows += self.logged;
                    self.limit = state_rows.saturating_mul(2).max(MIN_LOG_LIMIT);
                    Plan::Changes {
                        since: base,
                        segments: self.sealed.iter().map(|(_, s)| Arc::clone(s)).collect(),
                    }
                } else {
                    self.restart(barrier.id, state_rows);
                    Plan::Complete(KeyedPart::Base)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier(id: u64, increment: Increment) -> Barrier {
        Barrier {
            id,
            timestamp_ms: 0,
            kind: BarrierKind::Checkpoint,
            increment,
        }
    }

    fn changes(p: Plan<u32>) -> Option<(u64, Vec<u32>)> {
        match p {
            Plan::Complete(_) => None,
            Plan::Changes { since, segments } => Some((
                since,
                segments.iter().flat_map(|s| s.iter().copied()).collect(),
            )),
        }
    }

    #[test]
    fn off_never_records() {
        let mut log = ChangeLog::default();
        assert!(matches!(
            log.plan(&barrier(1, Increment::Off), 10),
            Plan::Complete(KeyedPart::Complete)
        ));
        assert!(!log.recording());
        log.push(1u32);
        assert!(changes(log.plan(&barrier(2, Increment::Since(1)), 10)).is_none());
    }

    #[test]
    fn deltas_hold_every_change_after_the_base_including_those_of_failed_checkpoints() {
        let mut log = ChangeLog::default();
        assert!(matches!(
            log.plan(&barrier(1, Increment::Start), 100),
            Plan::Complete(KeyedPart::Base)
        ));
        log.push(1u32);
        log.push(2);
        // Checkpoint 2 builds on 1 (completed).
        assert_eq!(
            changes(log.plan(&barrier(2, Increment::Since(1)), 100)),
            Some((1, vec![1, 2]))
        );
        log.push(3);
        // Checkpoint 2 failed: 3 still builds on 1, and repeats 2's changes.
        assert_eq!(
            changes(log.plan(&barrier(3, Increment::Since(1)), 100)),
            Some((1, vec![1, 2, 3]))
        );
        log.push(4);
        // 3 completed: 4 holds only what came after it.
        assert_eq!(
            changes(log.plan(&barrier(4, Increment::Since(3)), 100)),
            Some((3, vec![4]))
        );
    }

    #[test]
    fn a_base_that_did_not_complete_makes_the_next_snapshot_complete() {
        let mut log = ChangeLog::default();
        log.plan(&barrier(1, Increment::Start), 100);
        log.push(1u32);
        log.plan(&barrier(2, Increment::Since(1)), 100);
        // Complete again at 3 (say, too many changes)...
        log.push(2);
        assert!(changes(log.plan(&barrier(3, Increment::Since(1)), 1)).is_none());
        // ...and 3 failed: 4 cannot build on 2, whose chain the log no longer covers.
        log.push(3);
        assert!(changes(log.plan(&barrier(4, Increment::Since(2)), 100)).is_none());
        log.push(4);
        assert_eq!(
            changes(log.plan(&barrier(5, Increment::Since(4)), 100)),
            Some((4, vec![4]))
        );
    }

    #[test]
    fn a_savepoint_is_complete_and_the_log_goes_on_across_it() {
        let mut log = ChangeLog::default();
        log.plan(&barrier(1, Increment::Start), 100);
        log.push(1u32);
        let sp = Barrier {
            kind: BarrierKind::Savepoint { stop: false },
            ..barrier(2, Increment::Since(1))
        };
        assert!(matches!(
            log.plan(&sp, 100),
            Plan::Complete(KeyedPart::Complete)
        ));
        log.push(2);
        assert_eq!(
            changes(log.plan(&barrier(3, Increment::Since(1)), 100)),
            Some((1, vec![1, 2]))
        );
    }

    #[test]
    fn chains_end_when_they_outgrow_the_state_or_get_long() {
        let mut log = ChangeLog::default();
        log.plan(&barrier(1, Increment::Start), 10);
        for i in 0..6u32 {
            log.push(i);
        }
        assert!(changes(log.plan(&barrier(2, Increment::Since(1)), 10)).is_some());
        for i in 0..6u32 {
            log.push(i);
        }
        // 12 rows of deltas for a state of 10 rows: complete.
        assert!(changes(log.plan(&barrier(3, Increment::Since(2)), 10)).is_none());
        let mut id = 3;
        for _ in 0..MAX_CHAIN {
            log.push(0u32);
            id += 1;
            assert!(changes(log.plan(&barrier(id, Increment::Since(id - 1)), 1000)).is_some());
        }
        id += 1;
        assert!(changes(log.plan(&barrier(id, Increment::Since(id - 1)), 1000)).is_none());
    }

    #[test]
    fn a_log_past_its_bound_is_dropped() {
        let mut log = ChangeLog::default();
        log.plan(&barrier(1, Increment::Start), 0);
        for i in 0..=MIN_LOG_LIMIT as u32 {
            log.push(i);
        }
        assert!(!log.recording());
        assert!(changes(log.plan(&barrier(2, Increment::Since(1)), usize::MAX)).is_none());
        assert!(log.recording());
    }
}
