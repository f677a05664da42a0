//! Window Top-N and window deduplication: `ROW_NUMBER() OVER (PARTITION BY window_start,
//! window_end, … ORDER BY …)` filtered to `rn <= N` over a window TVF or a window
//! aggregation (Flink's `WindowRankOperator` / `WindowDeduplicateOperator`).
//!
//! Unlike the updating Top-N ([`super::rank`]), the result of a window is final once the
//! watermark passes the window's end, so the output is append-only: rows are buffered per
//! window end and partition, keeping only the best N (input is append-only, so a row that
//! falls out of the top N can never come back), and the watermark that reaches
//! `window_end - 1` emits them as `+I` rows with their rank number, then goes on. A row
//! whose window has fired already is late: dropped and counted, as in Flink.
//!
//! Ties in the sort key keep arrival order (the first arrival ranks first), as Flink's
//! `TopNBuffer` does; deduplication keep-last (`N = 1`, `ORDER BY <time attribute> DESC`)
//! lets the last arrival win a tie instead, as Flink's `RowTimeWindowDeduplicateProcessor`.
//!
//! State snapshots are keyed: one row per buffered row with its key group (hash of the
//! partition keys, as the exchange computes it) and window end, in rank order, so a
//! restore at any parallelism rebuilds the same buffers.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, RecordBatchOptions, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;

use crate::checkpoint::{Barrier, KEY_GROUP_COLUMN, OperatorState};
use crate::error::{Result, RuntimeError};
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{converter, expr_types, to_rows};
use crate::ops::rank::SortKey;

/// The column of snapshot rows holding the window end (epoch ms).
const WINDOW_END_COLUMN: &str = "__window_end";

/// The operator factory; see the module docs.
#[derive(Clone)]
pub struct WindowTopN {
    pub name: String,
    /// The `PARTITION BY` expressions (window_start and window_end among them).
    pub partition_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// The input's `window_end` column.
    pub window_end: Arc<dyn PhysicalExpr>,
    pub order: Vec<SortKey>,
    /// Ranks `1..=limit` are emitted.
    pub limit: usize,
    /// Deduplication keep-last: on equal sort keys the later row ranks first.
    pub last_wins_ties: bool,
    pub input_schema: SchemaRef,
    /// Input columns, then the rank number (BIGINT).
    pub schema: SchemaRef,
    /// The job's max parallelism, for the key groups of snapshot rows.
    pub max_parallelism: usize,
}

impl OperatorFactory for WindowTopN {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        let key_types = expr_types(&self.partition_keys, &self.input_schema)?;
        let sort_fields = self
            .order
            .iter()
            .map(|o| {
                Ok(SortField::new_with_options(
                    o.expr.data_type(&self.input_schema)?,
                    datafusion::arrow::compute::SortOptions {
                        descending: o.descending,
                        nulls_first: o.nulls_first,
                    },
                ))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        Ok(Box::new(WindowTopNOp {
            spec: self.clone(),
            key_conv: converter(key_types)?,
            sort_conv: RowConverter::new(sort_fields)?,
            row_conv: converter(
                self.input_schema
                    .fields()
                    .iter()
                    .map(|f| f.data_type().clone()),
            )?,
            windows: BTreeMap::new(),
            watermark: i64::MIN,
        }))
    }
}

/// The best rows of one partition of one window: sort key → rows, best first.
#[derive(Default)]
struct Partition {
    rows: BTreeMap<OwnedRow, Vec<OwnedRow>>,
    len: usize,
}

impl Partition {
    fn insert(&mut self, sort: OwnedRow, row: OwnedRow, limit: usize, last_wins_ties: bool) {
        if self.len >= limit
            && let Some((worst, _)) = self.rows.last_key_value()
            && (sort > *worst || (sort == *worst && !last_wins_ties))
        {
            // It would rank after every kept row: it can never be in the top N.
            return;
        }
        let same = self.rows.entry(sort).or_default();
        if last_wins_ties {
            same.insert(0, row);
        } else {
            same.push(row);
        }
        self.len += 1;
        if self.len > limit {
            let mut last = self.rows.last_entry().expect("not empty");
            last.get_mut().pop();
            if last.get().is_empty() {
                last.remove();
            }
            self.len -= 1;
        }
    }

    fn ranked(&self) -> impl Iterator<Item = &OwnedRow> {
        self.rows.values().flatten()
    }
}

struct WindowTopNOp {
    spec: WindowTopN,
    key_conv: RowConverter,
    sort_conv: RowConverter,
    row_conv: RowConverter,
    /// Window end (epoch ms) → partition key (row-format bytes) → its best rows.
    windows: BTreeMap<i64, HashMap<Box<[u8]>, Partition>>,
    watermark: i64,
}

impl WindowTopNOp {
    /// Buffers the rows of `batch` (append-only) except those whose window has fired.
    fn add(&mut self, batch: &RecordBatch, drop_late: bool) -> Result<usize> {
        let n = batch.num_rows();
        let eval = |e: &Arc<dyn PhysicalExpr>| e.evaluate(batch).and_then(|v| v.into_array(n));
        let keys = self
            .spec
            .partition_keys
            .iter()
            .map(eval)
            .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
        let sorts = self
            .spec
            .order
            .iter()
            .map(|o| eval(&o.expr))
            .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
        let ends = crate::time::to_millis(&eval(&self.spec.window_end)?, "window_end")?;
        let key_rows = to_rows(&self.key_conv, &keys)?;
        let sort_rows = self.sort_conv.convert_columns(&sorts)?;
        let rows = to_rows(&self.row_conv, batch.columns())?;
        let mut late = 0;
        for i in 0..n {
            if ends.is_null(i) {
                return Err(RuntimeError::Data(
                    "window Top-N: a row has a NULL window_end".into(),
                ));
            }
            let end = ends.value(i);
            if drop_late && end - 1 <= self.watermark {
                late += 1;
                continue;
            }
            self.windows
                .entry(end)
                .or_default()
                .entry(key_rows.row(i).as_ref().into())
                .or_default()
                .insert(
                    sort_rows.row(i).owned(),
                    rows.row(i).owned(),
                    self.spec.limit,
                    self.spec.last_wins_ties,
                );
        }
        Ok(late)
    }

    /// The rows of `windows` in rank order with their rank numbers, as one batch.
    fn ranked_batch<'a>(
        &self,
        windows: impl Iterator<Item = &'a HashMap<Box<[u8]>, Partition>>,
    ) -> Result<Option<(RecordBatch, Vec<i64>)>> {
        let mut rows = Vec::new();
        let mut ranks = Vec::new();
        for parts in windows {
            for part in parts.values() {
                for (rank, row) in part.ranked().enumerate() {
                    rows.push(row.row());
                    ranks.push(rank as i64 + 1);
                }
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let columns = self.row_conv.convert_rows(rows)?;
        let batch = RecordBatch::try_new_with_options(
            Arc::clone(&self.spec.input_schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(ranks.len())),
        )?;
        Ok(Some((batch, ranks)))
    }

    fn snapshot_schema(&self) -> SchemaRef {
        let mut fields = vec![
            Arc::new(Field::new(KEY_GROUP_COLUMN, DataType::UInt32, false)),
            Arc::new(Field::new(WINDOW_END_COLUMN, DataType::Int64, false)),
        ];
        fields.extend(self.spec.input_schema.fields().iter().cloned());
        Arc::new(Schema::new(fields))
    }
}

#[async_trait]
impl Operator for WindowTopNOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        if !batch.is_insert_only() {
            return Err(RuntimeError::Internal(format!(
                "{} received updates; its input must be append-only",
                self.spec.name
            )));
        }
        let late = self.add(&batch.batch, true)?;
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
            if let Some((batch, ranks)) = self.ranked_batch(fired.values())? {
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(Int64Array::from(ranks)));
                let columns = columns
                    .into_iter()
                    .zip(self.spec.schema.fields())
                    .map(|(c, f)| {
                        if c.data_type() == f.data_type() {
                            Ok(c)
                        } else {
                            Ok(datafusion::arrow::compute::cast(&c, f.data_type())?)
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                let out = RecordBatch::try_new_with_options(
                    Arc::clone(&self.spec.schema),
                    columns,
                    &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
                )?;
                ctx.emit(StreamBatch::inserts(out));
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
        for (end, parts) in &self.windows {
            let Some((batch, _)) = self.ranked_batch(std::iter::once(parts))? else {
                continue;
            };
            let groups = crate::exchange::key_groups(
                &self.spec.partition_keys,
                &batch,
                self.spec.max_parallelism,
            )?;
            let mut columns: Vec<ArrayRef> = vec![
                Arc::new(UInt32Array::from_iter_values(
                    groups.into_iter().map(|g| g as u32),
                )),
                Arc::new(Int64Array::from(vec![*end; batch.num_rows()])),
            ];
            columns.extend(batch.columns().iter().cloned());
            keyed.push(RecordBatch::try_new(self.snapshot_schema(), columns)?);
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
            if b.schema().field(1).name() != WINDOW_END_COLUMN {
                return Err(RuntimeError::Internal(format!(
                    "{}: snapshot batch without {WINDOW_END_COLUMN}",
                    self.spec.name
                )));
            }
            let mut rows = RecordBatch::try_new(
                Arc::clone(&self.spec.input_schema),
                b.columns()[2..].to_vec(),
            )?;
            // Rows are in rank order, so inserting them in order rebuilds each buffer with its
            // ties in the same order; keep-last inserts a tie at the front, so it gets them
            // reversed. (Each row's window end is its own window_end column.)
            if self.spec.last_wins_ties {
                let idx = UInt32Array::from_iter_values((0..rows.num_rows() as u32).rev());
                rows = RecordBatch::try_new(
                    rows.schema(),
                    rows.columns()
                        .iter()
                        .map(|c| datafusion::arrow::compute::take(c, &idx, None))
                        .collect::<std::result::Result<Vec<_>, _>>()?,
                )?;
            }
            self.add(&rows, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, StringArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::arrow::datatypes::TimeUnit;
    use datafusion::physical_expr::expressions::Column;

    use super::*;
    use crate::message::Message;
    use crate::metrics::TaskMetrics;

    fn input_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(
                "window_end",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new("k", DataType::Utf8, false),
            Field::new("v", DataType::Int64, false),
        ]))
    }

    fn spec(limit: usize, descending: bool, last_wins_ties: bool) -> WindowTopN {
        let col = |name: &str, i: usize| Arc::new(Column::new(name, i)) as Arc<dyn PhysicalExpr>;
        let mut fields: Vec<_> = input_schema().fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("rn", DataType::Int64, false)));
        WindowTopN {
            name: "WindowRank".into(),
            partition_keys: vec![col("window_end", 0), col("k", 1)],
            window_end: col("window_end", 0),
            order: vec![SortKey {
                expr: col("v", 2),
                descending,
                nulls_first: false,
            }],
            limit,
            last_wins_ties,
            input_schema: input_schema(),
            schema: Arc::new(Schema::new(fields)),
            max_parallelism: 128,
        }
    }

    /// `rows`: `end k v` per line.
    fn batch(rows: &str) -> StreamBatch {
        let parsed: Vec<(i64, &str, i64)> = rows
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].parse().unwrap(), f[1], f[2].parse().unwrap())
            })
            .collect();
        StreamBatch::inserts(
            RecordBatch::try_new(
                input_schema(),
                vec![
                    Arc::new(TimestampMillisecondArray::from(
                        parsed.iter().map(|r| r.0).collect::<Vec<_>>(),
                    )),
                    Arc::new(StringArray::from(
                        parsed.iter().map(|r| r.1).collect::<Vec<_>>(),
                    )),
                    Arc::new(Int64Array::from(
                        parsed.iter().map(|r| r.2).collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap(),
        )
    }

    fn ctx() -> OperatorContext {
        OperatorContext::new(0, 1, Arc::new(TaskMetrics::new("t", 0, false, false)))
    }

    /// The emitted rows as sorted `end k v rn` lines.
    fn rendered(ctx: &mut OperatorContext) -> Vec<String> {
        let mut out = Vec::new();
        for m in ctx.take_output() {
            if let Message::Data(b) = m {
                assert!(b.kinds.is_none(), "window Top-N output is append-only");
                let b = b.batch;
                for i in 0..b.num_rows() {
                    out.push(format!(
                        "{} {} {} {}",
                        b.column(0)
                            .as_primitive::<datafusion::arrow::datatypes::TimestampMillisecondType>(
                            )
                            .value(i),
                        b.column(1).as_string::<i32>().value(i),
                        b.column(2).as_primitive::<Int64Type>().value(i),
                        b.column(3).as_primitive::<Int64Type>().value(i),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn fires_top_n_per_window_and_partition_at_the_watermark() {
        let mut op = spec(2, true, false).create(0, 1).unwrap();
        let mut c = ctx();
        op.process_batch(batch("10 a 1\n10 a 5\n10 b 2\n20 a 9\n10 a 3"), &mut c)
            .await
            .unwrap();
        op.process_watermark(Watermark::EventTime(8), &mut c)
            .await
            .unwrap();
        assert!(
            rendered(&mut c).is_empty(),
            "window 10 is not complete at 8"
        );
        op.process_watermark(Watermark::EventTime(9), &mut c)
            .await
            .unwrap();
        assert_eq!(rendered(&mut c), ["10 a 3 2", "10 a 5 1", "10 b 2 1"]);
        // Late for window 10 now: dropped and counted.
        op.process_batch(batch("10 a 100"), &mut c).await.unwrap();
        assert_eq!(
            c.metrics
                .late_records_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        op.process_watermark(Watermark::MAX, &mut c).await.unwrap();
        assert_eq!(rendered(&mut c), ["20 a 9 1"]);
    }

    #[tokio::test]
    async fn ties_keep_first_arrival_or_last_for_dedup_keep_last() {
        for (last_wins, expected) in [(false, "10 a 7 1"), (true, "10 c 7 1")] {
            let mut s = spec(1, true, last_wins);
            // One partition per window: rows of different k tie on v.
            s.partition_keys.truncate(1);
            let mut op = s.create(0, 1).unwrap();
            let mut c = ctx();
            op.process_batch(batch("10 a 7\n10 b 7\n10 x 1"), &mut c)
                .await
                .unwrap();
            op.process_batch(batch("10 c 7"), &mut c).await.unwrap();
            op.process_watermark(Watermark::MAX, &mut c).await.unwrap();
            assert_eq!(rendered(&mut c), [expected]);
        }
    }

    /// Snapshot, restore into a new operator, go on: the result is the one without the
    /// checkpoint (nothing lost, nothing duplicated).
    #[tokio::test]
    async fn snapshot_and_restore_keep_the_buffers() {
        let input1 = "10 a 1\n10 a 5\n10 b 2\n20 a 9";
        let input2 = "10 a 3\n20 a 4\n20 a 10";
        let mut reference = spec(2, true, false).create(0, 1).unwrap();
        let mut c = ctx();
        reference
            .process_batch(batch(input1), &mut c)
            .await
            .unwrap();
        reference
            .process_batch(batch(input2), &mut c)
            .await
            .unwrap();
        reference
            .process_watermark(Watermark::MAX, &mut c)
            .await
            .unwrap();
        let expected = rendered(&mut c);

        let mut first = spec(2, true, false).create(0, 1).unwrap();
        let mut c = ctx();
        first.process_batch(batch(input1), &mut c).await.unwrap();
        let barrier = Barrier {
            id: 1,
            timestamp_ms: 0,
            kind: crate::checkpoint::BarrierKind::Checkpoint,
            increment: Default::default(),
        };
        let state = first
            .snapshot_state(&barrier, &mut c)
            .await
            .unwrap()
            .unwrap();
        assert!(
            state
                .keyed
                .iter()
                .all(|b| b.column(0).data_type() == &DataType::UInt32)
        );
        let mut second = spec(2, true, false).create(0, 1).unwrap();
        second.restore_state(state).await.unwrap();
        let mut c = ctx();
        second.process_batch(batch(input2), &mut c).await.unwrap();
        second
            .process_watermark(Watermark::MAX, &mut c)
            .await
            .unwrap();
        assert_eq!(rendered(&mut c), expected);
        assert_eq!(
            expected,
            ["10 a 3 2", "10 a 5 1", "10 b 2 1", "20 a 10 1", "20 a 9 2"]
        );
    }

    /// Keep-last ties survive a restore: the later of two equal rows still wins.
    #[tokio::test]
    async fn restore_keeps_the_order_of_ties() {
        let mut s = spec(2, true, true);
        s.partition_keys.truncate(1);
        let mut first = s.create(0, 1).unwrap();
        let mut c = ctx();
        first
            .process_batch(batch("10 a 7\n10 b 7\n10 c 7"), &mut c)
            .await
            .unwrap();
        let barrier = Barrier {
            id: 1,
            timestamp_ms: 0,
            kind: crate::checkpoint::BarrierKind::Checkpoint,
            increment: Default::default(),
        };
        let state = first
            .snapshot_state(&barrier, &mut c)
            .await
            .unwrap()
            .unwrap();
        let mut second = s.create(0, 1).unwrap();
        second.restore_state(state).await.unwrap();
        second
            .process_watermark(Watermark::MAX, &mut c)
            .await
            .unwrap();
        assert_eq!(rendered(&mut c), ["10 b 7 2", "10 c 7 1"]);
    }
}
