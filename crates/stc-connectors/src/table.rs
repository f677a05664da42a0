//! The contract between the SQL front-end and connectors: what a connector is told about a
//! table, and the one list of connectors.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use stc_common::{Classified, ErrorClass};
use stc_runtime::{LookupSourceFactory, OperatorFactory, SourceFactory};

/// Everything a connector needs to know about a table.
#[derive(Debug, Clone)]
pub struct ConnectorTable {
    pub name: String,
    /// The `WITH` options, as written.
    pub options: HashMap<String, String>,
    /// Physical columns, in declaration order (what a source reads).
    pub physical_schema: SchemaRef,
    /// Metadata columns read by a source: (metadata key, column).
    pub metadata: Vec<(String, Field)>,
    /// Columns a sink writes (physical and persisted metadata columns).
    pub sink_schema: SchemaRef,
    pub primary_key: Vec<String>,
    /// `PARTITIONED BY` columns, in declaration order.
    pub partition_keys: Vec<String>,
    /// `table.local-time-zone`, for rendering TIMESTAMP_LTZ.
    pub time_zone: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A bad or missing option.
    #[error("{0}")]
    Options(String),
    /// The table's path/endpoint is not usable (e.g. a missing input file).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Format(#[from] crate::format::FormatError),
}

impl Classified for ConnectorError {
    fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Options(_) | ConnectorError::Unavailable(_) => ErrorClass::USER,
            ConnectorError::Format(f) => f.class(),
        }
    }
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Every connector, in the order documentation lists them.
pub const CONNECTORS: &[&str] = &[
    "datagen",
    "nexmark",
    "filesystem",
    "print",
    "blackhole",
    "jdbc",
    "redis",
    "kafka",
    "upsert-kafka",
    "nats",
    "rabbitmq",
    "mqtt",
];

/// Metadata keys a connector offers (`col TYPE METADATA FROM 'key'`).
pub fn metadata_keys(connector: &str) -> Vec<(&'static str, DataType)> {
    match connector {
        "filesystem" => vec![
            ("file.path", DataType::Utf8),
            ("file.name", DataType::Utf8),
            ("file.size", DataType::Int64),
            (
                "file.modification-time",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            ),
        ],
        "kafka" | "upsert-kafka" => crate::kafka::metadata_keys(),
        "nats" => crate::nats::metadata_keys(),
        "rabbitmq" => crate::rabbitmq::metadata_keys(),
        "mqtt" => crate::mqtt::metadata_keys(),
        _ => vec![],
    }
}

fn connector_name(t: &ConnectorTable) -> Result<&str> {
    let c = t.options.get("connector").map(String::as_str).unwrap_or("");
    if CONNECTORS.contains(&c) {
        Ok(c)
    } else {
        Err(ConnectorError::Options(format!(
            "unknown connector '{c}'. Available connectors: {} (nats, mqtt, rabbitmq and others are not supported yet)",
            CONNECTORS.join(", ")
        )))
    }
}

/// Checks a table's options without touching any external system.
pub fn validate(t: &ConnectorTable) -> Result<()> {
    match connector_name(t)? {
        "datagen" => crate::datagen_source::validate(t),
        "nexmark" => crate::nexmark::validate(t),
        "filesystem" => crate::filesystem::validate(t),
        "print" => crate::print::validate(t),
        "blackhole" => Ok(()),
        "jdbc" => crate::jdbc::validate(t),
        "redis" => crate::redis::validate(t),
        "kafka" | "upsert-kafka" => crate::kafka::validate(t),
        "nats" => crate::nats::validate(t),
        "rabbitmq" => crate::rabbitmq::validate(t),
        "mqtt" => crate::mqtt::validate(t),
        _ => unreachable!("connector_name checked the name"),
    }
}

/// The source side of a table.
pub fn create_source(t: &ConnectorTable) -> Result<Arc<dyn SourceFactory>> {
    match connector_name(t)? {
        "datagen" => Ok(Arc::new(crate::datagen_source::DatagenSource::new(t)?)),
        "nexmark" => Ok(Arc::new(crate::nexmark::NexmarkSource::new(t)?)),
        "filesystem" => Ok(Arc::new(crate::filesystem::FileSource::new(t)?)),
        "kafka" | "upsert-kafka" => Ok(Arc::new(crate::kafka::KafkaSource::new(t)?)),
        "nats" => Ok(Arc::new(crate::nats::NatsSource::new(t)?)),
        "rabbitmq" => Ok(Arc::new(crate::rabbitmq::RabbitSource::new(t)?)),
        "mqtt" => Ok(Arc::new(crate::mqtt::MqttSource::new(t)?)),
        c @ ("print" | "blackhole") => Err(ConnectorError::Options(format!(
            "connector '{c}' can only be used as a sink (INSERT INTO), not read from"
        ))),
        "jdbc" => Ok(Arc::new(crate::jdbc::JdbcScanFactory::new(t)?)),
        c @ "redis" => Err(ConnectorError::Options(format!(
            "connector '{c}' of table '{}' is not supported as a scan source yet; use it as a lookup table (JOIN … FOR SYSTEM_TIME AS OF PROCTIME()) or a sink",
            t.name
        ))),
        _ => unreachable!(),
    }
}

/// The sink side of a table.
pub fn create_sink(t: &ConnectorTable) -> Result<Arc<dyn OperatorFactory>> {
    let connector = connector_name(t)?;
    // Flink's DynamicSinkUtils: only sinks that implement SupportsPartitioning (of ours:
    // filesystem, print, blackhole) may be written through a PARTITIONED BY table; any other
    // would silently drop the partitioning.
    if !t.partition_keys.is_empty() && !matches!(connector, "filesystem" | "print" | "blackhole") {
        return Err(ConnectorError::Options(format!(
            "Table '{}' is a partitioned table, but the {connector} connector does not support partitioned sinks (PARTITIONED BY); of the connectors here only filesystem, print and blackhole do",
            t.name
        )));
    }
    match connector {
        "filesystem" => Ok(Arc::new(crate::filesystem::FileSink::new(t)?)),
        "print" => Ok(Arc::new(crate::print::PrintSink::new(t)?)),
        "blackhole" => Ok(Arc::new(crate::print::BlackholeSink)),
        "jdbc" => Ok(Arc::new(crate::jdbc::JdbcSink::new(t)?)),
        "redis" => Ok(Arc::new(crate::redis::RedisSink::new(t)?)),
        "kafka" | "upsert-kafka" => Ok(Arc::new(crate::kafka::KafkaSink::new(t)?)),
        "nats" => Ok(Arc::new(crate::nats::NatsSink::new(t)?)),
        "rabbitmq" => Ok(Arc::new(crate::rabbitmq::RabbitSink::new(t)?)),
        "mqtt" => Ok(Arc::new(crate::mqtt::MqttSink::new(t)?)),
        c @ ("datagen" | "nexmark") => Err(ConnectorError::Options(format!(
            "connector '{c}' can only be used as a source, not written to"
        ))),
        _ => unreachable!(),
    }
}

/// Whether the sink of a table consumes an updating changelog (`-U`/`+U`/`-D` rows), as
/// opposed to appending every row it receives. Flink rejects an updating query into an
/// append-only sink at planning time; so do we.
pub fn sink_accepts_updates(t: &ConnectorTable) -> bool {
    match t.options.get("connector").map(String::as_str) {
        Some("print" | "blackhole") => true,
        Some("filesystem") => t
            .options
            .get("format")
            .is_some_and(|f| crate::format::changelog::ChangelogFormat::from_name(f).is_some()),
        Some("kafka") => t
            .options
            .get("value.format")
            .or_else(|| t.options.get("format"))
            .is_some_and(|f| crate::format::changelog::ChangelogFormat::from_name(f).is_some()),
        // Upserts and deletes need a key to address the row.
        Some("jdbc" | "redis" | "upsert-kafka") => !t.primary_key.is_empty(),
        _ => false,
    }
}

/// The lookup side of a table (`FOR SYSTEM_TIME AS OF PROCTIME()`), keyed on `key_columns`:
/// the physical columns the join condition compares by equality. The join must pass keys in
/// the order of the returned factory's `key_columns()` (jdbc keeps the given order; redis
/// answers with the primary key's order; filesystem keeps the given order). Nothing external
/// is touched here: the table's existence and column types are checked on the first lookup.
pub fn create_lookup(
    t: &ConnectorTable,
    key_columns: &[String],
) -> Result<Arc<dyn LookupSourceFactory>> {
    match connector_name(t)? {
        "jdbc" => Ok(Arc::new(crate::jdbc::JdbcLookupFactory::new(
            t,
            key_columns,
        )?)),
        "redis" => Ok(Arc::new(crate::redis::RedisLookupFactory::new(
            t,
            key_columns,
        )?)),
        "filesystem" => Ok(Arc::new(crate::filesystem_lookup::FileLookupFactory::new(
            t,
            key_columns,
        )?)),
        c => Err(ConnectorError::Options(format!(
            "connector '{c}' of table '{}' cannot be used for lookup joins (FOR SYSTEM_TIME AS OF PROCTIME()); lookup tables need the jdbc, redis or filesystem connector",
            t.name
        ))),
    }
}

/// Checks that every option key is one of `valid` (or starts with one of `prefixes`).
pub(crate) fn check_keys(
    t: &ConnectorTable,
    connector: &str,
    valid: &[&str],
    prefixes: &[&str],
) -> Result<()> {
    let mut keys: Vec<&String> = t.options.keys().collect();
    keys.sort();
    for k in keys {
        if k == "connector"
            || valid.contains(&k.as_str())
            || prefixes.iter().any(|p| k.starts_with(p))
        {
            continue;
        }
        let mut all: Vec<String> = valid.iter().map(|s| s.to_string()).collect();
        all.extend(prefixes.iter().map(|p| format!("{p}*")));
        return Err(ConnectorError::Options(format!(
            "unsupported option '{k}' for connector '{connector}'. Supported options: connector, {}",
            all.join(", ")
        )));
    }
    Ok(())
}
