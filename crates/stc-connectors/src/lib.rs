//! Connectors and formats of StreamCompute, with Flink's option names and Flink's
//! serialisation.
//!
//! * [`table`]: the contract with the SQL front-end ([`ConnectorTable`]) and the one list of
//!   connectors ([`create_source`], [`create_sink`], [`validate`]).
//! * Connectors: [`datagen_source`], [`nexmark`] (the Nexmark benchmark's events),
//!   [`filesystem`] (`PARTITIONED BY` and partition commit in `filesystem_partition`; also a
//!   lookup table: [`filesystem_lookup`]), [`print`] (also `blackhole`), [`jdbc`] and
//!   [`redis`] (lookup tables and buffered upsert sinks; shared parts in `lookup_cache` and
//!   `sink_buffer`), [`kafka`] (`kafka` and `upsert-kafka` through librdkafka).
//! * [`preview`]: the process-wide preview mode of `stc table preview`.
//! * [`format`]: `csv`, `json`, `raw`, `parquet`; [`text`]: Flink's textual rendering of values
//!   (print lines, the SQL client's tableau view, JSON values for `stc run --output json`).

pub mod datagen;
pub mod datagen_source;
pub mod filesystem;
pub mod filesystem_lookup;
pub(crate) mod filesystem_partition;
pub mod format;
pub mod jdbc;
pub mod kafka;
pub(crate) mod lookup_cache;
pub(crate) mod message;
pub mod mqtt;
pub mod nats;
pub mod nexmark;
pub mod preview;
pub mod print;
pub mod rabbitmq;
pub mod redis;
pub(crate) mod sink_buffer;
pub mod table;
pub mod text;

pub use table::{
    CONNECTORS, ConnectorError, ConnectorTable, create_lookup, create_sink, create_source,
    metadata_keys, sink_accepts_updates, validate,
};
