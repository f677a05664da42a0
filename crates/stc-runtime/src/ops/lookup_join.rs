//! Lookup join (`JOIN dim FOR SYSTEM_TIME AS OF o.proc_time ON o.k = dim.k`): each probe
//! row is enriched with the rows a dimension table holds for its key *when the row passes*
//! (Flink's `LookupJoinRunner` / `AsyncLookupJoinRunner`).
//!
//! One lookup is issued per input batch (the connector batches the keys into one query and
//! caches). Up to [`MAX_IN_FLIGHT`] batches are looked up concurrently, each with a lookup
//! source of its own (the connectors share one cache among a subtask's sources), and their results are emitted in input order (Flink's default
//! `ORDERED` async output mode), so a slow store overlaps with processing instead of
//! serialising it. A watermark or the end of input first drains every lookup in flight, so
//! rows are never overtaken by a watermark.
//!
//! The row kind of the probe row is kept (a lookup join may run on an updating input).
//! Probe rows with a NULL key never match; a LEFT lookup join pads unmatched rows with NULLs.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int8Array, RecordBatch, RecordBatchOptions, UInt32Array,
    new_null_array,
};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, take};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;
use futures::future::BoxFuture;

use crate::error::{Result, RuntimeError};
use crate::lookup::{LookupResult, LookupSource, LookupSourceFactory};
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};

/// Batches looked up concurrently per subtask.
pub const MAX_IN_FLIGHT: usize = 4;

/// The operator factory; see the module docs.
#[derive(Clone)]
pub struct LookupJoin {
    pub name: String,
    /// LEFT (true) or INNER (false) join.
    pub left_outer: bool,
    pub factory: Arc<dyn LookupSourceFactory>,
    /// Probe-side key expressions, in the order of `factory.key_columns()`.
    pub probe_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// For each column of the join's right side, its index in `factory.schema()`.
    pub dim_columns: Vec<usize>,
    /// Residual condition over the joined row (probe columns, then right-side columns).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// The joined row: probe columns, then right-side columns.
    pub schema: SchemaRef,
}

impl OperatorFactory for LookupJoin {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, subtask: usize, parallelism: usize) -> Result<Box<dyn Operator>> {
        let idle = (0..MAX_IN_FLIGHT)
            .map(|_| self.factory.create(subtask, parallelism))
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(LookupJoinOp {
            spec: Arc::new(self.clone()),
            idle,
            in_flight: VecDeque::new(),
        }))
    }
}

type Pending = BoxFuture<'static, (Box<dyn LookupSource>, Result<StreamBatch>)>;

struct LookupJoinOp {
    spec: Arc<LookupJoin>,
    idle: Vec<Box<dyn LookupSource>>,
    in_flight: VecDeque<Pending>,
}

impl LookupJoinOp {
    /// Waits for the oldest lookup in flight and emits its rows.
    async fn complete_oldest(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        if let Some(fut) = self.in_flight.pop_front() {
            let (source, result) = fut.await;
            self.idle.push(source);
            ctx.emit(result?);
        }
        Ok(())
    }

    async fn drain(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.complete_oldest(ctx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for LookupJoinOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        if self.idle.is_empty() {
            self.complete_oldest(ctx).await?;
        }
        let mut source = self
            .idle
            .pop()
            .ok_or_else(|| RuntimeError::Internal("no idle lookup source".into()))?;
        let spec = Arc::clone(&self.spec);
        self.in_flight.push_back(Box::pin(async move {
            let result = join_batch(&spec, source.as_mut(), batch).await;
            (source, result)
        }));
        Ok(())
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        self.drain(ctx).await?;
        ctx.emit_watermark(wm);
        Ok(())
    }

    async fn finish(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.drain(ctx).await
    }

    /// No state (the lookup cache is not checkpointed, as in Flink): lookups in flight are
    /// completed so their rows go downstream before the barrier.
    async fn snapshot_state(
        &mut self,
        _barrier: &crate::checkpoint::Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<crate::checkpoint::OperatorState>> {
        self.drain(ctx).await?;
        Ok(None)
    }
}

/// Looks up one probe batch and builds the joined rows.
async fn join_batch(
    spec: &LookupJoin,
    source: &mut dyn LookupSource,
    probe: StreamBatch,
) -> Result<StreamBatch> {
    let n = probe.num_rows();
    let keys = spec
        .probe_keys
        .iter()
        .map(|k| k.evaluate(&probe.batch).and_then(|v| v.into_array(n)))
        .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
    // Rows whose key has a NULL never match: they are not sent to the store.
    let valid: Vec<u32> = (0..n as u32)
        .filter(|&i| keys.iter().all(|k| k.is_valid(i as usize)))
        .collect();
    let (probe_idx, dim_rows): (Vec<u32>, Option<RecordBatch>) = if valid.is_empty() {
        (vec![], None)
    } else {
        let sel = UInt32Array::from(valid.clone());
        let key_cols = keys
            .iter()
            .map(|k| take(k.as_ref(), &sel, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let key_schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
            spec.factory
                .key_columns()
                .iter()
                .zip(&key_cols)
                .map(|(name, c)| {
                    datafusion::arrow::datatypes::Field::new(name, c.data_type().clone(), true)
                })
                .collect::<Vec<_>>(),
        ));
        let key_batch = RecordBatch::try_new_with_options(
            key_schema,
            key_cols,
            &RecordBatchOptions::new().with_row_count(Some(valid.len())),
        )?;
        let LookupResult { key_indices, rows } = source.lookup(&key_batch).await?;
        let probe_idx = key_indices
            .values()
            .iter()
            .map(|&k| valid[k as usize])
            .collect();
        let rows = rows.project(&spec.dim_columns)?;
        (probe_idx, Some(rows))
    };

    // Matched rows, then the residual condition.
    let right_fields = spec.schema.fields().len() - probe.batch.num_columns();
    let probe_sel = UInt32Array::from(probe_idx.clone());
    let mut columns: Vec<ArrayRef> = probe
        .batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &probe_sel, None))
        .collect::<std::result::Result<_, _>>()?;
    match &dim_rows {
        Some(rows) => columns.extend(rows.columns().iter().cloned()),
        None => columns.extend(
            spec.schema.fields()[probe.batch.num_columns()..]
                .iter()
                .map(|f| new_null_array(f.data_type(), 0)),
        ),
    }
    debug_assert_eq!(columns.len(), probe.batch.num_columns() + right_fields);
    let columns = cast_to_schema(columns, &spec.schema)?;
    let mut joined = RecordBatch::try_new_with_options(
        Arc::clone(&spec.schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(probe_idx.len())),
    )?;
    let mut probe_idx = probe_idx;
    if let Some(f) = &spec.filter {
        let mask = f.evaluate(&joined)?.into_array(joined.num_rows())?;
        let mask = crate::ops::changelog::null_as_false(mask.as_boolean());
        joined = filter_record_batch(&joined, &mask)?;
        probe_idx = probe_idx
            .into_iter()
            .enumerate()
            .filter(|(i, _)| mask.value(*i))
            .map(|(_, p)| p)
            .collect();
    }

    // LEFT: probe rows without a surviving match, padded with NULLs.
    let mut out_idx = probe_idx;
    if spec.left_outer {
        let mut matched = vec![false; n];
        for &p in &out_idx {
            matched[p as usize] = true;
        }
        let unmatched: Vec<u32> = (0..n as u32).filter(|&i| !matched[i as usize]).collect();
        if !unmatched.is_empty() {
            let sel = UInt32Array::from(unmatched.clone());
            let mut cols: Vec<ArrayRef> = probe
                .batch
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &sel, None))
                .collect::<std::result::Result<_, _>>()?;
            cols.extend(
                spec.schema.fields()[probe.batch.num_columns()..]
                    .iter()
                    .map(|f| new_null_array(f.data_type(), unmatched.len())),
            );
            let padded = RecordBatch::try_new_with_options(
                Arc::clone(&spec.schema),
                cols,
                &RecordBatchOptions::new().with_row_count(Some(unmatched.len())),
            )?;
            joined = concat_batches(&spec.schema, [&joined, &padded])?;
            out_idx.extend(unmatched);
        }
    }
    // Back to input order, so that the changes of one key (e.g. -U then +U) keep their order.
    if out_idx.windows(2).any(|w| w[0] > w[1]) {
        let mut perm: Vec<u32> = (0..out_idx.len() as u32).collect();
        perm.sort_by_key(|&i| out_idx[i as usize]);
        let perm = UInt32Array::from(perm);
        joined = datafusion::arrow::compute::take_record_batch(&joined, &perm)?;
        out_idx = perm.values().iter().map(|&i| out_idx[i as usize]).collect();
    }
    let kinds = match &probe.kinds {
        None => None,
        Some(k) => Some(Arc::new(Int8Array::from(
            take(k.as_ref(), &UInt32Array::from(out_idx), None)?
                .as_primitive::<datafusion::arrow::datatypes::Int8Type>()
                .clone(),
        ))),
    };
    Ok(StreamBatch {
        batch: joined,
        kinds,
    })
}

fn cast_to_schema(columns: Vec<ArrayRef>, schema: &SchemaRef) -> Result<Vec<ArrayRef>> {
    columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c)
            } else {
                Ok(datafusion::arrow::compute::cast(&c, f.data_type())?)
            }
        })
        .collect()
}
