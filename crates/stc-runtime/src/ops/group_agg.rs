//! Non-windowed `GROUP BY`: an updating aggregation (Flink's `GroupAggFunction`).
//!
//! State per key: one accumulator per aggregate call ([`GroupAcc`]: plain values for the
//! common aggregates, else DataFusion's
//! [`Accumulator`](datafusion::logical_expr::Accumulator)), the number of rows
//! accumulated, and the last emitted result. Each input row is applied in arrival order and
//! produces at most one change, as in Flink without mini-batch:
//!
//! * first row of a key → `+I(result)`;
//! * the result changed → `-U(previous)`, `+U(result)`; unchanged → nothing;
//! * the key's last row retracted → `-D(previous)` and the key's state is dropped.
//!
//! With mini-batch (`table.exec.mini-batch.enabled`, Flink's `MiniBatchGroupAggFunction`)
//! input rows are buffered until `table.exec.mini-batch.size` rows have arrived or
//! `allow-latency` has passed (or a checkpoint barrier or the end of input comes), and each
//! key then changes once per buffer: its rows are applied together (one `update_batch` per
//! run of additions, one `retract_batch` per run of retractions) and one change is emitted, so
//! a hot key costs one evaluation and one `-U/+U` pair per mini-batch instead of per row.
//! Leading retractions of a key without state are dropped, and a key whose count falls to
//! zero within the buffer emits `-D` of its last emitted result (nothing if it had none).
//!
//! Retractions (`-U`/`-D` input rows) are applied to the accumulators that retract: COUNT,
//! SUM, AVG and DataFusion's sliding accumulators; MIN/MAX and COUNT(DISTINCT) over an
//! updating input keep a value → count multiset (`group_acc`).
//!
//! With incremental checkpoints (`crate::checkpoint::incremental`) the keys changed since the
//! previous checkpoint are logged, and most snapshots hold only those groups: their state as
//! now, or a row count of 0 for a group that is gone. A restore applies the tables in order
//! (a chain's complete snapshot first, then each checkpoint's changes), so a later row of a
//! key replaces an earlier one, and a count of 0 removes the group.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::RowConverter;
use datafusion::common::ScalarValue;
use hashbrown::HashMap;
use stc_common::RowKind;

use crate::checkpoint::incremental::{ChangeLog, Plan};
use crate::checkpoint::{Barrier, KeyedPart, OperatorState};
use crate::error::{Result, RuntimeError};
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{ChangeBuilder, converter, to_rows};
use crate::ops::group_acc::{AccKind, GroupAcc, create_accumulator};
use crate::ops::state::{
    KG, i64_column, i64_values, key_group_array, single_table, state_column, state_columns,
    state_table,
};
use crate::ops::window::{AggregationSpec, OutputColumn};

/// The operator factory; see the module docs.
#[derive(Clone)]
pub struct GroupAggregate {
    pub name: String,
    /// Keys, aggregate calls, output layout (`Key`/`Aggregate` columns only).
    pub agg: AggregationSpec,
    /// Whether the input carries retractions (decides which accumulators are created).
    pub input_updating: bool,
    /// `table.exec.state.ttl` (0 = never expire).
    pub state_ttl_ms: u64,
    /// `table.exec.mini-batch.*`, when enabled.
    pub mini_batch: Option<MiniBatch>,
}

/// Flink's mini-batch settings (`table.exec.mini-batch.allow-latency` and `.size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MiniBatch {
    /// Longest time a row waits in the buffer, in milliseconds (> 0).
    pub allow_latency_ms: u64,
    /// Rows that close a buffer (> 0).
    pub size: usize,
}

impl GroupAggregate {
    /// Checks, at planning time, that every aggregate can run on this input (an updating
    /// input needs retractable accumulators). The error names the call.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(out) = self
            .agg
            .output
            .iter()
            .find(|o| !matches!(o, OutputColumn::Key(_) | OutputColumn::Aggregate(_)))
        {
            return Err(format!(
                "window column {out:?} in a non-windowed aggregation"
            ));
        }
        for a in &self.agg.aggregates {
            create_accumulator(a, self.input_updating).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl OperatorFactory for GroupAggregate {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        let key_conv = converter(
            self.agg
                .key_schema
                .fields()
                .iter()
                .map(|f| f.data_type().clone()),
        )?;
        let kinds: Vec<AccKind> = self
            .agg
            .aggregates
            .iter()
            .map(|a| AccKind::of(a, self.input_updating))
            .collect();
        Ok(Box::new(GroupAggregateOp {
            spec: self.clone(),
            key_conv,
            groups: HashMap::new(),
            last_sweep: Instant::now(),
            buffer: Vec::new(),
            buffered_rows: 0,
            flush_at: None,
            log: ChangeLog::default(),
            epoch: 1,
            state_types: None,
            state_keeps: self
                .agg
                .aggregates
                .iter()
                .zip(&kinds)
                .map(|(a, k)| k.state_keeps(a, self.input_updating))
                .collect(),
            kinds,
        }))
    }
}

struct GroupState {
    accs: Vec<GroupAcc>,
    rows: i64,
    prev: Option<Vec<ScalarValue>>,
    /// Last write, for `table.exec.state.ttl`.
    written: Instant,
    /// The epoch (see [`GroupAggregateOp::epoch`]) in which the key was last logged as
    /// changed.
    logged: u64,
}

struct GroupAggregateOp {
    spec: GroupAggregate,
    key_conv: RowConverter,
    /// Keyed by the key's bytes in Arrow's row format.
    groups: HashMap<Box<[u8]>, GroupState>,
    last_sweep: Instant,
    /// Per aggregate: its kind of accumulator, and [`AccKind::state_keeps`].
    kinds: Vec<AccKind>,
    state_keeps: Vec<bool>,
    /// Mini-batch: the rows waiting, their count, and when they must be applied (epoch ms).
    buffer: Vec<StreamBatch>,
    buffered_rows: usize,
    flush_at: Option<i64>,
    /// Keys changed since the last checkpoint (incremental checkpoints only), each logged
    /// once per epoch: the epoch moves on at every barrier.
    log: ChangeLog<Box<[u8]>>,
    epoch: u64,
    /// The data types of each accumulator's state values, once a group has shown them.
    state_types: Option<Vec<Vec<DataType>>>,
}

/// Logs `key` as changed, once per epoch (incremental checkpoints).
fn log_key(log: &mut ChangeLog<Box<[u8]>>, epoch: u64, key: &[u8], group: &mut GroupState) {
    if group.logged != epoch {
        group.logged = epoch;
        if log.recording() {
            log.push(key.into());
        }
    }
}

impl GroupAggregateOp {
    /// Without mini-batch: each row is applied on its own and makes at most one change.
    fn apply_per_row(&mut self, batch: &StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        let n = batch.num_rows();
        let keys = self.spec.agg.eval_keys(&batch.batch)?;
        let key_rows = to_rows(&self.key_conv, &keys)?;
        let args = self.spec.agg.eval_args(&batch.batch)?;
        let mut out = self.builder();
        let (ttl, now) = self.sweep_expired();
        for i in 0..n {
            let kind = batch.kind(i);
            let accumulate = kind.is_addition();
            // A global aggregation (no GROUP BY keys) has one group: the empty key, and no
            // key columns in its output.
            let key_row = (!keys.is_empty()).then(|| key_rows.row(i));
            let key: &[u8] = key_row.as_ref().map_or(&[], |r| r.as_ref());
            let key_part = key_row.as_slice();
            self.drop_if_expired(key, ttl, now);
            let state = match self.groups.get_mut(key) {
                Some(s) => s,
                None => {
                    if !accumulate {
                        // Flink: a retraction for a key without state (e.g. expired) is ignored.
                        continue;
                    }
                    let accs = new_accumulators(&self.spec, &self.kinds)?;
                    self.groups.entry(key.into()).or_insert(GroupState {
                        accs,
                        rows: 0,
                        prev: None,
                        written: now,
                        logged: 0,
                    })
                }
            };
            for (acc, (values, filter)) in state.accs.iter_mut().zip(&args) {
                if filter.as_ref().is_some_and(|f| !passes(f, i)) {
                    continue;
                }
                acc.update_row(values, i, accumulate)?;
            }
            state.rows += if accumulate { 1 } else { -1 };
            state.written = now;
            log_key(&mut self.log, self.epoch, key, state);
            if emit_change(state, key_part, &mut out, ttl.is_some())? {
                self.groups.remove(key);
            }
        }
        self.emit(out, ctx)
    }

    /// `table.exec.state.ttl` and the time now; drops the groups not written for a TTL (at
    /// most once per TTL period). Expired groups go silently, as in Flink: no retraction.
    fn sweep_expired(&mut self) -> (Option<Duration>, Instant) {
        let ttl =
            (self.spec.state_ttl_ms > 0).then(|| Duration::from_millis(self.spec.state_ttl_ms));
        let now = Instant::now();
        if let Some(ttl) = ttl
            && now.duration_since(self.last_sweep) >= ttl
        {
            let log = &mut self.log;
            self.groups.retain(|k, g| {
                let keep = now.duration_since(g.written) < ttl;
                if !keep && log.recording() {
                    log.push(k.clone());
                }
                keep
            });
            self.last_sweep = now;
        }
        (ttl, now)
    }

    /// Drops the group of `key` if it was not written for the TTL.
    fn drop_if_expired(&mut self, key: &[u8], ttl: Option<Duration>, now: Instant) {
        if let Some(ttl) = ttl
            && self
                .groups
                .get(key)
                .is_some_and(|g| now.duration_since(g.written) >= ttl)
        {
            self.groups.remove(key);
            if self.log.recording() {
                self.log.push(key.into());
            }
        }
    }

    fn emit(&self, mut out: ChangeBuilder, ctx: &mut OperatorContext) -> Result<()> {
        if let Some(b) = out.take(&self.converters())? {
            ctx.emit(b);
        }
        Ok(())
    }

    /// Applies the buffered rows as one mini-batch (see the module docs).
    fn flush(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.flush_at = None;
        self.buffered_rows = 0;
        let buffered = std::mem::take(&mut self.buffer);
        if buffered.is_empty() {
            return Ok(());
        }
        let batch = StreamBatch::concat(&buffered)?;
        let n = batch.num_rows();
        let keys = self.spec.agg.eval_keys(&batch.batch)?;
        let key_rows = to_rows(&self.key_conv, &keys)?;
        let args = self.spec.agg.eval_args(&batch.batch)?;
        let global = keys.is_empty();
        // The rows of each key, keys in order of first arrival.
        let mut slot_of: HashMap<&[u8], usize> = HashMap::new();
        let mut rows_of: Vec<Vec<u32>> = Vec::new();
        for i in 0..n {
            let key: &[u8] = if global { &[] } else { key_rows.row(i).data() };
            let slot = *slot_of.entry(key).or_insert_with(|| {
                rows_of.push(Vec::new());
                rows_of.len() - 1
            });
            rows_of[slot].push(i as u32);
        }
        let mut out = self.builder();
        let (ttl, now) = self.sweep_expired();
        for rows in rows_of {
            let first = rows[0] as usize;
            let key_row = (!global).then(|| key_rows.row(first));
            let key: &[u8] = key_row.as_ref().map_or(&[], |r| r.as_ref());
            let key_part = key_row.as_slice();
            self.drop_if_expired(key, ttl, now);
            let mut rows = &rows[..];
            if !self.groups.contains_key(key) {
                // No state: retractions before the key's first addition are dropped (Flink
                // creates no accumulators for them).
                let skip = rows
                    .iter()
                    .take_while(|&&r| !batch.kind(r as usize).is_addition())
                    .count();
                rows = &rows[skip..];
                if rows.is_empty() {
                    continue;
                }
                let accs = new_accumulators(&self.spec, &self.kinds)?;
                self.groups.insert(
                    key.into(),
                    GroupState {
                        accs,
                        rows: 0,
                        prev: None,
                        written: now,
                        logged: 0,
                    },
                );
            }
            let state = self
                .groups
                .get_mut(key)
                .ok_or_else(|| RuntimeError::Internal("group state vanished".into()))?;
            // Runs of additions and of retractions, in arrival order.
            for run in rows.chunk_by(|a, b| {
                batch.kind(*a as usize).is_addition() == batch.kind(*b as usize).is_addition()
            }) {
                let accumulate = batch.kind(run[0] as usize).is_addition();
                for (acc, (values, filter)) in state.accs.iter_mut().zip(&args) {
                    let picked: Vec<u32>;
                    let rows = match filter {
                        Some(f) => {
                            picked = run
                                .iter()
                                .copied()
                                .filter(|&r| passes(f, r as usize))
                                .collect();
                            &picked[..]
                        }
                        None => run,
                    };
                    if !rows.is_empty() {
                        acc.update_rows(values, rows, accumulate)?;
                    }
                }
                let len = run.len() as i64;
                state.rows += if accumulate { len } else { -len };
            }
            state.written = now;
            log_key(&mut self.log, self.epoch, key, state);
            if emit_change(state, key_part, &mut out, ttl.is_some())? {
                self.groups.remove(key);
            }
        }
        self.emit(out, ctx)
    }

    fn builder(&self) -> ChangeBuilder {
        ChangeBuilder::new(
            Arc::clone(&self.spec.agg.schema),
            &self.converters(),
            self.spec.agg.aggregates.len(),
        )
    }

    /// The converter of the output's key columns; none for a global aggregation (no
    /// GROUP BY keys, no key columns in its output).
    fn converters(&self) -> Vec<&RowConverter> {
        if self.spec.agg.keys.is_empty() {
            Vec::new()
        } else {
            vec![&self.key_conv]
        }
    }

    fn evaluate(accs: &mut [GroupAcc]) -> Result<Vec<ScalarValue>> {
        accs.iter_mut().map(GroupAcc::evaluate).collect()
    }
}

#[async_trait]
impl Operator for GroupAggregateOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        let Some(mb) = self.spec.mini_batch else {
            return self.apply_per_row(&batch, ctx);
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        // A mini-batch closes after exactly `size` rows, as Flink's count trigger does per
        // row: a batch that crosses the boundary is split there.
        let mut start = 0;
        while start < batch.num_rows() {
            if self.flush_at.is_none() {
                // The oldest buffered row waits at most the latency. (Flink closes mini-batches
                // on wall-clock multiples of the latency, to close every subtask's at once;
                // here each operator buffers on its own, so nothing is gained by aligning.)
                let latency = i64::try_from(mb.allow_latency_ms).unwrap_or(i64::MAX);
                self.flush_at = Some(crate::time::now_ms().saturating_add(latency));
            }
            let take = (mb.size - self.buffered_rows).min(batch.num_rows() - start);
            self.buffer.push(batch.slice(start, take));
            self.buffered_rows += take;
            start += take;
            if self.buffered_rows >= mb.size {
                self.flush(ctx)?;
            }
        }
        Ok(())
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        // A buffer is not closed by watermarks, as in Flink, whose mini-batch assigner
        // replaces the sources' watermarks with its own latency ticks: an aggregation's
        // output has no time attribute, so nothing downstream orders rows by them. The
        // final watermark (end of input) closes it.
        if wm == Watermark::MAX {
            self.flush(ctx)?;
        }
        ctx.emit_watermark(wm);
        Ok(())
    }

    async fn finish(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.flush(ctx)
    }

    fn next_timer(&self) -> Option<i64> {
        self.flush_at
    }

    async fn on_processing_time(&mut self, _now: i64, ctx: &mut OperatorContext) -> Result<()> {
        self.flush(ctx)
    }

    /// One keyed table, a row per group: key columns (`key<i>`), the row count, the last
    /// emitted result (`prev<i>`, NULL in `has_prev` when none) and each accumulator's state
    /// (`acc<i>_<j>`). TTL clocks restart at restore. With incremental checkpoints, mostly
    /// the groups changed since the previous checkpoint, a count of 0 for those gone.
    async fn snapshot_state(
        &mut self,
        barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        // A mini-batch is applied before the barrier: the snapshot holds no buffer.
        self.flush(ctx)?;
        let plan = self.log.plan(barrier, self.groups.len());
        self.epoch += 1;
        let keyed = !self.spec.agg.keys.is_empty();
        let nulls: Vec<ScalarValue> = self
            .spec
            .agg
            .aggregates
            .iter()
            .map(|a| ScalarValue::try_from(a.expr.field().data_type()))
            .collect::<datafusion::error::Result<_>>()?;
        // The logged keys outlive the table that borrows them.
        let segments;
        let mut table = StateTable::new(self.spec.agg.aggregates.len());
        let parser = self.key_conv.parser();
        let part = match plan {
            Plan::Complete(part) => {
                if self.groups.is_empty() {
                    return Ok(None);
                }
                table.push_all(&self.spec, &self.state_keeps, &nulls, &mut self.groups)?;
                part
            }
            Plan::Changes {
                since,
                segments: logged,
            } => {
                segments = logged;
                let mut seen = std::collections::HashSet::new();
                let mut gone = Vec::new();
                for key in segments.iter().flat_map(|s| s.iter()) {
                    if seen.insert(&key[..]) {
                        match self.groups.get_mut(key) {
                            Some(g) => table.push(&self.spec, &self.state_keeps, &nulls, key, g)?,
                            None => gone.push(&key[..]),
                        }
                    }
                }
                // A group that is gone is a count of 0, with NULLs of the accumulator state
                // types, which only a live group shows (a fresh accumulator's empty list has
                // no element type). Never seen one: a complete snapshot instead, which is
                // always a valid answer to a plan of changes.
                let types = self.state_types.clone().or_else(|| table.types.clone());
                match types {
                    Some(types) => {
                        for key in gone {
                            table.push_gone(key, &types, &nulls)?;
                        }
                        KeyedPart::ChangesSince(since)
                    }
                    None if gone.is_empty() => KeyedPart::ChangesSince(since),
                    None => {
                        table = StateTable::new(self.spec.agg.aggregates.len());
                        table.push_all(&self.spec, &self.state_keeps, &nulls, &mut self.groups)?;
                        KeyedPart::Base
                    }
                }
            }
        };
        if self.state_types.is_none() {
            self.state_types = table.types.clone();
        }
        let n = table.rows.len();
        let keys = if keyed {
            self.key_conv
                .convert_rows(table.keys.iter().map(|k| parser.parse(k)))?
        } else {
            Vec::new()
        };
        let mut cols = vec![(
            KG.to_string(),
            key_group_array(&keys, n, ctx.max_parallelism)?,
        )];
        cols.extend(
            keys.into_iter()
                .enumerate()
                .map(|(i, k)| (format!("key{i}"), k)),
        );
        cols.push(("rows".into(), i64_column(table.rows)));
        cols.push((
            "has_prev".into(),
            Arc::new(BooleanArray::from(table.has_prev)) as ArrayRef,
        ));
        for (i, p) in table.prevs.into_iter().enumerate() {
            cols.push((format!("prev{i}"), Self::scalars(p)?));
        }
        for (i, acc) in table.states.into_iter().enumerate() {
            for (j, col) in acc.into_iter().enumerate() {
                cols.push((format!("acc{i}_{j}"), Self::scalars(col)?));
            }
        }
        Ok(Some(OperatorState {
            keyed_part: part,
            keyed: vec![state_table(cols, n)?],
            shared: Vec::new(),
        }))
    }

    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        let Some(t) = single_table(state.keyed, &self.spec.name)? else {
            return Ok(());
        };
        let n = t.num_rows();
        let keys = state_columns(&t, "key");
        let key_rows = if keys.is_empty() {
            None
        } else {
            Some(self.key_conv.convert_columns(&keys)?)
        };
        let rows = i64_values(state_column(&t, "rows")?)?;
        let has_prev = state_column(&t, "has_prev")?
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| RuntimeError::Checkpoint("has_prev is not BOOLEAN".into()))?
            .clone();
        let aggs = self.spec.agg.aggregates.len();
        let prevs = (0..aggs)
            .map(|i| state_column(&t, &format!("prev{i}")).cloned())
            .collect::<Result<Vec<_>>>()?;
        let accs: Vec<Vec<ArrayRef>> = (0..aggs)
            .map(|i| state_columns(&t, &format!("acc{i}_")))
            .collect();
        self.state_types = Some(
            accs.iter()
                .map(|cols| cols.iter().map(|c| c.data_type().clone()).collect())
                .collect(),
        );
        let now = Instant::now();
        // In order: a later row of a key (changes of a later incremental checkpoint) replaces
        // an earlier one, and a count of 0 is a group that is gone.
        for (r, &count) in rows.iter().enumerate().take(n) {
            let key: Box<[u8]> = match &key_rows {
                Some(kr) => kr.row(r).as_ref().into(),
                None => Box::default(),
            };
            if count <= 0 {
                self.groups.remove(&key);
                continue;
            }
            let mut group_accs = new_accumulators(&self.spec, &self.kinds)?;
            for (acc, cols) in group_accs.iter_mut().zip(&accs) {
                let one: Vec<ArrayRef> = cols.iter().map(|c| c.slice(r, 1)).collect();
                acc.merge_batch(&one)?;
            }
            let prev = if has_prev.value(r) {
                Some(
                    prevs
                        .iter()
                        .map(|c| ScalarValue::try_from_array(c, r))
                        .collect::<datafusion::error::Result<Vec<_>>>()?,
                )
            } else {
                None
            };
            self.groups.insert(
                key,
                GroupState {
                    accs: group_accs,
                    rows: count,
                    prev,
                    written: now,
                    logged: 0,
                },
            );
        }
        Ok(())
    }
}

/// The columns of a GROUP BY state table being built, a row per group.
struct StateTable<'k> {
    /// The data types of each accumulator's state values, from the first group pushed.
    types: Option<Vec<Vec<DataType>>>,
    keys: Vec<&'k [u8]>,
    rows: Vec<i64>,
    has_prev: Vec<bool>,
    prevs: Vec<Vec<ScalarValue>>,
    states: Vec<Vec<Vec<ScalarValue>>>,
}

impl<'k> StateTable<'k> {
    fn new(aggs: usize) -> Self {
        StateTable {
            types: None,
            keys: Vec::new(),
            rows: Vec::new(),
            has_prev: Vec::new(),
            prevs: vec![Vec::new(); aggs],
            states: vec![Vec::new(); aggs],
        }
    }

    /// Adds group `key` (`nulls`: a typed NULL per aggregate, for a group without a result).
    fn push(
        &mut self,
        spec: &GroupAggregate,
        state_keeps: &[bool],
        nulls: &[ScalarValue],
        key: &'k [u8],
        g: &mut GroupState,
    ) -> Result<()> {
        self.keys.push(key);
        self.rows.push(g.rows);
        self.has_prev.push(g.prev.is_some());
        for i in 0..nulls.len() {
            self.prevs[i].push(match &g.prev {
                Some(p) => p[i].clone(),
                None => nulls[i].clone(),
            });
            let st = g.accs[i].state()?;
            if !state_keeps[i] {
                // `state` emptied the accumulator: rebuild it from what it handed out.
                let arrays = st
                    .iter()
                    .map(|v| v.to_array())
                    .collect::<datafusion::error::Result<Vec<_>>>()?;
                let a = &spec.agg.aggregates[i];
                let mut fresh =
                    AccKind::of(a, spec.input_updating).create(a, spec.input_updating)?;
                fresh.merge_batch(&arrays)?;
                g.accs[i] = fresh;
            }
            if self.states[i].len() < st.len() {
                self.states[i].resize_with(st.len(), Vec::new);
            }
            for (j, v) in st.into_iter().enumerate() {
                self.states[i][j].push(v);
            }
        }
        if self.types.is_none() {
            self.types = Some(
                self.states
                    .iter()
                    .map(|acc| {
                        acc.iter()
                            .map(|col| col[col.len() - 1].data_type())
                            .collect()
                    })
                    .collect(),
            );
        }
        Ok(())
    }

    /// Adds every group.
    fn push_all(
        &mut self,
        spec: &GroupAggregate,
        state_keeps: &[bool],
        nulls: &[ScalarValue],
        groups: &'k mut HashMap<Box<[u8]>, GroupState>,
    ) -> Result<()> {
        for (key, g) in groups.iter_mut() {
            self.push(spec, state_keeps, nulls, key, g)?;
        }
        Ok(())
    }

    /// Adds group `key` as gone: a count of 0, NULL results and NULL states of `types`.
    fn push_gone(
        &mut self,
        key: &'k [u8],
        types: &[Vec<DataType>],
        nulls: &[ScalarValue],
    ) -> Result<()> {
        self.keys.push(key);
        self.rows.push(0);
        self.has_prev.push(false);
        for (i, acc) in types.iter().enumerate() {
            self.prevs[i].push(nulls[i].clone());
            if self.states[i].len() < acc.len() {
                self.states[i].resize_with(acc.len(), Vec::new);
            }
            for (j, t) in acc.iter().enumerate() {
                self.states[i][j].push(ScalarValue::try_from(t)?);
            }
        }
        Ok(())
    }
}

/// A group's accumulators, one per aggregate call, of the kinds given.
fn new_accumulators(spec: &GroupAggregate, kinds: &[AccKind]) -> Result<Vec<GroupAcc>> {
    spec.agg
        .aggregates
        .iter()
        .zip(kinds)
        .map(|(a, k)| k.create(a, spec.input_updating))
        .collect()
}

impl GroupAggregateOp {
    /// A column from one scalar per group (NULLs of `data_type` when there is no group).
    fn scalars(values: Vec<ScalarValue>) -> Result<ArrayRef> {
        Ok(ScalarValue::iter_to_array(values)?)
    }
}

/// The change a group makes once rows were applied to it: `-D` of its last result when its
/// count fell to zero (then `true`: the caller drops the group), `+I` for a new group,
/// `-U`/`+U` for a changed result, nothing for an unchanged one — unless a TTL is set: then
/// Flink emits an unchanged result too (the downstream's copy of it may have expired).
fn emit_change(
    state: &mut GroupState,
    key_part: &[datafusion::arrow::row::Row<'_>],
    out: &mut ChangeBuilder,
    ttl: bool,
) -> Result<bool> {
    if state.rows <= 0 {
        if let Some(prev) = state.prev.take() {
            out.push_owned(RowKind::Delete, key_part, prev);
        }
        return Ok(true);
    }
    let value = GroupAggregateOp::evaluate(&mut state.accs)?;
    match state.prev.take() {
        None => out.push(RowKind::Insert, key_part, &value),
        Some(prev) if prev == value && !ttl => {
            state.prev = Some(prev);
            return Ok(false);
        }
        Some(prev) => {
            // The previous result is emitted and then replaced: moved, not copied.
            out.push_owned(RowKind::UpdateBefore, key_part, prev);
            out.push(RowKind::UpdateAfter, key_part, &value);
        }
    }
    state.prev = Some(value);
    Ok(false)
}

fn passes(filter: &BooleanArray, i: usize) -> bool {
    filter.is_valid(i) && filter.value(i)
}
