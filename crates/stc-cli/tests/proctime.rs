//! Processing time: `PROCTIME()` columns and windows over them (TVF and legacy group window).
//!
//! Results depend on the wall clock, so these tests check structure rather than exact rows:
//! every row is counted exactly once (counts per key summed over windows), windows have the
//! declared width and are aligned to it, they lie within the wall-clock span of the run, and
//! windows fire while the input is still running (not only at its end).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Epoch milliseconds of `2024-01-01 00:00:00.5` / `…Z` (UTC).
fn parse_ms(s: &str) -> i64 {
    let s = s.trim().trim_matches('"').trim_end_matches('Z');
    let (date, time) = s.split_once(' ').expect("date and time");
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let frac_ms: i64 = format!("{frac:0<3}")[..3].parse().unwrap();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + frac_ms
}

fn run(script: &str, parallelism: &str) -> (tempfile::TempDir, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let start = now_ms();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", parallelism])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let end = now_ms();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, start, end)
}

/// Rows of every part file of `output/res`, split on commas.
fn rows(dir: &Path) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("output/res")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        out.extend(
            text.lines()
                .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>()),
        );
    }
    out
}

/// Checks rows of `(window_start, window_end, k, cnt)`: `per_key` rows per key in total,
/// windows `width` ms wide and aligned, within `[start, end]` of the run.
fn check_windows(rows: &[Vec<String>], width: i64, keys: i64, per_key: i64, span: (i64, i64)) {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    let mut windows = std::collections::BTreeSet::new();
    for r in rows {
        let (ws, we) = (parse_ms(&r[0]), parse_ms(&r[1]));
        assert_eq!(we - ws, width, "window width in {r:?}");
        assert_eq!(ws.rem_euclid(width), 0, "window alignment in {r:?}");
        assert!(
            we > span.0 && ws <= span.1,
            "window {r:?} outside the run [{}, {}]",
            span.0,
            span.1
        );
        *counts.entry(r[2].parse().unwrap()).or_default() += r[3].parse::<i64>().unwrap();
        windows.insert(ws);
    }
    let expected: BTreeMap<i64, i64> = (0..keys).map(|k| (k, per_key)).collect();
    assert_eq!(counts, expected, "rows per key over all windows");
    assert!(!windows.is_empty());
}

const SOURCE: &str = "SET 'table.local-time-zone' = 'UTC';
CREATE TABLE src (id BIGINT, p AS PROCTIME())
WITH ('connector' = 'datagen', 'number-of-rows' = '200', 'rows-per-second' = '200',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '200');
CREATE VIEW keyed AS SELECT CAST(id % 4 AS INT) AS k, p FROM src;
CREATE TABLE res (ws TIMESTAMP_LTZ(3), we TIMESTAMP_LTZ(3), k INT, cnt BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
";

#[test]
fn proctime_tvf_window_counts_every_row_once_in_wall_clock_windows() {
    for p in ["1", "3"] {
        let script = format!(
            "{SOURCE}INSERT INTO res SELECT window_start, window_end, k, COUNT(*)
FROM TABLE(TUMBLE(TABLE keyed, DESCRIPTOR(p), INTERVAL '250' MILLISECOND))
GROUP BY window_start, window_end, k;"
        );
        let (dir, start, end) = run(&script, p);
        check_windows(&rows(dir.path()), 250, 4, 50, (start, end));
    }
}

#[test]
fn proctime_legacy_group_window_counts_every_row_once() {
    let script = format!(
        "{SOURCE}INSERT INTO res SELECT TUMBLE_START(p, INTERVAL '1' SECOND),
  TUMBLE_END(p, INTERVAL '1' SECOND), k, COUNT(*)
FROM keyed GROUP BY TUMBLE(p, INTERVAL '1' SECOND), k;"
    );
    let (dir, start, end) = run(&script, "2");
    check_windows(&rows(dir.path()), 1000, 4, 50, (start, end));
}

#[test]
fn proctime_column_is_the_time_the_row_was_read() {
    let script = "SET 'table.local-time-zone' = 'UTC';
CREATE TABLE src (id BIGINT, p AS PROCTIME())
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20');
CREATE TABLE res (id BIGINT, p TIMESTAMP_LTZ(3))
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
INSERT INTO res SELECT id, p FROM src;";
    let (dir, start, end) = run(script, "1");
    let rows = rows(dir.path());
    assert_eq!(rows.len(), 20);
    for r in rows {
        let t = parse_ms(&r[1]);
        assert!(
            (start..=end).contains(&t),
            "PROCTIME() {t} outside the run [{start}, {end}]"
        );
    }
}

/// Windows fire on the wall clock while the source is still producing: with a 4-second input
/// and 1-second windows, the first result is printed long before the job ends.
#[test]
fn proctime_windows_fire_before_the_end_of_input() {
    let script = "CREATE TABLE src (id BIGINT, p AS PROCTIME())
WITH ('connector' = 'datagen', 'number-of-rows' = '40', 'rows-per-second' = '10',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '40');
CREATE TABLE out (cnt BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(p), INTERVAL '1' SECOND))
GROUP BY window_start, window_end;";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "1"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut arrivals: Vec<(Duration, String)> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("+I[") {
            arrivals.push((started.elapsed(), line));
        }
    }
    assert!(child.wait().unwrap().success());
    let finished = started.elapsed();
    let total: i64 = arrivals
        .iter()
        .map(|(_, l)| {
            l.trim_start_matches("+I[")
                .trim_end_matches(']')
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 40, "{arrivals:?}");
    assert!(arrivals.len() >= 2, "{arrivals:?}");
    let first = arrivals[0].0;
    assert!(
        finished.saturating_sub(first) >= Duration::from_millis(1500),
        "the first window arrived at {first:?}, the job ended at {finished:?}: windows fired only at the end"
    );
}
