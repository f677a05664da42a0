//! Lookup throughput of the jdbc connector against the real PostgreSQL (127.0.0.1:5432, db
//! `test`): probe rows per second through `LookupSource::lookup`, with a PARTIAL cache at a
//! ~90 % hit rate versus no cache, on the same key stream in the same run.
//!
//! What it isolates: the connector's batched lookup path (key encoding, cache, one query per
//! batch for the misses, decoding into Arrow) — no join operator, no planner.
//!
//! Key stream: batches of 1024 probe keys; 90 % of the rows draw from 1 000 hot ids (cached
//! after their first lookup), 10 % are ids never seen before (always a store round trip).
//!
//! Run: `cargo bench -p stc-connectors --bench jdbc_lookup` (release code; add `--profile dev`
//! for a quick run with unoptimised connector code). `STC_BENCH_BATCHES` sets the number of
//! batches (default 300).

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Int32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use stc_connectors::{ConnectorTable, create_lookup};

const BATCH: usize = 1024;
const HOT: i32 = 1000;
const TABLE_ROWS: i32 = 1_000_000;

fn key_batches(n: usize) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true)]));
    let mut rng = SmallRng::seed_from_u64(42);
    let mut fresh = HOT;
    (0..n)
        .map(|_| {
            let ids: Vec<i32> = (0..BATCH)
                .map(|_| {
                    if rng.random_range(0..10) == 0 {
                        fresh += 1;
                        fresh
                    } else {
                        rng.random_range(1..=HOT)
                    }
                })
                .collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int32Array::from(ids)) as ArrayRef],
            )
            .unwrap()
        })
        .collect()
}

fn table(name: &str, cache: bool) -> ConnectorTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("price", DataType::Decimal128(10, 2), true),
    ]));
    let mut options: std::collections::HashMap<String, String> = [
        ("connector", "jdbc"),
        ("url", "jdbc:postgresql://127.0.0.1:5432/test"),
        ("username", "postgres"),
        ("table-name", name),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if cache {
        options.insert("lookup.cache".into(), "PARTIAL".into());
        options.insert("lookup.partial-cache.max-rows".into(), "1000000".into());
        options.insert(
            "lookup.partial-cache.expire-after-write".into(),
            "10 min".into(),
        );
    }
    ConnectorTable {
        name: "dim".into(),
        options,
        physical_schema: schema.clone(),
        metadata: vec![],
        sink_schema: schema,
        primary_key: vec!["id".into()],
        partition_keys: vec![],
        time_zone: "UTC".into(),
    }
}

async fn run(name: &str, cache: bool, batches: &[RecordBatch]) -> (f64, usize) {
    let f = create_lookup(&table(name, cache), &["id".to_string()]).unwrap();
    let mut src = f.create(0, 1).unwrap();
    // Connect and check the table outside the measurement.
    src.lookup(&batches[0].slice(0, 1)).await.unwrap();
    let start = Instant::now();
    let mut matched = 0;
    for b in batches {
        matched += src.lookup(b).await.unwrap().rows.num_rows();
    }
    (start.elapsed().as_secs_f64(), matched)
}

fn main() {
    let n: usize = std::env::var("STC_BENCH_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
        let name = format!("stc_bench_dim_{}", std::process::id());
        for sql in [
            format!("DROP TABLE IF EXISTS {name}"),
            format!("CREATE TABLE {name} (id INT PRIMARY KEY, name VARCHAR(32), price NUMERIC(10,2))"),
            format!(
                "INSERT INTO {name} SELECT g, 'name-' || g, g / 100.0 FROM generate_series(1, {TABLE_ROWS}) g"
            ),
            format!("ANALYZE {name}"),
        ] {
            sqlx::query(&sql).execute(&pool).await.unwrap();
        }
        let batches = key_batches(n);
        let rows = (n * BATCH) as f64;
        let (t_none, m_none) = run(&name, false, &batches).await;
        let (t_cache, m_cache) = run(&name, true, &batches).await;
        assert_eq!(m_none, m_cache, "the cache changes no result");
        println!("jdbc lookup, PostgreSQL, {n} batches x {BATCH} keys ({rows} probe rows)");
        println!("  lookup.cache=NONE     {:>10.0} rows/s  ({t_none:.2} s)", rows / t_none);
        println!(
            "  lookup.cache=PARTIAL  {:>10.0} rows/s  ({t_cache:.2} s, ~90% hit rate)",
            rows / t_cache
        );
        println!("  speed-up of the cache: {:.1}x", t_none / t_cache);
        sqlx::query(&format!("DROP TABLE {name}")).execute(&pool).await.unwrap();
    });
}
