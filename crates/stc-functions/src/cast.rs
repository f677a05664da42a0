//! The parts of Flink's `CAST` that Arrow's cast kernel does differently. The SQL planner
//! substitutes these functions for the matching `CAST`s; they are not meant to be called by
//! name.
//!
//! * `flink_ltz_to_timestamp(x)`: TIMESTAMP_LTZ → TIMESTAMP is the wall clock of the instant
//!   in the session zone (`table.local-time-zone`); Arrow keeps the UTC wall clock.
//! * `flink_timestamp_to_ltz(x)`: TIMESTAMP → TIMESTAMP_LTZ reads the wall clock in the session
//!   zone (`java.time` rules for gaps and overlaps); Arrow reads it as UTC.
//! * `flink_float_to_int(x, 'INT')`: FLOAT/DOUBLE → an integer type the way Java's `(int) d`
//!   does: truncation toward zero, saturating at the type's range, NaN → 0 (Arrow fails on
//!   out-of-range values). TINYINT and SMALLINT narrow the saturated `int` as Java's
//!   `(byte)`/`(short)` do.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs};

use crate::error::sig_err;
use crate::udf::{FlinkFunction, arity, finish, literal_str, rows};
use crate::zone::Zone;

/// Moves every value of a timestamp array by `f(epoch ms) - epoch ms`, keeping sub-millisecond
/// digits, and relabels it with `tz`.
fn shift_timestamps(a: &ArrayRef, tz: Option<Arc<str>>, f: impl Fn(i64) -> i64) -> ArrayRef {
    fn go<T: arrow::datatypes::ArrowTimestampType>(
        a: &ArrayRef,
        per_ms: i64,
        tz: Option<Arc<str>>,
        f: impl Fn(i64) -> i64,
    ) -> ArrayRef {
        let p: &PrimitiveArray<T> = a.as_primitive();
        let out: PrimitiveArray<T> = p.unary(|raw| {
            // Flooring keeps pre-1970 values on the right millisecond.
            let ms = if per_ms >= 1 {
                raw.div_euclid(per_ms)
            } else {
                raw * 1000
            };
            let delta = f(ms) - ms;
            if per_ms >= 1 {
                raw + delta * per_ms
            } else {
                raw + delta / 1000
            }
        });
        Arc::new(out.with_timezone_opt(tz))
    }
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => go::<TimestampSecondType>(a, 0, tz, f),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            go::<TimestampMillisecondType>(a, 1, tz, f)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            go::<TimestampMicrosecondType>(a, 1_000, tz, f)
        }
        _ => go::<TimestampNanosecondType>(a, 1_000_000, tz, f),
    }
}

fn timestamp_arg(name: &'static str, args: &[DataType], ltz: bool) -> Result<Vec<DataType>> {
    arity(name, args, 1..=1)?;
    match &args[0] {
        DataType::Timestamp(_, tz) if tz.is_some() == ltz => Ok(args.to_vec()),
        DataType::Null => Ok(vec![DataType::Timestamp(
            TimeUnit::Millisecond,
            ltz.then(|| Arc::from("UTC")),
        )]),
        other => sig_err(
            name,
            format!(
                "expected a {} argument, got {other}",
                if ltz { "TIMESTAMP_LTZ" } else { "TIMESTAMP" }
            ),
        ),
    }
}

/// `CAST(ltz AS TIMESTAMP(p))`: the instant's wall clock in the session zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct LtzToTimestamp;

impl FlinkFunction for LtzToTimestamp {
    fn name(&self) -> &'static str {
        "flink_ltz_to_timestamp"
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        timestamp_arg(self.name(), args, true)
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match &args[0] {
            DataType::Timestamp(u, _) => Ok(DataType::Timestamp(*u, None)),
            _ => Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
        }
    }
    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = Zone::from_config(&args.config_options)?;
        let (n, scalar) = rows(args);
        let a = args.args[0].to_array(n)?;
        let out = shift_timestamps(&a, None, |ms| zone.instant_to_local_ms(ms));
        finish(out, scalar)
    }
}

/// `CAST(ts AS TIMESTAMP_LTZ(p))`: the instant at which the session zone shows the wall clock.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimestampToLtz;

impl FlinkFunction for TimestampToLtz {
    fn name(&self) -> &'static str {
        "flink_timestamp_to_ltz"
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        timestamp_arg(self.name(), args, false)
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match &args[0] {
            DataType::Timestamp(u, _) => Ok(DataType::Timestamp(*u, Some(Arc::from("UTC")))),
            _ => Ok(DataType::Timestamp(
                TimeUnit::Millisecond,
                Some(Arc::from("UTC")),
            )),
        }
    }
    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = Zone::from_config(&args.config_options)?;
        let (n, scalar) = rows(args);
        let a = args.args[0].to_array(n)?;
        let out = shift_timestamps(&a, Some(Arc::from("UTC")), |ms| {
            zone.local_to_instant_ms(ms)
        });
        finish(out, scalar)
    }
}

/// `CAST(float AS TINYINT/SMALLINT/INT/BIGINT)` with Java's narrowing rules.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FloatToInt;

fn int_type(name: &str) -> Option<DataType> {
    Some(match name {
        "TINYINT" => DataType::Int8,
        "SMALLINT" => DataType::Int16,
        "INT" => DataType::Int32,
        "BIGINT" => DataType::Int64,
        _ => return None,
    })
}

impl FlinkFunction for FloatToInt {
    fn name(&self) -> &'static str {
        "flink_float_to_int"
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=2)?;
        Ok(vec![DataType::Float64, DataType::Utf8])
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }
    fn return_type_from_args(&self, args: &ReturnFieldArgs) -> Result<DataType> {
        match literal_str(args, 1).and_then(int_type) {
            Some(t) => Ok(t),
            None => sig_err(
                self.name(),
                "the target type must be a literal 'TINYINT', 'SMALLINT', 'INT' or 'BIGINT'",
            ),
        }
    }
    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let target = match &args.args[1] {
            ColumnarValue::Scalar(s) => s.to_string().to_ascii_uppercase(),
            _ => return exec_err!("flink_float_to_int: the target type must be a literal"),
        };
        let (n, scalar) = rows(args);
        let a = args.args[0].to_array(n)?;
        let a = cast(&a, &DataType::Float64)?;
        let f = a.as_primitive::<Float64Type>();
        // `as` in Rust saturates and maps NaN to 0, exactly Java's (int)/(long) of a double.
        let out: ArrayRef = match int_type(&target) {
            Some(DataType::Int8) => Arc::new(f.unary::<_, Int8Type>(|v| v as i32 as i8)),
            Some(DataType::Int16) => Arc::new(f.unary::<_, Int16Type>(|v| v as i32 as i16)),
            Some(DataType::Int32) => Arc::new(f.unary::<_, Int32Type>(|v| v as i32)),
            Some(DataType::Int64) => Arc::new(f.unary::<_, Int64Type>(|v| v as i64)),
            _ => return exec_err!("flink_float_to_int: unknown target type {target}"),
        };
        finish(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::TimestampMillisecondArray;

    #[test]
    fn shifting_keeps_the_unit_and_relabels_the_zone() {
        let a: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![Some(0), None]));
        let zone = Zone::parse("Asia/Kolkata").unwrap();
        let out = shift_timestamps(&a, None, |ms| zone.instant_to_local_ms(ms));
        let out = out.as_primitive::<TimestampMillisecondType>();
        assert_eq!(out.value(0), 19_800_000);
        assert!(out.is_null(1));
        assert_eq!(
            out.data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, None)
        );
    }
}
