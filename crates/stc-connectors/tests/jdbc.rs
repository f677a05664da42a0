//! The jdbc connector against the real PostgreSQL and MariaDB of the machine: lookups (hits,
//! misses, several matches, NULL keys, cache, retries, a missing table, a type mismatch) and
//! sinks (append, upsert, delete, buffer flushing). Every test makes its own table.

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, Decimal128Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use common::*;
use stc_common::{Classified, ErrorDomain, RowKind};
use stc_connectors::{create_lookup, create_sink};
use stc_runtime::{LookupSource, Operator, StreamBatch};

/// PostgreSQL or MariaDB, for tests that run against both.
enum Store {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

impl Store {
    async fn all() -> Vec<Store> {
        vec![Store::Pg(pg().await), Store::My(my().await)]
    }
    fn url(&self) -> &'static str {
        match self {
            Store::Pg(_) => PG_URL,
            Store::My(_) => MY_URL,
        }
    }
    fn user(&self) -> &'static str {
        match self {
            Store::Pg(_) => "postgres",
            Store::My(_) => "root",
        }
    }
    /// `TIMESTAMP` in PostgreSQL is `DATETIME` in MySQL.
    fn ts(&self) -> &'static str {
        match self {
            Store::Pg(_) => "TIMESTAMP",
            Store::My(_) => "DATETIME",
        }
    }
    async fn exec(&self, sql: &str) {
        match self {
            Store::Pg(p) => pg_exec(p, sql).await,
            Store::My(p) => my_exec(p, sql).await,
        }
    }
    /// The first column of every row, as text.
    async fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            Store::Pg(p) => sqlx::query_scalar::<_, String>(sql)
                .fetch_all(p)
                .await
                .unwrap(),
            Store::My(p) => sqlx::query_scalar::<_, String>(sql)
                .fetch_all(p)
                .await
                .unwrap(),
        }
    }
    fn options<'a>(
        &'a self,
        table: &'a str,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut o = vec![
            ("connector", "jdbc"),
            ("url", self.url()),
            ("table-name", table),
            ("username", self.user()),
        ];
        o.extend_from_slice(extra);
        o
    }
}

fn dim_schema() -> arrow::datatypes::SchemaRef {
    schema(&[
        ("id", DataType::Int32),
        ("name", DataType::Utf8),
        ("price", DataType::Decimal128(10, 2)),
        ("ts", DataType::Timestamp(TimeUnit::Millisecond, None)),
    ])
}

async fn make_dim(store: &Store) -> String {
    let t = unique("dim");
    store
        .exec(&format!(
            "CREATE TABLE {t} (id INT, name VARCHAR(20), price NUMERIC(10,2), ts {}, extra INT);
             INSERT INTO {t} VALUES (1, 'one', 1.50, '2024-01-02 03:04:05', 0), (2, 'two', 2.00, NULL, 0),
                                    (2, 'deux', 20.25, NULL, 0), (3, NULL, NULL, NULL, 0)",
            store.ts()
        ))
        .await;
    t
}

fn int_keys(keys: &[Option<i32>]) -> arrow::array::RecordBatch {
    let s = schema(&[("id", DataType::Int32)]);
    batch(
        &s,
        vec![Arc::new(Int32Array::from(keys.to_vec())) as ArrayRef],
    )
}

async fn source(store: &Store, t: &str, extra: &[(&str, &str)]) -> Box<dyn LookupSource> {
    let table = table("dim", dim_schema(), &[], &store.options(t, extra));
    let f = create_lookup(&table, &["id".to_string()]).unwrap();
    assert_eq!(f.key_columns(), vec!["id"]);
    assert_eq!(f.schema(), dim_schema());
    f.create(0, 1).unwrap()
}

#[tokio::test]
async fn lookup_hits_misses_several_matches_and_null_keys() {
    for store in Store::all().await {
        let t = make_dim(&store).await;
        let mut src = source(&store, &t, &[]).await;
        let r = src
            .lookup(&int_keys(&[
                Some(1),
                Some(2),
                Some(5),
                None,
                Some(1),
                Some(3),
            ]))
            .await
            .unwrap();
        assert_eq!(
            result_lines(&r),
            vec![
                "0: 1|one|1.50|2024-01-02T03:04:05",
                "1: 2|deux|20.25|NULL",
                "1: 2|two|2.00|NULL",
                "4: 1|one|1.50|2024-01-02T03:04:05",
                "5: 3|NULL|NULL|NULL",
            ],
            "{}",
            store.url()
        );
        // A batch where nothing matches, and an empty batch.
        let r = src.lookup(&int_keys(&[Some(7), None])).await.unwrap();
        assert_eq!(r.rows.num_rows(), 0);
        let r = src.lookup(&int_keys(&[])).await.unwrap();
        assert_eq!(r.rows.num_rows(), 0);
    }
}

#[tokio::test]
async fn lookup_many_keys_in_one_batch() {
    // More distinct keys than one statement carries (4096), so the batch is split.
    let store = Store::Pg(pg().await);
    let t = unique("dim_many");
    store
        .exec(&format!(
            "CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(20), price NUMERIC(10,2), ts TIMESTAMP);
             INSERT INTO {t} SELECT g, 'n' || g, g, NULL FROM generate_series(1, 10000) g"
        ))
        .await;
    let mut src = source(&store, &t, &[]).await;
    let keys: Vec<Option<i32>> = (1..=12000).map(Some).collect();
    let r = src.lookup(&int_keys(&keys)).await.unwrap();
    assert_eq!(r.rows.num_rows(), 10000);
    let lines = result_lines(&r);
    assert!(lines.contains(&"9999: 10000|n10000|10000.00|NULL".to_string()));
}

#[tokio::test]
async fn lookup_composite_key_mysql_and_postgres() {
    for store in Store::all().await {
        let t = make_dim(&store).await;
        let table = table("dim", dim_schema(), &[], &store.options(&t, &[]));
        let f = create_lookup(&table, &["name".to_string(), "id".to_string()]).unwrap();
        assert_eq!(f.key_columns(), vec!["name", "id"]);
        let mut src = f.create(0, 1).unwrap();
        let s = schema(&[("name", DataType::Utf8), ("id", DataType::Int32)]);
        let keys = batch(
            &s,
            vec![
                Arc::new(StringArray::from(vec![
                    Some("two"),
                    Some("one"),
                    Some("one"),
                ])) as ArrayRef,
                Arc::new(Int32Array::from(vec![Some(2), Some(2), Some(1)])),
            ],
        );
        let r = src.lookup(&keys).await.unwrap();
        assert_eq!(
            result_lines(&r),
            vec!["0: 2|two|2.00|NULL", "2: 1|one|1.50|2024-01-02T03:04:05"]
        );
    }
}

#[tokio::test]
async fn partial_cache_serves_stale_rows_until_expiry() {
    for store in Store::all().await {
        let t = make_dim(&store).await;
        let mut src = source(
            &store,
            &t,
            &[
                ("lookup.cache", "PARTIAL"),
                ("lookup.partial-cache.max-rows", "100"),
                ("lookup.partial-cache.expire-after-write", "1 s"),
            ],
        )
        .await;
        let r = src.lookup(&int_keys(&[Some(1), Some(9)])).await.unwrap();
        assert_eq!(result_lines(&r), vec!["0: 1|one|1.50|2024-01-02T03:04:05"]);
        store
            .exec(&format!(
                "UPDATE {t} SET name = 'uno' WHERE id = 1; INSERT INTO {t} VALUES (9, 'nine', 9, NULL, 0)"
            ))
            .await;
        // Cached: the old row for 1, and (cache-missing-key defaults to true) no row for 9.
        let r = src.lookup(&int_keys(&[Some(1), Some(9)])).await.unwrap();
        assert_eq!(result_lines(&r), vec!["0: 1|one|1.50|2024-01-02T03:04:05"]);
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let r = src.lookup(&int_keys(&[Some(1), Some(9)])).await.unwrap();
        assert_eq!(
            result_lines(&r),
            vec!["0: 1|uno|1.50|2024-01-02T03:04:05", "1: 9|nine|9.00|NULL"],
            "{}",
            store.url()
        );
    }
}

/// The lookup join keeps several lookups in flight per subtask, each on a source of its own:
/// they must share the subtask's cache (a hot key fetched once), while another subtask has
/// a cache of its own (Flink's cache is per subtask, and so is `max-rows`).
#[tokio::test]
async fn the_lookup_sources_of_one_subtask_share_its_cache() {
    let store = Store::Pg(pg().await);
    let t = make_dim(&store).await;
    let table = table(
        "dim",
        dim_schema(),
        &[],
        &store.options(
            &t,
            &[
                ("lookup.cache", "PARTIAL"),
                ("lookup.partial-cache.max-rows", "100"),
            ],
        ),
    );
    let f = create_lookup(&table, &["id".to_string()]).unwrap();
    let (mut first, mut second) = (f.create(0, 2).unwrap(), f.create(0, 2).unwrap());
    let mut other_subtask = f.create(1, 2).unwrap();
    let old = vec!["0: 1|one|1.50|2024-01-02T03:04:05".to_string()];
    assert_eq!(
        result_lines(&first.lookup(&int_keys(&[Some(1)])).await.unwrap()),
        old
    );
    store
        .exec(&format!("UPDATE {t} SET name = 'uno' WHERE id = 1"))
        .await;
    // The second source answers from the entry the first one cached: the old row.
    assert_eq!(
        result_lines(&second.lookup(&int_keys(&[Some(1)])).await.unwrap()),
        old
    );
    // Subtask 1 has not cached key 1: it reads the store.
    assert_eq!(
        result_lines(&other_subtask.lookup(&int_keys(&[Some(1)])).await.unwrap()),
        vec!["0: 1|uno|1.50|2024-01-02T03:04:05"]
    );
}

#[tokio::test]
async fn missing_keys_are_not_cached_when_cache_missing_key_is_false() {
    let store = Store::Pg(pg().await);
    let t = make_dim(&store).await;
    let mut src = source(
        &store,
        &t,
        &[
            ("lookup.cache", "PARTIAL"),
            ("lookup.partial-cache.max-rows", "100"),
            ("lookup.partial-cache.cache-missing-key", "false"),
        ],
    )
    .await;
    assert_eq!(
        src.lookup(&int_keys(&[Some(9)]))
            .await
            .unwrap()
            .rows
            .num_rows(),
        0
    );
    store
        .exec(&format!("INSERT INTO {t} VALUES (9, 'nine', 9, NULL, 0)"))
        .await;
    let r = src.lookup(&int_keys(&[Some(9)])).await.unwrap();
    assert_eq!(result_lines(&r), vec!["0: 9|nine|9.00|NULL"]);
    // A hit is cached: deleting the row does not show until expiry (none is set here).
    store.exec(&format!("DELETE FROM {t} WHERE id = 9")).await;
    let r = src.lookup(&int_keys(&[Some(9)])).await.unwrap();
    assert_eq!(result_lines(&r), vec!["0: 9|nine|9.00|NULL"]);
}

#[tokio::test]
async fn unreachable_database_is_retried_then_named_in_the_error() {
    for url in [
        "jdbc:postgresql://127.0.0.1:1/test",
        "jdbc:mysql://127.0.0.1:1/test",
    ] {
        let table = table(
            "dim",
            dim_schema(),
            &[],
            &[
                ("connector", "jdbc"),
                ("url", url),
                ("table-name", "some_dim"),
                ("lookup.max-retries", "2"),
                ("connection.max-retry-timeout", "300 ms"),
            ],
        );
        let mut src = create_lookup(&table, &["id".to_string()])
            .unwrap()
            .create(0, 1)
            .unwrap();
        let e = src.lookup(&int_keys(&[Some(42)])).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("jdbc table 'some_dim' at "), "{msg}");
        assert!(msg.contains("127.0.0.1:1/test"), "{msg}");
        assert!(msg.contains("key (id=42)"), "{msg}");
        assert!(msg.contains("after 3 attempt(s)"), "{msg}");
        assert_eq!(e.class().domain, ErrorDomain::External, "{msg}");
    }
}

#[tokio::test]
async fn missing_table_is_a_clear_user_error() {
    for store in Store::all().await {
        let t = unique("no_such_table");
        let mut src = source(&store, &t, &[]).await;
        let e = src.lookup(&int_keys(&[Some(1)])).await.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("table '{t}' does not exist")),
            "{msg}"
        );
        assert!(msg.contains("key (id=1)"), "{msg}");
        assert_eq!(e.class().domain, ErrorDomain::User, "{msg}");
    }
}

#[tokio::test]
async fn mismatched_column_types_are_reported() {
    for store in Store::all().await {
        let t = unique("dim_types");
        store
            .exec(&format!(
                "CREATE TABLE {t} (id INT, name INT, price NUMERIC(10,2), ts DATE)"
            ))
            .await;
        let mut src = source(&store, &t, &[]).await;
        let e = src.lookup(&int_keys(&[Some(1)])).await.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("column 'name' is declared as Utf8 but is int"),
            "{msg}"
        );
        assert_eq!(e.class().domain, ErrorDomain::User);

        // A value that does not fit the declared type is an error, not a wrap-around.
        let t = unique("dim_wide");
        store
            .exec(&format!(
                "CREATE TABLE {t} (id INT, name VARCHAR(5), small BIGINT);
                 INSERT INTO {t} VALUES (1, 'x', 7), (2, 'y', 1000)"
            ))
            .await;
        let s = schema(&[
            ("id", DataType::Int32),
            ("name", DataType::Utf8),
            ("small", DataType::Int8),
        ]);
        let table = table("dim", s.clone(), &[], &store.options(&t, &[]));
        let mut src = create_lookup(&table, &["id".to_string()])
            .unwrap()
            .create(0, 1)
            .unwrap();
        // BIGINT read as TINYINT: fine while the values fit.
        let r = src.lookup(&int_keys(&[Some(1)])).await.unwrap();
        assert_eq!(result_lines(&r), vec!["0: 1|x|7"]);
        let e = src
            .lookup(&int_keys(&[Some(2)]))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a value of column 'small'")
                && e.contains("does not fit its declared type Int8"),
            "{e}"
        );
    }
}

#[test]
fn bad_options_are_rejected_before_any_connection() {
    let s = dim_schema();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("url", "jdbc:oracle:thin:@x"), ("table-name", "t")],
            "invalid 'url'",
        ),
        (&[("url", PG_URL)], "needs option 'table-name'"),
        (
            &[
                ("url", PG_URL),
                ("table-name", "t"),
                ("lookup.cache", "LRU"),
            ],
            "'lookup.cache'",
        ),
        (
            &[
                ("url", PG_URL),
                ("table-name", "t"),
                ("lookup.cache", "PARTIAL"),
            ],
            "needs a positive 'lookup.partial-cache.max-rows'",
        ),
        (
            &[
                ("url", PG_URL),
                ("table-name", "t"),
                ("lookup.partial-cache.max-rows", "10"),
            ],
            "needs 'lookup.cache' = 'PARTIAL'",
        ),
        (
            &[
                ("url", PG_URL),
                ("table-name", "t"),
                ("sink.buffer-flush.interval", "soon"),
            ],
            "expected a duration",
        ),
        (
            &[
                ("url", PG_URL),
                ("table-name", "t"),
                ("scan.partition.column", "id"),
            ],
            "unsupported option 'scan.partition.column'",
        ),
    ];
    for (opts, want) in cases {
        let mut o = vec![("connector", "jdbc")];
        o.extend_from_slice(opts);
        let t = table("dim", s.clone(), &[], &o);
        let e = stc_connectors::validate(&t).unwrap_err().to_string();
        assert!(e.contains(want), "{opts:?}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------

fn sink_schema() -> arrow::datatypes::SchemaRef {
    schema(&[
        ("id", DataType::Int64),
        ("name", DataType::Utf8),
        ("price", DataType::Decimal128(10, 2)),
        ("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
    ])
}

fn rows(ids: &[i64], names: &[Option<&str>]) -> arrow::array::RecordBatch {
    let n = ids.len();
    batch(
        &sink_schema(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from(names.to_vec())),
            Arc::new(
                Decimal128Array::from(ids.iter().map(|i| i128::from(*i) * 125).collect::<Vec<_>>())
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(
                    1_700_000_000_123_456
                );
                n
            ])),
        ],
    )
}

async fn sink_op(store: &Store, t: &str, pk: &[&str], extra: &[(&str, &str)]) -> Box<dyn Operator> {
    let table = table("out", sink_schema(), pk, &store.options(t, extra));
    create_sink(&table).unwrap().create(0, 1).unwrap()
}

fn contents_sql(t: &str) -> String {
    format!("SELECT CONCAT_WS('|', id, name, price, ts) FROM {t} ORDER BY id, name")
}

#[tokio::test]
async fn append_sink_buffers_and_flushes_by_rows_and_at_finish() {
    for store in Store::all().await {
        let t = unique("out_append");
        store
            .exec(&format!(
                "CREATE TABLE {t} (id BIGINT, name VARCHAR(20), price DECIMAL(10,2), ts {}(6))",
                store.ts()
            ))
            .await;
        let mut op = sink_op(
            &store,
            &t,
            &[],
            &[
                ("sink.buffer-flush.max-rows", "3"),
                ("sink.buffer-flush.interval", "0"),
            ],
        )
        .await;
        let mut cx = ctx();
        op.process_batch(
            StreamBatch::inserts(rows(&[1, 2], &[Some("a"), Some("b")])),
            &mut cx,
        )
        .await
        .unwrap();
        assert!(
            store.strings(&contents_sql(&t)).await.is_empty(),
            "buffered, not written"
        );
        op.process_batch(
            StreamBatch::inserts(rows(&[1, 3], &[Some("a"), None])),
            &mut cx,
        )
        .await
        .unwrap();
        assert_eq!(
            store.strings(&contents_sql(&t)).await.len(),
            4,
            "flushed at 3 rows"
        );
        op.process_batch(StreamBatch::inserts(rows(&[4], &[Some("d")])), &mut cx)
            .await
            .unwrap();
        op.finish(&mut cx).await.unwrap();
        // Append mode keeps duplicates; NULL name is left out by CONCAT_WS.
        assert_eq!(
            store.strings(&contents_sql(&t)).await,
            vec![
                "1|a|1.25|2023-11-14 22:13:20.123456",
                "1|a|1.25|2023-11-14 22:13:20.123456",
                "2|b|2.50|2023-11-14 22:13:20.123456",
                "3|3.75|2023-11-14 22:13:20.123456",
                "4|d|5.00|2023-11-14 22:13:20.123456",
            ],
            "{}",
            store.url()
        );
    }
}

#[tokio::test]
async fn append_sink_rejects_updates() {
    let store = Store::Pg(pg().await);
    let t = unique("out_append_upd");
    store
        .exec(&format!(
            "CREATE TABLE {t} (id BIGINT, name TEXT, price NUMERIC(10,2), ts TIMESTAMP)"
        ))
        .await;
    let mut op = sink_op(&store, &t, &[], &[]).await;
    let mut cx = ctx();
    let b = with_kinds(rows(&[1], &[Some("a")]), &[RowKind::Delete]);
    op.process_batch(b, &mut cx).await.unwrap();
    let e = op.finish(&mut cx).await.unwrap_err().to_string();
    assert!(
        e.contains("has no PRIMARY KEY") && e.contains("-D row"),
        "{e}"
    );
}

#[tokio::test]
async fn upsert_sink_updates_deletes_and_is_idempotent() {
    for store in Store::all().await {
        let t = unique("out_upsert");
        store
            .exec(&format!(
                "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2), ts {}(6));
                 INSERT INTO {t} VALUES (3, 'old', 0, NULL), (5, 'keep', 0, NULL)",
                store.ts()
            ))
            .await;
        for round in 0..2 {
            let mut op = sink_op(&store, &t, &["id"], &[]).await;
            let mut cx = ctx();
            let b = with_kinds(
                rows(
                    &[1, 2, 3, 1, 1, 2],
                    &[
                        Some("a"),
                        Some("b"),
                        Some("c"),
                        Some("a"),
                        Some("a2"),
                        Some("b"),
                    ],
                ),
                &[
                    RowKind::Insert,
                    RowKind::Insert,
                    RowKind::Insert,
                    RowKind::UpdateBefore,
                    RowKind::UpdateAfter,
                    RowKind::Delete,
                ],
            );
            op.process_batch(b, &mut cx).await.unwrap();
            op.finish(&mut cx).await.unwrap();
            assert_eq!(
                store.strings(&contents_sql(&t)).await,
                vec![
                    "1|a2|1.25|2023-11-14 22:13:20.123456",
                    "3|c|3.75|2023-11-14 22:13:20.123456",
                    "5|keep|0.00",
                ],
                "{} round {round}",
                store.url()
            );
        }
        // A delete of a key that is not there is no error.
        let mut op = sink_op(&store, &t, &["id"], &[]).await;
        let mut cx = ctx();
        op.process_batch(
            with_kinds(
                rows(&[1, 77], &[None, None]),
                &[RowKind::Delete, RowKind::Delete],
            ),
            &mut cx,
        )
        .await
        .unwrap();
        op.finish(&mut cx).await.unwrap();
        assert_eq!(store.strings(&contents_sql(&t)).await.len(), 2);
    }
}

#[tokio::test]
async fn interval_flush_writes_an_idle_buffer() {
    let store = Store::My(my().await);
    let t = unique("out_interval");
    store
        .exec(&format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2), ts DATETIME(6))"))
        .await;
    let mut op = sink_op(
        &store,
        &t,
        &["id"],
        &[
            ("sink.buffer-flush.max-rows", "0"),
            ("sink.buffer-flush.interval", "200 ms"),
        ],
    )
    .await;
    let mut cx = ctx();
    op.process_batch(
        StreamBatch::inserts(rows(&[1, 2], &[Some("a"), Some("b")])),
        &mut cx,
    )
    .await
    .unwrap();
    // Poll (bounded) until the background flush has written the rows, before `finish`.
    let mut seen = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = store.strings(&contents_sql(&t)).await.len();
        if seen == 2 {
            break;
        }
    }
    assert_eq!(seen, 2, "the interval flusher wrote the buffered rows");
    op.finish(&mut cx).await.unwrap();
}

#[tokio::test]
async fn sink_to_a_missing_table_fails_with_its_name() {
    let store = Store::Pg(pg().await);
    let t = unique("out_missing");
    let mut op = sink_op(&store, &t, &["id"], &[]).await;
    let mut cx = ctx();
    op.process_batch(StreamBatch::inserts(rows(&[1], &[Some("a")])), &mut cx)
        .await
        .unwrap();
    let e = op.finish(&mut cx).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("table '{t}' does not exist")),
        "{msg}"
    );
    assert_eq!(e.class().domain, ErrorDomain::User);
}

#[tokio::test]
async fn sink_retries_then_fails_when_the_database_is_unreachable() {
    let table = table(
        "out",
        sink_schema(),
        &["id"],
        &[
            ("connector", "jdbc"),
            ("url", "jdbc:postgresql://127.0.0.1:1/test"),
            ("table-name", "out"),
            ("sink.max-retries", "1"),
            ("connection.max-retry-timeout", "300 ms"),
        ],
    );
    let mut op = create_sink(&table).unwrap().create(0, 1).unwrap();
    let mut cx = ctx();
    op.process_batch(StreamBatch::inserts(rows(&[1], &[Some("a")])), &mut cx)
        .await
        .unwrap();
    let e = op.finish(&mut cx).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("writing 1 row(s) to jdbc table 'out' at postgresql://127.0.0.1:1/test failed after 2 attempt(s)"),
        "{msg}"
    );
    assert_eq!(e.class().domain, ErrorDomain::External);
}
