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

use common::{materialize, render_output};

fn case_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/lookup_join_enrich")
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mariadb(sql: &str) {
    let out = Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-u", "root", "test", "-e", sql])
        .output()
        .expect("mariadb runs");
    assert!(
        out.status.success(),
        "mariadb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
