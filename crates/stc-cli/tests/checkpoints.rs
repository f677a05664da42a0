//! Checkpoints, restore, savepoints and rescale, end to end through `stc run` (see
//! `tests/checkpoint/README.md` for the scripts and their input).
//!
//! What each situation gets:
//! * SIGKILL at any point, then `stc run --resume`: the committed sink files equal those of a
//!   run without failures — nothing lost, nothing duplicated (exactly-once through the
//!   filesystem sink's two-phase commit).
//! * SIGTERM with checkpointing configured: a final savepoint, its path printed; restoring it
//!   at another parallelism gives the same output (key groups move between subtasks).
//! * A corrupted newest checkpoint: `--resume` says it skips it and uses the previous one.
//! * A checkpoint of another job: refused with the differing task named.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn stc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stc"))
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/checkpoint")
}

/// A scratch directory with the script and the generated input.
fn scratch(script: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(scripts().join(script), dir.path().join("job.sql")).unwrap();
    let events = dir.path().join("input/events");
    std::fs::create_dir_all(&events).unwrap();
    let base = 1_700_000_000_000i64;
    for f in 0..40i64 {
        let mut s = String::new();
        for i in 0..500i64 {
            let id = f * 500 + i;
            // 50 s of events every minute: windows and sessions close as time passes.
            let ts = base + f * 60_000 + i * 100;
            let secs = ts / 1000;
            let t = chrono_like(secs, ts % 1000);
            s.push_str(&format!("{id},k{},{},{t}\n", id % 13, (id * 7919) % 1000));
        }
        std::fs::write(events.join(format!("part-{f:03}.csv")), s).unwrap();
    }
    let dim = dir.path().join("input/dim");
    std::fs::create_dir_all(&dim).unwrap();
    let rows: String = (0..13).map(|k| format!("k{k},group-{}\n", k % 4)).collect();
    std::fs::write(dim.join("dim.csv"), rows).unwrap();
    dir
}

/// `YYYY-MM-DD HH:MM:SS.mmm` of epoch seconds (UTC), without a date library.
fn chrono_like(secs: i64, millis: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn checkpoint_args(dir: &Path) -> Vec<String> {
    checkpoints_in(&dir.join("ck").display().to_string())
}

/// Checkpoint settings with the checkpoints in `ck` (a path, or an `s3://` prefix of the test
/// bucket, reached with Flink's `s3.*` keys).
fn checkpoints_in(ck: &str) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if ck.starts_with("s3://") {
        common::s3_server();
        for kv in [
            "s3.endpoint=http://127.0.0.1:9000",
            "s3.access-key=test",
            "s3.secret-key=test",
        ] {
            args.extend(["--set".into(), kv.into()]);
        }
    }
    args.extend([
        "--set".into(),
        "execution.checkpointing.interval=100 ms".into(),
        "--set".into(),
        format!("execution.checkpointing.dir={ck}"),
        "--set".into(),
        "execution.checkpointing.num-retained=3".into(),
        "--set".into(),
        "stc.debug.source-batch-delay=25 ms".into(),
        // Failures in these tests are kills, not job errors: no in-process restarts.
        "--set".into(),
        "restart-strategy.type=none".into(),
    ]);
    args
}

/// The output of an uninterrupted run without checkpoints.
fn reference(script: &str, parallelism: usize) -> String {
    let dir = scratch(script);
    let out = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "-p", &parallelism.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference run of {script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    committed(dir.path())
}

/// The committed sink files, updating (debezium-json) ones as their final state.
fn committed(dir: &Path) -> String {
    common::materialize(&common::render_committed_output(dir))
}

/// A small deterministic pseudo-random sequence (the kill points), so a failure reproduces.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Runs `script` with checkpoints (in the scratch dir, or under `ck`), killing it `kills`
/// times at pseudo-random points and resuming each time, then lets the last run finish.
/// Returns the scratch dir and the runs' stderr.
fn run_with_kills(
    script: &str,
    parallelism: usize,
    kills: usize,
    seed: u64,
    ck: Option<&str>,
    settings: &[&str],
) -> (tempfile::TempDir, String) {
    let dir = scratch(script);
    let ck = ck.map_or_else(
        || dir.path().join("ck").display().to_string(),
        str::to_string,
    );
    let mut rng = Lcg(seed);
    let mut stderr_log = String::new();
    for attempt in 0..=kills {
        let mut cmd = stc();
        cmd.current_dir(dir.path())
            .args(["run", "job.sql", "-p", &parallelism.to_string()])
            .args(checkpoints_in(&ck))
            .args(settings.iter().flat_map(|kv| ["--set", kv]))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if attempt > 0 {
            cmd.arg("--resume");
        }
        let mut child = cmd.spawn().unwrap();
        if attempt == 0 && ck.starts_with("s3://") {
            // Slower to start on a loaded machine than local disk: the first kill comes after
            // the first complete checkpoint, so that the resumes do restore from S3.
            wait_for_checkpoint(&ck);
        }
        if attempt < kills {
            std::thread::sleep(Duration::from_millis(150 + rng.next(500)));
            // SIGKILL: no chance to clean up, as when a machine dies.
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        stderr_log.push_str(&String::from_utf8_lossy(&out.stderr));
        if attempt == kills {
            assert!(
                out.status.success(),
                "final run of {script} failed:\n{stderr_log}"
            );
        }
    }
    (dir, stderr_log)
}

/// Waits (at most 60 s) until `ck` holds a complete checkpoint.
fn wait_for_checkpoint(ck: &str) {
    use stc_runtime::checkpoint::storage::{Checkpoint, Location};
    let conf = checkpoints_in(ck)
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let loc = Location::parse(ck, &conf).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while Checkpoint::latest_in(&loc).unwrap().0.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint in {ck} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_same(script: &str, expected: &str, actual: &str, what: &str) {
    if expected != actual {
        let e: Vec<&str> = expected.lines().collect();
        let a: Vec<&str> = actual.lines().collect();
        let missing: Vec<&&str> = e.iter().filter(|l| !a.contains(l)).take(5).collect();
        let extra: Vec<&&str> = a.iter().filter(|l| !e.contains(l)).take(5).collect();
        panic!(
            "{script}: {what}: {} lines expected, {} found; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
            e.len(),
            a.len()
        );
    }
}

#[test]
fn killed_and_resumed_jobs_commit_exactly_what_an_uninterrupted_run_commits() {
    // Parallelism 1 where the result depends on watermarks (windows, sessions): at higher
    // parallelism, which rows are late depends on how the sources interleave, in any run.
    let cases = [
        ("window.sql", 1, 11),
        ("session.sql", 1, 12),
        ("group_agg.sql", 2, 13),
        ("group_agg_mini_batch.sql", 2, 18),
        ("join.sql", 2, 14),
        ("outer_join.sql", 2, 20),
        ("interval_join.sql", 1, 22),
        ("group_agg_updating.sql", 2, 23),
        ("topn.sql", 2, 15),
        ("two_sources.sql", 2, 16),
        ("over.sql", 1, 17),
    ];
    for (script, p, seed) in cases {
        let expected = reference(script, p);
        assert!(!expected.is_empty(), "{script} produced no output");
        let (dir, _) = run_with_kills(script, p, 3, seed, None, &[]);
        assert_same(
            script,
            &expected,
            &committed(dir.path()),
            "after 3 kills and resumes",
        );
    }
}

/// Whether the newest checkpoint in `ck` restores some operator subtask from a chain: a
/// complete snapshot and changes after it (several keyed files of one table).
fn newest_is_incremental(ck: &Path) -> bool {
    use stc_runtime::checkpoint::storage::{Checkpoint, Part};
    let Ok((Some(c), _)) = Checkpoint::latest_in(&ck.into()) else {
        return false;
    };
    let mut tables = std::collections::HashMap::new();
    for f in c.meta.files.iter().filter(|f| f.part == Part::Keyed) {
        *tables
            .entry((f.node, f.operator, f.subtask, f.table))
            .or_insert(0) += 1;
    }
    tables.values().any(|n| *n > 1)
}

/// Incremental checkpoints (`execution.checkpointing.incremental`): joins write the changes
/// since the previous checkpoint, and a restore adds them up on the snapshot they build on;
/// GROUP BY writes the groups changed, and a restore applies them in order. A resume from
/// such a chain (at parallelism 3 for jobs run at 2), and resumes after kills at random
/// points, commit exactly what an uninterrupted run commits, for an inner join (rows only added), a full outer join (rows
/// retracted, partner counts going up and down), an interval join (rows expiring), and GROUP
/// BY with groups emptied, with and without mini-batch.
#[test]
fn incremental_checkpoints_of_joins_restore_exactly_what_was_committed() {
    // A source pause twice the usual, so that the job outlasts two checkpoints however fast
    // the operators get (a loaded machine once ended a join before its second checkpoint).
    const INCREMENTAL: &[&str] = &[
        "execution.checkpointing.incremental=true",
        "stc.debug.source-batch-delay=50 ms",
    ];
    // Most checkpoints write changes only when fewer rows change between two checkpoints
    // than the state holds: the GROUP BY over the Top-1 gets a slower source (a file per
    // subtask per checkpoint).
    const SLOWER: &[&str] = &[
        "execution.checkpointing.incremental=true",
        "stc.debug.source-batch-delay=100 ms",
    ];
    // The interval join at parallelism 1: its output depends on watermarks.
    for (script, p, seed, settings) in [
        ("join.sql", 2, 31, INCREMENTAL),
        ("outer_join.sql", 2, 32, INCREMENTAL),
        ("interval_join.sql", 1, 33, INCREMENTAL),
        ("group_agg_updating.sql", 2, 34, SLOWER),
        ("group_agg_mini_batch.sql", 2, 35, INCREMENTAL),
    ] {
        let expected = reference(script, p);
        let dir = scratch(script);
        let ck = dir.path().join("ck");
        let mut child = stc()
            .current_dir(dir.path())
            .args(["run", "job.sql", "-p", &p.to_string()])
            .args(checkpoint_args(dir.path()))
            .args(settings.iter().flat_map(|kv| ["--set", kv]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !newest_is_incremental(&ck) {
            assert!(
                std::time::Instant::now() < deadline,
                "{script}: no incremental checkpoint within 60 s"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "{script}: the job ended before an incremental checkpoint"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        // Resumed at another parallelism where the output does not depend on watermarks:
        // each subtask takes its key groups' rows from every file of the chain.
        let resume_p = if p == 2 { 3 } else { p };
        let out = stc()
            .current_dir(dir.path())
            .args(["run", "job.sql", "-p", &resume_p.to_string(), "--resume"])
            .args(checkpoint_args(dir.path()))
            .args(settings.iter().flat_map(|kv| ["--set", kv]))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{script}: {stderr}");
        assert!(stderr.contains("restored from"), "{script}: {stderr}");
        assert_same(
            script,
            &expected,
            &committed(dir.path()),
            "resumed from an incremental checkpoint at another parallelism",
        );

        let (dir, _) = run_with_kills(script, p, 3, seed, None, settings);
        assert_same(
            script,
            &expected,
            &committed(dir.path()),
            "after 3 kills and resumes with incremental checkpoints",
        );
    }
}

/// Every partition directory of `output/res`: its visible rows (sorted), whether it has its
/// `_SUCCESS` file, and any in-progress file left behind.
fn partitions(dir: &Path) -> std::collections::BTreeMap<String, (Vec<String>, bool, Vec<String>)> {
    let root = dir.join("output/res");
    let mut out = std::collections::BTreeMap::new();
    for day in std::fs::read_dir(&root).unwrap() {
        let day = day.unwrap().path();
        assert!(day.is_dir(), "{} at the root of the sink", day.display());
        for minute in std::fs::read_dir(&day).unwrap() {
            let minute = minute.unwrap().path();
            let (mut rows, mut success, mut leftovers) = (Vec::new(), false, Vec::new());
            for f in std::fs::read_dir(&minute).unwrap() {
                let f = f.unwrap().path();
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                if name == "_SUCCESS" {
                    success = true;
                } else if name.starts_with('.') {
                    leftovers.push(name);
                } else {
                    rows.extend(
                        std::fs::read_to_string(&f)
                            .unwrap()
                            .lines()
                            .map(str::to_string),
                    );
                }
            }
            rows.sort();
            let rel = minute.strip_prefix(&root).unwrap().display().to_string();
            out.insert(rel, (rows, success, leftovers));
        }
    }
    out
}

/// A partitioned sink with partition-time commit, killed and resumed: every partition holds
/// exactly the rows of an uninterrupted run and has its `_SUCCESS`, and no in-progress file
/// of a killed run is left in a partition directory.
#[test]
fn a_killed_partitioned_sink_commits_every_partition_exactly_once() {
    let reference_dir = scratch("partitioned.sql");
    let out = stc()
        .current_dir(reference_dir.path())
        .args(["run", "job.sql", "-p", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = partitions(reference_dir.path());
    // Each input file covers 50 s, so the minutes of its rows straddle two partitions.
    assert!(expected.len() > 40, "{} partitions", expected.len());
    assert_eq!(
        expected
            .values()
            .map(|(rows, ..)| rows.len())
            .sum::<usize>(),
        20_000
    );
    assert!(
        expected
            .values()
            .all(|(_, success, left)| *success && left.is_empty())
    );
    let (dir, log) = run_with_kills("partitioned.sql", 2, 3, 19, None, &[]);
    let actual = partitions(dir.path());
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "partition directories"
    );
    for (p, e) in &expected {
        let (rows, success, left) = &actual[p];
        assert!(
            rows == &e.0 && *success && left.is_empty(),
            "partition {p} after 3 kills and resumes: {} rows ({} expected, {} of them), _SUCCESS {success}, in-progress files left {left:?}\n{log}",
            rows.len(),
            e.0.len(),
            rows.iter().filter(|r| e.0.contains(r)).count()
        );
    }
}

#[test]
fn checkpoints_and_savepoints_on_s3_survive_kills_and_a_rescale() {
    // The same guarantees with the checkpoints in an S3 bucket (moto's S3 server), where a
    // checkpoint is published by its `_metadata` object instead of a directory rename.
    let script = "join.sql";
    let expected = reference(script, 2);
    let ck = format!("s3://stc-test/{}/ck", common::unique("kills"));
    let (dir, log) = run_with_kills(script, 2, 3, 21, Some(&ck), &[]);
    assert!(
        log.contains(&format!("restored from {ck}/chk-")),
        "no run resumed from a checkpoint on S3:\n{log}"
    );
    assert_same(
        script,
        &expected,
        &committed(dir.path()),
        "after 3 kills and resumes, checkpoints on S3",
    );
    // A stop-with-savepoint into S3 at parallelism 2, restored at 3 from its s3:// path.
    let ck = format!("s3://stc-test/{}/ck", common::unique("savepoint"));
    let path = savepoint_at_2_restored_at_3(script, &expected, Some(&ck));
    assert!(path.starts_with(&format!("{ck}/savepoint-")), "{path}");
}

/// Runs `script` at parallelism 2 with checkpoints (in the scratch dir, or under `ck`), stops
/// it with a savepoint (SIGTERM) while it runs, restores that at parallelism 3, and checks
/// the committed output against `expected`. Returns the savepoint's path.
fn savepoint_at_2_restored_at_3(script: &str, expected: &str, ck: Option<&str>) -> String {
    let dir = scratch(script);
    let ck = ck.map_or_else(
        || dir.path().join("ck").display().to_string(),
        str::to_string,
    );
    let child = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "-p", "2"])
        .args(checkpoints_in(&ck))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once a checkpoint is complete the job runs, with its SIGTERM handler installed (a
    // fixed delay was too short for a loaded machine: the default action killed stc).
    wait_for_checkpoint(&ck);
    // SIGTERM: stop with a savepoint.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Savepoint completed. Path: "))
        .unwrap_or_else(|| panic!("{script}: no savepoint path printed\n{stdout}\n{stderr}"))
        .to_string();
    assert!(out.status.success(), "{script}: {stderr}");
    let out = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "-p", "3", "--restore", &path])
        .args(checkpoints_in(&ck))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: restore at p3 from {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same(
        script,
        expected,
        &committed(dir.path()),
        "savepoint at p2, restored at p3",
    );
    path
}

#[test]
fn a_savepoint_taken_at_parallelism_2_restores_at_parallelism_3() {
    for script in [
        "window_wide.sql",
        "group_agg.sql",
        "join.sql",
        "topn.sql",
        "over_wide.sql",
    ] {
        let expected = reference(script, 2);
        savepoint_at_2_restored_at_3(script, &expected, None);
    }
}

#[test]
fn a_corrupted_newest_checkpoint_is_skipped_for_the_previous_one() {
    // Windows that all fire at the end: no output is committed before the job finishes, so
    // falling back to an older checkpoint replays nothing that was already published. (With
    // output committed after the older checkpoint, a fallback re-emits it: the damaged
    // checkpoint's guarantee is lost, in Flink as here.)
    let script = "window_wide.sql";
    let expected = reference(script, 2);
    let dir = scratch(script);
    let mut child = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "-p", "2"])
        .args(checkpoint_args(dir.path()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for at least two completed checkpoints, then kill.
    let ck = dir.path().join("ck");
    let completed = |ck: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(ck)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.retain(|p| p.file_name().unwrap().to_string_lossy().starts_with("chk-"));
        v.sort_by_key(|p| {
            p.file_name().unwrap().to_string_lossy()[4..]
                .parse::<u64>()
                .unwrap()
        });
        v
    };
    for _ in 0..200 {
        if completed(&ck).len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    let all = completed(&ck);
    assert!(all.len() >= 2, "two checkpoints expected, found {all:?}");
    let newest = all.last().unwrap();
    let victim = std::fs::read_dir(newest)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "arrow"))
        .expect("a state file");
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    let out = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "-p", "2", "--resume"])
        .args(checkpoint_args(dir.path()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("skipping a damaged checkpoint") && stderr.contains("checksum"),
        "the damaged checkpoint must be reported: {stderr}"
    );
    assert_same(
        script,
        &expected,
        &committed(dir.path()),
        "resumed past a corrupted checkpoint",
    );
}

#[test]
fn checkpoints_go_on_after_a_bounded_source_has_finished() {
    let dir = scratch("two_sources.sql");
    let out = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "-p", "2"])
        .args(checkpoint_args(dir.path()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // About a second of input after `dim` finished, a checkpoint every 100 ms.
    let completed: u64 = stderr
        .split(", ")
        .find_map(|p| {
            p.strip_suffix(" checkpoints (0 failed").or_else(|| {
                p.split(" checkpoints (0 failed")
                    .next()
                    .filter(|_| p.contains(" checkpoints (0 failed"))
            })
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no failure-free checkpoint count in: {stderr}"));
    assert!(completed >= 3, "{stderr}");
    // The summary also says how long processing paused for the snapshots (a duration, not
    // checked: any value is right).
    assert!(
        stderr
            .split("processing paused ")
            .nth(1)
            .and_then(|rest| rest.split(" ms in all for snapshots").next())
            .is_some_and(|ms| ms.parse::<u64>().is_ok()),
        "no snapshot pause in the summary: {stderr}"
    );
}

#[test]
fn a_checkpoint_of_another_job_is_refused_with_the_difference_named() {
    let dir = scratch("group_agg.sql");
    let out = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "-p", "1"])
        .args(checkpoint_args(dir.path()))
        .output()
        .unwrap();
    assert!(out.status.success());
    // The run lasts about a second (40 batches, 25 ms apart) with a checkpoint every 100 ms.
    let ck = std::fs::read_dir(dir.path().join("ck"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("chk-"))
        .expect("a completed checkpoint");
    std::fs::copy(scripts().join("topn.sql"), dir.path().join("other.sql")).unwrap();
    let out = stc()
        .current_dir(dir.path())
        .args(["run", "other.sql", "-p", "1", "--restore"])
        .arg(&ck)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("different job"), "{stderr}");
}

#[test]
fn resume_without_a_checkpoint_directory_is_a_clear_error() {
    let dir = scratch("group_agg.sql");
    let out = stc()
        .current_dir(dir.path())
        .args(["run", "job.sql", "--resume"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--resume needs a checkpoint directory"),
        "{stderr}"
    );
    let out = stc()
        .current_dir(dir.path())
        .args([
            "run",
            "job.sql",
            "--set",
            "execution.checkpointing.interval=1 s",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("execution.checkpointing.dir"), "{stderr}");
}
