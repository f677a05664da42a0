//! DataFusion logical plans → the runtime's [`JobGraph`].
//!
//! DataFusion resolves names, types and expressions; this module decides how the plan runs
//! as a stream: which operators are chained into one task, where records are re-partitioned
//! by key, and which stateful operator implements each aggregation. Anything we cannot run
//! with Flink's semantics is rejected here with "not supported yet", never planned into
//! something that would give a different answer.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column as PhysColumn;
// The builder that replaces this helper needs the whole physical planner; the helper is
// exactly the lowering one aggregate call needs.
#[allow(deprecated)]
use datafusion::physical_planner::create_aggregate_expr_and_maybe_filter;
use stc_runtime::ops::calc::Calc;
use stc_runtime::ops::collect::ValuesSource;
use stc_runtime::ops::group_agg::{GroupAggregate, MiniBatch};
use stc_runtime::ops::join::{IntervalBounds, JoinKind, StreamingJoin};
use stc_runtime::ops::lookup_join::LookupJoin;
use stc_runtime::ops::normalize::ChangelogNormalize;
use stc_runtime::ops::over::{OverAggregate, OverFrame};
use stc_runtime::ops::rank::{SortKey, TopN};
use stc_runtime::ops::temporal_join::TemporalJoin;
use stc_runtime::ops::window::{
    AggregateSpec, AggregationSpec, OutputColumn, ProctimeSessionWindowAggregate,
    ProctimeWindowAggregate, SessionWindowAggregate, WindowAggregate, WindowAssigner, WindowKind,
};
use stc_runtime::ops::window_join::WindowJoin;
use stc_runtime::ops::window_rank::WindowTopN;
use stc_runtime::{JobGraph, NodeId, NodeSpec, OperatorFactory, Partitioning, SourceSpec};

use crate::catalog::{CatalogEntry, ResolvedColumn, StcTableSource};
use crate::context::{TemporalTableNode, TvfKind, WindowTvfNode};
use crate::error::{Result, SqlError};

/// Where a translated sub-plan's output is: the end of a node's operator chain, or several
/// (a `UNION ALL`).
#[derive(Debug, Clone)]
pub enum Stream {
    Node(NodeId),
    Union(Vec<Stream>),
}

impl Stream {
    fn leaves(&self, out: &mut Vec<NodeId>) {
        match self {
            Stream::Node(n) => out.push(*n),
            Stream::Union(v) => v.iter().for_each(|s| s.leaves(out)),
        }
    }
}

pub struct Translator {
    pub state: SessionState,
    pub graph: JobGraph,
    pub parallelism: usize,
    pub idle_timeout_ms: u64,
    pub time_zone: String,
    /// Nodes whose output is an updating changelog (rows may be updated or deleted), with
    /// the operator that made it so (named in errors, as Flink does).
    pub updating: HashMap<NodeId, String>,
    /// `ROW_NUMBER()` columns (by output name) filtered to `rn <= N` above their window.
    pub rank_limits: HashMap<String, usize>,
    /// `table.exec.state.ttl` in ms (0 = keep state forever).
    pub state_ttl_ms: u64,
    /// `table.exec.mini-batch.*` when enabled (used by GROUP BY).
    pub mini_batch: Option<MiniBatch>,
    /// Tables the statement being translated reads more than once (see
    /// [`Translator::prepare_source_reuse`]), by name.
    pub shared_scans: HashMap<String, SharedScan>,
}

/// A table read once for several scans of one statement (Flink's source reuse,
/// `table.optimizer.reuse-source-enabled`, on by default): a self-join such as Nexmark's
/// auctions joined with bids, both views of one `nexmark` table, would otherwise generate,
/// fetch or decode every event once per scan.
#[derive(Debug, Default)]
pub struct SharedScan {
    /// The columns every scan needs together (table column indices, ascending); `None`:
    /// all of them.
    projection: Option<Vec<usize>>,
    /// The source node, once the first scan made it.
    node: Option<NodeId>,
}

fn unsupported(what: impl Into<String>) -> SqlError {
    SqlError::unsupported(0, None, what)
}

fn df(e: datafusion::error::DataFusionError) -> SqlError {
    crate::script::from_datafusion(e, 0, None)
}

impl Translator {
    /// The operator that makes `s` an updating stream, if it is one.
    pub fn updating_origin(&self, s: &Stream) -> Option<String> {
        let mut leaves = Vec::new();
        s.leaves(&mut leaves);
        leaves.iter().find_map(|n| self.updating.get(n).cloned())
    }

    /// Every expression that runs in the job passes here, so Flink-specific evaluation rules
    /// that need the input schema are applied here once.
    fn physical(&self, e: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        let e = flink_casts(e.clone(), schema)?;
        self.state.create_physical_expr(e, schema).map_err(df)
    }

    fn push(&mut self, s: &Stream, op: Arc<dyn OperatorFactory>) {
        let mut leaves = Vec::new();
        s.leaves(&mut leaves);
        for n in leaves {
            self.graph.push_operator(n, Arc::clone(&op));
        }
    }

    fn push_assigner(
        &mut self,
        s: &Stream,
        time: Arc<dyn PhysicalExpr>,
        kind: WindowKind,
        schema: SchemaRef,
    ) {
        let name = format!("WindowAssigner({kind:?})");
        self.push(
            s,
            Arc::new(WindowAssigner {
                name,
                time,
                kind,
                schema,
            }),
        );
    }

    /// A new node fed by every leaf of `s`.
    fn exchange(
        &mut self,
        s: &Stream,
        name: String,
        parallelism: usize,
        partitioning: Partitioning,
    ) -> NodeId {
        let id = self.graph.add_node(NodeSpec {
            name,
            parallelism,
            source: None,
            operators: vec![],
        });
        self.connect_input(s, id, &partitioning, 0);
        id
    }

    /// Connects every leaf of `s` to input `input` of node `id`; `id` becomes updating if
    /// `s` is.
    fn connect_input(&mut self, s: &Stream, id: NodeId, partitioning: &Partitioning, input: usize) {
        if let Some(origin) = self.updating_origin(s) {
            self.updating.entry(id).or_insert(origin);
        }
        let parallelism = self.graph.nodes[id].parallelism;
        let mut leaves = Vec::new();
        s.leaves(&mut leaves);
        for leaf in leaves {
            let updating = self.updating.contains_key(&leaf);
            let p = match (
                partitioning,
                self.graph.nodes[leaf].parallelism == parallelism,
            ) {
                // Round-robin would reorder the changes of one key.
                (Partitioning::Forward, false) if updating && parallelism == 1 => {
                    Partitioning::Single
                }
                (Partitioning::Forward, false) => Partitioning::Rebalance,
                (p, _) => p.clone(),
            };
            self.graph.connect_input(leaf, id, p, input);
        }
    }

    /// Appends a sink: chained into the producing node when there is one, otherwise into a
    /// node fed by every branch of the union.
    pub fn attach_sink(
        &mut self,
        s: &Stream,
        sink: Arc<dyn OperatorFactory>,
        parallelism: Option<usize>,
    ) {
        match (s, parallelism) {
            (Stream::Node(n), None) => self.graph.push_operator(*n, sink),
            (Stream::Node(n), Some(p)) if self.graph.nodes[*n].parallelism == p => {
                self.graph.push_operator(*n, sink)
            }
            _ => {
                let p = parallelism.unwrap_or(self.parallelism);
                let part = if p == 1 {
                    Partitioning::Single
                } else {
                    Partitioning::Forward
                };
                let id = self.exchange(s, format!("Sink: {}", sink.name()), p, part);
                self.graph.push_operator(id, sink);
            }
        }
    }

    /// Casts a query's output to a sink's column types (positionally).
    pub fn cast_to(&mut self, s: &Stream, from: &DFSchema, to: &Schema) -> Result<()> {
        let same = from
            .fields()
            .iter()
            .zip(to.fields())
            .all(|(a, b)| a.data_type() == b.data_type());
        if same {
            return Ok(());
        }
        let exprs = from
            .columns()
            .into_iter()
            .zip(to.fields())
            .map(|(c, f)| {
                let e = Expr::Column(c);
                let e = if e.get_type(from).map_err(df)? == *f.data_type() {
                    e
                } else {
                    Expr::Cast(datafusion::logical_expr::Cast::new(
                        Box::new(e),
                        f.data_type().clone(),
                    ))
                };
                self.physical(&e, from)
            })
            .collect::<Result<Vec<_>>>()?;
        self.push(
            s,
            Arc::new(Calc {
                name: "Cast".into(),
                predicate: None,
                projection: Some((exprs, Arc::new(to.clone()))),
            }),
        );
        Ok(())
    }

    pub fn translate(&mut self, plan: &LogicalPlan) -> Result<Stream> {
        match plan {
            LogicalPlan::Projection(p) => {
                let s = self.translate(&p.input)?;
                let exprs = p
                    .expr
                    .iter()
                    .map(|e| self.physical(e, p.input.schema()))
                    .collect::<Result<Vec<_>>>()?;
                let schema = Arc::new(p.schema.as_arrow().clone());
                self.push(
                    &s,
                    Arc::new(Calc {
                        name: "Calc(project)".into(),
                        predicate: None,
                        projection: Some((exprs, schema)),
                    }),
                );
                Ok(s)
            }
            LogicalPlan::Filter(f) => {
                if let Some((name, limit)) = rank_filter(&f.predicate, &f.input) {
                    self.rank_limits.insert(name, limit);
                }
                let s = self.translate(&f.input)?;
                let pred = self.physical(&f.predicate, f.input.schema())?;
                self.push(
                    &s,
                    Arc::new(Calc {
                        name: format!("Calc(where {})", f.predicate),
                        predicate: Some(pred),
                        projection: None,
                    }),
                );
                Ok(s)
            }
            LogicalPlan::SubqueryAlias(a) => self.translate(&a.input),
            LogicalPlan::TableScan(scan) => self.table_scan(scan),
            LogicalPlan::Union(u) => {
                let inputs = u
                    .inputs
                    .iter()
                    .map(|i| self.translate(i))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Stream::Union(inputs))
            }
            LogicalPlan::Aggregate(a) => self.aggregate(a),
            LogicalPlan::Extension(ext) => {
                if ext.node.as_any().is::<TemporalTableNode>() {
                    return Err(unsupported(
                        "FOR SYSTEM_TIME AS OF outside a join; a temporal table is the right side of a JOIN",
                    ));
                }
                let Some(tvf) = ext.node.as_any().downcast_ref::<WindowTvfNode>() else {
                    return Err(unsupported(format!("the plan node {}", ext.node.name())));
                };
                let s = self.translate(&tvf.input)?;
                let schema = Arc::new(tvf.schema.as_arrow().clone());
                let time: Arc<dyn PhysicalExpr> = Arc::new(PhysColumn::new(
                    tvf.input.schema().field(tvf.time_column).name(),
                    tvf.time_column,
                ));
                let kind = match tvf.kind {
                    TvfKind::Tumble { size, offset } => WindowKind::Tumble { size, offset },
                    TvfKind::Hop {
                        slide,
                        size,
                        offset,
                    } => WindowKind::Hop {
                        slide,
                        size,
                        offset,
                    },
                    TvfKind::Cumulate { step, size, offset } => {
                        WindowKind::Cumulate { step, size, offset }
                    }
                    TvfKind::Session { .. } => {
                        // Session windows only exist together with their aggregation (see
                        // `aggregate`); until then the window columns carry the row's time,
                        // which the session aggregation reads from its window_start key (the
                        // time column itself may be pruned before the aggregation).
                        let n = tvf.input.schema().fields().len();
                        let mut exprs: Vec<Arc<dyn PhysicalExpr>> = (0..n)
                            .map(|i| {
                                Arc::new(PhysColumn::new(tvf.input.schema().field(i).name(), i))
                                    as Arc<dyn PhysicalExpr>
                            })
                            .collect();
                        for _ in n..n + 3 {
                            exprs.push(Arc::clone(&time));
                        }
                        self.push(
                            &s,
                            Arc::new(Calc {
                                name: "SessionWindowColumns".into(),
                                predicate: None,
                                projection: Some((exprs, schema)),
                            }),
                        );
                        return Ok(s);
                    }
                };
                self.push_assigner(&s, time, kind, schema);
                Ok(s)
            }
            LogicalPlan::Values(v) => {
                let schema = Arc::new(v.schema.as_arrow().clone());
                let empty = DFSchema::empty();
                let mut columns: Vec<ArrayRef> = Vec::new();
                for (c, field) in schema.fields().iter().enumerate() {
                    let vals = v
                        .values
                        .iter()
                        .map(|row| {
                            let e = self.physical(&row[c], &empty)?;
                            let one = RecordBatch::try_new_with_options(
                                Arc::new(Schema::empty()),
                                vec![],
                                &RecordBatchOptions::new().with_row_count(Some(1)),
                            )
                            .map_err(|e| SqlError::internal(e.to_string()))?;
                            let arr = e.evaluate(&one).and_then(|v| v.into_array(1)).map_err(df)?;
                            ScalarValue::try_from_array(&arr, 0).map_err(df)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let arr = if vals.is_empty() {
                        new_null_array(field.data_type(), 0)
                    } else {
                        ScalarValue::iter_to_array(vals).map_err(df)?
                    };
                    let arr = if arr.data_type() != field.data_type() {
                        datafusion::arrow::compute::cast(&arr, field.data_type())
                            .map_err(|e| SqlError::internal(e.to_string()))?
                    } else {
                        arr
                    };
                    columns.push(arr);
                }
                let batch = RecordBatch::try_new_with_options(
                    Arc::clone(&schema),
                    columns,
                    &RecordBatchOptions::new().with_row_count(Some(v.values.len())),
                )
                .map_err(|e| SqlError::internal(e.to_string()))?;
                Ok(self.values_source(batch))
            }
            LogicalPlan::EmptyRelation(e) => {
                let schema = Arc::new(e.schema.as_arrow().clone());
                let rows = usize::from(e.produce_one_row);
                let batch = RecordBatch::try_new_with_options(
                    Arc::clone(&schema),
                    schema
                        .fields()
                        .iter()
                        .map(|f| new_null_array(f.data_type(), rows))
                        .collect(),
                    &RecordBatchOptions::new().with_row_count(Some(rows)),
                )
                .map_err(|e| SqlError::internal(e.to_string()))?;
                Ok(self.values_source(batch))
            }
            LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(input)) => {
                // SELECT DISTINCT is a GROUP BY over every column with no aggregates.
                let keys: Vec<Expr> = input
                    .schema()
                    .columns()
                    .into_iter()
                    .map(Expr::Column)
                    .collect();
                let agg =
                    datafusion::logical_expr::Aggregate::try_new(Arc::clone(input), keys, vec![])
                        .map_err(df)?;
                self.group_aggregate(&agg)
            }
            LogicalPlan::Distinct(_) => Err(unsupported("DISTINCT ON")),
            LogicalPlan::Join(j) => self.join(j),
            LogicalPlan::Window(w) => self.window(w),
            LogicalPlan::Sort(_) => Err(unsupported("ORDER BY on a stream")),
            LogicalPlan::Limit(_) => Err(unsupported("LIMIT on a stream")),
            LogicalPlan::Unnest(_) => Err(unsupported("UNNEST / CROSS JOIN UNNEST")),
            other => Err(unsupported(format!(
                "the query construct '{}'",
                other.display()
            ))),
        }
    }

    fn values_source(&mut self, batch: RecordBatch) -> Stream {
        let schema = batch.schema();
        let spec = SourceSpec {
            table: "VALUES".into(),
            factory: Arc::new(ValuesSource { batch }),
            row_exprs: schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| Arc::new(PhysColumn::new(f.name(), i)) as Arc<dyn PhysicalExpr>)
                .collect(),
            table_schema: schema,
            watermark_expr: None,
            projection: None,
            idle_timeout_ms: 0,
            batch_delay_ms: 0,
        };
        let id = self.graph.add_node(NodeSpec {
            name: "Source: VALUES".into(),
            parallelism: 1,
            source: Some(spec),
            operators: vec![],
        });
        Stream::Node(id)
    }

    /// Finds the tables `plan` scans more than once; [`Translator::translate`] then gives
    /// each one source node whose rows every scan of it reads (through a forward edge, then
    /// its own projection and filters). Upsert and changelog tables are not shared: their
    /// scans normalise by key from the source on.
    pub fn prepare_source_reuse(&mut self, plan: &LogicalPlan) {
        use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
        let mut scans: HashMap<String, Vec<Option<Vec<usize>>>> = HashMap::new();
        let _ = plan.apply(|p| {
            if let LogicalPlan::TableScan(scan) = p
                && let Some(src) = scan.source.downcast_ref::<StcTableSource>()
                && let CatalogEntry::Table(t) = &src.entry
            {
                scans
                    .entry(t.name.clone())
                    .or_default()
                    .push(scan.projection.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        });
        self.shared_scans = scans
            .into_iter()
            .filter(|(_, p)| p.len() > 1)
            .map(|(name, projections)| {
                let projection = projections
                    .into_iter()
                    .collect::<Option<Vec<Vec<usize>>>>()
                    .map(|all| {
                        let mut union: Vec<usize> = all.into_iter().flatten().collect();
                        union.sort_unstable();
                        union.dedup();
                        union
                    });
                (
                    name,
                    SharedScan {
                        projection,
                        node: None,
                    },
                )
            })
            .collect();
    }

    fn table_scan(&mut self, scan: &datafusion::logical_expr::TableScan) -> Result<Stream> {
        let Some(src) = scan.source.downcast_ref::<StcTableSource>() else {
            return Err(SqlError::internal(format!(
                "table '{}' has no StreamCompute source",
                scan.table_name
            )));
        };
        let CatalogEntry::Table(t) = &src.entry else {
            return Err(SqlError::internal("a view was not inlined"));
        };
        let table = crate::script::connector_table(t.as_ref(), &self.time_zone);
        let factory = stc_connectors::create_source(&table).map_err(|e| {
            SqlError::validation(
                t.statement,
                Some(t.location),
                format!("table '{}': {e}", t.name),
            )
        })?;
        let reader_df = DFSchema::try_from(t.reader_schema.as_ref().clone()).map_err(df)?;
        let row_exprs = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                ResolvedColumn::Physical(r)
                | ResolvedColumn::Metadata {
                    reader_index: r, ..
                } => Ok(Arc::new(PhysColumn::new(t.schema.field(i).name(), *r))
                    as Arc<dyn PhysicalExpr>),
                ResolvedColumn::Computed(e) => self.physical(e, &reader_df),
            })
            .collect::<Result<Vec<_>>>()?;
        let full_df = DFSchema::try_from(t.schema.as_ref().clone()).map_err(df)?;
        let watermark_expr = match &t.watermark {
            None => None,
            Some((_, e)) => Some(self.physical(e, &full_df)?),
        };
        let upsert_key = factory.upsert_key();
        let changelog = factory.produces_changelog();
        // A table this statement reads more than once: its source node, once made, and the
        // columns it reads for all scans.
        let reuse = (upsert_key.is_none() && !changelog)
            .then(|| self.shared_scans.get(&t.name))
            .flatten()
            .map(|r| (r.node, r.projection.clone()));
        if let Some((Some(node), read)) = reuse {
            return self.shared_scan(node, read, t.as_ref(), scan);
        }
        let spec = SourceSpec {
            table: t.name.clone(),
            factory,
            row_exprs,
            table_schema: Arc::clone(&t.schema),
            watermark_expr,
            projection: match (&reuse, &upsert_key) {
                (Some((_, read)), _) => read.clone(),
                // An upsert table's rows are normalized by key first, on whole rows (a
                // tombstone's other columns are filled in from state there).
                (None, Some(_)) => None,
                (None, None) => scan.projection.clone(),
            },
            idle_timeout_ms: self.idle_timeout_ms,
            batch_delay_ms: 0,
        };
        let id = self.graph.add_node(NodeSpec {
            name: format!("Source: {}", t.name),
            parallelism: self.parallelism,
            source: Some(spec),
            operators: vec![],
        });
        if let Some((_, read)) = reuse {
            if let Some(r) = self.shared_scans.get_mut(&t.name) {
                r.node = Some(id);
            }
            return self.shared_scan(id, read, t.as_ref(), scan);
        }
        if changelog {
            // A changelog format (debezium-json, …) makes the table an updating input, as in
            // Flink: aggregations over it retract, append-only sinks and windows reject it.
            self.updating.insert(
                id,
                format!(
                    "TableSourceScan(table=[[default_catalog, default_database, {}]], fields=[{}])",
                    t.name,
                    t.schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        let mut s = Stream::Node(id);
        if let Some(keys) = upsert_key {
            s = self.changelog_normalize(s, t.as_ref(), &keys, scan)?;
        }
        self.scan_filters(&s, scan)?;
        Ok(s)
    }

    /// One scan of a shared source `node` that reads the table columns `read` (`None`:
    /// all): a node of its own behind a forward edge, projecting them to the scan's columns,
    /// then the scan's filters.
    fn shared_scan(
        &mut self,
        node: NodeId,
        read: Option<Vec<usize>>,
        t: &crate::catalog::ResolvedTable,
        scan: &datafusion::logical_expr::TableScan,
    ) -> Result<Stream> {
        let id = self.exchange(
            &Stream::Node(node),
            format!("Scan: {}", t.name),
            self.parallelism,
            Partitioning::Forward,
        );
        let s = Stream::Node(id);
        if read != scan.projection {
            let wanted = scan
                .projection
                .clone()
                .unwrap_or_else(|| (0..t.schema.fields().len()).collect());
            let exprs = wanted
                .iter()
                .map(|&c| {
                    let at = match &read {
                        Some(cols) => cols.iter().position(|&x| x == c),
                        None => Some(c),
                    }
                    .ok_or_else(|| {
                        SqlError::internal(format!(
                            "column {c} of '{}' is not read by its shared source",
                            t.name
                        ))
                    })?;
                    Ok(Arc::new(PhysColumn::new(t.schema.field(c).name(), at))
                        as Arc<dyn PhysicalExpr>)
                })
                .collect::<Result<Vec<_>>>()?;
            self.push(
                &s,
                Arc::new(Calc {
                    name: "Calc(project)".into(),
                    predicate: None,
                    projection: Some((exprs, Arc::new(scan.projected_schema.as_arrow().clone()))),
                }),
            );
        }
        self.scan_filters(&s, scan)?;
        Ok(s)
    }

    /// The filters pushed into `scan`, applied after its rows are read.
    fn scan_filters(
        &mut self,
        s: &Stream,
        scan: &datafusion::logical_expr::TableScan,
    ) -> Result<()> {
        if let Some(pred) = datafusion::logical_expr::utils::conjunction(scan.filters.clone()) {
            let p = self.physical(&pred, &scan.projected_schema)?;
            self.push(
                s,
                Arc::new(Calc {
                    name: "Calc(where)".into(),
                    predicate: Some(p),
                    projection: None,
                }),
            );
        }
        Ok(())
    }

    /// Flink's `ChangelogNormalize` after an upsert source: rows are routed by the upsert
    /// key to an operator that keeps each key's last row (see
    /// `stc_runtime::ops::normalize`), then projected to the columns the query reads.
    fn changelog_normalize(
        &mut self,
        s: Stream,
        t: &crate::catalog::ResolvedTable,
        keys: &[String],
        scan: &datafusion::logical_expr::TableScan,
    ) -> Result<Stream> {
        let key_exprs = keys
            .iter()
            .map(|k| {
                let i = t.schema.index_of(k).map_err(|e| {
                    SqlError::internal(format!("upsert key '{k}' of table '{}': {e}", t.name))
                })?;
                Ok(Arc::new(PhysColumn::new(k, i)) as Arc<dyn PhysicalExpr>)
            })
            .collect::<Result<Vec<_>>>()?;
        let name = format!("ChangelogNormalize(key=[{}])", keys.join(", "));
        let id = self.exchange(
            &s,
            name.clone(),
            self.parallelism,
            Partitioning::Hash(key_exprs.clone()),
        );
        self.graph.push_operator(
            id,
            Arc::new(ChangelogNormalize {
                name: name.clone(),
                keys: key_exprs,
                schema: Arc::clone(&t.schema),
                state_ttl_ms: self.state_ttl_ms,
            }),
        );
        self.updating.insert(id, name);
        let s = Stream::Node(id);
        if let Some(p) = &scan.projection {
            let exprs = p
                .iter()
                .map(|i| {
                    Arc::new(PhysColumn::new(t.schema.field(*i).name(), *i))
                        as Arc<dyn PhysicalExpr>
                })
                .collect();
            self.push(
                &s,
                Arc::new(Calc {
                    name: "Calc(select)".into(),
                    predicate: None,
                    projection: Some((exprs, Arc::new(scan.projected_schema.as_arrow().clone()))),
                }),
            );
        }
        Ok(s)
    }

    fn aggregate(&mut self, a: &datafusion::logical_expr::Aggregate) -> Result<Stream> {
        let input_df = a.input.schema().as_ref().clone();
        let input_arrow = input_df.as_arrow().clone();
        let groups = match a.group_expr.as_slice() {
            [Expr::GroupingSet(_)] => return Err(unsupported("GROUPING SETS, CUBE and ROLLUP")),
            g => g.to_vec(),
        };
        // Legacy group window: a call of tumble/hop/session among the group keys.
        let legacy = groups.iter().enumerate().find_map(|(i, g)| match g {
            Expr::ScalarFunction(f) if ["tumble", "hop", "session"].contains(&f.name()) => {
                Some((i, f.clone()))
            }
            _ => None,
        });
        let is_col = |g: &Expr, name: &str| matches!(g, Expr::Column(c) if c.name == name);
        let tvf_start = groups.iter().position(|g| is_col(g, "window_start"));
        let tvf_end = groups.iter().position(|g| is_col(g, "window_end"));
        let session_tvf = find_session_tvf(&a.input);

        let mut output = Vec::new();
        let mut key_exprs = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            if legacy.as_ref().is_some_and(|(w, _)| *w == i) {
                output.push(OutputColumn::WindowStruct);
            } else if legacy.is_none() && Some(i) == tvf_start {
                output.push(OutputColumn::WindowStart);
            } else if legacy.is_none() && Some(i) == tvf_end {
                output.push(OutputColumn::WindowEnd);
            } else if session_tvf.is_some() && is_col(g, "window_time") {
                output.push(OutputColumn::WindowTime);
            } else {
                output.push(OutputColumn::Key(key_exprs.len()));
                key_exprs.push(g.clone());
            }
        }
        let windowed =
            legacy.is_some() || session_tvf.is_some() || (tvf_start.is_some() && tvf_end.is_some());
        if !windowed {
            return self.group_aggregate(a);
        }
        let agg = self.aggregation_spec(a, &key_exprs, output)?;
        let keys = agg.keys.clone();
        let (parallelism, partitioning) = if keys.is_empty() {
            (1, Partitioning::Single)
        } else {
            (self.parallelism, Partitioning::Hash(keys))
        };

        let s = self.translate(&a.input)?;
        if let Some(origin) = self.updating_origin(&s) {
            return Err(SqlError::validation(
                0,
                None,
                format!(
                    "window aggregation doesn't support consuming update and delete changes which is produced by node {origin}"
                ),
            ));
        }
        let n_input = input_arrow.fields().len();
        // A window over a PROCTIME() column fires on the wall clock (the time argument of a
        // legacy window, or the window_start key of a TVF, carries the proctime mark).
        let proctime = {
            let time_key = match (&legacy, tvf_start) {
                (Some((_, f)), _) => f.args.first(),
                (None, Some(i)) => groups.get(i),
                _ => None,
            };
            match time_key {
                Some(e) => crate::types::is_proctime(e.to_field(&input_df).map_err(df)?.1.as_ref()),
                None => false,
            }
        };
        let op: Arc<dyn OperatorFactory> = if let Some((_, f)) = legacy {
            let args = &f.args;
            let time = self.physical(&args[0], &input_df)?;
            let ts_type = args[0].get_type(&input_df).map_err(df)?;
            let ms = |e: &Expr, what: &str| interval_literal_ms(e, what, f.name());
            match f.name() {
                "session" => session_op(
                    SessionWindowAggregate {
                        name: "SessionWindowAggregate".into(),
                        time,
                        gap: ms(&args[1], "gap")?,
                        agg,
                    },
                    proctime,
                ),
                name => {
                    let kind = if name == "tumble" {
                        WindowKind::Tumble {
                            size: ms(&args[1], "size")?,
                            offset: if args.len() > 2 {
                                ms(&args[2], "offset")?
                            } else {
                                0
                            },
                        }
                    } else {
                        let (slide, size) = (ms(&args[1], "slide")?, ms(&args[2], "size")?);
                        if size % slide != 0 {
                            return Err(SqlError::validation(
                                0,
                                None,
                                "HOP requires the size to be a multiple of the slide",
                            ));
                        }
                        WindowKind::Hop {
                            slide,
                            size,
                            offset: 0,
                        }
                    };
                    let schema = Arc::new(stc_runtime::ops::window::with_window_columns(
                        &input_arrow,
                        &ts_type,
                    ));
                    self.push_assigner(&s, time, kind, schema);
                    window_op(
                        WindowAggregate {
                            name: format!("WindowAggregate({kind:?})"),
                            window_start: Arc::new(PhysColumn::new("window_start", n_input)),
                            window_end: Arc::new(PhysColumn::new("window_end", n_input + 1)),
                            agg,
                        },
                        proctime,
                    )
                }
            }
        } else if let Some((gap, partition)) = session_tvf {
            // Sessions are computed per group key, which is Flink's per-PARTITION-BY-key
            // session only when the two agree.
            let mut grouped: Vec<String> = key_exprs
                .iter()
                .map(|k| match k {
                    Expr::Column(c) => c.name.clone(),
                    other => other.schema_name().to_string(),
                })
                .collect();
            let mut partition = partition;
            grouped.sort();
            partition.sort();
            if grouped != partition {
                return Err(unsupported(format!(
                    "a SESSION window TVF grouped by keys [{}] other than its PARTITION BY keys [{}]",
                    grouped.join(", "),
                    partition.join(", ")
                )));
            }
            session_op(
                SessionWindowAggregate {
                    name: "SessionWindowAggregate".into(),
                    time: self.physical(&groups[tvf_start.unwrap_or_default()], &input_df)?,
                    gap,
                    agg,
                },
                proctime,
            )
        } else {
            let (si, ei) = (tvf_start.unwrap_or_default(), tvf_end.unwrap_or_default());
            window_op(
                WindowAggregate {
                    name: "WindowAggregate".into(),
                    window_start: self.physical(&groups[si], &input_df)?,
                    window_end: self.physical(&groups[ei], &input_df)?,
                    agg,
                },
                proctime,
            )
        };
        let id = self.exchange(&s, op.name(), parallelism, partitioning);
        self.graph.push_operator(id, op);
        Ok(Stream::Node(id))
    }
}

impl Translator {
    /// Keys, aggregate calls and output layout of an aggregation; `output` holds the
    /// window and key columns, the aggregate columns are appended.
    fn aggregation_spec(
        &self,
        a: &datafusion::logical_expr::Aggregate,
        key_exprs: &[Expr],
        mut output: Vec<OutputColumn>,
    ) -> Result<AggregationSpec> {
        let input_df = a.input.schema().as_ref().clone();
        let input_arrow = input_df.as_arrow().clone();
        let mut aggregates = Vec::new();
        for (i, e) in a.aggr_expr.iter().enumerate() {
            let e = &flink_casts(flink_aggregate(e), &input_df)?;
            #[allow(deprecated)]
            let (expr, filter, order) = create_aggregate_expr_and_maybe_filter(
                e,
                &input_df,
                &input_arrow,
                self.state.execution_props(),
            )
            .map_err(df)?;
            if !order.is_empty() {
                return Err(unsupported(format!(
                    "ORDER BY inside the aggregate call {e}"
                )));
            }
            aggregates.push(AggregateSpec::new(expr, filter, &input_arrow).map_err(df)?);
            output.push(OutputColumn::Aggregate(i));
        }
        let keys = key_exprs
            .iter()
            .map(|k| self.physical(k, &input_df))
            .collect::<Result<Vec<_>>>()?;
        let key_schema = Arc::new(Schema::new(
            key_exprs
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let f = k.to_field(&input_df).map_err(df)?.1;
                    Ok(Field::new(
                        format!("key{i}"),
                        f.data_type().clone(),
                        f.is_nullable(),
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        ));
        Ok(AggregationSpec {
            keys,
            key_schema,
            aggregates,
            output,
            schema: Arc::new(a.schema.as_arrow().clone()),
        })
    }

    /// A non-windowed GROUP BY (or DISTINCT): an updating aggregation.
    fn group_aggregate(&mut self, a: &datafusion::logical_expr::Aggregate) -> Result<Stream> {
        let key_exprs = a.group_expr.clone();
        let output = (0..key_exprs.len()).map(OutputColumn::Key).collect();
        let agg = self.aggregation_spec(a, &key_exprs, output)?;
        let s = self.translate(&a.input)?;
        let input_updating = self.updating_origin(&s).is_some();
        let keys = agg.keys.clone();
        let name = format!(
            "GroupAggregate(groupBy=[{}], select=[{}])",
            key_exprs
                .iter()
                .map(|k| k.schema_name().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            a.schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let op = GroupAggregate {
            name: name.clone(),
            agg,
            input_updating,
            state_ttl_ms: self.state_ttl_ms,
            mini_batch: self.mini_batch,
        };
        op.validate().map_err(unsupported_or_validation)?;
        let (parallelism, partitioning) = if keys.is_empty() {
            (1, Partitioning::Single)
        } else {
            (self.parallelism, Partitioning::Hash(keys))
        };
        let id = self.exchange(&s, name.clone(), parallelism, partitioning);
        self.graph.push_operator(id, Arc::new(op));
        self.updating.insert(id, name);
        Ok(Stream::Node(id))
    }

    /// A regular join of two streams on equality keys.
    fn join(&mut self, j: &datafusion::logical_expr::Join) -> Result<Stream> {
        use datafusion::logical_expr::JoinType;
        let kind = match j.join_type {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Right => JoinKind::Right,
            JoinType::Full => JoinKind::Full,
            JoinType::LeftSemi => JoinKind::LeftSemi,
            JoinType::LeftAnti if !j.null_aware => JoinKind::LeftAnti,
            JoinType::LeftAnti => {
                return Err(unsupported(
                    "NOT IN (subquery) with its NULL semantics; write NOT EXISTS (… WHERE a = b)",
                ));
            }
            other => {
                return Err(unsupported(format!(
                    "{other} joins (IN / EXISTS subqueries with the subquery on the left)"
                )));
            }
        };
        if find_temporal(&j.left).is_some() {
            return Err(unsupported(
                "a temporal table (FOR SYSTEM_TIME AS OF) on the left side of a join; put it on the right: probe JOIN dim FOR SYSTEM_TIME AS OF probe.proc_time ON …",
            ));
        }
        if let Some((temporal, filters)) = find_temporal(&j.right) {
            return self.lookup_join(j, kind, temporal, filters);
        }
        if j.on.is_empty() {
            return Err(unsupported(
                "joins without an equality condition between the two sides (cross joins)",
            ));
        }
        let (ls, rs) = (j.left.schema(), j.right.schema());
        let left_keys =
            j.on.iter()
                .map(|(l, _)| self.physical(l, ls))
                .collect::<Result<Vec<_>>>()?;
        let right_keys =
            j.on.iter()
                .map(|(_, r)| self.physical(r, rs))
                .collect::<Result<Vec<_>>>()?;
        // The residual condition sees both sides (a semi/anti join outputs only the left).
        let joined = ls.join(rs).map_err(df)?;
        let filter = match &j.filter {
            Some(f) => Some(self.physical(f, &joined)?),
            None => None,
        };
        let left = self.translate(&j.left)?;
        let right = self.translate(&j.right)?;
        let append_only =
            self.updating_origin(&left).is_none() && self.updating_origin(&right).is_none();
        if let Some((left_end, right_end)) = window_join_ends(j) {
            let (lw, rw) = (window_tvf_kind(&j.left), window_tvf_kind(&j.right));
            if lw != rw {
                return Err(unsupported(format!(
                    "a window join of different windows ({lw:?} on the left, {rw:?} on the right); as in Flink, both sides must use the same window table function"
                )));
            }
            if !append_only {
                return Err(unsupported(
                    "a window join over an updating input (both sides must be window TVFs over append-only tables)",
                ));
            }
            let name = format!(
                "WindowJoin(joinType=[{}], on=[{}]{})",
                j.join_type,
                j.on.iter()
                    .map(|(l, r)| format!("{l} = {r}"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
                j.filter
                    .as_ref()
                    .map(|f| format!(", where=[{f}]"))
                    .unwrap_or_default()
            );
            let op = WindowJoin {
                name: name.clone(),
                kind,
                left_keys: left_keys.clone(),
                right_keys: right_keys.clone(),
                left_window_end: self.physical(left_end, ls)?,
                right_window_end: self.physical(right_end, rs)?,
                null_equals_null: matches!(
                    j.null_equality,
                    datafusion::common::NullEquality::NullEqualsNull
                ),
                filter,
                left_schema: Arc::new(ls.as_arrow().clone()),
                right_schema: Arc::new(rs.as_arrow().clone()),
                joined_schema: Arc::new(joined.as_arrow().clone()),
                schema: Arc::new(j.schema.as_arrow().clone()),
                max_parallelism: self.graph.max_parallelism,
            };
            let id = self.graph.add_node(NodeSpec {
                name,
                parallelism: self.parallelism,
                source: None,
                operators: vec![],
            });
            self.connect_input(&left, id, &Partitioning::Hash(left_keys), 0);
            self.connect_input(&right, id, &Partitioning::Hash(right_keys), 1);
            self.graph.push_operator(id, Arc::new(op));
            // Each window's result is final when it fires: append-only, outer joins too.
            return Ok(Stream::Node(id));
        }
        let interval = match (&j.filter, append_only) {
            (Some(f), true) => self.interval_bounds(f, ls, rs)?,
            _ => None,
        };
        let name = format!(
            "{}(joinType=[{}], on=[{}]{})",
            if interval.is_some() {
                "IntervalJoin"
            } else {
                "Join"
            },
            j.join_type,
            j.on.iter()
                .map(|(l, r)| format!("{l} = {r}"))
                .collect::<Vec<_>>()
                .join(" AND "),
            j.filter
                .as_ref()
                .map(|f| format!(", where=[{f}]"))
                .unwrap_or_default()
        );
        let id = self.graph.add_node(NodeSpec {
            name: name.clone(),
            parallelism: self.parallelism,
            source: None,
            operators: vec![],
        });
        self.connect_input(&left, id, &Partitioning::Hash(left_keys.clone()), 0);
        self.connect_input(&right, id, &Partitioning::Hash(right_keys.clone()), 1);
        self.graph.push_operator(
            id,
            Arc::new(StreamingJoin {
                name: name.clone(),
                kind,
                left_keys,
                right_keys,
                null_equals_null: matches!(
                    j.null_equality,
                    datafusion::common::NullEquality::NullEqualsNull
                ),
                filter,
                left_schema: Arc::new(ls.as_arrow().clone()),
                right_schema: Arc::new(rs.as_arrow().clone()),
                schema: Arc::new(j.schema.as_arrow().clone()),
                joined_schema: Arc::new(joined.as_arrow().clone()),
                interval,
                state_ttl_ms: self.state_ttl_ms,
            }),
        );
        // Inner and semi joins of append-only inputs only append.
        if !matches!(kind, JoinKind::Inner | JoinKind::LeftSemi) {
            self.updating.insert(id, name);
        }
        Ok(Stream::Node(id))
    }
}

impl Translator {
    /// `probe JOIN versioned FOR SYSTEM_TIME AS OF probe.ts ON probe.k = versioned.k` with an
    /// event-time `ts`: Flink's event-time temporal join. The versioned table needs a
    /// primary key (in the join keys) and a watermark; its rowtime orders the versions.
    fn temporal_join(
        &mut self,
        j: &datafusion::logical_expr::Join,
        left_outer: bool,
        temporal: &TemporalTableNode,
        right_filters: Vec<Expr>,
        time: Expr,
        condition: Option<Expr>,
    ) -> Result<Stream> {
        // A table, or a versioned view: the latest row per key by rowtime of a table.
        let (scan, view_key) = match find_scan(&temporal.input) {
            Some(scan) => (scan, None),
            None => match versioned_view(&temporal.input) {
                Some((scan, key)) => (scan, Some(key)),
                None => {
                    return Err(unsupported(
                        "an event-time temporal join against a view or subquery that is not a versioned view; use a table with a PRIMARY KEY and a watermark, or a view keeping the latest row per key: SELECT … FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY key ORDER BY rowtime DESC) AS rn FROM t) WHERE rn = 1",
                    ));
                }
            },
        };
        let Some(src) = scan.source.downcast_ref::<StcTableSource>() else {
            return Err(SqlError::internal("temporal table without a source"));
        };
        let CatalogEntry::Table(t) = &src.entry else {
            return Err(SqlError::internal("a view was not inlined"));
        };
        // A versioned view's key is its PARTITION BY columns (Flink derives it so).
        let primary_key = view_key.as_ref().unwrap_or(&t.primary_key);
        if primary_key.is_empty() {
            return Err(SqlError::validation(
                t.statement,
                Some(t.location),
                format!(
                    "Temporal Table Join requires primary key in versioned table, but no primary key can be found. The physical plan is: the event-time temporal join with table '{}'",
                    t.name
                ),
            ));
        }
        let Some((rowtime_index, _)) = &t.watermark else {
            return Err(SqlError::validation(
                t.statement,
                Some(t.location),
                format!(
                    "Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table, but no row time attribute can be found (table '{}' declares no WATERMARK)",
                    t.name
                ),
            ));
        };
        let rowtime = t.schema.field(*rowtime_index).name().clone();
        let (ls, rs) = (j.left.schema(), j.right.schema());
        let right_key_names: Vec<String> =
            j.on.iter()
                .filter_map(|(_, r)| match r {
                    Expr::Column(c) => Some(c.name.clone()),
                    Expr::Cast(c) => match c.expr.as_ref() {
                        Expr::Column(c) => Some(c.name.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
        if let Some(pk) = primary_key.iter().find(|k| !right_key_names.contains(k)) {
            return Err(SqlError::validation(
                0,
                None,
                format!(
                    "the event-time temporal join with table '{}' must compare its primary key column '{pk}' with the probe side by equality in ON",
                    t.name
                ),
            ));
        }
        // Both sides' keys in the probe side's types, so they convert to the same row bytes.
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        for (l, r) in &j.on {
            let lt = l.get_type(ls).map_err(df)?;
            let r = if r.get_type(rs).map_err(df)? == lt {
                r.clone()
            } else {
                Expr::Cast(datafusion::logical_expr::Cast::new(Box::new(r.clone()), lt))
            };
            left_keys.push(self.physical(l, ls)?);
            right_keys.push(self.physical(&r, rs)?);
        }
        let left_time = self.physical(&time, ls)?;
        let rowtime_in_right = rs
            .fields()
            .iter()
            .position(|f| *f.name() == rowtime)
            .ok_or_else(|| {
                unsupported(format!(
                    "an event-time temporal join whose query does not read the versioned table's rowtime column '{rowtime}'"
                ))
            })?;
        let right_time: Arc<dyn PhysicalExpr> =
            Arc::new(PhysColumn::new(&rowtime, rowtime_in_right));
        // DataFusion may have pushed conditions on the table's columns below the alias; they
        // are evaluated after the version is chosen (a failing version pads a LEFT join, as
        // in Flink), so name them as the join's right side.
        let right_filters = right_filters
            .into_iter()
            .map(|f| requalify(f, rs))
            .collect::<Result<Vec<_>>>()?;
        let residual = datafusion::logical_expr::utils::conjunction(
            condition.into_iter().chain(right_filters),
        );
        let filter = match &residual {
            Some(f) => Some(self.physical(f, &j.schema)?),
            None => None,
        };
        let left = self.translate(&j.left)?;
        if let Some(origin) = self.updating_origin(&left) {
            return Err(unsupported(format!(
                "an event-time temporal join whose probe side is updating (produced by {origin})"
            )));
        }
        // The versioned table's rows, shaped like the join's right side.
        let right = self.translate(&temporal.input)?;
        let input_df = temporal.input.schema();
        let same = input_df.fields().len() == rs.fields().len()
            && input_df
                .fields()
                .iter()
                .zip(rs.fields())
                .all(|(a, b)| a.name() == b.name());
        if !same {
            let exprs = rs
                .fields()
                .iter()
                .map(|f| {
                    let i = input_df
                        .fields()
                        .iter()
                        .position(|g| g.name() == f.name())
                        .ok_or_else(|| {
                            SqlError::internal(format!("temporal column '{}' not read", f.name()))
                        })?;
                    Ok(Arc::new(PhysColumn::new(f.name(), i)) as Arc<dyn PhysicalExpr>)
                })
                .collect::<Result<Vec<_>>>()?;
            self.push(
                &right,
                Arc::new(Calc {
                    name: "Calc(versioned columns)".into(),
                    predicate: None,
                    projection: Some((exprs, Arc::new(rs.as_arrow().clone()))),
                }),
            );
        }
        let name = format!(
            "TemporalJoin(table=[{}], joinType=[{}], on=[{}], time=[{}])",
            t.name,
            j.join_type,
            j.on.iter()
                .map(|(l, r)| format!("{l} = {r}"))
                .collect::<Vec<_>>()
                .join(" AND "),
            temporal.time
        );
        let id = self.graph.add_node(NodeSpec {
            name: name.clone(),
            parallelism: self.parallelism,
            source: None,
            operators: vec![],
        });
        self.connect_input(&left, id, &Partitioning::Hash(left_keys.clone()), 0);
        self.connect_input(&right, id, &Partitioning::Hash(right_keys.clone()), 1);
        // The versioned side's changelog is consumed here; the join's output is append-only.
        self.updating.remove(&id);
        self.graph.push_operator(
            id,
            Arc::new(TemporalJoin {
                name,
                left_outer,
                left_keys,
                right_keys,
                left_time,
                right_time,
                filter,
                left_schema: Arc::new(ls.as_arrow().clone()),
                right_schema: Arc::new(rs.as_arrow().clone()),
                schema: Arc::new(j.schema.as_arrow().clone()),
                max_parallelism: self.graph.max_parallelism,
            }),
        );
        Ok(Stream::Node(id))
    }

    /// `probe JOIN dim FOR SYSTEM_TIME AS OF probe.t ON probe.k = dim.k`, where `dim` is a
    /// table whose connector can be looked up (jdbc, redis, filesystem): the lookup join is chained
    /// after the probe side, no shuffle.
    fn lookup_join(
        &mut self,
        j: &datafusion::logical_expr::Join,
        kind: JoinKind,
        temporal: &TemporalTableNode,
        right_filters: Vec<Expr>,
    ) -> Result<Stream> {
        let left_outer = match kind {
            JoinKind::Inner => false,
            JoinKind::Left => true,
            _ => {
                return Err(unsupported(format!(
                    "{} joins with a temporal table (FOR SYSTEM_TIME AS OF); lookup joins are INNER or LEFT",
                    j.join_type
                )));
            }
        };
        // `AS OF o.ts` on an event-time column (not a PROCTIME() one) is an event-time
        // temporal join against a versioned table, whatever the table's connector; it was
        // marked before optimisation.
        if let (Some(time), residual) = take_temporal_marker(j.filter.as_ref()) {
            return self.temporal_join(j, left_outer, temporal, right_filters, time, residual);
        }
        let Some(scan) = find_scan(&temporal.input) else {
            return Err(unsupported(
                "FOR SYSTEM_TIME AS OF on a view or subquery; use it on a table",
            ));
        };
        let Some(src) = scan.source.downcast_ref::<StcTableSource>() else {
            return Err(SqlError::internal("temporal table without a source"));
        };
        let CatalogEntry::Table(t) = &src.entry else {
            return Err(SqlError::internal("a view was not inlined"));
        };
        let ct = crate::script::connector_table(t.as_ref(), &self.time_zone);
        let connector = ct.options.get("connector").cloned().unwrap_or_default();
        if !matches!(connector.as_str(), "jdbc" | "redis" | "filesystem") {
            return Err(unsupported(format!(
                "a lookup join (FOR SYSTEM_TIME AS OF a processing-time column) against table '{}' (connector '{connector}'); lookup tables need the jdbc, redis or filesystem connector (an event-time column makes an event-time temporal join instead)",
                t.name
            )));
        }
        if j.on.is_empty() {
            return Err(SqlError::validation(
                0,
                None,
                format!(
                    "the lookup join with table '{}' needs an equality condition on the table's columns in ON, e.g. ON o.id = {}.id",
                    t.name, t.name
                ),
            ));
        }
        let (ls, rs) = (j.left.schema(), j.right.schema());
        let mut key_columns = Vec::new();
        let mut probe_keys = Vec::new();
        for (l, r) in &j.on {
            let col = match r {
                Expr::Column(c) => c.name.clone(),
                Expr::Cast(c) => match c.expr.as_ref() {
                    Expr::Column(c) => c.name.clone(),
                    _ => return Err(lookup_key_error(&t.name, r)),
                },
                _ => return Err(lookup_key_error(&t.name, r)),
            };
            let dim_type = t
                .schema
                .field_with_name(&col)
                .map_err(|_| lookup_key_error(&t.name, r))?
                .data_type()
                .clone();
            // The probe key is cast to the dimension column's type, so the store compares
            // like with like.
            let probe = if l.get_type(ls).map_err(df)? == dim_type {
                l.clone()
            } else {
                Expr::Cast(datafusion::logical_expr::Cast::new(
                    Box::new(l.clone()),
                    dim_type,
                ))
            };
            probe_keys.push(self.physical(&probe, ls)?);
            key_columns.push(col);
        }
        let factory = stc_connectors::create_lookup(&ct, &key_columns).map_err(|e| {
            SqlError::validation(
                t.statement,
                Some(t.location),
                format!("table '{}': {e}", t.name),
            )
        })?;
        // The factory may order the keys its own way.
        let order = factory.key_columns();
        let probe_keys = order
            .iter()
            .map(|c| {
                key_columns
                    .iter()
                    .position(|k| k == c)
                    .map(|i| Arc::clone(&probe_keys[i]))
                    .ok_or_else(|| SqlError::internal(format!("lookup key '{c}' not requested")))
            })
            .collect::<Result<Vec<_>>>()?;
        let dim_schema = factory.schema();
        let dim_columns = rs
            .fields()
            .iter()
            .map(|f| {
                dim_schema.index_of(f.name()).map_err(|_| {
                    unsupported(format!(
                        "the column '{}' of lookup table '{}' (computed and metadata columns cannot be looked up)",
                        f.name(),
                        t.name
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let residual = datafusion::logical_expr::utils::conjunction(
            j.filter.iter().cloned().chain(right_filters),
        );
        let filter = match &residual {
            Some(f) => Some(self.physical(f, &j.schema)?),
            None => None,
        };
        let name = format!(
            "LookupJoin(table=[{}], joinType=[{}], lookup=[{}], time=[{}])",
            t.name,
            j.join_type,
            key_columns.join(", "),
            temporal.time
        );
        let s = self.translate(&j.left)?;
        self.push(
            &s,
            Arc::new(LookupJoin {
                name,
                left_outer,
                factory,
                probe_keys,
                dim_columns,
                filter,
                schema: Arc::new(j.schema.as_arrow().clone()),
            }),
        );
        Ok(s)
    }
}

impl Translator {
    /// `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)` under a `rn <= N` filter: Top-N.
    fn window(&mut self, w: &datafusion::logical_expr::Window) -> Result<Stream> {
        use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionParams};
        let is_agg = |e: &Expr| matches!(e, Expr::WindowFunction(wf) if matches!(wf.fun, datafusion::logical_expr::WindowFunctionDefinition::AggregateUDF(_)));
        if w.window_expr
            .iter()
            .all(|e| is_agg(&e.clone().unalias_nested().data))
        {
            return self.over_aggregate(w);
        }
        let [Expr::WindowFunction(wf)] = w.window_expr.as_slice() else {
            return Err(unsupported(
                "more than one window function in a SELECT, or ROW_NUMBER() mixed with OVER aggregates",
            ));
        };
        let WindowFunction { fun, params } = wf.as_ref();
        let WindowFunctionParams {
            partition_by,
            order_by,
            ..
        } = params;
        if fun.name() != "row_number" {
            return Err(unsupported(format!(
                "the window function {}() (only ROW_NUMBER() for Top-N and deduplication runs so far)",
                fun.name().to_uppercase()
            )));
        }
        let rn_name = w.schema.field(w.schema.fields().len() - 1).name().clone();
        let Some(&limit) = self.rank_limits.get(&rn_name) else {
            return Err(unsupported(
                "ROW_NUMBER() without a filter on its result; a Top-N query filters it: WHERE rn <= N",
            ));
        };
        if order_by.is_empty() {
            return Err(SqlError::validation(
                0,
                None,
                "ROW_NUMBER() for Top-N needs an ORDER BY in its OVER clause",
            ));
        }
        let input_df = w.input.schema();
        let partition_keys = partition_by
            .iter()
            .map(|e| self.physical(e, input_df))
            .collect::<Result<Vec<_>>>()?;
        let order = order_by
            .iter()
            .map(|o| {
                Ok(SortKey {
                    expr: self.physical(&o.expr, input_df)?,
                    descending: !o.asc,
                    nulls_first: o.nulls_first,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let name = format!(
            "Rank(rankRange=[1..{limit}], partitionBy=[{}], orderBy=[{}])",
            partition_by
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            order_by
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let is_col = |e: &Expr, n: &str| matches!(e, Expr::Column(c) if c.name == n);
        let window_end = partition_by.iter().find(|e| is_col(e, "window_end"));
        if let Some(window_end) = window_end
            && partition_by.iter().any(|e| is_col(e, "window_start"))
            && has_window_tvf(&w.input)
        {
            return self.window_rank(w, partition_by, partition_keys, order, limit, window_end);
        }
        let s = self.translate(&w.input)?;
        let append_only = self.updating_origin(&s).is_none();
        let (parallelism, partitioning) = if partition_keys.is_empty() {
            (1, Partitioning::Single)
        } else {
            (self.parallelism, Partitioning::Hash(partition_keys.clone()))
        };
        let id = self.exchange(&s, name.clone(), parallelism, partitioning);
        self.graph.push_operator(
            id,
            Arc::new(TopN {
                name: name.clone(),
                partition_keys,
                order,
                limit,
                input_schema: Arc::new(input_df.as_arrow().clone()),
                schema: Arc::new(w.schema.as_arrow().clone()),
                append_only,
            }),
        );
        self.updating.insert(id, name);
        Ok(Stream::Node(id))
    }
}

impl Translator {
    /// Window Top-N / window deduplication: a `ROW_NUMBER()` partitioned by `window_start`
    /// and `window_end` of a window TVF (directly or through a window aggregation). The
    /// result of each window is final at its end, so the output is append-only.
    fn window_rank(
        &mut self,
        w: &datafusion::logical_expr::Window,
        partition_by: &[Expr],
        partition_keys: Vec<Arc<dyn PhysicalExpr>>,
        order: Vec<SortKey>,
        limit: usize,
        window_end: &Expr,
    ) -> Result<Stream> {
        let partition_names = partition_by
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let input_df = w.input.schema();
        let input_schema = Arc::new(input_df.as_arrow().clone());
        // Flink picks WindowDeduplicate for rn <= 1 ordered by the time attribute; keep-last
        // (DESC) lets the last arrival win a tie, where Top-N keeps the first.
        let by_time = order.len() == 1
            && matches!(
                order[0].expr.data_type(&input_schema),
                Ok(datafusion::arrow::datatypes::DataType::Timestamp(..))
            );
        let dedup = limit == 1 && by_time;
        let last_wins_ties = dedup && order[0].descending;
        let name = if dedup {
            format!(
                "WindowDeduplicate(keep=[{}], partitionBy=[{}])",
                if last_wins_ties {
                    "LastRow"
                } else {
                    "FirstRow"
                },
                partition_names
            )
        } else {
            format!(
                "WindowRank(rankRange=[1..{limit}], partitionBy=[{}])",
                partition_names
            )
        };
        let s = self.translate(&w.input)?;
        if let Some(origin) = self.updating_origin(&s) {
            return Err(SqlError::validation(
                0,
                None,
                format!(
                    "{name} doesn't support consuming update and delete changes which is produced by node {origin}"
                ),
            ));
        }
        let window_end = self.physical(window_end, input_df)?;
        let id = self.exchange(
            &s,
            name.clone(),
            self.parallelism,
            Partitioning::Hash(partition_keys.clone()),
        );
        self.graph.push_operator(
            id,
            Arc::new(WindowTopN {
                name,
                partition_keys,
                window_end,
                order,
                limit,
                last_wins_ties,
                input_schema,
                schema: Arc::new(w.schema.as_arrow().clone()),
                max_parallelism: self.graph.max_parallelism,
            }),
        );
        Ok(Stream::Node(id))
    }

    /// `agg(x) OVER (PARTITION BY … ORDER BY ts RANGE|ROWS BETWEEN … PRECEDING AND CURRENT
    /// ROW)`: every call must share one window, as Flink requires.
    fn over_aggregate(&mut self, w: &datafusion::logical_expr::Window) -> Result<Stream> {
        use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
        use datafusion::logical_expr::{
            WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition,
        };
        let input_df = w.input.schema().as_ref().clone();
        let input_arrow = input_df.as_arrow().clone();
        let mut spec: Option<(
            Vec<Expr>,
            Vec<datafusion::logical_expr::SortExpr>,
            datafusion::logical_expr::WindowFrame,
        )> = None;
        let mut aggregates = Vec::new();
        for e in &w.window_expr {
            let Expr::WindowFunction(wf) = e.clone().unalias_nested().data else {
                return Err(SqlError::internal("window expression is not a function"));
            };
            let WindowFunction { fun, params } = *wf;
            let WindowFunctionDefinition::AggregateUDF(udaf) = fun else {
                return Err(SqlError::internal("not an aggregate window function"));
            };
            let this = (
                params.partition_by.clone(),
                params.order_by.clone(),
                params.window_frame.clone(),
            );
            match &spec {
                None => spec = Some(this),
                Some(s) if *s == this => {}
                Some(_) => {
                    return Err(SqlError::validation(
                        0,
                        None,
                        "all OVER aggregates of one SELECT must use the same window (PARTITION BY, ORDER BY and frame), as in Flink",
                    ));
                }
            }
            let agg = Expr::AggregateFunction(AggregateFunction::new_udf(
                udaf,
                params.args,
                params.distinct,
                params.filter,
                vec![],
                params.null_treatment,
            ));
            #[allow(deprecated)]
            let (expr, filter, _) = create_aggregate_expr_and_maybe_filter(
                &agg,
                &input_df,
                &input_arrow,
                self.state.execution_props(),
            )
            .map_err(df)?;
            aggregates.push(AggregateSpec::new(expr, filter, &input_arrow).map_err(df)?);
        }
        let Some((partition_by, order_by, frame)) = spec else {
            return Err(SqlError::internal("window without expressions"));
        };
        let [order] = order_by.as_slice() else {
            return Err(SqlError::validation(
                0,
                None,
                "an OVER window must be ordered by exactly one time attribute: OVER (PARTITION BY … ORDER BY ts …)",
            ));
        };
        if !order.asc {
            return Err(SqlError::validation(
                0,
                None,
                "an OVER window can only be ordered by a time attribute in ascending order",
            ));
        }
        if !matches!(frame.end_bound, WindowFrameBound::CurrentRow) {
            return Err(unsupported(
                "OVER windows that end after the current row (Flink allows only … AND CURRENT ROW)",
            ));
        }
        let preceding = match &frame.start_bound {
            WindowFrameBound::Preceding(v) => v.clone(),
            _ => {
                return Err(unsupported(
                    "OVER windows that start at or after the current row",
                ));
            }
        };
        let over_frame = match frame.units {
            WindowFrameUnits::Rows => OverFrame::Rows(if preceding.is_null() {
                usize::MAX
            } else {
                match preceding.cast_to(&datafusion::arrow::datatypes::DataType::UInt64) {
                    Ok(ScalarValue::UInt64(Some(n))) => n as usize,
                    _ => return Err(unsupported(format!("the ROWS frame bound {preceding}"))),
                }
            }),
            WindowFrameUnits::Range => OverFrame::Range(if preceding.is_null() {
                i64::MAX
            } else {
                match crate::context::interval_millis(&Expr::Literal(preceding.clone(), None)) {
                    Some(ms) => ms,
                    None => {
                        return Err(SqlError::validation(
                            0,
                            None,
                            format!(
                                "the RANGE of an OVER window on time is an interval, e.g. RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW; found {preceding}"
                            ),
                        ));
                    }
                }
            }),
            WindowFrameUnits::Groups => return Err(unsupported("GROUPS frames in OVER windows")),
        };
        let partition_keys = partition_by
            .iter()
            .map(|e| self.physical(e, &input_df))
            .collect::<Result<Vec<_>>>()?;
        let time = self.physical(&order.expr, &input_df)?;
        let name = format!(
            "OverAggregate(partitionBy=[{}], orderBy=[{}], frame=[{:?}])",
            partition_by
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            order.expr,
            over_frame
        );
        let s = self.translate(&w.input)?;
        if let Some(origin) = self.updating_origin(&s) {
            return Err(SqlError::validation(
                0,
                None,
                format!(
                    "not supported yet (nor by Flink): OVER aggregation consuming update and delete changes, which are produced by node {origin}"
                ),
            ));
        }
        let (parallelism, partitioning) = if partition_keys.is_empty() {
            (1, Partitioning::Single)
        } else {
            (self.parallelism, Partitioning::Hash(partition_keys.clone()))
        };
        let id = self.exchange(&s, name.clone(), parallelism, partitioning);
        self.graph.push_operator(
            id,
            Arc::new(OverAggregate {
                name,
                partition_keys,
                time,
                frame: over_frame,
                aggregates,
                input_schema: Arc::new(input_arrow),
                schema: Arc::new(w.schema.as_arrow().clone()),
            }),
        );
        Ok(Stream::Node(id))
    }
}

impl Translator {
    /// The time bounds of an interval join in a join condition: conjuncts comparing a time
    /// column of each side, each optionally shifted by an interval literal, e.g.
    /// `l.ts BETWEEN r.ts - INTERVAL '1' MINUTE AND r.ts`. `None` unless a bound exists.
    fn interval_bounds(
        &self,
        filter: &Expr,
        ls: &DFSchema,
        rs: &DFSchema,
    ) -> Result<Option<IntervalBounds>> {
        use datafusion::common::ExprSchema;
        use datafusion::logical_expr::utils::split_conjunction;
        use datafusion::logical_expr::{BinaryExpr, Operator};
        // `col`, `col + interval` or `col - interval` → (column, offset ms).
        fn shifted(e: &Expr) -> Option<(&datafusion::common::Column, i64)> {
            match e {
                Expr::Column(c) => Some((c, 0)),
                Expr::Cast(c) => shifted(&c.expr),
                Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                    let (c, base) = shifted(left)?;
                    let ms = crate::context::interval_millis(right)?;
                    match op {
                        Operator::Plus => Some((c, base + ms)),
                        Operator::Minus => Some((c, base - ms)),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        let is_time = |schema: &DFSchema, c: &datafusion::common::Column| {
            schema.field_from_column(c).is_ok_and(|f| {
                matches!(
                    f.data_type(),
                    datafusion::arrow::datatypes::DataType::Timestamp(_, _)
                )
            })
        };
        let (mut lower, mut upper): (Option<i64>, Option<i64>) = (None, None);
        let mut times: Option<(datafusion::common::Column, datafusion::common::Column)> = None;
        for part in split_conjunction(filter) {
            let Expr::BinaryExpr(BinaryExpr { left, op, right }) = part else {
                continue;
            };
            let (Some((a, da)), Some((b, db))) = (shifted(left), shifted(right)) else {
                continue;
            };
            // a + da  op  b + db   ⇔   a - b  op  db - da
            let (lc, rc, k, op) = if is_time(ls, a) && is_time(rs, b) {
                (a, b, db - da, *op)
            } else if is_time(rs, a) && is_time(ls, b) {
                // b - a op' da - db with op flipped: l - r  flip(op)  da - db
                let flipped = match op {
                    Operator::Lt => Operator::Gt,
                    Operator::LtEq => Operator::GtEq,
                    Operator::Gt => Operator::Lt,
                    Operator::GtEq => Operator::LtEq,
                    other => *other,
                };
                (b, a, da - db, flipped)
            } else {
                continue;
            };
            if times.as_ref().is_some_and(|(l, r)| l != lc || r != rc) {
                continue;
            }
            times = Some((lc.clone(), rc.clone()));
            match op {
                Operator::GtEq => lower = Some(lower.map_or(k, |x| x.max(k))),
                Operator::Gt => lower = Some(lower.map_or(k + 1, |x| x.max(k + 1))),
                Operator::LtEq => upper = Some(upper.map_or(k, |x| x.min(k))),
                Operator::Lt => upper = Some(upper.map_or(k - 1, |x| x.min(k - 1))),
                _ => {}
            }
        }
        let Some((lc, rc)) = times else {
            return Ok(None);
        };
        if lower.is_none() && upper.is_none() {
            return Ok(None);
        }
        Ok(Some(IntervalBounds {
            left_time: self.physical(&Expr::Column(lc), ls)?,
            right_time: self.physical(&Expr::Column(rc), rs)?,
            lower,
            upper,
        }))
    }
}

/// `rn <= N` (or `rn < N`, `rn = N`) in a filter over a `ROW_NUMBER()` column: the column's
/// name at the window, and N.
fn rank_filter(predicate: &Expr, input: &LogicalPlan) -> Option<(String, usize)> {
    use datafusion::logical_expr::utils::split_conjunction;
    use datafusion::logical_expr::{BinaryExpr, Operator};
    for part in split_conjunction(predicate) {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = part else {
            continue;
        };
        let (Expr::Column(c), Expr::Literal(v, _)) = (left.as_ref(), right.as_ref()) else {
            continue;
        };
        let Ok(ScalarValue::Int64(Some(n))) =
            v.cast_to(&datafusion::arrow::datatypes::DataType::Int64)
        else {
            continue;
        };
        let limit = match op {
            Operator::LtEq | Operator::Eq => n,
            Operator::Lt => n - 1,
            _ => continue,
        };
        if limit < 1 {
            continue;
        }
        if let Some(name) = window_column(input, &c.name) {
            return Some((name, limit as usize));
        }
    }
    None
}

/// Follows column `name` down through aliases and projections to a window node's output.
fn window_column(plan: &LogicalPlan, name: &str) -> Option<String> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => window_column(&a.input, name),
        LogicalPlan::Filter(f) => window_column(&f.input, name),
        LogicalPlan::Projection(p) => {
            let i = p.schema.fields().iter().position(|f| f.name() == name)?;
            match p.expr[i].clone().unalias() {
                Expr::Column(c) => window_column(&p.input, &c.name),
                _ => None,
            }
        }
        LogicalPlan::Window(w) => {
            let last = w.schema.field(w.schema.fields().len() - 1).name();
            (last == name).then(|| name.to_string())
        }
        _ => None,
    }
}

fn lookup_key_error(table: &str, e: &Expr) -> SqlError {
    SqlError::validation(
        0,
        None,
        format!(
            "a lookup join compares columns of table '{table}' with values of the probe side; '{e}' is not a column of '{table}'"
        ),
    )
}

/// The temporal table (`FOR SYSTEM_TIME AS OF`) a join side reads, through aliases,
/// column projections and filters (the optimizer pushes ON conditions on the table's columns
/// down to it). The filters are returned: for an INNER or LEFT lookup join, filtering the
/// table's rows is the same as adding the condition to ON, so they join the residual
/// condition.
fn find_temporal(plan: &LogicalPlan) -> Option<(&TemporalTableNode, Vec<Expr>)> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => find_temporal(&a.input),
        LogicalPlan::Projection(p) if p.expr.iter().all(|e| matches!(e, Expr::Column(_))) => {
            find_temporal(&p.input)
        }
        LogicalPlan::Filter(f) => find_temporal(&f.input).map(|(t, mut filters)| {
            filters.push(f.predicate.clone());
            (t, filters)
        }),
        LogicalPlan::Extension(e) => e
            .node
            .as_any()
            .downcast_ref::<TemporalTableNode>()
            .map(|t| (t, vec![])),
        _ => None,
    }
}

/// A versioned view: `SELECT … FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY
/// rowtime DESC) AS rn FROM t) WHERE rn = 1` over a table `t` with a watermark on `rowtime`
/// (Flink's rowtime deduplication keeping the last row). Returns the table's scan and the
/// view's key (the PARTITION BY columns). The view's rows reach the temporal join as the
/// deduplication's changelog: each `+I`/`+U` is the key's version from its rowtime on.
fn versioned_view(
    plan: &LogicalPlan,
) -> Option<(&datafusion::logical_expr::TableScan, Vec<String>)> {
    use datafusion::logical_expr::expr::WindowFunction;
    let mut node = plan;
    let mut deduplicated = false;
    let window = loop {
        match node {
            LogicalPlan::SubqueryAlias(a) => node = &a.input,
            LogicalPlan::Projection(p) => node = &p.input,
            LogicalPlan::Filter(f) => {
                deduplicated |= matches!(rank_filter(&f.predicate, &f.input), Some((_, 1)));
                node = &f.input;
            }
            LogicalPlan::Window(w) => break w,
            _ => return None,
        }
    };
    let [Expr::WindowFunction(wf)] = window.window_expr.as_slice() else {
        return None;
    };
    let WindowFunction { fun, params } = wf.as_ref();
    if !deduplicated || fun.name() != "row_number" {
        return None;
    }
    let [order] = params.order_by.as_slice() else {
        return None;
    };
    let Expr::Column(order_col) = &order.expr else {
        return None;
    };
    let key = params
        .partition_by
        .iter()
        .map(|e| match e {
            Expr::Column(c) => Some(c.name.clone()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let mut below = window.input.as_ref();
    let scan = loop {
        match below {
            LogicalPlan::SubqueryAlias(a) => below = &a.input,
            LogicalPlan::Projection(p) => below = &p.input,
            LogicalPlan::TableScan(t) => break t,
            _ => return None,
        }
    };
    // Ordered by the table's rowtime, latest first.
    let src = scan.source.downcast_ref::<StcTableSource>()?;
    let CatalogEntry::Table(t) = &src.entry else {
        return None;
    };
    let (rowtime, _) = t.watermark.as_ref()?;
    (!order.asc && !key.is_empty() && *t.schema.field(*rowtime).name() == order_col.name)
        .then_some((scan, key))
}

fn find_scan(plan: &LogicalPlan) -> Option<&datafusion::logical_expr::TableScan> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => find_scan(&a.input),
        LogicalPlan::TableScan(t) => Some(t),
        _ => None,
    }
}

fn unsupported_or_validation(msg: String) -> SqlError {
    match msg.strip_prefix("not supported yet: ") {
        Some(rest) => unsupported(rest),
        None => SqlError::validation(0, None, msg),
    }
}

fn session_op(spec: SessionWindowAggregate, proctime: bool) -> Arc<dyn OperatorFactory> {
    if proctime {
        Arc::new(ProctimeSessionWindowAggregate(spec))
    } else {
        Arc::new(spec)
    }
}

fn window_op(spec: WindowAggregate, proctime: bool) -> Arc<dyn OperatorFactory> {
    if proctime {
        Arc::new(ProctimeWindowAggregate(spec))
    } else {
        Arc::new(spec)
    }
}

/// Flink's cast rules where Arrow's differ: `CAST(x AS STRING)` of a type whose Flink text
/// differs from Arrow's becomes `flink_to_string(x)`; the other differences are listed at
/// `functions::flink_cast`.
fn flink_casts(e: Expr, schema: &DFSchema) -> Result<Expr> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::logical_expr::{Cast, TryCast};
    let to_string = Arc::new(crate::functions::FlinkToString::udf());
    e.transform_up(|e| {
        let (inner, target) = match &e {
            Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                (expr, field.data_type().clone())
            }
            _ => return Ok(Transformed::no(e)),
        };
        let from = inner.get_type(schema)?;
        match (&from, &target) {
            (_, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                if crate::functions::needs_flink_text(&from) =>
            {
                Ok(Transformed::yes(to_string.call(vec![(**inner).clone()])))
            }
            _ => {
                let is_try = matches!(e, Expr::TryCast(_));
                match crate::functions::flink_cast(inner, &from, &target, is_try) {
                    Some(x) => Ok(Transformed::yes(x)),
                    None => Ok(Transformed::no(e)),
                }
            }
        }
    })
    .map(|t| t.data)
    .map_err(df)
}

/// Flink's FIRST_VALUE and LAST_VALUE skip NULLs (`FirstValueAggFunction`); DataFusion's
/// respect them unless asked.
fn flink_aggregate(e: &Expr) -> Expr {
    use datafusion::logical_expr::expr::{AggregateFunction, NullTreatment};
    match e {
        Expr::AggregateFunction(AggregateFunction { func, params })
            if matches!(func.name(), "first_value" | "last_value")
                && params.null_treatment.is_none() =>
        {
            let mut params = params.clone();
            params.null_treatment = Some(NullTreatment::IgnoreNulls);
            Expr::AggregateFunction(AggregateFunction {
                func: func.clone(),
                params,
            })
        }
        Expr::Alias(a) => flink_aggregate(&a.expr).alias(a.name.clone()),
        other => other.clone(),
    }
}

/// The SESSION TVF feeding an aggregate (through aliases, projections and filters): its gap
/// and the names of its PARTITION BY columns.
/// Before optimisation: ANDs `__temporal_time(o.ts, r.rowtime)` into the condition of every join
/// against `FOR SYSTEM_TIME AS OF o.ts` with an event-time `o.ts` (see
/// [`crate::functions::TemporalTimeMarker`]).
pub fn mark_temporal_times(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    plan.transform_up(|p| {
        let LogicalPlan::Join(j) = &p else {
            return Ok(Transformed::no(p));
        };
        let Some((temporal, _)) = find_temporal(&j.right) else {
            return Ok(Transformed::no(p));
        };
        let time = datafusion::common::Column::from_qualified_name(&temporal.time);
        let Some(i) = j.left.schema().maybe_index_of_column(&time) else {
            return Ok(Transformed::no(p));
        };
        if crate::types::is_proctime(j.left.schema().field(i))
            || j.right.schema().fields().is_empty()
        {
            return Ok(Transformed::no(p));
        }
        // The second argument keeps the versioned table's rowtime column alive too.
        let rowtime = find_scan(&temporal.input)
            .or_else(|| versioned_view(&temporal.input).map(|(scan, _)| scan))
            .and_then(|scan| scan.source.downcast_ref::<StcTableSource>())
            .and_then(|src| match &src.entry {
                CatalogEntry::Table(t) => t
                    .watermark
                    .as_ref()
                    .map(|(i, _)| t.schema.field(*i).name().clone()),
                _ => None,
            })
            .and_then(|name| j.right.schema().index_of_column_by_name(None, &name))
            .unwrap_or(0);
        let (q, f) = j.left.schema().qualified_field(i);
        let (rq, rf) = j.right.schema().qualified_field(rowtime);
        let marker = Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
            Arc::new(crate::functions::TemporalTimeMarker::udf()),
            vec![
                Expr::Column(datafusion::common::Column::new(q.cloned(), f.name())),
                Expr::Column(datafusion::common::Column::new(rq.cloned(), rf.name())),
            ],
        ));
        let mut j = j.clone();
        j.filter = Some(match j.filter.take() {
            Some(f) => f.and(marker),
            None => marker,
        });
        Ok(Transformed::yes(LogicalPlan::Join(j)))
    })
    .map(|t| t.data)
}

/// Splits the temporal-time marker off a join condition: the probe side's time, and the rest.
fn take_temporal_marker(filter: Option<&Expr>) -> (Option<Expr>, Option<Expr>) {
    let Some(f) = filter else {
        return (None, None);
    };
    let mut time = None;
    let mut rest = Vec::new();
    for part in datafusion::logical_expr::utils::split_conjunction(f) {
        match part {
            Expr::ScalarFunction(sf)
                if sf.name() == crate::functions::TEMPORAL_TIME_MARKER && time.is_none() =>
            {
                time = sf.args.first().cloned();
            }
            other => rest.push(other.clone()),
        }
    }
    (time, datafusion::logical_expr::utils::conjunction(rest))
}

/// A join of two window TVFs on `window_start` and `window_end` (Flink's window join): the
/// two sides' `window_end` expressions.
fn window_join_ends(j: &datafusion::logical_expr::Join) -> Option<(&Expr, &Expr)> {
    if !has_window_tvf(&j.left) || !has_window_tvf(&j.right) {
        return None;
    }
    let is_col = |e: &Expr, n: &str| matches!(e, Expr::Column(c) if c.name == n);
    let pair = |n: &str| j.on.iter().find(|(l, r)| is_col(l, n) && is_col(r, n));
    pair("window_start")?;
    pair("window_end").map(|(l, r)| (l, r))
}

/// `e` with every column named as the column of the same name in `schema`.
fn requalify(e: Expr, schema: &DFSchema) -> Result<Expr> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    e.transform(|e| match e {
        Expr::Column(c) => match schema.index_of_column_by_name(None, &c.name) {
            Some(i) => {
                let (q, f) = schema.qualified_field(i);
                Ok(Transformed::yes(Expr::Column(
                    datafusion::common::Column::new(q.cloned(), f.name()),
                )))
            }
            None => Ok(Transformed::no(Expr::Column(c))),
        },
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(df)
}

/// The first window TVF `plan` reads.
fn window_tvf_kind(plan: &LogicalPlan) -> Option<TvfKind> {
    match plan {
        LogicalPlan::Extension(e) => match e.node.as_any().downcast_ref::<WindowTvfNode>() {
            Some(tvf) => Some(tvf.kind),
            None => plan.inputs().into_iter().find_map(window_tvf_kind),
        },
        _ => plan.inputs().into_iter().find_map(window_tvf_kind),
    }
}

/// Whether `plan` reads a window TVF (so `window_start`/`window_end` are window columns).
fn has_window_tvf(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Extension(e) if e.node.as_any().is::<WindowTvfNode>() => true,
        _ => plan.inputs().into_iter().any(has_window_tvf),
    }
}

fn find_session_tvf(plan: &LogicalPlan) -> Option<(i64, Vec<String>)> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => find_session_tvf(&a.input),
        LogicalPlan::Projection(p) => find_session_tvf(&p.input),
        LogicalPlan::Filter(f) => find_session_tvf(&f.input),
        LogicalPlan::Extension(e) => {
            let tvf = e.node.as_any().downcast_ref::<WindowTvfNode>()?;
            match tvf.kind {
                TvfKind::Session { gap } => Some((
                    gap,
                    tvf.partition_keys
                        .iter()
                        .map(|k| match k {
                            Expr::Column(c) => c.name.clone(),
                            other => other.schema_name().to_string(),
                        })
                        .collect(),
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

fn interval_literal_ms(e: &Expr, what: &str, func: &str) -> Result<i64> {
    match crate::context::interval_millis(e) {
        Some(ms) => Ok(ms),
        None => Err(SqlError::validation(
            0,
            None,
            format!(
                "the {what} of {}() must be a positive day-time interval literal such as INTERVAL '1' MINUTE, found {e}",
                func.to_uppercase()
            ),
        )),
    }
}
