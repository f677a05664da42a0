//! Flink's `avro` format for message connectors: each message is one Avro binary datum (no
//! container-file header, no schema registry), as Flink's `AvroRowDataDeserializationSchema`
//! reads it.
//!
//! Schema: derived from the table's columns as Flink's `AvroSchemaConverter` does (a record
//! named `record`; a nullable column is the union `["null", type]`), or given with
//! `avro.schema` (the schema's JSON text) or `avro.schema-file` (a path to it). Fields are
//! matched to columns by name. Types: BOOLEAN, TINYINT/SMALLINT/INT (`int`), BIGINT (`long`),
//! FLOAT, DOUBLE, STRING (also Avro `enum`), BYTES (also `fixed`), DATE (`int` date),
//! TIMESTAMP(3)/TIMESTAMP_LTZ(3) (`long` timestamp-millis; micros read too), DECIMAL (`bytes`
//! decimal). Nested types (ROW, ARRAY, MAP) are not supported yet.
//!
//! Unlike `csv`/`json`, Avro payloads are binary and may hold any byte, so this format does not
//! implement the line-based [`RecordDecoder`](super::RecordDecoder): it decodes one message at
//! a time ([`AvroDecoder::decode_one`]).

use std::collections::HashMap;

use apache_avro::Schema as AvroSchema;
use apache_avro::types::Value;
use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::scalar::ScalarValue;

use super::{FormatError, FormatOptions, Result};

const VALID: &[&str] = &["schema", "schema-file", "ignore-parse-errors"];

/// The Avro type of a column type (without nullability).
fn avro_type(name: &str, dt: &DataType) -> Result<serde_json::Value> {
    use serde_json::json;
    Ok(match dt {
        DataType::Boolean => json!("boolean"),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => json!("int"),
        DataType::Int64 => json!("long"),
        DataType::Float32 => json!("float"),
        DataType::Float64 => json!("double"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json!("string"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => json!("bytes"),
        DataType::Date32 => json!({"type": "int", "logicalType": "date"}),
        DataType::Timestamp(_, _) => json!({"type": "long", "logicalType": "timestamp-millis"}),
        DataType::Decimal128(p, s) => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})
        }
        other => {
            return Err(FormatError::Options(format!(
                "the avro format does not support the type of column '{name}' ({other}) yet"
            )));
        }
    })
}

/// Flink's derived schema of a table row.
pub fn derive_schema(schema: &SchemaRef) -> Result<AvroSchema> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| {
            let t = avro_type(f.name(), f.data_type())?;
            Ok(if f.is_nullable() {
                serde_json::json!({"name": f.name(), "type": ["null", t], "default": null})
            } else {
                serde_json::json!({"name": f.name(), "type": t})
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let json = serde_json::json!({"type": "record", "name": "record", "fields": fields});
    AvroSchema::parse_str(&json.to_string())
        .map_err(|e| FormatError::Options(format!("cannot build the avro schema: {e}")))
}

/// The schema of `avro.schema` / `avro.schema-file`, or the derived one; every column must be
/// a field of it.
fn schema_of(schema: &SchemaRef, options: &HashMap<String, String>) -> Result<AvroSchema> {
    let o = FormatOptions::new("avro", options, VALID)?;
    let text = match (o.get("schema"), o.get("schema-file")) {
        (Some(_), Some(_)) => {
            return Err(FormatError::Options(
                "give either 'avro.schema' or 'avro.schema-file', not both".into(),
            ));
        }
        (Some(s), None) => Some(s.to_string()),
        (None, Some(path)) => Some(std::fs::read_to_string(path).map_err(|e| {
            FormatError::Options(format!("cannot read 'avro.schema-file' '{path}': {e}"))
        })?),
        (None, None) => None,
    };
    let Some(text) = text else {
        return derive_schema(schema);
    };
    let avro = AvroSchema::parse_str(&text)
        .map_err(|e| FormatError::Options(format!("invalid avro schema: {e}")))?;
    let AvroSchema::Record(rec) = &avro else {
        return Err(FormatError::Options(
            "the avro schema must be a record whose fields are the table's columns".into(),
        ));
    };
    for f in schema.fields() {
        if !rec.fields.iter().any(|r| r.name == *f.name()) {
            let names: Vec<&str> = rec.fields.iter().map(|r| r.name.as_str()).collect();
            return Err(FormatError::Options(format!(
                "column '{}' is not a field of the avro schema (fields: {})",
                f.name(),
                names.join(", ")
            )));
        }
        avro_type(f.name(), f.data_type())?;
    }
    Ok(avro)
}

/// Checks the options of the avro format for a table.
pub fn validate(schema: &SchemaRef, options: &HashMap<String, String>) -> Result<()> {
    schema_of(schema, options).map(|_| ())
}

pub fn ignore_parse_errors(options: &HashMap<String, String>) -> Result<bool> {
    FormatOptions::new("avro", options, VALID)?.bool("ignore-parse-errors", false)
}

/// Decodes Avro datums into rows of `schema`.
pub struct AvroDecoder {
    schema: SchemaRef,
    avro: AvroSchema,
    /// For each column, its field index in the Avro record.
    field_index: Vec<usize>,
    /// Values of the rows decoded so far, per column.
    columns: Vec<Vec<ScalarValue>>,
}

impl AvroDecoder {
    pub fn new(schema: SchemaRef, options: &HashMap<String, String>) -> Result<Self> {
        let avro = schema_of(&schema, options)?;
        let AvroSchema::Record(rec) = &avro else {
            unreachable!("schema_of returns a record");
        };
        let field_index = schema
            .fields()
            .iter()
            .map(|f| {
                rec.fields
                    .iter()
                    .position(|r| r.name == *f.name())
                    .expect("schema_of checked the fields")
            })
            .collect();
        Ok(AvroDecoder {
            columns: vec![Vec::new(); schema.fields().len()],
            schema,
            avro,
            field_index,
        })
    }

    /// The rows' schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Decodes one datum and keeps its row; on error nothing is kept.
    pub fn decode_one(&mut self, payload: &[u8]) -> std::result::Result<(), String> {
        let mut reader = payload;
        let value = apache_avro::from_avro_datum(&self.avro, &mut reader, None)
            .map_err(|e| format!("Failed to deserialize Avro record: {e}"))?;
        if !reader.is_empty() {
            return Err(format!(
                "{} bytes after the Avro record (a message must hold one datum)",
                reader.len()
            ));
        }
        let Value::Record(fields) = value else {
            return Err("the Avro datum is not a record".into());
        };
        let mut row = Vec::with_capacity(self.field_index.len());
        for (col, idx) in self.field_index.iter().enumerate() {
            let field = self.schema.field(col);
            let v = &fields[*idx].1;
            let s = to_scalar(v, field.data_type())
                .map_err(|e| format!("Fail to deserialize at field: {}. {e}", field.name()))?;
            if s.is_null() && !field.is_nullable() {
                return Err(format!(
                    "field '{}' is NOT NULL but the record holds null",
                    field.name()
                ));
            }
            row.push(s);
        }
        for (c, v) in self.columns.iter_mut().zip(row) {
            c.push(v);
        }
        Ok(())
    }

    /// The rows decoded since the last call, or `None` if there are none.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.columns.first().is_none_or(|c| c.is_empty()) {
            return Ok(None);
        }
        let cols = self
            .columns
            .iter_mut()
            .zip(self.schema.fields())
            .map(|(c, f)| -> Result<ArrayRef> {
                let vals = std::mem::take(c);
                ScalarValue::iter_to_array(vals)
                    .and_then(|a| {
                        if a.data_type() == f.data_type() {
                            Ok(a)
                        } else {
                            Ok(arrow::compute::cast(&a, f.data_type())?)
                        }
                    })
                    .map_err(|e| FormatError::Encode(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RecordBatch::try_new(self.schema.clone(), cols)?))
    }
}

fn to_scalar(v: &Value, dt: &DataType) -> std::result::Result<ScalarValue, String> {
    let natural = match v {
        Value::Union(_, inner) => return to_scalar(inner, dt),
        Value::Null => return ScalarValue::try_from(dt).map_err(|e| e.to_string()),
        Value::Boolean(b) => ScalarValue::Boolean(Some(*b)),
        Value::Int(i) => ScalarValue::Int32(Some(*i)),
        Value::Long(i) => ScalarValue::Int64(Some(*i)),
        Value::Float(f) => ScalarValue::Float32(Some(*f)),
        Value::Double(f) => ScalarValue::Float64(Some(*f)),
        Value::String(s) | Value::Enum(_, s) => ScalarValue::Utf8(Some(s.clone())),
        Value::Bytes(b) | Value::Fixed(_, b) => ScalarValue::Binary(Some(b.clone())),
        Value::Date(d) => ScalarValue::Date32(Some(*d)),
        Value::TimestampMillis(t) | Value::LocalTimestampMillis(t) => {
            ScalarValue::TimestampMillisecond(Some(*t), None)
        }
        Value::TimestampMicros(t) | Value::LocalTimestampMicros(t) => {
            ScalarValue::TimestampMicrosecond(Some(*t), None)
        }
        Value::Decimal(d) => {
            let DataType::Decimal128(p, s) = dt else {
                return Err(format!("an Avro decimal cannot be read as {dt}"));
            };
            let bytes: Vec<u8> = Vec::try_from(d).map_err(|e| e.to_string())?;
            if bytes.len() > 16 {
                return Err("the Avro decimal does not fit DECIMAL(38)".into());
            }
            let mut buf = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                [0xffu8; 16]
            } else {
                [0u8; 16]
            };
            buf[16 - bytes.len()..].copy_from_slice(&bytes);
            ScalarValue::Decimal128(Some(i128::from_be_bytes(buf)), *p, *s)
        }
        other => return Err(format!("unsupported Avro value {other:?}")),
    };
    if natural.data_type() == *dt {
        return Ok(natural);
    }
    let target = match dt {
        // Arrow casts timestamps between zones by keeping the instant; the Avro value is UTC.
        DataType::Timestamp(u, Some(_)) => DataType::Timestamp(*u, Some("UTC".into())),
        other => other.clone(),
    };
    let cast = natural
        .cast_to(&target)
        .map_err(|e| format!("cannot read {v:?} as {dt}: {e}"))?;
    cast.cast_to(dt).map_err(|e| e.to_string())
}

/// Encodes rows as Avro datums (one per row).
pub struct AvroEncoder {
    schema: SchemaRef,
    avro: AvroSchema,
    /// Per column: (field name, union index of null, union index of the value) when the field
    /// is a union.
    fields: Vec<(String, Option<(u32, u32)>)>,
}

impl AvroEncoder {
    pub fn new(schema: SchemaRef, options: &HashMap<String, String>) -> Result<Self> {
        let avro = schema_of(&schema, options)?;
        let AvroSchema::Record(rec) = &avro else {
            unreachable!("schema_of returns a record");
        };
        let fields = rec
            .fields
            .iter()
            .map(|f| {
                let union = match &f.schema {
                    AvroSchema::Union(u) => {
                        let v = u.variants();
                        let null = v.iter().position(|s| *s == AvroSchema::Null);
                        let value = v.iter().position(|s| *s != AvroSchema::Null);
                        match (null, value) {
                            (Some(n), Some(x)) => Some((n as u32, x as u32)),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                (f.name.clone(), union)
            })
            .collect();
        Ok(AvroEncoder {
            schema,
            avro,
            fields,
        })
    }

    /// One datum per row of `batch`.
    /// The schema of the rows it encodes.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut rec = Vec::with_capacity(self.fields.len());
            for (name, union) in &self.fields {
                let v = match self.schema.index_of(name) {
                    Err(_) => Value::Null,
                    Ok(i) => {
                        let s = ScalarValue::try_from_array(batch.column(i), row)
                            .map_err(|e| FormatError::Encode(e.to_string()))?;
                        from_scalar(&s)?
                    }
                };
                let v = match (union, v) {
                    (Some((n, _)), Value::Null) => Value::Union(*n, Box::new(Value::Null)),
                    (Some((_, x)), v) => Value::Union(*x, Box::new(v)),
                    (None, v) => v,
                };
                rec.push((name.clone(), v));
            }
            let bytes = apache_avro::to_avro_datum(&self.avro, Value::Record(rec))
                .map_err(|e| FormatError::Encode(format!("avro: {e}")))?;
            out.push(bytes);
        }
        Ok(out)
    }
}

fn from_scalar(s: &ScalarValue) -> Result<Value> {
    if s.is_null() {
        return Ok(Value::Null);
    }
    Ok(match s {
        ScalarValue::Boolean(Some(b)) => Value::Boolean(*b),
        ScalarValue::Int8(Some(i)) => Value::Int(*i as i32),
        ScalarValue::Int16(Some(i)) => Value::Int(*i as i32),
        ScalarValue::Int32(Some(i)) => Value::Int(*i),
        ScalarValue::Int64(Some(i)) => Value::Long(*i),
        ScalarValue::Float32(Some(f)) => Value::Float(*f),
        ScalarValue::Float64(Some(f)) => Value::Double(*f),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Value::String(s.clone()),
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => Value::Bytes(b.clone()),
        ScalarValue::Date32(Some(d)) => Value::Date(*d),
        ScalarValue::TimestampSecond(Some(t), _) => Value::TimestampMillis(t * 1000),
        ScalarValue::TimestampMillisecond(Some(t), _) => Value::TimestampMillis(*t),
        ScalarValue::TimestampMicrosecond(Some(t), _) => Value::TimestampMillis(t.div_euclid(1000)),
        ScalarValue::TimestampNanosecond(Some(t), _) => {
            Value::TimestampMillis(t.div_euclid(1_000_000))
        }
        ScalarValue::Decimal128(Some(v), _, _) => {
            // Minimal two's-complement big-endian bytes, as Java's BigInteger.toByteArray.
            let b = v.to_be_bytes();
            let mut start = 0;
            while start < 15
                && ((b[start] == 0 && b[start + 1] & 0x80 == 0)
                    || (b[start] == 0xff && b[start + 1] & 0x80 != 0))
            {
                start += 1;
            }
            Value::Decimal(apache_avro::Decimal::from(&b[start..]))
        }
        other => {
            return Err(FormatError::Encode(format!(
                "the avro format cannot write a value of type {}",
                other.data_type()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
        Int64Array, StringArray, TimestampMillisecondArray,
    };
    use arrow::datatypes::{Field, Schema, TimeUnit};

    use super::*;

    fn table_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("big", DataType::Int64, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("x", DataType::Float64, true),
            Field::new("raw", DataType::Binary, true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("price", DataType::Decimal128(10, 2), true),
        ]))
    }

    fn rows() -> RecordBatch {
        RecordBatch::try_new(
            table_schema(),
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("é"), None])),
                Arc::new(Int64Array::from(vec![Some(1 << 40), None])),
                Arc::new(BooleanArray::from(vec![Some(true), None])),
                Arc::new(Float64Array::from(vec![Some(1.5), None])),
                Arc::new(BinaryArray::from(vec![Some(&b"\n\x00"[..]), None])),
                Arc::new(Date32Array::from(vec![Some(19000), None])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![Some(1_700_000_000_123), None])
                        .with_timezone("UTC"),
                ),
                Arc::new(
                    Decimal128Array::from(vec![Some(-12345), None])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn derived_schema_is_flinks() {
        let s = derive_schema(&table_schema()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&s.canonical_form()).unwrap();
        assert_eq!(json["name"], "record");
        assert_eq!(json["fields"][0]["type"], "int", "NOT NULL is not a union");
        assert_eq!(json["fields"][1]["type"][0], "null");
        assert_eq!(json["fields"][1]["type"][1], "string");
    }

    #[test]
    fn round_trip_every_type() {
        let opts = HashMap::new();
        let enc = AvroEncoder::new(table_schema(), &opts).unwrap();
        let payloads = enc.encode(&rows()).unwrap();
        assert_eq!(payloads.len(), 2);
        let mut dec = AvroDecoder::new(table_schema(), &opts).unwrap();
        for p in &payloads {
            dec.decode_one(p).unwrap();
        }
        let got = dec.finish().unwrap().unwrap();
        assert_eq!(got, rows());
        assert!(dec.finish().unwrap().is_none(), "finish drains");
    }

    #[test]
    fn a_given_schema_is_matched_by_name() {
        let schema = r#"{"type": "record", "name": "Order", "fields": [
            {"name": "extra", "type": "long"},
            {"name": "name", "type": ["string", "null"]},
            {"name": "id", "type": "int"}]}"#;
        let opts: HashMap<String, String> =
            [("avro.schema".to_string(), schema.to_string())].into();
        let table = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let avro = AvroSchema::parse_str(schema).unwrap();
        let datum = apache_avro::to_avro_datum(
            &avro,
            Value::Record(vec![
                ("extra".into(), Value::Long(9)),
                (
                    "name".into(),
                    Value::Union(0, Box::new(Value::String("a".into()))),
                ),
                ("id".into(), Value::Int(7)),
            ]),
        )
        .unwrap();
        let mut dec = AvroDecoder::new(table.clone(), &opts).unwrap();
        dec.decode_one(&datum).unwrap();
        let b = dec.finish().unwrap().unwrap();
        assert_eq!(
            b.column(0)
                .as_any()
                .downcast_ref::<Int32Array>()
                .unwrap()
                .value(0),
            7
        );
        let names = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(names.value(0), "a");

        let missing = Arc::new(Schema::new(vec![Field::new("nope", DataType::Int32, true)]));
        let err = AvroDecoder::new(missing, &opts).err().unwrap().to_string();
        assert!(err.contains("column 'nope' is not a field"), "{err}");
        assert!(err.contains("extra, name, id"), "{err}");
    }

    #[test]
    fn bad_datum_is_an_error() {
        let mut dec = AvroDecoder::new(table_schema(), &HashMap::new()).unwrap();
        let err = dec.decode_one(b"\xff\xff\xff").unwrap_err();
        assert!(err.contains("Avro"), "{err}");
        assert!(dec.finish().unwrap().is_none(), "nothing kept");
    }

    #[test]
    fn unsupported_types_are_named() {
        let s = Arc::new(Schema::new(vec![Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        )]));
        let err = validate(&s, &HashMap::new()).unwrap_err().to_string();
        assert!(err.contains("column 'tags'"), "{err}");
    }
}
