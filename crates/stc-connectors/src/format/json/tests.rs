//! JSON tests; expectations marked "golden" are copied from Flink-produced outputs.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema};

use super::*;
use crate::format::{decoder, encoder};

fn field(name: &str, dt: DataType) -> Field {
    Field::new(name, dt, true)
}

fn opts(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn list(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", dt, true)))
}

fn map_of(v: DataType) -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", v, true),
            ]
            .into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

fn json_round_trip(
    schema: &[Field],
    dec: &[(&str, &str)],
    input: &str,
    enc: &[(&str, &str)],
    expected: &str,
) {
    let schema = Arc::new(Schema::new(schema.to_vec()));
    let mut d = decoder("json", schema.clone(), &opts(dec)).unwrap();
    let batch = d
        .decode(input.as_bytes(), 1, "input/x.json")
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    encoder("json", schema, &opts(enc))
        .unwrap()
        .encode(&batch, None, &mut out)
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn numeric_types_golden() {
    let schema = vec![
        field("id", DataType::Int32),
        field("b", DataType::Boolean),
        field("ti", DataType::Int8),
        field("f", DataType::Float32),
        field("d", DataType::Float64),
        field("dc", DataType::Decimal128(10, 2)),
    ];
    let input = r#"{"id":1,"b":true,"ti":127,"f":1.5,"d":0.1,"dc":12345678.9}
{"id":2,"b":false,"ti":-128,"f":-0.0,"d":-0.0,"dc":-0.05}
{"id":3,"b":null,"ti":null,"f":null,"d":null,"dc":null}
{"id":4,"b":true,"ti":0,"f":3.4028235E38,"d":1.0E7,"dc":0}
{"id":5,"b":false,"ti":1,"f":0.1,"d":9999999.0,"dc":1.005}
{"id":9,"b":true,"ti":4,"f":2.0,"d":3.141592653589793,"dc":0.10}
{"id":11,"b":true,"ti":6,"f":1.0E7,"d":1200.0,"dc":1200.00}
{"id":12,"d":"NaN","f":"Infinity"}
"#;
    let expected = r#"{"id":1,"b":true,"ti":127,"f":1.5,"d":0.1,"dc":12345678.9}
{"id":2,"b":false,"ti":-128,"f":-0.0,"d":-0.0,"dc":-0.05}
{"id":3,"b":null,"ti":null,"f":null,"d":null,"dc":null}
{"id":4,"b":true,"ti":0,"f":3.4028235E38,"d":1.0E7,"dc":0}
{"id":5,"b":false,"ti":1,"f":0.1,"d":9999999.0,"dc":1.01}
{"id":9,"b":true,"ti":4,"f":2.0,"d":3.141592653589793,"dc":0.1}
{"id":11,"b":true,"ti":6,"f":1.0E7,"d":1200.0,"dc":1.2E+3}
{"id":12,"b":null,"ti":null,"f":"Infinity","d":"NaN","dc":null}
"#;
    json_round_trip(&schema, &[], input, &[], expected);
    json_round_trip(
        &schema,
        &[],
        "{\"dc\":1200.00}\n",
        &[("json.encode.decimal-as-plain-number", "true")],
        "{\"id\":null,\"b\":null,\"ti\":null,\"f\":null,\"d\":null,\"dc\":1200}\n",
    );
}

#[test]
fn strings_golden_escapes() {
    let schema = vec![field("id", DataType::Int32), field("s", DataType::Utf8)];
    let input = r#"{"id":2,"s":"say \"hi\""}
{"id":6,"s":"emoji 😀 and tab\tend"}
{"id":7,"s":"back\\slash"}
{"id":8,"s":"ctl\u0001\b\f\n\r/ü日本語"}
{"id":9,"s":"\ud83d\ude00"}
"#;
    let expected = r#"{"id":2,"s":"say \"hi\""}
{"id":6,"s":"emoji \uD83D\uDE00 and tab\tend"}
{"id":7,"s":"back\\slash"}
{"id":8,"s":"ctl\u0001\b\f\n\r/ü日本語"}
{"id":9,"s":"\uD83D\uDE00"}
"#;
    json_round_trip(&schema, &[], input, &[], expected);
}

#[test]
fn temporal_golden_and_iso() {
    let schema = vec![
        field("d", DataType::Date32),
        field("t", DataType::Time32(TimeUnit::Millisecond)),
        field("ts", DataType::Timestamp(TimeUnit::Millisecond, None)),
        field(
            "ltz",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ),
        field("tsn", DataType::Timestamp(TimeUnit::Nanosecond, None)),
    ];
    let input = r#"{"d":"2024-02-29","t":"23:59:59","ts":"2024-02-29 23:59:59.999","ltz":"2024-02-29 23:59:59.999Z","tsn":"2024-01-01 00:00:00.000000001"}
{"d":"1969-12-31","t":"01:02:03.456","ts":"1969-12-31 23:59:59.5","ltz":"1969-12-31 23:59:59.500Z","tsn":"2024-01-01 00:00:00"}
"#;
    // TIME drops the sub-second part (Flink: LocalTime.ofSecondOfDay(millis / 1000)).
    let expected = r#"{"d":"2024-02-29","t":"23:59:59","ts":"2024-02-29 23:59:59.999","ltz":"2024-02-29 23:59:59.999Z","tsn":"2024-01-01 00:00:00.000000001"}
{"d":"1969-12-31","t":"01:02:03","ts":"1969-12-31 23:59:59.5","ltz":"1969-12-31 23:59:59.5Z","tsn":"2024-01-01 00:00:00"}
"#;
    json_round_trip(&schema, &[], input, &[], expected);
    let iso = &[("json.timestamp-format.standard", "ISO-8601")];
    json_round_trip(
        &schema[2..4],
        iso,
        "{\"ts\":\"2024-01-01T10:00\",\"ltz\":\"2024-01-01T10:00:00.25Z\"}\n",
        iso,
        "{\"ts\":\"2024-01-01T10:00:00\",\"ltz\":\"2024-01-01T10:00:00.25Z\"}\n",
    );
}

#[test]
fn collections_golden() {
    let r = DataType::Struct(vec![field("a", DataType::Int32), field("b", DataType::Utf8)].into());
    let schema = vec![
        field("id", DataType::Int32),
        field("ai", list(DataType::Int32)),
        field("ast", list(DataType::Utf8)),
        field("m", map_of(DataType::Int32)),
        field("r", r),
        field("b", DataType::Binary),
    ];
    let input = r#"{"id":1,"ai":[1,2,3],"ast":["x","y"],"m":{"k1":1},"r":{"a":1,"b":"one"},"b":"AQID"}
{"id":2,"ai":[],"ast":[],"m":{},"r":{"a":null,"b":null},"b":""}
{"id":3,"ai":null,"ast":null,"m":null,"r":null,"b":null}
{"id":4,"ai":[null,-5],"ast":["a,b",null,"q\"q"],"m":{"z":null},"r":{"a":-7,"b":"x,y"},"b":"w6k="}
"#;
    let expected = r#"{"id":1,"ai":[1,2,3],"ast":["x","y"],"m":{"k1":1},"r":{"a":1,"b":"one"},"b":"AQID"}
{"id":2,"ai":[],"ast":[],"m":{},"r":{"a":null,"b":null},"b":""}
{"id":3,"ai":null,"ast":null,"m":null,"r":null,"b":null}
{"id":4,"ai":[null,-5],"ast":["a,b",null,"q\"q"],"m":{"z":null},"r":{"a":-7,"b":"x,y"},"b":"w6k="}
"#;
    json_round_trip(&schema, &[], input, &[], expected);
}

#[test]
fn lenient_conversions_like_flink() {
    let schema = vec![
        field("i", DataType::Int32),
        field("bi", DataType::Int64),
        field("s", DataType::Utf8),
        field("b", DataType::Boolean),
        field("d", DataType::Float64),
    ];
    // Numbers as strings, floats truncated into INT, non-strings into STRING as JSON text,
    // BOOLEAN via Boolean.parseBoolean, unknown keys ignored, missing keys NULL.
    let input = r#"{"i":" 42 ","bi":7.9,"s":{"x": [1, 2]},"b":"TRUE","d":"1e3","extra":{"deep":[1,{"a":2}]}}
{"i":1.5,"s":12,"b":"yes"}
{"s":true,"b":1}
"#;
    let expected = r#"{"i":42,"bi":7,"s":"{\"x\":[1,2]}","b":true,"d":1000.0}
{"i":1,"bi":null,"s":"12","b":false,"d":null}
{"i":null,"bi":null,"s":"true","b":false,"d":null}
"#;
    json_round_trip(&schema, &[], input, &[], expected);
    // encode.ignore-null-fields drops NULL fields.
    json_round_trip(
        &schema,
        &[],
        "{\"i\":1}\n",
        &[("json.encode.ignore-null-fields", "true")],
        "{\"i\":1}\n",
    );
}

/// Arrow maps cannot hold NULL keys (MapArray rejects them), so `json.map-null-key.*` only
/// has to be accepted and validated; the encoder still honours it should one appear.
#[test]
fn map_null_key_options_are_accepted() {
    let schema = Arc::new(Schema::new(vec![field("m", map_of(DataType::Int32))]));
    for o in [
        &[("json.map-null-key.mode", "DROP")][..],
        &[
            ("json.map-null-key.mode", "LITERAL"),
            ("json.map-null-key.literal", "N/A"),
        ],
    ] {
        json_round_trip(
            &schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
            &[],
            "{\"m\":{\"a\":1}}\n",
            o,
            "{\"m\":{\"a\":1}}\n",
        );
        assert!(encoder("json", schema.clone(), &opts(o)).is_ok());
    }
}

#[test]
fn bad_options() {
    let schema = Arc::new(Schema::new(vec![field("a", DataType::Int32)]));
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("json.fail-on-missing", "true")],
            "unsupported option 'json.fail-on-missing' for the json format; valid options are: 'json.fail-on-missing-field'",
        ),
        (
            &[("json.timestamp-format.standard", "RFC")],
            "Unsupported value 'RFC' for timestamp-format.standard. Supported values are [SQL, ISO-8601].",
        ),
        (
            &[("json.map-null-key.mode", "KEEP")],
            "Supported values are [LITERAL, FAIL, DROP]",
        ),
        (
            &[
                ("json.fail-on-missing-field", "true"),
                ("json.ignore-parse-errors", "true"),
            ],
            "shouldn't both be true",
        ),
    ];
    for (o, want) in cases {
        let err = decoder("json", schema.clone(), &opts(o))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(want), "{o:?}: {err}");
    }
    let int_key = Arc::new(Schema::new(vec![field(
        "m",
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("key", DataType::Int32, false),
                        field("value", DataType::Int32),
                    ]
                    .into(),
                ),
                false,
            )),
            false,
        ),
    )]));
    assert!(
        encoder("json", int_key, &opts(&[]))
            .err()
            .unwrap()
            .to_string()
            .contains("non-string as key type")
    );
}

/// Bad records: the error names file and line and quotes the record; with
/// `json.ignore-parse-errors` the whole row is skipped and counted (Flink drops the row).
#[test]
fn bad_records_fail_or_are_skipped() {
    let schema = Arc::new(Schema::new(vec![
        field("id", DataType::Int32),
        field("d", DataType::Date32),
        field("b", DataType::Binary),
    ]));
    let cases: &[(&str, &str)] = &[
        (
            r#"{"id":"x"}"#,
            "Fail to deserialize at field: id. For input string: \"x\"",
        ),
        (r#"{"id":3000000000}"#, "out of range"),
        (r#"{"d":"2024-1-1"}"#, "could not be parsed as a date"),
        (r#"{"b":"**"}"#, "illegal character '*' in base64 value"),
        (r#"{"id":1"#, "expected ',' or '}'"),
        (r#"[1,2]"#, "expected '{'"),
        (
            r#"{"id":1} trailing"#,
            "unexpected content after the JSON object",
        ),
        (r#"{"id":01}"#, "invalid number"),
        (r#"{"id":[1]}"#, "cannot convert a JSON object or array"),
    ];
    for (line, reason) in cases {
        let input = format!("{{\"id\":7}}\n{line}\n{{\"id\":8}}\n");
        let mut d = decoder("json", schema.clone(), &opts(&[])).unwrap();
        let err = d
            .decode(input.as_bytes(), 1, "in/data.json")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("in/data.json:2"), "{err}");
        assert!(err.contains(reason), "{line}: {err}");
        assert!(err.contains(line), "{err}");

        let mut d = decoder(
            "json",
            schema.clone(),
            &opts(&[("json.ignore-parse-errors", "true")]),
        )
        .unwrap();
        let b = d
            .decode(input.as_bytes(), 1, "in/data.json")
            .unwrap()
            .unwrap();
        assert_eq!(b.num_rows(), 2, "{line}");
        assert_eq!(d.skipped_records(), 1);
    }
    // Invalid UTF-8 anywhere in a record (here inside a string of an unknown field) fails
    // that record, naming the column of the first bad byte; ignore-parse-errors skips it.
    let input: &[u8] = b"{\"id\":7}\n{\"id\":8,\"x\":\"a\xffb\"}\n{\"id\":9}\n";
    let mut d = decoder("json", schema.clone(), &opts(&[])).unwrap();
    let err = d
        .decode(input, 1, "in/data.json")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("in/data.json:2") && err.contains("invalid UTF-8 at column 15"),
        "{err}"
    );
    let mut d = decoder(
        "json",
        schema.clone(),
        &opts(&[("json.ignore-parse-errors", "true")]),
    )
    .unwrap();
    assert_eq!(
        d.decode(input, 1, "in/data.json")
            .unwrap()
            .unwrap()
            .num_rows(),
        2
    );
    assert_eq!(d.skipped_records(), 1);
    // Escapes between plain runs, around multi-byte characters.
    let schema_s = Arc::new(Schema::new(vec![field("s", DataType::Utf8)]));
    let mut d = decoder("json", schema_s, &opts(&[])).unwrap();
    let b = d
        .decode(
            "{\"s\":\"\\u00e9t\\u00e9 ü \\\"q\\\" \\ud83d\\ude00!\"}\n".as_bytes(),
            1,
            "f",
        )
        .unwrap()
        .unwrap();
    let col = b
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    assert_eq!(col.value(0), "été ü \"q\" 😀!");
    // fail-on-missing-field.
    let mut d = decoder(
        "json",
        schema.clone(),
        &opts(&[("json.fail-on-missing-field", "true")]),
    )
    .unwrap();
    let err = d.decode(b"{\"id\":1}\n", 5, "f").err().unwrap().to_string();
    assert!(
        err.contains("f:5") && err.contains("Could not find field with name 'd'"),
        "{err}"
    );
}

#[test]
fn chunk_line_numbers_and_blank_lines() {
    let schema = Arc::new(Schema::new(vec![field("a", DataType::Int32)]));
    let mut d = decoder("json", schema, &opts(&[])).unwrap();
    let b = d
        .decode(b"{\"a\":1}\n\n  \n{\"a\":2}\r\n", 1, "f")
        .unwrap()
        .unwrap();
    assert_eq!(b.num_rows(), 2);
    assert!(d.decode(b"", 9, "f").unwrap().is_none());
    let err = d
        .decode(b"{\"a\":1}\n{\"a\":x}\n", 41, "f")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("f:42"), "{err}");
}

/// Throughput smoke test: prints MB/s (meaningful in `--release`; see the report).
#[test]
fn decode_throughput() {
    let schema = Arc::new(Schema::new(vec![
        field("id", DataType::Int64),
        field("name", DataType::Utf8),
        field("price", DataType::Float64),
        field("ts", DataType::Timestamp(TimeUnit::Millisecond, None)),
        field("ok", DataType::Boolean),
        field("dc", DataType::Decimal128(10, 2)),
    ]));
    let rows = if cfg!(debug_assertions) {
        20_000
    } else {
        1_000_000
    };
    let mut input = Vec::new();
    for i in 0..rows {
        input.extend_from_slice(
            format!(
                "{{\"id\":{i},\"name\":\"user-{i}-name\",\"price\":{}.25,\"ts\":\"2024-01-01 00:00:{:02}.123\",\"ok\":true,\"dc\":{}.5,\"ignored\":[1,2,3]}}\n",
                i % 1000,
                i % 60,
                i % 99999
            )
            .as_bytes(),
        );
    }
    let mut d = decoder("json", schema, &opts(&[])).unwrap();
    let start = std::time::Instant::now();
    let mut n = 0;
    for chunk in input.chunks(1 << 20) {
        // Chunks are cut at line ends by the caller; emulate by splitting at the last newline.
        let _ = chunk;
    }
    let mut pos = 0;
    while pos < input.len() {
        let end = (pos + (1 << 20)).min(input.len());
        let end = input[..end]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(input.len(), |p| p + 1)
            .max(pos + 1);
        if let Some(b) = d.decode(&input[pos..end], 1, "bench").unwrap() {
            n += b.num_rows();
        }
        pos = end;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, rows);
    eprintln!(
        "json decode: {:.0} MB/s ({} rows, {:.3} s)",
        input.len() as f64 / secs / 1e6,
        rows,
        secs
    );
}
