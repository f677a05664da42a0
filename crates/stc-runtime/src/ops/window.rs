//! Event-time and processing-time windows: assignment (TUMBLE, HOP, CUMULATE), windowed
//! aggregation, and session windows.
//!
//! Processing-time windows ([`ProctimeWindowAggregate`], [`ProctimeSessionWindowAggregate`])
//! take their time from a `PROCTIME()` column, evaluated when the source read the row. They
//! fire on the wall clock through the operator timers (`Operator::next_timer`), ignore
//! event-time watermarks except the final one of a bounded input (which fires every window
//! still open, as Flink does at end of input), and never drop a row as late: a row that
//! reaches the aggregation after its window has fired (a delay between source and
//! aggregation longer than the rest of the window) is emitted in a further result for that
//! window rather than moved to the current one.
//!
//! Semantics follow Flink's:
//! * a window `[start, end)` fires when the watermark reaches `end - 1` (its max timestamp);
//! * a record whose windows have all fired already is *late*: it is dropped and counted in
//!   `late_records_dropped` (Flink's `numLateRecordsDropped`);
//! * `window_time` is `end - 1 ms` and is the output's event-time attribute.
//!
//! Aggregation state per window is DataFusion's: `GroupValues` interns the group keys and
//! one `GroupsAccumulator` per aggregate function keeps the running values, vectorised over
//! each batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions, StructArray,
    TimestampMillisecondArray, UInt32Array,
};
use datafusion::arrow::compute::{SortColumn, cast, concat_batches, lexsort_to_indices, take};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::{GroupsAccumulatorAdapter, PhysicalExpr};
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use hashbrown::HashMap;

use crate::checkpoint::{Barrier, OperatorState};
use crate::error::{Result, RuntimeError};
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::state::{
    KG, i64_column, i64_values, key_group_array, single_table, state_column, state_columns,
    state_table,
};
use crate::time::window_start;

/// How rows are assigned to windows (all sizes in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Tumble { size: i64, offset: i64 },
    Hop { slide: i64, size: i64, offset: i64 },
    Cumulate { step: i64, size: i64, offset: i64 },
}

impl WindowKind {
    /// Appends every window `(start, end)` that contains `ts`.
    pub fn assign(&self, ts: i64, out: &mut Vec<(i64, i64)>) {
        match *self {
            WindowKind::Tumble { size, offset } => {
                let s = window_start(ts, offset, size);
                out.push((s, s + size));
            }
            WindowKind::Hop {
                slide,
                size,
                offset,
            } => {
                // Flink's SlidingEventTimeWindows.assignWindows.
                let mut s = window_start(ts, offset, slide);
                while s > ts - size {
                    out.push((s, s + size));
                    s -= slide;
                }
            }
            WindowKind::Cumulate { step, size, offset } => {
                // Flink's CumulativeWindowAssigner: windows share the start of the
                // max-size window and end at every step.
                let s = window_start(ts, offset, size);
                let mut end = s + step;
                while end <= s + size {
                    if end > ts {
                        out.push((s, end));
                    }
                    end += step;
                }
            }
        }
    }
}

const NULL_ROWTIME: &str =
    "RowTime field should not be null, please convert it to a non-null long value.";

/// Event times of `values` as epoch milliseconds; a NULL time is a data error, as in Flink.
pub fn event_times(values: &ArrayRef) -> Result<Vec<i64>> {
    let ms = crate::time::to_millis(values, "the time attribute of a window")?;
    if ms.null_count() > 0 {
        return Err(RuntimeError::Data(NULL_ROWTIME.to_string()));
    }
    Ok(ms.values().to_vec())
}

/// Epoch milliseconds as an array of the timestamp type `target`.
fn millis_to(values: Vec<i64>, target: &DataType) -> Result<ArrayRef> {
    let tz = match target {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let arr: ArrayRef = Arc::new(TimestampMillisecondArray::from(values).with_timezone_opt(tz));
    if arr.data_type() == target {
        Ok(arr)
    } else {
        Ok(cast(&arr, target)?)
    }
}

/// The window TVFs TUMBLE, HOP and CUMULATE: appends `window_start`, `window_end` and
/// `window_time` to every row, repeating a row once per window it belongs to.
#[derive(Clone)]
pub struct WindowAssigner {
    pub name: String,
    pub time: Arc<dyn PhysicalExpr>,
    pub kind: WindowKind,
    /// Input columns followed by window_start, window_end, window_time.
    pub schema: SchemaRef,
}

#[async_trait]
impl Operator for WindowAssigner {
    fn name(&self) -> &str {
        &self.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        let rows = batch.num_rows();
        let times = event_times(&self.time.evaluate(&batch.batch)?.into_array(rows)?)?;
        let mut windows = Vec::with_capacity(2);
        let (mut idx, mut starts, mut ends) = (
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        for (row, ts) in times.iter().enumerate() {
            windows.clear();
            self.kind.assign(*ts, &mut windows);
            for (s, e) in &windows {
                idx.push(row as u32);
                starts.push(*s);
                ends.push(*e);
            }
        }
        let base = if idx.len() == rows && matches!(self.kind, WindowKind::Tumble { .. }) {
            batch
        } else {
            crate::exchange::take_rows(&batch, idx)?
        };
        let n = self.schema.fields().len();
        let times_out: Vec<i64> = ends.iter().map(|e| e - 1).collect();
        let mut columns = base.batch.columns().to_vec();
        columns.push(millis_to(starts, self.schema.field(n - 3).data_type())?);
        columns.push(millis_to(ends, self.schema.field(n - 2).data_type())?);
        columns.push(millis_to(times_out, self.schema.field(n - 1).data_type())?);
        let out = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        ctx.emit(StreamBatch {
            batch: out,
            kinds: base.kinds,
        });
        Ok(())
    }
}

impl OperatorFactory for WindowAssigner {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn create(&self, _: usize, _: usize) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

/// One aggregate call of a window aggregation.
#[derive(Clone)]
pub struct AggregateSpec {
    pub expr: Arc<AggregateFunctionExpr>,
    /// `FILTER (WHERE …)`.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// The types of the call's arguments (`expr.expressions()` over the input).
    pub arg_types: Vec<DataType>,
}

impl AggregateSpec {
    /// The call `expr` (with its `FILTER`) over rows of `input`.
    pub fn new(
        expr: Arc<AggregateFunctionExpr>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        input: &Schema,
    ) -> datafusion::error::Result<Self> {
        let arg_types = expr
            .expressions()
            .iter()
            .map(|e| e.data_type(input))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        Ok(AggregateSpec {
            expr,
            filter,
            arg_types,
        })
    }

    fn accumulator(&self) -> Result<Box<dyn GroupsAccumulator>> {
        if self.expr.groups_accumulator_supported() {
            Ok(self.expr.create_groups_accumulator()?)
        } else {
            let e = Arc::clone(&self.expr);
            Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
                e.create_accumulator()
            })))
        }
    }
}

/// One column of a window aggregation's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputColumn {
    WindowStart,
    WindowEnd,
    WindowTime,
    /// The legacy `GROUP BY TUMBLE(...)` key: a struct of window_start, window_end and
    /// window_time, read by the rewritten `TUMBLE_START(...)` & co.
    WindowStruct,
    Key(usize),
    Aggregate(usize),
}

/// The parts of a window aggregation common to all window kinds.
#[derive(Clone)]
pub struct AggregationSpec {
    pub keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Schema of the evaluated keys (for the group-value hash table).
    pub key_schema: SchemaRef,
    pub aggregates: Vec<AggregateSpec>,
    pub output: Vec<OutputColumn>,
    pub schema: SchemaRef,
}

impl AggregationSpec {
    pub(crate) fn eval_keys(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let rows = batch.num_rows();
        Ok(self
            .keys
            .iter()
            .map(|k| k.evaluate(batch).and_then(|v| v.into_array(rows)))
            .collect::<datafusion::error::Result<_>>()?)
    }

    /// Arguments and filter of every aggregate.
    pub(crate) fn eval_args(
        &self,
        batch: &RecordBatch,
    ) -> Result<Vec<(Vec<ArrayRef>, Option<BooleanArray>)>> {
        let rows = batch.num_rows();
        self.aggregates
            .iter()
            .map(|a| {
                let args = a
                    .expr
                    .expressions()
                    .iter()
                    .map(|e| e.evaluate(batch).and_then(|v| v.into_array(rows)))
                    .collect::<datafusion::error::Result<Vec<_>>>()?;
                let filter = match &a.filter {
                    None => None,
                    Some(f) => Some(f.evaluate(batch)?.into_array(rows)?.as_boolean().clone()),
                };
                Ok((args, filter))
            })
            .collect()
    }

    /// Builds output rows from per-group window bounds, keys and aggregate values.
    fn build(
        &self,
        starts: Vec<i64>,
        ends: Vec<i64>,
        keys: Vec<ArrayRef>,
        aggs: Vec<ArrayRef>,
    ) -> Result<RecordBatch> {
        let rows = starts.len();
        let times: Vec<i64> = ends.iter().map(|e| e - 1).collect();
        let mut columns = Vec::with_capacity(self.output.len());
        for (i, col) in self.output.iter().enumerate() {
            let field = self.schema.field(i);
            let array = match col {
                OutputColumn::WindowStart => millis_to(starts.clone(), field.data_type())?,
                OutputColumn::WindowEnd => millis_to(ends.clone(), field.data_type())?,
                OutputColumn::WindowTime => millis_to(times.clone(), field.data_type())?,
                OutputColumn::WindowStruct => {
                    let DataType::Struct(fields) = field.data_type() else {
                        return Err(RuntimeError::Internal(
                            "window struct column is not a struct".into(),
                        ));
                    };
                    let parts = vec![
                        millis_to(starts.clone(), fields[0].data_type())?,
                        millis_to(ends.clone(), fields[1].data_type())?,
                        millis_to(times.clone(), fields[2].data_type())?,
                    ];
                    Arc::new(StructArray::try_new(fields.clone(), parts, None)?) as ArrayRef
                }
                OutputColumn::Key(k) => keys[*k].clone(),
                OutputColumn::Aggregate(a) => aggs[*a].clone(),
            };
            let array = if array.data_type() != field.data_type() {
                cast(&array, field.data_type())?
            } else {
                array
            };
            columns.push(array);
        }
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }
}

/// The state of one window: its groups and their accumulators.
struct WindowGroups {
    groups: Option<Box<dyn GroupValues>>,
    accs: Vec<Box<dyn GroupsAccumulator>>,
}

impl WindowGroups {
    fn new(spec: &AggregationSpec) -> Result<Self> {
        let groups = if spec.keys.is_empty() {
            None
        } else {
            Some(new_group_values(
                Arc::clone(&spec.key_schema),
                &GroupOrdering::None,
            )?)
        };
        let accs = spec
            .aggregates
            .iter()
            .map(|a| a.accumulator())
            .collect::<Result<_>>()?;
        Ok(WindowGroups { groups, accs })
    }

    fn update(
        &mut self,
        keys: &[ArrayRef],
        args: &[(Vec<ArrayRef>, Option<BooleanArray>)],
        rows: usize,
        scratch: &mut Vec<usize>,
    ) -> Result<()> {
        let total = match &mut self.groups {
            None => {
                scratch.clear();
                scratch.resize(rows, 0);
                1
            }
            Some(g) => {
                g.intern(keys, scratch)?;
                g.len()
            }
        };
        for (acc, (values, filter)) in self.accs.iter_mut().zip(args) {
            acc.update_batch(values, scratch, filter.as_ref(), total)?;
        }
        Ok(())
    }

    /// Takes the state out as arrays — (groups, key columns, each accumulator's state
    /// columns) — and puts it back (DataFusion's group values and accumulators can only hand
    /// out their state by emptying themselves).
    fn snapshot(
        &mut self,
        spec: &AggregationSpec,
        scratch: &mut Vec<usize>,
    ) -> Result<(usize, Vec<ArrayRef>, Vec<Vec<ArrayRef>>)> {
        let keys = match &mut self.groups {
            None => Vec::new(),
            Some(g) => g.emit(EmitTo::All)?,
        };
        let states = self
            .accs
            .iter_mut()
            .map(|a| a.state(EmitTo::All))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let n = keys
            .first()
            .map(|k| k.len())
            .or_else(|| states.first().and_then(|s| s.first()).map(|a| a.len()))
            .unwrap_or(0);
        *self = WindowGroups::new(spec)?;
        self.merge(&keys, &states, n, scratch)?;
        Ok((n, keys, states))
    }

    /// Merges accumulator states of `n` groups (see [`snapshot`](Self::snapshot)).
    fn merge(
        &mut self,
        keys: &[ArrayRef],
        states: &[Vec<ArrayRef>],
        n: usize,
        scratch: &mut Vec<usize>,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let total = match &mut self.groups {
            None => {
                scratch.clear();
                scratch.resize(n, 0);
                1
            }
            Some(g) => {
                g.intern(keys, scratch)?;
                g.len()
            }
        };
        for (acc, state) in self.accs.iter_mut().zip(states) {
            acc.merge_batch(state, scratch, total)?;
        }
        Ok(())
    }

    /// (number of groups, key columns, aggregate columns)
    fn emit(mut self) -> Result<(usize, Vec<ArrayRef>, Vec<ArrayRef>)> {
        let keys = match &mut self.groups {
            None => Vec::new(),
            Some(g) => g.emit(EmitTo::All)?,
        };
        let aggs = self
            .accs
            .iter_mut()
            .map(|a| a.evaluate(EmitTo::All))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let n = aggs
            .first()
            .map(|a| a.len())
            .or_else(|| keys.first().map(|k| k.len()))
            .unwrap_or(1);
        Ok((n, keys, aggs))
    }
}

fn take_all(arrays: &[ArrayRef], idx: &UInt32Array) -> Result<Vec<ArrayRef>> {
    Ok(arrays
        .iter()
        .map(|a| take(a.as_ref(), idx, None))
        .collect::<std::result::Result<_, _>>()?)
}

fn take_args(
    args: &[(Vec<ArrayRef>, Option<BooleanArray>)],
    idx: &UInt32Array,
) -> Result<Vec<(Vec<ArrayRef>, Option<BooleanArray>)>> {
    args.iter()
        .map(|(values, filter)| {
            let values = take_all(values, idx)?;
            let filter = match filter {
                None => None,
                Some(f) => Some(take(f, idx, None)?.as_boolean().clone()),
            };
            Ok((values, filter))
        })
        .collect()
}

/// Aggregation over windows whose bounds are columns of the input (after a window TVF or a
/// [`WindowAssigner`]). Keyed by `(window_end, window_start)` so windows fire in end order.
#[derive(Clone)]
pub struct WindowAggregate {
    pub name: String,
    pub window_start: Arc<dyn PhysicalExpr>,
    pub window_end: Arc<dyn PhysicalExpr>,
    pub agg: AggregationSpec,
}

impl OperatorFactory for WindowAggregate {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn create(&self, _: usize, _: usize) -> Result<Box<dyn Operator>> {
        Ok(Box::new(WindowAggregateOp {
            spec: self.clone(),
            windows: BTreeMap::new(),
            scratch: Vec::new(),
            proctime: false,
        }))
    }
}

/// A [`WindowAggregate`] over processing-time windows (see the module docs).
#[derive(Clone)]
pub struct ProctimeWindowAggregate(pub WindowAggregate);

impl OperatorFactory for ProctimeWindowAggregate {
    fn name(&self) -> String {
        format!("{} [processing time]", self.0.name)
    }
    fn create(&self, _: usize, _: usize) -> Result<Box<dyn Operator>> {
        Ok(Box::new(WindowAggregateOp {
            spec: self.0.clone(),
            windows: BTreeMap::new(),
            scratch: Vec::new(),
            proctime: true,
        }))
    }
}

/// The state of window `key` (`(end, start)`), created on first use.
fn window_state<'a>(
    windows: &'a mut BTreeMap<(i64, i64), WindowGroups>,
    spec: &AggregationSpec,
    key: (i64, i64),
) -> Result<&'a mut WindowGroups> {
    Ok(match windows.entry(key) {
        std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
        std::collections::btree_map::Entry::Vacant(v) => v.insert(WindowGroups::new(spec)?),
    })
}

struct WindowAggregateOp {
    spec: WindowAggregate,
    windows: BTreeMap<(i64, i64), WindowGroups>,
    scratch: Vec<usize>,
    /// Windows are processing-time windows: fired by timers, never late.
    proctime: bool,
}

impl WindowAggregateOp {
    /// Emits every window whose last millisecond is `<= t`, in end order.
    fn fire(&mut self, t: i64, ctx: &mut OperatorContext) -> Result<()> {
        while let Some(entry) = self.windows.first_entry() {
            let (end, start) = *entry.key();
            if end - 1 > t {
                break;
            }
            let state = entry.remove();
            let (n, keys, aggs) = state.emit()?;
            let out = self
                .spec
                .agg
                .build(vec![start; n], vec![end; n], keys, aggs)?;
            ctx.emit(StreamBatch::inserts(out));
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for WindowAggregateOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        if !batch.is_insert_only() {
            return Err(RuntimeError::Data(
                "window aggregation over an updating input is not supported yet".into(),
            ));
        }
        let b = &batch.batch;
        let rows = b.num_rows();
        let starts = event_times(&self.spec.window_start.evaluate(b)?.into_array(rows)?)?;
        let ends = event_times(&self.spec.window_end.evaluate(b)?.into_array(rows)?)?;
        let wm = if self.proctime {
            i64::MIN
        } else {
            ctx.current_watermark
        };
        let keys = self.spec.agg.eval_keys(b)?;
        let args = self.spec.agg.eval_args(b)?;

        // The common case: every row of the batch in one window that has not fired.
        if rows > 0
            && ends[0] - 1 > wm
            && starts.iter().all(|s| *s == starts[0])
            && ends.iter().all(|e| *e == ends[0])
        {
            let state = window_state(&mut self.windows, &self.spec.agg, (ends[0], starts[0]))?;
            return state.update(&keys, &args, rows, &mut self.scratch);
        }
        // Otherwise group row indices by window.
        let mut per_window: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
        let mut late = 0u64;
        for row in 0..rows {
            let (s, e) = (starts[row], ends[row]);
            if e - 1 <= wm {
                late += 1;
                continue;
            }
            per_window.entry((e, s)).or_default().push(row as u32);
        }
        if late > 0 {
            ctx.metrics
                .late_records_dropped
                .fetch_add(late, std::sync::atomic::Ordering::Relaxed);
        }
        for (window, idx) in per_window {
            let state = window_state(&mut self.windows, &self.spec.agg, window)?;
            let n = idx.len();
            let idx = UInt32Array::from(idx);
            state.update(
                &take_all(&keys, &idx)?,
                &take_args(&args, &idx)?,
                n,
                &mut self.scratch,
            )?;
        }
        Ok(())
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        if let Watermark::EventTime(t) = wm
            && (!self.proctime || t == i64::MAX)
        {
            self.fire(t, ctx)?;
        }
        ctx.emit_watermark(wm);
        Ok(())
    }

    /// One keyed table: a row per (window, group) with the window bounds, the group's key
    /// columns (`key<i>`) and each aggregate's accumulator state (`acc<i>_<j>`).
    async fn snapshot_state(
        &mut self,
        _barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        let mut parts = Vec::with_capacity(self.windows.len());
        for (&(end, start), groups) in self.windows.iter_mut() {
            let (n, keys, states) = groups.snapshot(&self.spec.agg, &mut self.scratch)?;
            parts.push(window_state_table(
                start,
                end,
                n,
                keys,
                states,
                ctx.max_parallelism,
            )?);
        }
        if parts.is_empty() {
            let mut empty = WindowGroups::new(&self.spec.agg)?;
            let (n, keys, states) = empty.snapshot(&self.spec.agg, &mut self.scratch)?;
            parts.push(window_state_table(
                0,
                0,
                n,
                keys,
                states,
                ctx.max_parallelism,
            )?);
        }
        let table = concat_batches(&parts[0].schema(), &parts)?;
        Ok(Some(OperatorState {
            keyed_part: Default::default(),
            keyed: vec![table],
            shared: Vec::new(),
        }))
    }

    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        let Some(t) = single_table(state.keyed, &self.spec.name)? else {
            return Ok(());
        };
        let starts = i64_values(state_column(&t, "window_start")?)?;
        let ends = i64_values(state_column(&t, "window_end")?)?;
        let keys = state_columns(&t, "key");
        let accs: Vec<Vec<ArrayRef>> = (0..self.spec.agg.aggregates.len())
            .map(|i| state_columns(&t, &format!("acc{i}_")))
            .collect();
        let mut per_window: BTreeMap<(i64, i64), Vec<u32>> = BTreeMap::new();
        for row in 0..t.num_rows() {
            per_window
                .entry((ends[row], starts[row]))
                .or_default()
                .push(row as u32);
        }
        for (window, idx) in per_window {
            let n = idx.len();
            let idx = UInt32Array::from(idx);
            let states = accs
                .iter()
                .map(|cols| take_all(cols, &idx))
                .collect::<Result<Vec<_>>>()?;
            let state = window_state(&mut self.windows, &self.spec.agg, window)?;
            state.merge(&take_all(&keys, &idx)?, &states, n, &mut self.scratch)?;
        }
        Ok(())
    }

    fn next_timer(&self) -> Option<i64> {
        if !self.proctime {
            return None;
        }
        self.windows.first_key_value().map(|((end, _), _)| end - 1)
    }

    async fn on_processing_time(&mut self, now: i64, ctx: &mut OperatorContext) -> Result<()> {
        self.fire(now, ctx)
    }
}

/// The state table of one window (see `WindowAggregateOp::snapshot_state`).
fn window_state_table(
    start: i64,
    end: i64,
    n: usize,
    keys: Vec<ArrayRef>,
    states: Vec<Vec<ArrayRef>>,
    max_parallelism: usize,
) -> Result<RecordBatch> {
    let mut cols = vec![
        (KG.to_string(), key_group_array(&keys, n, max_parallelism)?),
        ("window_start".to_string(), i64_column(vec![start; n])),
        ("window_end".to_string(), i64_column(vec![end; n])),
    ];
    cols.extend(
        keys.into_iter()
            .enumerate()
            .map(|(i, k)| (format!("key{i}"), k)),
    );
    for (i, acc) in states.into_iter().enumerate() {
        cols.extend(
            acc.into_iter()
                .enumerate()
                .map(|(j, a)| (format!("acc{i}_{j}"), a)),
        );
    }
    state_table(cols, n)
}

/// Session windows (legacy `SESSION(ts, gap)` and the `SESSION` TVF): per key, rows closer
/// at most `gap` apart belong to one window `[first, last + gap)` (Flink merges windows that
/// touch: `[0, 10)` and `[10, 20)` become one).
///
/// Rows are buffered until the watermark can close their session; on such a watermark the
/// buffer is sorted by key and time, closed sessions are aggregated and the rest is kept.
/// The sort only runs when some session may have closed (the watermark passed the earliest
/// possible session end), so a buffer is not re-sorted on every watermark.
#[derive(Clone)]
pub struct SessionWindowAggregate {
    pub name: String,
    pub time: Arc<dyn PhysicalExpr>,
    pub gap: i64,
    pub agg: AggregationSpec,
}

impl OperatorFactory for SessionWindowAggregate {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn create(&self, _: usize, _: usize) -> Result<Box<dyn Operator>> {
        Ok(Box::new(SessionOp {
            spec: self.clone(),
            buffer: Vec::new(),
            earliest_end: i64::MAX,
            proctime: false,
        }))
    }
}

/// A [`SessionWindowAggregate`] over processing time (see the module docs): a session closes
/// when the wall clock passes its last row's time plus the gap.
#[derive(Clone)]
pub struct ProctimeSessionWindowAggregate(pub SessionWindowAggregate);

impl OperatorFactory for ProctimeSessionWindowAggregate {
    fn name(&self) -> String {
        format!("{} [processing time]", self.0.name)
    }
    fn create(&self, _: usize, _: usize) -> Result<Box<dyn Operator>> {
        Ok(Box::new(SessionOp {
            spec: self.0.clone(),
            buffer: Vec::new(),
            earliest_end: i64::MAX,
            proctime: true,
        }))
    }
}

struct SessionOp {
    spec: SessionWindowAggregate,
    buffer: Vec<RecordBatch>,
    /// Lower bound of every buffered session's end.
    earliest_end: i64,
    /// Sessions over processing time: closed by timers, never late.
    proctime: bool,
}

impl SessionOp {
    fn fire(&mut self, wm: i64, ctx: &mut OperatorContext) -> Result<()> {
        if self.buffer.is_empty() || self.earliest_end - 1 > wm {
            return Ok(());
        }
        let all = concat_batches(&self.buffer[0].schema(), &self.buffer)?;
        self.buffer.clear();
        let rows = all.num_rows();
        let keys = self.spec.agg.eval_keys(&all)?;
        let times_arr = self.spec.time.evaluate(&all)?.into_array(rows)?;
        let times = event_times(&times_arr)?;
        let mut sort_cols: Vec<SortColumn> = keys
            .iter()
            .map(|k| SortColumn {
                values: k.clone(),
                options: None,
            })
            .collect();
        sort_cols.push(SortColumn {
            values: Arc::new(datafusion::arrow::array::Int64Array::from(times.clone())),
            options: None,
        });
        let order = lexsort_to_indices(&sort_cols, None)?;
        let key_rows = if keys.is_empty() {
            None
        } else {
            let conv = RowConverter::new(
                keys.iter()
                    .map(|k| SortField::new(k.data_type().clone()))
                    .collect(),
            )?;
            Some(conv.convert_columns(&keys)?)
        };
        let same_key = |a: usize, b: usize| key_rows.as_ref().is_none_or(|r| r.row(a) == r.row(b));

        let gap = self.spec.gap;
        // Walk sessions in sorted order.
        let (mut fired_rows, mut fired_group) = (Vec::new(), Vec::new());
        let (mut starts, mut ends, mut first_rows) = (Vec::new(), Vec::new(), Vec::new());
        let mut kept = Vec::new();
        let mut new_earliest = i64::MAX;
        let ord = order.values();
        let mut i = 0;
        while i < ord.len() {
            let first = ord[i] as usize;
            let mut j = i + 1;
            let mut last_ts = times[first];
            while j < ord.len() {
                let r = ord[j] as usize;
                if !same_key(first, r) || times[r] > last_ts + gap {
                    break;
                }
                last_ts = last_ts.max(times[r]);
                j += 1;
            }
            let end = last_ts + gap;
            if end - 1 <= wm {
                let g = starts.len();
                starts.push(times[first]);
                ends.push(end);
                first_rows.push(first as u32);
                for &r in &ord[i..j] {
                    fired_rows.push(r);
                    fired_group.push(g);
                }
            } else {
                new_earliest = new_earliest.min(end);
                kept.extend_from_slice(&ord[i..j]);
            }
            i = j;
        }
        self.earliest_end = new_earliest;
        if !kept.is_empty() {
            let idx = UInt32Array::from(kept);
            let cols = take_all(all.columns(), &idx)?;
            self.buffer.push(RecordBatch::try_new(all.schema(), cols)?);
        }
        if starts.is_empty() {
            return Ok(());
        }
        let idx = UInt32Array::from(fired_rows);
        let fired = RecordBatch::try_new(all.schema(), take_all(all.columns(), &idx)?)?;
        let args = self.spec.agg.eval_args(&fired)?;
        let mut aggs = Vec::with_capacity(args.len());
        for (spec, (values, filter)) in self.spec.agg.aggregates.iter().zip(&args) {
            let mut acc = spec.accumulator()?;
            acc.update_batch(values, &fired_group, filter.as_ref(), starts.len())?;
            aggs.push(acc.evaluate(EmitTo::All)?);
        }
        let key_out = take_all(&keys, &UInt32Array::from(first_rows))?;
        let out = self.spec.agg.build(starts, ends, key_out, aggs)?;
        ctx.emit(StreamBatch::inserts(out));
        Ok(())
    }
}

#[async_trait]
impl Operator for SessionOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        if !batch.is_insert_only() {
            return Err(RuntimeError::Data(
                "session windows over an updating input are not supported yet".into(),
            ));
        }
        let b = batch.batch;
        let rows = b.num_rows();
        let times = event_times(&self.spec.time.evaluate(&b)?.into_array(rows)?)?;
        let wm = if self.proctime {
            i64::MIN
        } else {
            ctx.current_watermark
        };
        let gap = self.spec.gap;
        let on_time: Vec<u32> = (0..rows)
            .filter(|r| times[*r] + gap - 1 > wm)
            .map(|r| r as u32)
            .collect();
        let late = rows - on_time.len();
        if late > 0 {
            ctx.metrics
                .late_records_dropped
                .fetch_add(late as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if on_time.is_empty() {
            return Ok(());
        }
        let b = if late > 0 {
            let idx = UInt32Array::from(on_time.clone());
            RecordBatch::try_new(b.schema(), take_all(b.columns(), &idx)?)?
        } else {
            b
        };
        for r in on_time {
            self.earliest_end = self.earliest_end.min(times[r as usize] + gap);
        }
        self.buffer.push(b);
        Ok(())
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        if let Watermark::EventTime(t) = wm
            && (!self.proctime || t == i64::MAX)
        {
            self.fire(t, ctx)?;
        }
        ctx.emit_watermark(wm);
        Ok(())
    }

    /// One keyed table: the buffered input rows (their sessions are not closed yet) with
    /// their key group.
    async fn snapshot_state(
        &mut self,
        _barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        if self.buffer.is_empty() {
            return Ok(None);
        }
        let all = concat_batches(&self.buffer[0].schema(), &self.buffer)?;
        self.buffer = vec![all.clone()];
        let keys = self.spec.agg.eval_keys(&all)?;
        let kg = key_group_array(&keys, all.num_rows(), ctx.max_parallelism)?;
        let mut fields = vec![Arc::new(Field::new(KG, DataType::UInt32, false))];
        fields.extend(all.schema().fields().iter().cloned());
        let mut cols = vec![kg];
        cols.extend(all.columns().iter().cloned());
        Ok(Some(OperatorState {
            keyed_part: Default::default(),
            keyed: vec![RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?],
            shared: Vec::new(),
        }))
    }

    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        let Some(t) = single_table(state.keyed, &self.spec.name)? else {
            return Ok(());
        };
        let schema = t.schema();
        let fields: Vec<_> = schema.fields().iter().skip(1).cloned().collect();
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            t.columns().iter().skip(1).cloned().collect(),
        )?;
        let times = event_times(&self.spec.time.evaluate(&b)?.into_array(b.num_rows())?)?;
        // A lower bound of the buffered sessions' ends, as `process_batch` keeps it.
        if let Some(min) = times.iter().min() {
            self.earliest_end = self.earliest_end.min(min + self.spec.gap);
        }
        self.buffer.push(b);
        Ok(())
    }

    fn next_timer(&self) -> Option<i64> {
        (self.proctime && !self.buffer.is_empty()).then(|| self.earliest_end - 1)
    }

    async fn on_processing_time(&mut self, now: i64, ctx: &mut OperatorContext) -> Result<()> {
        self.fire(now, ctx)
    }
}

/// The struct type of the legacy group-window key (`TUMBLE(ts, …)` in GROUP BY).
pub fn window_struct_type(ts_type: &DataType) -> DataType {
    // window_time is the output's time attribute, of the input time attribute's type (a
    // TIMESTAMP_LTZ rowtime stays TIMESTAMP_LTZ), as in Flink.
    let rowtime = ts_type.clone();
    DataType::Struct(Fields::from(vec![
        Field::new("window_start", ts_type.clone(), false),
        Field::new("window_end", ts_type.clone(), false),
        Field::new("window_time", rowtime, false),
    ]))
}

/// Schema helper: `fields` plus window_start, window_end, window_time of `ts_type`.
pub fn with_window_columns(input: &Schema, ts_type: &DataType) -> Schema {
    let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("window_start", ts_type.clone(), false));
    fields.push(Field::new("window_end", ts_type.clone(), false));
    fields.push(Field::new("window_time", ts_type.clone(), false));
    Schema::new(fields)
}

#[cfg(test)]
mod tests {
    use super::WindowKind;

    fn windows(kind: WindowKind, ts: i64) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        kind.assign(ts, &mut v);
        v.sort();
        v
    }

    #[test]
    fn hop_assigns_every_window_containing_the_row() {
        let hop = WindowKind::Hop {
            slide: 1000,
            size: 3000,
            offset: 0,
        };
        assert_eq!(
            windows(hop, 2500),
            vec![(0, 3000), (1000, 4000), (2000, 5000)]
        );
        assert_eq!(
            windows(hop, 0),
            vec![(-2000, 1000), (-1000, 2000), (0, 3000)]
        );
    }

    #[test]
    fn cumulate_assigns_growing_windows_from_the_same_start() {
        let c = WindowKind::Cumulate {
            step: 1000,
            size: 3000,
            offset: 0,
        };
        assert_eq!(windows(c, 1500), vec![(0, 2000), (0, 3000)]);
        assert_eq!(
            windows(c, 3000),
            vec![(3000, 4000), (3000, 5000), (3000, 6000)]
        );
    }
}
