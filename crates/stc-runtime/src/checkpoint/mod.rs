//! The checkpoint contract between the runtime and operators, sources and sinks.
//!
//! Flink's model (aligned barriers, asynchronous-barrier snapshotting):
//! * The coordinator asks every source subtask to inject a [`Barrier`] between two batches.
//!   The source records its position ([`SplitPosition`]s) and sends the barrier downstream
//!   on every channel.
//! * A subtask with several input channels *aligns*: once a barrier arrived on a channel,
//!   that channel is not read again until the barrier arrived on every other channel. Then
//!   each operator of the chain snapshots its state ([`Operator::snapshot_state`](crate::Operator::snapshot_state)),
//!   in chain order, and the barrier goes on downstream. Every record before the barrier is
//!   in the snapshot, every record after it is not.
//! * A checkpoint is complete when every subtask has acknowledged it and its metadata is
//!   durable. Only then are sinks told ([`Operator::notify_checkpoint_complete`](crate::Operator::notify_checkpoint_complete))
//!   so that they publish what the checkpoint covers (two-phase commit).
//!
//! State is Arrow record batches, so the on-disk format is Arrow IPC (see `docs/checkpoints.md`).
//! *Keyed* state rows carry their key group in the column [`KEY_GROUP_COLUMN`]; on restore a
//! subtask receives exactly the rows of the key groups it owns, whatever the old parallelism
//! was (rescale). *Shared* state (Flink's union list state: a sink's pending files) is given
//! to every subtask on restore, and the operator decides what to do with it.

pub mod coordinator;
pub mod incremental;
pub mod location;
pub mod storage;

use datafusion::arrow::array::RecordBatch;

/// The column of keyed-state batches that holds each row's key group (`UInt32`).
pub const KEY_GROUP_COLUMN: &str = "__key_group";

/// What a barrier asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierKind {
    /// A periodic checkpoint.
    Checkpoint,
    /// A savepoint; with `stop`, the job stops once the savepoint is complete (Flink's
    /// stop-with-savepoint: no final watermark, windows stay open in the savepoint).
    Savepoint { stop: bool },
}

/// A checkpoint barrier, flowing with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Barrier {
    /// Checkpoint ids increase by one per triggered checkpoint, across restores.
    pub id: u64,
    /// When the coordinator triggered it (epoch ms).
    pub timestamp_ms: i64,
    pub kind: BarrierKind,
    /// Whether operators may snapshot only what changed (incremental checkpoints).
    pub increment: Increment,
}

/// What a barrier allows an operator that can snapshot incrementally
/// (`execution.checkpointing.incremental`; see [`incremental`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Increment {
    /// Complete snapshots only: incremental checkpoints are off.
    #[default]
    Off,
    /// A complete snapshot that later ones may build on: no checkpoint of this run has
    /// completed yet.
    Start,
    /// The changes since completed checkpoint `base` may be written instead of the whole
    /// state (savepoints are always complete).
    Since(u64),
}

/// The state of one operator subtask at a barrier.
#[derive(Debug, Clone, Default)]
pub struct OperatorState {
    /// Keyed state tables, in a fixed order (table `i` has the same schema in every subtask):
    /// each has a `UInt32` column named [`KEY_GROUP_COLUMN`]. On restore, table `i` holds
    /// the rows of every old subtask's table `i` whose key group the new subtask owns.
    pub keyed: Vec<RecordBatch>,
    /// Non-keyed state tables, same ordering rule; on restore every subtask of the operator
    /// receives the concatenation of every old subtask's table `i`.
    pub shared: Vec<RecordBatch>,
    /// What the keyed tables hold: the whole keyed state, or changes to an earlier one.
    pub keyed_part: KeyedPart,
}

/// What an operator's keyed tables hold in one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyedPart {
    /// The whole keyed state.
    #[default]
    Complete,
    /// The whole keyed state, written where later checkpoints can refer to it (the start of
    /// a chain of incremental checkpoints).
    Base,
    /// Changes since the operator's snapshot in completed checkpoint `.0`: its restore reads
    /// that checkpoint's keyed tables of the operator and then these, so the operator must
    /// restore rows that add up (see [`incremental`]).
    ChangesSince(u64),
}

/// An operator's state as it leaves the data path at a barrier: tables built during the
/// snapshot, or a conversion that builds them later from a frozen view of the state, on the
/// checkpoint writer's thread, while the operator goes on processing (an asynchronous
/// snapshot: the data path only pays for freezing the view).
pub enum StateSnapshot {
    Ready(OperatorState),
    Deferred(Box<dyn FnOnce() -> crate::Result<OperatorState> + Send>),
}

impl StateSnapshot {
    /// The state tables (running a deferred conversion now).
    pub fn into_state(self) -> crate::Result<OperatorState> {
        match self {
            StateSnapshot::Ready(s) => Ok(s),
            StateSnapshot::Deferred(f) => f(),
        }
    }
}

/// The tables of a chain's snapshots, by operator index (running deferred conversions now).
pub fn into_states(
    snapshots: Vec<(usize, StateSnapshot)>,
) -> crate::Result<Vec<(usize, OperatorState)>> {
    snapshots
        .into_iter()
        .map(|(op, s)| Ok((op, s.into_state()?)))
        .collect()
}

impl std::fmt::Debug for StateSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateSnapshot::Ready(s) => f.debug_tuple("Ready").field(s).finish(),
            StateSnapshot::Deferred(_) => f.write_str("Deferred"),
        }
    }
}

impl OperatorState {
    pub fn is_empty(&self) -> bool {
        self.keyed.iter().all(|b| b.num_rows() == 0)
            && self.shared.iter().all(|b| b.num_rows() == 0)
    }
}

/// The position of a source in one of its splits (a file, a partition, a subject), opaque to
/// the runtime. Splits let a source be restored at another parallelism: on restore, the
/// factory receives every split of every old subtask and assigns them anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPosition {
    /// Stable identity of the split (a file path, `topic/partition`, ...).
    pub split: String,
    /// The connector's encoding of where to resume (e.g. JSON `{"offset": 1234}`).
    pub position: Vec<u8>,
}
