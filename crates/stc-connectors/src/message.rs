//! What the message-broker connectors (`nats`, `rabbitmq`, `mqtt`) share: one message's
//! payload is one record of the table's `format`, decoded with the line formats of
//! [`crate::format`] and followed by the connector's metadata columns.
//!
//! Decoding: a batch of messages is decoded in one call (one message per line) when no message
//! fails; a batch with a malformed message is decoded again message by message, so that the
//! error names the message (subject and sequence, queue and delivery tag, topic) and, with
//! `*.ignore-parse-errors`, the metadata of the messages that remain stays aligned with their
//! rows.
//!
//! Encoding: each row becomes one payload; sinks publish payloads one message each.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use stc_runtime::{Result as RtResult, RuntimeError, StreamBatch};

use crate::format::avro::{AvroDecoder, AvroEncoder};
use crate::format::{self, FormatError, RecordDecoder, RecordEncoder};
use crate::table::{ConnectorError, ConnectorTable, Result};

/// The formats a message connector reads and writes.
pub(crate) const MESSAGE_FORMATS: &[&str] = &["json", "csv", "avro"];

/// Option prefixes of those formats (for `check_keys`).
pub(crate) const FORMAT_PREFIXES: &[&str] = &["json.", "csv.", "avro."];

/// The table's `format` option, checked against [`MESSAGE_FORMATS`].
pub(crate) fn format_of(t: &ConnectorTable, connector: &str) -> Result<String> {
    let f = t.options.get("format").cloned().ok_or_else(|| {
        ConnectorError::Options(format!(
            "the {connector} connector of table '{}' needs a 'format' option: one of {}",
            t.name,
            MESSAGE_FORMATS.join(", ")
        ))
    })?;
    if !MESSAGE_FORMATS.contains(&f.as_str()) {
        return Err(ConnectorError::Options(format!(
            "unsupported format '{f}' for the {connector} connector of table '{}'; supported: {} (raw and the changelog formats are not supported yet)",
            t.name,
            MESSAGE_FORMATS.join(", ")
        )));
    }
    Ok(f)
}

/// Checks the format options of a table for both directions.
pub(crate) fn validate_format(t: &ConnectorTable, connector: &str) -> Result<()> {
    let f = format_of(t, connector)?;
    if f == "avro" {
        format::avro::validate(&t.physical_schema, &t.options)?;
    } else {
        format::decoder(&f, t.physical_schema.clone(), &t.options)?;
        format::encoder(&f, t.physical_schema.clone(), &t.options)?;
    }
    Ok(())
}

/// A duration option such as `'5 s'`, `'500ms'`, `'2min'` (Flink's `Duration` forms that
/// matter here); a bare number is milliseconds.
pub(crate) fn duration_option(
    t: &ConnectorTable,
    key: &str,
    default: std::time::Duration,
) -> Result<std::time::Duration> {
    let Some(raw) = t.options.get(key) else {
        return Ok(default);
    };
    let s = raw.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let bad = || {
        ConnectorError::Options(format!(
            "invalid duration '{raw}' for option '{key}': expected e.g. '500 ms', '5 s' or '1 min'"
        ))
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => n,
        "s" | "sec" | "secs" | "second" | "seconds" => n * 1000,
        "min" | "m" | "minute" | "minutes" => n * 60_000,
        "h" | "hour" | "hours" => n * 3_600_000,
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_millis(ms))
}

/// An integer option.
pub(crate) fn int_option<T: std::str::FromStr>(
    t: &ConnectorTable,
    key: &str,
    default: T,
) -> Result<T> {
    match t.options.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            ConnectorError::Options(format!(
                "invalid value '{v}' for option '{key}': expected a non-negative integer"
            ))
        }),
    }
}

/// A `true`/`false` option.
pub(crate) fn bool_option(t: &ConnectorTable, key: &str, default: bool) -> Result<bool> {
    match t.options.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(ConnectorError::Options(format!(
            "invalid value '{v}' for option '{key}': expected 'true' or 'false'"
        ))),
    }
}

/// Decodes message payloads into rows of the reader schema (physical columns, then metadata).
pub(crate) struct MessageDecoder {
    decoder: Lines,
    /// Reader schema: physical columns then metadata columns.
    schema: SchemaRef,
    n_physical: usize,
    /// Messages of the current batch, as lines.
    buf: Vec<u8>,
    ignore_errors: bool,
    skipped: u64,
}

/// The format's decoder: a line format, or avro (binary, one datum per message).
enum Lines {
    Text(Box<dyn RecordDecoder>),
    Avro(Box<AvroDecoder>),
}

impl MessageDecoder {
    pub(crate) fn new(t: &ConnectorTable, format: &str) -> Result<Self> {
        let mut fields: Vec<Arc<Field>> = t.physical_schema.fields().iter().cloned().collect();
        fields.extend(t.metadata.iter().map(|(_, f)| Arc::new(f.clone())));
        Ok(MessageDecoder {
            decoder: if format == "avro" {
                Lines::Avro(Box::new(AvroDecoder::new(
                    t.physical_schema.clone(),
                    &t.options,
                )?))
            } else {
                Lines::Text(format::decoder(
                    format,
                    t.physical_schema.clone(),
                    &t.options,
                )?)
            },
            schema: Arc::new(Schema::new(fields)),
            n_physical: t.physical_schema.fields().len(),
            buf: Vec::new(),
            ignore_errors: bool_option(t, &format!("{format}.ignore-parse-errors"), false)?,
            skipped: 0,
        })
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Messages skipped because of `*.ignore-parse-errors`.
    pub(crate) fn skipped_records(&self) -> u64 {
        self.skipped
    }

    /// Decodes `payloads` (one record each) and appends `metadata` (one array per metadata
    /// column, one value per message, cast here to the declared column type). `describe(i)`
    /// names message `i` for an error. Returns `None` when no row remains.
    pub(crate) fn decode(
        &mut self,
        payloads: &[&[u8]],
        metadata: Vec<ArrayRef>,
        describe: &dyn Fn(usize) -> String,
    ) -> RtResult<Option<RecordBatch>> {
        if payloads.is_empty() {
            return Ok(None);
        }
        let decoder = match &mut self.decoder {
            Lines::Text(d) => d,
            Lines::Avro(d) => {
                let mut kept = Vec::with_capacity(payloads.len());
                for (i, p) in payloads.iter().enumerate() {
                    match d.decode_one(p) {
                        Ok(()) => kept.push(i as u32),
                        Err(_) if self.ignore_errors => self.skipped += 1,
                        Err(reason)
                            if crate::preview::report(describe(i), &reason.to_string(), p) => {}
                        Err(reason) => {
                            let _ = d.finish();
                            return Err(RuntimeError::Data(format!(
                                "cannot parse the message at {}: {reason}. Record (hex): '{}'",
                                describe(i),
                                hex_prefix(p)
                            )));
                        }
                    }
                }
                let batch = d.finish().map_err(|e| RuntimeError::Data(e.to_string()))?;
                let all = kept.len() == payloads.len();
                return self.with_metadata(batch, metadata, (!all).then_some(&kept[..]));
            }
        };
        // One line per message: a payload's own trailing line break is not part of the
        // record, and JSON may be pretty-printed (a line break is whitespace between tokens
        // and cannot occur inside a JSON string).
        self.buf.clear();
        let mut fast = true;
        for p in payloads {
            let p = p.strip_suffix(b"\n").unwrap_or(p);
            let p = p.strip_suffix(b"\r").unwrap_or(p);
            if p.is_empty() || p.contains(&b'\n') {
                fast = false;
                break;
            }
            self.buf.extend_from_slice(p);
            self.buf.push(b'\n');
        }
        if fast {
            let skipped_before = decoder.skipped_records();
            let res = decoder.decode(&self.buf, 1, "");
            if let Ok(batch) = &res {
                let rows = batch.as_ref().map_or(0, |b| b.num_rows());
                if rows == payloads.len() && decoder.skipped_records() == skipped_before {
                    return self.with_metadata(batch.clone(), metadata, None);
                }
            }
            // Some message did not become exactly one row: decode message by message so the
            // error names it and the metadata stays aligned. (The line decoder's own skip
            // counter is not used: this path would count those messages twice.)
        }
        let mut parts = Vec::new();
        let mut kept: Vec<u32> = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let p = p.strip_suffix(b"\n").unwrap_or(p);
            let p = p.strip_suffix(b"\r").unwrap_or(p);
            let before = decoder.skipped_records();
            let line: Vec<u8> = if p.contains(&b'\n') {
                p.iter()
                    .map(|b| if *b == b'\n' || *b == b'\r' { b' ' } else { *b })
                    .collect()
            } else {
                p.to_vec()
            };
            let batch = match decoder.decode(&line, 1, "") {
                Ok(b) => b,
                Err(FormatError::Parse { reason, .. })
                    if crate::preview::report(describe(i), &reason, p) =>
                {
                    continue;
                }
                Err(FormatError::Parse { record, reason, .. }) => {
                    return Err(RuntimeError::Data(format!(
                        "cannot parse the message at {}: {reason}. Record: '{record}'",
                        describe(i)
                    )));
                }
                Err(e) => return Err(RuntimeError::Data(format!("{}: {e}", describe(i)))),
            };
            match batch {
                Some(b) if b.num_rows() == 1 => {
                    parts.push(b);
                    kept.push(i as u32);
                }
                Some(b) => {
                    return Err(RuntimeError::Data(format!(
                        "the message at {} holds {} records; a message must hold exactly one",
                        describe(i),
                        b.num_rows()
                    )));
                }
                None if decoder.skipped_records() > before => self.skipped += 1,
                None if self.ignore_errors => self.skipped += 1,
                None if crate::preview::report(describe(i), "the message is empty", p) => {}
                None => {
                    // An empty (or blank) payload holds no record.
                    return Err(RuntimeError::Data(format!(
                        "cannot parse the message at {}: the message is empty",
                        describe(i)
                    )));
                }
            }
        }
        if parts.is_empty() {
            return Ok(None);
        }
        let phys_schema = parts[0].schema();
        let batch = concat_batches(&phys_schema, &parts)?;
        self.with_metadata(Some(batch), metadata, Some(&kept))
    }

    fn with_metadata(
        &self,
        batch: Option<RecordBatch>,
        metadata: Vec<ArrayRef>,
        kept: Option<&[u32]>,
    ) -> RtResult<Option<RecordBatch>> {
        let Some(batch) = batch else { return Ok(None) };
        let n = batch.num_rows();
        let mut cols = batch.columns().to_vec();
        let idx = kept.map(|k| UInt32Array::from(k.to_vec()));
        for (m, field) in metadata
            .into_iter()
            .zip(self.schema.fields().iter().skip(self.n_physical))
        {
            let m = match &idx {
                Some(idx) => take(&m, idx, None)?,
                None => m,
            };
            let m = if m.data_type() == field.data_type() {
                m
            } else {
                cast(&m, field.data_type())?
            };
            cols.push(m);
        }
        Ok(Some(RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?))
    }
}

/// The first bytes of a binary payload in hex, for error messages.
pub(crate) fn hex_prefix(p: &[u8]) -> String {
    let mut s: String = p.iter().take(64).map(|b| format!("{b:02x}")).collect();
    if p.len() > 64 {
        s.push_str("...");
    }
    s
}

/// Encodes rows into one payload each.
pub(crate) struct MessageEncoder {
    encoder: Box<dyn RecordEncoder>,
    avro: Option<AvroEncoder>,
    /// Indices of the physical columns in the sink's batches.
    columns: Vec<usize>,
    schema: SchemaRef,
    buf: Vec<u8>,
}

impl MessageEncoder {
    pub(crate) fn new(t: &ConnectorTable, format: &str) -> Result<Self> {
        let columns = t
            .physical_schema
            .fields()
            .iter()
            .map(|f| {
                t.sink_schema.index_of(f.name()).map_err(|_| {
                    ConnectorError::Options(format!(
                        "column '{}' of table '{}' is missing from the sink's rows",
                        f.name(),
                        t.name
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let opts: HashMap<String, String> = t.options.clone();
        let (line_format, avro) = if format == "avro" {
            // The json encoder is never called for avro; it stands in so the field is not
            // optional.
            (
                "json",
                Some(AvroEncoder::new(t.physical_schema.clone(), &opts)?),
            )
        } else {
            (format, None)
        };
        Ok(MessageEncoder {
            encoder: format::encoder(line_format, t.physical_schema.clone(), &opts)?,
            avro,
            columns,
            schema: t.physical_schema.clone(),
            buf: Vec::new(),
        })
    }

    /// One payload per row of `batch` (only `+I` rows: the formats here are append-only).
    pub(crate) fn encode(&mut self, batch: &StreamBatch) -> RtResult<Vec<Vec<u8>>> {
        let cols: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|i| batch.batch.column(*i).clone())
            .collect();
        let rows = RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?;
        let kinds: Option<Vec<stc_common::RowKind>> = if batch.is_insert_only() {
            None
        } else {
            Some((0..batch.num_rows()).map(|i| batch.kind(i)).collect())
        };
        let kinds = kinds.as_deref();
        if let Some(avro) = &self.avro {
            format::check_insert_only("avro", kinds)
                .map_err(|e| RuntimeError::Data(e.to_string()))?;
            return avro
                .encode(&rows)
                .map_err(|e| RuntimeError::Data(e.to_string()));
        }
        self.buf.clear();
        self.encoder
            .encode(&rows, kinds, &mut self.buf)
            .map_err(|e| RuntimeError::Data(e.to_string()))?;
        let mut out: Vec<Vec<u8>> = self
            .buf
            .strip_suffix(b"\n")
            .unwrap_or(&self.buf)
            .split(|b| *b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        if rows.num_rows() == 0 {
            out.clear();
        }
        if out.len() != rows.num_rows() {
            // A value with a line break (csv quotes it): encode row by row instead.
            out.clear();
            for i in 0..rows.num_rows() {
                self.buf.clear();
                let k = kinds.map(|k| &k[i..i + 1]);
                self.encoder
                    .encode(&rows.slice(i, 1), k, &mut self.buf)
                    .map_err(|e| RuntimeError::Data(e.to_string()))?;
                let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
                out.push(line.to_vec());
            }
        }
        Ok(out)
    }
}
