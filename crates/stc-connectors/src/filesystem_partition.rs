//! `PARTITIONED BY` for the filesystem sink, with Flink's semantics: every row goes to the
//! directory `k1=v1/k2=v2/` of its partition values (escaped as Flink's `PartitionPathUtils`
//! does), the partition columns are left out of the file body, and a partition is *committed*
//! — with the policy `success-file`, an empty `_SUCCESS` file is written into it — once no
//! more rows are expected for it:
//!
//! * `sink.partition-commit.trigger` = `process-time` (default): when the wall clock passes
//!   the partition's creation time (its first row) plus `sink.partition-commit.delay`;
//! * `partition-time`: when the watermark passes the time extracted from the partition values
//!   (`partition.time-extractor.timestamp-pattern`, e.g. `$dt $hm:00`) plus the delay.
//!
//! A partition is only committed once every part file written into it is visible: with
//! checkpointing, after the checkpoint covering those files completed on every subtask
//! (the decision uses the smallest watermark the subtasks had at that checkpoint, as Flink's
//! single `PartitionCommitter` does); without, at the end of input. At the end of input every
//! partition is committed (Flink's final watermark). Rows that arrive for a committed
//! partition (late data) are still written into it, as in Flink.
//!
//! The subtasks of one sink share a [`CommitTracker`] (they run in one process): each reports
//! the partitions it wrote and its watermark at every checkpoint barrier and the checkpoints
//! it saw complete; whoever completes the picture commits.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use stc_runtime::{Result as RtResult, RuntimeError};

use crate::lookup_cache::parse_duration;
use crate::table::{ConnectorError, ConnectorTable, Result};

/// Option keys of partitioned writing and partition commit.
pub(crate) const PARTITION_OPTIONS: &[&str] = &[
    "partition.default-name",
    "sink.partition-commit.trigger",
    "sink.partition-commit.delay",
    "sink.partition-commit.policy.kind",
    "sink.partition-commit.success-file.name",
    "sink.partition-commit.watermark-time-zone",
    "partition.time-extractor.kind",
    "partition.time-extractor.timestamp-pattern",
    "partition.time-extractor.timestamp-formatter",
];

const DEFAULT_PARTITION_NAME: &str = "__DEFAULT_PARTITION__";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    ProcessTime,
    PartitionTime,
}

/// How a partitioned filesystem table is written and committed.
#[derive(Debug, Clone)]
pub(crate) struct PartitionSpec {
    /// Partition columns, in `PARTITIONED BY` order.
    pub keys: Vec<String>,
    /// Their indices in the sink schema.
    pub key_indices: Vec<usize>,
    /// The other columns' indices in the sink schema: what a file holds.
    pub data_indices: Vec<usize>,
    default_name: String,
    /// `None`: no commit policy, partitions are only written.
    pub success_file: Option<String>,
    pub trigger: Trigger,
    pub delay_ms: i64,
    /// `partition.time-extractor.timestamp-pattern`; `None`: the first partition value.
    pattern: Option<String>,
    /// `partition.time-extractor.timestamp-formatter` as fixed-width fields; `None`: Flink's
    /// lenient `yyyy-[m]m-[d]d[ [h]h:[m]m:[s]s[.fff]]`.
    formatter: Option<Vec<FormatPart>>,
    watermark_zone: arrow::array::timezone::Tz,
}

fn bad(t: &ConnectorTable, key: &str, value: &str, supported: &str) -> ConnectorError {
    ConnectorError::Options(format!(
        "invalid value '{value}' for option '{key}' of table '{}': supported {supported}",
        t.name
    ))
}

impl PartitionSpec {
    /// The partitioning of a table, or `None` without `PARTITIONED BY`. Rejects commit
    /// options on a table that has no partitions, and option values that are not supported.
    pub(crate) fn parse(t: &ConnectorTable) -> Result<Option<Self>> {
        if t.partition_keys.is_empty() {
            if let Some(k) = PARTITION_OPTIONS
                .iter()
                .find(|k| **k != "partition.default-name" && t.options.contains_key(**k))
            {
                return Err(ConnectorError::Options(format!(
                    "option '{k}' of table '{}' needs a partitioned table (PARTITIONED BY (…))",
                    t.name
                )));
            }
            return Ok(None);
        }
        let schema = &t.sink_schema;
        let mut key_indices = Vec::new();
        for k in &t.partition_keys {
            let i = schema.index_of(k).map_err(|_| {
                ConnectorError::Options(format!(
                    "partition column '{k}' of table '{}' is not a physical column; columns: {}",
                    t.name,
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            key_indices.push(i);
        }
        let data_indices: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !key_indices.contains(i))
            .collect();
        if data_indices.is_empty() {
            return Err(ConnectorError::Options(format!(
                "table '{}' is partitioned by all its columns; a file needs at least one column that is not a partition column",
                t.name
            )));
        }
        let opt = |k: &str| t.options.get(k).map(|v| v.trim().to_string());
        let success_file = match opt("sink.partition-commit.policy.kind") {
            None => None,
            Some(kinds) => {
                let mut success = false;
                for kind in kinds.split(',').map(str::trim) {
                    match kind.to_ascii_lowercase().as_str() {
                        "success-file" => success = true,
                        _ => {
                            return Err(bad(
                                t,
                                "sink.partition-commit.policy.kind",
                                &kinds,
                                "'success-file' (a filesystem table has no metastore; custom policy classes are Java)",
                            ));
                        }
                    }
                }
                success.then(|| {
                    opt("sink.partition-commit.success-file.name")
                        .unwrap_or_else(|| "_SUCCESS".into())
                })
            }
        };
        let trigger = match opt("sink.partition-commit.trigger").as_deref() {
            None | Some("process-time") => Trigger::ProcessTime,
            Some("partition-time") => Trigger::PartitionTime,
            Some(v) => {
                return Err(bad(
                    t,
                    "sink.partition-commit.trigger",
                    v,
                    "'process-time' and 'partition-time'",
                ));
            }
        };
        let delay_ms = parse_duration(t, "sink.partition-commit.delay")?
            .unwrap_or(Duration::ZERO)
            .as_millis() as i64;
        if let Some(kind) = opt("partition.time-extractor.kind")
            && kind != "default"
        {
            return Err(bad(
                t,
                "partition.time-extractor.kind",
                &kind,
                "'default' (custom extractor classes are Java)",
            ));
        }
        let formatter = match opt("partition.time-extractor.timestamp-formatter") {
            None => None,
            Some(f) => Some(parse_formatter(&f).ok_or_else(|| {
                bad(
                    t,
                    "partition.time-extractor.timestamp-formatter",
                    &f,
                    "patterns of the fields yyyy, MM, dd, HH, mm, ss and literal separators",
                )
            })?),
        };
        let zone_name = opt("sink.partition-commit.watermark-time-zone").unwrap_or("UTC".into());
        let watermark_zone = zone_name.parse().map_err(|_| {
            bad(
                t,
                "sink.partition-commit.watermark-time-zone",
                &zone_name,
                "'UTC', a region such as 'Asia/Shanghai', or an offset such as '+08:00'",
            )
        })?;
        Ok(Some(PartitionSpec {
            keys: t.partition_keys.clone(),
            key_indices,
            data_indices,
            default_name: opt("partition.default-name")
                .unwrap_or_else(|| DEFAULT_PARTITION_NAME.into()),
            success_file,
            trigger,
            delay_ms,
            pattern: opt("partition.time-extractor.timestamp-pattern"),
            formatter,
            watermark_zone,
        }))
    }

    /// The partition values of every row of `columns` (the sink schema's columns), as text.
    pub(crate) fn values(&self, columns: &[ArrayRef]) -> RtResult<Vec<StringArray>> {
        self.key_indices
            .iter()
            .map(|&i| {
                let c = &columns[i];
                let s = if c.data_type() == &DataType::Utf8 {
                    Arc::clone(c)
                } else {
                    cast(c, &DataType::Utf8)?
                };
                s.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| RuntimeError::Internal("partition value cast".into()))
            })
            .collect()
    }

    /// The relative directory of row `row`: `k1=v1/k2=v2` (NULL and empty values are
    /// `partition.default-name`).
    pub(crate) fn dir_of(&self, values: &[StringArray], row: usize) -> String {
        let mut dir = String::new();
        for (k, v) in self.keys.iter().zip(values) {
            if !dir.is_empty() {
                dir.push('/');
            }
            let value = if v.is_null(row) || v.value(row).is_empty() {
                self.default_name.as_str()
            } else {
                v.value(row)
            };
            dir.push_str(&escape(k));
            dir.push('=');
            dir.push_str(&escape(value));
        }
        dir
    }

    /// The partition values of a file read back (`None`: NULL, for the default name), from
    /// the `k=v` directories of its path.
    pub(crate) fn values_of_path(&self, path: &Path) -> Vec<Option<String>> {
        let found: HashMap<String, String> = path
            .components()
            .filter_map(|c| {
                let seg = c.as_os_str().to_string_lossy();
                let (k, v) = seg.split_once('=')?;
                Some((unescape(k), unescape(v)))
            })
            .collect();
        self.keys
            .iter()
            .map(|k| found.get(k).filter(|v| **v != self.default_name).cloned())
            .collect()
    }

    /// The partition time (epoch milliseconds in the watermark's time zone) of a partition
    /// directory, as Flink's `DefaultPartTimeExtractor` computes it.
    pub(crate) fn partition_time(&self, dir: &str) -> RtResult<i64> {
        let values: Vec<(String, String)> = dir
            .split('/')
            .filter_map(|seg| seg.split_once('='))
            .map(|(k, v)| (unescape(k), unescape(v)))
            .collect();
        let text = match &self.pattern {
            None => values.first().map(|(_, v)| v.clone()).unwrap_or_default(),
            Some(p) => {
                let mut s = p.clone();
                for (k, v) in &values {
                    s = s.replace(&format!("${k}"), v);
                }
                s
            }
        };
        let local = match &self.formatter {
            None => parse_lenient(&text),
            Some(f) => parse_formatted(&text, f),
        }
        .ok_or_else(|| {
            RuntimeError::Data(format!(
                "cannot extract the partition time of partition '{dir}': '{text}' does not match {}",
                match &self.pattern {
                    Some(p) => format!("'partition.time-extractor.timestamp-pattern' = '{p}'"),
                    None => "a timestamp such as 2024-01-01 10:00:00".into(),
                }
            ))
        })?;
        let zoned = self
            .watermark_zone
            .from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| {
                RuntimeError::Data(format!(
                    "partition time {local} of partition '{dir}' does not exist in the watermark time zone"
                ))
            })?;
        Ok(zoned.timestamp_millis())
    }
}

/// Flink's `PartitionPathUtils.escapePathName`: characters that are special in paths become
/// `%XX`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c < ' '
            || matches!(
                c,
                '"' | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7F}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
            )
        {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `yyyy-[m]m-[d]d[ [h]h:[m]m:[s]s[.fraction]]` (Flink's default partition timestamp).
fn parse_lenient(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let d: Vec<u32> = date
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [y, m, day] = d[..] else { return None };
    let date = NaiveDate::from_ymd_opt(y as i32, m, day)?;
    let Some(time) = time else {
        return date.and_hms_opt(0, 0, 0);
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let t: Vec<u32> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, sec] = t[..] else { return None };
    let nanos: u32 = if frac.is_empty() {
        0
    } else if frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit()) {
        format!("{frac:0<9}").parse().ok()?
    } else {
        return None;
    };
    date.and_hms_nano_opt(h, mi, sec, nanos)
}

/// One element of a `timestamp-formatter` pattern.
#[derive(Debug, Clone, PartialEq)]
enum FormatPart {
    /// A field letter (`y`, `M`, `d`, `H`, `m`, `s`) and its width in digits.
    Field(char, usize),
    Literal(char),
}

fn parse_formatter(p: &str) -> Option<Vec<FormatPart>> {
    let mut parts: Vec<FormatPart> = Vec::new();
    for c in p.chars() {
        match c {
            'y' | 'M' | 'd' | 'H' | 'm' | 's' => match parts.last_mut() {
                Some(FormatPart::Field(f, n)) if *f == c => *n += 1,
                _ => parts.push(FormatPart::Field(c, 1)),
            },
            c if c.is_ascii_alphabetic() || c == '\'' => return None,
            c => parts.push(FormatPart::Literal(c)),
        }
    }
    let has = |l: char| {
        parts
            .iter()
            .any(|p| matches!(p, FormatPart::Field(f, _) if *f == l))
    };
    (has('y') && has('M') && has('d')).then_some(parts)
}

fn parse_formatted(s: &str, parts: &[FormatPart]) -> Option<NaiveDateTime> {
    let mut rest = s.trim();
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec) = (0i32, 1u32, 1u32, 0u32, 0u32, 0u32);
    for p in parts {
        match p {
            FormatPart::Literal(c) => rest = rest.strip_prefix(*c)?,
            FormatPart::Field(f, n) => {
                let n = (*n).min(rest.len());
                let (digits, r) = rest.split_at(n);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                rest = r;
                let v: u32 = digits.parse().ok()?;
                match f {
                    'y' => y = v as i32,
                    'M' => mo = v,
                    'd' => d = v,
                    'H' => h = v,
                    'm' => mi = v,
                    _ => sec = v,
                }
            }
        }
    }
    if !rest.is_empty() {
        return None;
    }
    NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, sec)
}

/// A partition not committed yet.
#[derive(Debug, Clone)]
struct PendingPartition {
    /// Wall-clock time of its first row (epoch ms), for the process-time trigger.
    created_ms: i64,
    /// Reports (subtask, checkpoint) that wrote files into it and are not yet covered by a
    /// completed checkpoint of that subtask.
    outstanding: Vec<(usize, u64)>,
}

/// What one subtask reported at a checkpoint barrier.
#[derive(Debug, Clone)]
struct Report {
    checkpoint: u64,
    watermark: i64,
}

#[derive(Debug, Default)]
struct SubtaskProgress {
    reports: Vec<Report>,
    /// The last checkpoint this subtask saw complete (its files up to it are visible).
    completed: u64,
    /// Its input ended and its last files are reported.
    ended: bool,
}

#[derive(Debug, Default)]
struct TrackerState {
    parallelism: usize,
    subtasks: HashMap<usize, SubtaskProgress>,
    pending: BTreeMap<String, PendingPartition>,
    /// Subtasks created in this run (a second `create` of one means the job restarted).
    created: HashSet<usize>,
}

/// The partition committer shared by the subtasks of one sink; see the module docs.
#[derive(Clone)]
pub(crate) struct CommitTracker {
    spec: Arc<PartitionSpec>,
    root: PathBuf,
    state: Arc<Mutex<TrackerState>>,
}

impl CommitTracker {
    pub(crate) fn new(spec: Arc<PartitionSpec>, root: PathBuf) -> Self {
        CommitTracker {
            spec,
            root,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> RtResult<std::sync::MutexGuard<'_, TrackerState>> {
        self.state
            .lock()
            .map_err(|_| RuntimeError::Internal("partition commit tracker poisoned".into()))
    }

    /// A subtask of the sink is created; a subtask created a second time means the job
    /// restarted, and what the failed run tracked is dropped (the restore brings back what
    /// its checkpoint holds).
    pub(crate) fn register(&self, subtask: usize, parallelism: usize) -> RtResult<()> {
        let mut s = self.lock()?;
        if !s.created.insert(subtask) || s.parallelism != parallelism {
            *s = TrackerState::default();
            s.created.insert(subtask);
        }
        s.parallelism = parallelism;
        s.subtasks.entry(subtask).or_default();
        Ok(())
    }

    /// Partitions restored from a checkpoint: their files are committed already; they are
    /// committed when the trigger allows.
    pub(crate) fn restore(&self, partitions: &[(String, i64)]) -> RtResult<()> {
        let mut s = self.lock()?;
        for (p, created) in partitions {
            let e = s.pending.entry(p.clone()).or_insert(PendingPartition {
                created_ms: *created,
                outstanding: Vec::new(),
            });
            e.created_ms = e.created_ms.min(*created);
        }
        Ok(())
    }

    /// Subtask `subtask` wrote into `written` (partition → first-row time) files that become
    /// visible with `checkpoint`, at watermark `watermark`. `ended`: this was its last report.
    pub(crate) fn report(
        &self,
        subtask: usize,
        checkpoint: u64,
        watermark: i64,
        written: &HashMap<String, i64>,
        ended: bool,
    ) -> RtResult<()> {
        let mut s = self.lock()?;
        for (p, created) in written {
            let e = s.pending.entry(p.clone()).or_insert(PendingPartition {
                created_ms: *created,
                outstanding: Vec::new(),
            });
            e.created_ms = e.created_ms.min(*created);
            e.outstanding.push((subtask, checkpoint));
        }
        let progress = s.subtasks.entry(subtask).or_default();
        progress.reports.push(Report {
            checkpoint,
            watermark,
        });
        progress.ended |= ended;
        Ok(())
    }

    /// The partitions not committed yet, with their creation times (for the checkpoint).
    pub(crate) fn pending(&self) -> RtResult<Vec<(String, i64)>> {
        Ok(self
            .lock()?
            .pending
            .iter()
            .map(|(p, e)| (p.clone(), e.created_ms))
            .collect())
    }

    /// Subtask `subtask` saw checkpoint `checkpoint` complete (or, `u64::MAX`, published
    /// everything at the end of input): commits every partition that is now complete.
    pub(crate) fn completed(&self, subtask: usize, checkpoint: u64, now_ms: i64) -> RtResult<()> {
        let mut s = self.lock()?;
        {
            let p = s.subtasks.entry(subtask).or_default();
            p.completed = p.completed.max(checkpoint);
        }
        if s.subtasks.len() < s.parallelism {
            return Ok(());
        }
        // The watermark every subtask had at its latest completed checkpoint: rows of the
        // partitions below it are all written and visible.
        let mut watermark = i64::MAX;
        let mut all_ended = true;
        for p in s.subtasks.values() {
            let covered = p
                .reports
                .iter()
                .filter(|r| r.checkpoint <= p.completed)
                .map(|r| r.watermark)
                .max()
                .unwrap_or(i64::MIN);
            watermark = watermark.min(covered);
            all_ended &= p.ended && p.reports.iter().all(|r| r.checkpoint <= p.completed);
        }
        // Without checkpoints (a subtask publishes at its end, `u64::MAX`) nothing is
        // committed before every subtask ended: another may still write into a partition.
        if !all_ended && s.subtasks.values().any(|p| p.completed == u64::MAX) {
            return Ok(());
        }
        let completed: HashMap<usize, u64> =
            s.subtasks.iter().map(|(k, p)| (*k, p.completed)).collect();
        let mut ready = Vec::new();
        for (dir, e) in s.pending.iter_mut() {
            e.outstanding
                .retain(|(sub, ck)| completed.get(sub).is_none_or(|c| ck > c));
            if !e.outstanding.is_empty() {
                continue;
            }
            let due = all_ended
                || match self.spec.trigger {
                    Trigger::ProcessTime => e.created_ms + self.spec.delay_ms <= now_ms,
                    Trigger::PartitionTime => {
                        let t = self.spec.partition_time(dir)?;
                        t.saturating_add(self.spec.delay_ms) <= watermark
                    }
                };
            if due {
                ready.push(dir.clone());
            }
        }
        for dir in ready {
            if let Some(name) = &self.spec.success_file {
                write_success_file(&self.root.join(&dir), name)?;
            }
            s.pending.remove(&dir);
        }
        // Reports every subtask has seen complete are not needed beyond the latest one.
        for p in s.subtasks.values_mut() {
            let done = p.completed;
            if let Some(last) = p.reports.iter().rfind(|r| r.checkpoint <= done).cloned() {
                p.reports.retain(|r| r.checkpoint > done);
                p.reports.insert(0, last);
            }
        }
        Ok(())
    }
}

fn write_success_file(dir: &Path, name: &str) -> RtResult<()> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::File::create(dir.join(name)).map(drop))
        .map_err(|e| {
            RuntimeError::external(
                format!(
                    "filesystem sink: cannot write the success file '{}' of partition '{}': {e}",
                    name,
                    dir.display()
                ),
                false,
            )
        })
}

/// The sink schema without the partition columns: what the files hold.
pub(crate) fn data_schema(schema: &SchemaRef, spec: &PartitionSpec) -> RtResult<SchemaRef> {
    Ok(Arc::new(schema.project(&spec.data_indices)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_flink_and_back() {
        assert_eq!(escape("22:13"), "22%3A13");
        assert_eq!(escape("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(escape("2024-01-01"), "2024-01-01");
        assert_eq!(unescape("22%3A13"), "22:13");
        assert_eq!(unescape("a%2Fb%3Dc"), "a/b=c");
    }

    #[test]
    fn parses_partition_timestamps() {
        let t = |s: &str| parse_lenient(s).map(|d| d.and_utc().timestamp_millis());
        assert_eq!(t("2023-11-14 22:13:00"), Some(1_700_000_000_000 - 20_000));
        assert_eq!(t("2023-11-14"), Some(1_699_920_000_000));
        assert_eq!(t("2023-11-14 22:13"), None);
        let f = parse_formatter("yyyyMMdd HH").unwrap();
        assert_eq!(
            parse_formatted("20231114 22", &f).map(|d| d.and_utc().timestamp_millis()),
            Some(1_699_999_200_000)
        );
        assert_eq!(parse_formatted("2023111422", &f), None);
        assert!(parse_formatter("yyyy-MM-dd'T'HH").is_none());
    }
}

#[cfg(test)]
mod commit_tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn spec(options: &[(&str, &str)]) -> PartitionSpec {
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, true),
            Field::new("dt", DataType::Utf8, true),
            Field::new("hm", DataType::Utf8, true),
        ]));
        let t = ConnectorTable {
            name: "out".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("connector".to_string(), "filesystem".to_string())])
                .collect(),
            physical_schema: schema.clone(),
            metadata: vec![],
            sink_schema: schema,
            primary_key: vec![],
            partition_keys: vec!["dt".into(), "hm".into()],
            time_zone: "UTC".into(),
        };
        PartitionSpec::parse(&t).unwrap().unwrap()
    }

    /// Epoch milliseconds of 2024-01-01 `hh:mm:ss` UTC.
    fn at(hh: i64, mm: i64, ss: i64) -> i64 {
        1_704_067_200_000 + ((hh * 60 + mm) * 60 + ss) * 1000
    }

    #[test]
    fn partition_time_commits_once_every_subtask_passed_it_at_a_completed_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Arc::new(spec(&[
            ("sink.partition-commit.trigger", "partition-time"),
            ("sink.partition-commit.delay", "1 min"),
            ("sink.partition-commit.policy.kind", "success-file"),
            ("partition.time-extractor.timestamp-pattern", "$dt $hm:00"),
        ]));
        let tracker = CommitTracker::new(Arc::clone(&spec), dir.path().to_path_buf());
        let (p10, p11) = ("dt=2024-01-01/hm=10%3A00", "dt=2024-01-01/hm=10%3A01");
        let success = |p: &str| dir.path().join(p).join("_SUCCESS").exists();
        let written = |ps: &[&str]| -> HashMap<String, i64> {
            ps.iter().map(|p| (p.to_string(), 0)).collect()
        };
        tracker.register(0, 2).unwrap();
        tracker.register(1, 2).unwrap();
        assert_eq!(spec.partition_time(p10).unwrap(), at(10, 0, 0));

        tracker
            .report(0, 1, at(10, 1, 0), &written(&[p10]), false)
            .unwrap();
        tracker
            .report(1, 1, at(10, 0, 30), &written(&[p10, p11]), false)
            .unwrap();
        tracker.completed(0, 1, 0).unwrap();
        assert!(
            !success(p10),
            "subtask 1's files of checkpoint 1 are not visible yet"
        );
        tracker.completed(1, 1, 0).unwrap();
        assert!(
            !success(p10),
            "subtask 1's watermark 10:00:30 is before 10:00 + 1 min"
        );

        tracker
            .report(0, 2, at(10, 2, 0), &written(&[]), false)
            .unwrap();
        tracker
            .report(1, 2, at(10, 1, 30), &written(&[]), false)
            .unwrap();
        tracker.completed(0, 2, 0).unwrap();
        tracker.completed(1, 2, 0).unwrap();
        assert!(success(p10), "both watermarks passed 10:01");
        assert!(!success(p11), "10:01:30 is before 10:01 + 1 min");
        assert_eq!(tracker.pending().unwrap(), vec![(p11.to_string(), 0)]);

        // Subtask 0 writes more rows of 10:01 before barrier 3. Both watermarks pass 10:02 at
        // checkpoint 3, but those rows are only visible once subtask 0 saw it complete.
        tracker
            .report(0, 3, at(10, 3, 0), &written(&[p11]), false)
            .unwrap();
        tracker
            .report(1, 3, at(10, 2, 30), &written(&[]), false)
            .unwrap();
        tracker.completed(1, 3, 0).unwrap();
        assert!(
            !success(p11),
            "subtask 0's files of checkpoint 3 are not visible yet"
        );
        tracker.completed(0, 3, 0).unwrap();
        assert!(success(p11));

        // The end of input: the last reports, then every partition is committed, whatever
        // the watermark.
        let p12 = "dt=2024-01-01/hm=10%3A02";
        tracker.report(0, 4, i64::MAX, &written(&[]), true).unwrap();
        tracker
            .report(1, 4, at(10, 2, 40), &written(&[p12]), true)
            .unwrap();
        tracker.completed(0, 4, 0).unwrap();
        assert!(!success(p12), "subtask 1 has not published its last files");
        tracker.completed(1, 4, 0).unwrap();
        assert!(success(p12));
        assert!(tracker.pending().unwrap().is_empty());
    }

    #[test]
    fn without_checkpoints_partitions_wait_for_every_subtask_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Arc::new(spec(&[(
            "sink.partition-commit.policy.kind",
            "success-file",
        )]));
        let tracker = CommitTracker::new(spec, dir.path().to_path_buf());
        let p = "dt=2024-01-01/hm=10%3A00";
        tracker.register(0, 2).unwrap();
        tracker.register(1, 2).unwrap();
        let written: HashMap<String, i64> = [(p.to_string(), 0)].into();
        tracker.report(0, 0, i64::MAX, &written, true).unwrap();
        tracker.completed(0, u64::MAX, 1).unwrap();
        assert!(!dir.path().join(p).join("_SUCCESS").exists());
        tracker
            .report(1, 0, i64::MAX, &HashMap::new(), true)
            .unwrap();
        tracker.completed(1, u64::MAX, 1).unwrap();
        assert!(dir.path().join(p).join("_SUCCESS").exists());
    }

    #[test]
    fn unsupported_values_name_the_option_and_what_is_supported() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, true),
            Field::new("dt", DataType::Utf8, true),
        ]));
        let table = |opts: &[(&str, &str)], keys: &[&str]| ConnectorTable {
            name: "out".into(),
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            physical_schema: schema.clone(),
            metadata: vec![],
            sink_schema: schema.clone(),
            primary_key: vec![],
            partition_keys: keys.iter().map(|k| k.to_string()).collect(),
            time_zone: "UTC".into(),
        };
        let err = |opts: &[(&str, &str)], keys: &[&str]| {
            PartitionSpec::parse(&table(opts, keys))
                .unwrap_err()
                .to_string()
        };
        let e = err(
            &[(
                "sink.partition-commit.policy.kind",
                "metastore,success-file",
            )],
            &["dt"],
        );
        assert!(
            e.contains("'sink.partition-commit.policy.kind'") && e.contains("'success-file'"),
            "{e}"
        );
        let e = err(&[("sink.partition-commit.trigger", "watermark")], &["dt"]);
        assert!(e.contains("'process-time' and 'partition-time'"), "{e}");
        let e = err(
            &[(
                "partition.time-extractor.timestamp-formatter",
                "yyyy-MM-dd'T'HH",
            )],
            &["dt"],
        );
        assert!(
            e.contains("'partition.time-extractor.timestamp-formatter'"),
            "{e}"
        );
        let e = err(&[], &["x"]);
        assert!(e.contains("partition column 'x'"), "{e}");
        let e = err(&[("sink.partition-commit.trigger", "partition-time")], &[]);
        assert!(
            e.contains("'sink.partition-commit.trigger'") && e.contains("PARTITIONED BY"),
            "{e}"
        );
        let e = err(&[], &["v", "dt"]);
        assert!(e.contains("partitioned by all its columns"), "{e}");
    }
}
