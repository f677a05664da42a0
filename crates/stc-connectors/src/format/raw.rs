//! Flink's `raw` format: a message is one value of the table's single column, as bytes.
//!
//! Unlike `csv` and `json` it is not line-based (a raw value may hold any byte, newlines
//! included), so it works on whole messages: [`decode_values`] turns a list of message values
//! into a column, [`encode_value`] turns one row into a message value. Supported column types
//! are `STRING` (UTF-8; invalid sequences are replaced, as Java's `new String(bytes, UTF_8)`
//! does) and `BYTES`. `raw.charset` accepts only UTF-8 and `raw.endianness` is not supported yet.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, BinaryBuilder, StringArray, StringBuilder};
use arrow::datatypes::{DataType, SchemaRef};

use super::{FormatError, FormatOptions, Result};

/// Checks the `raw.*` options and that `schema` is one STRING or BYTES column.
pub fn check(schema: &SchemaRef, options: &HashMap<String, String>) -> Result<()> {
    let o = FormatOptions::new("raw", options, &["charset", "endianness"])?;
    if let Some(c) = o.get("charset")
        && !c.eq_ignore_ascii_case("utf-8")
        && !c.eq_ignore_ascii_case("utf8")
    {
        return Err(FormatError::Options(format!(
            "unsupported 'raw.charset' '{c}': only UTF-8 is supported yet"
        )));
    }
    if o.get("endianness").is_some() {
        return Err(FormatError::Options(
            "'raw.endianness' is not supported yet (the raw format supports STRING and BYTES columns)".into(),
        ));
    }
    if schema.fields().len() != 1 {
        return Err(FormatError::Options(format!(
            "the raw format needs exactly one physical column (in the value), but got {}: {}",
            schema.fields().len(),
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    match schema.field(0).data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => Ok(()),
        other => Err(FormatError::Options(format!(
            "the raw format supports a STRING or BYTES column, but column '{}' is {other}",
            schema.field(0).name()
        ))),
    }
}

/// The column of `values` (one per message; `None` is a NULL value) in the type of `schema`'s
/// only column.
pub fn decode_values(schema: &SchemaRef, values: &[Option<&[u8]>]) -> Result<ArrayRef> {
    let dt = schema.field(0).data_type();
    let col: ArrayRef = match dt {
        DataType::Utf8 | DataType::LargeUtf8 => {
            let mut b = StringBuilder::with_capacity(values.len(), 0);
            for v in values {
                match v {
                    Some(v) => b.append_value(String::from_utf8_lossy(v)),
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        _ => {
            let mut b = BinaryBuilder::with_capacity(values.len(), 0);
            for v in values {
                match v {
                    Some(v) => b.append_value(v),
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
    };
    if col.data_type() == dt {
        Ok(col)
    } else {
        Ok(arrow::compute::cast(&col, dt)?)
    }
}

/// The message value of row `row` of `col` (`None` for NULL).
pub fn encode_value(col: &dyn Array, row: usize) -> Result<Option<Vec<u8>>> {
    if col.is_null(row) {
        return Ok(None);
    }
    if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
        return Ok(Some(s.value(row).as_bytes().to_vec()));
    }
    if let Some(b) = col.as_any().downcast_ref::<BinaryArray>() {
        return Ok(Some(b.value(row).to_vec()));
    }
    let one = col.slice(row, 1);
    match one.data_type() {
        DataType::LargeUtf8 => {
            let s = arrow::compute::cast(&one, &DataType::Utf8)?;
            encode_value(s.as_ref(), 0)
        }
        DataType::LargeBinary => {
            let s = arrow::compute::cast(&one, &DataType::Binary)?;
            encode_value(s.as_ref(), 0)
        }
        other => Err(FormatError::Encode(format!(
            "the raw format cannot write a {other} value"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};

    fn schema(dt: DataType) -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("v", dt, true)]))
    }

    #[test]
    fn round_trips_strings_and_bytes() {
        let s = schema(DataType::Utf8);
        let col = decode_values(&s, &[Some(b"a\nb"), None, Some(b"")]).unwrap();
        assert_eq!(encode_value(col.as_ref(), 0).unwrap().unwrap(), b"a\nb");
        assert_eq!(encode_value(col.as_ref(), 1).unwrap(), None);
        assert_eq!(encode_value(col.as_ref(), 2).unwrap().unwrap(), b"");
        let b = schema(DataType::Binary);
        let col = decode_values(&b, &[Some(&[0xff, 0])]).unwrap();
        assert_eq!(
            encode_value(col.as_ref(), 0).unwrap().unwrap(),
            vec![0xff, 0]
        );
    }

    #[test]
    fn rejects_other_types_and_several_columns() {
        let err = check(&schema(DataType::Int32), &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("STRING or BYTES"), "{err}");
        let two = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let err = check(&two, &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }
}
