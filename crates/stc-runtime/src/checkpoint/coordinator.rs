//! The checkpoint coordinator of one running job (Flink's `CheckpointCoordinator`).
//!
//! One tokio task. It triggers barriers at the source subtasks on the configured interval (or
//! on request, for savepoints), collects every subtask's acknowledgement with its state,
//! writes the state files off the subtasks' path (`spawn_blocking`), publishes the checkpoint
//! once every subtask has acknowledged it, and then tells every subtask that it is complete
//! (the `watch` channel), which is when sinks commit.
//!
//! Subtasks that have finished (a bounded source and what only it fed) take part in later
//! checkpoints without state, a source with its final position (Flink's checkpoints after
//! tasks finished): barriers go to the running sources only, and a finished input channel
//! counts as aligned. Once every source has finished, no checkpoint is triggered any more.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use super::storage::{
    self, CheckpointConfig, FORMAT_NAME, FORMAT_VERSION, FileMeta, Location, Metadata, NodeMeta,
    Part, PendingDir, SourceMeta,
};
use super::{
    Barrier, BarrierKind, Increment, KeyedPart, OperatorState, SplitPosition, StateSnapshot,
    into_states,
};
use crate::error::{Result, RuntimeError};
use crate::metrics::JobMetrics;

/// The value of the completion channel once the job's final checkpoint (taken when every
/// subtask has finished) is complete: finished subtasks publish everything and exit.
pub const FINAL_CHECKPOINT_DONE: u64 = u64::MAX;

/// What a subtask tells the coordinator.
pub enum TaskReport {
    /// The subtask processed barrier `id` and snapshotted its operators.
    Ack {
        id: u64,
        node: usize,
        subtask: usize,
        /// (operator index in the chain, its state) for stateful operators; deferred ones are
        /// converted where they are written.
        states: Vec<(usize, StateSnapshot)>,
        /// Source subtasks: the last emitted watermark and the split positions.
        source: Option<(Option<i64>, Vec<SplitPosition>)>,
        alignment: Duration,
        /// How long its operators took to snapshot (the data path's pause).
        sync: Duration,
    },
    /// The subtask cannot take part in checkpoint `id` (a source without positions).
    Decline { id: u64, reason: String },
    /// The subtask has ended (its input is exhausted); sources give their final position.
    TaskFinished {
        node: usize,
        subtask: usize,
        source: Option<(Option<i64>, Vec<SplitPosition>)>,
        /// The operators' final state (e.g. a sink's unpublished files), part of every later
        /// checkpoint.
        states: Vec<(usize, OperatorState)>,
    },
    /// The subtask has handled the completion of checkpoint `id` (sinks committed).
    Notified { id: u64 },
}

/// Requests from the job's owner.
pub enum Command {
    Savepoint {
        stop: bool,
        reply: oneshot::Sender<Result<Location>>,
    },
}

/// What the executor wires into the subtasks.
pub struct Wiring {
    /// One per source subtask, in (node, subtask) order.
    pub triggers: Vec<((usize, usize), mpsc::UnboundedSender<Barrier>)>,
    pub reports: mpsc::UnboundedReceiver<TaskReport>,
    pub notify: watch::Sender<u64>,
    pub commands: mpsc::UnboundedReceiver<Command>,
}

struct Pending {
    barrier: Barrier,
    dir: Option<PendingDir>,
    /// Names the files this checkpoint writes into `shared/` (its id and a nonce).
    shared_tag: String,
    /// Subtasks that acknowledged (or had finished).
    acked: HashSet<(usize, usize)>,
    files: Vec<FileMeta>,
    sources: Vec<SourceMeta>,
    alignment: Duration,
    /// Longest snapshot time of a subtask.
    sync: Duration,
    started: Instant,
    reply: Option<oneshot::Sender<Result<Location>>>,
}

impl Pending {
    /// Acknowledges for every finished subtask that has not acknowledged yet: its final
    /// source position and its operators' final state (small: a finished sink's file list,
    /// written in place).
    fn add_finished(&mut self, finished: &BTreeMap<(usize, usize), FinishedTask>) -> Result<()> {
        for (&(node, subtask), task) in finished {
            if !self.acked.insert((node, subtask)) {
                continue;
            }
            if let Some(m) = &task.source {
                self.sources.push(m.clone());
            }
            let dir = self
                .dir
                .as_ref()
                .map(|d| d.tmp.clone())
                .expect("dir until done");
            self.files.extend(write_states(
                &StateFiles::new(&dir, &self.shared_tag, None),
                node,
                subtask,
                task.states.clone(),
            )?);
        }
        Ok(())
    }
}

pub struct Coordinator {
    pub config: CheckpointConfig,
    pub nodes: Vec<NodeMeta>,
    pub max_parallelism: usize,
    pub next_id: u64,
    pub metrics: Arc<JobMetrics>,
    /// The newest checkpoint completed by this run and its files: what incremental snapshots
    /// build on (a restored checkpoint is not: the job may run at another parallelism). Kept
    /// only with incremental checkpoints.
    pub last_completed: Option<(u64, Arc<Vec<FileMeta>>)>,
}

fn now_ms() -> i64 {
    crate::time::now_ms()
}

impl Coordinator {
    fn total_tasks(&self) -> usize {
        self.nodes.iter().map(|n| n.parallelism).sum()
    }

    pub async fn run(mut self, mut w: Wiring) {
        let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
        // Subtasks that have finished (bounded input), with a source's final position: they
        // take part in every later checkpoint with no state (Flink's checkpoints after tasks
        // finished, FLIP-147).
        let mut finished: BTreeMap<(usize, usize), FinishedTask> = BTreeMap::new();
        let sources: HashSet<(usize, usize)> = w.triggers.iter().map(|(k, _)| *k).collect();
        // (id, notifications still expected, who waits for them, savepoint path).
        let mut stopping: Option<(u64, usize, oneshot::Sender<Result<Location>>, Location)> = None;
        let period = self
            .config
            .interval
            .unwrap_or(Duration::from_secs(3600 * 24 * 365));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut timeouts = tokio::time::interval(Duration::from_millis(500));
        loop {
            let all_sources_done = sources.iter().all(|k| finished.contains_key(k));
            tokio::select! {
                _ = tick.tick(), if self.config.interval.is_some() => {
                    let in_flight = pending.values().filter(|p| p.barrier.kind == BarrierKind::Checkpoint).count();
                    // Once every source is done the job is draining: nothing new to save.
                    if in_flight < self.config.max_concurrent.max(1) && !all_sources_done {
                        self.trigger(&w, &mut pending, &finished, BarrierKind::Checkpoint, None);
                    }
                }
                _ = timeouts.tick() => {
                    let expired: Vec<u64> = pending.iter()
                        .filter(|(_, p)| p.started.elapsed() > self.config.timeout)
                        .map(|(id, _)| *id).collect();
                    for id in expired {
                        self.fail(&mut pending, id, format!(
                            "checkpoint {id} expired before completing (execution.checkpointing.timeout = {:?})",
                            self.config.timeout));
                    }
                }
                cmd = w.commands.recv() => match cmd {
                    Some(Command::Savepoint { stop, reply }) => {
                        if all_sources_done {
                            let _ = reply.send(Err(RuntimeError::Checkpoint(
                                "cannot take a savepoint: every source has already finished (the job is completing)".into())));
                        } else {
                            self.trigger(&w, &mut pending, &finished, BarrierKind::Savepoint { stop }, Some(reply));
                        }
                    }
                    None => {}
                },
                report = w.reports.recv() => {
                    let Some(report) = report else { return };
                    match report {
                        TaskReport::Ack { id, node, subtask, states, source, alignment, sync } => {
                            let Some(p) = pending.get_mut(&id) else { continue };
                            p.alignment = p.alignment.max(alignment);
                            p.sync = p.sync.max(sync);
                            if let Some((watermark, splits)) = source {
                                p.sources.push(SourceMeta {
                                    node, subtask, watermark,
                                    splits: splits.iter().map(storage::split_meta).collect(),
                                });
                            }
                            let dir = p.dir.as_ref().map(|d| d.tmp.clone()).expect("dir until done");
                            let files = StateFiles::new(&dir, &p.shared_tag, self.last_completed.clone());
                            // Deferred snapshots are converted here, off the data path, then written.
                            let written = tokio::task::spawn_blocking(move || {
                                write_states(&files, node, subtask, into_states(states)?)
                            })
                            .await;
                            match written {
                                Ok(Ok(files)) => {
                                    let p = pending.get_mut(&id).expect("still pending");
                                    p.files.extend(files);
                                    p.acked.insert((node, subtask));
                                    self.maybe_complete(&mut pending, id, &w, &finished, &mut stopping);
                                }
                                Ok(Err(e)) => self.fail(&mut pending, id, e.to_string()),
                                Err(e) => self.fail(&mut pending, id, format!("writing state panicked: {e}")),
                            }
                        }
                        TaskReport::Decline { id, reason } => self.fail(&mut pending, id, reason),
                        TaskReport::TaskFinished { node, subtask, source, states } => {
                            let source = source.map(|(watermark, splits)| SourceMeta {
                                node, subtask, watermark,
                                splits: splits.iter().map(storage::split_meta).collect(),
                            });
                            finished.insert((node, subtask), FinishedTask { source, states });
                            // It acknowledges, with its final state, every pending checkpoint
                            // it had not.
                            let ids: Vec<u64> = pending.keys().copied().collect();
                            for id in ids {
                                self.maybe_complete(&mut pending, id, &w, &finished, &mut stopping);
                            }
                            if finished.len() == self.total_tasks() {
                                self.final_checkpoint(&w, &mut pending, &finished);
                            }
                        }
                        TaskReport::Notified { id } => {
                            if let Some((sid, left, _, _)) = stopping.as_mut() && *sid == id {
                                *left = left.saturating_sub(1);
                                if *left == 0 {
                                    let (_, _, reply, path) = stopping.take().expect("set");
                                    let _ = reply.send(Ok(path));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Completes checkpoint `id` if every subtask has acknowledged it or has finished.
    #[allow(clippy::type_complexity)]
    fn maybe_complete(
        &mut self,
        pending: &mut BTreeMap<u64, Pending>,
        id: u64,
        w: &Wiring,
        finished: &BTreeMap<(usize, usize), FinishedTask>,
        stopping: &mut Option<(u64, usize, oneshot::Sender<Result<Location>>, Location)>,
    ) {
        let Some(p) = pending.get_mut(&id) else {
            return;
        };
        if let Err(e) = p.add_finished(finished) {
            self.fail(pending, id, e.to_string());
            return;
        }
        if p.acked.len() < self.total_tasks() {
            return;
        }
        let p = pending.remove(&id).expect("pending");
        let running = self.total_tasks() - finished.len();
        match self.complete(p, pending, w, running, false) {
            Ok(Some(stop)) => *stopping = Some(stop),
            Ok(None) => {}
            Err(e) => warn!(error = %e, "checkpoint {id} failed"),
        }
        // A completed checkpoint subsumes older pending ones.
        let older: Vec<u64> = pending.keys().copied().filter(|k| *k < id).collect();
        for k in older {
            self.fail(pending, k, format!("checkpoint {k} was subsumed by {id}"));
        }
    }

    fn trigger(
        &mut self,
        w: &Wiring,
        pending: &mut BTreeMap<u64, Pending>,
        finished: &BTreeMap<(usize, usize), FinishedTask>,
        kind: BarrierKind,
        reply: Option<oneshot::Sender<Result<Location>>>,
    ) {
        let id = self.next_id;
        self.next_id += 1;
        // Incremental snapshots build on the newest completed checkpoint, which stays
        // retained until a later one completes: with one checkpoint in flight at a time, that
        // is still true when this one is written.
        let increment = if !self.config.incremental || self.config.max_concurrent > 1 {
            Increment::Off
        } else {
            self.last_completed
                .as_ref()
                .map_or(Increment::Start, |(id, _)| Increment::Since(*id))
        };
        let barrier = Barrier {
            id,
            timestamp_ms: now_ms(),
            kind,
            increment,
        };
        let (base, name) = match kind {
            BarrierKind::Checkpoint => (self.config.dir.clone(), format!("chk-{id}")),
            BarrierKind::Savepoint { .. } => (
                self.config
                    .savepoint_dir
                    .clone()
                    .unwrap_or_else(|| self.config.dir.clone()),
                format!("savepoint-{id}"),
            ),
        };
        let dir = match PendingDir::create(&base, &name) {
            Ok(d) => d,
            Err(e) => {
                self.metrics
                    .checkpoints
                    .failed
                    .fetch_add(1, Ordering::Relaxed);
                warn!(error = %e, "cannot start checkpoint {id}");
                if let Some(r) = reply {
                    let _ = r.send(Err(e));
                }
                return;
            }
        };
        self.metrics
            .checkpoints
            .triggered
            .fetch_add(1, Ordering::Relaxed);
        pending.insert(
            id,
            Pending {
                barrier,
                dir: Some(dir),
                shared_tag: shared_tag(id),
                acked: HashSet::new(),
                files: Vec::new(),
                sources: Vec::new(),
                alignment: Duration::ZERO,
                sync: Duration::ZERO,
                started: Instant::now(),
                reply,
            },
        );
        for (task, t) in &w.triggers {
            if !finished.contains_key(task) {
                let _ = t.send(barrier);
            }
        }
    }

    fn fail(&self, pending: &mut BTreeMap<u64, Pending>, id: u64, reason: String) {
        let Some(mut p) = pending.remove(&id) else {
            return;
        };
        warn!("checkpoint {id} failed: {reason}");
        self.metrics
            .checkpoints
            .failed
            .fetch_add(1, Ordering::Relaxed);
        if let Some(d) = p.dir.take() {
            d.abort();
        }
        if let Some(r) = p.reply.take() {
            let _ = r.send(Err(RuntimeError::Checkpoint(reason)));
        }
    }

    /// Publishes a fully acknowledged checkpoint; for a stopping savepoint, returns what to
    /// wait for before the job may be stopped.
    #[allow(clippy::type_complexity)]
    fn complete(
        &mut self,
        mut p: Pending,
        pending: &BTreeMap<u64, Pending>,
        w: &Wiring,
        running: usize,
        last: bool,
    ) -> Result<Option<(u64, usize, oneshot::Sender<Result<Location>>, Location)>> {
        let id = p.barrier.id;
        let full_size: u64 = p.files.iter().map(|f| f.bytes).sum();
        let own = format!("{}-", p.shared_tag);
        let size: u64 = p
            .files
            .iter()
            .filter(|f| !f.shared || f.path.starts_with(&own))
            .map(|f| f.bytes)
            .sum();
        let meta = Metadata {
            format: FORMAT_NAME.into(),
            // Version 1 readers can read a checkpoint without shared files.
            version: if p.files.iter().any(|f| f.shared) {
                FORMAT_VERSION
            } else {
                1
            },
            engine: concat!("stc ", env!("CARGO_PKG_VERSION")).into(),
            id,
            kind: match p.barrier.kind {
                BarrierKind::Checkpoint => "checkpoint".into(),
                BarrierKind::Savepoint { .. } => "savepoint".into(),
            },
            timestamp_ms: p.barrier.timestamp_ms,
            max_parallelism: self.max_parallelism,
            nodes: self.nodes.clone(),
            files: std::mem::take(&mut p.files),
            sources: std::mem::take(&mut p.sources),
        };
        let dir = p.dir.take().expect("dir until done");
        let published = match dir.complete(&meta) {
            Ok(path) => path,
            Err(e) => {
                self.metrics
                    .checkpoints
                    .failed
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(r) = p.reply.take() {
                    let _ = r.send(Err(RuntimeError::Checkpoint(e.to_string())));
                }
                return Err(e);
            }
        };
        if p.barrier.kind == BarrierKind::Checkpoint && self.config.incremental {
            self.last_completed = Some((id, Arc::new(meta.files.clone())));
        }
        let m = &self.metrics.checkpoints;
        m.completed.fetch_add(1, Ordering::Relaxed);
        m.last_completed_id.store(id, Ordering::Relaxed);
        m.last_completed_ms.store(now_ms(), Ordering::Relaxed);
        m.last_duration_ms
            .store(p.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        m.last_size_bytes.store(size, Ordering::Relaxed);
        m.last_full_size_bytes.store(full_size, Ordering::Relaxed);
        m.written_bytes_total.fetch_add(size, Ordering::Relaxed);
        m.last_alignment_ms
            .store(p.alignment.as_millis() as u64, Ordering::Relaxed);
        m.last_sync_ms
            .store(p.sync.as_millis() as u64, Ordering::Relaxed);
        m.sync_ms_total
            .fetch_add(p.sync.as_millis() as u64, Ordering::Relaxed);
        info!(
            id,
            bytes = size,
            ms = p.started.elapsed().as_millis() as u64,
            path = %published,
            "checkpoint completed"
        );
        if p.barrier.kind == BarrierKind::Checkpoint {
            // Checkpoints still being written (max-concurrent-checkpoints > 1) are kept.
            let writing: Vec<Location> = pending
                .values()
                .filter_map(|q| q.dir.as_ref().map(|d| d.tmp.clone()))
                .collect();
            storage::prune(&self.config.dir, self.config.retained, &writing);
        }
        // Sinks commit what the checkpoint covers once they hear of it.
        let _ = w.notify.send(if last { FINAL_CHECKPOINT_DONE } else { id });
        match (p.barrier.kind, p.reply.take()) {
            (BarrierKind::Savepoint { stop: true }, Some(reply)) => {
                Ok(Some((id, running, reply, published)))
            }
            (_, Some(reply)) => {
                let _ = reply.send(Ok(published));
                Ok(None)
            }
            (_, None) => Ok(None),
        }
    }
}

/// A subtask that has finished: a source's final position and the operators' final state.
pub struct FinishedTask {
    source: Option<SourceMeta>,
    states: Vec<(usize, OperatorState)>,
}

impl Coordinator {
    /// Every subtask has finished: one last checkpoint holds their final states, and its
    /// completion lets them publish and exit. If it cannot be written they are released
    /// anyway (their output is then published without a checkpoint covering it).
    fn final_checkpoint(
        &mut self,
        w: &Wiring,
        pending: &mut BTreeMap<u64, Pending>,
        finished: &BTreeMap<(usize, usize), FinishedTask>,
    ) {
        let id = self.next_id;
        self.next_id += 1;
        let dir = match PendingDir::create(&self.config.dir, &format!("chk-{id}")) {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "cannot write the final checkpoint {id}");
                let _ = w.notify.send(FINAL_CHECKPOINT_DONE);
                return;
            }
        };
        self.metrics
            .checkpoints
            .triggered
            .fetch_add(1, Ordering::Relaxed);
        let mut p = Pending {
            barrier: Barrier {
                id,
                timestamp_ms: now_ms(),
                kind: BarrierKind::Checkpoint,
                increment: Default::default(),
            },
            dir: Some(dir),
            shared_tag: shared_tag(id),
            acked: HashSet::new(),
            files: Vec::new(),
            sources: Vec::new(),
            alignment: Duration::ZERO,
            sync: Duration::ZERO,
            started: Instant::now(),
            reply: None,
        };
        if let Err(e) = p.add_finished(finished) {
            warn!(error = %e, "cannot write the final checkpoint {id}");
            if let Some(d) = p.dir.take() {
                d.abort();
            }
            let _ = w.notify.send(FINAL_CHECKPOINT_DONE);
            return;
        }
        // Older checkpoints still pending cannot complete any more.
        let older: Vec<u64> = pending.keys().copied().collect();
        for k in older {
            self.fail(
                pending,
                k,
                format!("checkpoint {k} was subsumed by the final checkpoint {id}"),
            );
        }
        if let Err(e) = self.complete(p, pending, w, 0, true) {
            warn!(error = %e, "the final checkpoint {id} failed");
            let _ = w.notify.send(FINAL_CHECKPOINT_DONE);
        }
    }
}

/// A checkpoint's `shared/` file names start with its id and a nonce: a restore from an older
/// checkpoint reuses ids, and must not overwrite files that newer ones list.
fn shared_tag(id: u64) -> String {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    format!("{id}-{nonce:08x}")
}

/// Where a checkpoint's state files go.
struct StateFiles {
    /// The checkpoint's own directory (in progress).
    dir: Location,
    /// The checkpoint directory's `shared/`, for keyed state later checkpoints may list.
    shared: Location,
    shared_tag: String,
    /// The newest completed checkpoint, which incremental snapshots build on.
    base: Option<(u64, Arc<Vec<FileMeta>>)>,
}

impl StateFiles {
    fn new(dir: &Location, shared_tag: &str, base: Option<(u64, Arc<Vec<FileMeta>>)>) -> Self {
        StateFiles {
            dir: dir.clone(),
            shared: dir.parent().join(storage::SHARED_DIR),
            shared_tag: shared_tag.to_string(),
            base,
        }
    }
}

/// Writes one subtask's operator states. Keyed tables of incremental snapshots go to
/// `shared/`; a delta's checkpoint also lists the operator's keyed files of the checkpoint it
/// builds on.
fn write_states(
    files: &StateFiles,
    node: usize,
    subtask: usize,
    states: Vec<(usize, OperatorState)>,
) -> Result<Vec<FileMeta>> {
    let mut out = Vec::new();
    for (op, state) in states {
        let shared = match state.keyed_part {
            KeyedPart::Complete => None,
            KeyedPart::Base => Some(files.shared_tag.as_str()),
            KeyedPart::ChangesSince(base) => {
                let built_on = match &files.base {
                    Some((id, base_files)) if *id == base => base_files
                        .iter()
                        .filter(|f| {
                            (f.node, f.operator, f.subtask, &f.part)
                                == (node, op, subtask, &Part::Keyed)
                        })
                        .cloned()
                        .collect::<Vec<_>>(),
                    _ => {
                        return Err(RuntimeError::Internal(format!(
                            "operator {op} of task {node} snapshotted changes since checkpoint {base}, which is not the newest completed one"
                        )));
                    }
                };
                if built_on.iter().any(|f| !f.shared) {
                    return Err(RuntimeError::Internal(format!(
                        "operator {op} of task {node} snapshotted changes since checkpoint {base}, whose snapshot of it was not incremental"
                    )));
                }
                out.extend(built_on);
                Some(files.shared_tag.as_str())
            }
        };
        let keyed_dir = if shared.is_some() {
            files.shared.create()?;
            &files.shared
        } else {
            &files.dir
        };
        for (t, b) in state.keyed.iter().enumerate() {
            out.push(storage::write_table(
                keyed_dir,
                (node, op, subtask),
                Part::Keyed,
                t,
                b,
                shared,
            )?);
        }
        for (t, b) in state.shared.iter().enumerate() {
            out.push(storage::write_table(
                &files.dir,
                (node, op, subtask),
                Part::Shared,
                t,
                b,
                None,
            )?);
        }
    }
    Ok(out)
}
