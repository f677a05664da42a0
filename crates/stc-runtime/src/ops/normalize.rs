//! `ChangelogNormalize`: turns an upsert changelog (each key's latest row, and deletes that
//! may carry only the key, as read from an `upsert-kafka` topic) into a full changelog with
//! `-U` before every `+U` and complete `-D` rows (Flink's `ProcTimeDeduplicateKeepLastRow`
//! on a changelog, `DeduplicateFunctionHelper.processLastRowOnChangelog`).
//!
//! State per key: the last row. An addition (`+I`/`+U`) emits `+I` for a new key, nothing
//! when it repeats the stored row (unless `table.exec.state.ttl` is set: then, as in Flink,
//! `-U`/`+U` keep downstream state alive), else `-U` of the stored row and `+U` of the new
//! one. A retraction (`-U`/`-D`) emits `-D` of the *stored* row (the input may hold only the
//! key) and forgets the key; a retraction of an unknown key emits nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{OwnedRow, RowConverter};
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;
use stc_common::RowKind;

use crate::checkpoint::{Barrier, OperatorState};
use crate::error::Result;
use crate::message::StreamBatch;
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{ChangeBuilder, converter, expr_types, to_rows};
use crate::ops::state::{eval_all, restored_rows, rows_state};

/// The operator factory; see the module docs.
#[derive(Clone)]
pub struct ChangelogNormalize {
    pub name: String,
    /// The upsert key (the table's primary key columns).
    pub keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Input and output schema.
    pub schema: SchemaRef,
    /// `table.exec.state.ttl` (0 = never expire).
    pub state_ttl_ms: u64,
}

impl OperatorFactory for ChangelogNormalize {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        let key_types = expr_types(&self.keys, &self.schema)?;
        Ok(Box::new(NormalizeOp {
            spec: self.clone(),
            key_conv: converter(key_types)?,
            row_conv: converter(self.schema.fields().iter().map(|f| f.data_type().clone()))?,
            rows: HashMap::new(),
            last_sweep: Instant::now(),
        }))
    }
}

struct Stored {
    row: OwnedRow,
    /// Last write, for `table.exec.state.ttl`.
    written: Instant,
}

struct NormalizeOp {
    spec: ChangelogNormalize,
    key_conv: RowConverter,
    row_conv: RowConverter,
    /// Keyed by the key's bytes in Arrow's row format.
    rows: HashMap<Box<[u8]>, Stored>,
    last_sweep: Instant,
}

impl NormalizeOp {
    fn keys_of(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        eval_all(&self.spec.keys, batch)
    }
}

#[async_trait]
impl Operator for NormalizeOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        let n = batch.num_rows();
        let keys = self.keys_of(&batch.batch)?;
        let key_rows = to_rows(&self.key_conv, &keys)?;
        let rows = to_rows(&self.row_conv, batch.batch.columns())?;
        let ttl =
            (self.spec.state_ttl_ms > 0).then(|| Duration::from_millis(self.spec.state_ttl_ms));
        let now = Instant::now();
        if let Some(ttl) = ttl
            && now.duration_since(self.last_sweep) >= ttl
        {
            // Expired keys go silently, as in Flink.
            self.rows.retain(|_, s| now.duration_since(s.written) < ttl);
            self.last_sweep = now;
        }
        let mut out = ChangeBuilder::new(Arc::clone(&self.spec.schema), &[&self.row_conv], 0);
        for i in 0..n {
            let key = key_rows.row(i);
            if let Some(ttl) = ttl
                && self
                    .rows
                    .get(key.as_ref())
                    .is_some_and(|s| now.duration_since(s.written) >= ttl)
            {
                self.rows.remove(key.as_ref());
            }
            let row = rows.row(i);
            if batch.kind(i).is_addition() {
                match self.rows.get_mut(key.as_ref()) {
                    None => {
                        out.push(RowKind::Insert, &[row], &[]);
                        self.rows.insert(
                            key.as_ref().into(),
                            Stored {
                                row: row.owned(),
                                written: now,
                            },
                        );
                    }
                    Some(s) => {
                        s.written = now;
                        if s.row.row() == row && ttl.is_none() {
                            continue;
                        }
                        out.push(RowKind::UpdateBefore, &[s.row.row()], &[]);
                        out.push(RowKind::UpdateAfter, &[row], &[]);
                        s.row = row.owned();
                    }
                }
            } else if let Some(s) = self.rows.remove(key.as_ref()) {
                // The stored row, not the input's: a tombstone carries only the key.
                out.push(RowKind::Delete, &[s.row.row()], &[]);
            }
        }
        if let Some(b) = out.take(&[&self.row_conv])? {
            ctx.emit(b);
        }
        Ok(())
    }

    /// One keyed table: every stored row.
    async fn snapshot_state(
        &mut self,
        _barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        let cols = self
            .row_conv
            .convert_rows(self.rows.values().map(|s| s.row.row()))?;
        Ok(Some(rows_state(
            &self.spec.schema,
            cols,
            &self.spec.keys,
            ctx.max_parallelism,
        )?))
    }

    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        let Some(rows) = restored_rows(&self.spec.schema, state, &self.spec.name)? else {
            return Ok(());
        };
        let n = rows.num_rows();
        let key_rows = to_rows(&self.key_conv, &self.keys_of(&rows)?)?;
        let stored = to_rows(&self.row_conv, rows.columns())?;
        let now = Instant::now();
        for i in 0..n {
            self.rows.insert(
                key_rows.row(i).as_ref().into(),
                Stored {
                    row: stored.row(i).owned(),
                    written: now,
                },
            );
        }
        Ok(())
    }
}
