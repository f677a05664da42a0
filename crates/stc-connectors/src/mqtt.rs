//! The `mqtt` connector: MQTT 3.1.1 topics as sources and sinks (rumqttc; tested against
//! Mosquitto).
//!
//! Source: one subscription to the topic filter `topic` (wildcards allowed) with QoS `qos`
//! (default 1), read by source subtask 0 (the other subtasks finish at once: a plain MQTT
//! subscription cannot be divided). The client reconnects by itself when the broker goes
//! away and subscribes again on every new session.
//!
//! Delivery guarantee of the source: **at-most-once** across failures. MQTT has no position
//! to resume from, and the client acknowledges a QoS 1/2 message as it receives it, so
//! messages received but not yet processed when a job fails are lost, and messages published
//! while no job is subscribed are lost too (unless `clean-session = 'false'` with a fixed
//! `client-id`, where the broker queues QoS ≥ 1 messages for the session). A checkpoint
//! records no position; a restored source subscribes anew.
//!
//! Sink: each row is one message published to `topic` with `qos` and `sink.retain`; a batch
//! is done when the broker has acknowledged every message of it (PUBACK for QoS 1, PUBCOMP
//! for QoS 2; written to the socket for QoS 0). At-least-once for QoS ≥ 1.
//!
//! Metadata keys: `topic`, `qos`, `retained`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use stc_runtime::{
    Operator, OperatorContext, OperatorFactory, Result as RtResult, RuntimeError, SourceFactory,
    SourceReader, SplitPosition, StreamBatch,
};
use tokio::sync::{mpsc, watch};

use crate::message::{self, MessageDecoder, MessageEncoder};
use crate::table::{ConnectorError, ConnectorTable, Result, check_keys};

const CONNECTOR: &str = "mqtt";
const MAX_BATCH: usize = 2048;
const POLL_WAIT: Duration = Duration::from_millis(200);

pub(crate) fn metadata_keys() -> Vec<(&'static str, DataType)> {
    vec![
        ("topic", DataType::Utf8),
        ("qos", DataType::Int32),
        ("retained", DataType::Boolean),
    ]
}

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    check_keys(
        t,
        CONNECTOR,
        &[
            "server-uri",
            "topic",
            "qos",
            "client-id",
            "username",
            "password",
            "clean-session",
            "keep-alive",
            "connect.timeout",
            "format",
            "sink.retain",
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
    host: String,
    port: u16,
    topic: String,
    qos: QoS,
    client_id: Option<String>,
    credentials: Option<(String, String)>,
    clean_session: bool,
    keep_alive: Duration,
    connect_timeout: Duration,
    retain: bool,
}

impl Config {
    fn new(t: &ConnectorTable) -> Result<Self> {
        let opt = |k: &str| t.options.get(k).map(|s| s.trim().to_string());
        let uri = opt("server-uri").unwrap_or_else(|| "tcp://127.0.0.1:1883".into());
        let bad_uri = || {
            ConnectorError::Options(format!(
                "invalid 'server-uri' '{uri}' for the mqtt connector: expected tcp://host:port (TLS is not supported yet)"
            ))
        };
        let rest = uri
            .strip_prefix("tcp://")
            .or_else(|| uri.strip_prefix("mqtt://"))
            .ok_or_else(bad_uri)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad_uri())?),
            None => (rest.to_string(), 1883),
        };
        let topic = opt("topic").filter(|s| !s.is_empty()).ok_or_else(|| {
            ConnectorError::Options(format!(
                "the mqtt connector of table '{}' needs a 'topic' option (a topic filter to read, or a topic to publish to)",
                t.name
            ))
        })?;
        let qos = match opt("qos").as_deref().unwrap_or("1") {
            "0" => QoS::AtMostOnce,
            "1" => QoS::AtLeastOnce,
            "2" => QoS::ExactlyOnce,
            other => {
                return Err(ConnectorError::Options(format!(
                    "invalid value '{other}' for option 'qos' of the mqtt connector; valid values: 0, 1, 2"
                )));
            }
        };
        let credentials = match (opt("username"), opt("password")) {
            (Some(u), p) => Some((u, p.unwrap_or_default())),
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConnectorError::Options(
                    "option 'password' of the mqtt connector needs 'username'".into(),
                ));
            }
        };
        let clean_session = message::bool_option(t, "clean-session", true)?;
        let client_id = opt("client-id");
        if !clean_session && client_id.is_none() {
            return Err(ConnectorError::Options(
                "'clean-session' = 'false' needs a fixed 'client-id' (the broker keeps the session under that id)".into(),
            ));
        }
        // A preview must not take over a persistent session (and its queued messages).
        let (client_id, clean_session) = if crate::preview::is_enabled() {
            (None, true)
        } else {
            (client_id, clean_session)
        };
        Ok(Config {
            table: t.name.clone(),
            host,
            port,
            topic,
            qos,
            client_id,
            credentials,
            clean_session,
            keep_alive: message::duration_option(t, "keep-alive", Duration::from_secs(30))?,
            connect_timeout: message::duration_option(
                t,
                "connect.timeout",
                Duration::from_secs(5),
            )?,
            retain: message::bool_option(t, "sink.retain", false)?,
        })
    }

    fn address(&self) -> String {
        format!("tcp://{}:{}", self.host, self.port)
    }

    fn client(&self, role: &str, subtask: usize) -> (AsyncClient, EventLoop) {
        let id = match &self.client_id {
            Some(id) if role == "source" => id.clone(),
            Some(id) => format!("{id}-{role}-{subtask}"),
            None => format!("stc-{role}-{}", uuid::Uuid::new_v4().simple()),
        };
        let mut o = MqttOptions::new(id, self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive.max(Duration::from_secs(5)));
        o.set_clean_session(self.clean_session);
        o.set_max_packet_size(16 << 20, 16 << 20);
        if let Some((u, p)) = &self.credentials {
            o.set_credentials(u.clone(), p.clone());
        }
        AsyncClient::new(o, 1024)
    }

    fn connect_error(&self, what: &str, reason: String) -> RuntimeError {
        RuntimeError::external(
            format!(
                "cannot connect to the MQTT broker at {} for {what} of table '{}' (topic '{}'): {reason}",
                self.address(),
                self.table,
                self.topic
            ),
            true,
        )
    }
}

/// What the event-loop task reports.
#[derive(Debug, Clone, Default)]
struct LinkState {
    connected: bool,
    /// The broker acknowledged the source's subscription in the current session.
    subscribed: bool,
    /// The last connection error while not connected.
    error: Option<String>,
}

/// Polls the event loop: the only way rumqttc makes progress. Runs until the client is
/// dropped. Reconnects by polling again after an error (rumqttc opens a new connection on
/// the next poll); subscribes again on every new session when `subscribe` is set.
fn spawn_event_loop(
    mut el: EventLoop,
    client: AsyncClient,
    subscribe: Option<(String, QoS)>,
    messages: Option<mpsc::Sender<rumqttc::Publish>>,
    acked: Arc<AtomicU64>,
    qos: QoS,
    state: watch::Sender<LinkState>,
) {
    tokio::spawn(async move {
        loop {
            // Ends when the reader or sink that owns the receiving side is gone.
            let polled = tokio::select! {
                r = el.poll() => r,
                _ = state.closed() => return,
            };
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some((topic, q)) = &subscribe {
                        let _ = client.try_subscribe(topic.clone(), *q);
                    }
                    state.send_replace(LinkState {
                        connected: true,
                        subscribed: subscribe.is_none(),
                        error: None,
                    });
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let failed = ack
                        .return_codes
                        .iter()
                        .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure));
                    state.send_modify(|s| {
                        if failed {
                            s.error = Some("the broker refused the subscription".into());
                        } else {
                            s.subscribed = true;
                        }
                    });
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(tx) = &messages
                        && tx.send(p).await.is_err()
                    {
                        return;
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(_))) if qos == QoS::AtLeastOnce => {
                    acked.fetch_add(1, Ordering::SeqCst);
                    state.send_modify(|_| {});
                }
                Ok(Event::Incoming(Packet::PubComp(_))) if qos == QoS::ExactlyOnce => {
                    acked.fetch_add(1, Ordering::SeqCst);
                    state.send_modify(|_| {});
                }
                Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => {
                    acked.fetch_add(1, Ordering::SeqCst);
                    state.send_modify(|_| {});
                }
                Ok(_) => {}
                Err(rumqttc::ConnectionError::RequestsDone) => return,
                Err(e) => {
                    tracing::warn!("MQTT connection error (reconnecting): {e}");
                    state.send_replace(LinkState {
                        connected: false,
                        subscribed: false,
                        error: Some(e.to_string()),
                    });
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
}

/// Waits until the first connection is up, or fails within `connect.timeout`.
async fn await_connected(
    config: &Config,
    what: &str,
    state: &mut watch::Receiver<LinkState>,
) -> RtResult<()> {
    let res = tokio::time::timeout(config.connect_timeout, async {
        loop {
            let s = state.borrow_and_update().clone();
            if s.connected && s.subscribed {
                return Ok(());
            }
            if s.connected
                && let Some(e) = s.error
            {
                return Err(e);
            }
            if state.changed().await.is_err() {
                return Err("the client stopped".to_string());
            }
        }
    })
    .await;
    match res {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(config.connect_error(what, e)),
        Err(_) => {
            let last = state.borrow().error.clone();
            Err(config.connect_error(
                what,
                match last {
                    Some(e) => format!("{e} (no connection within {:?})", config.connect_timeout),
                    None => format!(
                        "no answer within {:?} (connect.timeout)",
                        config.connect_timeout
                    ),
                },
            ))
        }
    }
}

/// The source side of an `mqtt` table.
pub struct MqttSource {
    table: ConnectorTable,
    config: Config,
    format: String,
    schema: SchemaRef,
}

impl MqttSource {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let format = message::format_of(t, CONNECTOR)?;
        let schema = MessageDecoder::new(t, &format)?.schema();
        Ok(MqttSource {
            table: t.clone(),
            config: Config::new(t)?,
            format,
            schema,
        })
    }
}

impl SourceFactory for MqttSource {
    fn describe(&self) -> String {
        format!(
            "mqtt topic '{}' at {}",
            self.config.topic,
            self.config.address()
        )
    }
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn create_reader(
        &self,
        subtask: usize,
        _parallelism: usize,
    ) -> RtResult<Box<dyn SourceReader>> {
        Ok(Box::new(MqttReader {
            config: self.config.clone(),
            active: subtask == 0,
            metadata: self.table.metadata.iter().map(|(k, _)| k.clone()).collect(),
            decoder: MessageDecoder::new(&self.table, &self.format)
                .map_err(|e| RuntimeError::Data(e.to_string()))?,
            link: None,
        }))
    }
    /// MQTT has no position: a restored source subscribes anew (see the module docs).
    fn restore_reader(
        &self,
        subtask: usize,
        parallelism: usize,
        _restored: &[SplitPosition],
    ) -> RtResult<Box<dyn SourceReader>> {
        self.create_reader(subtask, parallelism)
    }
}

struct SourceLink {
    _client: AsyncClient,
    rx: mpsc::Receiver<rumqttc::Publish>,
    /// Kept so the event loop runs (and reconnects) as long as the reader lives.
    _state: watch::Receiver<LinkState>,
}

struct MqttReader {
    config: Config,
    active: bool,
    metadata: Vec<String>,
    decoder: MessageDecoder,
    link: Option<SourceLink>,
}

impl MqttReader {
    async fn open(&mut self) -> RtResult<()> {
        let (client, el) = self.config.client("source", 0);
        let (tx, rx) = mpsc::channel(MAX_BATCH);
        let (state_tx, mut state_rx) = watch::channel(LinkState::default());
        spawn_event_loop(
            el,
            client.clone(),
            Some((self.config.topic.clone(), self.config.qos)),
            Some(tx),
            Arc::new(AtomicU64::new(0)),
            self.config.qos,
            state_tx,
        );
        await_connected(&self.config, "the source", &mut state_rx).await?;
        self.link = Some(SourceLink {
            _client: client,
            rx,
            _state: state_rx,
        });
        Ok(())
    }

    fn decode(&mut self, msgs: Vec<rumqttc::Publish>) -> RtResult<Option<RecordBatch>> {
        let metadata: Vec<ArrayRef> = self
            .metadata
            .iter()
            .map(|k| -> ArrayRef {
                match k.as_str() {
                    "topic" => Arc::new(StringArray::from_iter_values(
                        msgs.iter().map(|m| m.topic.as_str()),
                    )),
                    "qos" => Arc::new(Int32Array::from_iter_values(
                        msgs.iter().map(|m| m.qos as i32),
                    )),
                    _ => Arc::new(BooleanArray::from_iter(msgs.iter().map(|m| Some(m.retain)))),
                }
            })
            .collect();
        let payloads: Vec<&[u8]> = msgs.iter().map(|m| m.payload.as_ref()).collect();
        let describe = |k: usize| {
            format!(
                "MQTT topic '{}' (message {} of the batch, packet id {})",
                msgs[k].topic,
                k + 1,
                msgs[k].pkid
            )
        };
        self.decoder.decode(&payloads, metadata, &describe)
    }
}

#[async_trait]
impl SourceReader for MqttReader {
    /// Cancellation-safe: messages leave the channel only between awaits.
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        if !self.active {
            return Ok(None);
        }
        if self.link.is_none() {
            self.open().await?;
        }
        loop {
            let rx = &mut self.link.as_mut().expect("open").rx;
            let first = match tokio::time::timeout(POLL_WAIT, rx.recv()).await {
                Err(_) => return Ok(Some(RecordBatch::new_empty(self.decoder.schema()))),
                Ok(None) => {
                    return Err(RuntimeError::Internal("the MQTT event loop stopped".into()));
                }
                Ok(Some(m)) => m,
            };
            let mut msgs = vec![first];
            while msgs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
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

    /// No position (at-most-once, see the module docs): checkpoints succeed and a restored
    /// source subscribes anew.
    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        Some(Vec::new())
    }
}

/// The sink side of an `mqtt` table.
pub struct MqttSink {
    table: ConnectorTable,
    config: Config,
    format: String,
}

impl MqttSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let config = Config::new(t)?;
        if config.topic.contains(['+', '#']) {
            return Err(ConnectorError::Options(format!(
                "the mqtt sink of table '{}' needs a 'topic' without wildcards to publish to, found '{}'",
                t.name, config.topic
            )));
        }
        Ok(MqttSink {
            table: t.clone(),
            config,
            format: message::format_of(t, CONNECTOR)?,
        })
    }
}

impl OperatorFactory for MqttSink {
    fn name(&self) -> String {
        format!("Sink: mqtt '{}'", self.config.topic)
    }
    fn create(&self, subtask: usize, _parallelism: usize) -> RtResult<Box<dyn Operator>> {
        Ok(Box::new(MqttSinkOp {
            name: self.name(),
            config: self.config.clone(),
            subtask,
            encoder: MessageEncoder::new(&self.table, &self.format)
                .map_err(|e| RuntimeError::Data(e.to_string()))?,
            link: None,
            published: 0,
        }))
    }
    fn is_sink(&self) -> bool {
        true
    }
}

struct SinkLink {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
    state: watch::Receiver<LinkState>,
}

struct MqttSinkOp {
    name: String,
    config: Config,
    subtask: usize,
    encoder: MessageEncoder,
    link: Option<SinkLink>,
    published: u64,
}

impl MqttSinkOp {
    /// Waits until the broker acknowledged everything published; fails when the broker stays
    /// unreachable for `connect.timeout` meanwhile.
    async fn await_acks(&mut self) -> RtResult<()> {
        let link = self.link.as_mut().expect("connected");
        let mut down_since: Option<tokio::time::Instant> = None;
        loop {
            if link.acked.load(Ordering::SeqCst) >= self.published {
                return Ok(());
            }
            let s = link.state.borrow_and_update().clone();
            if s.connected {
                down_since = None;
            } else {
                let since = *down_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= self.config.connect_timeout {
                    return Err(RuntimeError::external(
                        format!(
                            "cannot publish to MQTT topic '{}' at {} (table '{}'): the broker is unreachable: {}",
                            self.config.topic,
                            self.config.address(),
                            self.config.table,
                            s.error.unwrap_or_default()
                        ),
                        true,
                    ));
                }
            }
            // Woken by every ack and every connection change; the timeout re-checks the
            // outage clock.
            let _ = tokio::time::timeout(Duration::from_millis(500), link.state.changed()).await;
        }
    }
}

#[async_trait]
impl Operator for MqttSinkOp {
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
        if self.link.is_none() {
            let (client, el) = self.config.client("sink", self.subtask);
            let acked = Arc::new(AtomicU64::new(0));
            let (state_tx, mut state_rx) = watch::channel(LinkState::default());
            spawn_event_loop(
                el,
                client.clone(),
                None,
                None,
                acked.clone(),
                self.config.qos,
                state_tx,
            );
            await_connected(&self.config, "the sink", &mut state_rx).await?;
            self.link = Some(SinkLink {
                client,
                acked,
                state: state_rx,
            });
        }
        let n = payloads.len();
        {
            let client = &self.link.as_ref().expect("connected").client;
            for p in payloads {
                client
                    .publish(
                        self.config.topic.clone(),
                        self.config.qos,
                        self.config.retain,
                        p,
                    )
                    .await
                    .map_err(|e| {
                        RuntimeError::external(
                            format!(
                                "cannot publish to MQTT topic '{}' at {}: {e}",
                                self.config.topic,
                                self.config.address()
                            ),
                            true,
                        )
                    })?;
                self.published += 1;
            }
        }
        self.await_acks().await?;
        ctx.metrics
            .records_written
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(())
    }

    async fn finish(&mut self, _ctx: &mut OperatorContext) -> RtResult<()> {
        if let Some(link) = &self.link {
            let _ = link.client.disconnect().await;
        }
        Ok(())
    }
}
