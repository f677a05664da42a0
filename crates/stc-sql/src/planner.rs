//! DataFusion logical plans → the runtime's [`JobGraph`].
//!
//! DataFusion resolves names, types and expressions; this module decides how the plan runs
//! as a stream: which operators are chained into one task, where records are re-partitioned
//! by key, and which stateful operator implements each aggregation. Anything we cannot run
//! with Flink's semantics is rejected here with "not supported yet", never planned into
//! something that would give a different answer.

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
use stc_runtime::ops::window::{
    AggregateSpec, AggregationSpec, OutputColumn, ProctimeSessionWindowAggregate,
    ProctimeWindowAggregate, SessionWindowAggregate, WindowAggregate, WindowAssigner, WindowKind,
};
use stc_runtime::{JobGraph, NodeId, NodeSpec, OperatorFactory, Partitioning, SourceSpec};

use crate::catalog::{CatalogEntry, ResolvedColumn, StcTableSource};
use crate::context::{TvfKind, WindowTvfNode};
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
}

fn unsupported(what: impl Into<String>) -> SqlError {
    SqlError::unsupported(0, None, what)
}

fn df(e: datafusion::error::DataFusionError) -> SqlError {
    crate::script::from_datafusion(e, 0, None)
}

impl Translator {
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
        let mut leaves = Vec::new();
        s.leaves(&mut leaves);
        for leaf in leaves {
            let p = match (
                &partitioning,
                self.graph.nodes[leaf].parallelism == parallelism,
            ) {
                (Partitioning::Forward, false) => Partitioning::Rebalance,
                (p, _) => p.clone(),
            };
            self.graph.connect(leaf, id, p);
        }
        id
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
            LogicalPlan::Distinct(_) => {
                Err(unsupported("SELECT DISTINCT (an updating aggregation)"))
            }
            LogicalPlan::Join(_) => Err(unsupported(
                "joins (regular, interval, temporal and lookup joins)",
            )),
            LogicalPlan::Window(_) => Err(unsupported(
                "OVER aggregations and ROW_NUMBER() (Top-N, deduplication)",
            )),
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
        };
        let id = self.graph.add_node(NodeSpec {
            name: "Source: VALUES".into(),
            parallelism: 1,
            source: Some(spec),
            operators: vec![],
        });
        Stream::Node(id)
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
        let spec = SourceSpec {
            table: t.name.clone(),
            factory,
            row_exprs,
            table_schema: Arc::clone(&t.schema),
            watermark_expr,
            projection: scan.projection.clone(),
            idle_timeout_ms: self.idle_timeout_ms,
        };
        let id = self.graph.add_node(NodeSpec {
            name: format!("Source: {}", t.name),
            parallelism: self.parallelism,
            source: Some(spec),
            operators: vec![],
        });
        let s = Stream::Node(id);
        if let Some(pred) = datafusion::logical_expr::utils::conjunction(scan.filters.clone()) {
            let p = self.physical(&pred, &scan.projected_schema)?;
            self.push(
                &s,
                Arc::new(Calc {
                    name: "Calc(where)".into(),
                    predicate: Some(p),
                    projection: None,
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
        if legacy.is_none() && (tvf_start.is_none() || tvf_end.is_none()) {
            return Err(unsupported(
                "GROUP BY without a window (an updating aggregation); group by a window: GROUP BY TUMBLE(ts, INTERVAL …), or window_start, window_end of a window TVF",
            ));
        }
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
            aggregates.push(AggregateSpec { expr, filter });
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
                    let (dt, nullable) = {
                        let f = k.to_field(&input_df).map_err(df)?.1;
                        (f.data_type().clone(), f.is_nullable())
                    };
                    Ok(Field::new(format!("key{i}"), dt, nullable))
                })
                .collect::<Result<Vec<_>>>()?,
        ));
        let agg = AggregationSpec {
            keys: keys.clone(),
            key_schema,
            aggregates,
            output,
            schema: Arc::new(a.schema.as_arrow().clone()),
        };
        let (parallelism, partitioning) = if keys.is_empty() {
            (1, Partitioning::Single)
        } else {
            (self.parallelism, Partitioning::Hash(keys))
        };

        let s = self.translate(&a.input)?;
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
