//! CSV tests. Most expectations are copied from Flink-produced golden outputs
//! (`tests/golden/types_*`), so they pin Flink's exact text.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema, TimeUnit};

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

fn row_type(fields: Vec<Field>) -> DataType {
    DataType::Struct(fields.into())
}

/// Decode `input` with `from`, encode with `to`, compare with `expected` lines.
fn check(
    schema: &[Field],
    from: (&str, &[(&str, &str)]),
    input: &str,
    to: (&str, &[(&str, &str)]),
    expected: &str,
) {
    let schema = Arc::new(Schema::new(schema.to_vec()));
    let mut d = decoder(from.0, schema.clone(), &opts(from.1)).unwrap();
    let batch = d.decode(input.as_bytes(), 1, "input/x").unwrap().unwrap();
    let mut e = encoder(to.0, schema, &opts(to.1)).unwrap();
    let mut out = Vec::new();
    e.encode(&batch, None, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

fn numeric_schema() -> Vec<Field> {
    vec![
        field("id", DataType::Int32),
        field("b", DataType::Boolean),
        field("ti", DataType::Int8),
        field("si", DataType::Int16),
        field("i", DataType::Int32),
        field("bi", DataType::Int64),
        field("f", DataType::Float32),
        field("d", DataType::Float64),
        field("dc", DataType::Decimal128(10, 2)),
    ]
}

#[test]
fn numeric_types_written_like_flink() {
    // Golden case types_numeric_csv_json (json in, csv out). Rows 10-13: trailing decimal zeros
    // are stripped and BigDecimal.toString() switches to exponent form (Jackson's DecimalNode).
    let input = r#"{"id":1,"b":true,"ti":127,"si":32767,"i":2147483647,"bi":9223372036854775807,"f":1.5,"d":0.1,"dc":12345678.9}
{"id":2,"b":false,"ti":-128,"si":-32768,"i":-2147483648,"bi":-9223372036854775808,"f":-0.0,"d":-0.0,"dc":-0.05}
{"id":3,"b":null,"ti":null,"si":null,"i":null,"bi":null,"f":null,"d":null,"dc":null}
{"id":4,"b":true,"ti":0,"si":0,"i":0,"bi":0,"f":3.4028235E38,"d":1.0E7,"dc":0}
{"id":5,"b":false,"ti":1,"si":-1,"i":42,"bi":1700000000000,"f":0.1,"d":9999999.0,"dc":1.005}
{"id":6,"b":true,"ti":-1,"si":1,"i":-42,"bi":-1,"f":1.0E-5,"d":1.0E-4,"dc":99999999.99}
{"id":7,"b":false,"ti":2,"si":2,"i":2,"bi":2,"f":100.0,"d":0.001,"dc":-1}
{"id":8,"b":true,"ti":3,"si":3,"i":3,"bi":3,"f":123456.79,"d":1.2345678901234567E20,"dc":7.1}
{"id":9,"b":true,"ti":4,"si":4,"i":4,"bi":4,"f":2.0,"d":3.141592653589793,"dc":0.10}
{"id":10,"b":true,"ti":5,"si":5,"i":5,"bi":5,"f":10.0,"d":100.0,"dc":10}
{"id":11,"b":true,"ti":6,"si":6,"i":6,"bi":6,"f":1.0E7,"d":1200.0,"dc":1200.00}
"#;
    let csv = "1,true,127,32767,2147483647,9223372036854775807,1.5,0.1,12345678.9
2,false,-128,-32768,-2147483648,-9223372036854775808,-0.0,-0.0,-0.05
3,,,,,,,,
4,true,0,0,0,0,3.4028235E38,1.0E7,0
5,false,1,-1,42,1700000000000,0.1,9999999.0,1.01
6,true,-1,1,-42,-1,1.0E-5,1.0E-4,99999999.99
7,false,2,2,2,2,100.0,0.001,-1
8,true,3,3,3,3,123456.79,1.2345678901234567E20,7.1
9,true,4,4,4,4,2.0,3.141592653589793,0.1
10,true,5,5,5,5,10.0,100.0,1E+1
11,true,6,6,6,6,1.0E7,1200.0,1.2E+3
";
    check(&numeric_schema(), ("json", &[]), input, ("csv", &[]), csv);
    // With scientific notation off, decimals are plain.
    check(
        &numeric_schema(),
        ("json", &[]),
        "{\"id\":11,\"dc\":1200.00}\n",
        (
            "csv",
            &[("csv.write-bigdecimal-in-scientific-notation", "false")],
        ),
        "11,,,,,,,,1200\n",
    );
}

#[test]
fn csv_input_parsing_like_flink() {
    // Golden case types_csv_input_parsing (csv in, json out).
    let schema = vec![
        field("id", DataType::Int32),
        field("b", DataType::Boolean),
        field("ti", DataType::Int8),
        field("si", DataType::Int16),
        field("i", DataType::Int32),
        field("bi", DataType::Int64),
        field("f", DataType::Float32),
        field("d", DataType::Float64),
        field("dc", DataType::Decimal128(10, 2)),
        field("s", DataType::Utf8),
        field("dt", DataType::Date32),
        field("t", DataType::Time32(TimeUnit::Millisecond)),
        field("ts", DataType::Timestamp(TimeUnit::Millisecond, None)),
    ];
    let input = r#"1,true,1,2,3,4,1.5,2.5,3.25,plain,2024-01-01,00:00:01,2024-01-01 00:00:05
2,FALSE,-1,-2,-3,-4,-1.5,-2.5,-3.25,"a,b",2024-12-31,23:59:59,2024-01-01 00:00:05.123
3,True,0,0,0,0,0,0,0,"say ""hi""",1970-01-01,12:00:00,1970-01-01 00:00:00
4,false,127,32767,2147483647,9223372036854775807,1e3,1.0E-3,12345678.99, spaced ,2000-02-29,06:07:08,2000-02-29 06:07:08.9
5,true,+5,+6,+7,+8,.5,-.25,.5,Ünïcode,1999-01-02,01:00:00,1999-01-02 01:00:00.12
"#;
    let expected = r#"{"id":1,"b":true,"ti":1,"si":2,"i":3,"bi":4,"f":1.5,"d":2.5,"dc":3.25,"s":"plain","dt":"2024-01-01","t":"00:00:01","ts":"2024-01-01 00:00:05"}
{"id":2,"b":false,"ti":-1,"si":-2,"i":-3,"bi":-4,"f":-1.5,"d":-2.5,"dc":-3.25,"s":"a,b","dt":"2024-12-31","t":"23:59:59","ts":"2024-01-01 00:00:05.123"}
{"id":3,"b":true,"ti":0,"si":0,"i":0,"bi":0,"f":0.0,"d":0.0,"dc":0,"s":"say \"hi\"","dt":"1970-01-01","t":"12:00:00","ts":"1970-01-01 00:00:00"}
{"id":4,"b":false,"ti":127,"si":32767,"i":2147483647,"bi":9223372036854775807,"f":1000.0,"d":0.001,"dc":12345678.99,"s":" spaced ","dt":"2000-02-29","t":"06:07:08","ts":"2000-02-29 06:07:08.9"}
{"id":5,"b":true,"ti":5,"si":6,"i":7,"bi":8,"f":0.5,"d":-0.25,"dc":0.5,"s":"Ünïcode","dt":"1999-01-02","t":"01:00:00","ts":"1999-01-02 01:00:00.12"}
"#;
    check(&schema, ("csv", &[]), input, ("json", &[]), expected);
}

#[test]
fn strings_quoted_only_where_jackson_quotes() {
    // Golden case types_string_csv_json: quote for chars below ',' + 1 (space, !, ", #..+ , tab),
    // backslash, or more than 24 characters; embedded quotes doubled; '' and NULL both empty.
    let schema = vec![
        field("id", DataType::Int32),
        field("c", DataType::Utf8),
        field("vc", DataType::Utf8),
        field("s", DataType::Utf8),
    ];
    let input = r##"{"id":1,"c":"ab","vc":"hello","s":"plain"}
{"id":2,"c":"abcde","vc":"a,b","s":"say \"hi\""}
{"id":3,"c":"","vc":"","s":""}
{"id":4,"c":null,"vc":null,"s":null}
{"id":5,"c":" x ","vc":"  lead","s":"trail  "}
{"id":6,"c":"ü","vc":"日本語","s":"emoji 😀 and tab\tend"}
{"id":7,"c":"q'q","vc":"back\\slash","s":"semi;colon|pipe"}
{"id":8,"c":"#x","vc":"-dash","s":"abcdefghijklmnopqrstuvwx"}
{"id":9,"c":"a=b","vc":"x/y+z","s":"abcdefghijklmnopqrstuvwxy"}
{"id":10,"c":"a.b","vc":"a!b","s":"-0123456789:;<=>?@[]^_`{}~"}
"##;
    let expected = "1,ab,hello,plain
2,abcde,\"a,b\",\"say \"\"hi\"\"\"
3,,,
4,,,
5,\" x \",\"  lead\",\"trail  \"
6,ü,日本語,\"emoji 😀 and tab\tend\"
7,\"q'q\",\"back\\slash\",semi;colon|pipe
8,\"#x\",-dash,abcdefghijklmnopqrstuvwx
9,a=b,\"x/y+z\",\"abcdefghijklmnopqrstuvwxy\"
10,a.b,\"a!b\",\"-0123456789:;<=>?@[]^_`{}~\"
";
    check(&schema, ("json", &[]), input, ("csv", &[]), expected);
}

#[test]
fn temporal_and_bytes_written_like_flink() {
    // Golden cases types_temporal_csv_json and types_bytes_csv_json.
    let schema = vec![
        field("id", DataType::Int32),
        field("d", DataType::Date32),
        field("t", DataType::Time32(TimeUnit::Millisecond)),
        field("ts", DataType::Timestamp(TimeUnit::Millisecond, None)),
        field(
            "ltz",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ),
        field("b", DataType::Binary),
    ];
    let input = r#"{"id":1,"d":"2024-01-01","t":"00:00:00","ts":"2024-01-01 00:00:00","ltz":"2024-01-01 00:00:00Z","b":"AQID"}
{"id":4,"d":"1969-12-31","t":"01:02:03","ts":"1969-12-31 23:59:59.5","ltz":"1969-12-31 23:59:59.500Z","b":"/+8A"}
{"id":5,"d":null,"t":null,"ts":null,"ltz":null,"b":""}
{"id":6,"d":"9999-12-31","t":"10:00:00","ts":"2024-06-15 10:20:30.120","ltz":"2024-06-15 10:20:30.120Z","b":"w6k="}
"#;
    let expected = "1,2024-01-01,00:00:00,\"2024-01-01 00:00:00\",\"2024-01-01 00:00:00Z\",AQID
4,1969-12-31,01:02:03,\"1969-12-31 23:59:59.5\",\"1969-12-31 23:59:59.5Z\",\"/+8A\"
5,,,,,
6,9999-12-31,10:00:00,\"2024-06-15 10:20:30.12\",\"2024-06-15 10:20:30.12Z\",w6k=
";
    check(&schema, ("json", &[]), input, ("csv", &[]), expected);
}

#[test]
fn arrays_and_rows_joined_with_array_delimiter() {
    // Golden case types_array_row_csv.
    let r = row_type(vec![
        field("a", DataType::Int32),
        field("b", DataType::Utf8),
    ]);
    let schema = vec![
        field("id", DataType::Int32),
        field("ai", list(DataType::Int32)),
        field("ast", list(DataType::Utf8)),
        field("r", r),
    ];
    let input = r#"{"id":1,"ai":[1,2,3],"ast":["x","y"],"r":{"a":1,"b":"one"}}
{"id":2,"ai":[],"ast":[],"r":{"a":null,"b":null}}
{"id":3,"ai":null,"ast":null,"r":null}
{"id":4,"ai":[null,-5],"ast":["a,b",null,"q\"q"],"r":{"a":-7,"b":"x,y"}}
"#;
    let expected = "1,1;2;3,x;y,1;one\n2,,,;\n3,,,\n4,;-5,\"a,b;;q\"\"q\",\"-7;x,y\"\n";
    check(&schema, ("json", &[]), input, ("csv", &[]), expected);
    // ... and they read back (csv -> json).
    check(
        &schema,
        ("csv", &[]),
        "1,1;2;3,x;y,1;one\n",
        ("json", &[]),
        "{\"id\":1,\"ai\":[1,2,3],\"ast\":[\"x\",\"y\"],\"r\":{\"a\":1,\"b\":\"one\"}}\n",
    );
    // Other delimiter.
    check(
        &schema,
        ("csv", &[("csv.array-element-delimiter", "|")]),
        "1,1|2,x,1|one\n",
        ("csv", &[("csv.array-element-delimiter", "|")]),
        "1,1|2,x,1|one\n",
    );
}

#[test]
fn null_literal_in_and_out() {
    // Golden case types_csv_null_literal: '\N' in, 'NULL' out; "" stays an empty string.
    let schema = vec![
        field("id", DataType::Int32),
        field("n", DataType::Int32),
        field("s", DataType::Utf8),
        field("d", DataType::Float64),
    ];
    let input = "1,\\N,\\N,\\N\n2,5,,1.5\n3,-1,x,\\N\n4,\\N,\"\",0.0\n";
    let expected = "1,NULL,NULL,NULL\n2,5,,1.5\n3,-1,x,NULL\n4,NULL,,0.0\n";
    check(
        &schema,
        ("csv", &[("csv.null-literal", "\\N")]),
        input,
        ("csv", &[("csv.null-literal", "NULL")]),
        expected,
    );
}

#[test]
fn delimiter_quote_escape_comment_options() {
    let schema = vec![field("a", DataType::Utf8), field("b", DataType::Int32)];
    // Field delimiter given as a Java escape (Flink unescapes it): tab.
    check(
        &schema,
        ("csv", &[("csv.field-delimiter", "\\t")]),
        "x y\t1\n",
        ("csv", &[("csv.field-delimiter", ";")]),
        "\"x y\";1\n",
    );
    // Quote character.
    check(
        &schema,
        ("csv", &[("csv.quote-character", "'")]),
        "'a,b',2\n",
        ("csv", &[("csv.quote-character", "'")]),
        "'a,b',2\n",
    );
    // Disabled quoting: nothing is quoted on write, quotes are ordinary characters on read.
    check(
        &schema,
        ("csv", &[("csv.disable-quote-character", "true")]),
        "\"a\",3\n",
        ("csv", &[("csv.disable-quote-character", "true")]),
        "\"a\",3\n",
    );
    // Escape character.
    check(
        &schema,
        ("csv", &[("csv.escape-character", "\\")]),
        "a\\,b,4\n",
        ("json", &[]),
        "{\"a\":\"a,b\",\"b\":4}\n",
    );
    // Comments are skipped only with allow-comments.
    check(
        &schema,
        ("csv", &[("csv.allow-comments", "true")]),
        "# note\nz,5\n",
        ("json", &[]),
        "{\"a\":\"z\",\"b\":5}\n",
    );
}

#[test]
fn bad_options_are_rejected() {
    let schema = Arc::new(Schema::new(vec![field("a", DataType::Utf8)]));
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("csv.delimiter", ";")],
            "unsupported option 'csv.delimiter' for the csv format; valid options are: 'csv.field-delimiter'",
        ),
        (
            &[("csv.field-delimiter", ";;")],
            "Option 'csv.field-delimiter' must be a string with single character, but was: ;;",
        ),
        (
            &[
                ("csv.quote-character", "'"),
                ("csv.disable-quote-character", "true"),
            ],
            "cannot define a quote character and disabled quote character",
        ),
        (
            &[("csv.ignore-parse-errors", "yes")],
            "expected 'true' or 'false'",
        ),
    ];
    for (o, want) in cases {
        let err = decoder("csv", schema.clone(), &opts(o))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(want), "{o:?}: {err}");
    }
    let map = Arc::new(Schema::new(vec![field(
        "m",
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                row_type(vec![
                    Field::new("key", DataType::Utf8, false),
                    field("value", DataType::Int32),
                ]),
                false,
            )),
            false,
        ),
    )]));
    assert!(
        encoder("csv", map, &opts(&[]))
            .err()
            .unwrap()
            .to_string()
            .contains("does not support")
    );
}

/// Bad records: each case says what happens without and with `csv.ignore-parse-errors`.
#[test]
fn bad_records_fail_or_are_skipped() {
    let schema = Arc::new(Schema::new(vec![
        field("id", DataType::Int32),
        field("s", DataType::Utf8),
        field("d", DataType::Date32),
    ]));
    struct Case {
        line: &'static str,
        /// Error text without ignore-parse-errors.
        error: &'static str,
        /// JSON of the row with ignore-parse-errors, or None when the row is skipped.
        ignored: Option<&'static str>,
    }
    let cases = [
        // Empty field in a numeric column: Integer.parseInt("") fails; ignored -> NULL field.
        Case {
            line: ",x,2024-01-01",
            error: "For input string: \"\"",
            ignored: Some(r#"{"id":null,"s":"x","d":"2024-01-01"}"#),
        },
        Case {
            line: "abc,x,2024-01-01",
            error: "field 'id'",
            ignored: Some(r#"{"id":null,"s":"x","d":"2024-01-01"}"#),
        },
        Case {
            line: "1,x,2024-13-01",
            error: "could not be parsed as a date",
            ignored: Some(r#"{"id":1,"s":"x","d":null}"#),
        },
        // Short row: Flink's arity check; ignored -> padded with NULLs.
        Case {
            line: "1,x",
            error: "Row length mismatch. 3 fields expected but was 2.",
            ignored: Some(r#"{"id":1,"s":"x","d":null}"#),
        },
        // Too many fields: fails; ignored -> row skipped.
        Case {
            line: "1,x,2024-01-01,extra",
            error: "Too many entries: expected at most 3, got 4",
            ignored: None,
        },
        Case {
            line: "1,\"open,2024-01-01",
            error: "missing closing quote",
            ignored: None,
        },
    ];
    for c in &cases {
        let input = format!("7,ok,2000-01-01\n{}\n", c.line);
        let mut d = decoder("csv", schema.clone(), &opts(&[])).unwrap();
        let err = d
            .decode(input.as_bytes(), 10, "input/bad.csv")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("input/bad.csv:11"), "{err}");
        assert!(err.contains(c.error), "{}: {err}", c.line);
        assert!(err.contains(c.line), "record quoted in {err}");

        let mut d = decoder(
            "csv",
            schema.clone(),
            &opts(&[("csv.ignore-parse-errors", "true")]),
        )
        .unwrap();
        let batch = d
            .decode(input.as_bytes(), 10, "input/bad.csv")
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        encoder("json", schema.clone(), &opts(&[]))
            .unwrap()
            .encode(&batch, None, &mut out)
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        match c.ignored {
            Some(row) => {
                assert_eq!(
                    out,
                    format!("{{\"id\":7,\"s\":\"ok\",\"d\":\"2000-01-01\"}}\n{row}\n"),
                    "{}",
                    c.line
                );
                assert_eq!(d.skipped_records(), 0);
            }
            None => {
                assert_eq!(
                    out, "{\"id\":7,\"s\":\"ok\",\"d\":\"2000-01-01\"}\n",
                    "{}",
                    c.line
                );
                assert_eq!(d.skipped_records(), 1);
            }
        }
    }
}

#[test]
fn decimal_overflow_is_null_and_blank_lines_skipped() {
    let schema = vec![
        field("dc", DataType::Decimal128(4, 2)),
        field("s", DataType::Utf8),
    ];
    check(
        &schema,
        ("csv", &[]),
        "123.456,a\n\n1.999,b\r\n",
        ("csv", &[]),
        ",a\n2,b\n",
    );
}

#[test]
fn update_rows_are_rejected() {
    let schema = Arc::new(Schema::new(vec![field("a", DataType::Int32)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow::array::Int32Array::from(vec![1]))],
    )
    .unwrap();
    let mut e = encoder("csv", schema, &opts(&[])).unwrap();
    let mut out = Vec::new();
    e.encode(&batch, Some(&[RowKind::Insert]), &mut out)
        .unwrap();
    assert_eq!(out, b"1\n");
    let err = e
        .encode(&batch, Some(&[RowKind::UpdateBefore]), &mut out)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("only supports insert-only (+I) rows, but got a -U row"),
        "{err}"
    );
}

#[test]
fn accepts_utf8view_and_large_utf8_on_encode() {
    let schema = Arc::new(Schema::new(vec![
        field("a", DataType::Utf8View),
        field("b", DataType::LargeUtf8),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(arrow::array::StringViewArray::from(vec!["x y"])),
            Arc::new(arrow::array::LargeStringArray::from(vec!["z"])),
        ],
    )
    .unwrap();
    let mut out = Vec::new();
    encoder("csv", schema, &opts(&[]))
        .unwrap()
        .encode(&batch, None, &mut out)
        .unwrap();
    assert_eq!(out, b"\"x y\",z\n");
}

/// The byte-level fast path of `split_fields` must split every line exactly as the
/// character-level definition (`unquote_field` on every field) does, for every mix of quotes,
/// escapes, multi-byte text and empty fields.
#[test]
fn fast_split_agrees_with_the_character_level_definition() {
    let lines = [
        "",
        ",",
        ",,",
        "a",
        "a,b,c",
        "a,",
        ",a",
        "\"a,b\",c",
        "\"a\"\"b\",c",
        "\"a\"b,c",
        "a\"b\",c",
        "\"\",\"\"",
        "x\\,y,z",
        "\\\"q,r",
        "\"a\\\"b\",c",
        "é,ß\u{1F600},\"ü,ö\"",
        "a\\",
        "\"unterminated,x",
        "ends with escape\\,",
    ];
    let configs: [&[(&str, &str)]; 4] = [
        &[],
        &[("csv.escape-character", "\\")],
        &[("csv.quote-character", "'"), ("csv.field-delimiter", ";")],
        &[("csv.disable-quote-character", "true")],
    ];
    for options in configs {
        let cfg = parse_config(&opts(options)).unwrap();
        assert!(cfg.ascii.is_some(), "{options:?}");
        let reference = CsvConfig {
            ascii: None,
            ..cfg.clone()
        };
        for line in lines {
            let (mut fast, mut slow) = (Fields::default(), Fields::default());
            let got = split_fields(line, &cfg, &mut fast);
            let want = split_fields(line, &reference, &mut slow);
            assert_eq!(got, want, "{line:?} with {options:?}");
            let texts = |f: &Fields| -> Vec<String> {
                (0..f.len())
                    .map(|i| f.get(line, i).unwrap().to_string())
                    .collect()
            };
            assert_eq!(texts(&fast), texts(&slow), "{line:?} with {options:?}");
        }
    }
    // A non-ASCII delimiter always takes the character-level path.
    let cfg = parse_config(&opts(&[("csv.field-delimiter", "§")])).unwrap();
    assert!(cfg.ascii.is_none());
    let mut f = Fields::default();
    split_fields("a§\"b§c\"§", &cfg, &mut f).unwrap();
    let got: Vec<&str> = (0..f.len())
        .map(|i| f.get("a§\"b§c\"§", i).unwrap())
        .collect();
    assert_eq!(got, ["a", "b§c", ""]);
}

/// A chunk is checked for UTF-8 once; a chunk with one bad line still decodes its good lines
/// and names the bad one: it fails the job, or is skipped and counted with
/// `ignore-parse-errors`.
#[test]
fn invalid_utf8_fails_its_line_only() {
    let schema = Arc::new(Schema::new(vec![
        field("id", DataType::Int32),
        field("s", DataType::Utf8),
    ]));
    let mut input = b"1,\xc3\xa9t\xc3\xa9\n2,".to_vec();
    input.extend_from_slice(b"\xff\xfe\n3,ok\n");
    let mut d = decoder("csv", schema.clone(), &opts(&[])).unwrap();
    let err = d.decode(&input, 1, "in.csv").err().unwrap().to_string();
    assert!(err.contains("in.csv:2"), "{err}");
    assert!(err.contains("invalid UTF-8"), "{err}");

    let mut d = decoder(
        "csv",
        schema.clone(),
        &opts(&[("csv.ignore-parse-errors", "true")]),
    )
    .unwrap();
    let batch = d.decode(&input, 1, "in.csv").unwrap().unwrap();
    let mut out = Vec::new();
    encoder("json", schema, &opts(&[]))
        .unwrap()
        .encode(&batch, None, &mut out)
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"id\":1,\"s\":\"été\"}\n{\"id\":3,\"s\":\"ok\"}\n"
    );
    assert_eq!(d.skipped_records(), 1);
}

/// The columnar path gives exactly what the line-by-line path (the definition) gives, on
/// random chunks mixing well-formed fields with every kind of field it must hand back: blanks
/// around numbers, `+5`, `NaN`, `1d`, out-of-range integers, impossible dates, quotes, escapes,
/// carriage returns, blank lines, short and long rows, the null literal. Errors must be the
/// same error (same line), and under `ignore-parse-errors` the same rows and skip count.
#[test]
fn columnar_path_agrees_with_the_line_by_line_definition() {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    let schema = Arc::new(Schema::new(vec![
        field("ts", DataType::Timestamp(TimeUnit::Millisecond, None)),
        field("k", DataType::Utf8),
        field("i", DataType::Int32),
        field("b", DataType::Int8),
        field("l", DataType::Int64),
        field("d", DataType::Float64),
        field("t6", DataType::Timestamp(TimeUnit::Microsecond, None)),
        field("dt", DataType::Date32),
    ]));
    let pools: [&[&str]; 8] = [
        &[
            "2024-01-01 00:00:00.000",
            "2024-02-29 23:59:59",
            "2024-02-29 23:59:59.5",
            "2023-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:00:00.",
            " 2024-01-01 00:00:00",
            "2024-01-01T00:00:00",
            "1969-12-31 23:59:59.999999999",
        ],
        &["k1", "", " x ", "é", "NULL"],
        &[
            "0",
            "-0",
            "007",
            "+5",
            " 12 ",
            "2147483647",
            "2147483648",
            "-2147483648",
            "1.0",
            "",
        ],
        &["127", "-128", "128", "x", "-"],
        &[
            "9223372036854775807",
            "-9223372036854775808",
            "123456789012345678",
            "1234567890123456789",
            "-1",
        ],
        &[
            "0.5", "-1.25e3", "1e400", "1.", ".5", "NaN", "1d", " 2.5", "-", "1e", "3",
        ],
        &[
            "2024-01-01 00:00:00.123456",
            "2024-01-01 00:00:00.1234567",
            "x",
        ],
        &["2024-01-01", "2024-1-1", "2024-02-30"],
    ];
    let mut rng = SmallRng::seed_from_u64(7);
    let mut chunks_taking_the_columnar_path = 0;
    for round in 0..400 {
        // A third of the chunks are clean; the rest get one kind of irregularity, and in a
        // chunk that is not clean one column draws from its whole pool, so that column's odd
        // values are not hidden behind another column's fallback.
        let clean = round % 3 == 0;
        let dirty = (!clean).then(|| rng.random_range(0..pools.len()));
        let mut chunk = String::new();
        for _ in 0..rng.random_range(1..12) {
            let mut fields: Vec<String> = pools
                .iter()
                .enumerate()
                .map(|(c, pool)| match c {
                    _ if dirty == Some(c) => pool[rng.random_range(0..pool.len())].to_string(),
                    // Clean values still vary where they stay on the fast path.
                    2 => rng.random_range(-1000..1000).to_string(),
                    5 => format!("{}.{}", rng.random_range(-99..99), rng.random_range(0..10)),
                    _ => pool[0].to_string(),
                })
                .collect();
            if !clean {
                match rng.random_range(0..12) {
                    0 => fields.truncate(rng.random_range(0..fields.len())),
                    1 => fields.push("extra".into()),
                    2 => fields[1] = "\"q,uoted\"".into(),
                    3 => chunk.push('\n'),
                    4 => fields[1] = "a\\b".into(),
                    _ => {}
                }
            }
            chunk.push_str(&fields.join(","));
            chunk.push_str(if !clean && rng.random_range(0..20) == 0 {
                "\r\n"
            } else {
                "\n"
            });
        }
        if rng.random_range(0..4) == 0 {
            chunk.pop();
        }
        for options in [
            &[][..],
            &[("csv.ignore-parse-errors", "true")][..],
            &[("csv.null-literal", "NULL"), ("csv.escape-character", "\\")][..],
        ] {
            let o = opts(options);
            let mut fast = CsvDecoder::new(schema.clone(), &o).unwrap();
            let mut slow = CsvDecoder::new(schema.clone(), &o).unwrap();
            slow.columnar = None;
            let columnar = fast.decode_columnar(&chunk);
            fast.columns.truncate_rows(0);
            chunks_taking_the_columnar_path += usize::from(columnar);
            let got = fast.decode(chunk.as_bytes(), 1, "f");
            let want = slow.decode(chunk.as_bytes(), 1, "f");
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{chunk:?} {options:?}"),
                (Err(g), Err(w)) => assert_eq!(g.to_string(), w.to_string(), "{chunk:?}"),
                (g, w) => panic!("{chunk:?} {options:?}: columnar {g:?}, line by line {w:?}"),
            }
            assert_eq!(fast.skipped_records(), slow.skipped_records());
        }
    }
    // The comparison is only worth something if both paths were exercised.
    assert!(
        (200..1200).contains(&chunks_taking_the_columnar_path),
        "{chunks_taking_the_columnar_path} of 1200 chunks took the columnar path"
    );
}
