//! `table.exec.state.ttl`: an updating aggregation forgets a key whose state was not written
//! for the TTL, and a later row of that key starts again from empty state (`+I`), as in
//! Flink. The input trickles at 5 rows/s (one row every ~200 ms) and the TTL is 50 ms, so
//! every gap between rows is longer than the TTL however slow the machine is; without a TTL
//! the same job counts all six rows under one key.

use std::process::Command;

fn run(ttl: Option<&str>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let set = ttl
        .map(|t| format!("SET 'table.exec.state.ttl' = '{t}';\n"))
        .unwrap_or_default();
    let script = format!(
        "{set}CREATE TABLE gen (v INT) WITH ('connector' = 'datagen', 'rows-per-second' = '5', 'number-of-rows' = '6', 'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '6');
CREATE TABLE out_t (k STRING, cnt BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k, COUNT(*) FROM (SELECT 'x' AS k, v FROM gen) GROUP BY k;
"
    );
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "1"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("[x, "))
        .map(str::to_string)
        .collect()
}

#[test]
fn expired_group_state_starts_again_from_empty() {
    let without = run(None);
    assert_eq!(
        without.iter().filter(|l| l.starts_with("+I")).count(),
        1,
        "{without:?}"
    );
    assert!(
        without.last().is_some_and(|l| l.ends_with("+U[x, 6]")),
        "{without:?}"
    );

    let with = run(Some("50 ms"));
    let inserts = with.iter().filter(|l| l.starts_with("+I")).count();
    assert!(
        inserts >= 2,
        "state older than the TTL must be dropped: {with:?}"
    );
    assert!(
        !with.iter().any(|l| l.ends_with("[x, 6]")),
        "no count may span an expiry: {with:?}"
    );
}

#[test]
fn malformed_ttl_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        "SET 'table.exec.state.ttl' = 'forever';\nCREATE TABLE gen (v INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1');\nSELECT COUNT(*) FROM gen;\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'table.exec.state.ttl' must be a duration such as '1 h', found 'forever'"),
        "{stderr}"
    );
}
