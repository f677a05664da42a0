//! The filesystem connector beyond plain files: `PARTITIONED BY` sinks (partition
//! directories, files without the partition columns, `_SUCCESS` files of Flink's
//! `success-file` commit policy, reading a partitioned table back) and filesystem tables as
//! lookup tables (`JOIN … FOR SYSTEM_TIME AS OF o.proc_time`, Flink's whole-table load).

mod common;

use std::path::Path;

fn run(dir: &Path, script: &str, parallelism: &str) -> std::process::Output {
    common::run_job(dir, script, &["-p", parallelism])
}

fn run_ok(dir: &Path, script: &str, parallelism: &str) {
    common::run_job_ok(dir, script, &["-p", parallelism]);
}

fn write(dir: &Path, path: &str, text: &str) {
    common::write_files(dir, &[(path, text)]);
}

/// Sorted lines of the visible files directly in `dir`, and the sorted names of the others.
fn files_in(dir: &Path) -> (Vec<String>, Vec<String>) {
    let c = common::dir_contents(dir);
    let mut other = c.hidden;
    other.extend(c.dirs);
    other.sort();
    (c.lines, other)
}

const EVENTS: &str = "1,2024-01-01 10:00:05,a,2024-01-01,10
2,2024-01-01 10:59:59,b,2024-01-01,10
3,2024-01-01 11:00:00,c,2024-01-01,11
4,2024-01-02 10:30:00,d:e,2024-01-02,10
5,2024-01-02 10:31:00,f,,null
";

fn partitioned_job(with: &str) -> String {
    format!(
        "CREATE TABLE events (id INT, ts TIMESTAMP(3), v STRING, dt STRING, hr INT)
WITH ('connector' = 'filesystem', 'path' = 'input/events.csv', 'format' = 'csv',
  'csv.null-literal' = 'null');
CREATE TABLE part (id INT, ts TIMESTAMP(3), v STRING, dt STRING, hr INT)
PARTITIONED BY (dt, hr) WITH ('connector' = 'filesystem', 'path' = 'output/part',
  'format' = 'csv'{with});
INSERT INTO part SELECT * FROM events;"
    )
}

#[test]
fn partitioned_sink_writes_partition_directories_without_the_partition_columns() {
    for p in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "input/events.csv", EVENTS);
        run_ok(
            dir.path(),
            &partitioned_job(
                // The end of input commits every partition, whatever the delay.
                ", 'sink.partition-commit.policy.kind' = 'success-file',
  'sink.partition-commit.delay' = '1 h'",
            ),
            p,
        );
        let root = dir.path().join("output/part");
        let (lines, dirs) = files_in(&root);
        assert!(lines.is_empty(), "no file at the root: {lines:?}");
        assert_eq!(
            dirs,
            ["dt=2024-01-01", "dt=2024-01-02", "dt=__DEFAULT_PARTITION__"],
            "p{p}"
        );
        let part = |d: &str| files_in(&root.join(d));
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            part("dt=2024-01-01/hr=10"),
            (
                s(&["1,\"2024-01-01 10:00:05\",a", "2,\"2024-01-01 10:59:59\",b"]),
                s(&["_SUCCESS"])
            )
        );
        assert_eq!(
            part("dt=2024-01-01/hr=11"),
            (s(&["3,\"2024-01-01 11:00:00\",c"]), s(&["_SUCCESS"]))
        );
        assert_eq!(
            part("dt=2024-01-02/hr=10"),
            (s(&["4,\"2024-01-02 10:30:00\",d:e"]), s(&["_SUCCESS"]))
        );
        // Empty (dt) and NULL (hr) partition values go to partition.default-name.
        assert_eq!(
            part("dt=__DEFAULT_PARTITION__/hr=__DEFAULT_PARTITION__"),
            (s(&["5,\"2024-01-02 10:31:00\",f"]), s(&["_SUCCESS"]))
        );
    }
}

#[test]
fn partition_values_are_escaped_and_without_a_policy_nothing_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "input/events.csv",
        "1,2024-01-01 10:00:05,a,2024/01:01,10\n",
    );
    run_ok(dir.path(), &partitioned_job(""), "1");
    let (lines, other) = files_in(&dir.path().join("output/part/dt=2024%2F01%3A01/hr=10"));
    assert_eq!(lines, ["1,\"2024-01-01 10:00:05\",a"]);
    assert!(
        other.is_empty(),
        "no _SUCCESS without a commit policy: {other:?}"
    );
}

#[test]
fn partitioned_table_reads_back_with_its_partition_columns() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "input/events.csv", EVENTS);
    run_ok(
        dir.path(),
        &partitioned_job(", 'sink.partition-commit.policy.kind' = 'success-file'"),
        "2",
    );
    std::fs::remove_dir_all(dir.path().join("input")).unwrap();
    run_ok(
        dir.path(),
        "CREATE TABLE part (id INT, ts TIMESTAMP(3), v STRING, dt STRING, hr INT)
PARTITIONED BY (dt, hr) WITH ('connector' = 'filesystem', 'path' = 'output/part', 'format' = 'csv');
CREATE TABLE back (id INT, v STRING, dt STRING, hr INT)
WITH ('connector' = 'filesystem', 'path' = 'back', 'format' = 'csv');
INSERT INTO back SELECT id, v, dt, hr FROM part;",
        "1",
    );
    let (lines, _) = files_in(&dir.path().join("back"));
    assert_eq!(
        lines,
        [
            "1,a,2024-01-01,10",
            "2,b,2024-01-01,10",
            "3,c,2024-01-01,11",
            "4,d:e,2024-01-02,10",
            "5,f,,"
        ]
    );
}

#[test]
fn unsupported_partition_commit_options_are_rejected_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "input/events.csv", EVENTS);
    let out = run(
        dir.path(),
        &partitioned_job(", 'sink.partition-commit.policy.kind' = 'metastore'"),
        "1",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("table 'part'")
            && err.contains("'sink.partition-commit.policy.kind'")
            && err.contains("'success-file'"),
        "{err}"
    );
}

const LOOKUP: &str = "CREATE TABLE orders (id INT, k BIGINT, p AS PROCTIME())
WITH ('connector' = 'filesystem', 'path' = 'input/orders.csv', 'format' = 'csv',
  'csv.null-literal' = 'null');
CREATE TABLE side (k BIGINT, name STRING)
WITH ('connector' = 'filesystem', 'path' = 'input/side.csv', 'format' = 'csv',
  'csv.null-literal' = 'null');
CREATE TABLE res (id INT, k BIGINT, name STRING)
WITH ('connector' = 'filesystem', 'path' = 'output/res', 'format' = 'csv');
";

fn lookup_case(join: &str, parallelism: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "input/orders.csv",
        "1,10\n2,20\n3,30\n4,null\n5,10\n",
    );
    // Key 20 has two rows; a NULL key never matches.
    write(
        dir.path(),
        "input/side.csv",
        "10,ten\n20,twenty\n20,vingt\nnull,nothing\n",
    );
    run_ok(
        dir.path(),
        &format!(
            "{LOOKUP}INSERT INTO res SELECT o.id, o.k, s.name FROM orders AS o
{join} side FOR SYSTEM_TIME AS OF o.p AS s ON o.k = s.k;"
        ),
        parallelism,
    );
    files_in(&dir.path().join("output/res")).0
}

#[test]
fn filesystem_lookup_join_matches_every_row_of_the_key() {
    for p in ["1", "2"] {
        assert_eq!(
            lookup_case("JOIN", p),
            ["1,10,ten", "2,20,twenty", "2,20,vingt", "5,10,ten"],
            "p{p}"
        );
        assert_eq!(
            lookup_case("LEFT JOIN", p),
            [
                "1,10,ten",
                "2,20,twenty",
                "2,20,vingt",
                "3,30,",
                "4,,",
                "5,10,ten"
            ],
            "p{p}"
        );
    }
}

#[test]
fn filesystem_lookup_of_a_missing_file_names_the_table_and_path() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "input/orders.csv", "1,10\n");
    let out = run(
        dir.path(),
        &format!(
            "{}INSERT INTO res SELECT o.id, o.k, s.name FROM orders AS o
JOIN side FOR SYSTEM_TIME AS OF o.p AS s ON o.k = s.k;",
            LOOKUP.replace("input/side.csv", "input/missing.csv")
        ),
        "1",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("lookup table 'side'") && err.contains("input/missing.csv"),
        "{err}"
    );
}

/// Partition-time commit with checkpoints taken while rows still arrive (datagen paced at
/// 300 rows/s, one row per second of event time, so five minutes of partitions): every
/// partition ends up with exactly its rows and a `_SUCCESS` file, at parallelism 1 and 2.
/// When each one is committed is checked by the `CommitTracker` unit tests.
#[test]
fn partition_time_commit_with_checkpoints_commits_every_partition_once() {
    let script = "SET 'table.local-time-zone' = 'UTC';
CREATE TABLE src (id BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 1000, 3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'rows-per-second' = '300', 'fields.id.kind' = 'sequence',
      'fields.id.start' = '1', 'fields.id.end' = '300');
CREATE TABLE part (id BIGINT, dt STRING, hm STRING) PARTITIONED BY (dt, hm) WITH (
  'connector' = 'filesystem', 'path' = 'output/part', 'format' = 'csv',
  'sink.partition-commit.trigger' = 'partition-time',
  'sink.partition-commit.delay' = '1 min',
  'sink.partition-commit.policy.kind' = 'success-file',
  'partition.time-extractor.timestamp-pattern' = '$dt $hm:00');
INSERT INTO part SELECT id, DATE_FORMAT(ts, 'yyyy-MM-dd'), DATE_FORMAT(ts, 'HH:mm') FROM src;";
    for p in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        common::run_job_ok(
            dir.path(),
            script,
            &[
                "-p",
                p,
                "--set",
                "execution.checkpointing.interval=50 ms",
                "--set",
                "execution.checkpointing.dir=ck",
            ],
        );
        let root = dir.path().join("output/part/dt=1970-01-01");
        for minute in 0..=5 {
            let (lines, other) = files_in(&root.join(format!("hm=00%3A0{minute}")));
            let mut ids: Vec<i64> = lines.iter().map(|l| l.parse().unwrap()).collect();
            ids.sort();
            let expected: Vec<i64> = (1..=300).filter(|id| id / 60 == minute).collect();
            assert_eq!(ids, expected, "p{p} minute {minute}");
            assert_eq!(other, ["_SUCCESS"], "p{p} minute {minute}");
        }
        assert_eq!(files_in(&root).1.len(), 6, "p{p}: six partitions");
    }
}
