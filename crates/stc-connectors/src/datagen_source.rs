//! The `datagen` source: [`crate::datagen::DatagenGenerator`] behind the runtime's source
//! interface, throttled to `rows-per-second`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use stc_runtime::{Result as RtResult, RuntimeError, SourceFactory, SourceReader, SplitPosition};

use crate::datagen::DatagenGenerator;
use crate::table::{ConnectorTable, Result};

const BATCH_ROWS: usize = 8192;

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    let opts: HashMap<String, String> = t.options.clone();
    DatagenGenerator::new(t.physical_schema.clone(), &opts, 0, 1)
        .map(|_| ())
        .map_err(|e| crate::ConnectorError::Options(e.to_string()))
}

pub struct DatagenSource {
    schema: SchemaRef,
    options: HashMap<String, String>,
}

impl DatagenSource {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        Ok(DatagenSource {
            schema: t.physical_schema.clone(),
            options: t.options.clone(),
        })
    }
}

impl SourceFactory for DatagenSource {
    fn describe(&self) -> String {
        "datagen".into()
    }
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn create_reader(&self, subtask: usize, parallelism: usize) -> RtResult<Box<dyn SourceReader>> {
        let generator =
            DatagenGenerator::new(self.schema.clone(), &self.options, subtask, parallelism)
                .map_err(|e| RuntimeError::Data(e.to_string()))?;
        Ok(Box::new(DatagenReader {
            generator,
            schema: self.schema.clone(),
            started: None,
            emitted: 0,
            split: split_name(subtask, parallelism),
        }))
    }

    /// Each subtask's generator is deterministic: a restored subtask jumps past the rows it
    /// had emitted and goes on with the values an uninterrupted run would have emitted. The division of sequences and random streams among subtasks
    /// depends on the parallelism, so a datagen source resumes only at the same one.
    fn restore_reader(
        &self,
        subtask: usize,
        parallelism: usize,
        restored: &[SplitPosition],
    ) -> RtResult<Box<dyn SourceReader>> {
        let name = split_name(subtask, parallelism);
        let skip = rows_emitted(restored, &name, "datagen")?;
        let mut reader =
            DatagenGenerator::new(self.schema.clone(), &self.options, subtask, parallelism)
                .map_err(|e| RuntimeError::Data(e.to_string()))?;
        reader.skip(skip);
        Ok(Box::new(DatagenReader {
            generator: reader,
            schema: self.schema.clone(),
            started: None,
            emitted: skip,
            split: name,
        }))
    }
}

fn split_name(subtask: usize, parallelism: usize) -> String {
    format!("datagen-{subtask}-of-{parallelism}")
}

/// The rows a generator subtask had emitted at a checkpoint (its split `name`, whose position
/// is the count as text). Generators divide their stream by subtask, so a split of another
/// parallelism cannot be resumed: that is said, naming both.
pub(crate) fn rows_emitted(
    restored: &[SplitPosition],
    name: &str,
    connector: &str,
) -> RtResult<u64> {
    let Some(pos) = restored.iter().find(|p| p.split == name) else {
        let old = restored
            .first()
            .map(|p| p.split.clone())
            .unwrap_or_default();
        return Err(RuntimeError::Checkpoint(format!(
            "not supported yet: restoring a {connector} source at another parallelism (the checkpoint has split '{old}', this run needs '{name}')"
        )));
    };
    std::str::from_utf8(&pos.position)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            RuntimeError::Checkpoint(format!("{connector}: bad checkpointed position of {name}"))
        })
}

struct DatagenReader {
    generator: DatagenGenerator,
    schema: SchemaRef,
    started: Option<Instant>,
    emitted: u64,
    split: String,
}

#[async_trait]
impl SourceReader for DatagenReader {
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        let rate = self.generator.rows_per_second();
        let started = *self.started.get_or_insert_with(Instant::now);
        let max_rows = if rate.is_finite() && rate > 0.0 {
            // Emit what the rate allows by now, waiting if we are ahead.
            let due = (started.elapsed().as_secs_f64() * rate) as u64;
            if due <= self.emitted {
                let wait = (self.emitted + 1) as f64 / rate - started.elapsed().as_secs_f64();
                tokio::time::sleep(Duration::from_secs_f64(wait.clamp(0.0, 1.0))).await;
                return Ok(Some(RecordBatch::new_empty(self.schema.clone())));
            }
            ((due - self.emitted) as usize).clamp(1, BATCH_ROWS)
        } else {
            BATCH_ROWS
        };
        match self.generator.next_batch(max_rows) {
            Some(b) => {
                self.emitted += b.num_rows() as u64;
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }

    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        Some(vec![SplitPosition {
            split: self.split.clone(),
            position: self.emitted.to_string().into_bytes(),
        }])
    }
}
