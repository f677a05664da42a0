//! Lookup joins against real PostgreSQL and MariaDB, checked against Apache Flink.
//!
//! Flink from PyPI has no jdbc connector, so the reference is the golden case
//! `tests/golden/lookup_join_enrich`: the same enrichment written as regular LEFT JOINs
//! against the dimension data as files, run by Flink. Here the dimension data is loaded into
//! PostgreSQL (platforms) and MariaDB (categories), `lookup.sql` joins them
//! `FOR SYSTEM_TIME AS OF PROCTIME()`, and its output must equal the final state of Flink's.
//! (While the dimension tables do not change, a lookup join and the regular join agree.)

mod common;

use std::path::Path;
use std::process::Command;

use common::{mariadb, materialize, psql, render_output};

fn case_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/lookup_join_enrich")
}

/// `INSERT … VALUES` rows from a CSV file of plain values (no quoting needed here).
fn values(csv: &str, numeric: &[bool]) -> String {
    csv.lines()
        .map(|l| {
            let vals: Vec<String> = l
                .split(',')
                .zip(numeric)
                .map(|(v, n)| if *n { v.to_string() } else { format!("'{v}'") })
                .collect();
            format!("({})", vals.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn lookup_joins_against_postgres_and_mariadb_match_flink() {
    let case = case_dir();
    let suffix = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let pg_table = format!("stc_test_platforms_{suffix}");
    let maria_table = format!("stc_test_categories_{suffix}");
    let platforms = std::fs::read_to_string(case.join("input/platforms.csv")).unwrap();
    let categories = std::fs::read_to_string(case.join("input/categories.csv")).unwrap();
    psql(&format!(
        "CREATE TABLE {pg_table} (alias VARCHAR(16) PRIMARY KEY, platform VARCHAR(8)); INSERT INTO {pg_table} VALUES {}",
        values(&platforms, &[false, false])
    ));
    mariadb(&format!(
        "CREATE TABLE {maria_table} (cate_id INT, platform VARCHAR(8), type_id VARCHAR(8), PRIMARY KEY (cate_id, platform)); INSERT INTO {maria_table} VALUES {}",
        values(&categories, &[true, false, false])
    ));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("input")).unwrap();
    std::fs::copy(
        case.join("input/orders.csv"),
        dir.path().join("input/orders.csv"),
    )
    .unwrap();
    let script = std::fs::read_to_string(case.join("lookup.sql"))
        .unwrap()
        .replace("${PG_TABLE}", &pg_table)
        .replace("${MARIA_TABLE}", &maria_table);
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let mut results = Vec::new();
    for p in ["1", "3"] {
        let _ = std::fs::remove_dir_all(dir.path().join("output"));
        let out = Command::new(env!("CARGO_BIN_EXE_stc"))
            .args(["run", "job.sql", "-p", p])
            .current_dir(dir.path())
            .output()
            .unwrap();
        results.push((
            p,
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
            render_output(dir.path()),
        ));
    }
    psql(&format!("DROP TABLE {pg_table}"));
    mariadb(&format!("DROP TABLE {maria_table}"));

    let expected = materialize(&std::fs::read_to_string(case.join("expected.out")).unwrap());
    for (p, ok, stderr, actual) in results {
        assert!(ok, "parallelism {p}: stc run failed: {stderr}");
        assert_eq!(materialize(&actual), expected, "parallelism {p}");
        assert!(
            !actual.contains("\"op\":\"d\""),
            "a lookup join on an append-only input only appends"
        );
    }
}

#[test]
fn missing_dimension_table_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("input")).unwrap();
    std::fs::write(dir.path().join("input/o.csv"), "1,ios\n").unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        "CREATE TABLE o (id INT, plat STRING) WITH ('connector' = 'filesystem', 'path' = 'input/o.csv', 'format' = 'csv');
CREATE TABLE d (alias STRING, platform STRING) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://127.0.0.1:5432/test', 'table-name' = 'stc_no_such_table', 'username' = 'postgres');
SELECT o.id, d.platform FROM o JOIN d FOR SYSTEM_TIME AS OF PROCTIME() ON o.plat = d.alias;
",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "1"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stc_no_such_table"), "{stderr}");
}

/// The seed's job (examples/live_gifts): lookups in PostgreSQL and MariaDB, then 1-minute
/// TUMBLE and 5/1-minute HOP windows upserted into PostgreSQL. Every gift is counted once per
/// tumbling window and five times over the hopping windows, and each platform/category pair
/// gets the type the dimension tables give it.
#[test]
fn seed_live_gifts_example_runs_end_to_end() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let setup_pg =
        std::fs::read_to_string(root.join("examples/live_gifts/setup_postgres.sql")).unwrap();
    psql(&setup_pg);
    let setup_maria =
        std::fs::read_to_string(root.join("examples/live_gifts/setup_mariadb.sql")).unwrap();
    mariadb(&setup_maria);
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "examples/live_gifts/job.sql"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total: i64 = std::fs::read_to_string(root.join("examples/live_gifts/gifts.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').nth(7).unwrap().parse::<i64>().unwrap())
        .sum();
    let query = |sql: &str| -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "test",
                "-tA",
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        query("SELECT sum(gift_count) FROM gift_stats_1m"),
        total.to_string()
    );
    // Hopping windows of 5 minutes every minute: each gift is in 5 windows.
    assert_eq!(
        query("SELECT sum(gift_count) FROM gift_stats_5m"),
        (5 * total).to_string()
    );
    // ios (1) in category 11 is type 101; category 12 on android (2) has an empty type: 16;
    // an unknown platform ('mini') is 0 and finds no category: 16.
    assert_eq!(
        query(
            "SELECT DISTINCT type_id FROM gift_stats_1m WHERE pf = 1 AND room_id IN (101, 104) ORDER BY 1"
        ),
        "101"
    );
    assert_eq!(
        query("SELECT DISTINCT type_id FROM gift_stats_1m WHERE pf = 2 AND room_id = 102"),
        "16"
    );
    assert_eq!(
        query("SELECT DISTINCT type_id FROM gift_stats_1m WHERE pf = 0"),
        "16"
    );
}
