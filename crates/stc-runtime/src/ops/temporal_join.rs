//! Event-time temporal join: `probe JOIN versioned FOR SYSTEM_TIME AS OF probe.ts ON keys`
//! against a versioned table (a primary key and a watermark), as Flink's
//! `TemporalRowTimeJoinOperator`.
//!
//! The right input is the versioned table's changelog, read as upserts: each row is a
//! version of its key, valid from its own rowtime on (`+I`/`+U` make the row current, `-D`
//! ends it; `-U` is ignored, and of two versions with the same rowtime the later one
//! counts, as Flink keeps one version per rowtime). Probe
//! rows wait in state until the combined watermark of both inputs reaches their time; then
//! each joins the version of its key with the largest rowtime not after its own (ties: the
//! later arrival), if that version is a row and not a retraction. INNER drops unmatched
//! probe rows, LEFT pads them with NULLs; the output is append-only. After a watermark,
//! versions older than the one valid at the watermark can never be used again and are
//! dropped (Flink's state cleanup). A probe row is never late: one that arrives behind the
//! watermark is joined at the next watermark, as in Flink.
//!
//! State snapshots are keyed (key group of the join key): buffered probe rows and versions,
//! each with its side, time and arrival sequence.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int8Array, RecordBatch, RecordBatchOptions, UInt8Array,
    UInt32Array, UInt64Array, new_null_array,
};
use datafusion::arrow::datatypes::{
    DataType, Field, Int8Type, Schema, SchemaRef, UInt8Type, UInt64Type,
};
use datafusion::arrow::row::{OwnedRow, RowConverter};
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;
use stc_common::RowKind;

use crate::checkpoint::{Barrier, KEY_GROUP_COLUMN, OperatorState};
use crate::error::{Result, RuntimeError};
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{converter, expr_types, null_as_false, to_rows};

/// The operator factory; see the module docs. Input 0 is the probe side, input 1 the
/// versioned table.
#[derive(Clone)]
pub struct TemporalJoin {
    pub name: String,
    pub left_outer: bool,
    pub left_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub right_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// The probe side's time (the `AS OF` expression) and the versioned table's rowtime.
    pub left_time: Arc<dyn PhysicalExpr>,
    pub right_time: Arc<dyn PhysicalExpr>,
    /// The rest of the condition, over `schema` (probe columns, then the table's).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    pub left_schema: SchemaRef,
    pub right_schema: SchemaRef,
    pub schema: SchemaRef,
    pub max_parallelism: usize,
}

impl OperatorFactory for TemporalJoin {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        let key_types = expr_types(&self.left_keys, &self.left_schema)?;
        let types = |s: &SchemaRef| {
            s.fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect::<Vec<_>>()
        };
        let right_conv = converter(types(&self.right_schema))?;
        let nulls: Vec<ArrayRef> = self
            .right_schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), 1))
            .collect();
        let null_right = to_rows(&right_conv, &nulls)?.row(0).owned();
        Ok(Box::new(TemporalJoinOp {
            spec: self.clone(),
            key_conv: converter(key_types)?,
            left_conv: converter(types(&self.left_schema))?,
            right_conv,
            null_right,
            probes: BTreeMap::new(),
            versions: HashMap::new(),
            dirty: HashSet::new(),
            seq: 0,
        }))
    }
}

/// A probe row waiting for the watermark: its key (`None` if it has a NULL) and row.
struct Probe {
    key: Option<Box<[u8]>>,
    row: OwnedRow,
}

/// One version of a key: whether it is a row (`+I`/`+U`) or a retraction, and the row.
struct Version {
    kind: RowKind,
    row: OwnedRow,
}

/// One key's versions by (rowtime, arrival).
type Versions = BTreeMap<(i64, u64), Version>;

struct TemporalJoinOp {
    spec: TemporalJoin,
    key_conv: RowConverter,
    left_conv: RowConverter,
    right_conv: RowConverter,
    /// A right row of NULLs, for LEFT padding.
    null_right: OwnedRow,
    /// (time, arrival) → probe row.
    probes: BTreeMap<(i64, u64), Probe>,
    /// Key → its versions.
    versions: HashMap<Box<[u8]>, Versions>,
    /// Keys with versions added since their last cleanup.
    dirty: HashSet<Box<[u8]>>,
    seq: u64,
}

fn eval_all(exprs: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    Ok(exprs
        .iter()
        .map(|e| {
            e.evaluate(batch)
                .and_then(|v| v.into_array(batch.num_rows()))
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?)
}

fn times(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch, what: &str) -> Result<Vec<i64>> {
    let t = crate::time::to_millis(&expr.evaluate(batch)?.into_array(batch.num_rows())?, what)?;
    (0..t.len())
        .map(|i| {
            if t.is_null(i) {
                Err(RuntimeError::Data(format!(
                    "event-time temporal join: {what} is NULL"
                )))
            } else {
                Ok(t.value(i))
            }
        })
        .collect()
}

impl TemporalJoinOp {
    /// Keys of a batch in row format; `None` where a key column is NULL (never matches).
    fn keys(
        &self,
        exprs: &[Arc<dyn PhysicalExpr>],
        batch: &RecordBatch,
    ) -> Result<Vec<Option<Box<[u8]>>>> {
        let keys = eval_all(exprs, batch)?;
        let rows = to_rows(&self.key_conv, &keys)?;
        Ok((0..batch.num_rows())
            .map(|i| (!keys.iter().any(|k| k.is_null(i))).then(|| rows.row(i).as_ref().into()))
            .collect())
    }

    fn add_probes(&mut self, batch: &RecordBatch, seqs: Option<&[u64]>) -> Result<()> {
        let keys = self.keys(&self.spec.left_keys, batch)?;
        let ts = times(&self.spec.left_time, batch, "the probe side's time")?;
        let rows = to_rows(&self.left_conv, batch.columns())?;
        for (i, key) in keys.into_iter().enumerate() {
            let seq = self.next_seq(seqs.map(|s| s[i]));
            self.probes.insert(
                (ts[i], seq),
                Probe {
                    key,
                    row: rows.row(i).owned(),
                },
            );
        }
        Ok(())
    }

    fn add_versions(&mut self, batch: &StreamBatch, seqs: Option<&[u64]>) -> Result<()> {
        let b = &batch.batch;
        let keys = self.keys(&self.spec.right_keys, b)?;
        let ts = times(&self.spec.right_time, b, "the versioned table's rowtime")?;
        let rows = to_rows(&self.right_conv, b.columns())?;
        for (i, key) in keys.into_iter().enumerate() {
            let seq = self.next_seq(seqs.map(|s| s[i]));
            // A version with a NULL key can never be joined; `-U` only announces the `+U`
            // that follows (Flink consumes the versioned side as an upsert changelog).
            let Some(key) = key else { continue };
            if batch.kind(i) == RowKind::UpdateBefore {
                continue;
            }
            self.dirty.insert(key.clone());
            self.versions.entry(key).or_default().insert(
                (ts[i], seq),
                Version {
                    kind: batch.kind(i),
                    row: rows.row(i).owned(),
                },
            );
        }
        Ok(())
    }

    /// The next arrival number (a restored one is kept, so ties keep their order).
    fn next_seq(&mut self, restored: Option<u64>) -> u64 {
        let s = restored.unwrap_or(self.seq);
        self.seq = self.seq.max(s + 1);
        s
    }

    /// Joins every probe row with a time `<= t`.
    fn emit_until(&mut self, t: i64) -> Result<Option<RecordBatch>> {
        let rest = self.probes.split_off(&(t.saturating_add(1), 0));
        let ready = std::mem::replace(&mut self.probes, rest);
        if ready.is_empty() {
            return Ok(None);
        }
        let mut lefts = Vec::with_capacity(ready.len());
        let mut rights = Vec::with_capacity(ready.len());
        let mut matched = Vec::with_capacity(ready.len());
        for ((time, _), probe) in &ready {
            let version = probe
                .key
                .as_ref()
                .and_then(|k| self.versions.get(k))
                .and_then(|v| v.range(..=(*time, u64::MAX)).next_back())
                .map(|(_, v)| v)
                .filter(|v| v.kind.is_addition());
            match version {
                Some(v) => {
                    lefts.push(probe.row.row());
                    rights.push(v.row.row());
                    matched.push(true);
                }
                None if self.spec.left_outer => {
                    lefts.push(probe.row.row());
                    rights.push(self.null_right.row());
                    matched.push(false);
                }
                None => {}
            }
        }
        if lefts.is_empty() {
            return Ok(None);
        }
        let n = lefts.len();
        let mut columns = self.left_conv.convert_rows(lefts)?;
        let right_columns = self.right_conv.convert_rows(rights)?;
        columns.extend(right_columns.iter().cloned());
        let columns = columns
            .into_iter()
            .zip(self.spec.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c)
                } else {
                    Ok(datafusion::arrow::compute::cast(&c, f.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let out = RecordBatch::try_new_with_options(
            Arc::clone(&self.spec.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?;
        let Some(filter) = &self.spec.filter else {
            return Ok(Some(out));
        };
        let mask = filter.evaluate(&out)?.into_array(n)?;
        let mask = null_as_false(mask.as_boolean());
        if !self.spec.left_outer {
            return Ok(Some(datafusion::arrow::compute::filter_record_batch(
                &out, &mask,
            )?));
        }
        // LEFT: a row whose match fails the condition is padded instead.
        let pad = BooleanArray::from(
            (0..n)
                .map(|i| matched[i] && !mask.value(i))
                .collect::<Vec<_>>(),
        );
        let left_len = self.spec.left_schema.fields().len();
        let columns = out
            .columns()
            .iter()
            .enumerate()
            .map(|(c, col)| {
                if c < left_len {
                    Ok(Arc::clone(col))
                } else {
                    let nulls = new_null_array(col.data_type(), n);
                    Ok(datafusion::arrow::compute::kernels::zip::zip(
                        &pad, &nulls, col,
                    )?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RecordBatch::try_new_with_options(
            Arc::clone(&self.spec.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?))
    }

    /// Drops versions no probe row can use any more: all but the latest with a rowtime
    /// `<= t` (and that one too if it is a retraction).
    fn clean_up(&mut self, t: i64) {
        let mut still_dirty = HashSet::new();
        for key in self.dirty.drain() {
            let Some(v) = self.versions.get_mut(&key) else {
                continue;
            };
            let newer = v.split_off(&(t.saturating_add(1), 0));
            let current = v.pop_last();
            *v = newer;
            if !v.is_empty() {
                still_dirty.insert(key.clone());
            }
            match current {
                Some((at, version)) if version.kind.is_addition() => {
                    v.insert(at, version);
                }
                _ => {}
            }
            if v.is_empty() {
                self.versions.remove(&key);
            }
        }
        self.dirty = still_dirty;
    }

    fn snapshot_schema(&self, side: usize) -> SchemaRef {
        let data = if side == 0 {
            &self.spec.left_schema
        } else {
            &self.spec.right_schema
        };
        let mut fields = vec![
            Arc::new(Field::new(KEY_GROUP_COLUMN, DataType::UInt32, false)),
            Arc::new(Field::new("__side", DataType::UInt8, false)),
            Arc::new(Field::new("__seq", DataType::UInt64, false)),
            Arc::new(Field::new("__kind", DataType::Int8, false)),
        ];
        fields.extend(data.fields().iter().cloned());
        Arc::new(Schema::new(fields))
    }

    fn snapshot_side(
        &self,
        side: usize,
        entries: Vec<(u64, i8, &OwnedRow)>,
    ) -> Result<Option<RecordBatch>> {
        if entries.is_empty() {
            return Ok(None);
        }
        let (conv, schema, keys) = if side == 0 {
            (
                &self.left_conv,
                &self.spec.left_schema,
                &self.spec.left_keys,
            )
        } else {
            (
                &self.right_conv,
                &self.spec.right_schema,
                &self.spec.right_keys,
            )
        };
        let n = entries.len();
        let data = RecordBatch::try_new_with_options(
            Arc::clone(schema),
            conv.convert_rows(entries.iter().map(|e| e.2.row()))?,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?;
        let groups = crate::exchange::key_groups(keys, &data, self.spec.max_parallelism)?;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(
                groups.into_iter().map(|g| g as u32),
            )),
            Arc::new(UInt8Array::from(vec![side as u8; n])),
            Arc::new(UInt64Array::from_iter_values(entries.iter().map(|e| e.0))),
            Arc::new(Int8Array::from_iter_values(entries.iter().map(|e| e.1))),
        ];
        columns.extend(data.columns().iter().cloned());
        Ok(Some(RecordBatch::try_new(
            self.snapshot_schema(side),
            columns,
        )?))
    }
}

#[async_trait]
impl Operator for TemporalJoinOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        self.process_batch_from(0, batch, ctx).await
    }

    async fn process_batch_from(
        &mut self,
        input: usize,
        batch: StreamBatch,
        _ctx: &mut OperatorContext,
    ) -> Result<()> {
        if input == 0 {
            if !batch.is_insert_only() {
                return Err(RuntimeError::Internal(format!(
                    "{}: the probe side must be append-only",
                    self.spec.name
                )));
            }
            self.add_probes(&batch.batch, None)
        } else {
            self.add_versions(&batch, None)
        }
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            if let Some(out) = self.emit_until(t)? {
                ctx.emit(StreamBatch::inserts(out));
            }
            self.clean_up(t);
        }
        ctx.emit_watermark(wm);
        Ok(())
    }

    async fn snapshot_state(
        &mut self,
        _barrier: &Barrier,
        _ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        let probes = self
            .probes
            .iter()
            .map(|((_, seq), p)| (*seq, RowKind::Insert as i8, &p.row))
            .collect();
        let versions = self
            .versions
            .values()
            .flat_map(|v| v.iter().map(|((_, seq), v)| (*seq, v.kind as i8, &v.row)))
            .collect();
        let keyed = [
            self.snapshot_side(0, probes)?,
            self.snapshot_side(1, versions)?,
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok(Some(OperatorState {
            keyed_part: Default::default(),
            keyed,
            shared: vec![],
        }))
    }

    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        for b in state.keyed {
            if b.num_rows() == 0 {
                continue;
            }
            let missing = || RuntimeError::Internal("temporal join snapshot: bad columns".into());
            let side = b
                .column(1)
                .as_primitive_opt::<UInt8Type>()
                .ok_or_else(missing)?
                .value(0);
            let seqs: Vec<u64> = b
                .column(2)
                .as_primitive_opt::<UInt64Type>()
                .ok_or_else(missing)?
                .values()
                .to_vec();
            let kinds = b
                .column(3)
                .as_primitive_opt::<Int8Type>()
                .ok_or_else(missing)?
                .clone();
            let schema = if side == 0 {
                &self.spec.left_schema
            } else {
                &self.spec.right_schema
            };
            let data = RecordBatch::try_new_with_options(
                Arc::clone(schema),
                b.columns()[4..].to_vec(),
                &RecordBatchOptions::new().with_row_count(Some(b.num_rows())),
            )?;
            if side == 0 {
                self.add_probes(&data, Some(&seqs))?;
            } else {
                let batch = StreamBatch {
                    batch: data,
                    kinds: Some(Arc::new(kinds)),
                };
                self.add_versions(&batch, Some(&seqs))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{TimeUnit, TimestampMillisecondType};
    use datafusion::physical_expr::expressions::Column;

    use super::*;
    use crate::message::Message;
    use crate::metrics::TaskMetrics;

    fn side_schema(p: &str) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(
                format!("{p}ts"),
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new(format!("{p}k"), DataType::Utf8, true),
            Field::new(format!("{p}v"), DataType::Utf8, true),
        ]))
    }

    fn spec(left_outer: bool) -> TemporalJoin {
        let col = |name: &str, i: usize| Arc::new(Column::new(name, i)) as Arc<dyn PhysicalExpr>;
        let fields: Vec<_> = side_schema("l")
            .fields()
            .iter()
            .chain(side_schema("r").fields().iter())
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        TemporalJoin {
            name: "TemporalJoin".into(),
            left_outer,
            left_keys: vec![col("lk", 1)],
            right_keys: vec![col("rk", 1)],
            left_time: col("lts", 0),
            right_time: col("rts", 0),
            filter: None,
            left_schema: side_schema("l"),
            right_schema: side_schema("r"),
            schema: Arc::new(Schema::new(fields)),
            max_parallelism: 128,
        }
    }

    /// `kind ts k v` per line.
    fn batch(p: &str, rows: &str) -> StreamBatch {
        let parsed: Vec<Vec<&str>> = rows
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let kinds: Vec<i8> = parsed
            .iter()
            .map(|r| match r[0] {
                "+I" => 0,
                "-U" => 1,
                "+U" => 2,
                _ => 3,
            })
            .collect();
        let batch = RecordBatch::try_new(
            side_schema(p),
            vec![
                Arc::new(TimestampMillisecondArray::from(
                    parsed
                        .iter()
                        .map(|r| r[1].parse::<i64>().unwrap())
                        .collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    parsed.iter().map(|r| r[2]).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    parsed.iter().map(|r| r[3]).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap();
        StreamBatch {
            batch,
            kinds: Some(Arc::new(Int8Array::from(kinds))),
        }
    }

    fn rendered(ctx: &mut OperatorContext) -> Vec<String> {
        let mut out = Vec::new();
        for m in ctx.take_output() {
            if let Message::Data(b) = m {
                assert!(b.kinds.is_none(), "temporal join output is append-only");
                let b = b.batch;
                for i in 0..b.num_rows() {
                    let cells: Vec<String> = (0..b.num_columns())
                        .map(|c| {
                            let a = b.column(c);
                            if a.is_null(i) {
                                "null".to_string()
                            } else if let Some(t) = a.as_primitive_opt::<TimestampMillisecondType>()
                            {
                                t.value(i).to_string()
                            } else {
                                a.as_string::<i32>().value(i).to_string()
                            }
                        })
                        .collect();
                    out.push(cells.join(" "));
                }
            }
        }
        out.sort();
        out
    }

    async fn run(left_outer: bool, checkpoint: bool) -> Vec<String> {
        let mut op = spec(left_outer).create(0, 1).unwrap();
        let mut c = OperatorContext::new(0, 1, Arc::new(TaskMetrics::new("t", 0, false, false)));
        op.process_batch_from(
            1,
            batch(
                "r",
                "+I 10 EUR r10\n+I 10 USD u10\n-U 20 EUR r10\n+U 20 EUR r20",
            ),
            &mut c,
        )
        .await
        .unwrap();
        op.process_batch_from(
            0,
            batch(
                "l",
                "+I 5 EUR o1\n+I 10 EUR o2\n+I 15 EUR o3\n+I 25 EUR o4\n+I 15 GBP o5",
            ),
            &mut c,
        )
        .await
        .unwrap();
        op.process_watermark(Watermark::EventTime(16), &mut c)
            .await
            .unwrap();
        if checkpoint {
            let barrier = Barrier {
                id: 1,
                timestamp_ms: 0,
                kind: crate::checkpoint::BarrierKind::Checkpoint,
                increment: Default::default(),
            };
            let state = op.snapshot_state(&barrier, &mut c).await.unwrap().unwrap();
            op = spec(left_outer).create(0, 1).unwrap();
            op.restore_state(state).await.unwrap();
        }
        op.process_batch_from(1, batch("r", "-D 30 USD u10"), &mut c)
            .await
            .unwrap();
        op.process_batch_from(
            0,
            batch("l", "+I 30 USD o6\n+I 29 USD o7\n+I 21 EUR o8"),
            &mut c,
        )
        .await
        .unwrap();
        op.process_watermark(Watermark::MAX, &mut c).await.unwrap();
        rendered(&mut c)
    }

    #[tokio::test]
    async fn joins_the_version_valid_at_the_probe_time() {
        assert_eq!(
            run(false, false).await,
            [
                "10 EUR o2 10 EUR r10",
                "15 EUR o3 10 EUR r10",
                "21 EUR o8 20 EUR r20",
                "25 EUR o4 20 EUR r20",
                "29 USD o7 10 USD u10",
            ]
        );
        assert_eq!(
            run(true, false).await,
            [
                "10 EUR o2 10 EUR r10",
                "15 EUR o3 10 EUR r10",
                "15 GBP o5 null null null",
                "21 EUR o8 20 EUR r20",
                "25 EUR o4 20 EUR r20",
                "29 USD o7 10 USD u10",
                "30 USD o6 null null null",
                "5 EUR o1 null null null",
            ]
        );
    }

    #[tokio::test]
    async fn restored_state_joins_like_the_original() {
        for outer in [false, true] {
            assert_eq!(run(outer, true).await, run(outer, false).await);
        }
    }
}
