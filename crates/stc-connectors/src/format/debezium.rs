//! Flink's `debezium-json` format, encoding side: every change of an updating stream as a
//! Debezium envelope, as Flink's `DebeziumJsonSerializationSchema` writes it.
//!
//! `+I` and `+U` become `{"before":null,"after":{…},"op":"c"}`; `-U` and `-D` become
//! `{"before":{…},"after":null,"op":"d"}` (Flink writes an update as a delete and a create,
//! not as Debezium's `"u"`). Row values use the `json` format's text, configured with the
//! `debezium-json.*` options that Flink forwards to it.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use stc_common::RowKind;

use super::json::JsonEncoder;
use super::{FormatError, RecordEncoder, Result};

/// Options of `debezium-json` (without the prefix) that Flink accepts.
const OPTIONS: &[&str] = &[
    "schema-include",
    "ignore-parse-errors",
    "timestamp-format.standard",
    "map-null-key.mode",
    "map-null-key.literal",
    "encode.decimal-as-plain-number",
    "encode.ignore-null-fields",
];

/// Encoder for `debezium-json`.
pub struct DebeziumJsonEncoder {
    json: JsonEncoder,
}

impl DebeziumJsonEncoder {
    pub fn new(schema: SchemaRef, options: &HashMap<String, String>) -> Result<Self> {
        let mut json_options = HashMap::new();
        for (k, v) in options {
            let Some(rest) = k.strip_prefix("debezium-json.") else {
                continue;
            };
            if !OPTIONS.contains(&rest) {
                let valid: Vec<String> = OPTIONS
                    .iter()
                    .map(|o| format!("'debezium-json.{o}'"))
                    .collect();
                return Err(FormatError::Options(format!(
                    "unsupported option 'debezium-json.{rest}'; supported options: {}",
                    valid.join(", ")
                )));
            }
            match rest {
                "schema-include" if v.eq_ignore_ascii_case("true") => {
                    return Err(FormatError::Options(
                        "'debezium-json.schema-include' = 'true' is not supported yet for writing"
                            .into(),
                    ));
                }
                "schema-include" => {}
                _ => {
                    json_options.insert(format!("json.{rest}"), v.clone());
                }
            }
        }
        Ok(DebeziumJsonEncoder {
            json: JsonEncoder::new(schema, &json_options)?,
        })
    }
}

impl RecordEncoder for DebeziumJsonEncoder {
    fn encode(
        &mut self,
        batch: &RecordBatch,
        kinds: Option<&[RowKind]>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for row in 0..batch.num_rows() {
            let kind = kinds.map_or(RowKind::Insert, |k| k[row]);
            if kind.is_addition() {
                out.extend_from_slice(b"{\"before\":null,\"after\":");
                self.json.write_object(batch, row, out)?;
                out.extend_from_slice(b",\"op\":\"c\"}\n");
            } else {
                out.extend_from_slice(b"{\"before\":");
                self.json.write_object(batch, row, out)?;
                out.extend_from_slice(b",\"after\":null,\"op\":\"d\"}\n");
            }
        }
        Ok(())
    }
}
