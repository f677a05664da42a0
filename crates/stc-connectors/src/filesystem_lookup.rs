//! A `filesystem` table as a lookup (dimension) table: `JOIN side FOR SYSTEM_TIME AS OF
//! o.proc_time ON o.k = side.k` against a bounded file, as Flink's `FileSystemLookupFunction`
//! does it: every subtask reads the whole table into memory (a hash index on the join key)
//! on its first lookup, answers lookups from memory, and reads the files again once
//! `lookup.join.cache.ttl` (default 60 min) has passed since the last load, so a side input
//! replaced on disk is picked up.
//!
//! A file is read with the table's format and options exactly as the filesystem source reads
//! it (same decoder, same malformed-record handling). Changelog formats are refused: a file
//! of changes has no single current row per key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use async_trait::async_trait;
use stc_runtime::{
    LookupResult, LookupSource, LookupSourceFactory, Result as RtResult, RuntimeError,
    SourceFactory,
};

use crate::lookup_cache::parse_duration;
use crate::table::{ConnectorError, ConnectorTable, Result};

/// The option of Flink's filesystem lookup: how long a loaded table is used before the
/// files are read again.
pub(crate) const CACHE_TTL_OPTION: &str = "lookup.join.cache.ttl";
/// Flink's default for [`CACHE_TTL_OPTION`].
const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);

/// The whole table in memory, indexed by the join key.
struct Loaded {
    /// Every row of the table (physical columns).
    rows: RecordBatch,
    /// Encoded key → indices into `rows`. Rows with a NULL in a key column are left out
    /// (NULL never equals anything).
    index: HashMap<Box<[u8]>, Vec<u32>>,
    loaded_at: Instant,
}

/// The loaded table of each subtask: one load per subtask, shared by the lookup sources the
/// subtask's join keeps in flight (the async mutex makes concurrent first lookups wait for
/// one load instead of each reading the files).
type SubtaskTables = Arc<Mutex<HashMap<usize, Arc<tokio::sync::Mutex<Option<Arc<Loaded>>>>>>>;

/// The lookup side of a `filesystem` table for one set of key columns.
pub struct FileLookupFactory {
    table: ConnectorTable,
    path: PathBuf,
    key_columns: Vec<String>,
    key_indices: Vec<usize>,
    ttl: Duration,
    tables: SubtaskTables,
}

impl FileLookupFactory {
    pub fn new(t: &ConnectorTable, key_columns: &[String]) -> Result<Self> {
        crate::filesystem::validate(t)?;
        let format = t.options.get("format").cloned().unwrap_or_default();
        if crate::format::changelog::ChangelogFormat::from_name(&format).is_some() {
            return Err(ConnectorError::Options(format!(
                "a filesystem table in the changelog format '{format}' cannot be used for lookup joins; lookups read insert-only formats (csv, json, parquet)"
            )));
        }
        let ttl = match parse_duration(t, CACHE_TTL_OPTION)? {
            Some(d) if d.is_zero() => {
                return Err(ConnectorError::Options(format!(
                    "invalid value '0' for option '{CACHE_TTL_OPTION}' of table '{}': expected a positive duration such as '10 min'",
                    t.name
                )));
            }
            Some(d) => d,
            None => DEFAULT_TTL,
        };
        let key_indices = key_columns
            .iter()
            .map(|c| {
                t.physical_schema.index_of(c).map_err(|_| {
                    ConnectorError::Options(format!(
                        "lookup key '{c}' is not a physical column of table '{}'",
                        t.name
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FileLookupFactory {
            table: t.clone(),
            path: t.options.get("path").map(PathBuf::from).unwrap_or_default(),
            key_columns: key_columns.to_vec(),
            key_indices,
            ttl,
            tables: SubtaskTables::default(),
        })
    }
}

impl LookupSourceFactory for FileLookupFactory {
    fn describe(&self) -> String {
        format!(
            "filesystem '{}' table '{}'",
            self.path.display(),
            self.table.name
        )
    }

    fn schema(&self) -> SchemaRef {
        self.table.physical_schema.clone()
    }

    fn key_columns(&self) -> Vec<String> {
        self.key_columns.clone()
    }

    fn create(&self, subtask: usize, _parallelism: usize) -> RtResult<Box<dyn LookupSource>> {
        let slot = Arc::clone(
            self.tables
                .lock()
                .map_err(|_| RuntimeError::Internal("lookup table lock poisoned".into()))?
                .entry(subtask)
                .or_default(),
        );
        let key_fields = self
            .key_indices
            .iter()
            .map(|&i| SortField::new(self.table.physical_schema.field(i).data_type().clone()))
            .collect();
        Ok(Box::new(FileLookup {
            table: self.table.clone(),
            path: self.path.clone(),
            key_indices: self.key_indices.clone(),
            ttl: self.ttl,
            slot,
            converter: RowConverter::new(key_fields)?,
        }))
    }
}

struct FileLookup {
    table: ConnectorTable,
    path: PathBuf,
    key_indices: Vec<usize>,
    ttl: Duration,
    slot: Arc<tokio::sync::Mutex<Option<Arc<Loaded>>>>,
    converter: RowConverter,
}

impl FileLookup {
    /// The subtask's loaded table, read (again) if there is none or it is older than the TTL.
    async fn current(&self) -> RtResult<Arc<Loaded>> {
        let mut slot = self.slot.lock().await;
        if let Some(l) = slot.as_ref()
            && l.loaded_at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(l));
        }
        let loaded = Arc::new(self.load().await?);
        *slot = Some(Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Reads every file of the table with the filesystem source's reader.
    async fn load(&self) -> RtResult<Loaded> {
        let missing = |e: &dyn std::fmt::Display| {
            RuntimeError::external(
                format!(
                    "lookup table '{}': cannot read path '{}': {e}",
                    self.table.name,
                    self.path.display()
                ),
                false,
            )
        };
        if let Err(e) = std::fs::metadata(&self.path) {
            return Err(missing(&e));
        }
        let source = crate::filesystem::FileSource::new(&self.table).map_err(|e| missing(&e))?;
        let mut reader = source.create_reader(0, 1)?;
        let physical = self.table.physical_schema.clone();
        let columns: Vec<usize> = (0..physical.fields().len()).collect();
        let mut batches = Vec::new();
        while let Some(b) = reader.next_batch().await? {
            // The reader appends metadata columns after the physical ones.
            batches.push(b.project(&columns)?);
        }
        let rows = concat_batches(&physical, &batches)?;
        let keys: Vec<_> = self
            .key_indices
            .iter()
            .map(|&i| Arc::clone(rows.column(i)))
            .collect();
        let encoded = self.converter.convert_columns(&keys)?;
        let mut index: HashMap<Box<[u8]>, Vec<u32>> = HashMap::new();
        for i in 0..rows.num_rows() {
            if keys.iter().any(|k| k.is_null(i)) {
                continue;
            }
            index
                .entry(encoded.row(i).as_ref().into())
                .or_default()
                .push(i as u32);
        }
        Ok(Loaded {
            rows,
            index,
            loaded_at: Instant::now(),
        })
    }
}

#[async_trait]
impl LookupSource for FileLookup {
    async fn lookup(&mut self, keys: &RecordBatch) -> RtResult<LookupResult> {
        let table = self.current().await?;
        let probe = self.converter.convert_columns(keys.columns())?;
        let (mut key_idx, mut row_idx) = (Vec::new(), Vec::new());
        for k in 0..keys.num_rows() {
            if keys.columns().iter().any(|c| c.is_null(k)) {
                continue;
            }
            if let Some(rows) = table.index.get(probe.row(k).as_ref()) {
                for &r in rows {
                    key_idx.push(k as u32);
                    row_idx.push(r);
                }
            }
        }
        let rows = take_record_batch(&table.rows, &UInt32Array::from(row_idx))?;
        Ok(LookupResult {
            key_indices: UInt32Array::from(key_idx),
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    fn factory(path: &Path, ttl: &str) -> FileLookupFactory {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Utf8, true),
        ]));
        let t = ConnectorTable {
            name: "side".into(),
            options: [
                ("connector", "filesystem"),
                ("format", "csv"),
                ("path", path.to_str().unwrap()),
                (CACHE_TTL_OPTION, ttl),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            physical_schema: schema.clone(),
            metadata: vec![],
            sink_schema: schema,
            primary_key: vec![],
            partition_keys: vec![],
            time_zone: "UTC".into(),
        };
        FileLookupFactory::new(&t, &["k".to_string()]).unwrap()
    }

    /// `(key, value)` pairs found for `keys`.
    async fn lookup(source: &mut dyn LookupSource, keys: &[i64]) -> Vec<(i64, String)> {
        let batch = RecordBatch::try_from_iter([(
            "k",
            Arc::new(Int64Array::from(keys.to_vec())) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let r = source.lookup(&batch).await.unwrap();
        let values = r.rows.column(1).as_string::<i32>();
        let found = r.rows.column(0).as_primitive::<Int64Type>();
        r.key_indices
            .values()
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                assert_eq!(
                    found.value(i),
                    keys[k as usize],
                    "row of the key it matched"
                );
                (keys[k as usize], values.value(i).to_string())
            })
            .collect()
    }

    #[tokio::test]
    async fn loads_once_per_subtask_and_again_after_the_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("side.csv");
        std::fs::write(&path, "1,one\n2,two\n2,deux\n").unwrap();
        let f = factory(&path, "1 h");
        let (mut a, mut b) = (f.create(0, 2).unwrap(), f.create(0, 2).unwrap());
        let pairs = |v: &[(i64, &str)]| -> Vec<(i64, String)> {
            v.iter().map(|(k, s)| (*k, s.to_string())).collect()
        };
        assert_eq!(
            lookup(a.as_mut(), &[2, 3, 1]).await,
            pairs(&[(2, "two"), (2, "deux"), (1, "one")])
        );
        std::fs::write(&path, "1,uno\n").unwrap();
        // Subtask 0's other source uses the table loaded above; subtask 1 loads its own.
        assert_eq!(lookup(b.as_mut(), &[1]).await, pairs(&[(1, "one")]));
        let mut c = f.create(1, 2).unwrap();
        assert_eq!(lookup(c.as_mut(), &[1, 2]).await, pairs(&[(1, "uno")]));

        // A TTL shorter than the time since the load: the next lookup reads the file again.
        let f = factory(&path, "1 ms");
        let mut d = f.create(0, 1).unwrap();
        assert_eq!(lookup(d.as_mut(), &[1]).await, pairs(&[(1, "uno")]));
        std::fs::write(&path, "1,eins\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(lookup(d.as_mut(), &[1]).await, pairs(&[(1, "eins")]));
    }

    #[tokio::test]
    async fn a_missing_file_names_the_table_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.csv");
        let f = factory(&path, "1 h");
        let mut s = f.create(0, 1).unwrap();
        let keys = RecordBatch::try_from_iter([(
            "k",
            Arc::new(Int64Array::from(vec![1])) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let e = s.lookup(&keys).await.unwrap_err().to_string();
        assert!(
            e.contains("lookup table 'side'") && e.contains("nope.csv"),
            "{e}"
        );
    }
}
