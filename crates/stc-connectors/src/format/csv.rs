//! Flink's `csv` format.
//!
//! Decoding follows `CsvToRowDataConverters` on top of Jackson's CSV parser: fields are matched
//! by position; a field equal to `csv.null-literal` is NULL; an empty field is `''` in a STRING
//! column and a parse error in a numeric one (Flink runs `Integer.parseInt("")`); BOOLEAN is
//! `Boolean.parseBoolean` (anything but "true", any case, is false); numbers are trimmed;
//! DECIMAL overflowing its precision is NULL; arrays and nested rows are split on
//! `csv.array-element-delimiter`; BYTES are base64. Errors: a row with more fields than the
//! schema fails (skipped with `csv.ignore-parse-errors`); with `ignore-parse-errors` a bad field
//! becomes NULL and a short row is padded with NULLs, exactly as Flink does. Blank lines are
//! skipped; with `csv.allow-comments` lines starting with `#` are skipped.
//!
//! Encoding follows `RowDataToCsvConverters` + Jackson's `CsvEncoder`: numbers and booleans raw,
//! NULL as `csv.null-literal` (empty by default), text values quoted only when Jackson's loose
//! check asks for it — a character below `max(delimiter, quote, '\n') + 1` (so space, `!`, `"`,
//! `#`...`+`, `,`, tab), a backslash, or longer than 24 UTF-16 units — with embedded quotes
//! doubled. Timestamps are `yyyy-MM-dd HH:mm:ss[.fraction without trailing zeros]`
//! (TIMESTAMP_LTZ in UTC with a `Z` suffix), TIME is `ISO_LOCAL_TIME`, decimals are
//! `BigDecimal.toString()` after `stripTrailingZeros`, never quoted (`1E+1`; plain with
//! `csv.write-bigdecimal-in-scientific-notation = false`), arrays and rows are their elements
//! joined by the array delimiter. MAP columns are not supported (as in Flink).

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, SchemaRef, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use stc_common::RowKind;

use super::columns::{Columns, Val};
use super::javafmt as jf;
use super::json::{binary_value, list_value, time_nanos, timestamp_value};
use super::{FormatError, FormatOptions, RecordDecoder, RecordEncoder, Result};

/// Option keys of the csv format (without the `csv.` prefix).
pub const CSV_OPTIONS: &[&str] = &[
    "field-delimiter",
    "disable-quote-character",
    "quote-character",
    "allow-comments",
    "ignore-parse-errors",
    "array-element-delimiter",
    "escape-character",
    "null-literal",
    "write-bigdecimal-in-scientific-notation",
];

#[derive(Debug, Clone)]
struct CsvConfig {
    delimiter: char,
    quote: Option<char>,
    escape: Option<char>,
    allow_comments: bool,
    ignore_errors: bool,
    array_delimiter: String,
    null_literal: Option<String>,
    decimal_scientific: bool,
    /// Delimiter, quote and escape as bytes when all three are ASCII (the byte-level fast
    /// path of [`split_fields`]).
    ascii: Option<(u8, Option<u8>, Option<u8>)>,
}

fn parse_config(options: &HashMap<String, String>) -> Result<CsvConfig> {
    let o = FormatOptions::new("csv", options, CSV_OPTIONS)?;
    let disable_quote = o.bool("disable-quote-character", false)?;
    if disable_quote && o.get("quote-character").is_some() {
        return Err(FormatError::Options(
            "Format cannot define a quote character and disabled quote character at the same time."
                .into(),
        ));
    }
    let array_delimiter = o.get("array-element-delimiter").unwrap_or(";").to_string();
    if array_delimiter.chars().count() != 1 {
        return Err(FormatError::Options(format!(
            "Option 'csv.array-element-delimiter' must be a string with single character, but was: {array_delimiter}"
        )));
    }
    let delimiter = o.char("field-delimiter", Some(','), true)?.unwrap_or(',');
    let quote = if disable_quote {
        None
    } else {
        o.char("quote-character", Some('"'), false)?
    };
    let escape = o.char("escape-character", None, false)?;
    let ascii_byte = |c: char| u8::try_from(c).ok().filter(u8::is_ascii);
    let ascii = match (
        ascii_byte(delimiter),
        quote.map(ascii_byte),
        escape.map(ascii_byte),
    ) {
        (Some(d), None | Some(Some(_)), None | Some(Some(_))) => {
            Some((d, quote.and_then(ascii_byte), escape.and_then(ascii_byte)))
        }
        _ => None,
    };
    Ok(CsvConfig {
        delimiter,
        quote,
        escape,
        ascii,
        allow_comments: o.bool("allow-comments", false)?,
        ignore_errors: o.bool("ignore-parse-errors", false)?,
        array_delimiter,
        null_literal: o.get("null-literal").map(str::to_string),
        decimal_scientific: o.bool("write-bigdecimal-in-scientific-notation", true)?,
    })
}

fn check_csv_type(dt: &DataType, nested: bool) -> Result<()> {
    match dt {
        DataType::Map(..) => Err(FormatError::Options(format!(
            "the csv format does not support type {dt}"
        ))),
        DataType::List(f) | DataType::LargeList(f) => {
            if nested {
                return Err(FormatError::Options(format!(
                    "the csv format does not support nested collections ({dt})"
                )));
            }
            check_csv_type(f.data_type(), true)
        }
        DataType::Struct(fs) => {
            if nested {
                return Err(FormatError::Options(format!(
                    "the csv format does not support nested rows in {dt}"
                )));
            }
            fs.iter()
                .try_for_each(|f| check_csv_type(f.data_type(), true))
        }
        _ => super::columns::Column::new(dt).map(|_| ()),
    }
}

// =============================================================================================
// Decoding
// =============================================================================================

/// Decoder for Flink's csv format.
pub struct CsvDecoder {
    cfg: CsvConfig,
    schema: SchemaRef,
    columns: Columns,
    skipped: u64,
    fields: Fields,
    /// How each column is parsed on the columnar path; `None` when the options rule that
    /// path out for every chunk.
    columnar: Option<Vec<FastKind>>,
    /// Field spans of the current chunk on the columnar path (reused between chunks).
    grid: Vec<(u32, u32)>,
}

impl CsvDecoder {
    pub fn new(schema: SchemaRef, options: &HashMap<String, String>) -> Result<Self> {
        let cfg = parse_config(options)?;
        for f in schema.fields() {
            check_csv_type(f.data_type(), false)?;
        }
        let columnar =
            (cfg.ascii.is_some_and(|(d, _, _)| d != b'\n') && !cfg.allow_comments).then(|| {
                schema
                    .fields()
                    .iter()
                    .map(|f| FastKind::of(f.data_type()))
                    .collect()
            });
        Ok(CsvDecoder {
            cfg,
            columns: Columns::new(schema.clone())?,
            schema,
            skipped: 0,
            fields: Fields::default(),
            columnar,
            grid: Vec::new(),
        })
    }

    /// The columnar path: one `memchr` pass over the whole chunk finds every field, then each
    /// column is parsed in a loop of its own with a parser specialised for its type. It only
    /// takes chunks where the line-by-line path could not do anything else: no quote, escape
    /// or carriage return anywhere, every non-blank line with exactly the schema's field
    /// count, and every field accepted by [`convert_field`]. Anything else returns `false`
    /// with the columns rolled back, and the chunk goes through the line-by-line path, which
    /// stays the definition (errors with line numbers, `ignore-parse-errors`, padding).
    fn decode_columnar(&mut self, text: &str) -> bool {
        let Some(kinds) = &self.columnar else {
            return false;
        };
        let Some((d, q, e)) = self.cfg.ascii else {
            return false;
        };
        let bytes = text.as_bytes();
        let cr = b'\r';
        if self.columns.rows() != 0
            || bytes.len() >= u32::MAX as usize
            || memchr::memchr3(q.unwrap_or(cr), e.unwrap_or(cr), cr, bytes).is_some()
        {
            return false;
        }
        let arity = kinds.len();
        let Some(rows) = field_grid(bytes, d, arity, &mut self.grid) else {
            return false;
        };
        let null = self.cfg.null_literal.as_deref();
        // Timestamps of one chunk nearly always share their date: its day number is kept.
        let mut date = DateMemo::default();
        for (c, kind) in kinds.iter().enumerate() {
            let col = &mut self.columns.cols[c];
            let dt = self.schema.field(c).data_type();
            for r in 0..rows {
                let (a, b) = self.grid[r * arity + c];
                let s = &text[a as usize..b as usize];
                if null == Some(s) {
                    col.push_null();
                    continue;
                }
                let fast = match *kind {
                    FastKind::Str => {
                        col.push_str(s);
                        continue;
                    }
                    FastKind::Int { min, max } => fast_int(s.as_bytes())
                        .filter(|v| (min..=max).contains(v))
                        .map(|v| col.push_int(v)),
                    FastKind::F64 => fast_f64(s).map(|v| col.push_f64(v)),
                    FastKind::Timestamp(unit) => fast_timestamp(s.as_bytes(), &mut date)
                        .and_then(|(days, nanos)| jf::join_timestamp(days, nanos, unit))
                        .map(|v| col.push_int(v)),
                    FastKind::Other => None,
                };
                if fast.is_none() {
                    match convert_field(s, dt, &self.cfg) {
                        Ok(v) => col.push(v),
                        Err(_) => {
                            self.columns.truncate_rows(0);
                            return false;
                        }
                    }
                }
            }
        }
        self.columns.commit_rows(rows);
        true
    }

    fn decode_line(&mut self, line: &str) -> std::result::Result<(), String> {
        split_fields(line, &self.cfg, &mut self.fields)?;
        let arity = self.schema.fields().len();
        if self.fields.len() > arity {
            return Err(format!(
                "Too many entries: expected at most {arity}, got {}",
                self.fields.len()
            ));
        }
        if self.fields.len() < arity && !self.cfg.ignore_errors {
            return Err(format!(
                "Row length mismatch. {arity} fields expected but was {}.",
                self.fields.len()
            ));
        }
        for i in 0..arity {
            let dt = self.schema.field(i).data_type();
            let Some(text) = self.fields.get(line, i) else {
                self.columns.cols[i].push_null();
                continue;
            };
            if self.cfg.null_literal.as_deref() == Some(text) {
                self.columns.cols[i].push_null();
                continue;
            }
            // Strings go straight into the column: no `Val`, no allocation.
            if matches!(
                dt,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                self.columns.cols[i].push_str(text);
                continue;
            }
            match convert_field(text, dt, &self.cfg) {
                Ok(v) => self.columns.cols[i].push(v),
                Err(_) if self.cfg.ignore_errors => self.columns.cols[i].push_null(),
                Err(e) => return Err(format!("field '{}': {e}", self.schema.field(i).name())),
            }
        }
        Ok(())
    }
}

impl RecordDecoder for CsvDecoder {
    fn decode(
        &mut self,
        chunk: &[u8],
        first_line: u64,
        source: &str,
    ) -> Result<Option<RecordBatch>> {
        // One UTF-8 check for the whole chunk (lines are split at '\n', so each line of a
        // valid chunk is valid); only a chunk that fails is checked line by line, to name the
        // line.
        let text = std::str::from_utf8(chunk).ok();
        if let Some(text) = text
            && self.decode_columnar(text)
        {
            return self.columns.finish();
        }
        for (line_no, raw) in super::lines(chunk, first_line) {
            if raw.is_empty() || (self.cfg.allow_comments && raw.first() == Some(&b'#')) {
                continue;
            }
            let line = match text {
                Some(text) => {
                    let start = raw.as_ptr() as usize - chunk.as_ptr() as usize;
                    Ok(&text[start..start + raw.len()])
                }
                None => std::str::from_utf8(raw),
            };
            let result = match line {
                Ok(line) => self.decode_line(line),
                Err(_) => Err("invalid UTF-8".to_string()),
            };
            match result {
                Ok(()) => self.columns.commit_row(),
                Err(reason) => {
                    self.columns.rollback_row();
                    if self.cfg.ignore_errors {
                        self.skipped += 1;
                    } else {
                        let _ = self.columns.finish();
                        return Err(FormatError::Parse {
                            source_name: source.to_string(),
                            line: line_no,
                            record: super::truncate_record(raw),
                            reason,
                        });
                    }
                }
            }
        }
        self.columns.finish()
    }

    fn skipped_records(&self) -> u64 {
        self.skipped
    }
}

/// How the columnar path parses a column (see [`CsvDecoder::decode_columnar`]). Each fast
/// parser accepts a subset of what [`convert_scalar`] accepts and gives the same value; a field
/// outside that subset goes through `convert_field`.
#[derive(Debug, Clone, Copy)]
enum FastKind {
    Str,
    /// An integer column and its value range.
    Int {
        min: i64,
        max: i64,
    },
    F64,
    /// TIMESTAMP(p) without time zone.
    Timestamp(arrow::datatypes::TimeUnit),
    Other,
}

impl FastKind {
    fn of(dt: &DataType) -> FastKind {
        match dt {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => FastKind::Str,
            DataType::Int8 => FastKind::int(i8::MIN.into(), i8::MAX.into()),
            DataType::Int16 => FastKind::int(i16::MIN.into(), i16::MAX.into()),
            DataType::Int32 => FastKind::int(i32::MIN.into(), i32::MAX.into()),
            DataType::Int64 => FastKind::int(i64::MIN, i64::MAX),
            DataType::Float64 => FastKind::F64,
            DataType::Timestamp(unit, None) => FastKind::Timestamp(*unit),
            _ => FastKind::Other,
        }
    }

    fn int(min: i64, max: i64) -> FastKind {
        FastKind::Int { min, max }
    }
}

/// Find every field of a chunk that has no quote, escape or carriage return: `out` gets
/// `arity` (start, end) byte spans per row, blank lines skipped. `None` when a line has another
/// field count (the line-by-line path reports or pads it).
fn field_grid(
    bytes: &[u8],
    delimiter: u8,
    arity: usize,
    out: &mut Vec<(u32, u32)>,
) -> Option<usize> {
    out.clear();
    let (mut start, mut in_line, mut rows) = (0usize, 0usize, 0usize);
    for pos in memchr::memchr2_iter(delimiter, b'\n', bytes) {
        let newline = bytes[pos] == b'\n';
        if newline && in_line == 0 && pos == start {
            start = pos + 1;
            continue;
        }
        out.push((start as u32, pos as u32));
        start = pos + 1;
        in_line += 1;
        if newline {
            if in_line != arity {
                return None;
            }
            in_line = 0;
            rows += 1;
        } else if in_line >= arity {
            return None;
        }
    }
    if start < bytes.len() || in_line > 0 {
        out.push((start as u32, bytes.len() as u32));
        if in_line + 1 != arity {
            return None;
        }
        rows += 1;
    }
    Some(rows)
}

/// Optional `-` and up to 18 digits (so no overflow); `+`, blanks and longer numbers are left
/// to `parse_java_int`.
fn fast_int(s: &[u8]) -> Option<i64> {
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.len() > 18 {
        return None;
    }
    let v = digits(body)?;
    Some(if neg { -v } else { v })
}

/// A plain decimal or scientific number (starting with a digit or `-`, ending with a digit),
/// which `Double.parseDouble` and Rust's parser read alike; blanks, `NaN`, `Infinity` and the
/// `d`/`f` suffixes are left to `parse_java_double`.
fn fast_f64(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let first_ok = matches!(b.first()?, b'0'..=b'9' | b'-');
    let last_ok = b.last()?.is_ascii_digit();
    if !first_ok
        || !last_ok
        || !b
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse().ok()
}

/// The last date [`fast_timestamp`] validated: its text and day number.
#[derive(Default)]
struct DateMemo {
    text: [u8; 10],
    days: Option<i64>,
}

/// `n` ASCII digits as a number; `None` if any byte is not a digit.
#[inline]
fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(v)
}

/// `yyyy-MM-dd HH:mm:ss[.f{1,9}]` exactly (no blanks around it), as (days, nanos of day);
/// everything else is left to `parse_timestamp`.
fn fast_timestamp(b: &[u8], memo: &mut DateMemo) -> Option<(i64, i64)> {
    if b.len() < 19 || b.len() == 20 || b.len() > 29 {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = match memo.days {
        Some(days) if memo.text == b[..10] => days,
        _ => {
            let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
            let days = jf::valid_date(y, m as u32, d as u32)?;
            memo.text.copy_from_slice(&b[..10]);
            memo.days = Some(days);
            days
        }
    };
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut nanos = 0;
    if b.len() > 19 {
        if b[19] != b'.' {
            return None;
        }
        nanos = digits(&b[20..])? * 10i64.pow(29 - b.len() as u32);
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some((days, (h * 3600 + mi * 60 + sec) * 1_000_000_000 + nanos))
}

/// Where one field's text lives: borrowed from the line (the common case: no quotes, no
/// escapes) or unquoted/unescaped into [`Fields::scratch`].
#[derive(Debug, Clone, Copy)]
enum Span {
    Line(usize, usize),
    Scratch(usize, usize),
}

/// The field texts of the current line. Reused from line to line so splitting allocates
/// nothing once the buffers have grown; a field that needs no unquoting is not copied at all.
#[derive(Debug, Default)]
struct Fields {
    spans: Vec<Span>,
    scratch: String,
}

impl Fields {
    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get<'a>(&'a self, line: &'a str, i: usize) -> Option<&'a str> {
        Some(match *self.spans.get(i)? {
            Span::Line(a, b) => &line[a..b],
            Span::Scratch(a, b) => &self.scratch[a..b],
        })
    }
}

/// Split one line into unquoted, unescaped field texts.
///
/// Fields without a quote at their start and without an escape character are found with
/// `memchr` and borrowed from the line; any other field goes through [`unquote_field`], which
/// is the character-level definition of the syntax. The fast path only applies when the
/// delimiter, quote and escape characters are ASCII, so a byte match is a character match.
fn split_fields(line: &str, cfg: &CsvConfig, out: &mut Fields) -> std::result::Result<(), String> {
    out.spans.clear();
    out.scratch.clear();
    let bytes = line.as_bytes();
    let mut pos = 0;
    loop {
        let rest = &bytes[pos..];
        if let Some((d, q, e)) = cfg.ascii {
            let quoted = q.is_some() && rest.first().copied() == q;
            let next = match e {
                None => memchr::memchr(d, rest),
                Some(e) => memchr::memchr2(d, e, rest),
            };
            if !quoted && next.is_none_or(|n| rest[n] == d) {
                match next {
                    Some(n) => {
                        out.spans.push(Span::Line(pos, pos + n));
                        pos += n + 1;
                        continue;
                    }
                    None => {
                        out.spans.push(Span::Line(pos, line.len()));
                        return Ok(());
                    }
                }
            }
        }
        let start = out.scratch.len();
        let ended_at_delimiter = unquote_field(&line[pos..], cfg, &mut out.scratch)?;
        out.spans.push(Span::Scratch(start, out.scratch.len()));
        match ended_at_delimiter {
            Some(n) => pos += n + cfg.delimiter.len_utf8(),
            None => return Ok(()),
        }
    }
}

/// Unquote and unescape the field at the start of `rest` into `out`. Returns the byte offset
/// of the delimiter that ends the field, or `None` when the field runs to the end of the line.
///
/// Jackson's rules: a quote opens a quoted value only as a field's first character (elsewhere
/// it is literal), a doubled quote inside quotes is one quote, the escape character takes the
/// next character literally, and text after a closing quote is appended up to the delimiter.
fn unquote_field(
    rest: &str,
    cfg: &CsvConfig,
    out: &mut String,
) -> std::result::Result<Option<usize>, String> {
    let mut chars = rest.char_indices().peekable();
    let mut at_start = true;
    let mut in_quotes = false;
    while let Some((i, c)) = chars.next() {
        if in_quotes {
            if Some(c) == cfg.escape {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            } else if Some(c) == cfg.quote {
                if chars.peek().map(|(_, n)| *n) == Some(c) {
                    chars.next();
                    out.push(c);
                } else {
                    in_quotes = false;
                }
            } else {
                out.push(c);
            }
            continue;
        }
        if c == cfg.delimiter {
            return Ok(Some(i));
        }
        if at_start && Some(c) == cfg.quote {
            in_quotes = true;
            at_start = false;
            continue;
        }
        at_start = false;
        if Some(c) == cfg.escape {
            if let Some((_, n)) = chars.next() {
                out.push(n);
            }
            continue;
        }
        out.push(c);
    }
    if in_quotes {
        return Err(
            "missing closing quote for a quoted value (quoted values cannot span lines)".into(),
        );
    }
    Ok(None)
}

fn convert_field(text: &str, dt: &DataType, cfg: &CsvConfig) -> std::result::Result<Val, String> {
    if cfg.null_literal.as_deref() == Some(text) {
        return Ok(Val::Null);
    }
    match dt {
        DataType::List(f) | DataType::LargeList(f) => {
            if text.is_empty() {
                return Ok(Val::List(vec![]));
            }
            let items = text
                .split(cfg.array_delimiter.as_str())
                .map(|t| match convert_scalar(t, f.data_type(), cfg) {
                    Err(_) if cfg.ignore_errors => Ok(Val::Null),
                    r => r,
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(Val::List(items))
        }
        DataType::Struct(fields) => {
            if text.is_empty() {
                return Ok(Val::Null);
            }
            let parts: Vec<&str> = text.split(cfg.array_delimiter.as_str()).collect();
            if parts.len() != fields.len() && !cfg.ignore_errors {
                return Err(format!(
                    "Row length mismatch. {} fields expected but was {}.",
                    fields.len(),
                    parts.len()
                ));
            }
            let mut out = Vec::with_capacity(fields.len());
            for (i, f) in fields.iter().enumerate() {
                out.push(match parts.get(i) {
                    None => Val::Null,
                    Some(t) => match convert_scalar(t, f.data_type(), cfg) {
                        Err(_) if cfg.ignore_errors => Val::Null,
                        r => r?,
                    },
                });
            }
            Ok(Val::Struct(out))
        }
        _ => convert_scalar(text, dt, cfg),
    }
}

fn convert_scalar(text: &str, dt: &DataType, cfg: &CsvConfig) -> std::result::Result<Val, String> {
    if cfg.null_literal.as_deref() == Some(text) {
        return Ok(Val::Null);
    }
    Ok(match dt {
        DataType::Boolean => Val::Bool(text.trim().eq_ignore_ascii_case("true")),
        DataType::Int8 => Val::Int(jf::parse_java_int::<i8>(text.trim())? as i64),
        DataType::Int16 => Val::Int(jf::parse_java_int::<i16>(text.trim())? as i64),
        DataType::Int32 => Val::Int(jf::parse_java_int::<i32>(text.trim())? as i64),
        DataType::Int64 => Val::Int(jf::parse_java_int::<i64>(text.trim())?),
        DataType::Float32 => Val::F32(jf::parse_java_float(text)?),
        DataType::Float64 => Val::F64(jf::parse_java_double(text)?),
        DataType::Decimal128(p, s) => match jf::parse_decimal(text, *p, *s)? {
            Some(v) => Val::Dec(v),
            None => Val::Null,
        },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Val::Str(text.to_string()),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            Val::Bin(jf::decode_base64(text.as_bytes())?)
        }
        DataType::Date32 => Val::Int(jf::parse_sql_date(text)?),
        DataType::Time32(_) => Val::Int(jf::parse_time(text, false)? / 1_000_000),
        DataType::Timestamp(unit, tz) => {
            let (days, nanos) = jf::parse_timestamp(text.trim(), b' ', tz.is_some())?;
            Val::Int(jf::join_timestamp(days, nanos, *unit).ok_or("timestamp out of range")?)
        }
        other => return Err(format!("unsupported type {other}")),
    })
}

// =============================================================================================
// Encoding
// =============================================================================================

/// Encoder for Flink's csv format.
pub struct CsvEncoder {
    cfg: CsvConfig,
    min_safe: u32,
    buf: String,
}

impl CsvEncoder {
    pub fn new(schema: SchemaRef, options: &HashMap<String, String>) -> Result<Self> {
        let cfg = parse_config(options)?;
        for f in schema.fields() {
            check_csv_type(f.data_type(), false)?;
        }
        let min_safe = (cfg.delimiter as u32)
            .max(cfg.quote.map_or(0, |q| q as u32))
            .max('\n' as u32)
            + 1;
        Ok(CsvEncoder {
            cfg,
            min_safe,
            buf: String::new(),
        })
    }

    /// Jackson `CsvEncoder._mayNeedQuotes` (loose check).
    fn needs_quotes(&self, s: &str) -> bool {
        if self.cfg.quote.is_none() {
            return false;
        }
        if s.encode_utf16().count() > 24 {
            return true;
        }
        let esc = self.cfg.escape.unwrap_or('\\');
        s.chars()
            .any(|c| (c as u32) < self.min_safe || c == esc || Some(c) == self.cfg.quote)
    }

    fn push_text(&self, out: &mut Vec<u8>, s: &str) {
        if !self.needs_quotes(s) {
            out.extend_from_slice(s.as_bytes());
            return;
        }
        let q = self.cfg.quote.unwrap_or('"');
        let mut tmp = [0u8; 4];
        out.extend_from_slice(q.encode_utf8(&mut tmp).as_bytes());
        for c in s.chars() {
            if c == q || Some(c) == self.cfg.escape {
                // A quote is doubled; with an escape character configured, the escape character
                // itself is doubled too (Jackson's _writeQuotedAndEscaped).
                out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        }
        out.extend_from_slice(q.encode_utf8(&mut tmp).as_bytes());
    }

    fn null_text(&self) -> &str {
        self.cfg.null_literal.as_deref().unwrap_or("")
    }

    /// The text of a scalar, and whether it goes through Jackson's string path (quoting check)
    /// rather than the raw number/boolean path.
    fn scalar_text(&self, a: &dyn Array, i: usize, s: &mut String) -> Result<bool> {
        use std::fmt::Write as _;
        s.clear();
        let raw = match a.data_type() {
            DataType::Boolean => {
                s.push_str(if a.as_boolean().value(i) {
                    "true"
                } else {
                    "false"
                });
                true
            }
            DataType::Int8 => write!(s, "{}", a.as_primitive::<Int8Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::Int16 => write!(s, "{}", a.as_primitive::<Int16Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::Int32 => write!(s, "{}", a.as_primitive::<Int32Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::Int64 => write!(s, "{}", a.as_primitive::<Int64Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::UInt8 => write!(s, "{}", a.as_primitive::<UInt8Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::UInt16 => write!(s, "{}", a.as_primitive::<UInt16Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::UInt32 => write!(s, "{}", a.as_primitive::<UInt32Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::UInt64 => write!(s, "{}", a.as_primitive::<UInt64Type>().value(i))
                .map(|_| true)
                .unwrap_or(true),
            DataType::Float32 => {
                s.push_str(&jf::java_float_to_string(
                    a.as_primitive::<Float32Type>().value(i),
                ));
                true
            }
            DataType::Float64 => {
                s.push_str(&jf::java_double_to_string(
                    a.as_primitive::<Float64Type>().value(i),
                ));
                true
            }
            DataType::Decimal128(_, scale) => {
                let (u, sc) = jf::strip_trailing_zeros(
                    a.as_primitive::<Decimal128Type>().value(i),
                    *scale as i32,
                );
                s.push_str(&if self.cfg.decimal_scientific {
                    jf::java_big_decimal_to_string(u, sc)
                } else {
                    jf::java_big_decimal_to_plain_string(u, sc)
                });
                true
            }
            DataType::Utf8 => {
                s.push_str(a.as_string::<i32>().value(i));
                false
            }
            DataType::LargeUtf8 => {
                s.push_str(a.as_string::<i64>().value(i));
                false
            }
            DataType::Utf8View => {
                s.push_str(a.as_string_view().value(i));
                false
            }
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => {
                s.push_str(&jf::base64_string(binary_value(a, i)));
                false
            }
            DataType::Date32 => {
                jf::push_date(s, a.as_primitive::<Date32Type>().value(i) as i64);
                false
            }
            DataType::Time32(_) | DataType::Time64(_) => {
                jf::push_time_stripped(s, time_nanos(a, i));
                false
            }
            DataType::Timestamp(unit, tz) => {
                let (days, nanos) = jf::split_timestamp(timestamp_value(a, i, *unit), *unit);
                jf::push_timestamp_stripped(s, days, nanos, ' ');
                if tz.is_some() {
                    s.push('Z');
                }
                false
            }
            other => {
                return Err(FormatError::Encode(format!(
                    "the csv format cannot write type {other}"
                )));
            }
        };
        Ok(!raw)
    }

    fn write_field(&mut self, out: &mut Vec<u8>, a: &dyn Array, i: usize) -> Result<()> {
        if a.is_null(i) {
            out.extend_from_slice(self.null_text().as_bytes());
            return Ok(());
        }
        let mut s = std::mem::take(&mut self.buf);
        match a.data_type() {
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                let items = list_value(a, i);
                let joined = self.join(items.as_ref(), 0..items.len(), |_, j| j)?;
                self.push_text(out, &joined);
            }
            DataType::Struct(_) => {
                let st = a.as_struct();
                let mut joined = String::new();
                let mut elem = String::new();
                for (k, c) in st.columns().iter().enumerate() {
                    if k > 0 {
                        joined.push_str(&self.cfg.array_delimiter);
                    }
                    if c.is_null(i) {
                        joined.push_str(self.null_text());
                    } else {
                        self.scalar_text(c.as_ref(), i, &mut elem)?;
                        joined.push_str(&elem);
                    }
                }
                self.push_text(out, &joined);
            }
            _ => {
                if self.scalar_text(a, i, &mut s)? {
                    self.push_text(out, &s);
                } else {
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
        self.buf = s;
        Ok(())
    }

    fn join(
        &self,
        items: &dyn Array,
        range: std::ops::Range<usize>,
        idx: impl Fn(&dyn Array, usize) -> usize,
    ) -> Result<String> {
        let mut joined = String::new();
        let mut elem = String::new();
        for (n, j) in range.enumerate() {
            if n > 0 {
                joined.push_str(&self.cfg.array_delimiter);
            }
            let j = idx(items, j);
            if items.is_null(j) {
                joined.push_str(self.null_text());
            } else {
                self.scalar_text(items, j, &mut elem)?;
                joined.push_str(&elem);
            }
        }
        Ok(joined)
    }
}

impl RecordEncoder for CsvEncoder {
    fn encode(
        &mut self,
        batch: &RecordBatch,
        kinds: Option<&[RowKind]>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        super::check_insert_only("csv", kinds)?;
        let mut delim = [0u8; 4];
        let delim = self
            .cfg
            .delimiter
            .encode_utf8(&mut delim)
            .as_bytes()
            .to_vec();
        for row in 0..batch.num_rows() {
            for (k, c) in batch.columns().iter().enumerate() {
                if k > 0 {
                    out.extend_from_slice(&delim);
                }
                self.write_field(out, c.as_ref(), row)?;
            }
            out.push(b'\n');
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
