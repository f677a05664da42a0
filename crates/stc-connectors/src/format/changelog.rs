//! Flink's changelog formats: `debezium-json`, `canal-json` and `maxwell-json`.
//!
//! Decoding is per record (one message's bytes), so every connector that carries messages can
//! use [`ChangelogDecoder`]; line-based files go through its [`RecordDecoder`] adapter. A
//! record becomes zero or more rows with Flink's row kinds, exactly as Flink's
//! `*JsonDeserializationSchema`s emit them:
//!
//! | format | record | rows |
//! |---|---|---|
//! | debezium | `op` `c` / `r` | `+I after` |
//! | debezium | `op` `u` | `-U before`, `+U after` |
//! | debezium | `op` `d` | `-D before` |
//! | canal | `type` `INSERT` / `DELETE` | `+I` / `-D` per element of `data` |
//! | canal | `type` `UPDATE` | per element `i`: `-U` (`data[i]` with the fields of `old[i]`), `+U data[i]` |
//! | canal | `type` `CREATE` (DDL) | none |
//! | maxwell | `type` `insert` / `delete` | `+I data` / `-D data` |
//! | maxwell | `type` `update` | `-U` (`data` with the fields of `old`), `+U data` |
//!
//! An empty record (a tombstone) yields nothing. Anything else — an unknown `op`/`type`, a
//! missing `before` on an update or delete, a value that does not fit its column — fails with
//! Flink's message. With `<format>.ignore-parse-errors`, as in Flink, a value that does not
//! fit its column is NULL, and a record that cannot be read (not JSON, an unknown `op`/`type`,
//! a missing row) is skipped whole and counted. Row values are read by the `json` format's decoder with the `<format>.*` options Flink
//! forwards to it (`timestamp-format.standard`, `map-null-key.*`).
//!
//! Encoding: `canal-json` writes `{"data":[row],"type":"INSERT"|"DELETE"}` and `maxwell-json`
//! `{"data":row,"type":"insert"|"delete"}` (Flink writes `+I`/`+U` as an insert and `-U`/`-D`
//! as a delete; `debezium-json` is in [`super::debezium`]).

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use stc_common::RowKind;

use super::json::{JsonDecoder, JsonEncoder, array_elements, object_members};
use super::{FormatError, RecordDecoder, RecordEncoder, Result};

/// The three changelog formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangelogFormat {
    Debezium,
    Canal,
    Maxwell,
}

impl ChangelogFormat {
    /// The format of a `'format'` option value, if it is a changelog format.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "debezium-json" => Some(ChangelogFormat::Debezium),
            "canal-json" => Some(ChangelogFormat::Canal),
            "maxwell-json" => Some(ChangelogFormat::Maxwell),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChangelogFormat::Debezium => "debezium-json",
            ChangelogFormat::Canal => "canal-json",
            ChangelogFormat::Maxwell => "maxwell-json",
        }
    }

    /// The name in Flink's error messages ("Corrupt Debezium JSON message …").
    fn title(self) -> &'static str {
        match self {
            ChangelogFormat::Debezium => "Debezium",
            ChangelogFormat::Canal => "Canal",
            ChangelogFormat::Maxwell => "Maxwell",
        }
    }

    /// Options (without the prefix) Flink accepts for the format.
    fn options(self) -> &'static [&'static str] {
        match self {
            ChangelogFormat::Debezium => &[
                "schema-include",
                "ignore-parse-errors",
                "timestamp-format.standard",
                "map-null-key.mode",
                "map-null-key.literal",
                "encode.decimal-as-plain-number",
                "encode.ignore-null-fields",
            ],
            ChangelogFormat::Canal | ChangelogFormat::Maxwell => &[
                "ignore-parse-errors",
                "timestamp-format.standard",
                "map-null-key.mode",
                "map-null-key.literal",
                "encode.decimal-as-plain-number",
                "encode.ignore-null-fields",
                "database.include",
                "table.include",
            ],
        }
    }
}

/// The format's own options, validated, and the `json.*` options Flink forwards to the json
/// format that reads and writes the row values.
struct ParsedOptions {
    ignore_parse_errors: bool,
    schema_include: bool,
    json: HashMap<String, String>,
}

fn parse_options(
    format: ChangelogFormat,
    options: &HashMap<String, String>,
) -> Result<ParsedOptions> {
    let o = super::FormatOptions::new(format.name(), options, format.options())?;
    for unsupported in ["database.include", "table.include"] {
        if o.get(unsupported).is_some() {
            return Err(FormatError::Options(format!(
                "not supported yet: option '{}.{unsupported}' (filtering change events by database or table)",
                format.name()
            )));
        }
    }
    let mut json = HashMap::new();
    for key in [
        "timestamp-format.standard",
        "map-null-key.mode",
        "map-null-key.literal",
        "encode.decimal-as-plain-number",
        "encode.ignore-null-fields",
    ] {
        if let Some(v) = o.get(key) {
            json.insert(format!("json.{key}"), v.to_string());
        }
    }
    Ok(ParsedOptions {
        ignore_parse_errors: o.bool("ignore-parse-errors", false)?,
        schema_include: o.bool("schema-include", false)?,
        json,
    })
}

/// Decodes change records of one changelog format into rows of `schema` with their kinds.
pub struct ChangelogDecoder {
    format: ChangelogFormat,
    rows: JsonDecoder,
    kinds: Vec<RowKind>,
    ignore_parse_errors: bool,
    schema_include: bool,
    skipped: u64,
    /// Row kinds of the batch last returned by [`RecordDecoder::decode`].
    taken_kinds: Option<Vec<RowKind>>,
}

impl ChangelogDecoder {
    pub fn new(
        format: ChangelogFormat,
        schema: SchemaRef,
        options: &HashMap<String, String>,
    ) -> Result<Self> {
        let parsed = parse_options(format, options)?;
        let mut rows = JsonDecoder::new(schema, &parsed.json)?;
        if parsed.ignore_parse_errors {
            // Flink's json deserializer under these formats nulls a value that does not fit
            // its column and keeps the row; only a record that cannot be read is skipped.
            rows.null_bad_fields();
        }
        Ok(ChangelogDecoder {
            format,
            rows,
            kinds: Vec::new(),
            ignore_parse_errors: parsed.ignore_parse_errors,
            schema_include: parsed.schema_include,
            skipped: 0,
            taken_kinds: None,
        })
    }

    /// Decodes one record (a message, or a line of a file). Its rows are kept until
    /// [`finish`](Self::finish); a record that fails leaves no row behind. `Ok(false)` means
    /// the record was bad and skipped (`ignore-parse-errors`); `Err` gives Flink's reason.
    pub fn decode_record(&mut self, record: &[u8]) -> std::result::Result<bool, String> {
        if record.iter().all(u8::is_ascii_whitespace) {
            // A tombstone: Flink skips empty messages.
            return Ok(true);
        }
        let before = self.rows.pending_rows();
        let result = match self.format {
            ChangelogFormat::Debezium => self.debezium(record),
            ChangelogFormat::Canal => self.canal(record),
            ChangelogFormat::Maxwell => self.maxwell(record),
        };
        match result {
            Ok(()) => Ok(true),
            Err(reason) => {
                self.rows.truncate_rows(before);
                self.kinds.truncate(before);
                if self.ignore_parse_errors {
                    self.skipped += 1;
                    Ok(false)
                } else {
                    Err(reason)
                }
            }
        }
    }

    /// The rows decoded since the last call, with their kinds.
    pub fn finish(&mut self) -> Result<Option<(RecordBatch, Vec<RowKind>)>> {
        let kinds = std::mem::take(&mut self.kinds);
        Ok(self.rows.finish_rows()?.map(|b| (b, kinds)))
    }

    /// Records skipped because of `ignore-parse-errors`.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn corrupt(&self, detail: impl std::fmt::Display) -> String {
        format!("Corrupt {} JSON message: {detail}", self.format.title())
    }

    fn push(&mut self, kind: RowKind, object: &[u8]) -> std::result::Result<(), String> {
        if is_null(object) {
            return Err(self.corrupt("a row is null"));
        }
        self.rows.push_object(object).map_err(|e| self.corrupt(e))?;
        self.kinds.push(kind);
        Ok(())
    }

    fn members<'a>(
        &self,
        object: &'a [u8],
    ) -> std::result::Result<Vec<(String, &'a [u8])>, String> {
        object_members(object).map_err(|e| self.corrupt(e))
    }

    fn debezium(&mut self, record: &[u8]) -> std::result::Result<(), String> {
        let mut envelope = self.members(record)?;
        if self.schema_include {
            let payload = field(&envelope, "payload")
                .filter(|p| !is_null(p))
                .ok_or_else(|| {
                    self.corrupt(
                        "'debezium-json.schema-include' is true but the message has no \"payload\"",
                    )
                })?;
            envelope = self.members(payload)?;
        } else if field(&envelope, "op").is_none() && field(&envelope, "payload").is_some() {
            return Err(self.corrupt(
                "the message has a \"schema\"/\"payload\" envelope; set 'debezium-json.schema-include' = 'true' to read it",
            ));
        }
        let op = match field(&envelope, "op") {
            Some(v) => string_value(v).ok_or_else(|| self.corrupt("\"op\" is not a string"))?,
            None => return Err(self.corrupt("the \"op\" field is missing")),
        };
        let before = field(&envelope, "before").filter(|b| !is_null(b));
        let after = field(&envelope, "after").filter(|b| !is_null(b));
        let replica_identity = |what: &str| {
            format!(
                "The \"before\" field of {what} message is null, if you are using Debezium Postgres Connector, please check the Postgres table has been set REPLICA IDENTITY to FULL level."
            )
        };
        match op.as_str() {
            "c" | "r" => {
                let after = after.ok_or_else(|| self.corrupt("the \"after\" field is null"))?;
                self.push(RowKind::Insert, after)
            }
            "u" => {
                let before = before.ok_or_else(|| replica_identity("UPDATE"))?;
                let after = after.ok_or_else(|| self.corrupt("the \"after\" field is null"))?;
                self.push(RowKind::UpdateBefore, before)?;
                self.push(RowKind::UpdateAfter, after)
            }
            "d" => {
                let before = before.ok_or_else(|| replica_identity("DELETE"))?;
                self.push(RowKind::Delete, before)
            }
            other => Err(format!("Unknown \"op\" value \"{other}\"")),
        }
    }

    fn canal(&mut self, record: &[u8]) -> std::result::Result<(), String> {
        let envelope = self.members(record)?;
        let kind = self.event_type(&envelope)?;
        let elements = |name: &str| -> std::result::Result<Vec<&[u8]>, String> {
            match field(&envelope, name).filter(|v| !is_null(v)) {
                Some(v) => array_elements(v).map_err(|e| self.corrupt(e)),
                None => Err(self.corrupt(format!("the \"{name}\" field is null"))),
            }
        };
        match kind.as_str() {
            "INSERT" | "DELETE" => {
                let k = if kind == "INSERT" {
                    RowKind::Insert
                } else {
                    RowKind::Delete
                };
                for row in elements("data")? {
                    self.push(k, row)?;
                }
                Ok(())
            }
            "UPDATE" => {
                let data = elements("data")?;
                let old = elements("old")?;
                for (i, after) in data.iter().enumerate() {
                    let old_row = old.get(i).ok_or_else(|| {
                        self.corrupt(format!(
                            "\"old\" has no element {i} for \"data\" element {i}"
                        ))
                    })?;
                    let before = self.merge_old(after, old_row)?;
                    self.push(RowKind::UpdateBefore, &before)?;
                    self.push(RowKind::UpdateAfter, after)?;
                }
                Ok(())
            }
            // A DDL event ("data" is null): Flink skips it.
            "CREATE" => Ok(()),
            other => Err(format!("Unknown \"type\" value \"{other}\"")),
        }
    }

    fn maxwell(&mut self, record: &[u8]) -> std::result::Result<(), String> {
        let envelope = self.members(record)?;
        let kind = self.event_type(&envelope)?;
        let data = field(&envelope, "data").filter(|v| !is_null(v));
        let data = || data.ok_or_else(|| self.corrupt("the \"data\" field is null"));
        match kind.as_str() {
            "insert" => self.push(RowKind::Insert, data()?),
            "delete" => self.push(RowKind::Delete, data()?),
            "update" => {
                let after = data()?;
                let old = field(&envelope, "old")
                    .filter(|v| !is_null(v))
                    .ok_or_else(|| self.corrupt("the \"old\" field of an update is null"))?;
                let before = self.merge_old(after, old)?;
                self.push(RowKind::UpdateBefore, &before)?;
                self.push(RowKind::UpdateAfter, after)
            }
            other => Err(format!("Unknown \"type\" value \"{other}\"")),
        }
    }

    fn event_type(&self, envelope: &[(String, &[u8])]) -> std::result::Result<String, String> {
        match field(envelope, "type") {
            Some(v) => string_value(v).ok_or_else(|| self.corrupt("\"type\" is not a string")),
            None => Err(self.corrupt("the \"type\" field is missing")),
        }
    }

    /// The row before an update: `old` holds only the fields that changed (a field it names,
    /// even as null, had that value); every other field is as in `after`.
    fn merge_old(&self, after: &[u8], old: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let after = self.members(after)?;
        let old = self.members(old)?;
        let mut out = Vec::with_capacity(after.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
        out.push(b'{');
        for (i, (name, value)) in after.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            super::json::write_json_string(&mut out, name);
            out.push(b':');
            out.extend_from_slice(field(&old, name).unwrap_or(value));
        }
        out.push(b'}');
        Ok(out)
    }
}

fn field<'a>(members: &[(String, &'a [u8])], name: &str) -> Option<&'a [u8]> {
    members.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

fn is_null(raw: &[u8]) -> bool {
    raw.trim_ascii() == b"null"
}

/// A raw JSON string value, unescaped.
fn string_value(raw: &[u8]) -> Option<String> {
    serde_json::from_slice::<String>(raw).ok()
}

impl RecordDecoder for ChangelogDecoder {
    fn decode(
        &mut self,
        chunk: &[u8],
        first_line: u64,
        source: &str,
    ) -> Result<Option<RecordBatch>> {
        for (line_no, line) in super::lines(chunk, first_line) {
            if let Err(reason) = self.decode_record(line) {
                let _ = self.finish();
                return Err(FormatError::Parse {
                    source_name: source.to_string(),
                    line: line_no,
                    record: super::truncate_record(line),
                    reason,
                });
            }
        }
        Ok(self.finish()?.map(|(batch, kinds)| {
            self.taken_kinds = Some(kinds);
            batch
        }))
    }

    fn skipped_records(&self) -> u64 {
        self.skipped
    }

    fn take_row_kinds(&mut self) -> Option<Vec<RowKind>> {
        self.taken_kinds.take()
    }
}

/// Encoder for `canal-json` and `maxwell-json`.
pub struct ChangelogEncoder {
    format: ChangelogFormat,
    json: JsonEncoder,
}

impl ChangelogEncoder {
    pub fn new(
        format: ChangelogFormat,
        schema: SchemaRef,
        options: &HashMap<String, String>,
    ) -> Result<Self> {
        if format == ChangelogFormat::Debezium {
            return Err(FormatError::Options(
                "debezium-json is written by DebeziumJsonEncoder".into(),
            ));
        }
        let parsed = parse_options(format, options)?;
        Ok(ChangelogEncoder {
            format,
            json: JsonEncoder::new(schema, &parsed.json)?,
        })
    }
}

impl RecordEncoder for ChangelogEncoder {
    fn encode(
        &mut self,
        batch: &RecordBatch,
        kinds: Option<&[RowKind]>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for row in 0..batch.num_rows() {
            let addition = kinds.is_none_or(|k| k[row].is_addition());
            match self.format {
                ChangelogFormat::Canal => {
                    out.extend_from_slice(b"{\"data\":[");
                    self.json.write_object(batch, row, out)?;
                    out.extend_from_slice(if addition {
                        b"],\"type\":\"INSERT\"}\n"
                    } else {
                        b"],\"type\":\"DELETE\"}\n"
                    });
                }
                ChangelogFormat::Maxwell => {
                    out.extend_from_slice(b"{\"data\":");
                    self.json.write_object(batch, row, out)?;
                    out.extend_from_slice(if addition {
                        b",\"type\":\"insert\"}\n"
                    } else {
                        b",\"type\":\"delete\"}\n"
                    });
                }
                ChangelogFormat::Debezium => unreachable!("rejected in new"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    /// Decodes `records` (one per line) and renders each row as `kind id name`.
    fn check(format: ChangelogFormat, options: &[(&str, &str)], records: &str, expected: &[&str]) {
        let options: HashMap<String, String> = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut d = ChangelogDecoder::new(format, schema(), &options).unwrap();
        for r in records.lines() {
            d.decode_record(r.as_bytes()).unwrap();
        }
        let got: Vec<String> = match d.finish().unwrap() {
            None => vec![],
            Some((b, kinds)) => (0..b.num_rows())
                .map(|i| {
                    let id = b.column(0).as_primitive::<Int32Type>();
                    let name = b.column(1).as_string::<i32>();
                    format!(
                        "{} {} {}",
                        kinds[i],
                        if id.is_null(i) {
                            "null".into()
                        } else {
                            id.value(i).to_string()
                        },
                        if name.is_null(i) {
                            "null"
                        } else {
                            name.value(i)
                        }
                    )
                })
                .collect(),
        };
        assert_eq!(got, expected);
    }

    fn error(format: ChangelogFormat, record: &str) -> String {
        let mut d = ChangelogDecoder::new(format, schema(), &HashMap::new()).unwrap();
        d.decode_record(record.as_bytes()).unwrap_err()
    }

    #[test]
    fn debezium_ops_become_row_kinds() {
        check(
            ChangelogFormat::Debezium,
            &[],
            r#"{"before":null,"after":{"id":1,"name":"a"},"op":"c"}
{"before":null,"after":{"id":2,"name":"b"},"op":"r"}
{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"x"},"op":"u","ts_ms":1}

{"before":{"id":2,"name":"b"},"after":null,"op":"d"}"#,
            &["+I 1 a", "+I 2 b", "-U 1 a", "+U 1 x", "-D 2 b"],
        );
    }

    #[test]
    fn debezium_schema_include_reads_the_payload() {
        check(
            ChangelogFormat::Debezium,
            &[("debezium-json.schema-include", "true")],
            r#"{"schema":{"type":"struct"},"payload":{"before":null,"after":{"id":7,"name":"s"},"op":"c"}}"#,
            &["+I 7 s"],
        );
        let e = error(
            ChangelogFormat::Debezium,
            r#"{"schema":{},"payload":{"before":null,"after":{"id":7},"op":"c"}}"#,
        );
        assert!(e.contains("'debezium-json.schema-include' = 'true'"), "{e}");
    }

    #[test]
    fn debezium_errors_are_flinks() {
        let e = error(
            ChangelogFormat::Debezium,
            r#"{"before":null,"after":{"id":1},"op":"x"}"#,
        );
        assert_eq!(e, "Unknown \"op\" value \"x\"");
        let e = error(
            ChangelogFormat::Debezium,
            r#"{"before":null,"after":{"id":1},"op":"d"}"#,
        );
        assert!(
            e.contains("\"before\" field of DELETE message is null"),
            "{e}"
        );
        let e = error(
            ChangelogFormat::Debezium,
            r#"{"before":null,"after":{"id":"z"},"op":"c"}"#,
        );
        assert!(e.starts_with("Corrupt Debezium JSON message"), "{e}");
        let e = error(ChangelogFormat::Debezium, "{not json");
        assert!(e.starts_with("Corrupt Debezium JSON message"), "{e}");
    }

    #[test]
    fn a_bad_record_leaves_no_row_and_is_counted_when_ignored() {
        let options: HashMap<String, String> = [(
            "debezium-json.ignore-parse-errors".to_string(),
            "true".to_string(),
        )]
        .into();
        let mut d = ChangelogDecoder::new(ChangelogFormat::Debezium, schema(), &options).unwrap();
        // The update's +U half is not a row: its -U half must not survive.
        let bad = r#"{"before":{"id":1,"name":"a"},"after":[1,"b"],"op":"u"}"#;
        assert_eq!(d.decode_record(bad.as_bytes()), Ok(false));
        // A value that does not fit its column is NULL; the record is kept.
        let odd = r#"{"before":null,"after":{"id":"no","name":"c"},"op":"c"}"#;
        assert_eq!(d.decode_record(odd.as_bytes()), Ok(true));
        let (b, kinds) = d.finish().unwrap().unwrap();
        assert_eq!((b.num_rows(), kinds), (1, vec![RowKind::Insert]));
        assert!(b.column(0).is_null(0));
        assert_eq!(b.column(1).as_string::<i32>().value(0), "c");
        assert_eq!(d.skipped(), 1);
    }

    #[test]
    fn canal_update_takes_changed_fields_from_old() {
        check(
            ChangelogFormat::Canal,
            &[],
            r#"{"data":[{"id":1,"name":"a"},{"id":2,"name":"b"}],"old":null,"type":"INSERT","database":"d","table":"t"}
{"data":[{"id":1,"name":"x"}],"old":[{"name":"a"}],"type":"UPDATE"}
{"data":[{"id":2,"name":null}],"old":[{"name":"b"}],"type":"UPDATE"}
{"data":null,"type":"CREATE","sql":"CREATE TABLE t (id INT)"}
{"data":[{"id":2,"name":null}],"type":"DELETE"}"#,
            &[
                "+I 1 a",
                "+I 2 b",
                "-U 1 a",
                "+U 1 x",
                "-U 2 b",
                "+U 2 null",
                "-D 2 null",
            ],
        );
        let e = error(
            ChangelogFormat::Canal,
            r#"{"data":[{"id":1}],"type":"TRUNCATE"}"#,
        );
        assert_eq!(e, "Unknown \"type\" value \"TRUNCATE\"");
    }

    #[test]
    fn maxwell_update_takes_changed_fields_from_old() {
        check(
            ChangelogFormat::Maxwell,
            &[],
            r#"{"database":"d","table":"t","type":"insert","ts":1,"data":{"id":1,"name":"a"}}
{"type":"update","data":{"id":1,"name":"x"},"old":{"name":"a"}}
{"type":"delete","data":{"id":1,"name":"x"}}"#,
            &["+I 1 a", "-U 1 a", "+U 1 x", "-D 1 x"],
        );
        let e = error(
            ChangelogFormat::Maxwell,
            r#"{"type":"update","data":{"id":1}}"#,
        );
        assert!(e.starts_with("Corrupt Maxwell JSON message"), "{e}");
    }

    #[test]
    fn encoders_write_flinks_envelopes() {
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(arrow::array::Int32Array::from(vec![1, 2])),
                Arc::new(arrow::array::StringArray::from(vec![Some("a"), None])),
            ],
        )
        .unwrap();
        let kinds = [RowKind::UpdateAfter, RowKind::UpdateBefore];
        let mut out = Vec::new();
        ChangelogEncoder::new(ChangelogFormat::Canal, schema(), &HashMap::new())
            .unwrap()
            .encode(&batch, Some(&kinds), &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"data\":[{\"id\":1,\"name\":\"a\"}],\"type\":\"INSERT\"}\n{\"data\":[{\"id\":2,\"name\":null}],\"type\":\"DELETE\"}\n"
        );
        let mut out = Vec::new();
        ChangelogEncoder::new(ChangelogFormat::Maxwell, schema(), &HashMap::new())
            .unwrap()
            .encode(&batch, Some(&kinds), &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"data\":{\"id\":1,\"name\":\"a\"},\"type\":\"insert\"}\n{\"data\":{\"id\":2,\"name\":null},\"type\":\"delete\"}\n"
        );
    }

    #[test]
    fn unknown_and_unsupported_options_are_named() {
        let options: HashMap<String, String> =
            [("canal-json.table.include".to_string(), "t.*".to_string())].into();
        let e = ChangelogDecoder::new(ChangelogFormat::Canal, schema(), &options)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("not supported yet: option 'canal-json.table.include'"),
            "{e}"
        );
        let options: HashMap<String, String> = [(
            "maxwell-json.schema-include".to_string(),
            "true".to_string(),
        )]
        .into();
        let e = ChangelogDecoder::new(ChangelogFormat::Maxwell, schema(), &options)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("unsupported option 'maxwell-json.schema-include'"),
            "{e}"
        );
    }
}
