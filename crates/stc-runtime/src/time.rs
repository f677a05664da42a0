//! Event-time helpers: window arithmetic that must match Flink's exactly.

/// The wall clock as epoch milliseconds: processing time, the same clock `PROCTIME()` reads.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Start of the window of size `size` (and `offset`) that contains `ts`.
///
/// Same as Flink's `TimeWindow.getWindowStartWithOffset`, including for negative
/// timestamps (the remainder is normalised so a window never starts after `ts`).
pub fn window_start(ts: i64, offset: i64, size: i64) -> i64 {
    let rem = (ts - offset).rem_euclid(size);
    ts - rem
}

/// Event times as epoch milliseconds. `what` names the expression for the error a non-time
/// type gets. The time zone of a TIMESTAMP_LTZ is kept: only the unit changes.
pub fn to_millis(
    values: &datafusion::arrow::array::ArrayRef,
    what: &str,
) -> crate::Result<datafusion::arrow::array::TimestampMillisecondArray> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
    let ms = match values.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) => values.clone(),
        DataType::Timestamp(_, tz) => cast(
            values,
            &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()),
        )?,
        DataType::Date32 | DataType::Date64 => {
            cast(values, &DataType::Timestamp(TimeUnit::Millisecond, None))?
        }
        other => {
            return Err(crate::RuntimeError::Data(format!(
                "{what} must be of type TIMESTAMP(3) or TIMESTAMP_LTZ(3), found {other}"
            )));
        }
    };
    Ok(ms.as_primitive::<TimestampMillisecondType>().clone())
}

/// Formats epoch milliseconds for messages (`1970-01-01 00:00:00.000`).
pub fn format_millis(ms: i64) -> String {
    if ms == i64::MAX {
        return "+∞".to_string();
    }
    if ms == i64::MIN {
        return "-∞".to_string();
    }
    match chrono_like(ms) {
        Some(s) => s,
        None => format!("{ms} ms"),
    }
}

fn chrono_like(ms: i64) -> Option<String> {
    use datafusion::arrow::temporal_conversions::timestamp_ms_to_datetime;
    let dt = timestamp_ms_to_datetime(ms)?;
    Some(dt.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_start_matches_flink() {
        // check(ts, offset, size) -> start, values from Flink's TimeWindowTest.
        let cases = [
            (0, 0, 5000, 0),
            (4999, 0, 5000, 0),
            (5000, 0, 5000, 5000),
            (-1, 0, 5000, -5000),
            (-5000, 0, 5000, -5000),
            (7, 2, 5, 7),
            (6, 2, 5, 2),
            (1, 2, 5, -3),
        ];
        for (ts, offset, size, start) in cases {
            assert_eq!(
                window_start(ts, offset, size),
                start,
                "ts={ts} offset={offset} size={size}"
            );
        }
    }
}

/// A watermark expression of the shape nearly every job declares, `ts` or
/// `ts - INTERVAL 'n' unit` on a TIMESTAMP(3)/TIMESTAMP_LTZ(3) column, recognised so the
/// source computes it as one integer subtraction instead of evaluating an interval
/// subtraction per row (DataFusion's timestamp-minus-interval goes through calendar
/// arithmetic for every value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnMinusConstant {
    pub column: usize,
    pub millis: i64,
}

impl ColumnMinusConstant {
    /// The shape of `expr` over rows of `schema`, if it is one of the recognised ones. Only
    /// intervals of whole milliseconds without months or days qualify: a day in a time zone
    /// is not always 24 hours, and a sub-millisecond part would round differently.
    pub fn of(
        expr: &std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        schema: &datafusion::arrow::datatypes::Schema,
    ) -> Option<Self> {
        use datafusion::arrow::datatypes::{DataType, TimeUnit};
        use datafusion::logical_expr::Operator;
        use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
        use datafusion::scalar::ScalarValue;

        let column = |e: &dyn datafusion::physical_expr::PhysicalExpr| {
            let c = e.downcast_ref::<Column>()?;
            let field = schema.fields().get(c.index())?;
            matches!(
                field.data_type(),
                DataType::Timestamp(TimeUnit::Millisecond, _)
            )
            .then_some(c.index())
        };
        if let Some(c) = column(expr.as_ref()) {
            return Some(ColumnMinusConstant {
                column: c,
                millis: 0,
            });
        }
        let b = expr.downcast_ref::<BinaryExpr>()?;
        if *b.op() != Operator::Minus {
            return None;
        }
        let c = column(b.left().as_ref())?;
        let lit = b.right().downcast_ref::<Literal>()?;
        let millis = match lit.value() {
            ScalarValue::IntervalDayTime(Some(v)) if v.days == 0 => i64::from(v.milliseconds),
            ScalarValue::IntervalMonthDayNano(Some(v))
                if v.months == 0 && v.days == 0 && v.nanoseconds % 1_000_000 == 0 =>
            {
                v.nanoseconds / 1_000_000
            }
            _ => return None,
        };
        Some(ColumnMinusConstant { column: c, millis })
    }

    /// The expression's values for `batch` (rows of the schema given to [`Self::of`]).
    pub fn evaluate(
        &self,
        batch: &datafusion::arrow::array::RecordBatch,
    ) -> crate::Result<datafusion::arrow::array::TimestampMillisecondArray> {
        let ts = to_millis(batch.column(self.column), "the watermark expression")?;
        if self.millis == 0 {
            return Ok(ts);
        }
        let millis = self.millis;
        Ok(
            ts.unary::<_, datafusion::arrow::datatypes::TimestampMillisecondType>(|v| {
                v.saturating_sub(millis)
            }),
        )
    }
}

#[cfg(test)]
mod watermark_shape_tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{RecordBatch, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{
        DataType, Field, IntervalDayTime, IntervalMonthDayNano, Schema, TimeUnit,
    };
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    use super::{ColumnMinusConstant, to_millis};

    fn minus(unit: TimeUnit, interval: ScalarValue) -> (Arc<dyn PhysicalExpr>, Arc<Schema>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(unit, None), true),
        ]));
        let e: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("ts", 1)),
            Operator::Minus,
            Arc::new(Literal::new(interval)),
        ));
        (e, schema)
    }

    fn mdn(months: i32, days: i32, nanos: i64) -> ScalarValue {
        ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(months, days, nanos)))
    }

    #[test]
    fn recognised_shapes_compute_what_datafusion_computes() {
        let ts = TimestampMillisecondArray::from(vec![
            Some(1_704_067_200_123),
            None,
            Some(-1),
            Some(0),
            Some(-86_400_001),
        ]);
        for (interval, millis) in [
            (mdn(0, 0, 1_000_000_000), 1000),
            (mdn(0, 0, 5_000_000), 5),
            (mdn(0, 0, -2_000_000), -2),
            (
                ScalarValue::IntervalDayTime(Some(IntervalDayTime::new(0, 1500))),
                1500,
            ),
        ] {
            let (e, schema) = minus(TimeUnit::Millisecond, interval);
            let shape = ColumnMinusConstant::of(&e, &schema).expect("recognised");
            assert_eq!(shape.millis, millis);
            let batch = RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(datafusion::arrow::array::StringArray::from(vec![
                        "a", "b", "c", "d", "e",
                    ])),
                    Arc::new(ts.clone()),
                ],
            )
            .unwrap();
            let fast = shape.evaluate(&batch).unwrap();
            let slow =
                to_millis(&e.evaluate(&batch).unwrap().into_array(5).unwrap(), "wm").unwrap();
            // Equal as values (what is under a NULL slot does not matter).
            assert_eq!(
                fast.iter().collect::<Vec<_>>(),
                slow.iter().collect::<Vec<_>>()
            );
        }
        // A bare column is its own watermark.
        let (_, schema) = minus(TimeUnit::Millisecond, mdn(0, 0, 0));
        let col: Arc<dyn PhysicalExpr> = Arc::new(Column::new("ts", 1));
        assert_eq!(
            ColumnMinusConstant::of(&col, &schema),
            Some(ColumnMinusConstant {
                column: 1,
                millis: 0
            })
        );
    }

    #[test]
    fn other_shapes_are_left_to_datafusion() {
        for (unit, interval) in [
            // Months and days are calendar arithmetic; a sub-millisecond part rounds.
            (TimeUnit::Millisecond, mdn(1, 0, 0)),
            (TimeUnit::Millisecond, mdn(0, 1, 0)),
            (TimeUnit::Millisecond, mdn(0, 0, 1_500)),
            (
                TimeUnit::Millisecond,
                ScalarValue::IntervalDayTime(Some(IntervalDayTime::new(1, 0))),
            ),
            // Not milliseconds: the cast to milliseconds after the subtraction would round.
            (TimeUnit::Microsecond, mdn(0, 0, 1_000_000)),
        ] {
            let (e, schema) = minus(unit, interval.clone());
            assert_eq!(
                ColumnMinusConstant::of(&e, &schema),
                None,
                "{unit:?} {interval:?}"
            );
        }
    }
}
