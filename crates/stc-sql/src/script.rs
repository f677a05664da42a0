//! Compiling a whole script: statements in order, into one job.
//!
//! All `INSERT INTO` statements of a script (inside or outside `EXECUTE STATEMENT SET`) and a
//! final bare `SELECT` run as one job, as if they were one statement set: with bounded inputs
//! this gives what Flink's SQL client gives when it runs them one after another, with one
//! read of each source per statement.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{DFSchema, Diagnostic};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use datafusion::sql::planner::{ParserOptions, PlannerContext, SqlToRel};
use sqlparser::ast::{self as ast, ObjectName, Statement as SqlStatement};
use sqlparser::tokenizer::Location;
use stc_common::config;
use stc_runtime::ops::collect::CollectSink;
use stc_runtime::ops::group_agg::MiniBatch;
use stc_runtime::{JobGraph, StreamBatch};
use tokio::sync::mpsc::{Receiver, channel};

use crate::catalog::{Catalog, CatalogEntry, ResolvedColumn, ResolvedTable};
use crate::context::{ScriptContext, new_session_state};
use crate::error::{NOT_SUPPORTED_PREFIX, Result, SqlError, SqlErrorKind};
use crate::parser::{ColumnKind, CreateTable, FlinkStatement, parse_script};
use crate::planner::{Stream, Translator};

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// `--parallelism`; overrides `parallelism.default`.
    pub parallelism: Option<usize>,
    /// `--set KEY=VALUE`, applied after the script's own `SET`s.
    pub config: Vec<(String, String)>,
    /// Tables and views declared before the script: a project's catalog. Tables come first,
    /// then views in the given order (a view may use the objects before it). The script's
    /// `CREATE TEMPORARY TABLE`/`VIEW` of the same name shadows one, as Flink's temporary
    /// objects shadow catalog objects; a plain `CREATE` of the same name is an error.
    pub catalog: Vec<CatalogObject>,
}

/// One table or view of a project's catalog: its name and its one `CREATE TABLE` or `CREATE
/// VIEW` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogObject {
    pub name: String,
    pub ddl: String,
}

/// The result channel of a final bare `SELECT`.
pub struct SelectOutput {
    pub schema: SchemaRef,
    pub rx: Receiver<StreamBatch>,
}

pub struct CompiledJob {
    pub graph: JobGraph,
    pub select: Option<SelectOutput>,
    pub config: BTreeMap<String, String>,
    pub parallelism: usize,
    /// Names of the tables written by INSERT statements.
    pub sinks: Vec<String>,
}

/// Converts a DataFusion error into ours, keeping its location when DataFusion has one.
pub fn from_datafusion(
    e: DataFusionError,
    statement: usize,
    fallback: Option<Location>,
) -> SqlError {
    let location = e
        .diagnostic()
        .and_then(|d: &Diagnostic| d.span)
        .map(|s| Location {
            line: s.start.line,
            column: s.start.column,
        })
        .or(fallback);
    let inner = e.find_root();
    let (kind, message) = match inner {
        DataFusionError::NotImplemented(m) => (SqlErrorKind::Unsupported, m.clone()),
        DataFusionError::Plan(m) => match m.strip_prefix(NOT_SUPPORTED_PREFIX) {
            Some(rest) => (SqlErrorKind::Unsupported, rest.to_string()),
            None => (SqlErrorKind::Validation, m.clone()),
        },
        DataFusionError::SchemaError(se, _) => (SqlErrorKind::Validation, se.to_string()),
        DataFusionError::SQL(pe, _) => (SqlErrorKind::Syntax, pe.to_string()),
        other => (SqlErrorKind::Validation, other.strip_backtrace()),
    };
    SqlError {
        kind,
        statement,
        location,
        message,
        catalog_object: None,
    }
}

fn parser_options() -> ParserOptions {
    ParserOptions::new()
        .with_enable_ident_normalization(false)
        .with_map_string_types_to_utf8view(false)
        .with_support_varchar_with_length(true)
        .with_collect_spans(true)
}

/// Finds `word` in the script after `from` and returns its location, for errors DataFusion
/// reports without a span.
fn locate(script: &str, from: Location, word: &str) -> Option<Location> {
    if word.is_empty() {
        return None;
    }
    let lines: Vec<&str> = script.lines().collect();
    for (li, line) in lines
        .iter()
        .enumerate()
        .skip((from.line as usize).saturating_sub(1))
    {
        let start = if li + 1 == from.line as usize {
            (from.column as usize).saturating_sub(1)
        } else {
            0
        };
        let chars: Vec<char> = line.chars().collect();
        if start > chars.len() {
            continue;
        }
        let hay: String = chars[start..].iter().collect();
        if let Some(pos) = hay.find(word) {
            let col = hay[..pos].chars().count() + start + 1;
            return Some(Location {
                line: li as u64 + 1,
                column: col as u64,
            });
        }
    }
    None
}

/// The quoted name in an error message (`'x'`, `"x"` or after "named "), to locate it.
fn quoted_name(msg: &str) -> Option<String> {
    if let Some(rest) = msg.split("named ").nth(1) {
        let w: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        let w = w.rsplit('.').next().unwrap_or("").to_string();
        if !w.is_empty() {
            return Some(w);
        }
    }
    for q in ['\'', '"'] {
        let mut parts = msg.split(q);
        if let (Some(_), Some(name)) = (parts.next(), parts.next())
            && !name.is_empty()
            && name.len() < 64
        {
            return Some(name.trim_end_matches("()").to_string());
        }
    }
    None
}

struct Compiler<'a> {
    script: &'a str,
    state: SessionState,
    catalog: Arc<RwLock<Catalog>>,
    translator: Translator,
    time_zone: String,
    sinks: Vec<String>,
    /// Names declared by the project catalog and not (yet) shadowed by the script.
    from_catalog: std::collections::HashSet<String>,
}

/// Compiles a Flink SQL script into a job.
pub fn compile_script(script: &str, opts: &CompileOptions) -> Result<CompiledJob> {
    compile(script, opts, Mode::Job).map(|j| j.expect("a whole script compiles to a job"))
}

/// Checks a project catalog on its own (`opts.catalog`, with `opts.config`): every object
/// parses, names itself, and plans against the objects before it.
pub fn check_catalog(opts: &CompileOptions) -> Result<()> {
    compile("", opts, Mode::CatalogOnly).map(|_| ())
}

/// Compiles `SELECT * FROM table` against the catalog and the script's declarations (its
/// `SET`, `CREATE TABLE` and `CREATE VIEW` statements; its INSERTs and SELECT are left out,
/// so previewing never writes anywhere). The result is the job's `select` output.
pub fn compile_preview(script: &str, table: &str, opts: &CompileOptions) -> Result<CompiledJob> {
    compile(script, opts, Mode::Preview(table)).map(|j| j.expect("a preview compiles to a job"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode<'t> {
    Job,
    CatalogOnly,
    Preview(&'t str),
}

/// `table.exec.mini-batch.*`: `None` unless enabled; enabled needs a positive latency and a
/// positive size, as in Flink (which fails the job with "MiniBatch Latency must be greater
/// than 0 ms." / "'table.exec.mini-batch.size' ... must be > 0.").
fn mini_batch_config(conf: &BTreeMap<String, String>) -> Result<Option<MiniBatch>> {
    let invalid = |msg: String| SqlError::validation(0, None, msg);
    let enabled = match conf.get(config::MINI_BATCH_ENABLED).map(|v| v.trim()) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(invalid(format!(
                "'{}' must be 'true' or 'false', found '{v}'",
                config::MINI_BATCH_ENABLED
            )));
        }
    };
    if !enabled {
        return Ok(None);
    }
    let latency = match conf.get(config::MINI_BATCH_ALLOW_LATENCY) {
        Some(v) => config::parse_duration_ms(v).ok_or_else(|| {
            invalid(format!(
                "'{}' must be a duration such as '2 s', found '{v}'",
                config::MINI_BATCH_ALLOW_LATENCY
            ))
        })?,
        None => 0,
    };
    if latency == 0 {
        return Err(invalid(format!(
            "MiniBatch latency must be greater than 0 ms: set '{}' (e.g. '2 s') when '{}' is true",
            config::MINI_BATCH_ALLOW_LATENCY,
            config::MINI_BATCH_ENABLED
        )));
    }
    let size = conf
        .get(config::MINI_BATCH_SIZE)
        .map(|v| v.trim().parse::<i64>().ok().ok_or(v))
        .transpose()
        .map_err(|v| {
            invalid(format!(
                "'{}' must be an integer, found '{v}'",
                config::MINI_BATCH_SIZE
            ))
        })?
        .unwrap_or(-1);
    if size <= 0 {
        return Err(invalid(format!(
            "'{}' must be > 0 when '{}' is true (found {size}; e.g. '5000')",
            config::MINI_BATCH_SIZE,
            config::MINI_BATCH_ENABLED
        )));
    }
    Ok(Some(MiniBatch {
        allow_latency_ms: latency,
        size: usize::try_from(size).unwrap_or(usize::MAX),
    }))
}

fn compile(script: &str, opts: &CompileOptions, mode: Mode<'_>) -> Result<Option<CompiledJob>> {
    let statements = parse_script(script)?;
    // SETs are collected first: they configure the whole job.
    let mut conf: BTreeMap<String, String> = BTreeMap::new();
    for s in &statements {
        match &s.node {
            FlinkStatement::Set { key, value } => {
                conf.insert(key.clone(), value.clone());
            }
            FlinkStatement::Reset { key: Some(k) } => {
                conf.remove(k);
            }
            FlinkStatement::Reset { key: None } => conf.clear(),
            _ => {}
        }
    }
    for (k, v) in &opts.config {
        conf.insert(k.clone(), v.clone());
    }
    let parallelism = match opts.parallelism {
        Some(p) => p,
        None => match conf
            .get(config::PARALLELISM_DEFAULT)
            .or(conf.get(config::TABLE_DEFAULT_PARALLELISM))
        {
            Some(v) => v.parse::<usize>().ok().filter(|p| *p > 0).ok_or_else(|| {
                SqlError::validation(
                    0,
                    None,
                    format!(
                        "'{}' must be a positive integer, found '{v}'",
                        config::PARALLELISM_DEFAULT
                    ),
                )
            })?,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        },
    };
    if parallelism == 0 || parallelism > 1024 {
        return Err(SqlError::validation(
            0,
            None,
            format!("parallelism must be between 1 and 1024, found {parallelism}"),
        ));
    }
    let max_parallelism = match conf.get(config::MAX_PARALLELISM) {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= parallelism)
            .ok_or_else(|| {
                SqlError::validation(
                    0,
                    None,
                    format!(
                        "'{}' must be an integer >= the parallelism, found '{v}'",
                        config::MAX_PARALLELISM
                    ),
                )
            })?,
        None => config::DEFAULT_MAX_PARALLELISM.max(parallelism),
    };
    let idle_timeout_ms = match conf.get(config::SOURCE_IDLE_TIMEOUT) {
        Some(v) => config::parse_duration_ms(v).ok_or_else(|| {
            SqlError::validation(
                0,
                None,
                format!(
                    "'{}' must be a duration such as '5 s', found '{v}'",
                    config::SOURCE_IDLE_TIMEOUT
                ),
            )
        })?,
        None => 0,
    };
    let state_ttl_ms = match conf.get(config::STATE_TTL) {
        Some(v) => config::parse_duration_ms(v).ok_or_else(|| {
            SqlError::validation(
                0,
                None,
                format!(
                    "'{}' must be a duration such as '1 h', found '{v}'",
                    config::STATE_TTL
                ),
            )
        })?,
        None => 0,
    };
    let mini_batch = mini_batch_config(&conf)?;
    let time_zone = conf
        .get(config::LOCAL_TIME_ZONE)
        .cloned()
        .unwrap_or_else(|| "UTC".to_string());
    // The same parser the time functions use, so a zone accepted here works there.
    if stc_functions::Zone::parse(&time_zone).is_err() {
        return Err(SqlError::validation(
            0,
            None,
            format!(
                "'{}' must be a time zone id such as 'UTC' or 'Asia/Shanghai', found '{time_zone}'",
                config::LOCAL_TIME_ZONE
            ),
        ));
    }
    let state = new_session_state(&time_zone).map_err(|e| from_datafusion(e, 0, None))?;
    let mut c = Compiler {
        script,
        state: state.clone(),
        catalog: Arc::new(RwLock::new(Catalog::default())),
        translator: Translator {
            state,
            graph: JobGraph::new(max_parallelism),
            parallelism,
            idle_timeout_ms,
            time_zone: time_zone.clone(),
            updating: HashMap::new(),
            rank_limits: HashMap::new(),
            state_ttl_ms,
            mini_batch,
            shared_scans: HashMap::new(),
        },
        time_zone,
        sinks: Vec::new(),
        from_catalog: Default::default(),
    };
    c.declare_catalog(&opts.catalog)?;
    c.script = script;
    if mode == Mode::CatalogOnly {
        return Ok(None);
    }
    let mut select = None;
    let last = statements.len();
    for s in &statements {
        let at = |e: SqlError| e.at(s.index, s.location);
        match &s.node {
            FlinkStatement::CreateTable(t) => c.create_table(t, s.index, s.location).map_err(at)?,
            FlinkStatement::CreateView {
                name,
                columns,
                query,
                if_not_exists,
                temporary,
            } => c
                .create_view(
                    name,
                    columns,
                    query,
                    *temporary,
                    *if_not_exists,
                    s.index,
                    s.location,
                )
                .map_err(at)?,
            FlinkStatement::Insert(_)
            | FlinkStatement::StatementSet(_)
            | FlinkStatement::Query(_)
                if matches!(mode, Mode::Preview(_)) => {}
            FlinkStatement::Insert(stmt) => c.insert(stmt, s.index, s.location).map_err(at)?,
            FlinkStatement::StatementSet(inserts) => {
                for i in inserts {
                    c.insert(&i.node, s.index, i.location)
                        .map_err(|e| e.at(s.index, i.location))?;
                }
            }
            FlinkStatement::Query(q) => {
                if s.index != last {
                    return Err(SqlError::validation(
                        s.index,
                        Some(s.location),
                        "a bare SELECT must be the last statement of a script (its result is printed as the job runs)",
                    ));
                }
                select = Some(c.select(q, s.index, s.location).map_err(at)?);
            }
            FlinkStatement::Set { .. } | FlinkStatement::Reset { .. } => {}
        }
    }
    if let Mode::Preview(table) = mode {
        if c.catalog.read().expect("catalog").get(table).is_none() {
            let known = c.catalog.read().expect("catalog").names();
            return Err(SqlError::validation(
                0,
                None,
                format!(
                    "no table or view '{table}' to preview; declared: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        let sql = format!("SELECT * FROM `{}`", table.replace('`', "``"));
        let statements = parse_script(&sql)?;
        let FlinkStatement::Query(q) = &statements[0].node else {
            return Err(SqlError::internal(
                "the preview query did not parse as a query",
            ));
        };
        c.script = "";
        select = Some(c.select(q, 0, statements[0].location)?);
    }
    if c.sinks.is_empty() && select.is_none() {
        return Err(SqlError::validation(
            0,
            None,
            "the script has no INSERT INTO or SELECT statement: there is nothing to run",
        ));
    }
    let batch_delay_ms = match conf.get(config::SOURCE_BATCH_DELAY) {
        Some(v) => config::parse_duration_ms(v).ok_or_else(|| {
            SqlError::validation(
                0,
                None,
                format!(
                    "'{}' must be a duration such as '100 ms', found '{v}'",
                    config::SOURCE_BATCH_DELAY
                ),
            )
        })?,
        None => 0,
    };
    for node in &mut c.translator.graph.nodes {
        if let Some(source) = &mut node.source {
            source.batch_delay_ms = batch_delay_ms;
        }
    }
    Ok(Some(CompiledJob {
        graph: c.translator.graph,
        select,
        config: conf,
        parallelism,
        sinks: c.sinks,
    }))
}

fn object_name(n: &ObjectName) -> String {
    // Flink's catalog.database.table: we have one catalog and database, so only the last
    // part names the object.
    n.0.last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .unwrap_or_else(|| n.to_string())
}

impl<'a> Compiler<'a> {
    fn plan_query(
        &self,
        query: &ast::Query,
        statement: usize,
        location: Location,
    ) -> Result<LogicalPlan> {
        let mut q = query.clone();
        crate::rewrite::rewrite(&mut q);
        let ctx = ScriptContext::new(&self.state, Arc::clone(&self.catalog));
        let planner = SqlToRel::new_with_options(&ctx, parser_options());
        let plan = planner
            .sql_statement_to_plan(SqlStatement::Query(Box::new(q)))
            .map_err(|e| self.df_error(e, statement, location))?;
        let plan = crate::planner::mark_temporal_times(plan)
            .map_err(|e| self.df_error(e, statement, location))?;
        self.state
            .optimize(&plan)
            .map_err(|e| self.df_error(e, statement, location))
    }

    fn df_error(&self, e: DataFusionError, statement: usize, location: Location) -> SqlError {
        let mut err = from_datafusion(e, statement, None);
        if err.location.is_none() {
            err.location = quoted_name(&err.message)
                .and_then(|w| locate(self.script, location, &w))
                .or(Some(location));
        }
        err
    }

    fn expr(
        &self,
        e: &ast::Expr,
        schema: &DFSchema,
        statement: usize,
        location: Location,
    ) -> Result<Expr> {
        let mut e = e.clone();
        crate::rewrite::rewrite(&mut e);
        let ctx = ScriptContext::new(&self.state, Arc::clone(&self.catalog));
        let planner = SqlToRel::new_with_options(&ctx, parser_options());
        let expr = planner
            .sql_to_expr(e, schema, &mut PlannerContext::new())
            .map_err(|e| self.df_error(e, statement, location))?;
        // Type-check now so that a bad expression fails at its declaration.
        expr.get_type(schema)
            .map_err(|e| self.df_error(e, statement, location))?;
        Ok(expr)
    }

    fn create_table(
        &mut self,
        t: &CreateTable,
        statement: usize,
        location: Location,
    ) -> Result<()> {
        let name = object_name(&t.name);
        if t.temporary {
            self.shadow_catalog_object(&name);
        }
        if self.catalog.read().expect("catalog").get(&name).is_some() {
            if t.if_not_exists {
                return Ok(());
            }
            return Err(SqlError::validation(
                statement,
                Some(location),
                format!("Table or view '{name}' already exists"),
            ));
        }
        let mut def = t.clone();
        if let Some(like) = &t.like {
            self.merge_like(&mut def, like, statement, location)?;
        }
        let resolved = self.resolve_table(&def, &name, statement, location)?;
        // Validate the connector options now, at the declaration, as Flink does when the
        // table is used; a table that is never used is still checked.
        let table = connector_table(&resolved, &self.time_zone);
        stc_connectors::validate(&table).map_err(|e| {
            SqlError::validation(statement, Some(location), format!("table '{name}': {e}"))
        })?;
        self.catalog
            .write()
            .expect("catalog")
            .entries
            .insert(name, CatalogEntry::Table(Arc::new(resolved)));
        Ok(())
    }

    fn merge_like(
        &self,
        def: &mut CreateTable,
        like: &crate::parser::LikeClause,
        statement: usize,
        location: Location,
    ) -> Result<()> {
        let src_name = object_name(&like.source);
        // LIKE merges declarations, so it works on the source's definition as written.
        let src: CreateTable = match self.catalog.read().expect("catalog").get(&src_name) {
            Some(CatalogEntry::Table(t)) => t.definition.clone(),
            Some(CatalogEntry::View { .. }) => {
                return Err(SqlError::validation(
                    statement,
                    Some(location),
                    format!("LIKE source '{src_name}' is a view; it must be a table"),
                ));
            }
            None => {
                return Err(SqlError::validation(
                    statement,
                    locate(self.script, location, &src_name).or(Some(location)),
                    format!("Source table '{src_name}' of the LIKE clause not found"),
                ));
            }
        };
        // Flink's default: INCLUDING ALL OVERWRITING OPTIONS.
        let (mut options, mut watermarks, mut generated, mut metadata) = (true, true, true, true);
        let mut overwrite_options = true;
        for (strategy, what) in &like.options {
            if !["INCLUDING", "EXCLUDING", "OVERWRITING"].contains(&strategy.as_str()) {
                return Err(SqlError::validation(
                    statement,
                    Some(location),
                    format!(
                        "unknown LIKE strategy '{strategy}'; valid: INCLUDING, EXCLUDING, OVERWRITING"
                    ),
                ));
            }
            let on = strategy != "EXCLUDING";
            match what.as_str() {
                "ALL" => {
                    (options, watermarks, generated, metadata) = (on, on, on, on);
                    overwrite_options = strategy == "OVERWRITING";
                }
                "OPTIONS" => {
                    options = on;
                    overwrite_options = strategy == "OVERWRITING";
                }
                "WATERMARKS" => watermarks = on,
                "GENERATED" => generated = on,
                "METADATA" => metadata = on,
                "CONSTRAINTS" | "PARTITIONS" => {}
                other => {
                    return Err(SqlError::validation(
                        statement,
                        Some(location),
                        format!(
                            "unknown LIKE option '{other}'; valid: ALL, CONSTRAINTS, GENERATED, METADATA, OPTIONS, PARTITIONS, WATERMARKS"
                        ),
                    ));
                }
            }
        }
        // Columns of the source come first, as in Flink.
        let mut cols = Vec::new();
        for c in src.columns {
            let keep = match c.kind {
                ColumnKind::Physical => true,
                ColumnKind::Computed(_) => generated,
                ColumnKind::Metadata { .. } => metadata,
            };
            if !keep {
                continue;
            }
            if def.columns.iter().any(|d| d.name.value == c.name.value) {
                return Err(SqlError::validation(
                    statement,
                    Some(location),
                    format!(
                        "column '{}' is defined both in the LIKE source and in the new table",
                        c.name.value
                    ),
                ));
            }
            cols.push(c);
        }
        cols.append(&mut def.columns);
        def.columns = cols;
        if watermarks && def.watermark.is_none() {
            def.watermark = src.watermark;
        }
        if def.primary_key.is_empty() {
            def.primary_key = src.primary_key;
        }
        if options {
            let mut merged = src.options;
            for (k, v) in &def.options {
                if !overwrite_options && merged.contains_key(k) {
                    return Err(SqlError::validation(
                        statement,
                        Some(location),
                        format!(
                            "option '{k}' is defined both in the LIKE source and in the new table; use OVERWRITING OPTIONS to replace it"
                        ),
                    ));
                }
                merged.insert(k.clone(), v.clone());
            }
            def.options = merged;
        }
        Ok(())
    }

    fn resolve_table(
        &self,
        t: &CreateTable,
        name: &str,
        statement: usize,
        location: Location,
    ) -> Result<ResolvedTable> {
        let connector = t.options.get("connector").cloned().ok_or_else(|| {
            SqlError::validation(
                statement,
                Some(location),
                format!(
                    "table '{name}' has no 'connector' option. Available connectors: {}",
                    stc_connectors::CONNECTORS.join(", ")
                ),
            )
        })?;
        // Reader schema: physical columns, then metadata columns.
        let mut reader_fields = Vec::new();
        let mut metadata = Vec::new();
        for c in &t.columns {
            if let (ColumnKind::Physical, Some(dt)) = (&c.kind, &c.data_type) {
                reader_fields.push(Field::new(&c.name.value, dt.clone(), c.nullable));
            }
        }
        for c in &t.columns {
            if let (ColumnKind::Metadata { key, .. }, Some(dt)) = (&c.kind, &c.data_type) {
                let key = key.clone().unwrap_or_else(|| c.name.value.clone());
                let field = Field::new(&c.name.value, dt.clone(), true);
                let allowed = stc_connectors::metadata_keys(&connector);
                if !allowed.iter().any(|(k, _)| *k == key) {
                    return Err(SqlError::validation(
                        statement,
                        Some(c.location),
                        format!(
                            "connector '{connector}' has no metadata key '{key}'. Available keys: {}",
                            if allowed.is_empty() {
                                "(none)".to_string()
                            } else {
                                allowed
                                    .iter()
                                    .map(|(k, _)| *k)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    ));
                }
                metadata.push((key, field.clone()));
                reader_fields.push(field);
            }
        }
        let reader_schema = Arc::new(Schema::new(reader_fields));
        let reader_df = DFSchema::try_from(reader_schema.as_ref().clone())
            .map_err(|e| from_datafusion(e, statement, Some(location)))?;
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        let mut persisted = Vec::new();
        let (mut phys_i, mut meta_i) = (0usize, 0usize);
        let n_phys = t
            .columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Physical))
            .count();
        let mut seen = std::collections::HashSet::new();
        for c in &t.columns {
            if !seen.insert(c.name.value.clone()) {
                return Err(SqlError::validation(
                    statement,
                    Some(c.location),
                    format!("duplicate column '{}' in table '{name}'", c.name.value),
                ));
            }
            match &c.kind {
                ColumnKind::Physical => {
                    persisted.push(fields.len());
                    fields.push(Field::new(
                        &c.name.value,
                        c.data_type.clone().unwrap_or(DataType::Null),
                        c.nullable,
                    ));
                    columns.push(ResolvedColumn::Physical(phys_i));
                    phys_i += 1;
                }
                ColumnKind::Metadata { key, is_virtual } => {
                    if !is_virtual {
                        persisted.push(fields.len());
                    }
                    fields.push(Field::new(
                        &c.name.value,
                        c.data_type.clone().unwrap_or(DataType::Null),
                        true,
                    ));
                    columns.push(ResolvedColumn::Metadata {
                        reader_index: n_phys + meta_i,
                        key: key.clone().unwrap_or_else(|| c.name.value.clone()),
                        is_virtual: *is_virtual,
                    });
                    meta_i += 1;
                }
                ColumnKind::Computed(e) => {
                    let expr = self.expr(e, &reader_df, statement, c.location)?;
                    let (dt, nullable) = {
                        let f = expr
                            .to_field(&reader_df)
                            .map_err(|e| from_datafusion(e, statement, Some(c.location)))?
                            .1;
                        (f.data_type().clone(), f.is_nullable())
                    };
                    let mut field = Field::new(&c.name.value, dt, nullable);
                    if matches!(&expr, Expr::ScalarFunction(f) if f.name() == "proctime") {
                        field = field.with_metadata(crate::types::proctime_metadata());
                    }
                    fields.push(field);
                    columns.push(ResolvedColumn::Computed(expr));
                }
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let full_df = DFSchema::try_from(schema.as_ref().clone())
            .map_err(|e| from_datafusion(e, statement, Some(location)))?;
        let options = t.options.clone();
        let watermark = match &t.watermark {
            None => None,
            Some((col, e)) => {
                let idx = schema.fields().iter().position(|f| f.name() == &col.value).ok_or_else(|| {
                    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                    SqlError::validation(statement, locate(self.script, location, &col.value).or(Some(location)), format!(
                        "The rowtime attribute field '{}' is not defined in the table schema, at line {} column {}. Available fields: [{}]",
                        col.value, col.span.start.line, col.span.start.column, names.join(", ")
                    ))
                })?;
                match schema.field(idx).data_type() {
                    DataType::Timestamp(_, _) => {}
                    other => {
                        return Err(SqlError::validation(
                            statement,
                            locate(self.script, location, &col.value).or(Some(location)),
                            format!(
                                "Invalid data type of time field for watermark definition. The field '{}' must be of type TIMESTAMP(p) or TIMESTAMP_LTZ(p), the supported precision 'p' is from 0 to 3, but the time field type is {other}",
                                col.value
                            ),
                        ));
                    }
                }
                let expr = self.expr(e, &full_df, statement, location)?;
                Some((idx, expr))
            }
        };
        let primary_key: Vec<String> = t.primary_key.iter().map(|i| i.value.clone()).collect();
        for k in &primary_key {
            if !schema.fields().iter().any(|f| f.name() == k) {
                return Err(SqlError::validation(
                    statement,
                    Some(location),
                    format!("primary key column '{k}' is not a column of table '{name}'"),
                ));
            }
        }
        Ok(ResolvedTable {
            name: name.to_string(),
            schema,
            columns,
            reader_schema,
            persisted,
            metadata_keys: metadata,
            watermark,
            primary_key,
            options,
            location,
            statement,
            definition: t.clone(),
        })
    }

    /// A temporary object of the script hides the catalog's object of that name.
    fn shadow_catalog_object(&mut self, name: &str) {
        if self.from_catalog.remove(name) {
            self.catalog.write().expect("catalog").entries.remove(name);
        }
    }

    /// Declares the project catalog's tables, then its views, before the script.
    fn declare_catalog(&mut self, objects: &'a [CatalogObject]) -> Result<()> {
        let mut views = Vec::new();
        for o in objects {
            let fail = |e: SqlError| e.in_catalog_object(&o.name);
            let statements = parse_script(&o.ddl).map_err(fail)?;
            let [s] = statements.as_slice() else {
                return Err(fail(SqlError::validation(
                    0,
                    None,
                    format!(
                        "a catalog object is one CREATE TABLE or CREATE VIEW statement, found {} statements",
                        statements.len()
                    ),
                )));
            };
            let declared = match &s.node {
                FlinkStatement::CreateTable(t) => object_name(&t.name),
                FlinkStatement::CreateView { name, .. } => object_name(name),
                _ => {
                    return Err(fail(SqlError::validation(
                        1,
                        Some(s.location),
                        "a catalog object is a CREATE TABLE or CREATE VIEW statement",
                    )));
                }
            };
            if declared != o.name {
                return Err(fail(SqlError::validation(
                    1,
                    Some(s.location),
                    format!("the statement declares '{declared}', not '{}'", o.name),
                )));
            }
            let location = s.location;
            let statement = statements.into_iter().next().expect("one statement").node;
            match statement {
                FlinkStatement::CreateTable(t) => {
                    self.script = &o.ddl;
                    self.create_table(&t, 1, location)
                        .map_err(|e| fail(e.at(1, location)))?;
                    self.from_catalog.insert(declared);
                }
                view => views.push((o, location, view)),
            }
        }
        for (o, location, view) in views {
            if let FlinkStatement::CreateView {
                name,
                columns,
                query,
                if_not_exists,
                temporary,
            } = &view
            {
                self.script = &o.ddl;
                self.create_view(
                    name,
                    columns,
                    query,
                    *temporary,
                    *if_not_exists,
                    1,
                    location,
                )
                .map_err(|e| e.at(1, location).in_catalog_object(&o.name))?;
                self.from_catalog.insert(o.name.clone());
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn create_view(
        &mut self,
        name: &ObjectName,
        columns: &[ast::Ident],
        query: &ast::Query,
        temporary: bool,
        if_not_exists: bool,
        statement: usize,
        location: Location,
    ) -> Result<()> {
        let name = object_name(name);
        if temporary {
            self.shadow_catalog_object(&name);
        }
        if self.catalog.read().expect("catalog").get(&name).is_some() {
            if if_not_exists {
                return Ok(());
            }
            return Err(SqlError::validation(
                statement,
                Some(location),
                format!("Table or view '{name}' already exists"),
            ));
        }
        let mut plan = self.plan_query(query, statement, location)?;
        if !columns.is_empty() {
            if columns.len() != plan.schema().fields().len() {
                return Err(SqlError::validation(
                    statement,
                    Some(location),
                    format!(
                        "view '{name}' names {} columns but its query returns {}",
                        columns.len(),
                        plan.schema().fields().len()
                    ),
                ));
            }
            let exprs: Vec<Expr> = plan
                .schema()
                .columns()
                .into_iter()
                .zip(columns)
                .map(|(c, n)| Expr::Column(c).alias(n.value.clone()))
                .collect();
            plan = datafusion::logical_expr::LogicalPlanBuilder::from(plan)
                .project(exprs)
                .and_then(|b| b.build())
                .map_err(|e| from_datafusion(e, statement, Some(location)))?;
        }
        let plan = datafusion::logical_expr::LogicalPlanBuilder::from(plan)
            .alias(name.clone())
            .and_then(|b| b.build())
            .map_err(|e| from_datafusion(e, statement, Some(location)))?;
        self.catalog.write().expect("catalog").entries.insert(
            name,
            CatalogEntry::View {
                plan: Arc::new(plan),
            },
        );
        Ok(())
    }

    fn insert(&mut self, stmt: &SqlStatement, statement: usize, location: Location) -> Result<()> {
        let SqlStatement::Insert(ins) = stmt else {
            return Err(SqlError::internal("expected an INSERT statement"));
        };
        if ins.overwrite {
            return Err(SqlError::unsupported(
                statement,
                Some(location),
                "INSERT OVERWRITE",
            ));
        }
        if !ins.columns.is_empty() {
            return Err(SqlError::unsupported(
                statement,
                Some(location),
                "INSERT INTO with a column list",
            ));
        }
        let target = match &ins.table {
            ast::TableObject::TableName(n) => object_name(n),
            other => {
                return Err(SqlError::unsupported(
                    statement,
                    Some(location),
                    format!("INSERT INTO {other}"),
                ));
            }
        };
        let Some(source) = &ins.source else {
            return Err(SqlError::validation(
                statement,
                Some(location),
                "INSERT INTO needs a query",
            ));
        };
        let table = match self.catalog.read().expect("catalog").get(&target) {
            Some(CatalogEntry::Table(t)) => Arc::clone(t),
            Some(CatalogEntry::View { .. }) => {
                return Err(SqlError::validation(
                    statement,
                    Some(location),
                    format!("'{target}' is a view; INSERT INTO needs a table"),
                ));
            }
            None => {
                let names = self.catalog.read().expect("catalog").names();
                return Err(SqlError::validation(
                    statement,
                    locate(self.script, location, &target).or(Some(location)),
                    format!(
                        "Object '{target}' not found. Declared tables and views: {}",
                        if names.is_empty() {
                            "(none)".into()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
        };
        let plan = self.plan_query(source, statement, location)?;
        let sink_schema = table.persisted_schema();
        check_sink_types(&target, plan.schema(), &sink_schema)
            .map_err(|m| SqlError::validation(statement, Some(location), m))?;
        self.translator.prepare_source_reuse(&plan);
        let stream = self
            .translator
            .translate(&plan)
            .map_err(|e| e.at(statement, location))?;
        self.translator
            .cast_to(&stream, plan.schema(), &sink_schema)?;
        let ct = connector_table(&table, &self.time_zone);
        if let Some(origin) = self.translator.updating_origin(&stream)
            && !stc_connectors::sink_accepts_updates(&ct)
        {
            return Err(SqlError::validation(
                statement,
                Some(location),
                format!(
                    "Table sink '{target}' doesn't support consuming update changes which is produced by node {origin}. The '{}' connector only appends; write updating results to a sink that takes them (print, or jdbc/redis with a PRIMARY KEY)",
                    ct.options
                        .get("connector")
                        .map(String::as_str)
                        .unwrap_or("")
                ),
            ));
        }
        let sink = stc_connectors::create_sink(&ct).map_err(|e| {
            SqlError::validation(statement, Some(location), format!("table '{target}': {e}"))
        })?;
        self.translator.attach_sink(&stream, sink, None);
        self.sinks.push(target);
        Ok(())
    }

    fn select(
        &mut self,
        q: &ast::Query,
        statement: usize,
        location: Location,
    ) -> Result<SelectOutput> {
        let plan = self.plan_query(q, statement, location)?;
        self.translator.prepare_source_reuse(&plan);
        let stream: Stream = self
            .translator
            .translate(&plan)
            .map_err(|e| e.at(statement, location))?;
        // Unaliased expression columns are already named `EXPR$n` by `rewrite`.
        let schema = Arc::new(plan.schema().as_arrow().clone());
        let (tx, rx) = channel(16);
        self.translator
            .attach_sink(&stream, Arc::new(CollectSink { tx }), Some(1));
        Ok(SelectOutput { schema, rx })
    }
}

/// Flink checks that a query's row fits the sink's row. We accept implicit casts within a
/// type family (numbers, strings, timestamps, …) since DataFusion's result types differ from
/// Flink's in width (e.g. `SUM(INT)` is BIGINT here); a cast across families is an error.
fn check_sink_types(
    sink: &str,
    query: &DFSchema,
    table: &Schema,
) -> std::result::Result<(), String> {
    let fmt = |fields: Vec<(String, DataType)>| {
        fields
            .iter()
            .map(|(n, t)| format!("{n}: {}", crate::types::flink_type_name(t)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let q: Vec<(String, DataType)> = query
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let t: Vec<(String, DataType)> = table
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let schemas = format!(
        "\nQuery schema: [{}]\nSink schema:  [{}]",
        fmt(q.clone()),
        fmt(t.clone())
    );
    if q.len() != t.len() {
        return Err(format!(
            "Column types of query result and sink for '{sink}' do not match.\nCause: Different number of columns.{schemas}"
        ));
    }
    for (i, ((qn, qt), (tn, tt))) in q.iter().zip(&t).enumerate() {
        if !crate::types::implicitly_castable(qt, tt) {
            return Err(format!(
                "Column types of query result and sink for '{sink}' do not match.\nCause: Incompatible types for sink column '{tn}' at position {i} (query column '{qn}').{schemas}"
            ));
        }
    }
    Ok(())
}

/// What a connector needs to know about a table.
pub fn connector_table(t: &ResolvedTable, time_zone: &str) -> stc_connectors::ConnectorTable {
    let phys: Vec<Field> = t
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, ResolvedColumn::Physical(_)))
        .map(|(i, _)| t.schema.field(i).clone())
        .collect();
    stc_connectors::ConnectorTable {
        name: t.name.clone(),
        options: t
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        physical_schema: Arc::new(Schema::new(phys)),
        metadata: t.metadata_keys.clone(),
        sink_schema: Arc::new(t.persisted_schema()),
        primary_key: t.primary_key.clone(),
        partition_keys: t
            .definition
            .partitioned_by
            .iter()
            .map(|c| c.value.clone())
            .collect(),
        time_zone: time_zone.to_string(),
    }
}
