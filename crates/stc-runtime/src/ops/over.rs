//! OVER aggregation on event time: `agg(x) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN
//! INTERVAL … PRECEDING AND CURRENT ROW)` and the `ROWS BETWEEN n PRECEDING` variant
//! (Flink's `RowTimeRangeBoundedPrecedingFunction` / `RowTimeRowsBoundedPrecedingFunction`).
//!
//! Rows are buffered per key until the watermark passes their time, then processed in time
//! order: each row is emitted with the aggregates over its frame. A RANGE frame holds every
//! row of the key with a time in `[t - preceding, t]`, so rows with equal times (peers) get
//! the same values; a ROWS frame holds the row and the `n` rows before it. Rows leave the
//! frame through `retract_batch` of DataFusion's sliding accumulators (retraction is in
//! arrival order here, which is what those accumulators assume). The output is append-only.
//! Rows arriving behind the watermark are late: dropped and counted, as Flink does.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::RowConverter;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;

use crate::error::{Result, RuntimeError};
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{converter, expr_types, to_rows};
use crate::ops::window::AggregateSpec;

/// The frame of every OVER call of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverFrame {
    /// `RANGE BETWEEN <ms> PRECEDING AND CURRENT ROW` (`i64::MAX` for UNBOUNDED).
    Range(i64),
    /// `ROWS BETWEEN <n> PRECEDING AND CURRENT ROW` (`usize::MAX` for UNBOUNDED).
    Rows(usize),
}

/// The operator factory; see the module docs.
#[derive(Clone)]
pub struct OverAggregate {
    pub name: String,
    pub partition_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// The event-time column the window is ordered by.
    pub time: Arc<dyn PhysicalExpr>,
    pub frame: OverFrame,
    pub aggregates: Vec<AggregateSpec>,
    pub input_schema: SchemaRef,
    /// Input columns, then one column per aggregate.
    pub schema: SchemaRef,
}

impl OperatorFactory for OverAggregate {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        let key_types = expr_types(&self.partition_keys, &self.input_schema)?;
        Ok(Box::new(OverOp {
            spec: self.clone(),
            key_conv: converter(key_types)?,
            pending: Vec::new(),
            keys: HashMap::new(),
            watermark: i64::MIN,
        }))
    }
}

/// A row of a buffered batch.
#[derive(Clone, Copy)]
struct RowRef {
    batch: usize,
    row: u32,
}

struct KeyState {
    accs: Vec<Box<dyn Accumulator>>,
    /// Rows in the frame, oldest first: time, and the aggregate arguments of the row.
    frame: VecDeque<(i64, Vec<Vec<ArrayRef>>)>,
}

/// Rows of a key not emitted yet, by time, in arrival order within a time.
type Waiting = BTreeMap<i64, Vec<RowRef>>;

struct OverOp {
    spec: OverAggregate,
    key_conv: RowConverter,
    /// Batches holding rows not yet emitted.
    pending: Vec<RecordBatch>,
    /// Per key: waiting rows by time (in arrival order within a time), and the frame state.
    keys: HashMap<Box<[u8]>, (Waiting, Option<KeyState>)>,
    watermark: i64,
}

impl OverOp {
    fn new_state(&self) -> Result<KeyState> {
        Ok(KeyState {
            accs: self
                .spec
                .aggregates
                .iter()
                .map(|a| {
                    a.expr
                        .create_sliding_accumulator()
                        .map_err(RuntimeError::from)
                })
                .collect::<Result<_>>()?,
            frame: VecDeque::new(),
        })
    }

    /// Emits every buffered row with a time `<= wm`, in time order per key.
    fn fire(&mut self, wm: i64, ctx: &mut OperatorContext) -> Result<()> {
        let mut rows: Vec<RowRef> = Vec::new();
        let mut values: Vec<Vec<ScalarValue>> = vec![Vec::new(); self.spec.aggregates.len()];
        // Aggregate arguments of every buffered row, evaluated once per buffered batch.
        let batch_args = self
            .pending
            .iter()
            .map(|b| self.eval_args(b))
            .collect::<Result<Vec<_>>>()?;
        let key_list: Vec<Box<[u8]>> = self.keys.keys().cloned().collect();
        for key in key_list {
            let Some((waiting, state)) = self.keys.get_mut(&key) else {
                continue;
            };
            let ready: Vec<(i64, Vec<RowRef>)> = {
                let later = waiting.split_off(&(wm.saturating_add(1)));
                let ready = std::mem::replace(waiting, later);
                ready.into_iter().collect()
            };
            if ready.is_empty() {
                continue;
            }
            let mut st = match state.take() {
                Some(s) => s,
                None => self.new_state()?,
            };
            for (t, group) in ready {
                // RANGE: all peers enter the frame before any of them is emitted.
                let mut emitted_from = 0;
                for (i, r) in group.iter().enumerate() {
                    let args = args_of(&batch_args, *r);
                    for (acc, a) in st.accs.iter_mut().zip(&args) {
                        acc.update_batch(a)?;
                    }
                    st.frame.push_back((t, args));
                    if let OverFrame::Rows(n) = self.spec.frame {
                        while st.frame.len() > n.saturating_add(1) {
                            retract_oldest(&mut st)?;
                        }
                        rows.push(*r);
                        for (v, acc) in values.iter_mut().zip(st.accs.iter_mut()) {
                            v.push(acc.evaluate()?);
                        }
                        emitted_from = i + 1;
                    }
                }
                if let OverFrame::Range(ms) = self.spec.frame {
                    while st
                        .frame
                        .front()
                        .is_some_and(|(ft, _)| ms != i64::MAX && *ft < t.saturating_sub(ms))
                    {
                        retract_oldest(&mut st)?;
                    }
                    let vals = st
                        .accs
                        .iter_mut()
                        .map(|a| a.evaluate())
                        .collect::<datafusion::error::Result<Vec<_>>>()?;
                    for r in &group[emitted_from..] {
                        rows.push(*r);
                        for (v, x) in values.iter_mut().zip(&vals) {
                            v.push(x.clone());
                        }
                    }
                }
            }
            let entry = self.keys.get_mut(&key).expect("key present");
            entry.1 = Some(st);
        }
        if !rows.is_empty() {
            ctx.emit(StreamBatch::inserts(self.build(&rows, values)?));
        }
        self.compact()
    }

    /// Keeps only the rows still waiting, in one batch, so buffered input does not grow
    /// with rows already emitted.
    fn compact(&mut self) -> Result<()> {
        let mut refs: Vec<&mut RowRef> = self
            .keys
            .values_mut()
            .flat_map(|(w, _)| w.values_mut().flatten())
            .collect();
        if refs.is_empty() {
            self.pending.clear();
            return Ok(());
        }
        let kept = gather(
            &self.spec.input_schema,
            &self.pending,
            refs.iter().map(|r| **r),
        )?;
        for (i, r) in refs.iter_mut().enumerate() {
            **r = RowRef {
                batch: 0,
                row: i as u32,
            };
        }
        self.pending = vec![kept];
        Ok(())
    }

    /// The partition key columns of a batch.
    fn eval_keys(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let n = batch.num_rows();
        Ok(self
            .spec
            .partition_keys
            .iter()
            .map(|k| k.evaluate(batch).and_then(|v| v.into_array(n)))
            .collect::<datafusion::error::Result<Vec<_>>>()?)
    }

    /// The aggregate arguments of a whole batch: per aggregate, its argument columns.
    fn eval_args(&self, batch: &RecordBatch) -> Result<Vec<Vec<ArrayRef>>> {
        let n = batch.num_rows();
        self.spec
            .aggregates
            .iter()
            .map(|a| {
                a.expr
                    .expressions()
                    .iter()
                    .map(|e| e.evaluate(batch).and_then(|v| v.into_array(n)))
                    .collect::<datafusion::error::Result<Vec<_>>>()
                    .map_err(RuntimeError::from)
            })
            .collect()
    }

    fn build(&self, rows: &[RowRef], values: Vec<Vec<ScalarValue>>) -> Result<RecordBatch> {
        // Gather the input columns of the emitted rows from the buffered batches.
        let input = gather(&self.spec.input_schema, &self.pending, rows.iter().copied())?;
        let mut columns = input.columns().to_vec();
        for (v, f) in values
            .into_iter()
            .zip(&self.spec.schema.fields()[input.num_columns()..])
        {
            let arr = ScalarValue::iter_to_array(v)?;
            columns.push(if arr.data_type() == f.data_type() {
                arr
            } else {
                datafusion::arrow::compute::cast(&arr, f.data_type())?
            });
        }
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.spec.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?)
    }
}

/// The buffered rows `refs` (into `pending`) as one batch, in that order.
fn gather(
    schema: &SchemaRef,
    pending: &[RecordBatch],
    refs: impl Iterator<Item = RowRef>,
) -> Result<RecordBatch> {
    let all = concat_batches(schema, pending.iter())?;
    let mut offsets = Vec::with_capacity(pending.len());
    let mut acc = 0u32;
    for b in pending {
        offsets.push(acc);
        acc += b.num_rows() as u32;
    }
    let idx: Vec<u32> = refs.map(|r| offsets[r.batch] + r.row).collect();
    Ok(take_record_batch(&all, &UInt32Array::from(idx))?)
}

/// One row's aggregate arguments (per aggregate, one-row slices of its argument columns).
fn args_of(batch_args: &[Vec<Vec<ArrayRef>>], r: RowRef) -> Vec<Vec<ArrayRef>> {
    batch_args[r.batch]
        .iter()
        .map(|cols| cols.iter().map(|c| c.slice(r.row as usize, 1)).collect())
        .collect()
}

fn retract_oldest(st: &mut KeyState) -> Result<()> {
    if let Some((_, args)) = st.frame.pop_front() {
        for (acc, a) in st.accs.iter_mut().zip(&args) {
            acc.retract_batch(a)?;
        }
    }
    Ok(())
}

#[async_trait]
impl Operator for OverOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// Two keyed tables: the rows still waiting for the watermark (input columns; per key in
    /// time order, arrival order within a time), and every key's frame (its partition key
    /// columns `k*`, the row time `__t` and the aggregate arguments `a<i>_<j>`, oldest
    /// first). The accumulators are not stored: a restore replays each frame into fresh
    /// ones, which holds exactly the rows the original ones had not retracted.
    async fn snapshot_state(
        &mut self,
        _barrier: &crate::checkpoint::Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<crate::checkpoint::OperatorState>> {
        use crate::ops::state::{KG, i64_column, key_group_array, state_table};
        // Waiting rows.
        let refs: Vec<RowRef> = self
            .keys
            .values()
            .flat_map(|(w, _)| w.values().flatten().copied())
            .collect();
        let waiting = gather(&self.spec.input_schema, &self.pending, refs.into_iter())?;
        let n = waiting.num_rows();
        let keys = self.eval_keys(&waiting)?;
        let mut table = vec![(
            KG.to_string(),
            key_group_array(&keys, n, ctx.max_parallelism)?,
        )];
        table.extend(
            self.spec
                .input_schema
                .fields()
                .iter()
                .zip(waiting.columns())
                .map(|(f, c)| (f.name().clone(), Arc::clone(c))),
        );
        let waiting = state_table(table, n)?;
        // Frames.
        let mut key_bytes: Vec<&[u8]> = Vec::new();
        let mut times = Vec::new();
        let mut args: Vec<Vec<Vec<ArrayRef>>> = self
            .spec
            .aggregates
            .iter()
            .map(|a| vec![Vec::new(); a.expr.expressions().len()])
            .collect();
        for (k, (_, st)) in &self.keys {
            for (t, row_args) in st.iter().flat_map(|s| s.frame.iter()) {
                key_bytes.push(k);
                times.push(*t);
                for (per_agg, a) in args.iter_mut().zip(row_args) {
                    for (col, v) in per_agg.iter_mut().zip(a) {
                        col.push(Arc::clone(v));
                    }
                }
            }
        }
        let m = times.len();
        let key_cols = if self.spec.partition_keys.is_empty() {
            Vec::new()
        } else {
            let parser = self.key_conv.parser();
            self.key_conv
                .convert_rows(key_bytes.iter().map(|b| parser.parse(b)))?
        };
        let empty_args =
            self.eval_args(&RecordBatch::new_empty(Arc::clone(&self.spec.input_schema)))?;
        let mut table = vec![(
            KG.to_string(),
            key_group_array(&key_cols, m, ctx.max_parallelism)?,
        )];
        for (i, c) in key_cols.iter().enumerate() {
            table.push((format!("k{i}"), Arc::clone(c)));
        }
        table.push(("__t".to_string(), i64_column(times)));
        for (i, per_agg) in args.into_iter().enumerate() {
            for (j, col) in per_agg.into_iter().enumerate() {
                let parts: Vec<&dyn Array> = col.iter().map(|a| a.as_ref()).collect();
                let merged = if parts.is_empty() {
                    Arc::clone(&empty_args[i][j])
                } else {
                    datafusion::arrow::compute::concat(&parts)?
                };
                table.push((format!("a{i}_{j}"), merged));
            }
        }
        let frames = state_table(table, m)?;
        Ok(Some(crate::checkpoint::OperatorState {
            keyed_part: Default::default(),
            keyed: vec![waiting, frames],
            shared: Vec::new(),
        }))
    }

    async fn restore_state(&mut self, state: crate::checkpoint::OperatorState) -> Result<()> {
        use crate::ops::state::{i64_values, state_column, state_columns};
        let mut tables = state.keyed.into_iter();
        let (Some(waiting), Some(frames)) = (tables.next(), tables.next()) else {
            return Ok(());
        };
        // Frames first: replay each key's rows into fresh accumulators, oldest first.
        let m = frames.num_rows();
        if m > 0 {
            let key_cols = state_columns(&frames, "k");
            let key_rows = (!key_cols.is_empty())
                .then(|| to_rows(&self.key_conv, &key_cols))
                .transpose()?;
            let times = i64_values(state_column(&frames, "__t")?)?;
            let arg_cols: Vec<Vec<ArrayRef>> = self
                .spec
                .aggregates
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    (0..a.expr.expressions().len())
                        .map(|j| state_column(&frames, &format!("a{i}_{j}")).cloned())
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?;
            for (r, t) in times.iter().enumerate() {
                let key: Box<[u8]> = key_rows
                    .as_ref()
                    .map_or_else(|| Box::from(&[][..]), |k| k.row(r).as_ref().into());
                if !self.keys.contains_key(&key) {
                    let st = self.new_state()?;
                    self.keys.insert(key.clone(), (BTreeMap::new(), Some(st)));
                }
                let st = self
                    .keys
                    .get_mut(&key)
                    .and_then(|(_, s)| s.as_mut())
                    .expect("state created above");
                let row_args: Vec<Vec<ArrayRef>> = arg_cols
                    .iter()
                    .map(|cols| cols.iter().map(|c| c.slice(r, 1)).collect())
                    .collect();
                for (acc, a) in st.accs.iter_mut().zip(&row_args) {
                    acc.update_batch(a)?;
                }
                st.frame.push_back((*t, row_args));
            }
        }
        // Waiting rows: buffered again as one batch, in the stored order.
        let n = waiting.num_rows();
        if n > 0 {
            let rows = RecordBatch::try_new_with_options(
                Arc::clone(&self.spec.input_schema),
                waiting.columns()[1..].to_vec(),
                &RecordBatchOptions::new().with_row_count(Some(n)),
            )?;
            let times = self.spec.time.evaluate(&rows)?.into_array(n)?;
            let times = crate::time::to_millis(&times, "the ORDER BY time of an OVER window")?;
            let keys = self.eval_keys(&rows)?;
            let key_rows = (!keys.is_empty())
                .then(|| to_rows(&self.key_conv, &keys))
                .transpose()?;
            let batch = self.pending.len();
            for i in 0..n {
                let key: Box<[u8]> = key_rows
                    .as_ref()
                    .map_or_else(|| Box::from(&[][..]), |k| k.row(i).as_ref().into());
                self.keys
                    .entry(key)
                    .or_insert((BTreeMap::new(), None))
                    .0
                    .entry(times.value(i))
                    .or_default()
                    .push(RowRef {
                        batch,
                        row: i as u32,
                    });
            }
            self.pending.push(rows);
        }
        Ok(())
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        if !batch.is_insert_only() {
            return Err(RuntimeError::Data(
                "OVER aggregation doesn't support consuming update and delete changes".into(),
            ));
        }
        let n = batch.num_rows();
        let b = batch.batch;
        let times = self.spec.time.evaluate(&b)?.into_array(n)?;
        let times = crate::time::to_millis(&times, "the ORDER BY time of an OVER window")?;
        let keys = self
            .spec
            .partition_keys
            .iter()
            .map(|k| k.evaluate(&b).and_then(|v| v.into_array(n)))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let key_rows = (!keys.is_empty())
            .then(|| to_rows(&self.key_conv, &keys))
            .transpose()?;
        let batch_idx = self.pending.len();
        let mut late = 0u64;
        for i in 0..n {
            if times.is_null(i) {
                return Err(RuntimeError::Data(
                    "the ORDER BY time attribute of an OVER window is NULL".into(),
                ));
            }
            let t = times.value(i);
            if t <= self.watermark {
                late += 1;
                continue;
            }
            let row = key_rows.as_ref().map(|r| r.row(i));
            let key: &[u8] = row.as_ref().map_or(&[], |r| r.as_ref());
            let entry = match self.keys.get_mut(key) {
                Some(e) => e,
                None => self
                    .keys
                    .entry(key.into())
                    .or_insert((BTreeMap::new(), None)),
            };
            entry.0.entry(t).or_default().push(RowRef {
                batch: batch_idx,
                row: i as u32,
            });
        }
        if late > 0 {
            ctx.metrics
                .late_records_dropped
                .fetch_add(late, std::sync::atomic::Ordering::Relaxed);
        }
        self.pending.push(b);
        Ok(())
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            self.fire(t, ctx)?;
            self.watermark = t;
        }
        ctx.emit_watermark(wm);
        Ok(())
    }
}
