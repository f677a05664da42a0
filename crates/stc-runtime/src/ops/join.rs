//! Regular (unbounded) joins of two streams: INNER, LEFT, RIGHT and FULL OUTER, on equality
//! keys plus an optional residual condition (Flink's `StreamingJoinOperator`).
//!
//! Both sides are kept in state: per join key, the distinct rows with their multiplicity
//! and, for an outer side, the number of rows of the other side they currently join with
//! (to know when a row must be emitted padded with NULLs). The changes emitted follow
//! Flink's rules:
//!
//! * inner join: joined rows carry the input row's kind (`+I`/`+U` add, `-U`/`-D` retract);
//! * outer joins: `+I`/`-D` only — a row of an outer side without partner is `+I[row, NULL…]`;
//!   when its first partner arrives that row is retracted (`-D`) before `+I[row, partner]`,
//!   and when its last partner goes the padded row comes back.
//!
//! Rows with a NULL in a join key never match (SQL's `=`), but an outer side still emits
//! them padded.
//!
//! Snapshots are asynchronous (see `JoinOp::snapshot`) and, with incremental checkpoints,
//! hold only the changes since the previous checkpoint: every change to a stored row's
//! multiplicity or partner count is logged as signed amounts, and a restore sums them per row
//! (`crate::checkpoint::incremental`).

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
// hashbrown's maps hash with foldhash, several times faster than std's SipHash on the row
// bytes every stored row and key is hashed by; its `HashTable` indexes rows by position
// without storing a second copy of their hash per row.
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array, new_null_array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{OwnedRow, Row, RowConverter};
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use stc_common::RowKind;

use crate::checkpoint::incremental::{ChangeLog, Plan};
use crate::checkpoint::{Barrier, KeyedPart, OperatorState, StateSnapshot};
use crate::error::Result;
use crate::message::{StreamBatch, Watermark};
use crate::operator::{Operator, OperatorContext, OperatorFactory};
use crate::ops::changelog::{ChangeBuilder, converter, expr_types, null_as_false, to_rows};
use crate::ops::state::{KG, i64_column, i64_values, key_group_array, state_column, state_table};

/// The join types a regular join runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    /// `WHERE k IN (SELECT …)` / `EXISTS`: left rows with at least one match (left columns).
    LeftSemi,
    /// `NOT EXISTS`: left rows without a match (left columns).
    LeftAnti,
    Full,
}

impl JoinKind {
    fn is_semi_or_anti(self) -> bool {
        matches!(self, JoinKind::LeftSemi | JoinKind::LeftAnti)
    }

    fn is_outer(self, side: usize) -> bool {
        matches!(
            (self, side),
            (JoinKind::Left, 0) | (JoinKind::Right, 1) | (JoinKind::Full, _)
        )
    }
}

/// The operator factory; see the module docs.
#[derive(Clone)]
pub struct StreamingJoin {
    pub name: String,
    pub kind: JoinKind,
    /// Key expressions over the left and the right input (same count and types).
    pub left_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub right_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Whether NULL keys match each other (`IS NOT DISTINCT FROM`).
    pub null_equals_null: bool,
    /// The residual condition, over the joined row (left columns, then right columns).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    pub left_schema: SchemaRef,
    pub right_schema: SchemaRef,
    /// The output: left columns then right columns (only left ones for semi/anti joins).
    pub schema: SchemaRef,
    /// Left columns then right columns: what the residual condition is evaluated on.
    pub joined_schema: SchemaRef,
    /// Set for an interval join: rows are dropped from state once the watermark shows no
    /// future row of the other side can match them.
    pub interval: Option<IntervalBounds>,
    /// `table.exec.state.ttl` (0 = never expire): a join key's rows on one side not written
    /// for this long are dropped.
    pub state_ttl_ms: u64,
}

/// The time condition of an interval join, `lower <= left.t - right.t <= upper` (ms).
#[derive(Clone)]
pub struct IntervalBounds {
    pub left_time: Arc<dyn PhysicalExpr>,
    pub right_time: Arc<dyn PhysicalExpr>,
    pub lower: Option<i64>,
    pub upper: Option<i64>,
}

impl StreamingJoin {
    fn side_schema(&self, side: usize) -> &SchemaRef {
        if side == 0 {
            &self.left_schema
        } else {
            &self.right_schema
        }
    }

    /// The join key columns of rows of side `side`.
    fn eval_keys(&self, side: usize, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let key_exprs = if side == 0 {
            &self.left_keys
        } else {
            &self.right_keys
        };
        let n = batch.num_rows();
        Ok(key_exprs
            .iter()
            .map(|k| k.evaluate(batch).and_then(|v| v.into_array(n)))
            .collect::<datafusion::error::Result<Vec<_>>>()?)
    }
}

impl OperatorFactory for StreamingJoin {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        let types = |s: &SchemaRef| {
            s.fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect::<Vec<_>>()
        };
        let key_types = expr_types(&self.left_keys, &self.left_schema)?;
        let mut sides = Vec::with_capacity(2);
        for schema in [&self.left_schema, &self.right_schema] {
            let conv = converter(types(schema))?;
            let nulls: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .map(|f| new_null_array(f.data_type(), 1))
                .collect();
            let null_row = to_rows(&conv, &nulls)?.row(0).owned();
            sides.push(Side {
                index: sides.len(),
                stored: 0,
                conv: Arc::new(conv),
                null_row,
                state: HashMap::new(),
                hasher: Default::default(),
                expiry: BTreeMap::new(),
                written: HashMap::new(),
            });
        }
        Ok(Box::new(JoinOp {
            spec: self.clone(),
            key_conv: converter(key_types)?,
            sides,
            last_sweep: Instant::now(),
            log: ChangeLog::default(),
        }))
    }
}

/// Stored rows converted to the row format at a time on restore.
const RESTORE_CHUNK: usize = 8192;

/// Residual-condition pairs evaluated per call of the expression (see `batch_matches`).
const PAIRS_PER_EVAL: usize = 8192;

/// (input row, candidate) pairs waiting for the residual condition.
#[derive(Default)]
struct Pairs<'a> {
    /// Row of the input batch.
    this: Vec<u32>,
    /// Index of the candidate in the other side's entries for the row's key.
    entry: Vec<u32>,
    /// The candidate's row.
    other: Vec<Row<'a>>,
}

impl Pairs<'_> {
    fn clear(&mut self) {
        self.this.clear();
        self.entry.clear();
        self.other.clear();
    }
}

#[derive(Clone)]
struct Entry {
    row: OwnedRow,
    count: i64,
    /// Rows of the other side this row joins with (kept for outer sides only).
    assoc: i64,
}

/// The distinct rows stored under one join key, with a hash index so that adding or removing
/// one occurrence finds its row without scanning them all: a hot key (every row of one window
/// in Nexmark q5) holds very many rows, and a scan per row made such joins quadratic. (Flink
/// keeps these rows in a `MapState<RowData, …>` for the same reason.)
#[derive(Default, Clone)]
struct Rows {
    entries: Vec<Entry>,
    /// Hash of a row's bytes → positions in `entries` of the rows with that hash; built only
    /// once a key holds more than [`INDEX_FROM`] rows (most keys hold a few, where a scan is
    /// cheaper than a map per key).
    by_hash: Option<HashTable<u32>>,
}

/// Rows per key from which [`Rows`] keeps its hash index.
const INDEX_FROM: usize = 16;

impl Rows {
    fn position(&self, hasher: &impl BuildHasher, row: Row<'_>) -> Option<usize> {
        match &self.by_hash {
            None => self.entries.iter().position(|e| e.row.row() == row),
            Some(idx) => idx
                .find(hasher.hash_one(row.as_ref()), |p| {
                    self.entries[*p as usize].row.row() == row
                })
                .map(|p| *p as usize),
        }
    }

    /// Appends a row not stored yet.
    fn push_new(&mut self, hasher: &impl BuildHasher, entry: Entry) {
        self.entries.push(entry);
        let entries = &self.entries;
        let pos = entries.len() - 1;
        let hash = |p: &u32| hasher.hash_one(entries[*p as usize].row.row().as_ref());
        match &mut self.by_hash {
            Some(idx) => {
                idx.insert_unique(hash(&(pos as u32)), pos as u32, hash);
            }
            None if entries.len() > INDEX_FROM => {
                let mut idx = HashTable::with_capacity(entries.len() * 2);
                for p in 0..entries.len() as u32 {
                    idx.insert_unique(hash(&p), p, hash);
                }
                self.by_hash = Some(idx);
            }
            None => {}
        }
    }

    /// Removes the entry at `pos` (the last entry takes its place).
    fn swap_remove(&mut self, hasher: &impl BuildHasher, pos: usize) {
        let last = self.entries.len() - 1;
        if let Some(idx) = self.by_hash.as_mut() {
            let hash = |p: usize| hasher.hash_one(self.entries[p].row.row().as_ref());
            if let Ok(e) = idx.find_entry(hash(pos), |p| *p as usize == pos) {
                e.remove();
            }
            if pos != last
                && let Some(p) = idx.find_mut(hash(last), |p| *p as usize == last)
            {
                *p = pos as u32;
            }
        }
        self.entries.swap_remove(pos);
    }
}

impl std::ops::Deref for Rows {
    type Target = [Entry];
    fn deref(&self) -> &[Entry] {
        &self.entries
    }
}

/// Counts and partner counts may change in place; rows may not (the index hashes them).
impl std::ops::DerefMut for Rows {
    fn deref_mut(&mut self) -> &mut [Entry] {
        &mut self.entries
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a Entry;
    type IntoIter = std::slice::Iter<'a, Entry>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// A logged change of one stored row (incremental checkpoints): its multiplicity and partner
/// count change by these amounts.
struct Change {
    side: usize,
    row: OwnedRow,
    count: i64,
    assoc: i64,
}

fn log_change(log: &mut ChangeLog<Change>, side: usize, row: Row<'_>, count: i64, assoc: i64) {
    if log.recording() {
        log.push(Change {
            side,
            row: row.owned(),
            count,
            assoc,
        });
    }
}

struct Side {
    /// 0 left, 1 right.
    index: usize,
    /// Distinct rows stored (entries of every key).
    stored: usize,
    /// Interval joins: when (watermark) each stored row stops being joinable, with its key
    /// and row, so state is cleaned without scanning it.
    expiry: BTreeMap<i64, Vec<(OwnedRow, OwnedRow)>>,
    /// Shared with snapshot conversions: rows can only be read back by the converter that
    /// made them.
    conv: Arc<RowConverter>,
    /// A row of NULLs, for padding.
    null_row: OwnedRow,
    /// The rows of each key. Shared with a snapshot being converted (see `snapshot`): every
    /// change goes through `Arc::make_mut`, which copies a key's rows while a snapshot still
    /// holds them.
    state: HashMap<OwnedRow, Arc<Rows>>,
    /// Hashes rows for [`Rows`]' index.
    hasher: DefaultHashBuilder,
    /// Last write per key, kept only with a state TTL.
    written: HashMap<OwnedRow, Instant>,
}

impl Side {
    /// Adds one occurrence of `row` under `key`; a new row starts with `assoc` partners.
    fn add(&mut self, key: OwnedRow, row: Row<'_>, assoc: i64, log: &mut ChangeLog<Change>) {
        let entries = Arc::make_mut(self.state.entry(key).or_default());
        match entries.position(&self.hasher, row) {
            Some(p) => {
                entries.entries[p].count += 1;
                log_change(log, self.index, row, 1, 0);
            }
            None => {
                entries.push_new(
                    &self.hasher,
                    Entry {
                        row: row.owned(),
                        count: 1,
                        assoc,
                    },
                );
                self.stored += 1;
                log_change(log, self.index, row, 1, assoc);
            }
        }
    }

    /// Removes one occurrence of `row` under `key` (nothing if it is not there).
    fn remove(&mut self, key: &OwnedRow, row: Row<'_>, log: &mut ChangeLog<Change>) {
        let Some(entries) = self.state.get_mut(key).map(Arc::make_mut) else {
            return;
        };
        if let Some(pos) = entries.position(&self.hasher, row) {
            let e = &mut entries.entries[pos];
            e.count -= 1;
            if e.count <= 0 {
                // Gone with its partner count: a restore summing the log must not keep it.
                log_change(log, self.index, row, -1, -e.assoc);
                entries.swap_remove(&self.hasher, pos);
                self.stored -= 1;
            } else {
                log_change(log, self.index, row, -1, 0);
            }
        }
        if entries.is_empty() {
            self.state.remove(key);
        }
    }

    /// Drops every row of `key` (state TTL).
    fn drop_key(&mut self, key: &OwnedRow, log: &mut ChangeLog<Change>) {
        if let Some(rows) = self.state.remove(key) {
            self.stored -= rows.len();
            for e in rows.iter() {
                log_change(log, self.index, e.row.row(), -e.count, -e.assoc);
            }
        }
    }

    /// Restores a stored row from state tables, adding to what earlier tables restored for
    /// it (incremental checkpoints hold signed changes). Returns false when the row's
    /// multiplicity is not positive (yet): [`Side::drop_emptied`] must run after the restore.
    fn restore_row(&mut self, key: OwnedRow, row: OwnedRow, count: i64, assoc: i64) -> bool {
        let entries = Arc::make_mut(self.state.entry(key).or_default());
        match entries.position(&self.hasher, row.row()) {
            Some(p) => {
                let e = &mut entries.entries[p];
                e.count += count;
                e.assoc += assoc;
                e.count > 0
            }
            None => {
                entries.push_new(&self.hasher, Entry { row, count, assoc });
                self.stored += 1;
                count > 0
            }
        }
    }

    /// Removes the rows whose restored changes added up to nothing.
    fn drop_emptied(&mut self) {
        let hasher = &self.hasher;
        let mut stored = 0;
        self.state.retain(|_, rows| {
            if rows.iter().any(|e| e.count <= 0) {
                let rows = Arc::make_mut(rows);
                let mut i = 0;
                while i < rows.len() {
                    if rows[i].count <= 0 {
                        rows.swap_remove(hasher, i);
                    } else {
                        i += 1;
                    }
                }
            }
            stored += rows.len();
            !rows.is_empty()
        });
        self.stored = stored;
    }
}

struct JoinOp {
    spec: StreamingJoin,
    key_conv: RowConverter,
    sides: Vec<Side>,
    last_sweep: Instant,
    /// Changes since the last checkpoint (incremental checkpoints only).
    log: ChangeLog<Change>,
}

impl JoinOp {
    /// Drops keys not written within the state TTL (lazily per key before use, and in a
    /// sweep at most once per TTL period for memory).
    fn expire(&mut self, now: Instant, keys: Option<&OwnedRow>) {
        if self.spec.state_ttl_ms == 0 {
            return;
        }
        let ttl = Duration::from_millis(self.spec.state_ttl_ms);
        let sweep = now.duration_since(self.last_sweep) >= ttl;
        let log = &mut self.log;
        for side in &mut self.sides {
            if let Some(k) = keys
                && side
                    .written
                    .get(k)
                    .is_some_and(|w| now.duration_since(*w) >= ttl)
            {
                side.written.remove(k);
                side.drop_key(k, log);
            }
            if sweep {
                let mut expired = Vec::new();
                side.written.retain(|k, w| {
                    let keep = now.duration_since(*w) < ttl;
                    if !keep {
                        expired.push(k.clone());
                    }
                    keep
                });
                for k in &expired {
                    side.drop_key(k, log);
                }
            }
        }
        if sweep {
            self.last_sweep = now;
        }
    }
}

impl JoinOp {
    /// Interval joins: the watermark after which each row of side `side` can no longer
    /// match (`None` per row without a time, or for a side without that bound).
    fn expiry_times(&self, side: usize, batch: &RecordBatch) -> Result<Option<Vec<Option<i64>>>> {
        let Some(b) = &self.spec.interval else {
            return Ok(None);
        };
        let (time, bound) = if side == 0 {
            (&b.left_time, b.lower.map(|lo| -lo))
        } else {
            (&b.right_time, b.upper)
        };
        let Some(d) = bound else {
            return Ok(None);
        };
        let n = batch.num_rows();
        let t = time.evaluate(batch)?.into_array(n)?;
        let t = crate::time::to_millis(&t, "the time attribute of an interval join")?;
        Ok(Some(
            (0..n)
                .map(|i| t.is_valid(i).then(|| t.value(i).saturating_add(d)))
                .collect(),
        ))
    }

    fn builder(&self) -> ChangeBuilder {
        ChangeBuilder::new(Arc::clone(&self.spec.schema), &self.converters(), 0)
    }

    /// The converters of the output's row parts: the left side's, and the right side's
    /// unless only left rows are emitted.
    fn converters(&self) -> Vec<&RowConverter> {
        let parts = if self.spec.kind.is_semi_or_anti() {
            1
        } else {
            2
        };
        self.sides[..parts].iter().map(|s| &*s.conv).collect()
    }

    /// Semi and anti joins (Flink's `SemiAntiJoinOperator`): only left rows are emitted; a
    /// left row remembers how many right rows match it, and is emitted (semi) or retracted
    /// (anti) when that number leaves zero, and the reverse when it returns to zero.
    fn process_semi_anti(
        &mut self,
        side: usize,
        kind: RowKind,
        row: Row<'_>,
        key: Option<OwnedRow>,
        matched: Vec<usize>,
        out: &mut ChangeBuilder,
    ) -> Result<()> {
        let semi = self.spec.kind == JoinKind::LeftSemi;
        let state_key = key
            .clone()
            .unwrap_or_else(|| self.sides[side].null_row.clone());
        if side == 0 {
            let n: i64 = match &key {
                Some(k) => self.sides[1]
                    .state
                    .get(k)
                    .map_or(0, |es| matched.iter().map(|&m| es[m].count).sum()),
                None => 0,
            };
            if (semi && n > 0) || (!semi && n == 0) {
                out.push(kind, &[row], &[]);
            }
            if kind.is_addition() {
                self.sides[0].add(state_key, row, n, &mut self.log);
            } else {
                self.sides[0].remove(&state_key, row, &mut self.log);
            }
            return Ok(());
        }
        // A right row: store it, then update the left rows it matches.
        let add = kind.is_addition();
        if add {
            self.sides[1].add(state_key, row, 0, &mut self.log);
        } else {
            self.sides[1].remove(&state_key, row, &mut self.log);
        }
        let Some(k) = &key else {
            return Ok(());
        };
        let Some(lefts) = self.sides[0].state.get_mut(k).map(Arc::make_mut) else {
            return Ok(());
        };
        let delta = if add { 1 } else { -1 };
        for &m in &matched {
            let e = &mut lefts[m];
            let before = e.assoc;
            e.assoc += delta;
            log_change(&mut self.log, 0, e.row.row(), 0, delta);
            let out_kind = match (before, e.assoc, semi) {
                (0, 1, true) | (1, 0, false) => Some(RowKind::Insert),
                (1, 0, true) | (0, 1, false) => Some(RowKind::Delete),
                _ => None,
            };
            if let Some(k) = out_kind {
                for _ in 0..e.count {
                    out.push(k, &[e.row.row()], &[]);
                }
            }
        }
        Ok(())
    }

    /// For each row of `batch` (side `side`) with its join key, the indices into the other
    /// side's entries for that key of the rows it joins with, the residual condition applied.
    ///
    /// The condition (an interval join's time bounds, any non-equi predicate) is evaluated on
    /// (row, candidate) pairs of many rows at once, up to [`PAIRS_PER_EVAL`] pairs per
    /// evaluation: per row, building arrays and calling the expression cost more than the
    /// comparison itself. Batching is right because processing rows of one side never adds or
    /// removes the other side's entries (only their partner counts change), so every row of
    /// the batch sees the same candidates it would see row by row.
    fn batch_matches(
        &self,
        side: usize,
        batch: &RecordBatch,
        keys: &[Option<OwnedRow>],
    ) -> Result<Vec<Vec<usize>>> {
        let other = &self.sides[1 - side];
        let mut out = vec![Vec::new(); keys.len()];
        let Some(filter) = &self.spec.filter else {
            for (i, k) in keys.iter().enumerate() {
                if let Some(entries) = k.as_ref().and_then(|k| other.state.get(k)) {
                    out[i] = (0..entries.len()).collect();
                }
            }
            return Ok(out);
        };
        let mut pairs = Pairs::default();
        for (i, k) in keys.iter().enumerate() {
            let Some(entries) = k.as_ref().and_then(|k| other.state.get(k)) else {
                continue;
            };
            for (m, e) in entries.iter().enumerate() {
                pairs.this.push(i as u32);
                pairs.entry.push(m as u32);
                pairs.other.push(e.row.row());
            }
            if pairs.this.len() >= PAIRS_PER_EVAL {
                self.eval_pairs(side, filter, batch, &pairs, &mut out)?;
                pairs.clear();
            }
        }
        if !pairs.this.is_empty() {
            self.eval_pairs(side, filter, batch, &pairs, &mut out)?;
        }
        Ok(out)
    }

    fn eval_pairs(
        &self,
        side: usize,
        filter: &Arc<dyn PhysicalExpr>,
        batch: &RecordBatch,
        pairs: &Pairs<'_>,
        out: &mut [Vec<usize>],
    ) -> Result<()> {
        let n = pairs.this.len();
        let idx = UInt32Array::from(pairs.this.clone());
        let this_cols = batch
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &idx, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let other_cols = self.sides[1 - side]
            .conv
            .convert_rows(pairs.other.iter().copied())?;
        let columns = if side == 0 {
            [this_cols, other_cols].concat()
        } else {
            [other_cols, this_cols].concat()
        };
        let joined = RecordBatch::try_new_with_options(
            Arc::clone(&self.spec.joined_schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?;
        let mask = filter.evaluate(&joined)?.into_array(n)?;
        let mask = null_as_false(mask.as_boolean());
        for p in 0..n {
            if mask.value(p) {
                out[pairs.this[p] as usize].push(pairs.entry[p] as usize);
            }
        }
        Ok(())
    }

    /// Pushes a joined row in output order (left, right).
    fn emit(out: &mut ChangeBuilder, side: usize, kind: RowKind, this: Row<'_>, other: Row<'_>) {
        if side == 0 {
            out.push(kind, &[this, other], &[]);
        } else {
            out.push(kind, &[other, this], &[]);
        }
    }

    fn process_row(
        &mut self,
        side: usize,
        kind: RowKind,
        row: Row<'_>,
        key: Option<OwnedRow>,
        matched: Vec<usize>,
        out: &mut ChangeBuilder,
    ) -> Result<()> {
        if self.spec.kind.is_semi_or_anti() {
            return self.process_semi_anti(side, kind, row, key, matched, out);
        }
        let this_outer = self.spec.kind.is_outer(side);
        let other_outer = self.spec.kind.is_outer(1 - side);
        let inner = self.spec.kind == JoinKind::Inner;
        // A row with a NULL key is stored under a key no lookup produces.
        let state_key = key
            .clone()
            .unwrap_or_else(|| self.sides[side].null_row.clone());
        let other_null = self.sides[1 - side].null_row.clone();
        if kind.is_addition() {
            let out_kind = if inner { kind } else { RowKind::Insert };
            if this_outer && matched.is_empty() {
                Self::emit(out, side, RowKind::Insert, row, other_null.row());
            }
            if let Some(k) = &key {
                let this_null = self.sides[side].null_row.clone();
                let other = &mut self.sides[1 - side].state;
                // Only an outer other side changes (its partner counts): an inner one is read,
                // so a snapshot in flight does not make it copy the key's rows.
                if other_outer && let Some(entries) = other.get_mut(k).map(Arc::make_mut) {
                    let null = this_null.row();
                    bump_partners(out, 1 - side, entries, &matched, 1, null, &mut self.log);
                }
                if let Some(entries) = other.get(k) {
                    for &m in &matched {
                        let e = &entries[m];
                        for _ in 0..e.count {
                            Self::emit(out, side, out_kind, row, e.row.row());
                        }
                    }
                }
            }
            let assoc: i64 = match (&key, this_outer) {
                (Some(k), true) => self.sides[1 - side]
                    .state
                    .get(k)
                    .map_or(0, |es| matched.iter().map(|&m| es[m].count).sum()),
                _ => 0,
            };
            self.sides[side].add(state_key, row, assoc, &mut self.log);
        } else {
            // Retraction: remove one occurrence from state first.
            self.sides[side].remove(&state_key, row, &mut self.log);
            let out_kind = if inner { kind } else { RowKind::Delete };
            if matched.is_empty() {
                if this_outer {
                    Self::emit(out, side, RowKind::Delete, row, other_null.row());
                }
                return Ok(());
            }
            let this_null = self.sides[side].null_row.clone();
            if let Some(k) = &key {
                let other = &mut self.sides[1 - side].state;
                if let Some(entries) = other.get(k) {
                    for &m in &matched {
                        let e = &entries[m];
                        for _ in 0..e.count {
                            Self::emit(out, side, out_kind, row, e.row.row());
                        }
                    }
                }
                // As above: only an outer other side's partner counts change.
                if other_outer && let Some(entries) = other.get_mut(k).map(Arc::make_mut) {
                    let null = this_null.row();
                    bump_partners(out, 1 - side, entries, &matched, -1, null, &mut self.log);
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for JoinOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        self.process_batch_from(0, batch, ctx).await
    }

    /// Two keyed tables, left side then right side: a row per distinct stored row with its
    /// multiplicity (`__count`), its partner count (`__assoc`) and the row's columns. Key
    /// groups are recomputed from the row's join key, as the exchange computed them.
    async fn snapshot_state(
        &mut self,
        barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<OperatorState>> {
        match self.snapshot(barrier, ctx).await? {
            Some(s) => Ok(Some(s.into_state()?)),
            None => Ok(None),
        }
    }

    /// Asynchronous: the data path only collects each key's rows (a reference count per key,
    /// no row copied); the conversion into state tables runs on the checkpoint writer's thread
    /// while the join goes on, copying a key's rows first when it changes them meanwhile.
    /// With incremental checkpoints most snapshots are the logged changes instead (see the
    /// module docs), converted the same way.
    async fn snapshot(
        &mut self,
        barrier: &Barrier,
        ctx: &mut OperatorContext,
    ) -> Result<Option<StateSnapshot>> {
        let stored = self.sides.iter().map(|s| s.stored).sum();
        let convs: Vec<Arc<RowConverter>> =
            self.sides.iter().map(|s| Arc::clone(&s.conv)).collect();
        let spec = self.spec.clone();
        let max_parallelism = ctx.max_parallelism;
        Ok(Some(StateSnapshot::Deferred(
            match self.log.plan(barrier, stored) {
                Plan::Complete(part) => {
                    let frozen: Vec<Vec<Arc<Rows>>> = self
                        .sides
                        .iter()
                        .map(|s| s.state.values().cloned().collect())
                        .collect();
                    Box::new(move || {
                        join_state(&spec, &convs, part, max_parallelism, |side| {
                            frozen[side]
                                .iter()
                                .flat_map(|r| r.iter())
                                .map(|e| (e.row.row(), e.count, e.assoc))
                        })
                    })
                }
                Plan::Changes { since, segments } => Box::new(move || {
                    let part = KeyedPart::ChangesSince(since);
                    join_state(&spec, &convs, part, max_parallelism, |side| {
                        segments
                            .iter()
                            .flat_map(|s| s.iter())
                            .filter(move |c| c.side == side)
                            .map(|c| (c.row.row(), c.count, c.assoc))
                    })
                }),
            },
        )))
    }

    /// Restores the rows of every table given (a complete snapshot, or one and the changes
    /// of incremental checkpoints after it), adding up each row's multiplicity and partner
    /// count.
    async fn restore_state(&mut self, state: OperatorState) -> Result<()> {
        for (side, t) in state.keyed.into_iter().enumerate().take(2) {
            let n = t.num_rows();
            if n == 0 {
                continue;
            }
            let schema = Arc::clone(self.spec.side_schema(side));
            let rows = RecordBatch::try_new_with_options(
                schema,
                t.columns()[3..].to_vec(),
                &RecordBatchOptions::new().with_row_count(Some(n)),
            )?;
            let counts = i64_values(state_column(&t, "__count")?)?;
            let assocs = i64_values(state_column(&t, "__assoc")?)?;
            let keys = self.spec.eval_keys(side, &rows)?;
            let key_rows = to_rows(&self.key_conv, &keys)?;
            let expire = self.expiry_times(side, &rows)?;
            let now = Instant::now();
            let null_equals_null = self.spec.null_equals_null;
            let ttl = self.spec.state_ttl_ms > 0;
            let s = &mut self.sides[side];
            let mut emptied = false;
            // Rows are converted a chunk at a time: converting the whole table first would
            // allocate a second copy of the state just to copy it again row by row.
            let mut row_conv = s.conv.empty_rows(0, 0);
            for i in 0..n {
                if i % RESTORE_CHUNK == 0 {
                    let len = RESTORE_CHUNK.min(n - i);
                    let cols: Vec<ArrayRef> =
                        rows.columns().iter().map(|c| c.slice(i, len)).collect();
                    row_conv = to_rows(&s.conv, &cols)?;
                }
                let has_null = !null_equals_null && keys.iter().any(|k| k.is_null(i));
                let key = (!has_null).then(|| key_rows.row(i).owned());
                let row = row_conv.row(i % RESTORE_CHUNK).owned();
                if let (Some(exp), Some(k)) = (&expire, &key)
                    && let Some(at) = exp[i]
                {
                    for _ in 0..counts[i] {
                        s.expiry
                            .entry(at)
                            .or_default()
                            .push((k.clone(), row.clone()));
                    }
                }
                if ttl && let Some(k) = &key {
                    s.written.insert(k.clone(), now);
                }
                let state_key = key.unwrap_or_else(|| s.null_row.clone());
                emptied |= !s.restore_row(state_key, row, counts[i], assocs[i]);
            }
            if emptied {
                s.drop_emptied();
            }
        }
        Ok(())
    }

    async fn process_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext) -> Result<()> {
        if let Watermark::EventTime(t) = wm
            && self.spec.interval.is_some()
        {
            for side in &mut self.sides {
                let keep = side.expiry.split_off(&t.saturating_add(1));
                let expired = std::mem::replace(&mut side.expiry, keep);
                for (key, row) in expired.into_values().flatten() {
                    side.remove(&key, row.row(), &mut self.log);
                }
            }
        }
        ctx.emit_watermark(wm);
        Ok(())
    }

    async fn process_batch_from(
        &mut self,
        input: usize,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> Result<()> {
        let side = input.min(1);
        let n = batch.num_rows();
        let keys = self.spec.eval_keys(side, &batch.batch)?;
        let key_rows = to_rows(&self.key_conv, &keys)?;
        let rows = to_rows(&self.sides[side].conv, batch.batch.columns())?;
        let expire = self.expiry_times(side, &batch.batch)?;
        let mut out = self.builder();
        let mut row_keys: Vec<Option<OwnedRow>> = (0..n)
            .map(|i| {
                let has_null = !self.spec.null_equals_null && keys.iter().any(|k| k.is_null(i));
                (!has_null).then(|| key_rows.row(i).owned())
            })
            .collect();
        // With a state TTL, a row's lookup may expire the other side's rows of its key first:
        // candidates are then found row by row.
        let ttl = self.spec.state_ttl_ms > 0;
        let mut matched = if ttl {
            Vec::new()
        } else {
            self.batch_matches(side, &batch.batch, &row_keys)?
        };
        for i in 0..n {
            let key = row_keys[i].take();
            let matches = if ttl {
                let now = Instant::now();
                self.expire(now, key.as_ref());
                if let Some(k) = &key {
                    self.sides[side].written.insert(k.clone(), now);
                }
                let one = std::slice::from_ref(&key);
                let row_batch = batch.batch.slice(i, 1);
                self.batch_matches(side, &row_batch, one)?.swap_remove(0)
            } else {
                std::mem::take(&mut matched[i])
            };
            if let (Some(exp), Some(k)) = (&expire, &key)
                && let Some(at) = exp[i]
                && batch.kind(i).is_addition()
            {
                self.sides[side]
                    .expiry
                    .entry(at)
                    .or_default()
                    .push((k.clone(), rows.row(i).owned()));
            }
            self.process_row(side, batch.kind(i), rows.row(i), key, matches, &mut out)?;
        }
        if let Some(b) = out.take(&self.converters())? {
            ctx.emit(b);
        }
        Ok(())
    }
}

/// The `matched` rows of outer side `side` gain (`delta` = 1) or lose (-1) a partner. A row
/// getting its first partner retracts its NULL-padded output (`-D[row, NULL…]`), one losing its
/// last emits it again (`+I`); `null` is the other side's row of NULLs.
fn bump_partners(
    out: &mut ChangeBuilder,
    side: usize,
    entries: &mut Rows,
    matched: &[usize],
    delta: i64,
    null: Row<'_>,
    log: &mut ChangeLog<Change>,
) {
    let (padded_at, kind) = if delta > 0 {
        (0, RowKind::Delete)
    } else {
        (1, RowKind::Insert)
    };
    for &m in matched {
        let e = &mut entries[m];
        if e.assoc == padded_at {
            for _ in 0..e.count {
                JoinOp::emit(out, side, kind, e.row.row(), null);
            }
        }
        e.assoc += delta;
        log_change(log, side, e.row.row(), 0, delta);
    }
}

/// The join's state: a table per side from the (row, count, partner count) triples of
/// `rows_of(side)`.
fn join_state<'a, I>(
    spec: &StreamingJoin,
    convs: &[Arc<RowConverter>],
    keyed_part: KeyedPart,
    max_parallelism: usize,
    rows_of: impl Fn(usize) -> I,
) -> Result<OperatorState>
where
    I: Iterator<Item = (Row<'a>, i64, i64)>,
{
    let keyed = (0..convs.len())
        .map(|side| side_table(spec, side, &convs[side], rows_of(side), max_parallelism))
        .collect::<Result<Vec<_>>>()?;
    Ok(OperatorState {
        keyed,
        shared: Vec::new(),
        keyed_part,
    })
}

/// One side's state table (see `JoinOp::snapshot`): per stored row (or logged change of one),
/// its multiplicity (`__count`), its partner count (`__assoc`) and the row's columns, with key
/// groups recomputed from the row's join key, as the exchange computed them.
fn side_table<'a>(
    spec: &StreamingJoin,
    side: usize,
    conv: &RowConverter,
    rows: impl Iterator<Item = (Row<'a>, i64, i64)>,
    max_parallelism: usize,
) -> Result<RecordBatch> {
    let rows: Vec<(Row<'a>, i64, i64)> = rows.collect();
    let n = rows.len();
    let cols = conv.convert_rows(rows.iter().map(|r| r.0))?;
    let counts = rows.iter().map(|r| r.1).collect();
    let assocs = rows.iter().map(|r| r.2).collect();
    let schema = spec.side_schema(side);
    let rows = RecordBatch::try_new_with_options(
        Arc::clone(schema),
        cols.clone(),
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )?;
    let keys = spec.eval_keys(side, &rows)?;
    let mut table = vec![
        (KG.to_string(), key_group_array(&keys, n, max_parallelism)?),
        ("__count".to_string(), i64_column(counts)),
        ("__assoc".to_string(), i64_column(assocs)),
    ];
    table.extend(
        schema
            .fields()
            .iter()
            .zip(cols)
            .map(|(f, c)| (f.name().clone(), c)),
    );
    state_table(table, n)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::datatypes::DataType;

    use super::*;

    /// An empty side of one BIGINT column, and the rows of the values 0..100.
    fn int_side() -> (Side, datafusion::arrow::row::Rows) {
        let conv = Arc::new(converter([DataType::Int64]).unwrap());
        let values: ArrayRef = Arc::new(Int64Array::from_iter_values(0..100));
        let rows = to_rows(&conv, &[values]).unwrap();
        let side = Side {
            index: 0,
            stored: 0,
            expiry: BTreeMap::new(),
            conv,
            null_row: rows.row(0).owned(),
            state: HashMap::new(),
            hasher: Default::default(),
            written: HashMap::new(),
        };
        (side, rows)
    }

    /// What a snapshot holds: every (row, count) of the frozen view, sorted.
    fn contents(rows_of_keys: &[Arc<Rows>]) -> Vec<(Vec<u8>, i64)> {
        let mut v: Vec<(Vec<u8>, i64)> = rows_of_keys
            .iter()
            .flat_map(|r| r.iter())
            .map(|e| (e.row.row().as_ref().to_vec(), e.count))
            .collect();
        v.sort();
        v
    }

    /// An asynchronous snapshot's frozen view stays as of the barrier while the join goes on:
    /// rows added under a frozen key, retractions, count changes and removed keys after it
    /// copy the key's rows first (`Arc::make_mut`), and leave the view alone.
    #[test]
    fn a_frozen_snapshot_view_does_not_see_later_changes() {
        let (mut side, rows) = int_side();
        let mut log = ChangeLog::default();
        let (hot, small) = (rows.row(0).owned(), rows.row(1).owned());
        // The hot key holds enough rows for its hash index; the small one three.
        for i in 0..40 {
            side.add(hot.clone(), rows.row(i), 0, &mut log);
        }
        for i in 50..53 {
            side.add(small.clone(), rows.row(i), 0, &mut log);
        }
        let frozen: Vec<Arc<Rows>> = side.state.values().cloned().collect();
        let at_barrier = contents(&frozen);

        side.add(hot.clone(), rows.row(90), 0, &mut log); // a new row under a frozen key
        side.add(hot.clone(), rows.row(3), 0, &mut log); // a count goes up
        side.remove(&hot, rows.row(7), &mut log); // a row goes
        for i in 50..53 {
            side.remove(&small, rows.row(i), &mut log); // the key goes
        }
        assert_eq!(contents(&frozen), at_barrier);
        assert_eq!(at_barrier.len(), 43);
        let live = contents(&side.state.values().cloned().collect::<Vec<_>>());
        assert_eq!(live.len(), 40, "40 hot rows: one added, one removed");
        assert!(live.contains(&(rows.row(3).as_ref().to_vec(), 2)));
        assert!(!live.iter().any(|(r, _)| r == rows.row(7).as_ref()));
        // Once the snapshot is done, changes are in place again (no copy).
        drop(frozen);
        let before = Arc::as_ptr(&side.state[&hot]);
        side.add(hot.clone(), rows.row(91), 0, &mut log);
        assert_eq!(Arc::as_ptr(&side.state[&hot]), before);
    }

    /// Adding and retracting rows under one hot key, past the size where the hash index is
    /// built, keeps every row's count right (the index follows `swap_remove`'s moves).
    #[test]
    fn a_hot_key_keeps_exact_counts_through_the_index() {
        let (mut side, rows) = int_side();
        let mut log = ChangeLog::default();
        let key = rows.row(0).owned();
        // Rows 0..100 once each, rows 0..50 a second time.
        for i in (0..100).chain(0..50) {
            side.add(key.clone(), rows.row(i), 0, &mut log);
        }
        // Retract every odd row once: odd rows < 50 stay with count 1, odd rows >= 50 go.
        for i in (1..100).step_by(2) {
            side.remove(&key, rows.row(i), &mut log);
        }
        let stored = &side.state[&key];
        assert!(stored.by_hash.is_some(), "a key this size is indexed");
        for i in 0..100 {
            let expected = match (i % 2, i < 50) {
                (0, true) => Some(2),
                (0, false) | (1, true) => Some(1),
                _ => None,
            };
            let got = stored
                .position(&side.hasher, rows.row(i))
                .map(|p| stored[p].count);
            assert_eq!(got, expected, "row {i}");
        }
        assert_eq!(stored.len(), 75);
    }

    /// Incremental checkpoints: a snapshot of the state plus the changes logged after it,
    /// restored by adding up each row's amounts, give the live state back — for added rows,
    /// count changes, rows and keys removed, and keys dropped whole (state TTL).
    #[test]
    fn a_base_snapshot_plus_the_logged_changes_restores_the_live_state() {
        use crate::checkpoint::{BarrierKind, Increment};
        let barrier = |id, increment| Barrier {
            id,
            timestamp_ms: 0,
            kind: BarrierKind::Checkpoint,
            increment,
        };
        let (mut side, rows) = int_side();
        let mut log = ChangeLog::default();
        let keys: Vec<OwnedRow> = (0..5).map(|k| rows.row(k).owned()).collect();
        for i in 0..60 {
            side.add(keys[i % 5].clone(), rows.row(i), i as i64 % 3, &mut log);
        }
        assert!(matches!(
            log.plan(&barrier(1, Increment::Start), side.stored),
            Plan::Complete(KeyedPart::Base)
        ));
        // Every stored row with its key, sorted.
        let dump = |s: &Side| {
            let mut v: Vec<(OwnedRow, OwnedRow, i64, i64)> = s
                .state
                .iter()
                .flat_map(|(k, r)| {
                    r.iter()
                        .map(|e| (k.clone(), e.row.clone(), e.count, e.assoc))
                })
                .collect();
            v.sort_by(|a, b| (a.0.row(), a.1.row()).cmp(&(b.0.row(), b.1.row())));
            v
        };
        let base = dump(&side);
        side.add(keys[0].clone(), rows.row(0), 0, &mut log); // a count goes up
        side.add(keys[0].clone(), rows.row(70), 4, &mut log); // a new row
        side.remove(&keys[1], rows.row(1), &mut log); // a row goes (with its partner count)
        side.remove(&keys[2], rows.row(8), &mut log); // not under that key: nothing
        side.drop_key(&keys[3], &mut log); // a whole key goes
        side.add(keys[3].clone(), rows.row(3), 9, &mut log); // and one of its rows comes back
        let Plan::Changes { since, segments } =
            log.plan(&barrier(2, Increment::Since(1)), side.stored)
        else {
            panic!("a delta is expected")
        };
        assert_eq!(since, 1);
        let (mut restored, _) = int_side();
        let mut emptied = false;
        for (k, r, c, a) in base {
            emptied |= !restored.restore_row(k, r, c, a);
        }
        // As a restore does, the key is recomputed from the row (here: value % 5).
        let value: HashMap<OwnedRow, usize> = (0..100).map(|i| (rows.row(i).owned(), i)).collect();
        for c in segments.iter().flat_map(|s| s.iter()) {
            let key = keys[value[&c.row] % 5].clone();
            emptied |= !restored.restore_row(key, c.row.clone(), c.count, c.assoc);
        }
        assert!(emptied, "row 1 was removed");
        restored.drop_emptied();
        assert_eq!(dump(&restored), dump(&side));
        assert_eq!(restored.stored, side.stored);
        assert_eq!(side.stored, 60 + 1 - 1 - 12 + 1);
    }
}
