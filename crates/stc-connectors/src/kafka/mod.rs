//! The `kafka` and `upsert-kafka` connectors (through `rdkafka`, i.e. librdkafka), with
//! Flink's option names.
//!
//! * [`source`]: one consumer per source subtask, partitions assigned by the reader itself
//!   (`assign`, never a group rebalance), Flink's split owner rule, start and stop offsets
//!   resolved once per partition, positions (`topic/partition` → next offset) in checkpoints
//!   and committed to `properties.group.id` when a checkpoint completes.
//! * [`sink`]: one producer per sink subtask; `sink.delivery-guarantee` `none`,
//!   `at-least-once` (flush at every checkpoint and at the end) and `exactly-once` (a Kafka
//!   transaction per checkpoint, committed when the checkpoint completes).
//!
//! Message values (and keys, with `key.format`) are decoded and encoded with the formats of
//! [`crate::format`]: `json` and `csv` are line formats, so a message value is one line (a
//! newline inside a JSON value is whitespace and is replaced by a space); `raw` takes the
//! bytes as they are; `avro` is one binary datum per message. With a changelog value format
//! (`debezium-json`, …) the table is an updating input and each message may make several rows
//! with their kinds; an `upsert-kafka` source emits `+I` per message and `-D` per tombstone,
//! keyed by the primary key ([`stc_runtime::SourceFactory::upsert_key`]), and the planner
//! normalizes that into a full changelog.

pub mod sink;
pub mod source;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use rdkafka::ClientConfig;

use crate::format;
use crate::table::{ConnectorError, ConnectorTable, Result, check_keys};

pub use sink::KafkaSink;
pub use source::KafkaSource;

/// Metadata keys of the kafka connectors (Flink's names and types). `topic`, `headers` and
/// `timestamp` can also be written by a sink (a non-`VIRTUAL` metadata column).
pub fn metadata_keys() -> Vec<(&'static str, DataType)> {
    vec![
        ("topic", DataType::Utf8),
        ("partition", DataType::Int32),
        ("headers", headers_type()),
        ("leader-epoch", DataType::Int32),
        ("offset", DataType::Int64),
        (
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ),
        ("timestamp-type", DataType::Utf8),
    ]
}

/// `MAP<STRING, BYTES>`.
fn headers_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Binary, true),
            ])),
            false,
        )),
        false,
    )
}

const VALUE_FORMATS: &[&str] = &[
    "json",
    "csv",
    "raw",
    "avro",
    "debezium-json",
    "canal-json",
    "maxwell-json",
];

/// How a source starts reading a partition (`scan.startup.mode`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StartMode {
    Earliest,
    /// This many records before the end of each partition (a preview's `--latest`).
    FromEnd(i64),
    Latest,
    GroupOffsets,
    Timestamp(i64),
    /// Partition → offset; partitions not listed start at the earliest offset.
    Specific(HashMap<i32, i64>),
}

/// Where a bounded source stops (`scan.bounded.mode`); the offset is exclusive.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StopMode {
    Unbounded,
    Latest,
    GroupOffsets,
    Timestamp(i64),
    /// Partition → offset; partitions not listed stop at the latest offset.
    Specific(HashMap<i32, i64>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Partitioner {
    /// librdkafka's `murmur2_random`: Kafka's default (Java) partitioner for keyed records.
    Default,
    /// Sink subtask `i` writes to partition `i % partitions`.
    Fixed,
    RoundRobin,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Delivery {
    None,
    AtLeastOnce,
    ExactlyOnce,
}

/// A format and the options it reads (prefixes such as `value.` already removed, so a
/// decoder sees `json.ignore-parse-errors` whether the table wrote it with or without
/// `value.`).
#[derive(Debug, Clone)]
pub(crate) struct FormatSpec {
    pub name: String,
    pub options: HashMap<String, String>,
}

/// A table's kafka options, parsed and checked.
#[derive(Debug, Clone)]
pub(crate) struct KafkaOptions {
    pub table: String,
    pub upsert: bool,
    pub topics: Vec<String>,
    pub pattern: Option<regex::Regex>,
    /// `properties.*` without the prefix, passed to librdkafka as they are.
    pub properties: Vec<(String, String)>,
    pub servers: String,
    pub group_id: Option<String>,
    pub start: StartMode,
    pub stop: StopMode,
    pub value: FormatSpec,
    pub key: Option<FormatSpec>,
    /// Physical columns of the key, in key order.
    pub key_fields: Vec<String>,
    /// `value.fields-include`: `ALL` (true) or `EXCEPT_KEY`.
    pub value_includes_key: bool,
    pub partitioner: Partitioner,
    pub delivery: Delivery,
    pub transactional_id_prefix: Option<String>,
    /// `scan.topic-partition-discovery.interval` (unbounded sources only).
    pub discovery_interval: Option<Duration>,
    /// How long one metadata/offset request may take before the job fails: librdkafka's
    /// `socket.timeout.ms` when the table sets it, else 30 s.
    pub request_timeout: Duration,
    pub physical: SchemaRef,
}

fn opt_err(msg: String) -> ConnectorError {
    ConnectorError::Options(msg)
}

/// Flink's `partition:0,offset:42;partition:1,offset:300`.
fn parse_specific_offsets(table: &str, key: &str, v: &str) -> Result<HashMap<i32, i64>> {
    let bad = || {
        opt_err(format!(
            "invalid value '{v}' for option '{key}' of table '{table}': expected 'partition:0,offset:42;partition:1,offset:300'"
        ))
    };
    let mut out = HashMap::new();
    for part in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let mut partition = None;
        let mut offset = None;
        for kv in part.split(',') {
            let (k, val) = kv.split_once(':').ok_or_else(bad)?;
            match k.trim() {
                "partition" => partition = Some(val.trim().parse::<i32>().map_err(|_| bad())?),
                "offset" => offset = Some(val.trim().parse::<i64>().map_err(|_| bad())?),
                _ => return Err(bad()),
            }
        }
        match (partition, offset) {
            (Some(p), Some(o)) => {
                out.insert(p, o);
            }
            _ => return Err(bad()),
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// The options of `fmt` for a decoder/encoder: `<prefix><fmt>.x` keys become `<fmt>.x`.
fn format_options(
    options: &HashMap<String, String>,
    prefix: &str,
    fmt: &str,
) -> HashMap<String, String> {
    let dotted = format!("{prefix}{fmt}.");
    options
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&dotted)
                .map(|rest| (format!("{fmt}.{rest}"), v.clone()))
        })
        .collect()
}

impl KafkaOptions {
    pub(crate) fn parse(t: &ConnectorTable) -> Result<Self> {
        let upsert = t.options.get("connector").map(String::as_str) == Some("upsert-kafka");
        let connector = if upsert { "upsert-kafka" } else { "kafka" };
        let name = &t.name;
        let mut valid = vec![
            "topic",
            "key.format",
            "value.format",
            "value.fields-include",
            "sink.parallelism",
            "sink.delivery-guarantee",
            "sink.transactional-id-prefix",
            "scan.bounded.mode",
            "scan.bounded.specific-offsets",
            "scan.bounded.timestamp-millis",
        ];
        if !upsert {
            valid.extend([
                "topic-pattern",
                "format",
                "key.fields",
                "scan.startup.mode",
                "scan.startup.specific-offsets",
                "scan.startup.timestamp-millis",
                "scan.topic-partition-discovery.interval",
                "sink.partitioner",
                "sink.semantic",
            ]);
        }
        // Format options, with or without the `key.` / `value.` prefix of their part.
        let prefixes = [
            "properties.",
            "json.",
            "csv.",
            "raw.",
            "avro.",
            "debezium-json.",
            "canal-json.",
            "maxwell-json.",
            "key.json.",
            "key.csv.",
            "key.raw.",
            "key.avro.",
            "value.json.",
            "value.csv.",
            "value.raw.",
            "value.avro.",
            "value.debezium-json.",
            "value.canal-json.",
            "value.maxwell-json.",
        ];
        check_keys(t, connector, &valid, &prefixes)?;
        let get = |k: &str| t.options.get(k).map(String::as_str);

        // Topics.
        let topics: Vec<String> = get("topic")
            .map(|v| {
                v.split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let pattern = match get("topic-pattern") {
            None => None,
            Some(p) => Some(regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                opt_err(format!(
                    "invalid 'topic-pattern' '{p}' of table '{name}': {e}"
                ))
            })?),
        };
        match (topics.is_empty(), pattern.is_some()) {
            (true, false) => {
                return Err(opt_err(format!(
                    "table '{name}' (connector '{connector}') needs the option 'topic'{}",
                    if upsert { "" } else { " or 'topic-pattern'" }
                )));
            }
            (false, true) => {
                return Err(opt_err(format!(
                    "table '{name}': options 'topic' and 'topic-pattern' cannot both be set"
                )));
            }
            _ => {}
        }

        // Client properties.
        let mut properties: Vec<(String, String)> = t
            .options
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("properties.")
                    .map(|p| (p.to_string(), v.clone()))
            })
            .collect();
        properties.sort();
        let servers = properties
            .iter()
            .find(|(k, _)| k == "bootstrap.servers")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                opt_err(format!(
                    "table '{name}' (connector '{connector}') needs the option 'properties.bootstrap.servers'"
                ))
            })?;
        let group_id = properties
            .iter()
            .find(|(k, _)| k == "group.id")
            .map(|(_, v)| v.clone());
        let request_timeout = properties
            .iter()
            .find(|(k, _)| k == "socket.timeout.ms")
            .map(|(_, v)| {
                v.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                    opt_err(format!(
                        "invalid value '{v}' for 'properties.socket.timeout.ms' of table '{name}': expected milliseconds"
                    ))
                })
            })
            .transpose()?
            .unwrap_or(Duration::from_secs(30));

        // Startup and bounded modes.
        let ts = |key: &str| -> Result<i64> {
            let v = get(key).ok_or_else(|| {
                opt_err(format!(
                    "table '{name}': option '{key}' is required for this mode"
                ))
            })?;
            v.trim().parse::<i64>().map_err(|_| {
                opt_err(format!(
                    "invalid value '{v}' for option '{key}' of table '{name}': expected epoch milliseconds"
                ))
            })
        };
        let specific = |key: &str| -> Result<HashMap<i32, i64>> {
            if topics.len() != 1 {
                return Err(opt_err(format!(
                    "table '{name}': specific offsets need exactly one 'topic'"
                )));
            }
            let v = get(key).ok_or_else(|| {
                opt_err(format!(
                    "table '{name}': option '{key}' is required for this mode"
                ))
            })?;
            parse_specific_offsets(name, key, v)
        };
        let start = match get("scan.startup.mode").unwrap_or("group-offsets") {
            "earliest-offset" => StartMode::Earliest,
            "latest-offset" => StartMode::Latest,
            "group-offsets" => StartMode::GroupOffsets,
            "timestamp" => StartMode::Timestamp(ts("scan.startup.timestamp-millis")?),
            "specific-offsets" => StartMode::Specific(specific("scan.startup.specific-offsets")?),
            other => {
                return Err(opt_err(format!(
                    "invalid 'scan.startup.mode' '{other}' of table '{name}'; valid modes: earliest-offset, latest-offset, group-offsets, timestamp, specific-offsets"
                )));
            }
        };
        // upsert-kafka always reads from the beginning (the table is the compacted topic).
        let start = if upsert { StartMode::Earliest } else { start };
        let stop = match get("scan.bounded.mode").unwrap_or("unbounded") {
            "unbounded" => StopMode::Unbounded,
            "latest-offset" => StopMode::Latest,
            "group-offsets" => StopMode::GroupOffsets,
            "timestamp" => StopMode::Timestamp(ts("scan.bounded.timestamp-millis")?),
            "specific-offsets" => StopMode::Specific(specific("scan.bounded.specific-offsets")?),
            other => {
                return Err(opt_err(format!(
                    "invalid 'scan.bounded.mode' '{other}' of table '{name}'; valid modes: unbounded, latest-offset, group-offsets, timestamp, specific-offsets"
                )));
            }
        };
        let explicit_group_start =
            start == StartMode::GroupOffsets && t.options.contains_key("scan.startup.mode");
        if (explicit_group_start || stop == StopMode::GroupOffsets) && group_id.is_none() {
            return Err(opt_err(format!(
                "table '{name}': mode 'group-offsets' needs 'properties.group.id'"
            )));
        }
        // Flink's default startup mode is group-offsets; without a group it cannot apply, and
        // we start at the earliest offset instead of failing on a table that set nothing.
        let start = if start == StartMode::GroupOffsets && group_id.is_none() {
            StartMode::Earliest
        } else {
            start
        };

        // Formats.
        let (value_name, value_prefix) = match (get("format"), get("value.format")) {
            (Some(_), Some(_)) => {
                return Err(opt_err(format!(
                    "table '{name}': options 'format' and 'value.format' cannot both be set"
                )));
            }
            (Some(f), None) if !upsert => (f.to_string(), ""),
            (None, Some(f)) => (f.to_string(), "value."),
            _ => {
                return Err(opt_err(format!(
                    "table '{name}' (connector '{connector}') needs the option {}",
                    if upsert {
                        "'value.format'"
                    } else {
                        "'format' or 'value.format'"
                    }
                )));
            }
        };
        for f in [Some(value_name.as_str()), get("key.format")]
            .into_iter()
            .flatten()
        {
            if !VALUE_FORMATS.contains(&f) {
                return Err(opt_err(format!(
                    "unsupported format '{f}' for the {connector} connector of table '{name}'; supported: {}",
                    VALUE_FORMATS.join(", ")
                )));
            }
        }
        if let Some(f) = get("key.format")
            && format::changelog::ChangelogFormat::from_name(f).is_some()
        {
            return Err(opt_err(format!(
                "table '{name}': 'key.format' cannot be the changelog format '{f}' (a message key holds the key columns only); use it as 'value.format'"
            )));
        }
        if upsert && format::changelog::ChangelogFormat::from_name(&value_name).is_some() {
            return Err(opt_err(format!(
                "table '{name}': the upsert-kafka connector makes its own changelog from keys and tombstones; its 'value.format' cannot be the changelog format '{value_name}' (use the kafka connector)"
            )));
        }
        let value_includes_key = match get("value.fields-include").unwrap_or("ALL") {
            v if v.eq_ignore_ascii_case("ALL") => true,
            v if v.eq_ignore_ascii_case("EXCEPT_KEY") => false,
            other => {
                return Err(opt_err(format!(
                    "invalid 'value.fields-include' '{other}' of table '{name}'; valid: ALL, EXCEPT_KEY"
                )));
            }
        };
        let key_fields: Vec<String> = if upsert {
            if t.primary_key.is_empty() {
                return Err(opt_err(format!(
                    "table '{name}' (connector 'upsert-kafka') needs a PRIMARY KEY (… NOT ENFORCED): it is the message key"
                )));
            }
            t.primary_key.clone()
        } else {
            get("key.fields")
                .map(|v| {
                    v.split(';')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let key = match get("key.format") {
            Some(f) => {
                if key_fields.is_empty() {
                    return Err(opt_err(format!(
                        "table '{name}': 'key.format' needs 'key.fields' (the physical columns of the message key, separated by ';')"
                    )));
                }
                Some(FormatSpec {
                    name: f.to_string(),
                    options: format_options(&t.options, "key.", f),
                })
            }
            None if upsert => {
                return Err(opt_err(format!(
                    "table '{name}' (connector 'upsert-kafka') needs the option 'key.format'"
                )));
            }
            None if !key_fields.is_empty() => {
                return Err(opt_err(format!(
                    "table '{name}': 'key.fields' needs 'key.format'"
                )));
            }
            None => None,
        };
        for k in &key_fields {
            if t.physical_schema.field_with_name(k).is_err() {
                return Err(opt_err(format!(
                    "table '{name}': key field '{k}' is not a physical column; physical columns: {}",
                    t.physical_schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if !value_includes_key && key.is_none() {
            return Err(opt_err(format!(
                "table '{name}': 'value.fields-include' = 'EXCEPT_KEY' needs 'key.format' and 'key.fields'"
            )));
        }
        let value = FormatSpec {
            options: format_options(&t.options, value_prefix, &value_name),
            name: value_name,
        };

        // Sink.
        let partitioner = match get("sink.partitioner").unwrap_or("default") {
            "default" => Partitioner::Default,
            "fixed" => Partitioner::Fixed,
            "round-robin" => Partitioner::RoundRobin,
            other => {
                return Err(opt_err(format!(
                    "invalid 'sink.partitioner' '{other}' of table '{name}'; valid: default, fixed, round-robin (custom partitioner classes are not supported)"
                )));
            }
        };
        let delivery_opt = get("sink.delivery-guarantee").or(get("sink.semantic"));
        let delivery = match delivery_opt
            .unwrap_or("at-least-once")
            .replace('_', "-")
            .to_ascii_lowercase()
            .as_str()
        {
            "none" => Delivery::None,
            "at-least-once" => Delivery::AtLeastOnce,
            "exactly-once" => Delivery::ExactlyOnce,
            other => {
                return Err(opt_err(format!(
                    "invalid 'sink.delivery-guarantee' '{other}' of table '{name}'; valid: none, at-least-once, exactly-once"
                )));
            }
        };
        let transactional_id_prefix = get("sink.transactional-id-prefix").map(str::to_string);
        if delivery == Delivery::ExactlyOnce && transactional_id_prefix.is_none() {
            return Err(opt_err(format!(
                "table '{name}': 'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix' (unique per job writing to the cluster)"
            )));
        }
        let discovery_interval =
            crate::lookup_cache::parse_duration(t, "scan.topic-partition-discovery.interval")?;

        let opts = KafkaOptions {
            table: name.clone(),
            upsert,
            topics,
            pattern,
            properties,
            servers,
            group_id,
            start,
            stop,
            value,
            key,
            key_fields,
            value_includes_key,
            partitioner,
            delivery,
            transactional_id_prefix,
            discovery_interval,
            request_timeout,
            physical: t.physical_schema.clone(),
        };
        // The formats' own options and column types.
        opts.check_format(&opts.value, &opts.value_schema())?;
        if let Some(k) = &opts.key {
            opts.check_format(k, &opts.key_schema())?;
        }
        Ok(opts)
    }

    /// The columns carried in the message value.
    pub(crate) fn value_schema(&self) -> SchemaRef {
        if self.value_includes_key {
            return self.physical.clone();
        }
        Arc::new(Schema::new(
            self.physical
                .fields()
                .iter()
                .filter(|f| !self.key_fields.contains(f.name()))
                .cloned()
                .collect::<Vec<_>>(),
        ))
    }

    /// The columns carried in the message key.
    pub(crate) fn key_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.key_fields
                .iter()
                .map(|k| {
                    self.physical
                        .field_with_name(k)
                        .expect("key fields were checked")
                        .clone()
                })
                .collect::<Vec<_>>(),
        ))
    }

    fn check_format(&self, f: &FormatSpec, schema: &SchemaRef) -> Result<()> {
        match f.name.as_str() {
            "raw" => format::raw::check(schema, &f.options)?,
            "avro" => format::avro::validate(schema, &f.options)?,
            other => {
                format::decoder(other, schema.clone(), &f.options)?;
                format::encoder(other, schema.clone(), &f.options)?;
            }
        }
        Ok(())
    }

    /// What an error message says about where the table's records are.
    pub(crate) fn describe(&self) -> String {
        let what = match &self.pattern {
            Some(p) => format!("topic-pattern '{}'", p.as_str()),
            None => format!("topic '{}'", self.topics.join(";")),
        };
        format!(
            "kafka table '{}' ({what} on bootstrap servers '{}')",
            self.table, self.servers
        )
    }

    /// The librdkafka configuration: the table's `properties.*` on top of `defaults` (which
    /// the table may override).
    pub(crate) fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    KafkaOptions::parse(t).map(|_| ())
}

/// Java's `String.hashCode`, for Flink's split owner rule.
fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for u in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(u as i32);
    }
    h
}

/// The source subtask that reads `topic`/`partition`: Flink's
/// `KafkaSourceEnumerator.getSplitOwner` (partitions of a topic go round-robin from a start
/// that depends on the topic), so the assignment is the same in every subtask, after a
/// restore at another parallelism, and for partitions discovered later.
pub(crate) fn split_owner(topic: &str, partition: i32, parallelism: usize) -> usize {
    let p = parallelism as i64;
    let start = ((java_string_hash(topic) as i64 * 31) & 0x7FFF_FFFF) % p;
    ((start + partition as i64) % p) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(opts: &[(&str, &str)]) -> ConnectorTable {
        ConnectorTable {
            name: "t".into(),
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            physical_schema: Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, true),
                Field::new("name", DataType::Utf8, true),
            ])),
            metadata: vec![],
            sink_schema: Arc::new(Schema::empty()),
            primary_key: vec![],
            partition_keys: vec![],
            time_zone: "UTC".into(),
        }
    }

    const BASE: &[(&str, &str)] = &[
        ("connector", "kafka"),
        ("topic", "a;b"),
        ("properties.bootstrap.servers", "localhost:9092"),
        ("format", "json"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> ConnectorTable {
        let mut o = BASE.to_vec();
        o.extend_from_slice(extra);
        table(&o)
    }

    #[test]
    fn parses_flink_options() {
        let o = KafkaOptions::parse(&with(&[
            ("scan.startup.mode", "timestamp"),
            ("scan.startup.timestamp-millis", "1000"),
            ("scan.bounded.mode", "latest-offset"),
            ("json.ignore-parse-errors", "true"),
            ("properties.group.id", "g"),
        ]))
        .unwrap();
        assert_eq!(o.topics, vec!["a", "b"]);
        assert_eq!(o.start, StartMode::Timestamp(1000));
        assert_eq!(o.stop, StopMode::Latest);
        assert_eq!(o.group_id.as_deref(), Some("g"));
        assert_eq!(o.value.options["json.ignore-parse-errors"], "true");
    }

    /// Transactional producers wait a whole checkpoint interval and more: their timeout
    /// defaults to the 15 min a broker allows by default, and the table can set another.
    #[test]
    fn transactional_producers_default_to_a_15_minute_timeout() {
        let o = KafkaOptions::parse(&with(&[])).unwrap();
        let cfg = sink::producer_config(&o, Some("p-0-0"));
        assert_eq!(cfg.get("transaction.timeout.ms"), Some("900000"));
        assert_eq!(
            sink::producer_config(&o, None).get("transaction.timeout.ms"),
            None
        );
        let o =
            KafkaOptions::parse(&with(&[("properties.transaction.timeout.ms", "120000")])).unwrap();
        let cfg = sink::producer_config(&o, Some("p-0-0"));
        assert_eq!(cfg.get("transaction.timeout.ms"), Some("120000"));
    }

    #[test]
    fn specific_offsets_in_flink_syntax() {
        let m = parse_specific_offsets("t", "k", "partition:0,offset:42;partition:1,offset:300")
            .unwrap();
        assert_eq!(m[&0], 42);
        assert_eq!(m[&1], 300);
        assert!(parse_specific_offsets("t", "k", "0:42").is_err());
    }

    #[test]
    fn bad_options_are_named() {
        let err = |extra: &[(&'static str, &'static str)]| {
            KafkaOptions::parse(&with(extra)).unwrap_err().to_string()
        };
        assert!(err(&[("scan.startup.mode", "first")]).contains("earliest-offset"));
        assert!(
            err(&[("sink.delivery-guarantee", "exactly-once")]).contains("transactional-id-prefix")
        );
        assert!(err(&[("key.fields", "id")]).contains("'key.fields' needs 'key.format'"));
        assert!(err(&[("key.format", "json"), ("key.fields", "nope")]).contains("'nope'"));
        assert!(err(&[("scan.startup.mode", "timestamp")]).contains("timestamp-millis"));
        assert!(err(&[("topic-pattern", "x.*")]).contains("cannot both be set"));
        assert!(err(&[("bogus", "1")]).contains("unsupported option 'bogus'"));
        let no_servers = table(&[("connector", "kafka"), ("topic", "a"), ("format", "json")]);
        assert!(
            KafkaOptions::parse(&no_servers)
                .unwrap_err()
                .to_string()
                .contains("properties.bootstrap.servers")
        );
    }

    #[test]
    fn upsert_kafka_needs_a_primary_key_and_key_format() {
        let mut t = table(&[
            ("connector", "upsert-kafka"),
            ("topic", "a"),
            ("properties.bootstrap.servers", "localhost:9092"),
            ("key.format", "json"),
            ("value.format", "json"),
        ]);
        let e = KafkaOptions::parse(&t).unwrap_err().to_string();
        assert!(e.contains("PRIMARY KEY"), "{e}");
        t.primary_key = vec!["id".into()];
        let o = KafkaOptions::parse(&t).unwrap();
        assert_eq!(o.key_fields, vec!["id"]);
        assert_eq!(o.key_schema().fields().len(), 1);
    }

    #[test]
    fn split_owner_matches_flink() {
        // Partitions of one topic go round-robin from a topic-dependent start.
        let owners: Vec<usize> = (0..4).map(|p| split_owner("orders", p, 4)).collect();
        let mut sorted = owners.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3]);
        assert_eq!(java_string_hash("orders"), -1008770331);
    }
}
