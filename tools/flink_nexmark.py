#!/usr/bin/env python3
"""Regenerate tests/nexmark/: each Nexmark query stc runs, with Apache Flink 2.3's output on the
same events. Run through tools/flink-nexmark (venv + JAVA_HOME + the stc binary).

    tools/flink-nexmark [QUERY...]          (default: q0..q22)

For every query benchmarks/nexmark/qN.sql:

1. tests/nexmark/qN/job.sql is written: the committed query with the nexmark table's options
   set to the test's small event count (TEST_OPTIONS) and its blackhole sink replaced by a CSV
   filesystem sink at output/<sink>. This is the script the Rust test
   (crates/stc-cli/tests/nexmark.rs) runs with `stc run` at parallelism 1 and 2.
2. stc runs it once here too: a query stc rejects with "not supported yet" gets no folder (the
   Rust test requires such queries to keep failing that way, so a newly supported query cannot
   go unchecked); any other stc failure stops the tool.
3. stc writes the events of TEST_OPTIONS to JSON (a nexmark -> filesystem job, parallelism 1,
   one file in event-time order), and Flink runs job.sql with the nexmark table reading that
   file (nexmark_sql.with_file_source); its sink files become tests/nexmark/qN/expected.out in
   the format of tests/golden (see tools/flink_golden.py).

Queries whose result depends on processing time (PROCTIME) are never given expectations.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "nexmark"))
import flink_golden  # noqa: E402
import nexmark_sql  # noqa: E402

# Small, so that the expectations stay small: 2000 events over 40 s of event time (50 events/s),
# which gives several 10 s windows and sessions.
TEST_OPTIONS = {
    "events.num": "2000",
    "first-event.rate": "50",
    "next-event.rate": "50",
    "person.proportion": "1",
    "auction.proportion": "3",
    "bid.proportion": "46",
    "base-time": "1700000000000",
}
NONDETERMINISTIC = {"q12": "processing-time windows", "q13": "processing-time lookup join"}
# What stc says about a query it rejects, besides "not supported yet" (the Rust test checks the
# same strings).
# Queries whose Flink output is no usable reference (see FLINK_REFERENCE_UNUSABLE in
# crates/stc-cli/tests/nexmark.rs): no case is written for them.
UNUSABLE = {"q9": "Flink's Top-1 writes no -U to a debezium-json file"}

REJECTIONS = {}
# Queries the Rust test checks against another query's Flink output: q10 writes every bid
# into dt=/hm= partition directories, whose files hold exactly q0's rows.
CHECKED_AGAINST_OTHER_CASE = {"q10": "partitioned copy of q0's rows, checked against q0's Flink output"}


def test_job(q):
    sql = nexmark_sql.read_query(q)
    return nexmark_sql.with_file_sinks(nexmark_sql.with_nexmark_options(sql, TEST_OPTIONS))


def run_stc(stc, script_path, cwd, parallelism=1):
    return subprocess.run(
        [stc, "run", script_path, "-p", str(parallelism)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def main(argv):
    stc = os.environ.get("STC_BIN")
    if not stc:
        sys.exit("flink-nexmark: STC_BIN (the stc binary) is not set; run tools/flink-nexmark")
    queries = argv or nexmark_sql.QUERIES
    tests = os.path.join(ROOT, "tests", "nexmark")
    scratch = tempfile.mkdtemp(prefix="stc-flink-nexmark-")
    work = os.path.join(scratch, "case")
    os.makedirs(work)
    failures = []
    try:
        # The events, once.
        events_dir = os.path.join(scratch, "events")
        sql0 = nexmark_sql.with_nexmark_options(nexmark_sql.read_query("q0"), TEST_OPTIONS)
        gen = os.path.join(scratch, "events.sql")
        with open(gen, "w") as f:
            f.write(nexmark_sql.events_job(sql0, events_dir))
        r = run_stc(stc, gen, scratch)
        if r.returncode != 0:
            sys.exit("flink-nexmark: writing the events failed:\n" + r.stderr)
        os.chdir(work)  # the JVM resolves 'input/...' against its start directory
        for q in queries:
            case = os.path.join(tests, q)
            if q in UNUSABLE:
                shutil.rmtree(case, ignore_errors=True)
                print("skip  %-4s (%s)" % (q, UNUSABLE[q]), flush=True)
                continue
            if q in NONDETERMINISTIC:
                shutil.rmtree(case, ignore_errors=True)
                print("skip  %-4s (%s)" % (q, NONDETERMINISTIC[q]), flush=True)
                continue
            if q in CHECKED_AGAINST_OTHER_CASE:
                shutil.rmtree(case, ignore_errors=True)
                print("skip  %-4s (%s)" % (q, CHECKED_AGAINST_OTHER_CASE[q]), flush=True)
                continue
            job = test_job(q)
            # Does stc run it?
            trial = os.path.join(scratch, "trial")
            shutil.rmtree(trial, ignore_errors=True)
            os.makedirs(trial)
            with open(os.path.join(trial, "job.sql"), "w") as f:
                f.write(job)
            r = run_stc(stc, "job.sql", trial)
            if r.returncode != 0 and "doesn't support consuming update changes" in r.stderr:
                # An updating result: write it as a changelog (the test compares final states).
                job = nexmark_sql.with_file_sinks(
                    nexmark_sql.with_nexmark_options(nexmark_sql.read_query(q), TEST_OPTIONS),
                    "debezium-json",
                )
                with open(os.path.join(trial, "job.sql"), "w") as f:
                    f.write(job)
                r = run_stc(stc, "job.sql", trial)
            if r.returncode != 0:
                if "not supported yet" in r.stderr or REJECTIONS.get(q, "\0") in r.stderr:
                    shutil.rmtree(case, ignore_errors=True)
                    print("skip  %-4s stc: %s" % (q, r.stderr.strip().splitlines()[-1]), flush=True)
                    continue
                failures.append(q)
                print("FAIL  %-4s stc failed:\n%s" % (q, r.stderr), flush=True)
                continue
            # Flink on the same events, read from the file.
            flink_case = os.path.join(scratch, "flink-" + q)
            os.makedirs(os.path.join(flink_case, "input"))
            shutil.copytree(events_dir, os.path.join(flink_case, "input", "events"))
            with open(os.path.join(flink_case, "job.sql"), "w") as f:
                f.write(nexmark_sql.with_file_source(job, "input/events"))
            ok, msg = flink_golden.run_case(flink_case, work)
            if not ok:
                failures.append(q)
                print("FAIL  %-4s Flink: %s" % (q, msg), flush=True)
                continue
            data = flink_golden.collect_expected(work)
            os.makedirs(case, exist_ok=True)
            with open(os.path.join(case, "job.sql"), "w") as f:
                f.write(job)
            with open(os.path.join(case, "expected.out"), "wb") as f:
                f.write(data)
            rows = data.count(b"\n") - data.count(b"== output/")
            print("ok    %-4s %d row(s)" % (q, rows), flush=True)
    finally:
        os.chdir("/")
        shutil.rmtree(scratch, ignore_errors=True)
    print("flink-nexmark: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
