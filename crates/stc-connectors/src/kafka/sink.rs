//! The kafka and upsert-kafka sinks: one producer per sink subtask.
//!
//! Delivery guarantees (`sink.delivery-guarantee`, Flink's names):
//! * `none`: records are handed to librdkafka and not waited for at checkpoints.
//! * `at-least-once` (default): every checkpoint barrier and the end of input wait until
//!   every record handed over so far is acknowledged by the cluster (a failed delivery fails
//!   the job), so a restored job re-writes at most what followed its checkpoint.
//! * `exactly-once`: records are written in a Kafka transaction per checkpoint (transactional
//!   id `<sink.transactional-id-prefix>-<subtask>-<n>`); at the barrier the transaction is
//!   flushed and set aside, a new one begins, and the set-aside one is committed when the
//!   checkpoint completes; the last one at the end of input. Readers with
//!   `isolation.level=read_committed` see only committed records. Not done yet: committing
//!   the transactions of a checkpoint that completed just before a failure, after a restore
//!   (librdkafka cannot resume another producer's transaction; such a transaction is aborted
//!   when its transactional id is used again, or by the broker's `transaction.timeout.ms`).
//!
//! `upsert-kafka` writes `+I`/`+U` rows as key + value, `-D` rows as key + tombstone (a NULL
//! value), and drops `-U` rows, as Flink does; records of one key go to one partition (the
//! key's hash), so the topic keeps their order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, MapArray, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message};
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

    fn create(&self, subtask: usize, _parallelism: usize) -> RtResult<Box<dyn Operator>> {
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
            txn_seq: 0,
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
    pending: Vec<(u64, Arc<KProducer>)>,
    /// exactly-once: number of the next transactional producer of this subtask.
    txn_seq: u64,
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

    async fn new_producer(&mut self) -> RtResult<Arc<KProducer>> {
        let mut defaults: Vec<(&str, &str)> = Vec::new();
        if self.opts.partitioner == Partitioner::Default {
            // Kafka's (Java) default partitioner for keyed records, so the same key lands in
            // the same partition whoever writes it.
            defaults.push(("partitioner", "murmur2_random"));
        }
        if self.opts.upsert || self.opts.delivery != Delivery::None {
            // Retries must not reorder or duplicate records of one key.
            defaults.push(("enable.idempotence", "true"));
        }
        let mut cfg = self.opts.client_config(&defaults);
        let txn_id = self
            .opts
            .transactional_id_prefix
            .as_ref()
            .map(|p| format!("{p}-{}-{}", self.subtask, self.txn_seq));
        if self.opts.delivery == Delivery::ExactlyOnce {
            cfg.set(
                "transactional.id",
                txn_id.as_deref().expect("checked by the options"),
            );
            self.txn_seq += 1;
        }
        let p: KProducer = cfg
            .create_with_context(SinkContext::default())
            .map_err(|e| {
                RuntimeError::Data(format!(
                    "{}: bad producer configuration: {e}",
                    self.opts.describe()
                ))
            })?;
        let p = Arc::new(p);
        if self.opts.delivery == Delivery::ExactlyOnce {
            let (p2, timeout, opts) = (p.clone(), self.opts.request_timeout, self.opts.clone());
            blocking(move || {
                // Fences an earlier producer with the same id and aborts its transaction.
                p2.init_transactions(timeout).map_err(|e| {
                    RuntimeError::external(
                        format!("{}: cannot start transactions: {e}", opts.describe()),
                        true,
                    )
                })?;
                p2.begin_transaction().map_err(|e| {
                    RuntimeError::external(
                        format!("{}: cannot begin a transaction: {e}", opts.describe()),
                        true,
                    )
                })
            })
            .await?;
        }
        Ok(p)
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

/// Flushes and commits the transaction of `p`.
async fn commit(opts: &Arc<KafkaOptions>, p: Arc<KProducer>) -> RtResult<()> {
    flush(opts, &p).await?;
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
        self.check_deliveries(&producer)?;
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
            return Ok(());
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
            let partition = match self.opts.partitioner {
                Partitioner::Default => None,
                Partitioner::Fixed => {
                    let count = self.partition_count(&producer, &topic).await?;
                    Some((self.subtask as i32) % count)
                }
                Partitioner::RoundRobin => {
                    let count = self.partition_count(&producer, &topic).await?;
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
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // librdkafka's queue is full: wait for deliveries (back-pressure).
                        rec = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        self.check_deliveries(&producer)?;
                    }
                    Err((e, _)) => {
                        return Err(self.err(&format!("cannot write to topic '{topic}'"), e));
                    }
                }
            }
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
            Delivery::None => {}
            Delivery::AtLeastOnce => {
                if let Some(p) = self.producer.clone() {
                    flush(&self.opts, &p).await?;
                }
            }
            Delivery::ExactlyOnce => {
                if let Some(p) = self.producer.take() {
                    flush(&self.opts, &p).await?;
                    self.pending.push((barrier.id, p));
                }
            }
        }
        Ok(None)
    }

    async fn notify_checkpoint_complete(
        &mut self,
        id: u64,
        _ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        let (done, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(cp, _)| *cp <= id);
        self.pending = later;
        for (_, p) in done {
            commit(&self.opts, p).await?;
        }
        Ok(())
    }

    async fn finish(&mut self, _ctx: &mut OperatorContext) -> RtResult<()> {
        // The end of input commits everything written (Flink's final checkpoint).
        for (_, p) in std::mem::take(&mut self.pending) {
            commit(&self.opts, p).await?;
        }
        if let Some(p) = self.producer.take() {
            if self.opts.delivery == Delivery::ExactlyOnce {
                commit(&self.opts, p).await?;
            } else {
                flush(&self.opts, &p).await?;
            }
        }
        Ok(())
    }
}
