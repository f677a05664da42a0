//! What stateful operators share to snapshot and restore their state as Arrow tables (see
//! [`crate::checkpoint`]).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};

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

/// Evaluates expressions over every row of `batch`.
pub(crate) fn eval_all(
    exprs: &[Arc<dyn datafusion::physical_expr::PhysicalExpr>],
    batch: &RecordBatch,
) -> Result<Vec<ArrayRef>> {
    let n = batch.num_rows();
    Ok(exprs
        .iter()
        .map(|e| e.evaluate(batch).and_then(|v| v.into_array(n)))
        .collect::<datafusion::error::Result<Vec<_>>>()?)
}

/// The state of an operator that keeps whole rows of `schema` (`columns`, one per field):
/// one keyed table, each row's key group computed from `keys` over the rows.
pub(crate) fn rows_state(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    keys: &[Arc<dyn datafusion::physical_expr::PhysicalExpr>],
    max_parallelism: usize,
) -> Result<crate::checkpoint::OperatorState> {
    let n = columns.first().map_or(0, |c| c.len());
    let rows = RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )?;
    let key_cols = eval_all(keys, &rows)?;
    let mut table = vec![(
        KG.to_string(),
        key_group_array(&key_cols, n, max_parallelism)?,
    )];
    table.extend(
        schema
            .fields()
            .iter()
            .zip(rows.columns())
            .map(|(f, c)| (f.name().clone(), Arc::clone(c))),
    );
    Ok(crate::checkpoint::OperatorState {
        keyed_part: Default::default(),
        keyed: vec![state_table(table, n)?],
        shared: Vec::new(),
    })
}

/// The rows of a [`rows_state`] table restored for operator `what`, as a batch of `schema`
/// (`None`: nothing was restored).
pub(crate) fn restored_rows(
    schema: &SchemaRef,
    state: crate::checkpoint::OperatorState,
    what: &str,
) -> Result<Option<RecordBatch>> {
    let Some(t) = single_table(state.keyed, what)? else {
        return Ok(None);
    };
    Ok(Some(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        t.columns()[1..].to_vec(),
        &RecordBatchOptions::new().with_row_count(Some(t.num_rows())),
    )?))
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
