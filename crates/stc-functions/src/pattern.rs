//! Java date/time patterns (`yyyy-MM-dd HH:mm:ss.SSS`), compiled once and reused for every row.
//!
//! Flink uses two Java formatters and the difference shows in results:
//!
//! * `java.time.format.DateTimeFormatter` ([`Dialect::DateTimeFormatter`]): `DATE_FORMAT` of a
//!   timestamp, `TO_TIMESTAMP(s, fmt)`. Parsing must consume the whole input; `S…S` is a
//!   fraction of the second with exactly that many digits.
//! * `java.text.SimpleDateFormat` ([`Dialect::SimpleDateFormat`]): `DATE_FORMAT` of a string,
//!   `UNIX_TIMESTAMP(s, fmt)`, `FROM_UNIXTIME`, `TO_DATE(s, fmt)`. Parsing stops once the
//!   pattern is used up and ignores trailing text; `S` is the millisecond *number*.
//!
//! Text fields are English (the JVM's usual `en_US` default locale); week fields follow the
//! US week definition (weeks start on Sunday, week 1 contains 1 January).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::error::FunctionError;
use crate::zone::{Zone, format_offset};

/// Which Java formatter's rules to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `java.time.format.DateTimeFormatter.ofPattern`.
    DateTimeFormatter,
    /// `java.text.SimpleDateFormat`.
    SimpleDateFormat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(String),
    Field(char, usize),
    Optional(Vec<Tok>),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    toks: Vec<Tok>,
    dialect: Dialect,
    needs_zone: bool,
}

/// Fields read by [`JavaPattern::parse`]; missing ones take Flink's defaults (1970-01-01 00:00).
#[derive(Debug, Default, Clone, Copy)]
pub struct Parsed {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    nano: Option<u32>,
    /// Offset in seconds, when the pattern has `X`, `x` or `Z`.
    pub offset_secs: Option<i32>,
}

impl Parsed {
    /// The wall clock, completing missing fields like Flink's `fromTemporalAccessor`.
    pub fn to_naive(&self) -> Option<NaiveDateTime> {
        let year = self.year.unwrap_or(1970);
        let date = if let (Some(doy), None) = (self.day_of_year, self.month) {
            NaiveDate::from_yo_opt(year, doy)?
        } else {
            let month = self.month.unwrap_or(1);
            let day = self.day.unwrap_or(1);
            // java.time's SMART resolver clamps 29..31 to the month's last day.
            let last = last_day_of_month(year, month)?;
            if day > 31 {
                return None;
            }
            NaiveDate::from_ymd_opt(year, month, day.min(last))?
        };
        let hour = match (self.hour, self.hour12) {
            (Some(h), _) => h,
            (None, Some(h)) => h % 12 + if self.pm == Some(true) { 12 } else { 0 },
            (None, None) => 0,
        };
        date.and_hms_nano_opt(
            hour,
            self.minute.unwrap_or(0),
            self.second.unwrap_or(0),
            self.nano.unwrap_or(0),
        )
    }
}

fn last_day_of_month(year: i32, month: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some((next - first).num_days() as u32)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl JavaPattern {
    /// Compiles `pattern`; unknown letters are an error, as they are in Java.
    pub fn compile(pattern: &str, dialect: Dialect) -> Result<Self, FunctionError> {
        let err = |reason: String| FunctionError::InvalidPattern {
            pattern: pattern.to_string(),
            reason,
        };
        let chars: Vec<char> = pattern.chars().collect();
        let mut stack: Vec<Vec<Tok>> = vec![Vec::new()];
        let mut i = 0;
        let mut needs_zone = false;
        while i < chars.len() {
            let c = chars[i];
            let top = stack.last_mut().expect("stack is never empty");
            if c == '\'' {
                // Quoted literal; '' is a single quote inside or outside quotes.
                if chars.get(i + 1) == Some(&'\'') {
                    push_lit(top, "'");
                    i += 2;
                    continue;
                }
                let mut lit = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err("unterminated quote".into())),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            lit.push(*ch);
                            i += 1;
                        }
                    }
                }
                push_lit(top, &lit);
            } else if c.is_ascii_alphabetic() {
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                if !is_supported_letter(c, dialect) {
                    return Err(err(format!("unknown or unsupported pattern letter '{c}'")));
                }
                if matches!(c, 'z' | 'Z' | 'X' | 'x' | 'O' | 'V') {
                    needs_zone = true;
                }
                top.push(Tok::Field(c, n));
                i += n;
            } else if c == '[' && dialect == Dialect::DateTimeFormatter {
                stack.push(Vec::new());
                i += 1;
            } else if c == ']' && dialect == Dialect::DateTimeFormatter {
                if stack.len() == 1 {
                    return Err(err("']' without '['".into()));
                }
                let inner = stack.pop().expect("checked above");
                stack
                    .last_mut()
                    .expect("stack is never empty")
                    .push(Tok::Optional(inner));
                i += 1;
            } else if matches!(c, '#' | '{' | '}') && dialect == Dialect::DateTimeFormatter {
                return Err(err(format!("reserved pattern character '{c}'")));
            } else {
                push_lit(top, &c.to_string());
                i += 1;
            }
        }
        while stack.len() > 1 {
            // java.time closes unbalanced optional sections at the end of the pattern.
            let inner = stack.pop().expect("len > 1");
            stack
                .last_mut()
                .expect("stack is never empty")
                .push(Tok::Optional(inner));
        }
        if needs_zone && dialect == Dialect::DateTimeFormatter {
            // Flink formats a LocalDateTime, which has no zone: Java throws
            // UnsupportedTemporalTypeException at run time; we refuse the pattern up front.
            return Err(err(
                "zone and offset letters need a zoned value; Flink's DATE_FORMAT/TO_TIMESTAMP \
                 work on local date-times"
                    .into(),
            ));
        }
        Ok(JavaPattern {
            toks: stack.pop().expect("stack is never empty"),
            dialect,
            needs_zone,
        })
    }

    /// Formats a wall clock. `zone` and `instant_ms` feed zone letters (SimpleDateFormat only).
    pub fn format(&self, dt: &NaiveDateTime, zone: &Zone, instant_ms: i64, out: &mut String) {
        format_toks(&self.toks, self.dialect, dt, zone, instant_ms, out);
    }

    /// Parses `s`; `None` when it does not match (Flink: parse exception).
    pub fn parse(&self, s: &str) -> Option<Parsed> {
        let mut p = Parsed::default();
        let rest = parse_toks(&self.toks, self.dialect, s, &mut p)?;
        if self.dialect == Dialect::DateTimeFormatter && !rest.is_empty() {
            return None;
        }
        Some(p)
    }

    /// Whether the pattern prints or reads a zone (only possible for SimpleDateFormat).
    pub fn needs_zone(&self) -> bool {
        self.needs_zone
    }
}

fn push_lit(toks: &mut Vec<Tok>, s: &str) {
    if let Some(Tok::Lit(prev)) = toks.last_mut() {
        prev.push_str(s);
    } else {
        toks.push(Tok::Lit(s.to_string()));
    }
}

fn is_supported_letter(c: char, dialect: Dialect) -> bool {
    match dialect {
        Dialect::DateTimeFormatter => "GuyYDMLdQqwEecaHkKhmsSAnNzZXxOV".contains(c),
        Dialect::SimpleDateFormat => "GyYMLwDdEuaHkKhmsSzZX".contains(c),
    }
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    let s = v.unsigned_abs().to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

/// Week fields under the US definition: (week-based year, week of that year).
fn us_week(date: NaiveDate) -> (i32, u32) {
    // Week 1 is the Sunday-started week containing 1 January of the next year, if any.
    let next_jan1 = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1).expect("valid date");
    let start_of_week =
        |d: NaiveDate| d - chrono::Duration::days(i64::from(d.weekday().num_days_from_sunday()));
    if start_of_week(date) == start_of_week(next_jan1) {
        return (date.year() + 1, 1);
    }
    let jan1 = NaiveDate::from_ymd_opt(date.year(), 1, 1).expect("valid date");
    let week = (start_of_week(date) - start_of_week(jan1)).num_days() / 7 + 1;
    (date.year(), week as u32)
}

fn format_toks(
    toks: &[Tok],
    dialect: Dialect,
    dt: &NaiveDateTime,
    zone: &Zone,
    instant_ms: i64,
    out: &mut String,
) {
    for t in toks {
        match t {
            Tok::Lit(s) => out.push_str(s),
            Tok::Optional(inner) => format_toks(inner, dialect, dt, zone, instant_ms, out),
            Tok::Field(c, n) => format_field(*c, *n, dialect, dt, zone, instant_ms, out),
        }
    }
}

fn format_field(
    c: char,
    n: usize,
    dialect: Dialect,
    dt: &NaiveDateTime,
    zone: &Zone,
    instant_ms: i64,
    out: &mut String,
) {
    let text = |out: &mut String, full: &str| match n {
        1..=3 => out.push_str(&full[..3]),
        4 => out.push_str(full),
        _ => out.push_str(&full[..1]),
    };
    let year = i64::from(dt.year());
    match c {
        'G' => out.push_str(match (dt.year() > 0, n >= 4) {
            (true, false) => "AD",
            (false, false) => "BC",
            (true, true) => "Anno Domini",
            (false, true) => "Before Christ",
        }),
        'y' | 'u' if c == 'y' || dialect == Dialect::DateTimeFormatter => {
            let y = if c == 'y' && year <= 0 {
                1 - year
            } else {
                year
            };
            if n == 2 {
                pad(out, y.rem_euclid(100), 2)
            } else {
                pad(out, y, n)
            }
        }
        // SimpleDateFormat 'u': day number of week, Monday = 1.
        'u' => pad(out, i64::from(dt.weekday().number_from_monday()), n),
        'Y' => {
            let (wy, _) = us_week(dt.date());
            if n == 2 {
                pad(out, i64::from(wy).rem_euclid(100), 2)
            } else {
                pad(out, i64::from(wy), n)
            }
        }
        'w' => pad(out, i64::from(us_week(dt.date()).1), n),
        'M' | 'L' => match n {
            1 | 2 => pad(out, i64::from(dt.month()), n),
            _ => text(out, MONTHS[dt.month0() as usize]),
        },
        'd' => pad(out, i64::from(dt.day()), n),
        'D' => pad(out, i64::from(dt.ordinal()), n),
        'Q' | 'q' => {
            let q = i64::from(dt.month0() / 3 + 1);
            match n {
                1 | 2 => pad(out, q, n),
                3 => out.push_str(&format!("Q{q}")),
                _ => out.push_str(["1st", "2nd", "3rd", "4th"][(q - 1) as usize]),
            }
            if n >= 4 {
                out.push_str(" quarter");
            }
        }
        'E' => text(out, DAYS[dt.weekday().num_days_from_monday() as usize]),
        'e' | 'c' => match n {
            1 | 2 => pad(out, i64::from(dt.weekday().number_from_sunday()), n),
            _ => text(out, DAYS[dt.weekday().num_days_from_monday() as usize]),
        },
        'a' => out.push_str(if dt.hour() < 12 { "AM" } else { "PM" }),
        'H' => pad(out, i64::from(dt.hour()), n),
        'k' => pad(
            out,
            i64::from(if dt.hour() == 0 { 24 } else { dt.hour() }),
            n,
        ),
        'K' => pad(out, i64::from(dt.hour() % 12), n),
        'h' => {
            let h = dt.hour() % 12;
            pad(out, i64::from(if h == 0 { 12 } else { h }), n)
        }
        'm' => pad(out, i64::from(dt.minute()), n),
        's' => pad(out, i64::from(dt.second()), n),
        'S' => match dialect {
            Dialect::DateTimeFormatter => {
                let digits = format!("{:09}", dt.nanosecond() % 1_000_000_000);
                if n <= 9 {
                    out.push_str(&digits[..n]);
                } else {
                    out.push_str(&digits);
                    out.extend(std::iter::repeat_n('0', n - 9));
                }
            }
            Dialect::SimpleDateFormat => pad(
                out,
                i64::from(dt.nanosecond() % 1_000_000_000 / 1_000_000),
                n,
            ),
        },
        'A' => pad(
            out,
            i64::from(dt.num_seconds_from_midnight()) * 1000
                + i64::from(dt.nanosecond() % 1_000_000_000 / 1_000_000),
            n,
        ),
        'n' => pad(out, i64::from(dt.nanosecond() % 1_000_000_000), n),
        'N' => pad(
            out,
            i64::from(dt.num_seconds_from_midnight()) * 1_000_000_000
                + i64::from(dt.nanosecond() % 1_000_000_000),
            n,
        ),
        'z' | 'V' | 'O' => out.push_str(&zone.abbreviation(instant_ms)),
        'Z' => {
            let secs = zone.offset_ms(instant_ms) / 1000;
            out.push_str(&format_offset(secs, false, false))
        }
        'X' | 'x' => {
            let secs = zone.offset_ms(instant_ms) / 1000;
            let s = format_offset(secs, n >= 3, c == 'X');
            // One letter prints only the hour when the minutes are zero (`+08`).
            if n == 1 && s.len() == 5 && s.ends_with("00") {
                out.push_str(&s[..3]);
            } else {
                out.push_str(&s);
            }
        }
        _ => {}
    }
}

/// Reads `min..=max` ASCII digits from the start of `s`.
fn take_digits(s: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let len = s
        .bytes()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if len < min || len == 0 {
        return None;
    }
    Some((s[..len].parse().ok()?, &s[len..]))
}

/// Whether a token reads digits, so that a numeric field before it must stop at its width
/// (`yyyyMMdd`).
fn is_numeric_field(t: Option<&Tok>) -> bool {
    match t {
        Some(Tok::Field('M' | 'L', n)) => *n <= 2,
        Some(Tok::Field('E' | 'a' | 'G' | 'z' | 'Z' | 'X' | 'x' | 'O' | 'V', _)) => false,
        Some(Tok::Field(..)) => true,
        _ => false,
    }
}

fn parse_toks<'a>(
    toks: &[Tok],
    dialect: Dialect,
    mut s: &'a str,
    p: &mut Parsed,
) -> Option<&'a str> {
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Lit(lit) => s = s.strip_prefix(lit.as_str())?,
            Tok::Optional(inner) => {
                let mut attempt = *p;
                if let Some(rest) = parse_toks(inner, dialect, s, &mut attempt) {
                    *p = attempt;
                    s = rest;
                }
            }
            Tok::Field(c, n) => {
                let abutting = is_numeric_field(toks.get(i + 1));
                s = parse_field(*c, *n, dialect, abutting, s, p)?;
            }
        }
    }
    Some(s)
}

fn parse_text<'a>(s: &'a str, names: &[&str]) -> Option<(usize, &'a str)> {
    // Longest match first so that "June" is not read as "Jun" + "e".
    let mut best: Option<(usize, usize)> = None;
    for (idx, name) in names.iter().enumerate() {
        for cand in [*name, &name[..3]] {
            if s.len() >= cand.len()
                && s.is_char_boundary(cand.len())
                && s[..cand.len()].eq_ignore_ascii_case(cand)
                && best.is_none_or(|(_, l)| cand.len() > l)
            {
                best = Some((idx, cand.len()));
            }
        }
    }
    best.map(|(idx, l)| (idx, &s[l..]))
}

fn parse_field<'a>(
    c: char,
    n: usize,
    dialect: Dialect,
    abutting: bool,
    s: &'a str,
    p: &mut Parsed,
) -> Option<&'a str> {
    // Width rules: DateTimeFormatter reads exactly `n` digits for n >= 2 and 1..=2 (or up to 19
    // for years) for n == 1; SimpleDateFormat reads any number of digits unless the next field
    // abuts this one, in which case it reads exactly `n`.
    let (min, max) = match (dialect, c) {
        (_, 'y' | 'u' | 'Y') if n == 2 => (2, 2),
        (Dialect::DateTimeFormatter, 'y' | 'u' | 'Y') => {
            let min = if n >= 4 { 4 } else { n };
            (min, if abutting { min.max(4) } else { 10 })
        }
        (Dialect::DateTimeFormatter, 'S') => (n, n),
        (Dialect::DateTimeFormatter, 'n' | 'N' | 'A') => (1, 19),
        (Dialect::DateTimeFormatter, _) if n >= 2 => (n, n),
        (Dialect::DateTimeFormatter, _) => (1, 2),
        (Dialect::SimpleDateFormat, _) if abutting => (n, n.max(if c == 'y' { 4 } else { n })),
        (Dialect::SimpleDateFormat, _) => (1, 10),
    };
    let number = |s: &'a str| take_digits(s, min, max);
    match c {
        'y' | 'u' | 'Y' if c != 'u' || dialect == Dialect::DateTimeFormatter => {
            let (v, rest) = number(s)?;
            let v = if n == 2 { 2000 + v } else { v };
            p.year = Some(i32::try_from(v).ok()?);
            Some(rest)
        }
        'M' | 'L' if n >= 3 => {
            let (idx, rest) = parse_text(s, &MONTHS)?;
            p.month = Some(idx as u32 + 1);
            Some(rest)
        }
        'E' => parse_text(s, &DAYS).map(|(_, rest)| rest),
        'a' => {
            let up = s.get(..2)?.to_ascii_uppercase();
            p.pm = Some(match up.as_str() {
                "AM" => false,
                "PM" => true,
                _ => return None,
            });
            Some(&s[2..])
        }
        'G' => ["AD", "BC"].iter().find_map(|e| s.strip_prefix(e)),
        'Z' | 'X' | 'x' => {
            if c == 'X'
                && let Some(rest) = s.strip_prefix('Z')
            {
                p.offset_secs = Some(0);
                return Some(rest);
            }
            let sign = match s.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, rest) = take_digits(&s[1..], 2, 2)?;
            let rest = rest.strip_prefix(':').unwrap_or(rest);
            let (m, rest) = take_digits(rest, 2, 2).unwrap_or((0, rest));
            p.offset_secs = Some(sign * (h as i32 * 3600 + m as i32 * 60));
            Some(rest)
        }
        'z' => {
            // Zone names are accepted for UTC/GMT only; others are too locale-dependent.
            ["UTC", "GMT"]
                .iter()
                .find_map(|z| s.strip_prefix(z))
                .inspect(|_| {
                    p.offset_secs = Some(0);
                })
        }
        _ => {
            let (v, rest) = number(s)?;
            let v32 = u32::try_from(v).ok()?;
            match c {
                'M' | 'L' if (1..=12).contains(&v32) => p.month = Some(v32),
                'd' if (1..=31).contains(&v32) => p.day = Some(v32),
                'D' if (1..=366).contains(&v32) => p.day_of_year = Some(v32),
                'H' if v32 <= 23 => p.hour = Some(v32),
                'k' if (1..=24).contains(&v32) => p.hour = Some(v32 % 24),
                'h' if (1..=12).contains(&v32) => p.hour12 = Some(v32),
                'K' if v32 <= 11 => p.hour12 = Some(v32),
                'm' if v32 <= 59 => p.minute = Some(v32),
                's' if v32 <= 59 => p.second = Some(v32),
                'S' => {
                    p.nano = Some(match dialect {
                        Dialect::DateTimeFormatter => v32 * 10u32.pow(9 - n.min(9) as u32),
                        Dialect::SimpleDateFormat => v32.checked_mul(1_000_000)?,
                    })
                }
                'n' if v32 < 1_000_000_000 => p.nano = Some(v32),
                // Quarter, week and day-of-week numbers are read and ignored, as Flink only
                // completes year/month/day/hour/minute/second/nano.
                'Q' | 'q' | 'w' | 'e' | 'c' | 'u' | 'A' | 'N' => {}
                _ => return None,
            }
            Some(rest)
        }
    }
}

/// `java.sql.Timestamp.valueOf` / `java.sql.Date.valueOf` on a trimmed string: Flink's
/// fallback when `TO_TIMESTAMP(s, fmt)` fails to parse with the pattern.
pub fn parse_sql_timestamp_fallback(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut it = date.split('-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=9999).contains(&y) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let Some(time) = time else {
        return date.and_hms_opt(0, 0, 0);
    };
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let mut it = hms.split(':');
    let h: u32 = it.next()?.parse().ok()?;
    let mi: u32 = it.next()?.parse().ok()?;
    let se: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    let nano = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    date.and_hms_nano_opt(h, mi, se, nano)
}

/// Flink's `DEFAULT_TIMESTAMP_FORMATTER`: `yyyy-[M]M-[d]d[ [H]H:[m]m:[s]s[.fffffffff]]`, whole
/// input. Used by `TO_TIMESTAMP(s)` and `CAST`-like parsing of strings.
pub fn parse_default_timestamp(s: &str) -> Option<NaiveDateTime> {
    let (y, rest) = take_digits(s, 4, 9)?;
    let rest = rest.strip_prefix('-')?;
    let (m, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (d, rest) = take_digits(rest, 1, 2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m as u32, d as u32)?;
    if rest.is_empty() {
        return date.and_hms_opt(0, 0, 0);
    }
    let rest = rest.strip_prefix(' ')?;
    let (h, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (mi, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (se, rest) = take_digits(rest, 1, 2)?;
    let nano = if rest.is_empty() {
        0
    } else {
        let f = rest.strip_prefix('.')?;
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
    };
    date.and_hms_nano_opt(h as u32, mi as u32, se as u32, nano)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    fn fmt(p: &str, d: Dialect, v: &str) -> String {
        let mut out = String::new();
        JavaPattern::compile(p, d)
            .unwrap()
            .format(&dt(v), &Zone::utc(), 0, &mut out);
        out
    }

    #[test]
    fn formats_like_java() {
        use Dialect::*;
        // (pattern, dialect, input, expected) — expected values are what java.time /
        // SimpleDateFormat print in the en_US locale.
        let cases = [
            (
                "yyyy-MM-dd HH:mm:ss",
                DateTimeFormatter,
                "2024-03-05 07:08:09.123",
                "2024-03-05 07:08:09",
            ),
            (
                "yyyyMMdd",
                DateTimeFormatter,
                "2024-03-05 00:00:00",
                "20240305",
            ),
            ("yy/M/d", DateTimeFormatter, "2024-03-05 00:00:00", "24/3/5"),
            (
                "SSS",
                DateTimeFormatter,
                "2024-03-05 00:00:00.123456",
                "123",
            ),
            (
                "SSSSSS",
                DateTimeFormatter,
                "2024-03-05 00:00:00.123456",
                "123456",
            ),
            ("S", DateTimeFormatter, "2024-03-05 00:00:00.123", "1"),
            ("S", SimpleDateFormat, "2024-03-05 00:00:00.123", "123"),
            (
                "EEE, MMM d",
                DateTimeFormatter,
                "2024-03-05 00:00:00",
                "Tue, Mar 5",
            ),
            (
                "EEEE MMMM",
                DateTimeFormatter,
                "2024-03-05 00:00:00",
                "Tuesday March",
            ),
            (
                "hh:mm a",
                DateTimeFormatter,
                "2024-03-05 00:30:00",
                "12:30 AM",
            ),
            ("h a", DateTimeFormatter, "2024-03-05 13:00:00", "1 PM"),
            (
                "'week' w, D",
                DateTimeFormatter,
                "2024-12-29 00:00:00",
                "week 1, 364",
            ),
            (
                "''yyyy''",
                DateTimeFormatter,
                "2024-03-05 00:00:00",
                "'2024'",
            ),
            (
                "yyyy[-MM]",
                DateTimeFormatter,
                "2024-03-05 00:00:00",
                "2024-03",
            ),
            ("QQQ", DateTimeFormatter, "2024-08-05 00:00:00", "Q3"),
            ("u", SimpleDateFormat, "2024-03-10 00:00:00", "7"),
            ("Z X", SimpleDateFormat, "2024-03-10 00:00:00", "+0000 Z"),
        ];
        for (p, d, v, want) in cases {
            assert_eq!(fmt(p, d, v), want, "pattern {p}");
        }
    }

    #[test]
    fn rejects_what_java_rejects() {
        for p in ["yyyy-MM-dd b", "'open", "yyyy}", "HH:mm z"] {
            assert!(
                JavaPattern::compile(p, Dialect::DateTimeFormatter).is_err(),
                "{p}"
            );
        }
    }

    #[test]
    fn parses_like_java() {
        use Dialect::*;
        let cases: [(&str, Dialect, &str, Option<&str>); 10] = [
            (
                "yyyy-MM-dd HH:mm:ss",
                DateTimeFormatter,
                "2024-03-05 07:08:09",
                Some("2024-03-05 07:08:09"),
            ),
            (
                "yyyyMMddHHmmss",
                DateTimeFormatter,
                "20240305070809",
                Some("2024-03-05 07:08:09"),
            ),
            (
                "yyyy-MM-dd",
                DateTimeFormatter,
                "2024-03-05",
                Some("2024-03-05 00:00:00"),
            ),
            (
                "dd/MM/yyyy HH:mm:ss.SSS",
                DateTimeFormatter,
                "05/03/2024 07:08:09.120",
                Some("2024-03-05 07:08:09.12"),
            ),
            // java.time needs the whole input and exact widths.
            ("yyyy-MM-dd", DateTimeFormatter, "2024-03-05 10:00", None),
            ("yyyy-MM-dd", DateTimeFormatter, "2024-3-5", None),
            // SimpleDateFormat ignores trailing text.
            (
                "yyyy-MM-dd",
                SimpleDateFormat,
                "2024-3-5 10:00",
                Some("2024-03-05 00:00:00"),
            ),
            (
                "MMM d yyyy hh:mm a",
                DateTimeFormatter,
                "Mar 5 2024 01:30 PM",
                Some("2024-03-05 13:30:00"),
            ),
            // SMART resolution clamps the day to the month's end.
            (
                "yyyy-MM-dd",
                DateTimeFormatter,
                "2023-02-30",
                Some("2023-02-28 00:00:00"),
            ),
            ("HH:mm", DateTimeFormatter, "25:00", None),
        ];
        for (p, d, input, want) in cases {
            let got = JavaPattern::compile(p, d)
                .unwrap()
                .parse(input)
                .and_then(|p| p.to_naive());
            assert_eq!(got, want.map(dt), "pattern {p} input {input}");
        }
    }

    #[test]
    fn default_and_fallback_timestamp_parsers() {
        assert_eq!(
            parse_default_timestamp("2024-3-5 7:8:9.5"),
            Some(dt("2024-03-05 07:08:09.5"))
        );
        assert_eq!(
            parse_default_timestamp("2024-03-05"),
            Some(dt("2024-03-05 00:00:00"))
        );
        assert_eq!(parse_default_timestamp("2024-03-05T07:08:09"), None);
        assert_eq!(parse_default_timestamp("2024-13-05"), None);
        assert_eq!(
            parse_sql_timestamp_fallback(" 1999-9-10 05:20:10 "),
            Some(dt("1999-09-10 05:20:10"))
        );
        assert_eq!(
            parse_sql_timestamp_fallback("1999-9-10"),
            Some(dt("1999-09-10 00:00:00"))
        );
        assert_eq!(parse_sql_timestamp_fallback("abc"), None);
    }
}
