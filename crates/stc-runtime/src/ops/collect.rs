//! In-memory endpoints: a bounded source of fixed rows (`VALUES`) and a sink that hands
//! results to the caller (a bare `SELECT` in `stc run`).

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use tokio::sync::mpsc::Sender;

use crate::error::{Result, RuntimeError};
use crate::message::StreamBatch;
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::source::{SourceFactory, SourceReader};

/// Rows known at planning time. Only subtask 0 emits them.
pub struct ValuesSource {
    pub batch: RecordBatch,
}

impl SourceFactory for ValuesSource {
    fn describe(&self) -> String {
        format!("VALUES ({} rows)", self.batch.num_rows())
    }
    fn schema(&self) -> SchemaRef {
        self.batch.schema()
    }
    fn create_reader(&self, subtask: usize, _parallelism: usize) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(ValuesReader {
            batch: (subtask == 0).then(|| self.batch.clone()),
        }))
    }

    fn restore_reader(
        &self,
        subtask: usize,
        _parallelism: usize,
        restored: &[crate::checkpoint::SplitPosition],
    ) -> Result<Box<dyn SourceReader>> {
        let done = restored
            .iter()
            .any(|p| p.split == "values" && p.position == b"done");
        Ok(Box::new(ValuesReader {
            batch: (subtask == 0 && !done).then(|| self.batch.clone()),
        }))
    }
}

struct ValuesReader {
    batch: Option<RecordBatch>,
}

#[async_trait]
impl SourceReader for ValuesReader {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        Ok(self.batch.take())
    }

    fn snapshot_positions(&mut self) -> Option<Vec<crate::checkpoint::SplitPosition>> {
        Some(vec![crate::checkpoint::SplitPosition {
            split: "values".into(),
            position: if self.batch.is_some() {
                b"pending".to_vec()
            } else {
                b"done".to_vec()
            },
        }])
    }
}

/// Sends every batch (with its row kinds) to a channel read by the caller.
#[derive(Clone)]
pub struct CollectSink {
    pub tx: Sender<StreamBatch>,
}

#[async_trait]
impl Operator for CollectSink {
    fn name(&self) -> &str {
        "Collect"
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        ctx.metrics.records_written.fetch_add(
            batch.num_rows() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.tx
            .send(batch)
            .await
            .map_err(|_| RuntimeError::Cancelled)
    }
}

impl OperatorFactory for CollectSink {
    fn name(&self) -> String {
        "Collect".into()
    }
    fn create(&self, _: usize, _: usize) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
    fn is_sink(&self) -> bool {
        true
    }
}
