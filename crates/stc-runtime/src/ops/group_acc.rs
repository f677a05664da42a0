//! The accumulators of one non-windowed `GROUP BY` group ([`GroupAcc`]).
//!
//! Without mini-batch an updating aggregation applies each row on its own and evaluates
//! every aggregate after it (Flink's semantics: one change per row). Through DataFusion's
//! [`Accumulator`] that costs, per row and aggregate call, a one-row slice of every argument
//! (an allocation each), a batch update over it and a dynamically dispatched evaluation,
//! which made queries such as Nexmark q15–q17 (a dozen aggregates per row) spend most of
//! their time on the calls rather than on the arithmetic. So the common aggregates are kept
//! here as plain values updated from a row index: `COUNT`, `SUM`, `AVG` (Flink's, from
//! `stc-functions`) and, over an insert-only input, `MIN`/`MAX` and `COUNT(DISTINCT)` of
//! BIGINT, and `MIN`/`MAX` of strings. Each one's result and checkpoint state are those of
//! the accumulator it stands for (the same values, types and state layout), so a checkpoint
//! restores into either. Every other aggregate goes through its [`Accumulator`]
//! ([`GroupAcc::Other`]); over an updating input `MIN`/`MAX`/`COUNT(DISTINCT)` use the
//! multiset [`RetractMultiset`].

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::logical_expr::Accumulator;

use crate::error::{Result, RuntimeError};
use crate::ops::window::AggregateSpec;

/// Which [`GroupAcc`] an aggregate call gets; decided once per operator from the call, its
/// argument types and whether the input is updating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccKind {
    /// `COUNT(…)` / `COUNT(*)`: DataFusion's count (also its sliding one).
    Count,
    /// `SUM` of BIGINT; `sliding` over an updating input (state: sum and count, as
    /// DataFusion's sliding sum) or not (state: the sum, NULL before any value).
    Sum { sliding: bool },
    /// Flink's `AVG` of BIGINT (`stc-functions`): a wrapping sum and a count.
    Avg,
    /// `MIN`/`MAX` of BIGINT over an insert-only input.
    MinMax { max: bool },
    /// `MIN`/`MAX` of a string (Utf8) over an insert-only input.
    MinMaxStr { max: bool },
    /// `COUNT(DISTINCT x)` of BIGINT over an insert-only input: DataFusion's distinct count
    /// (state: the list of values).
    CountDistinct,
    /// Anything else: the call's own accumulator.
    Other,
}

impl AccKind {
    pub(crate) fn of(a: &AggregateSpec, updating: bool) -> AccKind {
        let name = a.expr.fun().name().to_ascii_lowercase();
        let ret = a.expr.field().data_type().clone();
        let arg = match a.arg_types.as_slice() {
            [t] => Some(t),
            _ => None,
        };
        let bigint = arg == Some(&DataType::Int64);
        if a.expr.is_distinct() {
            return if name == "count" && bigint && !updating {
                AccKind::CountDistinct
            } else {
                AccKind::Other
            };
        }
        match (name.as_str(), ret) {
            ("count", DataType::Int64) => AccKind::Count,
            ("sum", DataType::Int64) if bigint => AccKind::Sum { sliding: updating },
            ("avg", DataType::Int64) if bigint => AccKind::Avg,
            ("min" | "max", DataType::Int64) if bigint && !updating => {
                AccKind::MinMax { max: name == "max" }
            }
            ("min" | "max", DataType::Utf8) if arg == Some(&DataType::Utf8) && !updating => {
                AccKind::MinMaxStr { max: name == "max" }
            }
            _ => AccKind::Other,
        }
    }

    /// A fresh accumulator of this kind for call `a`.
    pub(crate) fn create(self, a: &AggregateSpec, updating: bool) -> Result<GroupAcc> {
        Ok(match self {
            AccKind::Count => GroupAcc::Count(0),
            AccKind::Sum { sliding } => GroupAcc::Sum {
                sum: 0,
                count: 0,
                sliding,
            },
            AccKind::Avg => GroupAcc::Avg { sum: 0, count: 0 },
            AccKind::MinMax { max } => GroupAcc::MinMax { value: None, max },
            AccKind::MinMaxStr { max } => GroupAcc::MinMaxStr { value: None, max },
            AccKind::CountDistinct => GroupAcc::CountDistinct(hashbrown::HashSet::new()),
            AccKind::Other => GroupAcc::Other(create_accumulator(a, updating)?),
        })
    }

    /// Whether [`GroupAcc::state`] leaves the accumulator as it was. Most do; some hand
    /// their contents out and reset (DataFusion's distinct counts of strings, the AVG of
    /// `stc-functions`), and must be rebuilt from the state they gave after a snapshot.
    /// Rebuilding costs an accumulator and a merge per group, the bulk of a snapshot's
    /// time, so only the accumulators known to keep their contents skip it.
    pub(crate) fn state_keeps(self, a: &AggregateSpec, updating: bool) -> bool {
        if self != AccKind::Other {
            return true;
        }
        let name = a.expr.fun().name().to_ascii_lowercase();
        if a.expr.is_distinct() {
            // Over updating input: our own multiset (cloned by `state`).
            return updating && name == "count";
        }
        // DataFusion's (sliding) count and sum and their min/max hold plain scalars; over
        // updating input min/max are our multisets.
        matches!(name.as_str(), "count" | "sum" | "min" | "max")
    }
}

/// The accumulator DataFusion (or `stc-functions`) gives call `a`; over an updating input
/// one that retracts, or an error naming the call when there is none.
pub(crate) fn create_accumulator(
    a: &AggregateSpec,
    updating: bool,
) -> Result<Box<dyn Accumulator>> {
    if !updating {
        return Ok(a.expr.create_accumulator()?);
    }
    let name = a.expr.fun().name().to_ascii_lowercase();
    let not_retractable = || {
        RuntimeError::Data(format!(
            "not supported yet: the aggregate {} over an updating input (rows that are updated or deleted, e.g. the result of another GROUP BY or an outer join)",
            a.expr.name()
        ))
    };
    if a.expr.is_distinct() {
        return match name.as_str() {
            "count" => Ok(Box::new(RetractMultiset::new(
                MultisetResult::CountDistinct,
            ))),
            _ => Err(not_retractable()),
        };
    }
    match name.as_str() {
        "min" => Ok(Box::new(RetractMultiset::new(MultisetResult::Min))),
        "max" => Ok(Box::new(RetractMultiset::new(MultisetResult::Max))),
        _ => {
            let acc = a
                .expr
                .create_sliding_accumulator()
                .map_err(|_| not_retractable())?;
            if acc.supports_retract_batch() {
                Ok(acc)
            } else {
                Err(not_retractable())
            }
        }
    }
}

/// One aggregate call's accumulator in a group; see the module docs.
#[derive(Debug)]
pub(crate) enum GroupAcc {
    Count(i64),
    /// `count`: the non-NULL values summed (only its being non-zero matters without
    /// `sliding`, whose state carries it).
    Sum {
        sum: i64,
        count: u64,
        sliding: bool,
    },
    Avg {
        sum: i64,
        count: i64,
    },
    MinMax {
        value: Option<i64>,
        max: bool,
    },
    MinMaxStr {
        value: Option<String>,
        max: bool,
    },
    CountDistinct(hashbrown::HashSet<i64>),
    Other(Box<dyn Accumulator>),
}

/// Row `i` of a BIGINT argument (`None` when NULL).
fn bigint_at(arg: &ArrayRef, i: usize) -> Result<Option<i64>> {
    let a = arg
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| mistyped(arg))?;
    Ok(a.is_valid(i).then(|| a.value(i)))
}

fn mistyped(arg: &ArrayRef) -> RuntimeError {
    RuntimeError::Internal(format!(
        "aggregate argument of type {} where BIGINT or STRING was planned",
        arg.data_type()
    ))
}

fn retraction_of_insert_only() -> RuntimeError {
    RuntimeError::Internal("a retraction reached an aggregate planned for insert-only input".into())
}

/// Whether `new` replaces `old` as the minimum (`max`: maximum).
fn better<T: PartialOrd + ?Sized>(new: &T, old: &T, max: bool) -> bool {
    if max { new > old } else { new < old }
}

impl GroupAcc {
    /// Adds (`add`) or retracts row `i` of `args` (the call's evaluated arguments).
    pub(crate) fn update_row(&mut self, args: &[ArrayRef], i: usize, add: bool) -> Result<()> {
        match self {
            GroupAcc::Count(n) => {
                if args.iter().all(|a| a.is_valid(i)) {
                    *n += if add { 1 } else { -1 };
                }
            }
            GroupAcc::Sum { sum, count, .. } => {
                if let Some(v) = bigint_at(&args[0], i)? {
                    if add {
                        *sum = sum.wrapping_add(v);
                        *count = count.wrapping_add(1);
                    } else {
                        *sum = sum.wrapping_sub(v);
                        *count = count.wrapping_sub(1);
                    }
                }
            }
            GroupAcc::Avg { sum, count } => {
                if let Some(v) = bigint_at(&args[0], i)? {
                    if add {
                        *sum = sum.wrapping_add(v);
                        *count += 1;
                    } else {
                        *sum = sum.wrapping_sub(v);
                        *count -= 1;
                    }
                }
            }
            GroupAcc::MinMax { value, max } => {
                if !add {
                    return Err(retraction_of_insert_only());
                }
                if let Some(v) = bigint_at(&args[0], i)?
                    && value.is_none_or(|old| better(&v, &old, *max))
                {
                    *value = Some(v);
                }
            }
            GroupAcc::MinMaxStr { value, max } => {
                if !add {
                    return Err(retraction_of_insert_only());
                }
                let a = args[0]
                    .as_string_opt::<i32>()
                    .ok_or_else(|| mistyped(&args[0]))?;
                if a.is_valid(i) {
                    let v = a.value(i);
                    match value {
                        Some(old) if !better(v, old.as_str(), *max) => {}
                        Some(old) => {
                            old.clear();
                            old.push_str(v);
                        }
                        None => *value = Some(v.to_owned()),
                    }
                }
            }
            GroupAcc::CountDistinct(set) => {
                if !add {
                    return Err(retraction_of_insert_only());
                }
                if let Some(v) = bigint_at(&args[0], i)? {
                    set.insert(v);
                }
            }
            GroupAcc::Other(acc) => {
                let one: Vec<ArrayRef> = args.iter().map(|v| v.slice(i, 1)).collect();
                if add {
                    acc.update_batch(&one)?;
                } else {
                    acc.retract_batch(&one)?;
                }
            }
        }
        Ok(())
    }

    /// Adds or retracts the given rows of `args`, in order (a mini-batch's run of one key).
    pub(crate) fn update_rows(&mut self, args: &[ArrayRef], rows: &[u32], add: bool) -> Result<()> {
        if let GroupAcc::Other(acc) = self {
            let picked = UInt32Array::from(rows.to_vec());
            let taken = args
                .iter()
                .map(|v| take(v.as_ref(), &picked, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            if add {
                acc.update_batch(&taken)?;
            } else {
                acc.retract_batch(&taken)?;
            }
            return Ok(());
        }
        for &r in rows {
            self.update_row(args, r as usize, add)?;
        }
        Ok(())
    }

    /// The aggregate's current result.
    pub(crate) fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(match self {
            GroupAcc::Count(n) => ScalarValue::Int64(Some(*n)),
            GroupAcc::Sum { sum, count, .. } => ScalarValue::Int64((*count != 0).then_some(*sum)),
            GroupAcc::Avg { sum, count } => {
                ScalarValue::Int64((*count > 0).then(|| sum.wrapping_div(*count)))
            }
            GroupAcc::MinMax { value, .. } => ScalarValue::Int64(*value),
            GroupAcc::MinMaxStr { value, .. } => ScalarValue::Utf8(value.clone()),
            GroupAcc::CountDistinct(set) => ScalarValue::Int64(Some(set.len() as i64)),
            GroupAcc::Other(acc) => acc.evaluate()?,
        })
    }

    /// The checkpoint state, laid out as the accumulator this one stands for lays it out.
    pub(crate) fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(match self {
            GroupAcc::Count(n) => vec![ScalarValue::Int64(Some(*n))],
            GroupAcc::Sum {
                sum,
                count,
                sliding: false,
            } => vec![ScalarValue::Int64((*count != 0).then_some(*sum))],
            GroupAcc::Sum { sum, count, .. } => vec![
                ScalarValue::Int64((*count != 0).then_some(*sum)),
                ScalarValue::UInt64(Some(*count)),
            ],
            GroupAcc::Avg { sum, count } => vec![
                ScalarValue::Int64(Some(*sum)),
                ScalarValue::Int64(Some(*count)),
            ],
            GroupAcc::MinMax { value, .. } => vec![ScalarValue::Int64(*value)],
            GroupAcc::MinMaxStr { value, .. } => vec![ScalarValue::Utf8(value.clone())],
            GroupAcc::CountDistinct(set) => {
                let values: Int64Array = set.iter().copied().collect();
                vec![SingleRowListArrayBuilder::new(Arc::new(values)).build_list_scalar()]
            }
            GroupAcc::Other(acc) => acc.state()?,
        })
    }

    /// Merges states (one row per group merged in), as [`Accumulator::merge_batch`].
    pub(crate) fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let column = |i: usize| -> Result<&Int64Array> {
            states
                .get(i)
                .and_then(|s| s.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| {
                    RuntimeError::Checkpoint(format!("aggregate state {i} is not BIGINT"))
                })
        };
        match self {
            GroupAcc::Count(n) => *n += column(0)?.iter().flatten().sum::<i64>(),
            GroupAcc::Sum {
                sum,
                count,
                sliding,
            } => {
                let sums = column(0)?;
                for s in sums.iter().flatten() {
                    *sum = sum.wrapping_add(s);
                    if !*sliding {
                        *count += 1;
                    }
                }
                if *sliding {
                    let counts = states
                        .get(1)
                        .and_then(|s| s.as_primitive_opt::<UInt64Type>())
                        .ok_or_else(|| {
                            RuntimeError::Checkpoint("SUM state count is not UBIGINT".into())
                        })?;
                    *count += counts.iter().flatten().sum::<u64>();
                }
            }
            GroupAcc::Avg { sum, count } => {
                for (s, c) in column(0)?.iter().zip(column(1)?) {
                    *sum = sum.wrapping_add(s.unwrap_or(0));
                    *count += c.unwrap_or(0);
                }
            }
            GroupAcc::MinMax { value, max } => {
                for v in column(0)?.iter().flatten() {
                    if value.is_none_or(|old| better(&v, &old, *max)) {
                        *value = Some(v);
                    }
                }
            }
            GroupAcc::MinMaxStr { value, max } => {
                let a = states
                    .first()
                    .and_then(|s| s.as_string_opt::<i32>())
                    .ok_or_else(|| {
                        RuntimeError::Checkpoint("MIN/MAX state is not STRING".into())
                    })?;
                for v in a.iter().flatten() {
                    if value.as_deref().is_none_or(|old| better(v, old, *max)) {
                        *value = Some(v.to_owned());
                    }
                }
            }
            GroupAcc::CountDistinct(set) => {
                let lists = states
                    .first()
                    .and_then(|s| s.as_list_opt::<i32>())
                    .ok_or_else(|| {
                        RuntimeError::Checkpoint("COUNT(DISTINCT) state is not a list".into())
                    })?;
                for values in lists.iter().flatten() {
                    let values = values.as_primitive_opt::<Int64Type>().ok_or_else(|| {
                        RuntimeError::Checkpoint(
                            "COUNT(DISTINCT) state values are not BIGINT".into(),
                        )
                    })?;
                    set.extend(values.iter().flatten());
                }
            }
            GroupAcc::Other(acc) => acc.merge_batch(states)?,
        }
        Ok(())
    }
}

/// What a [`RetractMultiset`] computes from its value → count map.
#[derive(Debug, Clone, Copy)]
enum MultisetResult {
    Min,
    Max,
    CountDistinct,
}

/// An accumulator over a multiset of non-NULL values that supports arbitrary retraction
/// (Flink's `MaxWithRetractAggFunction` keeps a value → count map the same way), because
/// DataFusion's sliding MIN/MAX only retract in arrival order.
#[derive(Debug)]
struct RetractMultiset {
    result: MultisetResult,
    counts: HashMap<ScalarValue, i64>,
    /// The data type of the values (for a NULL MIN/MAX of the right type).
    data_type: Option<DataType>,
}

impl RetractMultiset {
    fn new(result: MultisetResult) -> Self {
        RetractMultiset {
            result,
            counts: HashMap::new(),
            data_type: None,
        }
    }

    fn apply(&mut self, values: &[ArrayRef], delta: i64) -> datafusion::error::Result<()> {
        let arr = &values[0];
        self.data_type
            .get_or_insert_with(|| arr.data_type().clone());
        for i in 0..arr.len() {
            if arr.is_null(i) {
                continue;
            }
            let v = ScalarValue::try_from_array(arr, i)?;
            let c = self.counts.entry(v.clone()).or_insert(0);
            *c += delta;
            if *c <= 0 {
                self.counts.remove(&v);
            }
        }
        Ok(())
    }
}

impl Accumulator for RetractMultiset {
    fn update_batch(&mut self, values: &[ArrayRef]) -> datafusion::error::Result<()> {
        self.apply(values, 1)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> datafusion::error::Result<()> {
        self.apply(values, -1)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> datafusion::error::Result<ScalarValue> {
        let pick = |want: std::cmp::Ordering| {
            let mut best: Option<&ScalarValue> = None;
            for v in self.counts.keys() {
                if best.is_none_or(|b| v.partial_cmp(b) == Some(want)) {
                    best = Some(v);
                }
            }
            best.cloned()
        };
        Ok(match self.result {
            MultisetResult::CountDistinct => ScalarValue::Int64(Some(self.counts.len() as i64)),
            MultisetResult::Min | MultisetResult::Max => {
                let want = if matches!(self.result, MultisetResult::Min) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                };
                match pick(want) {
                    Some(v) => v,
                    None => match &self.data_type {
                        Some(t) => ScalarValue::try_from(t)?,
                        None => ScalarValue::Null,
                    },
                }
            }
        })
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.len() * 64
    }

    /// The multiset as two lists: the distinct values and their counts (used by checkpoints).
    fn state(&mut self) -> datafusion::error::Result<Vec<ScalarValue>> {
        let data_type = self.data_type.clone().unwrap_or(DataType::Null);
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) = self
            .counts
            .iter()
            .map(|(v, c)| (v.clone(), ScalarValue::Int64(Some(*c))))
            .unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &data_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::Int64)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> datafusion::error::Result<()> {
        let values = states[0].as_list::<i32>();
        let counts = states[1].as_list::<i32>();
        for row in 0..values.len() {
            let v = values.value(row);
            let c = counts.value(row);
            let c = c.as_any().downcast_ref::<Int64Array>().ok_or_else(|| {
                datafusion::error::DataFusionError::Internal("multiset counts".into())
            })?;
            if v.data_type() != &DataType::Null {
                self.data_type.get_or_insert_with(|| v.data_type().clone());
            }
            for i in 0..v.len() {
                *self
                    .counts
                    .entry(ScalarValue::try_from_array(&v, i)?)
                    .or_insert(0) += c.value(i);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::functions_aggregate::{count::count_udaf, min_max, sum::sum_udaf};
    use datafusion::logical_expr::AggregateUDF;
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn spec(udaf: Arc<AggregateUDF>, column: &str, distinct: bool) -> AggregateSpec {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let expr = AggregateExprBuilder::new(udaf, vec![col(column, &schema).unwrap()])
            .schema(Arc::new(schema.clone()))
            .alias("a")
            .with_distinct(distinct)
            .build()
            .unwrap();
        AggregateSpec::new(Arc::new(expr), None, &schema).unwrap()
    }

    /// Random values with NULLs and repeats (so distinct counts and MIN/MAX see ties).
    fn column(rng: &mut SmallRng, n: usize, strings: bool) -> ArrayRef {
        let pick = |rng: &mut SmallRng| rng.random_bool(0.85).then(|| rng.random_range(-50i64..50));
        if strings {
            Arc::new(
                (0..n)
                    .map(|_| pick(rng).map(|v| format!("{v:03}")))
                    .collect::<StringArray>(),
            )
        } else {
            Arc::new((0..n).map(|_| pick(rng)).collect::<Int64Array>())
        }
    }

    /// Each fast accumulator against the accumulator it stands for: the same result after
    /// every row added (and, over an updating input, retracted), the same state, and each
    /// one's state restoring into the other.
    #[test]
    fn fast_accumulators_agree_with_datafusion() {
        let cases = [
            (spec(count_udaf(), "i", false), false, AccKind::Count),
            (spec(count_udaf(), "i", false), true, AccKind::Count),
            (spec(count_udaf(), "s", false), true, AccKind::Count),
            (
                spec(sum_udaf(), "i", false),
                false,
                AccKind::Sum { sliding: false },
            ),
            (
                spec(sum_udaf(), "i", false),
                true,
                AccKind::Sum { sliding: true },
            ),
            (
                spec(min_max::min_udaf(), "i", false),
                false,
                AccKind::MinMax { max: false },
            ),
            (
                spec(min_max::max_udaf(), "i", false),
                false,
                AccKind::MinMax { max: true },
            ),
            (
                spec(min_max::min_udaf(), "s", false),
                false,
                AccKind::MinMaxStr { max: false },
            ),
            (
                spec(min_max::max_udaf(), "s", false),
                false,
                AccKind::MinMaxStr { max: true },
            ),
            (spec(count_udaf(), "i", true), false, AccKind::CountDistinct),
            // Over an updating input these retract through the multiset.
            (spec(min_max::max_udaf(), "i", false), true, AccKind::Other),
            (spec(count_udaf(), "i", true), true, AccKind::Other),
        ];
        let mut rng = SmallRng::seed_from_u64(7);
        for (a, updating, want) in &cases {
            let what = format!("{} updating={updating}", a.expr.name());
            let kind = AccKind::of(a, *updating);
            assert_eq!(kind, *want, "{what}");
            let strings = a.arg_types[0] == DataType::Utf8;
            for round in 0..20 {
                let n = rng.random_range(0..40);
                let values = vec![column(&mut rng, n, strings)];
                let mut fast = kind.create(a, *updating).unwrap();
                let mut slow = create_accumulator(a, *updating).unwrap();
                let mut added = Vec::new();
                for i in 0..n {
                    // Over an updating input, now and then retract a row added earlier.
                    let retract = *updating && !added.is_empty() && rng.random_bool(0.3);
                    let row = if retract {
                        added.swap_remove(rng.random_range(0..added.len()))
                    } else {
                        added.push(i);
                        i
                    };
                    fast.update_row(&values, row, !retract).unwrap();
                    let one = [values[0].slice(row, 1)];
                    if retract {
                        slow.retract_batch(&one).unwrap();
                    } else {
                        slow.update_batch(&one).unwrap();
                    }
                    assert_eq!(
                        fast.evaluate().unwrap(),
                        slow.evaluate().unwrap(),
                        "{what} round {round} row {i}"
                    );
                }
                // States restore into each other (a checkpoint of either kind restores).
                let to_arrays = |st: Vec<ScalarValue>| -> Vec<ArrayRef> {
                    st.iter().map(|v| v.to_array().unwrap()).collect()
                };
                let fast_state = to_arrays(fast.state().unwrap());
                let slow_state = to_arrays(slow.state().unwrap());
                let types =
                    |s: &[ArrayRef]| s.iter().map(|a| a.data_type().clone()).collect::<Vec<_>>();
                assert_eq!(types(&fast_state), types(&slow_state), "{what}");
                let mut from_fast = create_accumulator(a, *updating).unwrap();
                from_fast.merge_batch(&fast_state).unwrap();
                let mut from_slow = kind.create(a, *updating).unwrap();
                from_slow.merge_batch(&slow_state).unwrap();
                let result = fast.evaluate().unwrap();
                assert_eq!(
                    from_fast.evaluate().unwrap(),
                    result,
                    "{what} round {round}"
                );
                assert_eq!(
                    from_slow.evaluate().unwrap(),
                    result,
                    "{what} round {round}"
                );
                // A mini-batch run (never empty) applies the same rows as one call.
                if n == 0 {
                    continue;
                }
                let rows: Vec<u32> = (0..n as u32).collect();
                let mut batched = kind.create(a, *updating).unwrap();
                batched.update_rows(&values, &rows, true).unwrap();
                let mut one_by_one = kind.create(a, *updating).unwrap();
                for i in 0..n {
                    one_by_one.update_row(&values, i, true).unwrap();
                }
                assert_eq!(
                    batched.evaluate().unwrap(),
                    one_by_one.evaluate().unwrap(),
                    "{what}"
                );
            }
        }
    }

    /// MIN/MAX and COUNT(DISTINCT) of an insert-only input are planned without retraction:
    /// a retraction reaching them is an internal error, not a wrong result.
    #[test]
    fn insert_only_accumulators_refuse_retractions() {
        let values: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![1]))];
        for a in [
            spec(min_max::max_udaf(), "i", false),
            spec(count_udaf(), "i", true),
        ] {
            let mut acc = AccKind::of(&a, false).create(&a, false).unwrap();
            acc.update_row(&values, 0, true).unwrap();
            let err = acc.update_row(&values, 0, false).unwrap_err();
            assert!(err.to_string().contains("insert-only"), "{err}");
        }
    }
}
