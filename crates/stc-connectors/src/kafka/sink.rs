//! The kafka and upsert-kafka sinks: one producer per sink subtask.
//!
//! Delivery guarantees (`sink.delivery-guarantee`, Flink's names):
//! * `none`: records are handed to librdkafka and not waited for at checkpoints.
//! * `at-least-once` (default): every checkpoint barrier and the end of input wait until
//!   every record handed over so far is acknowledged by the cluster (a failed delivery fails
//!   the job), so a restored job re-writes at most what followed its checkpoint.
//! * `exactly-once`: records are written in a Kafka transaction per checkpoint; at the barrier
//!   the transaction is flushed and set aside, a new one begins, and the set-aside one is
//!   committed when the checkpoint completes; the last one at the end of input. Readers with
//!   `isolation.level=read_committed` see only committed records. See "Exactly-once across
//!   failures" below.
//!
//! # Exactly-once across failures
//!
//! A checkpoint can complete and the process die before its transaction is committed. Flink
//! then resumes that transaction by its producer id and epoch; librdkafka cannot resume another
//! producer's transaction. So the sink writes such a transaction again instead:
//! * The input rows of every transaction not yet committed are part of the checkpoint (state
//!   table `pending`), so a checkpoint holds everything its transactions hold.
//! * Each transaction also commits, atomically with its records, the checkpoint id as the
//!   offset of partition 0 of the topic written to, in the consumer group
//!   `<sink.transactional-id-prefix>-<subtask>-committed` (Kafka's `TxnOffsetCommit`). That
//!   offset becomes visible exactly when the records do, so it says which checkpoint's
//!   transaction committed last.
//! * On restore, every transactional id the old subtask could have used is fenced first
//!   (`init_transactions`: aborts what was open, lets a commit already sent finish). Then
//!   the marker is read, and the rows of every transaction of a later checkpoint are written
//!   again in one new transaction, which also commits the restored checkpoint's id as the
//!   marker. So records are neither lost nor written twice, also after a restore at another
//!   parallelism (old subtask `w` is recovered by new subtask `w % parallelism`).
//! * Each subtask cycles through [`TXN_POOL`] transactional ids
//!   (`<prefix>-<subtask>-<0..TXN_POOL>`), as Flink 1.x's producer pool did, so a restore (or a
//!   fresh start) can fence every transaction a failed run left open instead of letting it
//!   block `read_committed` readers until `transaction.timeout.ms`. More than `TXN_POOL - 1`
//!   transactions waiting for their checkpoints (checkpoints that keep failing) fail the job.
//!
//! The cost: the rows of open transactions are kept in memory and copied into each checkpoint.
//!
//! `upsert-kafka` writes `+I`/`+U` rows as key + value, `-D` rows as key + tombstone (a NULL
//! value), and drops `-U` rows, as Flink does; records of one key go to one partition (the
//! key's hash), so the topic keeps their order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Int8Array, MapArray, RecordBatch, StringArray,
    TimestampMillisecondArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::compute::kernels::cmp::{eq, gt};
use datafusion::arrow::compute::{cast, concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Int8Type, Schema, SchemaRef, TimeUnit};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};
use stc_common::RowKind;
use stc_runtime::{
    Barrier, Operator, OperatorContext, OperatorFactory, OperatorState, Result as RtResult,
    RuntimeError, StreamBatch,
};

use super::{Delivery, FormatSpec, KafkaOptions, Partitioner};
use crate::format::avro::AvroEncoder;
use crate::format::changelog::ChangelogFormat;
use crate::format::{self, RecordEncoder};
use crate::table::{ConnectorError, ConnectorTable, Result};

/// The sink side of a `kafka` / `upsert-kafka` table.
pub struct KafkaSink {
    opts: Arc<KafkaOptions>,
    /// Column of the sink input of each value/key field.
    value_cols: Vec<usize>,
    key_cols: Vec<usize>,
    /// Writable metadata columns of the sink input.
    topic_col: Option<usize>,
    timestamp_col: Option<usize>,
    headers_col: Option<usize>,
    /// The sink's input schema (kept in checkpoints with the rows of open transactions).
    input_schema: SchemaRef,
}

impl KafkaSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        let opts = KafkaOptions::parse(t)?;
        let col = |name: &str| t.sink_schema.index_of(name).ok();
        let value_cols = opts
            .value_schema()
            .fields()
            .iter()
            .map(|f| col(f.name()).expect("physical columns are in the sink schema"))
            .collect();
        let key_cols = if opts.key.is_some() {
            opts.key_fields
                .iter()
                .map(|f| col(f).expect("key fields are physical columns"))
                .collect()
        } else {
            Vec::new()
        };
        let (mut topic_col, mut timestamp_col, mut headers_col) = (None, None, None);
        for (key, field) in &t.metadata {
            let Some(i) = col(field.name()) else {
                continue; // VIRTUAL: read only.
            };
            match key.as_str() {
                "topic" => topic_col = Some(i),
                "timestamp" => timestamp_col = Some(i),
                "headers" => headers_col = Some(i),
                other => {
                    return Err(ConnectorError::Options(format!(
                        "table '{}': metadata key '{other}' is read-only for the kafka sink; declare column '{}' VIRTUAL (writable keys: topic, timestamp, headers)",
                        t.name,
                        field.name()
                    )));
                }
            }
        }
        if topic_col.is_none() && (opts.topics.len() != 1 || opts.pattern.is_some()) {
            return Err(ConnectorError::Options(format!(
                "table '{}': a kafka sink writes to exactly one 'topic' (or to the topic of a writable 'topic' metadata column)",
                t.name
            )));
        }
        Ok(KafkaSink {
            opts: Arc::new(opts),
            value_cols,
            key_cols,
            topic_col,
            timestamp_col,
            headers_col,
            input_schema: t.sink_schema.clone(),
        })
    }
}

/// Keeps the first failed delivery, reported by librdkafka's delivery callback.
#[derive(Default)]
pub(crate) struct SinkContext {
    error: Mutex<Option<String>>,
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            let mut slot = self.error.lock().expect("not poisoned");
            if slot.is_none() {
                *slot = Some(format!(
                    "cannot write to topic '{}' partition {}: {e}",
                    m.topic(),
                    m.partition()
                ));
            }
        }
    }
}

type KProducer = ThreadedProducer<SinkContext>;

/// A message part encoder: a line format (csv, json, or a changelog format), avro or raw.
enum Encoder {
    Lines {
        enc: Box<dyn RecordEncoder>,
        /// csv may quote a newline inside a field, so its rows are encoded one at a time.
        per_row: bool,
        schema: SchemaRef,
        /// A changelog format: rows are encoded with their kinds.
        changelog: bool,
    },
    Avro(Box<AvroEncoder>),
    Raw,
}

impl Encoder {
    fn new(spec: &FormatSpec, schema: SchemaRef) -> RtResult<Self> {
        let data = |e: format::FormatError| RuntimeError::Data(e.to_string());
        Ok(match spec.name.as_str() {
            "raw" => Encoder::Raw,
            "avro" => Encoder::Avro(Box::new(
                AvroEncoder::new(schema, &spec.options).map_err(data)?,
            )),
            name => Encoder::Lines {
                enc: format::encoder(name, schema.clone(), &spec.options).map_err(data)?,
                per_row: name == "csv",
                schema,
                changelog: ChangelogFormat::from_name(name).is_some(),
            },
        })
    }

    /// Whether rows of every kind are encoded (a changelog format), not only `+I`/`+U`.
    fn is_changelog(&self) -> bool {
        matches!(
            self,
            Encoder::Lines {
                changelog: true,
                ..
            }
        )
    }

    /// One encoded message part per row of `cols` (the columns of the part, in order).
    /// `kinds`: the rows' kinds, for a changelog format.
    fn encode(
        &mut self,
        cols: Vec<ArrayRef>,
        rows: usize,
        kinds: Option<&[RowKind]>,
    ) -> RtResult<Vec<Option<Vec<u8>>>> {
        let data = |e: format::FormatError| RuntimeError::Data(e.to_string());
        match self {
            Encoder::Raw => (0..rows)
                .map(|r| format::raw::encode_value(cols[0].as_ref(), r).map_err(data))
                .collect(),
            Encoder::Avro(enc) => {
                let batch = RecordBatch::try_new(enc.schema(), cols)?;
                Ok(enc
                    .encode(&batch)
                    .map_err(data)?
                    .into_iter()
                    .map(Some)
                    .collect())
            }
            Encoder::Lines {
                enc,
                per_row,
                schema,
                changelog,
            } => {
                let kinds = kinds.filter(|_| *changelog);
                let batch = RecordBatch::try_new(schema.clone(), cols)?;
                let mut out = Vec::new();
                if *per_row {
                    let mut res = Vec::with_capacity(rows);
                    for r in 0..rows {
                        out.clear();
                        enc.encode(&batch.slice(r, 1), kinds.map(|k| &k[r..=r]), &mut out)
                            .map_err(data)?;
                        res.push(Some(out.strip_suffix(b"\n").unwrap_or(&out).to_vec()));
                    }
                    return Ok(res);
                }
                enc.encode(&batch, kinds, &mut out).map_err(data)?;
                let body = out.strip_suffix(b"\n").unwrap_or(&out);
                let res: Vec<Option<Vec<u8>>> = if rows == 0 {
                    Vec::new()
                } else {
                    body.split(|b| *b == b'\n')
                        .map(|l| Some(l.to_vec()))
                        .collect()
                };
                if res.len() != rows {
                    return Err(RuntimeError::Internal(format!(
                        "the encoder wrote {} lines for {rows} rows",
                        res.len()
                    )));
                }
                Ok(res)
            }
        }
    }
}

impl OperatorFactory for KafkaSink {
    fn name(&self) -> String {
        format!("Sink: {}", self.opts.describe())
    }

    fn create(&self, subtask: usize, parallelism: usize) -> RtResult<Box<dyn Operator>> {
        let value = Encoder::new(&self.opts.value, self.opts.value_schema())?;
        let key = match &self.opts.key {
            Some(k) => Some(Encoder::new(k, self.opts.key_schema())?),
            None => None,
        };
        Ok(Box::new(KafkaSinkOp {
            name: self.name(),
            opts: self.opts.clone(),
            subtask,
            value_cols: self.value_cols.clone(),
            key_cols: self.key_cols.clone(),
            topic_col: self.topic_col,
            timestamp_col: self.timestamp_col,
            headers_col: self.headers_col,
            value,
            key,
            producer: None,
            partitions: HashMap::new(),
            round_robin: subtask,
            pending: Vec::new(),
            open_rows: Vec::new(),
            txn_seq: 0,
            slot: 0,
            pool: Vec::new(),
            marker_topic: None,
            input_schema: self.input_schema.clone(),
            parallelism,
        }))
    }

    fn is_sink(&self) -> bool {
        true
    }
}

struct KafkaSinkOp {
    name: String,
    opts: Arc<KafkaOptions>,
    subtask: usize,
    value_cols: Vec<usize>,
    key_cols: Vec<usize>,
    topic_col: Option<usize>,
    timestamp_col: Option<usize>,
    headers_col: Option<usize>,
    value: Encoder,
    key: Option<Encoder>,
    producer: Option<Arc<KProducer>>,
    /// Partition count per topic (fixed and round-robin partitioners).
    partitions: HashMap<String, i32>,
    round_robin: usize,
    /// exactly-once: flushed transactions waiting for the completion of their checkpoint.
    pending: Vec<Txn>,
    /// exactly-once: the input batches of the open transaction that produced records.
    open_rows: Vec<StreamBatch>,
    /// exactly-once: number of the next transactional producer of this subtask (its id is
    /// this number modulo [`TXN_POOL`]).
    txn_seq: u64,
    /// exactly-once: the pool slot of `producer`.
    slot: u64,
    /// exactly-once: this subtask's transactional producers by slot, initialised; `None` while
    /// a slot's transaction is open or waiting. Empty until first used: creating them fences
    /// whatever a failed run left open under these ids.
    pool: Vec<Option<Arc<KProducer>>>,
    /// exactly-once: the topic whose partition 0 carries this subtask's commit marker: the
    /// table's topic, or the first topic written.
    marker_topic: Option<String>,
    input_schema: SchemaRef,
    parallelism: usize,
}

/// exactly-once: how many transactional ids a sink subtask cycles through.
pub const TXN_POOL: u64 = 8;

/// exactly-once: a flushed transaction waiting for its checkpoint to complete.
struct Txn {
    checkpoint: u64,
    slot: u64,
    producer: Arc<KProducer>,
    /// The input batches whose records it holds, for writing them again after a failure.
    rows: Vec<StreamBatch>,
}

/// The transactional id of slot `slot` of subtask `writer`.
fn txn_id(prefix: &str, writer: usize, slot: u64) -> String {
    format!("{prefix}-{writer}-{slot}")
}

/// The consumer group whose committed offset is the checkpoint id of the last transaction that
/// subtask `writer` committed.
pub fn commit_marker_group(prefix: &str, writer: usize) -> String {
    format!("{prefix}-{writer}-committed")
}

/// Runs a blocking librdkafka call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> RtResult<T> + Send + 'static,
) -> RtResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RuntimeError::Internal(format!("kafka client call panicked: {e}")))?
}

impl KafkaSinkOp {
    fn err(&self, what: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::external(format!("{}: {what}: {e}", self.opts.describe()), true)
    }

    /// A producer for the table's guarantee. exactly-once: on the next transactional id of
    /// this subtask's pool (fencing the whole pool first, once per run), in a transaction.
    async fn new_producer(&mut self) -> RtResult<Arc<KProducer>> {
        if self.opts.delivery != Delivery::ExactlyOnce {
            return Ok(Arc::new(client(&self.opts, None)?));
        }
        if self.pool.is_empty() {
            self.pool = self
                .fence(self.subtask)
                .await?
                .into_iter()
                .map(Some)
                .collect();
        }
        self.slot = self.txn_seq % TXN_POOL;
        self.txn_seq += 1;
        // Free: at most TXN_POOL - 1 transactions wait (checked at each barrier).
        let p = self.pool[self.slot as usize].take().ok_or_else(|| {
            RuntimeError::Internal(format!("transactional id slot {} is in use", self.slot))
        })?;
        begin(&self.opts, &p).await?;
        Ok(p)
    }

    fn prefix(&self) -> &str {
        self.opts
            .transactional_id_prefix
            .as_deref()
            .expect("exactly-once requires a prefix (checked by the options)")
    }

    /// Fences every transactional id subtask `writer` may have used, all at once (each takes
    /// a round trip to the transaction coordinator); returns their producers by slot.
    async fn fence(&mut self, writer: usize) -> RtResult<Vec<Arc<KProducer>>> {
        let ids: Vec<String> = (0..TXN_POOL)
            .map(|slot| txn_id(self.prefix(), writer, slot))
            .collect();
        futures::future::try_join_all(ids.iter().map(|id| transactional_producer(&self.opts, id)))
            .await
    }

    /// A consumer handle on `writer`'s commit-marker group. It never joins the group; it
    /// reads the group's committed offset and gives the group metadata a transaction needs
    /// to commit an offset.
    fn marker_consumer(&self, writer: usize) -> RtResult<BaseConsumer> {
        let mut cfg = self.opts.client_config(&[]);
        cfg.set("group.id", commit_marker_group(self.prefix(), writer))
            .set("enable.auto.commit", "false");
        cfg.create().map_err(|e| {
            RuntimeError::Data(format!(
                "{}: bad consumer configuration: {e}",
                self.opts.describe()
            ))
        })
    }

    /// The checkpoint id of the last transaction subtask `writer` committed, if any. (This and
    /// `send_marker` take `&mut self` only because the operator is not `Sync`: a future
    /// holding `&self` across an await would not be `Send`.)
    async fn committed_marker(&mut self, writer: usize, topic: &str) -> RtResult<Option<u64>> {
        let c = self.marker_consumer(writer)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, 0);
        let timeout = self.opts.request_timeout;
        let got = blocking(move || {
            c.committed_offsets(tpl, timeout)
                .map_err(|e| RuntimeError::external(e.to_string(), true))
        })
        .await
        .map_err(|e| {
            self.err(
                &format!(
                    "cannot read the commit marker of group '{}'",
                    commit_marker_group(self.prefix(), writer)
                ),
                e,
            )
        })?;
        Ok(got.elements().first().and_then(|e| match e.offset() {
            Offset::Offset(n) if n >= 0 => Some(n as u64),
            _ => None,
        }))
    }

    /// Adds `checkpoint` as `writer`'s commit marker to the open transaction of `p`.
    async fn send_marker(
        &mut self,
        p: &Arc<KProducer>,
        writer: usize,
        topic: &str,
        checkpoint: u64,
    ) -> RtResult<()> {
        let offset = i64::try_from(checkpoint).map_err(|_| {
            RuntimeError::Internal(format!("checkpoint {checkpoint} cannot be a commit marker"))
        })?;
        let c = self.marker_consumer(writer)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
            .map_err(|e| RuntimeError::Internal(format!("commit marker: {e}")))?;
        let (p2, timeout, opts) = (p.clone(), self.opts.request_timeout, self.opts.clone());
        blocking(move || {
            let cgm = c.group_metadata().ok_or_else(|| {
                RuntimeError::Internal("a consumer with a group id has group metadata".into())
            })?;
            p2.send_offsets_to_transaction(&tpl, &cgm, timeout)
                .map_err(|e| {
                    RuntimeError::external(
                        format!(
                            "{}: cannot add the commit marker to the transaction: {e}",
                            opts.describe()
                        ),
                        true,
                    )
                })
        })
        .await
    }

    async fn producer(&mut self) -> RtResult<Arc<KProducer>> {
        if let Some(p) = &self.producer {
            return Ok(p.clone());
        }
        let p = self.new_producer().await?;
        self.producer = Some(p.clone());
        Ok(p)
    }

    async fn partition_count(&mut self, p: &Arc<KProducer>, topic: &str) -> RtResult<i32> {
        if let Some(n) = self.partitions.get(topic) {
            return Ok(*n);
        }
        let (p2, t, timeout) = (p.clone(), topic.to_string(), self.opts.request_timeout);
        let md = blocking(move || {
            p2.client()
                .fetch_metadata(Some(&t), timeout)
                .map(|md| {
                    md.topics()
                        .first()
                        .map_or(0, |t| t.partitions().len() as i32)
                })
                .map_err(|e| RuntimeError::external(e.to_string(), true))
        })
        .await
        .map_err(|e| self.err(&format!("cannot fetch the metadata of topic '{topic}'"), e))?;
        if md == 0 {
            return Err(RuntimeError::external(
                format!("{}: topic '{topic}' does not exist", self.opts.describe()),
                false,
            ));
        }
        self.partitions.insert(topic.to_string(), md);
        Ok(md)
    }

    /// Hands the records of `batch` to `producer`; returns how many.
    async fn write_rows(
        &mut self,
        producer: &Arc<KProducer>,
        batch: &StreamBatch,
    ) -> RtResult<usize> {
        self.check_deliveries(producer)?;
        let b = &batch.batch;
        let n = b.num_rows();
        // Which rows become records, and which of those are tombstones.
        let mut rows: Vec<(usize, bool)> = Vec::with_capacity(n);
        let changelog = self.value.is_changelog();
        for r in 0..n {
            match batch.kind(r) {
                // A changelog format writes every change as a record of its own.
                _ if changelog => rows.push((r, false)),
                RowKind::Insert | RowKind::UpdateAfter => rows.push((r, false)),
                RowKind::Delete if self.opts.upsert => rows.push((r, true)),
                RowKind::UpdateBefore if self.opts.upsert => {}
                k => {
                    return Err(RuntimeError::Data(format!(
                        "{}: the kafka sink only writes insert-only (+I) rows, but got a {} row; use the upsert-kafka connector for an updating query",
                        self.opts.describe(),
                        k.short_string()
                    )));
                }
            }
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let kinds: Option<Vec<RowKind>> =
            changelog.then(|| (0..n).map(|r| batch.kind(r)).collect());
        let values = self.value.encode(
            self.value_cols
                .iter()
                .map(|c| b.column(*c).clone())
                .collect(),
            n,
            kinds.as_deref(),
        )?;
        let keys = match self.key.as_mut() {
            Some(k) => Some(k.encode(
                self.key_cols.iter().map(|c| b.column(*c).clone()).collect(),
                n,
                None,
            )?),
            None => None,
        };
        let topics: Option<ArrayRef> = match self.topic_col {
            Some(c) => Some(cast(b.column(c), &DataType::Utf8)?),
            None => None,
        };
        let timestamps: Option<ArrayRef> = match self.timestamp_col {
            Some(c) => Some(cast(
                b.column(c),
                &DataType::Timestamp(TimeUnit::Millisecond, None),
            )?),
            None => None,
        };
        let default_topic = self.opts.topics.first().cloned().unwrap_or_default();
        let mut sent = 0;
        for (r, tombstone) in rows {
            let topic = match &topics {
                Some(t) => {
                    let t: &StringArray = t.as_string();
                    if t.is_null(r) {
                        default_topic.clone()
                    } else {
                        t.value(r).to_string()
                    }
                }
                None => default_topic.clone(),
            };
            if topic.is_empty() {
                return Err(RuntimeError::Data(format!(
                    "{}: a row has no topic (its 'topic' metadata column is NULL and the table has no single 'topic')",
                    self.opts.describe()
                )));
            }
            if self.marker_topic.is_none() {
                self.marker_topic = Some(topic.clone());
            }
            let partition = match self.opts.partitioner {
                Partitioner::Default => None,
                Partitioner::Fixed => {
                    let count = self.partition_count(producer, &topic).await?;
                    Some((self.subtask as i32) % count)
                }
                Partitioner::RoundRobin => {
                    let count = self.partition_count(producer, &topic).await?;
                    self.round_robin = self.round_robin.wrapping_add(1);
                    Some((self.round_robin % count as usize) as i32)
                }
            };
            let value = if tombstone {
                None
            } else {
                values[r].as_deref()
            };
            let key = keys.as_ref().and_then(|k| k[r].as_deref());
            let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic);
            if let Some(v) = value {
                rec = rec.payload(v);
            }
            if let Some(k) = key {
                rec = rec.key(k);
            }
            if let Some(p) = partition {
                rec = rec.partition(p);
            }
            if let Some(ts) = &timestamps {
                let ts: &TimestampMillisecondArray = ts.as_primitive();
                if !ts.is_null(r) {
                    rec = rec.timestamp(ts.value(r));
                }
            }
            if let Some(c) = self.headers_col
                && let Some(h) = headers_of(b.column(c).as_ref(), r)?
            {
                rec = rec.headers(h);
            }
            loop {
                match producer.send(rec) {
                    Ok(()) => {
                        sent += 1;
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // librdkafka's queue is full: wait for deliveries (back-pressure).
                        rec = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        self.check_deliveries(producer)?;
                    }
                    Err((e, _)) => {
                        return Err(self.err(&format!("cannot write to topic '{topic}'"), e));
                    }
                }
            }
        }
        Ok(sent)
    }

    /// The checkpoint state of an exactly-once sink: this subtask's row of `writers`, and the
    /// input rows of every transaction not yet committed.
    fn pending_state(&self, checkpoint: u64) -> RtResult<OperatorState> {
        let writers = RecordBatch::try_new(
            writers_schema(),
            vec![
                Arc::new(UInt32Array::from(vec![self.subtask as u32])),
                Arc::new(UInt64Array::from(vec![checkpoint])),
                Arc::new(StringArray::from(vec![self.marker_topic.clone()])),
            ],
        )?;
        let schema = pending_schema(&self.input_schema);
        let mut parts = Vec::new();
        for t in &self.pending {
            for b in &t.rows {
                let n = b.num_rows();
                let mut cols: Vec<ArrayRef> = vec![
                    Arc::new(UInt32Array::from_value(self.subtask as u32, n)),
                    Arc::new(UInt64Array::from_value(t.checkpoint, n)),
                    match &b.kinds {
                        Some(k) => k.clone(),
                        None => Arc::new(Int8Array::from_value(RowKind::Insert as i8, n)),
                    },
                ];
                for (c, f) in b.batch.columns().iter().zip(self.input_schema.fields()) {
                    cols.push(if c.data_type() == f.data_type() {
                        c.clone()
                    } else {
                        cast(c, f.data_type())?
                    });
                }
                parts.push(RecordBatch::try_new(schema.clone(), cols)?);
            }
        }
        let rows = concat_batches(&schema, &parts)?;
        Ok(OperatorState {
            keyed_part: Default::default(),
            keyed: Vec::new(),
            shared: vec![writers, rows],
        })
    }

    /// Recovers old subtask `writer`'s transactions after a restore of `checkpoint` (see the
    /// module docs): fences its transactional ids, writes again the rows of its transactions
    /// later than its commit marker, and commits `checkpoint` as its marker with them, so the
    /// marker belongs to this run's history from now on.
    async fn recover(
        &mut self,
        writer: usize,
        checkpoint: u64,
        topic: Option<String>,
        rows: RecordBatch,
    ) -> RtResult<()> {
        let producers = self.fence(writer).await?;
        let res = self
            .recover_with(&producers[0], writer, checkpoint, topic, rows)
            .await;
        if writer == self.subtask {
            self.pool = producers.into_iter().map(Some).collect();
        } else {
            release(producers);
        }
        res
    }

    async fn recover_with(
        &mut self,
        p: &Arc<KProducer>,
        writer: usize,
        checkpoint: u64,
        topic: Option<String>,
        rows: RecordBatch,
    ) -> RtResult<()> {
        let Some(topic) = topic else {
            // It never wrote a record: nothing to write again, no marker to keep.
            return Ok(());
        };
        let marker = self.committed_marker(writer, &topic).await?;
        let redo = match marker {
            Some(m) => {
                let keep = gt(rows.column(1), &UInt64Array::new_scalar(m))?;
                filter_record_batch(&rows, &keep)?
            }
            None => rows,
        };
        // With nothing to write again, the marker is rewritten only when it is ahead of the
        // restored checkpoint (it comes from a later run that was abandoned for an older
        // savepoint); left there, it would hide this run's uncommitted transactions at the
        // next restore. The final snapshot after the end of input (`u64::MAX`) never has
        // rows to write again, and never moves the marker.
        if redo.num_rows() == 0 && marker.is_none_or(|m| m <= checkpoint) {
            return Ok(());
        }
        begin(&self.opts, p).await?;
        let kinds = redo.column(2).as_primitive::<Int8Type>().clone();
        let input = RecordBatch::try_new(
            Arc::new(Schema::new(redo.schema().fields()[3..].to_vec())),
            redo.columns()[3..].to_vec(),
        )?;
        let batch = StreamBatch {
            batch: input,
            kinds: Some(Arc::new(kinds)),
        };
        let written = self.write_rows(p, &batch).await?;
        self.send_marker(p, writer, &topic, checkpoint).await?;
        commit(&self.opts, p).await?;
        tracing::info!(
            "{}: restored subtask {writer}: wrote again {written} records of transactions after checkpoint {} that were not committed; commit marker is now checkpoint {checkpoint}",
            self.opts.describe(),
            marker.map_or("(none)".to_string(), |m| m.to_string()),
        );
        Ok(())
    }

    fn check_deliveries(&self, p: &KProducer) -> RtResult<()> {
        check_deliveries(&self.opts, p)
    }
}

/// Fails with the first delivery error librdkafka reported, if any.
fn check_deliveries(opts: &KafkaOptions, p: &KProducer) -> RtResult<()> {
    if let Some(e) = p.context().error.lock().expect("not poisoned").take() {
        return Err(RuntimeError::external(
            format!("{}: {e}", opts.describe()),
            true,
        ));
    }
    Ok(())
}

/// Waits until everything handed to `p` is acknowledged (or failed).
async fn flush(opts: &Arc<KafkaOptions>, p: &Arc<KProducer>) -> RtResult<()> {
    let p2 = p.clone();
    let res = blocking(move || Ok(p2.flush(rdkafka::util::Timeout::Never))).await?;
    res.map_err(|e| {
        RuntimeError::external(format!("{}: cannot flush: {e}", opts.describe()), true)
    })?;
    check_deliveries(opts, p)
}

/// A librdkafka producer with the table's settings.
fn client(opts: &KafkaOptions, transactional_id: Option<&str>) -> RtResult<KProducer> {
    producer_config(opts, transactional_id)
        .create_with_context(SinkContext::default())
        .map_err(|e| {
            RuntimeError::Data(format!(
                "{}: bad producer configuration: {e}",
                opts.describe()
            ))
        })
}

/// The librdkafka settings of a sink producer: our defaults, then the table's `properties.*`.
pub(crate) fn producer_config(opts: &KafkaOptions, transactional_id: Option<&str>) -> ClientConfig {
    let mut defaults: Vec<(&str, &str)> = Vec::new();
    if opts.partitioner == Partitioner::Default {
        // Kafka's (Java) default partitioner for keyed records, so the same key lands in
        // the same partition whoever writes it.
        defaults.push(("partitioner", "murmur2_random"));
    }
    if opts.upsert || opts.delivery != Delivery::None {
        // Retries must not reorder or duplicate records of one key.
        defaults.push(("enable.idempotence", "true"));
    }
    if transactional_id.is_some() {
        // A transaction stays open for a whole checkpoint interval and then waits for the
        // checkpoint to complete; librdkafka's default (60 s) would let the broker abort it
        // under a longer interval. 15 min is the most a broker allows by default
        // (`transaction.max.timeout.ms`); Flink's default of 1 h is refused by such brokers.
        defaults.push(("transaction.timeout.ms", "900000"));
    }
    let mut cfg = opts.client_config(&defaults);
    if let Some(id) = transactional_id {
        cfg.set("transactional.id", id);
    }
    cfg
}

/// A producer with transactional id `id`, initialised. Initialising fences every earlier
/// producer with that id: the broker aborts its open transaction, or first finishes a
/// commit it had already asked for.
async fn transactional_producer(opts: &Arc<KafkaOptions>, id: &str) -> RtResult<Arc<KProducer>> {
    let p = Arc::new(client(opts, Some(id))?);
    let (p2, timeout, opts) = (p.clone(), opts.request_timeout, opts.clone());
    let id = id.to_string();
    blocking(move || {
        p2.init_transactions(timeout).map_err(|e| {
            RuntimeError::external(
                format!(
                    "{}: cannot start transactions (transactional id '{id}'): {e}",
                    opts.describe()
                ),
                true,
            )
        })
    })
    .await?;
    Ok(p)
}

/// Drops producers on the blocking pool, all at once: dropping one joins its polling thread,
/// which takes up to its 100 ms poll interval.
fn release(producers: impl IntoIterator<Item = Arc<KProducer>>) {
    for p in producers {
        tokio::task::spawn_blocking(move || drop(p));
    }
}

/// Begins a transaction on `p`.
async fn begin(opts: &Arc<KafkaOptions>, p: &Arc<KProducer>) -> RtResult<()> {
    let (p, opts) = (p.clone(), opts.clone());
    blocking(move || {
        p.begin_transaction().map_err(|e| {
            RuntimeError::external(
                format!("{}: cannot begin a transaction: {e}", opts.describe()),
                true,
            )
        })
    })
    .await
}

/// The state table with one row per sink subtask: its index, the checkpoint of the snapshot,
/// and the topic of its commit marker (NULL before its first record).
fn writers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("__writer", DataType::UInt32, false),
        Field::new("__checkpoint", DataType::UInt64, false),
        Field::new("__marker_topic", DataType::Utf8, true),
    ]))
}

/// The state table of the input rows of transactions not yet committed: the subtask that
/// wrote them, the checkpoint of their transaction, their row kind, then the input columns.
fn pending_schema(input: &Schema) -> SchemaRef {
    let mut fields = vec![
        Field::new("__writer", DataType::UInt32, false),
        Field::new("__checkpoint", DataType::UInt64, false),
        Field::new("__row_kind", DataType::Int8, false),
    ];
    fields.extend(
        input
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true)),
    );
    Arc::new(Schema::new(fields))
}

/// Flushes and commits the transaction of `p`.
async fn commit(opts: &Arc<KafkaOptions>, p: &Arc<KProducer>) -> RtResult<()> {
    flush(opts, p).await?;
    let p = p.clone();
    let (timeout, opts) = (opts.request_timeout, opts.clone());
    blocking(move || {
        p.commit_transaction(timeout).map_err(|e| {
            RuntimeError::external(
                format!("{}: cannot commit the transaction: {e}", opts.describe()),
                true,
            )
        })
    })
    .await
}

fn headers_of(col: &dyn Array, row: usize) -> RtResult<Option<OwnedHeaders>> {
    if col.is_null(row) {
        return Ok(None);
    }
    let map: &MapArray = col
        .as_map_opt()
        .ok_or_else(|| RuntimeError::Internal(format!("headers column is {}", col.data_type())))?;
    let entries = map.value(row);
    let keys = cast(entries.column(0), &DataType::Utf8)?;
    let keys: &StringArray = keys.as_string();
    let values = cast(entries.column(1), &DataType::Binary)?;
    let values: &BinaryArray = values.as_binary();
    let mut h = OwnedHeaders::new_with_capacity(keys.len());
    for i in 0..keys.len() {
        h = h.insert(Header {
            key: keys.value(i),
            value: (!values.is_null(i)).then(|| values.value(i)),
        });
    }
    Ok(Some(h))
}

#[async_trait]
impl Operator for KafkaSinkOp {
    fn name(&self) -> &str {
        &self.name
    }

    async fn process_batch(
        &mut self,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        let producer = self.producer().await?;
        let n = batch.num_rows();
        let sent = self.write_rows(&producer, &batch).await?;
        if sent > 0 && self.opts.delivery == Delivery::ExactlyOnce {
            self.open_rows.push(batch);
        }
        ctx.metrics
            .records_written
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    async fn snapshot_state(
        &mut self,
        barrier: &Barrier,
        _ctx: &mut OperatorContext,
    ) -> RtResult<Option<OperatorState>> {
        match self.opts.delivery {
            Delivery::None => Ok(None),
            Delivery::AtLeastOnce => {
                if let Some(p) = self.producer.clone() {
                    flush(&self.opts, &p).await?;
                }
                Ok(None)
            }
            Delivery::ExactlyOnce => {
                if let Some(p) = self.producer.take() {
                    let rows = std::mem::take(&mut self.open_rows);
                    if !rows.is_empty() {
                        let topic = self.marker_topic.clone().ok_or_else(|| {
                            RuntimeError::Internal("records written without a topic".into())
                        })?;
                        self.send_marker(&p, self.subtask, &topic, barrier.id)
                            .await?;
                    }
                    flush(&self.opts, &p).await?;
                    self.pending.push(Txn {
                        checkpoint: barrier.id,
                        slot: self.slot,
                        producer: p,
                        rows,
                    });
                }
                if self.pending.len() as u64 >= TXN_POOL {
                    return Err(RuntimeError::external(
                        format!(
                            "{}: {} transactions are waiting for their checkpoints to complete, and each subtask has only {TXN_POOL} transactional ids; checkpoints are not completing (see why they fail or time out: execution.checkpointing.timeout)",
                            self.opts.describe(),
                            self.pending.len()
                        ),
                        true,
                    ));
                }
                Ok(Some(self.pending_state(barrier.id)?))
            }
        }
    }

    async fn restore_state(&mut self, state: OperatorState) -> RtResult<()> {
        let [writers, rows] = state.shared.as_slice() else {
            return Err(RuntimeError::Internal(format!(
                "{}: the checkpoint holds {} state tables for a kafka sink, not 2",
                self.opts.describe(),
                state.shared.len()
            )));
        };
        if self.opts.delivery != Delivery::ExactlyOnce {
            if rows.num_rows() > 0 {
                return Err(RuntimeError::Data(format!(
                    "{}: the checkpoint holds {} rows of Kafka transactions that may not have been committed; restore with 'sink.delivery-guarantee' = 'exactly-once' and the same 'sink.transactional-id-prefix' so they are written",
                    self.opts.describe(),
                    rows.num_rows()
                )));
            }
            return Ok(());
        }
        let ids: &UInt32Array = writers.column(0).as_primitive();
        let checkpoints: &UInt64Array = writers.column(1).as_primitive();
        let topics: &StringArray = writers.column(2).as_string();
        for i in 0..writers.num_rows() {
            let w = ids.value(i) as usize;
            if w % self.parallelism != self.subtask {
                continue;
            }
            let topic = (!topics.is_null(i)).then(|| topics.value(i).to_string());
            if w == self.subtask {
                // Its markers stay on the topic they were on.
                self.marker_topic = topic.clone();
            }
            let mine = eq(rows.column(0), &UInt32Array::new_scalar(w as u32))?;
            let mine = filter_record_batch(rows, &mine)?;
            self.recover(w, checkpoints.value(i), topic, mine).await?;
        }
        Ok(())
    }

    async fn notify_checkpoint_complete(
        &mut self,
        id: u64,
        _ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        // Transactions are committed in checkpoint order, so the commit marker only grows.
        let (done, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|t| t.checkpoint <= id);
        self.pending = later;
        for t in done {
            commit(&self.opts, &t.producer).await?;
            self.pool[t.slot as usize] = Some(t.producer);
        }
        Ok(())
    }

    async fn finish(&mut self, _ctx: &mut OperatorContext) -> RtResult<()> {
        // The end of input commits everything written (Flink's final checkpoint).
        for t in std::mem::take(&mut self.pending) {
            commit(&self.opts, &t.producer).await?;
            release([t.producer]);
        }
        if let Some(p) = self.producer.take() {
            if self.opts.delivery == Delivery::ExactlyOnce {
                commit(&self.opts, &p).await?;
            } else {
                flush(&self.opts, &p).await?;
            }
            release([p]);
        }
        release(std::mem::take(&mut self.pool).into_iter().flatten());
        Ok(())
    }
}
