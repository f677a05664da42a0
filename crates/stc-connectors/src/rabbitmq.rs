//! The `rabbitmq` connector: AMQP 0-9-1 queues as sources, exchanges as sinks (lapin).
//!
//! Source: every source subtask consumes from `queue` (competing consumers: RabbitMQ gives
//! each message to one of them) on a connection and channel of its own, with the prefetch
//! limit `scan.prefetch-count` (unlimited when unset, as in Flink's RMQSource). The queue is
//! declared first unless `queue.declare = 'false'` (`queue.durable`, `queue.exclusive`,
//! `queue.auto-delete` as in AMQP).
//!
//! Delivery guarantee: **at-least-once**. Messages are acknowledged only when a checkpoint
//! that covers them completes (`notify_checkpoint_complete`, one `basic.ack` with
//! `multiple`); after a failure the broker redelivers every unacknowledged message, including
//! some the job had already processed. There is no position to restore: the queue itself
//! holds what is left. Without checkpoints nothing is acknowledged until the connection
//! closes (then it is all redelivered), and a `scan.prefetch-count` limit stops delivery once
//! that many messages are unacknowledged. `scan.ack-mode = 'auto'` trades this for
//! **at-most-once**: the broker forgets a message once it has sent it (for jobs run without
//! checkpoints).
//!
//! Sink: each row is one message published to `exchange` (default: the default exchange)
//! with `routing-key` (default: `queue`), persistent, with publisher confirms: a batch is done
//! when the broker has confirmed every message of it (at-least-once).
//!
//! Metadata keys: `exchange`, `routing-key`, `delivery-tag`, `redelivered`, `message-id`,
//! `timestamp` (the `timestamp` property, seconds; NULL when absent).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use futures::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use stc_runtime::{
    Operator, OperatorContext, OperatorFactory, Result as RtResult, RuntimeError, SourceFactory,
    SourceReader, SplitPosition, StreamBatch,
};

use crate::message::{self, MessageDecoder, MessageEncoder};
use crate::table::{ConnectorError, ConnectorTable, Result, check_keys};

const CONNECTOR: &str = "rabbitmq";
const MAX_BATCH: usize = 2048;
const POLL_WAIT: Duration = Duration::from_millis(200);

pub(crate) fn metadata_keys() -> Vec<(&'static str, DataType)> {
    vec![
        ("exchange", DataType::Utf8),
        ("routing-key", DataType::Utf8),
        ("delivery-tag", DataType::Int64),
        ("redelivered", DataType::Boolean),
        ("message-id", DataType::Utf8),
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
            "uri",
            "queue",
            "queue.declare",
            "queue.durable",
            "queue.exclusive",
            "queue.auto-delete",
            "exchange",
            "routing-key",
            "format",
            "connect.timeout",
            "scan.prefetch-count",
            "scan.ack-mode",
            "sink.parallelism",
        ],
        message::FORMAT_PREFIXES,
    )?;
    message::validate_format(t, CONNECTOR)?;
    Config::new(t)?;
    Ok(())
}

#[derive(Debug, Clone)]
struct Config {
    table: String,
    uri: String,
    queue: Option<String>,
    declare: bool,
    declare_options: QueueDeclareOptions,
    exchange: String,
    routing_key: Option<String>,
    connect_timeout: Duration,
    prefetch: Option<u16>,
    /// `scan.ack-mode = 'auto'`: the broker considers a message delivered once sent.
    auto_ack: bool,
}

impl Config {
    fn new(t: &ConnectorTable) -> Result<Self> {
        let opt = |k: &str| t.options.get(k).map(|s| s.trim().to_string());
        let prefetch = match t.options.get("scan.prefetch-count") {
            None => None,
            Some(_) => Some(message::int_option::<u16>(t, "scan.prefetch-count", 0)?),
        };
        Ok(Config {
            table: t.name.clone(),
            uri: opt("uri").unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
            queue: opt("queue").filter(|q| !q.is_empty()),
            declare: message::bool_option(t, "queue.declare", true)?,
            declare_options: QueueDeclareOptions {
                passive: false,
                durable: message::bool_option(t, "queue.durable", true)?,
                exclusive: message::bool_option(t, "queue.exclusive", false)?,
                auto_delete: message::bool_option(t, "queue.auto-delete", false)?,
                nowait: false,
            },
            exchange: opt("exchange").unwrap_or_default(),
            routing_key: opt("routing-key"),
            connect_timeout: message::duration_option(
                t,
                "connect.timeout",
                Duration::from_secs(5),
            )?,
            prefetch,
            // A preview never acknowledges: what it saw is requeued when it disconnects.
            auto_ack: match opt("scan.ack-mode").as_deref().unwrap_or("checkpoint") {
                "checkpoint" => false,
                "auto" => !crate::preview::is_enabled(),
                other => {
                    return Err(ConnectorError::Options(format!(
                        "invalid value '{other}' for option 'scan.ack-mode' of the rabbitmq connector; valid values: checkpoint (at-least-once), auto (at-most-once)"
                    )));
                }
            },
        })
    }

    /// The URI without its password, for messages.
    fn address(&self) -> String {
        match (self.uri.find("://"), self.uri.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                format!("{}{}", &self.uri[..s + 3], &self.uri[at + 1..])
            }
            _ => self.uri.clone(),
        }
    }

    /// Connects and opens a channel, within `connect.timeout`.
    async fn channel(&self, what: &str) -> RtResult<(Connection, Channel)> {
        let fail = |reason: String| {
            RuntimeError::external(
                format!(
                    "cannot connect to RabbitMQ at {} for {what} of table '{}': {reason}",
                    self.address(),
                    self.table
                ),
                true,
            )
        };
        let connect = async {
            let conn = Connection::connect(&self.uri, ConnectionProperties::default()).await?;
            let ch = conn.create_channel().await?;
            Ok::<_, lapin::Error>((conn, ch))
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Err(_) => Err(fail(format!(
                "no answer within {:?} (connect.timeout)",
                self.connect_timeout
            ))),
        }
    }

    async fn declare(&self, ch: &Channel, queue: &str) -> RtResult<()> {
        if !self.declare {
            return Ok(());
        }
        ch.queue_declare(queue.into(), self.declare_options, FieldTable::default())
            .await
            .map_err(|e| {
                RuntimeError::external(
                    format!(
                        "cannot declare RabbitMQ queue '{queue}' at {} (table '{}'): {e}",
                        self.address(),
                        self.table
                    ),
                    false,
                )
            })?;
        Ok(())
    }
}

/// The source side of a `rabbitmq` table.
pub struct RabbitSource {
    table: ConnectorTable,
    config: Config,
    queue: String,
    format: String,
    schema: SchemaRef,
}

impl RabbitSource {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let config = Config::new(t)?;
        let queue = config.queue.clone().ok_or_else(|| {
            ConnectorError::Options(format!(
                "the rabbitmq source of table '{}' needs a 'queue' option: the queue to consume",
                t.name
            ))
        })?;
        let format = message::format_of(t, CONNECTOR)?;
        let schema = MessageDecoder::new(t, &format)?.schema();
        Ok(RabbitSource {
            table: t.clone(),
            config,
            queue,
            format,
            schema,
        })
    }
}

impl SourceFactory for RabbitSource {
    fn describe(&self) -> String {
        format!(
            "rabbitmq queue '{}' at {}",
            self.queue,
            self.config.address()
        )
    }
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn create_reader(
        &self,
        _subtask: usize,
        _parallelism: usize,
    ) -> RtResult<Box<dyn SourceReader>> {
        Ok(Box::new(RabbitReader {
            config: self.config.clone(),
            queue: self.queue.clone(),
            metadata: self.table.metadata.iter().map(|(k, _)| k.clone()).collect(),
            decoder: MessageDecoder::new(&self.table, &self.format)
                .map_err(|e| RuntimeError::Data(e.to_string()))?,
            conn: None,
            last_tag: 0,
            ack_at_checkpoint: 0,
            acked: 0,
        }))
    }
    /// Nothing to resume from: the broker redelivers what the checkpoint did not acknowledge.
    fn restore_reader(
        &self,
        subtask: usize,
        parallelism: usize,
        _restored: &[SplitPosition],
    ) -> RtResult<Box<dyn SourceReader>> {
        self.create_reader(subtask, parallelism)
    }
}

struct Open {
    _conn: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
}

struct RabbitReader {
    config: Config,
    queue: String,
    metadata: Vec<String>,
    decoder: MessageDecoder,
    conn: Option<Open>,
    /// Delivery tag of the last message returned.
    last_tag: u64,
    /// Delivery tag to acknowledge (with `multiple`) once the pending checkpoint completes.
    ack_at_checkpoint: u64,
    /// Highest delivery tag acknowledged.
    acked: u64,
}

impl RabbitReader {
    async fn open(&mut self) -> RtResult<()> {
        let (conn, channel) = self.config.channel("the source").await?;
        self.config.declare(&channel, &self.queue).await?;
        let ext = |what: String, e: lapin::Error| {
            RuntimeError::external(
                format!(
                    "{what} RabbitMQ queue '{}' at {} (table '{}'): {e}",
                    self.queue,
                    self.config.address(),
                    self.config.table
                ),
                true,
            )
        };
        if let Some(p) = self.config.prefetch {
            channel
                .basic_qos(p, BasicQosOptions::default())
                .await
                .map_err(|e| ext("cannot set the prefetch count of".into(), e))?;
        }
        let consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: self.config.auto_ack,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| ext("cannot consume from".into(), e))?;
        self.conn = Some(Open {
            _conn: conn,
            channel,
            consumer,
        });
        Ok(())
    }

    fn decode(&mut self, msgs: Vec<lapin::message::Delivery>) -> RtResult<Option<RecordBatch>> {
        if let Some(m) = msgs.last() {
            self.last_tag = m.delivery_tag;
        }
        let metadata: Vec<ArrayRef> = self
            .metadata
            .iter()
            .map(|k| -> ArrayRef {
                match k.as_str() {
                    "exchange" => Arc::new(StringArray::from_iter_values(
                        msgs.iter().map(|m| m.exchange.as_str()),
                    )),
                    "routing-key" => Arc::new(StringArray::from_iter_values(
                        msgs.iter().map(|m| m.routing_key.as_str()),
                    )),
                    "delivery-tag" => Arc::new(Int64Array::from_iter_values(
                        msgs.iter().map(|m| m.delivery_tag as i64),
                    )),
                    "redelivered" => Arc::new(BooleanArray::from_iter(
                        msgs.iter().map(|m| Some(m.redelivered)),
                    )),
                    "message-id" => Arc::new(StringArray::from_iter(
                        msgs.iter()
                            .map(|m| m.properties.message_id().as_ref().map(|s| s.as_str())),
                    )),
                    _ => Arc::new(
                        TimestampMillisecondArray::from_iter(msgs.iter().map(|m| {
                            m.properties
                                .timestamp()
                                .map(|s| (s as i64).saturating_mul(1000))
                        }))
                        .with_timezone("UTC"),
                    ),
                }
            })
            .collect();
        let payloads: Vec<&[u8]> = msgs.iter().map(|m| m.data.as_slice()).collect();
        let describe = |k: usize| {
            format!(
                "RabbitMQ queue '{}' delivery tag {}",
                self.queue, msgs[k].delivery_tag
            )
        };
        self.decoder.decode(&payloads, metadata, &describe)
    }
}

#[async_trait]
impl SourceReader for RabbitReader {
    /// Cancellation-safe: deliveries leave the consumer only between awaits.
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        if self.conn.is_none() {
            self.open().await?;
        }
        loop {
            let consumer = &mut self.conn.as_mut().expect("open").consumer;
            let first = match tokio::time::timeout(POLL_WAIT, consumer.next()).await {
                Err(_) => return Ok(Some(RecordBatch::new_empty(self.decoder.schema()))),
                Ok(m) => m,
            };
            let mut got = vec![first];
            while got.len() < MAX_BATCH {
                match consumer.next().now_or_never() {
                    Some(m) => got.push(m),
                    None => break,
                }
            }
            let mut msgs = Vec::with_capacity(got.len());
            for m in got {
                match m {
                    Some(Ok(d)) => msgs.push(d),
                    Some(Err(e)) => {
                        return Err(RuntimeError::external(
                            format!(
                                "cannot read from RabbitMQ queue '{}' at {}: {e}",
                                self.queue,
                                self.config.address()
                            ),
                            true,
                        ));
                    }
                    None => {
                        return Err(RuntimeError::external(
                            format!(
                                "the consumer of RabbitMQ queue '{}' at {} was cancelled by the broker (queue deleted?)",
                                self.queue,
                                self.config.address()
                            ),
                            true,
                        ));
                    }
                }
            }
            if let Some(b) = self.decode(msgs)? {
                return Ok(Some(b));
            }
        }
    }

    fn skipped_records(&self) -> u64 {
        self.decoder.skipped_records()
    }

    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        self.ack_at_checkpoint = self.last_tag;
        Some(vec![SplitPosition {
            split: self.queue.clone(),
            position: b"{}".to_vec(),
        }])
    }

    /// Acknowledges every message returned before the completed checkpoint's barrier.
    /// Assumes one checkpoint in flight at a time (Flink's default): the messages
    /// acknowledged are those before the latest snapshot.
    async fn notify_checkpoint_complete(&mut self, _id: u64) -> RtResult<()> {
        let tag = self.ack_at_checkpoint;
        if tag <= self.acked || self.config.auto_ack {
            return Ok(());
        }
        let Some(open) = &self.conn else {
            return Ok(());
        };
        open.channel
            .basic_ack(tag, BasicAckOptions { multiple: true })
            .await
            .map_err(|e| {
                RuntimeError::external(
                    format!(
                        "cannot acknowledge messages up to delivery tag {tag} of RabbitMQ queue '{}' at {}: {e}",
                        self.queue,
                        self.config.address()
                    ),
                    true,
                )
            })?;
        self.acked = tag;
        Ok(())
    }
}

/// The sink side of a `rabbitmq` table.
pub struct RabbitSink {
    table: ConnectorTable,
    config: Config,
    routing_key: String,
    format: String,
}

impl RabbitSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let config = Config::new(t)?;
        let routing_key = config
            .routing_key
            .clone()
            .or_else(|| config.queue.clone())
            .ok_or_else(|| {
                ConnectorError::Options(format!(
                    "the rabbitmq sink of table '{}' needs a 'routing-key' (with an 'exchange') or a 'queue' to publish to",
                    t.name
                ))
            })?;
        Ok(RabbitSink {
            table: t.clone(),
            config,
            routing_key,
            format: message::format_of(t, CONNECTOR)?,
        })
    }
}

impl OperatorFactory for RabbitSink {
    fn name(&self) -> String {
        format!(
            "Sink: rabbitmq exchange '{}' routing key '{}'",
            self.config.exchange, self.routing_key
        )
    }
    fn create(&self, _subtask: usize, _parallelism: usize) -> RtResult<Box<dyn Operator>> {
        let content_type = if self.format == "json" {
            "application/json"
        } else {
            "text/csv"
        };
        Ok(Box::new(RabbitSinkOp {
            name: self.name(),
            config: self.config.clone(),
            routing_key: self.routing_key.clone(),
            content_type,
            encoder: MessageEncoder::new(&self.table, &self.format)
                .map_err(|e| RuntimeError::Data(e.to_string()))?,
            conn: None,
        }))
    }
    fn is_sink(&self) -> bool {
        true
    }
}

struct RabbitSinkOp {
    name: String,
    config: Config,
    routing_key: String,
    content_type: &'static str,
    encoder: MessageEncoder,
    conn: Option<(Connection, Channel)>,
}

#[async_trait]
impl Operator for RabbitSinkOp {
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
        if self.conn.is_none() {
            let (conn, ch) = self.config.channel("the sink").await?;
            if let Some(q) = &self.config.queue {
                self.config.declare(&ch, q).await?;
            }
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| {
                    RuntimeError::external(
                        format!(
                            "cannot enable publisher confirms at RabbitMQ {}: {e}",
                            self.config.address()
                        ),
                        true,
                    )
                })?;
            self.conn = Some((conn, ch));
        }
        let ch = &self.conn.as_ref().expect("connected").1;
        let fail = |e: String| {
            RuntimeError::external(
                format!(
                    "cannot publish to RabbitMQ exchange '{}' with routing key '{}' at {} (table '{}'): {e}",
                    self.config.exchange,
                    self.routing_key,
                    self.config.address(),
                    self.config.table
                ),
                true,
            )
        };
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(self.content_type.into());
        let mut confirms = Vec::with_capacity(payloads.len());
        for p in &payloads {
            let c = ch
                .basic_publish(
                    self.config.exchange.as_str().into(),
                    self.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    p,
                    props.clone(),
                )
                .await
                .map_err(|e| fail(e.to_string()))?;
            confirms.push(c);
        }
        for c in confirms {
            let conf = c.await.map_err(|e| fail(e.to_string()))?;
            if conf.is_nack() {
                return Err(fail("the broker refused (nack) a message".into()));
            }
        }
        ctx.metrics
            .records_written
            .fetch_add(payloads.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}
