//! The glue between a Flink function and DataFusion's [`ScalarUDFImpl`], plus typed, zero-copy
//! access to arguments that may be scalars or arrays of any of the three string encodings.
//!
//! Every function here uses a user-defined signature: DataFusion calls
//! [`FlinkFunction::coerce_types`] once at planning time and inserts casts to the types it
//! returns, so `invoke` only ever sees the handful of physical types each function expects.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, LargeStringArray, StringArray, StringViewArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use chrono::NaiveDateTime;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::error::sig_err;

/// One Flink function. Implementors are small value types (usually unit structs) so that
/// DataFusion's `DynEq`/`DynHash` requirements come from `derive`.
pub(crate) trait FlinkFunction:
    Debug + PartialEq + Eq + Hash + Send + Sync + 'static
{
    /// The SQL name (lower case; DataFusion lower-cases unquoted identifiers).
    fn name(&self) -> &'static str;
    /// Further SQL names.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// `Immutable` unless the result depends on the clock (`Volatile`).
    fn volatility(&self) -> Volatility {
        Volatility::Immutable
    }
    /// The argument types the function wants, given the caller's; errors name what is valid.
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>>;
    /// The result type for coerced argument types.
    fn return_type(&self, args: &[DataType]) -> Result<DataType>;
    /// The result type when it depends on a literal argument (a unit keyword).
    fn return_type_from_args(&self, args: &ReturnFieldArgs) -> Result<DataType> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        self.return_type(&types)
    }
    /// Evaluates one batch.
    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue>;
    /// Optional rewrite into other expressions (`IF` → `CASE`).
    fn simplify(&self, args: Vec<Expr>) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Original(args))
    }
}

/// Adapts a [`FlinkFunction`] to DataFusion.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Udf<F> {
    f: F,
    signature: Signature,
    aliases: Vec<String>,
}

/// Wraps `f` as a [`ScalarUDF`].
pub(crate) fn udf<F: FlinkFunction>(f: F) -> ScalarUDF {
    let signature = Signature::user_defined(f.volatility());
    let aliases = f.aliases().iter().map(|s| s.to_string()).collect();
    ScalarUDF::new_from_impl(Udf {
        f,
        signature,
        aliases,
    })
}

impl<F: FlinkFunction> ScalarUDFImpl for Udf<F> {
    fn name(&self) -> &str {
        self.f.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.f.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.f.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let t = self.f.return_type_from_args(&args)?;
        Ok(Arc::new(Field::new(self.f.name(), t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.f.invoke(&args)
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.f.simplify(args)
    }
}

// ---------------------------------------------------------------------------------------------
// Coercion helpers
// ---------------------------------------------------------------------------------------------

pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

pub(crate) fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

/// Strings keep their encoding (no copy); NULL becomes `Utf8`; anything else is cast to text,
/// which is how Flink's implicit cast to STRING behaves for string functions.
pub(crate) fn as_string_type(t: &DataType) -> DataType {
    if is_string(t) {
        t.clone()
    } else {
        DataType::Utf8
    }
}

/// Integers and NULL become `Int64`.
pub(crate) fn as_int_type(name: &'static str, t: &DataType) -> Result<DataType> {
    if is_integer(t) || t == &DataType::Null {
        Ok(DataType::Int64)
    } else {
        sig_err(name, format!("expected an integer argument, got {t}"))
    }
}

/// Checks the argument count.
pub(crate) fn arity(
    name: &'static str,
    args: &[DataType],
    range: std::ops::RangeInclusive<usize>,
) -> Result<()> {
    if range.contains(&args.len()) {
        Ok(())
    } else if range.start() == range.end() {
        sig_err(
            name,
            format!("expected {} arguments, got {}", range.start(), args.len()),
        )
    } else {
        sig_err(
            name,
            format!(
                "expected {} to {} arguments, got {}",
                range.start(),
                range.end(),
                args.len()
            ),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Argument access
// ---------------------------------------------------------------------------------------------

/// Rows to compute, and whether every argument is a scalar (then one row is computed and the
/// result is a scalar, which keeps constant folding cheap).
pub(crate) fn rows(args: &ScalarFunctionArgs) -> (usize, bool) {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    if all_scalar {
        (1, true)
    } else {
        (args.number_rows, false)
    }
}

/// Turns a result array into the [`ColumnarValue`] DataFusion expects.
pub(crate) fn finish(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// A string argument of any encoding, scalar or array.
pub(crate) enum Strs<'a> {
    Scalar(Option<&'a str>),
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Strs<'a> {
    pub(crate) fn new(v: &'a ColumnarValue) -> Result<Self> {
        Ok(match v {
            ColumnarValue::Scalar(s) => match s {
                ScalarValue::Utf8(x) | ScalarValue::LargeUtf8(x) | ScalarValue::Utf8View(x) => {
                    Strs::Scalar(x.as_deref())
                }
                ScalarValue::Null => Strs::Scalar(None),
                other => return exec_err!("expected a string, got {}", other.data_type()),
            },
            ColumnarValue::Array(a) => match a.data_type() {
                DataType::Utf8 => Strs::Utf8(a.as_string::<i32>()),
                DataType::LargeUtf8 => Strs::Large(a.as_string::<i64>()),
                DataType::Utf8View => Strs::View(a.as_string_view()),
                other => return exec_err!("expected a string array, got {other}"),
            },
        })
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strs::Scalar(s) => *s,
            Strs::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }

    /// The literal value, when the argument is a scalar.
    pub(crate) fn literal(&self) -> Option<Option<&'a str>> {
        match self {
            Strs::Scalar(s) => Some(*s),
            _ => None,
        }
    }
}

enum Vals<'a> {
    I64(&'a [i64]),
    I32(&'a [i32]),
}

/// An integer-backed argument (Int64, Int32, Date32, Time32, any Timestamp), scalar or array.
pub(crate) struct Ints<'a> {
    scalar: Option<Option<i64>>,
    vals: Vals<'a>,
    nulls: Option<&'a NullBuffer>,
}

impl<'a> Ints<'a> {
    pub(crate) fn new(v: &'a ColumnarValue) -> Result<Self> {
        match v {
            ColumnarValue::Scalar(s) => {
                let x = match s {
                    ScalarValue::Null => None,
                    ScalarValue::Int64(x)
                    | ScalarValue::TimestampSecond(x, _)
                    | ScalarValue::TimestampMillisecond(x, _)
                    | ScalarValue::TimestampMicrosecond(x, _)
                    | ScalarValue::TimestampNanosecond(x, _) => *x,
                    ScalarValue::Int32(x)
                    | ScalarValue::Date32(x)
                    | ScalarValue::Time32Millisecond(x) => x.map(i64::from),
                    other => {
                        return exec_err!(
                            "expected an integer or temporal value, got {}",
                            other.data_type()
                        );
                    }
                };
                Ok(Ints {
                    scalar: Some(x),
                    vals: Vals::I64(&[]),
                    nulls: None,
                })
            }
            ColumnarValue::Array(a) => {
                let vals = match a.data_type() {
                    DataType::Int64 | DataType::Timestamp(..) => Vals::I64(data_slice_i64(a)),
                    DataType::Int32 | DataType::Date32 | DataType::Time32(_) => {
                        Vals::I32(data_slice_i32(a))
                    }
                    other => {
                        return exec_err!("expected an integer or temporal array, got {other}");
                    }
                };
                Ok(Ints {
                    scalar: None,
                    vals,
                    nulls: a.nulls(),
                })
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<i64> {
        if let Some(s) = self.scalar {
            return s;
        }
        if self.nulls.is_some_and(|n| n.is_null(i)) {
            return None;
        }
        Some(match self.vals {
            Vals::I64(v) => v[i],
            Vals::I32(v) => i64::from(v[i]),
        })
    }
}

fn data_slice_i64(a: &ArrayRef) -> &[i64] {
    match a.data_type() {
        DataType::Int64 => a.as_primitive::<arrow::datatypes::Int64Type>().values(),
        DataType::Timestamp(TimeUnit::Second, _) => a
            .as_primitive::<arrow::datatypes::TimestampSecondType>()
            .values(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => a
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
            .values(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => a
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
            .values(),
        _ => a
            .as_primitive::<arrow::datatypes::TimestampNanosecondType>()
            .values(),
    }
}

fn data_slice_i32(a: &ArrayRef) -> &[i32] {
    match a.data_type() {
        DataType::Int32 => a.as_primitive::<arrow::datatypes::Int32Type>().values(),
        DataType::Date32 => a.as_primitive::<arrow::datatypes::Date32Type>().values(),
        _ => a
            .as_primitive::<arrow::datatypes::Time32MillisecondType>()
            .values(),
    }
}

/// A float argument (coerced to Float64), scalar or array.
pub(crate) struct Floats<'a> {
    scalar: Option<Option<f64>>,
    array: Option<&'a arrow::array::Float64Array>,
}

impl<'a> Floats<'a> {
    pub(crate) fn new(v: &'a ColumnarValue) -> Result<Self> {
        match v {
            ColumnarValue::Scalar(ScalarValue::Float64(x)) => Ok(Floats {
                scalar: Some(*x),
                array: None,
            }),
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(Floats {
                scalar: Some(None),
                array: None,
            }),
            ColumnarValue::Array(a) if a.data_type() == &DataType::Float64 => Ok(Floats {
                scalar: None,
                array: Some(a.as_primitive::<arrow::datatypes::Float64Type>()),
            }),
            other => exec_err!("expected a DOUBLE argument, got {}", other.data_type()),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<f64> {
        match (self.scalar, self.array) {
            (Some(s), _) => s,
            (None, Some(a)) => a.is_valid(i).then(|| a.value(i)),
            (None, None) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamp representation
// ---------------------------------------------------------------------------------------------

/// Units of `unit` per second.
pub(crate) fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// Raw Arrow timestamp value → wall clock (no zone conversion).
pub(crate) fn naive_from_raw(raw: i64, unit: TimeUnit) -> Option<NaiveDateTime> {
    let ps = per_second(unit);
    let secs = raw.div_euclid(ps);
    let nanos = raw.rem_euclid(ps) * (1_000_000_000 / ps);
    chrono::DateTime::from_timestamp(secs, nanos as u32).map(|d| d.naive_utc())
}

/// Raw value → epoch milliseconds (floored).
pub(crate) fn raw_to_ms(raw: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => raw.saturating_mul(1000),
        TimeUnit::Millisecond => raw,
        TimeUnit::Microsecond => raw.div_euclid(1_000),
        TimeUnit::Nanosecond => raw.div_euclid(1_000_000),
    }
}

/// Epoch milliseconds → raw value in `unit`.
pub(crate) fn ms_to_raw(ms: i64, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => Some(ms.div_euclid(1000)),
        TimeUnit::Millisecond => Some(ms),
        TimeUnit::Microsecond => ms.checked_mul(1_000),
        TimeUnit::Nanosecond => ms.checked_mul(1_000_000),
    }
}

/// The sub-millisecond part of a raw value, in `unit`s (kept by functions that move a
/// timestamp by whole milliseconds or more).
pub(crate) fn sub_ms(raw: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second | TimeUnit::Millisecond => 0,
        TimeUnit::Microsecond => raw.rem_euclid(1_000),
        TimeUnit::Nanosecond => raw.rem_euclid(1_000_000),
    }
}

/// Flink's TIMESTAMP_LTZ: an Arrow timestamp with a zone. Its value is an instant.
pub(crate) fn is_ltz(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(_, Some(_)))
}

/// The type of an argument at invocation.
pub(crate) fn arg_type(args: &ScalarFunctionArgs, i: usize) -> DataType {
    args.args[i].data_type()
}

/// Reads a literal string argument at planning time (unit keywords).
pub(crate) fn literal_str<'a>(args: &'a ReturnFieldArgs, i: usize) -> Option<&'a str> {
    match args.scalar_arguments.get(i).copied().flatten() {
        Some(ScalarValue::Utf8(Some(s)))
        | Some(ScalarValue::LargeUtf8(Some(s)))
        | Some(ScalarValue::Utf8View(Some(s))) => Some(s.as_str()),
        _ => None,
    }
}
