//! Per-subtask counters.
//!
//! Every subtask owns a [`TaskMetrics`]; the job's [`JobMetrics`] lists them all so that the
//! CLI's status line (and later the platform's metric curves) can read them while the job
//! runs. Counters are relaxed atomics: readers want a recent value, not a consistent cut.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug)]
pub struct TaskMetrics {
    pub node: String,
    pub subtask: usize,
    pub is_source: bool,
    pub is_sink: bool,
    pub records_in: AtomicU64,
    pub records_out: AtomicU64,
    /// Records a sink operator of this subtask has written (counted by the sink itself).
    pub records_written: AtomicU64,
    /// Records dropped because they arrived after the watermark passed their window.
    pub late_records_dropped: AtomicU64,
    /// Records skipped by a format's `ignore-parse-errors`.
    pub parse_errors_skipped: AtomicU64,
    /// The subtask's current input watermark (epoch ms; `i64::MIN` before the first one).
    pub watermark: AtomicI64,
}

impl TaskMetrics {
    pub fn new(node: impl Into<String>, subtask: usize, is_source: bool, is_sink: bool) -> Self {
        TaskMetrics {
            node: node.into(),
            subtask,
            is_source,
            is_sink,
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            records_written: AtomicU64::new(0),
            late_records_dropped: AtomicU64::new(0),
            parse_errors_skipped: AtomicU64::new(0),
            watermark: AtomicI64::new(i64::MIN),
        }
    }

    pub fn add_in(&self, n: usize) {
        self.records_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn add_out(&self, n: usize) {
        self.records_out.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// All subtasks' counters of one job.
#[derive(Debug, Default)]
pub struct JobMetrics {
    tasks: Mutex<Vec<Arc<TaskMetrics>>>,
    pub checkpoints: CheckpointMetrics,
}

/// The job's checkpoint counters (Flink's `numberOfCompletedCheckpoints`,
/// `lastCheckpointDuration`, …), kept by the checkpoint coordinator.
#[derive(Debug, Default)]
pub struct CheckpointMetrics {
    pub triggered: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    /// Restores from a checkpoint or savepoint, this run's start included.
    pub restored: AtomicU64,
    /// Id of the last completed checkpoint or savepoint (0: none).
    pub last_completed_id: AtomicU64,
    /// When it completed (epoch ms; 0: never).
    pub last_completed_ms: AtomicI64,
    /// Trigger to completion of the last completed checkpoint.
    pub last_duration_ms: AtomicU64,
    /// Bytes of state files the last completed checkpoint wrote (Flink's "checkpointed data
    /// size": with incremental checkpoints, less than the state).
    pub last_size_bytes: AtomicU64,
    /// Bytes of every state file the last completed checkpoint lists, those written by the
    /// checkpoints it builds on included (Flink's "full checkpoint data size").
    pub last_full_size_bytes: AtomicU64,
    /// Bytes of state files written by every completed checkpoint and savepoint.
    pub written_bytes_total: AtomicU64,
    /// Longest barrier alignment of any subtask in the last completed checkpoint.
    pub last_alignment_ms: AtomicU64,
    /// Longest time any subtask's operators took to snapshot in the last completed
    /// checkpoint (Flink's "sync duration": the subtask processes nothing meanwhile; a
    /// deferred conversion and the writes are not part of it).
    pub last_sync_ms: AtomicU64,
    /// The sum of that longest snapshot time over every completed checkpoint.
    pub sync_ms_total: AtomicU64,
    /// Subtasks still loading the state of the restore in progress (0: none).
    pub restoring_subtasks: AtomicU64,
    /// The last restore, from the job's start until every subtask had its state back (state
    /// files read and decoded, operators rebuilt).
    pub last_restore_ms: AtomicU64,
}

/// A point-in-time sum over a job's subtasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSummary {
    /// Records produced by source readers.
    pub records_read: u64,
    /// Records written by sinks.
    pub records_written: u64,
    pub late_records_dropped: u64,
    pub parse_errors_skipped: u64,
    /// Minimum watermark over sink subtasks (epoch ms), if every sink has seen one.
    pub sink_watermark: Option<i64>,
}

impl JobMetrics {
    pub fn register(&self, m: Arc<TaskMetrics>) {
        self.tasks.lock().expect("metrics lock").push(m);
    }

    pub fn tasks(&self) -> Vec<Arc<TaskMetrics>> {
        self.tasks.lock().expect("metrics lock").clone()
    }

    pub fn summary(&self) -> MetricsSummary {
        let tasks = self.tasks();
        let mut s = MetricsSummary::default();
        let mut wm: Option<i64> = None;
        let mut any_sink = false;
        for t in &tasks {
            if t.is_source {
                s.records_read += t.records_in.load(Ordering::Relaxed);
            }
            s.records_written += t.records_written.load(Ordering::Relaxed);
            if t.is_sink {
                any_sink = true;
                let w = t.watermark.load(Ordering::Relaxed);
                wm = Some(wm.map_or(w, |c| c.min(w)));
            }
            s.late_records_dropped += t.late_records_dropped.load(Ordering::Relaxed);
            s.parse_errors_skipped += t.parse_errors_skipped.load(Ordering::Relaxed);
        }
        s.sink_watermark = if any_sink {
            wm.filter(|w| *w != i64::MIN)
        } else {
            None
        };
        s
    }
}
