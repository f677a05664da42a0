//! Row-at-a-time column accumulators used by the decoders.
//!
//! Unlike Arrow's builders these can be truncated, so a row that fails half-way through can be
//! rolled back (and skipped under `ignore-parse-errors`) without rebuilding anything.
//! A ROW column holds one child column per field, which decoders may fill directly (the json
//! format does); other nested values (ARRAY, MAP, and ROWs inside them) are collected as
//! [`Val`] trees and built at the end.
//!
//! A NULL ROW does not touch its field columns: they are padded with NULLs in one step when
//! the next non-null ROW (or the end of the batch) needs them aligned. Event streams such as
//! Nexmark's carry several ROW columns of which all but one are NULL in every record, and
//! pushing a NULL into every field of each was a measurable share of decoding.
//!
//! Every batch's buffers start at the sizes of the previous batch's, so a steady stream of
//! batches does not regrow (and copy) them each time.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int8Array, Int16Array, Int32Array, Int64Array, ListArray, MapArray, PrimitiveArray,
    RecordBatch, RecordBatchOptions, StringArray, StructArray, Time32MillisecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{
    DataType, SchemaRef, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};

use super::{FormatError, Result};

/// A decoded value of any type; integers, dates, times and timestamps are `Int`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Int(i64),
    F32(f32),
    F64(f64),
    Dec(i128),
    Str(String),
    Bin(Vec<u8>),
    List(Vec<Val>),
    Map(Vec<(Val, Val)>),
    Struct(Vec<Val>),
}

enum Data {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Dec(Vec<i128>),
    Str {
        bytes: Vec<u8>,
        offsets: Vec<i32>,
    },
    Bin {
        bytes: Vec<u8>,
        offsets: Vec<i32>,
    },
    /// A ROW column: one child column per field, row-aligned with this column.
    Struct(Vec<Column>),
    Nested(Vec<Val>),
}

pub(crate) struct Column {
    dt: DataType,
    data: Data,
    valid: Vec<bool>,
}

/// Whether a type is stored as a nested [`Val`].
pub(crate) fn is_nested(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::List(_) | DataType::LargeList(_) | DataType::Map(..) | DataType::Struct(_)
    )
}

impl Column {
    pub(crate) fn new(dt: &DataType) -> Result<Self> {
        let data = match dt {
            DataType::Boolean => Data::Bool(vec![]),
            DataType::Int8 => Data::I8(vec![]),
            DataType::Int16 => Data::I16(vec![]),
            DataType::Int32 | DataType::Date32 | DataType::Time32(_) => Data::I32(vec![]),
            DataType::Int64 | DataType::Timestamp(..) => Data::I64(vec![]),
            DataType::Float32 => Data::F32(vec![]),
            DataType::Float64 => Data::F64(vec![]),
            DataType::Decimal128(..) => Data::Dec(vec![]),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Data::Str {
                bytes: vec![],
                offsets: vec![0],
            },
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Data::Bin {
                bytes: vec![],
                offsets: vec![0],
            },
            DataType::Struct(fields) => Data::Struct(
                fields
                    .iter()
                    .map(|f| Column::new(f.data_type()))
                    .collect::<Result<_>>()?,
            ),
            dt if is_nested(dt) => Data::Nested(vec![]),
            other => {
                return Err(FormatError::Options(format!(
                    "unsupported column type {other}"
                )));
            }
        };
        Ok(Column {
            dt: dt.clone(),
            data,
            valid: vec![],
        })
    }

    /// An empty column of the same type whose buffers have this one's current sizes as
    /// capacity (the next batch is likely as large as this one).
    fn empty_like(&self) -> Column {
        fn vec_like<T>(v: &[T]) -> Vec<T> {
            Vec::with_capacity(v.len())
        }
        fn offsets_like(v: &[i32]) -> Vec<i32> {
            let mut o = vec_like(v);
            o.push(0);
            o
        }
        let data = match &self.data {
            Data::Bool(v) => Data::Bool(vec_like(v)),
            Data::I8(v) => Data::I8(vec_like(v)),
            Data::I16(v) => Data::I16(vec_like(v)),
            Data::I32(v) => Data::I32(vec_like(v)),
            Data::I64(v) => Data::I64(vec_like(v)),
            Data::F32(v) => Data::F32(vec_like(v)),
            Data::F64(v) => Data::F64(vec_like(v)),
            Data::Dec(v) => Data::Dec(vec_like(v)),
            Data::Str { bytes, offsets } => Data::Str {
                bytes: vec_like(bytes),
                offsets: offsets_like(offsets),
            },
            Data::Bin { bytes, offsets } => Data::Bin {
                bytes: vec_like(bytes),
                offsets: offsets_like(offsets),
            },
            Data::Struct(children) => {
                Data::Struct(children.iter().map(Column::empty_like).collect())
            }
            Data::Nested(v) => Data::Nested(vec_like(v)),
        };
        Column {
            dt: self.dt.clone(),
            data,
            valid: vec_like(&self.valid),
        }
    }

    /// Pads the column with NULLs up to `n` rows (nothing if it has that many).
    fn pad_nulls(&mut self, n: usize) {
        let k = n.saturating_sub(self.valid.len());
        if k == 0 {
            return;
        }
        self.valid.resize(n, false);
        fn pad<T: Clone>(v: &mut Vec<T>, k: usize, x: T) {
            v.resize(v.len() + k, x);
        }
        match &mut self.data {
            Data::Bool(v) => pad(v, k, false),
            Data::I8(v) => pad(v, k, 0),
            Data::I16(v) => pad(v, k, 0),
            Data::I32(v) => pad(v, k, 0),
            Data::I64(v) => pad(v, k, 0),
            Data::F32(v) => pad(v, k, 0.0),
            Data::F64(v) => pad(v, k, 0.0),
            Data::Dec(v) => pad(v, k, 0),
            Data::Str { bytes, offsets } | Data::Bin { bytes, offsets } => {
                pad(offsets, k, bytes.len() as i32)
            }
            // Its own fields are padded when they are next needed.
            Data::Struct(_) => {}
            Data::Nested(v) => pad(v, k, Val::Null),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.valid.len()
    }

    pub(crate) fn truncate(&mut self, n: usize) {
        // A ROW value that failed half-way has pushed into some field columns but not into
        // this one: its children are cut back even when this column is already at `n`.
        if let Data::Struct(children) = &mut self.data {
            children.iter_mut().for_each(|c| c.truncate(n));
        }
        if n >= self.valid.len() {
            return;
        }
        self.valid.truncate(n);
        match &mut self.data {
            Data::Bool(v) => v.truncate(n),
            Data::I8(v) => v.truncate(n),
            Data::I16(v) => v.truncate(n),
            Data::I32(v) => v.truncate(n),
            Data::I64(v) => v.truncate(n),
            Data::F32(v) => v.truncate(n),
            Data::F64(v) => v.truncate(n),
            Data::Dec(v) => v.truncate(n),
            Data::Str { bytes, offsets } | Data::Bin { bytes, offsets } => {
                offsets.truncate(n + 1);
                bytes.truncate(offsets[n] as usize);
            }
            Data::Struct(_) => {}
            Data::Nested(v) => v.truncate(n),
        }
    }

    /// The field columns of a ROW column, which a decoder fills directly (then
    /// [`push_struct_valid`](Self::push_struct_valid)); `None` for any other column.
    pub(crate) fn struct_children(&mut self) -> Option<&mut [Column]> {
        let rows = self.valid.len();
        match &mut self.data {
            Data::Struct(children) => {
                // Aligned with this column's rows before the next value's fields go in.
                children.iter_mut().for_each(|c| c.pad_nulls(rows));
                Some(children)
            }
            _ => None,
        }
    }

    /// Complete a non-null ROW value whose fields were pushed into
    /// [`struct_children`](Self::struct_children).
    pub(crate) fn push_struct_valid(&mut self) {
        debug_assert!(
            matches!(&self.data, Data::Struct(c) if c.iter().all(|c| c.len() == self.valid.len() + 1))
        );
        self.valid.push(true);
    }

    pub(crate) fn push_null(&mut self) {
        self.valid.push(false);
        match &mut self.data {
            Data::Bool(v) => v.push(false),
            Data::I8(v) => v.push(0),
            Data::I16(v) => v.push(0),
            Data::I32(v) => v.push(0),
            Data::I64(v) => v.push(0),
            Data::F32(v) => v.push(0.0),
            Data::F64(v) => v.push(0.0),
            Data::Dec(v) => v.push(0),
            Data::Str { bytes, offsets } | Data::Bin { bytes, offsets } => {
                offsets.push(bytes.len() as i32)
            }
            // The fields are padded lazily (see the module docs).
            Data::Struct(_) => {}
            Data::Nested(v) => v.push(Val::Null),
        }
    }

    /// Push a non-null value. Integers must already be range-checked for the column type.
    pub(crate) fn push(&mut self, v: Val) {
        if v == Val::Null {
            return self.push_null();
        }
        self.valid.push(true);
        match (&mut self.data, v) {
            (Data::Bool(d), Val::Bool(b)) => d.push(b),
            (Data::I8(d), Val::Int(x)) => d.push(x as i8),
            (Data::I16(d), Val::Int(x)) => d.push(x as i16),
            (Data::I32(d), Val::Int(x)) => d.push(x as i32),
            (Data::I64(d), Val::Int(x)) => d.push(x),
            (Data::F32(d), Val::F32(x)) => d.push(x),
            (Data::F64(d), Val::F64(x)) => d.push(x),
            (Data::Dec(d), Val::Dec(x)) => d.push(x),
            (Data::Str { bytes, offsets }, Val::Str(s)) => {
                bytes.extend_from_slice(s.as_bytes());
                offsets.push(bytes.len() as i32);
            }
            (Data::Bin { bytes, offsets }, Val::Bin(b)) => {
                bytes.extend_from_slice(&b);
                offsets.push(bytes.len() as i32);
            }
            (Data::Struct(children), Val::Struct(items)) => {
                let mut items = items.into_iter();
                // `valid` already has this row.
                let rows = self.valid.len() - 1;
                for c in children.iter_mut() {
                    c.pad_nulls(rows);
                    c.push(items.next().unwrap_or(Val::Null));
                }
            }
            (Data::Nested(d), v) => d.push(v),
            (_, v) => {
                // A decoder bug; keep the column consistent and visible.
                debug_assert!(false, "value {v:?} does not fit column {}", self.dt);
                self.valid.pop();
                self.push_null();
            }
        }
    }

    /// Push a non-null integer (or date, time, timestamp) already range-checked for the column
    /// type, without a `Val`.
    pub(crate) fn push_int(&mut self, x: i64) {
        match &mut self.data {
            Data::I8(d) => d.push(x as i8),
            Data::I16(d) => d.push(x as i16),
            Data::I32(d) => d.push(x as i32),
            Data::I64(d) => d.push(x),
            _ => return self.push(Val::Int(x)),
        }
        self.valid.push(true);
    }

    /// Push a non-null double without a `Val`.
    pub(crate) fn push_f64(&mut self, x: f64) {
        match &mut self.data {
            Data::F64(d) => d.push(x),
            _ => return self.push(Val::F64(x)),
        }
        self.valid.push(true);
    }

    /// Push a string without allocating a `Val`.
    pub(crate) fn push_str(&mut self, s: &str) {
        match &mut self.data {
            Data::Str { bytes, offsets } => {
                self.valid.push(true);
                bytes.extend_from_slice(s.as_bytes());
                offsets.push(bytes.len() as i32);
            }
            _ => self.push(Val::Str(s.to_string())),
        }
    }

    pub(crate) fn finish(&mut self) -> Result<ArrayRef> {
        let n = self.valid.len();
        if let Data::Struct(children) = &mut self.data {
            children.iter_mut().for_each(|c| c.pad_nulls(n));
        }
        let fresh = self.empty_like();
        let Column { data, valid, .. } = std::mem::replace(self, fresh);
        let nulls = if valid.iter().all(|v| *v) {
            None
        } else {
            Some(NullBuffer::from(valid))
        };
        let arr: ArrayRef = match data {
            Data::Bool(v) => Arc::new(BooleanArray::new(v.into(), nulls)),
            Data::I8(v) => Arc::new(Int8Array::new(v.into(), nulls)),
            Data::I16(v) => Arc::new(Int16Array::new(v.into(), nulls)),
            Data::I32(v) => match &self.dt {
                DataType::Date32 => Arc::new(Date32Array::new(v.into(), nulls)),
                DataType::Time32(_) => Arc::new(Time32MillisecondArray::new(v.into(), nulls)),
                _ => Arc::new(Int32Array::new(v.into(), nulls)),
            },
            Data::I64(v) => match &self.dt {
                DataType::Timestamp(unit, tz) => timestamp_array(*unit, tz.clone(), v, nulls),
                _ => Arc::new(Int64Array::new(v.into(), nulls)),
            },
            Data::F32(v) => Arc::new(Float32Array::new(v.into(), nulls)),
            Data::F64(v) => Arc::new(Float64Array::new(v.into(), nulls)),
            Data::Dec(v) => {
                let DataType::Decimal128(p, s) = self.dt else {
                    unreachable!()
                };
                Arc::new(Decimal128Array::new(v.into(), nulls).with_precision_and_scale(p, s)?)
            }
            Data::Str { bytes, offsets } => Arc::new(StringArray::try_new(
                OffsetBuffer::new(offsets.into()),
                bytes.into(),
                nulls,
            )?),
            Data::Bin { bytes, offsets } => Arc::new(BinaryArray::try_new(
                OffsetBuffer::new(offsets.into()),
                bytes.into(),
                nulls,
            )?),
            Data::Struct(mut children) => {
                let DataType::Struct(fields) = &self.dt else {
                    unreachable!()
                };
                let arrays = children
                    .iter_mut()
                    .map(Column::finish)
                    .collect::<Result<Vec<_>>>()?;
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(n, nulls))
                } else {
                    Arc::new(StructArray::try_new(fields.clone(), arrays, nulls)?)
                }
            }
            Data::Nested(v) => vals_to_array(&self.dt, v)?,
        };
        debug_assert_eq!(arr.len(), n);
        if arr.data_type() != &self.dt {
            return Ok(arrow::compute::cast(&arr, &self.dt)?);
        }
        Ok(arr)
    }
}

fn timestamp_array(
    unit: TimeUnit,
    tz: Option<Arc<str>>,
    v: Vec<i64>,
    nulls: Option<NullBuffer>,
) -> ArrayRef {
    match unit {
        TimeUnit::Second => Arc::new(
            PrimitiveArray::<TimestampSecondType>::new(v.into(), nulls).with_timezone_opt(tz),
        ),
        TimeUnit::Millisecond => Arc::new(
            PrimitiveArray::<TimestampMillisecondType>::new(v.into(), nulls).with_timezone_opt(tz),
        ),
        TimeUnit::Microsecond => Arc::new(
            PrimitiveArray::<TimestampMicrosecondType>::new(v.into(), nulls).with_timezone_opt(tz),
        ),
        TimeUnit::Nanosecond => Arc::new(
            PrimitiveArray::<TimestampNanosecondType>::new(v.into(), nulls).with_timezone_opt(tz),
        ),
    }
}

/// Build an array of type `dt` from decoded values.
pub(crate) fn vals_to_array(dt: &DataType, vals: Vec<Val>) -> Result<ArrayRef> {
    match dt {
        DataType::List(field) => {
            let mut offsets = Vec::with_capacity(vals.len() + 1);
            offsets.push(0i32);
            let mut valid = Vec::with_capacity(vals.len());
            let mut child = Column::new(field.data_type())?;
            for v in vals {
                match v {
                    Val::List(items) => {
                        for it in items {
                            child.push(it);
                        }
                        valid.push(true);
                    }
                    _ => valid.push(false),
                }
                offsets.push(child.len() as i32);
            }
            let nulls = nulls_of(valid);
            Ok(Arc::new(ListArray::try_new(
                field.clone(),
                OffsetBuffer::new(offsets.into()),
                child.finish()?,
                nulls,
            )?))
        }
        DataType::Map(entries_field, sorted) => {
            let DataType::Struct(kv) = entries_field.data_type() else {
                return Err(FormatError::Options(format!("malformed map type {dt}")));
            };
            let mut keys = Column::new(kv[0].data_type())?;
            let mut values = Column::new(kv[1].data_type())?;
            let mut offsets = vec![0i32];
            let mut valid = Vec::with_capacity(vals.len());
            for v in vals {
                match v {
                    Val::Map(entries) => {
                        for (k, v) in entries {
                            keys.push(k);
                            values.push(v);
                        }
                        valid.push(true);
                    }
                    _ => valid.push(false),
                }
                offsets.push(keys.len() as i32);
            }
            let entries =
                StructArray::try_new(kv.clone(), vec![keys.finish()?, values.finish()?], None)?;
            Ok(Arc::new(MapArray::try_new(
                entries_field.clone(),
                OffsetBuffer::new(offsets.into()),
                entries,
                nulls_of(valid),
                *sorted,
            )?))
        }
        DataType::Struct(fields) => {
            let mut cols: Vec<Column> = fields
                .iter()
                .map(|f| Column::new(f.data_type()))
                .collect::<Result<_>>()?;
            let mut valid = Vec::with_capacity(vals.len());
            for v in vals {
                match v {
                    Val::Struct(items) => {
                        let mut it = items.into_iter();
                        for c in cols.iter_mut() {
                            c.push(it.next().unwrap_or(Val::Null));
                        }
                        valid.push(true);
                    }
                    _ => {
                        for c in cols.iter_mut() {
                            c.push_null();
                        }
                        valid.push(false);
                    }
                }
            }
            let arrays = cols
                .iter_mut()
                .map(|c| c.finish())
                .collect::<Result<Vec<_>>>()?;
            if fields.is_empty() {
                return Ok(Arc::new(StructArray::new_empty_fields(
                    valid.len(),
                    nulls_of(valid),
                )));
            }
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                arrays,
                nulls_of(valid),
            )?))
        }
        other => {
            let mut c = Column::new(other)?;
            for v in vals {
                c.push(v);
            }
            c.finish()
        }
    }
}

fn nulls_of(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    }
}

/// Accumulates whole rows of a schema.
pub(crate) struct Columns {
    schema: SchemaRef,
    pub(crate) cols: Vec<Column>,
    rows: usize,
}

impl Columns {
    pub(crate) fn new(schema: SchemaRef) -> Result<Self> {
        let cols = schema
            .fields()
            .iter()
            .map(|f| Column::new(f.data_type()))
            .collect::<Result<_>>()?;
        Ok(Columns {
            schema,
            cols,
            rows: 0,
        })
    }

    /// Mark the current row complete (every column must have received a value).
    pub(crate) fn commit_row(&mut self) {
        self.rows += 1;
        debug_assert!(self.cols.iter().all(|c| c.len() == self.rows));
    }

    /// Mark `n` rows complete at once (the columnar decoders fill one column at a time).
    pub(crate) fn commit_rows(&mut self, n: usize) {
        self.rows += n;
        debug_assert!(self.cols.iter().all(|c| c.len() == self.rows));
    }

    /// Committed rows not yet taken by [`finish`](Self::finish).
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Drop every row after the first `n` committed ones, and the uncommitted one (a record
    /// that yields several rows is all or nothing).
    pub(crate) fn truncate_rows(&mut self, n: usize) {
        self.rows = self.rows.min(n);
        self.rollback_row();
    }

    /// Drop whatever the current (uncommitted) row pushed.
    pub(crate) fn rollback_row(&mut self) {
        for c in &mut self.cols {
            c.truncate(self.rows);
        }
    }

    pub(crate) fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let n = self.rows;
        self.rows = 0;
        let arrays = self
            .cols
            .iter_mut()
            .map(|c| c.finish())
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?))
    }
}
