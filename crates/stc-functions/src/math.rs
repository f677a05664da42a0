//! Flink's numeric functions where DataFusion's differ: `MOD`, `POWER`, `LOG`, `LOG2`.
//!
//! Flink computes these on `double` with `java.lang.Math` (`SqlFunctionUtils.log/log2/power`);
//! DataFusion's `log(x)` is base 10 and its `power(int, int)` stays an integer.

use std::sync::Arc;

use arrow::array::Float64Builder;
use arrow::compute::kernels::numeric::rem;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{ColumnarValue, Operator, ScalarFunctionArgs};

use crate::error::sig_err;
use crate::udf::{FlinkFunction, Floats, arity, finish, rows};

fn as_double(name: &'static str, t: &DataType) -> Result<DataType> {
    if t.is_numeric() || t == &DataType::Null {
        Ok(DataType::Float64)
    } else {
        sig_err(name, format!("expected a numeric argument, got {t}"))
    }
}

/// `MOD(a, b)`: the remainder with the sign of `a` (Java's `%`); integers give an integer, and
/// an integer division by zero fails the query as Java's `ArithmeticException` fails the job.
/// Types are coerced as DataFusion's `%` operator does.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Mod;

impl FlinkFunction for Mod {
    fn name(&self) -> &'static str {
        "mod"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=2)?;
        let (l, r) =
            BinaryTypeCoercer::new(&args[0], &Operator::Modulo, &args[1]).get_input_types()?;
        Ok(vec![l, r])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        BinaryTypeCoercer::new(&args[0], &Operator::Modulo, &args[1]).get_result_type()
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (_, scalar) = rows(args);
        let datum = |v: &ColumnarValue| -> Result<Box<dyn arrow::array::Datum>> {
            Ok(match v {
                ColumnarValue::Array(a) => Box::new(Arc::clone(a)),
                ColumnarValue::Scalar(s) => Box::new(s.to_scalar()?),
            })
        };
        let (l, r) = (datum(&args.args[0])?, datum(&args.args[1])?);
        let out = rem(l.as_ref(), r.as_ref())?;
        finish(out, scalar)
    }
}

/// Which `double` function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DoubleFn {
    /// `POWER(a, b)` = `Math.pow(a, b)`; alias `POW`.
    Power,
    /// `LOG(x)` = ln x; `LOG(b, x)` = ln x / ln b.
    Log,
    /// `LOG2(x)` = ln x / ln 2 (not `log2`, so results match Java to the last bit).
    Log2,
}

/// The functions of [`DoubleFn`]; they return DOUBLE for every numeric input.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Double(pub(crate) DoubleFn);

impl FlinkFunction for Double {
    fn name(&self) -> &'static str {
        match self.0 {
            DoubleFn::Power => "power",
            DoubleFn::Log => "log",
            DoubleFn::Log2 => "log2",
        }
    }

    fn aliases(&self) -> &'static [&'static str] {
        match self.0 {
            DoubleFn::Power => &["pow"],
            _ => &[],
        }
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let range = match self.0 {
            DoubleFn::Power => 2..=2,
            DoubleFn::Log => 1..=2,
            DoubleFn::Log2 => 1..=1,
        };
        arity(self.name(), args, range)?;
        args.iter().map(|t| as_double(self.name(), t)).collect()
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let a = Floats::new(&args.args[0])?;
        let b = args.args.get(1).map(Floats::new).transpose()?;
        let mut out = Float64Builder::with_capacity(n);
        for i in 0..n {
            let x = a.get(i);
            let y = b.as_ref().map(|b| b.get(i));
            let v = match (self.0, x, y) {
                (DoubleFn::Power, Some(x), Some(Some(y))) => Some(x.powf(y)),
                (DoubleFn::Log, Some(x), None) => Some(x.ln()),
                (DoubleFn::Log, Some(base), Some(Some(x))) => Some(x.ln() / base.ln()),
                (DoubleFn::Log2, Some(x), None) => Some(x.ln() / 2f64.ln()),
                _ => None,
            };
            out.append_option(v);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `SIGN(x)`: -1, 0 or 1 in the argument's own type (Flink keeps INT as INT, DECIMAL(p, s) as
/// DECIMAL(p, s), DOUBLE as DOUBLE); for floating point `Math.signum`: NaN and ±0.0 are
/// returned unchanged. DataFusion's `signum` turns integers into DOUBLE and gives 1.0 for 0.0.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Sign;

impl FlinkFunction for Sign {
    fn name(&self) -> &'static str {
        "sign"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=1)?;
        match &args[0] {
            DataType::Null => Ok(vec![DataType::Int32]),
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                Ok(vec![DataType::Int64])
            }
            DataType::Float16 => Ok(vec![DataType::Float32]),
            t if t.is_numeric() => Ok(vec![t.clone()]),
            t => sig_err(self.name(), format!("expected a numeric argument, got {t}")),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
        use arrow::datatypes as t;
        let (n, scalar) = rows(args);
        let a = args.args[0].to_array(n)?;
        fn float<T: arrow::datatypes::ArrowPrimitiveType>(
            a: &dyn Array,
            f: impl Fn(T::Native) -> T::Native,
        ) -> ArrayRef {
            let p: &PrimitiveArray<T> = a.as_primitive();
            Arc::new(p.unary::<_, T>(f))
        }
        let out: ArrayRef = match a.data_type() {
            DataType::Int8 => float::<t::Int8Type>(&a, i8::signum),
            DataType::Int16 => float::<t::Int16Type>(&a, i16::signum),
            DataType::Int32 => float::<t::Int32Type>(&a, i32::signum),
            DataType::Int64 => float::<t::Int64Type>(&a, i64::signum),
            DataType::Float32 => float::<t::Float32Type>(&a, |v| {
                if v == 0.0 || v.is_nan() {
                    v
                } else {
                    v.signum()
                }
            }),
            DataType::Float64 => float::<t::Float64Type>(&a, |v| {
                if v == 0.0 || v.is_nan() {
                    v
                } else {
                    v.signum()
                }
            }),
            DataType::Decimal128(p, s) => {
                let one = 10i128.pow((*s).max(0) as u32);
                let d = a.as_primitive::<t::Decimal128Type>();
                Arc::new(
                    d.unary::<_, t::Decimal128Type>(|v| v.signum() * one)
                        .with_precision_and_scale(*p, *s)?,
                )
            }
            other => return sig_err(self.name(), format!("unsupported argument type {other}")),
        };
        finish(out, scalar)
    }
}
