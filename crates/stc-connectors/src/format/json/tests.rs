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

fn row_type(fields: Vec<Field>) -> DataType {
    DataType::Struct(fields.into())
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

/// The decoder remembers the last date it converted: records of the same day, of another
/// day, and back again decode to the same instants as when each is decoded alone, and a bad
/// time of day after a remembered date is still the same error.
#[test]
fn timestamps_across_days_match_decoding_each_alone() {
    let schema = Arc::new(Schema::new(vec![field(
        "ts",
        DataType::Timestamp(TimeUnit::Millisecond, None),
    )]));
    let texts = [
        "2024-01-01 00:00:01",
        "2024-01-01 23:59:59.5",
        "2024-01-02 00:00:00",
        "2024-01-01 12:00:00.001",
        "2023-12-31 23:59:59.999",
        "2024-01-01 00:00:00",
    ];
    let lines: String = texts
        .iter()
        .map(|t| format!("{{\"ts\":\"{t}\"}}\n"))
        .collect();
    let mut d = JsonDecoder::new(schema.clone(), &opts(&[])).unwrap();
    let all = d.decode(lines.as_bytes(), 1, "f").unwrap().unwrap();
    let all = all.column(0).as_primitive::<TimestampMillisecondType>();
    for (i, t) in texts.iter().enumerate() {
        let mut alone = JsonDecoder::new(schema.clone(), &opts(&[])).unwrap();
        let one = alone
            .decode(format!("{{\"ts\":\"{t}\"}}").as_bytes(), 1, "f")
            .unwrap()
            .unwrap();
        assert_eq!(
            all.value(i),
            one.column(0)
                .as_primitive::<TimestampMillisecondType>()
                .value(0),
            "{t}"
        );
    }
    assert_eq!(all.value(0), 1_704_067_201_000);
    assert_eq!(all.value(3), 1_704_110_400_001);
    // "2024-01-01" is remembered; the time of day is refused as before.
    for bad in [
        "2024-01-01 24:00:00",
        "2024-01-01 10:00:00.",
        "2024-01-01 10",
    ] {
        let err = d
            .decode(format!("{{\"ts\":\"{bad}\"}}").as_bytes(), 1, "f")
            .unwrap_err()
            .to_string();
        let fresh = JsonDecoder::new(schema.clone(), &opts(&[]))
            .unwrap()
            .decode(format!("{{\"ts\":\"{bad}\"}}").as_bytes(), 1, "f")
            .unwrap_err()
            .to_string();
        assert_eq!(err, fresh);
        assert!(err.contains("could not be parsed as a timestamp"), "{err}");
    }
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

/// ROW columns are decoded straight into their field columns (`read_struct_into`); rows of more
/// than 64 fields still go through `read_val`'s `Val` tree, the original path. The same random
/// records are decoded into a 5-field ROW and into the same ROW padded to 65 fields (never
/// present in the input, so NULL): the first 5 fields must be equal, errors the same error,
/// skip counts the same. The records mix nulls, missing and repeated keys, unknown keys with
/// nested values, wrong types (an error, or a NULL under `ignore-parse-errors`), objects into
/// strings and truncated records; keys are sometimes written with an escape (the same key as
/// JSON, different bytes). Each decoder is reused for every chunk (buffers sized by the last
/// batch, ROW fields padded lazily across rows), and each batch of the direct path must also
/// equal its records decoded one at a time.
#[test]
fn rows_decoded_into_field_columns_agree_with_the_val_path() {
    use arrow::array::{Array, StructArray};
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    let ts = DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None);
    let inner = row_type(vec![
        field("x", DataType::Int32),
        field("flag", DataType::Boolean),
    ]);
    let fields = vec![
        field("id", DataType::Int64),
        field("name", DataType::Utf8),
        field("inner", inner),
        field("tags", list(DataType::Utf8)),
        field("ts", ts),
    ];
    let mut padded = fields.clone();
    padded.extend((0..60).map(|i| field(&format!("pad{i}"), DataType::Int32)));
    let schema = |row: Vec<Field>| {
        Arc::new(Schema::new(vec![
            field("k", DataType::Int32),
            field("r", row_type(row)),
        ]))
    };
    let (direct_schema, val_schema) = (schema(fields), schema(padded));
    let values: [&[&str]; 5] = [
        &["1", "-7", "\"12\"", "\"abc\"", "null", "1.5"],
        &["\"n\"", "\"\"", "{\"a\":[1,2]}", "null", "3", "\"é\\n\""],
        &[
            "{\"x\":1,\"flag\":true}",
            "{\"flag\":false}",
            "{}",
            "null",
            "{\"x\":\"2\",\"x\":3,\"y\":{}}",
            "5",
            "{\"x\":{}}",
        ],
        &["[\"a\",\"b\"]", "[]", "null", "[null]", "\"s\""],
        &[
            "\"2024-01-01 00:00:00.000\"",
            "\"2024-01-01T00:00:00\"",
            "null",
            "\"bad\"",
        ],
    ];
    let names = ["id", "name", "inner", "tags", "ts"];
    let mut rng = SmallRng::seed_from_u64(11);
    let (mut batches_compared, mut errors_compared) = (0, 0);
    let mut decoders: Vec<_> = [&[][..], &[("json.ignore-parse-errors", "true")][..]]
        .into_iter()
        .map(|options| {
            let o = opts(options);
            (
                options,
                JsonDecoder::new(direct_schema.clone(), &o).unwrap(),
                JsonDecoder::new(val_schema.clone(), &o).unwrap(),
            )
        })
        .collect();
    for _ in 0..300 {
        let mut chunk = String::new();
        for line in 0..rng.random_range(1..6) {
            let row = match rng.random_range(0..8) {
                0 => "null".to_string(),
                1 => "{}".to_string(),
                _ => {
                    let mut order: Vec<usize> = (0..5).collect();
                    order.sort_by_key(|_| rng.random_range(0..100));
                    let mut parts: Vec<String> = Vec::new();
                    for f in order {
                        if rng.random_range(0..6) == 0 {
                            continue;
                        }
                        // Mostly the first (well-formed) value.
                        let pool = values[f];
                        let v = if rng.random_range(0..3) == 0 {
                            pool[rng.random_range(0..pool.len())]
                        } else {
                            pool[0]
                        };
                        let name = names[f];
                        if rng.random_range(0..10) == 0 {
                            // `\u0069d` is "id": matched as JSON, not as bytes.
                            parts.push(format!(
                                "\"\\u{:04x}{}\":{v}",
                                name.as_bytes()[0],
                                &name[1..]
                            ));
                        } else {
                            parts.push(format!("\"{name}\":{v}"));
                        }
                    }
                    if rng.random_range(0..5) == 0 {
                        parts.push("\"zz\":{\"deep\":[{\"a\":null}]}".into());
                    }
                    if rng.random_range(0..8) == 0 {
                        parts.push("\"id\":999".into());
                    }
                    format!("{{{}}}", parts.join(","))
                }
            };
            let mut record = format!("{{\"k\":{line},\"r\":{row}}}");
            if rng.random_range(0..25) == 0 {
                record.truncate(record.len() / 2);
            }
            chunk.push_str(&record);
            chunk.push('\n');
        }
        for (options, direct, reference) in decoders.iter_mut() {
            let options = *options;
            let skipped = (direct.skipped_records(), reference.skipped_records());
            let got = direct.decode(chunk.as_bytes(), 1, "f");
            let want = reference.decode(chunk.as_bytes(), 1, "f");
            assert_eq!(
                direct.skipped_records() - skipped.0,
                reference.skipped_records() - skipped.1,
                "{chunk}"
            );
            match (got, want) {
                (Ok(None), Ok(None)) => {}
                (Ok(Some(g)), Ok(Some(w))) => {
                    batches_compared += 1;
                    let mut single =
                        JsonDecoder::new(direct_schema.clone(), &opts(options)).unwrap();
                    let one_by_one: Vec<RecordBatch> = chunk
                        .lines()
                        .filter_map(|line| single.decode(line.as_bytes(), 1, "f").unwrap())
                        .collect();
                    let one_by_one =
                        arrow::compute::concat_batches(&direct_schema, &one_by_one).unwrap();
                    assert_eq!(g, one_by_one, "{chunk} {options:?}");
                    assert_eq!(g.column(0), w.column(0), "{chunk}");
                    let w = w.column(1).as_any().downcast_ref::<StructArray>().unwrap();
                    let g = g.column(1).as_any().downcast_ref::<StructArray>().unwrap();
                    let (_, w_cols, w_nulls) = w.clone().into_parts();
                    let w_first =
                        StructArray::new(g.fields().clone(), w_cols[..5].to_vec(), w_nulls);
                    assert_eq!(g, &w_first, "{chunk} {options:?}");
                }
                (Err(g), Err(w)) => {
                    errors_compared += 1;
                    assert_eq!(g.to_string(), w.to_string(), "{chunk}")
                }
                (g, w) => panic!("{chunk} {options:?}: direct {g:?}, val path {w:?}"),
            }
        }
    }
    // Both outcomes must have been exercised, or the comparison says little.
    assert!(
        batches_compared > 150 && errors_compared > 30,
        "{batches_compared} batches and {errors_compared} errors compared of 600 decodes"
    );
    // `fail-on-missing-field` (the padded reference would always miss its pads): a field
    // missing inside a nested ROW fails the record and names the field.
    let o = opts(&[("json.fail-on-missing-field", "true")]);
    let mut d = JsonDecoder::new(direct_schema, &o).unwrap();
    let record = r#"{"k":1,"r":{"id":1,"name":"a","inner":{"flag":true},"tags":[],"ts":null}}"#;
    let err = d.decode(record.as_bytes(), 1, "f").unwrap_err().to_string();
    assert!(err.contains("Could not find field with name 'x'."), "{err}");
}

/// The word-at-a-time scan: the lowest flagged byte is the first quote, backslash or
/// control character, for every position of one such byte among others of every kind
/// (UTF-8 continuation bytes included).
#[test]
fn special_bytes_flags_exactly_the_first_quote_backslash_or_control_byte() {
    let first = |w: [u8; 8]| w.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
    let fillers = [b'a', b'!', 0x21, 0x7f, 0x80, 0xc3, 0xff, b'#', b']'];
    let specials = [b'"', b'\\', 0x00, 0x01, 0x1f, b'\n'];
    for &f in &fillers {
        for &sp in &specials {
            for at in 0..8 {
                for &after in specials.iter().chain(&fillers) {
                    let mut w = [f; 8];
                    w[at] = sp;
                    if at + 1 < 8 {
                        w[at + 1] = after;
                    }
                    let hits = super::special_bytes(u64::from_le_bytes(w));
                    assert_eq!(Some(hits.trailing_zeros() as usize / 8), first(w), "{w:?}");
                }
            }
        }
        assert_eq!(super::special_bytes(u64::from_le_bytes([f; 8])), 0, "{f}");
    }
}

/// Strings of every length up to past the word-at-a-time part, with an escape or a control
/// character at every position: decoded (or refused) as by a plain byte scan.
#[test]
fn strings_of_every_length_and_escape_position_decode() {
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    for len in 0..90 {
        let plain: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let mut d = JsonDecoder::new(schema.clone(), &HashMap::new()).unwrap();
        let b = d
            .decode(format!("{{\"s\":\"{plain}\"}}").as_bytes(), 1, "f")
            .unwrap()
            .unwrap();
        assert_eq!(b.column(0).as_string::<i32>().value(0), plain);
        for at in 0..len {
            let mut escaped = plain.clone();
            escaped.replace_range(at..at + 1, "\\n");
            let mut d = JsonDecoder::new(schema.clone(), &HashMap::new()).unwrap();
            let b = d
                .decode(format!("{{\"s\":\"{escaped}\"}}").as_bytes(), 1, "f")
                .unwrap()
                .unwrap();
            let mut expected = plain.clone();
            expected.replace_range(at..at + 1, "\n");
            assert_eq!(b.column(0).as_string::<i32>().value(0), expected);
            let mut raw = plain.clone().into_bytes();
            raw[at] = 0x01;
            let line = [b"{\"s\":\"".as_slice(), &raw, b"\"}"].concat();
            let mut d = JsonDecoder::new(schema.clone(), &HashMap::new()).unwrap();
            let err = d.decode(&line, 1, "f").unwrap_err().to_string();
            assert!(
                err.contains(&format!("control character in string at column {}", at + 7)),
                "{err}"
            );
        }
    }
}

/// Keys are compared as JSON strings, whichever path matches them: a field whose name holds a
/// quote or a backslash is found through its escaped key, a key spelled with escapes finds its
/// field, and bytes that merely look like a field name (a longer key, or an escape that means
/// something else) do not.
#[test]
fn keys_are_matched_as_json_strings() {
    let inner = row_type(vec![
        field("a\"b", DataType::Int32),
        field("c\\d", DataType::Int32),
    ]);
    let schema = vec![
        field("id", DataType::Int32),
        field("a\"b", DataType::Int32),
        field("r", inner),
    ];
    json_round_trip(
        &schema,
        &[],
        concat!(
            r#"{"id":1,"a\"b":2,"r":{"a\"b":3,"c\\d":4}}"#,
            "\n",
            r#"{"\u0069d":5,"id2":9,"r":{"c\u005cd":6}}"#,
            "\n",
            r#"{"idx":9,"r":{"a\u0022b":7,"c\\dd":9}}"#,
            "\n",
        ),
        &[],
        concat!(
            r#"{"id":1,"a\"b":2,"r":{"a\"b":3,"c\\d":4}}"#,
            "\n",
            r#"{"id":5,"a\"b":null,"r":{"a\"b":null,"c\\d":6}}"#,
            "\n",
            r#"{"id":null,"a\"b":null,"r":{"a\"b":7,"c\\d":null}}"#,
            "\n",
        ),
    );
    let mut d = JsonDecoder::new(Arc::new(Schema::new(schema)), &opts(&[])).unwrap();
    // `\d` is no escape: the record is refused, not read as the field "c\d".
    let bad = r#"{"r":{"c\d":1}}"#;
    let err = d.decode(bad.as_bytes(), 1, "f").unwrap_err().to_string();
    assert!(err.contains("unrecognized character escape"), "{err}");
}
