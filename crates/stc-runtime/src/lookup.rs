//! Lookup sources: the contract between dimension-table connectors and the lookup join.
//!
//! A lookup join (`JOIN dim FOR SYSTEM_TIME AS OF o.proc_time ON o.k = dim.k`) asks the
//! dimension table, for every probe row, which rows currently match its key. The connector
//! implements [`LookupSourceFactory`]; the join operator creates one [`LookupSource`] per
//! subtask and calls [`LookupSource::lookup`] with a whole batch of keys at a time, so a
//! connector can batch its queries (one `WHERE k IN (…)` per batch, one Redis pipeline) and
//! cache. The operator bounds how many batches are in flight; the connector bounds nothing.

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::datatypes::SchemaRef;

use crate::error::Result;

/// Rows that matched a batch of lookup keys.
#[derive(Debug, Clone)]
pub struct LookupResult {
    /// For each row of `rows`, the index of the key row (in the `keys` batch) it matched.
    /// Key rows without a match appear nowhere; a key may match several rows.
    pub key_indices: UInt32Array,
    /// The matching dimension rows, in [`LookupSourceFactory::schema`] order.
    pub rows: RecordBatch,
}

/// One subtask's connection to a dimension table.
#[async_trait]
pub trait LookupSource: Send {
    /// Looks up every row of `keys` (columns in the order of
    /// [`LookupSourceFactory::key_columns`], types as in the table schema). Errors are
    /// returned only after the connector's own retries (`lookup.max-retries`) are exhausted,
    /// and name the store, the table and a key.
    async fn lookup(&mut self, keys: &RecordBatch) -> Result<LookupResult>;
}

/// A connector's lookup side for one table and one set of key columns.
pub trait LookupSourceFactory: Send + Sync {
    /// A short description for logs and errors, e.g. `jdbc 'postgres://…' table 'dim'`.
    fn describe(&self) -> String;
    /// The columns a lookup returns: the table's physical columns.
    fn schema(&self) -> SchemaRef;
    /// Names of the key columns, in the order `lookup` expects them.
    fn key_columns(&self) -> Vec<String>;
    /// Creates the lookup source of subtask `subtask` out of `parallelism`.
    fn create(&self, subtask: usize, parallelism: usize) -> Result<Box<dyn LookupSource>>;
}
