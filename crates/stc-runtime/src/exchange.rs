//! Where record batches cross threads: partitioning on the producer side ([`Output`]) and
//! watermark-combining input on the consumer side ([`InputGate`]).

use std::sync::Arc;
use std::task::Poll;

use datafusion::arrow::array::{Array, ArrayRef, Int8Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{take, take_record_batch};
use datafusion::common::hash_utils::{RandomState, create_hashes};
use tokio::sync::mpsc::{Receiver, Sender};

use crate::error::{Result, RuntimeError};
use crate::graph::Partitioning;
use crate::message::{Message, StreamBatch, Watermark};

/// Hashing must give the same key group in every process (restores and rescales rely on
/// it), so the state is DataFusion's fixed-seed hasher with a seed of our own. A DataFusion
/// upgrade that changes `create_hashes` changes key groups: savepoints record the engine
/// version for that reason.
fn hash_state() -> RandomState {
    RandomState::with_seed(0x5354_4321_4b47_0001)
}

/// The key group of a hash, and the subtask that owns it (Flink's
/// `KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup`).
pub fn key_group(hash: u64, max_parallelism: usize) -> usize {
    (hash % max_parallelism as u64) as usize
}

pub fn subtask_for_key_group(
    key_group: usize,
    max_parallelism: usize,
    parallelism: usize,
) -> usize {
    key_group * parallelism / max_parallelism
}

/// Computes the key group of every row of `batch` for the given key expressions.
pub fn key_groups(
    keys: &[Arc<dyn datafusion::physical_expr::PhysicalExpr>],
    batch: &RecordBatch,
    max_parallelism: usize,
) -> Result<Vec<usize>> {
    let arrays: Vec<ArrayRef> = keys
        .iter()
        .map(|k| {
            k.evaluate(batch)
                .and_then(|v| v.into_array(batch.num_rows()))
        })
        .collect::<datafusion::error::Result<_>>()?;
    if arrays.is_empty() {
        return Ok(vec![0; batch.num_rows()]);
    }
    key_groups_of(&arrays, max_parallelism)
}

/// The key group of every row of already evaluated key columns.
pub fn key_groups_of(arrays: &[ArrayRef], max_parallelism: usize) -> Result<Vec<usize>> {
    let rows = arrays.first().map_or(0, |a| a.len());
    let mut hashes = vec![0u64; rows];
    create_hashes(arrays, &hash_state(), &mut hashes)?;
    Ok(hashes
        .into_iter()
        .map(|h| key_group(h, max_parallelism))
        .collect())
}

/// One outgoing edge of a subtask.
pub struct OutEdge {
    pub partitioning: Partitioning,
    /// One sender per consumer subtask (for `Forward`: only the one to the same index).
    pub senders: Vec<Sender<Message>>,
    /// This producer's subtask index (where its round-robin starts).
    pub subtask: usize,
    pub max_parallelism: usize,
    next_rr: usize,
}

impl OutEdge {
    pub fn new(
        partitioning: Partitioning,
        senders: Vec<Sender<Message>>,
        subtask: usize,
        max_parallelism: usize,
    ) -> Self {
        OutEdge {
            partitioning,
            senders,
            subtask,
            max_parallelism,
            next_rr: subtask,
        }
    }

    async fn send_to(&self, target: usize, msg: Message) -> Result<()> {
        self.senders[target]
            .send(msg)
            .await
            .map_err(|_| RuntimeError::Cancelled)
    }

    async fn broadcast(&self, msg: &Message) -> Result<()> {
        for s in &self.senders {
            s.send(msg.clone())
                .await
                .map_err(|_| RuntimeError::Cancelled)?;
        }
        Ok(())
    }

    async fn send(&mut self, msg: Message) -> Result<()> {
        let batch = match msg {
            Message::Data(b) => b,
            other => return self.broadcast(&other).await,
        };
        let n = self.senders.len();
        match &self.partitioning {
            // A forward edge has exactly one sender: to the subtask of the same index.
            Partitioning::Forward => self.send_to(0, Message::Data(batch)).await,
            Partitioning::Single => self.send_to(0, Message::Data(batch)).await,
            Partitioning::Rebalance => {
                let target = self.next_rr % n;
                self.next_rr = self.next_rr.wrapping_add(1);
                self.send_to(target, Message::Data(batch)).await
            }
            Partitioning::Hash(keys) => {
                if n == 1 {
                    return self.send_to(0, Message::Data(batch)).await;
                }
                let groups = key_groups(keys, &batch.batch, self.max_parallelism)?;
                let mut per_target: Vec<Vec<u32>> = vec![Vec::new(); n];
                for (row, kg) in groups.into_iter().enumerate() {
                    per_target[subtask_for_key_group(kg, self.max_parallelism, n)].push(row as u32);
                }
                for (target, rows) in per_target.into_iter().enumerate() {
                    if rows.is_empty() {
                        continue;
                    }
                    let part = if rows.len() == batch.num_rows() {
                        batch.clone()
                    } else {
                        take_rows(&batch, rows)?
                    };
                    self.send_to(target, Message::Data(part)).await?;
                }
                Ok(())
            }
        }
    }
}

/// The rows `rows` of `batch`, kinds included.
pub fn take_rows(batch: &StreamBatch, rows: Vec<u32>) -> Result<StreamBatch> {
    let idx = UInt32Array::from(rows);
    let data = take_record_batch(&batch.batch, &idx)?;
    let kinds = match &batch.kinds {
        None => None,
        Some(k) => {
            let t = take(k.as_ref(), &idx, None)?;
            Some(Arc::new(
                t.as_any()
                    .downcast_ref::<Int8Array>()
                    .expect("take of Int8Array is Int8Array")
                    .clone(),
            ))
        }
    };
    Ok(StreamBatch { batch: data, kinds })
}

/// All outgoing edges of a subtask.
#[derive(Default)]
pub struct Output {
    pub edges: Vec<OutEdge>,
}

impl Output {
    pub async fn send(&mut self, msg: Message) -> Result<()> {
        for edge in &mut self.edges {
            edge.send(msg.clone()).await?;
        }
        Ok(())
    }
}

/// What the input gate delivers to a task.
#[derive(Debug)]
pub enum GateEvent {
    /// A batch and the input ([`crate::graph::EdgeSpec::input`]) it arrived on.
    Data(usize, StreamBatch),
    /// The combined watermark advanced (or every input became idle).
    Watermark(Watermark),
    /// A checkpoint barrier arrived on every unfinished input (aligned).
    Barrier(crate::checkpoint::Barrier),
}

struct InputState {
    rx: Receiver<Message>,
    /// The logical input of the operator this channel feeds.
    side: usize,
    watermark: i64,
    idle: bool,
    finished: bool,
    /// A barrier arrived here and others are still missing: not read until aligned.
    blocked: Option<crate::checkpoint::Barrier>,
}

/// Merges a subtask's input channels, combining their watermarks as Flink does: the minimum
/// over inputs that are neither idle nor finished.
pub struct InputGate {
    inputs: Vec<InputState>,
    next_poll: usize,
    emitted: Option<i64>,
    emitted_idle: bool,
    /// An input finished while a barrier was being aligned: the watermark it released is
    /// delivered right after the barrier.
    pending_after_barrier: bool,
    /// When the first barrier of the alignment in progress arrived.
    align_started: Option<std::time::Instant>,
    /// How long the last completed alignment took.
    last_alignment: std::time::Duration,
}

impl InputGate {
    pub fn new(receivers: Vec<Receiver<Message>>) -> Self {
        Self::with_inputs(receivers.into_iter().map(|rx| (0, rx)).collect())
    }

    /// A gate over channels tagged with the logical input they feed.
    pub fn with_inputs(receivers: Vec<(usize, Receiver<Message>)>) -> Self {
        InputGate {
            inputs: receivers
                .into_iter()
                .map(|(side, rx)| InputState {
                    rx,
                    side,
                    watermark: i64::MIN,
                    idle: false,
                    finished: false,
                    blocked: None,
                })
                .collect(),
            next_poll: 0,
            emitted: None,
            emitted_idle: false,
            pending_after_barrier: false,
            align_started: None,
            last_alignment: std::time::Duration::ZERO,
        }
    }

    /// The next event, or `None` once every input has ended.
    pub async fn next(&mut self) -> Option<GateEvent> {
        if std::mem::take(&mut self.pending_after_barrier)
            && let Some(ev) = self.combined()
        {
            return Some(ev);
        }
        loop {
            if self.inputs.iter().all(|i| i.finished) {
                return None;
            }
            let (idx, msg) = self.recv_any().await;
            let input = &mut self.inputs[idx];
            match msg {
                Some(Message::Data(b)) => {
                    input.idle = false;
                    return Some(GateEvent::Data(input.side, b));
                }
                Some(Message::Watermark(Watermark::EventTime(t))) => {
                    input.idle = false;
                    input.watermark = input.watermark.max(t);
                }
                Some(Message::Watermark(Watermark::Idle)) => input.idle = true,
                Some(Message::Barrier(b)) => {
                    input.blocked = Some(b);
                    self.align_started
                        .get_or_insert_with(std::time::Instant::now);
                    if let Some(b) = self.aligned() {
                        return Some(GateEvent::Barrier(b));
                    }
                    continue;
                }
                Some(Message::EndOfStream) | None => {
                    input.finished = true;
                    input.watermark = i64::MAX;
                    // A finished input has nothing more to align: it may complete a
                    // pending alignment.
                    if let Some(b) = self.aligned() {
                        self.pending_after_barrier = true;
                        return Some(GateEvent::Barrier(b));
                    }
                }
            }
            if let Some(ev) = self.combined() {
                return Some(ev);
            }
        }
    }

    /// If every unfinished input is blocked on a barrier, unblocks them and returns it.
    fn aligned(&mut self) -> Option<crate::checkpoint::Barrier> {
        let barrier = self.inputs.iter().find_map(|i| i.blocked)?;
        if self
            .inputs
            .iter()
            .any(|i| !i.finished && i.blocked.is_none())
        {
            return None;
        }
        for i in &mut self.inputs {
            i.blocked = None;
        }
        self.last_alignment = self
            .align_started
            .take()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        Some(barrier)
    }

    /// How long the barrier just returned waited for alignment.
    pub fn take_alignment(&mut self) -> std::time::Duration {
        std::mem::take(&mut self.last_alignment)
    }

    fn combined(&mut self) -> Option<GateEvent> {
        let active = self.inputs.iter().filter(|i| !i.idle && !i.finished);
        let min = active.map(|i| i.watermark).min();
        match min {
            None => {
                if self.inputs.iter().all(|i| i.finished) {
                    // Every input finished: they all sent MAX (or closed), fire everything.
                    if self.emitted != Some(i64::MAX) {
                        self.emitted = Some(i64::MAX);
                        return Some(GateEvent::Watermark(Watermark::MAX));
                    }
                    None
                } else if !self.emitted_idle {
                    self.emitted_idle = true;
                    Some(GateEvent::Watermark(Watermark::Idle))
                } else {
                    None
                }
            }
            Some(m) => {
                self.emitted_idle = false;
                if m > i64::MIN && self.emitted.is_none_or(|e| m > e) {
                    self.emitted = Some(m);
                    Some(GateEvent::Watermark(Watermark::EventTime(m)))
                } else {
                    None
                }
            }
        }
    }

    /// Receives from whichever unfinished input is ready, starting the scan at a rotating
    /// position so that no input starves.
    async fn recv_any(&mut self) -> (usize, Option<Message>) {
        let n = self.inputs.len();
        let start = self.next_poll;
        self.next_poll = (self.next_poll + 1) % n.max(1);
        std::future::poll_fn(|cx| {
            for k in 0..n {
                let i = (start + k) % n;
                let input = &mut self.inputs[i];
                if input.finished || input.blocked.is_some() {
                    continue;
                }
                if let Poll::Ready(m) = input.rx.poll_recv(cx) {
                    return Poll::Ready((i, m));
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::channel;

    #[tokio::test]
    async fn watermark_is_min_over_active_inputs_and_idle_inputs_are_excluded() {
        let (tx1, rx1) = channel(8);
        let (tx2, rx2) = channel(8);
        let mut gate = InputGate::new(vec![rx1, rx2]);
        tx1.send(Message::Watermark(Watermark::EventTime(10)))
            .await
            .unwrap();
        tx2.send(Message::Watermark(Watermark::EventTime(5)))
            .await
            .unwrap();
        // First watermark alone cannot advance: input 2 is still at MIN.
        match gate.next().await.unwrap() {
            GateEvent::Watermark(Watermark::EventTime(5)) => {}
            other => panic!("expected watermark 5, got {other:?}"),
        }
        tx2.send(Message::Watermark(Watermark::Idle)).await.unwrap();
        match gate.next().await.unwrap() {
            GateEvent::Watermark(Watermark::EventTime(10)) => {}
            other => panic!("idle input must not hold back the watermark, got {other:?}"),
        }
        tx1.send(Message::EndOfStream).await.unwrap();
        // Input 1 finished, input 2 idle: no active input.
        match gate.next().await.unwrap() {
            GateEvent::Watermark(Watermark::Idle) => {}
            other => panic!("expected idle, got {other:?}"),
        }
        tx2.send(Message::EndOfStream).await.unwrap();
        match gate.next().await.unwrap() {
            GateEvent::Watermark(Watermark::EventTime(i64::MAX)) => {}
            other => panic!("expected final watermark, got {other:?}"),
        }
        assert!(gate.next().await.is_none());
    }

    fn barrier(id: u64) -> crate::checkpoint::Barrier {
        crate::checkpoint::Barrier {
            id,
            timestamp_ms: 0,
            kind: crate::checkpoint::BarrierKind::Checkpoint,
            increment: Default::default(),
        }
    }

    fn batch(v: i64) -> Message {
        use datafusion::arrow::array::Int64Array;
        let b =
            RecordBatch::try_from_iter([("v", Arc::new(Int64Array::from(vec![v])) as ArrayRef)])
                .unwrap();
        Message::Data(StreamBatch::inserts(b))
    }

    #[tokio::test]
    async fn barriers_are_aligned_and_a_blocked_input_is_not_read() {
        let (tx1, rx1) = channel(8);
        let (tx2, rx2) = channel(8);
        let mut gate = InputGate::new(vec![rx1, rx2]);
        tx1.send(Message::Barrier(barrier(1))).await.unwrap();
        // Data behind the barrier on input 1 belongs to the next checkpoint.
        tx1.send(batch(2)).await.unwrap();
        tx2.send(batch(1)).await.unwrap();
        match gate.next().await.unwrap() {
            GateEvent::Data(_, b) => assert_eq!(b.num_rows(), 1),
            other => panic!("expected input 2's pre-barrier data, got {other:?}"),
        }
        tx2.send(Message::Barrier(barrier(1))).await.unwrap();
        match gate.next().await.unwrap() {
            GateEvent::Barrier(b) => assert_eq!(b.id, 1),
            other => panic!("expected the aligned barrier, got {other:?}"),
        }
        match gate.next().await.unwrap() {
            GateEvent::Data(..) => {}
            other => panic!("expected input 1's post-barrier data, got {other:?}"),
        }
        // An input that ends completes an alignment.
        tx1.send(Message::Barrier(barrier(2))).await.unwrap();
        tx2.send(Message::EndOfStream).await.unwrap();
        match gate.next().await.unwrap() {
            GateEvent::Barrier(b) => assert_eq!(b.id, 2),
            other => panic!("expected barrier 2, got {other:?}"),
        }
    }

    #[test]
    fn key_groups_map_to_subtasks_like_flink() {
        // Flink: operatorIndex = keyGroup * parallelism / maxParallelism.
        assert_eq!(subtask_for_key_group(0, 128, 4), 0);
        assert_eq!(subtask_for_key_group(31, 128, 4), 0);
        assert_eq!(subtask_for_key_group(32, 128, 4), 1);
        assert_eq!(subtask_for_key_group(127, 128, 4), 3);
        assert_eq!(subtask_for_key_group(127, 128, 3), 2);
    }
}
