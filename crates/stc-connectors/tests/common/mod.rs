//! Helpers for the connector tests against the real PostgreSQL, MariaDB and Redis of the
//! machine (`.ci/services` starts them): tables built in code, unique names per test.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int8Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use stc_common::RowKind;
use stc_connectors::ConnectorTable;
use stc_runtime::{LookupResult, OperatorContext, StreamBatch, TaskMetrics};

pub const PG_URL: &str = "jdbc:postgresql://127.0.0.1:5432/test";
pub const MY_URL: &str = "jdbc:mysql://127.0.0.1:3306/test";
pub const PG_SQLX: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const MY_SQLX: &str = "mysql://root@127.0.0.1:3306/test";

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

pub fn schema(fields: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

pub fn table(
    name: &str,
    schema: SchemaRef,
    primary_key: &[&str],
    options: &[(&str, &str)],
) -> ConnectorTable {
    ConnectorTable {
        name: name.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        physical_schema: schema.clone(),
        metadata: vec![],
        sink_schema: schema,
        primary_key: primary_key.iter().map(|s| s.to_string()).collect(),
        partition_keys: vec![],
        time_zone: "UTC".into(),
    }
}

pub fn batch(schema: &SchemaRef, cols: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

pub fn with_kinds(b: RecordBatch, kinds: &[RowKind]) -> StreamBatch {
    StreamBatch {
        batch: b,
        kinds: Some(Arc::new(Int8Array::from(
            kinds.iter().map(|k| *k as i8).collect::<Vec<_>>(),
        ))),
    }
}

pub fn ctx() -> OperatorContext {
    OperatorContext::new(0, 1, Arc::new(TaskMetrics::new("sink", 0, false, true)))
}

/// A lookup result as sorted `key index → row text` lines, e.g. `0: 1|a|1.50`.
pub fn result_lines(r: &LookupResult) -> Vec<String> {
    let idx: &UInt32Array = &r.key_indices;
    let mut out: Vec<String> = (0..r.rows.num_rows())
        .map(|row| {
            let vals: Vec<String> = r
                .rows
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(row) {
                        "NULL".to_string()
                    } else {
                        arrow::util::display::array_value_to_string(c, row).unwrap()
                    }
                })
                .collect();
            format!("{}: {}", idx.value(row), vals.join("|"))
        })
        .collect();
    out.sort();
    out
}

pub async fn pg() -> sqlx::PgPool {
    sqlx::PgPool::connect(PG_SQLX)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (run .ci/services)")
}

pub async fn my() -> sqlx::MySqlPool {
    sqlx::MySqlPool::connect(MY_SQLX)
        .await
        .expect("MariaDB at 127.0.0.1:3306 (run .ci/services)")
}

/// Runs statements separated by `;` (no literal `;` inside them).
pub async fn pg_exec(pool: &sqlx::PgPool, sql: &str) {
    for s in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(s)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

pub async fn my_exec(pool: &sqlx::MySqlPool, sql: &str) {
    for s in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(s)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}
