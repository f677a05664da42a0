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
//! except the processing-time queries, whose results are not reproducible.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{materialize, render_output};

/// Queries whose results depend on processing time: never compared.
const NONDETERMINISTIC: &[&str] = &["q12", "q13"];

/// Queries stc runs whose Flink output cannot serve as the reference, with the reason. The
/// test only checks that stc plans them.
const FLINK_REFERENCE_UNUSABLE: &[(&str, &str)] = &[(
    "q9",
    "a Top-1 (ROW_NUMBER … rn <= 1 ordered by price): Flink 2.3's FastTop1Function writes only \
     the +U of each new winner to a debezium-json file, no -U, so Flink's file materialises to \
     every former winner (see tests/golden/topn_updating/case.toml)",
)];

/// What stc says about a query without a case, when it is not "not supported yet".
fn expected_rejection(q: &str) -> &'static str {
    match q {
        // Flink's partition-commit options of the filesystem sink.
        "q10" => "unsupported option 'partition.time-extractor.timestamp-pattern'",
        _ => "not supported yet",
    }
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
        } else if let Some((_, why)) = FLINK_REFERENCE_UNUSABLE.iter().find(|(n, _)| n == q) {
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
        } else if !NONDETERMINISTIC.contains(&q.as_str()) {
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
