//! What each class of bad input gets from `stc run`: a non-zero exit and a message naming
//! the problem (with line and column for SQL errors), or, where the user asked for it
//! (`*.ignore-parse-errors`), the bad records skipped and counted.

use std::path::Path;
use std::process::{Command, Output};

const EVENTS: &str =
    "CREATE TABLE events (ts TIMESTAMP(3), uid STRING, amount INT, WATERMARK FOR ts AS ts)
WITH ('connector' = 'filesystem', 'path' = 'input/events.csv', 'format' = 'csv');
CREATE TABLE res (uid STRING, total INT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
";

fn run(script: &str, files: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "1"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    (out, dir)
}

/// The script fails, and stderr contains every expected fragment.
fn check_fails(script: &str, files: &[(&str, &str)], expected: &[&str]) {
    let (out, _dir) = run(script, files);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success. stderr:\n{stderr}"
    );
    for e in expected {
        assert!(stderr.contains(e), "stderr lacks {e:?}:\n{stderr}");
    }
}

const GOOD: &str = "2024-01-01 00:00:01,alice,1\n2024-01-01 00:00:02,bob,2\n";

fn output_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir.join("output/res")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}

#[test]
fn syntax_error_names_line_and_column() {
    check_fails(
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nSELEC a FROM t;",
        &[],
        &["SQL parse error in statement 2 at line 2, column 1"],
    );
}

#[test]
fn unknown_table_lists_declared_ones() {
    check_fails(
        &format!("{EVENTS}INSERT INTO res SELECT uid, amount FROM evnts;"),
        &[("input/events.csv", GOOD)],
        &[
            "statement 3 at line 5",
            "Object 'evnts' not found",
            "events, res",
        ],
    );
}

#[test]
fn unknown_column_names_valid_ones() {
    check_fails(
        &format!("{EVENTS}INSERT INTO res SELECT user_id, amount FROM events;"),
        &[("input/events.csv", GOOD)],
        &[
            "SQL validation error in statement 3 at line 5, column 24",
            "user_id",
        ],
    );
}

#[test]
fn unknown_function_is_named() {
    check_fails(
        &format!("{EVENTS}INSERT INTO res SELECT frobnicate(uid), amount FROM events;"),
        &[("input/events.csv", GOOD)],
        &["statement 3 at line 5", "frobnicate"],
    );
}

#[test]
fn type_mismatch_with_the_sink_shows_both_schemas() {
    check_fails(
        &format!("{EVENTS}INSERT INTO res SELECT uid, UPPER(uid) FROM events;"),
        &[("input/events.csv", GOOD)],
        &[
            "Column types of query result and sink for 'res' do not match",
            "Incompatible types for sink column 'total' at position 1",
            "Sink schema:  [uid: STRING, total: INT]",
        ],
    );
}

#[test]
fn unsupported_feature_is_named() {
    check_fails(
        &format!(
            "{EVENTS}INSERT INTO res SELECT a.uid, a.amount FROM events a, events b WHERE a.amount < b.amount;"
        ),
        &[("input/events.csv", GOOD)],
        &["not supported yet: joins without an equality condition"],
    );
}

/// Flink rejects an updating query into an append-only sink at planning time, naming the
/// operator that produces the updates; so do we (nothing runs, nothing is written).
#[test]
fn updating_query_into_append_only_sink_is_rejected_at_planning() {
    let (out, dir) = run(
        &format!("{EVENTS}INSERT INTO res SELECT uid, SUM(amount) FROM events GROUP BY uid;"),
        &[("input/events.csv", GOOD)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for e in [
        "statement 3",
        "Table sink 'res' doesn't support consuming update changes which is produced by node GroupAggregate(groupBy=[events.uid]",
        "'filesystem' connector only appends",
    ] {
        assert!(stderr.contains(e), "stderr lacks {e:?}:\n{stderr}");
    }
    assert!(
        !dir.path().join("output").exists(),
        "nothing may be written"
    );
}

#[test]
fn window_aggregation_over_updating_input_is_rejected() {
    check_fails(
        &format!(
            "{EVENTS}CREATE VIEW latest AS SELECT uid, MAX(ts) AS ts FROM events GROUP BY uid;
INSERT INTO res SELECT uid, CAST(COUNT(*) AS INT) FROM TABLE(TUMBLE(TABLE latest, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, uid;"
        ),
        &[("input/events.csv", GOOD)],
        &["window aggregation doesn't support consuming update and delete changes which is produced by node GroupAggregate"],
    );
}

#[test]
fn event_time_temporal_join_needs_a_primary_key_and_a_watermark() {
    let files = [
        ("input/events.csv", GOOD),
        ("input/dim.csv", "alice,A,2024-01-01 00:00:00\n"),
    ];
    let query = "INSERT INTO res SELECT e.uid, e.amount FROM events e JOIN dim FOR SYSTEM_TIME AS OF e.ts AS d ON e.uid = d.uid;";
    check_fails(
        &format!(
            "{EVENTS}CREATE TABLE dim (uid STRING, name STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = 'input/dim.csv', 'format' = 'csv');\n{query}"
        ),
        &files,
        &[
            "Temporal Table Join requires primary key in versioned table",
            "'dim'",
        ],
    );
    check_fails(
        &format!(
            "{EVENTS}CREATE TABLE dim (uid STRING, name STRING, ts TIMESTAMP(3), PRIMARY KEY (uid) NOT ENFORCED) WITH ('connector' = 'filesystem', 'path' = 'input/dim.csv', 'format' = 'csv');\n{query}"
        ),
        &files,
        &[
            "Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table",
        ],
    );
}

#[test]
fn lookup_join_against_a_table_without_lookup_is_named() {
    check_fails(
        &format!(
            "{EVENTS}CREATE TABLE ev2 (uid STRING, p AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = 'input/events.csv', 'format' = 'csv');
CREATE TABLE dim (uid STRING, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '1');
INSERT INTO res SELECT e.uid, 1 FROM ev2 e JOIN dim FOR SYSTEM_TIME AS OF e.p AS d ON e.uid = d.uid;"
        ),
        &[("input/events.csv", GOOD)],
        &[
            "not supported yet: a lookup join (FOR SYSTEM_TIME AS OF a processing-time column) against table 'dim' (connector 'datagen')",
            "lookup tables need the jdbc, redis or filesystem connector",
        ],
    );
}

#[test]
fn row_number_without_a_rank_filter_is_named() {
    check_fails(
        &format!(
            "{EVENTS}INSERT INTO res SELECT uid, CAST(ROW_NUMBER() OVER (PARTITION BY uid ORDER BY ts) AS INT) FROM events;"
        ),
        &[("input/events.csv", GOOD)],
        &["not supported yet: ROW_NUMBER() without a filter on its result"],
    );
}

/// Sessions are computed per group key, so a SESSION TVF grouped by other keys than its
/// PARTITION BY keys would give other sessions than Flink's: rejected, naming both.
#[test]
fn session_tvf_grouped_by_other_keys_than_its_partition_is_not_supported() {
    check_fails(
        &format!(
            "{EVENTS}INSERT INTO res SELECT uid, CAST(COUNT(*) AS INT)
FROM TABLE(SESSION(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, uid;"
        ),
        &[("input/events.csv", GOOD)],
        &[
            "not supported yet: a SESSION window TVF grouped by keys [uid] other than its PARTITION BY keys []",
        ],
    );
}

/// `ERROR ON EMPTY` fails the job (Flink: "Empty result of JSON_VALUE function is not
/// allowed"), even when `DEFAULT … ON ERROR` is given.
#[test]
fn json_value_error_on_empty_fails_the_job() {
    check_fails(
        &format!(
            "{EVENTS}INSERT INTO res SELECT JSON_VALUE('{{}}', 'lax $.a' ERROR ON EMPTY DEFAULT 'x' ON ERROR), amount FROM events;"
        ),
        &[("input/events.csv", GOOD)],
        &["json_value: empty result for path 'lax $.a'"],
    );
}

#[test]
fn malformed_record_fails_the_job_with_file_and_line() {
    let bad = "2024-01-01 00:00:01,alice,1\n2024-01-01 00:00:02,bob,two\n";
    check_fails(
        &format!("{EVENTS}INSERT INTO res SELECT uid, amount FROM events;"),
        &[("input/events.csv", bad)],
        &["input/events.csv:2", "two"],
    );
}

#[test]
fn malformed_record_is_skipped_and_counted_with_ignore_parse_errors() {
    let script = EVENTS.replace(
        "'format' = 'csv');\nCREATE TABLE res",
        "'format' = 'csv', 'csv.ignore-parse-errors' = 'true');\nCREATE TABLE res",
    );
    // A row with too many fields is skipped (a bad single field would be nulled, as in Flink).
    let bad = "2024-01-01 00:00:01,alice,1\n2024-01-01 00:00:02,bob,2,extra,fields\n2024-01-01 00:00:03,carol,3\n";
    let (out, dir) = run(
        &format!("{script}INSERT INTO res SELECT uid, amount FROM events;"),
        &[("input/events.csv", bad)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(output_lines(dir.path()), vec!["alice,1", "carol,3"]);
    assert!(stderr.contains("1 malformed records skipped"), "{stderr}");
}

#[test]
fn missing_input_file_is_named() {
    check_fails(
        &format!("{EVENTS}INSERT INTO res SELECT uid, amount FROM events;"),
        &[],
        &["cannot read path 'input/events.csv'"],
    );
}

#[test]
fn unwritable_sink_path_is_named() {
    // `output` is a file, so the sink directory cannot be created under it.
    check_fails(
        &format!("{EVENTS}INSERT INTO res SELECT uid, amount FROM events;"),
        &[("input/events.csv", GOOD), ("output", "")],
        &["cannot create directory 'output/res'"],
    );
}

#[test]
fn bad_option_lists_valid_ones() {
    check_fails(
        "CREATE TABLE t (a INT) WITH ('connector' = 'filesystem', 'path' = 'x', 'format' = 'csv', 'csv.delimiter' = ';');\nSELECT a FROM t;",
        &[],
        &[
            "statement 1 at line 1",
            "csv.delimiter",
            "csv.field-delimiter",
        ],
    );
}

#[test]
fn bare_select_prints_flink_changelog_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("q.sql"),
        "SELECT id, UPPER(name) AS name FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name);",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "q.sql", "--output", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            r#"{"op":"+I","row":{"id":1,"name":"A"}}"#,
            r#"{"op":"+I","row":{"id":2,"name":"B"}}"#
        ]
    );
}

/// A record older than the watermark is late: its window has fired, so it is dropped and
/// counted (Flink's `numLateRecordsDropped`), never silently. Files of a directory are read
/// in name order and the watermark advances after each batch, so the second file's record
/// arrives after the first file moved the watermark to 00:02:00.
#[test]
fn late_records_are_dropped_and_counted() {
    let script =
        "CREATE TABLE events (ts TIMESTAMP(3), uid STRING, amount INT, WATERMARK FOR ts AS ts)
WITH ('connector' = 'filesystem', 'path' = 'input', 'format' = 'csv');
CREATE TABLE res (uid STRING, total INT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
INSERT INTO res SELECT uid, SUM(amount) FROM events GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), uid;";
    let (out, dir) = run(
        script,
        &[
            (
                "input/a.csv",
                "2024-01-01 00:00:05,alice,1\n2024-01-01 00:02:00,alice,2\n",
            ),
            ("input/b.csv", "2024-01-01 00:00:10,alice,100\n"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(output_lines(dir.path()), vec!["alice,1", "alice,2"]);
    assert!(stderr.contains("1 late records dropped"), "{stderr}");
}

/// `LIKE … (INCLUDING OPTIONS)` refuses an option defined on both sides (Flink's rule);
/// the default, OVERWRITING OPTIONS, lets the new table's value win.
#[test]
fn like_including_options_rejects_a_duplicate_option() {
    check_fails(
        &format!(
            "{EVENTS}CREATE TABLE events2 WITH ('path' = 'input/other.csv') LIKE events (INCLUDING OPTIONS);\nINSERT INTO res SELECT uid, amount FROM events2;"
        ),
        &[("input/events.csv", GOOD)],
        &[
            "statement 3",
            "option 'path' is defined both in the LIKE source and in the new table",
            "OVERWRITING OPTIONS",
        ],
    );
}

/// Regression: forward edges (a UNION ALL feeding a sink) once kept placeholder channels to
/// the other subtasks; broadcasting the first watermark into a closed placeholder stopped the
/// producer, losing every later batch. Each source subtask here reads two files (two batches
/// with a watermark between them), so all 8 rows arrive only if the producers survive.
#[test]
fn union_into_a_sink_keeps_every_batch_at_parallelism_2() {
    let script = "CREATE TABLE a (ts TIMESTAMP(3), uid STRING, amount INT, WATERMARK FOR ts AS ts)
WITH ('connector' = 'filesystem', 'path' = 'in_a', 'format' = 'csv');
CREATE TABLE b (ts TIMESTAMP(3), uid STRING, amount INT, WATERMARK FOR ts AS ts)
WITH ('connector' = 'filesystem', 'path' = 'in_b', 'format' = 'csv');
CREATE TABLE res (uid STRING, total INT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
INSERT INTO res SELECT uid, amount FROM a UNION ALL SELECT uid, amount FROM b;";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    for src in ["a", "b"] {
        std::fs::create_dir_all(dir.path().join(format!("in_{src}"))).unwrap();
        for f in 0..4 {
            let line = format!("2024-01-01 00:00:0{f},{src}{f},{f}\n");
            std::fs::write(dir.path().join(format!("in_{src}/{f}.csv")), line).unwrap();
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "2"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        output_lines(dir.path()),
        vec![
            "a0,0", "a1,1", "a2,2", "a3,3", "b0,0", "b1,1", "b2,2", "b3,3"
        ]
    );
}

#[test]
fn unknown_time_zone_is_rejected_with_an_example() {
    check_fails(
        &format!(
            "SET 'table.local-time-zone' = 'Mars/Olympus';\n{EVENTS}INSERT INTO res SELECT uid, amount FROM events;"
        ),
        &[("input/events.csv", GOOD)],
        &[
            "'table.local-time-zone' must be a time zone id such as 'UTC' or 'Asia/Shanghai', found 'Mars/Olympus'",
        ],
    );
}

const CHANGES: &str =
    "CREATE TABLE changes (ts TIMESTAMP(3), uid STRING, amount INT, WATERMARK FOR ts AS ts)
WITH ('connector' = 'filesystem', 'path' = 'input/changes.json', 'format' = 'debezium-json');
CREATE TABLE res (uid STRING, total INT)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
";

const GOOD_CHANGES: &str = r#"{"before":null,"after":{"ts":"2024-01-01 00:00:01","uid":"alice","amount":1},"op":"c"}
{"before":{"ts":"2024-01-01 00:00:01","uid":"alice","amount":1},"after":{"ts":"2024-01-01 00:00:01","uid":"alice","amount":2},"op":"u"}
"#;

/// A changelog source is an updating input: an append-only sink rejects it at planning,
/// naming the source, as Flink does.
#[test]
fn changelog_source_into_append_only_sink_is_rejected_at_planning() {
    check_fails(
        &format!("{CHANGES}INSERT INTO res SELECT uid, amount FROM changes;"),
        &[("input/changes.json", GOOD_CHANGES)],
        &[
            "Table sink 'res' doesn't support consuming update changes which is produced by node TableSourceScan(table=[[default_catalog, default_database, changes]], fields=[ts, uid, amount])",
        ],
    );
}

#[test]
fn window_aggregation_over_a_changelog_source_is_rejected() {
    check_fails(
        &format!(
            "{CHANGES}INSERT INTO res SELECT uid, CAST(COUNT(*) AS INT) FROM TABLE(TUMBLE(TABLE changes, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, uid;"
        ),
        &[("input/changes.json", GOOD_CHANGES)],
        &[
            "window aggregation doesn't support consuming update and delete changes which is produced by node TableSourceScan(table=[[default_catalog, default_database, changes]]",
        ],
    );
}

/// A corrupt change record fails the job with the file, the line and Flink's reason; with
/// `debezium-json.ignore-parse-errors` the whole record (both halves of an update) is skipped
/// and counted.
#[test]
fn corrupt_change_record_fails_or_is_skipped_and_counted() {
    let script = CHANGES.replace("'format' = 'csv'", "'format' = 'debezium-json'");
    let bad = format!(
        "{GOOD_CHANGES}{}\n{}\n",
        r#"{"before":null,"after":{"ts":"2024-01-01 00:00:02","uid":"bob","amount":5},"op":"x"}"#,
        r#"{"before":{"ts":"2024-01-01 00:00:01","uid":"alice","amount":2},"after":"not a row","op":"u"}"#,
    );
    let query = "INSERT INTO res SELECT uid, SUM(amount) FROM changes GROUP BY uid;";
    check_fails(
        &format!("{script}{query}"),
        &[("input/changes.json", &bad)],
        &["input/changes.json:3", "Unknown \"op\" value \"x\""],
    );
    let lenient = script.replace(
        "'format' = 'debezium-json');\nCREATE TABLE res",
        "'format' = 'debezium-json', 'debezium-json.ignore-parse-errors' = 'true');\nCREATE TABLE res",
    );
    let (out, dir) = run(
        &format!("{lenient}{query}"),
        &[("input/changes.json", &bad)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 malformed records skipped"), "{stderr}");
    let mut state = std::collections::BTreeMap::new();
    for line in output_lines(dir.path()) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        match v["op"].as_str() {
            Some("c") => *state.entry(v["after"].to_string()).or_insert(0) += 1,
            _ => *state.entry(v["before"].to_string()).or_insert(0) -= 1,
        }
    }
    state.retain(|_, n| *n != 0);
    let rows: Vec<(&String, &i32)> = state.iter().collect();
    assert_eq!(
        rows,
        vec![(&r#"{"uid":"alice","total":2}"#.to_string(), &1)],
        "only alice's valid update may count"
    );
}

#[test]
fn window_join_of_different_windows_is_rejected() {
    check_fails(
        &format!(
            "{EVENTS}INSERT INTO res SELECT L.uid, L.amount
FROM (SELECT * FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) L
JOIN (SELECT * FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' MINUTE))) R
ON L.uid = R.uid AND L.window_start = R.window_start AND L.window_end = R.window_end;"
        ),
        &[("input/events.csv", GOOD)],
        &["not supported yet: a window join of different windows"],
    );
}

#[test]
fn temporal_join_against_a_view_that_is_not_versioned_is_rejected() {
    // A versioned view is a rowtime deduplication keeping the last row (a golden case); an
    // aggregating view has neither a derived key nor a rowtime.
    check_fails(
        &format!(
            "{EVENTS}CREATE VIEW latest AS SELECT uid, MAX(amount) AS amount, MAX(ts) AS ts FROM events GROUP BY uid;
INSERT INTO res SELECT e.uid, l.amount FROM events e JOIN latest FOR SYSTEM_TIME AS OF e.ts AS l ON e.uid = l.uid;"
        ),
        &[("input/events.csv", GOOD)],
        &["not supported yet: an event-time temporal join against a view or subquery that is not a versioned view",
          "ROW_NUMBER() OVER (PARTITION BY key ORDER BY rowtime DESC) AS rn FROM t) WHERE rn = 1"],
    );
}

#[test]
fn temporal_join_against_a_versioned_view_must_join_on_its_key() {
    check_fails(
        &format!(
            "{EVENTS}CREATE VIEW latest AS SELECT uid, amount, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY ts DESC) AS rn FROM events) WHERE rn = 1;
INSERT INTO res SELECT e.uid, l.amount FROM events e JOIN latest FOR SYSTEM_TIME AS OF e.ts AS l ON e.amount = l.amount;"
        ),
        &[("input/events.csv", GOOD)],
        &["must compare its primary key column 'uid' with the probe side by equality in ON"],
    );
}

/// A PARTITIONED BY table written through a connector that cannot partition (here Kafka)
/// fails at planning, as in Flink, instead of silently ignoring the partitioning; print
/// accepts it (Flink's print sink supports partitioning too).
#[test]
fn partitioned_sink_of_a_connector_without_partitions_is_rejected() {
    check_fails(
        &format!(
            "{EVENTS}CREATE TABLE k (uid STRING, total INT) PARTITIONED BY (uid)
WITH ('connector' = 'kafka', 'topic' = 'x', 'properties.bootstrap.servers' = '127.0.0.1:1', 'format' = 'json');
INSERT INTO k SELECT uid, amount FROM events;"
        ),
        &[("input/events.csv", GOOD)],
        &["Table 'k' is a partitioned table, but the kafka connector does not support partitioned sinks (PARTITIONED BY)"],
    );
    let (out, _dir) = run(
        &format!(
            "{EVENTS}CREATE TABLE p (uid STRING, total INT) PARTITIONED BY (uid) WITH ('connector' = 'print');
INSERT INTO p SELECT uid, amount FROM events;"
        ),
        &[("input/events.csv", GOOD)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
