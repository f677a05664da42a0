//! Mini-batch aggregation (`table.exec.mini-batch.*`): what closes a mini-batch, and the
//! errors of incomplete settings. The changelog semantics are a golden case
//! (`tests/golden/group_agg_mini_batch`, produced by Flink).

use std::process::Command;

/// Runs `script` at parallelism 1; returns (success, the `[x, …]` lines of stdout, stderr).
fn run(script: &str) -> (bool, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "1"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("[x, "))
        .map(str::to_string)
        .collect();
    (
        out.status.success(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// COUNT(*) of one key over `rows` rows at `per_second` (0: as fast as possible).
fn counting(settings: &str, rows: u32, per_second: u32) -> String {
    let rate = if per_second > 0 {
        format!("'rows-per-second' = '{per_second}', ")
    } else {
        String::new()
    };
    format!(
        "{settings}CREATE TABLE gen (v INT) WITH ('connector' = 'datagen', {rate}'number-of-rows' = '{rows}', 'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{rows}');
CREATE TABLE out_t (k STRING, cnt BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k, COUNT(*) FROM (SELECT 'x' AS k, v FROM gen) GROUP BY k;
"
    )
}

fn mini_batch(latency: &str, size: &str) -> String {
    format!(
        "SET 'table.exec.mini-batch.enabled' = 'true';\nSET 'table.exec.mini-batch.allow-latency' = '{latency}';\nSET 'table.exec.mini-batch.size' = '{size}';\n"
    )
}

#[test]
fn a_mini_batch_closes_after_size_rows() {
    // 10 rows arrive together; a mini-batch of 4 rows closes after rows 4 and 8 (the batch is
    // split there, as Flink's count trigger fires per row), and the end of input closes the
    // last one.
    let (ok, lines, stderr) = run(&counting(&mini_batch("1 h", "4"), 10, 0));
    assert!(ok, "{stderr}");
    assert_eq!(
        lines,
        ["+I[x, 4]", "-U[x, 4]", "+U[x, 8]", "-U[x, 8]", "+U[x, 10]"],
        "{stderr}"
    );
    // Without mini-batch every row makes a change.
    let (ok, lines, stderr) = run(&counting("", 10, 0));
    assert!(ok, "{stderr}");
    assert_eq!(lines.len(), 1 + 2 * 9, "{lines:?}");
}

#[test]
fn a_mini_batch_closes_when_its_latency_has_passed() {
    // Six rows, one every ~200 ms. Buffered for up to an hour they make one change at the end
    // of input; with a 50 ms latency the buffer is applied between rows, so the count is seen
    // growing (how often depends on the machine's timing, so only "more than once" is
    // asserted).
    let (ok, lines, stderr) = run(&counting(&mini_batch("1 h", "1000"), 6, 5));
    assert!(ok, "{stderr}");
    assert_eq!(lines, ["+I[x, 6]"], "{stderr}");
    let (ok, lines, stderr) = run(&counting(&mini_batch("50 ms", "1000"), 6, 5));
    assert!(ok, "{stderr}");
    assert!(lines.len() > 1, "the latency timer never fired: {lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("+U[x, 6]"),
        "{lines:?}"
    );
}

#[test]
fn incomplete_mini_batch_settings_are_clear_errors() {
    let enabled = "SET 'table.exec.mini-batch.enabled' = 'true';\n";
    let (ok, _, stderr) = run(&counting(enabled, 1, 0));
    assert!(!ok);
    assert!(
        stderr.contains(
            "MiniBatch latency must be greater than 0 ms: set 'table.exec.mini-batch.allow-latency'"
        ),
        "{stderr}"
    );
    let latency = "SET 'table.exec.mini-batch.allow-latency' = '2 s';\n";
    let (ok, _, stderr) = run(&counting(&format!("{enabled}{latency}"), 1, 0));
    assert!(!ok);
    assert!(
        stderr.contains(
            "'table.exec.mini-batch.size' must be > 0 when 'table.exec.mini-batch.enabled' is true"
        ),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&counting(
        "SET 'table.exec.mini-batch.enabled' = 'yes';\n",
        1,
        0,
    ));
    assert!(!ok);
    assert!(
        stderr.contains("'table.exec.mini-batch.enabled' must be 'true' or 'false', found 'yes'"),
        "{stderr}"
    );
    // Disabled, the other keys are not checked (Flink ignores them then too).
    let (ok, _, stderr) = run(&counting(
        "SET 'table.exec.mini-batch.enabled' = 'false';\nSET 'table.exec.mini-batch.size' = '-1';\n",
        1,
        0,
    ));
    assert!(ok, "{stderr}");
}
