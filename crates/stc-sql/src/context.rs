//! DataFusion integration: the session (functions, options, optimizer rules), the
//! `ContextProvider` that resolves names against the script's [`Catalog`], Flink's types in
//! `CAST`, and the relation planner that turns window TVFs into [`WindowTvfNode`]s.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::{
    DFSchema, DFSchemaRef, Result, ScalarValue, TableReference, plan_datafusion_err, plan_err,
};
use datafusion::config::ConfigOptions;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::planner::{
    ContextProvider, ExprPlanner, PlannedRelation, RelationPlanner, RelationPlannerContext,
    RelationPlanning, TypePlanner,
};
use datafusion::logical_expr::{
    AggregateUDF, Expr, Extension, HigherOrderUDF, LogicalPlan, LogicalPlanBuilder, ScalarUDF,
    TableSource, UserDefinedLogicalNodeCore, WindowUDF,
};
use sqlparser::ast::{self as ast, FunctionArg, FunctionArgExpr, FunctionArguments, TableFactor};

use crate::catalog::{Catalog, CatalogEntry, StcTableSource};
use crate::dialect::TABLE_ARG_FN;
use crate::parser::timestamp_unit;

/// Builds the DataFusion session a script is planned with.
pub fn new_session_state(time_zone: &str) -> Result<SessionState> {
    let mut config = datafusion::prelude::SessionConfig::new();
    let opts = config.options_mut();
    // Flink identifiers are case-sensitive and used as written.
    opts.sql_parser.enable_ident_normalization = false;
    opts.sql_parser.map_string_types_to_utf8view = false;
    opts.sql_parser.support_varchar_with_length = true;
    opts.sql_parser.collect_spans = true;
    opts.execution.time_zone = Some(time_zone.to_string());
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    let mut state = state;
    // `SingleDistinctToGroupBy` rewrites COUNT(DISTINCT x) into a two-level aggregation, which
    // in a stream would need retractions between the levels; our aggregations evaluate
    // DISTINCT directly instead.
    let rules: Vec<_> = state
        .optimizers()
        .iter()
        .filter(|r| r.name() != "single_distinct_aggregation_to_group_by")
        .cloned()
        .collect();
    state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .build();
    use datafusion::execution::FunctionRegistry;
    for (name, _) in crate::functions::GROUP_WINDOWS {
        state.register_udf(Arc::new(crate::functions::GroupWindowFn::udf(name)))?;
    }
    state.register_udf(Arc::new(crate::functions::NamedCast::udf()))?;
    stc_functions::register_flink_functions_in(&mut state)?;
    // Physical expressions take their config (the session time zone, read by Flink's time
    // functions) from the execution props; without this they would see the defaults.
    let config = Arc::clone(state.config_options());
    state.execution_props_mut().mark_start_execution(config);
    Ok(state)
}

/// Name resolution for one statement.
pub struct ScriptContext<'a> {
    pub state: &'a SessionState,
    pub catalog: Arc<RwLock<Catalog>>,
    pub relation_planners: Vec<Arc<dyn RelationPlanner>>,
    pub type_planner: Arc<dyn TypePlanner>,
}

impl<'a> ScriptContext<'a> {
    pub fn new(state: &'a SessionState, catalog: Arc<RwLock<Catalog>>) -> Self {
        ScriptContext {
            state,
            catalog,
            relation_planners: vec![Arc::new(WindowTvfPlanner)],
            type_planner: Arc::new(FlinkTypePlanner),
        }
    }
}

pub fn table_source(catalog: &Catalog, name: &str) -> Option<Arc<dyn TableSource>> {
    let entry = catalog.get(name)?.clone();
    let schema = match &entry {
        CatalogEntry::Table(t) => Arc::clone(&t.schema),
        CatalogEntry::View { plan } => Arc::new(plan.schema().as_arrow().clone()),
    };
    Some(Arc::new(StcTableSource { entry, schema }))
}

impl ContextProvider for ScriptContext<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        let catalog = self.catalog.read().expect("catalog lock");
        let table = name.table();
        table_source(&catalog, table).ok_or_else(|| {
            let names = catalog.names();
            plan_datafusion_err!(
                "Object '{table}' not found. Declared tables and views: {}",
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        self.state.expr_planners()
    }

    fn get_relation_planners(&self) -> &[Arc<dyn RelationPlanner>] {
        &self.relation_planners
    }

    fn get_type_planner(&self) -> Option<Arc<dyn TypePlanner>> {
        Some(Arc::clone(&self.type_planner))
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.state.scalar_functions().get(name).cloned()
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.state.higher_order_functions().get(name).cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.state.aggregate_functions().get(name).cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.state.window_functions().get(name).cloned()
    }

    fn get_variable_type(&self, _: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.state.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        self.state.scalar_functions().keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.state
            .higher_order_functions()
            .keys()
            .cloned()
            .collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.state.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.state.window_functions().keys().cloned().collect()
    }
}

/// Flink's type names in `CAST` and `TRY_CAST`.
#[derive(Debug)]
pub struct FlinkTypePlanner;

impl TypePlanner for FlinkTypePlanner {
    fn plan_type_field(&self, sql_type: &ast::DataType) -> Result<Option<FieldRef>> {
        let dt = match sql_type {
            ast::DataType::Timestamp(p, tz) => {
                let unit = timestamp_unit(p.unwrap_or(6));
                match tz {
                    ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone => {
                        DataType::Timestamp(unit, None)
                    }
                    _ => {
                        return plan_err!(
                            "TIMESTAMP WITH TIME ZONE is not a Flink type; use TIMESTAMP_LTZ"
                        );
                    }
                }
            }
            ast::DataType::Custom(name, modifiers) => {
                let n = name.to_string().to_ascii_uppercase();
                let precision = modifiers.first().and_then(|m| m.parse::<u64>().ok());
                match n.as_str() {
                    "TIMESTAMP_LTZ" => DataType::Timestamp(
                        timestamp_unit(precision.unwrap_or(6)),
                        Some("UTC".into()),
                    ),
                    "STRING" => DataType::Utf8,
                    "BYTES" => DataType::Binary,
                    _ => return Ok(None),
                }
            }
            ast::DataType::String(_) => DataType::Utf8,
            ast::DataType::Bytes(_) => DataType::Binary,
            ast::DataType::Time(_, _) => DataType::Time32(TimeUnit::Millisecond),
            _ => return Ok(None),
        };
        Ok(Some(Arc::new(Field::new("", dt, true))))
    }
}

/// The window table-valued functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd)]
pub enum TvfKind {
    Tumble { size: i64, offset: i64 },
    Hop { slide: i64, size: i64, offset: i64 },
    Cumulate { step: i64, size: i64, offset: i64 },
    Session { gap: i64 },
}

/// `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), …))` and its siblings: the input's columns plus
/// `window_start`, `window_end`, `window_time`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowTvfNode {
    pub input: LogicalPlan,
    pub kind: TvfKind,
    /// The time attribute column (index into the input schema).
    pub time_column: usize,
    /// `PARTITION BY` keys of a SESSION TVF.
    pub partition_keys: Vec<Expr>,
    pub schema: DFSchemaRef,
}

impl PartialOrd for WindowTvfNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        if self == other {
            return Some(std::cmp::Ordering::Equal);
        }
        match (self.kind, self.time_column).partial_cmp(&(other.kind, other.time_column)) {
            Some(std::cmp::Ordering::Equal) => None,
            o => o,
        }
    }
}

impl UserDefinedLogicalNodeCore for WindowTvfNode {
    fn name(&self) -> &str {
        "WindowTVF"
    }
    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }
    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }
    fn expressions(&self) -> Vec<Expr> {
        self.partition_keys.clone()
    }
    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "WindowTVF: {:?} on column #{}",
            self.kind, self.time_column
        )
    }
    fn with_exprs_and_inputs(
        &self,
        exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let input = inputs
            .pop()
            .ok_or_else(|| plan_datafusion_err!("WindowTVF needs one input"))?;
        Ok(WindowTvfNode {
            input,
            kind: self.kind,
            time_column: self.time_column,
            partition_keys: exprs,
            schema: Arc::clone(&self.schema),
        })
    }
}

/// `table FOR SYSTEM_TIME AS OF expr`: the right side of a lookup join or of an event-time
/// temporal join. `time` is the SQL text of the time expression (a column of the other
/// side, which this relation cannot resolve on its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemporalTableNode {
    pub input: LogicalPlan,
    pub time: String,
    pub schema: DFSchemaRef,
}

impl PartialOrd for TemporalTableNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (self == other).then_some(std::cmp::Ordering::Equal)
    }
}

impl UserDefinedLogicalNodeCore for TemporalTableNode {
    fn name(&self) -> &str {
        "TemporalTable"
    }
    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }
    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }
    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }
    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "TemporalTable: FOR SYSTEM_TIME AS OF {}", self.time)
    }
    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let input = inputs
            .pop()
            .ok_or_else(|| plan_datafusion_err!("TemporalTable needs one input"))?;
        Ok(TemporalTableNode {
            schema: Arc::clone(input.schema()),
            input,
            time: self.time.clone(),
        })
    }
}

#[derive(Debug)]
struct WindowTvfPlanner;

fn unnamed_args(args: &FunctionArguments) -> Result<Vec<ast::Expr>> {
    match args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e.clone()),
                FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Ok(e.clone()),
                other => plan_err!("unexpected window TVF argument {other}"),
            })
            .collect(),
        _ => Ok(vec![]),
    }
}

/// Milliseconds of an interval literal planned by DataFusion.
fn interval_ms(
    ctx: &mut dyn RelationPlannerContext,
    e: ast::Expr,
    what: &str,
    tvf: &str,
) -> Result<i64> {
    let expr = ctx.sql_to_expr(e, &DFSchema::empty())?;
    match interval_millis(&expr) {
        Some(ms) => Ok(ms),
        None => plan_err!(
            "the {what} of {tvf} must be a positive day-time interval literal such as INTERVAL '10' MINUTE, found {expr}"
        ),
    }
}

/// Milliseconds of a positive day-time interval literal (a window size, slide or gap);
/// `None` for anything else (month intervals have no fixed length).
pub fn interval_millis(expr: &Expr) -> Option<i64> {
    let ms = match expr {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) if v.months == 0 => {
            v.days as i64 * 86_400_000 + v.nanoseconds / 1_000_000
        }
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => {
            v.days as i64 * 86_400_000 + v.milliseconds as i64
        }
        _ => return None,
    };
    (ms > 0).then_some(ms)
}

impl RelationPlanner for WindowTvfPlanner {
    fn plan_relation(
        &self,
        relation: TableFactor,
        ctx: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        if let TableFactor::Table {
            version: Some(ast::TableVersion::ForSystemTimeAsOf(time)),
            alias,
            ..
        } = &relation
        {
            // `dim FOR SYSTEM_TIME AS OF o.t`: the table as a temporal table; the join that
            // uses it decides between a lookup join and an event-time temporal join.
            let time = time.to_string();
            let alias = alias.clone();
            let mut plain = relation.clone();
            if let TableFactor::Table { version, alias, .. } = &mut plain {
                *version = None;
                *alias = None;
            }
            let input = ctx.plan(plain)?;
            let schema = Arc::clone(input.schema());
            let plan = LogicalPlan::Extension(Extension {
                node: Arc::new(TemporalTableNode {
                    input,
                    time,
                    schema,
                }),
            });
            return Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
                plan, alias,
            ))));
        }
        let TableFactor::TableFunction {
            expr: ast::Expr::Function(f),
            alias,
        } = &relation
        else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let tvf = f.name.to_string().to_ascii_uppercase();
        if !["TUMBLE", "HOP", "CUMULATE", "SESSION"].contains(&tvf.as_str()) {
            return plan_err!(
                "unknown table function {tvf}; Flink's window TVFs are TUMBLE, HOP, CUMULATE and SESSION"
            );
        }
        let args = unnamed_args(&f.args)?;
        let usage = match tvf.as_str() {
            "TUMBLE" => "TUMBLE(TABLE t, DESCRIPTOR(time_col), size [, offset])",
            "HOP" => "HOP(TABLE t, DESCRIPTOR(time_col), slide, size [, offset])",
            "CUMULATE" => "CUMULATE(TABLE t, DESCRIPTOR(time_col), step, size [, offset])",
            _ => "SESSION(TABLE t [PARTITION BY k], DESCRIPTOR(time_col), gap)",
        };
        let (table_arg, descriptor) = match (args.first(), args.get(1)) {
            (Some(ast::Expr::Function(t)), Some(ast::Expr::Function(d)))
                if t.name.to_string() == TABLE_ARG_FN
                    && d.name.to_string().eq_ignore_ascii_case("DESCRIPTOR") =>
            {
                (unnamed_args(&t.args)?, unnamed_args(&d.args)?)
            }
            _ => return plan_err!("invalid arguments to window TVF {tvf}; expected {usage}"),
        };
        let table_name = match table_arg.first() {
            Some(ast::Expr::CompoundIdentifier(parts)) => parts
                .iter()
                .map(|p| p.value.clone())
                .collect::<Vec<_>>()
                .join("."),
            _ => return plan_err!("invalid table argument to {tvf}; expected {usage}"),
        };
        let table_ref = TableReference::bare(table_name.clone());
        let source = ctx.context_provider().get_table_source(table_ref.clone())?;
        let input = LogicalPlanBuilder::scan(table_ref, source, None)?.build()?;
        let time_name = match descriptor.first() {
            Some(ast::Expr::Identifier(i)) => i.value.clone(),
            Some(ast::Expr::CompoundIdentifier(p)) => {
                p.last().map(|i| i.value.clone()).unwrap_or_default()
            }
            _ => {
                return plan_err!(
                    "DESCRIPTOR of {tvf} must name the time attribute column; expected {usage}"
                );
            }
        };
        let schema = input.schema().clone();
        let time_column = schema
            .fields()
            .iter()
            .position(|fld| fld.name() == &time_name)
            .ok_or_else(|| {
                let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                plan_datafusion_err!("column '{time_name}' in DESCRIPTOR of {tvf} not found in '{table_name}'. Columns: {}", names.join(", "))
            })?;
        let ts_type = schema.field(time_column).data_type().clone();
        if !matches!(ts_type, DataType::Timestamp(_, _)) {
            return plan_err!(
                "the time attribute '{time_name}' of {tvf} must be of type TIMESTAMP(3) or TIMESTAMP_LTZ(3), found {ts_type}"
            );
        }
        let rest: Vec<ast::Expr> = args[2..].to_vec();
        let kind = match (tvf.as_str(), rest.len()) {
            ("TUMBLE", 1 | 2) => TvfKind::Tumble {
                size: interval_ms(ctx, rest[0].clone(), "size", &tvf)?,
                offset: if rest.len() == 2 {
                    interval_ms(ctx, rest[1].clone(), "offset", &tvf)?
                } else {
                    0
                },
            },
            ("HOP", 2 | 3) => TvfKind::Hop {
                slide: interval_ms(ctx, rest[0].clone(), "slide", &tvf)?,
                size: interval_ms(ctx, rest[1].clone(), "size", &tvf)?,
                offset: if rest.len() == 3 {
                    interval_ms(ctx, rest[2].clone(), "offset", &tvf)?
                } else {
                    0
                },
            },
            ("CUMULATE", 2 | 3) => TvfKind::Cumulate {
                step: interval_ms(ctx, rest[0].clone(), "step", &tvf)?,
                size: interval_ms(ctx, rest[1].clone(), "size", &tvf)?,
                offset: if rest.len() == 3 {
                    interval_ms(ctx, rest[2].clone(), "offset", &tvf)?
                } else {
                    0
                },
            },
            ("SESSION", 1) => TvfKind::Session {
                gap: interval_ms(ctx, rest[0].clone(), "gap", &tvf)?,
            },
            _ => return plan_err!("wrong number of arguments to {tvf}; expected {usage}"),
        };
        if let TvfKind::Cumulate { step, size, .. } = kind
            && size % step != 0
        {
            return plan_err!("CUMULATE requires the size to be a multiple of the step");
        }
        if let TvfKind::Hop { slide, size, .. } = kind
            && size % slide != 0
        {
            return plan_err!("HOP requires the size to be a multiple of the slide");
        }
        let partition_keys = table_arg[1..]
            .iter()
            .map(|k| ctx.sql_to_expr(k.clone(), &schema))
            .collect::<Result<Vec<_>>>()?;
        let mut fields: Vec<(Option<TableReference>, FieldRef)> = schema
            .iter()
            .map(|(q, f)| (q.cloned(), Arc::clone(f)))
            .collect();
        // The window columns of a processing-time TVF stay marked as processing time, which
        // is how the aggregation above knows to fire on the wall clock.
        let time_metadata = schema.field(time_column).metadata().clone();
        for name in ["window_start", "window_end", "window_time"] {
            fields.push((
                None,
                Arc::new(
                    Field::new(name, ts_type.clone(), false).with_metadata(time_metadata.clone()),
                ),
            ));
        }
        let out_schema = Arc::new(DFSchema::new_with_metadata(fields, HashMap::new())?);
        let node = WindowTvfNode {
            input,
            kind,
            time_column,
            partition_keys,
            schema: out_schema,
        };
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        });
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan,
            alias.clone(),
        ))))
    }
}
