//! Building blocks of the updating (changelog) operators: rows kept in state in Arrow's
//! row format, and the builder of output batches with row kinds.
//!
//! State holds rows as [`OwnedRow`](datafusion::arrow::row::OwnedRow)s (Arrow's row format): one allocation per row, hashable
//! and comparable byte-wise, and converted back to columns in bulk when emitted.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int8Array, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{Row, RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use stc_common::RowKind;

use crate::error::{Result, RuntimeError};
use crate::message::StreamBatch;

/// A row converter over the given column types.
pub fn converter(types: impl IntoIterator<Item = DataType>) -> Result<RowConverter> {
    Ok(RowConverter::new(
        types.into_iter().map(SortField::new).collect(),
    )?)
}

/// The types of expressions over `schema` (e.g. of the key columns a row converter encodes).
pub fn expr_types(
    exprs: &[std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>],
    schema: &datafusion::arrow::datatypes::Schema,
) -> Result<Vec<DataType>> {
    Ok(exprs
        .iter()
        .map(|e| e.data_type(schema))
        .collect::<datafusion::error::Result<Vec<_>>>()?)
}

/// Converts columns to rows.
pub fn to_rows(conv: &RowConverter, columns: &[ArrayRef]) -> Result<Rows> {
    Ok(conv.convert_columns(columns)?)
}

/// A filter mask with NULL counted as false (SQL's WHERE semantics).
pub fn null_as_false(
    mask: &datafusion::arrow::array::BooleanArray,
) -> datafusion::arrow::array::BooleanArray {
    if mask.null_count() > 0 {
        datafusion::arrow::compute::prep_null_mask_filter(mask)
    } else {
        mask.clone()
    }
}

/// Output rows collected during one call, emitted as one batch.
///
/// Rows must be turned back into columns by the converter that produced them (Arrow checks
/// it), so converters are passed to [`ChangeBuilder::take`] rather than owned here. Each
/// row-shaped part is one [`Rows`] buffer the pushed rows are copied into (an `OwnedRow`
/// per output row was an allocation and a reference count each, a large part of emitting).
pub struct ChangeBuilder {
    schema: SchemaRef,
    kinds: Vec<i8>,
    /// Row-shaped column groups, in output order.
    row_parts: Vec<Rows>,
    /// Output columns given as scalars, one vector per column.
    scalar_parts: Vec<Vec<ScalarValue>>,
}

impl ChangeBuilder {
    /// `row_parts`: converters of the row-shaped column groups, in output order, followed
    /// by `scalar_columns` scalar columns (e.g. aggregate values).
    pub fn new(schema: SchemaRef, row_parts: &[&RowConverter], scalar_columns: usize) -> Self {
        ChangeBuilder {
            schema,
            kinds: Vec::new(),
            row_parts: row_parts.iter().map(|c| c.empty_rows(0, 0)).collect(),
            scalar_parts: vec![Vec::new(); scalar_columns],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Adds one output row: one row per row part, then the scalar columns.
    pub fn push(&mut self, kind: RowKind, rows: &[Row<'_>], scalars: &[ScalarValue]) {
        self.push_values(kind, rows, scalars.iter().cloned());
    }

    /// As [`ChangeBuilder::push`], taking the scalars (nothing to copy when the caller is
    /// done with them).
    pub fn push_owned(&mut self, kind: RowKind, rows: &[Row<'_>], scalars: Vec<ScalarValue>) {
        self.push_values(kind, rows, scalars);
    }

    fn push_values(
        &mut self,
        kind: RowKind,
        rows: &[Row<'_>],
        scalars: impl IntoIterator<Item = ScalarValue>,
    ) {
        self.kinds.push(kind as i8);
        for (out, r) in self.row_parts.iter_mut().zip(rows) {
            out.push(*r);
        }
        for (out, v) in self.scalar_parts.iter_mut().zip(scalars) {
            out.push(v);
        }
    }

    /// The collected rows as a batch (columns cast to the output schema's types), and
    /// resets the builder. `converters`: one per row part, the one its rows came from.
    pub fn take(&mut self, converters: &[&RowConverter]) -> Result<Option<StreamBatch>> {
        if self.kinds.is_empty() {
            return Ok(None);
        }
        let n = self.kinds.len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (conv, rows) in converters.iter().zip(&mut self.row_parts) {
            columns.extend(conv.convert_rows(rows.iter())?);
            rows.clear();
        }
        for vals in &mut self.scalar_parts {
            let vals = std::mem::take(vals);
            columns.push(ScalarValue::iter_to_array(vals)?);
        }
        if columns.len() != self.schema.fields().len() {
            return Err(RuntimeError::Internal(format!(
                "changelog output has {} columns, its schema {}",
                columns.len(),
                self.schema.fields().len()
            )));
        }
        let columns = columns
            .into_iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c)
                } else {
                    Ok(datafusion::arrow::compute::cast(&c, f.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?;
        let kinds = Int8Array::from(std::mem::take(&mut self.kinds));
        Ok(Some(StreamBatch {
            batch,
            kinds: Some(Arc::new(kinds)),
        }))
    }
}
