//! Sources: the contract between connectors and the runtime.
//!
//! A connector implements [`SourceFactory`]; the runtime asks it for one [`SourceReader`] per
//! source subtask. The factory decides how the work is divided (files, sequence ranges,
//! partitions); readers only read. The runtime adds what every source needs — computed
//! columns, the watermark, idleness, metrics — in [`SourceSpec`], so connectors stay small.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int8Type;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;

use crate::checkpoint::SplitPosition;
use crate::error::{Result, RuntimeError};
use crate::message::StreamBatch;

/// The column a changelog source's reader batches carry after the columns of
/// [`SourceFactory::schema`]: each row's `RowKind` as `i8`, never null. Only sources whose
/// factory says [`SourceFactory::produces_changelog`] have it.
pub const ROW_KIND_COLUMN: &str = "__row_kind";

/// A changelog reader batch: `batch` with `kinds` (one per row) appended as
/// [`ROW_KIND_COLUMN`].
pub fn with_row_kinds(batch: RecordBatch, kinds: &[stc_common::RowKind]) -> Result<RecordBatch> {
    use datafusion::arrow::array::{Int8Array, RecordBatchOptions};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(ROW_KIND_COLUMN, DataType::Int8, false)));
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(Int8Array::from_iter_values(
        kinds.iter().map(|k| *k as i8),
    )));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// What a source subtask reads.
#[async_trait]
pub trait SourceReader: Send {
    /// The next batch (columns in [`SourceFactory::schema`] order, then [`ROW_KIND_COLUMN`]
    /// for a changelog source), or `None` once a bounded
    /// source is exhausted. An unbounded source that has nothing right now should wait (with
    /// a timeout of its choosing) and may return an empty batch so the runtime can check for
    /// idleness.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>>;

    /// Records skipped because of `*.ignore-parse-errors` so far.
    fn skipped_records(&self) -> u64 {
        0
    }

    /// The reader's position after the last batch it returned, one entry per split it owns
    /// (finished splits included, so they are not read again). Called between batches when a
    /// checkpoint barrier is injected. A source that cannot resume returns `None`, which
    /// fails the checkpoint with its name.
    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        None
    }

    /// Checkpoint `id`, which covers the positions of [`snapshot_positions`](Self::snapshot_positions)
    /// taken at its barrier, is complete: acknowledge messages, commit offsets to a consumer
    /// group for monitoring, … The default does nothing.
    async fn notify_checkpoint_complete(&mut self, _id: u64) -> Result<()> {
        Ok(())
    }

    /// Per-split watermarks (Flink's per-partition watermarks) for a reader whose splits
    /// advance independently, like Kafka partitions: the split each row of the last batch came
    /// from. The subtask's watermark is then the minimum over its live splits of each split's
    /// own watermark, so a partition that lags behind makes no other partition's rows late.
    /// `None` (the default): the subtask's rows are one stream.
    fn last_batch_splits(&mut self) -> Option<Vec<u32>> {
        None
    }

    /// With per-split watermarks: the splits the reader currently reads (not finished). One
    /// that has produced nothing yet holds the watermark back until it is idle
    /// (`table.exec.source.idle-timeout`), as in Flink.
    fn live_splits(&self) -> Vec<u32> {
        Vec::new()
    }
}

/// The watermark state of one source subtask with per-split watermarks.
#[derive(Debug, Default)]
pub(crate) struct SplitWatermarks {
    /// The largest watermark-expression value seen per split.
    max: std::collections::HashMap<u32, i64>,
    /// When each split last produced a row (or was first seen).
    last_data: std::collections::HashMap<u32, std::time::Instant>,
}

impl SplitWatermarks {
    /// Records the rows of a batch: `splits[i]` produced a row whose watermark expression is
    /// `values[i]` (`None`: a NULL, which does not advance it).
    pub(crate) fn observe(&mut self, splits: &[u32], values: impl Iterator<Item = Option<i64>>) {
        let now = std::time::Instant::now();
        for (s, v) in splits.iter().zip(values) {
            self.last_data.insert(*s, now);
            if let Some(v) = v {
                let m = self.max.entry(*s).or_insert(i64::MIN);
                *m = (*m).max(v);
            }
        }
    }

    /// The combined watermark over `live` splits: the minimum of their watermarks, skipping
    /// splits idle for `idle_timeout`; `None` when every live split is idle or there is none.
    pub(crate) fn combined(
        &mut self,
        live: &[u32],
        idle_timeout: Option<std::time::Duration>,
    ) -> Option<i64> {
        let now = std::time::Instant::now();
        let mut min: Option<i64> = None;
        for s in live {
            let last = *self.last_data.entry(*s).or_insert(now);
            if idle_timeout.is_some_and(|t| now.duration_since(last) >= t) {
                continue;
            }
            let w = self.max.get(s).copied().unwrap_or(i64::MIN);
            min = Some(min.map_or(w, |m| m.min(w)));
        }
        min
    }
}

/// A connector's source side for one table.
pub trait SourceFactory: Send + Sync {
    /// A short description for logs and errors, e.g. `filesystem 'input/x.csv'`.
    fn describe(&self) -> String;
    /// The columns the readers produce: the table's physical columns, then its metadata
    /// columns.
    fn schema(&self) -> SchemaRef;
    /// Whether the readers produce an updating changelog (rows may be updates or deletes, as
    /// from a `debezium-json` file): their batches then end with [`ROW_KIND_COLUMN`], and the
    /// planner treats the table as an updating input.
    fn produces_changelog(&self) -> bool {
        false
    }

    /// The columns (names of [`SourceFactory::schema`]) keying an *upsert* changelog: rows are
    /// `+I`/`+U` (the key's new row) and `-D` (the key is gone; only the key columns need be
    /// set), with no `-U` (as from an `upsert-kafka` topic). The planner then inserts Flink's
    /// `ChangelogNormalize`, which keeps the last row per key to emit the full changelog.
    /// `None` for other sources.
    fn upsert_key(&self) -> Option<Vec<String>> {
        None
    }

    /// Creates the reader of subtask `subtask` out of `parallelism`.
    fn create_reader(&self, subtask: usize, parallelism: usize) -> Result<Box<dyn SourceReader>>;

    /// Creates the reader of subtask `subtask` out of `parallelism`, resuming from a
    /// checkpoint: `restored` holds the split positions of *every* subtask of the checkpointed
    /// job (whose parallelism may have been different). The factory must give each split to
    /// exactly one subtask, deterministically. The default refuses, naming the source.
    fn restore_reader(
        &self,
        subtask: usize,
        parallelism: usize,
        restored: &[SplitPosition],
    ) -> Result<Box<dyn SourceReader>> {
        let _ = (subtask, parallelism, restored);
        Err(crate::RuntimeError::Internal(format!(
            "source {} cannot be restored from a checkpoint",
            self.describe()
        )))
    }
}

/// A source node: the connector plus what the table declaration adds on top of it.
#[derive(Clone)]
pub struct SourceSpec {
    pub table: String,
    pub factory: Arc<dyn SourceFactory>,
    /// Evaluated on each reader batch to produce the table's full row (physical, computed and
    /// metadata columns in declaration order).
    pub row_exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// Schema of the table's full row.
    pub table_schema: SchemaRef,
    /// `WATERMARK FOR … AS expr`, evaluated on the full row; epoch milliseconds.
    pub watermark_expr: Option<Arc<dyn PhysicalExpr>>,
    /// Columns of the full row emitted downstream (projection push-down).
    pub projection: Option<Vec<usize>>,
    /// `table.exec.source.idle-timeout` in ms; 0 disables idleness.
    pub idle_timeout_ms: u64,
    /// `stc.debug.source-batch-delay` in ms: a pause after each batch (0: none).
    pub batch_delay_ms: u64,
}

impl StreamBatch {
    /// The rows `rows` (computed from the reader batch `raw`) as a stream batch: for a changelog
    /// source, with the row kinds of `raw`'s [`ROW_KIND_COLUMN`]. Called by the executor's
    /// `run_source` for every reader batch.
    pub fn read(spec: &SourceSpec, raw: &RecordBatch, rows: RecordBatch) -> Result<StreamBatch> {
        if !spec.factory.produces_changelog() {
            return Ok(StreamBatch::inserts(rows));
        }
        let kinds = raw
            .schema()
            .index_of(ROW_KIND_COLUMN)
            .ok()
            .and_then(|i| raw.column(i).as_primitive_opt::<Int8Type>().cloned())
            .filter(|k| k.null_count() == 0 && k.len() == rows.num_rows())
            .ok_or_else(|| {
                RuntimeError::Internal(format!(
                    "changelog source {} returned a batch without a non-null Int8 column \
                     '{ROW_KIND_COLUMN}'",
                    spec.factory.describe()
                ))
            })?;
        Ok(StreamBatch {
            batch: rows,
            kinds: Some(Arc::new(kinds)),
        })
    }
}

#[cfg(test)]
mod split_watermark_tests {
    use super::SplitWatermarks;
    use std::time::Duration;

    #[test]
    fn the_slowest_live_split_holds_the_watermark_until_it_is_idle() {
        let mut w = SplitWatermarks::default();
        w.observe(&[0, 0, 1], [Some(100), Some(500), Some(200)].into_iter());
        assert_eq!(w.combined(&[0, 1], None), Some(200));
        // A split that has produced nothing yet holds everything back.
        assert_eq!(w.combined(&[0, 1, 2], None), Some(i64::MIN));
        // A finished split no longer counts.
        assert_eq!(w.combined(&[0], None), Some(500));
        // NULLs do not advance a split.
        w.observe(&[1], [None].into_iter());
        assert_eq!(w.combined(&[0, 1], None), Some(200));
        // With an idle timeout, a split without data for that long is skipped.
        std::thread::sleep(Duration::from_millis(30));
        w.observe(&[0], [Some(600)].into_iter());
        assert_eq!(
            w.combined(&[0, 1, 2], Some(Duration::from_millis(20))),
            Some(600)
        );
        assert_eq!(w.combined(&[1, 2], Some(Duration::from_millis(20))), None);
    }
}
