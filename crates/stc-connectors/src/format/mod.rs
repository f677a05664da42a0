//! Record formats with Flink's option names and Flink's exact text output.
//!
//! * [`csv`]: Flink's `csv` format (Jackson `CsvMapper` behaviour: quoting only where Jackson
//!   quotes, `;`-joined arrays and nested rows, base64 bytes).
//! * [`json`]: Flink's `json` format (Jackson `ObjectMapper` behaviour: Java `Double.toString`,
//!   decimals via `BigDecimal.toString` after `stripTrailingZeros`, non-BMP characters escaped).
//! * [`changelog`]: Flink's `debezium-json`, `canal-json` and `maxwell-json`, read per record
//!   into rows with row kinds (reusable by message connectors) and written (`debezium` holds
//!   the debezium-json encoder).
//! * [`raw`]: Flink's `raw` format (one message is one STRING/BYTES value; not line-based).
//! * [`avro`]: Flink's `avro` format, one binary datum per message (message connectors only).
//! * [`parquet`]: reading a Parquet file into the table schema, writing part files.
//! * [`javafmt`]: the Java text forms everything above is built on (`Double.toString`,
//!   `BigDecimal.toString`, `java.time` formatters, base64).
//!
//! Options arrive as the table's whole `WITH` map; only keys starting with `csv.` / `json.` are
//! read here, and an unknown key with that prefix is an error that lists the valid ones.
//!
//! Contract of [`RecordDecoder::decode`]: the chunk holds complete lines only (the caller splits on
//! `\n` and keeps a partial last line for the next chunk); a trailing `\r` is removed. Quoted CSV
//! fields therefore cannot span lines (Flink's Jackson reader allows that; we do not).

pub mod avro;
pub mod changelog;
pub(crate) mod columns;
pub mod csv;
pub mod debezium;
pub mod javafmt;
pub mod json;
pub mod parquet;
pub mod raw;

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use stc_common::{Classified, ErrorClass, RowKind};

pub use self::parquet::{ParquetPartWriter, read_parquet_file};

/// Errors of the format layer.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// A bad `WITH` option (unknown key, bad value, unsupported type for the format).
    #[error("{0}")]
    Options(String),
    /// A record that could not be decoded (and `ignore-parse-errors` is off).
    #[error("cannot parse record at {source_name}:{line}: {reason}. Record: '{record}'")]
    Parse {
        source_name: String,
        line: u64,
        record: String,
        reason: String,
    },
    /// A value that cannot be written in this format (e.g. a map with a null key in JSON).
    #[error("cannot encode row: {0}")]
    Encode(String),
    /// Parquet file problems (unreadable file, missing column).
    #[error("{0}")]
    Parquet(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

impl Classified for FormatError {
    fn class(&self) -> ErrorClass {
        match self {
            FormatError::Options(_) | FormatError::Parse { .. } | FormatError::Encode(_) => {
                ErrorClass::USER
            }
            FormatError::Parquet(_) => ErrorClass::USER,
            FormatError::Io { .. } => ErrorClass::EXTERNAL_FATAL,
            FormatError::Arrow(_) => ErrorClass::INTERNAL,
        }
    }
}

pub type Result<T> = std::result::Result<T, FormatError>;

/// Where a record came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    /// E.g. the file path.
    pub source: &'a str,
    /// 1-based line number.
    pub line: u64,
}

/// Turns lines of text into Arrow batches of the table schema.
pub trait RecordDecoder: Send {
    /// Decode a chunk of complete records (csv/json: lines; the caller splits on `\n` and keeps
    /// partial lines for the next chunk). `first_line` is the 1-based line number of the chunk's
    /// first line. Returns `None` when the chunk produced no rows.
    ///
    /// A bad record is an `Err` naming `source`, the line, the raw record (truncated to ~200
    /// bytes) and the reason, unless `ignore-parse-errors` is on: then the row is skipped and
    /// counted in [`RecordDecoder::skipped_records`] (CSV, like Flink, nulls a bad *field* and
    /// keeps the row; only structurally bad rows are skipped).
    fn decode(
        &mut self,
        chunk: &[u8],
        first_line: u64,
        source: &str,
    ) -> Result<Option<RecordBatch>>;

    /// Rows dropped so far because of `ignore-parse-errors`.
    fn skipped_records(&self) -> u64;

    /// The row kinds of the batch the last [`decode`](Self::decode) returned, for a changelog
    /// format (one per row); `None` for an insert-only format.
    fn take_row_kinds(&mut self) -> Option<Vec<RowKind>> {
        None
    }
}

/// Turns Arrow batches into lines of text.
pub trait RecordEncoder: Send {
    /// Append one encoded line per row (each ending in `\n`) to `out`. `kinds` is `None` for
    /// insert-only streams; csv and json (like Flink's) accept only `+I` rows.
    fn encode(
        &mut self,
        batch: &RecordBatch,
        kinds: Option<&[RowKind]>,
        out: &mut Vec<u8>,
    ) -> Result<()>;
}

/// A decoder for `format` (`csv`, `json` or a changelog format) producing rows of `schema`.
pub fn decoder(
    format: &str,
    schema: SchemaRef,
    options: &HashMap<String, String>,
) -> Result<Box<dyn RecordDecoder>> {
    match format {
        "csv" => Ok(Box::new(csv::CsvDecoder::new(schema, options)?)),
        "json" => Ok(Box::new(json::JsonDecoder::new(schema, options)?)),
        "parquet" => Err(FormatError::Options(
            "the parquet format is read per file with read_parquet_file, not line by line".into(),
        )),
        other => match changelog::ChangelogFormat::from_name(other) {
            Some(f) => Ok(Box::new(changelog::ChangelogDecoder::new(
                f, schema, options,
            )?)),
            None => Err(FormatError::Options(format!(
                "unsupported format '{other}'; supported formats are: csv, json, debezium-json, canal-json, maxwell-json, parquet"
            ))),
        },
    }
}

/// An encoder for `format` (`csv`, `json` or a changelog format) writing rows of `schema`.
pub fn encoder(
    format: &str,
    schema: SchemaRef,
    options: &HashMap<String, String>,
) -> Result<Box<dyn RecordEncoder>> {
    match format {
        "csv" => Ok(Box::new(csv::CsvEncoder::new(schema, options)?)),
        "json" => Ok(Box::new(json::JsonEncoder::new(schema, options)?)),
        "debezium-json" => Ok(Box::new(debezium::DebeziumJsonEncoder::new(
            schema, options,
        )?)),
        "parquet" => Err(FormatError::Options(
            "the parquet format is written per part file with ParquetPartWriter".into(),
        )),
        other => match changelog::ChangelogFormat::from_name(other) {
            Some(f) => Ok(Box::new(changelog::ChangelogEncoder::new(
                f, schema, options,
            )?)),
            None => Err(FormatError::Options(format!(
                "unsupported format '{other}'; supported formats are: csv, json, debezium-json, canal-json, maxwell-json, parquet"
            ))),
        },
    }
}

/// The `prefix.*` options of a format, validated against `valid` (keys without the prefix).
pub(crate) struct FormatOptions<'a> {
    prefix: &'static str,
    map: HashMap<&'a str, &'a str>,
}

impl<'a> FormatOptions<'a> {
    pub(crate) fn new(
        prefix: &'static str,
        options: &'a HashMap<String, String>,
        valid: &[&str],
    ) -> Result<Self> {
        let mut map = HashMap::new();
        let dotted = format!("{prefix}.");
        let mut keys: Vec<&String> = options.keys().collect();
        keys.sort();
        for k in keys {
            if let Some(rest) = k.strip_prefix(&dotted) {
                if !valid.contains(&rest) {
                    let list: Vec<String> =
                        valid.iter().map(|v| format!("'{prefix}.{v}'")).collect();
                    return Err(FormatError::Options(format!(
                        "unsupported option '{k}' for the {prefix} format; valid options are: {}",
                        list.join(", ")
                    )));
                }
                map.insert(rest, options[k].as_str());
            }
        }
        Ok(FormatOptions { prefix, map })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a str> {
        self.map.get(key).copied()
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(FormatError::Options(format!(
                "invalid value '{v}' for option '{}.{key}': expected 'true' or 'false'",
                self.prefix
            ))),
        }
    }

    /// A single-character option (after Java unescaping when `unescape`, as Flink does for
    /// `csv.field-delimiter`, so `'\t'` written as backslash-t means a tab).
    pub(crate) fn char(
        &self,
        key: &str,
        default: Option<char>,
        unescape: bool,
    ) -> Result<Option<char>> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        let v = if unescape {
            unescape_java(raw)
        } else {
            raw.to_string()
        };
        let mut it = v.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => Ok(Some(c)),
            _ => Err(FormatError::Options(format!(
                "Option '{}.{key}' must be a string with single character, but was: {raw}",
                self.prefix
            ))),
        }
    }
}

/// Java's `StringEscapeUtils.unescapeJava` for the escapes an option value can reasonably hold.
fn unescape_java(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('b') => out.push('\u{8}'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The raw record for an error message: lossy UTF-8, cut at ~200 bytes.
pub(crate) fn truncate_record(line: &[u8]) -> String {
    const MAX: usize = 200;
    if line.len() <= MAX {
        String::from_utf8_lossy(line).into_owned()
    } else {
        let mut end = MAX;
        while end > 0 && (line[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        format!("{}...", String::from_utf8_lossy(&line[..end]))
    }
}

/// Iterate over the lines of a chunk with their 1-based numbers, without the `\n` / `\r\n`.
pub(crate) fn lines(chunk: &[u8], first_line: u64) -> impl Iterator<Item = (u64, &[u8])> {
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    let empty = chunk.is_empty();
    // One scan for line breaks: each line starts after the previous one's end.
    let mut ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    let mut start = 0;
    std::iter::from_fn(move || {
        if empty {
            return None;
        }
        let end = ends.next()?;
        let line = &body[start..end];
        start = end + 1;
        Some(line)
    })
    .enumerate()
    .map(move |(i, l)| (first_line + i as u64, l.strip_suffix(b"\r").unwrap_or(l)))
}

pub(crate) fn check_insert_only(format: &str, kinds: Option<&[RowKind]>) -> Result<()> {
    if let Some(kinds) = kinds
        && let Some(k) = kinds.iter().find(|k| **k != RowKind::Insert)
    {
        return Err(FormatError::Encode(format!(
            "the {format} format only supports insert-only (+I) rows, but got a {} row; \
             use an upsert/changelog format or an insert-only query",
            k.short_string()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_number() {
        let got: Vec<(u64, &[u8])> = lines(b"a\r\nb\n\nc\n", 5).collect();
        assert_eq!(got, vec![(5, &b"a"[..]), (6, b"b"), (7, b""), (8, b"c")]);
        assert_eq!(lines(b"", 1).count(), 0);
        assert_eq!(lines(b"x", 1).count(), 1);
        let got: Vec<(u64, &[u8])> = lines(b"\n", 1).collect();
        assert_eq!(got, vec![(1, &b""[..])]);
        let got: Vec<(u64, &[u8])> = lines(b"\nab\n\ncd", 1).collect();
        assert_eq!(got, vec![(1, &b""[..]), (2, b"ab"), (3, b""), (4, b"cd")]);
    }

    #[test]
    fn unknown_option_lists_valid_ones() {
        let opts: HashMap<String, String> =
            [("csv.field-delimitr".to_string(), ";".to_string())].into();
        let err = FormatOptions::new("csv", &opts, &["field-delimiter", "null-literal"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("'csv.field-delimitr'"), "{err}");
        assert!(
            err.contains("'csv.field-delimiter', 'csv.null-literal'"),
            "{err}"
        );
    }

    #[test]
    fn unknown_format_is_an_error() {
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::empty());
        let err = decoder("avro", schema, &HashMap::new())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("supported formats are: csv, json, debezium-json"),
            "{err}"
        );
    }

    #[test]
    fn truncates_long_records() {
        let long = "é".repeat(300);
        let t = truncate_record(long.as_bytes());
        assert!(t.len() <= 204 && t.ends_with("..."), "{t}");
    }
}
