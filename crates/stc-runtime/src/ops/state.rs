//! What stateful operators share to snapshot and restore their state as Arrow tables (see
//! [`crate::checkpoint`]).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::datatypes::{Field, Schema};

use crate::checkpoint::KEY_GROUP_COLUMN;
use crate::error::{Result, RuntimeError};
use crate::exchange::key_groups_of;

/// The key-group column of state rows with these key columns: the same hash the exchange
/// that routed the rows here computed on the same key values. No key columns (a global
/// aggregation, which runs with parallelism 1): key group 0.
pub(crate) fn key_group_array(
    keys: &[ArrayRef],
    rows: usize,
    max_parallelism: usize,
) -> Result<ArrayRef> {
    if keys.is_empty() {
        return Ok(Arc::new(UInt32Array::from(vec![0u32; rows])));
    }
    let groups = key_groups_of(keys, max_parallelism)?;
    Ok(Arc::new(UInt32Array::from_iter_values(
        groups.into_iter().map(|g| g as u32),
    )))
}

/// A state table from named columns (all nullable: state is read back by position and type).
pub(crate) fn state_table(columns: Vec<(String, ArrayRef)>, rows: usize) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// The column `name` of a restored state table.
pub(crate) fn state_column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    b.column_by_name(name).ok_or_else(|| {
        RuntimeError::Checkpoint(format!(
            "state table has no column '{name}' (written by another version of the operator?)"
        ))
    })
}

/// The columns of a restored state table whose names start with `prefix`, in order.
pub(crate) fn state_columns(b: &RecordBatch, prefix: &str) -> Vec<ArrayRef> {
    b.schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name().starts_with(prefix))
        .map(|(i, _)| Arc::clone(b.column(i)))
        .collect()
}

/// The only table of a restored operator, if any rows were restored.
pub(crate) fn single_table(tables: Vec<RecordBatch>, what: &str) -> Result<Option<RecordBatch>> {
    match tables.len() {
        0 => Ok(None),
        1 => Ok(tables.into_iter().next().filter(|b| b.num_rows() > 0)),
        n => Err(RuntimeError::Checkpoint(format!(
            "{what}: expected one state table, the checkpoint has {n}"
        ))),
    }
}

/// An `i64` column.
pub(crate) fn i64_column(values: Vec<i64>) -> ArrayRef {
    Arc::new(datafusion::arrow::array::Int64Array::from(values))
}

/// Reads an `i64` state column.
pub(crate) fn i64_values(a: &ArrayRef) -> Result<Vec<i64>> {
    a.as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .map(|a| a.values().to_vec())
        .ok_or_else(|| RuntimeError::Checkpoint("a state column is not BIGINT".into()))
}

/// Unused-column guard for `KEY_GROUP_COLUMN` readers.
pub(crate) const KG: &str = KEY_GROUP_COLUMN;
