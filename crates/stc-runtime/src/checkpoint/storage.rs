//! Checkpoints on disk: the canonical, versioned format (documented in `docs/checkpoints.md`).
//!
//! ```text
//! <dir>/chk-<id>/              a completed checkpoint (savepoints: savepoint-<id>)
//!     _metadata                JSON: format, version, job shape, files with sizes and checksums,
//!                              source positions and watermarks
//!     n<node>-o<op>-s<subtask>-<keyed|shared><table>.arrow   Arrow IPC files, one per state table
//! <dir>/.chk-<id>.inprogress-<nonce>/   being written; never read
//! ```
//!
//! A checkpoint exists only once its directory has been renamed from the in-progress name,
//! which happens after every file and the metadata are synced, so a crash mid-write leaves
//! an in-progress directory that restore ignores (and the next checkpoint removes). Each file's
//! size and XXH3 checksum are in the metadata: a missing, truncated or corrupted file makes the
//! whole checkpoint unusable, and `--resume` falls back to the previous complete one, saying so.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use serde::{Deserialize, Serialize};

use super::{KEY_GROUP_COLUMN, OperatorState, SplitPosition};
use crate::error::{Result, RuntimeError};
use crate::exchange::subtask_for_key_group;

/// The `format` field of every metadata file.
pub const FORMAT_NAME: &str = "stc-checkpoint";
/// Bumped on any incompatible change of the layout or of a state table's meaning.
pub const FORMAT_VERSION: u32 = 1;
const METADATA: &str = "_metadata";

/// Checkpoint settings of a job (Flink's `execution.checkpointing.*` keys).
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// `execution.checkpointing.interval`; `None` takes savepoints only.
    pub interval: Option<std::time::Duration>,
    /// `execution.checkpointing.dir`.
    pub dir: PathBuf,
    /// `execution.checkpointing.savepoint-dir` (default: the checkpoint directory).
    pub savepoint_dir: Option<PathBuf>,
    /// `execution.checkpointing.timeout` (Flink's default: 10 minutes).
    pub timeout: std::time::Duration,
    /// `execution.checkpointing.max-concurrent-checkpoints` (default 1).
    pub max_concurrent: usize,
    /// `execution.checkpointing.num-retained` (default 1).
    pub retained: usize,
}

impl CheckpointConfig {
    /// Reads Flink's `execution.checkpointing.*` keys. `None` when neither an interval nor a
    /// directory is set (no checkpoints, no savepoints). An interval without a directory is
    /// an error: we have no JobManager memory to keep checkpoints in.
    pub fn from_config(
        conf: &std::collections::BTreeMap<String, String>,
    ) -> std::result::Result<Option<Self>, String> {
        use stc_common::config::*;
        let dur = |key: &str| -> std::result::Result<Option<std::time::Duration>, String> {
            conf.get(key)
                .map(|v| {
                    parse_duration_ms(v)
                        .map(std::time::Duration::from_millis)
                        .ok_or_else(|| {
                            format!("'{key}' = '{v}' is not a duration (e.g. '10 s', '500 ms')")
                        })
                })
                .transpose()
        };
        let num = |key: &str, default: usize| -> std::result::Result<usize, String> {
            conf.get(key).map_or(Ok(default), |v| {
                v.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("'{key}' = '{v}' is not a positive number"))
            })
        };
        let interval = dur(CHECKPOINTING_INTERVAL)?.filter(|d| !d.is_zero());
        let Some(dir) = conf.get(CHECKPOINTING_DIR) else {
            if interval.is_some() {
                return Err(format!(
                    "'{CHECKPOINTING_INTERVAL}' is set but '{CHECKPOINTING_DIR}' is not: say where checkpoints go, e.g. SET '{CHECKPOINTING_DIR}' = 'file:///var/lib/stc/checkpoints';"
                ));
            }
            return Ok(None);
        };
        let path = |v: &str| PathBuf::from(v.strip_prefix("file://").unwrap_or(v));
        Ok(Some(CheckpointConfig {
            interval,
            dir: path(dir),
            savepoint_dir: conf.get(SAVEPOINT_DIR).map(|v| path(v)),
            timeout: dur(CHECKPOINTING_TIMEOUT)?.unwrap_or(std::time::Duration::from_secs(600)),
            max_concurrent: num(CHECKPOINTING_MAX_CONCURRENT, 1)?,
            retained: num(CHECKPOINTING_RETAINED, 1)?,
        }))
    }

    pub fn new(dir: PathBuf) -> Self {
        CheckpointConfig {
            interval: None,
            dir,
            savepoint_dir: None,
            timeout: std::time::Duration::from_secs(600),
            max_concurrent: 1,
            retained: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Keyed,
    Shared,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileMeta {
    pub node: usize,
    pub operator: usize,
    pub subtask: usize,
    pub part: Part,
    /// Index of the state table within the operator's `keyed` or `shared` list.
    pub table: usize,
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
    /// XXH3-64 of the file's bytes, hex.
    pub xxh3: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeMeta {
    pub name: String,
    pub parallelism: usize,
    pub operators: Vec<String>,
    /// The source table, for source nodes.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitMeta {
    pub split: String,
    /// The connector's position; connectors write UTF-8 (JSON), anything else is hex-encoded
    /// with `hex` set.
    pub position: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hex: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceMeta {
    pub node: usize,
    pub subtask: usize,
    /// The last watermark the subtask emitted before the barrier (re-emitted on restore, so
    /// that records late before a failure are late after it too).
    pub watermark: Option<i64>,
    pub splits: Vec<SplitMeta>,
}

/// The `_metadata` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    pub format: String,
    pub version: u32,
    /// The `stc` version that wrote it (key-group hashing depends on it).
    pub engine: String,
    pub id: u64,
    /// `checkpoint` or `savepoint`.
    pub kind: String,
    pub timestamp_ms: i64,
    pub max_parallelism: usize,
    pub nodes: Vec<NodeMeta>,
    pub files: Vec<FileMeta>,
    pub sources: Vec<SourceMeta>,
}

fn ck_err(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::Checkpoint(msg.into())
}

fn io(path: &Path, what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::external(
        format!("checkpoint: cannot {what} '{}': {e}", path.display()),
        false,
    )
}

fn hash_hex(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// Writes one state table as an Arrow IPC file and describes it.
pub fn write_table(
    dir: &Path,
    (node, operator, subtask): (usize, usize, usize),
    part: Part,
    table: usize,
    batch: &RecordBatch,
) -> Result<FileMeta> {
    let tag = match part {
        Part::Keyed => "keyed",
        Part::Shared => "shared",
    };
    let name = format!("n{node}-o{operator}-s{subtask}-{tag}{table}.arrow");
    let path = dir.join(&name);
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    {
        let mut w = FileWriter::try_new(&mut buf, batch.schema_ref())?;
        w.write(batch)?;
        w.finish()?;
    }
    let mut f = fs::File::create(&path).map_err(|e| io(&path, "create", e))?;
    f.write_all(&buf).map_err(|e| io(&path, "write", e))?;
    f.sync_all().map_err(|e| io(&path, "sync", e))?;
    Ok(FileMeta {
        node,
        operator,
        subtask,
        part,
        table,
        path: name,
        bytes: buf.len() as u64,
        rows: batch.num_rows() as u64,
        xxh3: hash_hex(&buf),
    })
}

/// A directory a checkpoint is being written into.
pub struct PendingDir {
    pub tmp: PathBuf,
    pub target: PathBuf,
}

impl PendingDir {
    pub fn create(base: &Path, name: &str) -> Result<Self> {
        fs::create_dir_all(base).map_err(|e| io(base, "create directory", e))?;
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = base.join(format!(".{name}.inprogress-{nonce:x}"));
        fs::create_dir_all(&tmp).map_err(|e| io(&tmp, "create directory", e))?;
        Ok(PendingDir {
            tmp,
            target: base.join(name),
        })
    }

    /// Writes the metadata and publishes the directory under its final name.
    pub fn complete(self, meta: &Metadata) -> Result<PathBuf> {
        let path = self.tmp.join(METADATA);
        let json = serde_json::to_vec_pretty(meta).map_err(|e| ck_err(e.to_string()))?;
        let mut f = fs::File::create(&path).map_err(|e| io(&path, "create", e))?;
        f.write_all(&json).map_err(|e| io(&path, "write", e))?;
        f.sync_all().map_err(|e| io(&path, "sync", e))?;
        if self.target.exists() {
            // A savepoint or checkpoint of the same id from an earlier attempt that crashed
            // between writing and restoring: the new one replaces it.
            fs::remove_dir_all(&self.target).map_err(|e| io(&self.target, "remove", e))?;
        }
        fs::rename(&self.tmp, &self.target).map_err(|e| io(&self.target, "publish", e))?;
        if let Some(parent) = self.target.parent()
            && let Ok(d) = fs::File::open(parent)
        {
            let _ = d.sync_all();
        }
        Ok(self.target)
    }

    pub fn abort(self) {
        let _ = fs::remove_dir_all(&self.tmp);
    }
}

/// Deletes all but the newest `retained` completed checkpoints, and abandoned in-progress
/// directories other than `keep`. Savepoints are never deleted.
pub fn prune(dir: &Path, retained: usize, keep: &[PathBuf]) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut done: Vec<(u64, PathBuf)> = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let path = e.path();
        if let Some(id) = name
            .strip_prefix("chk-")
            .and_then(|s| s.parse::<u64>().ok())
        {
            done.push((id, path));
        } else if name.starts_with(".chk-")
            && name.contains(".inprogress-")
            && !keep.contains(&path)
        {
            let _ = fs::remove_dir_all(&path);
        }
    }
    done.sort();
    let n = done.len().saturating_sub(retained.max(1));
    for (_, p) in done.into_iter().take(n) {
        let _ = fs::remove_dir_all(p);
    }
}

/// A verified checkpoint or savepoint, ready to restore from.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub meta: Metadata,
}

impl Checkpoint {
    /// Opens and verifies the checkpoint or savepoint at `path` (its directory, or its
    /// `_metadata` file): the format, every file's presence, size and checksum.
    pub fn open(path: &Path) -> Result<Checkpoint> {
        let dir = if path.file_name().is_some_and(|n| n == METADATA) {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        let meta_path = dir.join(METADATA);
        let bytes = fs::read(&meta_path).map_err(|e| {
            ck_err(format!(
                "'{}' is not a complete checkpoint: cannot read {METADATA}: {e}",
                dir.display()
            ))
        })?;
        let meta: Metadata = serde_json::from_slice(&bytes)
            .map_err(|e| ck_err(format!("'{}': damaged {METADATA}: {e}", dir.display())))?;
        if meta.format != FORMAT_NAME {
            return Err(ck_err(format!(
                "'{}' is not a StreamCompute checkpoint (format '{}')",
                dir.display(),
                meta.format
            )));
        }
        if meta.version != FORMAT_VERSION {
            return Err(ck_err(format!(
                "'{}' has checkpoint format version {}, this stc reads version {FORMAT_VERSION}",
                dir.display(),
                meta.version
            )));
        }
        for f in &meta.files {
            let p = dir.join(&f.path);
            let data = fs::read(&p).map_err(|e| {
                ck_err(format!(
                    "'{}': state file {} is missing: {e}",
                    dir.display(),
                    f.path
                ))
            })?;
            if data.len() as u64 != f.bytes {
                return Err(ck_err(format!(
                    "'{}': state file {} has {} bytes, the metadata says {}",
                    dir.display(),
                    f.path,
                    data.len(),
                    f.bytes
                )));
            }
            if hash_hex(&data) != f.xxh3 {
                return Err(ck_err(format!(
                    "'{}': state file {} is corrupted (checksum mismatch)",
                    dir.display(),
                    f.path
                )));
            }
        }
        Ok(Checkpoint { path: dir, meta })
    }

    /// The newest usable checkpoint in `dir`, and a message for every newer one that was
    /// skipped because it is damaged.
    pub fn latest_in(dir: &Path) -> Result<(Option<Checkpoint>, Vec<String>)> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, Vec::new())),
            Err(e) => return Err(io(dir, "list", e)),
        };
        let mut found: Vec<(u64, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_prefix("chk-")
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(|id| (id, e.path()))
            })
            .collect();
        found.sort_by_key(|b| std::cmp::Reverse(b.0));
        let mut skipped = Vec::new();
        for (_, p) in found {
            match Checkpoint::open(&p) {
                Ok(c) => return Ok((Some(c), skipped)),
                Err(e) => skipped.push(e.to_string()),
            }
        }
        Ok((None, skipped))
    }

    fn read_file(&self, f: &FileMeta) -> Result<RecordBatch> {
        let p = self.path.join(&f.path);
        let file = fs::File::open(&p).map_err(|e| io(&p, "open", e))?;
        let reader = FileReader::try_new(std::io::BufReader::new(file), None)?;
        let schema = reader.schema();
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(concat_batches(&schema, &batches)?)
    }

    /// The state of operator `op` of node `node` for subtask `subtask` of `parallelism`: its
    /// keyed tables restricted to the key groups the subtask owns, and every subtask's shared
    /// tables.
    pub fn operator_state(
        &self,
        node: usize,
        op: usize,
        subtask: usize,
        parallelism: usize,
    ) -> Result<OperatorState> {
        let old_p = self
            .meta
            .nodes
            .get(node)
            .map(|n| n.parallelism)
            .unwrap_or(0);
        let mut keyed: BTreeMap<usize, Vec<RecordBatch>> = BTreeMap::new();
        let mut shared: BTreeMap<usize, Vec<RecordBatch>> = BTreeMap::new();
        for f in self
            .meta
            .files
            .iter()
            .filter(|f| f.node == node && f.operator == op)
        {
            match f.part {
                Part::Keyed => {
                    // At an unchanged parallelism a subtask's key groups are exactly those
                    // of the same old subtask: read just that file.
                    if old_p == parallelism && f.subtask != subtask {
                        continue;
                    }
                    let b = self.read_file(f)?;
                    let b = if old_p == parallelism {
                        b
                    } else {
                        self.own_key_groups(&b, subtask, parallelism)?
                    };
                    keyed.entry(f.table).or_default().push(b);
                }
                Part::Shared => shared.entry(f.table).or_default().push(self.read_file(f)?),
            }
        }
        let concat = |m: BTreeMap<usize, Vec<RecordBatch>>| -> Result<Vec<RecordBatch>> {
            let mut out = Vec::new();
            for (i, (t, bs)) in m.into_iter().enumerate() {
                if t != i {
                    return Err(ck_err(format!(
                        "state table {t} of node {node} operator {op} has no predecessor {i}"
                    )));
                }
                let schema = bs[0].schema();
                out.push(if bs.len() == 1 {
                    bs.into_iter().next().expect("one")
                } else {
                    concat_batches(&schema, &bs)?
                });
            }
            Ok(out)
        };
        Ok(OperatorState {
            keyed: concat(keyed)?,
            shared: concat(shared)?,
        })
    }

    fn own_key_groups(
        &self,
        b: &RecordBatch,
        subtask: usize,
        parallelism: usize,
    ) -> Result<RecordBatch> {
        let col = b.column_by_name(KEY_GROUP_COLUMN).ok_or_else(|| {
            ck_err(format!(
                "a keyed state table has no {KEY_GROUP_COLUMN} column"
            ))
        })?;
        let kg = col
            .as_any()
            .downcast_ref::<UInt32Array>()
            .ok_or_else(|| ck_err(format!("{KEY_GROUP_COLUMN} is not UInt32")))?;
        let maxp = self.meta.max_parallelism;
        let mask: BooleanArray = kg
            .iter()
            .map(|k| {
                Some(k.is_some_and(|k| {
                    subtask_for_key_group(k as usize, maxp, parallelism) == subtask
                }))
            })
            .collect();
        Ok(filter_record_batch(b, &mask)?)
    }

    /// Every split position of source node `node`, from all its old subtasks.
    pub fn source_positions(&self, node: usize) -> Result<Vec<SplitPosition>> {
        let mut out = Vec::new();
        for s in self.meta.sources.iter().filter(|s| s.node == node) {
            for sp in &s.splits {
                let position = if sp.hex {
                    decode_hex(&sp.position)
                        .ok_or_else(|| ck_err(format!("bad hex position of split {}", sp.split)))?
                } else {
                    sp.position.clone().into_bytes()
                };
                out.push(SplitPosition {
                    split: sp.split.clone(),
                    position,
                });
            }
        }
        Ok(out)
    }

    /// The watermark source subtask `subtask` re-emits on restore: its own at an unchanged
    /// parallelism, else the minimum over the old subtasks (never later than any of them).
    pub fn source_watermark(&self, node: usize, subtask: usize, parallelism: usize) -> Option<i64> {
        let old: Vec<&SourceMeta> = self
            .meta
            .sources
            .iter()
            .filter(|s| s.node == node)
            .collect();
        if old.len() == parallelism {
            return old
                .iter()
                .find(|s| s.subtask == subtask)
                .and_then(|s| s.watermark);
        }
        if old.iter().any(|s| s.watermark.is_none()) {
            return None;
        }
        old.iter().filter_map(|s| s.watermark).min()
    }

    /// Checks that this checkpoint was taken of the same job (same nodes and operators, same
    /// max parallelism); parallelism may differ.
    pub fn check_matches(&self, nodes: &[NodeMeta], max_parallelism: usize) -> Result<()> {
        let m = &self.meta;
        if m.max_parallelism != max_parallelism {
            return Err(ck_err(format!(
                "'{}' was taken with max parallelism {}, the job has {max_parallelism}; key groups cannot be remapped",
                self.path.display(),
                m.max_parallelism
            )));
        }
        if m.nodes.len() != nodes.len() {
            return Err(ck_err(format!(
                "'{}' was taken of a different job: it has {} tasks, this job has {}",
                self.path.display(),
                m.nodes.len(),
                nodes.len()
            )));
        }
        for (i, (a, b)) in m.nodes.iter().zip(nodes).enumerate() {
            if a.operators != b.operators || a.source != b.source {
                return Err(ck_err(format!(
                    "'{}' was taken of a different job: task {i} was [{}], now [{}]",
                    self.path.display(),
                    a.operators.join(" -> "),
                    b.operators.join(" -> ")
                )));
            }
        }
        Ok(())
    }
}

pub fn split_meta(p: &SplitPosition) -> SplitMeta {
    match std::str::from_utf8(&p.position) {
        Ok(s) => SplitMeta {
            split: p.split.clone(),
            position: s.to_string(),
            hex: false,
        },
        Err(_) => SplitMeta {
            split: p.split.clone(),
            position: p.position.iter().map(|b| format!("{b:02x}")).collect(),
            hex: true,
        },
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// A `UInt32` key-group column for state rows (helper for operators).
pub fn key_group_column(groups: impl IntoIterator<Item = usize>) -> Arc<dyn Array> {
    Arc::new(UInt32Array::from_iter_values(
        groups.into_iter().map(|g| g as u32),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn keyed_batch(rows: &[(u32, i64)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(KEY_GROUP_COLUMN, DataType::UInt32, false),
            Field::new("v", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap()
    }

    fn write(dir: &Path, id: u64, rows: &[(u32, i64)]) -> PathBuf {
        let pending = PendingDir::create(dir, &format!("chk-{id}")).unwrap();
        // Two subtasks of one operator, key groups 0..4 → subtask 0, 4..8 → subtask 1.
        let s0: Vec<_> = rows.iter().copied().filter(|r| r.0 < 4).collect();
        let s1: Vec<_> = rows.iter().copied().filter(|r| r.0 >= 4).collect();
        let files = vec![
            write_table(&pending.tmp, (0, 0, 0), Part::Keyed, 0, &keyed_batch(&s0)).unwrap(),
            write_table(&pending.tmp, (0, 0, 1), Part::Keyed, 0, &keyed_batch(&s1)).unwrap(),
        ];
        let meta = Metadata {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            engine: "test".into(),
            id,
            kind: "checkpoint".into(),
            timestamp_ms: 0,
            max_parallelism: 8,
            nodes: vec![NodeMeta {
                name: "n".into(),
                parallelism: 2,
                operators: vec!["op".into()],
                source: None,
            }],
            files,
            sources: vec![SourceMeta {
                node: 0,
                subtask: 0,
                watermark: Some(5),
                splits: vec![split_meta(&SplitPosition {
                    split: "a".into(),
                    position: vec![0xff, 0x00],
                })],
            }],
        };
        pending.complete(&meta).unwrap()
    }

    fn values(s: &OperatorState) -> Vec<i64> {
        let mut v: Vec<i64> = s.keyed[0]
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .values()
            .to_vec();
        v.sort();
        v
    }

    #[test]
    fn keyed_state_is_redistributed_by_key_group_on_rescale() {
        let tmp = tempfile::tempdir().unwrap();
        let rows: Vec<(u32, i64)> = (0..8).map(|k| (k, k as i64 * 10)).collect();
        let p = write(tmp.path(), 1, &rows);
        let c = Checkpoint::open(&p).unwrap();
        // Same parallelism: subtask 1 gets key groups 4..8.
        assert_eq!(
            values(&c.operator_state(0, 0, 1, 2).unwrap()),
            vec![40, 50, 60, 70]
        );
        // Parallelism 3 over 8 key groups: kg*3/8 → subtask 1 owns 3, 4, 5.
        assert_eq!(
            values(&c.operator_state(0, 0, 1, 3).unwrap()),
            vec![30, 40, 50]
        );
        // Parallelism 1 owns everything.
        assert_eq!(values(&c.operator_state(0, 0, 0, 1).unwrap()).len(), 8);
        assert_eq!(
            c.source_positions(0).unwrap()[0].position,
            vec![0xff, 0x00],
            "binary positions survive the JSON metadata"
        );
    }

    #[test]
    fn a_corrupted_checkpoint_is_skipped_for_the_previous_one() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), 1, &[(0, 1)]);
        let p2 = write(tmp.path(), 2, &[(0, 2)]);
        let f = p2.join("n0-o0-s0-keyed0.arrow");
        let mut bytes = fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        fs::write(&f, bytes).unwrap();
        let (c, skipped) = Checkpoint::latest_in(tmp.path()).unwrap();
        assert_eq!(c.unwrap().meta.id, 1);
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("corrupted"), "{}", skipped[0]);
        let err = Checkpoint::open(&p2).unwrap_err().to_string();
        assert!(
            err.contains("n0-o0-s0-keyed0.arrow") && err.contains("checksum"),
            "{err}"
        );
        // A missing metadata file (a crash before publishing cannot produce it, but a
        // half-copied directory can) is reported, not a panic.
        fs::remove_file(p2.join(METADATA)).unwrap();
        let err = Checkpoint::open(&p2).unwrap_err().to_string();
        assert!(err.contains("not a complete checkpoint"), "{err}");
    }

    #[test]
    fn prune_keeps_the_newest_and_removes_abandoned_in_progress_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        for id in 1..=4 {
            write(tmp.path(), id, &[(0, 1)]);
        }
        let stale = PendingDir::create(tmp.path(), "chk-5").unwrap();
        prune(tmp.path(), 2, &[]);
        let mut names: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(names, vec!["chk-3", "chk-4"]);
        assert!(!stale.tmp.exists());
    }
}
