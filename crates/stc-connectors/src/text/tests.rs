use std::sync::Arc;

use arrow::array::{
    BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, ListArray,
    StringArray, StructArray, Time32MillisecondArray, TimestampMillisecondArray,
};
use arrow::datatypes::{Field, Int32Type};

use super::*;

fn arr(a: impl Array + 'static) -> ArrayRef {
    Arc::new(a)
}

#[test]
fn print_and_sql_forms_per_type() {
    let ts = |v: i64| arr(TimestampMillisecondArray::from(vec![Some(v), None]));
    let ltz =
        |v: i64| arr(TimestampMillisecondArray::from(vec![Some(v), None]).with_timezone("UTC"));
    let cases: Vec<(ArrayRef, &str, &str)> = vec![
        // array (row 0), print form, SQL-client form
        (arr(Int32Array::from(vec![Some(-5), None])), "-5", "-5"),
        (
            arr(BooleanArray::from(vec![Some(true), None])),
            "true",
            "TRUE",
        ),
        (
            arr(Float64Array::from(vec![Some(1.0e7), None])),
            "1.0E7",
            "1.0E7",
        ),
        (arr(Float64Array::from(vec![Some(0.1), None])), "0.1", "0.1"),
        (
            arr(Decimal128Array::from(vec![Some(310), None])
                .with_precision_and_scale(10, 2)
                .unwrap()),
            "3.10",
            "3.10",
        ),
        (
            arr(StringArray::from(vec![Some("Alice"), None])),
            "Alice",
            "Alice",
        ),
        (
            arr(BinaryArray::from(vec![Some(&[1u8, 0xfe][..]), None])),
            "[1, -2]",
            "x'01fe'",
        ),
        (
            arr(Date32Array::from(vec![Some(19_723), None])),
            "2024-01-01",
            "2024-01-01",
        ),
        (
            arr(Time32MillisecondArray::from(vec![Some(3_723_000), None])),
            "01:02:03",
            "01:02:03",
        ),
        (
            arr(Time32MillisecondArray::from(vec![Some(3_600_000), None])),
            "01:00",
            "01:00:00",
        ),
        (
            ts(1_704_067_200_000),
            "2024-01-01T00:00",
            "2024-01-01 00:00:00.000",
        ),
        (
            ts(1_704_067_201_000),
            "2024-01-01T00:00:01",
            "2024-01-01 00:00:01.000",
        ),
        (
            ts(1_704_067_201_500),
            "2024-01-01T00:00:01.500",
            "2024-01-01 00:00:01.500",
        ),
        (
            ltz(1_704_067_200_000),
            "2024-01-01T00:00:00Z",
            "2024-01-01 08:00:00.000",
        ),
        (
            arr(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(vec![Some(42), None]),
                None,
            ])),
            "[42, null]",
            "[42, NULL]",
        ),
        (
            arr(StructArray::from(vec![
                (
                    Arc::new(Field::new("a", DataType::Int32, true)),
                    arr(Int32Array::from(vec![Some(42), None])),
                ),
                (
                    Arc::new(Field::new("b", DataType::Utf8, true)),
                    arr(StringArray::from(vec![Some("x"), None])),
                ),
            ])),
            "+I[42, x]",
            "(42, x)",
        ),
    ];
    for (a, print, sql) in &cases {
        assert_eq!(format_value_flink(a, 0, "UTC"), *print, "{}", a.data_type());
        assert_eq!(
            format_value_sql(a, 0, "Asia/Shanghai"),
            *sql,
            "{}",
            a.data_type()
        );
        if a.data_type() != &DataType::Struct(Default::default()) && a.is_null(1) {
            assert_eq!(format_value_flink(a, 1, "UTC"), "null");
            assert_eq!(format_value_sql(a, 1, "UTC"), "<NULL>");
        }
    }
}

#[test]
fn print_line() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("x", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            arr(Int32Array::from(vec![1])),
            arr(StringArray::from(vec!["Alice"])),
            arr(TimestampMillisecondArray::from(vec![1_704_067_201_000])),
            arr(Float64Array::from(vec![None])),
        ],
    )
    .unwrap();
    assert_eq!(
        format_row_print(&batch, 0, RowKind::Insert),
        "+I[1, Alice, 2024-01-01T00:00:01, null]"
    );
    assert_eq!(
        format_row_print(&batch, 0, RowKind::UpdateBefore),
        "-U[1, Alice, 2024-01-01T00:00:01, null]"
    );
}

#[test]
fn tableau_layout() {
    let schema = Schema::new(vec![
        Field::new("boolean_col", DataType::Boolean, true),
        Field::new("int_col", DataType::Int32, true),
        Field::new("varchar_col", DataType::Utf8, true),
    ]);
    let row = |k, a: &str, b: &str, c: &str| (k, vec![a.to_string(), b.to_string(), c.to_string()]);
    let rows = vec![
        row(RowKind::Insert, "TRUE", "1", "abc"),
        row(RowKind::UpdateBefore, "FALSE", "2", "def"),
        row(RowKind::Delete, "<NULL>", "<NULL>", "<NULL>"),
    ];
    let want = "\
+----+-------------+---------+-------------+
| op | boolean_col | int_col | varchar_col |
+----+-------------+---------+-------------+
| +I |        TRUE |       1 |         abc |
| -U |       FALSE |       2 |         def |
| -D |      <NULL> |  <NULL> |      <NULL> |
+----+-------------+---------+-------------+
3 rows in set
";
    assert_eq!(tableau(&schema, &rows), want);
    assert_eq!(tableau(&schema, &[]), "Empty set\n");
    // Wide characters count twice; values over 30 columns are cut with "...".
    let schema = Schema::new(vec![Field::new("s", DataType::Utf8, true)]);
    let long = "abcdefghijklmnopqrstuvwxyz0123456789";
    let got = tableau(
        &schema,
        &[
            (RowKind::Insert, vec!["日本".into()]),
            (RowKind::Insert, vec![long.into()]),
        ],
    );
    assert_eq!(
        got,
        "\
+----+--------------------------------+
| op |                              s |
+----+--------------------------------+
| +I |                           日本 |
| +I | abcdefghijklmnopqrstuvwxyz0... |
+----+--------------------------------+
2 rows in set
"
    );
}

#[test]
fn json_values() {
    let a = arr(Float64Array::from(vec![1.0e7]));
    assert_eq!(value_to_json_string(&a, 0, "UTC"), "1.0E7");
    let t = arr(TimestampMillisecondArray::from(vec![1_704_067_200_000]));
    assert_eq!(
        value_to_json(&t, 0, "UTC"),
        serde_json::json!("2024-01-01 00:00:00")
    );
    let s = arr(StringArray::from(vec![None::<&str>]));
    assert_eq!(value_to_json(&s, 0, "UTC"), serde_json::Value::Null);
}
