//! Nexmark queries against Apache Flink's output on the same events.
//!
//! `tests/nexmark/<query>/job.sql` is `benchmarks/nexmark/<query>.sql` with a small event count
//! and a CSV sink; `expected.out` is what Flink 2.3 wrote for the same events (stc's nexmark
//! source, written to a file and read by Flink's filesystem source). Both are produced by
//! `tools/flink-nexmark`. Each case runs with `stc run` at parallelism 1 and 2 (the nexmark
//! source splits its events across subtasks) and must give Flink's lines.
//!
//! A benchmark query without a case must still be rejected by stc with "not supported yet"
//! (so a query that starts working cannot stay unchecked: regenerate with tools/flink-nexmark),
//! except the queries checked by a test of their own below: q10 (a partitioned copy of q0's
//! rows), and the processing-time queries q12 and q13, whose windows and lookup times are not
//! reproducible but whose totals and joined values are, given q0's Flink output of the same
//! events.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{materialize, render_output};

/// Queries without a Flink case, each checked by its own test in this file (q10 against q0's
/// Flink output; q12 and q13 depend on processing time). The main test checks they plan.
const OWN_TEST: &[&str] = &["q10", "q12", "q13"];

/// Queries stc runs whose Flink output cannot serve as the reference, with the reason. The
/// test only checks that stc plans them.
const FLINK_REFERENCE_UNUSABLE: &[(&str, &str)] = &[(
    "q9",
    "a Top-1 (ROW_NUMBER … rn <= 1 ordered by price): Flink 2.3's FastTop1Function writes only \
     the +U of each new winner to a debezium-json file, no -U, so Flink's file materialises to \
     every former winner (see tests/golden/topn_updating/case.toml)",
)];

/// What stc says about a query without a case.
fn expected_rejection(_q: &str) -> &'static str {
    "not supported yet"
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stc(script: &Path, dir: &Path, parallelism: usize) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stc"))
        .arg("run")
        .arg(script)
        .args(["--parallelism", &parallelism.to_string()])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The first differing line of two renderings, for a readable failure.
fn first_difference(actual: &str, expected: &str) -> String {
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    for i in 0..a.len().max(e.len()) {
        if a.get(i) != e.get(i) {
            return format!(
                "line {}: stc {:?}, Flink {:?} ({} lines vs {})",
                i + 1,
                a.get(i),
                e.get(i),
                a.len(),
                e.len()
            );
        }
    }
    String::new()
}

fn run_case(case: &Path, parallelism: usize) -> Result<(), String> {
    let scratch = tempfile::tempdir().unwrap();
    let out = stc(&case.join("job.sql"), scratch.path(), parallelism);
    if !out.status.success() {
        return Err(format!(
            "stc run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // An updating query's sink is a debezium-json changelog: compared as final state.
    let expected = materialize(&std::fs::read_to_string(case.join("expected.out")).unwrap());
    let actual = materialize(&render_output(scratch.path()));
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "output differs from Flink's: {}",
            first_difference(&actual, &expected)
        ))
    }
}

#[test]
fn nexmark_queries_match_flink_or_are_not_supported_yet() {
    let bench = repo().join("benchmarks/nexmark");
    let mut queries: Vec<String> = std::fs::read_dir(&bench)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            let q = name.strip_suffix(".sql")?;
            (q.starts_with('q') && q[1..].parse::<u32>().is_ok()).then(|| q.to_string())
        })
        .collect();
    queries.sort_by_key(|q| q[1..].parse::<u32>().unwrap());
    assert_eq!(queries.len(), 23, "q0..q22 in benchmarks/nexmark");

    let mut failures = Vec::new();
    let (mut compared, mut unsupported) = (0, 0);
    for q in &queries {
        let case = repo().join("tests/nexmark").join(q);
        if case.join("expected.out").exists() {
            compared += 1;
            for p in [1, 2] {
                if let Err(e) = run_case(&case, p) {
                    failures.push(format!("{q} [parallelism {p}]: {e}"));
                }
            }
        } else if let Some(why) = FLINK_REFERENCE_UNUSABLE
            .iter()
            .find(|(n, _)| n == q)
            .map(|(_, why)| *why)
            .or_else(|| {
                OWN_TEST
                    .contains(&q.as_str())
                    .then_some("checked by its own test")
            })
        {
            let out = Command::new(env!("CARGO_BIN_EXE_stc"))
                .arg("explain")
                .arg(bench.join(format!("{q}.sql")))
                .current_dir(repo())
                .output()
                .unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "{q} (not compared: {why}) does not plan: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        } else {
            unsupported += 1;
            // `stc explain` plans the committed query without running it.
            let out = Command::new(env!("CARGO_BIN_EXE_stc"))
                .arg("explain")
                .arg(bench.join(format!("{q}.sql")))
                .current_dir(repo())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let want = expected_rejection(q);
            if out.status.success() || !err.contains(want) {
                failures.push(format!(
                    "{q} has no expectation in tests/nexmark but stc does not reject it with {want:?} (run tools/flink-nexmark {q}): exit {:?}, {}",
                    out.status.code(),
                    err.trim()
                ));
            }
        }
    }
    eprintln!(
        "nexmark: {compared} queries compared with Flink, {unsupported} not supported yet, {} failures",
        failures.len()
    );
    assert!(compared >= 5, "only {compared} Nexmark cases");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `benchmarks/nexmark/<q>.sql` with the test's events (those of `tests/nexmark/*/job.sql`:
/// 2000 events at 50 events/s of event time) and its blackhole sink written to
/// `output/<sink>` as CSV.
fn test_query(q: &str) -> String {
    test_query_at(q, 50)
}

/// [`test_query`] with `rate` events per second of event time.
fn test_query_at(q: &str, rate: u32) -> String {
    let sql = std::fs::read_to_string(repo().join(format!("benchmarks/nexmark/{q}.sql"))).unwrap();
    let mut out = sql
        .replace("'events.num' = '10000000'", "'events.num' = '2000'")
        .replace(
            "'first-event.rate' = '10000000'",
            &format!("'first-event.rate' = '{rate}'"),
        )
        .replace(
            "'next-event.rate' = '10000000'",
            &format!("'next-event.rate' = '{rate}'"),
        );
    assert_ne!(out, sql, "{q}: nexmark options not found");
    let sink = format!("nexmark_{q}");
    out = out.replace(
        "WITH ('connector' = 'blackhole')",
        &format!("WITH ('connector' = 'filesystem', 'path' = 'output/{sink}', 'format' = 'csv')"),
    );
    out
}

/// Every bid of the test's events as Flink wrote it (q0: `auction,bidder,price,"dateTime",extra`).
fn flink_bids() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("tests/nexmark/q0/expected.out")).unwrap();
    let bids: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("== ") && !l.is_empty())
        .map(str::to_string)
        .collect();
    assert!(
        bids.len() > 1000,
        "q0's expected output has {} bids",
        bids.len()
    );
    bids
}

/// Runs a script in a fresh directory (with `setup` files), returning the directory.
fn run_script(script: &str, args: &[&str], setup: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::write_files(dir.path(), setup);
    common::run_job_ok(dir.path(), script, args);
    dir
}

/// Lines of the visible files directly in `dir`, sorted, and the names of its hidden ones.
fn visible_lines(dir: &Path) -> (Vec<String>, Vec<String>) {
    let c = common::dir_contents(dir);
    (c.lines, c.hidden)
}

/// The partition directory of a bid line `auction,bidder,price,"2023-11-14 22:13:31.62",extra`.
fn q10_partition(bid: &str) -> String {
    let ts = bid.split('"').nth(1).unwrap();
    // The `:` of hm is escaped as Flink's PartitionPathUtils does.
    format!("dt={}/hm={}", &ts[..10], ts[11..16].replace(':', "%3A"))
}

/// Runs q10 (test events at `rate` events/s) and checks that its partitions hold exactly
/// `bids`, each partition with a `_SUCCESS` file and nothing at the root.
fn check_q10(rate: u32, args: &[&str], bids: &[String]) {
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for bid in bids {
        expected
            .entry(q10_partition(bid))
            .or_default()
            .push(bid.clone());
    }
    for rows in expected.values_mut() {
        rows.sort();
    }
    let dir = run_script(&test_query_at("q10", rate), args, &[]);
    let root = dir.path().join("nexmark-q10-output");
    let mut actual: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for day in std::fs::read_dir(&root).unwrap() {
        let day = day.unwrap();
        assert!(
            day.file_type().unwrap().is_dir(),
            "{:?} at the root",
            day.path()
        );
        for minute in std::fs::read_dir(day.path()).unwrap() {
            let minute = minute.unwrap().path();
            let rel = minute
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let (lines, hidden) = visible_lines(&minute);
            assert_eq!(hidden, vec!["_SUCCESS".to_string()], "{args:?} {rel}");
            actual.insert(rel, lines);
        }
    }
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{args:?}: partition directories"
    );
    for (dir, rows) in &expected {
        assert_eq!(&actual[dir], rows, "{args:?}: rows of {dir}");
    }
}

/// q10 writes every bid into `dt=<day>/hm=<HH%3Amm>/`, the files without the dt and hm
/// columns, so each partition holds exactly q0's rows of that minute, and every partition
/// gets its `_SUCCESS`. At the test's rate every bid falls into one minute: compared with
/// q0's Flink output.
#[test]
fn q10_partition_holds_q0s_flink_rows_and_is_committed() {
    check_q10(50, &["-p", "1"], &flink_bids());
}

/// q10 at 5 events/s: the bids span several minutes, written with checkpoints taken while
/// the events are still flowing (partitions are committed as the watermark passes them on
/// checkpoint completion, the rest at the end), at parallelism 2. The reference is q0 over
/// the same events, whose Flink agreement the case above and tests/nexmark/q0 check.
#[test]
fn q10_partitions_by_minute_with_checkpoints_hold_q0s_rows() {
    let q0 = run_script(&test_query_at("q0", 5), &["-p", "1"], &[]);
    let (bids, _) = visible_lines(&q0.path().join("output/nexmark_q0"));
    let minutes: std::collections::BTreeSet<String> =
        bids.iter().map(|b| q10_partition(b)).collect();
    assert!(minutes.len() > 3, "bids of {} minutes", minutes.len());
    check_q10(
        5,
        &[
            "-p",
            "2",
            "--set",
            "execution.checkpointing.interval=50 ms",
            "--set",
            "execution.checkpointing.dir=ck",
            "--set",
            "stc.debug.source-batch-delay=10 ms",
        ],
        &bids,
    );
    check_q10(5, &["-p", "2"], &bids);
}

/// q12 over the test's events: processing-time windows split each bidder's bids between
/// windows as the wall clock goes, but the counts of every bidder summed over its windows are
/// its number of bids (from q0's Flink output); windows are 10 s wide and aligned, and the
/// window columns are TIMESTAMP(3) as the sink declares them.
#[test]
fn q12_counts_every_bid_of_every_bidder_once() {
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for bid in flink_bids() {
        let bidder = bid.split(',').nth(1).unwrap().to_string();
        *expected.entry(bidder).or_default() += 1;
    }
    for p in ["1", "2"] {
        let dir = run_script(&test_query("q12"), &["-p", p], &[]);
        let (lines, _) = visible_lines(&dir.path().join("output/nexmark_q12"));
        let mut actual: BTreeMap<String, i64> = BTreeMap::new();
        for l in &lines {
            // bidder,bid_count,"starttime","endtime"
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 4, "{l}");
            assert!(!l.contains('Z'), "TIMESTAMP(3), not TIMESTAMP_LTZ: {l}");
            let (start, end) = (seconds_of_day(f[2]), seconds_of_day(f[3]));
            assert_eq!(start % 10, 0, "aligned start: {l}");
            assert_eq!((end - start).rem_euclid(86_400), 10, "10 s window: {l}");
            *actual.entry(f[0].to_string()).or_default() += f[1].parse::<i64>().unwrap();
        }
        assert_eq!(actual, expected, "parallelism {p}: bids per bidder");
    }
}

/// Seconds since midnight of `"2024-01-01 10:00:20"` (whole seconds: window bounds).
fn seconds_of_day(ts: &str) -> i64 {
    let ts = ts.trim_matches('"');
    let (_, time) = ts.split_once(' ').expect("date and time");
    assert!(!time.contains('.'), "whole seconds: {ts}");
    let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    (t[0] * 60 + t[1]) * 60 + t[2]
}

/// q13 over the test's events: every bid joined with side_input.csv's row for
/// `auction % 10000` (whose value is the key itself), so the output is q0's rows with that
/// value appended.
#[test]
fn q13_joins_every_bid_with_its_side_input_row() {
    let mut expected: Vec<String> = flink_bids()
        .into_iter()
        .map(|bid| {
            let auction: i64 = bid.split(',').next().unwrap().parse().unwrap();
            // auction,bidder,price,"dateTime",extra → auction,bidder,price,"dateTime",value
            let (head, _extra) = bid.rsplit_once(',').unwrap();
            format!("{head},{}", auction % 10000)
        })
        .collect();
    expected.sort();
    let side = std::fs::read_to_string(repo().join("benchmarks/nexmark/side_input.csv")).unwrap();
    let script = test_query("q13");
    assert!(script.contains("'path' = 'benchmarks/nexmark/side_input.csv'"));
    for p in ["1", "2"] {
        let dir = run_script(
            &script,
            &["-p", p],
            &[("benchmarks/nexmark/side_input.csv", &side)],
        );
        let (lines, _) = visible_lines(&dir.path().join("output/nexmark_q13"));
        assert_eq!(lines, expected, "parallelism {p}");
    }
}

/// A statement that reads one table in several places (Nexmark's self-joins: auctions with
/// bids, bids with their window maximum) reads it once, as Flink does with source reuse: one
/// source node, forwarded to every scan. Their results are checked against Flink above.
#[test]
fn self_joins_read_their_source_once() {
    for (q, scans) in [("q3", 2), ("q7", 2), ("q9", 2), ("q20", 2), ("q0", 1)] {
        let out = Command::new(env!("CARGO_BIN_EXE_stc"))
            .arg("explain")
            .arg(repo().join(format!("benchmarks/nexmark/{q}.sql")))
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{q}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plan = String::from_utf8_lossy(&out.stdout);
        let sources = plan
            .lines()
            .filter(|l| l.contains("Source[nexmark"))
            .count();
        assert_eq!(sources, 1, "{q}:\n{plan}");
        // Each scan of a shared source is a node of its own behind a forward edge.
        let forwarded = plan.lines().filter(|l| l.ends_with("<- 0 FORWARD")).count();
        let want = if scans > 1 { scans } else { 0 };
        assert_eq!(forwarded, want, "{q}:\n{plan}");
    }
}
