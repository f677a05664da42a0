//! The `redis` connector: dimension tables for lookup joins and buffered upsert sinks.
//!
//! Flink has no built-in redis connector, so the options follow the style of its others:
//!
//! | option | default | meaning |
//! | --- | --- | --- |
//! | `host` | `127.0.0.1` | server host |
//! | `port` | `6379` | server port |
//! | `database` | `0` | database number (`SELECT`) |
//! | `username`, `password` | none | credentials (`AUTH`) |
//! | `data-type` | `string` | `string`: key → one value holding the row in `format`; `hash`: key → a hash whose fields are the non-key columns (values as text, e.g. `42`, `2024-01-02 10:00:00`) |
//! | `key-prefix` | empty | prepended to every key |
//! | `key-delimiter` | `:` | joins the values of a composite key |
//! | `format` | `json` | for `string`: `json`, `csv` (with their `json.*`/`csv.*` options) or `raw` (the value is the text of the one value column) |
//! | `value.fields-include` | `ALL` | for `string`: `ALL` (the value holds every column) or `EXCEPT_KEY` (only the non-key columns; `raw` needs this) |
//! | `connection.timeout` | `5 s` | timeout of one connection attempt and of one request |
//! | `lookup.cache`, `lookup.partial-cache.*`, `lookup.max-retries` | as jdbc | lookup cache and retries |
//! | `sink.buffer-flush.max-rows`, `sink.buffer-flush.interval`, `sink.max-retries` | as jdbc | sink buffering and retries |
//!
//! The table needs a `PRIMARY KEY … NOT ENFORCED`: its columns form the redis key
//! (`key-prefix` + values joined by `key-delimiter`, each value as text). A lookup join must
//! give every primary-key column (in [`LookupSourceFactory::key_columns`] order).
//!
//! **Lookup**: one round trip per batch of missing keys (`MGET` for `string`, a pipeline of
//! `HGETALL` for `hash`). A missing key or an empty hash is no match.
//!
//! **Sink**: upsert mode always (the key is the primary key): `+I`/`+U` → `SET` (string) or
//! `DEL` + `HSET` (hash; NULL columns are left out of the hash and read back as NULL), `-D` →
//! `DEL`, `-U` skipped. Each flush is one `MULTI`/`EXEC` pipeline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder, UInt32Array};
use arrow::compute::{CastOptions, cast, cast_with_options, concat_batches, take};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use async_trait::async_trait;
use stc_runtime::{
    LookupResult, LookupSource, LookupSourceFactory, Operator, OperatorFactory, Result as RtResult,
    RuntimeError,
};

use crate::format::{RecordDecoder, RecordEncoder};
use crate::lookup_cache::{
    CachedLookup, FetchError, Fetched, LOOKUP_OPTIONS, LookupFetcher, LookupOptions, opt_err,
    parse_duration, parse_u64,
};
use crate::sink_buffer::{BufferedSinkOp, SINK_OPTIONS, SinkOptions, SinkWriter};
use crate::table::{ConnectorTable, Result, check_keys};

const OPTIONS: &[&str] = &[
    "host",
    "port",
    "database",
    "username",
    "password",
    "data-type",
    "key-prefix",
    "key-delimiter",
    "format",
    "value.fields-include",
    "connection.timeout",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    String,
    Hash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueFormat {
    Json,
    Csv,
    Raw,
}

/// Everything parsed from the options, without touching the server.
#[derive(Clone)]
struct RedisConfig {
    table: String,
    host: String,
    port: u16,
    database: i64,
    username: Option<String>,
    password: Option<String>,
    kind: DataKind,
    prefix: String,
    delimiter: String,
    format: ValueFormat,
    /// Columns the value holds (string) or the hash fields (hash).
    value_schema: SchemaRef,
    schema: SchemaRef,
    /// Primary-key column indices in `schema`, in primary-key order.
    key_idx: Vec<usize>,
    options: HashMap<String, String>,
    timeout: Duration,
}

impl RedisConfig {
    fn parse(t: &ConnectorTable) -> Result<Self> {
        let name = &t.name;
        let port = parse_u64(t, "port", 6379)?;
        let port = u16::try_from(port).map_err(|_| {
            opt_err(format!(
                "option 'port' of table '{name}' must be below 65536"
            ))
        })?;
        let database = parse_u64(t, "database", 0)? as i64;
        let kind = match t
            .options
            .get("data-type")
            .map(|s| s.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("string") => DataKind::String,
            Some("hash") => DataKind::Hash,
            Some(o) => {
                return Err(opt_err(format!(
                    "invalid value '{o}' for option 'data-type' of table '{name}': expected 'string' or 'hash'"
                )));
            }
        };
        if t.primary_key.is_empty() {
            return Err(opt_err(format!(
                "redis table '{name}' needs a PRIMARY KEY (… NOT ENFORCED): its columns form the redis key"
            )));
        }
        let schema = t.physical_schema.clone();
        let mut key_idx = Vec::new();
        for k in &t.primary_key {
            key_idx.push(schema.index_of(k).map_err(|_| {
                opt_err(format!(
                    "primary key column '{k}' of table '{name}' is not a physical column"
                ))
            })?);
        }
        let except_key = match t
            .options
            .get("value.fields-include")
            .map(|s| s.to_ascii_uppercase())
            .as_deref()
        {
            None | Some("ALL") => kind == DataKind::Hash,
            Some("EXCEPT_KEY") => true,
            Some(o) => {
                return Err(opt_err(format!(
                    "invalid value '{o}' for option 'value.fields-include' of table '{name}': expected 'ALL' or 'EXCEPT_KEY'"
                )));
            }
        };
        let value_fields: Vec<_> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| !except_key || !key_idx.contains(i))
            .map(|(_, f)| f.clone())
            .collect();
        let value_schema = Arc::new(Schema::new(value_fields));
        let format = match (kind, t.options.get("format").map(String::as_str)) {
            (DataKind::Hash, None) => ValueFormat::Raw,
            (DataKind::Hash, Some(f)) => {
                return Err(opt_err(format!(
                    "option 'format' ('{f}') of redis table '{name}' applies only to 'data-type' = 'string'; hash fields hold each column's text"
                )));
            }
            (DataKind::String, None | Some("json")) => ValueFormat::Json,
            (DataKind::String, Some("csv")) => ValueFormat::Csv,
            (DataKind::String, Some("raw")) => ValueFormat::Raw,
            (_, Some(f)) => {
                return Err(opt_err(format!(
                    "unsupported format '{f}' for redis table '{name}': expected json, csv or raw"
                )));
            }
        };
        if kind == DataKind::String && format == ValueFormat::Raw {
            let ok = except_key
                && value_schema.fields().len() == 1
                && matches!(
                    value_schema.field(0).data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                );
            if !ok {
                return Err(opt_err(format!(
                    "format 'raw' of redis table '{name}' needs 'value.fields-include' = 'EXCEPT_KEY' and exactly one non-key column of type STRING"
                )));
            }
        }
        for f in schema.fields() {
            if arrow::compute::can_cast_types(&DataType::Utf8, f.data_type())
                && arrow::compute::can_cast_types(f.data_type(), &DataType::Utf8)
            {
                continue;
            }
            if kind == DataKind::String && format != ValueFormat::Raw {
                continue; // the format checks its own types below
            }
            return Err(opt_err(format!(
                "column '{}' of redis table '{name}' has type {}, which has no text form for a redis key or hash field",
                f.name(),
                f.data_type()
            )));
        }
        let cfg = RedisConfig {
            table: name.clone(),
            host: t
                .options
                .get("host")
                .cloned()
                .unwrap_or_else(|| "127.0.0.1".into()),
            port,
            database,
            username: t.options.get("username").cloned(),
            password: t.options.get("password").cloned(),
            kind,
            prefix: t.options.get("key-prefix").cloned().unwrap_or_default(),
            delimiter: t
                .options
                .get("key-delimiter")
                .cloned()
                .unwrap_or_else(|| ":".into()),
            format,
            value_schema,
            schema,
            key_idx,
            options: t.options.clone(),
            timeout: parse_duration(t, "connection.timeout")?.unwrap_or(Duration::from_secs(5)),
        };
        // Build a codec once so that bad json.*/csv.* options fail at planning time.
        cfg.decoder()?;
        cfg.encoder()?;
        Ok(cfg)
    }

    fn decoder(&self) -> Result<Option<Box<dyn RecordDecoder>>> {
        Ok(match self.format {
            ValueFormat::Json => Some(crate::format::decoder(
                "json",
                self.value_schema.clone(),
                &self.options,
            )?),
            ValueFormat::Csv => Some(crate::format::decoder(
                "csv",
                self.value_schema.clone(),
                &self.options,
            )?),
            ValueFormat::Raw => None,
        })
    }

    fn encoder(&self) -> Result<Option<Box<dyn RecordEncoder>>> {
        Ok(match self.format {
            ValueFormat::Json => Some(crate::format::encoder(
                "json",
                self.value_schema.clone(),
                &self.options,
            )?),
            ValueFormat::Csv => Some(crate::format::encoder(
                "csv",
                self.value_schema.clone(),
                &self.options,
            )?),
            ValueFormat::Raw => None,
        })
    }

    /// `redis 127.0.0.1:6379/0 table 'dim'`
    fn describe(&self) -> String {
        format!(
            "redis {}:{}/{} table '{}'",
            self.host, self.port, self.database, self.table
        )
    }

    async fn connect(&self) -> std::result::Result<ConnectionManager, FetchError> {
        let mut settings = RedisConnectionInfo::default().set_db(self.database);
        if let Some(u) = &self.username {
            settings = settings.set_username(u);
        }
        if let Some(p) = &self.password {
            settings = settings.set_password(p);
        }
        let info = ConnectionAddr::Tcp(self.host.clone(), self.port)
            .into_connection_info()
            .map_err(classify)?
            .set_redis_settings(settings);
        let client = ::redis::Client::open(info).map_err(classify)?;
        // One connection attempt here; retries are ours (`lookup.max-retries`, `sink.max-retries`).
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        ConnectionManager::new_with_config(client, config)
            .await
            .map_err(classify)
    }

    /// The redis key of each row of `keys` (columns: the primary key, in order); `None` for
    /// a row with a NULL key column.
    fn keys_of(&self, keys: &[ArrayRef]) -> std::result::Result<Vec<Option<String>>, FetchError> {
        let texts = keys
            .iter()
            .map(text_column)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let n = keys.first().map_or(0, |c| c.len());
        Ok((0..n)
            .map(|r| {
                let mut k = self.prefix.clone();
                for (j, t) in texts.iter().enumerate() {
                    if t.is_null(r) {
                        return None;
                    }
                    if j > 0 {
                        k.push_str(&self.delimiter);
                    }
                    k.push_str(t.value(r));
                }
                Some(k)
            })
            .collect())
    }
}

/// A column as text (Arrow's cast, which parses back to the same value).
fn text_column(a: &ArrayRef) -> std::result::Result<arrow::array::StringArray, FetchError> {
    let c = cast(a, &DataType::Utf8)
        .map_err(|e| FetchError::Schema(format!("cannot render a value as text: {e}")))?;
    Ok(c.as_string::<i32>().clone())
}

fn classify(e: ::redis::RedisError) -> FetchError {
    if e.is_io_error() || e.is_connection_refusal() || e.is_timeout() || e.is_connection_dropped() {
        FetchError::Transient(e.to_string())
    } else {
        FetchError::Fatal(e.to_string())
    }
}

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    let all: Vec<&str> = OPTIONS
        .iter()
        .chain(LOOKUP_OPTIONS)
        .chain(SINK_OPTIONS)
        .copied()
        .collect();
    check_keys(t, "redis", &all, &["json.", "csv."])?;
    RedisConfig::parse(t)?;
    LookupOptions::parse(t)?;
    SinkOptions::parse(t)?;
    Ok(())
}

// =============================================================================================
// Lookup
// =============================================================================================

/// The lookup side of a redis table.
pub struct RedisLookupFactory {
    cfg: Arc<RedisConfig>,
    opts: LookupOptions,
}

impl RedisLookupFactory {
    pub fn new(t: &ConnectorTable, key_columns: &[String]) -> Result<Self> {
        validate(t)?;
        let mut given: Vec<&String> = key_columns.iter().collect();
        given.sort();
        let mut pk: Vec<&String> = t.primary_key.iter().collect();
        pk.sort();
        if given != pk {
            return Err(opt_err(format!(
                "a lookup join on redis table '{}' must match every primary key column ({}) by equality, and nothing else; it matches ({})",
                t.name,
                t.primary_key.join(", "),
                key_columns.join(", ")
            )));
        }
        Ok(RedisLookupFactory {
            cfg: Arc::new(RedisConfig::parse(t)?),
            opts: LookupOptions::parse(t)?,
        })
    }
}

impl LookupSourceFactory for RedisLookupFactory {
    fn describe(&self) -> String {
        self.cfg.describe()
    }
    fn schema(&self) -> SchemaRef {
        self.cfg.schema.clone()
    }
    /// The primary key, in its declared order (the order of the redis key's parts).
    fn key_columns(&self) -> Vec<String> {
        self.cfg
            .key_idx
            .iter()
            .map(|&i| self.cfg.schema.field(i).name().clone())
            .collect()
    }
    fn create(&self, subtask: usize, _parallelism: usize) -> RtResult<Box<dyn LookupSource>> {
        let key_types = self
            .cfg
            .key_idx
            .iter()
            .map(|&i| self.cfg.schema.field(i).data_type().clone())
            .collect();
        let fetcher = RedisFetcher {
            cfg: self.cfg.clone(),
            con: None,
            decoder: self
                .cfg
                .decoder()
                .map_err(|e| RuntimeError::Internal(e.to_string()))?,
        };
        let inner = CachedLookup::new(
            fetcher,
            self.cfg.schema.clone(),
            key_types,
            self.key_columns(),
            &self.opts,
            subtask,
            self.cfg.describe(),
        )
        .map_err(|e| RuntimeError::Internal(e.to_string()))?;
        Ok(Box::new(RedisLookupSource { inner }))
    }
}

struct RedisLookupSource {
    inner: CachedLookup<RedisFetcher>,
}

#[async_trait]
impl LookupSource for RedisLookupSource {
    async fn lookup(&mut self, keys: &RecordBatch) -> RtResult<LookupResult> {
        self.inner.lookup(keys).await
    }
}

struct RedisFetcher {
    cfg: Arc<RedisConfig>,
    con: Option<ConnectionManager>,
    decoder: Option<Box<dyn RecordDecoder>>,
}

impl RedisFetcher {
    async fn con(&mut self) -> std::result::Result<&mut ConnectionManager, FetchError> {
        if self.con.is_none() {
            self.con = Some(self.cfg.connect().await?);
        }
        Ok(self.con.as_mut().expect("connected"))
    }

    /// Rows of the value columns for `values` (one per hit), decoded per `format`.
    fn decode_strings(
        &mut self,
        values: &[(usize, Vec<u8>, &str)],
    ) -> std::result::Result<(Vec<u32>, Vec<ArrayRef>), FetchError> {
        let Some(decoder) = self.decoder.as_mut() else {
            // raw: the value is the text of the one value column.
            let mut b = StringBuilder::new();
            for (_, v, key) in values {
                let s = std::str::from_utf8(v).map_err(|_| {
                    FetchError::Schema(format!("the value of redis key '{key}' is not UTF-8 text"))
                })?;
                b.append_value(s);
            }
            let col = cast(
                &(Arc::new(b.finish()) as ArrayRef),
                self.cfg.value_schema.field(0).data_type(),
            )
            .map_err(|e| FetchError::Schema(e.to_string()))?;
            return Ok((values.iter().map(|v| v.0 as u32).collect(), vec![col]));
        };
        let mut batches = Vec::new();
        let mut found = Vec::new();
        for (slot, v, key) in values {
            let source = format!("redis key '{key}'");
            // A value is one record: a newline inside would split it.
            let line: Vec<u8> = v.iter().copied().filter(|&b| b != b'\n').collect();
            match decoder
                .decode(&line, 1, &source)
                .map_err(|e| FetchError::Schema(e.to_string()))?
            {
                Some(b) if b.num_rows() == 1 => {
                    batches.push(b);
                    found.push(*slot as u32);
                }
                // Skipped by `*.ignore-parse-errors` (counted by the decoder): no match.
                _ => {}
            }
        }
        if batches.is_empty() {
            return Ok((found, empty_columns(&self.cfg.value_schema)));
        }
        let all = concat_batches(&batches[0].schema(), &batches)
            .map_err(|e| FetchError::Fatal(e.to_string()))?;
        Ok((found, all.columns().to_vec()))
    }

    /// Rows of the non-key columns from hashes (field → text).
    fn decode_hashes(
        &self,
        values: &[(usize, HashMap<String, String>, &str)],
    ) -> std::result::Result<(Vec<u32>, Vec<ArrayRef>), FetchError> {
        let mut cols = Vec::new();
        for f in self.cfg.value_schema.fields() {
            let mut b = StringBuilder::new();
            for (_, h, _) in values {
                b.append_option(h.get(f.name()));
            }
            let text: ArrayRef = Arc::new(b.finish());
            let opts = CastOptions {
                safe: false,
                ..Default::default()
            };
            let col = cast_with_options(&text, f.data_type(), &opts).map_err(|e| {
                let key = values.first().map_or("", |v| v.2);
                FetchError::Schema(format!(
                    "hash field '{}' (near redis key '{key}') does not parse as {}: {e}",
                    f.name(),
                    f.data_type()
                ))
            })?;
            cols.push(col);
        }
        Ok((values.iter().map(|v| v.0 as u32).collect(), cols))
    }
}

fn empty_columns(schema: &SchemaRef) -> Vec<ArrayRef> {
    RecordBatch::new_empty(schema.clone()).columns().to_vec()
}

#[async_trait]
impl LookupFetcher for RedisFetcher {
    async fn fetch(&mut self, keys: &RecordBatch) -> std::result::Result<Fetched, FetchError> {
        let names = self.cfg.keys_of(keys.columns())?;
        let names: Vec<String> = names.into_iter().map(|k| k.unwrap_or_default()).collect();
        let kind = self.cfg.kind;
        let con = self.con().await?;
        let (found, value_cols) = match kind {
            DataKind::String => {
                let got: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
                    .arg(&names)
                    .query_async(con)
                    .await
                    .map_err(classify)?;
                let hits: Vec<(usize, Vec<u8>, &str)> = got
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|v| (i, v, names[i].as_str())))
                    .collect();
                self.decode_strings(&hits)?
            }
            DataKind::Hash => {
                let mut pipe = ::redis::pipe();
                for k in &names {
                    pipe.cmd("HGETALL").arg(k);
                }
                let got: Vec<HashMap<String, String>> =
                    pipe.query_async(con).await.map_err(classify)?;
                let hits: Vec<(usize, HashMap<String, String>, &str)> = got
                    .into_iter()
                    .enumerate()
                    .filter(|(_, h)| !h.is_empty())
                    .map(|(i, h)| (i, h, names[i].as_str()))
                    .collect();
                self.decode_hashes(&hits)?
            }
        };
        // Assemble rows in table order: value columns from the store, key columns (when the
        // value does not hold them) from the probe keys.
        let idx = UInt32Array::from(found.clone());
        let mut cols = Vec::new();
        let mut next_value = 0;
        for (i, f) in self.cfg.schema.fields().iter().enumerate() {
            if self.cfg.value_schema.field_with_name(f.name()).is_ok() {
                cols.push(value_cols[next_value].clone());
                next_value += 1;
            } else {
                let j = self
                    .cfg
                    .key_idx
                    .iter()
                    .position(|&k| k == i)
                    .expect("a key column");
                cols.push(
                    take(keys.column(j), &idx, None)
                        .map_err(|e| FetchError::Fatal(e.to_string()))?,
                );
            }
        }
        let rows = RecordBatch::try_new(self.cfg.schema.clone(), cols)
            .map_err(|e| FetchError::Fatal(e.to_string()))?;
        Ok(Fetched {
            key_indices: found,
            rows,
        })
    }
}

// =============================================================================================
// Sink
// =============================================================================================

/// The sink side of a redis table (always upsert mode on the primary key).
pub struct RedisSink {
    cfg: Arc<RedisConfig>,
    opts: SinkOptions,
    primary_key: Vec<String>,
}

impl RedisSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        if t.sink_schema.fields() != t.physical_schema.fields() {
            return Err(opt_err(format!(
                "redis table '{}' has metadata columns, which the redis sink cannot write",
                t.name
            )));
        }
        Ok(RedisSink {
            cfg: Arc::new(RedisConfig::parse(t)?),
            opts: SinkOptions::parse(t)?,
            primary_key: t.primary_key.clone(),
        })
    }
}

impl OperatorFactory for RedisSink {
    fn name(&self) -> String {
        format!("Sink: redis {}", self.cfg.table)
    }
    fn create(&self, _subtask: usize, _parallelism: usize) -> RtResult<Box<dyn Operator>> {
        let writer = RedisWriter {
            cfg: self.cfg.clone(),
            con: None,
            encoder: self
                .cfg
                .encoder()
                .map_err(|e| RuntimeError::Internal(e.to_string()))?,
        };
        Ok(Box::new(BufferedSinkOp::new(
            self.name(),
            self.cfg.describe(),
            writer,
            self.cfg.schema.clone(),
            &self.primary_key,
            &self.opts,
        )?))
    }
    fn is_sink(&self) -> bool {
        true
    }
}

struct RedisWriter {
    cfg: Arc<RedisConfig>,
    con: Option<ConnectionManager>,
    encoder: Option<Box<dyn RecordEncoder>>,
}

impl RedisWriter {
    fn key_columns(&self, b: &RecordBatch) -> Vec<ArrayRef> {
        self.cfg
            .key_idx
            .iter()
            .map(|&i| b.column(i).clone())
            .collect()
    }

    fn value_batch(&self, b: &RecordBatch) -> std::result::Result<RecordBatch, FetchError> {
        let idx: Vec<usize> = self
            .cfg
            .value_schema
            .fields()
            .iter()
            .map(|f| self.cfg.schema.index_of(f.name()).expect("value column"))
            .collect();
        b.project(&idx)
            .map_err(|e| FetchError::Fatal(e.to_string()))
    }
}

#[async_trait]
impl SinkWriter for RedisWriter {
    async fn write(
        &mut self,
        upserts: &RecordBatch,
        deletes: &RecordBatch,
    ) -> std::result::Result<(), FetchError> {
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        let up_keys = self.cfg.keys_of(&self.key_columns(upserts))?;
        if up_keys.iter().any(Option::is_none) {
            // Flink's primary-key columns are NOT NULL; a row without a key has no place.
            return Err(FetchError::Schema(format!(
                "a row to write has a NULL primary key column ({}), which cannot form a redis key",
                self.cfg
                    .key_idx
                    .iter()
                    .map(|&i| self.cfg.schema.field(i).name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let values = self.value_batch(upserts)?;
        match self.cfg.kind {
            DataKind::String => {
                let texts: Vec<Option<Vec<u8>>> = match self.encoder.as_mut() {
                    Some(enc) => {
                        let mut out = Vec::new();
                        for r in 0..values.num_rows() {
                            let mut line = Vec::new();
                            enc.encode(&values.slice(r, 1), None, &mut line)
                                .map_err(|e| FetchError::Schema(e.to_string()))?;
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            out.push(Some(line));
                        }
                        out
                    }
                    None => {
                        let t = text_column(values.column(0))?;
                        (0..t.len())
                            .map(|r| (!t.is_null(r)).then(|| t.value(r).as_bytes().to_vec()))
                            .collect()
                    }
                };
                for (k, v) in up_keys.iter().zip(texts) {
                    let Some(k) = k else { continue };
                    match v {
                        Some(v) => pipe.cmd("SET").arg(k).arg(v).ignore(),
                        // A NULL raw value: the key holds nothing.
                        None => pipe.cmd("DEL").arg(k).ignore(),
                    };
                }
            }
            DataKind::Hash => {
                let texts = values
                    .columns()
                    .iter()
                    .map(text_column)
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                for (r, k) in up_keys.iter().enumerate() {
                    let Some(k) = k else { continue };
                    pipe.cmd("DEL").arg(k).ignore();
                    let mut fields = Vec::new();
                    for (f, t) in values.schema().fields().iter().zip(&texts) {
                        if !t.is_null(r) {
                            fields.push((f.name().clone(), t.value(r).to_string()));
                        }
                    }
                    if !fields.is_empty() {
                        pipe.cmd("HSET").arg(k).arg(fields).ignore();
                    }
                }
            }
        }
        for k in self
            .cfg
            .keys_of(&self.key_columns(deletes))?
            .into_iter()
            .flatten()
        {
            pipe.cmd("DEL").arg(k).ignore();
        }
        if self.con.is_none() {
            self.con = Some(self.cfg.connect().await?);
        }
        let con = self.con.as_mut().expect("connected");
        pipe.query_async::<()>(con).await.map_err(classify)
    }
}
