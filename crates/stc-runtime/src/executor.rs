//! Runs a [`JobGraph`]: one tokio task per subtask, bounded channels between them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::Array;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::aggregate::max;
use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::task::JoinSet;
use tracing::debug;

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

/// A job whose subtasks are running.
pub struct RunningJob {
    pub metrics: Arc<JobMetrics>,
    pub started: Instant,
    tasks: JoinSet<(String, Result<()>)>,
}

impl RunningJob {
    /// Waits until every subtask has finished. On the first failure the other subtasks are
    /// cancelled and that failure is returned.
    pub async fn wait(mut self) -> Result<()> {
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
}

/// Starts every subtask of `graph` on the current tokio runtime.
pub fn spawn_job(graph: JobGraph) -> Result<RunningJob> {
    let metrics = Arc::new(JobMetrics::default());
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
                ctxs.push(OperatorContext::new(subtask, p, Arc::clone(&m)));
            }
            let chain = Chain { ops, ctxs };
            let name = format!("{} ({}/{})", node.name, subtask + 1, p);
            match &node.source {
                Some(spec) => {
                    let reader = spec.factory.create_reader(subtask, p)?;
                    let spec = spec.clone();
                    tasks.spawn(
                        async move { (name, run_source(spec, reader, chain, output, m).await) },
                    );
                }
                None => {
                    let gate = InputGate::with_inputs(inputs);
                    tasks.spawn(async move { (name, run_chain(gate, chain, output, m).await) });
                }
            }
        }
    }
    Ok(RunningJob {
        metrics,
        started: Instant::now(),
        tasks,
    })
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
) -> Result<()> {
    let mut final_watermark_seen = false;
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
        let ev = match timer {
            None => gate.next().await,
            Some(t) => {
                let wait = Duration::from_millis((t - crate::time::now_ms()).max(0) as u64 + 1);
                // `InputGate::next` is cancel-safe: a message is only taken when it is returned.
                tokio::select! {
                    ev = gate.next() => ev,
                    _ = tokio::time::sleep(wait) => continue,
                }
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
                    metrics
                        .watermark
                        .store(t, std::sync::atomic::Ordering::Relaxed);
                    final_watermark_seen |= t == i64::MAX;
                }
                chain.push(Message::Watermark(w), 0).await?
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
    output.send(Message::EndOfStream).await
}

async fn run_source(
    spec: SourceSpec,
    mut reader: Box<dyn crate::source::SourceReader>,
    mut chain: Chain,
    mut output: Output,
    metrics: Arc<TaskMetrics>,
) -> Result<()> {
    let mut watermark = i64::MIN;
    let mut last_emitted = i64::MIN;
    let mut last_data = Instant::now();
    let mut idle = false;
    let idle_timeout =
        (spec.idle_timeout_ms > 0).then(|| Duration::from_millis(spec.idle_timeout_ms));
    while let Some(raw) = reader.next_batch().await? {
        metrics.parse_errors_skipped.store(
            reader.skipped_records(),
            std::sync::atomic::Ordering::Relaxed,
        );
        if raw.num_rows() == 0 {
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
            let values = wm_expr.evaluate(&full)?.into_array(full.num_rows())?;
            if let Some(candidate) = max(&crate::time::to_millis(
                &values,
                "the watermark expression",
            )?) {
                watermark = watermark.max(candidate);
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
            metrics
                .watermark
                .store(watermark, std::sync::atomic::Ordering::Relaxed);
            let out = chain
                .push(Message::Watermark(Watermark::EventTime(watermark)), 0)
                .await?;
            send_all(&mut output, out, &metrics).await?;
        }
    }
    metrics.parse_errors_skipped.store(
        reader.skipped_records(),
        std::sync::atomic::Ordering::Relaxed,
    );
    metrics
        .watermark
        .store(i64::MAX, std::sync::atomic::Ordering::Relaxed);
    let out = chain.push(Message::Watermark(Watermark::MAX), 0).await?;
    send_all(&mut output, out, &metrics).await?;
    let out = chain.finish().await?;
    send_all(&mut output, out, &metrics).await?;
    output.send(Message::EndOfStream).await
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
