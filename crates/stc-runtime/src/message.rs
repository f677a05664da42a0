//! What flows between subtasks.

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int8Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::error::ArrowError;
use stc_common::RowKind;

/// A batch of rows and, for updating streams, their row kinds.
///
/// Insert-only streams (the common case) carry `kinds: None` and pay nothing for changelog
/// support.
#[derive(Debug, Clone)]
pub struct StreamBatch {
    pub batch: RecordBatch,
    /// One [`RowKind`] (as `i8`) per row, or `None` if every row is an insert.
    pub kinds: Option<Arc<Int8Array>>,
}

impl StreamBatch {
    pub fn inserts(batch: RecordBatch) -> Self {
        StreamBatch { batch, kinds: None }
    }

    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// The kind of row `i`.
    pub fn kind(&self, i: usize) -> RowKind {
        match &self.kinds {
            None => RowKind::Insert,
            Some(k) => RowKind::from_i8(k.value(i)).unwrap_or(RowKind::Insert),
        }
    }

    pub fn is_insert_only(&self) -> bool {
        match &self.kinds {
            None => true,
            Some(k) => {
                k.null_count() == 0 && k.values().iter().all(|v| *v == RowKind::Insert as i8)
            }
        }
    }

    /// Rows `offset..offset + len` (zero-copy).
    pub fn slice(&self, offset: usize, len: usize) -> StreamBatch {
        StreamBatch {
            batch: self.batch.slice(offset, len),
            kinds: self.kinds.as_ref().map(|k| Arc::new(k.slice(offset, len))),
        }
    }

    /// The rows of `parts` (at least one, all of one schema) as one batch, kinds kept.
    pub fn concat(parts: &[StreamBatch]) -> Result<StreamBatch, ArrowError> {
        let schema = parts
            .first()
            .ok_or_else(|| ArrowError::InvalidArgumentError("no batches to concatenate".into()))?
            .batch
            .schema();
        let batch = concat_batches(&schema, parts.iter().map(|p| &p.batch))?;
        let kinds = parts.iter().any(|p| p.kinds.is_some()).then(|| {
            let mut kinds = Vec::with_capacity(batch.num_rows());
            for p in parts {
                match &p.kinds {
                    Some(k) => kinds.extend_from_slice(k.values()),
                    None => kinds.resize(kinds.len() + p.num_rows(), RowKind::Insert as i8),
                }
            }
            Arc::new(Int8Array::from(kinds))
        });
        Ok(StreamBatch { batch, kinds })
    }
}

/// Event-time progress of one input, or its idleness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    /// No record with an event time `<=` this (epoch milliseconds) is expected any more.
    EventTime(i64),
    /// The input has no data for now (Flink's `WatermarkStatus.IDLE`); it does not hold back
    /// the combined watermark until it sends a record or a watermark again.
    Idle,
}

impl Watermark {
    /// The final watermark, sent when a bounded input is exhausted: every window fires.
    pub const MAX: Watermark = Watermark::EventTime(i64::MAX);
}

/// A message on an edge.
#[derive(Debug, Clone)]
pub enum Message {
    Data(StreamBatch),
    Watermark(Watermark),
    /// A checkpoint barrier (see [`crate::checkpoint`]).
    Barrier(crate::checkpoint::Barrier),
    /// The producer has finished; no more messages follow on this channel.
    EndOfStream,
}
