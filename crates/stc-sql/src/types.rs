//! Flink's names for Arrow types, and which conversions Flink does implicitly.

use std::collections::HashMap;

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};

/// Field metadata key marking a processing-time attribute (a `PROCTIME()` column). Field
/// metadata travels with the column through DataFusion's projections, views and window TVFs,
/// so the planner can tell processing-time windows from event-time windows.
pub const TIME_ATTRIBUTE_KEY: &str = "stc.time_attribute";

/// The metadata of a `PROCTIME()` column.
pub fn proctime_metadata() -> HashMap<String, String> {
    HashMap::from([(TIME_ATTRIBUTE_KEY.to_string(), "proctime".to_string())])
}

/// Whether `field` is a processing-time attribute.
pub fn is_proctime(field: &Field) -> bool {
    field
        .metadata()
        .get(TIME_ATTRIBUTE_KEY)
        .is_some_and(|v| v == "proctime")
}

/// The Flink SQL name of an Arrow type, for messages.
pub fn flink_type_name(t: &DataType) -> String {
    let precision = |u: &TimeUnit| match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    };
    match t {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            format!("{t} (unsigned)")
        }
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "STRING".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTES".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(u) | DataType::Time64(u) => format!("TIME({})", precision(u)),
        DataType::Timestamp(u, None) => format!("TIMESTAMP({})", precision(u)),
        DataType::Timestamp(u, Some(_)) => format!("TIMESTAMP_LTZ({})", precision(u)),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("ARRAY<{}>", flink_type_name(f.data_type()))
        }
        DataType::Map(f, _) => match f.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!(
                    "MAP<{}, {}>",
                    flink_type_name(kv[0].data_type()),
                    flink_type_name(kv[1].data_type())
                )
            }
            _ => "MAP".into(),
        },
        DataType::Struct(fields) => format!(
            "ROW<{}>",
            fields
                .iter()
                .map(|f| format!("`{}` {}", f.name(), flink_type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Interval(_) => "INTERVAL".into(),
        other => other.to_string(),
    }
}

#[derive(PartialEq)]
enum Family {
    Null,
    Bool,
    Number,
    String,
    Binary,
    Date,
    Time,
    Timestamp,
    TimestampLtz,
    Other,
}

fn family(t: &DataType) -> Family {
    match t {
        DataType::Null => Family::Null,
        DataType::Boolean => Family::Bool,
        t if t.is_numeric() => Family::Number,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Family::String,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Family::Binary,
        DataType::Date32 | DataType::Date64 => Family::Date,
        DataType::Time32(_) | DataType::Time64(_) => Family::Time,
        DataType::Timestamp(_, None) => Family::Timestamp,
        DataType::Timestamp(_, Some(_)) => Family::TimestampLtz,
        _ => Family::Other,
    }
}

/// Whether a value of type `from` may be written into a column of type `to` without an
/// explicit CAST.
pub fn implicitly_castable(from: &DataType, to: &DataType) -> bool {
    if from == to {
        return true;
    }
    let (f, t) = (family(from), family(to));
    match (f, t) {
        (Family::Null, _) => true,
        (Family::Other, _) | (_, Family::Other) => {
            // Nested types: same shape required, element types checked recursively.
            match (from, to) {
                (DataType::List(a), DataType::List(b)) => {
                    implicitly_castable(a.data_type(), b.data_type())
                }
                (DataType::Struct(a), DataType::Struct(b)) => {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b.iter())
                            .all(|(x, y)| implicitly_castable(x.data_type(), y.data_type()))
                }
                (DataType::Map(_, _), DataType::Map(_, _)) => true,
                _ => false,
            }
        }
        // Flink's LogicalTypeCasts: TIMESTAMP and TIMESTAMP_LTZ convert into each other
        // implicitly (through `table.local-time-zone`), so e.g. the window_start of a window
        // over a PROCTIME() column fits a TIMESTAMP(3) sink column (Nexmark q12).
        (Family::Timestamp, Family::TimestampLtz) | (Family::TimestampLtz, Family::Timestamp) => {
            true
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_within_a_family_only() {
        assert!(implicitly_castable(&DataType::Int64, &DataType::Int32));
        assert!(implicitly_castable(&DataType::Utf8View, &DataType::Utf8));
        assert!(implicitly_castable(&DataType::Null, &DataType::Date32));
        assert!(!implicitly_castable(&DataType::Utf8, &DataType::Int32));
        assert!(!implicitly_castable(&DataType::Int32, &DataType::Utf8));
        // Flink casts both ways implicitly, unlike TIMESTAMP into DATE.
        assert!(implicitly_castable(
            &DataType::Timestamp(TimeUnit::Millisecond, None),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        ));
        assert!(implicitly_castable(
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            &DataType::Timestamp(TimeUnit::Millisecond, None)
        ));
        assert!(!implicitly_castable(
            &DataType::Timestamp(TimeUnit::Millisecond, None),
            &DataType::Date32
        ));
        assert_eq!(
            flink_type_name(&DataType::Timestamp(
                TimeUnit::Millisecond,
                Some("UTC".into())
            )),
            "TIMESTAMP_LTZ(3)"
        );
    }
}
