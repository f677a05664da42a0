//! Java's text forms of values, as Flink (via Jackson and `java.time`) prints and parses them.
//!
//! * [`java_double_to_string`] / [`java_float_to_string`]: `Double.toString` / `Float.toString`
//!   (JDK 19+ algorithm: the shortest decimal that round-trips, at least two significant digits
//!   when one digit is not the closest; plain form for 1e-3 <= |x| < 1e7, else `d.dddE[-]n`).
//!   Older JDKs occasionally printed a longer digit string; we follow the current JDK.
//! * [`java_big_decimal_to_string`]: `BigDecimal.toString` (scientific when the adjusted
//!   exponent is below -6 or the scale is negative), [`strip_trailing_zeros`], plain form.
//! * Dates, times, timestamps in `ISO_LOCAL_DATE`, `ISO_LOCAL_TIME` (fraction with trailing
//!   zeros removed), Flink's `SQL_TIMESTAMP_FORMAT`, and the `toString()` forms of `LocalTime`,
//!   `LocalDateTime` and `Instant` (fraction in groups of 3 digits).
//! * Base64 (Jackson's default variant: standard alphabet, padded, no line feeds).

use std::fmt::Write as _;

use arrow::datatypes::TimeUnit;

// ---------------------------------------------------------------------------------------------
// Floating point
// ---------------------------------------------------------------------------------------------

/// Java's `Double.toString(v)`.
pub fn java_double_to_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let shortest = format!("{:e}", v);
    let two = format!("{:.1e}", v);
    java_layout(
        &pick_digits(&shortest, &two),
        v.abs() >= 1e-3 && v.abs() < 1e7,
    )
}

/// Java's `Float.toString(v)`.
pub fn java_float_to_string(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let shortest = format!("{:e}", v);
    let two = format!("{:.1e}", v);
    java_layout(
        &pick_digits(&shortest, &two),
        v.abs() >= 1e-3 && v.abs() < 1e7,
    )
}

/// (negative, digits without leading zeros, decimal exponent of the first digit).
struct Sci {
    neg: bool,
    digits: String,
    exp: i32,
}

fn parse_sci(s: &str) -> Sci {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    Sci {
        neg,
        digits,
        exp: exp.parse().unwrap_or(0),
    }
}

/// The JDK picks the closest two-digit decimal when the shortest has a single digit
/// (`Double.MIN_VALUE` is `4.9E-324`, not `5.0E-324`).
fn pick_digits(shortest: &str, two: &str) -> Sci {
    let s = parse_sci(shortest);
    if s.digits.len() == 1 {
        let t = parse_sci(two);
        let mut digits = t.digits;
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
        return Sci {
            neg: t.neg,
            digits,
            exp: t.exp,
        };
    }
    s
}

fn java_layout(s: &Sci, plain: bool) -> String {
    let mut out = String::with_capacity(24);
    if s.neg {
        out.push('-');
    }
    let d = s.digits.as_bytes();
    if plain {
        if s.exp >= 0 {
            let int_len = s.exp as usize + 1;
            for i in 0..int_len {
                out.push(if i < d.len() { d[i] as char } else { '0' });
            }
            out.push('.');
            if d.len() > int_len {
                out.push_str(&s.digits[int_len..]);
            } else {
                out.push('0');
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-s.exp - 1) {
                out.push('0');
            }
            out.push_str(&s.digits);
        }
    } else {
        out.push(d[0] as char);
        out.push('.');
        if d.len() > 1 {
            out.push_str(&s.digits[1..]);
        } else {
            out.push('0');
        }
        let _ = write!(out, "E{}", s.exp);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// BigDecimal
// ---------------------------------------------------------------------------------------------

/// `BigDecimal.stripTrailingZeros()` on (unscaled, scale); zero becomes (0, 0) like Jackson's
/// `DecimalNode.ZERO`.
pub fn strip_trailing_zeros(mut unscaled: i128, mut scale: i32) -> (i128, i32) {
    if unscaled == 0 {
        return (0, 0);
    }
    while unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    (unscaled, scale)
}

/// Java's `BigDecimal.toString()` for `unscaled × 10^-scale`.
pub fn java_big_decimal_to_string(unscaled: i128, scale: i32) -> String {
    let coeff = unscaled.unsigned_abs().to_string();
    let mut out = String::with_capacity(coeff.len() + 8);
    if unscaled < 0 {
        out.push('-');
    }
    let adjusted = -(scale as i64) + (coeff.len() as i64 - 1);
    if scale >= 0 && adjusted >= -6 {
        push_plain(&mut out, &coeff, scale);
    } else {
        out.push_str(&coeff[..1]);
        if coeff.len() > 1 {
            out.push('.');
            out.push_str(&coeff[1..]);
        }
        if adjusted != 0 {
            out.push('E');
            if adjusted > 0 {
                out.push('+');
            }
            let _ = write!(out, "{adjusted}");
        }
    }
    out
}

/// Java's `BigDecimal.toPlainString()`.
pub fn java_big_decimal_to_plain_string(unscaled: i128, scale: i32) -> String {
    let coeff = unscaled.unsigned_abs().to_string();
    let mut out = String::with_capacity(coeff.len() + 8);
    if unscaled < 0 {
        out.push('-');
    }
    if scale < 0 {
        out.push_str(&coeff);
        if unscaled != 0 {
            for _ in 0..(-scale) {
                out.push('0');
            }
        }
    } else {
        push_plain(&mut out, &coeff, scale);
    }
    out
}

fn push_plain(out: &mut String, coeff: &str, scale: i32) {
    let scale = scale as usize;
    if scale == 0 {
        out.push_str(coeff);
    } else if coeff.len() > scale {
        out.push_str(&coeff[..coeff.len() - scale]);
        out.push('.');
        out.push_str(&coeff[coeff.len() - scale..]);
    } else {
        out.push_str("0.");
        for _ in 0..(scale - coeff.len()) {
            out.push('0');
        }
        out.push_str(coeff);
    }
}

/// `new BigDecimal(text)` followed by Flink's `DecimalData.fromBigDecimal(bd, p, s)`: rounds
/// HALF_UP to scale `s`; `Ok(None)` when the value does not fit precision `p` (Flink then
/// yields NULL); `Err` when the text is not a Java decimal literal.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<Option<i128>, String> {
    let bad = || format!("invalid decimal '{text}'");
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // value = digits × 10^-(frac_len - exp); fractional digits beyond 38 significant ones are
    // dropped (they cannot survive the rounding to a DECIMAL scale of at most 38).
    let mut src_scale = frac_part.len() as i64 - exp as i64;
    let target = scale as i64;
    let mut v: i128 = 0;
    let mut significant = 0usize;
    let mut round_up = false;
    let int_len = int_part.len();
    for (k, b) in int_part.bytes().chain(frac_part.bytes()).enumerate() {
        if v == 0 && b == b'0' {
            continue;
        }
        significant += 1;
        if significant > 38 {
            if k < int_len {
                return Ok(None);
            }
            if significant == 39 {
                round_up = b >= b'5';
            }
            src_scale -= 1;
            continue;
        }
        v = v * 10 + (b - b'0') as i128;
    }
    if round_up && target >= src_scale {
        v += 1;
    }
    if target >= src_scale {
        let up = target - src_scale;
        for _ in 0..up {
            v = match v.checked_mul(10) {
                Some(x) => x,
                None => return Ok(None),
            };
        }
    } else {
        let down = src_scale - target;
        if down > 40 {
            v = 0;
        } else {
            let p = 10i128.pow(down as u32);
            let (q, r) = (v / p, v % p);
            v = if r * 2 >= p { q + 1 } else { q };
        }
    }
    if v >= 10i128.pow(precision as u32) {
        return Ok(None);
    }
    Ok(Some(if neg { -v } else { v }))
}

// ---------------------------------------------------------------------------------------------
// Java number parsing (Flink parses CSV/JSON text with Integer.parseInt, Double.parseDouble...)
// ---------------------------------------------------------------------------------------------

/// `Double.parseDouble` (which trims ASCII whitespace and control characters itself).
pub fn parse_java_double(s: &str) -> Result<f64, String> {
    let t = s.trim_matches(|c: char| c <= ' ');
    match t {
        "NaN" | "+NaN" | "-NaN" => return Ok(f64::NAN),
        "Infinity" | "+Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let body = match t.as_bytes().last() {
        Some(b'f' | b'F' | b'd' | b'D') if t.len() > 1 => &t[..t.len() - 1],
        _ => t,
    };
    let ok = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return Err(format!("For input string: \"{s}\""));
    }
    body.parse::<f64>()
        .map_err(|_| format!("For input string: \"{s}\""))
}

/// `Float.parseFloat`.
pub fn parse_java_float(s: &str) -> Result<f32, String> {
    let t = s.trim_matches(|c: char| c <= ' ');
    match t {
        "NaN" | "+NaN" | "-NaN" => return Ok(f32::NAN),
        "Infinity" | "+Infinity" => return Ok(f32::INFINITY),
        "-Infinity" => return Ok(f32::NEG_INFINITY),
        _ => {}
    }
    parse_java_double(s)?;
    let body = match t.as_bytes().last() {
        Some(b'f' | b'F' | b'd' | b'D') if t.len() > 1 => &t[..t.len() - 1],
        _ => t,
    };
    body.parse::<f32>()
        .map_err(|_| format!("For input string: \"{s}\""))
}

/// `Integer.parseInt` / `Long.parseLong` family on already-trimmed text.
pub fn parse_java_int<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    let ok = !s.is_empty()
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && (b == b'-' || b == b'+')))
        && s.len() > usize::from(s.starts_with(['-', '+']));
    if !ok {
        return Err(format!("For input string: \"{s}\""));
    }
    s.parse::<T>()
        .map_err(|_| format!("Value out of range. Value:\"{s}\""))
}

// ---------------------------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------------------------

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Civil date from days since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn push_year(out: &mut String, y: i64) {
    if y > 9999 {
        let _ = write!(out, "+{y}");
    } else if y < 0 {
        let _ = write!(out, "-{:04}", -y);
    } else {
        let _ = write!(out, "{y:04}");
    }
}

/// `ISO_LOCAL_DATE` / `LocalDate.toString()`.
pub fn push_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_year(out, y);
    let _ = write!(out, "-{m:02}-{d:02}");
}

pub fn date_string(days: i64) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, days);
    s
}

/// `HH:mm:ss` followed by the fraction with trailing zeros removed (`appendFraction(NANO, 0, 9,
/// true)`, used by `ISO_LOCAL_TIME` and Flink's `SQL_TIME_FORMAT`).
pub fn push_time_stripped(out: &mut String, nanos_of_day: i64) {
    let secs = nanos_of_day / NANOS_PER_SEC;
    let nanos = nanos_of_day % NANOS_PER_SEC;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    if nanos != 0 {
        let mut frac = format!("{nanos:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
        out.push('.');
        out.push_str(&frac);
    }
}

/// `LocalTime.toString()`: `HH:mm`, `:ss` only when seconds or nanos are non-zero, then the
/// fraction in 3, 6 or 9 digits.
pub fn push_time_java_to_string(out: &mut String, nanos_of_day: i64) {
    let secs = nanos_of_day / NANOS_PER_SEC;
    let nanos = nanos_of_day % NANOS_PER_SEC;
    let _ = write!(out, "{:02}:{:02}", secs / 3600, (secs / 60) % 60);
    if secs % 60 != 0 || nanos != 0 {
        let _ = write!(out, ":{:02}", secs % 60);
        push_fraction_groups(out, nanos);
    }
}

/// The fraction in groups of 3 digits (`LocalTime.toString`, `Instant.toString`).
fn push_fraction_groups(out: &mut String, nanos: i64) {
    if nanos == 0 {
    } else if nanos % 1_000_000 == 0 {
        let _ = write!(out, ".{:03}", nanos / 1_000_000);
    } else if nanos % 1000 == 0 {
        let _ = write!(out, ".{:06}", nanos / 1000);
    } else {
        let _ = write!(out, ".{nanos:09}");
    }
}

/// The fraction with exactly `digits` digits (Flink's CAST(TIMESTAMP(p) AS STRING)).
pub fn push_fraction_fixed(out: &mut String, nanos: i64, digits: u32) {
    if digits == 0 {
        return;
    }
    let v = nanos / 10i64.pow(9 - digits.min(9));
    let _ = write!(out, ".{:0width$}", v, width = digits as usize);
}

/// Split a timestamp value of `unit` into (days since epoch, nanos of day).
pub fn split_timestamp(v: i64, unit: TimeUnit) -> (i64, i64) {
    let (secs, nanos) = match unit {
        TimeUnit::Second => (v, 0),
        TimeUnit::Millisecond => (v.div_euclid(1000), v.rem_euclid(1000) * 1_000_000),
        TimeUnit::Microsecond => (v.div_euclid(1_000_000), v.rem_euclid(1_000_000) * 1000),
        TimeUnit::Nanosecond => (v.div_euclid(NANOS_PER_SEC), v.rem_euclid(NANOS_PER_SEC)),
    };
    (
        secs.div_euclid(86_400),
        secs.rem_euclid(86_400) * NANOS_PER_SEC + nanos,
    )
}

/// Epoch value in `unit` from (days, nanos of day).
pub fn join_timestamp(days: i64, nanos_of_day: i64, unit: TimeUnit) -> Option<i64> {
    let secs = days
        .checked_mul(86_400)?
        .checked_add(nanos_of_day / NANOS_PER_SEC)?;
    let nanos = nanos_of_day % NANOS_PER_SEC;
    match unit {
        TimeUnit::Second => Some(secs),
        TimeUnit::Millisecond => secs.checked_mul(1000)?.checked_add(nanos / 1_000_000),
        TimeUnit::Microsecond => secs.checked_mul(1_000_000)?.checked_add(nanos / 1000),
        TimeUnit::Nanosecond => secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos),
    }
}

/// Flink's `SQL_TIMESTAMP_FORMAT` (`yyyy-MM-dd HH:mm:ss[.fraction without trailing zeros]`), also
/// what Flink's CSV writer produces; `sep` is `' '` (SQL) or `'T'` (`ISO_LOCAL_DATE_TIME`).
pub fn push_timestamp_stripped(out: &mut String, days: i64, nanos_of_day: i64, sep: char) {
    push_date(out, days);
    out.push(sep);
    push_time_stripped(out, nanos_of_day);
}

/// `LocalDateTime.toString()` (e.g. `2024-01-01T00:00`, `2024-01-01T00:00:01.500`).
pub fn push_local_date_time_to_string(out: &mut String, days: i64, nanos_of_day: i64) {
    push_date(out, days);
    out.push('T');
    push_time_java_to_string(out, nanos_of_day);
}

/// `Instant.toString()` (`ISO_INSTANT`: seconds always, fraction in groups of 3, `Z`).
pub fn push_instant_to_string(out: &mut String, days: i64, nanos_of_day: i64) {
    push_date(out, days);
    let secs = nanos_of_day / NANOS_PER_SEC;
    let _ = write!(
        out,
        "T{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    push_fraction_groups(out, nanos_of_day % NANOS_PER_SEC);
    out.push('Z');
}

fn two_digits(b: &[u8], i: usize) -> Option<u32> {
    let (a, c) = (*b.get(i)?, *b.get(i + 1)?);
    (a.is_ascii_digit() && c.is_ascii_digit()).then(|| ((a - b'0') * 10 + (c - b'0')) as u32)
}

/// Parse `yyyy-MM-dd` (`ISO_LOCAL_DATE`, strict) into days since epoch.
pub fn parse_iso_date(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let bad = || format!("Text '{s}' could not be parsed as a date (expected yyyy-MM-dd)");
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !b[..4].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let y: i64 = s[..4].parse().map_err(|_| bad())?;
    let m = two_digits(b, 5).ok_or_else(bad)?;
    let d = two_digits(b, 8).ok_or_else(bad)?;
    valid_date(y, m, d).ok_or_else(bad)
}

/// `java.sql.Date.valueOf`: `yyyy-[m]m-[d]d` (Flink's CSV reader).
pub fn parse_sql_date(s: &str) -> Result<i64, String> {
    let bad = || format!("Text '{s}' could not be parsed as a date (expected yyyy-[m]m-[d]d)");
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let digits = |p: &str, lo: usize, hi: usize| {
        (p.len() >= lo && p.len() <= hi && p.bytes().all(|c| c.is_ascii_digit())).then_some(())
    };
    digits(y, 4, 4).ok_or_else(bad)?;
    digits(m, 1, 2).ok_or_else(bad)?;
    digits(d, 1, 2).ok_or_else(bad)?;
    valid_date(
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    )
    .ok_or_else(bad)
}

pub(crate) fn valid_date(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1];
    (d <= dim).then(|| days_from_civil(y, m, d))
}

/// Parse `HH:mm[:ss[.fffffffff]]` into nanos of day. `seconds_required` for Flink's
/// `SQL_TIME_FORMAT` (`HH:mm:ss`), not for `ISO_LOCAL_TIME`.
pub fn parse_time(s: &str, seconds_required: bool) -> Result<i64, String> {
    let b = s.as_bytes();
    let bad = || format!("Text '{s}' could not be parsed as a time");
    let h = two_digits(b, 0).ok_or_else(bad)?;
    if b.get(2) != Some(&b':') {
        return Err(bad());
    }
    let mi = two_digits(b, 3).ok_or_else(bad)?;
    let mut sec = 0;
    let mut nanos = 0i64;
    let mut i = 5;
    if b.len() > 5 {
        if b[5] != b':' {
            return Err(bad());
        }
        sec = two_digits(b, 6).ok_or_else(bad)?;
        i = 8;
        if b.len() > 8 {
            if b[8] != b'.' {
                return Err(bad());
            }
            let frac = &s[9..];
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            nanos = frac.parse::<i64>().map_err(|_| bad())? * 10i64.pow(9 - frac.len() as u32);
            i = b.len();
        }
    } else if seconds_required {
        return Err(bad());
    }
    if i != b.len() || h > 23 || mi > 59 || sec > 59 {
        return Err(bad());
    }
    Ok((h as i64 * 3600 + mi as i64 * 60 + sec as i64) * NANOS_PER_SEC + nanos)
}

/// Parse a timestamp `yyyy-MM-dd<sep>HH:mm:ss[.f]` (+ `Z` when `zulu`) into (days, nanos of day).
/// `sep = ' '` is Flink's SQL format (seconds required); `'T'` is ISO-8601 (seconds optional).
pub fn parse_timestamp(s: &str, sep: u8, zulu: bool) -> Result<(i64, i64), String> {
    let bad = || {
        let want = match (sep, zulu) {
            (b' ', false) => "yyyy-MM-dd HH:mm:ss[.fraction]",
            (b' ', true) => "yyyy-MM-dd HH:mm:ss[.fraction]Z",
            (_, false) => "yyyy-MM-ddTHH:mm:ss[.fraction]",
            (_, true) => "yyyy-MM-ddTHH:mm:ss[.fraction]Z",
        };
        format!("Text '{s}' could not be parsed as a timestamp (expected {want})")
    };
    let body = if zulu {
        s.strip_suffix('Z').ok_or_else(bad)?
    } else {
        s
    };
    if body.len() < 16 || body.as_bytes()[10] != sep {
        return Err(bad());
    }
    let days = parse_iso_date(&body[..10]).map_err(|_| bad())?;
    let nanos = parse_time(&body[11..], sep == b' ').map_err(|_| bad())?;
    Ok((days, nanos))
}

// ---------------------------------------------------------------------------------------------
// Base64
// ---------------------------------------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16
            | (chunk.get(1).copied().unwrap_or(0) as u32) << 8
            | chunk.get(2).copied().unwrap_or(0) as u32;
        out.push(B64[(v >> 18) as usize & 63]);
        out.push(B64[(v >> 12) as usize & 63]);
        out.push(if n > 1 {
            B64[(v >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if n > 2 { B64[v as usize & 63] } else { b'=' });
    }
}

pub fn base64_string(data: &[u8]) -> String {
    let mut v = Vec::with_capacity(data.len().div_ceil(3) * 4);
    push_base64(&mut v, data);
    String::from_utf8(v).unwrap_or_default()
}

/// Decode standard base64 (padding optional).
pub fn decode_base64(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    let body = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    for &c in body {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("illegal character '{}' in base64 value", c as char)),
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits >= 6 {
        return Err("truncated base64 value".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_to_string_like_java() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.0e-5, "1.0E-5"),
            (9_999_999.0, "9999999.0"),
            (1.0e7, "1.0E7"),
            (8.696e8, "8.696E8"),
            (123_456_789_012.0, "1.23456789012E11"),
            (1.234_567_890_123_456_7e20, "1.2345678901234567E20"),
            (std::f64::consts::PI, "3.141592653589793"),
            (-2.5, "-2.5"),
            (1200.0, "1200.0"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "4.9E-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (1e21, "1.0E21"),
            (0.5, "0.5"),
            (2e-3, "0.002"),
        ];
        for (v, want) in cases {
            assert_eq!(java_double_to_string(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn float_to_string_like_java() {
        let cases: &[(f32, &str)] = &[
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (3.402_823_5e38, "3.4028235E38"),
            (1.0e-5, "1.0E-5"),
            (123_456.79, "123456.79"),
            (1.0e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1.4e-45, "1.4E-45"),
            (1000.0, "1000.0"),
        ];
        for (v, want) in cases {
            assert_eq!(java_float_to_string(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn big_decimal_to_string_like_java() {
        let cases: &[(i128, i32, &str, &str)] = &[
            // unscaled, scale, toString, toPlainString
            (1234567890, 2, "12345678.90", "12345678.90"),
            (-5, 2, "-0.05", "-0.05"),
            (0, 2, "0.00", "0.00"),
            (0, 8, "0E-8", "0.00000000"),
            (1, 8, "1E-8", "0.00000001"),
            (12, -2, "1.2E+3", "1200"),
            (1, 1, "0.1", "0.1"),
            (1, 7, "1E-7", "0.0000001"),
            (1, 6, "0.000001", "0.000001"),
            (-1, -2, "-1E+2", "-100"),
            (123, 0, "123", "123"),
        ];
        for (u, s, ts, plain) in cases {
            assert_eq!(java_big_decimal_to_string(*u, *s), *ts, "{u} {s}");
            assert_eq!(java_big_decimal_to_plain_string(*u, *s), *plain, "{u} {s}");
        }
        assert_eq!(strip_trailing_zeros(120000, 2), (12, -2));
        assert_eq!(strip_trailing_zeros(0, 2), (0, 0));
        assert_eq!(strip_trailing_zeros(10, 2), (1, 1));
    }

    #[test]
    fn parse_decimal_rounds_half_up_and_overflows_to_none() {
        let cases: &[(&str, Option<i128>)] = &[
            ("1.005", Some(101)),
            ("-1.005", Some(-101)),
            (".5", Some(50)),
            ("+7", Some(700)),
            ("1e2", Some(10000)),
            ("12345678.99", Some(1234567899)),
            ("123456789.0", None), // DECIMAL(10,2) overflow: Flink yields NULL
            ("0", Some(0)),
            ("1.234567890123456789012345678901234567890123", Some(123)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_decimal(s, 10, 2).unwrap(), *want, "{s}");
        }
        for bad in ["", "abc", "1.2.3", " 1", "1e"] {
            assert!(parse_decimal(bad, 10, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn java_number_parsing() {
        assert_eq!(parse_java_double("1e3").unwrap(), 1000.0);
        assert_eq!(parse_java_double(" -.25 ").unwrap(), -0.25);
        assert_eq!(parse_java_double("1.5d").unwrap(), 1.5);
        assert!(parse_java_double("NaN").unwrap().is_nan());
        for bad in ["", "inf", "nan", "abc", "1,5"] {
            assert!(parse_java_double(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_java_int::<i8>("+5").unwrap(), 5);
        assert!(parse_java_int::<i8>("128").is_err());
        assert!(parse_java_int::<i32>("").is_err());
        assert!(parse_java_int::<i32>("-").is_err());
        assert!(parse_java_int::<i32>("1.0").is_err());
    }

    #[test]
    fn temporal_text_forms() {
        let ms = |h: i64, m: i64, s: i64, n: i64| ((h * 60 + m) * 60 + s) * NANOS_PER_SEC + n;
        let cases: &[(i64, &str, &str)] = &[
            // nanos of day, stripped (ISO_LOCAL_TIME), LocalTime.toString
            (ms(0, 0, 0, 0), "00:00:00", "00:00"),
            (ms(10, 20, 30, 120_000_000), "10:20:30.12", "10:20:30.120"),
            (ms(23, 59, 59, 999_000_000), "23:59:59.999", "23:59:59.999"),
            (ms(1, 2, 0, 1000), "01:02:00.000001", "01:02:00.000001"),
            (ms(1, 2, 3, 1), "01:02:03.000000001", "01:02:03.000000001"),
        ];
        for (n, stripped, java) in cases {
            let mut a = String::new();
            push_time_stripped(&mut a, *n);
            assert_eq!(a, *stripped);
            let mut b = String::new();
            push_time_java_to_string(&mut b, *n);
            assert_eq!(b, *java);
        }
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(date_string(-1), "1969-12-31");
        assert_eq!(date_string(19_782), "2024-02-29");
        assert_eq!(date_string(2_932_896), "9999-12-31");
        assert_eq!(
            split_timestamp(-500, TimeUnit::Millisecond),
            (-1, 86_399_500_000_000)
        );
        let mut s = String::new();
        push_instant_to_string(&mut s, 0, 0);
        assert_eq!(s, "1970-01-01T00:00:00Z");
        let mut s = String::new();
        push_fraction_fixed(&mut s, 120_000_000, 3);
        assert_eq!(s, ".120");
    }

    #[test]
    fn temporal_parsing() {
        assert_eq!(parse_iso_date("2024-02-29").unwrap(), 19_782);
        assert!(parse_iso_date("2023-02-29").is_err());
        assert!(parse_iso_date("2024-1-01").is_err());
        assert_eq!(
            parse_sql_date("2024-2-9").unwrap(),
            parse_iso_date("2024-02-09").unwrap()
        );
        assert_eq!(
            parse_time("12:30:05", true).unwrap(),
            45_005 * NANOS_PER_SEC
        );
        assert_eq!(parse_time("12:30", false).unwrap(), 45_000 * NANOS_PER_SEC);
        assert!(parse_time("12:30", true).is_err());
        assert!(parse_time("24:00:00", true).is_err());
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:00.5", b' ', false).unwrap(),
            (0, 500_000_000)
        );
        assert_eq!(
            parse_timestamp("1970-01-02T00:00", b'T', false).unwrap(),
            (1, 0)
        );
        assert!(parse_timestamp("1970-01-01T00:00:00", b' ', false).is_err());
        assert!(parse_timestamp("1970-01-01 00:00:00", b' ', true).is_err());
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:01Z", b' ', true).unwrap(),
            (0, NANOS_PER_SEC)
        );
    }

    #[test]
    fn base64_round_trip() {
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (&[1, 2, 3], "AQID"),
            (b"abc", "YWJj"),
            ("é".as_bytes(), "w6k="),
            (&[0xff, 0xef, 0], "/+8A"),
            (b"a", "YQ=="),
        ];
        for (raw, text) in cases {
            assert_eq!(base64_string(raw), *text);
            assert_eq!(decode_base64(text.as_bytes()).unwrap(), *raw);
        }
        assert!(decode_base64(b"a*b=").is_err());
    }
}
