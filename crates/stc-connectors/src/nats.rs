//! The `nats` connector: NATS JetStream streams as sources, subjects as sinks (async-nats).
//!
//! Source: each subject of `subject` (`;`-separated; wildcards allowed) is a *split*, read
//! from the JetStream stream `stream` by its own consumer: an ordered consumer (ephemeral,
//! no server-side state) by default, or a durable pull consumer named by `scan.consumer.name`
//! whose messages are acknowledged (ack-all) only when a checkpoint that covers them
//! completes. Splits are divided among source subtasks, split `i` going to subtask
//! `i % parallelism`.
//!
//! Position: a split's position in a checkpoint is the stream sequence of the last message
//! read; a restored reader resumes at the next sequence, so with checkpoints the source is
//! exactly-once (nothing lost, nothing read twice). `scan.startup.mode` picks where a split
//! starts without a checkpoint: `earliest-offset` (default), `latest-offset`,
//! `specific-offset` (`scan.startup.specific-offset`: a stream sequence) or `timestamp`
//! (`scan.startup.timestamp-millis`). `scan.bounded.mode = 'latest-offset'` makes the source
//! finish at the stream's last sequence at start (bounded jobs and tests).
//!
//! Sink: each row is one message published to `subject` through JetStream; a batch is done
//! when JetStream has acknowledged every message of it (at-least-once: a job restarted after a
//! failure may publish a row again; JetStream's `Nats-Msg-Id` deduplication is not used yet).
//!
//! Metadata keys: `subject`, `sequence` (stream sequence), `timestamp` (publish time).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use futures::{FutureExt, Stream, StreamExt};
use stc_runtime::{
    Operator, OperatorContext, OperatorFactory, Result as RtResult, RuntimeError, SourceFactory,
    SourceReader, SplitPosition, StreamBatch,
};

use crate::message::{self, MessageDecoder, MessageEncoder};
use crate::table::{ConnectorError, ConnectorTable, Result, check_keys};

const CONNECTOR: &str = "nats";
/// Messages per batch at most.
const MAX_BATCH: usize = 2048;
/// How long `next_batch` waits for a first message before returning an empty batch (so the
/// runtime can mark an idle source).
const POLL_WAIT: Duration = Duration::from_millis(200);

pub(crate) fn metadata_keys() -> Vec<(&'static str, DataType)> {
    vec![
        ("subject", DataType::Utf8),
        ("sequence", DataType::Int64),
        (
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ),
    ]
}

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    check_keys(
        t,
        CONNECTOR,
        &[
            "servers",
            "stream",
            "subject",
            "format",
            "connect.timeout",
            "scan.startup.mode",
            "scan.startup.specific-offset",
            "scan.startup.timestamp-millis",
            "scan.bounded.mode",
            "scan.consumer.name",
            "sink.parallelism",
        ],
        message::FORMAT_PREFIXES,
    )?;
    message::validate_format(t, CONNECTOR)?;
    Config::new(t)?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Startup {
    Earliest,
    Latest,
    Sequence(u64),
    TimestampMs(i64),
    /// The preview's `--latest N`: the stream's last N messages (those of the table's
    /// subjects among them), read up to the stream's end at start.
    LastOf(u64),
}

/// The table's options, checked.
#[derive(Debug, Clone)]
struct Config {
    table: String,
    servers: String,
    stream: Option<String>,
    subjects: Vec<String>,
    connect_timeout: Duration,
    startup: Startup,
    bounded: bool,
    durable: Option<String>,
}

impl Config {
    fn new(t: &ConnectorTable) -> Result<Self> {
        let opt = |k: &str| t.options.get(k).map(|s| s.trim().to_string());
        let subjects: Vec<String> = opt("subject")
            .unwrap_or_default()
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if subjects.is_empty() {
            return Err(ConnectorError::Options(format!(
                "the nats connector of table '{}' needs a 'subject' option (a subject to publish to, or subjects to read, separated by ';')",
                t.name
            )));
        }
        let startup = match opt("scan.startup.mode")
            .as_deref()
            .unwrap_or("earliest-offset")
        {
            "earliest-offset" => Startup::Earliest,
            "latest-offset" => Startup::Latest,
            "specific-offset" => {
                let seq: u64 = message::int_option(t, "scan.startup.specific-offset", 0)?;
                if seq == 0 {
                    return Err(ConnectorError::Options(
                        "'scan.startup.mode' = 'specific-offset' needs 'scan.startup.specific-offset': the stream sequence to start at (from 1)".into(),
                    ));
                }
                Startup::Sequence(seq)
            }
            "timestamp" => {
                let ms: i64 = message::int_option(t, "scan.startup.timestamp-millis", -1)?;
                if ms < 0 {
                    return Err(ConnectorError::Options(
                        "'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis': epoch milliseconds".into(),
                    ));
                }
                Startup::TimestampMs(ms)
            }
            other => {
                return Err(ConnectorError::Options(format!(
                    "invalid value '{other}' for option 'scan.startup.mode' of the nats connector; valid values: earliest-offset, latest-offset, specific-offset, timestamp"
                )));
            }
        };
        let bounded = match opt("scan.bounded.mode").as_deref().unwrap_or("unbounded") {
            "unbounded" => false,
            "latest-offset" => true,
            other => {
                return Err(ConnectorError::Options(format!(
                    "invalid value '{other}' for option 'scan.bounded.mode' of the nats connector; valid values: unbounded, latest-offset"
                )));
            }
        };
        Ok(Config {
            table: t.name.clone(),
            servers: opt("servers").unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            stream: opt("stream").filter(|s| !s.is_empty()),
            subjects,
            connect_timeout: message::duration_option(
                t,
                "connect.timeout",
                Duration::from_secs(5),
            )?,
            startup,
            bounded,
            // A preview must not move a durable consumer: it reads through an ephemeral one.
            durable: opt("scan.consumer.name")
                .filter(|s| !s.is_empty())
                .filter(|_| !crate::preview::is_enabled()),
        })
    }

    /// Connects, failing within `connect.timeout` with the servers named.
    async fn connect(&self, what: &str) -> RtResult<async_nats::Client> {
        let fail = |reason: String| {
            RuntimeError::external(
                format!(
                    "cannot connect to NATS at {} for {what} of table '{}': {reason}",
                    self.servers, self.table
                ),
                true,
            )
        };
        let connect = async_nats::ConnectOptions::new()
            .connection_timeout(self.connect_timeout)
            .connect(self.servers.as_str());
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Err(_) => Err(fail(format!(
                "no answer within {:?} (connect.timeout)",
                self.connect_timeout
            ))),
        }
    }
}

/// The source side of a `nats` table.
pub struct NatsSource {
    table: ConnectorTable,
    config: Config,
    format: String,
    schema: SchemaRef,
}

impl NatsSource {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let config = Config::new(t)?;
        if config.stream.is_none() {
            return Err(ConnectorError::Options(format!(
                "the nats source of table '{}' needs a 'stream' option: the JetStream stream that holds subject '{}'",
                t.name,
                config.subjects.join(";")
            )));
        }
        let format = message::format_of(t, CONNECTOR)?;
        let schema = MessageDecoder::new(t, &format)?.schema();
        let mut config = config;
        if let Some(n) = crate::preview::latest() {
            config.startup = Startup::LastOf(n as u64);
            config.bounded = true;
            crate::preview::honour_latest();
        }
        Ok(NatsSource {
            table: t.clone(),
            config,
            format,
            schema,
        })
    }

    fn split_id(&self, subject: &str) -> String {
        format!("{}/{subject}", self.config.stream.as_deref().unwrap_or(""))
    }

    fn reader(
        &self,
        subtask: usize,
        parallelism: usize,
        restored: Option<&[SplitPosition]>,
    ) -> RtResult<Box<dyn SourceReader>> {
        let mut splits = Vec::new();
        for (i, subject) in self.config.subjects.iter().enumerate() {
            if i % parallelism != subtask {
                continue;
            }
            let id = self.split_id(subject);
            let resume = match restored {
                None => None,
                Some(r) => match r.iter().find(|p| p.split == id) {
                    Some(p) => decode_position(p)?,
                    None => None,
                },
            };
            let durable = self.config.durable.as_ref().map(|d| {
                if self.config.subjects.len() == 1 {
                    d.clone()
                } else {
                    format!("{d}-{i}")
                }
            });
            splits.push(Split {
                id,
                subject: subject.clone(),
                durable,
                last_seq: resume,
                bound: None,
                done: false,
                last_msg: None,
                ack_at_checkpoint: None,
            });
        }
        let decoder = MessageDecoder::new(&self.table, &self.format)
            .map_err(|e| RuntimeError::Data(e.to_string()))?;
        Ok(Box::new(NatsReader {
            config: self.config.clone(),
            metadata: self.table.metadata.iter().map(|(k, _)| k.clone()).collect(),
            decoder,
            splits,
            streams: None,
            pending: VecDeque::new(),
            ack_client: None,
        }))
    }
}

/// Position encoding: `{"sequence": N}`, the stream sequence of the last message read; no
/// position (`{}`) while a split started by timestamp has read nothing.
fn encode_position(split: &Split) -> SplitPosition {
    let v = match split.last_seq {
        Some(s) => serde_json::json!({ "sequence": s }),
        None => serde_json::json!({}),
    };
    SplitPosition {
        split: split.id.clone(),
        position: v.to_string().into_bytes(),
    }
}

fn decode_position(p: &SplitPosition) -> RtResult<Option<u64>> {
    let v: serde_json::Value = serde_json::from_slice(&p.position).map_err(|e| {
        RuntimeError::Internal(format!("bad nats position of split '{}': {e}", p.split))
    })?;
    Ok(v.get("sequence").and_then(serde_json::Value::as_u64))
}

impl SourceFactory for NatsSource {
    fn describe(&self) -> String {
        format!(
            "nats stream '{}' subject '{}' at {}",
            self.config.stream.as_deref().unwrap_or(""),
            self.config.subjects.join(";"),
            self.config.servers
        )
    }
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
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
        self.reader(subtask, parallelism, Some(restored))
    }
}

struct Split {
    id: String,
    subject: String,
    durable: Option<String>,
    /// Stream sequence of the last message returned (or, before any, the one before the
    /// start position when it is known).
    last_seq: Option<u64>,
    /// Bounded mode: the stream's last sequence at start.
    bound: Option<u64>,
    done: bool,
    /// Durable consumers: the last message returned, and the one to ack once the pending
    /// checkpoint completes (ack-all covers everything before it).
    last_msg: Option<jetstream::Message>,
    ack_at_checkpoint: Option<jetstream::Message>,
}

type MsgStream = Pin<Box<dyn Stream<Item = (usize, Result<jetstream::Message, String>)> + Send>>;

struct NatsReader {
    config: Config,
    metadata: Vec<String>,
    decoder: MessageDecoder,
    splits: Vec<Split>,
    /// Every split's consumer, merged; `None` until the first `next_batch` connects.
    streams: Option<futures::stream::SelectAll<MsgStream>>,
    /// Messages received but not returned yet.
    pending: VecDeque<(usize, jetstream::Message)>,
    ack_client: Option<async_nats::Client>,
}

impl NatsReader {
    fn where_(&self, split: &Split) -> String {
        format!(
            "NATS stream '{}' subject '{}' at {}",
            self.config.stream.as_deref().unwrap_or(""),
            split.subject,
            self.config.servers
        )
    }

    async fn open(&mut self) -> RtResult<()> {
        let client = self.config.connect("the source").await?;
        let js = jetstream::new(client.clone());
        let stream_name = self.config.stream.clone().unwrap_or_default();
        let mut all = futures::stream::SelectAll::new();
        for i in 0..self.splits.len() {
            let where_ = self.where_(&self.splits[i]);
            let ext = |what: &str, e: String| {
                RuntimeError::external(format!("{what} {where_}: {e}"), true)
            };
            let mut stream = js.get_stream(&stream_name).await.map_err(|e| {
                RuntimeError::external(
                    format!(
                        "cannot open JetStream stream '{stream_name}' at {} (table '{}'): {e}",
                        self.config.servers, self.config.table
                    ),
                    false,
                )
            })?;
            let last = stream
                .info()
                .await
                .map_err(|e| ext("cannot read the state of", e.to_string()))?
                .state
                .last_sequence;
            let split = &mut self.splits[i];
            if self.config.bounded {
                split.bound = Some(last);
            }
            let deliver_policy = match (split.last_seq, self.config.startup) {
                (Some(seq), _) => consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: seq + 1,
                },
                (None, Startup::Earliest) => {
                    split.last_seq = Some(0);
                    consumer::DeliverPolicy::All
                }
                (None, Startup::Latest) => {
                    // Resolved to a sequence now, so a checkpoint taken before the first
                    // message resumes here rather than at a later "latest".
                    split.last_seq = Some(last);
                    consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: last + 1,
                    }
                }
                (None, Startup::Sequence(s)) => {
                    split.last_seq = Some(s - 1);
                    consumer::DeliverPolicy::ByStartSequence { start_sequence: s }
                }
                (None, Startup::LastOf(n)) => {
                    let start = last.saturating_sub(n) + 1;
                    split.last_seq = Some(start - 1);
                    consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: start,
                    }
                }
                (None, Startup::TimestampMs(ms)) => consumer::DeliverPolicy::ByStartTime {
                    start_time: async_nats::datetime::from_nanos(ms as i128 * 1_000_000).map_err(
                        |e| {
                            RuntimeError::Data(format!(
                                "invalid 'scan.startup.timestamp-millis' {ms}: {e}"
                            ))
                        },
                    )?,
                },
            };
            if split
                .bound
                .is_some_and(|b| split.last_seq.is_some_and(|s| s >= b))
            {
                split.done = true;
                continue;
            }
            let msgs: MsgStream = match &split.durable {
                None => {
                    let c = stream
                        .create_consumer(consumer::pull::OrderedConfig {
                            filter_subject: split.subject.clone(),
                            deliver_policy,
                            ..Default::default()
                        })
                        .await
                        .map_err(|e| ext("cannot create a consumer on", e.to_string()))?;
                    if self.config.bounded && c.cached_info().num_pending == 0 {
                        split.done = true;
                        continue;
                    }
                    let m = c
                        .messages()
                        .await
                        .map_err(|e| ext("cannot consume", e.to_string()))?;
                    Box::pin(m.map(move |r| (i, r.map_err(|e| e.to_string()))))
                }
                Some(name) => {
                    let c = stream
                        .get_or_create_consumer(
                            name,
                            consumer::pull::Config {
                                durable_name: Some(name.clone()),
                                filter_subject: split.subject.clone(),
                                deliver_policy,
                                ack_policy: consumer::AckPolicy::All,
                                ..Default::default()
                            },
                        )
                        .await
                        .map_err(|e| {
                            ext(
                                &format!("cannot create durable consumer '{name}' on"),
                                e.to_string(),
                            )
                        })?;
                    if self.config.bounded && c.cached_info().num_pending == 0 {
                        split.done = true;
                        continue;
                    }
                    let m = c
                        .messages()
                        .await
                        .map_err(|e| ext("cannot consume", e.to_string()))?;
                    Box::pin(m.map(move |r| (i, r.map_err(|e| e.to_string()))))
                }
            };
            all.push(msgs);
        }
        self.ack_client = Some(client);
        self.streams = Some(all);
        Ok(())
    }

    /// Takes a received message: `false` if it is past the split's bound or already read
    /// (a durable consumer redelivers what was not acknowledged).
    fn accept(&mut self, i: usize, msg: jetstream::Message) -> RtResult<()> {
        let info = msg.info().map_err(|e| {
            RuntimeError::external(
                format!(
                    "a message without JetStream metadata from {}: {e}",
                    self.where_(&self.splits[i])
                ),
                false,
            )
        })?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        let split = &mut self.splits[i];
        if split.done || split.last_seq.is_some_and(|s| seq <= s) {
            return Ok(());
        }
        if let Some(b) = split.bound {
            if seq > b {
                split.done = true;
                return Ok(());
            }
            if seq == b || pending == 0 {
                split.done = true;
            }
        }
        self.pending.push_back((i, msg));
        Ok(())
    }

    fn all_done(&self) -> bool {
        self.splits.iter().all(|s| s.done)
    }

    fn take_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        let n = self.pending.len().min(MAX_BATCH);
        let msgs: Vec<(usize, jetstream::Message)> = self.pending.drain(..n).collect();
        let mut seqs = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n);
        for (i, m) in &msgs {
            let info = m
                .info()
                .map_err(|e| RuntimeError::Internal(e.to_string()))?;
            seqs.push(info.stream_sequence);
            times.push((info.published.unix_timestamp_nanos() / 1_000_000) as i64);
            let split = &mut self.splits[*i];
            split.last_seq = Some(info.stream_sequence);
            if split.durable.is_some() {
                split.last_msg = Some(m.clone());
            }
        }
        let metadata: Vec<ArrayRef> = self
            .metadata
            .iter()
            .map(|k| -> ArrayRef {
                match k.as_str() {
                    "subject" => Arc::new(StringArray::from_iter_values(
                        msgs.iter().map(|(_, m)| m.subject.as_str()),
                    )),
                    "sequence" => {
                        Arc::new(Int64Array::from_iter_values(seqs.iter().map(|s| *s as i64)))
                    }
                    _ => Arc::new(
                        TimestampMillisecondArray::from(times.clone()).with_timezone("UTC"),
                    ),
                }
            })
            .collect();
        let payloads: Vec<&[u8]> = msgs.iter().map(|(_, m)| m.payload.as_ref()).collect();
        let stream = self.config.stream.clone().unwrap_or_default();
        let describe = |k: usize| {
            format!(
                "NATS stream '{stream}' subject '{}' sequence {}",
                msgs[k].1.subject, seqs[k]
            )
        };
        self.decoder.decode(&payloads, metadata, &describe)
    }
}

#[async_trait]
impl SourceReader for NatsReader {
    /// Cancellation-safe: messages are moved out of the consumer streams only between awaits.
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        if self.streams.is_none() {
            self.open().await?;
        }
        loop {
            if !self.pending.is_empty() {
                if let Some(b) = self.take_batch()? {
                    return Ok(Some(b));
                }
                continue;
            }
            if self.all_done() {
                return Ok(None);
            }
            let streams = self.streams.as_mut().expect("opened");
            let first = match tokio::time::timeout(POLL_WAIT, streams.next()).await {
                Err(_) => return Ok(Some(RecordBatch::new_empty(self.decoder.schema()))),
                Ok(None) => {
                    return Err(RuntimeError::external(
                        format!(
                            "the NATS consumers of stream '{}' at {} ended unexpectedly",
                            self.config.stream.as_deref().unwrap_or(""),
                            self.config.servers
                        ),
                        true,
                    ));
                }
                Ok(Some(m)) => m,
            };
            let mut got = vec![first];
            while got.len() < MAX_BATCH {
                match streams.next().now_or_never() {
                    Some(Some(m)) => got.push(m),
                    _ => break,
                }
            }
            for (i, m) in got {
                match m {
                    Ok(m) => self.accept(i, m)?,
                    Err(e) => {
                        return Err(RuntimeError::external(
                            format!("cannot read from {}: {e}", self.where_(&self.splits[i])),
                            true,
                        ));
                    }
                }
            }
        }
    }

    fn skipped_records(&self) -> u64 {
        self.decoder.skipped_records()
    }

    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        for s in &mut self.splits {
            if s.durable.is_some() {
                s.ack_at_checkpoint = s.last_msg.clone();
            }
        }
        Some(self.splits.iter().map(encode_position).collect())
    }

    /// Durable consumers: acknowledges (ack-all) the last message the completed checkpoint
    /// covers. Assumes one checkpoint in flight at a time (Flink's default): the positions
    /// acknowledged are those of the latest snapshot.
    async fn notify_checkpoint_complete(&mut self, _id: u64) -> RtResult<()> {
        for i in 0..self.splits.len() {
            if let Some(m) = self.splits[i].ack_at_checkpoint.take() {
                m.ack().await.map_err(|e| {
                    RuntimeError::external(
                        format!(
                            "cannot acknowledge messages of {}: {e}",
                            self.where_(&self.splits[i])
                        ),
                        true,
                    )
                })?;
            }
        }
        if let Some(c) = &self.ack_client {
            c.flush().await.map_err(|e| {
                RuntimeError::external(format!("cannot flush acknowledgements to NATS: {e}"), true)
            })?;
        }
        Ok(())
    }
}

/// The sink side of a `nats` table.
pub struct NatsSink {
    table: ConnectorTable,
    config: Config,
    format: String,
}

impl NatsSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let config = Config::new(t)?;
        if config.subjects.len() != 1 || config.subjects[0].contains(['*', '>']) {
            return Err(ConnectorError::Options(format!(
                "the nats sink of table '{}' needs one 'subject' without wildcards to publish to, found '{}'",
                t.name,
                config.subjects.join(";")
            )));
        }
        Ok(NatsSink {
            table: t.clone(),
            config,
            format: message::format_of(t, CONNECTOR)?,
        })
    }
}

impl OperatorFactory for NatsSink {
    fn name(&self) -> String {
        format!("Sink: nats '{}'", self.config.subjects[0])
    }
    fn create(&self, _subtask: usize, _parallelism: usize) -> RtResult<Box<dyn Operator>> {
        Ok(Box::new(NatsSinkOp {
            name: self.name(),
            config: self.config.clone(),
            encoder: MessageEncoder::new(&self.table, &self.format)
                .map_err(|e| RuntimeError::Data(e.to_string()))?,
            js: None,
        }))
    }
    fn is_sink(&self) -> bool {
        true
    }
}

struct NatsSinkOp {
    name: String,
    config: Config,
    encoder: MessageEncoder,
    js: Option<jetstream::Context>,
}

#[async_trait]
impl Operator for NatsSinkOp {
    fn name(&self) -> &str {
        &self.name
    }

    async fn process_batch(
        &mut self,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        let payloads = self.encoder.encode(&batch)?;
        if payloads.is_empty() {
            return Ok(());
        }
        if self.js.is_none() {
            let client = self.config.connect("the sink").await?;
            self.js = Some(jetstream::new(client));
        }
        let js = self.js.as_ref().expect("connected");
        let subject = self.config.subjects[0].clone();
        let fail = |e: String| {
            RuntimeError::external(
                format!(
                    "cannot publish to NATS subject '{subject}' at {} (table '{}'): {e}",
                    self.config.servers, self.config.table
                ),
                true,
            )
        };
        // Publish everything, then wait for the acks: JetStream acknowledges in pipeline.
        let mut acks = Vec::with_capacity(payloads.len());
        for p in payloads {
            let ack = js
                .publish(subject.clone(), p.into())
                .await
                .map_err(|e| fail(e.to_string()))?;
            acks.push(ack);
        }
        let n = acks.len();
        for ack in acks {
            ack.await.map_err(|e| fail(e.to_string()))?;
        }
        ctx.metrics
            .records_written
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}
