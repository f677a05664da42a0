//! Reading `jdbc` tables as bounded sources (`SELECT … FROM` a PostgreSQL or MariaDB table), as
//! Flink's JDBC table source does: every row once, columns cast to their declared types, the
//! job finishing when the table is read; paged by primary key so that a job killed mid-scan
//! resumes from its checkpoint without losing or repeating a row; and a `stc table preview` of
//! a jdbc table.

mod common;

use std::process::Command;

use common::{mariadb, psql, unique};

/// Committed rows of the filesystem sink at `dir/out`, sorted.
fn output(dir: &std::path::Path) -> Vec<String> {
    let mut rows = Vec::new();
    for e in std::fs::read_dir(dir.join("out")).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        rows.extend(
            std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .map(String::from),
        );
    }
    rows.sort();
    rows
}

fn stc(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn job(url: &str, table: &str, fetch: usize) -> String {
    format!(
        "CREATE TABLE src (id BIGINT, name STRING, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED)
WITH ('connector' = 'jdbc', 'url' = '{url}', 'table-name' = '{table}', 'username' = 'root',
      'scan.fetch-size' = '{fetch}');
CREATE TABLE out (id BIGINT, name STRING, amount DECIMAL(10, 2))
WITH ('connector' = 'filesystem', 'path' = 'out', 'format' = 'csv');
INSERT INTO out SELECT id, UPPER(name), amount FROM src WHERE id % 10 <> 0;"
    )
}

fn expected(n: i64) -> Vec<String> {
    let mut v: Vec<String> = (1..=n)
        .filter(|i| i % 10 != 0)
        .map(|i| format!("{i},N{i},{}.{:02}", i / 100, i % 100))
        .collect();
    v.sort();
    v
}

#[test]
fn a_postgres_table_is_read_once_in_pages() {
    let table = unique("scan_pg");
    psql(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT, amount NUMERIC(10, 2));
         INSERT INTO {table} SELECT i, 'n' || i, i / 100.0 FROM generate_series(1, 2500) i;"
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        job(
            "jdbc:postgresql://127.0.0.1:5432/test?user=postgres",
            &table,
            300,
        )
        .replace("'username' = 'root',", "'username' = 'postgres',"),
    )
    .unwrap();
    let out = stc(dir.path(), &["run", "job.sql", "-p", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = output(dir.path());
    assert!(
        got == expected(2500),
        "{} rows, first: {:?}",
        got.len(),
        &got[..got.len().min(5)]
    );
    // Preview: the first rows in primary-key order.
    let out = stc(
        dir.path(),
        &[
            "table", "preview", "src", "-f", "job.sql", "--limit", "3", "--output", "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<i64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3], "{v}");
    psql(&format!("DROP TABLE {table}"));
}

#[test]
fn a_mariadb_scan_killed_mid_way_resumes_from_its_checkpoint() {
    let table = unique("scan_my");
    mariadb(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(20), amount DECIMAL(10, 2));
         INSERT INTO {table} SELECT seq, CONCAT('n', seq), seq / 100 FROM seq_1_to_3000;"
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        job("jdbc:mariadb://127.0.0.1:3306/test", &table, 100),
    )
    .unwrap();
    let ck = dir.path().join("ck");
    let args = |resume: bool| {
        let mut a = vec![
            "run".to_string(),
            "job.sql".into(),
            "-p".into(),
            "1".into(),
            "--set".into(),
            "execution.checkpointing.interval=100 ms".into(),
            "--set".into(),
            format!("execution.checkpointing.dir={}", ck.display()),
            // 30 pages at 100 ms each: the job runs about three seconds.
            "--set".into(),
            "stc.debug.source-batch-delay=100 ms".into(),
        ];
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(args(false))
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL mid-scan
    child.wait().unwrap();
    let partial = output(dir.path()).len();
    assert!(
        partial < expected(3000).len(),
        "killed before the end ({partial} rows)"
    );
    let a = args(true);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = stc(dir.path(), &a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("restored from"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = output(dir.path());
    assert!(
        got == expected(3000),
        "{} rows, first: {:?}",
        got.len(),
        &got[..got.len().min(5)]
    );
    mariadb(&format!("DROP TABLE {table}"));
}

#[test]
fn a_missing_table_or_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        job(
            "jdbc:postgresql://127.0.0.1:5432/test",
            "no_such_table_here",
            10,
        )
        .replace("'username' = 'root',", "'username' = 'postgres',"),
    )
    .unwrap();
    let out = stc(dir.path(), &["run", "job.sql", "-p", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("jdbc table 'no_such_table_here'") && err.contains("does not exist"),
        "{err}"
    );
}
