//! Flink's aggregate functions where DataFusion's differ: `AVG`.
//!
//! Flink's `AVG` keeps the argument's type (`AvgAggFunction`): the average of an INT column is
//! an INT computed as `sum / count` in `long` arithmetic (truncated toward zero), of a FLOAT a
//! FLOAT; a `DECIMAL(p, s)` gives `DECIMAL(38, max(6, s))` rounded half-up. DataFusion's `avg`
//! returns DOUBLE for integers and truncates decimals at scale `s + 4`.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int64Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// What is being averaged.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// TINYINT…BIGINT: `long` sum and division, result narrowed to the argument type.
    Int(DataType),
    /// FLOAT/DOUBLE: `double` sum, result in the argument type.
    Float(DataType),
    /// DECIMAL(p, s): exact sum at scale `s`, result at scale `out_scale`.
    Decimal { scale: i8, out_scale: i8 },
}

fn kind_of(t: &DataType) -> Result<Kind> {
    Ok(match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            Kind::Int(t.clone())
        }
        DataType::Float32 | DataType::Float64 => Kind::Float(t.clone()),
        DataType::Decimal128(_, s) => Kind::Decimal {
            scale: *s,
            out_scale: (*s).max(6),
        },
        other => return plan_err!("AVG needs a numeric argument, got {other}"),
    })
}

impl Kind {
    fn result_type(&self) -> DataType {
        match self {
            Kind::Int(t) | Kind::Float(t) => t.clone(),
            Kind::Decimal { out_scale, .. } => DataType::Decimal128(38, *out_scale),
        }
    }

    fn sum_type(&self) -> DataType {
        match self {
            Kind::Int(_) => DataType::Int64,
            Kind::Float(_) => DataType::Float64,
            Kind::Decimal { scale, .. } => DataType::Decimal128(38, *scale),
        }
    }
}

/// `AVG(x)` with Flink's result types.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlinkAvg {
    signature: Signature,
}

/// The `AVG` aggregate, replacing DataFusion's.
pub fn avg_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(FlinkAvg {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

impl AggregateUDFImpl for FlinkAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if args.len() != 1 {
            return plan_err!("AVG takes one argument, got {}", args.len());
        }
        Ok(vec![match &args[0] {
            DataType::Null => DataType::Int32,
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                DataType::Int64
            }
            DataType::Float16 => DataType::Float32,
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
            t => {
                kind_of(t)?;
                t.clone()
            }
        }])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(kind_of(&args[0])?.result_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let kind = kind_of(args.input_fields[0].data_type())?;
        if args.is_distinct {
            return Ok(vec![Arc::new(Field::new_list(
                format!("{}[distinct]", args.name),
                Field::new_list_field(args.input_fields[0].data_type().clone(), true),
                true,
            ))]);
        }
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[sum]", args.name),
                kind.sum_type(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[count]", args.name),
                DataType::Int64,
                false,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let input = args.expr_fields[0].data_type().clone();
        let kind = kind_of(&input)?;
        if args.is_distinct {
            Ok(Box::new(DistinctAvg {
                state: AvgState::new(kind),
                input,
                seen: HashSet::new(),
            }))
        } else {
            Ok(Box::new(RowAvg(AvgState::new(kind))))
        }
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let kind = kind_of(args.expr_fields[0].data_type())?;
        Ok(Box::new(AvgState::new(kind)))
    }
}

/// Sums and counts per group.
#[derive(Debug)]
struct AvgState {
    kind: Kind,
    /// Integer and decimal sums (integers wrap at 64 bits, as Java's `long` does).
    isums: Vec<i128>,
    fsums: Vec<f64>,
    counts: Vec<i64>,
}

impl AvgState {
    fn new(kind: Kind) -> Self {
        AvgState {
            kind,
            isums: Vec::new(),
            fsums: Vec::new(),
            counts: Vec::new(),
        }
    }

    fn resize(&mut self, n: usize) {
        match self.kind {
            Kind::Float(_) => self.fsums.resize(n, 0.0),
            _ => self.isums.resize(n, 0),
        }
        self.counts.resize(n, 0);
    }

    /// Adds `values` (of the argument type, or of the sum type when `merging`) with counts
    /// (`None`: one per row).
    fn add(
        &mut self,
        values: &ArrayRef,
        counts: Option<&Int64Array>,
        groups: &[usize],
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        let keep = |i: usize| filter.is_none_or(|f| f.is_valid(i) && f.value(i));
        let n_of = |i: usize| counts.map_or(1, |c| c.value(i));
        match &self.kind {
            Kind::Int(_) => {
                let v = cast(values, &DataType::Int64)?;
                let v = v.as_primitive::<Int64Type>();
                for (i, g) in groups.iter().enumerate() {
                    if v.is_valid(i) && keep(i) {
                        let s = (self.isums[*g] as i64).wrapping_add(v.value(i));
                        self.isums[*g] = i128::from(s);
                        self.counts[*g] += n_of(i);
                    }
                }
            }
            Kind::Float(_) => {
                let v = cast(values, &DataType::Float64)?;
                let v = v.as_primitive::<Float64Type>();
                for (i, g) in groups.iter().enumerate() {
                    if v.is_valid(i) && keep(i) {
                        self.fsums[*g] += v.value(i);
                        self.counts[*g] += n_of(i);
                    }
                }
            }
            Kind::Decimal { scale, .. } => {
                let v = cast(values, &DataType::Decimal128(38, *scale))?;
                let v = v.as_primitive::<Decimal128Type>();
                for (i, g) in groups.iter().enumerate() {
                    if v.is_valid(i) && keep(i) {
                        self.isums[*g] += v.value(i);
                        self.counts[*g] += n_of(i);
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes `values` (of the argument type) from group 0: the retraction of an updating
    /// input (`-U`/`-D` rows) or of rows leaving an OVER frame.
    fn retract(&mut self, values: &ArrayRef) -> Result<()> {
        self.resize(1);
        match &self.kind {
            Kind::Int(_) => {
                let v = cast(values, &DataType::Int64)?;
                for x in v.as_primitive::<Int64Type>().iter().flatten() {
                    self.isums[0] = i128::from((self.isums[0] as i64).wrapping_sub(x));
                    self.counts[0] -= 1;
                }
            }
            Kind::Float(_) => {
                let v = cast(values, &DataType::Float64)?;
                for x in v.as_primitive::<Float64Type>().iter().flatten() {
                    self.fsums[0] -= x;
                    self.counts[0] -= 1;
                }
            }
            Kind::Decimal { scale, .. } => {
                let v = cast(values, &DataType::Decimal128(38, *scale))?;
                for x in v.as_primitive::<Decimal128Type>().iter().flatten() {
                    self.isums[0] -= x;
                    self.counts[0] -= 1;
                }
            }
        }
        Ok(())
    }

    fn take<T: Clone>(v: &mut Vec<T>, emit_to: EmitTo) -> Vec<T> {
        match emit_to {
            EmitTo::All => std::mem::take(v),
            EmitTo::First(n) => {
                let rest = v.split_off(n.min(v.len()));
                std::mem::replace(v, rest)
            }
        }
    }

    fn averages(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let counts = Self::take(&mut self.counts, emit_to);
        let out: ArrayRef = match &self.kind {
            Kind::Int(t) => {
                let sums = Self::take(&mut self.isums, emit_to);
                let a: Int64Array = sums
                    .iter()
                    .zip(&counts)
                    .map(|(s, c)| (*c > 0).then(|| (*s as i64).wrapping_div(*c)))
                    .collect();
                // Java narrows `(int) (sum / count)`: the average of ints fits an int.
                cast(&(Arc::new(a) as ArrayRef), t)?
            }
            Kind::Float(t) => {
                let sums = Self::take(&mut self.fsums, emit_to);
                let a: Float64Array = sums
                    .iter()
                    .zip(&counts)
                    .map(|(s, c)| (*c > 0).then(|| s / *c as f64))
                    .collect();
                cast(&(Arc::new(a) as ArrayRef), t)?
            }
            Kind::Decimal { scale, out_scale } => {
                let sums = Self::take(&mut self.isums, emit_to);
                let factor = 10i128.pow((*out_scale - *scale).max(0) as u32);
                let a: Decimal128Array = sums
                    .iter()
                    .zip(&counts)
                    .map(|(s, c)| (*c > 0).then(|| div_half_up(s * factor, i128::from(*c))))
                    .collect();
                Arc::new(a.with_precision_and_scale(38, *out_scale)?)
            }
        };
        Ok(out)
    }

    fn state_arrays(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let counts = Self::take(&mut self.counts, emit_to);
        let sums: ArrayRef = match &self.kind {
            Kind::Int(_) => Arc::new(Int64Array::from_iter_values(
                Self::take(&mut self.isums, emit_to)
                    .into_iter()
                    .map(|s| s as i64),
            )),
            Kind::Float(_) => Arc::new(Float64Array::from(Self::take(&mut self.fsums, emit_to))),
            Kind::Decimal { scale, .. } => Arc::new(
                Decimal128Array::from(Self::take(&mut self.isums, emit_to))
                    .with_precision_and_scale(38, *scale)?,
            ),
        };
        Ok(vec![sums, Arc::new(Int64Array::from(counts))])
    }
}

/// `a / b` rounded half away from zero (`RoundingMode.HALF_UP`); `b > 0`.
fn div_half_up(a: i128, b: i128) -> i128 {
    let (q, r) = (a / b, a % b);
    if 2 * r.abs() >= b { q + a.signum() } else { q }
}

impl GroupsAccumulator for AvgState {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        self.add(&values[0], None, group_indices, opt_filter)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.averages(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.state_arrays(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let counts = values[1].as_primitive::<Int64Type>().clone();
        self.add(&values[0], Some(&counts), group_indices, None)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let mut one = AvgState::new(self.kind.clone());
        let n = values[0].len();
        one.resize(n);
        let groups: Vec<usize> = (0..n).collect();
        one.add(&values[0], None, &groups, opt_filter)?;
        one.state_arrays(EmitTo::All)
    }

    fn size(&self) -> usize {
        self.isums.capacity() * 16 + self.fsums.capacity() * 8 + self.counts.capacity() * 8
    }
}

/// `AVG` of one group (used where DataFusion asks for a row accumulator).
#[derive(Debug)]
struct RowAvg(AvgState);

impl Accumulator for RowAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; values[0].len()];
        self.0.update_batch(values, &groups, None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // `averages` drains the group; an updating aggregation or an OVER frame evaluates
        // after every row and keeps accumulating, so the state is put back.
        self.0.resize(1);
        let kept = (
            self.0.isums.clone(),
            self.0.fsums.clone(),
            self.0.counts.clone(),
        );
        let a = self.0.averages(EmitTo::All)?;
        (self.0.isums, self.0.fsums, self.0.counts) = kept;
        ScalarValue::try_from_array(&a, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + GroupsAccumulator::size(&self.0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.resize(1);
        let arrays = self.0.state_arrays(EmitTo::All)?;
        self.0.resize(1);
        arrays
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; states[0].len()];
        self.0.merge_batch(states, &groups, 1)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.retract(&values[0])
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }
}

/// `AVG(DISTINCT x)`: the distinct values are kept and averaged at the end.
#[derive(Debug)]
struct DistinctAvg {
    state: AvgState,
    input: DataType,
    seen: HashSet<ScalarValue>,
}

impl Accumulator for DistinctAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let a = &values[0];
        for i in 0..a.len() {
            if a.is_valid(i) {
                self.seen.insert(ScalarValue::try_from_array(a, i)?);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut state = AvgState::new(self.state.kind.clone());
        state.resize(1);
        if !self.seen.is_empty() {
            let values = ScalarValue::iter_to_array(self.seen.iter().cloned())?;
            let groups = vec![0; values.len()];
            state.add(&values, None, &groups, None)?;
        }
        let a = state.averages(EmitTo::All)?;
        ScalarValue::try_from_array(&a, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.seen.len() * 32
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self.seen.iter().cloned().collect();
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &values,
            &self.input,
        ))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for l in lists.iter().flatten() {
            self.update_batch(&[l])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int32Array;

    #[test]
    fn int_average_truncates_toward_zero_and_stays_int() {
        let mut s = AvgState::new(Kind::Int(DataType::Int32));
        let v: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(-1),
            Some(-2),
            None,
            Some(1),
            Some(2),
            Some(4),
        ]));
        s.update_batch(&[v], &[0, 0, 0, 1, 1, 1], None, 3).unwrap();
        let out = s.evaluate(EmitTo::All).unwrap();
        let out = out.as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(out.value(0), -1); // -3 / 2 = -1.5 → -1
        assert_eq!(out.value(1), 2); // 7 / 3 → 2
        assert!(out.is_null(2)); // no rows
    }

    #[test]
    fn decimal_average_rounds_half_up_at_scale_six() {
        let mut s = AvgState::new(kind_of(&DataType::Decimal128(10, 2)).unwrap());
        let v: ArrayRef = Arc::new(
            Decimal128Array::from(vec![100, 200, 200])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        s.update_batch(&[v], &[0, 0, 0], None, 1).unwrap();
        let out = s.evaluate(EmitTo::All).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(38, 6));
        assert_eq!(out.as_primitive::<Decimal128Type>().value(0), 1_666_667);
        assert_eq!(div_half_up(-5, 2), -3);
        assert_eq!(div_half_up(-4, 3), -1);
    }
}
