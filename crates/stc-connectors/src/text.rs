//! Flink's textual renderings of values.
//!
//! * **Print form** ([`format_value_flink`], [`format_row_print`]): what the `print` connector
//!   writes. Flink converts the row to its external `Row` and prints `Row.toString()`:
//!   `+I[1, Alice, 2024-01-01T00:00:01, null]`. Values are Java `toString()`s: TIMESTAMP is
//!   `LocalDateTime.toString()` (`2024-01-01T00:00`, seconds only when non-zero, fraction in
//!   3/6/9 digits), TIMESTAMP_LTZ is `Instant.toString()` (UTC, `...Z`), TIME is
//!   `LocalTime.toString()`, DECIMAL keeps its scale, DOUBLE is `Double.toString`, BYTES is
//!   `Arrays.toString(byte[])` (`[1, -2]`), arrays `[a, b]`, maps `{k=v}` (Java's `HashMap` order
//!   is not reproduced: we keep the map's own order), nested rows `+I[...]`, NULL `null`.
//! * **SQL-client form** ([`format_value_sql`], [`tableau`]): the SQL client's tableau view
//!   renders cells with the CAST-to-STRING rules: `TRUE`/`FALSE`, TIMESTAMP(p) with exactly p
//!   fraction digits (p taken from the Arrow unit: s→0, ms→3, µs→6, ns→9), TIMESTAMP_LTZ in the
//!   session zone, DECIMAL with its scale, BYTES as `x'0102'`, arrays `[1, NULL]`, maps
//!   `{k=1}`, rows `(1, x)`; a NULL cell is `<NULL>`. Values are right-aligned, columns are at
//!   most 30 characters wide (Flink's default `sql-client.display.max-column-width`), wider
//!   values end in `...`, and East-Asian wide characters count twice.
//! * **JSON** ([`value_to_json`], [`value_to_json_string`]): Flink's json format's text of a value
//!   (for `stc run --output json`).

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, Schema, TimeUnit, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use stc_common::RowKind;

use crate::format::javafmt as jf;
use crate::format::json::{binary_value, list_value, time_nanos, timestamp_value};

/// The print connector's text of one value (Java `toString()` of Flink's external type).
/// `zone` is accepted for symmetry; the print form of TIMESTAMP_LTZ is an `Instant` (UTC).
pub fn format_value_flink(array: &ArrayRef, row: usize, zone: &str) -> String {
    let _ = zone;
    let mut s = String::new();
    push_print(&mut s, array.as_ref(), row);
    s
}

/// The print connector's whole line for a row: `+I[1, Alice, null]`.
pub fn format_row_print(batch: &RecordBatch, row: usize, kind: RowKind) -> String {
    let mut s = String::with_capacity(64);
    s.push_str(kind.short_string());
    s.push('[');
    for (i, c) in batch.columns().iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        push_print(&mut s, c.as_ref(), row);
    }
    s.push(']');
    s
}

fn push_num(s: &mut String, a: &dyn Array, i: usize) -> bool {
    use std::fmt::Write as _;
    let _ = match a.data_type() {
        DataType::Int8 => write!(s, "{}", a.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => write!(s, "{}", a.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => write!(s, "{}", a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => write!(s, "{}", a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => write!(s, "{}", a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => write!(s, "{}", a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => write!(s, "{}", a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => write!(s, "{}", a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => write!(
            s,
            "{}",
            jf::java_float_to_string(a.as_primitive::<Float32Type>().value(i))
        ),
        DataType::Float64 => write!(
            s,
            "{}",
            jf::java_double_to_string(a.as_primitive::<Float64Type>().value(i))
        ),
        DataType::Decimal128(_, sc) => {
            write!(
                s,
                "{}",
                jf::java_big_decimal_to_plain_string(
                    a.as_primitive::<Decimal128Type>().value(i),
                    *sc as i32
                )
            )
        }
        DataType::Utf8 => write!(s, "{}", a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => write!(s, "{}", a.as_string::<i64>().value(i)),
        DataType::Utf8View => write!(s, "{}", a.as_string_view().value(i)),
        DataType::Date32 => {
            jf::push_date(s, a.as_primitive::<Date32Type>().value(i) as i64);
            Ok(())
        }
        DataType::Date64 => {
            jf::push_date(
                s,
                a.as_primitive::<Date64Type>()
                    .value(i)
                    .div_euclid(86_400_000),
            );
            Ok(())
        }
        _ => return false,
    };
    true
}

fn push_print(s: &mut String, a: &dyn Array, i: usize) {
    if a.is_null(i) {
        s.push_str("null");
        return;
    }
    if push_num(s, a, i) {
        return;
    }
    match a.data_type() {
        DataType::Boolean => s.push_str(if a.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            s.push('[');
            for (k, b) in binary_value(a, i).iter().enumerate() {
                if k > 0 {
                    s.push_str(", ");
                }
                s.push_str(&(*b as i8).to_string());
            }
            s.push(']');
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            jf::push_time_java_to_string(s, time_nanos(a, i))
        }
        DataType::Timestamp(unit, tz) => {
            let (d, n) = jf::split_timestamp(timestamp_value(a, i, *unit), *unit);
            if tz.is_some() {
                jf::push_instant_to_string(s, d, n);
            } else {
                jf::push_local_date_time_to_string(s, d, n);
            }
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let items = list_value(a, i);
            s.push('[');
            for j in 0..items.len() {
                if j > 0 {
                    s.push_str(", ");
                }
                push_print(s, items.as_ref(), j);
            }
            s.push(']');
        }
        DataType::Map(..) => {
            let e = a.as_map().value(i);
            s.push('{');
            for j in 0..e.len() {
                if j > 0 {
                    s.push_str(", ");
                }
                push_print(s, e.column(0).as_ref(), j);
                s.push('=');
                push_print(s, e.column(1).as_ref(), j);
            }
            s.push('}');
        }
        DataType::Struct(_) => {
            let st = a.as_struct();
            s.push_str("+I[");
            for (k, c) in st.columns().iter().enumerate() {
                if k > 0 {
                    s.push_str(", ");
                }
                push_print(s, c.as_ref(), i);
            }
            s.push(']');
        }
        DataType::Null => s.push_str("null"),
        other => s.push_str(&format!("<{other}>")),
    }
}

/// The SQL client's text of one cell (Flink's CAST(x AS STRING) rules), `<NULL>` for NULL.
pub fn format_value_sql(array: &ArrayRef, row: usize, zone: &str) -> String {
    if array.is_null(row) {
        return "<NULL>".into();
    }
    let tz = zone.parse::<arrow::array::timezone::Tz>().ok();
    let mut s = String::new();
    push_sql(&mut s, array.as_ref(), row, tz.as_ref());
    s
}

fn push_sql(s: &mut String, a: &dyn Array, i: usize, tz: Option<&arrow::array::timezone::Tz>) {
    if a.is_null(i) {
        s.push_str("NULL");
        return;
    }
    if push_num(s, a, i) {
        return;
    }
    match a.data_type() {
        DataType::Boolean => s.push_str(if a.as_boolean().value(i) {
            "TRUE"
        } else {
            "FALSE"
        }),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            s.push_str("x'");
            for b in binary_value(a, i) {
                s.push_str(&format!("{b:02x}"));
            }
            s.push('\'');
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let n = time_nanos(a, i);
            let mut t = String::new();
            jf::push_time_stripped(&mut t, n / 1_000_000_000 * 1_000_000_000);
            s.push_str(&t);
            if n % 1_000_000_000 != 0 {
                jf::push_fraction_fixed(s, n % 1_000_000_000, 3);
            }
        }
        DataType::Timestamp(unit, zone) => {
            let mut v = timestamp_value(a, i, *unit);
            if let (Some(_), Some(tz)) = (zone, tz) {
                v = shift_to_zone(v, *unit, tz);
            }
            let (d, n) = jf::split_timestamp(v, *unit);
            jf::push_date(s, d);
            s.push(' ');
            let mut t = String::new();
            jf::push_time_stripped(&mut t, n / 1_000_000_000 * 1_000_000_000);
            s.push_str(&t);
            let digits = match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                TimeUnit::Nanosecond => 9,
            };
            jf::push_fraction_fixed(s, n % 1_000_000_000, digits);
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let items = list_value(a, i);
            s.push('[');
            for j in 0..items.len() {
                if j > 0 {
                    s.push_str(", ");
                }
                push_sql(s, items.as_ref(), j, tz);
            }
            s.push(']');
        }
        DataType::Map(..) => {
            let e = a.as_map().value(i);
            s.push('{');
            for j in 0..e.len() {
                if j > 0 {
                    s.push_str(", ");
                }
                push_sql(s, e.column(0).as_ref(), j, tz);
                s.push('=');
                push_sql(s, e.column(1).as_ref(), j, tz);
            }
            s.push('}');
        }
        DataType::Struct(_) => {
            let st = a.as_struct();
            s.push('(');
            for (k, c) in st.columns().iter().enumerate() {
                if k > 0 {
                    s.push_str(", ");
                }
                push_sql(s, c.as_ref(), i, tz);
            }
            s.push(')');
        }
        DataType::Null => s.push_str("NULL"),
        other => s.push_str(&format!("<{other}>")),
    }
}

/// Move an instant (epoch value in `unit`) to the wall-clock value of `tz`.
fn shift_to_zone(v: i64, unit: TimeUnit, tz: &arrow::array::timezone::Tz) -> i64 {
    use chrono::{Offset, TimeZone};
    let (d, n) = jf::split_timestamp(v, unit);
    let secs = d * 86_400 + n / 1_000_000_000;
    let Some(utc) = chrono::DateTime::from_timestamp(secs, 0) else {
        return v;
    };
    let offset = tz
        .offset_from_utc_datetime(&utc.naive_utc())
        .fix()
        .local_minus_utc() as i64;
    v + match unit {
        TimeUnit::Second => offset,
        TimeUnit::Millisecond => offset * 1000,
        TimeUnit::Microsecond => offset * 1_000_000,
        TimeUnit::Nanosecond => offset * 1_000_000_000,
    }
}

const MAX_COLUMN_WIDTH: usize = 30;
const TRUNCATED: &str = "...";

/// Flink's `TableauStyle.isFullWidth` (East Asian Wide / Fullwidth code points).
fn is_full_width(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x231A..=0x231B | 0x2329..=0x232A | 0x23E9..=0x23EC | 0x23F0 | 0x23F3
        | 0x25FD..=0x25FE | 0x2614..=0x2615 | 0x2648..=0x2653 | 0x267F | 0x2693 | 0x26A1
        | 0x26AA..=0x26AB | 0x26BD..=0x26BE | 0x26C4..=0x26C5 | 0x26CE | 0x26D4 | 0x26EA
        | 0x26F2..=0x26F3 | 0x26F5 | 0x26FA | 0x26FD | 0x2705 | 0x270A..=0x270B | 0x2728 | 0x274C
        | 0x274E | 0x2753..=0x2755 | 0x2757 | 0x2795..=0x2797 | 0x27B0 | 0x27BF | 0x2B1B..=0x2B1C
        | 0x2B50 | 0x2B55 | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xA960..=0xA97F | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE10..=0xFE19
        | 0xFE30..=0xFE6F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x16FE0..=0x18AFF | 0x1B000..=0x1B2FF
        | 0x1F004 | 0x1F0CF | 0x1F18E | 0x1F191..=0x1F19A | 0x1F200..=0x1F251 | 0x1F300..=0x1F320
        | 0x1F32D..=0x1F335 | 0x1F337..=0x1F37C | 0x1F37E..=0x1F393 | 0x1F3A0..=0x1F3CA
        | 0x1F3CF..=0x1F3D3 | 0x1F3E0..=0x1F3F0 | 0x1F3F4 | 0x1F3F8..=0x1F43E | 0x1F440
        | 0x1F442..=0x1F4FC | 0x1F4FF..=0x1F53D | 0x1F54B..=0x1F54E | 0x1F550..=0x1F567 | 0x1F57A
        | 0x1F595..=0x1F596 | 0x1F5A4 | 0x1F5FB..=0x1F64F | 0x1F680..=0x1F6C5 | 0x1F6CC
        | 0x1F6D0..=0x1F6D2 | 0x1F6EB..=0x1F6EC | 0x1F6F4..=0x1F6F9 | 0x1F910..=0x1F93E
        | 0x1F940..=0x1F970 | 0x1F973..=0x1F976 | 0x1F97A | 0x1F97C..=0x1F9A2 | 0x1F9B0..=0x1F9B9
        | 0x1F9C0..=0x1F9C2 | 0x1F9D0..=0x1F9FF | 0x20000..=0x2FFFD | 0x30000..=0x3FFFD)
}

/// Java `String.length()` (UTF-16 units) plus one per full-width code point.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| c.len_utf16() + usize::from(is_full_width(c)))
        .sum()
}

fn truncate_to(s: &str, target: usize) -> String {
    let mut passed = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        passed += if is_full_width(c) { 2 } else { 1 };
        if passed > target {
            break;
        }
        end = i + c.len_utf8();
    }
    let sub = &s[..end];
    let lacked = target.saturating_sub(display_width(sub));
    format!("{}{}", " ".repeat(lacked), sub)
}

/// The SQL client's tableau rendering of a result with the `op` column. Cells are already
/// rendered (normally with [`format_value_sql`]).
pub fn tableau(schema: &Schema, rows: &[(RowKind, Vec<String>)]) -> String {
    if rows.is_empty() {
        return "Empty set\n".into();
    }
    let mut names = vec!["op".to_string()];
    names.extend(schema.fields().iter().map(|f| f.name().clone()));
    let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(k, cells)| {
            let mut r = vec![k.short_string().to_string()];
            r.extend(cells.iter().cloned());
            r
        })
        .collect();
    for r in &table {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(display_width(c));
            }
        }
    }
    for w in &mut widths {
        *w = (*w).min(MAX_COLUMN_WIDTH);
    }
    let mut out = String::new();
    let border = |out: &mut String| {
        out.push('+');
        for w in &widths {
            out.push_str(&"-".repeat(w + 2));
            out.push('+');
        }
        out.push('\n');
    };
    let line = |out: &mut String, cells: &[String]| {
        out.push('|');
        for (i, c) in cells.iter().enumerate().take(widths.len()) {
            out.push(' ');
            let dw = display_width(c);
            if dw <= widths[i] {
                out.push_str(&" ".repeat(widths[i] - dw));
                out.push_str(c);
            } else {
                out.push_str(&truncate_to(c, widths[i].saturating_sub(TRUNCATED.len())));
                out.push_str(TRUNCATED);
            }
            out.push_str(" |");
        }
        out.push('\n');
    };
    border(&mut out);
    line(&mut out, &names);
    border(&mut out);
    for r in &table {
        line(&mut out, r);
    }
    border(&mut out);
    let n = rows.len();
    out.push_str(&format!(
        "{n} {} in set\n",
        if n > 1 { "rows" } else { "row" }
    ));
    out
}

/// Flink's json-format text of one value (e.g. `"2024-01-01 00:00:00"`, `1.0E7`, `{"a":1}`).
pub fn value_to_json_string(array: &ArrayRef, row: usize, zone: &str) -> String {
    let _ = zone;
    crate::format::json::json_value_string(array.as_ref(), row)
        .unwrap_or_else(|e| format!("\"<{e}>\""))
}

/// [`value_to_json_string`] as a `serde_json::Value`. Note that serde_json re-prints numbers its
/// own way (`1.0E7` becomes `10000000.0`); use the string form for Flink-exact text.
pub fn value_to_json(array: &ArrayRef, row: usize, zone: &str) -> serde_json::Value {
    let text = value_to_json_string(array, row, zone);
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

#[cfg(test)]
mod tests;
