//! Flink's built-in scalar functions as DataFusion [`ScalarUDF`]s (and the aggregates whose
//! semantics differ from DataFusion's as [`AggregateUDF`](datafusion::logical_expr::AggregateUDF)s), with Flink's semantics.
//!
//! # Use
//!
//! ```
//! # fn main() -> datafusion::error::Result<()> {
//! let ctx = datafusion::prelude::SessionContext::new();
//! stc_functions::register_flink_functions(&ctx)?;
//! // or, on a SessionState being built: stc_functions::register_flink_functions_in(&mut state)?
//! # Ok(())
//! # }
//! ```
//!
//! Registration replaces DataFusion's function of the same name (and only that name: DataFusion's
//! `to_char` stays when our `date_format` replaces its alias). It also adds one analyzer
//! [`FunctionRewrite`](datafusion::logical_expr::expr_rewriter::FunctionRewrite), because
//! DataFusion plans the `SUBSTRING(x FROM a FOR b)` syntax with its own `substr` without a
//! registry look-up; the rewrite swaps in ours. Plans must therefore go through DataFusion's
//! analyzer (any `SessionState::create_physical_plan`/`optimize` does).
//!
//! The session time zone (Flink's `table.local-time-zone`) is
//! `datafusion.execution.time_zone`, read at every invocation from the config options
//! DataFusion passes in; unset means UTC. Types: TIMESTAMP(p) is an Arrow timestamp without
//! zone (a wall clock), TIMESTAMP_LTZ(p) one with a zone (an instant), DATE is `Date32`, STRING
//! any of `Utf8`/`LargeUtf8`/`Utf8View` (results are `Utf8`).
//!
//! Every function returns NULL when an argument is NULL unless the table says otherwise.
//!
//! # Functions
//!
//! "ours" = implemented here (replacing DataFusion's function of that name if it has one);
//! "DataFusion" = DataFusion's own, checked to agree with Flink on the cases below.
//!
//! | Function | Impl | Notes and deliberate differences from Flink |
//! |---|---|---|
//! | `DATE_FORMAT(ts, fmt)` | ours (DF's is a `to_char` alias with chrono patterns) | Java `DateTimeFormatter` patterns; TIMESTAMP_LTZ shown in the session zone; DATE accepted as midnight. A string first argument is parsed as `yyyy-MM-dd HH:mm:ss` (trailing text ignored) and formatted with `SimpleDateFormat` rules. Zone letters (`z`, `X`, …) are a planning error for timestamps (Flink fails at run time). |
//! | `TO_TIMESTAMP(s[, fmt])` | ours (DF's uses chrono patterns) | TIMESTAMP(3); invalid → NULL. |
//! | `TO_DATE(s[, fmt])` | ours (DF's uses chrono patterns) | invalid → NULL (Flink: garbage date when a pattern is given and does not match). |
//! | `TO_TIMESTAMP_LTZ(n[, 0\|3])`, `TO_TIMESTAMP_LTZ(s[, fmt[, zone]])` | ours | precision other than 0/3 is an error, as in Flink; DECIMAL goes through DOUBLE. |
//! | `UNIX_TIMESTAMP([s[, fmt]])` | ours | unparseable → `-9223372036854775808` (Flink's documented `Long.MIN_VALUE`). Volatile. |
//! | `FROM_UNIXTIME(sec[, fmt])` | ours (DF's returns a TIMESTAMP) | STRING in the session zone. |
//! | `TIMESTAMPADD('UNIT', n, ts)` | ours | unit as a string literal (the parser rewrites the keyword). Units MICROSECOND…YEAR and `SQL_TSI_*`. TIMESTAMP_LTZ adds months in UTC. |
//! | `TIMESTAMPDIFF('UNIT', a, b)` | ours | INT; truncates toward zero; months via Flink's `subtractMonths`. MICROSECOND uses the sub-millisecond digits (Flink: milliseconds × 1000). |
//! | `YEAR QUARTER MONTH WEEK DAYOFYEAR DAYOFMONTH DAYOFWEEK HOUR MINUTE SECOND(x)` | ours | BIGINT; WEEK is ISO; DAYOFWEEK Sunday = 1; TIMESTAMP_LTZ in the session zone. |
//! | `flink_floor_time(ts, 'UNIT')`, `flink_ceil_time(ts, 'UNIT')` | ours | `FLOOR/CEIL(ts TO unit)`, SECOND…YEAR; keeps Calcite's CEIL-to-MONTH/QUARTER/YEAR/WEEK ignoring the time of day. |
//! | `PROCTIME()` | ours | TIMESTAMP_LTZ(3), volatile, evaluated per batch. |
//! | `NOW()`, `CURRENT_TIMESTAMP` … | DataFusion | unchanged. |
//! | `IF(c, a, b)` | ours | rewritten to `CASE` by the optimizer (lazy branches). |
//! | `IFNULL(a, b)`, `NULLIF(a, b)` | DataFusion | same semantics (`ifnull` is DF's `nvl` alias). |
//! | `REGEXP_EXTRACT(s, re[, i])` | ours | default group 0 (whole match) as Flink's source; Rust regex syntax: look-around/back-references are invalid → NULL. |
//! | `REGEXP(s, re)` | ours | BOOLEAN: whether `re` matches part of `s` (`Matcher.find`); empty or invalid `re` → FALSE. |
//! | `REGEXP_REPLACE(s, re, r)` | ours (DF's replaces the first match only) | all matches; replacement is literal (`$1` is text) as Flink quotes it. |
//! | `SPLIT_INDEX(s, sep, i)` | ours | 0-based; NULL if out of range. |
//! | `CONCAT(...)` | ours (DF's skips NULLs) | NULL if any argument is NULL. |
//! | `CONCAT_WS(sep, ...)` | DataFusion | skips NULL arguments, NULL separator → NULL, as Flink. |
//! | `INITCAP(s)` | ours (DF's treats Unicode letters as word characters) | Calcite's ASCII-only words: `'café crème'` → `'Café CrèMe'`. |
//! | `LPAD/RPAD(s, n, pad)` | ours | result cut to `n` characters; NULL for `n < 0` or empty `pad` (DF differs on both). |
//! | `SUBSTR(s, pos[, len])`, `SUBSTRING(...)` | ours | `pos` 0 = 1, negative counts from the end, `len < 0` → NULL. |
//! | `POSITION(a IN b)` | DataFusion (`strpos`) | same semantics. |
//! | `LOCATE(a, b[, from])` | ours | INT, 0 if absent. |
//! | `REPLACE(s, a, b)` | ours (DF's gives `''` for `REPLACE('', '', b)`) | Java's `String.replace`: an empty `a` inserts `b` around every character (`'#a#b#'`). |
//! | `CHAR_LENGTH`, `REVERSE`, `REPEAT`, `UPPER`, `LOWER`, `TRIM` | DataFusion | same semantics (REPEAT of n ≤ 0 is `''`). Lengths count Unicode characters where Java counts UTF-16 units. |
//! | `TO_BASE64(s)`, `FROM_BASE64(s)` | ours | invalid Base64 fails the query, as it fails the Flink job. |
//! | `HASH_CODE(s)` | ours | `Math.abs(String.hashCode())`. |
//! | `MD5(s)` | ours (the workspace builds DataFusion without `crypto_expressions`) | lower-case hex. |
//! | `MOD(a, b)` | ours | Java `%` semantics and integer result; integer division by zero is an error. |
//! | `POWER/POW(a, b)` | ours (DF's `power(int, int)` is an integer) | DOUBLE. |
//! | `LOG(x)`, `LOG(b, x)` | ours (DF's one-argument `log` is base 10) | natural log; `ln x / ln b`. |
//! | `LOG2(x)` | ours | `ln x / ln 2`, bit-identical to Flink. |
//! | `SIGN(x)` | ours (DF's `signum` returns DOUBLE for integers and 1.0 for 0.0) | the argument's type; `Math.signum` for floats (±0.0 and NaN unchanged). |
//! | `LN`, `LOG10`, `EXP`, `SQRT`, `ABS` … | DataFusion | same semantics. |
//! | `JSON_VALUE(json, path [RETURNING t] [… ON EMPTY] [… ON ERROR])` | ours | STRING (RETURNING is a CAST of it, added by the SQL parser); `$.a.b`, `$.a[0]`, `$['a']`; a path without `lax` is strict; `NULL`/`ERROR`/`DEFAULT x` behaviours as Flink (see the `json` module). |
//! | `flink_ltz_to_timestamp(x)`, `flink_timestamp_to_ltz(x)` | ours | `CAST` between TIMESTAMP_LTZ and TIMESTAMP through the session zone (the planner substitutes them for the casts). |
//! | `flink_string_to(s, 'INT'\|'DATE'\|'TIMESTAMP'…, strict)` | ours | `CAST`/`TRY_CAST` of STRING to integers (trimmed, fraction dropped), DATE (a bare year is January 1st) and TIMESTAMP (day of month clamped: `2024-02-30` → `2024-02-29`) with Flink's parsers. |
//! | `flink_float_to_int(x, 'INT')` | ours | `CAST` of FLOAT/DOUBLE to an integer type as Java's `(int)`: truncating, saturating, NaN → 0 (Arrow's cast fails out of range). |
//!
//! Aggregates:
//!
//! | Function | Impl | Notes |
//! |---|---|---|
//! | `AVG(x)` | ours (DF's returns DOUBLE for integers) | the argument's type: INT → INT (`long` sum / count, truncated), FLOAT → FLOAT, DECIMAL(p, s) → DECIMAL(38, max(6, s)) rounded half-up; `AVG(DISTINCT x)`. |
//! | `LISTAGG(x[, sep])` | DataFusion's `string_agg` (the SQL rewriter renames it) | separator `,` by default; NULLs skipped; arrival order. |
//!
//! Not provided: `RAND` (not needed).

mod aggregate;
mod cast;
mod control;
mod datetime;
mod error;
mod json;
mod math;
mod pattern;
mod string;
mod udf;
mod zone;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

pub use aggregate::avg_udaf;
pub use error::FunctionError;
pub use pattern::{Dialect, JavaPattern, Parsed};
pub use zone::Zone;

use udf::udf;

/// Every function of this crate, ready to register.
pub fn flink_functions() -> Vec<ScalarUDF> {
    use datetime::*;
    let mut v = vec![
        udf(DateFormat),
        udf(ToTimestamp),
        udf(ToDate),
        udf(ToTimestampLtz),
        udf(UnixTimestamp),
        udf(FromUnixtime),
        udf(TimestampAdd),
        udf(TimestampDiff),
        udf(FloorCeil { ceil: false }),
        udf(FloorCeil { ceil: true }),
        udf(Proctime),
        udf(control::If),
        udf(string::RegexpExtract),
        udf(string::RegexpReplace),
        udf(string::SplitIndex),
        udf(string::Concat),
        udf(string::Initcap),
        udf(string::Pad { left: true }),
        udf(string::Pad { left: false }),
        udf(string::Substr),
        udf(string::Locate),
        udf(string::ToBase64),
        udf(string::FromBase64),
        udf(string::HashCode),
        udf(string::Md5),
        udf(math::Mod),
        udf(math::Double(math::DoubleFn::Power)),
        udf(math::Double(math::DoubleFn::Log)),
        udf(math::Double(math::DoubleFn::Log2)),
        udf(json::JsonValue),
        udf(math::Sign),
        udf(string::Regexp),
        udf(string::Replace),
        udf(cast::LtzToTimestamp),
        udf(cast::TimestampToLtz),
        udf(cast::FloatToInt),
        udf(cast::StringTo),
    ];
    for f in [
        Field::Year,
        Field::Quarter,
        Field::Month,
        Field::Week,
        Field::DayOfYear,
        Field::DayOfMonth,
        Field::DayOfWeek,
        Field::Hour,
        Field::Minute,
        Field::Second,
    ] {
        v.push(udf(Extract(f)));
    }
    v
}

/// Registers Flink's functions into any [`FunctionRegistry`] (a `SessionState` being built, or
/// a `SessionContext` through `&mut`), replacing DataFusion's functions of the same names.
pub fn register_flink_functions_in(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for f in flink_functions() {
        registry.register_udf(Arc::new(f))?;
    }
    registry.register_udaf(Arc::new(aggregate::avg_udaf()))?;
    registry.register_function_rewrite(Arc::new(string::SubstrRewrite))?;
    Ok(())
}

/// Registers Flink's functions into a session, replacing DataFusion's functions of the same
/// names. Call it once, before planning any query.
pub fn register_flink_functions(ctx: &SessionContext) -> Result<()> {
    let state = ctx.state_ref();
    let mut state = state.write();
    register_flink_functions_in(&mut *state)
}
