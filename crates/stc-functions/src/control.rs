//! `IF(cond, a, b)`.

use arrow::array::{Array, BooleanArray};
use arrow::compute::kernels::zip::zip;
use arrow::compute::prep_null_mask_filter;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr::Case;
use datafusion::logical_expr::simplify::ExprSimplifyResult;
use datafusion::logical_expr::type_coercion::other::get_coerce_type_for_case_expression;
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarFunctionArgs};

use crate::error::sig_err;
use crate::udf::{FlinkFunction, arity};

/// `IF(cond, a, b)`: `a` when `cond` is TRUE, otherwise (FALSE or NULL) `b`; `a` and `b` are
/// brought to a common type as CASE does. The optimizer rewrites it to `CASE WHEN cond THEN a
/// ELSE b END`, which evaluates only the branch each row needs (Flink's generated code also
/// evaluates lazily, so `IF(x = 0, 0, 1 / x)` must not fail); `invoke` is the fallback when a
/// plan is executed unoptimised.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct If;

impl FlinkFunction for If {
    fn name(&self) -> &'static str {
        "if"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        if !matches!(args[0], DataType::Boolean | DataType::Null) {
            return sig_err(
                self.name(),
                format!("the condition must be BOOLEAN, got {}", args[0]),
            );
        }
        let Some(t) = get_coerce_type_for_case_expression(&args[1..2], Some(&args[2])) else {
            return sig_err(
                self.name(),
                format!("no common type for {} and {}", args[1], args[2]),
            );
        };
        Ok(vec![DataType::Boolean, t.clone(), t])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[1].clone())
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let datum = |v: &ColumnarValue| -> Result<Box<dyn arrow::array::Datum>> {
            Ok(match v {
                ColumnarValue::Array(a) => Box::new(std::sync::Arc::clone(a)),
                ColumnarValue::Scalar(s) => Box::new(s.to_scalar()?),
            })
        };
        match &args.args[0] {
            ColumnarValue::Scalar(c) => {
                let take_a = matches!(c, ScalarValue::Boolean(Some(true)));
                Ok(args.args[if take_a { 1 } else { 2 }].clone())
            }
            ColumnarValue::Array(c) => {
                let Some(mask) = c.as_any().downcast_ref::<BooleanArray>() else {
                    return exec_err!("if: condition is not BOOLEAN");
                };
                let mask = if mask.null_count() > 0 {
                    prep_null_mask_filter(mask)
                } else {
                    mask.clone()
                };
                let (a, b) = (datum(&args.args[1])?, datum(&args.args[2])?);
                Ok(ColumnarValue::Array(zip(&mask, a.as_ref(), b.as_ref())?))
            }
        }
    }

    fn simplify(&self, args: Vec<Expr>) -> Result<ExprSimplifyResult> {
        let [cond, a, b]: [Expr; 3] = match args.try_into() {
            Ok(x) => x,
            Err(args) => return Ok(ExprSimplifyResult::Original(args)),
        };
        Ok(ExprSimplifyResult::Simplified(Expr::Case(Case::new(
            None,
            vec![(Box::new(cond), Box::new(a))],
            Some(Box::new(b)),
        ))))
    }
}
