//! Parquet: reading a file into the table schema, writing part files.
//!
//! Reading projects the file's columns onto the table schema **by name** and casts each to the
//! table's type (so a file written with `INT64` can feed a `BIGINT` column and a `TIMESTAMP(3)`
//! column can read microsecond data). A table column missing from the file is an error naming
//! the column and listing the file's columns.

use std::fs::File;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{FormatError, Result};

/// Read `path` as batches of `schema` (at most `batch_size` rows each).
pub fn read_parquet_file(
    path: &str,
    schema: SchemaRef,
    batch_size: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + use<>> {
    let file = File::open(path).map_err(|e| FormatError::Io {
        path: path.to_string(),
        source: e,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| FormatError::Parquet(format!("cannot read parquet file {path}: {e}")))?;
    let file_schema = builder.schema().clone();
    let mut roots = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        match file_schema.index_of(f.name()) {
            Ok(i) => roots.push(i),
            Err(_) => {
                let have: Vec<&str> = file_schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                return Err(FormatError::Parquet(format!(
                    "column '{}' of the table is missing in parquet file {path}; the file has columns: {}",
                    f.name(),
                    have.join(", ")
                )));
            }
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(batch_size.max(1))
        .build()
        .map_err(|e| FormatError::Parquet(format!("cannot read parquet file {path}: {e}")))?;
    let path = path.to_string();
    Ok(reader.map(move |batch| {
        let batch = batch
            .map_err(|e| FormatError::Parquet(format!("cannot read parquet file {path}: {e}")))?;
        let mut cols = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let col = batch.column_by_name(f.name()).ok_or_else(|| {
                FormatError::Parquet(format!("column '{}' missing in {path}", f.name()))
            })?;
            cols.push(if col.data_type() == f.data_type() {
                col.clone()
            } else {
                arrow::compute::cast(col, f.data_type()).map_err(|e| {
                    FormatError::Parquet(format!(
                        "column '{}' of {path} has type {} which cannot be read as {}: {e}",
                        f.name(),
                        col.data_type(),
                        f.data_type()
                    ))
                })?
            });
        }
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }))
}

/// Writes one parquet part file.
pub struct ParquetPartWriter {
    path: String,
    writer: ArrowWriter<File>,
}

impl std::fmt::Debug for ParquetPartWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetPartWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ParquetPartWriter {
    pub fn new(path: &str, schema: SchemaRef) -> Result<Self> {
        let file = File::create(path).map_err(|e| FormatError::Io {
            path: path.to_string(),
            source: e,
        })?;
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), None)
            .map_err(|e| FormatError::Parquet(format!("cannot write parquet file {path}: {e}")))?;
        Ok(ParquetPartWriter {
            path: path.to_string(),
            writer,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| {
            FormatError::Parquet(format!("cannot write parquet file {}: {e}", self.path))
        })
    }

    /// Flush and finish the file (footer written); the file is complete only after this.
    pub fn close(self) -> Result<()> {
        self.writer.close().map(|_| ()).map_err(|e| {
            FormatError::Parquet(format!("cannot finish parquet file {}: {e}", self.path))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn write_then_read_projects_and_casts_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.parquet");
        let path = path.to_str().unwrap();
        let file_schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            file_schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec!["x", "y"])),
            ],
        )
        .unwrap();
        let mut w = ParquetPartWriter::new(path, file_schema).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        // Table schema: other order, BIGINT instead of INT.
        let table = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("a", DataType::Int64, true),
        ]));
        let got: Vec<RecordBatch> = read_parquet_file(path, table.clone(), 1024)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].schema(), table);
        let a = got[0]
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![Some(1), None]);

        // A missing column is a clear error.
        let missing = Arc::new(Schema::new(vec![Field::new("zz", DataType::Utf8, true)]));
        let err = read_parquet_file(path, missing, 10)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("column 'zz'") && err.contains("the file has columns: a, s"),
            "{err}"
        );
    }
}
