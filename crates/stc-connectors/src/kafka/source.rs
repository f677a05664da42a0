//! The kafka source: one consumer per source subtask.
//!
//! Splits are partitions (`topic/partition`). Every reader discovers the partitions of its
//! topics (or of every topic matching `topic-pattern`) itself and keeps those that Flink's
//! owner rule ([`super::split_owner`]) gives to its subtask, so no coordination is needed and
//! the assignment is the same after a restore at another parallelism. Partitions are
//! `assign`ed, never joined through a consumer-group rebalance: `properties.group.id` is only
//! where offsets are read (`group-offsets`) and committed (on checkpoint completion, for
//! monitoring; the checkpoint is what the job resumes from).
//!
//! Start and stop offsets are resolved to numbers once per partition, when it is first seen,
//! so a checkpoint always holds concrete positions (`{"offset": next, "stop": end}`). A
//! partition found by a later discovery (`scan.topic-partition-discovery.interval`, unbounded
//! sources only) and a partition that is not in a non-empty checkpoint start at the earliest
//! offset, as in Flink.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanArray, Int32Array, Int64Array, MapBuilder, MapFieldNames,
    RecordBatch, RecordBatchOptions, StringArray, StringBuilder, TimestampMillisecondArray,
    UInt32Array, new_null_array,
};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::{FutureExt, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use stc_common::RowKind;
use stc_runtime::{Result as RtResult, RuntimeError, SourceFactory, SourceReader, SplitPosition};

use super::{FormatSpec, KafkaOptions, StartMode, StopMode, split_owner};
use crate::format::avro::AvroDecoder;
use crate::format::changelog::ChangelogFormat;
use crate::format::{self, FormatError, RecordDecoder};
use crate::table::{ConnectorTable, Result};

/// Most messages turned into one batch.
const MAX_BATCH: usize = 8192;
/// How long `next_batch` waits for a first message before returning an empty batch (so the
/// runtime can mark the source idle).
const POLL_WAIT: Duration = Duration::from_millis(200);

/// The source side of a `kafka` table.
pub struct KafkaSource {
    opts: Arc<KafkaOptions>,
    metadata: Vec<(String, Field)>,
    schema: SchemaRef,
}

impl KafkaSource {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        let mut opts = KafkaOptions::parse(t)?;
        if let Some(n) = crate::preview::latest() {
            opts.start = StartMode::FromEnd(n as i64);
            opts.stop = StopMode::Latest;
            crate::preview::honour_latest();
        }
        let mut fields: Vec<_> = t.physical_schema.fields().iter().cloned().collect();
        fields.extend(t.metadata.iter().map(|(_, f)| Arc::new(f.clone())));
        Ok(KafkaSource {
            opts: Arc::new(opts),
            metadata: t.metadata.clone(),
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// Whether rows carry row kinds: an upsert topic, or a changelog value format.
    fn changelog(&self) -> bool {
        self.opts.upsert || ChangelogFormat::from_name(&self.opts.value.name).is_some()
    }

    fn reader(
        &self,
        subtask: usize,
        parallelism: usize,
        restored: Option<Restored>,
    ) -> RtResult<Box<dyn SourceReader>> {
        let value = Decoder::new(&self.opts.value, self.opts.value_schema())?;
        let key = match &self.opts.key {
            // With `ALL`, key columns are read from the value, as Flink does; an upsert
            // topic's tombstones have only the key.
            Some(k) if !self.opts.value_includes_key || self.opts.upsert => {
                Some(Decoder::new(k, self.opts.key_schema())?)
            }
            _ => None,
        };
        Ok(Box::new(KafkaReader {
            opts: self.opts.clone(),
            subtask,
            parallelism,
            schema: self.schema.clone(),
            metadata: self.metadata.clone(),
            consumer: None,
            splits: Vec::new(),
            index: HashMap::new(),
            restored,
            last_discovery: Instant::now(),
            value,
            key,
            changelog: self.changelog(),
            skipped_keyless: 0,
            last_snapshot: None,
            failing_since: None,
            last_poll: (0, 0),
            last_splits: None,
        }))
    }
}

impl SourceFactory for KafkaSource {
    fn describe(&self) -> String {
        self.opts.describe()
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn produces_changelog(&self) -> bool {
        self.changelog()
    }

    fn upsert_key(&self) -> Option<Vec<String>> {
        self.opts.upsert.then(|| self.opts.key_fields.clone())
    }

    fn create_reader(&self, subtask: usize, parallelism: usize) -> RtResult<Box<dyn SourceReader>> {
        self.reader(subtask, parallelism, None)
    }

    fn restore_reader(
        &self,
        subtask: usize,
        parallelism: usize,
        restored: &[SplitPosition],
    ) -> RtResult<Box<dyn SourceReader>> {
        let mut mine = HashMap::new();
        let mut known = HashSet::new();
        for sp in restored {
            let (topic, partition) = parse_split(&sp.split).ok_or_else(|| {
                RuntimeError::Internal(format!(
                    "{}: bad split '{}' in the checkpoint",
                    self.describe(),
                    sp.split
                ))
            })?;
            let pos = Position::decode(&sp.position).ok_or_else(|| {
                RuntimeError::Internal(format!(
                    "{}: bad position of split '{}' in the checkpoint",
                    self.describe(),
                    sp.split
                ))
            })?;
            known.insert((topic.clone(), partition));
            if split_owner(&topic, partition, parallelism) == subtask {
                mine.insert((topic, partition), pos);
            }
        }
        self.reader(subtask, parallelism, Some(Restored { mine, known }))
    }
}

fn parse_split(s: &str) -> Option<(String, i32)> {
    let (t, p) = s.rsplit_once('/')?;
    Some((t.to_string(), p.parse().ok()?))
}

/// Where a split resumes: the next offset to read and, for bounded sources, the offset to
/// stop before.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Position {
    offset: i64,
    stop: Option<i64>,
}

impl Position {
    fn encode(&self) -> Vec<u8> {
        let mut v = serde_json::json!({ "offset": self.offset });
        if let Some(s) = self.stop {
            v["stop"] = s.into();
        }
        v.to_string().into_bytes()
    }

    fn decode(b: &[u8]) -> Option<Position> {
        let v: serde_json::Value = serde_json::from_slice(b).ok()?;
        Some(Position {
            offset: v.get("offset")?.as_i64()?,
            stop: v.get("stop").and_then(|s| s.as_i64()),
        })
    }
}

/// The splits of a checkpoint, as a reader sees them.
struct Restored {
    /// This subtask's splits.
    mine: HashMap<(String, i32), Position>,
    /// Every split of the checkpoint (a split that is not there is a new partition).
    known: HashSet<(String, i32)>,
}

struct Split {
    topic: String,
    partition: i32,
    next: i64,
    stop: Option<i64>,
    done: bool,
}

impl Split {
    fn name(&self) -> String {
        format!("{}/{}", self.topic, self.partition)
    }
}

/// A message part's decoder: a line format (csv, json, or a changelog format), avro or raw.
enum Decoder {
    Lines {
        dec: Box<dyn RecordDecoder>,
        spec: FormatSpec,
        schema: SchemaRef,
        /// A changelog format: a message may make several rows (or none), each with its kind,
        /// so messages are decoded one at a time to know which rows are whose.
        changelog: bool,
    },
    Avro {
        dec: Box<AvroDecoder>,
        ignore_errors: bool,
        skipped: u64,
    },
    Raw {
        schema: SchemaRef,
    },
}

/// What the values of a poll decoded to.
struct Decoded {
    batch: RecordBatch,
    /// The value (index into the decoded values) each row came from; `None`: row `i` came
    /// from value `i` (one row per value, none skipped).
    rows_of: Option<Vec<u32>>,
    /// The row kinds, for a changelog format.
    kinds: Option<Vec<RowKind>>,
}

impl Decoded {
    fn value_of(&self, row: usize) -> usize {
        self.rows_of.as_ref().map_or(row, |r| r[row] as usize)
    }
}

/// The error of a record that does not parse and is not skipped.
fn parse_error(at: String, reason: &str, record: &str, format: &str) -> RuntimeError {
    RuntimeError::Data(format!(
        "cannot parse record of {at}: {reason}. Record: '{record}' (set '{format}.ignore-parse-errors' = 'true' to skip such records)"
    ))
}

/// A message value as one line: one message is one record, so a line break inside it (JSON
/// may be pretty-printed) is whitespace.
fn push_line(chunk: &mut Vec<u8>, v: &[u8]) {
    // memchr: a byte loop with an early exit does not vectorise, and this runs over every
    // message's bytes (6.5 % of a Kafka → TUMBLE job's CPU before).
    if memchr::memchr2(b'\n', b'\r', v).is_some() {
        chunk.extend(v.iter().map(|b| match b {
            b'\n' | b'\r' => b' ',
            b => *b,
        }));
    } else {
        chunk.extend_from_slice(v);
    }
    chunk.push(b'\n');
}

impl Decoder {
    fn new(spec: &FormatSpec, schema: SchemaRef) -> RtResult<Self> {
        let data = |e: FormatError| RuntimeError::Data(e.to_string());
        match spec.name.as_str() {
            "raw" => Ok(Decoder::Raw { schema }),
            "avro" => Ok(Decoder::Avro {
                dec: Box::new(AvroDecoder::new(schema, &spec.options).map_err(data)?),
                ignore_errors: format::avro::ignore_parse_errors(&spec.options).map_err(data)?,
                skipped: 0,
            }),
            name => Ok(Decoder::Lines {
                dec: format::decoder(name, schema.clone(), &spec.options).map_err(data)?,
                spec: spec.clone(),
                schema,
                changelog: ChangelogFormat::from_name(name).is_some(),
            }),
        }
    }

    fn skipped(&self) -> u64 {
        match self {
            Decoder::Lines { dec, .. } => dec.skipped_records(),
            Decoder::Avro { skipped, .. } => *skipped,
            Decoder::Raw { .. } => 0,
        }
    }

    /// Whether the format skips records it cannot parse (`<format>.ignore-parse-errors`).
    fn ignores_errors(&self) -> bool {
        match self {
            Decoder::Lines { spec, .. } => spec
                .options
                .get(&format!("{}.ignore-parse-errors", spec.name))
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            Decoder::Avro { ignore_errors, .. } => *ignore_errors,
            Decoder::Raw { .. } => false,
        }
    }

    /// Decodes `values` (one per message; never empty or blank for line formats).
    fn decode(
        &mut self,
        values: &[&[u8]],
        describe: &dyn Fn(usize) -> String,
    ) -> RtResult<Decoded> {
        match self {
            Decoder::Raw { schema } => {
                let vals: Vec<Option<&[u8]>> = values.iter().map(|v| Some(*v)).collect();
                let col = format::raw::decode_values(schema, &vals)
                    .map_err(|e| RuntimeError::Data(e.to_string()))?;
                Ok(Decoded {
                    batch: RecordBatch::try_new(schema.clone(), vec![col])?,
                    rows_of: None,
                    kinds: None,
                })
            }
            Decoder::Avro {
                dec,
                ignore_errors,
                skipped,
            } => {
                let mut kept = Vec::with_capacity(values.len());
                for (i, v) in values.iter().enumerate() {
                    match dec.decode_one(v) {
                        Ok(()) => kept.push(i as u32),
                        Err(_) if *ignore_errors => *skipped += 1,
                        Err(reason) if crate::preview::report(describe(i), &reason, v) => {}
                        Err(reason) => {
                            let _ = dec.finish();
                            return Err(parse_error(
                                describe(i),
                                &reason,
                                &format!("(hex) {}", crate::message::hex_prefix(v)),
                                "avro",
                            ));
                        }
                    }
                }
                let batch = dec
                    .finish()
                    .map_err(|e| RuntimeError::Data(e.to_string()))?
                    .unwrap_or_else(|| RecordBatch::new_empty(dec.schema()));
                let all = kept.len() == values.len();
                Ok(Decoded {
                    batch,
                    rows_of: (!all).then_some(kept),
                    kinds: None,
                })
            }
            Decoder::Lines {
                dec,
                spec,
                schema,
                changelog: true,
            } => {
                let mut parts = Vec::new();
                let mut rows_of = Vec::new();
                let mut kinds = Vec::new();
                let mut line = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    line.clear();
                    push_line(&mut line, v);
                    match dec.decode(&line, 1, "kafka") {
                        Ok(Some(b)) => {
                            let n = b.num_rows();
                            let k = dec.take_row_kinds().ok_or_else(|| {
                                RuntimeError::Internal(format!(
                                    "the {} decoder returned no row kinds",
                                    spec.name
                                ))
                            })?;
                            rows_of.extend(std::iter::repeat_n(i as u32, n));
                            kinds.extend(k);
                            parts.push(b);
                        }
                        Ok(None) => {}
                        Err(FormatError::Parse { reason, .. })
                            if crate::preview::report(describe(i), &reason, v) => {}
                        Err(FormatError::Parse { reason, record, .. }) => {
                            return Err(parse_error(describe(i), &reason, &record, &spec.name));
                        }
                        Err(e) => return Err(RuntimeError::Data(e.to_string())),
                    }
                }
                let batch = if parts.is_empty() {
                    RecordBatch::new_empty(schema.clone())
                } else {
                    concat_batches(schema, &parts)?
                };
                Ok(Decoded {
                    batch,
                    rows_of: Some(rows_of),
                    kinds: Some(kinds),
                })
            }
            Decoder::Lines {
                dec, spec, schema, ..
            } => {
                let mut chunk = Vec::with_capacity(values.iter().map(|v| v.len() + 1).sum());
                for v in values {
                    push_line(&mut chunk, v);
                }
                let before = dec.skipped_records();
                let batch = match dec.decode(&chunk, 1, "kafka") {
                    Ok(b) => b.unwrap_or_else(|| RecordBatch::new_empty(schema.clone())),
                    Err(FormatError::Parse { .. }) if crate::preview::is_enabled() => {
                        // Preview: one value at a time, recording the ones that fail.
                        let mut parts = Vec::new();
                        let mut kept = Vec::with_capacity(values.len());
                        for (i, line) in chunk.split_inclusive(|b| *b == b'\n').enumerate() {
                            match dec.decode(line, 1, "kafka") {
                                Ok(Some(b)) if b.num_rows() == 1 => {
                                    parts.push(b);
                                    kept.push(i as u32);
                                }
                                Ok(_) => {}
                                Err(FormatError::Parse { reason, .. }) => {
                                    crate::preview::report(describe(i), &reason, values[i]);
                                }
                                Err(e) => return Err(RuntimeError::Data(e.to_string())),
                            }
                        }
                        let batch = if parts.is_empty() {
                            RecordBatch::new_empty(schema.clone())
                        } else {
                            concat_batches(schema, &parts)?
                        };
                        return Ok(Decoded {
                            batch,
                            rows_of: Some(kept),
                            kinds: None,
                        });
                    }
                    Err(FormatError::Parse {
                        line,
                        record,
                        reason,
                        ..
                    }) => {
                        return Err(parse_error(
                            describe(line as usize - 1),
                            &reason,
                            &record,
                            &spec.name,
                        ));
                    }
                    Err(e) => return Err(RuntimeError::Data(e.to_string())),
                };
                if dec.skipped_records() == before {
                    return Ok(Decoded {
                        batch,
                        rows_of: None,
                        kinds: None,
                    });
                }
                // Some values were skipped: find out which, one value at a time with a fresh
                // decoder of the same configuration (the rows themselves are in `batch`).
                let mut probe = format::decoder(&spec.name, schema.clone(), &spec.options)
                    .map_err(|e| RuntimeError::Data(e.to_string()))?;
                let mut kept = Vec::with_capacity(values.len());
                for (i, line) in chunk.split_inclusive(|b| *b == b'\n').enumerate() {
                    if matches!(probe.decode(line, 1, "kafka"), Ok(Some(_))) {
                        kept.push(i as u32);
                    }
                }
                Ok(Decoded {
                    batch,
                    rows_of: Some(kept),
                    kinds: None,
                })
            }
        }
    }
}

/// One message of a poll, as kept until its batch is built.
struct Msg {
    split: usize,
    offset: i64,
    timestamp: Option<i64>,
    timestamp_type: &'static str,
    /// `None`: an upsert tombstone.
    value: Option<std::ops::Range<usize>>,
    key: Option<std::ops::Range<usize>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

struct KafkaReader {
    opts: Arc<KafkaOptions>,
    subtask: usize,
    parallelism: usize,
    schema: SchemaRef,
    metadata: Vec<(String, Field)>,
    consumer: Option<Arc<StreamConsumer>>,
    splits: Vec<Split>,
    index: HashMap<(String, i32), usize>,
    restored: Option<Restored>,
    last_discovery: Instant,
    value: Decoder,
    key: Option<Decoder>,
    /// Rows carry row kinds ([`stc_runtime::source::ROW_KIND_COLUMN`]).
    changelog: bool,
    /// Upsert tombstones skipped for want of a key (`ignore-parse-errors` of the key format).
    skipped_keyless: u64,
    /// Positions of the last checkpoint, committed to the group when it completes.
    last_snapshot: Option<Vec<(String, i32, i64)>>,
    /// Since when every poll has failed (the job fails once this exceeds the request timeout).
    failing_since: Option<Instant>,
    /// Bytes and messages of the last poll (capacities for the next one).
    last_poll: (usize, usize),
    /// The partition (index in `splits`) of each row of the last batch: per-partition
    /// watermarks.
    last_splits: Option<Vec<u32>>,
}

fn kerr(opts: &KafkaOptions, what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::external(format!("{}: {what}: {e}", opts.describe()), true)
}

/// The partitions of the table's topics, sorted.
fn list_partitions(opts: &KafkaOptions, c: &StreamConsumer) -> RtResult<Vec<(String, i32)>> {
    let mut out = Vec::new();
    if let Some(p) = &opts.pattern {
        let md = c
            .fetch_metadata(None, opts.request_timeout)
            .map_err(|e| kerr(opts, "cannot fetch the topic list", e))?;
        for t in md.topics() {
            if p.is_match(t.name()) && t.error().is_none() {
                out.extend(
                    t.partitions()
                        .iter()
                        .map(|p| (t.name().to_string(), p.id())),
                );
            }
        }
    } else {
        for topic in &opts.topics {
            let md = c
                .fetch_metadata(Some(topic), opts.request_timeout)
                .map_err(|e| {
                    kerr(
                        opts,
                        &format!("cannot fetch the metadata of topic '{topic}'"),
                        e,
                    )
                })?;
            let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
                return Err(kerr(opts, "metadata without the topic", topic));
            };
            if let Some(err) = t.error() {
                return Err(RuntimeError::external(
                    format!(
                        "{}: topic '{topic}' is not available: {err:?}",
                        opts.describe()
                    ),
                    false,
                ));
            }
            if t.partitions().is_empty() {
                return Err(RuntimeError::external(
                    format!("{}: topic '{topic}' does not exist", opts.describe()),
                    false,
                ));
            }
            out.extend(t.partitions().iter().map(|p| (topic.clone(), p.id())));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn watermarks(opts: &KafkaOptions, c: &StreamConsumer, t: &str, p: i32) -> RtResult<(i64, i64)> {
    c.fetch_watermarks(t, p, opts.request_timeout).map_err(|e| {
        kerr(
            opts,
            &format!("cannot fetch the offsets of partition {t}/{p}"),
            e,
        )
    })
}

/// Offsets of `parts` at `ts` (the first message with a timestamp ≥ `ts`; the end of the
/// partition if there is none).
fn offsets_at(
    opts: &KafkaOptions,
    c: &StreamConsumer,
    parts: &[(String, i32)],
    ts: i64,
) -> RtResult<HashMap<(String, i32), i64>> {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in parts {
        tpl.add_partition_offset(t, *p, Offset::Offset(ts))
            .map_err(|e| kerr(opts, "bad partition", e))?;
    }
    let res = c
        .offsets_for_times(tpl, opts.request_timeout)
        .map_err(|e| {
            kerr(
                opts,
                &format!("cannot look up offsets for timestamp {ts}"),
                e,
            )
        })?;
    let mut out = HashMap::new();
    for (t, p) in parts {
        let off = match res.find_partition(t, *p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => watermarks(opts, c, t, *p)?.1,
        };
        out.insert((t.clone(), *p), off);
    }
    Ok(out)
}

/// Committed offsets of the group; a partition without one follows `auto.offset.reset`
/// (`earliest`/`latest`), or fails as in Flink when the table does not set it.
fn group_offsets(
    opts: &KafkaOptions,
    c: &StreamConsumer,
    parts: &[(String, i32)],
) -> RtResult<HashMap<(String, i32), i64>> {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in parts {
        tpl.add_partition(t, *p);
    }
    let res = c
        .committed_offsets(tpl, opts.request_timeout)
        .map_err(|e| kerr(opts, "cannot fetch the committed offsets of the group", e))?;
    let reset = opts
        .properties
        .iter()
        .find(|(k, _)| k == "auto.offset.reset")
        .map(|(_, v)| v.as_str());
    let mut out = HashMap::new();
    for (t, p) in parts {
        let off = match res.find_partition(t, *p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => match reset {
                Some("earliest" | "smallest" | "beginning") => watermarks(opts, c, t, *p)?.0,
                Some("latest" | "largest" | "end") => watermarks(opts, c, t, *p)?.1,
                _ => {
                    return Err(RuntimeError::Data(format!(
                        "{}: group '{}' has no committed offset for partition {t}/{p}, and 'properties.auto.offset.reset' (earliest or latest) is not set",
                        opts.describe(),
                        opts.group_id.as_deref().unwrap_or("")
                    )));
                }
            },
        };
        out.insert((t.clone(), *p), off);
    }
    Ok(out)
}

fn start_offsets(
    opts: &KafkaOptions,
    c: &StreamConsumer,
    parts: &[(String, i32)],
    mode: &StartMode,
) -> RtResult<HashMap<(String, i32), i64>> {
    match mode {
        StartMode::GroupOffsets => group_offsets(opts, c, parts),
        StartMode::Timestamp(ts) => offsets_at(opts, c, parts, *ts),
        _ => {
            let mut out = HashMap::new();
            for (t, p) in parts {
                let off = match mode {
                    StartMode::Latest => watermarks(opts, c, t, *p)?.1,
                    StartMode::FromEnd(n) => {
                        let (low, high) = watermarks(opts, c, t, *p)?;
                        (high - n).max(low)
                    }
                    StartMode::Specific(m) if m.contains_key(p) => m[p],
                    _ => watermarks(opts, c, t, *p)?.0,
                };
                out.insert((t.clone(), *p), off);
            }
            Ok(out)
        }
    }
}

fn stop_offsets(
    opts: &KafkaOptions,
    c: &StreamConsumer,
    parts: &[(String, i32)],
) -> RtResult<HashMap<(String, i32), i64>> {
    match &opts.stop {
        StopMode::Unbounded => Ok(HashMap::new()),
        StopMode::GroupOffsets => group_offsets(opts, c, parts),
        StopMode::Timestamp(ts) => offsets_at(opts, c, parts, *ts),
        StopMode::Latest | StopMode::Specific(_) => {
            let mut out = HashMap::new();
            for (t, p) in parts {
                let off = match &opts.stop {
                    StopMode::Specific(m) if m.contains_key(p) => m[p],
                    _ => watermarks(opts, c, t, *p)?.1,
                };
                out.insert((t.clone(), *p), off);
            }
            Ok(out)
        }
    }
}

/// What a (re)discovery found: new splits with their resolved positions.
type Discovered = Vec<((String, i32), Position)>;

impl KafkaReader {
    fn bounded(&self) -> bool {
        self.opts.stop != StopMode::Unbounded
    }

    fn create_consumer(&self) -> RtResult<Arc<StreamConsumer>> {
        let group = self.opts.group_id.clone().unwrap_or_else(|| {
            // A group id is needed for the consumer queue; without the table's own group
            // nothing is ever committed, so it leaves no trace on the broker.
            format!("stc-{}-{}", self.opts.table, uuid::Uuid::new_v4())
        });
        let eof = if self.bounded() { "true" } else { "false" };
        let c: StreamConsumer = self
            .opts
            .client_config(&[
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("enable.partition.eof", eof),
                // librdkafka (since 2.4) stops fetching a partition for this long whenever
                // its local queue has passed `queued.min.messages`; its default of 1 s made a
                // consumer catching up on a backlog wait most of the time (1 M messages from
                // one partition: 5 s instead of 1 s, at the same CPU time). A Java consumer
                // has no such pause. Tables may still set `properties.fetch.queue.backoff.ms`.
                ("fetch.queue.backoff.ms", "20"),
            ])
            .set("group.id", &group)
            .create()
            .map_err(|e| {
                RuntimeError::Data(format!(
                    "{}: bad consumer configuration: {e}",
                    self.opts.describe()
                ))
            })?;
        Ok(Arc::new(c))
    }

    /// Finds this subtask's partitions that are not known yet and resolves where they start
    /// and stop. Blocking (metadata requests): runs on the blocking pool.
    async fn discover(&mut self) -> RtResult<()> {
        let consumer = match &self.consumer {
            Some(c) => c.clone(),
            None => {
                let c = self.create_consumer()?;
                self.consumer = Some(c.clone());
                c
            }
        };
        let opts = self.opts.clone();
        let (subtask, parallelism) = (self.subtask, self.parallelism);
        let first = self.splits.is_empty() && self.index.is_empty();
        let have: HashSet<(String, i32)> = self.index.keys().cloned().collect();
        let restored_mine: HashMap<(String, i32), Position> = self
            .restored
            .as_ref()
            .map(|r| r.mine.clone())
            .unwrap_or_default();
        let restored_known: Option<HashSet<(String, i32)>> = self
            .restored
            .as_ref()
            .filter(|r| !r.known.is_empty())
            .map(|r| r.known.clone());
        let found: Discovered = tokio::task::spawn_blocking(move || -> RtResult<Discovered> {
            let all = list_partitions(&opts, &consumer)?;
            let mine: Vec<(String, i32)> = all
                .into_iter()
                .filter(|(t, p)| {
                    split_owner(t, *p, parallelism) == subtask && !have.contains(&(t.clone(), *p))
                })
                .collect();
            let mut out = Vec::new();
            // Restored splits resume where the checkpoint says.
            let (resumed, fresh): (Vec<_>, Vec<_>) = mine
                .into_iter()
                .partition(|s| restored_mine.contains_key(s));
            for s in resumed {
                let mut pos = restored_mine[&s];
                if pos.stop.is_none() && opts.stop != StopMode::Unbounded {
                    pos.stop = stop_offsets(&opts, &consumer, std::slice::from_ref(&s))?
                        .get(&s)
                        .copied();
                }
                out.push((s, pos));
            }
            if fresh.is_empty() {
                return Ok(out);
            }
            // A partition seen after the start, or missing from a non-empty checkpoint, is
            // new: it is read from its beginning.
            let is_new = |s: &(String, i32)| {
                !first || restored_known.as_ref().is_some_and(|k| !k.contains(s))
            };
            let (new, initial): (Vec<_>, Vec<_>) = fresh.into_iter().partition(is_new);
            let mut starts = start_offsets(&opts, &consumer, &initial, &opts.start)?;
            starts.extend(start_offsets(&opts, &consumer, &new, &StartMode::Earliest)?);
            let all_fresh: Vec<_> = initial.into_iter().chain(new).collect();
            let stops = stop_offsets(&opts, &consumer, &all_fresh)?;
            for s in all_fresh {
                let pos = Position {
                    offset: starts[&s],
                    stop: stops.get(&s).copied(),
                };
                out.push((s, pos));
            }
            Ok(out)
        })
        .await
        .map_err(|e| RuntimeError::Internal(format!("partition discovery panicked: {e}")))??;
        self.last_discovery = Instant::now();
        // The restored positions are used now; later discoveries only add new partitions.
        self.restored = None;
        let added = !found.is_empty();
        for ((topic, partition), pos) in found {
            self.index
                .insert((topic.clone(), partition), self.splits.len());
            self.splits.push(Split {
                topic,
                partition,
                next: pos.offset,
                done: pos.stop.is_some_and(|s| pos.offset >= s),
                stop: pos.stop,
            });
        }
        if added || first {
            self.assign()?;
        }
        Ok(())
    }

    /// Assigns the unfinished splits at their next offsets.
    fn assign(&self) -> RtResult<()> {
        let mut tpl = TopicPartitionList::new();
        for s in self.splits.iter().filter(|s| !s.done) {
            tpl.add_partition_offset(&s.topic, s.partition, Offset::Offset(s.next))
                .map_err(|e| kerr(&self.opts, "bad partition", e))?;
        }
        self.consumer
            .as_ref()
            .expect("consumer created by discover")
            .assign(&tpl)
            .map_err(|e| kerr(&self.opts, "cannot assign partitions", e))
    }

    /// After the end of a partition was reached: splits whose consumer position reached
    /// their stop offset are done (the last offsets may be transaction markers, which are
    /// never delivered as messages).
    fn on_partition_eof(&mut self) -> RtResult<bool> {
        let pos = self
            .consumer
            .as_ref()
            .expect("consumer exists")
            .position()
            .map_err(|e| kerr(&self.opts, "cannot read the consumer position", e))?;
        let mut finished = false;
        for e in pos.elements() {
            if let (Offset::Offset(o), Some(&i)) = (
                e.offset(),
                self.index.get(&(e.topic().to_string(), e.partition())),
            ) {
                let s = &mut self.splits[i];
                if !s.done && s.stop.is_some_and(|stop| o >= stop) {
                    s.next = s.next.max(s.stop.unwrap_or(o));
                    s.done = true;
                    finished = true;
                }
            }
        }
        Ok(finished)
    }

    /// Decodes the messages of one poll into a batch of the reader schema.
    /// The batch of a poll's messages: values (and keys) decoded, key and value columns
    /// placed, metadata columns, and the row kinds of a changelog.
    fn build(&mut self, msgs: Vec<Msg>, buf: &[u8]) -> RtResult<RecordBatch> {
        let (opts, splits) = (&self.opts, &self.splits);
        // Values: every message that has one (an upsert tombstone has none).
        let valued: Vec<usize> = (0..msgs.len())
            .filter(|i| msgs[*i].value.is_some())
            .collect();
        let values: Vec<&[u8]> = valued
            .iter()
            .map(|i| &buf[msgs[*i].value.clone().expect("valued")])
            .collect();
        let describe_value = |j: usize| describe_msg(opts, splits, &msgs[valued[j]], "");
        let decoded = self.value.decode(&values, &describe_value)?;

        // The output rows, in message order: each value row, and a `-D` per tombstone.
        struct Out {
            msg: usize,
            value: Option<u32>,
            key: Option<u32>,
            kind: RowKind,
        }
        let mut rows: Vec<Out> = Vec::with_capacity(decoded.batch.num_rows());
        let mut next_row = 0;
        let mut next_value = 0;
        for (i, m) in msgs.iter().enumerate() {
            if m.value.is_none() {
                rows.push(Out {
                    msg: i,
                    value: None,
                    key: None,
                    kind: RowKind::Delete,
                });
                continue;
            }
            while next_row < decoded.batch.num_rows() && decoded.value_of(next_row) == next_value {
                rows.push(Out {
                    msg: i,
                    value: Some(next_row as u32),
                    key: None,
                    kind: decoded
                        .kinds
                        .as_ref()
                        .map_or(RowKind::Insert, |k| k[next_row]),
                });
                next_row += 1;
            }
            next_value += 1;
        }

        // Keys: decoded for the messages that made a row.
        let mut key_batch = None;
        if let Some(kdec) = self.key.as_mut() {
            let mut keyed: Vec<usize> = rows
                .iter()
                .map(|r| r.msg)
                .filter(|i| {
                    msgs[*i]
                        .key
                        .as_ref()
                        .is_some_and(|r| !buf[r.clone()].iter().all(u8::is_ascii_whitespace))
                })
                .collect();
            keyed.dedup();
            let keys: Vec<&[u8]> = keyed
                .iter()
                .map(|i| &buf[msgs[*i].key.clone().expect("keyed")])
                .collect();
            let describe_key =
                |j: usize| describe_msg(opts, splits, &msgs[keyed[j]], "the key of ");
            let kd = kdec.decode(&keys, &describe_key)?;
            // The key row of each message (none for a missing or skipped key).
            let mut key_of: HashMap<usize, u32> = HashMap::with_capacity(keyed.len());
            for r in 0..kd.batch.num_rows() {
                key_of.insert(keyed[kd.value_of(r)], r as u32);
            }
            let mut kept = Vec::with_capacity(rows.len());
            for mut r in rows {
                r.key = key_of.get(&r.msg).copied();
                let m = &msgs[r.msg];
                let key_skipped = r.key.is_none() && keyed.binary_search(&r.msg).is_ok();
                if r.value.is_none() && r.key.is_none() && !key_skipped {
                    // A tombstone addresses its key's row; without a key it deletes nothing.
                    if !kdec.ignores_errors() {
                        return Err(RuntimeError::Data(format!(
                            "a tombstone (a message without a value) has no key, so it deletes no row: {} (set 'key.{}.ignore-parse-errors' = 'true' to skip such messages)",
                            describe_msg(opts, splits, m, ""),
                            opts.key.as_ref().map_or("json", |k| k.name.as_str())
                        )));
                    }
                    self.skipped_keyless += 1;
                    continue;
                }
                if key_skipped {
                    // The key did not parse and `ignore-parse-errors` skipped it: the
                    // message's rows go with it.
                    continue;
                }
                kept.push(r);
            }
            rows = kept;
            key_batch = Some(kd.batch);
        }

        let n = rows.len();
        let row_msgs: Vec<&Msg> = rows.iter().map(|r| &msgs[r.msg]).collect();
        self.last_splits = Some(row_msgs.iter().map(|m| m.split as u32).collect());
        let vb = &decoded.batch;
        let identity = vb.num_rows() == n
            && rows
                .iter()
                .enumerate()
                .all(|(i, r)| r.value == Some(i as u32));
        let value_idx = UInt32Array::from(rows.iter().map(|r| r.value).collect::<Vec<_>>());
        let key_idx = UInt32Array::from(rows.iter().map(|r| r.key).collect::<Vec<_>>());
        let tombstones = rows.iter().any(|r| r.value.is_none());
        let from_value = |f: &Field| -> RtResult<ArrayRef> {
            Ok(match vb.column_by_name(f.name()) {
                Some(c) if identity => c.clone(),
                Some(c) => take(c, &value_idx, None)?,
                None => new_null_array(f.data_type(), n),
            })
        };
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for f in self.opts.physical.fields() {
            let key_col = key_batch
                .as_ref()
                .filter(|_| self.opts.key_fields.contains(f.name()))
                .and_then(|kb| kb.column_by_name(f.name()));
            let col = match key_col {
                Some(k) if !self.opts.value_includes_key => take(k, &key_idx, None)?,
                // `ALL`: the value's key columns, and a tombstone's from its key.
                Some(k) if tombstones => {
                    let mask = BooleanArray::from(
                        rows.iter().map(|r| r.value.is_none()).collect::<Vec<_>>(),
                    );
                    zip(&mask, &take(k, &key_idx, None)?, &from_value(f)?)?
                }
                _ => from_value(f)?,
            };
            cols.push(col);
        }
        for (key, field) in &self.metadata {
            let col: ArrayRef = match key.as_str() {
                "topic" => Arc::new(StringArray::from_iter_values(
                    row_msgs.iter().map(|m| self.splits[m.split].topic.as_str()),
                )),
                "partition" => Arc::new(Int32Array::from_iter_values(
                    row_msgs.iter().map(|m| self.splits[m.split].partition),
                )),
                "offset" => Arc::new(Int64Array::from_iter_values(
                    row_msgs.iter().map(|m| m.offset),
                )),
                "timestamp" => Arc::new(
                    TimestampMillisecondArray::from_iter(row_msgs.iter().map(|m| m.timestamp))
                        .with_timezone("UTC"),
                ),
                "timestamp-type" => Arc::new(StringArray::from_iter_values(
                    row_msgs.iter().map(|m| m.timestamp_type),
                )),
                // librdkafka does not hand out the leader epoch of a message.
                "leader-epoch" => new_null_array(&DataType::Int32, n),
                "headers" => headers_column(&row_msgs, field)?,
                other => {
                    return Err(RuntimeError::Internal(format!(
                        "unknown kafka metadata key {other}"
                    )));
                }
            };
            cols.push(col);
        }
        let cols = cols
            .into_iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c)
                } else {
                    cast(&c, f.data_type()).map_err(RuntimeError::from)
                }
            })
            .collect::<RtResult<Vec<_>>>()?;
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?;
        if !self.changelog {
            return Ok(batch);
        }
        let kinds: Vec<RowKind> = rows.iter().map(|r| r.kind).collect();
        stc_runtime::source::with_row_kinds(batch, &kinds)
    }
}

/// Where a record is, for error messages: topic, partition, offset and table.
fn describe_msg(opts: &KafkaOptions, splits: &[Split], m: &Msg, what: &str) -> String {
    let s = &splits[m.split];
    format!(
        "{what}kafka topic '{}' partition {} offset {} (table '{}')",
        s.topic, s.partition, m.offset, opts.table
    )
}

/// The `headers` metadata column (`MAP<STRING, BYTES>`), with the declared type's field names.
fn headers_column(msgs: &[&Msg], field: &Field) -> RtResult<ArrayRef> {
    let names = match field.data_type() {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => Some(MapFieldNames {
                entry: entries.name().clone(),
                key: kv[0].name().clone(),
                value: kv[1].name().clone(),
            }),
            _ => None,
        },
        _ => None,
    };
    let mut b = MapBuilder::new(names, StringBuilder::new(), BinaryBuilder::new());
    for m in msgs {
        for (k, v) in &m.headers {
            b.keys().append_value(k);
            match v {
                Some(v) => b.values().append_value(v),
                None => b.values().append_null(),
            }
        }
        b.append(true)?;
    }
    Ok(Arc::new(b.finish()))
}

#[async_trait]
impl SourceReader for KafkaReader {
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        if self.consumer.is_none() {
            self.discover().await?;
        } else if !self.bounded()
            && let Some(every) = self.opts.discovery_interval
            && self.last_discovery.elapsed() >= every
        {
            self.discover().await?;
        }
        if self.bounded() && self.splits.iter().all(|s| s.done) {
            return Ok(None);
        }
        let consumer = self
            .consumer
            .clone()
            .expect("discover created the consumer");
        let want_headers = self.metadata.iter().any(|(k, _)| k == "headers");
        let want_timestamp = self
            .metadata
            .iter()
            .any(|(k, _)| k == "timestamp" || k == "timestamp-type");
        let want_key = self.key.is_some();
        let upsert = self.opts.upsert;
        // Sized like the last poll's, which the next one most likely matches.
        let mut buf: Vec<u8> = Vec::with_capacity(self.last_poll.0);
        let mut msgs: Vec<Msg> = Vec::with_capacity(self.last_poll.1);
        let mut finished_split = false;
        let mut error: Option<KafkaError> = None;
        {
            let mut stream = consumer.stream();
            let mut first = true;
            while msgs.len() < MAX_BATCH {
                let next = if first {
                    first = false;
                    match tokio::time::timeout(POLL_WAIT, stream.next()).await {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                } else {
                    match stream.next().now_or_never() {
                        Some(m) => m,
                        None => break,
                    }
                };
                let m = match next {
                    None => break,
                    Some(Err(KafkaError::PartitionEOF(_))) => {
                        finished_split |= self.on_partition_eof()?;
                        continue;
                    }
                    Some(Err(e)) => {
                        error = Some(e);
                        break;
                    }
                    Some(Ok(m)) => m,
                };
                // A reader has few partitions: a scan finds one without allocating its key.
                let found = if self.splits.len() <= 8 {
                    self.splits
                        .iter()
                        .position(|s| s.partition == m.partition() && s.topic == m.topic())
                } else {
                    self.index
                        .get(&(m.topic().to_string(), m.partition()))
                        .copied()
                };
                let Some(i) = found else {
                    continue;
                };
                let s = &mut self.splits[i];
                if s.done || m.offset() < s.next {
                    // Left over from before a re-assignment, or past the stop offset.
                    continue;
                }
                if s.stop.is_some_and(|stop| m.offset() >= stop) {
                    s.done = true;
                    s.next = s.stop.unwrap_or(s.next);
                    finished_split = true;
                    continue;
                }
                s.next = m.offset() + 1;
                if s.stop.is_some_and(|stop| s.next >= stop) {
                    s.done = true;
                    finished_split = true;
                }
                // A message without a value (a tombstone) or with an empty one makes no row,
                // as in Flink (the formats return no row for it), except in an upsert topic:
                // there a tombstone deletes its key's row.
                let value = match m.payload() {
                    None if upsert => None,
                    Some(v) if !v.iter().all(u8::is_ascii_whitespace) => {
                        let start = buf.len();
                        buf.extend_from_slice(v);
                        Some(start..buf.len())
                    }
                    _ => continue,
                };
                let key = if want_key {
                    m.key().map(|k| {
                        let start = buf.len();
                        buf.extend_from_slice(k);
                        start..buf.len()
                    })
                } else {
                    None
                };
                let (timestamp, timestamp_type) = match want_timestamp.then(|| m.timestamp()) {
                    None | Some(rdkafka::Timestamp::NotAvailable) => (None, "NoTimestampType"),
                    Some(rdkafka::Timestamp::CreateTime(t)) => (Some(t), "CreateTime"),
                    Some(rdkafka::Timestamp::LogAppendTime(t)) => (Some(t), "LogAppendTime"),
                };
                let headers = match (want_headers, m.headers()) {
                    (true, Some(h)) => h
                        .iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect(),
                    _ => Vec::new(),
                };
                msgs.push(Msg {
                    split: i,
                    offset: m.offset(),
                    timestamp,
                    timestamp_type,
                    value,
                    key,
                    headers,
                });
            }
        }
        match error {
            Some(e) if msgs.is_empty() => {
                // librdkafka reconnects by itself; fail once the cluster has been unusable
                // for longer than a request may take.
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > self.opts.request_timeout {
                    return Err(kerr(&self.opts, "cannot consume", e));
                }
                tracing::warn!("{}: consumer error (retrying): {e}", self.opts.describe());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => self.failing_since = None,
        }
        if finished_split {
            if self.bounded() && self.splits.iter().all(|s| s.done) && msgs.is_empty() {
                return Ok(None);
            }
            self.assign()?;
        }
        if msgs.is_empty() {
            self.last_splits = Some(Vec::new());
            return Ok(Some(RecordBatch::new_empty(self.schema.clone())));
        }
        self.last_poll = (buf.len(), msgs.len());
        self.build(msgs, &buf).map(Some)
    }

    fn last_batch_splits(&mut self) -> Option<Vec<u32>> {
        self.last_splits.take()
    }

    fn live_splits(&self) -> Vec<u32> {
        (0..self.splits.len() as u32)
            .filter(|i| !self.splits[*i as usize].done)
            .collect()
    }

    fn skipped_records(&self) -> u64 {
        self.value.skipped() + self.key.as_ref().map_or(0, Decoder::skipped) + self.skipped_keyless
    }

    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        if self.consumer.is_none() {
            // Not started yet: only a restored reader knows its positions; a fresh one
            // cannot name them without asking the cluster, so the checkpoint fails (it is
            // triggered long after the first batch in practice).
            let r = self.restored.as_ref()?;
            return Some(
                r.mine
                    .iter()
                    .map(|((t, p), pos)| SplitPosition {
                        split: format!("{t}/{p}"),
                        position: pos.encode(),
                    })
                    .collect(),
            );
        }
        self.last_snapshot = Some(
            self.splits
                .iter()
                .map(|s| (s.topic.clone(), s.partition, s.next))
                .collect(),
        );
        Some(
            self.splits
                .iter()
                .map(|s| SplitPosition {
                    split: s.name(),
                    position: Position {
                        offset: s.next,
                        stop: s.stop,
                    }
                    .encode(),
                })
                .collect(),
        )
    }

    async fn notify_checkpoint_complete(&mut self, _id: u64) -> RtResult<()> {
        // Checkpoints complete in order and one at a time, so the last snapshot is the one of
        // checkpoint `_id`. The commit is for monitoring (lag): a failure is logged only.
        let (Some(positions), Some(consumer), Some(_)) = (
            self.last_snapshot.take(),
            self.consumer.as_ref(),
            self.opts.group_id.as_ref(),
        ) else {
            return Ok(());
        };
        let mut tpl = TopicPartitionList::new();
        for (t, p, o) in positions {
            if tpl.add_partition_offset(&t, p, Offset::Offset(o)).is_err() {
                continue;
            }
        }
        if tpl.count() > 0
            && let Err(e) = consumer.commit(&tpl, CommitMode::Async)
        {
            tracing::warn!("{}: cannot commit offsets: {e}", self.opts.describe());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each message becomes exactly one line: line breaks inside a (pretty-printed) value turn
    /// into spaces; values without any are copied as they are.
    #[test]
    fn a_message_is_one_line_whatever_its_line_breaks() {
        let mut chunk = Vec::new();
        push_line(&mut chunk, b"{\"a\": 1}");
        push_line(&mut chunk, b"{\n  \"a\": 2\r\n}");
        push_line(&mut chunk, b"\r");
        assert_eq!(chunk, b"{\"a\": 1}\n{   \"a\": 2  }\n \n");
    }

    #[test]
    fn positions_round_trip() {
        let p = Position {
            offset: 42,
            stop: Some(100),
        };
        assert_eq!(Position::decode(&p.encode()), Some(p));
        let q = Position {
            offset: 7,
            stop: None,
        };
        assert_eq!(Position::decode(&q.encode()), Some(q));
        assert_eq!(parse_split("a/b/3"), Some(("a/b".to_string(), 3)));
        assert_eq!(parse_split("x"), None);
    }
}
