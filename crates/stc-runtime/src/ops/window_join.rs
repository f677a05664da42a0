//! Window joins: two window TVFs joined on `window_start`, `window_end` and keys (INNER,
//! LEFT, RIGHT, FULL, and semi/anti for `IN` / `EXISTS`), as Flink's `WindowJoinOperator`.
//!
//! Each side's rows are buffered per window end. When the combined watermark of both inputs
//! reaches `window_end - 1`, the window's two buffers are hash-joined once and dropped: the
//! result of a window is final, so the output is append-only (`+I`), outer rows padded with
//! NULLs included. A row whose window has fired already is late: dropped and counted, as
//! in Flink. Keys with a NULL never match (SQL equality) unless the join compares with
//! `IS NOT DISTINCT FROM`.
//!
//! State snapshots are keyed: every buffered row with its side, key group (hash of the
//! join keys, as the exchange computes it) and window end.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, RecordBatchOptions,
    UInt8Array, UInt32Array, new_null_array,
};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, take};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, UInt8Type};
use datafusion::arrow::row::RowConverter;
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;

use crate::checkpoint::{Barrier, KEY_GROUP_COLUMN, OperatorState};
use crate::error::{Result, RuntimeError};
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{converter, expr_types, null_as_false, to_rows};
use crate::ops::join::JoinKind;

const SIDE_COLUMN: &str = "__side";
const WINDOW_END_COLUMN: &str = "__window_end";

/// The operator factory; see the module docs. Input 0 is the left side, input 1 the right.
#[derive(Clone)]
pub struct WindowJoin {
    pub name: String,
    pub kind: JoinKind,
    /// Equality keys (the window columns among them), per side.
    pub left_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub right_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Each side's `window_end` column.
    pub left_window_end: Arc<dyn PhysicalExpr>,
    pub right_window_end: Arc<dyn PhysicalExpr>,
    pub null_equals_null: bool,
    /// The rest of the `ON` condition, over `joined_schema` (left columns, then right).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    pub left_schema: SchemaRef,
    pub right_schema: SchemaRef,
    pub joined_schema: SchemaRef,
    /// The output: `joined_schema`, or the left columns for semi/anti joins.
    pub schema: SchemaRef,
    pub max_parallelism: usize,
}

impl OperatorFactory for WindowJoin {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        let key_types = expr_types(&self.left_keys, &self.left_schema)?;
        Ok(Box::new(WindowJoinOp {
            spec: self.clone(),
            key_conv: converter(key_types)?,
            windows: BTreeMap::new(),
            watermark: i64::MIN,
        }))
    }
}

/// One window's buffered rows, per side.
#[derive(Default)]
struct Buffers {
    sides: [Vec<RecordBatch>; 2],
}

struct WindowJoinOp {
    spec: WindowJoin,
    /// Converts either side's key columns (both sides have the same key types).
    key_conv: RowConverter,
    windows: BTreeMap<i64, Buffers>,
    watermark: i64,
}

impl WindowJoinOp {
    fn side_schema(&self, side: usize) -> &SchemaRef {
        if side == 0 {
            &self.spec.left_schema
        } else {
            &self.spec.right_schema
        }
    }

    fn keys(&self, side: usize) -> &[Arc<dyn PhysicalExpr>] {
        if side == 0 {
            &self.spec.left_keys
        } else {
            &self.spec.right_keys
        }
    }

    /// Buffers the rows of `batch` by window end; returns how many were late.
    fn add(&mut self, side: usize, batch: &RecordBatch, drop_late: bool) -> Result<usize> {
        let n = batch.num_rows();
        let end_expr = if side == 0 {
            &self.spec.left_window_end
        } else {
            &self.spec.right_window_end
        };
        let ends = crate::time::to_millis(&end_expr.evaluate(batch)?.into_array(n)?, "window_end")?;
        let mut late = 0;
        let mut by_end: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for i in 0..n {
            if ends.is_null(i) {
                return Err(RuntimeError::Data(
                    "window join: a row has a NULL window_end".into(),
                ));
            }
            let end = ends.value(i);
            if drop_late && end - 1 <= self.watermark {
                late += 1;
            } else {
                by_end.entry(end).or_default().push(i as u32);
            }
        }
        for (end, rows) in by_end {
            let rows = if rows.len() == n {
                batch.clone()
            } else {
                let idx = UInt32Array::from(rows);
                RecordBatch::try_new_with_options(
                    batch.schema(),
                    batch
                        .columns()
                        .iter()
                        .map(|c| take(c, &idx, None))
                        .collect::<std::result::Result<Vec<_>, _>>()?,
                    &RecordBatchOptions::new().with_row_count(Some(idx.len())),
                )?
            };
            self.windows.entry(end).or_default().sides[side].push(rows);
        }
        Ok(late)
    }

    /// The key rows of one side (`None` for a row whose key has a NULL that cannot match).
    fn key_bytes(&self, side: usize, batch: &RecordBatch) -> Result<Vec<Option<Vec<u8>>>> {
        let n = batch.num_rows();
        let keys = self
            .keys(side)
            .iter()
            .map(|k| k.evaluate(batch).and_then(|v| v.into_array(n)))
            .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
        let rows = to_rows(&self.key_conv, &keys)?;
        Ok((0..n)
            .map(|i| {
                let has_null = !self.spec.null_equals_null && keys.iter().any(|k| k.is_null(i));
                (!has_null).then(|| rows.row(i).as_ref().to_vec())
            })
            .collect())
    }

    /// Joins one complete window.
    fn join_window(&self, buffers: Buffers) -> Result<Option<RecordBatch>> {
        let [left, right] = buffers.sides;
        let left = concat_batches(&self.spec.left_schema, &left)?;
        let right = concat_batches(&self.spec.right_schema, &right)?;
        let (ln, rn) = (left.num_rows(), right.num_rows());
        let right_keys = self.key_bytes(1, &right)?;
        let mut table: HashMap<&[u8], Vec<u32>> = HashMap::new();
        for (j, k) in right_keys.iter().enumerate() {
            if let Some(k) = k {
                table.entry(k.as_slice()).or_default().push(j as u32);
            }
        }
        let left_keys = self.key_bytes(0, &left)?;
        // Candidate pairs by key, then the residual condition.
        let (mut li, mut ri) = (Vec::new(), Vec::new());
        for (i, k) in left_keys.iter().enumerate() {
            if let Some(matches) = k.as_ref().and_then(|k| table.get(k.as_slice())) {
                for &j in matches {
                    li.push(i as u32);
                    ri.push(j);
                }
            }
        }
        let (li, ri) = (UInt32Array::from(li), UInt32Array::from(ri));
        let mut pairs = self.pair_batch(&left, &li, &right, &ri)?;
        if let Some(f) = &self.spec.filter {
            let mask = f.evaluate(&pairs)?.into_array(pairs.num_rows())?;
            let mask = null_as_false(mask.as_boolean());
            let keep: Vec<u32> = (0..mask.len())
                .filter(|i| mask.value(*i))
                .map(|i| i as u32)
                .collect();
            let keep = UInt32Array::from(keep);
            let li2 = take(&li, &keep, None)?;
            let ri2 = take(&ri, &keep, None)?;
            pairs = filter_record_batch(&pairs, &mask)?;
            return self.assemble(
                &left,
                &right,
                pairs,
                li2.as_primitive(),
                ri2.as_primitive(),
                ln,
                rn,
            );
        }
        self.assemble(&left, &right, pairs, &li, &ri, ln, rn)
    }

    /// Left row `li[k]` next to right row `ri[k]`, as rows of the joined schema.
    fn pair_batch(
        &self,
        left: &RecordBatch,
        li: &UInt32Array,
        right: &RecordBatch,
        ri: &UInt32Array,
    ) -> Result<RecordBatch> {
        let mut columns = Vec::with_capacity(self.spec.joined_schema.fields().len());
        for c in left.columns() {
            columns.push(take(c, li, None)?);
        }
        for c in right.columns() {
            columns.push(take(c, ri, None)?);
        }
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.spec.joined_schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(li.len())),
        )?)
    }

    /// The output of a window from its matching pairs, per join kind.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        left: &RecordBatch,
        right: &RecordBatch,
        pairs: RecordBatch,
        li: &UInt32Array,
        ri: &UInt32Array,
        ln: usize,
        rn: usize,
    ) -> Result<Option<RecordBatch>> {
        let mut left_matched = vec![false; ln];
        let mut right_matched = vec![false; rn];
        li.values()
            .iter()
            .for_each(|i| left_matched[*i as usize] = true);
        ri.values()
            .iter()
            .for_each(|j| right_matched[*j as usize] = true);
        let unmatched = |m: &[bool]| -> UInt32Array {
            UInt32Array::from(
                (0..m.len())
                    .filter(|i| !m[*i])
                    .map(|i| i as u32)
                    .collect::<Vec<_>>(),
            )
        };
        let mut parts = Vec::new();
        match self.spec.kind {
            JoinKind::LeftSemi | JoinKind::LeftAnti => {
                let want = self.spec.kind == JoinKind::LeftSemi;
                let mask =
                    BooleanArray::from(left_matched.iter().map(|m| *m == want).collect::<Vec<_>>());
                let out = filter_record_batch(left, &mask)?;
                let out = RecordBatch::try_new_with_options(
                    Arc::clone(&self.spec.schema),
                    out.columns().to_vec(),
                    &RecordBatchOptions::new().with_row_count(Some(out.num_rows())),
                )?;
                return Ok((out.num_rows() > 0).then_some(out));
            }
            JoinKind::Inner => parts.push(pairs),
            JoinKind::Left | JoinKind::Right | JoinKind::Full => {
                parts.push(pairs);
                if matches!(self.spec.kind, JoinKind::Left | JoinKind::Full) {
                    parts.push(self.padded(left, &unmatched(&left_matched), 0)?);
                }
                if matches!(self.spec.kind, JoinKind::Right | JoinKind::Full) {
                    parts.push(self.padded(right, &unmatched(&right_matched), 1)?);
                }
            }
        }
        let out = concat_batches(&self.spec.schema, &parts)?;
        Ok((out.num_rows() > 0).then_some(out))
    }

    /// Rows `idx` of `side` with the other side's columns NULL.
    fn padded(&self, batch: &RecordBatch, idx: &UInt32Array, side: usize) -> Result<RecordBatch> {
        let n = idx.len();
        let mine = batch
            .columns()
            .iter()
            .map(|c| take(c, idx, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let other: Vec<ArrayRef> = self
            .side_schema(1 - side)
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), n))
            .collect();
        let columns = if side == 0 {
            mine.into_iter().chain(other).collect()
        } else {
            other.into_iter().chain(mine).collect()
        };
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.spec.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?)
    }

    fn snapshot_schema(&self, side: usize) -> SchemaRef {
        let mut fields = vec![
            Arc::new(Field::new(KEY_GROUP_COLUMN, DataType::UInt32, false)),
            Arc::new(Field::new(SIDE_COLUMN, DataType::UInt8, false)),
            Arc::new(Field::new(WINDOW_END_COLUMN, DataType::Int64, false)),
        ];
        fields.extend(self.side_schema(side).fields().iter().cloned());
        Arc::new(Schema::new(fields))
    }
}

#[async_trait]
impl Operator for WindowJoinOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        self.process_batch_from(0, batch, ctx).await
    }

    async fn process_batch_from(
        &mut self,
        input: usize,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> Result<()> {
        if !batch.is_insert_only() {
            return Err(RuntimeError::Internal(format!(
                "{} received updates; its inputs must be append-only",
                self.spec.name
            )));
        }
        let late = self.add(input.min(1), &batch.batch, true)?;
        if late > 0 {
            ctx.metrics
                .late_records_dropped
                .fetch_add(late as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            self.watermark = self.watermark.max(t);
            // Windows whose end - 1 <= t, i.e. end < t + 2, are complete.
            let open = self.windows.split_off(&t.saturating_add(2));
            let fired = std::mem::replace(&mut self.windows, open);
            for (_, buffers) in fired {
                if let Some(out) = self.join_window(buffers)? {
                    ctx.emit(StreamBatch::inserts(out));
                }
            }
        }
        ctx.emit_watermark(wm);
        Ok(())
    }

    async fn snapshot_state(
        &mut self,
        _barrier: &Barrier,
        _ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        let mut keyed = Vec::new();
        for (end, buffers) in &self.windows {
            for (side, batches) in buffers.sides.iter().enumerate() {
                for b in batches {
                    let n = b.num_rows();
                    let groups =
                        crate::exchange::key_groups(self.keys(side), b, self.spec.max_parallelism)?;
                    let mut columns: Vec<ArrayRef> = vec![
                        Arc::new(UInt32Array::from_iter_values(
                            groups.into_iter().map(|g| g as u32),
                        )),
                        Arc::new(UInt8Array::from(vec![side as u8; n])),
                        Arc::new(Int64Array::from(vec![*end; n])),
                    ];
                    columns.extend(b.columns().iter().cloned());
                    keyed.push(RecordBatch::try_new(self.snapshot_schema(side), columns)?);
                }
            }
        }
        Ok(Some(OperatorState {
            keyed_part: Default::default(),
            keyed,
            shared: vec![],
        }))
    }

    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        for b in state.keyed {
            if b.num_rows() == 0 {
                continue;
            }
            let side = b
                .column_by_name(SIDE_COLUMN)
                .and_then(|c| c.as_primitive_opt::<UInt8Type>())
                .map(|s| s.value(0) as usize)
                .ok_or_else(|| {
                    RuntimeError::Internal(format!(
                        "{}: snapshot batch without {SIDE_COLUMN}",
                        self.spec.name
                    ))
                })?;
            if b.column_by_name(WINDOW_END_COLUMN)
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
                .is_none()
            {
                return Err(RuntimeError::Internal(format!(
                    "{}: snapshot batch without {WINDOW_END_COLUMN}",
                    self.spec.name
                )));
            }
            let rows = RecordBatch::try_new(
                Arc::clone(self.side_schema(side)),
                b.columns()[3..].to_vec(),
            )?;
            // The window end is recomputed from the row's own window_end column.
            self.add(side, &rows, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{TimeUnit, TimestampMillisecondType};
    use datafusion::physical_expr::expressions::Column;

    use super::*;
    use crate::message::Message;
    use crate::metrics::TaskMetrics;

    fn side_schema(p: &str) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(
                format!("{p}end"),
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new(format!("{p}k"), DataType::Utf8, true),
        ]))
    }

    fn spec(kind: JoinKind) -> WindowJoin {
        let col = |name: &str, i: usize| Arc::new(Column::new(name, i)) as Arc<dyn PhysicalExpr>;
        let joined: Vec<_> = side_schema("l")
            .fields()
            .iter()
            .chain(side_schema("r").fields().iter())
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let joined = Arc::new(Schema::new(joined));
        WindowJoin {
            name: "WindowJoin".into(),
            kind,
            left_keys: vec![col("lend", 0), col("lk", 1)],
            right_keys: vec![col("rend", 0), col("rk", 1)],
            left_window_end: col("lend", 0),
            right_window_end: col("rend", 0),
            null_equals_null: false,
            filter: None,
            left_schema: side_schema("l"),
            right_schema: side_schema("r"),
            joined_schema: Arc::clone(&joined),
            schema: if matches!(kind, JoinKind::LeftSemi | JoinKind::LeftAnti) {
                side_schema("l")
            } else {
                joined
            },
            max_parallelism: 128,
        }
    }

    /// `end k` per line (`-` is a NULL key).
    fn batch(p: &str, rows: &str) -> StreamBatch {
        let parsed: Vec<(i64, Option<&str>)> = rows
            .lines()
            .map(|l| {
                let (e, k) = l.split_once(' ').unwrap();
                (e.parse().unwrap(), (k != "-").then_some(k))
            })
            .collect();
        StreamBatch::inserts(
            RecordBatch::try_new(
                side_schema(p),
                vec![
                    Arc::new(TimestampMillisecondArray::from(
                        parsed.iter().map(|r| r.0).collect::<Vec<_>>(),
                    )),
                    Arc::new(StringArray::from(
                        parsed.iter().map(|r| r.1).collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap(),
        )
    }

    fn ctx() -> OperatorContext {
        OperatorContext::new(0, 1, Arc::new(TaskMetrics::new("t", 0, false, false)))
    }

    fn rendered(ctx: &mut OperatorContext) -> Vec<String> {
        let mut out = Vec::new();
        for m in ctx.take_output() {
            if let Message::Data(b) = m {
                assert!(b.kinds.is_none(), "window join output is append-only");
                let b = b.batch;
                for i in 0..b.num_rows() {
                    let cells: Vec<String> = (0..b.num_columns())
                        .map(|c| {
                            let a = b.column(c);
                            if a.is_null(i) {
                                "null".to_string()
                            } else if let Some(t) = a.as_primitive_opt::<TimestampMillisecondType>()
                            {
                                t.value(i).to_string()
                            } else {
                                a.as_string::<i32>().value(i).to_string()
                            }
                        })
                        .collect();
                    out.push(cells.join(" "));
                }
            }
        }
        out.sort();
        out
    }

    async fn run(kind: JoinKind, checkpoint: bool) -> Vec<String> {
        let mut op = spec(kind).create(0, 1).unwrap();
        let mut c = ctx();
        op.process_batch_from(0, batch("l", "10 a\n10 b\n10 -\n20 a"), &mut c)
            .await
            .unwrap();
        op.process_batch_from(1, batch("r", "10 a\n10 a\n10 c\n10 -"), &mut c)
            .await
            .unwrap();
        if checkpoint {
            let barrier = Barrier {
                id: 1,
                timestamp_ms: 0,
                kind: crate::checkpoint::BarrierKind::Checkpoint,
                increment: Default::default(),
            };
            let state = op.snapshot_state(&barrier, &mut c).await.unwrap().unwrap();
            op = spec(kind).create(0, 1).unwrap();
            op.restore_state(state).await.unwrap();
        }
        op.process_watermark(Watermark::EventTime(9), &mut c)
            .await
            .unwrap();
        // Late for window 10: dropped.
        op.process_batch_from(1, batch("r", "10 b"), &mut c)
            .await
            .unwrap();
        op.process_batch_from(1, batch("r", "20 a\n20 z"), &mut c)
            .await
            .unwrap();
        op.process_watermark(Watermark::MAX, &mut c).await.unwrap();
        assert_eq!(
            c.metrics
                .late_records_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        rendered(&mut c)
    }

    #[tokio::test]
    async fn joins_each_window_once_per_kind() {
        assert_eq!(
            run(JoinKind::Inner, false).await,
            ["10 a 10 a", "10 a 10 a", "20 a 20 a"]
        );
        assert_eq!(
            run(JoinKind::Left, false).await,
            [
                "10 a 10 a",
                "10 a 10 a",
                "10 b null null",
                "10 null null null",
                "20 a 20 a"
            ]
        );
        assert_eq!(
            run(JoinKind::Full, false).await,
            [
                "10 a 10 a",
                "10 a 10 a",
                "10 b null null",
                "10 null null null",
                "20 a 20 a",
                "null null 10 c",
                "null null 10 null",
                "null null 20 z"
            ]
        );
        assert_eq!(run(JoinKind::LeftSemi, false).await, ["10 a", "20 a"]);
        assert_eq!(run(JoinKind::LeftAnti, false).await, ["10 b", "10 null"]);
    }

    #[tokio::test]
    async fn restored_state_joins_like_the_original() {
        for kind in [JoinKind::Full, JoinKind::LeftAnti] {
            assert_eq!(run(kind, true).await, run(kind, false).await);
        }
    }
}
