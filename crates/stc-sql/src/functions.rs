//! Marker UDFs for Flink's legacy group windows.
//!
//! `GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)` plans, in DataFusion, to an aggregate whose
//! group expression is a call of the `tumble` UDF below. The planner recognises the call and
//! replaces it with a window assigner plus a window aggregation; the UDF itself is never
//! evaluated. Its value type is a struct of `window_start`, `window_end` and `window_time`,
//! which is what the rewritten `TUMBLE_START(…)`/`TUMBLE_END(…)`/`TUMBLE_ROWTIME(…)` read.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
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
    )
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
