//! The operator trait: lifecycle hooks with defaults.
//!
//! An operator is driven by its subtask's task, one call at a time (no internal locking
//! needed). It receives batches and watermarks and emits messages through the
//! [`OperatorContext`]. Operators in one chain run in the same task: the output of one is the
//! input of the next, with no channel in between.

use std::sync::Arc;

use async_trait::async_trait;

use crate::checkpoint::{Barrier, OperatorState, StateSnapshot};
use crate::error::Result;
use crate::message::{Message, StreamBatch, Watermark};
use crate::metrics::TaskMetrics;

/// Where an operator sends its output, plus what it may know about its subtask.
pub struct OperatorContext {
    pub subtask: usize,
    pub parallelism: usize,
    /// Number of key groups (Flink's max parallelism); keyed state is snapshotted by it.
    pub max_parallelism: usize,
    /// Whether the job takes checkpoints. Sinks then publish output only when a checkpoint
    /// covering it completes — at the end of input too (the job's final checkpoint).
    pub checkpointing: bool,
    pub metrics: Arc<TaskMetrics>,
    /// The current combined input watermark of this subtask (epoch ms).
    pub current_watermark: i64,
    out: Vec<Message>,
}

impl OperatorContext {
    pub fn new(subtask: usize, parallelism: usize, metrics: Arc<TaskMetrics>) -> Self {
        OperatorContext {
            subtask,
            parallelism,
            max_parallelism: stc_common::config::DEFAULT_MAX_PARALLELISM,
            checkpointing: false,
            metrics,
            current_watermark: i64::MIN,
            out: Vec::new(),
        }
    }

    /// Emits a batch downstream (empty batches are dropped here, once, for every operator).
    pub fn emit(&mut self, batch: StreamBatch) {
        if batch.num_rows() > 0 {
            self.out.push(Message::Data(batch));
        }
    }

    pub fn emit_watermark(&mut self, wm: Watermark) {
        self.out.push(Message::Watermark(wm));
    }

    pub(crate) fn take_output(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.out)
    }
}

/// A streaming operator.
///
/// Contract:
/// * `process_batch` may emit zero or more batches; it must not block on I/O for long (use a
///   connector's own task for that).
/// * `process_watermark` is called with a watermark strictly greater than the previous one.
///   The default forwards it; an operator that holds rows back (windows) must first emit
///   every result the watermark completes, *then* forward the watermark, so that downstream
///   never sees a watermark before the rows it covers.
/// * `finish` is called once, after the last input has ended and after the final
///   watermark (`i64::MAX`) has been processed; sinks flush and commit here.
#[async_trait]
pub trait Operator: Send {
    fn name(&self) -> &str;

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()>;

    /// A batch on input `input` of a two-input operator (0 = left, 1 = right). Only the
    /// first operator of a chain can have several inputs; the default ignores the side.
    async fn process_batch_from(
        &mut self,
        input: usize,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> Result<()> {
        let _ = input;
        self.process_batch(batch, ctx).await
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        ctx.emit_watermark(wm);
        Ok(())
    }

    async fn finish(&mut self, _ctx: &mut OperatorContext) -> Result<()> {
        Ok(())
    }

    /// The wall-clock time (epoch milliseconds) at which this operator wants
    /// [`on_processing_time`](Operator::on_processing_time) to be called, if any: processing-time
    /// windows ask for their earliest window end. Asked again after every call into the
    /// operator. Only honoured for operators after an exchange (not in a source's chain).
    fn next_timer(&self) -> Option<i64> {
        None
    }

    /// Snapshots the operator's state at `barrier`: everything received before the barrier is
    /// in it. The operator may emit output first (a lookup join drains its in-flight
    /// lookups); it goes downstream before the barrier. Stateless operators keep the default.
    async fn snapshot_state(
        &mut self,
        _barrier: &Barrier,
        _ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        Ok(None)
    }

    /// What the runtime calls at a barrier: [`snapshot_state`](Operator::snapshot_state)'s
    /// tables by default. An operator with large state overrides it to return a
    /// [`StateSnapshot::Deferred`] conversion of a frozen view of its state, which the
    /// checkpoint writer runs off the data path; it then must not let later processing change
    /// what that view sees (copy on write).
    async fn snapshot(
        &mut self,
        barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<StateSnapshot>> {
        Ok(self
            .snapshot_state(barrier, ctx)
            .await?
            .map(StateSnapshot::Ready))
    }

    /// Restores state written by [`snapshot_state`](Operator::snapshot_state) of this operator
    /// (possibly at another parallelism: `keyed` holds exactly the key groups this subtask
    /// owns). Called once, after `create` and before any input.
    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        if state.is_empty() {
            return Ok(());
        }
        Err(crate::RuntimeError::Internal(format!(
            "operator {} has no state to restore, but the checkpoint holds some",
            self.name()
        )))
    }

    /// Checkpoint `id` is complete (durable everywhere). Sinks publish what it covers here.
    async fn notify_checkpoint_complete(
        &mut self,
        _id: u64,
        _ctx: &mut OperatorContext,
    ) -> Result<()> {
        Ok(())
    }

    /// Called once the wall clock has reached [`next_timer`](Operator::next_timer), with the
    /// current time (epoch milliseconds).
    async fn on_processing_time(&mut self, _now: i64, _ctx: &mut OperatorContext) -> Result<()> {
        Ok(())
    }
}

/// Creates an operator instance per subtask.
pub trait OperatorFactory: Send + Sync {
    fn name(&self) -> String;
    fn create(&self, subtask: usize, parallelism: usize) -> Result<Box<dyn Operator>>;
    /// Whether this operator is a sink (its input counts as records written).
    fn is_sink(&self) -> bool {
        false
    }
}

/// Runs a message through a chain of operators, returning what the last one emitted.
pub(crate) struct Chain {
    pub ops: Vec<Box<dyn Operator>>,
    pub ctxs: Vec<OperatorContext>,
}

impl Chain {
    /// Feeds `msg`, received on input `input` of the node, to the head of the chain.
    pub async fn push_input(&mut self, input: usize, msg: Message) -> Result<Vec<Message>> {
        self.push_from(msg, 0, input).await
    }

    /// Feeds `msg` to operator `start` and everything it produces down the chain.
    pub async fn push(&mut self, msg: Message, start: usize) -> Result<Vec<Message>> {
        self.push_from(msg, start, 0).await
    }

    async fn push_from(
        &mut self,
        msg: Message,
        start: usize,
        input: usize,
    ) -> Result<Vec<Message>> {
        let mut pending = vec![msg];
        for i in start..self.ops.len() {
            let mut next = Vec::new();
            for m in pending {
                let (op, ctx) = (&mut self.ops[i], &mut self.ctxs[i]);
                match m {
                    Message::Data(b) if i == start => op.process_batch_from(input, b, ctx).await?,
                    Message::Data(b) => op.process_batch(b, ctx).await?,
                    Message::Watermark(w) => {
                        if let Watermark::EventTime(t) = w {
                            ctx.current_watermark = t;
                        }
                        op.process_watermark(w, ctx).await?
                    }
                    Message::EndOfStream => op.finish(ctx).await?,
                    // Barriers are handled by the task (alignment, snapshots), never pushed.
                    Message::Barrier(b) => {
                        return Err(crate::RuntimeError::Internal(format!(
                            "barrier {} pushed into a chain",
                            b.id
                        )));
                    }
                }
                next.extend(ctx.take_output());
            }
            pending = next;
        }
        Ok(pending)
    }

    /// The earliest processing-time timer of any operator of the chain.
    pub fn next_timer(&self) -> Option<i64> {
        self.ops.iter().filter_map(|o| o.next_timer()).min()
    }

    /// Calls every operator whose timer is due at `now`; what they emit flows down the rest of
    /// the chain.
    pub async fn fire_timers(&mut self, now: i64) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        for i in 0..self.ops.len() {
            if self.ops[i].next_timer().is_none_or(|t| t > now) {
                continue;
            }
            let (op, ctx) = (&mut self.ops[i], &mut self.ctxs[i]);
            op.on_processing_time(now, ctx).await?;
            for m in ctx.take_output() {
                if i + 1 < self.ops.len() {
                    out.extend(self.push(m, i + 1).await?);
                } else {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Snapshots every operator at `barrier`, in chain order; what an operator emits while
    /// snapshotting flows through the rest of the chain before the next one snapshots.
    /// Returns that output (to be sent before the barrier) and the states.
    /// An operator that cannot snapshot (a [`RuntimeError::Checkpoint`](crate::RuntimeError::Checkpoint))
    /// declines the checkpoint (third element) without failing the job.
    pub async fn checkpoint(
        &mut self,
        barrier: &Barrier,
    ) -> Result<(Vec<Message>, Vec<(usize, StateSnapshot)>, Option<String>)> {
        let mut out = Vec::new();
        let mut states = Vec::new();
        let mut declined = None;
        for i in 0..self.ops.len() {
            let (op, ctx) = (&mut self.ops[i], &mut self.ctxs[i]);
            match op.snapshot(barrier, ctx).await {
                Ok(Some(state)) => states.push((i, state)),
                Ok(None) => {}
                Err(crate::RuntimeError::Checkpoint(reason)) => {
                    declined.get_or_insert(reason);
                }
                Err(e) => return Err(e),
            }
            for m in ctx.take_output() {
                if i + 1 < self.ops.len() {
                    out.extend(self.push(m, i + 1).await?);
                } else {
                    out.push(m);
                }
            }
        }
        Ok((out, states, declined))
    }

    /// Restores the operators' states (before any input).
    pub async fn restore(&mut self, states: Vec<(usize, OperatorState)>) -> Result<()> {
        for (i, state) in states {
            let op = self.ops.get_mut(i).ok_or_else(|| {
                crate::RuntimeError::Internal(format!("no operator {i} to restore"))
            })?;
            op.restore_state(state).await?;
        }
        Ok(())
    }

    /// Tells every operator that checkpoint `id` is complete.
    pub async fn notify_checkpoint_complete(&mut self, id: u64) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        for i in 0..self.ops.len() {
            let (op, ctx) = (&mut self.ops[i], &mut self.ctxs[i]);
            op.notify_checkpoint_complete(id, ctx).await?;
            for m in ctx.take_output() {
                if i + 1 < self.ops.len() {
                    out.extend(self.push(m, i + 1).await?);
                } else {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// End of input: each operator in turn finishes, and what it emits flows through the
    /// rest of the chain before the next one finishes.
    pub async fn finish(&mut self) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        for i in 0..self.ops.len() {
            let (op, ctx) = (&mut self.ops[i], &mut self.ctxs[i]);
            op.finish(ctx).await?;
            let produced = ctx.take_output();
            for m in produced {
                if i + 1 < self.ops.len() {
                    out.extend(self.push(m, i + 1).await?);
                } else {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }
}
