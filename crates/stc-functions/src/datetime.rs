//! Flink's temporal functions: formatting and parsing with Java patterns, epoch conversions,
//! `TIMESTAMPADD`/`TIMESTAMPDIFF`, `HOUR()`-style extractors, `FLOOR/CEIL(ts TO unit)` and
//! `PROCTIME()`.
//!
//! Semantics follow `org.apache.flink.table.utils.DateTimeUtils` (cited per function). Flink
//! TIMESTAMP values are wall clocks (Arrow timestamps without zone); TIMESTAMP_LTZ values are
//! instants (Arrow timestamps with a zone) shown in the session zone.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Int32Builder, Int64Builder, PrimitiveBuilder, StringBuilder,
};
use arrow::datatypes::{
    DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, Volatility};

use crate::error::{FunctionError, sig_err};
use crate::pattern::{Dialect, JavaPattern, parse_default_timestamp, parse_sql_timestamp_fallback};
use crate::udf::{
    FlinkFunction, Floats, Ints, Strs, arg_type, arity, as_int_type, as_string_type, finish,
    is_ltz, is_string, literal_str, ms_to_raw, naive_from_raw, raw_to_ms, rows, sub_ms,
};
use crate::zone::{Zone, naive_from_ms};

const MILLIS_PER_DAY: i64 = 86_400_000;
const DEFAULT_SDF: &str = "yyyy-MM-dd HH:mm:ss";

fn zone(args: &ScalarFunctionArgs) -> Result<Zone> {
    Ok(Zone::from_config(&args.config_options)?)
}

/// Compiles a pattern argument once per batch when it is a literal, otherwise once per
/// distinct consecutive value.
struct PatternCache {
    dialect: Dialect,
    last: Option<(String, JavaPattern)>,
}

impl PatternCache {
    fn new(dialect: Dialect) -> Self {
        PatternCache {
            dialect,
            last: None,
        }
    }

    fn get(&mut self, p: &str) -> Result<&JavaPattern> {
        let hit = matches!(&self.last, Some((s, _)) if s == p);
        if !hit {
            self.last = Some((p.to_string(), JavaPattern::compile(p, self.dialect)?));
        }
        Ok(&self.last.as_ref().expect("just filled").1)
    }
}

fn ms_to_naive(ms: i64) -> Option<NaiveDateTime> {
    naive_from_ms(ms)
}

fn naive_to_ms(dt: &NaiveDateTime) -> i64 {
    dt.and_utc().timestamp_millis()
}

fn ts_type_ms(ltz: bool) -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, ltz.then(|| Arc::from("UTC")))
}

/// Builds a timestamp array of the given type from raw values.
fn timestamp_array(t: &DataType, vals: Vec<Option<i64>>) -> ArrayRef {
    fn build<T: arrow::datatypes::ArrowTimestampType>(
        tz: &Option<Arc<str>>,
        vals: Vec<Option<i64>>,
    ) -> ArrayRef {
        let a: arrow::array::PrimitiveArray<T> = vals.into_iter().collect();
        Arc::new(a.with_timezone_opt(tz.clone()))
    }
    match t {
        DataType::Timestamp(TimeUnit::Second, tz) => build::<TimestampSecondType>(tz, vals),
        DataType::Timestamp(TimeUnit::Millisecond, tz) => {
            build::<TimestampMillisecondType>(tz, vals)
        }
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            build::<TimestampMicrosecondType>(tz, vals)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, tz) => build::<TimestampNanosecondType>(tz, vals),
        _ => {
            let a: arrow::array::Date32Array =
                vals.into_iter().map(|v| v.map(|d| d as i32)).collect();
            Arc::new(a)
        }
    }
}

/// Wall clock of a timestamp/date argument value: TIMESTAMP as is, TIMESTAMP_LTZ in the session
/// zone, DATE at midnight. Returns the clock and the instant (for zone pattern letters).
fn wall_clock(t: &DataType, raw: i64, zone: &Zone) -> Option<(NaiveDateTime, i64)> {
    match t {
        DataType::Date32 => {
            let ms = raw * MILLIS_PER_DAY;
            Some((ms_to_naive(ms)?, zone.local_to_instant_ms(ms)))
        }
        DataType::Timestamp(unit, tz) => {
            let dt = naive_from_raw(raw, *unit)?;
            if tz.is_some() {
                let instant = raw_to_ms(raw, *unit);
                let shift = zone.offset_ms(instant);
                Some((dt + chrono::Duration::milliseconds(shift), instant))
            } else {
                let local = raw_to_ms(raw, *unit);
                Some((dt, zone.local_to_instant_ms(local)))
            }
        }
        _ => None,
    }
}

fn temporal_arg(name: &'static str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Timestamp(..) | DataType::Date32 => Ok(t.clone()),
        DataType::Null => Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
        DataType::Date64 => Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
        _ => sig_err(
            name,
            format!("expected a TIMESTAMP, TIMESTAMP_LTZ or DATE, got {t}"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// DATE_FORMAT
// ---------------------------------------------------------------------------------------------

/// `DATE_FORMAT(timestamp | string, pattern)`.
///
/// Flink (`StringCallGen` → `DateTimeUtils.formatTimestamp` / `formatTimestampString`): a
/// TIMESTAMP is formatted with `DateTimeFormatter`, a TIMESTAMP_LTZ first in the session zone; a
/// string is parsed with `SimpleDateFormat("yyyy-MM-dd HH:mm:ss")` (trailing text such as
/// fractions is ignored) and formatted with `SimpleDateFormat(pattern)`; a string that does not
/// parse gives NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateFormat;

impl FlinkFunction for DateFormat {
    fn name(&self) -> &'static str {
        "date_format"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=2)?;
        let first = if is_string(&args[0]) {
            args[0].clone()
        } else {
            temporal_arg(self.name(), &args[0])?
        };
        Ok(vec![first, as_string_type(&args[1])])
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let zone = zone(args)?;
        let fmt = Strs::new(&args.args[1])?;
        let mut out = StringBuilder::with_capacity(n, n * 16);
        let mut buf = String::new();
        let t0 = arg_type(args, 0);
        if is_string(&t0) {
            let input = Strs::new(&args.args[0])?;
            let parser = JavaPattern::compile(DEFAULT_SDF, Dialect::SimpleDateFormat)?;
            let mut cache = PatternCache::new(Dialect::SimpleDateFormat);
            for i in 0..n {
                let (Some(s), Some(f)) = (input.get(i), fmt.get(i)) else {
                    out.append_null();
                    continue;
                };
                let p = cache.get(f)?;
                match parser.parse(s).and_then(|p| p.to_naive()) {
                    Some(dt) => {
                        buf.clear();
                        let instant = zone.local_to_instant_ms(naive_to_ms(&dt));
                        p.format(&dt, &zone, instant, &mut buf);
                        out.append_value(&buf);
                    }
                    None => out.append_null(),
                }
            }
        } else {
            let input = Ints::new(&args.args[0])?;
            let mut cache = PatternCache::new(Dialect::DateTimeFormatter);
            for i in 0..n {
                let (Some(raw), Some(f)) = (input.get(i), fmt.get(i)) else {
                    out.append_null();
                    continue;
                };
                let p = cache.get(f)?;
                match wall_clock(&t0, raw, &zone) {
                    Some((dt, instant)) => {
                        buf.clear();
                        p.format(&dt, &zone, instant, &mut buf);
                        out.append_value(&buf);
                    }
                    None => out.append_null(),
                }
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

// ---------------------------------------------------------------------------------------------
// TO_TIMESTAMP / TO_DATE / TO_TIMESTAMP_LTZ
// ---------------------------------------------------------------------------------------------

/// `TO_TIMESTAMP(string[, pattern])` → TIMESTAMP(3).
///
/// Flink `DateTimeUtils.parseTimestampData`: without a pattern `yyyy-[M]M-[d]d[ [H]H:[m]m:[s]s
/// [.f…]]` must match the whole string; with one, `DateTimeFormatter` parsing with missing fields
/// defaulted (1970-01-01 00:00:00) and a `java.sql.Timestamp.valueOf` fallback; fractions beyond
/// milliseconds are floored. Unparseable input gives NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToTimestamp;

fn parse_with_pattern_or_fallback(p: &JavaPattern, s: &str) -> Option<NaiveDateTime> {
    p.parse(s)
        .and_then(|x| x.to_naive())
        .or_else(|| parse_sql_timestamp_fallback(s))
}

impl FlinkFunction for ToTimestamp {
    fn name(&self) -> &'static str {
        "to_timestamp"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=2)?;
        Ok(args.iter().map(as_string_type).collect())
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(ts_type_ms(false))
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let input = Strs::new(&args.args[0])?;
        let fmt = args.args.get(1).map(Strs::new).transpose()?;
        let mut cache = PatternCache::new(Dialect::DateTimeFormatter);
        let mut out = PrimitiveBuilder::<TimestampMillisecondType>::with_capacity(n);
        for i in 0..n {
            let Some(s) = input.get(i) else {
                out.append_null();
                continue;
            };
            let dt = match &fmt {
                None => parse_default_timestamp(s),
                Some(f) => match f.get(i) {
                    None => None,
                    Some(f) => parse_with_pattern_or_fallback(cache.get(f)?, s),
                },
            };
            out.append_option(dt.map(|d| naive_to_ms(&d)));
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `TO_DATE(string[, pattern])` → DATE.
///
/// Flink: without a pattern `DateTimeUtils.parseDate(String)` (lenient `y[-m[-d]]`, anything
/// after the first space ignored, NULL if invalid); with one, `SimpleDateFormat` parsing.
/// Deliberate difference: Flink turns an unparseable string with a pattern into a garbage date
/// computed from `Long.MIN_VALUE`; we return NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToDate;

/// Flink's `DateTimeUtils.parseDate(String)`.
fn flink_parse_date(s: &str) -> Option<i32> {
    let s = match s.find(' ') {
        Some(i) if i > 0 => &s[..i],
        _ => s,
    };
    let int = |x: &str| -> Option<i32> {
        let x = x.trim();
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        x.parse().ok()
    };
    let mut parts = s.splitn(3, '-');
    let y = int(parts.next()?)?;
    let m = parts.next().map(int).unwrap_or(Some(1))?;
    let d = parts.next().map(int).unwrap_or(Some(1))?;
    if !(0..=9999).contains(&y) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, u32::try_from(m).ok()?, u32::try_from(d).ok()?)?;
    Some(days_from_date(date))
}

fn days_from_date(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days() as i32
}

fn date_from_days(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days))
}

impl FlinkFunction for ToDate {
    fn name(&self) -> &'static str {
        "to_date"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=2)?;
        Ok(args.iter().map(as_string_type).collect())
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let input = Strs::new(&args.args[0])?;
        let fmt = args.args.get(1).map(Strs::new).transpose()?;
        let mut cache = PatternCache::new(Dialect::SimpleDateFormat);
        let mut out = Date32Builder::with_capacity(n);
        for i in 0..n {
            let Some(s) = input.get(i) else {
                out.append_null();
                continue;
            };
            let d = match &fmt {
                None => flink_parse_date(s),
                Some(f) => match f.get(i) {
                    None => None,
                    Some(f) => cache
                        .get(f)?
                        .parse(s)
                        .and_then(|p| p.to_naive())
                        .map(|dt| days_from_date(dt.date())),
                },
            };
            out.append_option(d);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `TO_TIMESTAMP_LTZ(numeric[, precision])` and `TO_TIMESTAMP_LTZ(string[, pattern[, zone]])`
/// → TIMESTAMP_LTZ(3).
///
/// Flink `DateTimeUtils.toTimestampData`: precision 0 reads epoch seconds (NULL outside years
/// 0000..9999), 3 reads epoch milliseconds (default 3); other precisions are an error. A string
/// is parsed with the pattern (default `yyyy-MM-dd HH:mm:ss.SSS`) in the given zone (default: the
/// session zone); NULL if it does not parse. Deliberate difference: DECIMAL input goes through
/// DOUBLE.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToTimestampLtz;

const MIN_EPOCH_SECONDS: i64 = -62_167_219_200;
const MAX_EPOCH_SECONDS: i64 = 253_402_300_799;
const MIN_EPOCH_MILLIS: i64 = -62_167_219_200_000;
const MAX_EPOCH_MILLIS: i64 = 253_402_300_799_999;

fn epoch_millis_in_range(ms: i64) -> Option<i64> {
    (MIN_EPOCH_MILLIS..=MAX_EPOCH_MILLIS)
        .contains(&ms)
        .then_some(ms)
}

impl FlinkFunction for ToTimestampLtz {
    fn name(&self) -> &'static str {
        "to_timestamp_ltz"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=3)?;
        if is_string(&args[0]) {
            return Ok(args.iter().map(as_string_type).collect());
        }
        if args.len() > 2 {
            return sig_err(
                self.name(),
                "a numeric value takes at most a precision argument",
            );
        }
        let first = match &args[0] {
            t if t.is_integer() || t == &DataType::Null => DataType::Int64,
            t if t.is_floating()
                || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
            {
                DataType::Float64
            }
            t => {
                return sig_err(
                    self.name(),
                    format!("expected a numeric or string value, got {t}"),
                );
            }
        };
        let mut out = vec![first];
        if let Some(p) = args.get(1) {
            out.push(as_int_type(self.name(), p)?);
        }
        Ok(out)
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(ts_type_ms(true))
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let mut out =
            PrimitiveBuilder::<TimestampMillisecondType>::with_capacity(n).with_timezone("UTC");
        let t0 = arg_type(args, 0);
        if is_string(&t0) {
            let session = zone(args)?;
            let input = Strs::new(&args.args[0])?;
            let fmt = args.args.get(1).map(Strs::new).transpose()?;
            let tz = args.args.get(2).map(Strs::new).transpose()?;
            let mut cache = PatternCache::new(Dialect::DateTimeFormatter);
            let mut zones: Option<(String, Zone)> = None;
            for i in 0..n {
                let Some(s) = input.get(i) else {
                    out.append_null();
                    continue;
                };
                let f = match &fmt {
                    None => Some("yyyy-MM-dd HH:mm:ss.SSS"),
                    Some(f) => f.get(i),
                };
                let z = match &tz {
                    None => Some(session),
                    Some(t) => match t.get(i) {
                        None => None,
                        Some(name) => {
                            if !matches!(&zones, Some((s, _)) if s == name) {
                                zones = Some((name.to_string(), Zone::parse(name)?));
                            }
                            zones.as_ref().map(|(_, z)| *z)
                        }
                    },
                };
                let (Some(f), Some(z)) = (f, z) else {
                    out.append_null();
                    continue;
                };
                let v = cache
                    .get(f)?
                    .parse(s)
                    .and_then(|p| p.to_naive())
                    .map(|dt| z.local_to_instant_ms(naive_to_ms(&dt)));
                out.append_option(v);
            }
        } else {
            let precision = args.args.get(1).map(Ints::new).transpose()?;
            let ints = (t0 == DataType::Int64)
                .then(|| Ints::new(&args.args[0]))
                .transpose()?;
            let floats = (t0 == DataType::Float64)
                .then(|| Floats::new(&args.args[0]))
                .transpose()?;
            for i in 0..n {
                let p = match &precision {
                    None => Some(3),
                    Some(p) => p.get(i),
                };
                let v = match p {
                    None => None,
                    Some(0) => match (&ints, &floats) {
                        (Some(a), _) => a.get(i).and_then(|s| {
                            (MIN_EPOCH_SECONDS..=MAX_EPOCH_SECONDS)
                                .contains(&s)
                                .then(|| s * 1000)
                        }),
                        (_, Some(a)) => a.get(i).and_then(|s| {
                            ((MIN_EPOCH_SECONDS as f64)..=(MAX_EPOCH_SECONDS as f64))
                                .contains(&s)
                                .then_some((s * 1000.0) as i64)
                        }),
                        _ => None,
                    },
                    Some(3) => match (&ints, &floats) {
                        (Some(a), _) => a.get(i),
                        (_, Some(a)) => a.get(i).map(|ms| ms as i64),
                        _ => None,
                    },
                    Some(other) => {
                        return Err(FunctionError::Execution {
                            function: "to_timestamp_ltz",
                            message: format!(
                                "the precision value '{other}' is unsupported, the supported \
                                 value is '0' for second or '3' for millisecond"
                            ),
                        }
                        .into());
                    }
                };
                out.append_option(v.and_then(epoch_millis_in_range));
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

// ---------------------------------------------------------------------------------------------
// UNIX_TIMESTAMP / FROM_UNIXTIME
// ---------------------------------------------------------------------------------------------

/// `UNIX_TIMESTAMP()` and `UNIX_TIMESTAMP(string[, pattern])` → BIGINT.
///
/// Flink `DateTimeUtils.unixTimestamp`: the current epoch second, or the string parsed with
/// `SimpleDateFormat` (default `yyyy-MM-dd HH:mm:ss`) in the session zone, unless the pattern
/// reads an offset; `Long.MIN_VALUE` (-9223372036854775808) when it does not parse, as Flink's
/// documentation states. Volatile because of the no-argument form.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct UnixTimestamp;

impl FlinkFunction for UnixTimestamp {
    fn name(&self) -> &'static str {
        "unix_timestamp"
    }

    fn volatility(&self) -> Volatility {
        Volatility::Volatile
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 0..=2)?;
        Ok(args.iter().map(as_string_type).collect())
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.is_empty() {
            let now = chrono::Utc::now().timestamp();
            return Ok(ColumnarValue::Scalar(ScalarValue::Int64(Some(now))));
        }
        let (n, scalar) = rows(args);
        let zone = zone(args)?;
        let input = Strs::new(&args.args[0])?;
        let fmt = args.args.get(1).map(Strs::new).transpose()?;
        let mut cache = PatternCache::new(Dialect::SimpleDateFormat);
        let mut out = Int64Builder::with_capacity(n);
        for i in 0..n {
            let f = match &fmt {
                None => Some(DEFAULT_SDF),
                Some(f) => f.get(i),
            };
            let (Some(s), Some(f)) = (input.get(i), f) else {
                out.append_null();
                continue;
            };
            let v = cache.get(f)?.parse(s).and_then(|p| {
                let local = naive_to_ms(&p.to_naive()?);
                let instant = match p.offset_secs {
                    Some(off) => local - i64::from(off) * 1000,
                    None => zone.local_to_instant_ms(local),
                };
                // Java's `ms / 1000` truncates toward zero.
                Some(instant / 1000)
            });
            out.append_value(v.unwrap_or(i64::MIN));
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `FROM_UNIXTIME(seconds[, pattern])` → STRING.
///
/// Flink `DateTimeUtils.formatUnixTimestamp`: `SimpleDateFormat` (default
/// `yyyy-MM-dd HH:mm:ss`) in the session zone. DataFusion's `from_unixtime` returns a TIMESTAMP,
/// so ours replaces it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FromUnixtime;

impl FlinkFunction for FromUnixtime {
    fn name(&self) -> &'static str {
        "from_unixtime"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=2)?;
        let mut out = vec![as_int_type(self.name(), &args[0])?];
        if let Some(f) = args.get(1) {
            out.push(as_string_type(f));
        }
        Ok(out)
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let zone = zone(args)?;
        let secs = Ints::new(&args.args[0])?;
        let fmt = args.args.get(1).map(Strs::new).transpose()?;
        let mut cache = PatternCache::new(Dialect::SimpleDateFormat);
        let mut out = StringBuilder::with_capacity(n, n * 19);
        let mut buf = String::new();
        for i in 0..n {
            let f = match &fmt {
                None => Some(DEFAULT_SDF),
                Some(f) => f.get(i),
            };
            let (Some(s), Some(f)) = (secs.get(i), f) else {
                out.append_null();
                continue;
            };
            let p = cache.get(f)?;
            let instant = s.saturating_mul(1000);
            match ms_to_naive(zone.instant_to_local_ms(instant)) {
                Some(dt) => {
                    buf.clear();
                    p.format(&dt, &zone, instant, &mut buf);
                    out.append_value(&buf);
                }
                None => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

// ---------------------------------------------------------------------------------------------
// Units, TIMESTAMPADD, TIMESTAMPDIFF
// ---------------------------------------------------------------------------------------------

/// A time unit keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

const UNITS: &str =
    "MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR";
const FLOOR_UNITS: &str = "SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR";

impl Unit {
    fn parse(function: &'static str, s: &str) -> Result<Unit> {
        // Calcite also accepts the SQL_TSI_* spellings of ODBC.
        let u = s.trim().to_ascii_uppercase();
        let u = u.strip_prefix("SQL_TSI_").unwrap_or(&u);
        Ok(match u {
            "MICROSECOND" => Unit::Microsecond,
            "MILLISECOND" | "FRAC_SECOND" => Unit::Millisecond,
            "SECOND" => Unit::Second,
            "MINUTE" => Unit::Minute,
            "HOUR" => Unit::Hour,
            "DAY" => Unit::Day,
            "WEEK" => Unit::Week,
            "MONTH" => Unit::Month,
            "QUARTER" => Unit::Quarter,
            "YEAR" => Unit::Year,
            _ => {
                return Err(FunctionError::InvalidUnit {
                    function,
                    unit: s.to_string(),
                    expected: UNITS,
                }
                .into());
            }
        })
    }

    /// Length in nanoseconds of the fixed-length units.
    fn nanos(self) -> Option<i128> {
        Some(match self {
            Unit::Microsecond => 1_000,
            Unit::Millisecond => 1_000_000,
            Unit::Second => 1_000_000_000,
            Unit::Minute => 60_000_000_000,
            Unit::Hour => 3_600_000_000_000,
            Unit::Day => 86_400_000_000_000,
            Unit::Week => 604_800_000_000_000,
            _ => return None,
        })
    }

    fn months(self) -> Option<i64> {
        match self {
            Unit::Month => Some(1),
            Unit::Quarter => Some(3),
            Unit::Year => Some(12),
            _ => None,
        }
    }

    fn keeps_date(self) -> bool {
        matches!(
            self,
            Unit::Day | Unit::Week | Unit::Month | Unit::Quarter | Unit::Year
        )
    }
}

fn unit_arg(function: &'static str, args: &ScalarFunctionArgs) -> Result<Unit> {
    match Strs::new(&args.args[0])?.literal() {
        Some(Some(u)) => Unit::parse(function, u),
        _ => sig_err(
            function,
            "the unit must be a string literal such as 'MINUTE'",
        ),
    }
}

/// Flink's `DateTimeUtils.addMonths(int date, int m)`: clamps the day to the target month.
fn add_months_to_days(days: i64, m: i64) -> Option<i64> {
    let d = date_from_days(days)?;
    let total = i64::from(d.year()) * 12 + i64::from(d.month0()) + m;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12));
    let y = i32::try_from(y).ok()?;
    let last = last_day(y, m0 as u32 + 1)?;
    let nd = NaiveDate::from_ymd_opt(y, m0 as u32 + 1, d.day().min(last))?;
    Some(i64::from(days_from_date(nd)))
}

fn last_day(y: i32, m: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    Some((next - first).num_days() as u32)
}

/// Flink's `DateTimeUtils.subtractMonths(long t0, long t1)` on epoch milliseconds.
fn subtract_months_ms(t0: i64, t1: i64) -> Option<i64> {
    let (ms0, ms1) = (t0.rem_euclid(MILLIS_PER_DAY), t1.rem_euclid(MILLIS_PER_DAY));
    let d0 = t0.div_euclid(MILLIS_PER_DAY);
    let d1 = t1.div_euclid(MILLIS_PER_DAY);
    let mut x = subtract_months_days(d0, d1)?;
    let d2 = add_months_to_days(d1, x)?;
    if d2 == d0 && ms0 < ms1 {
        x -= 1;
    }
    Some(x)
}

fn subtract_months_days(d0: i64, d1: i64) -> Option<i64> {
    if d0 < d1 {
        return subtract_months_days(d1, d0).map(|x| -x);
    }
    // An estimate from below, then step (no month is longer than 31 days).
    let mut m = (d0 - d1) / 31;
    loop {
        if add_months_to_days(d1, m)? >= d0 {
            return Some(m);
        }
        if add_months_to_days(d1, m + 1)? > d0 {
            return Some(m);
        }
        m += 1;
    }
}

/// `TIMESTAMPADD(unit, n, timestamp | date)`; the engine's parser passes the unit keyword as a
/// string literal: `timestampadd('MINUTE', 5, ts)`.
///
/// Calcite/Flink: fixed units add `n × unit`; MONTH/QUARTER/YEAR add months and clamp the day
/// (`DateTimeUtils.addMonths`). The result keeps the timestamp's type; a DATE stays a DATE for
/// DAY and longer units and becomes TIMESTAMP(3) otherwise. TIMESTAMP_LTZ moves by months in
/// UTC (Flink adds months to the epoch milliseconds).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimestampAdd;

impl FlinkFunction for TimestampAdd {
    fn name(&self) -> &'static str {
        "timestampadd"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        Ok(vec![
            as_string_type(&args[0]),
            as_int_type(self.name(), &args[1])?,
            temporal_arg(self.name(), &args[2])?,
        ])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[2].clone())
    }

    fn return_type_from_args(&self, args: &ReturnFieldArgs) -> Result<DataType> {
        let t = args.arg_fields[2].data_type().clone();
        if t != DataType::Date32 {
            return Ok(t);
        }
        match literal_str(args, 0) {
            Some(u) if Unit::parse(self.name(), u)?.keeps_date() => Ok(DataType::Date32),
            Some(_) => Ok(ts_type_ms(false)),
            None => sig_err(
                self.name(),
                "the unit must be a string literal such as 'MINUTE'",
            ),
        }
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let unit = unit_arg(self.name(), args)?;
        let (n, scalar) = rows(args);
        let amount = Ints::new(&args.args[1])?;
        let ts = Ints::new(&args.args[2])?;
        let in_type = arg_type(args, 2);
        let out_type = args.return_type().clone();
        let mut vals = Vec::with_capacity(n);
        for i in 0..n {
            let (Some(k), Some(raw)) = (amount.get(i), ts.get(i)) else {
                vals.push(None);
                continue;
            };
            let v = match (&in_type, &out_type) {
                (DataType::Date32, DataType::Date32) => match unit.months() {
                    Some(m) => add_months_to_days(raw, k * m),
                    None => {
                        let days = if unit == Unit::Week { 7 } else { 1 };
                        k.checked_mul(days).and_then(|d| raw.checked_add(d))
                    }
                },
                (DataType::Date32, _) => {
                    add_to_ms(raw * MILLIS_PER_DAY, TimeUnit::Millisecond, unit, k)
                }
                (DataType::Timestamp(u, _), _) => add_to_ms(raw, *u, unit, k),
                _ => None,
            };
            vals.push(v);
        }
        finish(timestamp_array(&out_type, vals), scalar)
    }
}

/// Adds `k` units to a raw timestamp in `tu`.
fn add_to_ms(raw: i64, tu: TimeUnit, unit: Unit, k: i64) -> Option<i64> {
    if let Some(m) = unit.months() {
        let ms = raw_to_ms(raw, tu);
        let (days, rem) = (ms.div_euclid(MILLIS_PER_DAY), ms.rem_euclid(MILLIS_PER_DAY));
        let nd = add_months_to_days(days, k.checked_mul(m)?)?;
        let out = ms_to_raw(nd.checked_mul(MILLIS_PER_DAY)?.checked_add(rem)?, tu)?;
        return out.checked_add(sub_ms(raw, tu));
    }
    let per_unit = unit.nanos()?;
    let unit_nanos = i128::from(crate::udf::per_second(tu));
    let delta = i128::from(k) * per_unit * unit_nanos / 1_000_000_000;
    i64::try_from(i128::from(raw) + delta).ok()
}

/// `TIMESTAMPDIFF(unit, a, b)` → INT, the number of whole units from `a` to `b`.
///
/// Calcite's convertlet: fixed units divide `b - a` (milliseconds, truncating toward zero);
/// MONTH/QUARTER/YEAR use `DateTimeUtils.subtractMonths` then divide by 1/3/12. The INT cast
/// wraps on overflow, as Java's does.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimestampDiff;

fn to_nanos(t: &DataType, raw: i64) -> i128 {
    match t {
        DataType::Date32 => i128::from(raw) * 86_400_000_000_000,
        DataType::Timestamp(u, _) => {
            i128::from(raw) * (1_000_000_000 / i128::from(crate::udf::per_second(*u)))
        }
        _ => 0,
    }
}

impl FlinkFunction for TimestampDiff {
    fn name(&self) -> &'static str {
        "timestampdiff"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        Ok(vec![
            as_string_type(&args[0]),
            temporal_arg(self.name(), &args[1])?,
            temporal_arg(self.name(), &args[2])?,
        ])
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let unit = unit_arg(self.name(), args)?;
        let (n, scalar) = rows(args);
        let (ta, tb) = (arg_type(args, 1), arg_type(args, 2));
        let a = Ints::new(&args.args[1])?;
        let b = Ints::new(&args.args[2])?;
        let mut out = Int32Builder::with_capacity(n);
        for i in 0..n {
            let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
                out.append_null();
                continue;
            };
            let (nx, ny) = (to_nanos(&ta, x), to_nanos(&tb, y));
            let v = match (unit.months(), unit) {
                (Some(m), _) => {
                    let ms = |v: i128| v.div_euclid(1_000_000) as i64;
                    subtract_months_ms(ms(ny), ms(nx)).map(|d| d / m)
                }
                (None, Unit::Microsecond) => Some(((ny - nx) / 1_000) as i64),
                (None, u) => {
                    // Flink subtracts millisecond values: sub-millisecond digits do not count.
                    let ms = |v: i128| v.div_euclid(1_000_000);
                    let per = u.nanos().unwrap_or(1) / 1_000_000;
                    Some(((ms(ny) - ms(nx)) / per) as i64)
                }
            };
            out.append_option(v.map(|v| v as i32));
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

// ---------------------------------------------------------------------------------------------
// Extractors
// ---------------------------------------------------------------------------------------------

/// Which field an extractor returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Year,
    Quarter,
    Month,
    Week,
    DayOfYear,
    DayOfMonth,
    DayOfWeek,
    Hour,
    Minute,
    Second,
}

/// `YEAR(x)`, `QUARTER`, `MONTH`, `WEEK`, `DAYOFYEAR`, `DAYOFMONTH`, `DAYOFWEEK`, `HOUR`,
/// `MINUTE`, `SECOND` → BIGINT, as `EXTRACT(unit FROM x)`.
///
/// Flink `DateTimeUtils.extractFromDate`/`convertExtract`: WEEK is the ISO-8601 week number,
/// DAYOFWEEK counts Sunday = 1 … Saturday = 7; TIMESTAMP_LTZ is read in the session zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Extract(pub(crate) Field);

impl FlinkFunction for Extract {
    fn name(&self) -> &'static str {
        match self.0 {
            Field::Year => "year",
            Field::Quarter => "quarter",
            Field::Month => "month",
            Field::Week => "week",
            Field::DayOfYear => "dayofyear",
            Field::DayOfMonth => "dayofmonth",
            Field::DayOfWeek => "dayofweek",
            Field::Hour => "hour",
            Field::Minute => "minute",
            Field::Second => "second",
        }
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=1)?;
        Ok(vec![temporal_arg(self.name(), &args[0])?])
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let t = arg_type(args, 0);
        let zone = if is_ltz(&t) { zone(args)? } else { Zone::utc() };
        let input = Ints::new(&args.args[0])?;
        let mut out = Int64Builder::with_capacity(n);
        for i in 0..n {
            let v = input.get(i).and_then(|raw| {
                let (dt, _) = wall_clock(&t, raw, &zone)?;
                Some(i64::from(match self.0 {
                    Field::Year => dt.year(),
                    Field::Quarter => (dt.month0() / 3 + 1) as i32,
                    Field::Month => dt.month() as i32,
                    Field::Week => dt.iso_week().week() as i32,
                    Field::DayOfYear => dt.ordinal() as i32,
                    Field::DayOfMonth => dt.day() as i32,
                    Field::DayOfWeek => dt.weekday().number_from_sunday() as i32,
                    Field::Hour => dt.hour() as i32,
                    Field::Minute => dt.minute() as i32,
                    Field::Second => dt.second() as i32,
                }))
            });
            out.append_option(v);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

// ---------------------------------------------------------------------------------------------
// FLOOR / CEIL (ts TO unit)
// ---------------------------------------------------------------------------------------------

/// `flink_floor_time(ts, 'UNIT')` / `flink_ceil_time(ts, 'UNIT')`: Flink's `FLOOR(ts TO unit)`
/// and `CEIL(ts TO unit)`, which the engine's parser rewrites to these. The type is kept.
///
/// Flink (`FloorCeilCallGen`, `DateTimeUtils.timestampFloor/Ceil`, `julianDateFloor`):
/// SECOND/MINUTE (and HOUR/DAY for TIMESTAMP) round the epoch milliseconds; WEEK (weeks start
/// on Sunday), MONTH, QUARTER and YEAR work on the date and — a Calcite quirk kept on purpose —
/// CEIL ignores the time of day, so `CEIL(TIMESTAMP '2024-03-01 10:00' TO MONTH)` is
/// `2024-03-01 00:00`. TIMESTAMP_LTZ rounds HOUR and longer in the session zone. Sub-millisecond
/// digits are dropped, as Flink reads `getMillisecond()`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FloorCeil {
    pub(crate) ceil: bool,
}

/// Java's `floor(a, b)` / `ceil(a, b)` helpers in `DateTimeUtils`.
fn floor_to(a: i64, b: i64) -> i64 {
    a - a.rem_euclid(b)
}

fn ceil_to(a: i64, b: i64) -> i64 {
    let r = a.rem_euclid(b);
    if r > 0 { a - r + b } else { a }
}

/// `DateTimeUtils.julianDateFloor` on epoch days.
fn date_floor(unit: Unit, days: i64, floor: bool) -> Option<i64> {
    let d = date_from_days(days)?;
    let (mut year, mut month, day) = (d.year(), d.month(), d.day());
    let ymd = |y: i32, m: u32| -> Option<i64> {
        // Month 13 (from CEIL of December) is January of the next year.
        let (y, m) = if m > 12 { (y + 1, m - 12) } else { (y, m) };
        NaiveDate::from_ymd_opt(y, m, 1).map(|d| i64::from(days_from_date(d)))
    };
    match unit {
        Unit::Year => {
            if !floor && (month > 1 || day > 1) {
                year += 1;
            }
            ymd(year, 1)
        }
        Unit::Month => {
            if !floor && day > 1 {
                month += 1;
            }
            ymd(year, month)
        }
        Unit::Quarter => {
            let mut q = month.div_ceil(3);
            if !floor && (month > 1 || day > 1) {
                q += 1;
            }
            ymd(year, q * 3 - 2)
        }
        Unit::Week => {
            let mut offset = i64::from(d.weekday().num_days_from_sunday());
            if !floor && offset > 0 {
                offset -= 7;
            }
            Some(days - offset)
        }
        Unit::Day => Some(if floor { days } else { days + 1 }),
        _ => Some(days),
    }
}

impl FlinkFunction for FloorCeil {
    fn name(&self) -> &'static str {
        if self.ceil {
            "flink_ceil_time"
        } else {
            "flink_floor_time"
        }
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=2)?;
        Ok(vec![
            temporal_arg(self.name(), &args[0])?,
            as_string_type(&args[1]),
        ])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let unit = match Strs::new(&args.args[1])?.literal() {
            Some(Some(u)) => Unit::parse(self.name(), u)?,
            _ => {
                return sig_err(
                    self.name(),
                    "the unit must be a string literal such as 'MINUTE'",
                );
            }
        };
        if matches!(unit, Unit::Microsecond | Unit::Millisecond) {
            return Err(FunctionError::InvalidUnit {
                function: self.name(),
                unit: format!("{unit:?}").to_uppercase(),
                expected: FLOOR_UNITS,
            }
            .into());
        }
        let (n, scalar) = rows(args);
        let t = arg_type(args, 0);
        let zone = zone(args)?;
        let input = Ints::new(&args.args[0])?;
        let floor = !self.ceil;
        let round = |a: i64, b: i64| if floor { floor_to(a, b) } else { ceil_to(a, b) };
        let mut vals = Vec::with_capacity(n);
        for i in 0..n {
            let v = input.get(i).and_then(|raw| match &t {
                DataType::Date32 => match unit {
                    Unit::Week | Unit::Month | Unit::Quarter | Unit::Year => {
                        date_floor(unit, raw, floor)
                    }
                    _ => Some(raw),
                },
                DataType::Timestamp(tu, tz) => {
                    let ms = raw_to_ms(raw, *tu);
                    let unit_ms = unit.nanos().map(|x| (x / 1_000_000) as i64);
                    let out = match (unit, tz.is_some()) {
                        (Unit::Second | Unit::Minute, _) | (Unit::Hour | Unit::Day, false) => {
                            round(ms, unit_ms?)
                        }
                        (Unit::Hour | Unit::Day, true) => {
                            let off = zone.offset_ms(ms);
                            round(ms + off, unit_ms?) - off
                        }
                        (_, ltz) => {
                            let off = if ltz { zone.offset_ms(ms) } else { 0 };
                            // Java's `ms / MILLIS_PER_DAY` truncates toward zero.
                            let days = (ms + off) / MILLIS_PER_DAY;
                            date_floor(unit, days, floor)? * MILLIS_PER_DAY - off
                        }
                    };
                    ms_to_raw(out, *tu)
                }
                _ => None,
            });
            vals.push(v);
        }
        finish(timestamp_array(&t, vals), scalar)
    }
}

// ---------------------------------------------------------------------------------------------
// PROCTIME
// ---------------------------------------------------------------------------------------------

/// `PROCTIME()` → TIMESTAMP_LTZ(3), the wall clock when the batch is evaluated. Volatile, so
/// DataFusion never folds it into a constant at planning time.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Proctime;

impl FlinkFunction for Proctime {
    fn name(&self) -> &'static str {
        "proctime"
    }

    fn volatility(&self) -> Volatility {
        Volatility::Volatile
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 0..=0)?;
        Ok(vec![])
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(ts_type_ms(true))
    }

    fn invoke(&self, _args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let now = chrono::Utc::now().timestamp_millis();
        Ok(ColumnarValue::Scalar(ScalarValue::TimestampMillisecond(
            Some(now),
            Some(Arc::from("UTC")),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_arithmetic_matches_flink() {
        let d = |s: &str| {
            i64::from(days_from_date(
                NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap(),
            ))
        };
        // DateTimeUtils.addMonths clamps: Jan 31 + 1 month = Feb 29 (2024 is a leap year).
        assert_eq!(
            add_months_to_days(d("2024-01-31"), 1),
            Some(d("2024-02-29"))
        );
        assert_eq!(
            add_months_to_days(d("2024-03-15"), -3),
            Some(d("2023-12-15"))
        );
        // subtractMonths: a month is only complete when the day-of-month and time are reached.
        let ms = |s: &str| d(s) * MILLIS_PER_DAY;
        assert_eq!(
            subtract_months_ms(ms("2024-03-01"), ms("2024-01-01")),
            Some(2)
        );
        assert_eq!(
            subtract_months_ms(ms("2024-02-29"), ms("2024-01-31")),
            Some(1)
        );
        assert_eq!(
            subtract_months_ms(ms("2024-03-01") - 1, ms("2024-01-01")),
            Some(1)
        );
        assert_eq!(
            subtract_months_ms(ms("2024-01-01"), ms("2024-03-01")),
            Some(-2)
        );
        assert_eq!(
            flink_parse_date("2017-12-12 09:30:00.0"),
            Some(d("2017-12-12") as i32)
        );
        assert_eq!(
            flink_parse_date(" 2017 - 1 - 2"),
            Some(d("2017-01-02") as i32)
        );
        assert_eq!(flink_parse_date("2017"), Some(d("2017-01-01") as i32));
        assert_eq!(flink_parse_date("2017-02-30"), None);
    }
}
