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
