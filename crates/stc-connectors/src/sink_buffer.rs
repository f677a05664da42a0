//! Buffered sinks to external stores (jdbc, redis): Flink's `sink.buffer-flush.max-rows`,
//! `sink.buffer-flush.interval` and `sink.max-retries`, and the changelog reduction of its
//! upsert sinks.
//!
//! Rows are buffered as they arrive and written when `max-rows` rows are buffered, when
//! `interval` has passed (a background task, so an idle stream is still flushed, as Flink's
//! scheduled flusher does), and at `finish`. A failed background flush fails the next
//! `process_batch`/`finish`, like Flink's `checkFlushException`.
//!
//! * Append mode (no PRIMARY KEY): every row must be `+I`; the store gets plain inserts.
//! * Upsert mode (PRIMARY KEY): the buffer is reduced to the last change per key (Flink's
//!   `TableBufferReducedStatementExecutor`): `+I`/`+U` → upsert, `-D` → delete, `-U` is
//!   skipped (the `+U` that follows carries the new row). Reduced writes are idempotent, so a
//!   retried flush is safe.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::compute::interleave_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use async_trait::async_trait;
use stc_common::RowKind;
use stc_runtime::{Operator, OperatorContext, Result as RtResult, RuntimeError, StreamBatch};

use crate::lookup_cache::{FetchError, parse_duration, parse_u64};
use crate::table::{ConnectorTable, Result};

/// Option keys every buffered sink accepts.
pub(crate) const SINK_OPTIONS: &[&str] = &[
    "sink.buffer-flush.max-rows",
    "sink.buffer-flush.interval",
    "sink.max-retries",
    "sink.parallelism",
];

#[derive(Debug, Clone)]
pub(crate) struct SinkOptions {
    /// Flush when this many rows are buffered; 0 = no row bound (Flink's default: 100).
    pub max_rows: usize,
    /// Flush this often; `None` (`'0'`) = only by rows and at the end (Flink's default: 1 s).
    pub interval: Option<Duration>,
    /// Retries of a failed flush (Flink's default: 3).
    pub max_retries: u32,
}

impl SinkOptions {
    pub(crate) fn parse(t: &ConnectorTable) -> Result<Self> {
        let max_rows = parse_u64(t, "sink.buffer-flush.max-rows", 100)?;
        let interval =
            parse_duration(t, "sink.buffer-flush.interval")?.unwrap_or(Duration::from_secs(1));
        let max_retries = parse_u64(t, "sink.max-retries", 3)?;
        if let Some(p) = t.options.get("sink.parallelism")
            && p.trim().parse::<u32>().map_or(true, |p| p == 0)
        {
            return Err(crate::ConnectorError::Options(format!(
                "invalid value '{p}' for option 'sink.parallelism' of table '{}': expected a positive integer",
                t.name
            )));
        }
        Ok(SinkOptions {
            max_rows: usize::try_from(max_rows).unwrap_or(usize::MAX),
            interval: (!interval.is_zero()).then_some(interval),
            max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
        })
    }
}

/// A store's write side: one flush of reduced changes.
#[async_trait]
pub(crate) trait SinkWriter: Send + 'static {
    /// Writes `upserts` (inserts in append mode) and deletes the rows of `deletes` (by key);
    /// both have the sink schema and no key occurs twice. Transient errors are retried by the
    /// caller, so a write should be atomic (a transaction, MULTI/EXEC) where the store allows.
    async fn write(
        &mut self,
        upserts: &RecordBatch,
        deletes: &RecordBatch,
    ) -> std::result::Result<(), FetchError>;
}

struct Shared<W> {
    writer: W,
    pending: Vec<StreamBatch>,
    rows: usize,
    /// The error of a failed background flush, reported by the next call.
    failed: Option<RuntimeError>,
    schema: SchemaRef,
    /// Key column indices in upsert mode, `None` in append mode.
    key: Option<(Vec<usize>, RowConverter)>,
    max_retries: u32,
    describe: String,
}

impl<W: SinkWriter> Shared<W> {
    async fn flush(&mut self) -> RtResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.pending);
        self.rows = 0;
        let (upserts, deletes) = self.reduce(&batches)?;
        let mut attempt = 0;
        loop {
            match self.writer.write(&upserts, &deletes).await {
                Ok(()) => return Ok(()),
                Err(FetchError::Transient(msg)) if attempt < self.max_retries => {
                    attempt += 1;
                    tracing::warn!(
                        "{}: write failed (attempt {attempt} of {}), retrying: {msg}",
                        self.describe,
                        self.max_retries + 1
                    );
                    // Flink's JdbcOutputFormat sleeps 1 s × attempt; a shorter first step
                    // keeps a brief blip cheap.
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt.min(10))))
                        .await;
                }
                Err(e @ (FetchError::Transient(_) | FetchError::Fatal(_))) => {
                    let (msg, retryable) = match e {
                        FetchError::Transient(m) => (m, true),
                        FetchError::Fatal(m) | FetchError::Schema(m) => (m, false),
                    };
                    return Err(RuntimeError::external(
                        format!(
                            "writing {} row(s) to {} failed after {} attempt(s): {msg}",
                            upserts.num_rows() + deletes.num_rows(),
                            self.describe,
                            attempt + 1
                        ),
                        retryable,
                    ));
                }
                Err(FetchError::Schema(msg)) => {
                    return Err(RuntimeError::Data(format!("{}: {msg}", self.describe)));
                }
            }
        }
    }

    /// The buffer as (rows to upsert, rows to delete), reduced per key in upsert mode.
    fn reduce(&self, batches: &[StreamBatch]) -> RtResult<(RecordBatch, RecordBatch)> {
        let refs: Vec<&RecordBatch> = batches.iter().map(|b| &b.batch).collect();
        let empty = RecordBatch::new_empty(self.schema.clone());
        let Some((key_idx, converter)) = &self.key else {
            let mut picks = Vec::new();
            for (b, sb) in batches.iter().enumerate() {
                for r in 0..sb.num_rows() {
                    let kind = sb.kind(r);
                    if kind != RowKind::Insert {
                        return Err(RuntimeError::Data(format!(
                            "{} has no PRIMARY KEY, so it takes only inserts (append mode), but received a {kind} row; declare a PRIMARY KEY to write updates and deletes",
                            self.describe
                        )));
                    }
                    picks.push((b, r));
                }
            }
            let rows = if picks.is_empty() {
                empty.clone()
            } else {
                interleave_record_batch(&refs, &picks)?
            };
            return Ok((rows, empty));
        };
        // Last change per key, in order of each key's first appearance.
        let mut slot: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut last: Vec<(usize, usize, bool)> = Vec::new();
        for (b, sb) in batches.iter().enumerate() {
            let cols: Vec<_> = key_idx
                .iter()
                .map(|&i| sb.batch.column(i).clone())
                .collect();
            let keys = converter.convert_columns(&cols)?;
            for r in 0..sb.num_rows() {
                let delete = match sb.kind(r) {
                    RowKind::UpdateBefore => continue,
                    RowKind::Delete => true,
                    RowKind::Insert | RowKind::UpdateAfter => false,
                };
                let k = keys.row(r).as_ref().to_vec();
                match slot.get(&k) {
                    Some(&s) => last[s] = (b, r, delete),
                    None => {
                        slot.insert(k, last.len());
                        last.push((b, r, delete));
                    }
                }
            }
        }
        let ups: Vec<(usize, usize)> = last.iter().filter(|x| !x.2).map(|x| (x.0, x.1)).collect();
        let dels: Vec<(usize, usize)> = last.iter().filter(|x| x.2).map(|x| (x.0, x.1)).collect();
        let pick = |p: &[(usize, usize)]| -> RtResult<RecordBatch> {
            if p.is_empty() {
                Ok(empty.clone())
            } else {
                Ok(interleave_record_batch(&refs, p)?)
            }
        };
        Ok((pick(&ups)?, pick(&dels)?))
    }
}

/// The sink operator of one subtask around a [`SinkWriter`].
pub(crate) struct BufferedSinkOp<W: SinkWriter> {
    name: String,
    shared: Arc<tokio::sync::Mutex<Shared<W>>>,
    max_rows: usize,
    interval: Option<Duration>,
    flusher: Option<tokio::task::JoinHandle<()>>,
}

impl<W: SinkWriter> BufferedSinkOp<W> {
    /// `key`: the sink schema's primary-key columns (upsert mode), or empty (append mode).
    pub(crate) fn new(
        name: String,
        describe: String,
        writer: W,
        schema: SchemaRef,
        key: &[String],
        opts: &SinkOptions,
    ) -> RtResult<Self> {
        let key = if key.is_empty() {
            None
        } else {
            let mut idx = Vec::new();
            for k in key {
                idx.push(schema.index_of(k).map_err(|_| {
                    RuntimeError::Internal(format!(
                        "{describe}: primary key column '{k}' is not in the sink schema"
                    ))
                })?);
            }
            let fields = idx
                .iter()
                .map(|&i| SortField::new(schema.field(i).data_type().clone()))
                .collect();
            Some((idx, RowConverter::new(fields)?))
        };
        Ok(BufferedSinkOp {
            name,
            shared: Arc::new(tokio::sync::Mutex::new(Shared {
                writer,
                pending: Vec::new(),
                rows: 0,
                failed: None,
                schema,
                key,
                max_retries: opts.max_retries,
                describe,
            })),
            max_rows: opts.max_rows,
            interval: opts.interval,
            flusher: None,
        })
    }

    /// Starts the interval flusher (from inside the runtime, on the first batch).
    fn start_flusher(&mut self) {
        let (Some(interval), None) = (self.interval, &self.flusher) else {
            return;
        };
        let weak: Weak<tokio::sync::Mutex<Shared<W>>> = Arc::downgrade(&self.shared);
        self.flusher = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                let mut g = shared.lock().await;
                if g.failed.is_some() {
                    return;
                }
                if let Err(e) = g.flush().await {
                    g.failed = Some(e);
                    return;
                }
            }
        }));
    }
}

impl<W: SinkWriter> Drop for BufferedSinkOp<W> {
    fn drop(&mut self) {
        if let Some(f) = self.flusher.take() {
            f.abort();
        }
    }
}

#[async_trait]
impl<W: SinkWriter> Operator for BufferedSinkOp<W> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn process_batch(
        &mut self,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        self.start_flusher();
        let n = batch.num_rows();
        let mut g = self.shared.lock().await;
        if let Some(e) = g.failed.take() {
            return Err(e);
        }
        if n == 0 {
            return Ok(());
        }
        g.pending.push(batch);
        g.rows += n;
        if self.max_rows > 0 && g.rows >= self.max_rows {
            g.flush().await?;
        }
        ctx.metrics
            .records_written
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    async fn finish(&mut self, _ctx: &mut OperatorContext) -> RtResult<()> {
        // Lock first: a background flush in progress completes before the flusher is
        // stopped (aborting it mid-write would lose the rows it took).
        let mut g = self.shared.lock().await;
        if let Some(f) = self.flusher.take() {
            f.abort();
        }
        if let Some(e) = g.failed.take() {
            return Err(e);
        }
        g.flush().await
    }

    /// Everything received before the barrier is written before the checkpoint completes:
    /// at-least-once, and effectively exactly-once for upserts on a primary key (writing the
    /// same rows again after a restore leaves the same table).
    async fn snapshot_state(
        &mut self,
        _barrier: &stc_runtime::Barrier,
        _ctx: &mut OperatorContext,
    ) -> RtResult<Option<stc_runtime::OperatorState>> {
        let mut g = self.shared.lock().await;
        if let Some(e) = g.failed.take() {
            return Err(e);
        }
        g.flush().await?;
        Ok(None)
    }
}
