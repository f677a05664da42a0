//! The `jdbc` connector for PostgreSQL and MySQL/MariaDB: dimension tables for lookup joins
//! and buffered append/upsert sinks, with Flink's option names (sqlx underneath; no JVM).
//!
//! | option | default | meaning |
//! | --- | --- | --- |
//! | `url` | (required) | `jdbc:postgresql://host:port/db`, `jdbc:mysql://…` or `jdbc:mariadb://…`; `?user=`/`?password=` are read, other URL parameters are ignored |
//! | `table-name` | (required) | the table, optionally `schema.table`; identifiers are quoted, so case matters in PostgreSQL |
//! | `username`, `password` | from the URL | credentials |
//! | `driver` | | accepted for compatibility (the driver follows from the URL) |
//! | `connection.max-retry-timeout` | `60 s` | how long one attempt waits for a connection |
//! | `lookup.cache` | `NONE` | `NONE` or `PARTIAL` |
//! | `lookup.partial-cache.max-rows` | (required for PARTIAL) | cached keys per subtask |
//! | `lookup.partial-cache.expire-after-write` | none | an entry is dropped this long after it was loaded |
//! | `lookup.partial-cache.expire-after-access` | none | … this long after it was last read |
//! | `lookup.partial-cache.cache-missing-key` | `true` | cache that a key has no rows |
//! | `lookup.max-retries` | `3` | retries of a failed lookup query |
//! | `sink.buffer-flush.max-rows` | `100` | flush after this many rows (`0`: no bound) |
//! | `sink.buffer-flush.interval` | `1 s` | flush at least this often (`0`: only by rows and at the end) |
//! | `sink.max-retries` | `3` | retries of a failed flush |
//! | `sink.parallelism` | | accepted; the planner decides |
//! | `scan.fetch-size` | `4096` | rows per query when the table is read as a source |
//!
//! **Scan** (`SELECT … FROM` the table, a bounded source): [`JdbcScanFactory`].
//!
//! **Lookup**: one query per batch of probe keys — the distinct missing keys travel as a
//! derived table (`VALUES` in PostgreSQL, `UNION ALL` in MySQL) joined to the dimension table,
//! so the store's own comparison rules (collations, numeric widening) decide what matches and
//! each returned row says which key it belongs to. The key list is padded with NULL keys to a
//! power of two so that the server's prepared statements are reused. Columns are read in the
//! store's type and cast to the declared type (an out-of-range value is an error, not a
//! wrap-around). The table and the declared types are checked against the catalog on first use.
//!
//! **Sink**: without a PRIMARY KEY, `INSERT` (append mode; only `+I` rows). With one,
//! `INSERT … ON CONFLICT (pk) DO UPDATE` (PostgreSQL) / `ON DUPLICATE KEY UPDATE` (MySQL) and
//! `DELETE … WHERE pk IN (…)` for `-D`; `-U` rows are skipped as in Flink's upsert sink. Each
//! flush is one transaction.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, PrimitiveBuilder, RecordBatch,
    StringBuilder,
};
use arrow::compute::{CastOptions, cast, cast_with_options};
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, SchemaRef,
    Time64MicrosecondType, TimeUnit, TimestampMicrosecondType, UInt64Type,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, Postgres};
use sqlx::{Row, query::Query};
use stc_runtime::{
    LookupResult, LookupSource, LookupSourceFactory, Operator, OperatorFactory, Result as RtResult,
    RuntimeError, SourceFactory, SourceReader, SplitPosition,
};

use crate::lookup_cache::{
    CachedLookup, FetchError, Fetched, LOOKUP_OPTIONS, LookupFetcher, LookupOptions, opt_err,
    parse_duration,
};
use crate::sink_buffer::{BufferedSinkOp, SINK_OPTIONS, SinkOptions, SinkWriter};
use crate::table::{ConnectorTable, Result, check_keys};

const OPTIONS: &[&str] = &[
    "url",
    "table-name",
    "driver",
    "username",
    "password",
    "connection.max-retry-timeout",
    "scan.fetch-size",
];

/// Which SQL the store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
}

impl Dialect {
    fn quote(self, ident: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
            Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
        }
    }
}

/// Connection settings of one table, parsed without touching the store.
#[derive(Clone)]
struct JdbcConfig {
    dialect: Dialect,
    pg: Option<PgConnectOptions>,
    my: Option<MySqlConnectOptions>,
    /// `postgresql://host:port/db`, without credentials, for messages.
    display_url: String,
    /// Schema (if given) and table name, unquoted.
    schema: Option<String>,
    table: String,
    acquire_timeout: Duration,
}

impl JdbcConfig {
    fn parse(t: &ConnectorTable) -> Result<Self> {
        let url = t.options.get("url").ok_or_else(|| {
            opt_err(format!(
                "table '{}' (connector 'jdbc') needs option 'url'",
                t.name
            ))
        })?;
        let table_name = t.options.get("table-name").ok_or_else(|| {
            opt_err(format!(
                "table '{}' (connector 'jdbc') needs option 'table-name'",
                t.name
            ))
        })?;
        let bad_url = || {
            opt_err(format!(
                "invalid 'url' '{url}' of table '{}': expected jdbc:postgresql://host:port/database, jdbc:mysql://… or jdbc:mariadb://…",
                t.name
            ))
        };
        let rest = url.strip_prefix("jdbc:").ok_or_else(bad_url)?;
        let (dialect, tail) = if let Some(r) = rest.strip_prefix("postgresql://") {
            (Dialect::Postgres, r)
        } else if let Some(r) = rest.strip_prefix("mysql://") {
            (Dialect::MySql, r)
        } else if let Some(r) = rest.strip_prefix("mariadb://") {
            (Dialect::MySql, r)
        } else {
            return Err(bad_url());
        };
        let (addr, query) = tail.split_once('?').unwrap_or((tail, ""));
        let mut user = None;
        let mut password = None;
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("user", v)) => user = Some(v.to_string()),
                Some(("password", v)) => password = Some(v.to_string()),
                _ => tracing::debug!("jdbc url parameter '{kv}' of table '{}' is ignored", t.name),
            }
        }
        if let Some(u) = t.options.get("username") {
            user = Some(u.clone());
        }
        if let Some(p) = t.options.get("password") {
            password = Some(p.clone());
        }
        let scheme = match dialect {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        };
        let sqlx_url = format!("{scheme}://{addr}");
        let invalid =
            |e: sqlx::Error| opt_err(format!("invalid 'url' '{url}' of table '{}': {e}", t.name));
        let (mut pg, mut my) = (None, None);
        match dialect {
            Dialect::Postgres => {
                let mut o = PgConnectOptions::from_str(&sqlx_url).map_err(invalid)?;
                if let Some(u) = &user {
                    o = o.username(u);
                }
                if let Some(p) = &password {
                    o = o.password(p);
                }
                pg = Some(o);
            }
            Dialect::MySql => {
                let mut o = MySqlConnectOptions::from_str(&sqlx_url).map_err(invalid)?;
                if let Some(u) = &user {
                    o = o.username(u);
                }
                if let Some(p) = &password {
                    o = o.password(p);
                }
                my = Some(o);
            }
        }
        let (schema, table) = match table_name.split_once('.') {
            Some((s, n)) => (Some(s.to_string()), n.to_string()),
            None => (None, table_name.clone()),
        };
        if table.is_empty() {
            return Err(opt_err(format!(
                "option 'table-name' of table '{}' is empty",
                t.name
            )));
        }
        Ok(JdbcConfig {
            dialect,
            pg,
            my,
            display_url: format!("{}://{addr}", &rest[..rest.find("://").unwrap_or(0)]),
            schema,
            table,
            acquire_timeout: parse_duration(t, "connection.max-retry-timeout")?
                .unwrap_or(Duration::from_secs(60)),
        })
    }

    fn table_ident(&self) -> String {
        match &self.schema {
            Some(s) => format!(
                "{}.{}",
                self.dialect.quote(s),
                self.dialect.quote(&self.table)
            ),
            None => self.dialect.quote(&self.table),
        }
    }

    fn table_display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }

    /// `jdbc table 'dim' at postgresql://127.0.0.1:5432/test`
    fn describe(&self) -> String {
        format!(
            "jdbc table '{}' at {}",
            self.table_display(),
            self.display_url
        )
    }

    /// A pool that connects on first use (it must be created inside the runtime).
    fn pool(&self) -> Db {
        match self.dialect {
            Dialect::Postgres => Db::Pg(
                PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(self.acquire_timeout)
                    .connect_lazy_with(self.pg.clone().expect("postgres options")),
            ),
            Dialect::MySql => Db::My(
                MySqlPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(self.acquire_timeout)
                    .connect_lazy_with(self.my.clone().expect("mysql options")),
            ),
        }
    }
}

enum Db {
    Pg(PgPool),
    My(MySqlPool),
}

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    let all: Vec<&str> = OPTIONS
        .iter()
        .chain(LOOKUP_OPTIONS)
        .chain(SINK_OPTIONS)
        .copied()
        .collect();
    check_keys(t, "jdbc", &all, &[])?;
    JdbcConfig::parse(t)?;
    LookupOptions::parse(t)?;
    SinkOptions::parse(t)?;
    for f in t
        .physical_schema
        .fields()
        .iter()
        .chain(t.sink_schema.fields().iter())
    {
        if !supported_type(f.data_type()) {
            return Err(opt_err(format!(
                "column '{}' of table '{}' has type {}, which the jdbc connector does not support",
                f.name(),
                t.name,
                f.data_type()
            )));
        }
    }
    Ok(())
}

fn supported_type(t: &DataType) -> bool {
    use DataType::*;
    matches!(
        t,
        Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Decimal128(..)
            | Decimal256(..)
            | Utf8
            | LargeUtf8
            | Utf8View
            | Binary
            | LargeBinary
            | BinaryView
            | FixedSizeBinary(_)
            | Date32
            | Date64
            | Timestamp(..)
            | Time32(_)
            | Time64(_)
    )
}

// =============================================================================================
// The store's catalog: does the table exist, and do its columns fit the declaration?
// =============================================================================================

/// How a column travels from the store: the Rust type sqlx decodes, then an Arrow cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Bool,
    I16,
    I32,
    I64,
    U64,
    F32,
    F64,
    /// Strings, and anything selected as text (numeric, enum, json).
    Text,
    Bytes,
    Date,
    Timestamp,
    TimestampTz,
    Time,
}

#[derive(Debug, Clone)]
struct DbColumn {
    name: String,
    /// The full type as the store prints it (`character varying(20)`, `int(10) unsigned`).
    full_type: String,
    /// The type without parameters (`character varying`, `int`), lower case.
    family: String,
    unsigned: bool,
}

/// One declared column, resolved against the store.
#[derive(Debug, Clone)]
struct Resolved {
    /// The store's column name (matched exactly, else case-insensitively).
    db_name: String,
    wire: Wire,
    declared: DataType,
    db: DbColumn,
}

/// `numeric(10,2)` → `numeric`; `timestamp(3) without time zone` → `timestamp without time zone`.
fn type_family(full: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in full.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches("[]")
        .to_ascii_lowercase()
}

fn wire_for(d: Dialect, c: &DbColumn, declared: &DataType) -> Option<Wire> {
    use DataType::*;
    let fam = c.family.as_str();
    let int = match (d, fam) {
        (Dialect::Postgres, "smallint") => Some(Wire::I16),
        (Dialect::Postgres, "integer") => Some(Wire::I32),
        (Dialect::Postgres, "bigint") => Some(Wire::I64),
        (Dialect::MySql, "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "year") => {
            Some(if c.unsigned { Wire::U64 } else { Wire::I64 })
        }
        _ => None,
    };
    let float = match (d, fam) {
        (Dialect::Postgres, "real") | (Dialect::MySql, "float") => Some(Wire::F32),
        (Dialect::Postgres, "double precision") | (Dialect::MySql, "double" | "real") => {
            Some(Wire::F64)
        }
        _ => None,
    };
    let decimal = matches!(
        (d, fam),
        (Dialect::Postgres, "numeric") | (Dialect::MySql, "decimal")
    )
    .then_some(Wire::Text);
    let text = match (d, fam) {
        (
            Dialect::Postgres,
            "text" | "character varying" | "character" | "name" | "uuid" | "json" | "jsonb"
            | "citext" | "enum" | "xml",
        )
        | (
            Dialect::MySql,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
            | "json",
        ) => Some(Wire::Text),
        _ => None,
    };
    match declared {
        Boolean => match (d, fam) {
            (Dialect::Postgres, "boolean") => Some(Wire::Bool),
            (Dialect::MySql, "tinyint") => int,
            _ => None,
        },
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => int,
        Float32 | Float64 => float.or(decimal).or(int),
        Decimal128(..) | Decimal256(..) => decimal.or(int),
        Utf8 | LargeUtf8 | Utf8View => text,
        Date32 | Date64 => (fam == "date").then_some(Wire::Date),
        Timestamp(_, None) => match (d, fam) {
            (Dialect::Postgres, "timestamp without time zone")
            | (Dialect::MySql, "datetime" | "timestamp") => Some(Wire::Timestamp),
            _ => None,
        },
        Timestamp(_, Some(_)) => match (d, fam) {
            (Dialect::Postgres, "timestamp with time zone") | (Dialect::MySql, "timestamp") => {
                Some(Wire::TimestampTz)
            }
            _ => None,
        },
        Time32(_) | Time64(_) => match (d, fam) {
            (Dialect::Postgres, "time without time zone") | (Dialect::MySql, "time") => {
                Some(Wire::Time)
            }
            _ => None,
        },
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => match (d, fam) {
            (Dialect::Postgres, "bytea")
            | (
                Dialect::MySql,
                "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob",
            ) => Some(Wire::Bytes),
            _ => None,
        },
        _ => None,
    }
}

/// Classifies a driver error: can a retry help, or is the request itself wrong?
fn classify(e: sqlx::Error) -> FetchError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                // undefined table/column (PostgreSQL); no such table/column (MySQL).
                "42P01" | "42703" | "42S02" | "42S22" | "1146" | "1054" => {
                    FetchError::Schema(e.to_string())
                }
                // Serialisation failure, deadlock, lost connection, shutdown, lock wait.
                c if c.starts_with("08")
                    || matches!(c, "40001" | "40P01" | "57P01" | "57P02" | "57P03")
                    || matches!(c, "1205" | "1213" | "HY000") =>
                {
                    FetchError::Transient(e.to_string())
                }
                _ => FetchError::Fatal(e.to_string()),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => FetchError::Transient(e.to_string()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            FetchError::Schema(e.to_string())
        }
        _ => FetchError::Fatal(e.to_string()),
    }
}

async fn load_columns(db: &Db, cfg: &JdbcConfig) -> std::result::Result<Vec<DbColumn>, FetchError> {
    match db {
        Db::Pg(pool) => {
            let rows = sqlx::query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typtype::text \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
            )
            .bind(cfg.table_ident())
            .fetch_all(pool)
            .await
            .map_err(classify)?;
            let mut out = Vec::new();
            for r in rows {
                let name: String = r.try_get(0).map_err(classify)?;
                let full: String = r.try_get(1).map_err(classify)?;
                let typtype: String = r.try_get(2).map_err(classify)?;
                out.push(DbColumn {
                    family: if typtype == "e" {
                        "enum".into()
                    } else {
                        type_family(&full)
                    },
                    name,
                    full_type: full,
                    unsigned: false,
                });
            }
            Ok(out)
        }
        Db::My(pool) => {
            let rows = sqlx::query(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), CAST(COLUMN_TYPE AS CHAR) \
                 FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION",
            )
            .bind(cfg.schema.clone())
            .bind(cfg.table.clone())
            .fetch_all(pool)
            .await
            .map_err(classify)?;
            let mut out = Vec::new();
            for r in rows {
                let name: String = r.try_get(0).map_err(classify)?;
                let family: String = r.try_get(1).map_err(classify)?;
                let full: String = r.try_get(2).map_err(classify)?;
                out.push(DbColumn {
                    name,
                    family: family.to_ascii_lowercase(),
                    unsigned: full.to_ascii_lowercase().contains("unsigned"),
                    full_type: full,
                });
            }
            Ok(out)
        }
    }
}

/// Resolves `schema`'s columns against the store's table (a user error if they do not fit).
async fn resolve(
    db: &Db,
    cfg: &JdbcConfig,
    schema: &SchemaRef,
) -> std::result::Result<Vec<Resolved>, FetchError> {
    let cols = load_columns(db, cfg).await?;
    if cols.is_empty() {
        return Err(FetchError::Schema(format!(
            "table '{}' does not exist in the database (or has no columns visible to this user)",
            cfg.table_display()
        )));
    }
    let mut out = Vec::new();
    for f in schema.fields() {
        let found = cols.iter().find(|c| c.name == *f.name()).or_else(|| {
            let mut ci = cols
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(f.name()));
            match (ci.next(), ci.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        });
        let Some(c) = found else {
            let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
            return Err(FetchError::Schema(format!(
                "column '{}' is not in table '{}' (its columns: {})",
                f.name(),
                cfg.table_display(),
                names.join(", ")
            )));
        };
        let Some(wire) = wire_for(cfg.dialect, c, f.data_type()) else {
            return Err(FetchError::Schema(format!(
                "column '{}' is declared as {} but is {} in table '{}'; the types do not match",
                f.name(),
                f.data_type(),
                c.full_type,
                cfg.table_display()
            )));
        };
        out.push(Resolved {
            db_name: c.name.clone(),
            wire,
            declared: f.data_type().clone(),
            db: c.clone(),
        });
    }
    Ok(out)
}

/// How a column is selected: text-travelling types are cast to text in the store.
fn select_expr(d: Dialect, alias: &str, r: &Resolved) -> String {
    let col = format!("{alias}.{}", d.quote(&r.db_name));
    match (d, r.wire) {
        (Dialect::Postgres, Wire::Text) => format!("{col}::text"),
        (Dialect::MySql, Wire::Text) => format!("CAST({col} AS CHAR)"),
        _ => col,
    }
}

/// The placeholder of parameter `n` (1-based) bound for column `r`: PostgreSQL gets an
/// explicit cast to the column's type (a text parameter does not become numeric or an enum
/// by itself); MySQL converts by itself, except text to decimal, which it would compare as a
/// double.
fn placeholder(d: Dialect, n: usize, r: &Resolved) -> String {
    match d {
        Dialect::Postgres => format!("CAST(${n} AS {})", r.db.full_type),
        Dialect::MySql if r.db.family == "decimal" => {
            format!(
                "CAST(? AS {})",
                r.db.full_type.to_ascii_uppercase().replace(" UNSIGNED", "")
            )
        }
        Dialect::MySql => "?".into(),
    }
}

// =============================================================================================
// Values: Arrow ↔ driver
// =============================================================================================

/// One bound parameter; `None` is a NULL of that type.
#[derive(Debug, Clone)]
enum Param {
    Bool(Option<bool>),
    I32(Option<i32>),
    I64(Option<i64>),
    F64(Option<f64>),
    Str(Option<String>),
    Bytes(Option<Vec<u8>>),
    Date(Option<NaiveDate>),
    Ts(Option<NaiveDateTime>),
    TsTz(Option<DateTime<Utc>>),
    Time(Option<NaiveTime>),
}

impl Param {
    /// A NULL of the type `column_params` would use for `t`.
    fn null_of(t: &DataType) -> Param {
        use DataType::*;
        match t {
            Boolean => Param::Bool(None),
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Param::I64(None),
            Float32 | Float64 => Param::F64(None),
            Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => Param::Bytes(None),
            Date32 | Date64 => Param::Date(None),
            Timestamp(_, None) => Param::Ts(None),
            Timestamp(_, Some(_)) => Param::TsTz(None),
            Time32(_) | Time64(_) => Param::Time(None),
            _ => Param::Str(None),
        }
    }
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The parameters of a column, one per row.
fn column_params(a: &ArrayRef) -> std::result::Result<Vec<Param>, FetchError> {
    use DataType::*;
    let conv = |t: &DataType| {
        cast(a, t).map_err(|e| FetchError::Schema(format!("cannot convert a value: {e}")))
    };
    let n = a.len();
    let nulls = |i: usize| a.is_null(i);
    Ok(match a.data_type() {
        Boolean => {
            let b = a.as_boolean();
            (0..n)
                .map(|i| Param::Bool((!nulls(i)).then(|| b.value(i))))
                .collect()
        }
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => {
            let c = conv(&Int64)?;
            let v = c.as_primitive::<Int64Type>();
            (0..n)
                .map(|i| Param::I64((!nulls(i)).then(|| v.value(i))))
                .collect()
        }
        Float32 | Float64 => {
            let c = conv(&Float64)?;
            let v = c.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| Param::F64((!nulls(i)).then(|| v.value(i))))
                .collect()
        }
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => {
            let c = conv(&Binary)?;
            let v = c.as_binary::<i32>();
            (0..n)
                .map(|i| Param::Bytes((!nulls(i)).then(|| v.value(i).to_vec())))
                .collect()
        }
        Date32 | Date64 => {
            let c = conv(&Date32)?;
            let v = c.as_primitive::<Date32Type>();
            (0..n)
                .map(|i| {
                    Param::Date((!nulls(i)).then(|| v.value(i)).and_then(|d| {
                        NaiveDate::from_num_days_from_ce_opt(d + UNIX_EPOCH_DAYS_FROM_CE)
                    }))
                })
                .collect()
        }
        Timestamp(_, tz) => {
            let c = conv(&Timestamp(TimeUnit::Microsecond, tz.clone()))?;
            let v = c.as_primitive::<TimestampMicrosecondType>();
            (0..n)
                .map(|i| {
                    let t = (!nulls(i))
                        .then(|| v.value(i))
                        .and_then(DateTime::from_timestamp_micros);
                    if tz.is_some() {
                        Param::TsTz(t)
                    } else {
                        Param::Ts(t.map(|t| t.naive_utc()))
                    }
                })
                .collect()
        }
        Time32(_) | Time64(_) => {
            let c = conv(&Time64(TimeUnit::Microsecond))?;
            let v = c.as_primitive::<Time64MicrosecondType>();
            (0..n)
                .map(|i| {
                    Param::Time((!nulls(i)).then(|| v.value(i)).and_then(|us| {
                        NaiveTime::from_num_seconds_from_midnight_opt(
                            (us / 1_000_000) as u32,
                            ((us % 1_000_000) * 1000) as u32,
                        )
                    }))
                })
                .collect()
        }
        // Strings and decimals (as their exact text).
        _ => {
            let c = conv(&Utf8)?;
            let v = c.as_string::<i32>();
            (0..n)
                .map(|i| Param::Str((!nulls(i)).then(|| v.value(i).to_string())))
                .collect()
        }
    })
}

macro_rules! bind_param {
    ($q:expr, $p:expr) => {
        match $p {
            Param::Bool(v) => $q.bind(v),
            Param::I32(v) => $q.bind(v),
            Param::I64(v) => $q.bind(v),
            Param::F64(v) => $q.bind(v),
            Param::Str(v) => $q.bind(v),
            Param::Bytes(v) => $q.bind(v),
            Param::Date(v) => $q.bind(v),
            Param::Ts(v) => $q.bind(v),
            Param::TsTz(v) => $q.bind(v),
            Param::Time(v) => $q.bind(v),
        }
    };
}

fn bind_pg<'q>(
    mut q: Query<'q, Postgres, sqlx::postgres::PgArguments>,
    params: Vec<Param>,
) -> Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for p in params {
        q = bind_param!(q, p);
    }
    q
}

fn bind_my<'q>(
    mut q: Query<'q, MySql, sqlx::mysql::MySqlArguments>,
    params: Vec<Param>,
) -> Query<'q, MySql, sqlx::mysql::MySqlArguments> {
    for p in params {
        q = bind_param!(q, p);
    }
    q
}

/// Reads column `i` of `rows` as `wire` into an Arrow array of the wire's natural type.
macro_rules! read_wire {
    ($rows:expr, $i:expr, $wire:expr, { $($extra:tt)* }) => {{
        let rows = $rows;
        let i = $i;
        macro_rules! prim {
            ($arrow:ty, $rust:ty) => {{
                let mut b = PrimitiveBuilder::<$arrow>::with_capacity(rows.len());
                for r in rows {
                    b.append_option(r.try_get::<Option<$rust>, _>(i)?);
                }
                Arc::new(b.finish()) as ArrayRef
            }};
        }
        match $wire {
            Wire::Bool => {
                let mut b = BooleanBuilder::with_capacity(rows.len());
                for r in rows {
                    b.append_option(r.try_get::<Option<bool>, _>(i)?);
                }
                Arc::new(b.finish()) as ArrayRef
            }
            Wire::I16 => prim!(Int16Type, i16),
            Wire::I32 => prim!(Int32Type, i32),
            Wire::I64 => prim!(Int64Type, i64),
            Wire::F32 => prim!(Float32Type, f32),
            Wire::F64 => prim!(Float64Type, f64),
            Wire::Text => {
                let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
                for r in rows {
                    b.append_option(r.try_get::<Option<String>, _>(i)?);
                }
                Arc::new(b.finish()) as ArrayRef
            }
            Wire::Bytes => {
                let mut b = BinaryBuilder::with_capacity(rows.len(), rows.len() * 8);
                for r in rows {
                    b.append_option(r.try_get::<Option<Vec<u8>>, _>(i)?);
                }
                Arc::new(b.finish()) as ArrayRef
            }
            Wire::Date => {
                let mut b = PrimitiveBuilder::<Date32Type>::with_capacity(rows.len());
                for r in rows {
                    let v: Option<NaiveDate> = r.try_get(i)?;
                    b.append_option(v.map(|d| d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE));
                }
                Arc::new(b.finish()) as ArrayRef
            }
            Wire::Timestamp => {
                let mut b = PrimitiveBuilder::<TimestampMicrosecondType>::with_capacity(rows.len());
                for r in rows {
                    let v: Option<NaiveDateTime> = r.try_get(i)?;
                    b.append_option(v.map(|t| t.and_utc().timestamp_micros()));
                }
                Arc::new(b.finish()) as ArrayRef
            }
            Wire::TimestampTz => {
                let mut b = PrimitiveBuilder::<TimestampMicrosecondType>::with_capacity(rows.len())
                    .with_timezone("UTC");
                for r in rows {
                    let v: Option<DateTime<Utc>> = r.try_get(i)?;
                    b.append_option(v.map(|t| t.timestamp_micros()));
                }
                Arc::new(b.finish()) as ArrayRef
            }
            Wire::Time => {
                let mut b = PrimitiveBuilder::<Time64MicrosecondType>::with_capacity(rows.len());
                for r in rows {
                    let v: Option<NaiveTime> = r.try_get(i)?;
                    b.append_option(v.map(|t| {
                        i64::from(t.num_seconds_from_midnight()) * 1_000_000
                            + i64::from(t.nanosecond() / 1000)
                    }));
                }
                Arc::new(b.finish()) as ArrayRef
            }
            $($extra)*
        }
    }};
}

use chrono::Datelike;

fn read_pg(rows: &[PgRow], i: usize, wire: Wire) -> std::result::Result<ArrayRef, sqlx::Error> {
    Ok(read_wire!(rows, i, wire, {
        // PostgreSQL has no unsigned integers; `wire_for` never picks this for it.
        Wire::U64 => return Err(sqlx::Error::Decode("unsigned integers are MySQL-only".into())),
    }))
}

fn read_my(rows: &[MySqlRow], i: usize, wire: Wire) -> std::result::Result<ArrayRef, sqlx::Error> {
    Ok(read_wire!(rows, i, wire, {
        Wire::U64 => prim!(UInt64Type, u64),
    }))
}

/// Casts a column read from the store to its declared type; a value that does not fit
/// (an overflow, an unparsable number) is an error naming the column.
fn to_declared(a: ArrayRef, r: &Resolved) -> std::result::Result<ArrayRef, FetchError> {
    if a.data_type() == &r.declared {
        return Ok(a);
    }
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(&a, &r.declared, &opts).map_err(|e| {
        FetchError::Schema(format!(
            "a value of column '{}' ({}) does not fit its declared type {}: {e}",
            r.db_name, r.db.full_type, r.declared
        ))
    })
}

// =============================================================================================
// Lookup
// =============================================================================================

/// The lookup side of a jdbc table.
pub struct JdbcLookupFactory {
    cfg: Arc<JdbcConfig>,
    schema: SchemaRef,
    keys: Vec<String>,
    opts: LookupOptions,
}

impl JdbcLookupFactory {
    pub fn new(t: &ConnectorTable, key_columns: &[String]) -> Result<Self> {
        validate(t)?;
        if key_columns.is_empty() {
            return Err(opt_err(format!(
                "a lookup join on jdbc table '{}' needs at least one equality condition on its columns",
                t.name
            )));
        }
        for k in key_columns {
            if t.physical_schema.index_of(k).is_err() {
                return Err(opt_err(format!(
                    "lookup key column '{k}' is not a physical column of table '{}'",
                    t.name
                )));
            }
        }
        Ok(JdbcLookupFactory {
            cfg: Arc::new(JdbcConfig::parse(t)?),
            schema: t.physical_schema.clone(),
            keys: key_columns.to_vec(),
            opts: LookupOptions::parse(t)?,
        })
    }
}

impl LookupSourceFactory for JdbcLookupFactory {
    fn describe(&self) -> String {
        self.cfg.describe()
    }
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn key_columns(&self) -> Vec<String> {
        self.keys.clone()
    }
    fn create(&self, subtask: usize, _parallelism: usize) -> RtResult<Box<dyn LookupSource>> {
        let key_types = self
            .keys
            .iter()
            .map(|k| {
                self.schema
                    .field_with_name(k)
                    .map(|f| f.data_type().clone())
                    .map_err(RuntimeError::from)
            })
            .collect::<RtResult<Vec<_>>>()?;
        let fetcher = JdbcFetcher {
            cfg: self.cfg.clone(),
            schema: self.schema.clone(),
            keys: self.keys.clone(),
            db: None,
            prepared: None,
        };
        let inner = CachedLookup::new(
            fetcher,
            self.schema.clone(),
            key_types,
            self.keys.clone(),
            &self.opts,
            subtask,
            self.cfg.describe(),
        )
        .map_err(|e| RuntimeError::Internal(e.to_string()))?;
        Ok(Box::new(JdbcLookupSource { inner }))
    }
}

struct JdbcLookupSource {
    inner: CachedLookup<JdbcFetcher>,
}

#[async_trait]
impl LookupSource for JdbcLookupSource {
    async fn lookup(&mut self, keys: &RecordBatch) -> RtResult<LookupResult> {
        self.inner.lookup(keys).await
    }
}

struct LookupPrepared {
    /// `SELECT k.__i, t.a, t.b::text … FROM "dim" t JOIN (` — the key table follows.
    head: String,
    /// ` ) k ON t."id" = k."k0" AND …`
    tail: String,
    columns: Vec<Resolved>,
    keys: Vec<Resolved>,
}

struct JdbcFetcher {
    cfg: Arc<JdbcConfig>,
    schema: SchemaRef,
    keys: Vec<String>,
    db: Option<Db>,
    prepared: Option<LookupPrepared>,
}

/// Most keys sent in one statement (both stores allow 65 535 parameters).
const MAX_KEYS_PER_QUERY: usize = 4096;

impl JdbcFetcher {
    async fn prepare(&mut self) -> std::result::Result<(), FetchError> {
        if self.prepared.is_some() {
            return Ok(());
        }
        let db = self.db.get_or_insert_with(|| self.cfg.pool());
        let columns = resolve(db, &self.cfg, &self.schema).await?;
        let d = self.cfg.dialect;
        let keys: Vec<Resolved> = self
            .keys
            .iter()
            .map(|k| {
                let i = self.schema.index_of(k).expect("checked at create");
                columns[i].clone()
            })
            .collect();
        let select: Vec<String> = columns.iter().map(|c| select_expr(d, "t", c)).collect();
        let head = format!(
            "SELECT k.{}, {} FROM {} t JOIN (",
            d.quote("__i"),
            select.join(", "),
            self.cfg.table_ident()
        );
        let on: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(j, k)| {
                format!(
                    "t.{} = k.{}",
                    d.quote(&k.db_name),
                    d.quote(&format!("k{j}"))
                )
            })
            .collect();
        let tail = match d {
            Dialect::Postgres => {
                let names: Vec<String> = std::iter::once(d.quote("__i"))
                    .chain((0..keys.len()).map(|j| d.quote(&format!("k{j}"))))
                    .collect();
                format!(") AS k({}) ON {}", names.join(", "), on.join(" AND "))
            }
            Dialect::MySql => format!(") AS k ON {}", on.join(" AND ")),
        };
        self.prepared = Some(LookupPrepared {
            head,
            tail,
            columns,
            keys,
        });
        Ok(())
    }

    /// One statement for up to `MAX_KEYS_PER_QUERY` keys (rows `from..to` of `keys`).
    async fn query_chunk(
        &self,
        keys: &RecordBatch,
        key_params: &mut [Vec<Param>],
        from: usize,
        to: usize,
    ) -> std::result::Result<Fetched, FetchError> {
        let p = self.prepared.as_ref().expect("prepared");
        let d = self.cfg.dialect;
        // Pad to a power of two with NULL keys (they never match) so statements repeat.
        let padded = (to - from).next_power_of_two().max(8);
        let nk = p.keys.len();
        let mut sql = p.head.clone();
        let mut params = Vec::with_capacity(padded * (nk + 1));
        let mut n = 0;
        for row in 0..padded {
            let real = from + row < to;
            let mut cells = Vec::with_capacity(nk + 1);
            n += 1;
            cells.push(match d {
                Dialect::Postgres => format!("${n}::int4"),
                Dialect::MySql => "?".into(),
            });
            params.push(Param::I32(Some(if real { row as i32 } else { -1 })));
            for (j, k) in p.keys.iter().enumerate() {
                n += 1;
                let ph = placeholder(d, n, k);
                cells.push(if row == 0 && d == Dialect::MySql {
                    format!("{ph} AS {}", d.quote(&format!("k{j}")))
                } else {
                    ph
                });
                params.push(if real {
                    std::mem::replace(&mut key_params[j][from + row], Param::Bool(None))
                } else {
                    Param::null_of(keys.column(j).data_type())
                });
            }
            if d == Dialect::MySql && row == 0 {
                cells[0] = format!("{} AS {}", cells[0], d.quote("__i"));
            }
            match d {
                Dialect::Postgres => {
                    sql.push_str(if row == 0 { "VALUES (" } else { ", (" });
                    sql.push_str(&cells.join(", "));
                    sql.push(')');
                }
                Dialect::MySql => {
                    sql.push_str(if row == 0 {
                        "SELECT "
                    } else {
                        " UNION ALL SELECT "
                    });
                    sql.push_str(&cells.join(", "));
                }
            }
        }
        sql.push_str(&p.tail);
        let db = self.db.as_ref().expect("connected");
        let (idx, cols) = match db {
            Db::Pg(pool) => {
                let rows = bind_pg(sqlx::query(&sql), params)
                    .fetch_all(pool)
                    .await
                    .map_err(classify)?;
                let idx = read_pg(&rows, 0, Wire::I32).map_err(classify)?;
                let mut cols = Vec::new();
                for (c, r) in p.columns.iter().enumerate() {
                    cols.push(to_declared(
                        read_pg(&rows, c + 1, r.wire).map_err(classify)?,
                        r,
                    )?);
                }
                (idx, cols)
            }
            Db::My(pool) => {
                let rows = bind_my(sqlx::query(&sql), params)
                    .fetch_all(pool)
                    .await
                    .map_err(classify)?;
                let idx = read_my(&rows, 0, Wire::I64).map_err(classify)?;
                let mut cols = Vec::new();
                for (c, r) in p.columns.iter().enumerate() {
                    cols.push(to_declared(
                        read_my(&rows, c + 1, r.wire).map_err(classify)?,
                        r,
                    )?);
                }
                (idx, cols)
            }
        };
        let idx = cast(&idx, &DataType::Int64).map_err(|e| FetchError::Fatal(e.to_string()))?;
        let key_indices = idx
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|&i| (from as i64 + i) as u32)
            .collect();
        let rows = RecordBatch::try_new(self.schema.clone(), cols)
            .map_err(|e| FetchError::Fatal(e.to_string()))?;
        Ok(Fetched { key_indices, rows })
    }
}

#[async_trait]
impl LookupFetcher for JdbcFetcher {
    async fn fetch(&mut self, keys: &RecordBatch) -> std::result::Result<Fetched, FetchError> {
        self.prepare().await?;
        let mut key_params = keys
            .columns()
            .iter()
            .map(column_params)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let n = keys.num_rows();
        let mut parts = Vec::new();
        let mut from = 0;
        while from < n {
            let to = (from + MAX_KEYS_PER_QUERY).min(n);
            parts.push(self.query_chunk(keys, &mut key_params, from, to).await?);
            from = to;
        }
        if parts.len() == 1 {
            return Ok(parts.pop().expect("one part"));
        }
        let key_indices = parts.iter().flat_map(|p| p.key_indices.clone()).collect();
        let batches: Vec<RecordBatch> = parts.into_iter().map(|p| p.rows).collect();
        let rows = arrow::compute::concat_batches(&self.schema, &batches)
            .map_err(|e| FetchError::Fatal(e.to_string()))?;
        Ok(Fetched { key_indices, rows })
    }
}

// =============================================================================================
// Sink
// =============================================================================================

/// The sink side of a jdbc table.
pub struct JdbcSink {
    cfg: Arc<JdbcConfig>,
    schema: SchemaRef,
    primary_key: Vec<String>,
    opts: SinkOptions,
}

impl JdbcSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        for k in &t.primary_key {
            if t.sink_schema.index_of(k).is_err() {
                return Err(opt_err(format!(
                    "primary key column '{k}' of table '{}' is not written by the sink",
                    t.name
                )));
            }
        }
        Ok(JdbcSink {
            cfg: Arc::new(JdbcConfig::parse(t)?),
            schema: t.sink_schema.clone(),
            primary_key: t.primary_key.clone(),
            opts: SinkOptions::parse(t)?,
        })
    }
}

impl OperatorFactory for JdbcSink {
    fn name(&self) -> String {
        format!("Sink: jdbc {}", self.cfg.table_display())
    }
    fn create(&self, _subtask: usize, _parallelism: usize) -> RtResult<Box<dyn Operator>> {
        let writer = JdbcWriter {
            cfg: self.cfg.clone(),
            schema: self.schema.clone(),
            primary_key: self.primary_key.clone(),
            db: None,
            columns: None,
        };
        Ok(Box::new(BufferedSinkOp::new(
            self.name(),
            self.cfg.describe(),
            writer,
            self.schema.clone(),
            &self.primary_key,
            &self.opts,
        )?))
    }
    fn is_sink(&self) -> bool {
        true
    }
}

struct JdbcWriter {
    cfg: Arc<JdbcConfig>,
    schema: SchemaRef,
    primary_key: Vec<String>,
    db: Option<Db>,
    columns: Option<Vec<Resolved>>,
}

impl JdbcWriter {
    /// Statements for `rows` (each a list of parameters, one per column of `cols`):
    /// `INSERT` (with the upsert clause in upsert mode), chunked under the parameter limit.
    fn insert_sql(&self, cols: &[&Resolved], rows: usize, first_param: usize) -> String {
        let d = self.cfg.dialect;
        let names: Vec<String> = cols.iter().map(|c| d.quote(&c.db_name)).collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.cfg.table_ident(),
            names.join(", ")
        );
        let mut n = first_param;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            let cells: Vec<String> = cols
                .iter()
                .map(|c| {
                    n += 1;
                    placeholder(d, n, c)
                })
                .collect();
            sql.push('(');
            sql.push_str(&cells.join(", "));
            sql.push(')');
        }
        if self.primary_key.is_empty() {
            return sql;
        }
        let pk: Vec<String> = self
            .primary_key
            .iter()
            .map(|k| {
                let i = self.schema.index_of(k).expect("checked");
                d.quote(&cols[i].db_name)
            })
            .collect();
        let non_key: Vec<&&Resolved> = cols
            .iter()
            .zip(self.schema.fields())
            .filter(|(_, f)| !self.primary_key.contains(f.name()))
            .map(|(c, _)| c)
            .collect();
        match d {
            Dialect::Postgres => {
                sql.push_str(&format!(" ON CONFLICT ({}) DO ", pk.join(", ")));
                if non_key.is_empty() {
                    sql.push_str("NOTHING");
                } else {
                    let set: Vec<String> = non_key
                        .iter()
                        .map(|c| {
                            let q = d.quote(&c.db_name);
                            format!("{q} = EXCLUDED.{q}")
                        })
                        .collect();
                    sql.push_str(&format!("UPDATE SET {}", set.join(", ")));
                }
            }
            Dialect::MySql => {
                let set: Vec<String> = if non_key.is_empty() {
                    vec![format!("{0} = {0}", pk[0])]
                } else {
                    non_key
                        .iter()
                        .map(|c| {
                            let q = d.quote(&c.db_name);
                            format!("{q} = VALUES({q})")
                        })
                        .collect()
                };
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", set.join(", ")));
            }
        }
        sql
    }

    fn delete_sql(&self, keys: &[&Resolved], rows: usize) -> String {
        let d = self.cfg.dialect;
        let names: Vec<String> = keys.iter().map(|c| d.quote(&c.db_name)).collect();
        let mut n = 0;
        let tuples: Vec<String> = (0..rows)
            .map(|_| {
                let cells: Vec<String> = keys
                    .iter()
                    .map(|c| {
                        n += 1;
                        placeholder(d, n, c)
                    })
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        format!(
            "DELETE FROM {} WHERE ({}) IN ({})",
            self.cfg.table_ident(),
            names.join(", "),
            tuples.join(", ")
        )
    }
}

/// Parameters per statement stay well under both stores' limit of 65 535.
const MAX_PARAMS_PER_STATEMENT: usize = 30_000;

#[async_trait]
impl SinkWriter for JdbcWriter {
    async fn write(
        &mut self,
        upserts: &RecordBatch,
        deletes: &RecordBatch,
    ) -> std::result::Result<(), FetchError> {
        if self.db.is_none() {
            self.db = Some(self.cfg.pool());
        }
        if self.columns.is_none() {
            let db = self.db.as_ref().expect("created above");
            self.columns = Some(resolve(db, &self.cfg, &self.schema).await?);
        }
        let db = self.db.as_ref().expect("created above");
        let columns = self.columns.as_ref().expect("resolved");
        let all: Vec<&Resolved> = columns.iter().collect();
        let key_idx: Vec<usize> = self
            .primary_key
            .iter()
            .map(|k| self.schema.index_of(k).expect("checked"))
            .collect();
        let keys: Vec<&Resolved> = key_idx.iter().map(|&i| &columns[i]).collect();

        // (sql, params) of every statement of this flush.
        let mut statements: Vec<(String, Vec<Param>)> = Vec::new();
        if upserts.num_rows() > 0 {
            let mut cols = upserts
                .columns()
                .iter()
                .map(column_params)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let per = (MAX_PARAMS_PER_STATEMENT / all.len().max(1)).max(1);
            let mut from = 0;
            while from < upserts.num_rows() {
                let to = (from + per).min(upserts.num_rows());
                let mut params = Vec::with_capacity((to - from) * all.len());
                for r in from..to {
                    for c in cols.iter_mut() {
                        params.push(std::mem::replace(&mut c[r], Param::Bool(None)));
                    }
                }
                statements.push((self.insert_sql(&all, to - from, 0), params));
                from = to;
            }
        }
        if deletes.num_rows() > 0 {
            let mut cols = key_idx
                .iter()
                .map(|&i| column_params(deletes.column(i)))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let per = (MAX_PARAMS_PER_STATEMENT / keys.len().max(1)).max(1);
            let mut from = 0;
            while from < deletes.num_rows() {
                let to = (from + per).min(deletes.num_rows());
                let mut params = Vec::with_capacity((to - from) * keys.len());
                for r in from..to {
                    for c in cols.iter_mut() {
                        params.push(std::mem::replace(&mut c[r], Param::Bool(None)));
                    }
                }
                statements.push((self.delete_sql(&keys, to - from), params));
                from = to;
            }
        }
        // One transaction per flush: a retried flush never leaves half of it behind.
        match db {
            Db::Pg(pool) => {
                let mut tx = pool.begin().await.map_err(classify)?;
                for (sql, params) in statements {
                    bind_pg(sqlx::query(&sql), params)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                tx.commit().await.map_err(classify)?;
            }
            Db::My(pool) => {
                let mut tx = pool.begin().await.map_err(classify)?;
                for (sql, params) in statements {
                    bind_my(sqlx::query(&sql), params)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                tx.commit().await.map_err(classify)?;
            }
        }
        Ok(())
    }
}

// =============================================================================================
// Scan (a bounded source, as Flink's JDBC table source)
// =============================================================================================

/// Rows per query of a scan (`scan.fetch-size`, as in Flink).
const DEFAULT_FETCH_SIZE: usize = 4096;

/// The scan side of a jdbc table: subtask 0 reads the whole table, page by page, and the
/// source is then finished (Flink's JDBC source without `scan.partition.*` is one split too).
///
/// Pages are `ORDER BY` the PRIMARY KEY with `LIMIT`/`OFFSET`, so a checkpoint's position (rows
/// read) names the same rows again on restore, as long as the table does not change. Without
/// a primary key the table is read in one query with no order the store promises, and a
/// checkpoint of the job fails naming the table (there is no position to resume from).
pub struct JdbcScanFactory {
    cfg: Arc<JdbcConfig>,
    schema: SchemaRef,
    primary_key: Vec<String>,
    fetch_size: usize,
}

impl JdbcScanFactory {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let fetch_size = match t.options.get("scan.fetch-size") {
            None => DEFAULT_FETCH_SIZE,
            Some(v) => v.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                opt_err(format!(
                    "option 'scan.fetch-size' of table '{}' must be a positive number, found '{v}'",
                    t.name
                ))
            })?,
        };
        Ok(JdbcScanFactory {
            cfg: Arc::new(JdbcConfig::parse(t)?),
            schema: t.physical_schema.clone(),
            primary_key: t.primary_key.clone(),
            fetch_size,
        })
    }

    fn reader(&self, subtask: usize, rows_read: u64) -> Box<dyn SourceReader> {
        Box::new(JdbcScanReader {
            cfg: self.cfg.clone(),
            schema: self.schema.clone(),
            primary_key: self.primary_key.clone(),
            fetch_size: self.fetch_size,
            db: None,
            query: None,
            rows_read,
            done: subtask != 0,
        })
    }
}

impl SourceFactory for JdbcScanFactory {
    fn describe(&self) -> String {
        self.cfg.describe()
    }
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn create_reader(
        &self,
        subtask: usize,
        _parallelism: usize,
    ) -> RtResult<Box<dyn SourceReader>> {
        Ok(self.reader(subtask, 0))
    }
    fn restore_reader(
        &self,
        subtask: usize,
        _parallelism: usize,
        restored: &[SplitPosition],
    ) -> RtResult<Box<dyn SourceReader>> {
        let rows = match restored.first() {
            Some(p) => {
                let bytes: [u8; 8] = p.position.as_slice().try_into().map_err(|_| {
                    RuntimeError::Checkpoint(format!(
                        "{}: the checkpointed position is not a row count",
                        self.cfg.describe()
                    ))
                })?;
                u64::from_le_bytes(bytes)
            }
            None => 0,
        };
        Ok(self.reader(subtask, rows))
    }
}

struct JdbcScanReader {
    cfg: Arc<JdbcConfig>,
    schema: SchemaRef,
    primary_key: Vec<String>,
    fetch_size: usize,
    db: Option<Db>,
    /// `SELECT cols FROM t ORDER BY pk` and the resolved columns, once resolved.
    query: Option<(String, Vec<Resolved>)>,
    rows_read: u64,
    done: bool,
}

impl JdbcScanReader {
    fn fail(&self, e: FetchError) -> RuntimeError {
        let what = self.cfg.describe();
        match e {
            FetchError::Transient(m) => {
                RuntimeError::external(format!("{what}: cannot read the table: {m}"), true)
            }
            FetchError::Fatal(m) => {
                RuntimeError::external(format!("{what}: cannot read the table: {m}"), false)
            }
            FetchError::Schema(m) => RuntimeError::Data(format!("{what}: {m}")),
        }
    }

    async fn page(&mut self) -> std::result::Result<RecordBatch, FetchError> {
        let db = self.db.get_or_insert_with(|| self.cfg.pool());
        if self.query.is_none() {
            let columns = resolve(db, &self.cfg, &self.schema).await?;
            let d = self.cfg.dialect;
            let select: Vec<String> = columns.iter().map(|c| select_expr(d, "t", c)).collect();
            let mut sql = format!(
                "SELECT {} FROM {} t",
                select.join(", "),
                self.cfg.table_ident()
            );
            if !self.primary_key.is_empty() {
                let order: Vec<String> = self
                    .primary_key
                    .iter()
                    .map(|k| {
                        let i = self.schema.index_of(k).expect("primary key column");
                        format!("t.{}", d.quote(&columns[i].db_name))
                    })
                    .collect();
                sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
            }
            self.query = Some((sql, columns));
        }
        let (base, columns) = self.query.as_ref().expect("resolved");
        let paged = !self.primary_key.is_empty();
        let sql = if paged {
            format!("{base} LIMIT {} OFFSET {}", self.fetch_size, self.rows_read)
        } else {
            base.clone()
        };
        let (n, cols) = match db {
            Db::Pg(pool) => {
                let rows = sqlx::query(&sql)
                    .fetch_all(&*pool)
                    .await
                    .map_err(classify)?;
                (rows.len(), read_columns(&rows, columns, read_pg)?)
            }
            Db::My(pool) => {
                let rows = sqlx::query(&sql)
                    .fetch_all(&*pool)
                    .await
                    .map_err(classify)?;
                (rows.len(), read_columns(&rows, columns, read_my)?)
            }
        };
        if !paged || n < self.fetch_size {
            self.done = true;
        }
        self.rows_read += n as u64;
        RecordBatch::try_new(self.schema.clone(), cols)
            .map_err(|e| FetchError::Fatal(e.to_string()))
    }
}

/// Every selected column of `rows`, cast to its declared type.
fn read_columns<R>(
    rows: &[R],
    columns: &[Resolved],
    read: fn(&[R], usize, Wire) -> std::result::Result<ArrayRef, sqlx::Error>,
) -> std::result::Result<Vec<ArrayRef>, FetchError> {
    columns
        .iter()
        .enumerate()
        .map(|(c, r)| to_declared(read(rows, c, r.wire).map_err(classify)?, r))
        .collect()
}

#[async_trait]
impl SourceReader for JdbcScanReader {
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        match self.page().await {
            Ok(b) => Ok(Some(b)),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        // Without a primary key there is no order to resume in.
        if self.primary_key.is_empty() && self.rows_read > 0 && !self.done {
            return None;
        }
        Some(vec![SplitPosition {
            split: "table".into(),
            position: self.rows_read.to_le_bytes().to_vec(),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::type_family;

    #[test]
    fn type_families_drop_parameters() {
        assert_eq!(type_family("numeric(10,2)"), "numeric");
        assert_eq!(
            type_family("timestamp(3) without time zone"),
            "timestamp without time zone"
        );
        assert_eq!(type_family("character varying(20)"), "character varying");
        assert_eq!(type_family("integer"), "integer");
    }
}
