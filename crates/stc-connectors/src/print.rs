//! The `print` and `blackhole` sinks.

use std::io::Write;

use async_trait::async_trait;
use stc_runtime::{Operator, OperatorContext, OperatorFactory, Result as RtResult, StreamBatch};

use crate::table::{ConnectorTable, Result, check_keys};

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    check_keys(
        t,
        "print",
        &["print-identifier", "standard-error", "sink.parallelism"],
        &[],
    )?;
    if let Some(v) = t.options.get("standard-error")
        && v != "true"
        && v != "false"
    {
        return Err(crate::ConnectorError::Options(format!(
            "'standard-error' must be true or false, found '{v}'"
        )));
    }
    Ok(())
}

/// Writes each row as Flink's print connector does: `+I[1, Alice]`, prefixed by
/// `identifier:` and, at parallelism > 1, `subtask> ` (Flink's `PrintSinkOutputWriter`).
/// At-least-once: rows are printed as they arrive.
#[derive(Clone)]
pub struct PrintSink {
    identifier: Option<String>,
    stderr: bool,
}

impl PrintSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        Ok(PrintSink {
            identifier: t.options.get("print-identifier").cloned(),
            stderr: t.options.get("standard-error").is_some_and(|v| v == "true"),
        })
    }
}

struct PrintOp {
    prefix: String,
    stderr: bool,
}

#[async_trait]
impl Operator for PrintOp {
    fn name(&self) -> &str {
        "Sink: print"
    }

    async fn process_batch(
        &mut self,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        let mut out = String::new();
        for row in 0..batch.num_rows() {
            out.push_str(&self.prefix);
            out.push_str(&crate::text::format_row_print(
                &batch.batch,
                row,
                batch.kind(row),
            ));
            out.push('\n');
        }
        let res = if self.stderr {
            std::io::stderr().lock().write_all(out.as_bytes())
        } else {
            std::io::stdout().lock().write_all(out.as_bytes())
        };
        res.map_err(|e| {
            stc_runtime::RuntimeError::external(format!("print sink: cannot write: {e}"), false)
        })?;
        ctx.metrics.records_written.fetch_add(
            batch.num_rows() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }
}

impl OperatorFactory for PrintSink {
    fn name(&self) -> String {
        "Sink: print".into()
    }
    fn create(&self, subtask: usize, parallelism: usize) -> RtResult<Box<dyn Operator>> {
        let prefix = match (&self.identifier, parallelism > 1) {
            (Some(id), true) => format!("{id}:{}> ", subtask + 1),
            (Some(id), false) => format!("{id}> "),
            (None, true) => format!("{}> ", subtask + 1),
            (None, false) => String::new(),
        };
        Ok(Box::new(PrintOp {
            prefix,
            stderr: self.stderr,
        }))
    }
    fn is_sink(&self) -> bool {
        true
    }
}

/// Swallows every row (for benchmarks and tests of the rest of a pipeline).
#[derive(Clone)]
pub struct BlackholeSink;

#[async_trait]
impl Operator for BlackholeSink {
    fn name(&self) -> &str {
        "Sink: blackhole"
    }
    async fn process_batch(
        &mut self,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        ctx.metrics.records_written.fetch_add(
            batch.num_rows() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }
}

impl OperatorFactory for BlackholeSink {
    fn name(&self) -> String {
        "Sink: blackhole".into()
    }
    fn create(&self, _: usize, _: usize) -> RtResult<Box<dyn Operator>> {
        Ok(Box::new(BlackholeSink))
    }
    fn is_sink(&self) -> bool {
        true
    }
}
