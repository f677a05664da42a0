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
//! * `flink_string_to(s, 'INT' | … | 'DATE' | 'TIMESTAMP', strict)`: STRING → integer, DATE or
//!   TIMESTAMP with Flink's parsers: integers are trimmed and may carry a fraction, which is
//!   dropped (`' -3.75 '` → -3, `BinaryStringDataUtil.toLong`); a DATE may be a bare year or
//!   year-month (`'42'` → 0042-01-01, `DateTimeUtils.parseDate`) and anything after a space is
//!   ignored; a TIMESTAMP is `yyyy-M-d[( |T)H:m:s[.fraction]]` whose day of month is clamped to
//!   the month's length (`2024-02-30` → 2024-02-29, `java.time`'s SMART resolver). Text that
//!   does not parse is NULL for TRY_CAST (`strict` false) and an error for CAST.

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

/// `BinaryStringDataUtil.toLong`: trimmed, optional sign, digits, optionally a `.` followed
/// by digits that are dropped.
fn parse_long(s: &str) -> Option<i64> {
    let s = s.trim_matches(|c: char| c <= ' ');
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for b in int.bytes() {
        let d = i64::from(b - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if chrono::NaiveDate::from_ymd_opt(y, 2, 29).is_some() => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn int_part(s: &str, max_len: usize) -> Option<i64> {
    let t = s.trim();
    (!t.is_empty() && t.len() <= max_len && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

/// `DateTimeUtils.parseDate`: days since the epoch.
fn parse_date(s: &str) -> Option<i32> {
    let s = match s.find(' ') {
        Some(i) if i > 0 => &s[..i],
        _ => s,
    };
    let mut parts = s.splitn(3, '-');
    let y = int_part(parts.next()?, 9)?;
    let m = parts.next().map_or(Some(1), |p| int_part(p, 9))?;
    let d = parts.next().map_or(Some(1), |p| int_part(p, 9))?;
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(y).ok()?,
        u32::try_from(m).ok()?,
        u32::try_from(d).ok()?,
    )?;
    Some((date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

/// Flink's default timestamp text (`yyyy-M-d[( |T)H:m:s[.fraction]]`, SMART resolver):
/// nanoseconds since the epoch of the wall clock.
fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() < 4 {
        return None;
    }
    let y = i32::try_from(int_part(y, 9)?).ok()?;
    let m = u32::try_from(int_part(m, 2)?).ok()?;
    let d = u32::try_from(int_part(d, 2)?).ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(y, m, d.min(days_in_month(y, m)))?;
    let (mut h, mut mi, mut sec, mut nanos) = (0, 0, 0, 0);
    if let Some(t) = time {
        let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
        let mut p = hms.split(':');
        h = u32::try_from(int_part(p.next()?, 2)?).ok()?;
        mi = u32::try_from(int_part(p.next()?, 2)?).ok()?;
        sec = u32::try_from(int_part(p.next()?, 2)?).ok()?;
        if p.next().is_some() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !frac.is_empty() {
            nanos = format!("{frac:0<9}").parse().ok()?;
        }
    }
    let dt = date.and_hms_nano_opt(h, mi, sec, nanos)?;
    dt.and_utc().timestamp_nanos_opt()
}

/// `CAST(string AS …)` with Flink's parsers (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct StringTo;

fn string_target(name: &str) -> Option<DataType> {
    match name {
        "DATE" => Some(DataType::Date32),
        "TIMESTAMP" => Some(DataType::Timestamp(TimeUnit::Nanosecond, None)),
        other => int_type(other),
    }
}

impl FlinkFunction for StringTo {
    fn name(&self) -> &'static str {
        "flink_string_to"
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        Ok(vec![
            crate::udf::as_string_type(&args[0]),
            DataType::Utf8,
            DataType::Boolean,
        ])
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }
    fn return_type_from_args(&self, args: &ReturnFieldArgs) -> Result<DataType> {
        match literal_str(args, 1).and_then(string_target) {
            Some(t) => Ok(t),
            None => sig_err(
                self.name(),
                "the target type must be a literal 'TINYINT', 'SMALLINT', 'INT', 'BIGINT', 'DATE' or 'TIMESTAMP'",
            ),
        }
    }
    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow::array::{Date32Builder, Int64Builder, TimestampNanosecondBuilder};
        use datafusion::common::ScalarValue;
        let (target, strict) = match (&args.args[1], &args.args[2]) {
            (ColumnarValue::Scalar(t), ColumnarValue::Scalar(ScalarValue::Boolean(s))) => {
                (t.to_string().to_ascii_uppercase(), s.unwrap_or(false))
            }
            _ => return exec_err!("flink_string_to: the target and strictness must be literals"),
        };
        let Some(out_type) = string_target(&target) else {
            return exec_err!("flink_string_to: unknown target type {target}");
        };
        let (n, scalar) = rows(args);
        let strs = crate::udf::Strs::new(&args.args[0])?;
        let fail = |v: &str| -> Result<()> {
            if strict {
                Err(crate::error::FunctionError::Execution {
                    function: "CAST",
                    message: format!("cannot cast '{v}' to {target}"),
                }
                .into())
            } else {
                Ok(())
            }
        };
        let out: ArrayRef = match out_type {
            DataType::Date32 => {
                let mut b = Date32Builder::with_capacity(n);
                for i in 0..n {
                    match strs.get(i) {
                        None => b.append_null(),
                        Some(v) => match parse_date(v) {
                            Some(d) => b.append_value(d),
                            None => {
                                fail(v)?;
                                b.append_null()
                            }
                        },
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Timestamp(..) => {
                let mut b = TimestampNanosecondBuilder::with_capacity(n);
                for i in 0..n {
                    match strs.get(i) {
                        None => b.append_null(),
                        Some(v) => match parse_timestamp(v) {
                            Some(t) => b.append_value(t),
                            None => {
                                fail(v)?;
                                b.append_null()
                            }
                        },
                    }
                }
                Arc::new(b.finish())
            }
            int => {
                let (lo, hi) = match int {
                    DataType::Int8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
                    DataType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
                    DataType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
                    _ => (i64::MIN, i64::MAX),
                };
                let mut b = Int64Builder::with_capacity(n);
                for i in 0..n {
                    match strs.get(i) {
                        None => b.append_null(),
                        Some(v) => match parse_long(v).filter(|x| (lo..=hi).contains(x)) {
                            Some(x) => b.append_value(x),
                            None => {
                                fail(v)?;
                                b.append_null()
                            }
                        },
                    }
                }
                cast(&(Arc::new(b.finish()) as ArrayRef), &int)?
            }
        };
        finish(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::TimestampMillisecondArray;

    #[test]
    fn strings_parse_as_flink_parses_them() {
        assert_eq!(parse_long(" -3.75 "), Some(-3));
        assert_eq!(parse_long("17"), Some(17));
        assert_eq!(parse_long("abc"), None);
        assert_eq!(parse_long(""), None);
        assert_eq!(parse_long("1e3"), None);
        assert_eq!(parse_date("42"), Some(-704_187));
        assert_eq!(parse_date(" 17 "), parse_date("17-01-01"));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024-01-01 10:11:12"), Some(19_723));
        assert_eq!(parse_date("-3.75"), None);
        assert_eq!(
            parse_timestamp("2024-02-30"),
            parse_timestamp("2024-02-29 00:00:00")
        );
        assert_eq!(
            parse_timestamp("2024-01-01 10:11:12.5"),
            Some(1_704_103_872_500_000_000)
        );
        assert_eq!(
            parse_timestamp("2024-01-01T10:11:12.5"),
            parse_timestamp("2024-01-01 10:11:12.5")
        );
        assert_eq!(parse_timestamp("42"), None);
        assert_eq!(parse_timestamp("2024-13-01"), None);
    }

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
