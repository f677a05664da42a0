//! Flink's `json` format.
//!
//! Decoding follows `JsonToRowDataConverters`: a missing field is NULL (or an error with
//! `json.fail-on-missing-field`); numbers given as strings are accepted (`Integer.parseInt` of
//! the trimmed text); a JSON float into an INT/BIGINT column is truncated (Jackson's
//! `canConvertToInt`); a non-string value into a STRING column becomes its JSON text; BOOLEAN
//! from a non-boolean is `Boolean.parseBoolean` (anything but "true" is false); DECIMAL
//! overflowing its precision is NULL; any other conversion failure fails the row
//! (`json.ignore-parse-errors` skips it). Unknown keys are ignored; for a repeated key the first
//! occurrence wins. Blank lines are skipped.
//!
//! The decoder is a hand-written byte scanner that appends straight into column accumulators
//! (no per-row `serde_json::Value`); nested values go through a small value tree.
//!
//! Encoding follows `RowDataToJsonConverters` + Jackson's generator: field order of the schema,
//! `null` for NULL, Java `Double.toString`/`Float.toString` (NaN and infinities as quoted
//! strings), decimals as `BigDecimal.toString()` of the value with trailing zeros stripped
//! (`1200.00` → `1.2E+3`, `0.10` → `0.1`; `json.encode.decimal-as-plain-number` gives
//! `1200`), DATE `yyyy-MM-dd`, TIME `HH:mm:ss` (sub-second part dropped, as Flink does),
//! TIMESTAMP `yyyy-MM-dd HH:mm:ss[.fraction without trailing zeros]` (or ISO-8601 with `T`),
//! TIMESTAMP_LTZ the same in UTC with a `Z` suffix, BYTES as base64, non-BMP characters as
//! `\uXXXX\uXXXX` escapes (Jackson does that), maps and rows as objects, arrays as arrays.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, SchemaRef, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use stc_common::RowKind;

use super::columns::{Column, Columns, Val, is_nested};
use super::javafmt::{self as jf};
use super::{FormatError, FormatOptions, RecordDecoder, RecordEncoder, Result};

/// Option keys of the json format (without the `json.` prefix).
pub const JSON_OPTIONS: &[&str] = &[
    "fail-on-missing-field",
    "ignore-parse-errors",
    "timestamp-format.standard",
    "map-null-key.mode",
    "map-null-key.literal",
    "encode.decimal-as-plain-number",
    "encode.ignore-null-fields",
    "decode.json-parser.enabled",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsFormat {
    Sql,
    Iso,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NullKeyMode {
    Fail,
    Drop,
    Literal(String),
}

struct JsonConfig {
    fail_on_missing: bool,
    ignore_errors: bool,
    ts: TsFormat,
    null_key: NullKeyMode,
    decimal_plain: bool,
    ignore_null_fields: bool,
    /// The date part of the last TIMESTAMP decoded and its day number: event streams carry
    /// the same date in nearly every record, and its calendar arithmetic was a visible share
    /// of decoding.
    last_date: std::cell::Cell<([u8; 10], i64)>,
}

fn parse_config(options: &HashMap<String, String>) -> Result<JsonConfig> {
    let o = FormatOptions::new("json", options, JSON_OPTIONS)?;
    let fail_on_missing = o.bool("fail-on-missing-field", false)?;
    let ignore_errors = o.bool("ignore-parse-errors", false)?;
    if fail_on_missing && ignore_errors {
        return Err(FormatError::Options(
            "fail-on-missing-field and ignore-parse-errors shouldn't both be true.".into(),
        ));
    }
    let ts = match o.get("timestamp-format.standard").unwrap_or("SQL") {
        "SQL" => TsFormat::Sql,
        "ISO-8601" => TsFormat::Iso,
        v => {
            return Err(FormatError::Options(format!(
                "Unsupported value '{v}' for timestamp-format.standard. Supported values are [SQL, ISO-8601]."
            )));
        }
    };
    let literal = o.get("map-null-key.literal").unwrap_or("null").to_string();
    let null_key = match o
        .get("map-null-key.mode")
        .unwrap_or("FAIL")
        .to_ascii_uppercase()
        .as_str()
    {
        "FAIL" => NullKeyMode::Fail,
        "DROP" => NullKeyMode::Drop,
        "LITERAL" => NullKeyMode::Literal(literal),
        v => {
            return Err(FormatError::Options(format!(
                "Unsupported value '{v}' for option map-null-key.mode. Supported values are [LITERAL, FAIL, DROP]."
            )));
        }
    };
    o.bool("decode.json-parser.enabled", true)?;
    Ok(JsonConfig {
        fail_on_missing,
        ignore_errors,
        ts,
        null_key,
        decimal_plain: o.bool("encode.decimal-as-plain-number", false)?,
        ignore_null_fields: o.bool("encode.ignore-null-fields", false)?,
        // No text is all NUL bytes with a valid date: the first lookup always misses.
        last_date: std::cell::Cell::new(([0; 10], 0)),
    })
}

// =============================================================================================
// Decoding
// =============================================================================================

/// Decoder for Flink's json format.
pub struct JsonDecoder {
    cfg: JsonConfig,
    schema: SchemaRef,
    types: Vec<DataType>,
    columns: Columns,
    /// Field name → column index.
    index: hashbrown::HashMap<Box<[u8]>, usize>,
    /// The field names, by column index.
    names: Vec<Box<[u8]>>,
    seen: Vec<bool>,
    skipped: u64,
    scratch: String,
    /// A value that does not fit its column becomes NULL instead of failing the row.
    null_bad_fields: bool,
}

impl JsonDecoder {
    pub fn new(schema: SchemaRef, options: &HashMap<String, String>) -> Result<Self> {
        let cfg = parse_config(options)?;
        for f in schema.fields() {
            check_json_type(f.data_type())?;
        }
        let names: Vec<Box<[u8]>> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_bytes().into())
            .collect();
        let index = names.iter().cloned().zip(0..).collect();
        Ok(JsonDecoder {
            cfg,
            columns: Columns::new(schema.clone())?,
            seen: vec![false; schema.fields().len()],
            types: schema
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
            schema,
            index,
            names,
            skipped: 0,
            scratch: String::new(),
            null_bad_fields: false,
        })
    }

    fn decode_line(&mut self, line: &[u8]) -> std::result::Result<(), String> {
        self.decode_text(Parser::new(line)?)
    }

    /// Decodes the JSON object `p` holds into a new row (not committed).
    fn decode_text(&mut self, mut p: Parser<'_>) -> std::result::Result<(), String> {
        p.ws();
        p.expect(b'{')?;
        self.seen.iter_mut().for_each(|s| *s = false);
        p.ws();
        if p.peek() == Some(b'}') {
            p.i += 1;
        } else {
            let mut hint = 0;
            loop {
                p.ws();
                let idx = field_key(
                    &mut p,
                    &mut self.scratch,
                    &mut hint,
                    |h| self.names.get(h).map(|n| &**n),
                    |key| self.index.get(key.as_bytes()).copied(),
                )?;
                p.ws();
                p.expect(b':')?;
                p.ws();
                match idx {
                    Some(i) if !self.seen[i] => {
                        self.seen[i] = true;
                        let col = &mut self.columns.cols[i];
                        let (start, len) = (p.i, col.len());
                        if let Err(e) = read_into(&mut p, &self.types[i], col, &self.cfg) {
                            if !self.null_bad_fields {
                                return Err(format!(
                                    "Fail to deserialize at field: {}. {e}",
                                    self.schema.field(i).name()
                                ));
                            }
                            // The value is well-formed JSON that does not fit the column:
                            // NULL, as Flink's changelog formats do with ignore-parse-errors.
                            col.truncate(len);
                            p.i = start;
                            p.skip_value(0)?;
                            col.push_null();
                        }
                    }
                    _ => p.skip_value(0)?,
                }
                p.ws();
                match p.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(p.err("expected ',' or '}'")),
                }
            }
        }
        p.ws();
        if p.i != p.b.len() {
            return Err(p.err("unexpected content after the JSON object"));
        }
        for i in 0..self.seen.len() {
            if !self.seen[i] {
                if self.cfg.fail_on_missing {
                    return Err(format!(
                        "Could not find field with name '{}'.",
                        self.schema.field(i).name()
                    ));
                }
                self.columns.cols[i].push_null();
            }
        }
        Ok(())
    }
}

/// What the changelog formats (`format/changelog.rs`) use: rows given as single JSON
/// objects, committed or dropped a record at a time.
impl JsonDecoder {
    /// Decodes one JSON object into a new row; on error nothing of it is kept.
    pub(crate) fn push_object(&mut self, object: &[u8]) -> std::result::Result<(), String> {
        match self.decode_line(object) {
            Ok(()) => {
                self.columns.commit_row();
                Ok(())
            }
            Err(e) => {
                self.columns.rollback_row();
                Err(e)
            }
        }
    }

    /// From now on a value that does not fit its column is read as NULL (the row is kept).
    pub(crate) fn null_bad_fields(&mut self) {
        self.null_bad_fields = true;
    }

    /// Rows decoded and not yet taken by [`finish_rows`](Self::finish_rows).
    pub(crate) fn pending_rows(&self) -> usize {
        self.columns.rows()
    }

    /// Drops the rows after the first `n` pending ones.
    pub(crate) fn truncate_rows(&mut self, n: usize) {
        self.columns.truncate_rows(n);
    }

    /// The pending rows as one batch.
    pub(crate) fn finish_rows(&mut self) -> Result<Option<RecordBatch>> {
        self.columns.finish()
    }
}

/// The top-level members of the JSON object `b`, each value as its raw JSON text (so numbers
/// keep every digit until the column type decides).
pub(crate) fn object_members(b: &[u8]) -> std::result::Result<Vec<(String, &[u8])>, String> {
    let mut p = Parser::new(b)?;
    let mut out = Vec::new();
    p.ws();
    walk_object(&mut p, 0, |p, key| {
        let start = p.i;
        p.skip_value(0)?;
        out.push((key.into_owned(), &b[start..p.i]));
        Ok(true)
    })?;
    p.ws();
    if p.i != b.len() {
        return Err(p.err("unexpected content after the JSON object"));
    }
    Ok(out)
}

/// The elements of the JSON array `b`, each as its raw JSON text.
pub(crate) fn array_elements(b: &[u8]) -> std::result::Result<Vec<&[u8]>, String> {
    let mut p = Parser::new(b)?;
    let mut out = Vec::new();
    p.ws();
    p.expect(b'[')?;
    p.ws();
    if p.peek() == Some(b']') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let start = p.i;
            p.skip_value(0)?;
            out.push(&b[start..p.i]);
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b']') => break,
                _ => return Err(p.err("expected ',' or ']'")),
            }
        }
    }
    p.ws();
    if p.i != b.len() {
        return Err(p.err("unexpected content after the JSON array"));
    }
    Ok(out)
}

impl RecordDecoder for JsonDecoder {
    fn decode(
        &mut self,
        chunk: &[u8],
        first_line: u64,
        source: &str,
    ) -> Result<Option<RecordBatch>> {
        // UTF-8 is validated for the whole chunk at once when it is valid (one long run is
        // checked several times faster than many short ones); otherwise line by line, so
        // that the error names the line.
        let text = std::str::from_utf8(chunk).ok();
        for (line_no, line) in super::lines(chunk, first_line) {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let decoded = match text {
                Some(text) => {
                    // Lines are split at ASCII bytes: the slice is on character boundaries.
                    let at = line.as_ptr() as usize - chunk.as_ptr() as usize;
                    self.decode_text(Parser::from_str(&text[at..at + line.len()]))
                }
                None => self.decode_line(line),
            };
            match decoded {
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
                            record: super::truncate_record(line),
                            reason: format!("Failed to deserialize JSON: {reason}"),
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

fn check_json_type(dt: &DataType) -> Result<()> {
    match dt {
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type() {
                if !matches!(
                    kv[0].data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) {
                    return Err(FormatError::Options(format!(
                        "JSON format doesn't support non-string as key type of map. The type is: {dt}"
                    )));
                }
                check_json_type(kv[1].data_type())?;
            }
            Ok(())
        }
        DataType::List(f) | DataType::LargeList(f) => check_json_type(f.data_type()),
        DataType::Struct(fs) => fs.iter().try_for_each(|f| check_json_type(f.data_type())),
        _ => Column::new(dt).map(|_| ()),
    }
}

/// A JSON text, validated as UTF-8 once as a whole: string tokens are then slices of `s`
/// (their bounds are ASCII quotes and backslashes, so slicing never splits a character)
/// instead of being validated one by one.
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// A bit (the top one) set in each byte of `word` (little-endian) that may be a quote, a
/// backslash or a control character: the lowest set bit is exactly the first such byte
/// (the subtraction's borrow can only flag bytes above a real one). Bytes >= 0x80 (UTF-8
/// sequences) are never flagged.
#[inline]
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    ((quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (word.wrapping_sub(ONES * 0x20) & !word))
        & TOPS
}

/// A scalar token (strings already unescaped).
enum Tok<'a> {
    Null,
    Bool(bool),
    /// Number text and whether it is an integer literal.
    Num(&'a str, bool),
    Str(std::borrow::Cow<'a, str>),
}

impl<'a> Parser<'a> {
    fn new(b: &'a [u8]) -> std::result::Result<Self, String> {
        match std::str::from_utf8(b) {
            Ok(s) => Ok(Parser { s, b, i: 0 }),
            Err(e) => Err(format!("invalid UTF-8 at column {}", e.valid_up_to() + 1)),
        }
    }

    fn from_str(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            i: 0,
        }
    }

    fn err(&self, what: &str) -> String {
        format!("{what} at column {}", self.i + 1)
    }
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = self.b.get(self.i).copied();
        self.i += 1;
        c
    }
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }
    #[inline]
    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.expected(c))
        }
    }

    #[cold]
    fn expected(&self, c: u8) -> String {
        self.err(&format!("expected '{}'", c as char))
    }

    /// Consumes the next token if it is the string `name` written without escapes, as
    /// producers write keys: one comparison instead of scanning and unescaping the key. A
    /// name with a quote, backslash or control character never matches (its JSON text
    /// differs from its bytes); such keys take the general path.
    #[inline]
    fn take_key(&mut self, name: &[u8]) -> bool {
        let end = self.i + name.len() + 2;
        if end <= self.b.len()
            && self.b[self.i] == b'"'
            && self.b[end - 1] == b'"'
            // A byte loop: keys are short, and slice equality would call memcmp.
            && self.b[self.i + 1..end - 1]
                .iter()
                .zip(name)
                .all(|(&k, &c)| k == c && c != b'"' && c != b'\\' && c >= 0x20)
        {
            self.i = end;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8]) -> std::result::Result<(), String> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("unrecognized token"))
        }
    }

    /// A string token, borrowed when it has no escapes.
    fn string_raw<'s>(
        &mut self,
        scratch: &'s mut String,
    ) -> std::result::Result<std::borrow::Cow<'a, str>, String>
    where
        'a: 's,
    {
        self.expect(b'"')?;
        let start = self.i;
        let stop = self.plain_span()?;
        if self.peek() == Some(b'"') {
            self.i += 1;
            return Ok(std::borrow::Cow::Borrowed(&self.s[start..stop]));
        }
        scratch.clear();
        scratch.push_str(&self.s[start..stop]);
        loop {
            match self.next() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => return Ok(std::borrow::Cow::Owned(scratch.clone())),
                Some(b'\\') => {
                    let e = self.next().ok_or_else(|| self.err("unterminated string"))?;
                    match e {
                        b'"' => scratch.push('"'),
                        b'\\' => scratch.push('\\'),
                        b'/' => scratch.push('/'),
                        b'b' => scratch.push('\u{8}'),
                        b'f' => scratch.push('\u{c}'),
                        b'n' => scratch.push('\n'),
                        b'r' => scratch.push('\r'),
                        b't' => scratch.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.b[self.i..].starts_with(b"\\u") {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                    } else {
                                        return Err(self.err("invalid surrogate pair"));
                                    }
                                } else {
                                    return Err(self.err("unpaired surrogate"));
                                }
                            }
                            let ch =
                                char::from_u32(cp).ok_or_else(|| self.err("invalid \\u escape"))?;
                            scratch.push(ch);
                        }
                        _ => return Err(self.err("unrecognized character escape")),
                    }
                    let from = self.i;
                    let to = self.plain_span()?;
                    scratch.push_str(&self.s[from..to]);
                }
                Some(_) => unreachable!("plain_span stops at a quote or a backslash"),
            }
        }
    }

    /// Moves to the next quote or backslash (or the end) and returns its position; a control
    /// character before it is an error. The first 64 bytes are scanned a word at a time; past
    /// them, the span is found with memchr's vectorised search and then checked for control
    /// characters in one (vectorisable) pass.
    #[inline]
    fn plain_span(&mut self) -> std::result::Result<usize, String> {
        // Most strings (every key, most values) end within a few dozen bytes: they are scanned
        // 8 bytes at a time in a register (memchr's vector search pays off only on longer
        // ones), which finds quotes, backslashes and control characters in one pass.
        let short = (self.i + 64).min(self.b.len());
        while self.i + 8 <= short {
            let word = u64::from_le_bytes(
                self.b[self.i..self.i + 8]
                    .try_into()
                    .expect("an 8-byte slice"),
            );
            let hits = special_bytes(word);
            if hits != 0 {
                self.i += hits.trailing_zeros() as usize / 8;
                return self.span_end();
            }
            self.i += 8;
        }
        while self.i < short {
            match self.b[self.i] {
                b'"' | b'\\' => return Ok(self.i),
                c if c < 0x20 => return self.span_end(),
                _ => self.i += 1,
            }
        }
        let start = self.i;
        let stop =
            memchr::memchr2(b'"', b'\\', &self.b[start..]).map_or(self.b.len(), |n| start + n);
        if let Some(n) = self.b[start..stop].iter().position(|&c| c < 0x20) {
            self.i = start + n;
            return Err(self.err("illegal unquoted control character in string"));
        }
        self.i = stop;
        Ok(stop)
    }

    /// The plain span ends at `self.i`: a quote or backslash, or a control character (an
    /// error).
    #[inline]
    fn span_end(&self) -> std::result::Result<usize, String> {
        if self.b[self.i] < 0x20 {
            return Err(self.err("illegal unquoted control character in string"));
        }
        Ok(self.i)
    }

    fn hex4(&mut self) -> std::result::Result<u32, String> {
        let s = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let v = std::str::from_utf8(s)
            .ok()
            .and_then(|t| u32::from_str_radix(t, 16).ok());
        self.i += 4;
        v.ok_or_else(|| self.err("invalid \\u escape"))
    }

    fn number(&mut self) -> std::result::Result<(&'a str, bool), String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let int_len = self.i - int_start;
        if int_len == 0 || (int_len > 1 && self.b[int_start] == b'0') {
            return Err(self.err("invalid number"));
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.i += 1;
            let f = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == f {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            let e = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == e {
                return Err(self.err("invalid number"));
            }
        }
        Ok((&self.s[start..self.i], integral))
    }

    /// Read a scalar token, or `None` when the value is an object/array (left unconsumed).
    fn scalar(&mut self, scratch: &mut String) -> std::result::Result<Option<Tok<'a>>, String> {
        match self.peek() {
            Some(b'"') => Ok(Some(Tok::Str(self.string_raw(scratch)?))),
            Some(b'n') => self.literal(b"null").map(|_| Some(Tok::Null)),
            Some(b't') => self.literal(b"true").map(|_| Some(Tok::Bool(true))),
            Some(b'f') => self.literal(b"false").map(|_| Some(Tok::Bool(false))),
            Some(b'-' | b'0'..=b'9') => self.number().map(|(s, i)| Some(Tok::Num(s, i))),
            Some(b'{' | b'[') => Ok(None),
            _ => Err(self.err("unexpected character")),
        }
    }

    fn skip_value(&mut self, depth: usize) -> std::result::Result<(), String> {
        if depth > 512 {
            return Err(self.err("nesting too deep"));
        }
        let mut scratch = String::new();
        match self.peek() {
            Some(b'{') => walk_object(self, depth, |_, _| Ok(false)),
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => {}
                        Some(b']') => return Ok(()),
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            _ => self.scalar(&mut scratch).map(|_| ()),
        }
    }

    /// The compact JSON text of the next value (Jackson's `JsonNode.toString()`).
    fn value_text(&mut self) -> std::result::Result<String, String> {
        let start = self.i;
        self.skip_value(0)?;
        let raw = &self.b[start..self.i];
        let v: serde_json::Value =
            serde_json::from_slice(raw).map_err(|e| format!("invalid JSON value: {e}"))?;
        Ok(v.to_string())
    }
}

/// Jackson's `asText()` of a scalar token.
fn as_text<'t>(tok: &'t Tok<'_>) -> std::borrow::Cow<'t, str> {
    match tok {
        Tok::Null => "null".into(),
        Tok::Bool(b) => if *b { "true" } else { "false" }.into(),
        Tok::Num(s, true) => (*s).into(),
        Tok::Num(s, false) => {
            jf::java_double_to_string(s.parse::<f64>().unwrap_or(f64::NAN)).into()
        }
        Tok::Str(s) => s.as_ref().into(),
    }
}

fn read_into(
    p: &mut Parser<'_>,
    dt: &DataType,
    col: &mut Column,
    cfg: &JsonConfig,
) -> std::result::Result<(), String> {
    if let DataType::Struct(fields) = dt
        && fields.len() <= 64
    {
        return read_struct_into(p, fields, col, cfg, 0);
    }
    if is_nested(dt) {
        let v = read_val(p, dt, cfg, 0)?;
        col.push(v);
        return Ok(());
    }
    let mut scratch = String::new();
    // The common cases without a token or a `Val`: an integer literal in range for an INT or
    // BIGINT column, a string for a STRING or TIMESTAMP column. Anything else (and every error) takes
    // the general path below.
    match dt {
        DataType::Int64 | DataType::Int32 if matches!(p.peek(), Some(b'-' | b'0'..=b'9')) => {
            let (text, integral) = p.number()?;
            let (min, max) = if matches!(dt, DataType::Int64) {
                (i64::MIN, i64::MAX)
            } else {
                (i32::MIN as i64, i32::MAX as i64)
            };
            match integral.then(|| text.parse::<i64>()) {
                Some(Ok(v)) if (min..=max).contains(&v) => col.push_int(v),
                _ => col.push(convert_scalar(&Tok::Num(text, integral), dt, cfg)?),
            }
            return Ok(());
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if p.peek() == Some(b'"') => {
            col.push_str(&p.string_raw(&mut scratch)?);
            return Ok(());
        }
        DataType::Timestamp(unit, tz) if p.peek() == Some(b'"') => {
            let text = p.string_raw(&mut scratch)?;
            col.push_int(json_timestamp(&text, *unit, tz.is_some(), cfg)?);
            return Ok(());
        }
        _ => {}
    }
    match p.scalar(&mut scratch)? {
        None => {
            // Object or array into a scalar column.
            match dt {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    let t = p.value_text()?;
                    col.push_str(&t);
                }
                DataType::Boolean => {
                    p.skip_value(0)?;
                    col.push(Val::Bool(false));
                }
                _ => return Err(format!("cannot convert a JSON object or array to {dt}")),
            }
        }
        Some(Tok::Null) => col.push_null(),
        Some(Tok::Str(s))
            if matches!(
                dt,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            col.push_str(&s)
        }
        Some(tok) => col.push(convert_scalar(&tok, dt, cfg)?),
    }
    Ok(())
}

/// A ROW value decoded straight into the field columns of `col`, with the semantics of
/// [`read_val`]'s `Struct` arm (the first value of a repeated key wins, a missing field is NULL
/// or fails with `fail-on-missing-field`) but no `Val` tree: field names are compared without
/// allocating and scalar fields go through [`read_into`]. At most 64 fields (a bit set of the
/// fields seen); wider rows take `read_val`.
fn read_struct_into(
    p: &mut Parser<'_>,
    fields: &arrow::datatypes::Fields,
    col: &mut Column,
    cfg: &JsonConfig,
    depth: usize,
) -> std::result::Result<(), String> {
    if depth > 256 {
        return Err(p.err("nesting too deep"));
    }
    if p.peek() == Some(b'n') {
        p.literal(b"null")?;
        col.push_null();
        return Ok(());
    }
    let children = col
        .struct_children()
        .ok_or("internal: a ROW column without field columns")?;
    let mut seen = 0u64;
    let mut hint = 0;
    walk_members(
        p,
        depth,
        |p, scratch| {
            field_key(
                p,
                scratch,
                &mut hint,
                |h| fields.get(h).map(|f| f.name().as_bytes()),
                |key| fields.iter().position(|f| f.name().as_str() == key),
            )
        },
        |p, i| {
            let Some(i) = i.filter(|i| seen & (1 << i) == 0) else {
                return Ok(false);
            };
            seen |= 1 << i;
            let child = &mut children[i];
            match fields[i].data_type() {
                DataType::Struct(inner) if inner.len() <= 64 => {
                    read_struct_into(p, inner, child, cfg, depth + 1)?
                }
                dt if is_nested(dt) => child.push(read_val(p, dt, cfg, depth + 1)?),
                dt => read_into(p, dt, child, cfg)?,
            }
            Ok(true)
        },
    )?;
    for (i, f) in fields.iter().enumerate() {
        if seen & (1 << i) == 0 {
            if cfg.fail_on_missing {
                return Err(format!("Could not find field with name '{}'.", f.name()));
            }
            children[i].push_null();
        }
    }
    col.push_struct_valid();
    Ok(())
}

fn convert_scalar(
    tok: &Tok<'_>,
    dt: &DataType,
    cfg: &JsonConfig,
) -> std::result::Result<Val, String> {
    if let Tok::Null = tok {
        return Ok(Val::Null);
    }
    Ok(match dt {
        DataType::Boolean => match tok {
            Tok::Bool(b) => Val::Bool(*b),
            t => Val::Bool(as_text(t).trim().eq_ignore_ascii_case("true")),
        },
        DataType::Int8 => Val::Int(jf::parse_java_int::<i8>(as_text(tok).trim())? as i64),
        DataType::Int16 => Val::Int(jf::parse_java_int::<i16>(as_text(tok).trim())? as i64),
        DataType::Int32 => Val::Int(json_int(tok, i32::MIN as i64, i32::MAX as i64)?),
        DataType::Int64 => Val::Int(json_int(tok, i64::MIN, i64::MAX)?),
        DataType::Float32 => match tok {
            Tok::Num(s, _) => Val::F32(s.parse::<f64>().map_err(|e| e.to_string())? as f32),
            t => Val::F32(jf::parse_java_float(&as_text(t))?),
        },
        DataType::Float64 => match tok {
            Tok::Num(s, _) => Val::F64(s.parse::<f64>().map_err(|e| e.to_string())?),
            t => Val::F64(jf::parse_java_double(&as_text(t))?),
        },
        DataType::Decimal128(p, s) => {
            let text = match tok {
                Tok::Num(s, _) => std::borrow::Cow::Borrowed(*s),
                t => as_text(t),
            };
            match jf::parse_decimal(&text, *p, *s)? {
                Some(v) => Val::Dec(v),
                None => Val::Null,
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => match tok {
            Tok::Str(s) => Val::Str(s.to_string()),
            Tok::Num(s, _) => Val::Str((*s).to_string()),
            t => Val::Str(as_text(t).into_owned()),
        },
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => match tok {
            Tok::Str(s) => Val::Bin(jf::decode_base64(s.as_bytes())?),
            _ => return Err("expected a base64 string for a BYTES field".into()),
        },
        DataType::Date32 => Val::Int(jf::parse_iso_date(&as_text(tok))?),
        DataType::Time32(_) => Val::Int(jf::parse_time(&as_text(tok), true)? / 1_000_000),
        DataType::Timestamp(unit, tz) => {
            Val::Int(json_timestamp(&as_text(tok), *unit, tz.is_some(), cfg)?)
        }
        other => return Err(format!("unsupported type {other}")),
    })
}

/// A TIMESTAMP (`zulu`: TIMESTAMP_LTZ) from its text in the configured standard, in `unit`s.
fn json_timestamp(
    text: &str,
    unit: TimeUnit,
    zulu: bool,
    cfg: &JsonConfig,
) -> std::result::Result<i64, String> {
    let sep = if cfg.ts == TsFormat::Sql { b' ' } else { b'T' };
    let b = text.as_bytes();
    let (memo, memo_days) = cfg.last_date.get();
    // The date as last time: only the time of day is parsed, as `parse_timestamp` would
    // (anything it would refuse goes to it for the error).
    let same_day = (!zulu && b.len() >= 16 && b[10] == sep && b[..10] == memo)
        .then(|| jf::parse_time(&text[11..], sep == b' ').ok())
        .flatten();
    let (days, nanos) = match same_day {
        Some(nanos) => (memo_days, nanos),
        None => {
            let (days, nanos) = jf::parse_timestamp(text, sep, zulu)?;
            if let Some(date) = b.get(..10) {
                cfg.last_date
                    .set((date.try_into().expect("10 bytes"), days));
            }
            (days, nanos)
        }
    };
    Ok(jf::join_timestamp(days, nanos, unit).ok_or("timestamp out of range")?)
}

/// INT/BIGINT from a token: integers in range, floats truncated (Jackson `asInt`/`asLong`),
/// strings through `Integer.parseInt`.
fn json_int(tok: &Tok<'_>, min: i64, max: i64) -> std::result::Result<i64, String> {
    let v = match tok {
        Tok::Num(s, true) => s
            .parse::<i64>()
            .map_err(|_| format!("Numeric value ({s}) out of range"))?,
        Tok::Num(s, false) => {
            let f: f64 = s.parse().map_err(|_| format!("invalid number {s}"))?;
            if f < min as f64 || f > max as f64 {
                return Err(format!("Numeric value ({s}) out of range"));
            }
            f as i64
        }
        t => jf::parse_java_int::<i64>(as_text(t).trim())?,
    };
    if v < min || v > max {
        return Err(format!("Numeric value ({v}) out of range"));
    }
    Ok(v)
}

/// The field (by index) that the key at `p` names. Producers almost always write the fields
/// in one order, mostly the table's: the field after the last one matched (`hint`, moved on
/// here) is tried first with one comparison ([`Parser::take_key`]); otherwise the key is read
/// (unescaped into `scratch` if need be) and `lookup` names its field.
fn field_key<'n>(
    p: &mut Parser<'_>,
    scratch: &mut String,
    hint: &mut usize,
    expected: impl FnOnce(usize) -> Option<&'n [u8]>,
    lookup: impl FnOnce(&str) -> Option<usize>,
) -> std::result::Result<Option<usize>, String> {
    let i = match expected(*hint) {
        Some(name) if p.take_key(name) => Some(*hint),
        _ => lookup(&p.string_raw(scratch)?),
    };
    *hint = i.map_or(0, |i| i + 1);
    Ok(i)
}

/// Walk the members of the JSON object at `p`, braces included: `on` gets each key with the
/// parser at its value and either reads the value (`true`) or leaves it to be skipped.
fn walk_object<'a>(
    p: &mut Parser<'a>,
    depth: usize,
    on: impl FnMut(&mut Parser<'a>, std::borrow::Cow<'a, str>) -> std::result::Result<bool, String>,
) -> std::result::Result<(), String> {
    walk_members(p, depth, |p, scratch| p.string_raw(scratch), on)
}

/// [`walk_object`] with the key read by `key` (given a scratch string for unescaping), which
/// may turn it into something else, e.g. the index of a known field.
fn walk_members<'a, K>(
    p: &mut Parser<'a>,
    depth: usize,
    mut key: impl FnMut(&mut Parser<'a>, &mut String) -> std::result::Result<K, String>,
    mut on: impl FnMut(&mut Parser<'a>, K) -> std::result::Result<bool, String>,
) -> std::result::Result<(), String> {
    p.expect(b'{')?;
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
        return Ok(());
    }
    let mut scratch = String::new();
    loop {
        p.ws();
        let k = key(p, &mut scratch)?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        if !on(p, k)? {
            p.skip_value(depth + 1)?;
        }
        p.ws();
        match p.next() {
            Some(b',') => {}
            Some(b'}') => return Ok(()),
            _ => return Err(p.err("expected ',' or '}'")),
        }
    }
}

fn read_val(
    p: &mut Parser<'_>,
    dt: &DataType,
    cfg: &JsonConfig,
    depth: usize,
) -> std::result::Result<Val, String> {
    if depth > 256 {
        return Err(p.err("nesting too deep"));
    }
    if p.peek() == Some(b'n') {
        p.literal(b"null")?;
        return Ok(Val::Null);
    }
    match dt {
        DataType::List(f) | DataType::LargeList(f) => {
            p.expect(b'[')?;
            let mut items = Vec::new();
            p.ws();
            if p.peek() == Some(b']') {
                p.i += 1;
                return Ok(Val::List(items));
            }
            loop {
                p.ws();
                items.push(read_val(p, f.data_type(), cfg, depth + 1)?);
                p.ws();
                match p.next() {
                    Some(b',') => {}
                    Some(b']') => return Ok(Val::List(items)),
                    _ => return Err(p.err("expected ',' or ']'")),
                }
            }
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err("malformed map".into());
            };
            let vt = kv[1].data_type().clone();
            let mut out: Vec<(Val, Val)> = Vec::new();
            walk_object(p, depth, |p, k| {
                let v = read_val(p, &vt, cfg, depth + 1)?;
                let key = Val::Str(k.into_owned());
                // Jackson's ObjectNode keeps one entry per key (the last value).
                if let Some(slot) = out.iter_mut().find(|(ek, _)| *ek == key) {
                    slot.1 = v;
                } else {
                    out.push((key, v));
                }
                Ok(true)
            })?;
            Ok(Val::Map(out))
        }
        DataType::Struct(fields) => {
            let mut vals: Vec<Option<Val>> = vec![None; fields.len()];
            walk_object(p, depth, |p, k| {
                match fields.iter().position(|f| *f.name() == *k) {
                    Some(i) if vals[i].is_none() => {
                        vals[i] = Some(read_val(p, fields[i].data_type(), cfg, depth + 1)?);
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            })?;
            let mut out = Vec::with_capacity(fields.len());
            for (i, v) in vals.into_iter().enumerate() {
                match v {
                    Some(v) => out.push(v),
                    None if cfg.fail_on_missing => {
                        return Err(format!(
                            "Could not find field with name '{}'.",
                            fields[i].name()
                        ));
                    }
                    None => out.push(Val::Null),
                }
            }
            Ok(Val::Struct(out))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            if matches!(p.peek(), Some(b'{' | b'[')) =>
        {
            Ok(Val::Str(p.value_text()?))
        }
        DataType::Boolean if matches!(p.peek(), Some(b'{' | b'[')) => {
            p.skip_value(depth)?;
            Ok(Val::Bool(false))
        }
        scalar => {
            let mut scratch = String::new();
            match p.scalar(&mut scratch)? {
                Some(tok) => convert_scalar(&tok, scalar, cfg),
                None => Err(format!("cannot convert a JSON object or array to {scalar}")),
            }
        }
    }
}

// =============================================================================================
// Encoding
// =============================================================================================

/// Encoder for Flink's json format.
pub struct JsonEncoder {
    cfg: JsonConfig,
    schema: SchemaRef,
}

impl JsonEncoder {
    pub fn new(schema: SchemaRef, options: &HashMap<String, String>) -> Result<Self> {
        let cfg = parse_config(options)?;
        for f in schema.fields() {
            check_json_type(f.data_type())?;
        }
        Ok(JsonEncoder { cfg, schema })
    }
}

impl RecordEncoder for JsonEncoder {
    fn encode(
        &mut self,
        batch: &RecordBatch,
        kinds: Option<&[RowKind]>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        super::check_insert_only("json", kinds)?;
        let opts = JsonWriteOptions {
            ts: self.cfg.ts,
            null_key: &self.cfg.null_key,
            decimal_plain: self.cfg.decimal_plain,
            ignore_null_fields: self.cfg.ignore_null_fields,
        };
        let names: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        for row in 0..batch.num_rows() {
            write_row_object(out, batch, &names, row, &opts)?;
            out.push(b'\n');
        }
        Ok(())
    }
}

impl JsonEncoder {
    /// Appends row `row` of `batch` as one JSON object (no newline).
    pub(crate) fn write_object(
        &self,
        batch: &RecordBatch,
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let opts = JsonWriteOptions {
            ts: self.cfg.ts,
            null_key: &self.cfg.null_key,
            decimal_plain: self.cfg.decimal_plain,
            ignore_null_fields: self.cfg.ignore_null_fields,
        };
        let names: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write_row_object(out, batch, &names, row, &opts)
    }
}

fn write_row_object(
    out: &mut Vec<u8>,
    batch: &RecordBatch,
    names: &[&str],
    row: usize,
    opts: &JsonWriteOptions<'_>,
) -> Result<()> {
    out.push(b'{');
    let mut first = true;
    for (c, name) in batch.columns().iter().zip(names) {
        if opts.ignore_null_fields && c.is_null(row) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_string(out, name);
        out.push(b':');
        write_json_value(out, c.as_ref(), row, opts)?;
    }
    out.push(b'}');
    Ok(())
}

struct JsonWriteOptions<'a> {
    ts: TsFormat,
    null_key: &'a NullKeyMode,
    decimal_plain: bool,
    ignore_null_fields: bool,
}

/// Flink's JSON text of one value (default options), used by `text::value_to_json`.
pub fn json_value_string(array: &dyn Array, row: usize) -> Result<String> {
    let mut out = Vec::new();
    let opts = JsonWriteOptions {
        ts: TsFormat::Sql,
        null_key: &NullKeyMode::Literal("null".into()),
        decimal_plain: false,
        ignore_null_fields: false,
    };
    write_json_value(&mut out, array, row, &opts)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// A JSON string literal as Jackson writes it.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            8 => Some(b"\\b"),
            12 => Some(b"\\f"),
            0..=0x1f => None,
            0xF0..=0xF7 => None, // leading byte of a non-BMP character
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => {
                out.extend_from_slice(e);
                start = i + 1;
            }
            None if b < 0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
                start = i + 1;
            }
            None => {
                // Jackson writes characters outside the BMP as an escaped surrogate pair.
                let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                let mut units = [0u16; 2];
                for u in ch.encode_utf16(&mut units) {
                    out.extend_from_slice(b"\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(HEX[((*u >> shift) & 15) as usize]);
                    }
                }
                start = i + ch.len_utf8();
            }
        }
    }
    // `start` may point past bytes skipped as part of a multi-byte char.
    if start <= bytes.len() {
        out.extend_from_slice(&bytes[start..]);
    }
    out.push(b'"');
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn write_json_value(
    out: &mut Vec<u8>,
    a: &dyn Array,
    i: usize,
    o: &JsonWriteOptions<'_>,
) -> Result<()> {
    if a.is_null(i) {
        push_str(out, "null");
        return Ok(());
    }
    let float = |out: &mut Vec<u8>, s: String| {
        if s.ends_with("NaN") || s.ends_with("Infinity") {
            write_json_string(out, &s);
        } else {
            push_str(out, &s);
        }
    };
    match a.data_type() {
        DataType::Null => push_str(out, "null"),
        DataType::Boolean => push_str(
            out,
            if a.as_boolean().value(i) {
                "true"
            } else {
                "false"
            },
        ),
        DataType::Int8 => push_str(out, &a.as_primitive::<Int8Type>().value(i).to_string()),
        DataType::Int16 => push_str(out, &a.as_primitive::<Int16Type>().value(i).to_string()),
        DataType::Int32 => push_str(out, &a.as_primitive::<Int32Type>().value(i).to_string()),
        DataType::Int64 => push_str(out, &a.as_primitive::<Int64Type>().value(i).to_string()),
        DataType::UInt8 => push_str(out, &a.as_primitive::<UInt8Type>().value(i).to_string()),
        DataType::UInt16 => push_str(out, &a.as_primitive::<UInt16Type>().value(i).to_string()),
        DataType::UInt32 => push_str(out, &a.as_primitive::<UInt32Type>().value(i).to_string()),
        DataType::UInt64 => push_str(out, &a.as_primitive::<UInt64Type>().value(i).to_string()),
        DataType::Float32 => float(
            out,
            jf::java_float_to_string(a.as_primitive::<Float32Type>().value(i)),
        ),
        DataType::Float64 => float(
            out,
            jf::java_double_to_string(a.as_primitive::<Float64Type>().value(i)),
        ),
        DataType::Decimal128(_, s) => {
            let (u, sc) =
                jf::strip_trailing_zeros(a.as_primitive::<Decimal128Type>().value(i), *s as i32);
            let t = if o.decimal_plain {
                jf::java_big_decimal_to_plain_string(u, sc)
            } else {
                jf::java_big_decimal_to_string(u, sc)
            };
            push_str(out, &t);
        }
        DataType::Utf8 => write_json_string(out, a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => write_json_string(out, a.as_string::<i64>().value(i)),
        DataType::Utf8View => write_json_string(out, a.as_string_view().value(i)),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let b = binary_value(a, i);
            out.push(b'"');
            jf::push_base64(out, b);
            out.push(b'"');
        }
        DataType::Date32 => {
            let s = jf::date_string(a.as_primitive::<Date32Type>().value(i) as i64);
            write_json_string(out, &s);
        }
        DataType::Date64 => {
            let s = jf::date_string(
                a.as_primitive::<Date64Type>()
                    .value(i)
                    .div_euclid(86_400_000),
            );
            write_json_string(out, &s);
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            // Flink: LocalTime.ofSecondOfDay(millis / 1000) -> HH:mm:ss.
            let nanos = time_nanos(a, i);
            let mut s = String::new();
            jf::push_time_stripped(&mut s, nanos / 1_000_000_000 * 1_000_000_000);
            write_json_string(out, &s);
        }
        DataType::Timestamp(unit, tz) => {
            let (days, nanos) = jf::split_timestamp(timestamp_value(a, i, *unit), *unit);
            let mut s = String::with_capacity(32);
            let sep = if o.ts == TsFormat::Sql { ' ' } else { 'T' };
            jf::push_timestamp_stripped(&mut s, days, nanos, sep);
            if tz.is_some() {
                s.push('Z');
            }
            write_json_string(out, &s);
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let items = list_value(a, i);
            out.push(b'[');
            for j in 0..items.len() {
                if j > 0 {
                    out.push(b',');
                }
                write_json_value(out, items.as_ref(), j, o)?;
            }
            out.push(b']');
        }
        DataType::Map(..) => {
            let m = a.as_map();
            let entries = m.value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            let mut first = true;
            for j in 0..entries.len() {
                let key = if keys.is_null(j) {
                    match o.null_key {
                        NullKeyMode::Drop => continue,
                        NullKeyMode::Literal(l) => l.clone(),
                        NullKeyMode::Fail => {
                            return Err(FormatError::Encode(
                                "JSON format doesn't support to serialize map data with null keys. You can drop null key entries or encode null in literals by specifying map-null-key.mode option.".into(),
                            ));
                        }
                    }
                } else {
                    string_value(keys.as_ref(), j).unwrap_or_default()
                };
                if !first {
                    out.push(b',');
                }
                first = false;
                write_json_string(out, &key);
                out.push(b':');
                write_json_value(out, values.as_ref(), j, o)?;
            }
            out.push(b'}');
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            out.push(b'{');
            let mut first = true;
            for (f, c) in fields.iter().zip(s.columns()) {
                if o.ignore_null_fields && c.is_null(i) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                write_json_string(out, f.name());
                out.push(b':');
                write_json_value(out, c.as_ref(), i, o)?;
            }
            out.push(b'}');
        }
        other => {
            return Err(FormatError::Encode(format!(
                "the json format cannot write type {other}"
            )));
        }
    }
    Ok(())
}

pub(crate) fn binary_value(a: &dyn Array, i: usize) -> &[u8] {
    match a.data_type() {
        DataType::Binary => a.as_binary::<i32>().value(i),
        DataType::LargeBinary => a.as_binary::<i64>().value(i),
        DataType::BinaryView => a.as_binary_view().value(i),
        DataType::FixedSizeBinary(_) => a.as_fixed_size_binary().value(i),
        _ => &[],
    }
}

pub(crate) fn string_value(a: &dyn Array, i: usize) -> Option<String> {
    Some(match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => a.as_string_view().value(i).to_string(),
        _ => return None,
    })
}

pub(crate) fn list_value(a: &dyn Array, i: usize) -> arrow::array::ArrayRef {
    match a.data_type() {
        DataType::List(_) => a.as_list::<i32>().value(i),
        DataType::LargeList(_) => a.as_list::<i64>().value(i),
        _ => a.as_fixed_size_list().value(i),
    }
}

pub(crate) fn time_nanos(a: &dyn Array, i: usize) -> i64 {
    match a.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            a.as_primitive::<Time32SecondType>().value(i) as i64 * 1_000_000_000
        }
        DataType::Time32(_) => {
            a.as_primitive::<Time32MillisecondType>().value(i) as i64 * 1_000_000
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            a.as_primitive::<Time64MicrosecondType>().value(i) * 1000
        }
        DataType::Time64(_) => a.as_primitive::<Time64NanosecondType>().value(i),
        _ => 0,
    }
}

pub(crate) fn timestamp_value(a: &dyn Array, i: usize, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
        TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
        TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
        TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
    }
}

#[cfg(test)]
mod tests;
