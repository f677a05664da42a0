//! Checkpoints in storage: the canonical, versioned format (documented in `docs/checkpoints.md`).
//!
//! ```text
//! <dir>/chk-<id>/              a completed checkpoint (savepoints: savepoint-<id>)
//!     _metadata                JSON: format, version, job shape, files with sizes and checksums,
//!                              source positions and watermarks
//!     n<node>-o<op>-s<subtask>-<keyed|shared><table>.arrow   Arrow IPC files, one per state table
//! <dir>/.chk-<id>.inprogress-<nonce>/   being written; never read (local directories only)
//! <dir>/shared/<id>-<nonce>-n<node>-o<op>-s<subtask>-keyed<table>.arrow
//!                              keyed state that later checkpoints may list too (incremental
//!                              checkpoints); deleted once no retained checkpoint lists it
//! ```
//!
//! `<dir>` is a local directory or an S3 prefix ([`Location`]). On local disk a checkpoint
//! exists only once its directory has been renamed from the in-progress name, which happens
//! after every file and the metadata are synced, so a crash mid-write leaves an in-progress
//! directory that restore ignores (and the next checkpoint removes). Object stores cannot
//! rename a prefix: there the files go straight to `chk-<id>/` and the `_metadata` object,
//! written last, is what makes the checkpoint exist (Flink's rule on S3 as well); a prefix
//! without it is ignored and later removed. Each file's size and XXH3 checksum are in the
//! metadata: a missing, truncated or corrupted file makes the whole checkpoint unusable, and
//! `--resume` falls back to the previous complete one, saying so.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::ipc::writer::FileWriter;
use serde::{Deserialize, Serialize};

pub use super::location::Location;
use super::{KEY_GROUP_COLUMN, OperatorState, SplitPosition};
use crate::error::{Result, RuntimeError};
use crate::exchange::subtask_for_key_group;

/// The `format` field of every metadata file.
pub const FORMAT_NAME: &str = "stc-checkpoint";
/// Bumped on any incompatible change of the layout or of a state table's meaning. Version 2
/// added files under `shared/` (incremental checkpoints); a checkpoint without any is written
/// as version 1, so savepoints stay readable by older versions.
pub const FORMAT_VERSION: u32 = 2;
/// The directory of files shared between checkpoints, inside the checkpoint directory.
pub const SHARED_DIR: &str = "shared";
const METADATA: &str = "_metadata";

/// Checkpoint settings of a job (Flink's `execution.checkpointing.*` keys).
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// `execution.checkpointing.interval`; `None` takes savepoints only.
    pub interval: Option<std::time::Duration>,
    /// `execution.checkpointing.dir`.
    pub dir: Location,
    /// `execution.checkpointing.savepoint-dir` (default: the checkpoint directory).
    pub savepoint_dir: Option<Location>,
    /// `execution.checkpointing.timeout` (Flink's default: 10 minutes).
    pub timeout: std::time::Duration,
    /// `execution.checkpointing.max-concurrent-checkpoints` (default 1).
    pub max_concurrent: usize,
    /// `execution.checkpointing.num-retained` (default 1).
    pub retained: usize,
    /// `execution.checkpointing.incremental` (default false; see [`super::incremental`]).
    pub incremental: bool,
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
        let location =
            |key: &str, v: &str| Location::parse(v, conf).map_err(|e| format!("'{key}': {e}"));
        Ok(Some(CheckpointConfig {
            interval,
            dir: location(CHECKPOINTING_DIR, dir)?,
            savepoint_dir: conf
                .get(SAVEPOINT_DIR)
                .map(|v| location(SAVEPOINT_DIR, v))
                .transpose()?,
            timeout: dur(CHECKPOINTING_TIMEOUT)?.unwrap_or(std::time::Duration::from_secs(600)),
            max_concurrent: num(CHECKPOINTING_MAX_CONCURRENT, 1)?,
            retained: num(CHECKPOINTING_RETAINED, 1)?,
            incremental: match conf.get(CHECKPOINTING_INCREMENTAL).map(|v| v.trim()) {
                None => false,
                Some(v) if v.eq_ignore_ascii_case("true") => true,
                Some(v) if v.eq_ignore_ascii_case("false") => false,
                Some(v) => {
                    return Err(format!(
                        "'{CHECKPOINTING_INCREMENTAL}' = '{v}' is not a boolean (true or false)"
                    ));
                }
            },
        }))
    }

    pub fn new(dir: impl Into<Location>) -> Self {
        CheckpointConfig {
            interval: None,
            dir: dir.into(),
            savepoint_dir: None,
            timeout: std::time::Duration::from_secs(600),
            max_concurrent: 1,
            retained: 1,
            incremental: false,
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
    /// The file is in the checkpoint directory's `shared/` directory (written by this or an
    /// earlier checkpoint), not in this checkpoint's own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

impl FileMeta {
    /// Where the file is, for the checkpoint at `checkpoint`.
    pub fn dir(&self, checkpoint: &Location) -> Location {
        if self.shared {
            checkpoint.parent().join(SHARED_DIR)
        } else {
            checkpoint.clone()
        }
    }

    /// The file's path relative to the checkpoint directory's parent when shared, else to
    /// the checkpoint's own directory (unique within one checkpoint's files).
    pub fn key(&self) -> String {
        if self.shared {
            format!("{SHARED_DIR}/{}", self.path)
        } else {
            self.path.clone()
        }
    }
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

fn hash_hex(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// Writes one state table as an Arrow IPC file and describes it. `shared`: `dir` is the
/// checkpoint directory's `shared/` directory, and `Some(tag)` names the file uniquely there
/// (the checkpoint id and a nonce).
pub fn write_table(
    dir: &Location,
    (node, operator, subtask): (usize, usize, usize),
    part: Part,
    table: usize,
    batch: &RecordBatch,
    shared: Option<&str>,
) -> Result<FileMeta> {
    let tag = match part {
        Part::Keyed => "keyed",
        Part::Shared => "shared",
    };
    let name = match shared {
        None => format!("n{node}-o{operator}-s{subtask}-{tag}{table}.arrow"),
        Some(prefix) => format!("{prefix}-n{node}-o{operator}-s{subtask}-{tag}{table}.arrow"),
    };
    let (bytes, hash) = dir.put_with(&name, |out| {
        let mut w = FileWriter::try_new(out, batch.schema_ref())?;
        w.write(batch)?;
        w.finish()?;
        Ok(())
    })?;
    Ok(FileMeta {
        node,
        operator,
        subtask,
        part,
        table,
        bytes,
        rows: batch.num_rows() as u64,
        xxh3: format!("{hash:016x}"),
        path: name,
        shared: shared.is_some(),
    })
}

/// A checkpoint being written.
pub struct PendingDir {
    /// Where its files go: an in-progress directory (local), or the final prefix (object
    /// store).
    pub tmp: Location,
    pub target: Location,
}

impl PendingDir {
    pub fn create(base: &Location, name: &str) -> Result<Self> {
        base.create()?;
        let target = base.join(name);
        if base.as_local().is_none() {
            // No rename on object stores: write in place. Whatever an earlier attempt at the
            // same id left there (a crash before its metadata, or an old checkpoint of that id
            // replaced by a restore from an older one) goes first, metadata first, so that a
            // mix of old and new files never looks complete.
            target.delete(METADATA)?;
            target.remove_all()?;
            return Ok(PendingDir {
                tmp: target.clone(),
                target,
            });
        }
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = base.join(&format!(".{name}.inprogress-{nonce:x}"));
        tmp.create()?;
        Ok(PendingDir { tmp, target })
    }

    /// Writes the metadata and publishes the checkpoint under its final name.
    pub fn complete(self, meta: &Metadata) -> Result<Location> {
        let json = serde_json::to_vec_pretty(meta).map_err(|e| ck_err(e.to_string()))?;
        self.tmp.put(METADATA, json)?;
        if self.tmp == self.target {
            // Object store: the metadata, written last, published it.
            return Ok(self.target);
        }
        // A savepoint or checkpoint of the same id from an earlier attempt that crashed
        // between writing and restoring: the new one replaces it.
        self.target.remove_all()?;
        self.tmp.rename_local(&self.target)?;
        Ok(self.target)
    }

    pub fn abort(self) {
        let _ = self.tmp.remove_all();
    }
}

fn checkpoint_id(name: &str) -> Option<u64> {
    name.strip_prefix("chk-")
        .and_then(|s| s.parse::<u64>().ok())
}

/// Deletes all but the newest `retained` completed checkpoints, and abandoned in-progress
/// ones other than `keep` (on object stores: prefixes without metadata older than the newest
/// complete checkpoint). Savepoints are never deleted.
pub fn prune(dir: &Location, retained: usize, keep: &[Location]) {
    let Ok(names) = dir.list() else {
        return;
    };
    let object_store = dir.as_local().is_none();
    let mut done: Vec<u64> = Vec::new();
    let mut incomplete: Vec<u64> = Vec::new();
    for name in names {
        let loc = dir.join(&name);
        if let Some(id) = checkpoint_id(&name) {
            if object_store && !matches!(loc.get(METADATA), Ok(Some(_))) {
                incomplete.push(id);
            } else {
                done.push(id);
            }
        } else if name.starts_with(".chk-") && name.contains(".inprogress-") && !keep.contains(&loc)
        {
            let _ = loc.remove_all();
        }
    }
    done.sort();
    let newest = done.last().copied().unwrap_or(0);
    for id in incomplete {
        let loc = dir.join(&format!("chk-{id}"));
        if id < newest && !keep.contains(&loc) {
            let _ = loc.remove_all();
        }
    }
    let n = done.len().saturating_sub(retained.max(1));
    for id in done.iter().take(n) {
        let _ = dir.join(&format!("chk-{id}")).remove_all();
    }
    prune_shared(dir, &done[n..]);
}

/// Deletes the shared files no retained checkpoint lists. Only files of checkpoints up to the
/// newest retained one: a later one may be being written (its metadata does not exist yet).
fn prune_shared(dir: &Location, retained: &[u64]) {
    let shared = dir.join(SHARED_DIR);
    let Ok(names) = shared.list() else {
        return;
    };
    if names.is_empty() {
        return;
    }
    let newest = retained.last().copied().unwrap_or(0);
    let mut listed = std::collections::HashSet::new();
    for id in retained {
        let meta = dir.join(&format!("chk-{id}")).get(METADATA);
        let Some(meta) = meta
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Metadata>(&b).ok())
        else {
            // Unreadable: keep everything rather than guess what it lists.
            return;
        };
        listed.extend(meta.files.into_iter().filter(|f| f.shared).map(|f| f.path));
    }
    for name in names {
        let written_by = name
            .split_once('-')
            .and_then(|(id, _)| id.parse::<u64>().ok());
        if written_by.is_some_and(|id| id <= newest) && !listed.contains(&name) {
            let _ = shared.delete(&name);
        }
    }
}

/// A verified checkpoint or savepoint, ready to restore from.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub path: Location,
    pub meta: Metadata,
    /// The state files as read and verified by [`Checkpoint::open`], so that the restore
    /// reads each file once; the decoded state tables share these buffers (zero copy). Freed
    /// with the last clone of the checkpoint, i.e. once the job it restored has its state.
    verified: Arc<std::sync::Mutex<BTreeMap<String, bytes::Bytes>>>,
}

impl Checkpoint {
    /// Opens and verifies the checkpoint or savepoint at `path` (its directory, or its
    /// `_metadata` file): the format, every file's presence, size and checksum.
    pub fn open(path: &Location) -> Result<Checkpoint> {
        let dir = if path.file_name().is_some_and(|n| n == METADATA) {
            path.parent()
        } else {
            path.clone()
        };
        let bytes = dir.get(METADATA)?.ok_or_else(|| {
            ck_err(format!(
                "'{dir}' is not a complete checkpoint: it has no {METADATA}"
            ))
        })?;
        let meta: Metadata = serde_json::from_slice(&bytes)
            .map_err(|e| ck_err(format!("'{dir}': damaged {METADATA}: {e}")))?;
        if meta.format != FORMAT_NAME {
            return Err(ck_err(format!(
                "'{dir}' is not a StreamCompute checkpoint (format '{}')",
                meta.format
            )));
        }
        if meta.version == 0 || meta.version > FORMAT_VERSION {
            return Err(ck_err(format!(
                "'{dir}' has checkpoint format version {}, this stc reads versions 1 to {FORMAT_VERSION}",
                meta.version
            )));
        }
        let mut verified = BTreeMap::new();
        for f in &meta.files {
            let key = f.key();
            let data = f
                .dir(&dir)
                .get(&f.path)?
                .ok_or_else(|| ck_err(format!("'{dir}': state file {key} is missing")))?;
            if data.len() as u64 != f.bytes {
                return Err(ck_err(format!(
                    "'{dir}': state file {key} has {} bytes, the metadata says {}",
                    data.len(),
                    f.bytes
                )));
            }
            if hash_hex(&data) != f.xxh3 {
                return Err(ck_err(format!(
                    "'{dir}': state file {key} is corrupted (checksum mismatch)"
                )));
            }
            verified.insert(key, data);
        }
        Ok(Checkpoint {
            path: dir,
            meta,
            verified: Arc::new(std::sync::Mutex::new(verified)),
        })
    }

    /// The newest usable checkpoint in `dir`, and a message for every newer one that was
    /// skipped because it is damaged. On an object store a `chk-<id>` prefix without
    /// metadata is a checkpoint still being written (or abandoned), not a damaged one.
    pub fn latest_in(dir: &Location) -> Result<(Option<Checkpoint>, Vec<String>)> {
        let mut found: Vec<u64> = dir
            .list()?
            .iter()
            .filter_map(|n| checkpoint_id(n))
            .collect();
        found.sort_by_key(|id| std::cmp::Reverse(*id));
        let mut skipped = Vec::new();
        for id in found {
            let p = dir.join(&format!("chk-{id}"));
            if dir.as_local().is_none() && p.get(METADATA)?.is_none() {
                continue;
            }
            match Checkpoint::open(&p) {
                Ok(c) => return Ok((Some(c), skipped)),
                Err(e) => skipped.push(e.to_string()),
            }
        }
        Ok((None, skipped))
    }

    /// Decodes state file `f`, from the bytes `open` verified if they are still cached
    /// (`last`: no one else will read it, drop them from the cache).
    fn read_file(&self, f: &FileMeta, last: bool) -> Result<RecordBatch> {
        let cached = {
            let mut cache = self
                .verified
                .lock()
                .map_err(|_| RuntimeError::Internal("checkpoint file cache poisoned".into()))?;
            if last {
                cache.remove(&f.key())
            } else {
                cache.get(&f.key()).cloned()
            }
        };
        let bytes = match cached {
            Some(b) => b,
            None => f.dir(&self.path).get(&f.path)?.ok_or_else(|| {
                ck_err(format!(
                    "'{}': state file {} is missing",
                    self.path,
                    f.key()
                ))
            })?,
        };
        decode_ipc_file(bytes).map_err(|e| {
            ck_err(format!(
                "'{}': state file {} cannot be decoded: {e}",
                self.path,
                f.key()
            ))
        })
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
                    // At an unchanged parallelism no other subtask reads this file: its bytes
                    // leave the cache with the state decoded from them.
                    let b = self.read_file(f, old_p == parallelism)?;
                    let b = if old_p == parallelism {
                        b
                    } else {
                        self.own_key_groups(&b, subtask, parallelism)?
                    };
                    keyed.entry(f.table).or_default().push(b);
                }
                Part::Shared => shared
                    .entry(f.table)
                    .or_default()
                    .push(self.read_file(f, false)?),
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
            keyed_part: Default::default(),
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
                self.path, m.max_parallelism
            )));
        }
        if m.nodes.len() != nodes.len() {
            return Err(ck_err(format!(
                "'{}' was taken of a different job: it has {} tasks, this job has {}",
                self.path,
                m.nodes.len(),
                nodes.len()
            )));
        }
        for (i, (a, b)) in m.nodes.iter().zip(nodes).enumerate() {
            if a.operators != b.operators || a.source != b.source {
                return Err(ck_err(format!(
                    "'{}' was taken of a different job: task {i} was [{}], now [{}]",
                    self.path,
                    a.operators.join(" -> "),
                    b.operators.join(" -> ")
                )));
            }
        }
        Ok(())
    }
}

/// Decodes an Arrow IPC file held in memory without copying its buffers: the arrays point
/// into `bytes` (`FileReader` would copy every block out of its reader first). Each buffer is
/// still validated (UTF-8, offsets) as the safe decoder always does.
fn decode_ipc_file(bytes: bytes::Bytes) -> std::result::Result<RecordBatch, String> {
    use datafusion::arrow::buffer::Buffer;
    use datafusion::arrow::ipc::reader::{FileDecoder, read_footer_length};
    use datafusion::arrow::ipc::{Block, convert::fb_to_schema, root_as_footer};
    let buf = Buffer::from(bytes);
    let len = buf.len();
    let trailer: [u8; 10] = buf
        .get(len.saturating_sub(10)..)
        .and_then(|t| t.try_into().ok())
        .ok_or("the file is too short for an Arrow IPC file")?;
    let footer_len = read_footer_length(trailer).map_err(|e| e.to_string())?;
    let footer_at = (len - 10)
        .checked_sub(footer_len)
        .ok_or("the footer is longer than the file")?;
    let footer = root_as_footer(&buf[footer_at..len - 10]).map_err(|e| e.to_string())?;
    let schema = Arc::new(fb_to_schema(
        footer.schema().ok_or("the footer has no schema")?,
    ));
    let mut decoder = FileDecoder::new(Arc::clone(&schema), footer.version());
    let block_buf = |b: &Block| -> std::result::Result<Buffer, String> {
        let start = usize::try_from(b.offset()).map_err(|_| "negative block offset")?;
        let n = usize::try_from(b.bodyLength()).map_err(|_| "negative block length")?
            + usize::try_from(b.metaDataLength()).map_err(|_| "negative metadata length")?;
        if start.checked_add(n).is_none_or(|end| end > len) {
            return Err("a block lies outside the file".into());
        }
        Ok(buf.slice_with_length(start, n))
    };
    for b in footer.dictionaries().iter().flatten() {
        decoder
            .read_dictionary(b, &block_buf(b)?)
            .map_err(|e| e.to_string())?;
    }
    let mut batches = Vec::new();
    for b in footer.recordBatches().iter().flatten() {
        if let Some(batch) = decoder
            .read_record_batch(b, &block_buf(b)?)
            .map_err(|e| e.to_string())?
        {
            batches.push(batch);
        }
    }
    concat_batches(&schema, &batches).map_err(|e| e.to_string())
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
