//! Top-N: `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)` filtered to `rn <= N` (Flink's
//! `Rank` operator; with N = 1 and a time ordering it is deduplication).
//!
//! State per partition: the rows ordered by the sort key (Arrow's row format encodes the
//! `ORDER BY` with its directions and NULL ordering, so byte order is sort order); rows
//! with equal sort keys keep their arrival order, so `ORDER BY ts` with ties keeps the
//! first arrival (dedup keep-first). After each input row the operator compares the top N
//! positions before and after and emits, per changed position, `-U[old, rn]` / `+U[new,
//! rn]` (`+I` when the position was empty, `-D` when it empties): the updating Top-N
//! changelog with the rank number, as Flink emits it when `rn` is selected. The input may
//! itself be updating (retractions remove one equal row).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;
use stc_common::RowKind;

use crate::checkpoint::{Barrier, OperatorState};
use crate::error::Result;
use crate::message::StreamBatch;
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{ChangeBuilder, converter, expr_types, to_rows};
use crate::ops::state::{eval_all, restored_rows, rows_state};

/// One `ORDER BY` expression of the ranking.
#[derive(Clone)]
pub struct SortKey {
    pub expr: Arc<dyn PhysicalExpr>,
    pub descending: bool,
    pub nulls_first: bool,
}

/// The operator factory; see the module docs.
#[derive(Clone)]
pub struct TopN {
    pub name: String,
    pub partition_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub order: Vec<SortKey>,
    /// Rows `1..=limit` are kept.
    pub limit: usize,
    pub input_schema: SchemaRef,
    /// Input columns, then the rank number (BIGINT).
    pub schema: SchemaRef,
    /// The input is insert-only: a row ranked below N can never rise again (nothing above it
    /// is retracted), so only the top N rows per partition are kept (Flink's
    /// `AppendOnlyTopNFunction`); otherwise every row is kept for retractions.
    pub append_only: bool,
}

impl OperatorFactory for TopN {
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
        let row_conv = converter(
            self.input_schema
                .fields()
                .iter()
                .map(|f| f.data_type().clone()),
        )?;
        Ok(Box::new(TopNOp {
            spec: self.clone(),
            key_conv: converter(key_types)?,
            sort_conv: RowConverter::new(sort_fields)?,
            partitions: HashMap::new(),
            before: row_conv.empty_rows(0, 0),
            after: row_conv.empty_rows(0, 0),
            row_conv,
        }))
    }
}

/// One partition: sort key → rows with that key, in arrival order.
type Partition = BTreeMap<OwnedRow, Vec<OwnedRow>>;

struct TopNOp {
    spec: TopN,
    key_conv: RowConverter,
    sort_conv: RowConverter,
    row_conv: RowConverter,
    /// Keyed by the partition key's bytes in Arrow's row format.
    partitions: HashMap<Box<[u8]>, Partition>,
    /// The top rows of the partition being changed, before and after the change.
    before: Rows,
    after: Rows,
}

/// Drops the rows ranked below `n` (the last arrivals of the greatest sort keys).
fn evict_below(p: &mut Partition, n: usize) {
    let mut count: usize = p.values().map(Vec::len).sum();
    while count > n {
        let Some(mut last) = p.last_entry() else {
            return;
        };
        last.get_mut().pop();
        if last.get().is_empty() {
            last.remove();
        }
        count -= 1;
    }
}

/// Row `rank` of `rows`, if there is one.
fn at(rows: &Rows, rank: usize) -> Option<datafusion::arrow::row::Row<'_>> {
    (rank < rows.num_rows()).then(|| rows.row(rank))
}

/// Copies the first `n` rows of `p` into `out` (cleared first): the ranks before or after a
/// change, compared position by position. A reused buffer, not a vector of `OwnedRow`
/// clones (an allocation and a reference count per rank, twice per input row).
fn top_into(p: &Partition, n: usize, out: &mut Rows) {
    out.clear();
    for r in p.values().flatten().take(n) {
        out.push(r.row());
    }
}

#[async_trait]
impl Operator for TopNOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        let n = batch.num_rows();
        let eval = |exprs: &mut dyn Iterator<Item = &Arc<dyn PhysicalExpr>>| {
            exprs
                .map(|e| e.evaluate(&batch.batch).and_then(|v| v.into_array(n)))
                .collect::<datafusion::error::Result<Vec<ArrayRef>>>()
        };
        let keys = eval(&mut self.spec.partition_keys.iter())?;
        let sorts = eval(&mut self.spec.order.iter().map(|o| &o.expr))?;
        let key_rows = to_rows(&self.key_conv, &keys)?;
        let sort_rows = self.sort_conv.convert_columns(&sorts)?;
        let rows = to_rows(&self.row_conv, batch.batch.columns())?;
        let mut out = ChangeBuilder::new(Arc::clone(&self.spec.schema), &[&self.row_conv], 1);
        let limit = self.spec.limit;
        for i in 0..n {
            let key = key_rows.row(i);
            let row = rows.row(i);
            let part = match self.partitions.get_mut(key.as_ref()) {
                Some(p) => p,
                None if batch.kind(i).is_addition() => {
                    self.partitions.entry(key.as_ref().into()).or_default()
                }
                // Retraction of a row this operator never saw (e.g. expired state).
                None => continue,
            };
            let sort_row = sort_rows.row(i);
            if self.spec.append_only
                && part.values().map(Vec::len).sum::<usize>() >= limit
                && part
                    .last_key_value()
                    .is_some_and(|(last, _)| sort_row >= last.row())
            {
                // Full, and the row sorts after (or ties with, arriving later than) the
                // last kept row: it ranks below N.
                continue;
            }
            top_into(part, limit, &mut self.before);
            let sort_key = sort_row.owned();
            if batch.kind(i).is_addition() {
                part.entry(sort_key).or_default().push(row.owned());
                if self.spec.append_only {
                    evict_below(part, limit);
                }
            } else if let Some(same) = part.get_mut(&sort_key) {
                if let Some(pos) = same.iter().position(|r| r.row() == row) {
                    same.remove(pos);
                }
                if same.is_empty() {
                    part.remove(&sort_key);
                }
            }
            top_into(part, limit, &mut self.after);
            if part.is_empty() {
                self.partitions.remove(key.as_ref());
            }
            let (before, after) = (&self.before, &self.after);
            for rank in 0..limit.max(before.num_rows()).max(after.num_rows()) {
                let rn = [ScalarValue::Int64(Some(rank as i64 + 1))];
                match (at(before, rank), at(after, rank)) {
                    (Some(b), Some(a)) if b == a => {}
                    (Some(b), Some(a)) => {
                        out.push(RowKind::UpdateBefore, &[b], &rn);
                        out.push(RowKind::UpdateAfter, &[a], &rn);
                    }
                    (None, Some(a)) => out.push(RowKind::Insert, &[a], &rn),
                    (Some(b), None) => out.push(RowKind::Delete, &[b], &rn),
                    (None, None) => break,
                }
            }
        }
        if let Some(b) = out.take(&[&self.row_conv])? {
            ctx.emit(b);
        }
        Ok(())
    }

    /// One keyed table: every stored row (input columns), partition by partition in sort
    /// order, ties in arrival order, so that a restore rebuilds the same order.
    async fn snapshot_state(
        &mut self,
        _barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        let all: Vec<&OwnedRow> = self
            .partitions
            .values()
            .flat_map(|p| p.values().flatten())
            .collect();
        let cols = self.row_conv.convert_rows(all.iter().map(|r| r.row()))?;
        Ok(Some(rows_state(
            &self.spec.input_schema,
            cols,
            &self.spec.partition_keys,
            ctx.max_parallelism,
        )?))
    }

    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        let Some(rows) = restored_rows(&self.spec.input_schema, state, &self.spec.name)? else {
            return Ok(());
        };
        let n = rows.num_rows();
        let keys = eval_all(&self.spec.partition_keys, &rows)?;
        let order: Vec<_> = self
            .spec
            .order
            .iter()
            .map(|o| Arc::clone(&o.expr))
            .collect();
        let sorts = eval_all(&order, &rows)?;
        let key_rows = to_rows(&self.key_conv, &keys)?;
        let sort_rows = self.sort_conv.convert_columns(&sorts)?;
        let row_conv = to_rows(&self.row_conv, rows.columns())?;
        for i in 0..n {
            self.partitions
                .entry(key_rows.row(i).as_ref().into())
                .or_default()
                .entry(sort_rows.row(i).owned())
                .or_default()
                .push(row_conv.row(i).owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::physical_expr::expressions::Column;

    use super::*;
    use crate::message::Message;
    use crate::metrics::TaskMetrics;

    fn top2(append_only: bool) -> Box<dyn Operator> {
        let input = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let mut fields: Vec<Field> = input.fields().iter().map(|f| (**f).clone()).collect();
        fields.push(Field::new("rn", DataType::Int64, false));
        TopN {
            name: "Rank".into(),
            partition_keys: vec![Arc::new(Column::new("k", 0))],
            order: vec![SortKey {
                expr: Arc::new(Column::new("v", 1)),
                descending: true,
                nulls_first: false,
            }],
            limit: 2,
            input_schema: input,
            schema: Arc::new(Schema::new(fields)),
            append_only,
        }
        .create(0, 1)
        .unwrap()
    }

    fn rows(values: &[i64]) -> StreamBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        StreamBatch::inserts(
            RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(Int64Array::from(vec![1; values.len()])),
                    Arc::new(Int64Array::from(values.to_vec())),
                ],
            )
            .unwrap(),
        )
    }

    /// Over insert-only input only the top N rows stay in state, and the changelog is the
    /// one the keep-everything operator emits.
    #[tokio::test]
    async fn append_only_top_n_keeps_only_n_rows_and_emits_the_same_changes() {
        let mut changes = Vec::new();
        let mut stored = Vec::new();
        for append_only in [false, true] {
            let mut op = top2(append_only);
            let mut ctx =
                OperatorContext::new(0, 1, Arc::new(TaskMetrics::new("t", 0, false, false)));
            op.process_batch(rows(&[5, 3, 9, 1, 9, 7, 2]), &mut ctx)
                .await
                .unwrap();
            let out: Vec<(i8, i64, i64)> = ctx
                .take_output()
                .into_iter()
                .flat_map(|m| match m {
                    Message::Data(b) => (0..b.num_rows())
                        .map(|i| {
                            (
                                b.kind(i) as i8,
                                b.batch.column(1).as_primitive::<Int64Type>().value(i),
                                b.batch.column(2).as_primitive::<Int64Type>().value(i),
                            )
                        })
                        .collect::<Vec<_>>(),
                    _ => vec![],
                })
                .collect();
            changes.push(out);
            let state = op
                .snapshot_state(
                    &Barrier {
                        id: 1,
                        timestamp_ms: 0,
                        kind: crate::checkpoint::BarrierKind::Checkpoint,
                        increment: Default::default(),
                    },
                    &mut ctx,
                )
                .await
                .unwrap()
                .unwrap();
            stored.push(state.keyed[0].num_rows());
        }
        assert_eq!(changes[0], changes[1]);
        assert_eq!(stored, [7, 2], "every row, or only the top 2");
        // The second 9 ties with the first and arrived later: it ranks 2nd, 5 leaves.
        assert_eq!(changes[1].last().map(|c| c.1), Some(9));
    }
}
