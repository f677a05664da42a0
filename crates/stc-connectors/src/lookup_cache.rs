//! What every lookup (dimension-table) connector shares: Flink's lookup options
//! (`lookup.cache`, `lookup.partial-cache.*`, `lookup.max-retries`), the per-subtask
//! PARTIAL cache (shared by the lookups a subtask has in flight), and the driver that turns one batch of probe keys into cache hits plus one
//! batched query to the store for the misses.
//!
//! A connector implements [`LookupFetcher::fetch`]: given distinct, non-NULL keys, return
//! the matching rows and, for each, the index of the key it matched — one round trip. The
//! [`CachedLookup`] around it does the rest:
//!
//! ```text
//!  keys ─► drop NULL keys ─► cache hits ──────────────────────────┐
//!                  │                                               ├─► interleave ─► LookupResult
//!                  └─► distinct misses ─► fetch (retried) ─► cache ┘
//! ```
//!
//! NULL in any key column never matches (SQL equality), so such keys are not sent.
//!
//! Why moka: Flink's PARTIAL cache is a Guava cache bounded in entries with expire-after-write
//! and expire-after-access; moka is the maintained Rust port of that design (Caffeine) with the
//! same three knobs, so nothing is hand-written here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{Array, RecordBatch, UInt32Array};
use arrow::compute::{interleave_record_batch, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use async_trait::async_trait;
use stc_runtime::{LookupResult, Result as RtResult, RuntimeError};

use crate::table::{ConnectorError, ConnectorTable, Result};

/// Option keys every lookup connector accepts.
pub(crate) const LOOKUP_OPTIONS: &[&str] = &[
    "lookup.cache",
    "lookup.partial-cache.max-rows",
    "lookup.partial-cache.expire-after-write",
    "lookup.partial-cache.expire-after-access",
    "lookup.partial-cache.cache-missing-key",
    "lookup.max-retries",
];

/// The parsed lookup options of a table.
#[derive(Debug, Clone)]
pub(crate) struct LookupOptions {
    /// `None` for `lookup.cache = NONE` (the default, as in Flink).
    pub cache: Option<CacheOptions>,
    /// Retries after the first failed attempt (`lookup.max-retries`, default 3 as in Flink).
    pub max_retries: u32,
    /// The caches of the subtasks, created on first use.
    caches: SubtaskCaches,
}

/// One PARTIAL cache per subtask, shared by every lookup source the subtask's join opens.
///
/// The lookup join keeps several lookups in flight, each on a source of its own (its own
/// connection); with a cache per source a hot key was fetched and stored once per source and
/// the hit rate fell with the number in flight. Flink's cache is per task (subtask) too, so
/// `lookup.partial-cache.max-rows` keeps its meaning: entries per subtask.
#[derive(Clone, Default)]
struct SubtaskCaches(Arc<Mutex<HashMap<usize, KeyCache>>>);

impl std::fmt::Debug for SubtaskCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubtaskCaches")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CacheOptions {
    /// Entries (distinct keys), like Flink's Guava `maximumSize`.
    pub max_rows: u64,
    pub expire_after_write: Option<Duration>,
    pub expire_after_access: Option<Duration>,
    /// Whether a key without rows is cached too (Flink's default: true).
    pub cache_missing_key: bool,
}

pub(crate) fn opt_err(msg: String) -> ConnectorError {
    ConnectorError::Options(msg)
}

pub(crate) fn parse_bool(t: &ConnectorTable, key: &str, default: bool) -> Result<bool> {
    match t.options.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(opt_err(format!(
            "invalid value '{v}' for option '{key}' of table '{}': expected 'true' or 'false'",
            t.name
        ))),
    }
}

pub(crate) fn parse_u64(t: &ConnectorTable, key: &str, default: u64) -> Result<u64> {
    match t.options.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            opt_err(format!(
                "invalid value '{v}' for option '{key}' of table '{}': expected a non-negative integer",
                t.name
            ))
        }),
    }
}

pub(crate) fn parse_duration(t: &ConnectorTable, key: &str) -> Result<Option<Duration>> {
    match t.options.get(key) {
        None => Ok(None),
        Some(v) => stc_common::config::parse_duration_ms(v)
            .map(|ms| Some(Duration::from_millis(ms)))
            .ok_or_else(|| {
                opt_err(format!(
                    "invalid value '{v}' for option '{key}' of table '{}': expected a duration such as '10 s', '5 min' or '500 ms'",
                    t.name
                ))
            }),
    }
}

impl LookupOptions {
    pub(crate) fn parse(t: &ConnectorTable) -> Result<Self> {
        let mode = t
            .options
            .get("lookup.cache")
            .map(|v| v.to_ascii_uppercase())
            .unwrap_or_else(|| "NONE".into());
        let cache = match mode.as_str() {
            "NONE" => {
                if let Some(k) = t
                    .options
                    .keys()
                    .find(|k| k.starts_with("lookup.partial-cache."))
                {
                    return Err(opt_err(format!(
                        "option '{k}' of table '{}' needs 'lookup.cache' = 'PARTIAL'",
                        t.name
                    )));
                }
                None
            }
            "PARTIAL" => {
                let max_rows = parse_u64(t, "lookup.partial-cache.max-rows", 0)?;
                if !t.options.contains_key("lookup.partial-cache.max-rows") || max_rows == 0 {
                    // Flink requires the bound too: an unbounded cache of a dimension table
                    // is a memory leak that shows up weeks later.
                    return Err(opt_err(format!(
                        "'lookup.cache' = 'PARTIAL' of table '{}' needs a positive 'lookup.partial-cache.max-rows'",
                        t.name
                    )));
                }
                Some(CacheOptions {
                    max_rows,
                    expire_after_write: parse_duration(
                        t,
                        "lookup.partial-cache.expire-after-write",
                    )?,
                    expire_after_access: parse_duration(
                        t,
                        "lookup.partial-cache.expire-after-access",
                    )?,
                    cache_missing_key: parse_bool(
                        t,
                        "lookup.partial-cache.cache-missing-key",
                        true,
                    )?,
                })
            }
            "FULL" => {
                return Err(opt_err(format!(
                    "'lookup.cache' = 'FULL' of table '{}' is not supported yet; use 'NONE' or 'PARTIAL'",
                    t.name
                )));
            }
            other => {
                return Err(opt_err(format!(
                    "invalid value '{other}' for option 'lookup.cache' of table '{}': expected 'NONE' or 'PARTIAL'",
                    t.name
                )));
            }
        };
        let max_retries = parse_u64(t, "lookup.max-retries", 3)?;
        Ok(LookupOptions {
            cache,
            max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
            caches: SubtaskCaches::default(),
        })
    }

    /// The cache of `subtask` (`moka` caches are handles: clones share the entries), and
    /// whether it keeps missing keys; `None` without `lookup.cache = PARTIAL`.
    fn cache_for(&self, subtask: usize) -> Option<(KeyCache, bool)> {
        let c = self.cache.as_ref()?;
        let mut caches = self
            .caches
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let cache = caches.entry(subtask).or_insert_with(|| {
            let mut b = moka::sync::Cache::builder().max_capacity(c.max_rows);
            if let Some(d) = c.expire_after_write {
                b = b.time_to_live(d);
            }
            if let Some(d) = c.expire_after_access {
                b = b.time_to_idle(d);
            }
            b.build()
        });
        Some((cache.clone(), c.cache_missing_key))
    }
}

/// One round trip to a store for a set of keys.
#[async_trait]
pub(crate) trait LookupFetcher: Send {
    /// `keys` holds distinct keys without NULLs (columns: the key columns). Returns the
    /// matching rows (table schema) and, per row, the index of its key in `keys`.
    async fn fetch(&mut self, keys: &RecordBatch) -> std::result::Result<Fetched, FetchError>;
}

pub(crate) struct Fetched {
    pub key_indices: Vec<u32>,
    pub rows: RecordBatch,
}

/// Why a fetch failed: retrying helps for a lost connection, not for a missing table.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The store could not be reached or the query failed (retried).
    Transient(String),
    /// The store rejected the request (a constraint, a syntax the store does not take): a
    /// retry would fail the same way.
    Fatal(String),
    /// The table, its columns or a value do not fit the declaration (not retried; a user
    /// error).
    Schema(String),
}

/// Encoded key (arrow row format) → the key's rows (empty: known to have none).
type KeyCache = moka::sync::Cache<Box<[u8]>, RecordBatch>;

/// Wraps a fetcher with the cache, NULL-key handling, retries and result assembly.
pub(crate) struct CachedLookup<F> {
    fetcher: F,
    schema: SchemaRef,
    converter: RowConverter,
    /// The cache and whether it keeps missing keys.
    cache: Option<(KeyCache, bool)>,
    max_retries: u32,
    /// For errors: `jdbc 'postgresql://127.0.0.1:5432/test' table 'dim'`.
    describe: String,
    key_names: Vec<String>,
}

/// Back-off between attempts: grows linearly like Flink's lookup functions (`1 s × attempt`),
/// but starts at 100 ms so that a brief blip costs little.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt).min(10))
}

impl<F: LookupFetcher> CachedLookup<F> {
    /// A lookup for subtask `subtask`: it shares the subtask's cache with the subtask's other
    /// lookups (see [`SubtaskCaches`]).
    pub(crate) fn new(
        fetcher: F,
        schema: SchemaRef,
        key_types: Vec<arrow::datatypes::DataType>,
        key_names: Vec<String>,
        opts: &LookupOptions,
        subtask: usize,
        describe: String,
    ) -> Result<Self> {
        let converter = RowConverter::new(key_types.into_iter().map(SortField::new).collect())
            .map_err(|e| opt_err(format!("{describe}: key columns cannot be looked up: {e}")))?;
        Ok(CachedLookup {
            fetcher,
            schema,
            converter,
            cache: opts.cache_for(subtask),
            max_retries: opts.max_retries,
            describe,
            key_names,
        })
    }

    /// Text of key `row` for error messages: `k1=7, k2='x'`.
    fn key_text(&self, keys: &RecordBatch, row: usize) -> String {
        let parts: Vec<String> = keys
            .columns()
            .iter()
            .zip(&self.key_names)
            .map(|(c, n)| format!("{n}={}", crate::text::format_value_sql(c, row, "UTC")))
            .collect();
        parts.join(", ")
    }

    async fn fetch_retried(&mut self, keys: &RecordBatch) -> RtResult<Fetched> {
        let mut attempt = 0;
        loop {
            match self.fetcher.fetch(keys).await {
                Ok(f) => return Ok(f),
                Err(FetchError::Transient(msg)) if attempt < self.max_retries => {
                    attempt += 1;
                    tracing::warn!(
                        "{}: lookup failed (attempt {attempt} of {}), retrying: {msg}",
                        self.describe,
                        self.max_retries + 1
                    );
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => {
                    let key = self.key_text(keys, 0);
                    return Err(match e {
                        FetchError::Transient(msg) => RuntimeError::external(
                            format!(
                                "lookup in {} failed after {} attempt(s) for key ({key}): {msg}",
                                self.describe,
                                attempt + 1
                            ),
                            true,
                        ),
                        FetchError::Fatal(msg) => RuntimeError::external(
                            format!("lookup in {} failed for key ({key}): {msg}", self.describe),
                            false,
                        ),
                        FetchError::Schema(msg) => RuntimeError::Data(format!(
                            "lookup in {} for key ({key}): {msg}",
                            self.describe
                        )),
                    });
                }
            }
        }
    }

    /// The whole batched lookup (see the module docs).
    pub(crate) async fn lookup(&mut self, keys: &RecordBatch) -> RtResult<LookupResult> {
        let n = keys.num_rows();
        let rows = self
            .converter
            .convert_columns(keys.columns())
            .map_err(RuntimeError::from)?;
        // (source batch, row) for every output row, and its probe key index.
        let mut sources: Vec<RecordBatch> = Vec::new();
        let mut picks: Vec<(usize, usize)> = Vec::new();
        let mut out_keys: Vec<u32> = Vec::new();
        // Distinct missing keys → the probe rows that carry them.
        let mut miss_slot: HashMap<&[u8], usize> = HashMap::new();
        let mut miss_rows: Vec<Vec<u32>> = Vec::new();
        let mut miss_first: Vec<u32> = Vec::new();
        for i in 0..n {
            if keys.columns().iter().any(|c| c.is_null(i)) {
                continue;
            }
            let bytes = rows.row(i).data();
            if let Some((cache, _)) = &self.cache
                && let Some(hit) = cache.get(bytes)
            {
                if hit.num_rows() > 0 {
                    let b = sources.len();
                    for r in 0..hit.num_rows() {
                        picks.push((b, r));
                        out_keys.push(i as u32);
                    }
                    sources.push(hit);
                }
                continue;
            }
            match miss_slot.get(bytes) {
                Some(&s) => miss_rows[s].push(i as u32),
                None => {
                    miss_slot.insert(bytes, miss_rows.len());
                    miss_rows.push(vec![i as u32]);
                    miss_first.push(i as u32);
                }
            }
        }
        if !miss_first.is_empty() {
            let miss_keys = take_record_batch(keys, &UInt32Array::from(miss_first.clone()))?;
            let fetched = self.fetch_retried(&miss_keys).await?;
            if fetched.rows.schema().fields() != self.schema.fields() {
                return Err(RuntimeError::Internal(format!(
                    "{}: fetched rows have schema {:?}, expected {:?}",
                    self.describe,
                    fetched.rows.schema(),
                    self.schema
                )));
            }
            let b = sources.len();
            // Rows per miss slot, in the store's order.
            let mut per_slot: Vec<Vec<u32>> = vec![Vec::new(); miss_first.len()];
            for (r, &slot) in fetched.key_indices.iter().enumerate() {
                per_slot
                    .get_mut(slot as usize)
                    .ok_or_else(|| {
                        RuntimeError::Internal(format!(
                            "{}: fetch returned key index {slot} of {}",
                            self.describe,
                            miss_first.len()
                        ))
                    })?
                    .push(r as u32);
            }
            for (slot, matches) in per_slot.iter().enumerate() {
                for &probe in &miss_rows[slot] {
                    for &r in matches {
                        picks.push((b, r as usize));
                        out_keys.push(probe);
                    }
                }
                if let Some((cache, cache_missing)) = &self.cache
                    && (!matches.is_empty() || *cache_missing)
                {
                    let entry =
                        take_record_batch(&fetched.rows, &UInt32Array::from(matches.clone()))?;
                    let key = rows.row(miss_first[slot] as usize).data();
                    cache.insert(key.into(), entry);
                }
            }
            sources.push(fetched.rows);
        }
        let rows = if picks.is_empty() {
            RecordBatch::new_empty(self.schema.clone())
        } else {
            let refs: Vec<&RecordBatch> = sources.iter().collect();
            interleave_record_batch(&refs, &picks)?
        };
        Ok(LookupResult {
            key_indices: UInt32Array::from(out_keys),
            rows,
        })
    }
}
