//! Runs a [`JobGraph`]: one tokio task per subtask, bounded channels between them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use datafusion::arrow::array::Array;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::aggregate::max;
use tokio::sync::mpsc::{Receiver, Sender, UnboundedReceiver, UnboundedSender, channel};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tracing::debug;

use crate::checkpoint::coordinator::{
    Command, Coordinator, FINAL_CHECKPOINT_DONE, TaskReport, Wiring,
};
use crate::checkpoint::storage::{Checkpoint, CheckpointConfig, NodeMeta};
use crate::checkpoint::{Barrier, BarrierKind};
use crate::error::{Result, RuntimeError};
use crate::exchange::{GateEvent, InputGate, OutEdge, Output};
use crate::graph::JobGraph;
use crate::message::{Message, StreamBatch, Watermark};
use crate::metrics::{JobMetrics, TaskMetrics};
use crate::operator::{Chain, OperatorContext};
use crate::source::SourceSpec;

/// Messages buffered per producer/consumer pair. Small on purpose: a full channel is what
/// propagates backpressure to the sources.
pub const CHANNEL_CAPACITY: usize = 8;

/// A channel into a subtask, tagged with the operator input it feeds.
type TaggedReceiver = (usize, Receiver<Message>);

/// How to run a job beyond its graph.
#[derive(Default)]
pub struct JobOptions {
    /// Checkpointing (periodic checkpoints and savepoints); `None` disables both.
    pub checkpoint: Option<CheckpointConfig>,
    /// Start from this checkpoint or savepoint (verified by the caller with
    /// [`Checkpoint::open`] or [`Checkpoint::latest_in`]).
    pub restore: Option<Checkpoint>,
}

/// A job whose subtasks are running.
pub struct RunningJob {
    pub metrics: Arc<JobMetrics>,
    pub started: Instant,
    tasks: JoinSet<(String, Result<()>)>,
    commands: Option<UnboundedSender<Command>>,
}

impl RunningJob {
    /// Waits until every subtask has finished. On the first failure the other subtasks are
    /// cancelled and that failure is returned.
    pub async fn wait(&mut self) -> Result<()> {
        let mut cancelled: Option<String> = None;
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((task, Err(RuntimeError::Cancelled))) => {
                    // A consumer went away. Normally another task failed first and reports
                    // the real cause; if none does, that loss must not pass silently.
                    debug!(task, "subtask cancelled");
                    cancelled.get_or_insert(task);
                }
                Ok((task, Err(e))) => {
                    debug!(task, error = %e, "subtask failed, cancelling the job");
                    self.tasks.abort_all();
                    return Err(e);
                }
                Err(join_err) if join_err.is_cancelled() => {}
                Err(join_err) => {
                    self.tasks.abort_all();
                    return Err(RuntimeError::Internal(format!(
                        "a subtask panicked: {join_err}"
                    )));
                }
            }
        }
        match cancelled {
            Some(task) => Err(RuntimeError::Internal(format!(
                "subtask {task} stopped because its downstream went away before the job finished"
            ))),
            None => Ok(()),
        }
    }

    /// Stops every subtask now (no final results are produced).
    pub fn cancel(&mut self) {
        self.tasks.abort_all();
    }

    /// Takes a savepoint; with `stop`, the sources stop at its barrier, the sinks commit what
    /// it covers, and the job is then cancelled (Flink's stop-with-savepoint, without
    /// draining: open windows stay in the savepoint). Returns the savepoint's directory.
    pub async fn savepoint(&mut self, stop: bool) -> Result<crate::checkpoint::location::Location> {
        let commands = self.commands.as_ref().ok_or_else(|| {
            RuntimeError::Checkpoint(
                "savepoints need a checkpoint directory (execution.checkpointing.dir)".into(),
            )
        })?;
        let (reply, rx) = oneshot::channel();
        commands
            .send(Command::Savepoint { stop, reply })
            .map_err(|_| RuntimeError::Checkpoint("the job has already stopped".into()))?;
        let path = tokio::select! {
            r = rx => r.map_err(|_| RuntimeError::Checkpoint("the job stopped before the savepoint completed".into()))??,
            // A subtask failing while the savepoint is taken ends the job: report that.
            failed = wait_first_failure(&mut self.tasks) => return Err(failed),
        };
        if stop {
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        Ok(path)
    }
}

/// Waits until a subtask fails (never returns while they all run or end well).
async fn wait_first_failure(tasks: &mut JoinSet<(String, Result<()>)>) -> RuntimeError {
    loop {
        match tasks.join_next().await {
            Some(Ok((_, Err(e)))) => return e,
            Some(Err(e)) if !e.is_cancelled() => {
                return RuntimeError::Internal(format!("a subtask panicked: {e}"));
            }
            Some(_) => {}
            None => std::future::pending::<()>().await,
        }
    }
}

/// What a subtask needs to take part in checkpoints.
struct TaskCheckpointing {
    node: usize,
    subtask: usize,
    reports: UnboundedSender<TaskReport>,
    notify: watch::Receiver<u64>,
    /// Source subtasks: where barriers are injected.
    triggers: Option<UnboundedReceiver<Barrier>>,
    /// The checkpoint whose state the chain's operators get before the first input (read by
    /// the subtask itself, so subtasks load their state in parallel).
    restore: Option<RestoreFrom>,
    /// Source subtasks: the watermark to re-emit first after a restore.
    restored_watermark: Option<i64>,
    /// Whether the job takes checkpoints (then a finished subtask waits for the final one).
    checkpointing: bool,
}

impl TaskCheckpointing {
    fn disabled() -> Self {
        let (reports, _) = tokio::sync::mpsc::unbounded_channel();
        let (_, notify) = watch::channel(0);
        TaskCheckpointing {
            node: 0,
            subtask: 0,
            reports,
            notify,
            triggers: None,
            restore: None,
            restored_watermark: None,
            checkpointing: false,
        }
    }

    /// Reads this subtask's state from the checkpoint being restored (off the async
    /// threads) and gives it to the chain's operators; the last subtask to finish records the
    /// restore's duration.
    async fn restore(&mut self, chain: &mut Chain) -> Result<()> {
        let Some(from) = self.restore.take() else {
            return Ok(());
        };
        let (node, subtask) = (self.node, self.subtask);
        let ck = Arc::clone(&from.checkpoint);
        let (ops, parallelism) = (chain.ops.len(), from.parallelism);
        let states = tokio::task::spawn_blocking(move || {
            (0..ops)
                .map(|op| Ok((op, ck.operator_state(node, op, subtask, parallelism)?)))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| RuntimeError::Internal(format!("reading state panicked: {e}")))??;
        chain.restore(states).await?;
        let m = &from.metrics.checkpoints;
        if m.restoring_subtasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            m.last_restore_ms
                .store(from.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// A subtask's part of a restore.
struct RestoreFrom {
    checkpoint: Arc<Checkpoint>,
    parallelism: usize,
    metrics: Arc<JobMetrics>,
    started: Instant,
}

/// Starts every subtask of `graph` on the current tokio runtime.
pub fn spawn_job(graph: JobGraph) -> Result<RunningJob> {
    spawn_job_with(graph, JobOptions::default())
}

/// The shape of a job as checkpoints record it.
pub fn job_shape(graph: &JobGraph) -> Vec<NodeMeta> {
    graph
        .nodes
        .iter()
        .map(|n| NodeMeta {
            name: n.name.clone(),
            parallelism: n.parallelism,
            operators: n.operators.iter().map(|o| o.name()).collect(),
            source: n.source.as_ref().map(|s| s.table.clone()),
        })
        .collect()
}

/// Starts every subtask of `graph`, with checkpointing and/or a restore.
pub fn spawn_job_with(graph: JobGraph, options: JobOptions) -> Result<RunningJob> {
    let started = Instant::now();
    let metrics = Arc::new(JobMetrics::default());
    let shape = job_shape(&graph);
    let restore = options.restore.map(Arc::new);
    if let Some(ck) = &restore {
        ck.check_matches(&shape, graph.max_parallelism)?;
        let subtasks: usize = graph.nodes.iter().map(|n| n.parallelism).sum();
        let m = &metrics.checkpoints;
        m.restored.fetch_add(1, Ordering::Relaxed);
        m.restoring_subtasks
            .store(subtasks as u64, Ordering::Relaxed);
    }
    let (report_tx, report_rx) = tokio::sync::mpsc::unbounded_channel();
    let (notify_tx, notify_rx) = watch::channel(0u64);
    let mut triggers = Vec::new();
    let n = graph.nodes.len();
    // receivers[node][subtask] = the channels into that subtask, one per upstream subtask.
    let mut receivers: Vec<Vec<Vec<TaggedReceiver>>> = graph
        .nodes
        .iter()
        .map(|node| (0..node.parallelism).map(|_| Vec::new()).collect())
        .collect();
    // outputs[node][subtask] = that subtask's outgoing edges.
    let mut outputs: Vec<Vec<Output>> = graph
        .nodes
        .iter()
        .map(|node| (0..node.parallelism).map(|_| Output::default()).collect())
        .collect();
    for edge in &graph.edges {
        if edge.from >= edge.to || edge.to >= n {
            return Err(RuntimeError::Internal(format!(
                "edge {} -> {} is not topological",
                edge.from, edge.to
            )));
        }
        let up_p = graph.nodes[edge.from].parallelism;
        let down_p = graph.nodes[edge.to].parallelism;
        let forward = matches!(edge.partitioning, crate::graph::Partitioning::Forward);
        if forward && up_p != down_p {
            return Err(RuntimeError::Internal(format!(
                "forward edge {} -> {} between parallelisms {up_p} and {down_p}",
                edge.from, edge.to
            )));
        }
        for (up, up_outputs) in outputs[edge.from].iter_mut().enumerate() {
            let mut senders: Vec<Sender<Message>> = Vec::with_capacity(down_p);
            for (down, down_receivers) in receivers[edge.to].iter_mut().enumerate() {
                if forward && up != down {
                    // A forward edge connects subtask i to subtask i only.
                    continue;
                }
                let (tx, rx) = channel(CHANNEL_CAPACITY);
                senders.push(tx);
                down_receivers.push((edge.input, rx));
            }
            up_outputs.edges.push(OutEdge::new(
                edge.partitioning.clone(),
                senders,
                up,
                graph.max_parallelism,
            ));
        }
    }

    let mut tasks = JoinSet::new();
    for (id, node) in graph.nodes.into_iter().enumerate() {
        let p = node.parallelism;
        let node_outputs = std::mem::take(&mut outputs[id]);
        let node_inputs = std::mem::take(&mut receivers[id]);
        let is_sink = node.operators.last().is_some_and(|f| f.is_sink());
        for (subtask, (output, inputs)) in node_outputs.into_iter().zip(node_inputs).enumerate() {
            let m = Arc::new(TaskMetrics::new(
                node.name.clone(),
                subtask,
                node.source.is_some(),
                is_sink,
            ));
            metrics.register(Arc::clone(&m));
            let mut ops = Vec::with_capacity(node.operators.len());
            let mut ctxs = Vec::with_capacity(node.operators.len());
            for f in &node.operators {
                ops.push(f.create(subtask, p)?);
                let mut ctx = OperatorContext::new(subtask, p, Arc::clone(&m));
                ctx.max_parallelism = graph.max_parallelism;
                ctx.checkpointing = options.checkpoint.is_some();
                ctxs.push(ctx);
            }
            let chain = Chain { ops, ctxs };
            let name = format!("{} ({}/{})", node.name, subtask + 1, p);
            let mut ckp = TaskCheckpointing {
                node: id,
                subtask,
                reports: report_tx.clone(),
                notify: notify_rx.clone(),
                triggers: None,
                restore: restore.as_ref().map(|ck| RestoreFrom {
                    checkpoint: Arc::clone(ck),
                    parallelism: p,
                    metrics: Arc::clone(&metrics),
                    started,
                }),
                restored_watermark: None,
                checkpointing: options.checkpoint.is_some(),
            };
            if options.checkpoint.is_none() && restore.is_none() {
                ckp = TaskCheckpointing::disabled();
            }
            match &node.source {
                Some(spec) => {
                    let reader = match &restore {
                        Some(ck) => {
                            ckp.restored_watermark = ck.source_watermark(id, subtask, p);
                            spec.factory
                                .restore_reader(subtask, p, &ck.source_positions(id)?)?
                        }
                        None => spec.factory.create_reader(subtask, p)?,
                    };
                    if options.checkpoint.is_some() {
                        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                        triggers.push(((id, subtask), tx));
                        ckp.triggers = Some(rx);
                    }
                    let spec = spec.clone();
                    tasks.spawn(async move {
                        (name, run_source(spec, reader, chain, output, m, ckp).await)
                    });
                }
                None => {
                    let gate = InputGate::with_inputs(inputs);
                    tasks
                        .spawn(async move { (name, run_chain(gate, chain, output, m, ckp).await) });
                }
            }
        }
    }
    drop(report_tx);
    let commands = match options.checkpoint {
        Some(config) => {
            let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
            let coordinator = Coordinator {
                config,
                nodes: shape,
                max_parallelism: graph.max_parallelism,
                next_id: restore.as_ref().map_or(1, |c| c.meta.id + 1),
                metrics: Arc::clone(&metrics),
                last_completed: None,
            };
            // Not in `tasks`: the job is over when its subtasks are, whatever the coordinator
            // is doing (it ends when every subtask has dropped its report sender).
            tokio::spawn(coordinator.run(Wiring {
                triggers,
                reports: report_rx,
                notify: notify_tx,
                commands: cmd_rx,
            }));
            Some(cmd_tx)
        }
        None => None,
    };
    Ok(RunningJob {
        metrics,
        started: Instant::now(),
        tasks,
        commands,
    })
}

/// A source subtask's event-time watermark `w`: through its chain, and into its metrics.
async fn emit_source_watermark(
    chain: &mut Chain,
    output: &mut Output,
    metrics: &TaskMetrics,
    w: i64,
) -> Result<()> {
    metrics.watermark.store(w, Ordering::Relaxed);
    let out = chain
        .push(Message::Watermark(Watermark::EventTime(w)), 0)
        .await?;
    send_all(output, out, metrics).await
}

async fn send_all(output: &mut Output, msgs: Vec<Message>, metrics: &TaskMetrics) -> Result<()> {
    for m in msgs {
        if let Message::Data(b) = &m {
            metrics.add_out(b.num_rows());
        }
        output.send(m).await?;
    }
    Ok(())
}

async fn run_chain(
    mut gate: InputGate,
    mut chain: Chain,
    mut output: Output,
    metrics: Arc<TaskMetrics>,
    mut ckp: TaskCheckpointing,
) -> Result<()> {
    ckp.restore(&mut chain).await?;
    let mut final_watermark_seen = false;
    let mut notified = *ckp.notify.borrow();
    let mut notify_open = true;
    loop {
        // Processing-time timers (processing-time windows) fire between input events; a due
        // timer goes first so that a busy input cannot starve it.
        let timer = chain.next_timer();
        if let Some(t) = timer
            && t <= crate::time::now_ms()
        {
            let out = chain.fire_timers(crate::time::now_ms()).await?;
            send_all(&mut output, out, &metrics).await?;
            continue;
        }
        let wait =
            timer.map(|t| Duration::from_millis((t - crate::time::now_ms()).max(0) as u64 + 1));
        // `InputGate::next` is cancel-safe: a message is only taken when it is returned.
        let ev = tokio::select! {
            ev = gate.next() => ev,
            // Built only when polled with a timer pending: a `Sleep` reads the clock when it
            // is created, and this loop runs once per input batch.
            _ = async {
                match wait {
                    Some(w) => tokio::time::sleep(w).await,
                    None => std::future::pending().await,
                }
            } => continue,
            // Only while the coordinator is there: without checkpointing (or once it is gone)
            // `changed` fails at once, and polling it again would spin this loop.
            changed = ckp.notify.changed(), if notify_open => {
                notify_open = changed.is_ok();
                if changed.is_ok() {
                    let id = *ckp.notify.borrow_and_update();
                    if id > notified {
                        notified = id;
                        let out = chain.notify_checkpoint_complete(id).await?;
                        send_all(&mut output, out, &metrics).await?;
                        let _ = ckp.reports.send(TaskReport::Notified { id });
                    }
                }
                continue;
            }
        };
        let Some(ev) = ev else { break };
        let out = match ev {
            GateEvent::Data(input, b) => {
                metrics.add_in(b.num_rows());
                chain.push_input(input, Message::Data(b)).await?
            }
            GateEvent::Watermark(w) => {
                if let Watermark::EventTime(t) = w {
                    metrics.watermark.store(t, Ordering::Relaxed);
                    final_watermark_seen |= t == i64::MAX;
                }
                chain.push(Message::Watermark(w), 0).await?
            }
            GateEvent::Barrier(b) => {
                checkpoint_chain(
                    &mut chain,
                    &mut output,
                    &metrics,
                    &ckp,
                    b,
                    None,
                    gate.take_alignment(),
                )
                .await?;
                continue;
            }
        };
        send_all(&mut output, out, &metrics).await?;
    }
    if !final_watermark_seen {
        let out = chain.push(Message::Watermark(Watermark::MAX), 0).await?;
        send_all(&mut output, out, &metrics).await?;
    }
    let out = chain.finish().await?;
    send_all(&mut output, out, &metrics).await?;
    output.send(Message::EndOfStream).await?;
    finished(&mut chain, &mut output, &metrics, &mut ckp, None, None).await
}

/// The end of a subtask: with checkpointing, its operators' final state (a sink's files not
/// yet published) goes to the coordinator, which keeps it in every later checkpoint; the
/// subtask then publishes on later completions and exits after the job's final checkpoint
/// (Flink's checkpoints after tasks finished). A crash before that checkpoint replays from
/// the previous one with nothing of the end published twice.
async fn finished(
    chain: &mut Chain,
    output: &mut Output,
    metrics: &TaskMetrics,
    ckp: &mut TaskCheckpointing,
    source: Option<(Option<i64>, Vec<crate::checkpoint::SplitPosition>)>,
    mut reader: Option<&mut dyn crate::source::SourceReader>,
) -> Result<()> {
    if ckp.triggers.is_none() && !ckp.checkpointing {
        return Ok(());
    }
    let final_barrier = Barrier {
        id: u64::MAX,
        timestamp_ms: crate::time::now_ms(),
        kind: BarrierKind::Checkpoint,
        increment: Default::default(),
    };
    let (out, states, _) = chain.checkpoint(&final_barrier).await?;
    // Kept in every later checkpoint: converted once, here.
    let states = crate::checkpoint::into_states(states)?;
    send_all(output, out, metrics).await?;
    let _ = ckp.reports.send(TaskReport::TaskFinished {
        node: ckp.node,
        subtask: ckp.subtask,
        source,
        states,
    });
    let mut notified = *ckp.notify.borrow();
    loop {
        if ckp.notify.changed().await.is_err() {
            // The coordinator is gone (the job is being torn down).
            return Ok(());
        }
        let id = *ckp.notify.borrow_and_update();
        if id > notified {
            notified = id;
            if let Some(r) = reader.as_deref_mut() {
                r.notify_checkpoint_complete(id).await?;
            }
            let out = chain.notify_checkpoint_complete(id).await?;
            send_all(output, out, metrics).await?;
            let _ = ckp.reports.send(TaskReport::Notified { id });
        }
        if id == FINAL_CHECKPOINT_DONE {
            return Ok(());
        }
    }
}

/// Snapshots the chain at barrier `b`, sends what that produced and then the barrier
/// downstream, and acknowledges to the coordinator.
async fn checkpoint_chain(
    chain: &mut Chain,
    output: &mut Output,
    metrics: &TaskMetrics,
    ckp: &TaskCheckpointing,
    b: Barrier,
    source: Option<(Option<i64>, Vec<crate::checkpoint::SplitPosition>)>,
    alignment: Duration,
) -> Result<()> {
    let started = std::time::Instant::now();
    let (out, states, declined) = chain.checkpoint(&b).await?;
    let sync = started.elapsed();
    send_all(output, out, metrics).await?;
    output.send(Message::Barrier(b)).await?;
    if let Some(reason) = declined {
        let _ = ckp.reports.send(TaskReport::Decline { id: b.id, reason });
        return Ok(());
    }
    let _ = ckp.reports.send(TaskReport::Ack {
        id: b.id,
        node: ckp.node,
        subtask: ckp.subtask,
        states,
        source,
        alignment,
        sync,
    });
    Ok(())
}

/// Injects every barrier the coordinator has triggered since the last batch: the reader's
/// positions and the chain's state are snapshotted and the barrier goes downstream (a source
/// that cannot give positions declines). Returns whether one was a stop-with-savepoint.
async fn inject_barriers(
    spec: &SourceSpec,
    reader: &mut dyn crate::source::SourceReader,
    chain: &mut Chain,
    output: &mut Output,
    metrics: &TaskMetrics,
    ckp: &mut TaskCheckpointing,
    last_emitted: i64,
) -> Result<bool> {
    let mut stop = false;
    while let Some(b) = ckp.triggers.as_mut().and_then(|t| t.try_recv().ok()) {
        let Some(positions) = reader.snapshot_positions() else {
            let _ = ckp.reports.send(TaskReport::Decline {
                id: b.id,
                reason: format!(
                    "source {} cannot be checkpointed (it cannot resume from a position)",
                    spec.factory.describe()
                ),
            });
            continue;
        };
        let wm = (last_emitted > i64::MIN).then_some(last_emitted);
        checkpoint_chain(
            chain,
            output,
            metrics,
            ckp,
            b,
            Some((wm, positions)),
            Duration::ZERO,
        )
        .await?;
        stop |= b.kind == (BarrierKind::Savepoint { stop: true });
    }
    Ok(stop)
}

/// Stop-with-savepoint: a source reads nothing more; it publishes when the savepoint completes
/// and waits to be cancelled by the job's owner.
async fn park_after_stop(
    reader: &mut dyn crate::source::SourceReader,
    chain: &mut Chain,
    output: &mut Output,
    metrics: &TaskMetrics,
    ckp: &mut TaskCheckpointing,
    mut notified: u64,
) -> Result<()> {
    loop {
        if ckp.notify.changed().await.is_err() {
            return Err(RuntimeError::Cancelled);
        }
        let id = *ckp.notify.borrow_and_update();
        if id > notified {
            notified = id;
            reader.notify_checkpoint_complete(id).await?;
            let out = chain.notify_checkpoint_complete(id).await?;
            send_all(output, out, metrics).await?;
            let _ = ckp.reports.send(TaskReport::Notified { id });
        }
    }
}

/// Handles a completed-checkpoint notification in a source task, if one arrived.
async fn source_notifications(
    reader: &mut dyn crate::source::SourceReader,
    chain: &mut Chain,
    output: &mut Output,
    metrics: &TaskMetrics,
    ckp: &mut TaskCheckpointing,
    notified: &mut u64,
) -> Result<()> {
    if !ckp.notify.has_changed().unwrap_or(false) {
        return Ok(());
    }
    let id = *ckp.notify.borrow_and_update();
    if id > *notified {
        *notified = id;
        reader.notify_checkpoint_complete(id).await?;
        let out = chain.notify_checkpoint_complete(id).await?;
        send_all(output, out, metrics).await?;
        let _ = ckp.reports.send(TaskReport::Notified { id });
    }
    Ok(())
}

async fn run_source(
    spec: SourceSpec,
    mut reader: Box<dyn crate::source::SourceReader>,
    mut chain: Chain,
    mut output: Output,
    metrics: Arc<TaskMetrics>,
    mut ckp: TaskCheckpointing,
) -> Result<()> {
    ckp.restore(&mut chain).await?;
    let mut watermark = i64::MIN;
    let mut last_emitted = i64::MIN;
    if let Some(w) = ckp.restored_watermark.filter(|w| *w > i64::MIN) {
        // Records that were late before the failure must be late after it too.
        watermark = w;
        last_emitted = w;
        emit_source_watermark(&mut chain, &mut output, &metrics, w).await?;
    }
    let mut last_data = Instant::now();
    let mut idle = false;
    let mut splits = crate::source::SplitWatermarks::default();
    let wm_shape = spec
        .watermark_expr
        .as_ref()
        .and_then(|e| crate::time::ColumnMinusConstant::of(e, &spec.table_schema));
    let mut notified = *ckp.notify.borrow();
    let idle_timeout =
        (spec.idle_timeout_ms > 0).then(|| Duration::from_millis(spec.idle_timeout_ms));
    loop {
        source_notifications(
            reader.as_mut(),
            &mut chain,
            &mut output,
            &metrics,
            &mut ckp,
            &mut notified,
        )
        .await?;
        // Barriers go in between two batches: everything read before is in the checkpoint.
        let stop = inject_barriers(
            &spec,
            reader.as_mut(),
            &mut chain,
            &mut output,
            &metrics,
            &mut ckp,
            last_emitted,
        )
        .await?;
        if stop {
            return park_after_stop(
                reader.as_mut(),
                &mut chain,
                &mut output,
                &metrics,
                &mut ckp,
                notified,
            )
            .await;
        }
        let Some(raw) = reader.next_batch().await? else {
            break;
        };
        metrics
            .parse_errors_skipped
            .store(reader.skipped_records(), Ordering::Relaxed);
        if raw.num_rows() == 0 {
            // Per-split watermarks: a lagging split may have turned idle meanwhile.
            if spec.watermark_expr.is_some()
                && let Some(w) = reader
                    .last_batch_splits()
                    .and_then(|_| splits.combined(&reader.live_splits(), idle_timeout))
                && w > last_emitted
            {
                watermark = w;
                last_emitted = w;
                emit_source_watermark(&mut chain, &mut output, &metrics, w).await?;
            }
            if let Some(t) = idle_timeout
                && !idle
                && last_data.elapsed() >= t
            {
                idle = true;
                let out = chain.push(Message::Watermark(Watermark::Idle), 0).await?;
                send_all(&mut output, out, &metrics).await?;
            }
            continue;
        }
        last_data = Instant::now();
        idle = false;
        let full = full_row(&spec, &raw)?;
        if let Some(wm_expr) = &spec.watermark_expr {
            let millis = match &wm_shape {
                Some(shape) => shape.evaluate(&full)?,
                None => {
                    let values = wm_expr.evaluate(&full)?.into_array(full.num_rows())?;
                    crate::time::to_millis(&values, "the watermark expression")?
                }
            };
            match reader.last_batch_splits() {
                Some(rows) if rows.len() == millis.len() => {
                    splits.observe(&rows, millis.iter());
                    if let Some(w) = splits.combined(&reader.live_splits(), idle_timeout) {
                        watermark = watermark.max(w);
                    }
                }
                _ => {
                    if let Some(candidate) = max(&millis) {
                        watermark = watermark.max(candidate);
                    }
                }
            }
        }
        let projected = match &spec.projection {
            Some(p) => full.project(p)?,
            None => full,
        };
        // Records read are counted at the source, before any chained operator filters them.
        metrics.add_in(projected.num_rows());
        let out = chain
            // helper/sql: a changelog source's row kinds ride along (StreamBatch::read).
            .push(Message::Data(StreamBatch::read(&spec, &raw, projected)?), 0)
            .await?;
        send_all(&mut output, out, &metrics).await?;
        if spec.watermark_expr.is_some() && watermark > last_emitted {
            last_emitted = watermark;
            emit_source_watermark(&mut chain, &mut output, &metrics, watermark).await?;
        }
        if spec.batch_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(spec.batch_delay_ms)).await;
        }
    }
    // Barriers triggered before the end of input are still injected, so that the checkpoints
    // they belong to can complete; a stop-with-savepoint still stops here, before the end of
    // input is signalled (which would fire windows the savepoint holds open).
    let stop = inject_barriers(
        &spec,
        reader.as_mut(),
        &mut chain,
        &mut output,
        &metrics,
        &mut ckp,
        last_emitted,
    )
    .await?;
    if stop {
        return park_after_stop(
            reader.as_mut(),
            &mut chain,
            &mut output,
            &metrics,
            &mut ckp,
            notified,
        )
        .await;
    }
    let final_position = reader.snapshot_positions().map(|p| (Some(i64::MAX), p));
    metrics
        .parse_errors_skipped
        .store(reader.skipped_records(), Ordering::Relaxed);
    metrics.watermark.store(i64::MAX, Ordering::Relaxed);
    let out = chain.push(Message::Watermark(Watermark::MAX), 0).await?;
    send_all(&mut output, out, &metrics).await?;
    let out = chain.finish().await?;
    send_all(&mut output, out, &metrics).await?;
    output.send(Message::EndOfStream).await?;
    // After the end-of-stream went out: downstream has everything this subtask produced.
    finished(
        &mut chain,
        &mut output,
        &metrics,
        &mut ckp,
        final_position,
        Some(reader.as_mut()),
    )
    .await
}

/// The table's full row (physical, computed and metadata columns) from a reader batch.
fn full_row(spec: &SourceSpec, raw: &RecordBatch) -> Result<RecordBatch> {
    let columns = spec
        .row_exprs
        .iter()
        .map(|e| e.evaluate(raw).and_then(|v| v.into_array(raw.num_rows())))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let columns = columns
        .into_iter()
        .zip(spec.table_schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c)
            } else {
                cast(&c, f.data_type()).map_err(RuntimeError::from)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(&spec.table_schema),
        columns,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(raw.num_rows())),
    )?)
}
