//! Marker UDFs for Flink's legacy group windows, and Flink's cast rules (`CAST(x AS STRING)`
//! text, zone-aware TIMESTAMP_LTZ casts, Java's numeric narrowing).
//!
//! `GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)` plans, in DataFusion, to an aggregate whose
//! group expression is a call of the `tumble` UDF below. The planner recognises the call and
//! replaces it with a window assigner plus a window aggregation; the UDF itself is never
//! evaluated. Its value type is a struct of `window_start`, `window_end` and `window_time`,
//! which is what the rewritten `TUMBLE_START(…)`/`TUMBLE_END(…)`/`TUMBLE_ROWTIME(…)` read.

use datafusion::arrow::datatypes::DataType;
use std::sync::Arc;

use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use stc_runtime::ops::window::window_struct_type;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GroupWindowFn {
    name: &'static str,
    signature: Signature,
}

impl GroupWindowFn {
    pub fn udf(name: &'static str) -> ScalarUDF {
        ScalarUDF::new_from_impl(GroupWindowFn {
            name,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }
}

/// The names of the group-window functions, with their number of arguments.
pub const GROUP_WINDOWS: [(&str, usize); 3] = [("tumble", 2), ("hop", 3), ("session", 2)];

impl ScalarUDFImpl for GroupWindowFn {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let expected = GROUP_WINDOWS
            .iter()
            .find(|(n, _)| *n == self.name)
            .map(|(_, a)| *a)
            .unwrap_or(2);
        if args.len() != expected && args.len() != expected + 1 {
            return plan_err!(
                "{}() takes {} arguments (time attribute and interval{}), got {}",
                self.name.to_uppercase(),
                expected,
                if expected == 3 { "s" } else { "" },
                args.len()
            );
        }
        match &args[0] {
            t @ DataType::Timestamp(_, _) => Ok(window_struct_type(t)),
            other => plan_err!(
                "the first argument of {}() must be a time attribute (TIMESTAMP(3) or TIMESTAMP_LTZ(3)), found {other}",
                self.name.to_uppercase()
            ),
        }
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!(
            "Window function {}() can only be used in GROUP BY",
            self.name.to_uppercase()
        )
    }
}

/// `CAST(x AS STRING)` with Flink's text for types whose text DataFusion writes differently
/// (`2024-01-01 00:00:00.000` instead of `2024-01-01T00:00:00`, `TRUE` instead of `true`,
/// `1.0E7` for large doubles, the declared scale of decimals). The planner substitutes it
/// for such casts; see [`needs_flink_text`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FlinkToString {
    signature: Signature,
}

impl FlinkToString {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(FlinkToString {
            signature: Signature::any(1, Volatility::Immutable),
        })
    }
}

/// Types whose Flink string form differs from Arrow's.
pub fn needs_flink_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(_, _)
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Boolean
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::Map(_, _)
            | DataType::Struct(_)
    )
}

/// Flink's cast rules where Arrow's cast kernel differs, for a `CAST(inner AS target)` whose
/// argument has type `from` (string targets are handled by [`FlinkToString`]). `try_cast`
/// says whether the cast was a TRY_CAST. Returns the replacement expression, if any:
///
/// * TIMESTAMP_LTZ ↔ TIMESTAMP through the session zone (`flink_ltz_to_timestamp` /
///   `flink_timestamp_to_ltz`, then Arrow's cast for a change of precision);
/// * FLOAT/DOUBLE → TINYINT…BIGINT as Java's `(int)` (`flink_float_to_int`);
/// * STRING → integers, DATE and TIMESTAMP with Flink's parsers (`flink_string_to`);
/// * any numeric → DECIMAL gives NULL on overflow (Flink's `DecimalData.fromBigDecimal`),
///   i.e. Arrow's safe cast, where DataFusion's CAST fails.
pub fn flink_cast(
    inner: &Expr,
    from: &DataType,
    target: &DataType,
    try_cast: bool,
) -> Option<Expr> {
    use datafusion::logical_expr::{Cast, TryCast, lit};
    let call = |name: &str, args: Vec<Expr>| -> Expr {
        // The functions are registered in every session (`stc_functions`), so the look-up
        // cannot miss; falling back to the argument keeps this infallible.
        match stc_functions::flink_functions()
            .into_iter()
            .find(|f| f.name() == name)
        {
            Some(f) => Arc::new(f).call(args),
            None => args.into_iter().next().unwrap_or(lit(ScalarValue::Null)),
        }
    };
    let recast = |e: Expr| -> Expr {
        if try_cast {
            Expr::TryCast(TryCast::new(Box::new(e), target.clone()))
        } else {
            Expr::Cast(Cast::new(Box::new(e), target.clone()))
        }
    };
    match (from, target) {
        (DataType::Timestamp(_, Some(_)), DataType::Timestamp(_, None)) => {
            Some(recast(call("flink_ltz_to_timestamp", vec![inner.clone()])))
        }
        (DataType::Timestamp(_, None), DataType::Timestamp(_, Some(_))) => {
            Some(recast(call("flink_timestamp_to_ltz", vec![inner.clone()])))
        }
        (
            DataType::Float16 | DataType::Float32 | DataType::Float64,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64,
        ) => {
            let name = match target {
                DataType::Int8 => "TINYINT",
                DataType::Int16 => "SMALLINT",
                DataType::Int32 => "INT",
                _ => "BIGINT",
            };
            Some(call("flink_float_to_int", vec![inner.clone(), lit(name)]))
        }
        (
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Timestamp(_, None),
        ) => {
            let name = match target {
                DataType::Int8 => "TINYINT",
                DataType::Int16 => "SMALLINT",
                DataType::Int32 => "INT",
                DataType::Int64 => "BIGINT",
                DataType::Date32 => "DATE",
                _ => "TIMESTAMP",
            };
            let parsed = call(
                "flink_string_to",
                vec![inner.clone(), lit(name), lit(!try_cast)],
            );
            Some(match target {
                // The parser gives nanoseconds; the precision is the cast's.
                DataType::Timestamp(..) => Expr::Cast(Cast::new(Box::new(parsed), target.clone())),
                _ => parsed,
            })
        }
        (f, DataType::Decimal128(_, _)) if f.is_numeric() && !try_cast => Some(Expr::TryCast(
            TryCast::new(Box::new(inner.clone()), target.clone()),
        )),
        _ => None,
    }
}

/// `flink_named_cast(CAST(x AS t))`: the cast itself, named `CAST(x AS t)` rather than `x`
/// (DataFusion's name for a cast), so that two aggregates over casts of one column to
/// different types get different column names (see `rewrite.rs`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NamedCast {
    signature: Signature,
}

impl NamedCast {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(NamedCast {
            signature: Signature::any(1, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for NamedCast {
    fn name(&self) -> &str {
        "flink_named_cast"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        Ok(match args {
            [Expr::Cast(c)] => format!(
                "CAST({} AS {})",
                c.expr.schema_name(),
                crate::types::flink_type_name(c.field.data_type())
            ),
            [Expr::TryCast(c)] => format!(
                "TRY_CAST({} AS {})",
                c.expr.schema_name(),
                crate::types::flink_type_name(c.field.data_type())
            ),
            [other] => other.schema_name().to_string(),
            _ => return plan_err!("flink_named_cast takes one argument"),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args[0].clone())
    }
}

impl ScalarUDFImpl for FlinkToString {
    fn name(&self) -> &str {
        "flink_to_string"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::{Array, StringBuilder};
        let zone = args
            .config_options
            .execution
            .time_zone
            .clone()
            .unwrap_or_else(|| "UTC".into());
        let array = args.args[0].to_array(args.number_rows)?;
        let mut out = StringBuilder::with_capacity(array.len(), array.len() * 16);
        for row in 0..array.len() {
            if array.is_null(row) {
                out.append_null();
            } else {
                out.append_value(stc_connectors::text::format_value_sql(&array, row, &zone));
            }
        }
        Ok(ColumnarValue::Array(std::sync::Arc::new(out.finish())))
    }
}

/// Marks the probe side's time of an event-time temporal join (`FOR SYSTEM_TIME AS OF
/// o.ts`): `__temporal_time(o.ts, r.rowtime)` is ANDed into the join condition before
/// DataFusion optimises the plan, so that projection push-down keeps `o.ts` and the versioned
/// table's rowtime even when the query selects neither (the temporal table node cannot name a
/// column of the other side), and filter push-down cannot move it (it reads both sides). The planner takes its first argument as the join's time and drops it; it
/// is never evaluated.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TemporalTimeMarker {
    signature: Signature,
}

pub const TEMPORAL_TIME_MARKER: &str = "__temporal_time";

impl TemporalTimeMarker {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(TemporalTimeMarker {
            signature: Signature::any(2, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for TemporalTimeMarker {
    fn name(&self) -> &str {
        TEMPORAL_TIME_MARKER
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Always true: kept only as a mark, but harmless if ever evaluated.
        Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
    }
}
